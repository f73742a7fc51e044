// LlamaModel as a CausalLanguageModel, and its config written back as transformers reads it.

import TensorIO

extension LlamaModel: CausalLanguageModel, ConfiguredLanguageModel {
    public var modelType: String { config.layout.modelType }
    public var architecture: String { config.layout.architecture }
    public var fanInFanOut: Bool { false }
    /// Every projection of the family (the LoFT paper adapts all).
    public var defaultTargets: [String] { config.layout.projectionNames }
    public var configJSON: JSONValue { config.json }
    /// As transformers' tokenizer(prompt): with the special tokens the tokenizer's template
    /// adds (LLaMA-3's BOS; SmolLM's template adds none).
    public var promptAddsSpecialTokens: Bool { true }
    /// Keys and values of the tokens so far (LlamaCache.swift): one row per new token.
    public func makeKeyValueCache() -> KeyValueCache? { makeKVCache() }

    public var summary: String {
        let c = config
        let tied = c.tiedEmbeddings ? ", tied head" : ""
        let windows = Set(c.windows.compactMap { $0 }).sorted()
        let sliding = windows.isEmpty ? "" : ", sliding window \(windows.map(String.init).joined(separator: "/"))"
            + " on \(c.windows.count { $0 != nil }) of \(c.layers) layers"
        return "\(c.layout.displayName): \(c.layers) layers, hidden \(c.hidden), \(c.heads) heads (\(c.keyValueHeads) key/value), "
            + "MLP \(c.intermediate), vocab \(c.vocabularySize), \(c.positions) positions\(tied)\(sliding), \(c.parameterCount) parameters"
    }
}

extension LlamaConfig {
    /// config.json in the spelling both transformers 4 and 5 read (top-level rope_theta,
    /// rope_scaling dict or null; for Gemma 3 the global layers' rope, as its released
    /// configs spell it, transformers 5 moving it to rope_parameters["full_attention"]).
    public var json: JSONValue {
        let scaling = LlamaConfig.scalingJSON(rope)
        return .object([
            JSONMember("architectures", .array([.string(layout.architecture)])),
            JSONMember("attention_bias", .bool(attentionBias)),
            JSONMember("head_dim", .integer(Int64(headDimension))),
            JSONMember(layout.sandwichNorms ? "hidden_activation" : "hidden_act", .string(activation.rawValue)),
            JSONMember("hidden_size", .integer(Int64(hidden))),
            JSONMember("intermediate_size", .integer(Int64(intermediate))),
            JSONMember("max_position_embeddings", .integer(Int64(positions))),
            JSONMember("mlp_bias", .bool(mlpBias)),
            JSONMember("model_type", .string(layout.modelType)),
            JSONMember("num_attention_heads", .integer(Int64(heads))),
            JSONMember("num_hidden_layers", .integer(Int64(layers))),
            JSONMember("num_key_value_heads", .integer(Int64(keyValueHeads))),
            JSONMember("pad_token_id", padTokenId.map { .integer(Int64($0)) } ?? .null),
            JSONMember("rms_norm_eps", .double(Double("\(rmsNormEpsilon)") ?? Double(rmsNormEpsilon))),  // 1e-05, not 9.99999974e-06
            JSONMember("rope_scaling", scaling),
            JSONMember("rope_theta", .double(rope.theta)),
            JSONMember("tie_word_embeddings", .bool(tiedEmbeddings)),
            JSONMember("torch_dtype", .string("float32")),
            JSONMember("vocab_size", .integer(Int64(vocabularySize))),
        ] + slidingWindowMembers)
    }

    /// transformers' rope_scaling dict for a rope (null for default rope).
    static func scalingJSON(_ rope: RopeScaling) -> JSONValue {
        switch rope {
        case .default:
            return .null
        case let .linear(_, factor):
            return .object([JSONMember("factor", .double(factor)), JSONMember("rope_type", .string("linear"))])
        case let .llama3(_, factor, low, high, original):
            return .object([
                JSONMember("factor", .double(factor)), JSONMember("high_freq_factor", .double(high)),
                JSONMember("low_freq_factor", .double(low)),
                JSONMember("original_max_position_embeddings", .integer(Int64(original))),
                JSONMember("rope_type", .string("llama3")),
            ])
        }
    }

    /// The sliding-window keys of the layout's family (none for LLaMA).
    private var slidingWindowMembers: [JSONMember] {
        let window = windows.compactMap { $0 }.first
        let windowValue: JSONValue = window.map { .integer(Int64($0)) } ?? .null
        switch layout.slidingWindows {
        case .none: return []
        case .layerTypes: return layerTypeMembers
        case .everyLayer: return [JSONMember("sliding_window", windowValue)]
        case .perLayer:
            let types = windows.map { JSONValue.string($0 == nil ? "full_attention" : "sliding_attention") }
            return [JSONMember("layer_types", .array(types)),
                    JSONMember("max_window_layers", .integer(Int64(windows.firstIndex { $0 != nil } ?? layers))),
                    JSONMember("sliding_window", windowValue),
                    JSONMember("use_sliding_window", .bool(window != nil))]
        }
    }
}
