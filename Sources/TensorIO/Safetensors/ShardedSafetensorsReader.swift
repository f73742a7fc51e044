// Reads a Hugging Face sharded checkpoint: `model.safetensors.index.json` beside shards
// `model-00001-of-00003.safetensors`, ... Any index of the same shape reads the same way
// (TensorFile.layouts: `pytorch_model.bin.index.json`); each shard is opened by TensorFile,
// so a shard may be of any format loft reads.
//
//     {"metadata": {"total_size": 123}, "weight_map": {"tensor name": "shard file", ...}}
//
// `weight_map` is the truth: the model is exactly the tensors it lists, in its order; a
// tensor that a shard holds but the map does not name is not part of the model. Every shard
// is opened (header only, the data stays mapped and unread) when the reader is made, so a
// missing shard or a tensor missing from its shard is reported up front.

import Foundation

public final class ShardedSafetensorsReader: ShardedTensorReader {
    public static let indexFileName = TensorFile.indexName
    public static let singleFileName = TensorFile.singleName

    public let path: String
    /// "safetensors-sharded", or "FORMAT-sharded" for shards of another format.
    public let format: String
    /// The index's `metadata` (numbers as their decimal text, e.g. total_size).
    public let metadata: [(key: String, value: String)]
    public let tensors: [TensorInfo]
    public let shards: [(file: String, tensors: [String])]
    /// The directory holding the shards.
    public let directory: String

    private let readers: [String: TensorReader]
    private let shardOfTensor: [TensorNameKey: String]

    /// `path` is an index JSON or a directory holding one (TensorFile.layouts: safetensors,
    /// then PyTorch). A directory with only the layout's single file is read as a checkpoint
    /// of one shard.
    /// `key`: the entry holding the state dict in each PyTorch shard (`--key`).
    public init(path: String, key: String? = nil) throws {
        self.path = path
        guard let status = PathStatus(path) else {
            throw FileError.cannotOpen(path: path, reason: "no such file or directory")
        }
        guard status.isDirectory else {
            directory = SystemPath.parent(path)
            (metadata, tensors, shards, readers, shardOfTensor) = try Self.load(index: path, directory: directory, key: key)
            format = Self.format(readers.values)
            return
        }
        directory = path
        for layout in TensorFile.layouts {
            if PathStatus.isRegularFile(SystemPath.join(path, layout.index)) {
                (metadata, tensors, shards, readers, shardOfTensor) = try Self.load(index: SystemPath.join(path, layout.index), directory: path, key: key)
                format = Self.format(readers.values)
                return
            }
            if PathStatus.isRegularFile(SystemPath.join(path, layout.single)) {
                let reader = try TensorFile.open(SystemPath.join(path, layout.single), key: key)
                metadata = reader.metadata
                tensors = reader.tensors
                shards = [(layout.single, reader.tensors.map(\.name))]
                readers = [layout.single: reader]
                shardOfTensor = Dictionary(uniqueKeysWithValues: reader.tensors.map { (TensorNameKey($0.name), layout.single) })
                format = Self.format([reader])
                return
            }
        }
        throw TensorFile.noCheckpoint(path)
    }

    private static func format(_ readers: some Collection<TensorReader>) -> String {
        let formats = Set(readers.map(\.format))
        return (formats.count == 1 ? formats.first! : "safetensors") + "-sharded"
    }

    /// Opens a checkpoint directory: the sharded reader when it has an index, else the plain
    /// reader for its single file (TensorFile.layouts).
    public static func open(directory: String) throws -> TensorReader {
        try TensorFile.open(directory: directory)
    }

    public func data(for name: String) throws -> TensorData {
        guard let shard = shardOfTensor[TensorNameKey(name)] else { throw SafetensorsError.tensorNotFound(path: path, tensor: name) }
        return try readers[shard]!.data(for: name)
    }

    public func info(for name: String) -> TensorInfo? {
        shardOfTensor[TensorNameKey(name)].flatMap { readers[$0]?.info(for: name) }
    }

    public func release(_ name: String) {
        guard let shard = shardOfTensor[TensorNameKey(name)] else { return }
        readers[shard]?.release(name)
    }

    /// The shard file (relative to `directory`) that holds a tensor.
    public func shard(of name: String) -> String? { shardOfTensor[TensorNameKey(name)] }

    /// Each shard's aliases (tied tensors are saved in one shard, as one storage).
    public var aliases: [String: String] {
        readers.values.reduce(into: [:]) { all, reader in all.merge(reader.aliases) { first, _ in first } }
    }

    private static func load(index indexPath: String, directory: String, key: String?) throws -> (
        [(key: String, value: String)], [TensorInfo], [(file: String, tensors: [String])],
        [String: TensorReader], [TensorNameKey: String]
    ) {
        let file = try MappedFile(path: indexPath)
        let root: JSONValue
        do { root = try withExtendedLifetime(file) { try JSON.parse(file.bytes) } } catch let error as JSONError {
            throw SafetensorsError.invalidIndex(path: indexPath, reason: error.message)
        }
        guard let members = root.objectMembers else { throw SafetensorsError.invalidIndex(path: indexPath, reason: "not a JSON object") }
        guard let map = root["weight_map"]?.objectMembers else {
            throw SafetensorsError.invalidIndex(path: indexPath, reason: "no \"weight_map\" object")
        }
        var metadata: [(key: String, value: String)] = []
        if let meta = members.first(where: { $0.key == "metadata" })?.value, meta != .null {
            guard let metaMembers = meta.objectMembers else { throw SafetensorsError.invalidIndex(path: indexPath, reason: "\"metadata\" is not an object") }
            metadata = metaMembers.map { ($0.key, $0.value.stringValue ?? JSON.serialize($0.value, style: .compact)) }
        }

        var readers: [String: TensorReader] = [:]
        var shards: [(file: String, tensors: [String])] = []
        var shardPosition: [String: Int] = [:]
        var shardOfTensor: [TensorNameKey: String] = [:]
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(map.count)
        for entry in map {
            guard let shard = entry.value.stringValue else {
                throw SafetensorsError.invalidIndex(path: indexPath, reason: "weight_map value of \"\(entry.key)\" is not a file name")
            }
            // Shard names are plain file names beside the index; anything that could reach
            // elsewhere on disk is refused.
            guard !shard.isEmpty, !shard.hasPrefix("/"), !shard.split(separator: "/").contains("..") else {
                throw SafetensorsError.invalidIndex(path: indexPath, reason: "weight_map sends \"\(entry.key)\" to \"\(shard)\", outside the checkpoint directory")
            }
            if readers[shard] == nil {
                let shardPath = SystemPath.join(directory, shard)
                guard PathStatus.exists(shardPath) else {
                    throw SafetensorsError.missingShard(path: indexPath, tensor: entry.key, shard: shard)
                }
                readers[shard] = try TensorFile.open(shardPath, key: key)
                shardPosition[shard] = shards.count
                shards.append((shard, []))
            }
            guard let info = readers[shard]!.info(for: entry.key) else {
                throw SafetensorsError.tensorMissingFromShard(path: indexPath, tensor: entry.key, shard: shard)
            }
            shards[shardPosition[shard]!].tensors.append(entry.key)
            shardOfTensor[TensorNameKey(entry.key)] = shard
            tensors.append(info)
        }
        // Shards in file-name order (model-00001-... first), not in order of first mention.
        shards.sort { $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
        return (metadata, tensors, shards, readers, shardOfTensor)
    }
}
