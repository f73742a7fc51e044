// Generation with a LLaMA model: greedy decoding picks the argmax of the last position's
// logits of a plain forward (math, not the generator's own output), and a seed fixes sampling.

import Foundation
import Testing
@testable import Models
@testable import Training

@Suite struct LlamaGenerationTests {
    @Test func greedyFirstTokenIsTheArgmaxOfTheForward() throws {
        let model = try LlamaModel.load(path: LlamaFixtures.gqa)
        let prompt: [Int32] = [5, 40, 7, 91, 2]
        try model.forward(tokens: prompt, targets: nil, batch: 1, sequence: prompt.count)
        let last = Array(model.logits[(4 * 96)..<(5 * 96)])
        let argmax = Int32(last.indices.max(by: { last[$0] < last[$1] || (last[$0] == last[$1] && $0 > $1) })!)
        let generated = try Generation.generate(model, prompt: prompt, options: SamplingOptions(maxTokens: 6, temperature: 0))
        #expect(generated.count == 6)
        #expect(generated.first == argmax)
        let sampled = { try Generation.generate(model, prompt: prompt, options: SamplingOptions(maxTokens: 8, temperature: 1, topK: 10, seed: 4)) }
        #expect(try sampled() == sampled())
        #expect(try sampled().allSatisfy { $0 >= 0 && $0 < 96 })
    }
}
