// `loft finetune` writes adapters in PEFT's format: key names, shapes, metadata, and an
// adapter_config.json with the key set PEFT itself writes (fixtures/training/adapter/, made by
// PeftModel.save_pretrained); reading the adapter back reproduces the trained model.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct PEFTFormatTests {
    /// A short LoFT run on the fixture model directory; returns the job and its output directory.
    func finetune(_ configure: (inout FinetuneRequest) -> Void = { _ in }) throws -> (FinetuneJob, String) {
        let directory = try TrainingFixtures.temporaryDirectory()
        var request = FinetuneRequest(base: TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy"), output: directory)
        request.batch = 2
        request.sequence = 16
        request.evalFraction = 0.2
        request.options.steps = 3
        request.options.learningRate = 1e-2
        configure(&request)
        let job = try FinetuneJob(request)
        try job.run()
        return (job, directory)
    }

    @Test func adapterKeysShapesAndMetadata() throws {
        let (_, directory) = try finetune()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let reader = try SafetensorsReader(path: directory + "/adapter_model.safetensors")
        #expect(reader.metadata.map(\.key) == ["format"] && reader.metadata.first?.value == "pt")
        var expected: [String: [Int]] = [:]
        for layer in 0..<2 {
            let prefix = "base_model.model.transformer.h.\(layer)."
            expected[prefix + "attn.c_attn.lora_A.weight"] = [8, 32]
            expected[prefix + "attn.c_attn.lora_B.weight"] = [96, 8]
            expected[prefix + "attn.c_proj.lora_A.weight"] = [8, 32]
            expected[prefix + "attn.c_proj.lora_B.weight"] = [32, 8]
            expected[prefix + "mlp.c_proj.lora_A.weight"] = [8, 128]
            expected[prefix + "mlp.c_proj.lora_B.weight"] = [32, 8]
        }
        #expect(Dictionary(uniqueKeysWithValues: reader.tensors.map { ($0.name, $0.shape) }) == expected)
        #expect(reader.tensors.allSatisfy { $0.dtype == .F32 })
    }

    @Test func configHasPEFTsKeysAndLoFTsValues() throws {
        let (_, directory) = try finetune()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ours = try JSON.parse(String(contentsOfFile: directory + "/adapter_config.json", encoding: .utf8))
        let peft = try TrainingFixtures.json("adapter/adapter_config.json")
        #expect(Set(ours.objectMembers!.map(\.key)) == Set(peft.objectMembers!.map(\.key)))
        #expect(ours["peft_type"] == .string("LORA"))
        #expect(ours["task_type"] == .string("CAUSAL_LM"))
        #expect(ours["r"] == .integer(8))
        #expect(ours["lora_alpha"] == .integer(8))
        #expect(ours["fan_in_fan_out"] == .bool(true))
        #expect(ours["lora_dropout"]?.doubleValue == 0)
        #expect(ours["bias"] == .string("none"))
        #expect(ours["use_rslora"] == .bool(false) && ours["use_dora"] == .bool(false))
        #expect(ours["target_modules"] == .array([.string("c_attn"), .string("c_proj")]))
        #expect(ours["base_model_name_or_path"] == .string(TrainingFixtures.path("gpt2")))
    }

    @Test func loraAlphaIsWrittenAsGiven() throws {
        let (_, directory) = try finetune { $0.options.method = .lora; $0.options.loraAlpha = 16; $0.options.rank = 4 }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ours = try JSON.parse(String(contentsOfFile: directory + "/adapter_config.json", encoding: .utf8))
        #expect(ours["r"] == .integer(4) && ours["lora_alpha"] == .integer(16))
    }

    @Test func readingTheAdapterBackGivesTheTrainedModel() throws {
        let (job, directory) = try finetune()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard case let .language(loaded) = job.model, let trained = loaded as? GPT2Model else { Issue.record("not GPT-2"); return }
        let tokens = (0..<16).map { Int32($0 * 7) }
        try trained.forward(tokens: tokens, batch: 1, sequence: 16)
        let expected = Array(trained.logits)
        guard case let .language(loaded) = try LoadedModel.load(base: TrainingFixtures.path("gpt2"), adapter: directory), let reloaded = loaded as? GPT2Model else { return }
        #expect(reloaded.lowRankAdapters.count == 6)
        try reloaded.forward(tokens: tokens, batch: 1, sequence: 16)
        #expect(Array(reloaded.logits) == expected)
        // The adapter did move the model.
        guard case let .language(loaded) = try LoadedModel.load(base: TrainingFixtures.path("gpt2")), let base = loaded as? GPT2Model else { return }
        try base.forward(tokens: tokens, batch: 1, sequence: 16)
        #expect(Array(base.logits) != expected)
    }

    @Test func adamwWritesAFullCheckpointLoftCanLoad() throws {
        let (job, directory) = try finetune { $0.options.method = .adamw; $0.options.targets = ["all"] }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(!FileManager.default.fileExists(atPath: directory + "/adapter_model.safetensors"))
        guard case let .language(language) = job.model, let trained = language as? GPT2Model else { return }
        let reloaded = try GPT2Model.load(path: directory)
        #expect(reloaded.config == trained.config)
        for (a, b) in zip(trained.parameters, reloaded.parameters) { #expect(a.value.array == b.value.array, "\(a.name)") }
        // The tokenizer travels with it, so text data works on the new directory.
        #expect(FileManager.default.fileExists(atPath: directory + "/vocab.json"))
    }
}
