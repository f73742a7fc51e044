// The full checkpoint `--optimizer adamw` writes instead of an adapter, loadable by loft and
// by transformers: DIR/model.safetensors (float32, metadata {"format": "pt"}) and
// DIR/config.json. GPT-2: every parameter under its GPT2LMHeadModel name (`transformer.`
// prefix; `lm_head.weight` only when untied, as transformers saves a tied head) and
// GPT2Config.json. LLaMA: its checkpoint names and LlamaConfig.json. MLP: `layers.N.weight`
// / `.bias` and {"activation": ...}.

import Foundation
import Models
import TensorIO

public enum FullCheckpoint {
    /// GPT-2, LLaMA (any causal language model): the parameters under their checkpoint names
    /// and the model's own config.json.
    public static func write(_ model: CausalLanguageModel, directory: String) throws {
        try write(model.parameters, config: JSON.serialize(model.configJSON, style: .indentedSortedKeys), directory: directory)
    }

    public static func write(_ model: MLPModel, directory: String) throws {
        let config = JSONValue.object([JSONMember("activation", .string(model.activation.rawValue))])
        try write(model.parameters, config: JSON.serialize(config, style: .indentedSortedKeys), directory: directory)
    }

    private static func write(_ parameters: [Parameter], config: String, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tensors = parameters.map { tensorData($0.name, $0.value, shape: $0.shape) }
        try SafetensorsWriter.write(to: (directory as NSString).appendingPathComponent("model.safetensors"),
                                    tensors: tensors, metadata: [(key: "format", value: "pt")])
        try TrainingLog.write(config + "\n", to: (directory as NSString).appendingPathComponent("config.json"))
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
