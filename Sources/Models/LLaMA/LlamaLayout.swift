// What tells the LLaMA-layout families apart, as data: Mistral, Qwen2, Qwen3 and Phi-3 are the
// LLaMA blocks (RMSNorm, rotary grouped-query attention, SwiGLU) with a few switches, so one
// model (LlamaModel) with its one forward and backward runs them all. Each family is one
// small file in Families/ declaring its layout and its registry entry.
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

    public enum SlidingWindowKeys: Equatable, Sendable {
        /// No sliding window.
        case none
        /// `sliding_window` on every layer when not null (Mistral, Phi-3).
        case everyLayer
        /// `use_sliding_window`, `sliding_window`, and `layer_types` (else layers from
        /// `max_window_layers` on) saying which layers slide (Qwen2, Qwen3).
        case perLayer
    }

    public init(modelType: String, architecture: String, displayName: String, queryKeyValueBias: Bool = false,
                queryKeyNorm: Bool = false, fusedProjections: Bool = false, defaultHeadDimension: Int? = nil,
                slidingWindows: SlidingWindowKeys = .none) {
        self.modelType = modelType
        self.architecture = architecture
        self.displayName = displayName
        self.queryKeyValueBias = queryKeyValueBias
        self.queryKeyNorm = queryKeyNorm
        self.fusedProjections = fusedProjections
        self.defaultHeadDimension = defaultHeadDimension
        self.slidingWindows = slidingWindows
    }

    public static let llama = LlamaLayout(modelType: "llama", architecture: "LlamaForCausalLM", displayName: "LLaMA")

    /// Every layout, for looking one up by model_type.
    public static let all: [LlamaLayout] = [.llama, .mistral, .qwen2, .qwen3, .phi3]

    /// The module names of one block's projections, in model order (PEFT's target_modules).
    public var projectionNames: [String] {
        fusedProjections ? ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
            : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    }
}
