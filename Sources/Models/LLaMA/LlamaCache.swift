// Incremental decoding for the LLaMA-layout families (LLaMA, Mistral, Qwen2, Qwen3, Phi-3,
// Gemma 3), one sequence: each layer's k (after its norm and rotary embedding) and v of the
// tokens seen so far are kept, so a new token costs one row through the blocks and attention
// over the cached keys instead of a forward over the whole context. The rows go through the
// same layers and switches as LlamaTraining's forward (RMSNorm with the family's offset,
// Projection with its adapter, q/k norms, fused projections split, sandwich norms, the gated
// activation); only attention is written per row here: softmax(scale · q·Kᵀ) V over the
// positions the row sees (all before it, or its sliding window).
//
// The cache grows with the tokens (a Llama 3.x config allows 131072 positions: allocating
// them all up front would take gigabytes no generation of 64 tokens needs).

import Foundation
import TensorIO

public final class LlamaKVCache: KeyValueCache {
    /// Tokens cached so far (the next token's position).
    public private(set) var count = 0
    public let capacity: Int
    /// Per layer, [count, kv width]: keys after norm and rotation, and values.
    var keys: [[Float]], values: [[Float]]
    let model: LlamaModel

    init(model: LlamaModel) {
        self.model = model
        capacity = model.config.positions
        keys = Array(repeating: [], count: model.config.layers)
        values = Array(repeating: [], count: model.config.layers)
    }

    public func append(_ tokens: [Int32]) throws -> [Float] { try model.forward(appending: tokens, cache: self) }

    public func reset() {
        count = 0
        for layer in keys.indices { keys[layer].removeAll(keepingCapacity: true); values[layer].removeAll(keepingCapacity: true) }
    }

    func advance(_ rows: Int) { count += rows }
}

extension LlamaModel {
    public func makeKVCache() -> LlamaKVCache { LlamaKVCache(model: self) }

    /// Runs `tokens` after the ones already in `cache` and returns the logits of the last one
    /// ([vocab]). Throws when the cache would pass the model's positions.
    public func forward(appending tokens: [Int32], cache: LlamaKVCache) throws -> [Float] {
        let n = tokens.count, start = cache.count
        try validateAppend(tokens: tokens, cached: start, vocabularySize: config.vocabularySize, positions: config.positions)
        let C = config.hidden, I = config.intermediate, H = config.heads, KV = config.keyValueHeads, d = config.headDimension
        let QW = config.queryWidth, KW = config.keyValueWidth, eps = config.rmsNormEpsilon, offset = config.layout.normWeightOffset
        let x = FloatBuffer(count: n * C), normed = FloatBuffer(count: n * C), branch = FloatBuffer(count: n * C), normedBranch = FloatBuffer(count: n * C)
        let query = FloatBuffer(count: n * QW), key = FloatBuffer(count: n * KW), value = FloatBuffer(count: n * KW)
        let queryRaw = FloatBuffer(count: n * QW), keyRaw = FloatBuffer(count: n * KW), attended = FloatBuffer(count: n * QW)
        let gate = FloatBuffer(count: n * I), up = FloatBuffer(count: n * I), gated = FloatBuffer(count: n * I)
        let rstd = FloatBuffer(count: n * max(H, 1))
        let fused = FloatBuffer(count: config.layout.fusedProjections ? n * max(QW + 2 * KW, 2 * I) : 0)
        let maxRank = projections.compactMap(\.adapter?.rank).max() ?? 0
        let adapterHidden = FloatBuffer(count: max(1, n * maxRank))

        /// The block's input projections of `input` into `outputs` (a fused one split by columns).
        func project(_ projections: [Projection], _ input: FloatBuffer, into outputs: [(FloatBuffer, Int)]) {
            if projections.count == outputs.count {
                for (projection, output) in zip(projections, outputs) {
                    projection.forward(output: output.0.pointer, input: input.pointer, adapterHidden: adapterHidden.pointer, rows: n)
                }
                return
            }
            projections[0].forward(output: fused.pointer, input: input.pointer, adapterHidden: adapterHidden.pointer, rows: n)
            var column = 0
            for (output, width) in outputs {
                copyColumns(to: output.pointer, toStride: width, from: fused.pointer + column, fromStride: projections[0].outFeatures, width: width, rows: n)
                column += width
            }
        }
        /// x += norm(branch) with a sandwich norm (Gemma), else x += branch.
        func addBranch(_ norm: Parameter?) {
            guard let norm else { return addInPlace(x.pointer, branch.pointer, count: n * C) }
            RMSNorm.forward(output: normedBranch.pointer, rstd: rstd.pointer, input: branch.pointer, weight: norm.value.pointer,
                            rows: n, channels: C, epsilon: eps, weightOffset: offset)
            addInPlace(x.pointer, normedBranch.pointer, count: n * C)
        }

        tokens.withUnsafeBufferPointer { tokenEmbedding.gatherRows(into: x.pointer, indices: $0) }
        if config.layout.scaledEmbeddings { scaleInPlace(x.pointer, by: embeddingScale, count: n * C) }
        for (index, block) in blocks.enumerated() {
            RMSNorm.forward(output: normed.pointer, rstd: rstd.pointer, input: x.pointer, weight: block.inputNorm.value.pointer,
                            rows: n, channels: C, epsilon: eps, weightOffset: offset)
            let normedHeads = block.queryNorm != nil
            project(block.attentionInputs, normed, into: [(normedHeads ? queryRaw : query, QW), (normedHeads ? keyRaw : key, KW), (value, KW)])
            if let queryNorm = block.queryNorm, let keyNorm = block.keyNorm {
                RMSNorm.forward(output: query.pointer, rstd: rstd.pointer, input: queryRaw.pointer, weight: queryNorm.value.pointer,
                                rows: n * H, channels: d, epsilon: eps, weightOffset: offset)
                RMSNorm.forward(output: key.pointer, rstd: rstd.pointer, input: keyRaw.pointer, weight: keyNorm.value.pointer,
                                rows: n * KV, channels: d, epsilon: eps, weightOffset: offset)
            }
            let rotary = rotary(layer: index)
            rotary.forward(query.pointer, rows: n, heads: H, firstPosition: start)
            rotary.forward(key.pointer, rows: n, heads: KV, firstPosition: start)
            cache.keys[index].append(contentsOf: UnsafeBufferPointer(start: key.pointer, count: n * KW))
            cache.values[index].append(contentsOf: UnsafeBufferPointer(start: value.pointer, count: n * KW))
            cache.keys[index].withUnsafeBufferPointer { keys in
                cache.values[index].withUnsafeBufferPointer { values in
                    cachedAttention(output: attended.pointer, query: query.pointer, keys: keys.baseAddress!, values: values.baseAddress!,
                                    first: start, rows: n, window: config.windows[index])
                }
            }
            block.output.forward(output: branch.pointer, input: attended.pointer, adapterHidden: adapterHidden.pointer, rows: n)
            addBranch(block.attentionOutputNorm)
            RMSNorm.forward(output: normed.pointer, rstd: rstd.pointer, input: x.pointer, weight: block.mlpNorm.value.pointer,
                            rows: n, channels: C, epsilon: eps, weightOffset: offset)
            project(block.mlpInputs, normed, into: [(gate, I), (up, I)])
            config.activation.forward(output: gated.pointer, gate: gate.pointer, up: up.pointer, count: n * I)
            block.down.forward(output: branch.pointer, input: gated.pointer, adapterHidden: adapterHidden.pointer, rows: n)
            addBranch(block.postFeedforwardNorm)
        }
        cache.advance(n)
        RMSNorm.forward(output: normed.pointer, rstd: rstd.pointer, input: x.pointer + (n - 1) * C, weight: finalNorm.value.pointer,
                        rows: 1, channels: C, epsilon: eps, weightOffset: offset)
        var logits = [Float](repeating: 0, count: config.vocabularySize)
        logits.withUnsafeMutableBufferPointer {
            Linear.forward(output: $0.baseAddress!, input: normed.pointer, weight: head, bias: nil,
                           rows: 1, inFeatures: C, outFeatures: config.vocabularySize, layout: .outIn)
        }
        return logits
    }

    /// out[rows, H·d] for positions first..<first+rows, each attending to the cached positions
    /// it sees (0...itself, or its window), query head h reading key/value head h / (H/KV).
    private func cachedAttention(output out: UnsafeMutablePointer<Float>, query q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                                 values: UnsafePointer<Float>, first: Int, rows: Int, window: Int?) {
        let H = config.heads, KV = config.keyValueHeads, d = config.headDimension, group = H / KV
        let QW = config.queryWidth, KW = config.keyValueWidth, scale = config.attentionScale
        var scores = [Float](repeating: 0, count: first + rows)
        for i in 0..<rows {
            let p = first + i, lowest = window.map { max(0, p - $0 + 1) } ?? 0
            for h in 0..<H {
                let qh = q + i * QW + h * d, g = h / group
                var maximum = -Float.infinity
                for j in lowest...p {
                    let k = keys + j * KW + g * d
                    var dot: Float = 0
                    for e in 0..<d { dot += qh[e] * k[e] }
                    scores[j] = dot * scale
                    maximum = max(maximum, scores[j])
                }
                var total: Float = 0
                for j in lowest...p { scores[j] = exp(scores[j] - maximum); total += scores[j] }
                let o = out + i * QW + h * d
                for e in 0..<d { o[e] = 0 }
                for j in lowest...p {
                    let w = scores[j] / total, v = values + j * KW + g * d
                    for e in 0..<d { o[e] += w * v[e] }
                }
            }
        }
    }
}
