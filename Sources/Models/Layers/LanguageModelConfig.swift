// What every family's config says that the commands read through its model: a family whose
// model holds its config as `config` gets vocabularySize, maxPositions, parameterCount and
// hiddenSize from it, and declares only what differs (names, targets, config.json).

public protocol LanguageModelConfig: Sendable {
    var vocabularySize: Int { get }
    /// The longest sequence the model accepts (max_position_embeddings, n_positions).
    var positions: Int { get }
    /// Parameter count, a tied head counted once.
    var parameterCount: Int { get }
    /// The residual stream's width (hidden_size, n_embd).
    var hiddenSize: Int { get }
}

public protocol ConfiguredLanguageModel {
    associatedtype Config: LanguageModelConfig
    var config: Config { get }
}

extension CausalLanguageModel where Self: ConfiguredLanguageModel {
    public var vocabularySize: Int { config.vocabularySize }
    public var maxPositions: Int { config.positions }
    public var parameterCount: Int { config.parameterCount }
}

extension DecoderLanguageModel where Self: ConfiguredLanguageModel {
    public var hiddenSize: Int { config.hiddenSize }
}
