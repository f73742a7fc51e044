// A model as the user names it: a weights file, a sharded index, or a Hugging Face model
// directory. Opening it finds, once for every command:
//   - the tensors (TensorFile: the format from the bytes, shards through their index);
//   - the model directory, where config.json, the tokenizer and other side files are: the
//     directory given, the index's directory, or the directory holding a weights file when
//     config.json is beside it;
//   - config.json parsed (errors name the file) and its model_type;
//   - MLX's affine quantization undone when config.json says so (MLXQuantizedReader), so
//     every command reads the weights the model computes with;
//   - the tokenizer: a directory with tokenizer.json, or with vocab.json and merges.txt.
// Which model family the tensors are is the Models module's to say (ModelFamilies), which
// may fill in `modelType` from tensor names and leave `notes` for the user.

import Foundation

public final class ModelSource {
    /// The path as the user gave it.
    public let path: String
    /// Where config.json, the tokenizer and side files are; nil for a bare weights file.
    public let directory: String?
    /// Whether the whole directory is this model's (given as a directory or an index), so
    /// its other files (config, tokenizer, generation settings) travel with the weights; a
    /// file's neighbours (config.json beside a download) are read but not claimed.
    public let ownsDirectory: Bool
    /// Every weight tensor (one file, shards, ...).
    public let reader: TensorReader
    /// config.json, parsed, when there is one.
    public let config: JSONValue?
    public let configPath: String?
    /// config.json's model_type, else what the tensor names say (set by the family lookup).
    public var modelType: String?
    /// A directory with tokenizer.json, or vocab.json + merges.txt.
    public var tokenizerPath: String?
    /// What the user should be told (guessed settings): printed by the command on stderr.
    public private(set) var notes: [String] = []
    /// How the model's frozen 2-D weights are held once loaded (`--base-dtype`); float32
    /// unless a command asks otherwise.
    public var baseDType: BaseDType = .f32
    /// How the frozen bfloat16 weights multiply once loaded (`--base-compute`).
    public var baseCompute: BaseCompute = .f32

    public init(path: String, directory: String?, ownsDirectory: Bool, reader: TensorReader, config: JSONValue?, configPath: String?, tokenizerPath: String?) {
        self.path = path
        self.directory = directory
        self.ownsDirectory = ownsDirectory
        self.reader = reader
        self.config = config
        self.configPath = configPath
        self.tokenizerPath = tokenizerPath
        modelType = config?["model_type"]?.stringValue
    }

    public func note(_ text: String) { notes.append(text) }

    /// Every path the model is read from: the weights file, or the index and each shard, and
    /// the directory when it is the model's. An output may not be, hold or lie inside any of
    /// them (OutputTarget's inputs).
    public var inputPaths: [String] {
        TensorConversion.inputFiles(of: reader) + (ownsDirectory ? directory.map { [$0] } ?? [] : [])
    }

    /// Where config.json is, or would be: in the model directory, else beside the file.
    public var expectedConfigPath: String {
        SystemPath.join(directory ?? SystemPath.parent(path), Self.configName)
    }

    public static let configName = "config.json"

    /// `key`: the entry of a PyTorch checkpoint that holds the state dict (`--key`).
    public static func open(_ path: String, key: String? = nil) throws -> ModelSource {
        let files = try TensorFile.open(path, key: key)
        let isDirectory = PathStatus.isDirectory(path)
        let parent = SystemPath.parent(path)
        let directory: String?
        if isDirectory {
            directory = path
        } else if let sharded = files as? ShardedSafetensorsReader {
            directory = sharded.directory
        } else {
            directory = PathStatus.isRegularFile(SystemPath.join(parent, configName)) ? parent : nil
        }
        let configPath = directory.map { SystemPath.join($0, configName) }.flatMap { PathStatus.isRegularFile($0) ? $0 : nil }
        let config = try configPath.map(JSONFile.read)
        let reader = try MLXQuantizedReader.wrap(files, config: config, configPath: configPath)
        let tokenizer = [directory ?? parent].first { folder in
            PathStatus.isRegularFile(SystemPath.join(folder, "tokenizer.json"))
                || (PathStatus.isRegularFile(SystemPath.join(folder, "vocab.json")) && PathStatus.isRegularFile(SystemPath.join(folder, "merges.txt")))
        }
        return ModelSource(path: path, directory: directory, ownsDirectory: isDirectory || files is ShardedSafetensorsReader, reader: reader, config: config, configPath: configPath, tokenizerPath: tokenizer)
    }
}
