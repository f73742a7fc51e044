// The LLaMA-layout families in the registry: LLaMA by model_type "llama" or a
// `model.embed_tokens.weight` tensor; Mistral, Qwen2, Qwen3 and Phi-3 (Families/) by their
// model_type only, since their tensor names are LLaMA's too. Unlike GPT-2 the config cannot be
// inferred from shapes (rope_theta, rms_norm_eps and the head count are in no tensor), so
// config.json is required.

import TensorIO

extension ModelFamily {
    public static let llama = ModelFamily.llamaLayout(.llama, recognizes: { $0.contains("model.embed_tokens.weight") })

    /// The registry entry of a LLaMA-layout family: LlamaModel configured by `layout`.
    static func llamaLayout(_ layout: LlamaLayout, recognizes: @escaping @Sendable (Set<String>) -> Bool = { _ in false }) -> ModelFamily {
        ModelFamily(
            name: layout.modelType, modelTypes: [layout.modelType], architectures: [layout.architecture],
            recognizes: recognizes,
            load: { try LlamaModel.load($0) },
            initialize: { json, path, seed in try LlamaModel(randomlyInitialized: LlamaConfig(json: json, path: path), seed: seed) })
    }
}

extension LlamaModel {
    public static func load(_ source: ModelSource) throws -> LlamaModel {
        guard let json = source.config, let path = source.configPath else {
            throw ModelError.invalidConfig(path: source.expectedConfigPath,
                                           reason: "a LLaMA-layout checkpoint needs its config.json (rope_theta, rms_norm_eps, heads are in no tensor)")
        }
        return try LlamaModel(config: try LlamaConfig(json: json, path: path), reader: source.reader, baseDType: source.baseDType)
    }

    public static func load(path: String) throws -> LlamaModel { try load(ModelSource.open(path)) }
}
