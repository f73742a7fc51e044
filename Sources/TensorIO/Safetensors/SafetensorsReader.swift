// Reads a safetensors file through a memory mapping: the header is parsed and checked once
// (SafetensorsHeader), and each tensor is a view into the mapping, so nothing is copied and
// a tensor's pages are only read when its bytes are touched.

public final class SafetensorsReader: TensorReader {
    public let path: String
    public var format: String { "safetensors" }
    public let metadata: [(key: String, value: String)]
    /// In offset order (the order of the data in the file).
    public let tensors: [TensorInfo]

    /// The mapping (nil for an in-memory buffer); `owner` keeps `bytes` alive either way.
    private let file: MappedFile?
    private let owner: AnyObject
    private let bytes: UnsafeRawBufferPointer
    private let header: SafetensorsHeader
    /// Names as UTF-8 bytes: Swift's String equality is canonical equivalence, the format's
    /// is byte equality.
    private let index: [TensorNameKey: Int]

    public convenience init(path: String) throws {
        let file = try MappedFile(path: path)
        try self.init(bytes: file.bytes, owner: file, path: path)
    }

    /// Reads a file already in memory (the fuzzer's entry: no disk involved). `path` only
    /// names it in errors.
    convenience init(buffer: ByteBuffer, path: String) throws {
        try self.init(bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer, path: path)
    }

    private init(bytes: UnsafeRawBufferPointer, owner: AnyObject, path: String) throws {
        self.path = path
        self.bytes = bytes
        self.owner = owner
        file = owner as? MappedFile
        header = try SafetensorsHeader.parse(bytes, path: path)
        metadata = header.metadata
        tensors = header.entries.map(\.info)
        var index: [TensorNameKey: Int] = [:]
        index.reserveCapacity(tensors.count)
        for (position, tensor) in tensors.enumerated() { index[TensorNameKey(tensor.name)] = position }
        self.index = index
    }

    /// The tensor of that exact name (byte comparison), found without a scan.
    public func tensorInfo(named name: String) -> TensorInfo? {
        index[TensorNameKey(name)].map { tensors[$0] }
    }

    public func info(for name: String) -> TensorInfo? { tensorInfo(named: name) }

    /// Where a tensor's bytes are in the file (absolute offsets).
    public func byteRange(for name: String) throws -> Range<Int> {
        guard let position = index[TensorNameKey(name)] else { throw SafetensorsError.tensorNotFound(path: path, tensor: name) }
        let entry = header.entries[position]
        return header.dataStart + entry.begin ..< header.dataStart + entry.end
    }

    public func data(for name: String) throws -> TensorData {
        let range = try byteRange(for: name)
        let info = tensors[index[TensorNameKey(name)]!]
        return TensorData(info: info, bytes: UnsafeRawBufferPointer(rebasing: bytes[range]), owner: owner)
    }

    public func release(_ name: String) {
        guard let range = try? byteRange(for: name) else { return }
        file?.release(offset: range.lowerBound, count: range.count)
    }
}
