// The parsed front of a GGUF file (versions 2 and 3; they differ only in that version 3 may
// be big-endian, which loft refuses):
//
//   "GGUF", u32 version, u64 tensor count, u64 metadata count
//   metadata: string key, u32 value type, value       (string = u64 length + UTF-8)
//   tensor infos: string name, u32 n_dims, u64 dims[n_dims] (ggml order: dims[0] is the
//                 contiguous one), u32 ggml type, u64 offset (from the data section)
//   padding to `general.alignment` (default 32), then the data section
//
// Everything is validated here, before a reader hands out a byte: counts against the bytes
// left, dims (at most 4, positive, no overflow, rows of whole blocks), types, alignment,
// offsets inside the file and tensors that do not overlap.

public struct GGUFTensorEntry: Sendable {
    public let name: String
    /// ggml order (innermost first); the TensorInfo's shape is the reverse.
    public let dims: [Int]
    public let type: GGMLType
    /// From the start of the data section.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { dims.reduce(1, *) }
    public var info: TensorInfo { TensorInfo(name: name, dtype: type.readType, shape: dims.reversed()) }
}

public struct GGUFHeader: Sendable {
    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32
    public static let maxDims = 4

    public let version: UInt32
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorEntry]
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataStart: Int

    public func value(_ key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }

    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> GGUFHeader {
        var cursor = GGUFCursor(bytes: bytes, path: path)
        guard bytes.count >= 4, bytes.starts(with: magic) else { throw cursor.fail("not a GGUF file (no \"GGUF\" magic)") }
        cursor.position = 4
        let version = try cursor.load(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 { throw cursor.fail("big-endian GGUF; loft reads little-endian files only") }
            throw cursor.fail("GGUF version \(version); loft reads versions 2 and 3")
        }
        // A tensor info takes at least 24 bytes (empty name, 0 dims); a key-value pair 13.
        let tensorCount = try cursor.count("tensor count", minimumSize: 24)
        let metadataCount = try cursor.count("metadata count", minimumSize: 13)

        var metadata: [(key: String, value: GGUFValue)] = []
        var keys = Set<String>()
        for index in 0..<metadataCount {
            let key = try cursor.string("metadata key \(index)")
            guard keys.insert(key).inserted else { throw cursor.fail("metadata key \(key) appears twice") }
            let start = cursor.position
            let rawType = try cursor.load(UInt32.self, "type of \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else { throw cursor.fail("metadata \(key): unknown value type \(rawType) at byte \(start)") }
            metadata.append((key, try cursor.value(type, key: key)))
        }

        var alignment = defaultAlignment
        if let entry = metadata.first(where: { $0.key == "general.alignment" }) {
            guard case let .uint32(value) = entry.value else { throw cursor.fail("general.alignment is a \(entry.value.type), not uint32") }
            guard value > 0, value & (value - 1) == 0, value <= 1 << 30 else { throw cursor.fail("general.alignment \(value) is not a power of two") }
            alignment = Int(value)
        }

        var infos: [(name: String, dims: [Int], type: GGMLType, offset: Int, start: Int)] = []
        var names = Set<String>()
        for index in 0..<tensorCount {
            let start = cursor.position
            let name = try cursor.string("name of tensor \(index)")
            guard names.insert(name).inserted else { throw cursor.fail("tensor \(name) appears twice") }
            let dimCount = try cursor.load(UInt32.self, "dims of \(name)")
            guard dimCount <= UInt32(maxDims) else { throw cursor.fail("tensor \(name): \(dimCount) dimensions (ggml has at most \(maxDims))") }
            var dims: [Int] = []
            for _ in 0..<Int(dimCount) {
                let dim = try cursor.load(UInt64.self, "a dimension of \(name)")
                guard dim <= UInt64(Int64.max) else { throw cursor.fail("tensor \(name): dimension \(dim) too large") }
                dims.append(Int(dim))
            }
            let rawType = try cursor.load(UInt32.self, "type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else { throw cursor.fail("tensor \(name): unknown or unsupported ggml type \(rawType)") }
            let offset = try cursor.load(UInt64.self, "offset of \(name)")
            guard offset <= UInt64(Int64.max) else { throw cursor.fail("tensor \(name): offset \(offset) too large") }
            infos.append((name, dims, type, Int(offset), start))
        }

        let headerEnd = cursor.position
        let (padded, overflow) = headerEnd.addingReportingOverflow((alignment - headerEnd % alignment) % alignment)
        let dataStart = overflow ? Int.max : padded
        guard tensorCount == 0 || dataStart <= bytes.count else {
            throw cursor.fail("truncated: the data section would start at byte \(dataStart), the file has \(bytes.count)")
        }
        let dataSize = max(0, bytes.count - dataStart)

        var tensors: [GGUFTensorEntry] = []
        for info in infos {
            let name = info.name
            // The product skips zeros: a tensor with no elements may not hide dimensions whose
            // product overflows, since shapes are multiplied out again in other orders later.
            var magnitude = 1
            for dim in info.dims {
                let (product, overflow) = magnitude.multipliedReportingOverflow(by: max(dim, 1))
                guard !overflow else { throw cursor.fail("tensor \(name): dimensions \(info.dims) overflow") }
                magnitude = product
            }
            let elements = info.dims.contains(0) ? 0 : magnitude
            let innermost = info.dims.first ?? 1
            guard innermost % info.type.blockSize == 0 else {
                throw cursor.fail("tensor \(name): rows of \(innermost) are not whole \(info.type) blocks of \(info.type.blockSize)")
            }
            let (size, sizeOverflow) = (elements / info.type.blockSize).multipliedReportingOverflow(by: info.type.typeSize)
            guard !sizeOverflow, magnitude <= Int.max / 8 else { throw cursor.fail("tensor \(name): \(info.dims) is too large") }
            guard info.offset % alignment == 0 else {
                throw cursor.fail("tensor \(name): offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            guard info.offset <= dataSize, size <= dataSize - info.offset else {
                throw cursor.fail("tensor \(name): \(size) bytes at data offset \(info.offset) run past the end of the file (data section \(dataSize) bytes)")
            }
            tensors.append(GGUFTensorEntry(name: name, dims: info.dims, type: info.type, offset: info.offset, byteCount: size))
        }
        let byOffset = tensors.sorted { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.byteCount > 0 && b.byteCount > 0 && a.offset + a.byteCount > b.offset {
            throw cursor.fail("tensors \(a.name) and \(b.name) overlap (data offsets \(a.offset) and \(b.offset))")
        }
        return GGUFHeader(version: version, metadata: metadata, tensors: tensors, alignment: alignment, dataStart: dataStart)
    }
}
