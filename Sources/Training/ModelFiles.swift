// A base model for the three commands, found through one ModelSource (files, directories,
// indexes; config.json, tokenizer) and the family registry (ModelFamilies), with an optional
// adapter attached. A language model of any family, or an MLP.

import Foundation
import Models
import TensorIO

public enum LoadedModel {
    case language(CausalLanguageModel)
    case mlp(MLPModel)

    public init(_ model: TrainableModel) {
        if let language = model as? CausalLanguageModel {
            self = .language(language)
        } else if let mlp = model as? MLPModel {
            self = .mlp(mlp)
        } else {
            preconditionFailure("a model family must be a CausalLanguageModel or the MLP")
        }
    }

    /// The base model at `path`, with the PEFT adapter in `adapter` attached when given.
    public static func load(base path: String, adapter: String? = nil) throws -> LoadedModel {
        try load(ModelFamilies.open(path), adapter: adapter)
    }

    /// The base model of `source` (its notes say what was guessed), with an adapter.
    public static func load(_ source: ModelSource, adapter: String? = nil) throws -> LoadedModel {
        let loaded = LoadedModel(try ModelFamilies.model(source))
        if source.baseCompute == .bf16 { loaded.trainable.computeFrozenWeights(inBF16: true) }
        if let adapter { try loaded.trainable.attachAdapter(directory: adapter, modelPath: source.path) }
        return loaded
    }

    public var trainable: TrainableModel {
        switch self {
        case let .language(model): return model
        case let .mlp(model): return model
        }
    }

    /// The causal language model; nil for an MLP.
    public var languageModel: CausalLanguageModel? {
        if case let .language(model) = self { return model }
        return nil
    }
}
