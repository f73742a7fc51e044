// LLaMA's blocks, forward and backward (gradients of every trainable parameter and adapter
// factor), in the order of the math, layer by layer; the head, the loss and the bookkeeping
// around the blocks are DecoderLanguageModel's:
//
//   x0 = embed_tokens[tokens]
//   per block: n = rms_1(x);  q, k, v = rope(q_proj n), rope(k_proj n), v_proj n
//              a = x + o_proj(attention(q, k, v))       (k, v heads shared by groups of q heads)
//              x' = a + down_proj(silu(gate_proj m) · up_proj m),  m = rms_2(a)
//   logits = norm(x_L) · headᵀ;  loss = mean cross-entropy over targets != -100
//
// Targets are given already aligned (target[b, t] is the token that should follow
// tokens[b, t]); Hugging Face's `labels` equal `targets` shifted right by one.

import TensorIO

extension LlamaModel: DecoderLanguageModel {
    /// Embedding, blocks and the final RMSNorm; returns the filled activations.
    public func runBlocks(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> LlamaActivations {
        let act = try beginForward(&activations, tokens: tokens, targets: targets, batch: batch, sequence: sequence) {
            LlamaActivations(config: config, batch: batch, sequence: sequence)
        }
        let N = batch * sequence, C = config.hidden, eps = config.rmsNormEpsilon
        let H = config.heads, KV = config.keyValueHeads, d = config.headDimension

        tokens.withUnsafeBufferPointer { gatherRows(act.embedded.pointer, table: tokenEmbedding.value.pointer, tokens: $0, width: C) }
        var residual = act.embedded
        for (index, (block, layer)) in zip(blocks, act.layers).enumerated() {
            RMSNorm.forward(output: layer.norm1.pointer, rstd: layer.rstd1.pointer, input: residual.pointer,
                            weight: block.inputNorm.value.pointer, rows: N, channels: C, epsilon: eps)
            block.query.forward(output: layer.query.pointer, input: layer.norm1.pointer, adapterHidden: act.adapterHidden(layer: index, 0), rows: N)
            block.key.forward(output: layer.key.pointer, input: layer.norm1.pointer, adapterHidden: act.adapterHidden(layer: index, 1), rows: N)
            block.value.forward(output: layer.value.pointer, input: layer.norm1.pointer, adapterHidden: act.adapterHidden(layer: index, 2), rows: N)
            rotary.forward(layer.query.pointer, batch: batch, sequence: sequence, heads: H)
            rotary.forward(layer.key.pointer, batch: batch, sequence: sequence, heads: KV)
            GroupedQueryAttention.forward(output: layer.attentionOut.pointer, query: layer.query.pointer, key: layer.key.pointer, value: layer.value.pointer,
                                          batch: batch, sequence: sequence, heads: H, keyValueHeads: KV, headDimension: d)
            block.output.forward(output: layer.residual2.pointer, input: layer.attentionOut.pointer,
                                 adapterHidden: act.adapterHidden(layer: index, 3), rows: N)
            addInPlace(layer.residual2.pointer, residual.pointer, count: N * C)
            RMSNorm.forward(output: layer.norm2.pointer, rstd: layer.rstd2.pointer, input: layer.residual2.pointer,
                            weight: block.postAttentionNorm.value.pointer, rows: N, channels: C, epsilon: eps)
            block.gate.forward(output: layer.gate.pointer, input: layer.norm2.pointer, adapterHidden: act.adapterHidden(layer: index, 4), rows: N)
            block.up.forward(output: layer.up.pointer, input: layer.norm2.pointer, adapterHidden: act.adapterHidden(layer: index, 5), rows: N)
            SwiGLU.forward(output: act.gated.pointer, gate: layer.gate.pointer, up: layer.up.pointer, count: N * config.intermediate)
            block.down.forward(output: layer.residual3.pointer, input: act.gated.pointer, adapterHidden: act.adapterHidden(layer: index, 6), rows: N)
            addInPlace(layer.residual3.pointer, layer.residual2.pointer, count: N * C)
            residual = layer.residual3
        }
        RMSNorm.forward(output: act.finalHidden.pointer, rstd: act.finalRstd.pointer, input: residual.pointer,
                        weight: finalNorm.value.pointer, rows: N, channels: C, epsilon: eps)
        return act
    }

    /// From d(final norm output) in `act.dChannels` down to the embedding.
    public func backwardBlocks(_ act: LlamaActivations) {
        let batch = act.batch, sequence = act.sequence
        let N = batch * sequence, C = config.hidden, I = config.intermediate
        let H = config.heads, KV = config.keyValueHeads, d = config.headDimension
        let scratch = act.adapters.scratch.pointer
        act.dResidual.zero()
        let lastResidual = act.layers.last?.residual3 ?? act.embedded
        RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: finalNorm.gradient?.pointer,
                         outputGradient: act.dChannels.pointer, input: lastResidual.pointer, weight: finalNorm.value.pointer,
                         rstd: act.finalRstd.pointer, rows: N, channels: C)

        for index in stride(from: blocks.count - 1, through: 0, by: -1) {
            let block = blocks[index], layer = act.layers[index]
            let residualIn = index == 0 ? act.embedded : act.layers[index - 1].residual3
            // dResidual holds d(x'); the MLP branch and the skip both receive it.
            SwiGLU.forward(output: act.gated.pointer, gate: layer.gate.pointer, up: layer.up.pointer, count: N * I)
            block.down.backward(inputGradient: act.dGate.pointer, outputGradient: act.dResidual.pointer, input: act.gated.pointer,
                                adapterHidden: act.adapterHidden(layer: index, 6), adapterScratch: scratch, rows: N)
            SwiGLU.backward(gateGradient: act.dGate.pointer, upGradient: act.dUp.pointer, outputGradient: act.dGate.pointer,
                            gate: layer.gate.pointer, up: layer.up.pointer, count: N * I)
            block.gate.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dGate.pointer, input: layer.norm2.pointer,
                                adapterHidden: act.adapterHidden(layer: index, 4), adapterScratch: scratch, rows: N)
            block.up.backward(inputGradient: act.dChannelsPart.pointer, outputGradient: act.dUp.pointer, input: layer.norm2.pointer,
                              adapterHidden: act.adapterHidden(layer: index, 5), adapterScratch: scratch, rows: N)
            addInPlace(act.dChannels.pointer, act.dChannelsPart.pointer, count: N * C)
            RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.postAttentionNorm.gradient?.pointer,
                             outputGradient: act.dChannels.pointer, input: layer.residual2.pointer,
                             weight: block.postAttentionNorm.value.pointer, rstd: layer.rstd2.pointer, rows: N, channels: C)
            // dResidual now holds d(a); the attention branch and the skip both receive it.
            block.output.backward(inputGradient: act.dAttention.pointer, outputGradient: act.dResidual.pointer,
                                  input: layer.attentionOut.pointer, adapterHidden: act.adapterHidden(layer: index, 3), adapterScratch: scratch, rows: N)
            GroupedQueryAttention.backward(queryGradient: act.dQuery.pointer, keyGradient: act.dKey.pointer, valueGradient: act.dValue.pointer,
                                           outputGradient: act.dAttention.pointer, query: layer.query.pointer,
                                           key: layer.key.pointer, value: layer.value.pointer,
                                           batch: batch, sequence: sequence, heads: H, keyValueHeads: KV, headDimension: d)
            rotary.backward(act.dQuery.pointer, batch: batch, sequence: sequence, heads: H)
            rotary.backward(act.dKey.pointer, batch: batch, sequence: sequence, heads: KV)
            block.query.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dQuery.pointer, input: layer.norm1.pointer,
                                 adapterHidden: act.adapterHidden(layer: index, 0), adapterScratch: scratch, rows: N)
            block.key.backward(inputGradient: act.dChannelsPart.pointer, outputGradient: act.dKey.pointer, input: layer.norm1.pointer,
                               adapterHidden: act.adapterHidden(layer: index, 1), adapterScratch: scratch, rows: N)
            addInPlace(act.dChannels.pointer, act.dChannelsPart.pointer, count: N * C)
            block.value.backward(inputGradient: act.dChannelsPart.pointer, outputGradient: act.dValue.pointer, input: layer.norm1.pointer,
                                 adapterHidden: act.adapterHidden(layer: index, 2), adapterScratch: scratch, rows: N)
            addInPlace(act.dChannels.pointer, act.dChannelsPart.pointer, count: N * C)
            RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.inputNorm.gradient?.pointer,
                             outputGradient: act.dChannels.pointer, input: residualIn.pointer, weight: block.inputNorm.value.pointer,
                             rstd: layer.rstd1.pointer, rows: N, channels: C)
        }
        if let tableGradient = tokenEmbedding.gradient {
            act.tokens.withUnsafeBufferPointer {
                scatterAddRows(tableGradient.pointer, rows: act.dResidual.pointer, tokens: $0, width: C)
            }
        }
    }

    /// Frees the activation buffers (they are rebuilt by the next forward).
    public func releaseActivations() { activations = nil }
}

/// out[i] = table[tokens[i]] (rows of `width`).
func gatherRows(_ out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, tokens: UnsafeBufferPointer<Int32>, width: Int) {
    for (i, token) in tokens.enumerated() { (out + i * width).update(from: table + Int(token) * width, count: width) }
}

/// table[tokens[i]] += rows[i]; sequential because a repeated token writes the same row.
func scatterAddRows(_ table: UnsafeMutablePointer<Float>, rows: UnsafePointer<Float>, tokens: UnsafeBufferPointer<Int32>, width: Int) {
    for (i, token) in tokens.enumerated() {
        let target = table + Int(token) * width, source = rows + i * width
        for j in 0..<width { target[j] += source[j] }
    }
}
