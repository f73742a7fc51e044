// The header of a safetensors file, read and checked.
//
// Layout: u64 little-endian N, then N bytes of UTF-8 JSON, then the data buffer.
//
//     {"__metadata__": {"format": "pt"},
//      "weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
//
// Offsets are relative to the data buffer, `end` exclusive. The checks run in the reference's
// order (safetensors 0.8, `read_metadata` then `Metadata::validate`), so a file with several
// faults gets the error the reference would give:
//   1 HeaderTooSmall  2 HeaderTooLarge  3 InvalidHeaderLength  4 InvalidHeader (UTF-8)
//   5 InvalidHeaderDeserialization (and our stricter DuplicateKey)
//   then per tensor in offset order: 6 InvalidOffset  7 ValidationOverflow
//   8 MisalignedSlice (sub-byte) / TensorInvalidInfo  and last 9 MetadataIncompleteBuffer.
// Nothing here allocates more than a small multiple of the header, which is capped at 100 MB.

struct SafetensorsHeader {
    struct Entry {
        var info: TensorInfo
        /// Offsets into the data buffer (after the header).
        var begin: Int
        var end: Int
    }

    static let maxHeaderSize: UInt64 = 100_000_000

    var metadata: [(key: String, value: String)]
    /// In offset order.
    var entries: [Entry]
    /// 8 + N: where the data buffer starts in the file.
    var dataStart: Int

    /// An entry as declared, before validation (numbers may not fit in Int yet).
    private struct Declared {
        var name: String
        var dtype: DType
        var shape: [UInt64]
        var begin: UInt64
        var end: UInt64
    }

    static func parse(_ file: UnsafeRawBufferPointer, path: String) throws -> SafetensorsHeader {
        guard file.count >= 8 else { throw SafetensorsError.headerTooSmall(path: path, fileSize: file.count) }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(file[i]) << (8 * UInt64(i)) }
        guard n <= maxHeaderSize else { throw SafetensorsError.headerTooLarge(path: path, declared: n) }
        guard 8 + Int(n) <= file.count else {
            throw SafetensorsError.invalidHeaderLength(path: path, declared: n, fileSize: file.count)
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<8 + Int(n)])
        if let bad = firstInvalidUTF8(headerBytes) { throw SafetensorsError.invalidHeader(path: path, byteOffset: bad) }

        let (metadata, declared) = try parseJSON(headerBytes, path: path)

        // The reference sorts by (begin, end); ties keep document order here so errors are
        // reproducible (the reference's order among ties comes from a hash map).
        // Sorting positions, not the entries, keeps a million-tensor header fast.
        let order = declared.indices.sorted {
            (declared[$0].begin, declared[$0].end, $0) < (declared[$1].begin, declared[$1].end, $1)
        }
        var entries: [Entry] = []
        entries.reserveCapacity(order.count)
        var start: UInt64 = 0
        for position in order {
            let tensor = declared[position]
            if tensor.begin != start || tensor.end < tensor.begin {
                let reason = tensor.end < tensor.begin
                    ? "end \(tensor.end) is before begin \(tensor.begin)"
                    : (tensor.begin < start ? "begin \(tensor.begin) overlaps the previous tensor, which ends at \(start)"
                        : "begin \(tensor.begin) leaves a gap after \(start)")
                throw SafetensorsError.invalidOffset(path: path, tensor: tensor.name, reason: reason)
            }
            start = tensor.end
            // Stricter than the reference's u64 arithmetic: every partial product must fit in
            // Int, since TensorInfo computes sizes in Int.
            var shape: [Int] = []
            shape.reserveCapacity(tensor.shape.count)
            for dim in tensor.shape {
                guard let value = Int(exactly: dim) else { throw SafetensorsError.validationOverflow(path: path, tensor: tensor.name) }
                shape.append(value)
            }
            var elements = 1
            for dim in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                if overflow { throw SafetensorsError.validationOverflow(path: path, tensor: tensor.name) }
                elements = product
            }
            let (bits, overflow) = elements.multipliedReportingOverflow(by: tensor.dtype.bitWidth)
            if overflow { throw SafetensorsError.validationOverflow(path: path, tensor: tensor.name) }
            if bits % 8 != 0 { throw SafetensorsError.misalignedSlice(path: path, tensor: tensor.name, bits: bits) }
            let declaredBytes = tensor.end - tensor.begin
            guard declaredBytes == UInt64(bits / 8) else {
                throw SafetensorsError.tensorInvalidInfo(path: path, tensor: tensor.name, expectedBytes: bits / 8, declaredBytes: declaredBytes)
            }
            entries.append(Entry(info: TensorInfo(name: tensor.name, dtype: tensor.dtype, shape: shape),
                                 begin: Int(tensor.begin), end: Int(tensor.end)))
        }
        let (withHeader, overflow) = start.addingReportingOverflow(8 + n)
        guard !overflow, withHeader == UInt64(file.count) else {
            throw SafetensorsError.metadataIncompleteBuffer(path: path, expectedFileSize: overflow ? UInt64.max : withHeader, fileSize: file.count)
        }
        return SafetensorsHeader(metadata: metadata, entries: entries, dataStart: 8 + Int(n))
    }

    /// Offset of the first byte that breaks UTF-8, or nil.
    private static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        // Fast path: ASCII is the common case for headers.
        var index = 0
        while index < bytes.count, bytes[index] < 0x80 { index += 1 }
        if index == bytes.count { return nil }
        var decoder = UTF8()
        var iterator = UnsafeRawBufferPointer(rebasing: bytes[index...]).makeIterator()
        var offset = index
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private static func parseJSON(_ bytes: UnsafeRawBufferPointer, path: String) throws
        -> (metadata: [(key: String, value: String)], tensors: [Declared])
    {
        var scanner = HeaderScanner(bytes)
        var metadata: [(key: String, value: String)] = []
        var sawMetadata = false
        var tensors: [Declared] = []
        var names = Set<TensorNameKey>()
        var current: String?
        do {
            if try scanner.beginObject() {
                repeat {
                    let key = try scanner.key()
                    current = key
                    if key == "__metadata__" {
                        // A repeated field is a serde error (unlike a repeated tensor name).
                        if sawMetadata { throw scanner.fail("duplicate field `__metadata__`") }
                        sawMetadata = true
                        metadata = try parseMetadata(&scanner, path: path)
                    } else {
                        guard names.insert(TensorNameKey(key)).inserted else {
                            throw SafetensorsError.duplicateKey(path: path, key: key)
                        }
                        var tensor = try parseEntry(&scanner)
                        tensor.name = key
                        tensors.append(tensor)
                    }
                    current = nil
                } while try scanner.continues(closing: UInt8(ascii: "}"))
            }
            scanner.skipWhitespace()
            if !scanner.atEnd { throw scanner.fail("trailing characters") }
        } catch let error as HeaderSyntaxError {
            throw SafetensorsError.invalidHeaderDeserialization(path: path, tensor: current == "__metadata__" ? nil : current, reason: error.reason)
        }
        return (metadata, tensors)
    }

    private static func parseMetadata(_ scanner: inout HeaderScanner, path: String) throws -> [(key: String, value: String)] {
        if scanner.null() { return [] }
        var metadata: [(key: String, value: String)] = []
        var keys = Set<TensorNameKey>()
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "{") else { throw scanner.fail("__metadata__ must be an object of strings") }
        guard try scanner.beginObject() else { return [] }
        repeat {
            let key = try scanner.key()
            guard keys.insert(TensorNameKey(key)).inserted else {
                throw SafetensorsError.duplicateKey(path: path, key: "__metadata__.\(key)")
            }
            scanner.skipWhitespace()
            guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.fail("metadata value of \"\(key)\" is not a string") }
            metadata.append((key, try scanner.string()))
        } while try scanner.continues(closing: UInt8(ascii: "}"))
        return metadata
    }

    /// `{"dtype": ..., "shape": [...], "data_offsets": [b, e]}` (other fields ignored), or the
    /// sequence form `[dtype, shape, data_offsets]` that serde also accepts for a struct.
    private static func parseEntry(_ scanner: inout HeaderScanner) throws -> Declared {
        var dtype: DType?
        var shape: [UInt64]?
        var offsets: (UInt64, UInt64)?
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "[") {
            guard try scanner.beginArray() else { throw scanner.fail("invalid length 0, expected struct TensorInfo with 3 elements") }
            dtype = try parseDType(&scanner)
            guard try scanner.continues(closing: UInt8(ascii: "]")) else { throw scanner.fail("invalid length 1, expected 3 elements") }
            shape = try parseShape(&scanner)
            guard try scanner.continues(closing: UInt8(ascii: "]")) else { throw scanner.fail("invalid length 2, expected 3 elements") }
            offsets = try parseOffsets(&scanner)
            guard try !scanner.continues(closing: UInt8(ascii: "]")) else { throw scanner.fail("invalid length, expected 3 elements") }
        } else {
            guard scanner.peek() == UInt8(ascii: "{") else { throw scanner.fail("a tensor entry must be an object") }
            if try scanner.beginObject() {
                repeat {
                    let field = try scanner.key()
                    switch field {
                    case "dtype":
                        if dtype != nil { throw scanner.fail("duplicate field `dtype`") }
                        dtype = try parseDType(&scanner)
                    case "shape":
                        if shape != nil { throw scanner.fail("duplicate field `shape`") }
                        shape = try parseShape(&scanner)
                    case "data_offsets":
                        if offsets != nil { throw scanner.fail("duplicate field `data_offsets`") }
                        offsets = try parseOffsets(&scanner)
                    default:
                        try scanner.skipValue(depth: 2)
                    }
                } while try scanner.continues(closing: UInt8(ascii: "}"))
            }
        }
        guard let dtype else { throw scanner.fail("missing field `dtype`") }
        guard let shape else { throw scanner.fail("missing field `shape`") }
        guard let offsets else { throw scanner.fail("missing field `data_offsets`") }
        return Declared(name: "", dtype: dtype, shape: shape, begin: offsets.0, end: offsets.1)
    }

    private static func parseDType(_ scanner: inout HeaderScanner) throws -> DType {
        let start = scanner.position
        let name = try scanner.string()
        guard let dtype = DType(rawValue: name), dtype.isSafetensorsType else {
            scanner.position = start
            throw scanner.fail("unknown dtype \"\(name.prefix(40))\"")
        }
        return dtype
    }

    private static func parseShape(_ scanner: inout HeaderScanner) throws -> [UInt64] {
        var shape: [UInt64] = []
        guard try scanner.beginArray() else { return shape }
        repeat { shape.append(try scanner.unsigned()) } while try scanner.continues(closing: UInt8(ascii: "]"))
        return shape
    }

    private static func parseOffsets(_ scanner: inout HeaderScanner) throws -> (UInt64, UInt64) {
        guard try scanner.beginArray() else { throw scanner.fail("invalid length 0, expected 2 data_offsets") }
        let begin = try scanner.unsigned()
        guard try scanner.continues(closing: UInt8(ascii: "]")) else { throw scanner.fail("invalid length 1, expected 2 data_offsets") }
        let end = try scanner.unsigned()
        guard try !scanner.continues(closing: UInt8(ascii: "]")) else { throw scanner.fail("more than 2 data_offsets") }
        return (begin, end)
    }
}
