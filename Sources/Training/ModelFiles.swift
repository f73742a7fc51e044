// Which model family a path holds, and loading a base model with an optional adapter, for
// the three commands. GPT-2 and LLaMA: ModelLoader (config.json's model_type, else GPT-2's
// `wte.weight`); MLP: only `layers.N.weight` / `.bias`.

import Foundation
import Models
import TensorIO

public enum ModelFamily: String, Sendable {
    case gpt2, llama, mlp

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
        if names.contains("model.embed_tokens.weight") {
            switch try ModelLoader.family(path: path) {
            case .gpt2: return .gpt2
            case .llama: return .llama
            }
        }
        throw TrainingError.unrecognizedModel(path: path)
    }
}

public enum LoadedModel {
    case gpt2(GPT2Model)
    case llama(LlamaModel)
    case mlp(MLPModel)

    /// The base model at `path`, with the PEFT adapter in `adapter` attached when given.
    public static func load(base path: String, adapter: String? = nil) throws -> LoadedModel {
        let loaded: LoadedModel
        switch try ModelFamily.detect(path: path) {
        case .gpt2: loaded = .gpt2(try GPT2Model.load(path: path))
        case .llama: loaded = .llama(try LlamaModel.load(path: path))
        case .mlp: loaded = .mlp(try MLPModel.load(path: path))
        }
        if let adapter { try PEFTAdapterFile.apply(directory: adapter, to: loaded.trainable) }
        return loaded
    }

    public var trainable: TrainableModel {
        switch self {
        case let .gpt2(model): return model
        case let .llama(model): return model
        case let .mlp(model): return model
        }
    }

    /// The causal language model (GPT-2 or LLaMA); nil for an MLP.
    public var languageModel: CausalLanguageModel? {
        switch self {
        case let .gpt2(model): return model
        case let .llama(model): return model
        case .mlp: return nil
        }
    }
}
