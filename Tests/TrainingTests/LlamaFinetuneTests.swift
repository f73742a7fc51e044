// `loft finetune` on a LLaMA checkpoint (fixtures/llama/gqa: 2 layers, hidden 32, 4 heads of
// 8, 2 key/value heads, MLP 48, vocab 96, untied head, made by fixtures/generators/llama.py):
// the loss goes down, and the adapter is what PEFT writes for LlamaForCausalLM — keys
// `base_model.model.model.layers.N.<self_attn|mlp>.<proj>.lora_A/B.weight`, lora_A r x in,
// lora_B out x r, fan_in_fan_out false (nn.Linear), all seven projections by default.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

enum LlamaFixtures {
    static var gqa: String { TrainingFixtures.root.appendingPathComponent("fixtures/llama/gqa").path }

    /// A learnable stream (TrainingFixtures.cyclicTokens, ids < 24 < vocab 96) as a raw uint16 .bin.
    static func tokenFile(in directory: String, count: Int = 800) throws -> String {
        let path = (directory as NSString).appendingPathComponent("tokens.bin")
        var bytes: [UInt8] = []
        for id in TrainingFixtures.cyclicTokens(count: count) { bytes += [UInt8(id & 0xff), UInt8(id >> 8)] }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func request(data: String, output: String, steps: Int = 40) -> FinetuneRequest {
        var request = FinetuneRequest(base: gqa, data: data, output: output)
        request.evalFraction = 0.2
        request.batch = 4
        request.sequence = 16
        request.evalInterval = 10
        request.options.steps = steps
        request.options.rank = 4
        request.options.learningRate = 1e-2
        return request
    }
}

@Suite struct LlamaFinetuneTests {
    @Test func finetuneLowersTheLossAndWritesAPEFTLlamaAdapter() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = (directory as NSString).appendingPathComponent("run")
        let job = try FinetuneJob(LlamaFixtures.request(data: try LlamaFixtures.tokenFile(in: directory), output: output))
        guard job.model.languageModel is LlamaModel else { Issue.record("fixtures/llama/gqa did not load as LLaMA"); return }
        #expect(job.options.targets == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        let summary = try job.run()

        let evals = job.trainer.history.compactMap(\.evalLoss)
        #expect(evals.count >= 2)
        #expect(evals.last! < evals.first! - 0.1, "eval loss \(evals.first!) -> \(evals.last!)")
        #expect(summary.outputFiles.contains("adapter_model.safetensors"))

        let config = try JSON.parse(String(contentsOfFile: output + "/adapter_config.json", encoding: .utf8))
        #expect(config["fan_in_fan_out"]?.boolValue == false)
        #expect(config["task_type"]?.stringValue == "CAUSAL_LM")
        #expect(config["r"]?.doubleValue == 4)
        #expect(config["target_modules"]?.arrayValue?.compactMap(\.stringValue)
                == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

        // Shapes from the config: q/o 32 = 4 heads x 8, k/v 16 = 2 kv heads x 8, MLP 48.
        let (hidden, kv, mlp) = (32, 16, 48)
        let inOut: [(String, Int, Int)] = [("self_attn.q_proj", hidden, hidden), ("self_attn.k_proj", hidden, kv),
                                           ("self_attn.v_proj", hidden, kv), ("self_attn.o_proj", hidden, hidden),
                                           ("mlp.gate_proj", hidden, mlp), ("mlp.up_proj", hidden, mlp), ("mlp.down_proj", mlp, hidden)]
        var expected: [String: [Int]] = [:]
        for layer in 0..<2 {
            for (module, fanIn, fanOut) in inOut {
                let key = "base_model.model.model.layers.\(layer).\(module)"
                expected[key + ".lora_A.weight"] = [4, fanIn]
                expected[key + ".lora_B.weight"] = [fanOut, 4]
            }
        }
        let reader = try SafetensorsReader(path: output + "/adapter_model.safetensors")
        let found = Dictionary(uniqueKeysWithValues: reader.tensors.map { ($0.name, $0.shape) })
        #expect(found == expected)
        #expect(reader.tensors.allSatisfy { $0.dtype == .F32 })
    }

    @Test func evalOfTheSavedAdapterEqualsTheTrainedModel() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = (directory as NSString).appendingPathComponent("run")
        let data = try LlamaFixtures.tokenFile(in: directory)
        let job = try FinetuneJob(LlamaFixtures.request(data: data, output: output, steps: 10))
        try job.run()
        let tokens = try TokenFile.checked(TokenFile.read(path: data), path: data, vocabularySize: 96)
        let trained = try Evaluation.languageModel(job.model.languageModel!, tokens: tokens, batch: 4, sequence: 16)
        let reloaded = try LoadedModel.load(base: LlamaFixtures.gqa, adapter: output)
        guard reloaded.languageModel is LlamaModel else { Issue.record("not LLaMA"); return }
        let again = try Evaluation.languageModel(reloaded.languageModel!, tokens: tokens, batch: 4, sequence: 16)
        let base = try Evaluation.languageModel(LoadedModel.load(base: LlamaFixtures.gqa).languageModel!, tokens: tokens, batch: 4, sequence: 16)
        #expect(abs(again.loss - trained.loss) < 1e-5)
        #expect(again.count == 50 * 15)  // 800 tokens: 50 chunks of 16, 15 predictions each
        #expect(base.loss - again.loss > 0.05, "base \(base.loss), adapted \(again.loss)")
    }

    @Test func adamwWritesALlamaCheckpointThatReloadsToTheTrainedModel() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = (directory as NSString).appendingPathComponent("full")
        let data = try LlamaFixtures.tokenFile(in: directory)
        var request = LlamaFixtures.request(data: data, output: output, steps: 5)
        request.options.method = .adamw
        request.options.targets = ["all"]
        request.options.learningRate = 1e-3
        let job = try FinetuneJob(request)
        try job.run()
        let tokens = try TokenFile.checked(TokenFile.read(path: data), path: data, vocabularySize: 96)
        let trained = try Evaluation.languageModel(job.model.languageModel!, tokens: tokens, batch: 4, sequence: 16)
        let reloaded = try LoadedModel.load(base: output)
        guard reloaded.languageModel is LlamaModel else { Issue.record("the written checkpoint is not LLaMA"); return }
        let again = try Evaluation.languageModel(reloaded.languageModel!, tokens: tokens, batch: 4, sequence: 16)
        let base = try Evaluation.languageModel(LoadedModel.load(base: LlamaFixtures.gqa).languageModel!, tokens: tokens, batch: 4, sequence: 16)
        #expect(again.loss == trained.loss)
        #expect(base.loss - again.loss > 0.01, "base \(base.loss), trained \(again.loss)")
        let config = try JSON.parse(String(contentsOfFile: output + "/config.json", encoding: .utf8))
        #expect(config["model_type"]?.stringValue == "llama")
        #expect(config["num_key_value_heads"]?.intValue == 2)
    }

    @Test func initFromALlamaConfigMakesARandomLlama() throws {
        let model = try ModelFamilies.initialized(config: LlamaFixtures.gqa + "/config.json", seed: 3)
        guard let llama = model as? LlamaModel else { Issue.record("not LLaMA"); return }
        #expect(llama.config.keyValueHeads == 2 && llama.config.vocabularySize == 96)
    }
}
