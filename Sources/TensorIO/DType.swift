// The 22 element types of the safetensors format, in the reference implementation's order.
//
// The order matters: the safetensors writer sorts tensors by dtype in *descending* order of
// this list (then by name), so `referenceOrder` is part of the byte-exact output.

public enum DType: String, CaseIterable, Sendable, Hashable {
    case BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ
    case I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64
    /// complex128: NumPy's `<c16`. Not a safetensors dtype (the safetensors writer refuses
    /// it); it exists so an .npy/.npz of complex128 can be inspected and converted to C64.
    case C128

    /// The 22 dtypes of the safetensors format, in the reference's order.
    public static let safetensorsTypes: [DType] = Array(allCases.dropLast())
    public var isSafetensorsType: Bool { self != .C128 }

    /// Bits per element (F4 and F6_* are sub-byte; C64 is a pair of F32).
    public var bitWidth: Int {
        switch self {
        case .F4: return 4
        case .F6_E2M3, .F6_E3M2: return 6
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ: return 8
        case .I16, .U16, .F16, .BF16: return 16
        case .I32, .U32, .F32: return 32
        case .C64, .F64, .I64, .U64: return 64
        case .C128: return 128
        }
    }

    /// Position in the reference's list (0 = BOOL ... 21 = U64; C128 after them).
    public var referenceOrder: Int { DType.allCases.firstIndex(of: self)! }

    /// Whole bytes per element, or nil for the sub-byte types F4 and F6_*.
    public var byteWidth: Int? { bitWidth % 8 == 0 ? bitWidth / 8 : nil }

    /// The types whose values loft converts between (the others are copied byte-exact only).
    public static let valueTypes: [DType] = [
        .BOOL, .U8, .U16, .U32, .U64, .I8, .I16, .I32, .I64,
        .F16, .BF16, .F32, .F64, .F8_E4M3, .F8_E5M2,
    ]
    public var supportsValueConversion: Bool { DType.valueTypes.contains(self) }

    public var isFloatingPoint: Bool {
        switch self {
        case .F4, .F6_E2M3, .F6_E3M2, .F8_E5M2, .F8_E4M3, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ,
             .F16, .BF16, .F32, .F64:
            return true
        default: return false
        }
    }

    /// Parses a name as written on the command line: the safetensors name, any case,
    /// or a common alias (float32, fp16, bfloat16, int8, ...).
    public init?(userName: String) {
        let key = userName.uppercased()
        if let exact = DType(rawValue: key) { self = exact; return }
        let aliases: [String: DType] = [
            "BOOL_": .BOOL, "FLOAT32": .F32, "FP32": .F32, "FLOAT": .F32, "FLOAT16": .F16, "FP16": .F16,
            "HALF": .F16, "BFLOAT16": .BF16, "FLOAT64": .F64, "FP64": .F64, "DOUBLE": .F64,
            "INT8": .I8, "INT16": .I16, "INT32": .I32, "INT64": .I64,
            "UINT8": .U8, "UINT16": .U16, "UINT32": .U32, "UINT64": .U64,
            "FLOAT8_E4M3FN": .F8_E4M3, "FP8_E4M3": .F8_E4M3, "E4M3": .F8_E4M3,
            "FLOAT8_E5M2": .F8_E5M2, "FP8_E5M2": .F8_E5M2, "E5M2": .F8_E5M2,
            "COMPLEX64": .C64,
        ]
        guard let alias = aliases[key] else { return nil }
        self = alias
    }
}
