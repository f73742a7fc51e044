// The full checkpoint `--optimizer adamw` writes instead of an adapter, loadable by loft and
// by transformers: DIR/model.safetensors (float32, metadata {"format": "pt"}) and
// DIR/config.json. GPT-2: every parameter under its GPT2LMHeadModel name (`transformer.`
// prefix; `lm_head.weight` only when untied, as transformers saves a tied head) and a
// GPT2Config json. MLP: `layers.N.weight` / `.bias` and {"activation": ...}.

import Foundation
import Models
import TensorIO

public enum FullCheckpoint {
    public static func write(_ model: GPT2Model, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tensors = model.parameters.map { tensorData($0.name, $0.value, shape: $0.shape) }
        try SafetensorsWriter.write(to: (directory as NSString).appendingPathComponent("model.safetensors"),
                                    tensors: tensors, metadata: [(key: "format", value: "pt")])
        try TrainingLog.write(JSON.serialize(configJSON(model.config, tied: model.untiedHead == nil), style: .indentedSortedKeys) + "\n",
                              to: (directory as NSString).appendingPathComponent("config.json"))
    }

    /// LLaMA (and any other CausalLanguageModel but GPT-2, whose config keeps the spelling above):
    /// the parameters under their checkpoint names and the model's own config.json.
    public static func write(_ model: CausalLanguageModel, directory: String) throws {
        if let gpt2 = model as? GPT2Model { return try write(gpt2, directory: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tensors = model.parameters.map { tensorData($0.name, $0.value, shape: $0.shape) }
        try SafetensorsWriter.write(to: (directory as NSString).appendingPathComponent("model.safetensors"),
                                    tensors: tensors, metadata: [(key: "format", value: "pt")])
        try TrainingLog.write(JSON.serialize(model.configJSON, style: .indentedSortedKeys) + "\n",
                              to: (directory as NSString).appendingPathComponent("config.json"))
    }

    public static func write(_ model: MLPModel, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tensors = model.parameters.map { tensorData($0.name, $0.value, shape: $0.shape) }
        try SafetensorsWriter.write(to: (directory as NSString).appendingPathComponent("model.safetensors"),
                                    tensors: tensors, metadata: [(key: "format", value: "pt")])
        let config = JSONValue.object([JSONMember("activation", .string(model.activation.rawValue))])
        try TrainingLog.write(JSON.serialize(config, style: .indented) + "\n", to: (directory as NSString).appendingPathComponent("config.json"))
    }

    /// A config.json transformers' GPT2Config reads.
    public static func configJSON(_ c: GPT2Config, tied: Bool = true) -> JSONValue {
        var members: [JSONMember] = [
            JSONMember("activation_function", .string("gelu_new")),
            JSONMember("architectures", .array([.string("GPT2LMHeadModel")])),
            JSONMember("layer_norm_epsilon", .double(Double(c.layerNormEpsilon))),
            JSONMember("model_type", .string("gpt2")),
            JSONMember("n_ctx", .integer(Int64(c.positions))),
            JSONMember("n_embd", .integer(Int64(c.channels))),
            JSONMember("n_head", .integer(Int64(c.heads))),
            JSONMember("n_inner", c.innerChannels == 4 * c.channels ? .null : .integer(Int64(c.innerChannels))),
            JSONMember("n_layer", .integer(Int64(c.layers))),
            JSONMember("n_positions", .integer(Int64(c.positions))),
            JSONMember("tie_word_embeddings", .bool(tied)),
            JSONMember("vocab_size", .integer(Int64(c.vocabularySize))),
        ]
        // transformers' GPT2Config defaults both to 50256 (GPT-2's <|endoftext|>), which a
        // smaller vocabulary does not have: say null there rather than a wrong id.
        let special: JSONValue = c.vocabularySize > 50256 ? .integer(50256) : .null
        members.append(JSONMember("bos_token_id", special))
        members.append(JSONMember("eos_token_id", special))
        return .object(members)
    }

    /// Copies the tokenizer files of a model directory next to a new checkpoint.
    public static func copyTokenizerFiles(from source: String, to directory: String) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let sourceDirectory = manager.fileExists(atPath: source, isDirectory: &isDirectory) && isDirectory.boolValue
            ? source : (source as NSString).deletingLastPathComponent
        for name in ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            let from = ((sourceDirectory.isEmpty ? "." : sourceDirectory) as NSString).appendingPathComponent(name)
            let to = (directory as NSString).appendingPathComponent(name)
            guard manager.fileExists(atPath: from), !manager.fileExists(atPath: to) else { continue }
            try? manager.copyItem(atPath: from, toPath: to)
        }
    }
}
