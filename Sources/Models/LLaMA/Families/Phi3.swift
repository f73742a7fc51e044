// Phi-3 / Phi-3.5: the LLaMA layout with q, k, v fused into `self_attn.qkv_proj` (rows: q, then
// k, then v) and gate, up into `mlp.gate_up_proj` (gate first), so LoRA targets are qkv_proj,
// o_proj, gate_up_proj and down_proj as PEFT names them; `sliding_window` on every layer.
// Longrope scaling (Phi-3-mini-128k, Phi-3.5) is refused by RopeScaling.

extension LlamaLayout {
    public static let phi3 = LlamaLayout(modelType: "phi3", architecture: "Phi3ForCausalLM", displayName: "Phi-3",
                                         fusedProjections: true, slidingWindows: .everyLayer)
}

extension ModelFamily {
    public static let phi3 = ModelFamily.llamaLayout(.phi3)
}
