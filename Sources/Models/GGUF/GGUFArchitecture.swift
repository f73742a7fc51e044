// How a loft model family maps onto llama.cpp's GGUF conventions: the architecture name,
// tensor names (`token_embd`, `blk.N.attn_q`, ...), the per-tensor layout changes, and the
// hyperparameter keys. One value per family; export (HF -> GGUF) and import (GGUF -> HF)
// both read it, so the two directions cannot drift apart.
//
// Layout changes:
//   - GPT-2 stores its projections as Conv1D [in, out]; llama.cpp wants [out, in]: transposed.
//   - LLaMA's q_proj and k_proj are permuted for llama.cpp's rotary embedding (it rotates
//     adjacent pairs, transformers rotates the two halves of each head): within each head,
//     row (j * half + i) moves to row (2 * i + j), as convert_hf_to_gguf.py's `permute`.
//     Mistral is written as llama (as llama.cpp's converter does). Qwen2, Qwen3 and Phi-3 use
//     llama.cpp's NeoX rotary (the halves, as transformers), so nothing is permuted there.
//   - Gemma 3 (NeoX rotary too) stores its RMSNorm weights centred on 0 (transformers
//     multiplies by 1 + w); llama.cpp's norm multiplies by the stored weight, so every
//     `*norm.weight` is written as 1 + w and read back as w - 1 (as convert_hf_to_gguf.py).

import TensorIO

public enum GGUFLayout: Sendable, Equatable {
    case unchanged
    case transposed
    /// Rotary permutation over `heads` heads.
    case rotary(heads: Int)
    /// `offset` added to every value (subtracted on import): Gemma's 1 + w norms.
    case shifted(Float)
}

public struct GGUFTensorMapping: Sendable {
    public let hfName: String
    public let ggufName: String
    public let layout: GGUFLayout
    /// Block index for names under `blk.N.` (nil otherwise).
    public let layer: Int?
}

public struct GGUFArchitecture: Sendable {
    /// llama.cpp's architecture name ("gpt2", "llama").
    public let name: String
    /// transformers' model_type (written back on import).
    public let modelType: String
    /// Other model_types written as this architecture (Mistral as llama).
    var alsoModelTypes: [String] = []
    /// transformers' class for config.json `architectures` on import.
    var hfArchitecture = "LlamaForCausalLM"
    /// Whether q_proj and k_proj get the rotary permutation (llama; not the NeoX-rope archs).
    var permutesRotary = true
    /// Added to every RMSNorm weight on export (Gemma's 1 + w); 0 elsewhere.
    var normOffset: Float = 0
    /// Global tensors: HF suffix (after the prefix) -> GGUF name.
    let globals: [(String, String)]
    /// Per-layer tensors: HF suffix after `layers.N.` -> GGUF suffix after `blk.N.`.
    let perLayer: [(String, String)]
    /// The HF name prefix ("transformer.", "model."), optional on input.
    let prefix: String
    let layerPrefix: String

    public static let gpt2 = GGUFArchitecture(
        name: "gpt2", modelType: "gpt2",
        globals: [("wte.weight", "token_embd.weight"), ("wpe.weight", "position_embd.weight"),
                  ("ln_f.weight", "output_norm.weight"), ("ln_f.bias", "output_norm.bias"), ("lm_head.weight", "output.weight")],
        perLayer: [("ln_1.weight", "attn_norm.weight"), ("ln_1.bias", "attn_norm.bias"),
                   ("attn.c_attn.weight", "attn_qkv.weight"), ("attn.c_attn.bias", "attn_qkv.bias"),
                   ("attn.c_proj.weight", "attn_output.weight"), ("attn.c_proj.bias", "attn_output.bias"),
                   ("ln_2.weight", "ffn_norm.weight"), ("ln_2.bias", "ffn_norm.bias"),
                   ("mlp.c_fc.weight", "ffn_up.weight"), ("mlp.c_fc.bias", "ffn_up.bias"),
                   ("mlp.c_proj.weight", "ffn_down.weight"), ("mlp.c_proj.bias", "ffn_down.bias")],
        prefix: "transformer.", layerPrefix: "h.")

    private static let llamaGlobals = [("embed_tokens.weight", "token_embd.weight"), ("norm.weight", "output_norm.weight"),
                                       ("lm_head.weight", "output.weight")]
    private static let llamaLayer = [("input_layernorm.weight", "attn_norm.weight"), ("self_attn.q_proj.weight", "attn_q.weight"),
                                     ("self_attn.k_proj.weight", "attn_k.weight"), ("self_attn.v_proj.weight", "attn_v.weight"),
                                     ("self_attn.o_proj.weight", "attn_output.weight"), ("post_attention_layernorm.weight", "ffn_norm.weight"),
                                     ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"),
                                     ("mlp.down_proj.weight", "ffn_down.weight")]

    public static let llama = GGUFArchitecture(name: "llama", modelType: "llama", alsoModelTypes: ["mistral"],
                                               globals: llamaGlobals, perLayer: llamaLayer, prefix: "model.", layerPrefix: "layers.")

    public static let qwen2 = GGUFArchitecture(
        name: "qwen2", modelType: "qwen2", hfArchitecture: "Qwen2ForCausalLM", permutesRotary: false, globals: llamaGlobals,
        perLayer: llamaLayer + [("self_attn.q_proj.bias", "attn_q.bias"), ("self_attn.k_proj.bias", "attn_k.bias"),
                                ("self_attn.v_proj.bias", "attn_v.bias")],
        prefix: "model.", layerPrefix: "layers.")

    public static let qwen3 = GGUFArchitecture(
        name: "qwen3", modelType: "qwen3", hfArchitecture: "Qwen3ForCausalLM", permutesRotary: false, globals: llamaGlobals,
        perLayer: llamaLayer + [("self_attn.q_norm.weight", "attn_q_norm.weight"), ("self_attn.k_norm.weight", "attn_k_norm.weight")],
        prefix: "model.", layerPrefix: "layers.")

    /// gate_up_proj is llama.cpp's ffn_up of twice the width (gate rows first), split in its graph.
    public static let phi3 = GGUFArchitecture(
        name: "phi3", modelType: "phi3", hfArchitecture: "Phi3ForCausalLM", permutesRotary: false, globals: llamaGlobals,
        perLayer: [("input_layernorm.weight", "attn_norm.weight"), ("self_attn.qkv_proj.weight", "attn_qkv.weight"),
                   ("self_attn.o_proj.weight", "attn_output.weight"), ("post_attention_layernorm.weight", "ffn_norm.weight"),
                   ("mlp.gate_up_proj.weight", "ffn_up.weight"), ("mlp.down_proj.weight", "ffn_down.weight")],
        prefix: "model.", layerPrefix: "layers.")

    /// Gemma 3 (text): four norms per block (llama.cpp's post_attention_norm after attention,
    /// ffn_norm = pre_feedforward_layernorm, post_ffw_norm after the MLP), q/k norms, a tied
    /// head. What llama.cpp hard-codes for it is checked in GGUFHyperparameters.
    public static let gemma3 = GGUFArchitecture(
        name: "gemma3", modelType: "gemma3_text", hfArchitecture: "Gemma3ForCausalLM", permutesRotary: false, normOffset: 1,
        globals: llamaGlobals,
        perLayer: [("input_layernorm.weight", "attn_norm.weight"), ("self_attn.q_proj.weight", "attn_q.weight"),
                   ("self_attn.k_proj.weight", "attn_k.weight"), ("self_attn.v_proj.weight", "attn_v.weight"),
                   ("self_attn.o_proj.weight", "attn_output.weight"),
                   ("self_attn.q_norm.weight", "attn_q_norm.weight"), ("self_attn.k_norm.weight", "attn_k_norm.weight"),
                   ("post_attention_layernorm.weight", "post_attention_norm.weight"),
                   ("pre_feedforward_layernorm.weight", "ffn_norm.weight"),
                   ("post_feedforward_layernorm.weight", "post_ffw_norm.weight"),
                   ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"),
                   ("mlp.down_proj.weight", "ffn_down.weight")],
        prefix: "model.", layerPrefix: "layers.")

    public static let all: [GGUFArchitecture] = [.gpt2, .llama, .qwen2, .qwen3, .phi3, .gemma3]

    public static func named(modelType: String) -> GGUFArchitecture? {
        all.first { $0.modelType == modelType || $0.alsoModelTypes.contains(modelType) }
    }
    public static func named(gguf name: String) -> GGUFArchitecture? { all.first { $0.name == name } }

    /// The GGUF name and layout of an HF tensor, or nil for a tensor llama.cpp has no use for
    /// (GPT-2's causal-mask buffers `attn.bias`, `attn.masked_bias`).
    public func mapping(hfName: String, config: JSONValue) -> GGUFTensorMapping? {
        // lm_head is outside the prefix in both families.
        if hfName == "lm_head.weight" { return GGUFTensorMapping(hfName: hfName, ggufName: "output.weight", layout: .unchanged, layer: nil) }
        let bare = hfName.hasPrefix(prefix) ? String(hfName.dropFirst(prefix.count)) : hfName
        if let (_, gguf) = globals.first(where: { $0.0 == bare }) {
            return GGUFTensorMapping(hfName: hfName, ggufName: gguf, layout: layout(suffix: bare, config: config), layer: nil)
        }
        guard bare.hasPrefix(layerPrefix) else { return nil }
        let rest = bare.dropFirst(layerPrefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let (_, gguf) = perLayer.first(where: { $0.0 == suffix }) else { return nil }
        return GGUFTensorMapping(hfName: hfName, ggufName: "blk.\(layer).\(gguf)", layout: layout(suffix: suffix, config: config), layer: layer)
    }

    /// The HF name of a GGUF tensor (with the usual prefix), and its layout.
    public func mapping(ggufName: String, config: JSONValue) -> GGUFTensorMapping? {
        if ggufName == "output.weight" { return GGUFTensorMapping(hfName: "lm_head.weight", ggufName: ggufName, layout: .unchanged, layer: nil) }
        if let (hf, _) = globals.first(where: { $0.1 == ggufName }) {
            return GGUFTensorMapping(hfName: prefix + hf, ggufName: ggufName, layout: layout(suffix: hf, config: config), layer: nil)
        }
        guard ggufName.hasPrefix("blk.") else { return nil }
        let rest = ggufName.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let (hf, _) = perLayer.first(where: { $0.1 == suffix }) else { return nil }
        return GGUFTensorMapping(hfName: "\(prefix)\(layerPrefix)\(layer).\(hf)", ggufName: ggufName, layout: layout(suffix: hf, config: config), layer: layer)
    }

    private func layout(suffix: String, config: JSONValue) -> GGUFLayout {
        switch name {
        case "gpt2":
            return suffix.hasSuffix("c_attn.weight") || suffix.hasSuffix("c_proj.weight") || suffix.hasSuffix("c_fc.weight") ? .transposed : .unchanged
        default:
            if normOffset != 0, suffix.hasSuffix("norm.weight") { return .shifted(normOffset) }
            guard permutesRotary, suffix.hasPrefix("self_attn.") else { return .unchanged }
            let heads = config["num_attention_heads"]?.intValue ?? 1
            if suffix == "self_attn.q_proj.weight" { return .rotary(heads: heads) }
            if suffix == "self_attn.k_proj.weight" { return .rotary(heads: config["num_key_value_heads"]?.intValue ?? heads) }
            return .unchanged
        }
    }
}
