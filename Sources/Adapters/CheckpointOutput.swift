// Where merged tensors go, in the layout the user asked for:
//
//   OUT.safetensors   one file (AtomicOutputFile inside SafetensorsWriter)
//   OUT.npz           one NumPy archive
//   OUT (directory)   the base's sharding kept: same shard file names, each shard's own
//                     metadata, index rewritten (total_size, weight_map); or new shards of at
//                     most --max-shard-size in Hugging Face's naming. The base directory's
//                     other files (config.json, tokenizer, ...) are copied; config.json stops
//                     tying the head to the embedding when the merge untied them.
//
// A directory is built under a temporary name beside OUT and renamed into place at the end,
// so a failed merge leaves nothing at OUT (and an old OUT untouched).

import Foundation
import TensorIO

struct OutputShard {
    var file: String
    var tensors: [TensorInfo]
    var metadata: [(key: String, value: String)]
}

enum CheckpointOutput {
    /// Files beside the weights that describe the model, not its weights.
    static let weightExtensions = [".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".npz", ".npy"]

    /// The shards to write into a directory output.
    static func shards(for tensors: [TensorInfo], base: TensorReader, maxShardSize: Int?, shardOf: (String) -> String?) throws -> (shards: [OutputShard], index: Bool) {
        let baseMetadata = firstShardMetadata(base)
        if let maxShardSize {
            // Hugging Face's split (ShardedSafetensorsWriter.plan), written here so the shards
            // land in the same temporary directory as the side files.
            let plan = ShardedSafetensorsWriter.plan(tensors: tensors, maxShardSize: maxShardSize)
            return (plan.map { OutputShard(file: $0.file, tensors: $0.tensors, metadata: baseMetadata) }, plan.count > 1)
        }
        if let sharded = base as? ShardedSafetensorsReader, FileManager.default.fileExists(atPath: sharded.directory + "/" + ShardedSafetensorsReader.indexFileName) {
            var byFile: [String: [TensorInfo]] = [:]
            for tensor in tensors { byFile[shardOf(tensor.name) ?? sharded.shards[0].file, default: []].append(tensor) }
            let shards = try sharded.shards.map { shard in
                OutputShard(file: shard.file, tensors: byFile[shard.file] ?? [],
                            metadata: try TensorFile.open(sharded.directory + "/" + shard.file).metadata)
            }
            return (shards, true)
        }
        return ([OutputShard(file: "model.safetensors", tensors: tensors, metadata: baseMetadata)], false)
    }

    /// The metadata a single output file carries: the base file's, or its first shard's.
    static func firstShardMetadata(_ base: TensorReader) -> [(key: String, value: String)] {
        if let sharded = base as? ShardedSafetensorsReader, let first = sharded.shards.first,
           let reader = try? TensorFile.open(sharded.directory + "/" + first.file) {
            return reader.metadata
        }
        return base.metadata
    }

    /// model.safetensors.index.json: the base index's metadata (total_size recomputed), in
    /// transformers' exact text.
    static func indexJSON(shards: [OutputShard], baseMetadata: [(key: String, value: String)]) -> String {
        ShardedSafetensorsWriter.indexText(shards: shards.map { ($0.file, $0.tensors) }, metadata: baseMetadata)
    }

    /// The directory holding the base's side files, if the base is a directory or an index
    /// (ModelSource.ownsDirectory: a file's neighbours are not copied).
    static func baseDirectory(_ base: ModelSource) -> String? {
        base.ownsDirectory ? base.directory : nil
    }

    /// Copies config, tokenizer and other non-weight files; returns whether config.json was rewritten.
    static func copySideFiles(from directory: String, to destination: String, untie: Bool) throws -> Bool {
        let manager = FileManager.default
        var configRewritten = false
        for name in try manager.contentsOfDirectory(atPath: directory).sorted() {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard !name.hasPrefix("."), manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  !weightExtensions.contains(where: { name.hasSuffix($0) }), !name.hasSuffix(".index.json")
            else { continue }
            if name == "config.json" && untie, case var .object(members) = try JSON.parse(String(contentsOfFile: path, encoding: .utf8)) {
                if let i = members.firstIndex(where: { $0.key == "tie_word_embeddings" }) {
                    members[i].value = .bool(false)
                } else {
                    members.append(JSONMember("tie_word_embeddings", .bool(false)))
                }
                try (PythonJSON.dumps(PythonJSONValue(.object(members)), indent: 2, sortKeys: true) + "\n").write(toFile: destination + "/" + name, atomically: false, encoding: .utf8)
                configRewritten = true
                continue
            }
            try manager.copyItem(atPath: path, toPath: destination + "/" + name)
        }
        return configRewritten
    }

    /// A fresh directory beside `path`, removed by `discard` unless `commit` moved it to `path`.
    final class TemporaryDirectory {
        let path: String
        let target: String
        private var committed = false

        init(beside target: String) throws {
            self.target = target
            let url = URL(fileURLWithPath: target)
            var template = Array((url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-XXXXXX").utf8CString)
            guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
                throw FileError.writeFailed(path: target, reason: "cannot create a temporary directory beside it")
            }
            path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }

        /// Puts the finished directory at the target, replacing an old directory there.
        func commit() throws {
            let manager = FileManager.default
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: target, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else {
                    throw AdapterError.invalidOutput(path: target, reason: "exists and is not a directory")
                }
                let old = path + ".old"
                try manager.moveItem(atPath: target, toPath: old)
                try manager.moveItem(atPath: path, toPath: target)
                try? manager.removeItem(atPath: old)
            } else {
                try manager.moveItem(atPath: path, toPath: target)
            }
            committed = true
        }

        deinit {
            if !committed { try? FileManager.default.removeItem(atPath: path) }
        }
    }
}
