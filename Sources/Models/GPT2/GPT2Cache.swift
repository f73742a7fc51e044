// Incremental decoding for one sequence: each layer's k and v of the tokens seen so far are
// kept, so a new token costs one row through the blocks and attention over the cached keys,
// instead of a forward over the whole context. The rows go through the same layers as
// forward (LayerNorm, Projection with its adapter, GELU, Linear); only attention is
// written per row here, softmax(q·Kᵀ / sqrt(hs)) V over positions 0...p.

import Foundation
import TensorIO

public final class GPT2KVCache: KeyValueCache {
    /// Tokens cached so far (the next token's position).
    public private(set) var count = 0
    public let capacity: Int
    /// Per layer [capacity, 3C]: the c_attn output of each cached position (q is not read).
    let qkv: [FloatBuffer]
    let model: GPT2Model

    init(model: GPT2Model) {
        let config = model.config
        self.model = model
        capacity = config.positions
        qkv = (0..<config.layers).map { _ in FloatBuffer(count: config.positions * 3 * config.channels) }
    }

    public func append(_ tokens: [Int32]) throws -> [Float] { try model.forward(appending: tokens, cache: self) }

    public func reset() { count = 0 }
    func advance(_ rows: Int) { count += rows }
}

extension GPT2Model {
    public func makeKVCache() -> GPT2KVCache { GPT2KVCache(model: self) }
    public func makeKeyValueCache() -> KeyValueCache? { makeKVCache() }

    /// Runs `tokens` after the ones already in `cache` and returns the logits of the last one
    /// ([vocab]). Throws when the cache would pass the model's positions.
    public func forward(appending tokens: [Int32], cache: GPT2KVCache) throws -> [Float] {
        let n = tokens.count, start = cache.count
        try validateAppend(tokens: tokens, cached: start, vocabularySize: config.vocabularySize, positions: config.positions)
        let C = config.channels, inner = config.innerChannels, eps = config.layerNormEpsilon
        let x = FloatBuffer(count: n * C), normed = FloatBuffer(count: n * C), attended = FloatBuffer(count: n * C)
        let branch = FloatBuffer(count: n * C), hidden = FloatBuffer(count: n * inner), activated = FloatBuffer(count: n * inner)
        let mean = FloatBuffer(count: n), rstd = FloatBuffer(count: n)
        let maxRank = projections.compactMap(\.adapter?.rank).max() ?? 0
        let adapterHidden = FloatBuffer(count: max(1, n * maxRank))
        tokens.withUnsafeBufferPointer {
            Embedding.forward(output: x.pointer, tokens: $0, tokenTable: tokenEmbedding, positionTable: positionEmbedding,
                              firstPosition: start, sequence: n)
        }
        for (block, cached) in zip(blocks, cache.qkv) {
            LayerNorm.forward(output: normed.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                              weight: block.ln1Weight.value.pointer, bias: block.ln1Bias.value.pointer, rows: n, channels: C, epsilon: eps)
            // The new rows' q|k|v land straight in the cache.
            block.attention.forward(output: cached.pointer + start * 3 * C, input: normed.pointer, adapterHidden: adapterHidden.pointer, rows: n)
            cachedAttention(output: attended.pointer, qkv: cached.pointer, first: start, rows: n)
            block.attentionOutput.forward(output: branch.pointer, input: attended.pointer, adapterHidden: adapterHidden.pointer, rows: n)
            addInPlace(x.pointer, branch.pointer, count: n * C)
            LayerNorm.forward(output: normed.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                              weight: block.ln2Weight.value.pointer, bias: block.ln2Bias.value.pointer, rows: n, channels: C, epsilon: eps)
            block.feedForward.forward(output: hidden.pointer, input: normed.pointer, adapterHidden: adapterHidden.pointer, rows: n)
            config.activation.forward(output: activated.pointer, input: hidden.pointer, count: n * inner)
            block.feedForwardOutput.forward(output: branch.pointer, input: activated.pointer, adapterHidden: adapterHidden.pointer, rows: n)
            addInPlace(x.pointer, branch.pointer, count: n * C)
        }
        cache.advance(n)
        LayerNorm.forward(output: normed.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer + (n - 1) * C,
                          weight: finalNormWeight.value.pointer, bias: finalNormBias.value.pointer, rows: 1, channels: C, epsilon: eps)
        var logits = [Float](repeating: 0, count: config.vocabularySize)
        logits.withUnsafeMutableBufferPointer {
            Linear.forward(output: $0.baseAddress!, input: normed.pointer, weight: head, bias: nil,
                           rows: 1, inFeatures: C, outFeatures: config.vocabularySize, layout: .outIn)
        }
        return logits
    }

    /// out[rows, C] for positions first..<first+rows, each attending to positions 0...itself.
    private func cachedAttention(output out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, first: Int, rows: Int) {
        let C = config.channels, H = config.heads, hs = C / H
        let scale = 1 / Float(hs).squareRoot()
        var scores = [Float](repeating: 0, count: first + rows)
        for i in 0..<rows {
            let p = first + i
            for h in 0..<H {
                let q = qkv + p * 3 * C + h * hs
                var maximum = -Float.infinity
                for j in 0...p {
                    let k = qkv + j * 3 * C + C + h * hs
                    var dot: Float = 0
                    for d in 0..<hs { dot += q[d] * k[d] }
                    scores[j] = dot * scale
                    maximum = max(maximum, scores[j])
                }
                var total: Float = 0
                for j in 0...p { scores[j] = exp(scores[j] - maximum); total += scores[j] }
                let o = out + i * C + h * hs
                for d in 0..<hs { o[d] = 0 }
                for j in 0...p {
                    let w = scores[j] / total, v = qkv + j * 3 * C + 2 * C + h * hs
                    for d in 0..<hs { o[d] += w * v[d] }
                }
            }
        }
    }
}
