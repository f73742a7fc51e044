// `loft eval` / `loft generate` attach adapters by merge's rules (issue 10): every adapter
// variant `loft merge` folds (DoRA, lora_B bias, embedding LoRA, modules_to_save, rsLoRA and
// rank/alpha patterns, on GPT-2's Conv1D and LLaMA) gives the *unmerged* PEFT model's loss
// and logits (fixtures/adapters/logits-*.safetensors, fixtures/generators/adapters.py) to
// 1e-5 (measured: loss 1.05e-7 relative, logits 1.5e-7 absolute at worst), and what merge
// refuses is refused here too, with the same message.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct AdapterAttachmentTests {
    static let adapters = TrainingFixtures.root.appendingPathComponent("fixtures/adapters").path

    /// A model directory (config.json + model.safetensors) of the tiny `arch` base.
    static func baseDirectory(_ arch: String, in scratch: String) throws -> String {
        let directory = scratch + "/\(arch)-base"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: adapters + "/\(arch)-base.safetensors", toPath: directory + "/model.safetensors")
        try FileManager.default.copyItem(atPath: adapters + "/\(arch)-config.json", toPath: directory + "/config.json")
        return directory
    }

    /// A copy of an adapter whose adapter_config.json is edited.
    static func editedAdapter(_ source: String, in scratch: String, edit: (String) -> String) throws -> String {
        let directory = scratch + "/edited-adapter"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source + "/adapter_model.safetensors", toPath: directory + "/adapter_model.safetensors")
        let config = try String(contentsOfFile: source + "/adapter_config.json", encoding: .utf8)
        let edited = edit(config)
        #expect(edited != config, "the edit changed nothing")
        try edited.write(toFile: directory + "/adapter_config.json", atomically: true, encoding: .utf8)
        return directory
    }

    /// The tiny base of `variant` ("gpt2-lora", ...) with PEFT's adapter attached, and the
    /// unmerged PEFT model's tokens, logits and loss.
    static func adapted(_ variant: String, in scratch: String) throws
        -> (model: CausalLanguageModel, tokens: [Int32], logits: [Float], loss: Double) {
        let arch = String(variant.prefix { $0 != "-" })
        let base = try baseDirectory(arch, in: scratch)
        let model = try #require(LoadedModel.load(base: base, adapter: adapters + "/peft-\(variant)").languageModel)
        let reference = try SafetensorsReader(path: adapters + "/logits-\(variant).safetensors")
        let tokens = try reference.data(for: "tokens").withElements(as: Int64.self) { $0.map { Int32($0) } }
        let logits = try reference.data(for: "logits").withElements(as: Float.self) { Array($0) }
        let loss = try reference.data(for: "loss").withElements(as: Float.self) { Double($0[0]) }
        return (model, tokens, logits, loss)
    }

    @Test(arguments: [
        "gpt2-lora", "gpt2-lora-bias", "gpt2-embedding",
        "llama-lora", "llama-rslora-patterns", "llama-dora", "llama-modules-to-save", "llama-embedding", "llama-second",
    ])
    func attachedAdapterGivesPEFTsLossAndLogits(_ variant: String) throws {
        let scratch = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (model, tokens, peftLogits, peftLoss) = try Self.adapted(variant, in: scratch)
        let targets = Array(tokens.dropFirst()) + [-100]
        let loss = try #require(try model.forward(tokens: tokens, targets: targets, batch: 1, sequence: tokens.count))
        #expect(abs(Double(loss) - peftLoss) <= 1e-5 * peftLoss, "loft \(loss), PEFT \(peftLoss)")
        let logits = Array(model.logits)
        #expect(logits.count == peftLogits.count)
        var mismatches = 0
        for (got, want) in zip(logits, peftLogits) where abs(got - want) > 1e-5 + 1e-5 * abs(want) { mismatches += 1 }
        #expect(mismatches == 0, "\(mismatches) of \(logits.count) logits differ from PEFT's")
    }

    /// `loft generate` (GPT-2's cached path, LLaMA's full forward): greedy decoding picks the
    /// token PEFT's logits rank first after the prompt.
    @Test(arguments: ["gpt2-lora", "gpt2-lora-bias", "gpt2-embedding", "llama-dora", "llama-modules-to-save", "llama-embedding"])
    func generateContinuesAsPEFTWould(_ variant: String) throws {
        let scratch = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (model, tokens, peftLogits, _) = try Self.adapted(variant, in: scratch)
        let vocabulary = model.vocabularySize
        let last = Array(peftLogits[(tokens.count - 1) * vocabulary ..< tokens.count * vocabulary])
        let best = last.indices.max { last[$0] < last[$1] }!
        let next = try Generation.generate(model, prompt: tokens, options: SamplingOptions(maxTokens: 1, temperature: 0))
        #expect(next == [Int32(best)])
    }

    @Test func plainLoRABecomesTheModelsBranchAndTheRestIsFolded() throws {
        let scratch = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let base = try Self.baseDirectory("llama", in: scratch)
        let plain = try LoadedModel.load(base: base, adapter: Self.adapters + "/peft-llama-lora").trainable
        #expect(plain.lowRankAdapters.count == 14)  // trainable further, as loft's own adapters are
        let dora = try LoadedModel.load(base: base, adapter: Self.adapters + "/peft-llama-dora").trainable
        #expect(dora.lowRankAdapters.isEmpty)  // q, v, down with magnitudes: folded
        let gpt2 = try LoadedModel.load(base: Self.baseDirectory("gpt2", in: scratch), adapter: Self.adapters + "/peft-gpt2-embedding")
        guard case let .language(model) = gpt2, let untied = model as? GPT2Model else { Issue.record("not GPT-2"); return }
        #expect(untied.untiedHead != nil)  // the head keeps the base embedding, as in PEFT
    }

    // Issue 10, defect 4: eval accepted a PiSSA adapter merge refuses (and gave a loss unlike PEFT's).
    @Test(arguments: [
        (#""init_lora_weights": true"#, #""init_lora_weights": "pissa""#, #"init_lora_weights = "pissa""#),
        (#""init_lora_weights": true"#, #""init_lora_weights": "olora""#, #"init_lora_weights = "olora""#),
        (#""init_lora_weights": true"#, #""init_lora_weights": "corda""#, #"init_lora_weights = "corda""#),
        (#""alora_invocation_tokens": null"#, #""alora_invocation_tokens": [5, 9]"#, "alora_invocation_tokens = [5,9]"),
        (#""layer_replication": null"#, #""layer_replication": [[0, 2], [1, 2]]"#, "layer_replication"),
        (#""peft_type": "LORA""#, #""peft_type": "IA3""#, #"peft_type "IA3" is not a LoRA adapter"#),
    ])
    func whatMergeRefusesEvalRefuses(original: String, replacement: String, message: String) throws {
        let scratch = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let adapter = try Self.editedAdapter(LlamaFixtures.gqa + "/adapter", in: scratch) { $0.replacingOccurrences(of: original, with: replacement) }
        do {
            _ = try LoadedModel.load(base: LlamaFixtures.gqa, adapter: adapter)
            Issue.record("an adapter with \(replacement) was accepted")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains(adapter), "the message names no file: \(error)")
        }
    }

    // Issue 10, defect 5: no lora_alpha means PEFT's default 8 (eval refused the file).
    @Test func aConfigWithoutLoraAlphaUsesPEFTsDefault() throws {
        let scratch = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // The fixture has r 4 and lora_alpha 8, PEFT's default: without the key, PEFT's loss stays.
        let adapter = try Self.editedAdapter(LlamaFixtures.gqa + "/adapter", in: scratch) { $0.replacingOccurrences(of: #""lora_alpha": 8,"#, with: "") }
        let expected = try JSON.parse(String(contentsOfFile: TrainingFixtures.root.appendingPathComponent("fixtures/llamatrain/eval.json").path, encoding: .utf8))
        let reference = try #require(expected["adapter"]?["loss"]?.doubleValue)
        let tokensPath = TrainingFixtures.root.appendingPathComponent("fixtures/llamatrain/tokens.npy").path
        let tokens = try TokenFile.checked(TokenFile.read(path: tokensPath), path: tokensPath, vocabularySize: 96)
        let model = try #require(LoadedModel.load(base: LlamaFixtures.gqa, adapter: adapter).languageModel)
        let result = try Evaluation.languageModel(model, tokens: tokens, batch: 4, sequence: 16)
        #expect(abs(result.loss - reference) <= 1e-6 * reference, "loft \(result.loss), PEFT \(reference)")
    }

    // Issue 10, defect 6: a config r that disagrees with the tensors (eval accepted it).
    @Test func aConfigRankThatDisagreesWithTheTensorsIsRefused() throws {
        let scratch = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let adapter = try Self.editedAdapter(LlamaFixtures.gqa + "/adapter", in: scratch) { $0.replacingOccurrences(of: #""r": 4,"#, with: #""r": 8,"#) }
        do {
            _ = try LoadedModel.load(base: LlamaFixtures.gqa, adapter: adapter)
            Issue.record("an adapter whose r disagrees with its tensors was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.contains("module model.layers."), "\(message)")
            #expect(message.contains("has shape [4, ") && message.contains("r = 8"), "\(message)")
        }
    }
}
