// Opening a LLaMA-family checkpoint from what a user has on disk: a Hugging Face model
// directory (config.json + model.safetensors, or shards with model.safetensors.index.json),
// an index .json, or one .safetensors file with config.json beside it. Unlike GPT-2 the
// config cannot be inferred from shapes (rope_theta, rms_norm_eps and the head count are in
// no tensor), so config.json is required.

import Foundation
import TensorIO

extension LlamaModel {
    public static func load(path: String) throws -> LlamaModel {
        let (reader, directory) = try openCheckpoint(path: path)
        let configPath = ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw ModelError.invalidConfig(path: configPath, reason: "a LLaMA checkpoint needs its config.json (rope_theta, rms_norm_eps, heads are in no tensor)")
        }
        return try LlamaModel(config: try LlamaConfig(contentsOf: configPath), reader: reader)
    }
}

/// The tensor reader for a model path (directory, index .json or .safetensors file) and the
/// directory where its config.json would be.
func openCheckpoint(path: String) throws -> (reader: TensorReader, directory: String) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw FileError.cannotOpen(path: path, reason: "no such file or directory")
    }
    if isDirectory.boolValue { return (try ShardedSafetensorsReader(path: path), path) }
    let directory = (path as NSString).deletingLastPathComponent
    if path.hasSuffix(".json") { return (try ShardedSafetensorsReader(path: path), directory) }
    return (try SafetensorsReader(path: path), directory)
}
