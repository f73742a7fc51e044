// GGUF's little-endian fields as bytes, for the writer's header.

struct GGUFEncoding {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    mutating func append(_ value: GGUFValue) {
        switch value {
        case let .uint8(v): append(v)
        case let .int8(v): append(v)
        case let .uint16(v): append(v)
        case let .int16(v): append(v)
        case let .uint32(v): append(v)
        case let .int32(v): append(v)
        case let .float32(v): append(v.bitPattern)
        case let .bool(v): append(UInt8(v ? 1 : 0))
        case let .string(s): append(s)
        case let .uint64(v): append(v)
        case let .int64(v): append(v)
        case let .float64(v): append(v.bitPattern)
        case let .array(type, items):
            append(type.rawValue)
            append(UInt64(items.count))
            for item in items { append(item) }
        }
    }

    mutating func pad(to alignment: Int) {
        bytes.append(contentsOf: repeatElement(0, count: (alignment - bytes.count % alignment) % alignment))
    }
}
