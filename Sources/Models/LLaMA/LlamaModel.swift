// A LLaMA-layout causal language model (LlamaForCausalLM, and Mistral, Qwen2, Qwen3, Phi-3 as
// configured by LlamaLayout): its parameters by Hugging Face
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
    /// q_proj, k_proj, v_proj; or Phi-3's one qkv_proj (columns q, k, v).
    public let attentionInputs: [Projection]
    public let output: Projection
    /// Qwen3's q_norm and k_norm (RMSNorm weights over head_dim), nil elsewhere.
    public let queryNorm: Parameter?, keyNorm: Parameter?
    /// post_attention_layernorm: the RMSNorm before the MLP; with Gemma's sandwich norms, the
    /// one on the attention output.
    public let postAttentionNorm: Parameter
    /// Gemma's pre_feedforward_layernorm and post_feedforward_layernorm (nil elsewhere).
    public let preFeedforwardNorm: Parameter?, postFeedforwardNorm: Parameter?
    /// gate_proj, up_proj; or Phi-3's one gate_up_proj (columns gate, up).
    public let mlpInputs: [Projection]
    public let down: Projection

    init(index: Int, config: LlamaConfig, load: (String, [Int]) throws -> Parameter) throws {
        let prefix = "model.layers.\(index)."
        let C = config.hidden, QW = config.queryWidth, KW = config.keyValueWidth, I = config.intermediate
        func projection(_ module: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool) throws -> Projection {
            Projection(name: prefix + module, weight: try load(prefix + module + ".weight", [outFeatures, inFeatures]),
                       bias: bias ? try load(prefix + module + ".bias", [outFeatures]) : nil, layout: .outIn)
        }
        let fused = config.layout.fusedProjections, qkvBias = config.queryKeyValueBias
        inputNorm = try load(prefix + "input_layernorm.weight", [C])
        attentionInputs = fused ? [try projection("self_attn.qkv_proj", C, QW + 2 * KW, bias: qkvBias)]
            : [try projection("self_attn.q_proj", C, QW, bias: qkvBias), try projection("self_attn.k_proj", C, KW, bias: qkvBias),
               try projection("self_attn.v_proj", C, KW, bias: qkvBias)]
        if config.layout.queryKeyNorm {
            queryNorm = try load(prefix + "self_attn.q_norm.weight", [config.headDimension])
            keyNorm = try load(prefix + "self_attn.k_norm.weight", [config.headDimension])
        } else {
            (queryNorm, keyNorm) = (nil, nil)
        }
        output = try projection("self_attn.o_proj", QW, C, bias: config.outputBias)
        postAttentionNorm = try load(prefix + "post_attention_layernorm.weight", [C])
        if config.layout.sandwichNorms {
            preFeedforwardNorm = try load(prefix + "pre_feedforward_layernorm.weight", [C])
            postFeedforwardNorm = try load(prefix + "post_feedforward_layernorm.weight", [C])
        } else {
            (preFeedforwardNorm, postFeedforwardNorm) = (nil, nil)
        }
        mlpInputs = fused ? [try projection("mlp.gate_up_proj", C, 2 * I, bias: config.mlpBias)]
            : [try projection("mlp.gate_proj", C, I, bias: config.mlpBias), try projection("mlp.up_proj", C, I, bias: config.mlpBias)]
        down = try projection("mlp.down_proj", I, C, bias: config.mlpBias)
    }

    /// In model order (the slots of DecoderActivations.adapterHidden): q, k, v, o, gate, up,
    /// down; or qkv, o, gate_up, down.
    public var projections: [Projection] { attentionInputs + [output] + mlpInputs + [down] }
    /// Slots of o_proj and the first MLP input in `projections`.
    var outputSlot: Int { attentionInputs.count }
    var mlpSlot: Int { attentionInputs.count + 1 }
    var downSlot: Int { attentionInputs.count + 1 + mlpInputs.count }
    /// The RMSNorm whose output feeds the MLP: pre_feedforward_layernorm, else post_attention_layernorm.
    var mlpNorm: Parameter { preFeedforwardNorm ?? postAttentionNorm }
    /// The RMSNorm on the attention output before the residual add (Gemma's post_attention_layernorm).
    var attentionOutputNorm: Parameter? { preFeedforwardNorm == nil ? nil : postAttentionNorm }

    public var parameters: [Parameter] {
        [inputNorm] + attentionInputs.flatMap(\.parameters) + [queryNorm, keyNorm].compactMap { $0 } + output.parameters
            + [postAttentionNorm] + [preFeedforwardNorm].compactMap { $0 } + mlpInputs.flatMap(\.parameters) + down.parameters
            + [postFeedforwardNorm].compactMap { $0 }
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
    /// The sliding layers' rotary embedding when their rope differs (Gemma's rope_local_base_freq).
    let localRotary: RotaryEmbedding?

    public private(set) var parameters: [Parameter]
    public let projections: [Projection]
    public internal(set) var activations: LlamaActivations?

    /// The seven projection names PEFT's target_modules use for LLaMA (the LoFT paper adapts all).
    public static let projectionNames = LlamaLayout.llama.projectionNames

    private init(config: LlamaConfig, load: (String, [Int]) throws -> Parameter) throws {
        self.config = config
        tokenEmbedding = try load("model.embed_tokens.weight", [config.vocabularySize, config.hidden])
        blocks = try (0..<config.layers).map { try LlamaBlock(index: $0, config: config, load: load) }
        finalNorm = try load("model.norm.weight", [config.hidden])
        untiedHead = config.tiedEmbeddings ? nil : try load("lm_head.weight", [config.vocabularySize, config.hidden])
        rotary = RotaryEmbedding(headDimension: config.headDimension, scaling: config.rope, positions: config.positions)
        localRotary = config.localRope.map { RotaryEmbedding(headDimension: config.headDimension, scaling: $0, positions: config.positions) }
        parameters = [tokenEmbedding] + blocks.flatMap(\.parameters) + [finalNorm] + (untiedHead.map { [$0] } ?? [])
        projections = blocks.flatMap(\.projections)
    }

    /// Loads every weight from `reader`, upcast to float32 (F16, BF16, F64 accepted), or the
    /// 2-D ones held in 16 bits as `baseDType` says. With tie_word_embeddings an
    /// `lm_head.weight` in the file is ignored (the head is embed_tokens).
    public convenience init(config: LlamaConfig, reader: TensorReader, baseDType: BaseDType = .f32) throws {
        try config.validate(path: reader.path)
        try self.init(config: config) { name, shape in
            try loadParameter(reader, name: name, shape: shape, baseDType: baseDType)
        }
    }

    /// A freshly initialised model as LlamaPreTrainedModel does it: every matrix N(0, 0.02)
    /// (initializer_range), RMSNorm weights 1 (0 with Gemma's 1 + weight), biases 0.
    public convenience init(randomlyInitialized config: LlamaConfig, seed: UInt64) throws {
        try config.validate(path: "<config>")
        var random = SeededGenerator(seed: seed)
        try self.init(config: config) { name, shape in initializedParameter(name, shape, std: 0.02, random: &random) }
        if let pad = config.padTokenId {
            (tokenEmbedding.value.pointer + pad * config.hidden).update(repeating: 0, count: config.hidden)
        }
        if config.layout.normWeightOffset != 0 {
            for norm in parameters where norm.shape.count == 1 && !norm.name.hasSuffix(".bias") { norm.value.zero() }
        }
    }

    /// The rotary embedding of block `index`: the local one on sliding layers when there is one.
    func rotary(layer index: Int) -> RotaryEmbedding {
        config.windows[index] != nil ? localRotary ?? rotary : rotary
    }

    public func untieHead() {
        guard let copy = untiedHeadCopy() else { return }
        untiedHead = copy
        parameters.append(copy)
        config.tiedEmbeddings = false
    }
}
