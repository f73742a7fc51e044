// `loft eval` on a LLaMA checkpoint with a PEFT-written adapter equals the eval loss PEFT
// recorded (fixtures/llamatrain/eval.json, made by fixtures/generators/llamatrain.py through
// scripts/peft_eval.py), with no python at test time.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct LlamaPEFTFixtureTests {
    let root = TrainingFixtures.root.appendingPathComponent("fixtures")

    @Test(arguments: ["base", "adapter"])
    func evalLossEqualsPEFT(_ which: String) throws {
        let expected = try JSON.parse(String(contentsOfFile: root.appendingPathComponent("llamatrain/eval.json").path, encoding: .utf8))
        let reference = try #require(expected[which]?["loss"]?.doubleValue)
        let tokensPath = root.appendingPathComponent("llamatrain/tokens.npy").path
        let tokens = try TokenFile.checked(TokenFile.read(path: tokensPath), path: tokensPath, vocabularySize: 96)
        let gqa = root.appendingPathComponent("llama/gqa").path
        let model = try LoadedModel.load(base: gqa, adapter: which == "adapter" ? gqa + "/adapter" : nil).languageModel!
        let result = try Evaluation.languageModel(model, tokens: tokens, batch: 4, sequence: 16)
        #expect(result.count == expected[which]?["tokens"]?.intValue)
        #expect(abs(result.loss - reference) <= 1e-6 * reference, "loft \(result.loss), PEFT \(reference)")
    }
}
