// GPT-2 in the family registry: model_type "gpt2" or tensors named `wte.weight` (with or
// without the `transformer.` prefix). Without config.json the config is inferred from the
// shapes (GPT2Config.inferred: 64-wide heads), and the source says so in a note.

import TensorIO

extension ModelFamily {
    public static let gpt2 = ModelFamily(
        name: "gpt2", modelTypes: ["gpt2"], architectures: ["GPT2LMHeadModel"],
        recognizes: { $0.contains("wte.weight") || $0.contains("transformer.wte.weight") },
        load: { try GPT2Model.load($0) },
        initialize: { json, path, seed in try GPT2Model(randomlyInitialized: GPT2Config(json: json, path: path), seed: seed) })
}

extension GPT2Model {
    public static func load(_ source: ModelSource) throws -> GPT2Model {
        let config: GPT2Config
        if let json = source.config, let path = source.configPath {
            config = try GPT2Config(json: json, path: path)
        } else {
            config = try GPT2Config.inferred(from: source.reader.tensors, path: source.reader.path)
            source.note("\(source.path): no config.json beside it: GPT-2 settings inferred from the tensor shapes, "
                + "assuming 64-wide heads (\(config.heads) of \(config.channels) channels); put the model's config.json beside it if that is wrong")
        }
        return try GPT2Model(config: config, reader: source.reader, baseDType: source.baseDType)
    }

    public static func load(path: String) throws -> GPT2Model { try load(ModelSource.open(path)) }
}
