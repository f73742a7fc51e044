// A PyTorch checkpoint (.bin, .pt, .pth, .ckpt) as a TensorReader, read without running any
// of its code: the container (TorchZipArchive or TorchLegacyFile) gives the pickle's objects
// and where each storage is; TorchStateDict picks the state dict and names the tensors;
// TorchTensorLayout checks each tensor against its storage. Opening reads only the pickle
// and the zip directory; tensor bytes stay in the mapping until asked for, and a contiguous
// tensor is a view of it. Tensors sharing a storage (tied weights) each read their own view;
// those that are exactly the same tensor are reported as `aliases`.

public final class PyTorchReader: MappedTensorReader {
    public let path: String
    public let format: String
    public let tensors: [TensorInfo]
    public let notes: [String]
    public let otherEntries: [(name: String, value: String)]
    public let aliases: [String: String]

    private let layouts: [TensorNameKey: TorchTensorLayout]
    public let source: ReaderBytes
    private let bigEndian: Bool

    public convenience init(path: String, source: ReaderBytes) throws {
        try self.init(path: path, source: source, key: nil)
    }

    public convenience init(path: String, key: String?) throws {
        try self.init(path: path, source: ReaderBytes(path: path), key: key)
    }

    /// `key`: where the state dict is (`--key`); nil to find it (TorchStateDict).
    public init(path: String, source: ReaderBytes, key: String?) throws {
        self.path = path
        self.source = source
        let container = try TorchContainer.read(source.bytes, path: path)
        format = container.format
        bigEndian = container.bigEndian
        let selected = try TorchStateDict.select(container.heap, root: container.root, key: key, path: path)
        var layouts: [TensorNameKey: TorchTensorLayout] = [:]
        var tensors: [TensorInfo] = []
        for (name, record) in selected.tensors {
            let layout = try TorchTensorLayout(name: name, record: record, storages: container.storages, path: path)
            layouts[TensorNameKey(name)] = layout
            tensors.append(layout.info)
        }
        self.layouts = layouts
        self.tensors = tensors
        aliases = Self.aliases(tensors.map { ($0.name, layouts[TensorNameKey($0.name)]!) })
        otherEntries = selected.others
        var notes = selected.notes
        if !selected.others.isEmpty {
            let names = selected.others.map(\.name)
            notes.append("\(names.count) non-tensor \(names.count == 1 ? "entry" : "entries") not read as tensors: "
                + (names.count <= 4 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + ", ... (\(names.count - 3) more)"))
        }
        self.notes = notes
    }

    public func info(for name: String) -> TensorInfo? { layouts[TensorNameKey(name)]?.info }

    /// Groups of tensors with the same bytes and layout (a tied head saved as the embedding's
    /// storage). The name kept is the one transformers loads: not a `lm_head.weight` (its
    /// models list the head among the tied keys to drop), else the first in byte order.
    /// Views that differ (a transpose, a slice of the same storage) are not aliases.
    static func aliases(_ layouts: [(name: String, layout: TorchTensorLayout)]) -> [String: String] {
        struct Identity: Hashable {
            let storage: Range<Int>, offset: Int, stride: [Int], shape: [Int], dtype: DType
        }
        var groups: [Identity: [String]] = [:]
        for (name, layout) in layouts where layout.info.elementCount > 0 {
            let identity = Identity(storage: layout.storage, offset: layout.offset, stride: layout.stride, shape: layout.info.shape, dtype: layout.info.dtype)
            groups[identity, default: []].append(name)
        }
        var aliases: [String: String] = [:]
        for names in groups.values where names.count > 1 {
            let ordered = names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            let kept = ordered.first { !$0.hasSuffix("lm_head.weight") } ?? ordered[0]
            for name in ordered where name != kept { aliases[name] = kept }
        }
        return aliases
    }

    public func data(for name: String) throws -> TensorData {
        guard let layout = layouts[TensorNameKey(name)] else { throw PyTorchError.unknownTensor(path: path, tensor: name) }
        return layout.data(file: source.bytes, owner: source.owner, bigEndian: bigEndian)
    }

    public func release(_ name: String) {
        guard let layout = layouts[TensorNameKey(name)], !layout.extent.isEmpty else { return }
        source.release(offset: layout.storage.lowerBound + layout.extent.lowerBound, count: layout.extent.count)
    }
}
