// LLaMA forward (logits and mean cross-entropy) and backward (gradients of every trainable
// parameter and adapter factor), in the order of the math, layer by layer:
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

extension LlamaModel {
    /// Runs the model on `tokens` ([batch, sequence], row-major). With `targets` returns the
    /// mean cross-entropy and prepares `backward()`. Logits stay readable until backward.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]? = nil, batch: Int, sequence: Int) throws -> Float? {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        let N = batch * sequence, V = config.vocabularySize
        if act.logits == nil { act.logits = FloatBuffer(count: N * V) }
        let logits = act.logits!
        Linear.forward(output: logits.pointer, input: act.finalNormOut.pointer, weight: head.value.pointer, bias: nil,
                       rows: N, inFeatures: config.hidden, outFeatures: V, layout: .outIn)
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
    /// gradient at once (200 MB never held at SmolLM-135M's vocab 49152, B 4, T 256). Returns
    /// the mean loss; gradients accumulate as with backward().
    @discardableResult
    public func forwardBackward(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int = 512) throws -> Float {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        act.logits = nil
        let N = batch * sequence, C = config.hidden, V = config.vocabularySize
        let rowsPerChunk = max(1, min(headRows, N))
        if act.headChunk.count < rowsPerChunk * V { act.headChunk = FloatBuffer(count: rowsPerChunk * V) }
        let count = targets.reduce(0) { $0 + ($1 == CrossEntropy.ignoreIndex ? 0 : 1) }
        var lossSum = 0.0
        targets.withUnsafeBufferPointer { allTargets in
            var start = 0
            while start < N {
                let rows = min(rowsPerChunk, N - start)
                let chunk = act.headChunk.pointer, chunkTargets = allTargets.baseAddress! + start
                Linear.forward(output: chunk, input: act.finalNormOut.pointer + start * C, weight: head.value.pointer, bias: nil,
                               rows: rows, inFeatures: C, outFeatures: V, layout: .outIn)
                let (mean, counted) = CrossEntropy.forward(logits: chunk, targets: chunkTargets, rows: rows, classes: V)
                lossSum += Double(mean) * Double(counted)
                CrossEntropy.backward(logitsToGradient: chunk, targets: chunkTargets, rows: rows, classes: V, count: count)
                Linear.backward(inputGradient: act.dChannels.pointer + start * C, weightGradient: head.gradient?.pointer, biasGradient: nil,
                                outputGradient: chunk, input: act.finalNormOut.pointer + start * C, weight: head.value.pointer,
                                rows: rows, inFeatures: C, outFeatures: V, layout: .outIn)
                start += rows
            }
        }
        backwardBlocks(act)
        return count == 0 ? 0 : Float(lossSum / Double(count))
    }

    /// Embedding, blocks and the final RMSNorm; returns the filled activations.
    private func runBlocks(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> LlamaActivations {
        try validateInput(tokens: tokens, targets: targets, batch: batch, sequence: sequence,
                          vocabularySize: config.vocabularySize, positions: config.positions)
        if activations == nil || activations!.batch != batch || activations!.sequence != sequence {
            activations = nil  // free the old buffers before allocating new ones
            activations = LlamaActivations(config: config, batch: batch, sequence: sequence)
        }
        let act = activations!
        act.prepareAdapters(blocks)
        act.tokens = tokens
        act.targets = targets
        act.readyForBackward = false
        let N = batch * sequence, C = config.hidden, eps = config.rmsNormEpsilon
        let H = config.heads, KV = config.keyValueHeads, d = config.headDimension

        tokens.withUnsafeBufferPointer { gatherRows(act.embedded.pointer, table: tokenEmbedding.value.pointer, tokens: $0, width: C) }
        var residual = act.embedded
        for (block, layer) in zip(blocks, act.layers) {
            RMSNorm.forward(output: layer.norm1.pointer, rstd: layer.rstd1.pointer, input: residual.pointer,
                            weight: block.inputNorm.value.pointer, rows: N, channels: C, epsilon: eps)
            block.query.forward(output: layer.query.pointer, input: layer.norm1.pointer, adapterHidden: layer.adapterHidden[0]?.pointer, rows: N)
            block.key.forward(output: layer.key.pointer, input: layer.norm1.pointer, adapterHidden: layer.adapterHidden[1]?.pointer, rows: N)
            block.value.forward(output: layer.value.pointer, input: layer.norm1.pointer, adapterHidden: layer.adapterHidden[2]?.pointer, rows: N)
            rotary.forward(layer.query.pointer, batch: batch, sequence: sequence, heads: H)
            rotary.forward(layer.key.pointer, batch: batch, sequence: sequence, heads: KV)
            GroupedQueryAttention.forward(output: layer.attentionOut.pointer, query: layer.query.pointer, key: layer.key.pointer, value: layer.value.pointer,
                                          batch: batch, sequence: sequence, heads: H, keyValueHeads: KV, headDimension: d)
            block.output.forward(output: layer.residual2.pointer, input: layer.attentionOut.pointer,
                                 adapterHidden: layer.adapterHidden[3]?.pointer, rows: N)
            addInPlace(layer.residual2.pointer, residual.pointer, count: N * C)
            RMSNorm.forward(output: layer.norm2.pointer, rstd: layer.rstd2.pointer, input: layer.residual2.pointer,
                            weight: block.postAttentionNorm.value.pointer, rows: N, channels: C, epsilon: eps)
            block.gate.forward(output: layer.gate.pointer, input: layer.norm2.pointer, adapterHidden: layer.adapterHidden[4]?.pointer, rows: N)
            block.up.forward(output: layer.up.pointer, input: layer.norm2.pointer, adapterHidden: layer.adapterHidden[5]?.pointer, rows: N)
            SwiGLU.forward(output: act.gated.pointer, gate: layer.gate.pointer, up: layer.up.pointer, count: N * config.intermediate)
            block.down.forward(output: layer.residual3.pointer, input: act.gated.pointer, adapterHidden: layer.adapterHidden[6]?.pointer, rows: N)
            addInPlace(layer.residual3.pointer, layer.residual2.pointer, count: N * C)
            residual = layer.residual3
        }
        RMSNorm.forward(output: act.finalNormOut.pointer, rstd: act.finalRstd.pointer, input: residual.pointer,
                        weight: finalNorm.value.pointer, rows: N, channels: C, epsilon: eps)
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
            preconditionFailure("LlamaModel.backward() needs a forward(tokens:targets:...) first")
        }
        act.readyForBackward = false
        let N = act.batch * act.sequence, V = config.vocabularySize
        let logits = act.logits!
        targets.withUnsafeBufferPointer {
            CrossEntropy.backward(logitsToGradient: logits.pointer, targets: $0.baseAddress!, rows: N, classes: V, count: act.countedTargets)
        }
        Linear.backward(inputGradient: act.dChannels.pointer, weightGradient: head.gradient?.pointer, biasGradient: nil,
                        outputGradient: logits.pointer, input: act.finalNormOut.pointer, weight: head.value.pointer,
                        rows: N, inFeatures: config.hidden, outFeatures: V, layout: .outIn)
        backwardBlocks(act)
    }

    /// From d(final norm output) in `act.dChannels` down to the embedding.
    private func backwardBlocks(_ act: LlamaActivations) {
        let batch = act.batch, sequence = act.sequence
        let N = batch * sequence, C = config.hidden, I = config.intermediate
        let H = config.heads, KV = config.keyValueHeads, d = config.headDimension
        let scratch = act.adapterScratch.pointer
        act.dResidual.zero()
        let lastResidual = act.layers.last?.residual3 ?? act.embedded
        RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: finalNorm.gradient?.pointer,
                         outputGradient: act.dChannels.pointer, input: lastResidual.pointer, weight: finalNorm.value.pointer,
                         rstd: act.finalRstd.pointer, rows: N, channels: C)

        for index in stride(from: blocks.count - 1, through: 0, by: -1) {
            let block = blocks[index], layer = act.layers[index]
            let residualIn = index == 0 ? act.embedded : act.layers[index - 1].residual3
            let hidden = layer.adapterHidden
            // dResidual holds d(x'); the MLP branch and the skip both receive it.
            SwiGLU.forward(output: act.gated.pointer, gate: layer.gate.pointer, up: layer.up.pointer, count: N * I)
            block.down.backward(inputGradient: act.dGate.pointer, outputGradient: act.dResidual.pointer, input: act.gated.pointer,
                                adapterHidden: hidden[6]?.pointer, adapterScratch: scratch, rows: N)
            SwiGLU.backward(gateGradient: act.dGate.pointer, upGradient: act.dUp.pointer, outputGradient: act.dGate.pointer,
                            gate: layer.gate.pointer, up: layer.up.pointer, count: N * I)
            block.gate.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dGate.pointer, input: layer.norm2.pointer,
                                adapterHidden: hidden[4]?.pointer, adapterScratch: scratch, rows: N)
            block.up.backward(inputGradient: act.dChannelsPart.pointer, outputGradient: act.dUp.pointer, input: layer.norm2.pointer,
                              adapterHidden: hidden[5]?.pointer, adapterScratch: scratch, rows: N)
            addInPlace(act.dChannels.pointer, act.dChannelsPart.pointer, count: N * C)
            RMSNorm.backward(inputGradient: act.dResidual.pointer, weightGradient: block.postAttentionNorm.gradient?.pointer,
                             outputGradient: act.dChannels.pointer, input: layer.residual2.pointer,
                             weight: block.postAttentionNorm.value.pointer, rstd: layer.rstd2.pointer, rows: N, channels: C)
            // dResidual now holds d(a); the attention branch and the skip both receive it.
            block.output.backward(inputGradient: act.dAttention.pointer, outputGradient: act.dResidual.pointer,
                                  input: layer.attentionOut.pointer, adapterHidden: hidden[3]?.pointer, adapterScratch: scratch, rows: N)
            GroupedQueryAttention.backward(queryGradient: act.dQuery.pointer, keyGradient: act.dKey.pointer, valueGradient: act.dValue.pointer,
                                           outputGradient: act.dAttention.pointer, query: layer.query.pointer,
                                           key: layer.key.pointer, value: layer.value.pointer,
                                           batch: batch, sequence: sequence, heads: H, keyValueHeads: KV, headDimension: d)
            rotary.backward(act.dQuery.pointer, batch: batch, sequence: sequence, heads: H)
            rotary.backward(act.dKey.pointer, batch: batch, sequence: sequence, heads: KV)
            block.query.backward(inputGradient: act.dChannels.pointer, outputGradient: act.dQuery.pointer, input: layer.norm1.pointer,
                                 adapterHidden: hidden[0]?.pointer, adapterScratch: scratch, rows: N)
            block.key.backward(inputGradient: act.dChannelsPart.pointer, outputGradient: act.dKey.pointer, input: layer.norm1.pointer,
                               adapterHidden: hidden[1]?.pointer, adapterScratch: scratch, rows: N)
            addInPlace(act.dChannels.pointer, act.dChannelsPart.pointer, count: N * C)
            block.value.backward(inputGradient: act.dChannelsPart.pointer, outputGradient: act.dValue.pointer, input: layer.norm1.pointer,
                                 adapterHidden: hidden[2]?.pointer, adapterScratch: scratch, rows: N)
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

/// The checks every causal language model makes before a forward pass.
func validateInput(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int, vocabularySize: Int, positions: Int) throws {
    guard batch > 0, sequence > 0 else { throw ModelError.invalidInput(reason: "batch \(batch) and sequence \(sequence) must be positive") }
    guard sequence <= positions else {
        throw ModelError.invalidInput(reason: "sequence \(sequence) is longer than the model's \(positions) positions")
    }
    guard tokens.count == batch * sequence else {
        throw ModelError.invalidInput(reason: "\(tokens.count) tokens for batch \(batch) x sequence \(sequence)")
    }
    let V = Int32(vocabularySize)
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
