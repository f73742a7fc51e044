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
