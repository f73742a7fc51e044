// Issue 6's round trip at test time: an adapter `loft finetune` trains on a LLaMA checkpoint
// loads in PEFT (scripts/peft_eval.py: AutoModelForCausalLM -> LlamaForCausalLM, then
// PeftModel.from_pretrained), and PEFT's eval loss equals loft's on the same tokens.
// Skips (and says so) without python3 + torch, transformers and peft.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct LlamaPEFTEvalTests {
    @Test(.requiresPython("torch", "transformers", "peft")) func peftLoadsALlamaAdapterLoftWroteWithTheSameEvalLoss() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = (directory as NSString).appendingPathComponent("run")
        let data = try LlamaFixtures.tokenFile(in: directory)
        let job = try FinetuneJob(LlamaFixtures.request(data: data, output: output, steps: 10))
        try job.run()
        let tokens = try TokenFile.checked(TokenFile.read(path: data), path: data, vocabularySize: 96)
        let ours = try Evaluation.languageModel(LoadedModel.load(base: LlamaFixtures.gqa, adapter: output).languageModel!,
                                                tokens: tokens, batch: 4, sequence: 32)

        let run = try #require(Python.runScript("scripts/peft_eval.py", arguments: [
            "--base", LlamaFixtures.gqa, "--adapter", output, "--data", data, "--seq", "32", "--json"]))
        #expect(run.status == 0)
        let text = run.output.split(separator: "\n").last.map(String.init) ?? ""
        let peft = try JSON.parse(text)
        let reference = try #require(peft["loss"]?.doubleValue)
        #expect(peft["tokens"]?.intValue == ours.count)
        #expect(abs(ours.loss - reference) <= 1e-5 * max(1, abs(reference)), "loft \(ours.loss), PEFT \(reference)")
    }
}
