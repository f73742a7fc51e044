// A GGUF metadata value: the 13 value types of the format (type codes as the file stores
// them), arrays of any of them (arrays of arrays too).

public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value of a fixed-size type (nil for string and array).
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value can take (a string's length field, an array's type and count).
    var minimumSize: Int { fixedSize ?? (self == .string ? 8 : 12) }
}

public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// Elements all of `of` (the file stores the element type once).
    case array(of: GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    /// An integer of any width (nil for other types or a UInt64 beyond Int).
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(exactly: v)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    public var arrayValue: [GGUFValue]? { if case let .array(_, items) = self { return items } else { return nil } }

    public static func strings(_ items: [String]) -> GGUFValue { .array(of: .string, items.map { .string($0) }) }
    public static func int32s(_ items: [Int]) -> GGUFValue { .array(of: .int32, items.map { .int32(Int32($0)) }) }

    /// For `loft inspect`: scalars as text, short arrays in full, long ones summarised.
    public var text: String {
        switch self {
        case let .uint8(v): return String(v)
        case let .int8(v): return String(v)
        case let .uint16(v): return String(v)
        case let .int16(v): return String(v)
        case let .uint32(v): return String(v)
        case let .int32(v): return String(v)
        case let .uint64(v): return String(v)
        case let .int64(v): return String(v)
        case let .float32(v): return String(v)
        case let .float64(v): return String(v)
        case let .bool(v): return String(v)
        case let .string(s): return s
        case let .array(type, items):
            let shown = items.prefix(items.count <= 8 ? 8 : 4).map { $0.type == .string ? "\"\($0.text)\"" : $0.text }
            let list = shown.joined(separator: ", ") + (items.count > shown.count ? ", ..." : "")
            return items.count > shown.count ? "[\(items.count) x \(type)] [\(list)]" : "[\(list)]"
        }
    }
}
