// What every reader offers: the list of tensors from the header alone, then the bytes of one
// tensor at a time, so a caller can stream a checkpoint larger than memory.

public protocol TensorReader: AnyObject {
    /// The path the user gave (file, directory or index).
    var path: String { get }
    /// "safetensors", "safetensors-sharded", "npy", "npz" (TensorFile.formats' names).
    var format: String { get }
    /// File-level metadata in the order read (safetensors `__metadata__`, index `metadata`).
    var metadata: [(key: String, value: String)] { get }
    /// Every tensor, in file order (for shards: the index's `weight_map` order).
    var tensors: [TensorInfo] { get }
    /// The bytes of one tensor, little-endian, C order. Throws if the name is unknown or the
    /// data fails a check that could not be made from the header (CRC, inflate size).
    func data(for name: String) throws -> TensorData
    /// Hint that the caller is done with a tensor: a mapped reader drops its pages, so
    /// resident memory stays near one tensor while streaming a whole file.
    func release(_ name: String)
    /// The tensor of that exact name (a reader with an index answers without a scan).
    func info(for name: String) -> TensorInfo?
    /// What the reader decided that the user should hear (a PyTorch checkpoint: where the
    /// state dict was found, entries that are not tensors). Commands print them as notes.
    var notes: [String] { get }
    /// Entries of the file that are not tensors, with a short description (a checkpoint's
    /// `epoch: int 3`): listed by inspect, skipped by convert.
    var otherEntries: [(name: String, value: String)] { get }
    /// How the file stores a tensor when that differs from its dtype (a GGUF quantization
    /// such as "Q8_0", dequantized on read); nil otherwise.
    func storageType(for name: String) -> String?
    /// Tensors that are exactly another tensor of the file (tied weights saved as one
    /// storage, same offset, shape, strides and dtype): name -> the name kept for both.
    /// A safetensors output writes such a tensor once (TensorConversion).
    var aliases: [String: String] { get }
    /// The reader of the files themselves: self, or for a reader that presents another's
    /// tensors differently (MLXQuantizedReader) the one it wraps. Questions about files and
    /// shards (which shard holds a tensor, the input paths) go to it.
    var storageReader: TensorReader { get }
}

extension TensorReader {
    public func release(_ name: String) {}
    public var notes: [String] { [] }
    public var otherEntries: [(name: String, value: String)] { [] }

    public func storageType(for name: String) -> String? { nil }
    public var aliases: [String: String] { [:] }
    public var storageReader: TensorReader { self }

    public func info(for name: String) -> TensorInfo? {
        let key = TensorNameKey(name)
        return tensors.first { TensorNameKey($0.name) == key }
    }

    /// Total data bytes of all tensors.
    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
}

/// Sharded readers also say which file holds which tensor.
public protocol ShardedTensorReader: TensorReader {
    /// Shard file names (relative to the checkpoint directory) in order, with their tensors.
    var shards: [(file: String, tensors: [String])] { get }
}
