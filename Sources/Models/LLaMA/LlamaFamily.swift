// LLaMA in the family registry: model_type "llama" or a `model.embed_tokens.weight` tensor.
// Unlike GPT-2 the config cannot be inferred from shapes (rope_theta, rms_norm_eps and the
// head count are in no tensor), so config.json is required.

import TensorIO

extension ModelFamily {
    public static let llama = ModelFamily(
        name: "llama", modelTypes: ["llama"], architectures: ["LlamaForCausalLM"],
        recognizes: { $0.contains("model.embed_tokens.weight") },
        load: { try LlamaModel.load($0) },
        initialize: { json, path, seed in try LlamaModel(randomlyInitialized: LlamaConfig(json: json, path: path), seed: seed) })
}

extension LlamaModel {
    public static func load(_ source: ModelSource) throws -> LlamaModel {
        guard let json = source.config, let path = source.configPath else {
            throw ModelError.invalidConfig(path: source.expectedConfigPath,
                                           reason: "a LLaMA checkpoint needs its config.json (rope_theta, rms_norm_eps, heads are in no tensor)")
        }
        return try LlamaModel(config: try LlamaConfig(json: json, path: path), reader: source.reader)
    }

    public static func load(path: String) throws -> LlamaModel { try load(ModelSource.open(path)) }
}
