// GPT-2's blocks, forward and backward (gradients of every trainable parameter and adapter
// factor), in the order of the math, layer by layer; the head, the loss and the bookkeeping
// around the blocks are DecoderLanguageModel's:
//
//   x0 = wte[tokens] + wpe
//   per block: a = x + c_proj(attention(c_attn(ln_1(x))));  x' = a + mlp.c_proj(act(c_fc(ln_2(a))))   (act: gelu_new, or gelu)
//   logits = ln_f(x_L) · headᵀ;  loss = mean cross-entropy over targets != -100
//
// Targets are given already aligned (target[b, t] is the token that should follow
// tokens[b, t]); Hugging Face's `labels` equal `targets` shifted right by one.

import Compute
import TensorIO

extension GPT2Model: DecoderLanguageModel {
    /// Embeddings, blocks and the final LayerNorm; returns the filled activations.
    public func runBlocks(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> GPT2Activations {
        let N = batch * sequence, C = config.channels, eps = config.layerNormEpsilon
        let act = try beginForward(&activations, tokens: tokens, targets: targets, batch: batch, sequence: sequence) {
            GPT2Activations(config: config, batch: batch, sequence: sequence)
        }

        tokens.withUnsafeBufferPointer {
            Embedding.forward(output: act.embedded.pointer, tokens: $0, tokenTable: tokenEmbedding,
                              positionTable: positionEmbedding, sequence: sequence)
        }
        var residual = act.embedded
        let gelu = config.activation
        for (index, (block, layer)) in zip(blocks, act.layers).enumerated() {
            LayerNorm.forward(output: layer.ln1.pointer, mean: layer.ln1Mean.pointer, rstd: layer.ln1Rstd.pointer,
                              input: residual.pointer, weight: block.ln1Weight.value.pointer, bias: block.ln1Bias.value.pointer,
                              rows: N, channels: C, epsilon: eps)
            block.attention.forward(output: layer.qkv.pointer, input: layer.ln1.pointer,
                                    adapterHidden: act.adapterHidden(layer: index, 0), rows: N)
            Attention.forward(output: layer.attentionOut.pointer, qkv: layer.qkv.pointer,
                              batch: batch, sequence: sequence, channels: C, heads: config.heads)
            block.attentionOutput.forward(output: layer.residual2.pointer, input: layer.attentionOut.pointer,
                                          adapterHidden: act.adapterHidden(layer: index, 1), rows: N)
            addInPlace(layer.residual2.pointer, residual.pointer, count: N * C)
            LayerNorm.forward(output: layer.ln2.pointer, mean: layer.ln2Mean.pointer, rstd: layer.ln2Rstd.pointer,
                              input: layer.residual2.pointer, weight: block.ln2Weight.value.pointer, bias: block.ln2Bias.value.pointer,
                              rows: N, channels: C, epsilon: eps)
            block.feedForward.forward(output: layer.feedForward.pointer, input: layer.ln2.pointer,
                                      adapterHidden: act.adapterHidden(layer: index, 2), rows: N)
            gelu.forward(output: act.geluOut.pointer, input: layer.feedForward.pointer, count: N * config.innerChannels)
            block.feedForwardOutput.forward(output: layer.residual3.pointer, input: act.geluOut.pointer,
                                            adapterHidden: act.adapterHidden(layer: index, 3), rows: N)
            addInPlace(layer.residual3.pointer, layer.residual2.pointer, count: N * C)
            residual = layer.residual3
        }
        LayerNorm.forward(output: act.finalHidden.pointer, mean: act.lnfMean.pointer, rstd: act.lnfRstd.pointer, input: residual.pointer,
                          weight: finalNormWeight.value.pointer, bias: finalNormBias.value.pointer, rows: N, channels: C, epsilon: eps)
        return act
    }

    /// From d(ln_f output) in `act.dChannels` down to the embeddings.
    public func backwardBlocks(_ act: GPT2Activations) {
        let batch = act.batch, sequence = act.sequence
        let N = batch * sequence, C = config.channels, inner = config.innerChannels
        let scratch = act.adapters.scratch.pointer, gelu = config.activation
        act.dResidual.zero()
        let lastResidual = act.layers.last?.residual3 ?? act.embedded
        LayerNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: finalNormWeight.gradient?.pointer,
                           biasGradient: finalNormBias.gradient?.pointer, outputGradient: act.dChannels.pointer,
                           input: lastResidual.pointer, weight: finalNormWeight.value.pointer,
                           mean: act.lnfMean.pointer, rstd: act.lnfRstd.pointer, rows: N, channels: C)

        for index in stride(from: blocks.count - 1, through: 0, by: -1) {
            let block = blocks[index], layer = act.layers[index]
            let residualIn = index == 0 ? act.embedded : act.layers[index - 1].residual3
            // dResidual holds d(x'); the MLP branch and the skip both receive it.
            gelu.forward(output: act.geluOut.pointer, input: layer.feedForward.pointer, count: N * inner)
            block.feedForwardOutput.backward(inputGradient: act.dInner.pointer, outputGradient: act.dResidual.pointer,
                                             input: act.geluOut.pointer, adapterHidden: act.adapterHidden(layer: index, 3),
                                             adapterScratch: scratch, rows: N)
            gelu.backward(inputGradient: act.dInner.pointer, outputGradient: act.dInner.pointer,
                          input: layer.feedForward.pointer, count: N * inner)
            block.feedForward.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dInner.pointer,
                                       input: layer.ln2.pointer, adapterHidden: act.adapterHidden(layer: index, 2),
                                       adapterScratch: scratch, rows: N)
            LayerNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.ln2Weight.gradient?.pointer,
                               biasGradient: block.ln2Bias.gradient?.pointer, outputGradient: act.dChannels.pointer,
                               input: layer.residual2.pointer, weight: block.ln2Weight.value.pointer,
                               mean: layer.ln2Mean.pointer, rstd: layer.ln2Rstd.pointer, rows: N, channels: C)
            // dResidual now holds d(a); the attention branch and the skip both receive it.
            block.attentionOutput.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dResidual.pointer,
                                           input: layer.attentionOut.pointer, adapterHidden: act.adapterHidden(layer: index, 1),
                                           adapterScratch: scratch, rows: N)
            Attention.backward(qkvGradient: act.dQKV.pointer, outputGradient: act.dChannels.pointer, qkv: layer.qkv.pointer,
                               batch: batch, sequence: sequence, channels: C, heads: config.heads)
            block.attention.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dQKV.pointer,
                                     input: layer.ln1.pointer, adapterHidden: act.adapterHidden(layer: index, 0),
                                     adapterScratch: scratch, rows: N)
            LayerNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.ln1Weight.gradient?.pointer,
                               biasGradient: block.ln1Bias.gradient?.pointer, outputGradient: act.dChannels.pointer,
                               input: residualIn.pointer, weight: block.ln1Weight.value.pointer,
                               mean: layer.ln1Mean.pointer, rstd: layer.ln1Rstd.pointer, rows: N, channels: C)
        }
        if tokenEmbedding.isTrainable || positionEmbedding.isTrainable {
            act.tokens.withUnsafeBufferPointer {
                Embedding.backward(tokenTableGradient: tokenEmbedding.gradient?.pointer, positionTableGradient: positionEmbedding.gradient?.pointer,
                                   outputGradient: act.dResidual.pointer, tokens: $0.baseAddress!,
                                   batch: batch, sequence: sequence, channels: C)
            }
        }
    }

    /// Frees the activation buffers (they are rebuilt by the next forward).
    public func releaseActivations() { activations = nil }
}
