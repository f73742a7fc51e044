// Reads a safetensors file through a memory mapping: the header is parsed and checked once
// (SafetensorsHeader), and each tensor is a view into the mapping, so nothing is copied and
// a tensor's pages are only read when its bytes are touched.

public final class SafetensorsReader: TensorReader {
    public let path: String
    public var format: String { "safetensors" }
    public let metadata: [(key: String, value: String)]
    /// In offset order (the order of the data in the file).
    public let tensors: [TensorInfo]

    private let file: MappedFile
    private let header: SafetensorsHeader
    /// Names as UTF-8 bytes: Swift's String equality is canonical equivalence, the format's
    /// is byte equality.
    private let index: [[UInt8]: Int]

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        header = try SafetensorsHeader.parse(file.bytes, path: path)
        metadata = header.metadata
        tensors = header.entries.map(\.info)
        var index: [[UInt8]: Int] = [:]
        index.reserveCapacity(tensors.count)
        for (position, tensor) in tensors.enumerated() { index[Array(tensor.name.utf8)] = position }
        self.index = index
    }

    /// The tensor of that exact name (byte comparison), found without a scan.
    public func tensorInfo(named name: String) -> TensorInfo? {
        index[Array(name.utf8)].map { tensors[$0] }
    }

    /// Where a tensor's bytes are in the file (absolute offsets).
    public func byteRange(for name: String) throws -> Range<Int> {
        guard let position = index[Array(name.utf8)] else { throw SafetensorsError.tensorNotFound(path: path, tensor: name) }
        let entry = header.entries[position]
        return header.dataStart + entry.begin ..< header.dataStart + entry.end
    }

    public func data(for name: String) throws -> TensorData {
        let range = try byteRange(for: name)
        let info = tensors[index[Array(name.utf8)]!]
        return TensorData(info: info, bytes: UnsafeRawBufferPointer(rebasing: file.bytes[range]), owner: file)
    }

    public func release(_ name: String) {
        guard let range = try? byteRange(for: name) else { return }
        file.release(offset: range.lowerBound, count: range.count)
    }
}
