// What `loft finetune`, `eval` and `generate` need from a causal language model, whichever
// family it is (GPT-2, LLaMA), and picking the family of a checkpoint on disk.
//
// Everything else a training loop touches comes from TrainableModel: `parameters` (dense,
// by checkpoint name; `setTrainable(targets:)` for full fine-tuning), `projections` /
// `adaptableModules` (module paths with in/out features), `addLowRankAdapters`,
// `setLowRankAdapter`, `lowRankAdapters` (factors and their gradients), `zeroGradients`,
// `register(with: optimizer)` and `gradients` (the LoFT optimizer's view of the same matrices).

import Foundation
import TensorIO

public protocol CausalLanguageModel: TrainableModel {
    /// Hugging Face's `model_type`: "gpt2", "llama".
    var modelType: String { get }
    /// The transformers class a checkpoint of this model loads into ("GPT2LMHeadModel",
    /// "LlamaForCausalLM"): config.json `architectures` and PEFT's `auto_mapping`.
    var architecture: String { get }
    /// One line for logs: family, depth, width, heads, vocabulary, parameter count.
    var summary: String { get }
    var vocabularySize: Int { get }
    /// The longest sequence forward accepts.
    var maxPositions: Int { get }
    /// Parameter count, a tied head counted once.
    var parameterCount: Int { get }
    /// PEFT's `fan_in_fan_out` for this family's projections (GPT-2's Conv1D: true).
    var fanInFanOut: Bool { get }
    /// A config.json transformers reads back into this architecture.
    var configJSON: JSONValue { get }
    /// Whether a prompt is encoded with the tokenizer's special tokens, as transformers'
    /// `tokenizer(prompt)` does for this family (LLaMA-3's BOS); GPT-2's template adds none.
    var promptAddsSpecialTokens: Bool { get }
    /// A cache for generating one token at a time without rerunning the context; nil when
    /// the family has none (generation then runs the full forward each step).
    func makeKeyValueCache() -> KeyValueCache?

    /// Runs the model on `tokens` ([batch, sequence]); with `targets` (the next token of each
    /// position, -100 for none) returns the mean cross-entropy and prepares `backward()`.
    @discardableResult
    func forward(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> Float?
    /// Adds the gradients of the last forward's loss to every trainable parameter and factor.
    func backward()
    /// forward + backward in one call without holding the [batch · sequence, vocab] logits
    /// (the head runs over blocks of `headRows` rows): what a training step should use.
    @discardableResult
    func forwardBackward(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int) throws -> Float
    /// Forward only, for evaluation: the summed cross-entropy over targets != -100 and their
    /// number, the head run over blocks of `headRows` rows (memory does not grow with vocab).
    func loss(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int) throws -> (sum: Double, count: Int)
    /// Logits [batch · sequence, vocab] of the last forward (consumed by backward).
    var logits: UnsafeBufferPointer<Float> { get }
    /// Frees the activation buffers until the next forward.
    func releaseActivations()
}

public enum CausalLanguageModelFamily: String, Sendable, CaseIterable {
    case gpt2, llama
}

public enum ModelLoader {
    /// The family of the checkpoint at `path` (directory, index .json or .safetensors): from
    /// config.json's `model_type` / `architectures`, else from tensor names (GPT-2 only: a
    /// LLaMA checkpoint needs its config.json).
    public static func family(path: String) throws -> CausalLanguageModelFamily {
        let (reader, directory) = try openCheckpoint(path: path)
        let configPath = ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: configPath) {
            let file = try MappedFile(path: configPath)
            let json = try withExtendedLifetime(file) { try JSON.parse(file.bytes) }
            let type = json["model_type"]?.stringValue
            let architectures = json["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if type == "gpt2" || architectures.contains("GPT2LMHeadModel") { return .gpt2 }
            if type == "llama" || architectures.contains("LlamaForCausalLM") { return .llama }
            let described = type.map { "model_type '\($0)'" } ?? "architectures \(architectures)"
            throw ModelError.invalidConfig(path: configPath, reason: "\(described) is not supported (gpt2 and llama are)")
        }
        let names = Set(reader.tensors.map(\.name))
        if names.contains("wte.weight") || names.contains("transformer.wte.weight") { return .gpt2 }
        if names.contains("model.embed_tokens.weight") {
            throw ModelError.invalidConfig(path: configPath, reason: "a LLaMA checkpoint needs its config.json (rope_theta, rms_norm_eps, heads are in no tensor)")
        }
        throw ModelError.cannotInferConfig(path: reader.path, reason: "neither GPT-2 (wte.weight) nor LLaMA (model.embed_tokens.weight) tensors, and no config.json")
    }

    /// The model at `path`, every weight frozen and upcast to float32.
    public static func load(path: String) throws -> CausalLanguageModel {
        switch try family(path: path) {
        case .gpt2: return try GPT2Model.load(path: path)
        case .llama: return try LlamaModel.load(path: path)
        }
    }
}
