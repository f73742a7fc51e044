// Reads GGUF's little-endian fields from memory, checking each length against the bytes
// left before trusting it: a hostile count or string length is refused, never allocated.

struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var position = 0

    var remaining: Int { bytes.count - position }

    func fail(_ problem: String) -> GGUFError { GGUFError(path: path, problem) }

    mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        guard remaining >= MemoryLayout<T>.size else {
            throw fail("truncated: \(what()) at byte \(position) needs \(MemoryLayout<T>.size) bytes, \(remaining) left")
        }
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
        position += MemoryLayout<T>.size
        return value
    }

    /// A u64 count that must fit in what is left at `minimumSize` bytes per item.
    mutating func count(_ what: @autoclosure () -> String, minimumSize: Int) throws -> Int {
        let start = position
        let raw = try load(UInt64.self, what())
        guard raw <= UInt64(remaining / max(1, minimumSize)) else {
            throw fail("\(what()) \(raw) at byte \(start) cannot fit in the \(remaining) bytes left")
        }
        return Int(raw)
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let start = position
        let length = try load(UInt64.self, "\(what()) length")
        guard length <= UInt64(remaining) else {
            throw fail("\(what()) at byte \(start): length \(length) runs past the end of the file (\(remaining) bytes left)")
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position ..< position + Int(length)]), as: UTF8.self)
        position += Int(length)
        return text
    }

    mutating func value(_ type: GGUFValueType, key: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, "\(key) (uint8)"))
        case .int8: return .int8(try load(Int8.self, "\(key) (int8)"))
        case .uint16: return .uint16(try load(UInt16.self, "\(key) (uint16)"))
        case .int16: return .int16(try load(Int16.self, "\(key) (int16)"))
        case .uint32: return .uint32(try load(UInt32.self, "\(key) (uint32)"))
        case .int32: return .int32(try load(Int32.self, "\(key) (int32)"))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, "\(key) (float32)")))
        case .uint64: return .uint64(try load(UInt64.self, "\(key) (uint64)"))
        case .int64: return .int64(try load(Int64.self, "\(key) (int64)"))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, "\(key) (float64)")))
        case .bool:
            let start = position
            let raw = try load(UInt8.self, "\(key) (bool)")
            guard raw <= 1 else { throw fail("metadata \(key): bool at byte \(start) is \(raw), not 0 or 1") }
            return .bool(raw == 1)
        case .string: return .string(try string("metadata \(key) string"))
        case .array:
            guard depth < 8 else { throw fail("metadata \(key): arrays nested more than 8 deep") }
            let start = position
            let rawType = try load(UInt32.self, "\(key) array type")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw fail("metadata \(key): unknown array element type \(rawType) at byte \(start)")
            }
            let count = try self.count("metadata \(key): array count", minimumSize: elementType.minimumSize)
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try value(elementType, key: key, depth: depth + 1)) }
            return .array(of: elementType, items)
        }
    }
}
