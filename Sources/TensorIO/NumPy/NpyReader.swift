// A single .npy file as a TensorReader: one tensor, named after the file's base name
// without `.npy` (`weights/emb.npy` holds tensor `emb`).
//
// The file is memory-mapped and the header checked when opened (see NpyHeader.swift). Data
// that is little-endian and C order is returned as a view into the mapping; big-endian or
// Fortran-order data is rearranged into a buffer. As in NumPy, bytes after the data are
// ignored; fewer bytes than the header declares is an error.

public final class NpyReader: MappedTensorReader {
    public let path: String
    public var format: String { "npy" }
    public let tensors: [TensorInfo]
    public let header: NpyHeader

    public let source: ReaderBytes

    public init(path: String, source: ReaderBytes) throws {
        self.path = path
        self.source = source
        let bytes = source.bytes
        let name = NpyReader.tensorName(path: path)
        header = try NpyFormat.parse(bytes, path: path, tensor: name)
        let available = bytes.count - header.dataOffset
        guard available >= header.byteCount else {
            throw NpyError.shortData(path: path, tensor: name, expected: header.byteCount, available: available)
        }
        tensors = [TensorInfo(name: name, dtype: header.dtype, shape: header.shape)]
    }

    /// `dir/name.npy` -> `name`; a file without the extension keeps its whole base name.
    static func tensorName(path: String) -> String {
        let base = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        return base.hasSuffix(".npy") ? String(base.dropLast(4)) : base
    }

    public func data(for name: String) throws -> TensorData {
        guard name == tensors[0].name else { throw NpyError.unknownTensor(path: path, tensor: name) }
        let source = UnsafeRawBufferPointer(rebasing: bytes[header.dataOffset..<(header.dataOffset + header.byteCount)])
        return NpyLayout.tensorData(info: tensors[0], header: header, source: source, owner: owner)
    }

    public func release(_ name: String) {
        source.release(offset: header.dataOffset, count: header.byteCount)
    }
}
