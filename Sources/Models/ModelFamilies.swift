// Which family a model is, and loading it: one registry entry per family, each defined in
// its own small file (GPT2/GPT2Family.swift, LLaMA/LlamaFamily.swift and the LLaMA-layout
// families in LLaMA/Families/, MLP/MLPFamily.swift).
// A new family is one such file and one line in `ModelFamilies.all`.
//
// The lookup, as transformers' AutoConfig does it: config.json's `model_type`, else its
// `architectures`; without config.json (a bare weights file), the tensor names.

import TensorIO

public struct ModelFamily: Sendable {
    /// The family's model_type ("gpt2").
    public let name: String
    /// config.json `model_type` values this family loads.
    public let modelTypes: [String]
    /// config.json `architectures` entries this family loads.
    public let architectures: [String]
    /// Whether the tensor names alone say this family (for a source without config.json).
    public let recognizes: @Sendable (_ names: Set<String>) -> Bool
    /// The model, every weight frozen and upcast to float32. May leave notes on the source.
    public let load: @Sendable (ModelSource) throws -> TrainableModel
    /// A randomly initialised model from a config.json (nil: the family has none).
    public let initialize: (@Sendable (_ config: JSONValue, _ path: String, _ seed: UInt64) throws -> TrainableModel)?

    public init(name: String, modelTypes: [String], architectures: [String],
                recognizes: @escaping @Sendable (Set<String>) -> Bool,
                load: @escaping @Sendable (ModelSource) throws -> TrainableModel,
                initialize: (@Sendable (JSONValue, String, UInt64) throws -> TrainableModel)?) {
        self.name = name
        self.modelTypes = modelTypes
        self.architectures = architectures
        self.recognizes = recognizes
        self.load = load
        self.initialize = initialize
    }
}

public enum ModelFamilies {
    public static let all: [ModelFamily] = [.gpt2, .llama, .mistral, .qwen2, .qwen3, .phi3, .gemma3, .mlp]

    /// The family a config.json names (model_type, else architectures); nil when it names none.
    public static func family(config json: JSONValue, path: String) throws -> ModelFamily? {
        if let type = json["model_type"]?.stringValue {
            guard let family = all.first(where: { $0.modelTypes.contains(type) }) else {
                throw ModelError.invalidConfig(path: path, reason: "model_type '\(type)' is not supported (loft knows \(knownTypes))")
            }
            return family
        }
        let architectures = json["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let family = all.first(where: { !Set($0.architectures).isDisjoint(with: architectures) }) { return family }
        if !architectures.isEmpty {
            throw ModelError.invalidConfig(path: path, reason: "architectures \(architectures) are not supported (loft knows \(knownTypes))")
        }
        return nil
    }

    /// The family of a source: its config.json, else its tensor names. Sets `modelType`.
    public static func family(of source: ModelSource) throws -> ModelFamily {
        let family: ModelFamily
        if let json = source.config, let path = source.configPath, let named = try self.family(config: json, path: path) {
            family = named
        } else {
            let names = Set(source.reader.tensors.map(\.name))
            guard let recognized = all.first(where: { $0.recognizes(names) }) else {
                throw ModelError.cannotInferConfig(path: source.reader.path, reason:
                    "neither GPT-2 (wte.weight), LLaMA (model.embed_tokens.weight) nor MLP (layers.N.weight) tensors, and no config.json with a model_type")
            }
            family = recognized
        }
        source.modelType = source.modelType ?? family.name
        return family
    }

    /// A model as the user names it: a llama.cpp .gguf file (GGUFModelReader: config,
    /// tensors and tokenizer from the one file), else what ModelSource opens.
    public static func open(_ path: String) throws -> ModelSource {
        GGUFModelReader.isGGUF(path) ? try GGUFModelReader.source(path: path) : try ModelSource.open(path)
    }

    /// Any model: a causal language model or an MLP.
    public static func model(_ source: ModelSource) throws -> TrainableModel {
        try family(of: source).load(source)
    }

    /// A causal language model (GPT-2, LLaMA, ...).
    public static func load(_ source: ModelSource) throws -> CausalLanguageModel {
        guard let model = try model(source) as? CausalLanguageModel else {
            throw ModelError.cannotInferConfig(path: source.path, reason: "a \(source.modelType ?? "model") checkpoint, not a language model")
        }
        return model
    }

    /// A randomly initialised model from a config.json: the family it names, GPT-2 when it
    /// names none (loft's own configs before LLaMA had no model_type).
    public static func initialized(config path: String, seed: UInt64) throws -> TrainableModel {
        let json = try JSONFile.read(path)
        let family = try family(config: json, path: path) ?? .gpt2
        guard let initialize = family.initialize else {
            throw ModelError.invalidConfig(path: path, reason: "a \(family.name) model cannot be started from a config")
        }
        return try initialize(json, path, seed)
    }

    static var knownTypes: String { all.flatMap(\.modelTypes).joined(separator: ", ") }
}
