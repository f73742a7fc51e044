// Qwen2 / Qwen2.5: the LLaMA layout with biases on q_proj, k_proj and v_proj (none on o_proj),
// a tied or untied head, rope_theta usually 1e6, and sliding-window attention on the layers
// `layer_types` names when `use_sliding_window` is set (honoured, not ignored).

extension LlamaLayout {
    public static let qwen2 = LlamaLayout(modelType: "qwen2", architecture: "Qwen2ForCausalLM", displayName: "Qwen2",
                                          queryKeyValueBias: true, slidingWindows: .perLayer)
}

extension ModelFamily {
    public static let qwen2 = ModelFamily.llamaLayout(.qwen2)
}
