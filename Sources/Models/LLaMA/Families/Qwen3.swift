// Qwen3: the LLaMA layout with q_norm and k_norm, an RMSNorm over each head of the queries and
// keys before rotary embedding, and an explicit head_dim (heads x head_dim may differ from
// hidden_size; transformers' default is 128). attention_bias as in LLaMA.

extension LlamaLayout {
    public static let qwen3 = LlamaLayout(modelType: "qwen3", architecture: "Qwen3ForCausalLM", displayName: "Qwen3",
                                          queryKeyNorm: true, defaultHeadDimension: 128, slidingWindows: .perLayer)
}

extension ModelFamily {
    public static let qwen3 = ModelFamily.llamaLayout(.qwen3)
}
