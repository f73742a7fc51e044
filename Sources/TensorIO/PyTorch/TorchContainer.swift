// What both PyTorch containers hand the reader: the objects of the main pickle, where each
// storage's bytes are in the file, and their byte order.

struct TorchContainer {
    let heap: PickleHeap
    let root: PickleRef
    /// Storage key -> its bytes' range in the file.
    let storages: [String: Range<Int>]
    let bigEndian: Bool
    /// "pytorch-zip" or "pytorch-legacy" (TensorFile.formats' names).
    let format: String

    /// Reads either container; the zip signature decides which.
    static func read(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TorchContainer {
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B { return try TorchZipArchive.read(bytes, path: path) }
        return try TorchLegacyFile.read(bytes, path: path)
    }
}
