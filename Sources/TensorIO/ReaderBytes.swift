// The bytes a reader reads from: a file's read-only mapping, or memory its caller keeps
// alive (the fuzz targets), with the owner every returned view must hold. A reader of such
// bytes (MappedTensorReader) gets both ways of opening from one initialiser.

public protocol MappedTensorReader: TensorReader {
    init(path: String, source: ReaderBytes) throws
    /// The mapped file (or the caller's memory) the reader was opened on.
    var source: ReaderBytes { get }
}

extension MappedTensorReader {
    /// npy and npz carry no file-level metadata.
    public var metadata: [(key: String, value: String)] { [] }
    var bytes: UnsafeRawBufferPointer { source.bytes }
    var owner: AnyObject? { source.owner }

    public init(path: String) throws { try self.init(path: path, source: ReaderBytes(path: path)) }

    /// Reads from memory the caller keeps alive through `owner` (the fuzz targets use this).
    init(path: String, bytes: UnsafeRawBufferPointer, owner: AnyObject?) throws {
        try self.init(path: path, source: ReaderBytes(bytes: bytes, owner: owner))
    }
}

public struct ReaderBytes {
    let bytes: UnsafeRawBufferPointer
    let owner: AnyObject?

    init(path: String) throws {
        let file = try MappedFile(path: path)
        bytes = file.bytes
        owner = file
    }

    init(bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        self.bytes = bytes
        self.owner = owner
    }

    /// Drops a range's pages from the resident set when the bytes are a mapping.
    func release(offset: Int, count: Int) { (owner as? MappedFile)?.release(offset: offset, count: count) }
}
