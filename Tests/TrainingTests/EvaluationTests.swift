// `loft eval`'s loss equals the one transformers + PEFT compute by the same definition
// (scripts/peft_eval.py, recorded in fixtures/training/eval-expected.json), for the base and
// for a PEFT-written adapter (scale 2, fan_in_fan_out). When torch and peft are installed, an
// adapter written by loft is also loaded by PEFT and evaluated live.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct EvaluationTests {
    let tokens = try! TokenFile.checked(TokenFile.read(path: TrainingFixtures.path("tokens.npy")),
                                        path: "tokens.npy", vocabularySize: 2001)

    @Test(arguments: [("base", 16), ("adapter", 16), ("base", 64), ("adapter", 64)])
    func matchesPEFT(model kind: String, sequence: Int) throws {
        let expected = try #require(try TrainingFixtures.json("eval-expected.json")["\(kind)_seq\(sequence)"])
        guard case let .language(model) = try LoadedModel.load(base: TrainingFixtures.path("gpt2"),
                                                            adapter: kind == "adapter" ? TrainingFixtures.path("adapter") : nil) else { return }
        // The batch changes nothing but speed: 3 chunks per forward here.
        let result = try Evaluation.languageModel(model, tokens: tokens, batch: 3, sequence: sequence)
        #expect(result.count == expected["tokens"]?.intValue)
        let reference = try #require(expected["loss"]?.doubleValue)
        #expect(abs(result.loss - reference) / reference < 1e-6, "loft \(result.loss), PEFT \(reference)")
    }

    @Test func theAdapterChangesTheLossByFarMoreThanTheTolerance() throws {
        let json = try TrainingFixtures.json("eval-expected.json")
        let base = try #require(json["base_seq16"]?["loss"]?.doubleValue), adapted = try #require(json["adapter_seq16"]?["loss"]?.doubleValue)
        #expect(abs(base - adapted) / base > 1e-3)
    }

    @Test func chunksAreNonOverlappingWithAShortLastOne() throws {
        // 10 tokens, T 4: chunks [0,4) [4,8) [8,10) give 3 + 3 + 1 predictions.
        let model = try GPT2Model(randomlyInitialized: TrainingFixtures.tinyConfig, seed: 1)
        let ids = (0..<10).map { Int32($0) }
        let result = try Evaluation.languageModel(model, tokens: ids, batch: 2, sequence: 4)
        #expect(result.count == 7)
        // A last chunk of one token predicts nothing: 9 tokens give 3 + 3 predictions.
        #expect(try Evaluation.languageModel(model, tokens: Array(ids.prefix(9)), batch: 2, sequence: 4).count == 6)
    }

    @Test(.requiresPython("torch", "transformers", "peft")) func peftLoadsAnAdapterLoftWrote() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var request = FinetuneRequest(base: TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("text.txt"), output: directory)
        request.batch = 2
        request.sequence = 16
        request.options.steps = 4
        request.options.learningRate = 2e-2
        request.options.targets = ["c_attn", "c_proj", "c_fc"]
        let job = try FinetuneJob(request)
        try job.run()
        guard case let .language(model) = job.model else { return }
        let ours = try Evaluation.languageModel(model, tokens: tokens, batch: 4, sequence: 32)

        let run = try #require(Python.runScript("scripts/peft_eval.py", arguments: [
            "--base", TrainingFixtures.path("gpt2"), "--adapter", directory, "--data", TrainingFixtures.path("tokens.npy"), "--seq", "32", "--json"]))
        #expect(run.status == 0)
        let text = run.output.split(separator: "\n").last.map(String.init) ?? ""
        let peft = try JSON.parse(text)
        let reference = try #require(peft["loss"]?.doubleValue)
        #expect(peft["tokens"]?.intValue == ours.count)
        #expect(abs(ours.loss - reference) / reference < 1e-6, "loft \(ours.loss), PEFT \(reference)")
    }
}
