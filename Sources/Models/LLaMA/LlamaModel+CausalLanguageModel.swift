// LlamaModel as a CausalLanguageModel, and its config written back as transformers reads it.

import TensorIO

extension LlamaModel: CausalLanguageModel, ConfiguredLanguageModel {
    public var modelType: String { "llama" }
    public var architecture: String { "LlamaForCausalLM" }
    public var fanInFanOut: Bool { false }
    public var defaultTargets: [String] { LlamaModel.projectionNames }
    public var configJSON: JSONValue { config.json }
    /// As transformers' tokenizer(prompt): with the special tokens the tokenizer's template
    /// adds (LLaMA-3's BOS; SmolLM's template adds none).
    public var promptAddsSpecialTokens: Bool { true }
    /// No KV cache yet: generation runs the full forward.
    public func makeKeyValueCache() -> KeyValueCache? { nil }

    public var summary: String {
        let c = config
        let tied = c.tiedEmbeddings ? ", tied head" : ""
        return "LLaMA: \(c.layers) layers, hidden \(c.hidden), \(c.heads) heads (\(c.keyValueHeads) key/value), "
            + "MLP \(c.intermediate), vocab \(c.vocabularySize), \(c.positions) positions\(tied), \(c.parameterCount) parameters"
    }
}

extension LlamaConfig {
    /// config.json in the spelling both transformers 4 and 5 read (top-level rope_theta,
    /// rope_scaling dict or null).
    public var json: JSONValue {
        let scaling: JSONValue
        switch rope {
        case .default: scaling = .null
        case let .llama3(_, factor, low, high, original):
            scaling = .object([
                JSONMember("factor", .double(factor)), JSONMember("high_freq_factor", .double(high)),
                JSONMember("low_freq_factor", .double(low)),
                JSONMember("original_max_position_embeddings", .integer(Int64(original))),
                JSONMember("rope_type", .string("llama3")),
            ])
        }
        return .object([
            JSONMember("architectures", .array([.string("LlamaForCausalLM")])),
            JSONMember("attention_bias", .bool(attentionBias)),
            JSONMember("head_dim", .integer(Int64(headDimension))),
            JSONMember("hidden_act", .string("silu")),
            JSONMember("hidden_size", .integer(Int64(hidden))),
            JSONMember("intermediate_size", .integer(Int64(intermediate))),
            JSONMember("max_position_embeddings", .integer(Int64(positions))),
            JSONMember("mlp_bias", .bool(mlpBias)),
            JSONMember("model_type", .string("llama")),
            JSONMember("num_attention_heads", .integer(Int64(heads))),
            JSONMember("num_hidden_layers", .integer(Int64(layers))),
            JSONMember("num_key_value_heads", .integer(Int64(keyValueHeads))),
            JSONMember("rms_norm_eps", .double(Double("\(rmsNormEpsilon)") ?? Double(rmsNormEpsilon))),  // 1e-05, not 9.99999974e-06
            JSONMember("rope_scaling", scaling),
            JSONMember("rope_theta", .double(rope.theta)),
            JSONMember("tie_word_embeddings", .bool(tiedEmbeddings)),
            JSONMember("torch_dtype", .string("float32")),
            JSONMember("vocab_size", .integer(Int64(vocabularySize))),
        ])
    }
}
