// Mistral: the LLaMA layout with `sliding_window` on every layer (each query sees itself and
// the sliding_window - 1 tokens before it; exact causal attention when the sequence fits).

extension LlamaLayout {
    public static let mistral = LlamaLayout(modelType: "mistral", architecture: "MistralForCausalLM", displayName: "Mistral",
                                            slidingWindows: .everyLayer)
}

extension ModelFamily {
    public static let mistral = ModelFamily.llamaLayout(.mistral)
}
