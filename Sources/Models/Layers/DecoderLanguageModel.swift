// What every decoder-only language model does around its blocks, written once: checking the
// input and (re)allocating the activations, the output head and the cross-entropy (whole, or
// over blocks of rows so the [batch · sequence, vocab] logits are never held), and backward
// from the loss to the final norm. A family (GPT-2, LLaMA, and the LLaMA-like ones) supplies
// its blocks as two hooks, forward and backward, that read like its math:
//
//   runBlocks:       tokens -> embeddings -> blocks -> final norm, into act.finalHidden
//   backwardBlocks:  d(final hidden) in act.dChannels -> ... -> the embeddings
//
//   logits = finalHidden · headᵀ;  loss = mean cross-entropy over targets != -100

import Compute
import TensorIO

public protocol DecoderLanguageModel: CausalLanguageModel {
    associatedtype Activations: DecoderActivations
    /// The token embedding (vocab x hidden), also the output head when the head is tied.
    var tokenEmbedding: Parameter { get }
    /// `lm_head.weight` (vocab x hidden); nil when the head is tied to the token embedding.
    var untiedHead: Parameter? { get }
    /// The residual stream's width.
    var hiddenSize: Int { get }
    /// The last forward's buffers (nil before the first forward and after releaseActivations).
    var activations: Activations? { get }
    /// The family's forward through its blocks (call `beginForward` first).
    func runBlocks(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> Activations
    /// The family's backward from d(final hidden) in `act.dChannels` down to the embeddings.
    func backwardBlocks(_ act: Activations)
}

extension DecoderLanguageModel {
    /// The output head's weight (vocab x hidden): lm_head when untied, the token embedding otherwise.
    public var head: Parameter { untiedHead ?? tokenEmbedding }

    /// A trainable lm_head initialised from the tied embedding, or nil when already untied.
    func untiedHeadCopy() -> Parameter? {
        guard untiedHead == nil else { return nil }
        // An embedding held in 16 bits or quantized stays so: only the new head is float32.
        let values = tokenEmbedding.widenedValue()
        return Parameter(name: "lm_head.weight", shape: tokenEmbedding.shape, value: values)
    }

    /// Checks the input, reallocates `slot` when (batch, sequence) changed (the old buffers
    /// freed first), and records the tokens and targets: the start of every runBlocks.
    func beginForward(_ slot: inout Activations?, tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int,
                      allocate: () -> Activations) throws -> Activations {
        try validateInput(tokens: tokens, targets: targets, batch: batch, sequence: sequence,
                          vocabularySize: vocabularySize, positions: maxPositions)
        if let current = slot, current.batch != batch || current.sequence != sequence { slot = nil }
        let act = slot ?? allocate()
        slot = act
        act.adapters.prepare(projections, rows: batch * sequence)
        act.tokens = tokens
        act.targets = targets
        act.readyForBackward = false
        return act
    }

    /// Runs the model on `tokens` ([batch, sequence], row-major). With `targets` returns the
    /// mean cross-entropy and prepares `backward()`. Logits stay readable until backward.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]? = nil, batch: Int, sequence: Int) throws -> Float? {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        let N = act.rows, V = vocabularySize
        if act.logits == nil { act.logits = FloatBuffer(count: N * V) }
        let logits = act.logits!
        Linear.forward(output: logits.pointer, input: act.finalHidden.pointer, weight: head, bias: nil,
                       rows: N, inFeatures: hiddenSize, outFeatures: V, layout: .outIn)
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
    /// gradient at once (the largest activation of a language model: 200 MB for GPT-2 at B 4,
    /// T 256, never held). Each block re-packs the head weight inside BLAS, so blocks much
    /// smaller than 512 rows cost speed (measured at vocab 50257). Returns the mean loss;
    /// gradients accumulate as with backward().
    @discardableResult
    public func forwardBackward(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int = 512) throws -> Float {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        act.logits = nil
        let C = hiddenSize, V = vocabularySize
        let count = targets.reduce(0) { $0 + ($1 == CrossEntropy.ignoreIndex ? 0 : 1) }
        var lossSum = 0.0
        forEachHeadBlock(act, headRows: headRows) { start, rows, chunk, chunkTargets in
            let (mean, counted) = CrossEntropy.forward(logits: chunk, targets: chunkTargets, rows: rows, classes: V)
            lossSum += Double(mean) * Double(counted)
            CrossEntropy.backward(logitsToGradient: chunk, targets: chunkTargets, rows: rows, classes: V, count: count)
            Linear.backward(inputGradient: act.dChannels.pointer + start * C, weightGradient: head.gradient?.pointer, biasGradient: nil,
                            outputGradient: chunk, input: act.finalHidden.pointer + start * C, weight: head,
                            rows: rows, inFeatures: C, outFeatures: V, layout: .outIn)
        }
        backwardBlocks(act)
        return count == 0 ? 0 : Float(lossSum / Double(count))
    }

    /// Forward only, for evaluation: the summed cross-entropy over targets != -100 and their
    /// number, the head run over blocks of `headRows` rows as in forwardBackward, so memory
    /// does not grow with vocab x tokens. Prepares no backward.
    public func loss(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int = 512) throws -> (sum: Double, count: Int) {
        let act = try runBlocks(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        var total = 0.0, count = 0
        forEachHeadBlock(act, headRows: headRows) { _, rows, chunk, chunkTargets in
            let (sum, counted) = CrossEntropy.sum(logits: chunk, targets: chunkTargets, rows: rows, classes: vocabularySize)
            total += sum
            count += counted
        }
        return (total, count)
    }

    /// body(first row, rows, that block's logits, its targets) for each block of `headRows`
    /// rows of the head's output.
    private func forEachHeadBlock(_ act: Activations, headRows: Int,
                                  _ body: (Int, Int, UnsafeMutablePointer<Float>, UnsafePointer<Int32>) -> Void) {
        let N = act.rows, C = hiddenSize, V = vocabularySize
        let rowsPerBlock = max(1, min(headRows, N))
        if act.headChunk.count < rowsPerBlock * V { act.headChunk = FloatBuffer(count: rowsPerBlock * V) }
        guard let targets = act.targets else { preconditionFailure("the head's loss needs targets") }
        targets.withUnsafeBufferPointer { allTargets in
            var start = 0
            while start < N {
                let rows = min(rowsPerBlock, N - start)
                Linear.forward(output: act.headChunk.pointer, input: act.finalHidden.pointer + start * C, weight: head,
                               bias: nil, rows: rows, inFeatures: C, outFeatures: V, layout: .outIn)
                body(start, rows, act.headChunk.pointer, allTargets.baseAddress! + start)
                start += rows
            }
        }
    }

    /// Logits [batch · sequence, vocab] of the last forward (overwritten by backward).
    public var logits: UnsafeBufferPointer<Float> {
        guard let logits = activations?.logits else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(logits.buffer)
    }

    /// Adds d(mean loss)/d(parameter) to the gradient of every trainable parameter and every
    /// adapter factor. Needs a forward with targets; consumes its logits.
    public func backward() {
        guard let act = activations, act.readyForBackward, let targets = act.targets, let logits = act.logits else {
            preconditionFailure("\(Self.self).backward() needs a forward(tokens:targets:...) first")
        }
        act.readyForBackward = false
        let N = act.rows, V = vocabularySize
        targets.withUnsafeBufferPointer {
            CrossEntropy.backward(logitsToGradient: logits.pointer, targets: $0.baseAddress!, rows: N, classes: V, count: act.countedTargets)
        }
        Linear.backward(inputGradient: act.dChannels.pointer, weightGradient: head.gradient?.pointer, biasGradient: nil,
                        outputGradient: logits.pointer, input: act.finalHidden.pointer, weight: head,
                        rows: N, inFeatures: hiddenSize, outFeatures: V, layout: .outIn)
        backwardBlocks(act)
    }
}

/// The checks a key/value cache makes before running `tokens` after `cached` ones.
func validateAppend(tokens: [Int32], cached: Int, vocabularySize: Int, positions: Int) throws {
    guard !tokens.isEmpty else { throw ModelError.invalidInput(reason: "no tokens to append") }
    guard cached + tokens.count <= positions else {
        throw ModelError.invalidInput(reason: "\(cached + tokens.count) positions passes the model's \(positions)")
    }
    let V = Int32(vocabularySize)
    if let bad = tokens.first(where: { $0 < 0 || $0 >= V }) {
        throw ModelError.invalidInput(reason: "token id \(bad) is outside the vocabulary 0..<\(V)")
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

/// a += b, on both cores.
func addInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    Parallel.forEachRange(count: count) { range in for i in range { a[i] += b[i] } }
}
