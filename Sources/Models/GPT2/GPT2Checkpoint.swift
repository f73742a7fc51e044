// Opening a GPT-2 checkpoint from what a user has on disk:
//   - a Hugging Face model directory: config.json + model.safetensors, or shards with
//     model.safetensors.index.json (tokenizer files beside them are not read here);
//   - an index .json of a sharded checkpoint;
//   - a single .safetensors file: config.json beside it when there is one, otherwise the
//     config is inferred from the shapes (GPT2Config.inferred: 64-wide heads).

import Foundation
import TensorIO

extension GPT2Model {
    public static func load(path: String) throws -> GPT2Model {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError.cannotOpen(path: path, reason: "no such file or directory")
        }
        let reader: TensorReader
        let directory: String
        if isDirectory.boolValue {
            reader = try ShardedSafetensorsReader(path: path)
            directory = path
        } else if path.hasSuffix(".json") {
            reader = try ShardedSafetensorsReader(path: path)
            directory = (path as NSString).deletingLastPathComponent
        } else {
            reader = try SafetensorsReader(path: path)
            directory = (path as NSString).deletingLastPathComponent
        }
        let configPath = ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent("config.json")
        let config = FileManager.default.fileExists(atPath: configPath)
            ? try GPT2Config(contentsOf: configPath)
            : try GPT2Config.inferred(from: reader.tensors, path: reader.path)
        return try GPT2Model(config: config, reader: reader)
    }
}

extension MLPModel {
    /// A safetensors file of `layers.N.weight` / `layers.N.bias`, with the activation from a
    /// config.json beside it (relu without one). A directory means its model.safetensors.
    public static func load(path: String) throws -> MLPModel {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (path as NSString).appendingPathComponent("model.safetensors") : path
        let reader = try SafetensorsReader(path: file)
        let directory = (file as NSString).deletingLastPathComponent
        let configPath = ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent("config.json")
        let activation = FileManager.default.fileExists(atPath: configPath) ? try MLPModel.activation(configPath: configPath) : .relu
        return try MLPModel(reader: reader, activation: activation)
    }
}
