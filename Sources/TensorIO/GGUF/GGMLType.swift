// ggml's tensor element types as GGUF stores them (the `type` field of a tensor info), with
// the block geometry every size computation uses: a row of `blockSize` elements is stored as
// `typeSize` bytes, so a quantized row's length must be a multiple of the block size.
//
// loft reads (dequantizes) every type listed here and writes all but Q2_K and Q3_K.

public enum GGMLType: UInt32, CaseIterable, Sendable {
    case F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8
    case Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14
    case I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30

    /// The number of super-block elements of the k-quants.
    public static let superBlock = 256

    public var name: String { "\(self)" }

    /// Elements per block (1 for the plain types).
    public var blockSize: Int {
        switch self {
        case .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0: return 32
        case .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K: return GGMLType.superBlock
        default: return 1
        }
    }

    /// Bytes per block.
    public var typeSize: Int {
        switch self {
        case .F32, .I32: return 4
        case .F16, .BF16, .I16: return 2
        case .I8: return 1
        case .I64, .F64: return 8
        case .Q4_0: return 2 + 16
        case .Q4_1: return 2 + 2 + 16
        case .Q5_0: return 2 + 4 + 16
        case .Q5_1: return 2 + 2 + 4 + 16
        case .Q8_0: return 2 + 32
        case .Q2_K: return 2 + 2 + 256 / 16 + 256 / 4
        case .Q3_K: return 2 + 256 / 4 + 256 / 8 + 12
        case .Q4_K: return 2 + 2 + 256 / 2 + 12
        case .Q5_K: return 2 + 2 + 256 / 2 + 256 / 8 + 12
        case .Q6_K: return 2 + 256 / 2 + 256 / 4 + 256 / 16
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// The type loft hands out when reading: the same values for the plain types, F32 for the
    /// quantized ones (dequantized on read).
    public var readType: DType {
        switch self {
        case .F32: return .F32
        case .F16: return .F16
        case .BF16: return .BF16
        case .F64: return .F64
        case .I8: return .I8
        case .I16: return .I16
        case .I32: return .I32
        case .I64: return .I64
        default: return .F32
        }
    }

    /// The GGUF type that stores a loft dtype unchanged, if there is one.
    public init?(storing dtype: DType) {
        switch dtype {
        case .F32: self = .F32
        case .F16: self = .F16
        case .BF16: self = .BF16
        case .F64: self = .F64
        case .I8: self = .I8
        case .I16: self = .I16
        case .I32: self = .I32
        case .I64: self = .I64
        default: return nil
        }
    }

    /// Parses "q8_0", "Q4_K", "f16" (any case).
    public init?(name: String) {
        guard let type = GGMLType.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        self = type
    }

    /// Bytes of a row of `elements`, or nil when the row is not whole blocks or overflows.
    public func rowBytes(_ elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }

    /// Whether loft can quantize (write) this type from floats.
    public var isWritable: Bool { self != .Q2_K && self != .Q3_K }
}
