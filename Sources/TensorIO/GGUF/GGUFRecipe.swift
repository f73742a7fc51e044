// Which ggml type each tensor of a model gets for a `--dtype` choice: a single type, or one
// of llama-quantize's mixtures (Q4_K_M, Q5_K_M: some tensors one step up), with its rules:
//   - only 2-D tensors whose name ends in "weight" are quantized; norms, biases and 1-D
//     tensors stay F32, position embeddings F16 (llama-quantize leaves them unquantized);
//   - the mixtures: output.weight (token_embd when the model ties them) Q6_K; attn_v and
//     ffn_down Q6_K in the layers `useMoreBits` picks; a fused attn_qkv one step up;
//   - a row length that is not whole blocks falls back as llama-quantize does (Q4_K -> Q5_0,
//     Q5_K -> Q5_1, Q6_K -> Q8_0), then to F16.
// `auto` keeps BF16 sources in BF16 and writes the rest as F16 (convert_hf_to_gguf's auto).

public struct GGUFRecipe: Sendable, Equatable {
    public let name: String
    /// The type of an ordinary weight matrix (nil: auto, from the source dtype).
    public let base: GGMLType?
    let mixture: Bool
    /// llama.cpp's `general.file_type` (LLAMA_FTYPE_*).
    public let fileType: UInt32

    public static let choices = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m", "auto"]

    public init?(_ text: String) {
        let key = text.lowercased()
        let table: [String: (GGMLType?, Bool, UInt32)] = [
            "f32": (.F32, false, 0), "f16": (.F16, false, 1), "bf16": (.BF16, false, 32), "q8_0": (.Q8_0, false, 7),
            "q4_0": (.Q4_0, false, 2), "q4_1": (.Q4_1, false, 3), "q5_0": (.Q5_0, false, 8), "q5_1": (.Q5_1, false, 9),
            "q4_k": (.Q4_K, false, 14), "q5_k": (.Q5_K, false, 16), "q6_k": (.Q6_K, false, 18),
            "q4_k_m": (.Q4_K, true, 15), "q5_k_m": (.Q5_K, true, 17), "auto": (nil, false, 1),
        ]
        guard let (base, mixture, fileType) = table[key] else { return nil }
        name = key
        self.base = base
        self.mixture = mixture
        self.fileType = fileType
    }

    /// llama-quantize's `use_more_bits`: the first and last eighth of the layers, and every
    /// third in between.
    static func useMoreBits(_ layer: Int, _ layers: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }

    /// The type of tensor `name` (GGUF name) with ggml `dims`, from a source of `source` dtype.
    /// `layer`/`layers`: its block and the block count; `tied`: the model has no output.weight.
    public func type(for name: String, dims: [Int], source: DType, layer: Int?, layers: Int, tied: Bool) -> GGMLType {
        let matrix = dims.filter { $0 > 1 }.count >= 2 && name.hasSuffix("weight") && !name.hasSuffix("_norm.weight")
        if !matrix { return source == .F64 ? .F32 : (GGMLType(storing: source).map { $0 == .F16 || $0 == .BF16 ? GGMLType.F32 : $0 } ?? .F32) }
        let float = base ?? (source == .BF16 ? .BF16 : .F16)
        if !float.isQuantized { return float }
        if name == "position_embd.weight" { return .F16 }
        var type = float
        if mixture {
            if name == "output.weight" || (tied && name == "token_embd.weight") {
                type = (dims.first ?? 0) % GGMLType.superBlock == 0 ? .Q6_K : .Q8_0
            } else if name.hasSuffix("attn_v.weight") || name.hasSuffix("ffn_down.weight") {
                if let layer, GGUFRecipe.useMoreBits(layer, layers) { type = .Q6_K }
            } else if name.hasSuffix("attn_qkv.weight") {
                type = float == .Q4_K ? .Q5_K : .Q6_K
            }
        }
        return GGUFRecipe.fallback(type, columns: dims.first ?? 1)
    }

    /// `type`, or llama-quantize's fallback for rows of `columns` that are not whole blocks.
    public static func fallback(_ type: GGMLType, columns: Int) -> GGMLType {
        if columns % type.blockSize == 0 { return type }
        let smaller: GGMLType
        switch type {
        case .Q4_K: smaller = .Q5_0
        case .Q5_K: smaller = .Q5_1
        case .Q6_K: smaller = .Q8_0
        default: smaller = .F16
        }
        return columns % smaller.blockSize == 0 ? smaller : .F16
    }
}
