// LLaMA's blocks, forward and backward (gradients of every trainable parameter and adapter
// factor), in the order of the math, layer by layer; the head, the loss and the bookkeeping
// around the blocks are DecoderLanguageModel's:
//
//   x0 = embed_tokens[tokens]
//   per block: n = rms_1(x);  q, k, v = rope(q_proj n), rope(k_proj n), v_proj n
//              a = x + o_proj(attention(q, k, v))       (k, v heads shared by groups of q heads,
//                                                        banded causal mask on sliding layers)
//              x' = a + down_proj(silu(gate_proj m) · up_proj m),  m = rms_2(a)
//   logits = norm(x_L) · headᵀ;  loss = mean cross-entropy over targets != -100
//
// The family switches of LlamaLayout change only the projection and attention-input steps:
// Qwen3 normalises each head of q and k (q_norm, k_norm) before rope; Phi-3's fused qkv_proj
// and gate_up_proj are one projection each whose output columns are split into q, k, v (gate,
// up), their gradients joined back before that projection's backward; biases are the
// projections' own. Gemma 3 (Families/Gemma3.swift) adds the rest as switches of the same
// steps: x0 = sqrt(C) · embed_tokens[tokens]; every RMSNorm by (1 + w); q_norm / k_norm;
// a = x + rms_pa(o_proj(...)) and x' = a + rms_pf(down_proj(gelu_tanh(gate m) · up m)),
// m = rms_2(a) (pre_feedforward_layernorm); attention scaled by query_pre_attn_scalar^-1/2;
// sliding layers with their own rope.
//
// Targets are given already aligned (target[b, t] is the token that should follow
// tokens[b, t]); Hugging Face's `labels` equal `targets` shifted right by one.

import Compute
import TensorIO

extension LlamaModel: DecoderLanguageModel {
    /// Embedding, blocks and the final RMSNorm; returns the filled activations.
    public func runBlocks(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> LlamaActivations {
        let act = try beginForward(&activations, tokens: tokens, targets: targets, batch: batch, sequence: sequence) {
            LlamaActivations(config: config, batch: batch, sequence: sequence)
        }
        let N = batch * sequence, C = config.hidden, eps = config.rmsNormEpsilon
        let H = config.heads, KV = config.keyValueHeads, d = config.headDimension
        let QW = config.queryWidth, KW = config.keyValueWidth, I = config.intermediate
        let offset = config.layout.normWeightOffset, scale = config.attentionScale

        tokens.withUnsafeBufferPointer { tokenEmbedding.gatherRows(into: act.embedded.pointer, indices: $0) }
        if config.layout.scaledEmbeddings { scaleInPlace(act.embedded.pointer, by: embeddingScale, count: N * C) }
        var residual = act.embedded
        for (index, (block, layer)) in zip(blocks, act.layers).enumerated() {
            RMSNorm.forward(output: layer.norm1.pointer, rstd: layer.rstd1.pointer, input: residual.pointer,
                            weight: block.inputNorm.value.pointer, rows: N, channels: C, epsilon: eps, weightOffset: offset)
            let normed = block.queryNorm != nil
            project(block.attentionInputs, firstSlot: 0, layer: index, input: layer.norm1.pointer, act: act, into: [
                (normed ? layer.queryRaw.pointer : layer.query.pointer, QW), (normed ? layer.keyRaw.pointer : layer.key.pointer, KW),
                (layer.value.pointer, KW)])
            if let queryNorm = block.queryNorm, let keyNorm = block.keyNorm {
                RMSNorm.forward(output: layer.query.pointer, rstd: layer.queryRstd.pointer, input: layer.queryRaw.pointer,
                                weight: queryNorm.value.pointer, rows: N * H, channels: d, epsilon: eps, weightOffset: offset)
                RMSNorm.forward(output: layer.key.pointer, rstd: layer.keyRstd.pointer, input: layer.keyRaw.pointer,
                                weight: keyNorm.value.pointer, rows: N * KV, channels: d, epsilon: eps, weightOffset: offset)
            }
            let rotary = rotary(layer: index)
            rotary.forward(layer.query.pointer, batch: batch, sequence: sequence, heads: H)
            rotary.forward(layer.key.pointer, batch: batch, sequence: sequence, heads: KV)
            GroupedQueryAttention.forward(output: layer.attentionOut.pointer, query: layer.query.pointer, key: layer.key.pointer, value: layer.value.pointer,
                                          batch: batch, sequence: sequence, heads: H, keyValueHeads: KV, headDimension: d,
                                          window: config.windows[index], scale: scale)
            // Gemma: o_proj's output is normalised (post_attention_layernorm) before the add.
            let attentionNorm = block.attentionOutputNorm
            block.output.forward(output: attentionNorm == nil ? layer.residual2.pointer : layer.attentionBranch.pointer,
                                 input: layer.attentionOut.pointer, adapterHidden: act.adapterHidden(layer: index, block.outputSlot), rows: N)
            if let attentionNorm {
                RMSNorm.forward(output: layer.residual2.pointer, rstd: layer.attentionBranchRstd.pointer, input: layer.attentionBranch.pointer,
                                weight: attentionNorm.value.pointer, rows: N, channels: C, epsilon: eps, weightOffset: offset)
            }
            addInPlace(layer.residual2.pointer, residual.pointer, count: N * C)
            RMSNorm.forward(output: layer.norm2.pointer, rstd: layer.rstd2.pointer, input: layer.residual2.pointer,
                            weight: block.mlpNorm.value.pointer, rows: N, channels: C, epsilon: eps, weightOffset: offset)
            project(block.mlpInputs, firstSlot: block.mlpSlot, layer: index, input: layer.norm2.pointer, act: act,
                    into: [(layer.gate.pointer, I), (layer.up.pointer, I)])
            config.activation.forward(output: act.gated.pointer, gate: layer.gate.pointer, up: layer.up.pointer, count: N * I)
            let mlpNorm = block.postFeedforwardNorm
            block.down.forward(output: mlpNorm == nil ? layer.residual3.pointer : layer.mlpBranch.pointer, input: act.gated.pointer,
                               adapterHidden: act.adapterHidden(layer: index, block.downSlot), rows: N)
            if let mlpNorm {
                RMSNorm.forward(output: layer.residual3.pointer, rstd: layer.mlpBranchRstd.pointer, input: layer.mlpBranch.pointer,
                                weight: mlpNorm.value.pointer, rows: N, channels: C, epsilon: eps, weightOffset: offset)
            }
            addInPlace(layer.residual3.pointer, layer.residual2.pointer, count: N * C)
            residual = layer.residual3
        }
        RMSNorm.forward(output: act.finalHidden.pointer, rstd: act.finalRstd.pointer, input: residual.pointer,
                        weight: finalNorm.value.pointer, rows: N, channels: C, epsilon: eps, weightOffset: offset)
        return act
    }

    /// From d(final norm output) in `act.dChannels` down to the embedding.
    public func backwardBlocks(_ act: LlamaActivations) {
        let batch = act.batch, sequence = act.sequence
        let N = batch * sequence, C = config.hidden, I = config.intermediate
        let H = config.heads, KV = config.keyValueHeads, d = config.headDimension
        let QW = config.queryWidth, KW = config.keyValueWidth
        let scratch = act.adapters.scratch.pointer
        let offset = config.layout.normWeightOffset, scale = config.attentionScale
        act.dResidual.zero()
        let lastResidual = act.layers.last?.residual3 ?? act.embedded
        RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: finalNorm.gradient?.pointer,
                         outputGradient: act.dChannels.pointer, input: lastResidual.pointer, weight: finalNorm.value.pointer,
                         rstd: act.finalRstd.pointer, rows: N, channels: C, weightOffset: offset)

        for index in stride(from: blocks.count - 1, through: 0, by: -1) {
            let block = blocks[index], layer = act.layers[index]
            let residualIn = index == 0 ? act.embedded : act.layers[index - 1].residual3
            let rotary = rotary(layer: index)
            // dResidual holds d(x'); the MLP branch and the skip both receive it.
            config.activation.forward(output: act.gated.pointer, gate: layer.gate.pointer, up: layer.up.pointer, count: N * I)
            block.down.backward(inputGradient: act.dGate.pointer,
                                outputGradient: branchGradient(through: block.postFeedforwardNorm, input: layer.mlpBranch, rstd: layer.mlpBranchRstd, act: act),
                                input: act.gated.pointer,
                                adapterHidden: act.adapterHidden(layer: index, block.downSlot), adapterScratch: scratch, rows: N)
            config.activation.backward(gateGradient: act.dGate.pointer, upGradient: act.dUp.pointer, outputGradient: act.dGate.pointer,
                            gate: layer.gate.pointer, up: layer.up.pointer, count: N * I)
            projectBackward(block.mlpInputs, firstSlot: block.mlpSlot, layer: index, input: layer.norm2.pointer, act: act,
                            outputGradients: [(act.dGate.pointer, I), (act.dUp.pointer, I)])
            RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.mlpNorm.gradient?.pointer,
                             outputGradient: act.dChannels.pointer, input: layer.residual2.pointer,
                             weight: block.mlpNorm.value.pointer, rstd: layer.rstd2.pointer, rows: N, channels: C, weightOffset: offset)
            // dResidual now holds d(a); the attention branch and the skip both receive it.
            block.output.backward(inputGradient: act.dAttention.pointer,
                                  outputGradient: branchGradient(through: block.attentionOutputNorm, input: layer.attentionBranch,
                                                                 rstd: layer.attentionBranchRstd, act: act),
                                  input: layer.attentionOut.pointer,
                                  adapterHidden: act.adapterHidden(layer: index, block.outputSlot), adapterScratch: scratch, rows: N)
            GroupedQueryAttention.backward(queryGradient: act.dQuery.pointer, keyGradient: act.dKey.pointer, valueGradient: act.dValue.pointer,
                                           outputGradient: act.dAttention.pointer, query: layer.query.pointer,
                                           key: layer.key.pointer, value: layer.value.pointer,
                                           batch: batch, sequence: sequence, heads: H, keyValueHeads: KV, headDimension: d,
                                           window: config.windows[index], scale: scale)
            rotary.backward(act.dQuery.pointer, batch: batch, sequence: sequence, heads: H)
            rotary.backward(act.dKey.pointer, batch: batch, sequence: sequence, heads: KV)
            var dQuery = act.dQuery.pointer, dKey = act.dKey.pointer
            if let queryNorm = block.queryNorm, let keyNorm = block.keyNorm {
                // RMSNorm.backward accumulates into its input gradient.
                act.dQueryRaw.zero()
                act.dKeyRaw.zero()
                RMSNorm.backward(inputGradient: act.dQueryRaw.pointer, weightGradient: queryNorm.gradient?.pointer,
                                 outputGradient: act.dQuery.pointer, input: layer.queryRaw.pointer, weight: queryNorm.value.pointer,
                                 rstd: layer.queryRstd.pointer, rows: N * H, channels: d, weightOffset: offset)
                RMSNorm.backward(inputGradient: act.dKeyRaw.pointer, weightGradient: keyNorm.gradient?.pointer,
                                 outputGradient: act.dKey.pointer, input: layer.keyRaw.pointer, weight: keyNorm.value.pointer,
                                 rstd: layer.keyRstd.pointer, rows: N * KV, channels: d, weightOffset: offset)
                (dQuery, dKey) = (act.dQueryRaw.pointer, act.dKeyRaw.pointer)
            }
            projectBackward(block.attentionInputs, firstSlot: 0, layer: index, input: layer.norm1.pointer, act: act,
                            outputGradients: [(dQuery, QW), (dKey, KW), (act.dValue.pointer, KW)])
            RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.inputNorm.gradient?.pointer,
                             outputGradient: act.dChannels.pointer, input: residualIn.pointer, weight: block.inputNorm.value.pointer,
                             rstd: layer.rstd1.pointer, rows: N, channels: C, weightOffset: offset)
        }
        if let tableGradient = tokenEmbedding.gradient {
            if config.layout.scaledEmbeddings { scaleInPlace(act.dResidual.pointer, by: embeddingScale, count: N * C) }
            act.tokens.withUnsafeBufferPointer {
                scatterAddRows(tableGradient.pointer, rows: act.dResidual.pointer, tokens: $0, width: C, skipping: config.padTokenId)
            }
        }
    }

    /// Gemma's sqrt(hidden_size), rounded to float32 as transformers' embed_scale buffer.
    var embeddingScale: Float { Float(Double(config.hidden).squareRoot()) }

    /// d(branch output) for a branch ending in a sandwich norm (Gemma): act.dResidual taken
    /// back through that norm into act.dBranch (its weight's gradient accumulated); without
    /// such a norm, act.dResidual itself.
    private func branchGradient(through norm: Parameter?, input: FloatBuffer, rstd: FloatBuffer, act: LlamaActivations) -> UnsafeMutablePointer<Float> {
        guard let norm else { return act.dResidual.pointer }
        act.dBranch.zero()
        RMSNorm.backward(inputGradient: act.dBranch.pointer, weightGradient: norm.gradient?.pointer, outputGradient: act.dResidual.pointer,
                         input: input.pointer, weight: norm.value.pointer, rstd: rstd.pointer, rows: act.rows, channels: config.hidden,
                         weightOffset: config.layout.normWeightOffset)
        return act.dBranch.pointer
    }

    /// Frees the activation buffers (they are rebuilt by the next forward).
    public func releaseActivations() { activations = nil }

    /// Runs a block's input projections on x into `outputs` (pointer, width): one projection
    /// per output, or one fused projection (Phi-3) whose output columns are split among them.
    private func project(_ projections: [Projection], firstSlot: Int, layer index: Int, input x: UnsafePointer<Float>,
                         act: LlamaActivations, into outputs: [(UnsafeMutablePointer<Float>, Int)]) {
        let N = act.rows
        if projections.count == outputs.count {
            for (slot, (projection, output)) in zip(projections, outputs).enumerated() {
                projection.forward(output: output.0, input: x, adapterHidden: act.adapterHidden(layer: index, firstSlot + slot), rows: N)
            }
            return
        }
        precondition(projections.count == 1, "LlamaModel: \(projections.count) projections for \(outputs.count) outputs")
        let fused = projections[0]
        fused.forward(output: act.fused.pointer, input: x, adapterHidden: act.adapterHidden(layer: index, firstSlot), rows: N)
        var offset = 0
        for (output, width) in outputs {
            copyColumns(to: output, toStride: width, from: act.fused.pointer + offset, fromStride: fused.outFeatures, width: width, rows: N)
            offset += width
        }
    }

    /// The backward of `project`: act.dChannels overwritten with d(x), the sum of the
    /// projections' input gradients, from each output's gradient (joined into the fused
    /// projection's output gradient first when fused).
    private func projectBackward(_ projections: [Projection], firstSlot: Int, layer index: Int, input x: UnsafePointer<Float>,
                                 act: LlamaActivations, outputGradients: [(UnsafeMutablePointer<Float>, Int)]) {
        let N = act.rows, scratch = act.adapters.scratch.pointer
        if projections.count == outputGradients.count {
            for (slot, (projection, gradient)) in zip(projections, outputGradients).enumerated() {
                let dx = slot == 0 ? act.dChannels.pointer : act.dChannelsPart.pointer
                projection.backward(inputGradient: dx, outputGradient: gradient.0, input: x,
                                    adapterHidden: act.adapterHidden(layer: index, firstSlot + slot), adapterScratch: scratch, rows: N)
                if slot > 0 { addInPlace(act.dChannels.pointer, act.dChannelsPart.pointer, count: N * config.hidden) }
            }
            return
        }
        let fused = projections[0]
        var offset = 0
        for (gradient, width) in outputGradients {
            copyColumns(to: act.fused.pointer + offset, toStride: fused.outFeatures, from: gradient, fromStride: width, width: width, rows: N)
            offset += width
        }
        fused.backward(inputGradient: act.dChannels.pointer, outputGradient: act.fused.pointer, input: x,
                       adapterHidden: act.adapterHidden(layer: index, firstSlot), adapterScratch: scratch, rows: N)
    }
}

/// `width` columns of each of `rows` rows from one row-major matrix into another (strides in floats).
func copyColumns(to destination: UnsafeMutablePointer<Float>, toStride: Int, from source: UnsafePointer<Float>, fromStride: Int,
                 width: Int, rows: Int) {
    for row in 0..<rows { (destination + row * toStride).update(from: source + row * fromStride, count: width) }
}

/// out[i] = table[tokens[i]] (rows of `width`).
func gatherRows(_ out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, tokens: UnsafeBufferPointer<Int32>, width: Int) {
    for (i, token) in tokens.enumerated() { (out + i * width).update(from: table + Int(token) * width, count: width) }
}

/// table[tokens[i]] += rows[i]; sequential because a repeated token writes the same row.
/// The `skipping` token's row (torch's padding_idx) gets nothing.
func scatterAddRows(_ table: UnsafeMutablePointer<Float>, rows: UnsafePointer<Float>, tokens: UnsafeBufferPointer<Int32>, width: Int,
                    skipping padding: Int? = nil) {
    for (i, token) in tokens.enumerated() where Int(token) != padding {
        let target = table + Int(token) * width, source = rows + i * width
        for j in 0..<width { target[j] += source[j] }
    }
}

/// a *= factor, on both cores.
func scaleInPlace(_ a: UnsafeMutablePointer<Float>, by factor: Float, count: Int) {
    Parallel.forEachRange(count: count) { range in for i in range { a[i] *= factor } }
}
