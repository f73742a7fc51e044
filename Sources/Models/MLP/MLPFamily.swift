// The MLP in the family registry: no model_type, every tensor named `layers.N.weight` /
// `layers.N.bias`; the activation from config.json's "activation" (relu without one).

import TensorIO

extension ModelFamily {
    public static let mlp = ModelFamily(
        name: "mlp", modelTypes: [], architectures: [],
        recognizes: { !$0.isEmpty && $0.allSatisfy { $0.hasPrefix("layers.") } },
        load: { try MLPModel.load($0) },
        initialize: nil)
}

extension MLPModel {
    public static func load(_ source: ModelSource) throws -> MLPModel {
        let activation = try source.config.map { try MLPModel.activation(json: $0, path: source.configPath!) } ?? .relu
        return try MLPModel(reader: source.reader, activation: activation)
    }

    public static func load(path: String) throws -> MLPModel { try load(ModelSource.open(path)) }
}
