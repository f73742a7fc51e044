// GPT-2 forward (logits and mean cross-entropy) and backward (gradients of every trainable
// parameter and adapter factor), in the order of the math, layer by layer:
//
//   x0 = wte[tokens] + wpe
//   per block: a = x + c_proj(attention(c_attn(ln_1(x))));  x' = a + mlp.c_proj(gelu(c_fc(ln_2(a))))
//   logits = ln_f(x_L) · headᵀ;  loss = mean cross-entropy over targets != -100
//
// Targets are given already aligned (target[b, t] is the token that should follow
// tokens[b, t]); Hugging Face's `labels` equal `targets` shifted right by one.

import Compute
import TensorIO

extension GPT2Model {
    /// Runs the model on `tokens` ([batch, sequence], row-major). With `targets` returns the
    /// mean cross-entropy and prepares `backward()`. Logits stay readable until backward.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]? = nil, batch: Int, sequence: Int) throws -> Float? {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        let N = batch * sequence, V = config.vocabularySize
        if act.logits == nil { act.logits = FloatBuffer(count: N * V) }
        let logits = act.logits!
        Linear.forward(output: logits.pointer, input: act.lnf.pointer, weight: head.value.pointer, bias: nil,
                       rows: N, inFeatures: config.channels, outFeatures: V, layout: .outIn)
        guard let targets else { return nil }
        let (loss, count) = targets.withUnsafeBufferPointer {
            CrossEntropy.forward(logits: logits.pointer, targets: $0.baseAddress!, rows: N, classes: V)
        }
        act.countedTargets = count
        act.readyForBackward = true
        return loss
    }

    /// forward + backward of one batch without the [batch · sequence, vocab] logits: the head
    /// and the loss run over blocks of `headRows` rows, each block's logits turned into their
    /// gradient at once (the largest activation of a language model, 200 MB for GPT-2 at
    /// B 4, T 256, is never held). Each block re-packs the head weight inside BLAS, so blocks
    /// much smaller than 512 rows cost speed (measured at vocab 50257). Returns the mean loss;
    /// gradients accumulate as with backward().
    @discardableResult
    public func forwardBackward(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int = 512) throws -> Float {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        let N = batch * sequence, C = config.channels, V = config.vocabularySize
        let rowsPerChunk = max(1, min(headRows, N))
        if act.headChunk.count < rowsPerChunk * V { act.headChunk = FloatBuffer(count: rowsPerChunk * V) }
        let count = targets.reduce(0) { $0 + ($1 == CrossEntropy.ignoreIndex ? 0 : 1) }
        var lossSum = 0.0
        targets.withUnsafeBufferPointer { allTargets in
            var start = 0
            while start < N {
                let rows = min(rowsPerChunk, N - start)
                let chunk = act.headChunk.pointer, chunkTargets = allTargets.baseAddress! + start
                Linear.forward(output: chunk, input: act.lnf.pointer + start * C, weight: head.value.pointer, bias: nil,
                               rows: rows, inFeatures: C, outFeatures: V, layout: .outIn)
                let (mean, counted) = CrossEntropy.forward(logits: chunk, targets: chunkTargets, rows: rows, classes: V)
                lossSum += Double(mean) * Double(counted)
                CrossEntropy.backward(logitsToGradient: chunk, targets: chunkTargets, rows: rows, classes: V, count: count)
                Linear.backward(inputGradient: act.dChannels.pointer + start * C, weightGradient: head.gradient?.pointer, biasGradient: nil,
                                outputGradient: chunk, input: act.lnf.pointer + start * C, weight: head.value.pointer,
                                rows: rows, inFeatures: C, outFeatures: V, layout: .outIn)
                start += rows
            }
        }
        backwardBlocks(act)
        return count == 0 ? 0 : Float(lossSum / Double(count))
    }

    /// Forward only, for evaluation: the summed cross-entropy over targets != -100 and their
    /// number, the head run over blocks of `headRows` rows as in forwardBackward, so memory
    /// does not grow with vocab x tokens. Prepares no backward.
    public func loss(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int = 512) throws -> (sum: Double, count: Int) {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        let N = batch * sequence, C = config.channels, V = config.vocabularySize
        let rowsPerChunk = max(1, min(headRows, N))
        if act.headChunk.count < rowsPerChunk * V { act.headChunk = FloatBuffer(count: rowsPerChunk * V) }
        var total = 0.0, count = 0
        targets.withUnsafeBufferPointer { allTargets in
            var start = 0
            while start < N {
                let rows = min(rowsPerChunk, N - start)
                Linear.forward(output: act.headChunk.pointer, input: act.lnf.pointer + start * C, weight: head.value.pointer, bias: nil,
                               rows: rows, inFeatures: C, outFeatures: V, layout: .outIn)
                let (sum, counted) = CrossEntropy.sum(logits: act.headChunk.pointer, targets: allTargets.baseAddress! + start, rows: rows, classes: V)
                total += sum
                count += counted
                start += rows
            }
        }
        return (total, count)
    }

    /// Embeddings, blocks and the final LayerNorm; returns the filled activations.
    private func runBlocks(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> GPT2Activations {
        try validate(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        if activations == nil || activations!.batch != batch || activations!.sequence != sequence {
            activations = nil  // free the old buffers before allocating new ones
            activations = GPT2Activations(config: config, batch: batch, sequence: sequence)
        }
        let act = activations!
        act.prepareAdapters(blocks)
        act.tokens = tokens
        act.targets = targets
        act.readyForBackward = false
        let N = batch * sequence, C = config.channels, eps = config.layerNormEpsilon

        tokens.withUnsafeBufferPointer {
            Embedding.forward(output: act.embedded.pointer, tokens: $0.baseAddress!, tokenTable: tokenEmbedding.value.pointer,
                              positionTable: positionEmbedding.value.pointer, batch: batch, sequence: sequence, channels: C)
        }
        var residual = act.embedded
        for (block, layer) in zip(blocks, act.layers) {
            LayerNorm.forward(output: layer.ln1.pointer, mean: layer.ln1Mean.pointer, rstd: layer.ln1Rstd.pointer,
                              input: residual.pointer, weight: block.ln1Weight.value.pointer, bias: block.ln1Bias.value.pointer,
                              rows: N, channels: C, epsilon: eps)
            block.attention.forward(output: layer.qkv.pointer, input: layer.ln1.pointer,
                                    adapterHidden: layer.adapterHidden[0]?.pointer, rows: N)
            Attention.forward(output: layer.attentionOut.pointer, qkv: layer.qkv.pointer,
                              batch: batch, sequence: sequence, channels: C, heads: config.heads)
            block.attentionOutput.forward(output: layer.residual2.pointer, input: layer.attentionOut.pointer,
                                          adapterHidden: layer.adapterHidden[1]?.pointer, rows: N)
            addInPlace(layer.residual2.pointer, residual.pointer, count: N * C)
            LayerNorm.forward(output: layer.ln2.pointer, mean: layer.ln2Mean.pointer, rstd: layer.ln2Rstd.pointer,
                              input: layer.residual2.pointer, weight: block.ln2Weight.value.pointer, bias: block.ln2Bias.value.pointer,
                              rows: N, channels: C, epsilon: eps)
            block.feedForward.forward(output: layer.feedForward.pointer, input: layer.ln2.pointer,
                                      adapterHidden: layer.adapterHidden[2]?.pointer, rows: N)
            Activation.gelu.forward(output: act.geluOut.pointer, input: layer.feedForward.pointer, count: N * config.innerChannels)
            block.feedForwardOutput.forward(output: layer.residual3.pointer, input: act.geluOut.pointer,
                                            adapterHidden: layer.adapterHidden[3]?.pointer, rows: N)
            addInPlace(layer.residual3.pointer, layer.residual2.pointer, count: N * C)
            residual = layer.residual3
        }
        LayerNorm.forward(output: act.lnf.pointer, mean: act.lnfMean.pointer, rstd: act.lnfRstd.pointer, input: residual.pointer,
                          weight: finalNormWeight.value.pointer, bias: finalNormBias.value.pointer, rows: N, channels: C, epsilon: eps)
        return act
    }

    /// Logits [batch · sequence, vocab] of the last forward (overwritten by backward).
    public var logits: UnsafeBufferPointer<Float> {
        guard let act = activations else { return UnsafeBufferPointer(start: nil, count: 0) }
        guard let logits = act.logits else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(logits.buffer)
    }

    /// Adds d(mean loss)/d(parameter) to the gradient of every trainable parameter and every
    /// adapter factor. Needs a forward with targets; consumes its logits.
    public func backward() {
        guard let act = activations, act.readyForBackward, let targets = act.targets else {
            preconditionFailure("GPT2Model.backward() needs a forward(tokens:targets:...) first")
        }
        act.readyForBackward = false
        let N = act.batch * act.sequence, V = config.vocabularySize
        let logits = act.logits!
        targets.withUnsafeBufferPointer {
            CrossEntropy.backward(logitsToGradient: logits.pointer, targets: $0.baseAddress!, rows: N, classes: V, count: act.countedTargets)
        }
        Linear.backward(inputGradient: act.dChannels.pointer, weightGradient: head.gradient?.pointer, biasGradient: nil,
                        outputGradient: logits.pointer, input: act.lnf.pointer, weight: head.value.pointer,
                        rows: N, inFeatures: config.channels, outFeatures: V, layout: .outIn)
        backwardBlocks(act)
    }

    /// From d(ln_f output) in `act.dChannels` down to the embeddings.
    private func backwardBlocks(_ act: GPT2Activations) {
        let batch = act.batch, sequence = act.sequence
        let N = batch * sequence, C = config.channels, inner = config.innerChannels
        let scratch = act.adapterScratch.pointer
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
            Activation.gelu.forward(output: act.geluOut.pointer, input: layer.feedForward.pointer, count: N * inner)
            block.feedForwardOutput.backward(inputGradient: act.dInner.pointer, outputGradient: act.dResidual.pointer,
                                             input: act.geluOut.pointer, adapterHidden: layer.adapterHidden[3]?.pointer,
                                             adapterScratch: scratch, rows: N)
            Activation.gelu.backward(inputGradient: act.dInner.pointer, outputGradient: act.dInner.pointer,
                                     input: layer.feedForward.pointer, count: N * inner)
            block.feedForward.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dInner.pointer,
                                       input: layer.ln2.pointer, adapterHidden: layer.adapterHidden[2]?.pointer,
                                       adapterScratch: scratch, rows: N)
            LayerNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.ln2Weight.gradient?.pointer,
                               biasGradient: block.ln2Bias.gradient?.pointer, outputGradient: act.dChannels.pointer,
                               input: layer.residual2.pointer, weight: block.ln2Weight.value.pointer,
                               mean: layer.ln2Mean.pointer, rstd: layer.ln2Rstd.pointer, rows: N, channels: C)
            // dResidual now holds d(a); the attention branch and the skip both receive it.
            block.attentionOutput.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dResidual.pointer,
                                           input: layer.attentionOut.pointer, adapterHidden: layer.adapterHidden[1]?.pointer,
                                           adapterScratch: scratch, rows: N)
            Attention.backward(qkvGradient: act.dQKV.pointer, outputGradient: act.dChannels.pointer, qkv: layer.qkv.pointer,
                               batch: batch, sequence: sequence, channels: C, heads: config.heads)
            block.attention.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dQKV.pointer,
                                     input: layer.ln1.pointer, adapterHidden: layer.adapterHidden[0]?.pointer,
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

    private func validate(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws {
        guard batch > 0, sequence > 0 else { throw ModelError.invalidInput(reason: "batch \(batch) and sequence \(sequence) must be positive") }
        guard sequence <= config.positions else {
            throw ModelError.invalidInput(reason: "sequence \(sequence) is longer than the model's \(config.positions) positions")
        }
        guard tokens.count == batch * sequence else {
            throw ModelError.invalidInput(reason: "\(tokens.count) tokens for batch \(batch) x sequence \(sequence)")
        }
        let V = Int32(config.vocabularySize)
        if let bad = tokens.first(where: { $0 < 0 || $0 >= V }) {
            throw ModelError.invalidInput(reason: "token id \(bad) is outside the vocabulary 0..<\(V)")
        }
        if let targets {
            guard targets.count == tokens.count else { throw ModelError.invalidInput(reason: "\(targets.count) targets for \(tokens.count) tokens") }
            if let bad = targets.first(where: { ($0 < 0 || $0 >= V) && $0 != CrossEntropy.ignoreIndex }) {
                throw ModelError.invalidInput(reason: "target id \(bad) is outside the vocabulary 0..<\(V) (and not -100)")
            }
        }
    }
}

/// a += b, on both cores.
func addInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    Parallel.forEachRange(count: count) { range in for i in range { a[i] += b[i] } }
}
