// Which model family a path holds, and loading a base model with an optional adapter, for
// the three commands. GPT-2: tensors named `wte.weight` (with or without `transformer.`);
// MLP: only `layers.N.weight` / `.bias`.

import Foundation
import Models
import TensorIO

public enum ModelFamily: String, Sendable {
    case gpt2, mlp

    public static func detect(path: String) throws -> ModelFamily {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError.cannotOpen(path: path, reason: "no such file or directory")
        }
        let reader: TensorReader
        if isDirectory.boolValue {
            let single = (path as NSString).appendingPathComponent("model.safetensors")
            reader = manager.fileExists(atPath: single) ? try SafetensorsReader(path: single) : try ShardedSafetensorsReader(path: path)
        } else if path.hasSuffix(".json") {
            reader = try ShardedSafetensorsReader(path: path)
        } else {
            reader = try SafetensorsReader(path: path)
        }
        let names = reader.tensors.map(\.name)
        if names.contains(where: { $0 == "wte.weight" || $0 == "transformer.wte.weight" }) { return .gpt2 }
        if !names.isEmpty, names.allSatisfy({ $0.hasPrefix("layers.") }) { return .mlp }
        throw TrainingError.invalidOption("\(path): neither a GPT-2 checkpoint (no wte.weight) nor an MLP (tensors named layers.N.weight)")
    }
}

public enum LoadedModel {
    case gpt2(GPT2Model)
    case mlp(MLPModel)

    /// The base model at `path`, with the PEFT adapter in `adapter` attached when given.
    public static func load(base path: String, adapter: String? = nil) throws -> LoadedModel {
        let loaded: LoadedModel
        switch try ModelFamily.detect(path: path) {
        case .gpt2: loaded = .gpt2(try GPT2Model.load(path: path))
        case .mlp: loaded = .mlp(try MLPModel.load(path: path))
        }
        if let adapter { try PEFTAdapterFile.apply(directory: adapter, to: loaded.trainable) }
        return loaded
    }

    public var trainable: TrainableModel {
        switch self {
        case let .gpt2(model): return model
        case let .mlp(model): return model
        }
    }
}
