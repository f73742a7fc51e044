// Reads a GGUF file through a memory mapping. The header is parsed and checked once
// (GGUFHeader); tensors of a plain type (F32, F16, BF16, F64, integers) are views into the
// mapping, quantized tensors are dequantized to float32 on request. `storedData` gives the
// bytes as stored, for writers that copy a tensor unchanged.

public final class GGUFReader: MappedTensorReader {
    public let path: String
    public var format: String { "gguf" }
    public let header: GGUFHeader
    /// Metadata as text for `loft inspect` (long arrays summarised).
    public let metadata: [(key: String, value: String)]
    /// In file order, with shapes in the usual (outermost first) order.
    public let tensors: [TensorInfo]

    public let source: ReaderBytes
    private let index: [String: Int]

    public init(path: String, source: ReaderBytes) throws {
        self.path = path
        self.source = source
        header = try GGUFHeader.parse(source.bytes, path: path)
        metadata = [("gguf.version", String(header.version))] + header.metadata.map { ($0.key, $0.value.text) }
        tensors = header.tensors.map(\.info)
        var index: [String: Int] = [:]
        for (position, entry) in header.tensors.enumerated() { index[entry.name] = position }
        self.index = index
    }

    public func entry(_ name: String) -> GGUFTensorEntry? { index[name].map { header.tensors[$0] } }

    public func info(for name: String) -> TensorInfo? { entry(name)?.info }

    public func storageType(for name: String) -> String? { entry(name)?.type.name }

    private func require(_ name: String) throws -> GGUFTensorEntry {
        guard let entry = entry(name) else { throw GGUFError(path: path, "no tensor named \(name)") }
        return entry
    }

    /// The tensor's bytes as stored (quantized blocks for a quantized type).
    public func storedData(for name: String) throws -> UnsafeRawBufferPointer {
        let entry = try require(name)
        let start = header.dataStart + entry.offset
        return UnsafeRawBufferPointer(rebasing: source.bytes[start ..< start + entry.byteCount])
    }

    /// The mapping (or buffer) the stored bytes live in.
    public var owner: AnyObject? { source.owner }

    public func data(for name: String) throws -> TensorData {
        let entry = try require(name)
        let stored = try storedData(for: name)
        guard entry.type.isQuantized else { return TensorData(info: entry.info, bytes: stored, owner: source.owner) }
        let buffer = ByteBuffer(count: entry.elementCount * 4)
        GGMLCodec.decode(stored, as: entry.type, count: entry.elementCount, into: buffer.bytes.bindMemory(to: Float.self))
        return TensorData(info: entry.info, buffer: buffer)
    }

    public func release(_ name: String) {
        guard let entry = entry(name) else { return }
        source.release(offset: header.dataStart + entry.offset, count: entry.byteCount)
    }
}
