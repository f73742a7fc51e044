// What tells the LLaMA-layout families apart, as data: Mistral, Qwen2, Qwen3, Phi-3 and Gemma 3
// are the LLaMA blocks (RMSNorm, rotary grouped-query attention, a gated MLP) with a few
// switches, so one model (LlamaModel) with its one forward and backward runs them all. Each
// family is one small file in Families/ declaring its layout and its registry entry.
//
// What is per checkpoint rather than per family (biases, sliding windows, head_dim, rope)
// is in LlamaConfig, read from config.json.

public struct LlamaLayout: Equatable, Sendable {
    /// config.json `model_type` ("llama", "qwen2").
    public let modelType: String
    /// The transformers class ("LlamaForCausalLM"): config.json `architectures`, PEFT's auto_mapping.
    public let architecture: String
    /// The family's name in logs ("Qwen2").
    public let displayName: String
    /// q, k and v projections always carry biases, o_proj none (Qwen2).
    public let queryKeyValueBias: Bool
    /// q_norm and k_norm: an RMSNorm over each head of q and k before rotary embedding (Qwen3).
    public let queryKeyNorm: Bool
    /// q, k, v as one `self_attn.qkv_proj` and gate, up as one `mlp.gate_up_proj` (Phi-3):
    /// the fused modules are what PEFT names and adapts.
    public let fusedProjections: Bool
    /// head_dim when config.json has none (Qwen3's default is 128, not hidden / heads).
    public let defaultHeadDimension: Int?
    /// Whether config.json's sliding-window keys are read (LLaMA has none).
    public let slidingWindows: SlidingWindowKeys
    /// RMSNorm multiplies by (weight + normWeightOffset): 1 for Gemma, whose norm weights are
    /// stored centred on 0, else 0.
    public let normWeightOffset: Float
    /// The token embeddings are multiplied by sqrt(hidden_size) (Gemma).
    public let scaledEmbeddings: Bool
    /// Gemma's four norms per block: input_layernorm before attention, post_attention_layernorm
    /// on the attention output (before the residual add), pre_feedforward_layernorm before and
    /// post_feedforward_layernorm after the MLP. Without: post_attention_layernorm is the
    /// pre-MLP norm (LLaMA).
    public let sandwichNorms: Bool
    /// The MLP's activation when config.json names none.
    public let defaultActivation: GatedActivation

    public enum SlidingWindowKeys: Equatable, Sendable {
        /// No sliding window.
        case none
        /// `sliding_window` on every layer when not null (Mistral, Phi-3).
        case everyLayer
        /// `use_sliding_window`, `sliding_window`, and `layer_types` (else layers from
        /// `max_window_layers` on) saying which layers slide (Qwen2, Qwen3).
        case perLayer
        /// `sliding_window` on the layers `layer_types` (else `sliding_window_pattern`) names,
        /// each kind of layer with its own rope (Gemma 3: Families/Gemma3.swift).
        case layerTypes
    }

    public init(modelType: String, architecture: String, displayName: String, queryKeyValueBias: Bool = false,
                queryKeyNorm: Bool = false, fusedProjections: Bool = false, defaultHeadDimension: Int? = nil,
                slidingWindows: SlidingWindowKeys = .none, normWeightOffset: Float = 0, scaledEmbeddings: Bool = false,
                sandwichNorms: Bool = false, defaultActivation: GatedActivation = .silu) {
        self.modelType = modelType
        self.architecture = architecture
        self.displayName = displayName
        self.queryKeyValueBias = queryKeyValueBias
        self.queryKeyNorm = queryKeyNorm
        self.fusedProjections = fusedProjections
        self.defaultHeadDimension = defaultHeadDimension
        self.slidingWindows = slidingWindows
        self.normWeightOffset = normWeightOffset
        self.scaledEmbeddings = scaledEmbeddings
        self.sandwichNorms = sandwichNorms
        self.defaultActivation = defaultActivation
    }

    public static let llama = LlamaLayout(modelType: "llama", architecture: "LlamaForCausalLM", displayName: "LLaMA")

    /// Every layout, for looking one up by model_type.
    public static let all: [LlamaLayout] = [.llama, .mistral, .qwen2, .qwen3, .phi3, .gemma3]

    /// The module names of one block's projections, in model order (PEFT's target_modules).
    public var projectionNames: [String] {
        fusedProjections ? ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
            : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    }
}
