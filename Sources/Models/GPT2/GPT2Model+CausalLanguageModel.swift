// GPT2Model as a CausalLanguageModel (its forward, backward, logits and releaseActivations
// already have the protocol's shape), and its config written back as transformers reads it.

import TensorIO

extension GPT2Model: CausalLanguageModel {
    public var modelType: String { "gpt2" }
    public var architecture: String { "GPT2LMHeadModel" }
    public var vocabularySize: Int { config.vocabularySize }
    public var maxPositions: Int { config.positions }
    public var parameterCount: Int { config.parameterCount }
    /// GPT-2's projections are Conv1D (weight stored in x out).
    public var fanInFanOut: Bool { true }
    public var defaultTargets: [String] { ["c_attn", "c_proj", "c_fc"] }

    public var summary: String {
        let c = config
        return "GPT-2: \(c.layers) layers, \(c.channels) channels, \(c.heads) heads, MLP \(c.innerChannels), "
            + "vocab \(c.vocabularySize), \(c.positions) positions, \(c.parameterCount) parameters"
    }

    public var configJSON: JSONValue {
        let c = config
        return .object([
            JSONMember("activation_function", .string("gelu_new")),
            JSONMember("architectures", .array([.string("GPT2LMHeadModel")])),
            JSONMember("layer_norm_epsilon", .double(Double("\(c.layerNormEpsilon)") ?? Double(c.layerNormEpsilon))),
            JSONMember("model_type", .string("gpt2")),
            JSONMember("n_ctx", .integer(Int64(c.positions))),
            JSONMember("n_embd", .integer(Int64(c.channels))),
            JSONMember("n_head", .integer(Int64(c.heads))),
            JSONMember("n_inner", c.innerChannels == 4 * c.channels ? .null : .integer(Int64(c.innerChannels))),
            JSONMember("n_layer", .integer(Int64(c.layers))),
            JSONMember("n_positions", .integer(Int64(c.positions))),
            JSONMember("tie_word_embeddings", .bool(untiedHead == nil)),
            JSONMember("vocab_size", .integer(Int64(c.vocabularySize))),
        ])
    }
}
