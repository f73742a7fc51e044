// A LLaMA-family causal language model (LlamaForCausalLM): its parameters by Hugging Face
// name, built from a checkpoint or at random. Forward and backward live in
// LlamaTraining.swift, the activation buffers in LlamaActivations.swift, file opening in
// LlamaCheckpoint.swift.
//
// Parameters carry the checkpoint names (`model.embed_tokens.weight`,
// `model.layers.0.self_attn.q_proj.weight`, ..., `lm_head.weight`), projections their
// module paths (`model.layers.0.self_attn.q_proj`), which PEFT's target_modules and adapter
// keys (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`) use.

import Compute
import TensorIO

public final class LlamaBlock {
    /// input_layernorm (RMSNorm before attention).
    public let inputNorm: Parameter
    public let query: Projection, key: Projection, value: Projection, output: Projection
    /// post_attention_layernorm (RMSNorm before the MLP).
    public let postAttentionNorm: Parameter
    public let gate: Projection, up: Projection, down: Projection

    init(index: Int, config: LlamaConfig, load: (String, [Int]) throws -> Parameter) throws {
        let prefix = "model.layers.\(index)."
        let C = config.hidden, QW = config.queryWidth, KW = config.keyValueWidth, I = config.intermediate
        func projection(_ module: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool) throws -> Projection {
            Projection(name: prefix + module, weight: try load(prefix + module + ".weight", [outFeatures, inFeatures]),
                       bias: bias ? try load(prefix + module + ".bias", [outFeatures]) : nil, layout: .outIn)
        }
        inputNorm = try load(prefix + "input_layernorm.weight", [C])
        query = try projection("self_attn.q_proj", C, QW, bias: config.attentionBias)
        key = try projection("self_attn.k_proj", C, KW, bias: config.attentionBias)
        value = try projection("self_attn.v_proj", C, KW, bias: config.attentionBias)
        output = try projection("self_attn.o_proj", QW, C, bias: config.attentionBias)
        postAttentionNorm = try load(prefix + "post_attention_layernorm.weight", [C])
        gate = try projection("mlp.gate_proj", C, I, bias: config.mlpBias)
        up = try projection("mlp.up_proj", C, I, bias: config.mlpBias)
        down = try projection("mlp.down_proj", I, C, bias: config.mlpBias)
    }

    /// In model order: q, k, v, o, gate, up, down (the slots of DecoderActivations.adapterHidden).
    public var projections: [Projection] { [query, key, value, output, gate, up, down] }

    public var parameters: [Parameter] {
        [inputNorm] + query.parameters + key.parameters + value.parameters + output.parameters
            + [postAttentionNorm] + gate.parameters + up.parameters + down.parameters
    }
}

public final class LlamaModel: TrainableModel {
    public private(set) var config: LlamaConfig
    public let tokenEmbedding: Parameter
    public let blocks: [LlamaBlock]
    public let finalNorm: Parameter
    /// `lm_head.weight` (vocab x hidden); nil when tied to the token embedding.
    public private(set) var untiedHead: Parameter?
    public let rotary: RotaryEmbedding

    public private(set) var parameters: [Parameter]
    public let projections: [Projection]
    public internal(set) var activations: LlamaActivations?

    /// The seven projection names PEFT's target_modules use for LLaMA (the LoFT paper adapts all).
    public static let projectionNames = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    private init(config: LlamaConfig, load: (String, [Int]) throws -> Parameter) throws {
        self.config = config
        tokenEmbedding = try load("model.embed_tokens.weight", [config.vocabularySize, config.hidden])
        blocks = try (0..<config.layers).map { try LlamaBlock(index: $0, config: config, load: load) }
        finalNorm = try load("model.norm.weight", [config.hidden])
        untiedHead = config.tiedEmbeddings ? nil : try load("lm_head.weight", [config.vocabularySize, config.hidden])
        rotary = RotaryEmbedding(headDimension: config.headDimension, scaling: config.rope, positions: config.positions)
        parameters = [tokenEmbedding] + blocks.flatMap(\.parameters) + [finalNorm] + (untiedHead.map { [$0] } ?? [])
        projections = blocks.flatMap(\.projections)
    }

    /// Loads every weight from `reader`, upcast to float32 (F16, BF16, F64 accepted). With
    /// tie_word_embeddings an `lm_head.weight` in the file is ignored (the head is embed_tokens).
    public convenience init(config: LlamaConfig, reader: TensorReader) throws {
        try config.validate(path: reader.path)
        try self.init(config: config) { name, shape in
            Parameter(name: name, shape: shape, value: try loadFloats(reader, name: name, shape: shape))
        }
    }

    /// A freshly initialised model as LlamaPreTrainedModel does it: every matrix N(0, 0.02)
    /// (initializer_range), RMSNorm weights 1, biases 0.
    public convenience init(randomlyInitialized config: LlamaConfig, seed: UInt64) throws {
        try config.validate(path: "<config>")
        var random = SeededGenerator(seed: seed)
        try self.init(config: config) { name, shape in initializedParameter(name, shape, std: 0.02, random: &random) }
    }

    public func untieHead() {
        guard let copy = untiedHeadCopy() else { return }
        untiedHead = copy
        parameters.append(copy)
        config.tiedEmbeddings = false
    }
}
