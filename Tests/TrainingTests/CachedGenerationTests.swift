// The KV cache changes nothing but speed: cached and uncached generation give the same
// tokens (greedy and seeded sampling, with a LoRA adapter attached, and past the model's
// positions where the window starts to slide), and each cached step's logits are the last
// row of a full forward over the context.

import Compute
import Testing
@testable import Models
@testable import Training

@Suite struct CachedGenerationTests {
    let config = GPT2Config(vocabularySize: 50, positions: 24, channels: 32, heads: 4, layers: 2)

    func adaptedModel() throws -> GPT2Model {
        let model = try GPT2Model(randomlyInitialized: config, seed: 11)
        // Larger embeddings make the logits spread, so sampling is not decided by rounding.
        for i in 0..<model.tokenEmbedding.count { model.tokenEmbedding.value[i] *= 40 }
        let adapters = try model.addLowRankAdapters(targets: ["c_attn", "c_proj", "c_fc"], rank: 4, alpha: 8, seed: 2)
        var random = SeededGenerator(seed: 5)
        for adapter in adapters { for i in 0..<adapter.b.count { adapter.b[i] = 0.05 * random.normal() } }
        return model
    }

    @Test(arguments: [(Float(0), 0), (1, 0), (1.5, 5)])
    func cachedAndUncachedGiveTheSameTokens(temperature: Float, topK: Int) throws {
        let model = try adaptedModel()
        // 5 prompt tokens + 40 generated: the last 21 steps run past the 24 positions.
        let options = SamplingOptions(maxTokens: 40, temperature: temperature, topK: topK, seed: 8)
        let cached = try Generation.generate(model, prompt: [3, 1, 4, 1, 5], options: options, cached: true)
        let uncached = try Generation.generate(model, prompt: [3, 1, 4, 1, 5], options: options, cached: false)
        #expect(cached.count == 40)
        #expect(cached == uncached)
    }

    @Test func cachedLogitsAreTheLastRowOfAFullForward() throws {
        let model = try adaptedModel()
        let tokens: [Int32] = [7, 2, 9, 9, 0, 31, 12, 44, 5, 18]
        let cache = model.makeKVCache()
        // A prompt of 4 at once, then one token at a time.
        var steps: [(count: Int, logits: [Float])] = [(4, try model.forward(appending: Array(tokens[0..<4]), cache: cache))]
        for end in 5...tokens.count { steps.append((end, try model.forward(appending: [tokens[end - 1]], cache: cache))) }
        #expect(cache.count == tokens.count)
        for (count, logits) in steps {
            try model.forward(tokens: Array(tokens[0..<count]), batch: 1, sequence: count)
            let want = Array(model.logits.suffix(config.vocabularySize))
            let worst = zip(logits, want).map { abs($0 - $1) / max(1, abs($1)) }.max()!
            #expect(worst < 1e-5, "after \(count) tokens the cached logits differ by \(worst)")
        }
    }

    @Test func theCacheRefusesToPassThePositions() throws {
        let model = try GPT2Model(randomlyInitialized: config, seed: 1)
        let cache = model.makeKVCache()
        _ = try model.forward(appending: [Int32](repeating: 1, count: 24), cache: cache)
        #expect(throws: ModelError.self) { try model.forward(appending: [1], cache: cache) }
    }
}
