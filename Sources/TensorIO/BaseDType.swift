// How a model's frozen weights are held in memory (`--base-dtype`): float32, or 16 bits
// (bfloat16 / float16) multiplied tile by tile in float32 (Models' CompactMatrix).
// Trainable weights, factors, optimizer state and 1-D tensors (norms, biases) are float32
// whatever this says.

public enum BaseDType: String, CaseIterable, Sendable {
    /// The checkpoint's own 16-bit dtype (BF16 or F16) kept as is; anything else float32.
    case auto
    case f32
    case bf16
    case f16

    /// What a 2-D tensor stored as `stored` is held as in memory: .f32, .bf16 or .f16.
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
