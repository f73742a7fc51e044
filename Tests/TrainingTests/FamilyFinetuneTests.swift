// `loft finetune` on the LLaMA-layout families (fixtures/families: Mistral with a sliding
// window, Qwen2 with q/k/v biases and a tied head, Qwen3 with q/k norms, Phi-3 with fused
// projections, Gemma 3 with its norms, GeGLU and local/global layers; made by fixtures/generators/families.py): the loss goes down, the adapter
// names each family's projections as PEFT does, and PEFT loads it (AutoModelForCausalLM ->
// <Family>ForCausalLM, then PeftModel.from_pretrained) with the eval loss loft computes.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

enum FamilyFixtures {
    static let names = ["mistral", "qwen2", "qwen3", "phi3", "gemma3"]
    /// The fixture folder's config.json model_type.
    static func modelType(_ family: String) -> String { family == "gemma3" ? "gemma3_text" : family }
    static func path(_ family: String) -> String { TrainingFixtures.root.appendingPathComponent("fixtures/families/\(family)").path }
    static func targets(_ family: String) -> [String] {
        family == "phi3" ? ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
            : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    }

    static func request(_ family: String, data: String, output: String, steps: Int) -> FinetuneRequest {
        var request = LlamaFixtures.request(data: data, output: output, steps: steps)
        request.base = path(family)
        return request
    }
}

@Suite struct FamilyFinetuneTests {
    @Test(arguments: FamilyFixtures.names)
    func finetuneLowersTheLossAndWritesThePEFTNames(family: String) throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = (directory as NSString).appendingPathComponent("run")
        let job = try FinetuneJob(FamilyFixtures.request(family, data: try LlamaFixtures.tokenFile(in: directory), output: output, steps: 40))
        let model = try #require(job.model.languageModel as? LlamaModel)
        #expect(model.modelType == FamilyFixtures.modelType(family))
        #expect(job.options.targets == FamilyFixtures.targets(family))
        try job.run()
        let evals = job.trainer.history.compactMap(\.evalLoss)
        #expect(evals.count >= 2)
        #expect(evals.last! < evals.first! - 0.1, "eval loss \(evals.first!) -> \(evals.last!)")
        let config = try JSON.parse(String(contentsOfFile: output + "/adapter_config.json", encoding: .utf8))
        #expect(config["target_modules"]?.arrayValue?.compactMap(\.stringValue) == FamilyFixtures.targets(family))
    }

    @Test(.requiresPython("torch", "transformers", "peft"), arguments: FamilyFixtures.names)
    func peftLoadsTheAdapterWithTheSameEvalLoss(family: String) throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = (directory as NSString).appendingPathComponent("run")
        let data = try LlamaFixtures.tokenFile(in: directory)
        try FinetuneJob(FamilyFixtures.request(family, data: data, output: output, steps: 10)).run()
        let tokens = try TokenFile.checked(TokenFile.read(path: data), path: data, vocabularySize: 96)
        let ours = try Evaluation.languageModel(LoadedModel.load(base: FamilyFixtures.path(family), adapter: output).languageModel!,
                                                tokens: tokens, batch: 4, sequence: 32)
        let run = try #require(Python.runScript("scripts/peft_eval.py", arguments: [
            "--base", FamilyFixtures.path(family), "--adapter", output, "--data", data, "--seq", "32", "--json"]))
        #expect(run.status == 0, "\(run.output)")
        let peft = try JSON.parse(run.output.split(separator: "\n").last.map(String.init) ?? "")
        let reference = try #require(peft["loss"]?.doubleValue)
        #expect(peft["tokens"]?.intValue == ours.count)
        #expect(abs(ours.loss - reference) <= 1e-5 * max(1, abs(reference)), "loft \(ours.loss), PEFT \(reference)")
    }
}
