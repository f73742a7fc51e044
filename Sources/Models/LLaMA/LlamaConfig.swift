// LLaMA-layout hyper-parameters from a Hugging Face config.json (LlamaConfig's names, and
// the keys Mistral, Qwen2, Qwen3 and Phi-3 add: see LlamaLayout and Families/).
//
// RoPE settings come in three spellings across transformers versions and checkpoints: a
// top-level `rope_theta` with an optional `rope_scaling` dict (Llama 3.x, SmolLM files), or
// transformers 5's `rope_parameters` dict holding `rope_theta` and the scaling keys. The
// scaling type is `rope_type` (or the older `type`); "default", "linear" and "llama3" are supported.
// Gemma 3's own keys (a rope per layer type, query_pre_attn_scalar) are read in Families/Gemma3.swift.

import TensorIO

public struct LlamaConfig: Equatable, LanguageModelConfig {
    public var vocabularySize: Int
    public var positions: Int
    public var hidden: Int
    public var intermediate: Int
    public var layers: Int
    public var heads: Int
    public var keyValueHeads: Int
    public var headDimension: Int
    public var rmsNormEpsilon: Float
    public var tiedEmbeddings: Bool
    public var attentionBias: Bool
    public var mlpBias: Bool
    public var rope: RopeScaling
    /// Which family's switches (fused projections, q/k norms, q/k/v biases) and spelling.
    public var layout: LlamaLayout
    /// Per layer, the sliding attention window (a query sees itself and the window - 1 tokens
    /// before it), nil for full causal attention.
    public var windows: [Int?]
    /// pad_token_id when inside the vocabulary: transformers builds embed_tokens with it as
    /// padding_idx, so that row gets no gradient (and starts at zero).
    public var padTokenId: Int?
    /// The MLP's gate activation (hidden_act, Gemma's hidden_activation).
    public var activation: GatedActivation
    /// Gemma's query_pre_attn_scalar: attention scores are scaled by its -1/2 power instead
    /// of head_dim's (nil: 1/sqrt(head_dim)).
    public var queryPreAttentionScalar: Double?
    /// The rope of the sliding-window layers when it differs from `rope` (Gemma's
    /// rope_local_base_freq); nil: every layer uses `rope`.
    public var localRope: RopeScaling?
    public var hiddenSize: Int { hidden }

    public init(vocabularySize: Int, positions: Int, hidden: Int, intermediate: Int, layers: Int, heads: Int,
                keyValueHeads: Int? = nil, headDimension: Int? = nil, rmsNormEpsilon: Float = 1e-5,
                tiedEmbeddings: Bool = false, attentionBias: Bool = false, mlpBias: Bool = false,
                rope: RopeScaling = .default(theta: 10000), layout: LlamaLayout = .llama, windows: [Int?]? = nil,
                activation: GatedActivation? = nil, queryPreAttentionScalar: Double? = nil, localRope: RopeScaling? = nil) {
        self.vocabularySize = vocabularySize
        self.positions = positions
        self.hidden = hidden
        self.intermediate = intermediate
        self.layers = layers
        self.heads = heads
        self.keyValueHeads = keyValueHeads ?? heads
        self.headDimension = headDimension ?? (heads > 0 ? hidden / heads : 0)
        self.rmsNormEpsilon = rmsNormEpsilon
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionBias = attentionBias
        self.mlpBias = mlpBias
        self.rope = rope
        self.layout = layout
        self.windows = windows ?? Array(repeating: nil, count: max(layers, 0))
        self.activation = activation ?? layout.defaultActivation
        self.queryPreAttentionScalar = queryPreAttentionScalar
        self.localRope = localRope
    }

    /// SmolLM-135M's shape (HuggingFaceTB/SmolLM-135M): 30 layers, 576 wide, 9 heads sharing
    /// 3 key/value heads, SwiGLU 1536, vocab 49152, tied embeddings, rope_theta 10000.
    public static let smolLM135M = LlamaConfig(vocabularySize: 49152, positions: 2048, hidden: 576, intermediate: 1536,
                                               layers: 30, heads: 9, keyValueHeads: 3, tiedEmbeddings: true)

    public init(json: JSONValue, path: String) throws {
        func integer(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let value = json[key]?.intValue { return value }
            if let fallback, json[key] == nil || json[key] == .null { return fallback }
            throw ModelError.invalidConfig(path: path, reason: "'\(key)' must be an integer")
        }
        func flag(_ key: String, _ fallback: Bool) throws -> Bool {
            guard let value = json[key], value != .null else { return fallback }
            guard let bool = value.boolValue else { throw ModelError.invalidConfig(path: path, reason: "'\(key)' must be true or false") }
            return bool
        }
        let layout = try LlamaLayout(json: json, path: path)
        // Gemma's key is hidden_activation (hidden_act, when also present, is ignored there).
        let activationKey = layout.sandwichNorms && json["hidden_activation"] != nil ? "hidden_activation" : "hidden_act"
        var activation = layout.defaultActivation
        if let name = json[activationKey]?.stringValue {
            guard let named = GatedActivation(huggingFaceName: name) else {
                throw ModelError.invalidConfig(path: path, reason: "\(activationKey) '\(name)' is not supported (silu, gelu_pytorch_tanh)")
            }
            activation = named
        }
        if let tp = json["pretraining_tp"]?.intValue, tp != 1 {
            throw ModelError.invalidConfig(path: path, reason: "pretraining_tp \(tp) is not supported (only 1)")
        }
        let heads = try integer("num_attention_heads"), hidden = try integer("hidden_size")
        let positions = try integer("max_position_embeddings", 2048), layers = try integer("num_hidden_layers")
        self.init(vocabularySize: try integer("vocab_size"), positions: positions, hidden: hidden,
                  intermediate: try integer("intermediate_size"), layers: layers, heads: heads,
                  keyValueHeads: try integer("num_key_value_heads", heads),
                  headDimension: try integer("head_dim", layout.defaultHeadDimension ?? (heads > 0 ? hidden / heads : 0)),
                  rmsNormEpsilon: Float(json["rms_norm_eps"]?.doubleValue ?? 1e-6),
                  tiedEmbeddings: try flag("tie_word_embeddings", false),
                  attentionBias: try flag("attention_bias", false), mlpBias: try flag("mlp_bias", false),
                  rope: layout.slidingWindows == .layerTypes ? .default(theta: 0) : try RopeScaling(json: json, positions: positions, path: path),
                  layout: layout, windows: try slidingWindows(json: json, layout: layout, layers: max(layers, 0), path: path),
                  activation: activation)
        if layout.slidingWindows == .layerTypes { try readLayerTypes(json: json, path: path) }
        if let pad = json["pad_token_id"]?.intValue, pad >= 0, pad < vocabularySize { padTokenId = pad }
        try validate(path: path)
    }

    public init(contentsOf path: String) throws {
        try self.init(json: JSONFile.read(path), path: path)
    }

    public func validate(path: String) throws {
        for (name, value) in [("vocab_size", vocabularySize), ("max_position_embeddings", positions), ("hidden_size", hidden),
                              ("intermediate_size", intermediate), ("num_hidden_layers", layers),
                              ("num_attention_heads", heads), ("num_key_value_heads", keyValueHeads),
                              ("head_dim", headDimension)] where value <= 0 {
            throw ModelError.invalidConfig(path: path, reason: "\(name) must be positive, is \(value)")
        }
        guard heads % keyValueHeads == 0 else {
            throw ModelError.invalidConfig(path: path, reason: "num_attention_heads \(heads) is not a multiple of num_key_value_heads \(keyValueHeads)")
        }
        guard windows.count == layers else {
            throw ModelError.invalidConfig(path: path, reason: "\(windows.count) attention windows for \(layers) layers")
        }
        if let window = windows.compactMap({ $0 }).first(where: { $0 <= 0 }) {
            throw ModelError.invalidConfig(path: path, reason: "sliding_window must be positive, is \(window)")
        }
        if let scalar = queryPreAttentionScalar, !(scalar > 0) {
            throw ModelError.invalidConfig(path: path, reason: "query_pre_attn_scalar must be positive, is \(scalar)")
        }
        guard headDimension % 2 == 0 else {
            throw ModelError.invalidConfig(path: path, reason: "head_dim \(headDimension) must be even for rotary embeddings")
        }
    }

    /// Width of q (heads · head_dim) and of k and v (kv heads · head_dim).
    public var queryWidth: Int { heads * headDimension }
    public var keyValueWidth: Int { keyValueHeads * headDimension }

    /// The attention scores' scale: query_pre_attn_scalar^-1/2 (Gemma), else 1/sqrt(head_dim).
    public var attentionScale: Float {
        queryPreAttentionScalar.map { Float(1 / $0.squareRoot()) } ?? 1 / Float(headDimension).squareRoot()
    }

    /// The rope of layer `index`: `localRope` on sliding-window layers when set, else `rope`.
    public func rope(layer index: Int) -> RopeScaling {
        windows[index] != nil ? localRope ?? rope : rope
    }

    /// Whether q_proj, k_proj and v_proj (or qkv_proj) have biases: attention_bias, or always (Qwen2).
    public var queryKeyValueBias: Bool { attentionBias || layout.queryKeyValueBias }
    /// Whether o_proj has a bias (attention_bias).
    public var outputBias: Bool { attentionBias }

    /// Parameter count (a tied head counted once).
    public var parameterCount: Int {
        let attention = hidden * queryWidth * 2 + hidden * keyValueWidth * 2
            + (queryKeyValueBias ? queryWidth + 2 * keyValueWidth : 0) + (outputBias ? hidden : 0)
            + (layout.queryKeyNorm ? 2 * headDimension : 0)
        let mlp = 3 * hidden * intermediate + (mlpBias ? 2 * intermediate + hidden : 0)
        let block = attention + mlp + (layout.sandwichNorms ? 4 : 2) * hidden
        return vocabularySize * hidden * (tiedEmbeddings ? 1 : 2) + layers * block + hidden
    }
}

extension LlamaLayout {
    /// The layout config.json's model_type names (else its architectures; else LLaMA).
    init(json: JSONValue, path: String) throws {
        if let type = json["model_type"]?.stringValue {
            guard let layout = LlamaLayout.all.first(where: { $0.modelType == type }) else {
                throw ModelError.invalidConfig(path: path, reason: "model_type '\(type)' is not a LLaMA-layout family (\(LlamaLayout.all.map(\.modelType).joined(separator: ", ")))")
            }
            self = layout
            return
        }
        let architectures = json["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        self = LlamaLayout.all.first(where: { architectures.contains($0.architecture) }) ?? .llama
    }
}

/// Per layer, the sliding window config.json asks for (nil: full causal attention), as
/// transformers reads it for the layout's family.
private func slidingWindows(json: JSONValue, layout: LlamaLayout, layers: Int, path: String) throws -> [Int?] {
    let none = [Int?](repeating: nil, count: layers)
    let value = json["sliding_window"].flatMap { $0 == .null ? nil : $0 }
    if let value, value.intValue == nil {
        throw ModelError.invalidConfig(path: path, reason: "'sliding_window' must be an integer or null")
    }
    let window = value?.intValue
    switch layout.slidingWindows {
    case .none, .layerTypes:
        return none
    case .everyLayer:
        return Array(repeating: window, count: layers)
    case .perLayer:
        // transformers: sliding_window is dropped unless use_sliding_window; layer_types
        // (written by transformers 5) name the sliding layers, else layers >= max_window_layers.
        guard json["use_sliding_window"]?.boolValue == true, let window else { return none }
        if let types = json["layer_types"]?.arrayValue {
            guard types.count == layers else {
                throw ModelError.invalidConfig(path: path, reason: "layer_types has \(types.count) entries for \(layers) layers")
            }
            return try types.map { type in
                switch type.stringValue {
                case "sliding_attention": return window
                case "full_attention": return nil
                default: throw ModelError.invalidConfig(path: path, reason: "layer type \(type) is not supported (full_attention, sliding_attention)")
                }
            }
        }
        let first = json["max_window_layers"]?.intValue ?? 28
        return (0..<layers).map { $0 >= first ? window : nil }
    }
}

/// How rotary frequencies are derived from rope_theta.
public enum RopeScaling: Equatable, Sendable {
    case `default`(theta: Double)
    /// Positions divided by `factor` (inv_freq / factor): transformers' "linear", Gemma 3's
    /// global layers (factor 8 in 4B, 12B, 27B) and older LLaMA-family long-context fine-tunes.
    case linear(theta: Double, factor: Double)
    /// Llama 3.1's frequency-dependent scaling (transformers' `_compute_llama3_parameters`).
    case llama3(theta: Double, factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalPositions: Int)

    public var theta: Double {
        switch self {
        case let .default(theta), let .linear(theta, _), let .llama3(theta, _, _, _, _): return theta
        }
    }

    init(json: JSONValue, positions: Int, path: String) throws {
        let parameters = json["rope_parameters"].flatMap { $0 == .null ? nil : $0 }
        let scaling = json["rope_scaling"].flatMap { $0 == .null ? nil : $0 } ?? parameters
        let theta = json["rope_theta"]?.doubleValue ?? parameters?["rope_theta"]?.doubleValue ?? 10000
        let type = scaling?["rope_type"]?.stringValue ?? scaling?["type"]?.stringValue ?? "default"
        func number(_ key: String) throws -> Double {
            guard let value = scaling?[key]?.doubleValue, value.isFinite, value > 0 else {
                throw ModelError.invalidConfig(path: path, reason: "\(type) rope scaling needs a positive number '\(key)'")
            }
            return value
        }
        switch type {
        case "default":
            self = .default(theta: theta)
        case "linear":
            self = .linear(theta: theta, factor: try number("factor"))
        case "llama3":
            let original = scaling?["original_max_position_embeddings"]?.intValue
                ?? json["original_max_position_embeddings"]?.intValue ?? positions
            self = .llama3(theta: theta, factor: try number("factor"), lowFrequencyFactor: try number("low_freq_factor"),
                           highFrequencyFactor: try number("high_freq_factor"), originalPositions: original)
        case "longrope":
            throw ModelError.invalidConfig(path: path, reason: "rope scaling 'longrope' (Phi-3 128k, Phi-3.5) is not implemented; only default, linear and llama3 rope are")
        default:
            throw ModelError.invalidConfig(path: path, reason: "rope scaling type '\(type)' is not supported (default, linear and llama3 are)")
        }
        if let partial = (parameters?["partial_rotary_factor"] ?? json["partial_rotary_factor"])?.doubleValue, partial != 1 {
            throw ModelError.invalidConfig(path: path, reason: "partial_rotary_factor \(partial) is not supported (only 1)")
        }
    }
}
