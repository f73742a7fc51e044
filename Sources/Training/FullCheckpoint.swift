// The full checkpoint `--optimizer adamw` writes instead of an adapter, loadable by loft and
// by transformers: DIR/model.safetensors (float32, metadata {"format": "pt"}) and
// DIR/config.json. GPT-2: every parameter under its GPT2LMHeadModel name (`transformer.`
// prefix; `lm_head.weight` only when untied, as transformers saves a tied head) and
// GPT2Config.json. LLaMA: its checkpoint names and LlamaConfig.json. MLP: `layers.N.weight`
// / `.bias` and {"activation": ...}.

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
        try OutputTarget.makeDirectories(directory)
        let tensors = parameters.map { tensorData($0.name, $0.value, shape: $0.shape) }
        try SafetensorsWriter.write(to: SystemPath.join(directory, "model.safetensors"),
                                    tensors: tensors, metadata: [(key: "format", value: "pt")])
        try AtomicOutputFile.write(config + "\n", to: SystemPath.join(directory, "config.json"))
    }

    /// Copies the tokenizer files of a model directory (or of a model file's directory) next
    /// to a new checkpoint, replacing earlier copies (they are the run's own files).
    public static func copyTokenizerFiles(from source: String, to directory: String) throws {
        let sourceDirectory = PathStatus.isDirectory(source) ? source : SystemPath.parent(source)
        for name in ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            let from = SystemPath.join(sourceDirectory, name)
            guard PathStatus.isRegularFile(from) else { continue }
            try AtomicOutputFile.copy(from: from, to: SystemPath.join(directory, name))
        }
    }
}
