// Generation: temperature 0 is greedy (each token the argmax of a fresh forward over the
// context), top-k 1 is greedy at any temperature, top-k keeps samples among the k largest
// logits, and a seed fixes the text.

import Compute
import Testing
@testable import Models
@testable import Training

@Suite struct GenerationTests {
    let model = try! GPT2Model(randomlyInitialized: GPT2Config(vocabularySize: 24, positions: 16, channels: 16, heads: 2, layers: 1), seed: 3)

    @Test func greedyIsTheArgmaxOfEachContext() throws {
        for i in 0..<model.tokenEmbedding.count { model.tokenEmbedding.value[i] *= 50 }
        let prompt: [Int32] = [1, 2, 3]
        let generated = try Generation.generate(model, prompt: prompt, options: SamplingOptions(maxTokens: 20, temperature: 0))
        #expect(generated.count == 20)
        var context = prompt
        for token in generated {
            let window = Array(context.suffix(16))
            try model.forward(tokens: window, batch: 1, sequence: window.count)
            let last = Array(model.logits.suffix(24))
            #expect(Int(token) == last.indices.max { last[$0] < last[$1] })
            context.append(token)
        }
    }

    @Test func topOneIsGreedy() throws {
        let greedy = try Generation.generate(model, prompt: [5], options: SamplingOptions(maxTokens: 8, temperature: 0))
        let topOne = try Generation.generate(model, prompt: [5], options: SamplingOptions(maxTokens: 8, temperature: 2, topK: 1, seed: 9))
        #expect(greedy == topOne)
    }

    @Test func sameSeedSameTokens() throws {
        let options = SamplingOptions(maxTokens: 12, temperature: 1, topK: 0, seed: 4)
        let a = try Generation.generate(model, prompt: [5, 6], options: options)
        let b = try Generation.generate(model, prompt: [5, 6], options: options)
        var other = options
        other.seed = 5
        let c = try Generation.generate(model, prompt: [5, 6], options: other)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func topKSamplesOnlyAmongTheLargest() {
        let logits: [Float] = [0, 5, 1, 4, 2, 3]
        var random = SeededGenerator(seed: 0)
        let samples = Set((0..<300).map { _ in Generation.sample(logits: logits, temperature: 5, topK: 3, random: &random) })
        #expect(samples == [1, 3, 5])
    }

    @Test func stopsAtTheStopToken() throws {
        let first = try Generation.generate(model, prompt: [5], options: SamplingOptions(maxTokens: 1, temperature: 0))
        let stopped = try Generation.generate(model, prompt: [5], options: SamplingOptions(maxTokens: 10, temperature: 0, stopToken: first[0]))
        #expect(stopped == first)
    }
}
