// GPT2Model as a CausalLanguageModel: what the commands ask of a family (its forward and
// backward are DecoderLanguageModel's, in GPT2Training.swift; its KV cache in GPT2Cache.swift).

import TensorIO

extension GPT2Model: CausalLanguageModel, ConfiguredLanguageModel {
    public var modelType: String { "gpt2" }
    public var architecture: String { "GPT2LMHeadModel" }
    /// GPT-2's projections are Conv1D (weight stored in x out).
    public var fanInFanOut: Bool { true }
    /// Attention in and out and the MLP's out ("c_proj" names both), PEFT's usual GPT-2 choice.
    public var defaultTargets: [String] { ["c_attn", "c_proj"] }

    public var summary: String {
        let c = config
        return "GPT-2: \(c.layers) layers, \(c.channels) channels, \(c.heads) heads, MLP \(c.innerChannels), "
            + "vocab \(c.vocabularySize), \(c.positions) positions, \(c.parameterCount) parameters"
    }

    public var configJSON: JSONValue { config.json(tiedHead: untiedHead == nil) }
    public var promptAddsSpecialTokens: Bool { false }
}
