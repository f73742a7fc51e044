// An .npz archive as a TensorReader: a zip whose members are .npy files. Member `a.npy` is
// tensor `a`; a member without the extension keeps its whole name (as np.load's keys).
//
// Opening reads the central directory (ZipDirectory.swift checks it all: bounds, overlaps,
// local headers, names) and each member's .npy header (NpyHeader.swift), inflating only
// the header of a deflated member. The member's size in the zip must equal what its .npy
// header implies. Data is read per tensor: a stored member is a view into the mapping when
// little-endian, C order and aligned; a deflated member is inflated to exactly the size its
// header declares, and one byte more is an error (zip bomb). CRC-32 is checked on every
// data read.

public final class NpzReader: MappedTensorReader {
    public let path: String
    public var format: String { "npz" }
    public let tensors: [TensorInfo]

    private struct Member {
        let entry: ZipEntry
        let info: TensorInfo
        let header: NpyHeader
    }

    private let members: [TensorNameKey: Member]
    public let source: ReaderBytes

    public init(path: String, source: ReaderBytes) throws {
        self.path = path
        self.source = source
        let bytes = source.bytes
        var members: [TensorNameKey: Member] = [:]
        var tensors: [TensorInfo] = []
        for entry in try ZipDirectory.read(bytes, path: path) {
            let name = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
            // `a` and `a.npy` would both be key `a`.
            guard members[TensorNameKey(name)] == nil else { throw ZipError.duplicateName(path: path, member: entry.name) }
            let header = try NpzReader.readHeader(entry, bytes: bytes, path: path, tensor: name)
            let (total, overflow) = header.dataOffset.addingReportingOverflow(header.byteCount)
            if !overflow && total > entry.uncompressedSize {
                throw NpyError.shortData(path: path, tensor: name, expected: header.byteCount, available: entry.uncompressedSize - header.dataOffset)
            }
            // Longer than the header implies: NumPy would ignore the rest; loft refuses, since
            // a deflated member must end exactly where its header says (zip bombs).
            guard !overflow, total == entry.uncompressedSize else {
                throw ZipError.sizeMismatch(path: path, member: entry.name, zipSize: entry.uncompressedSize, npySize: overflow ? Int.max : total)
            }
            let info = TensorInfo(name: name, dtype: header.dtype, shape: header.shape)
            members[TensorNameKey(name)] = Member(entry: entry, info: info, header: header)
            tensors.append(info)
        }
        self.members = members
        self.tensors = tensors
    }

    private static func compressed(_ entry: ZipEntry, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[entry.dataOffset..<(entry.dataOffset + entry.compressedSize)])
    }

    private static func readHeader(_ entry: ZipEntry, bytes: UnsafeRawBufferPointer, path: String, tensor: String) throws -> NpyHeader {
        let source = compressed(entry, in: bytes)
        if entry.method == 0 { return try NpyFormat.parse(source, path: path, tensor: tensor) }
        let inflater = try RawInflater(input: source, path: path, member: entry.name)
        return try inflateHeader(inflater, entry: entry, path: path, tensor: tensor).header
    }

    /// Inflates just the .npy header: first the fixed prefix, then the length it declares,
    /// never past the member's uncompressed size. A 1.0 header can end inside the 12-byte
    /// prefix (a hostile length of 0 or 1); the bytes after it are data, returned as `spill`.
    private static func inflateHeader(_ inflater: RawInflater, entry: ZipEntry, path: String, tensor: String) throws -> (header: NpyHeader, bytes: [UInt8], spill: [UInt8]) {
        var text = [UInt8](repeating: 0, count: min(NpyFormat.prefixLength, entry.uncompressedSize))
        try text.withUnsafeMutableBytes { try inflater.fill($0) }
        let end = try text.withUnsafeBytes { try NpyFormat.headerEnd(prefix: $0, path: path, tensor: tensor).end }
        guard end <= entry.uncompressedSize else {
            throw NpyError.headerLengthPastEnd(path: path, tensor: tensor, headerEnd: end, available: entry.uncompressedSize)
        }
        var spill: [UInt8] = []
        if end < text.count {
            spill = Array(text[end...])
            text.removeLast(text.count - end)
        } else {
            let have = text.count
            text += [UInt8](repeating: 0, count: end - have)
            try text.withUnsafeMutableBytes { try inflater.fill(UnsafeMutableRawBufferPointer(rebasing: $0[have...])) }
        }
        let header = try text.withUnsafeBytes { try NpyFormat.parse($0, path: path, tensor: tensor) }
        return (header, text, spill)
    }

    public func data(for name: String) throws -> TensorData {
        guard let member = members[TensorNameKey(name)] else { throw NpyError.unknownTensor(path: path, tensor: name) }
        let entry = member.entry
        let source = NpzReader.compressed(entry, in: bytes)
        if entry.method == 0 {
            try checkCRC(entry, CRC32.checksum(source))
            let data = UnsafeRawBufferPointer(rebasing: source[member.header.dataOffset...])
            return NpyLayout.tensorData(info: member.info, header: member.header, source: data, owner: owner)
        }
        let inflater = try RawInflater(input: source, path: path, member: entry.name)
        let (_, headerBytes, spill) = try NpzReader.inflateHeader(inflater, entry: entry, path: path, tensor: name)
        let buffer = ByteBuffer(count: member.header.byteCount)
        // The sizes were checked at open: header + data == member size, so spill fits.
        for (i, byte) in spill.enumerated() { buffer.bytes[i] = byte }
        try inflater.fill(UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[spill.count...]))
        try inflater.expectEnd(limit: entry.uncompressedSize)
        let crc = headerBytes.withUnsafeBytes { CRC32.checksum($0) }
        try checkCRC(entry, CRC32.checksum(UnsafeRawBufferPointer(buffer.bytes), continuing: crc))
        return NpyLayout.tensorData(info: member.info, header: member.header, buffer: buffer)
    }

    private func checkCRC(_ entry: ZipEntry, _ actual: UInt32) throws {
        guard actual == entry.crc32 else { throw ZipError.crcMismatch(path: path, member: entry.name, expected: entry.crc32, actual: actual) }
    }

    public func release(_ name: String) {
        guard let entry = members[TensorNameKey(name)]?.entry else { return }
        source.release(offset: entry.dataOffset, count: entry.compressedSize)
    }
}
