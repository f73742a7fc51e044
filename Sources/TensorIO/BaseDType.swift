// How a model's frozen weights are held in memory (`--base-dtype`): float32, 16 bits
// (bfloat16 / float16), or block-quantized (GGML's Q8_0 ... Q6_K), each multiplied tile by
// tile in float32 (Models' CompactMatrix). Trainable weights, factors, optimizer state and
// 1-D tensors (norms, biases) are float32 whatever this says.

public enum BaseDType: String, CaseIterable, Sendable {
    /// The checkpoint's own storage kept as is: BF16 or F16, or a GGUF / MLX quantization;
    /// anything else float32.
    case auto
    case f32
    case bf16
    case f16
    case q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k

    /// The GGML type a quantized choice quantizes to at load; nil for the float choices.
    public var quantizedType: GGMLType? {
        switch self {
        case .auto, .f32, .bf16, .f16: return nil
        default: return GGMLType(name: rawValue)
        }
    }

    /// What a 2-D float tensor stored as `stored` is held as in memory: .f32, .bf16, .f16 or
    /// a quantized choice.
    public func resolved(for stored: DType) -> BaseDType {
        switch self {
        case .auto: return stored == .BF16 ? .bf16 : stored == .F16 ? .f16 : .f32
        default: return self
        }
    }
}

/// How a frozen base held in bfloat16 multiplies (`--base-compute`): in float32 tile by tile
/// (the default: what the float32 model with the same rounded weights computes), or in
/// bfloat16 with the activations rounded to bfloat16 (AVX-512 BF16; as a torch model cast to
/// bfloat16 computes). bf16 compute holds the base in bfloat16 (`--base-dtype auto` or bf16).
public enum BaseCompute: String, CaseIterable, Sendable {
    case f32
    case bf16

    /// The held dtype `--base-dtype baseDType` means under this compute, or nil when they
    /// conflict (bf16 compute of a base held in f32 or f16).
    public func heldDType(_ baseDType: BaseDType) -> BaseDType? {
        switch (self, baseDType) {
        case (.f32, _): return baseDType
        case (.bf16, .auto), (.bf16, .bf16): return .bf16
        case (.bf16, _): return nil
        }
    }
}

/// A reader that can hand out a 2-D tensor as its file stores it, block-quantized (GGUF,
/// MLX), instead of dequantized: what `--base-dtype auto` keeps quantized in memory.
public protocol QuantizedTensorReader: TensorReader {
    /// The tensor `name` as stored quantized, nil when it is not a quantized 2-D tensor.
    /// `transposed`: the tensor is the stored matrix's transpose. Throws when the stored
    /// sizes disagree (the problem, without the path).
    func quantizedMatrix(for name: String) throws -> (matrix: QuantizedMatrix, transposed: Bool)?
}
