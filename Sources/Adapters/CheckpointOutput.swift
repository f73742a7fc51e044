// Where merged tensors go, in the layout the user asked for:
//
//   OUT.safetensors   one file
//   OUT.npz           one NumPy archive
//   OUT (directory)   the base's sharding kept: same shard file names, each shard's own
//                     metadata, index rewritten (total_size, weight_map); or new shards of at
//                     most --max-shard-size in Hugging Face's naming. The base directory's
//                     other files (config.json, tokenizer, ...) are copied; config.json stops
//                     tying the head to the embedding when the merge untied them.
//
// Where and how the files are written is the output policy's (TensorIO's OutputTarget): a
// directory is staged beside OUT and moved into place at the end, so a failed merge leaves
// nothing at OUT (and an old OUT untouched).

import TensorIO

struct OutputShard {
    var file: String
    var tensors: [TensorInfo]
    var metadata: [(key: String, value: String)]
}

enum CheckpointOutput {
    /// Writes a one-file output (OUT.safetensors, OUT.npz) and returns its path; nil for a
    /// directory, which the caller stages with its side files.
    static func writeFile(_ layout: ConversionOutput, tensors: [TensorInfo], metadata: [(key: String, value: String)],
                          data: (TensorInfo) throws -> TensorData) throws -> [String]? {
        switch layout {
        case let .safetensors(path):
            try SafetensorsWriter.write(to: path, tensors: tensors, metadata: metadata, data: data)
            return [path]
        case let .npz(path, _):
            try NpzWriter.write(to: path, tensors: tensors, compress: false, data: data)
            return [path]
        case .npy:
            preconditionFailure("refused by ConversionOutput.from(singleTensor: false)")
        case .sharded:
            return nil
        }
    }

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
        if let sharded = base.storageReader as? ShardedSafetensorsReader, PathStatus.exists(SystemPath.join(sharded.directory, ShardedSafetensorsReader.indexFileName)) {
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
        if let sharded = base.storageReader as? ShardedSafetensorsReader, let first = sharded.shards.first,
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

    /// Copies config, tokenizer and other non-weight files into `staging`; returns whether
    /// config.json was rewritten to untie the head. `dequantized`: the weights written are
    /// the dense form of an MLX-quantized base, so config.json loses its quantization entries.
    static func copySideFiles(from directory: String, to staging: OutputStaging, untie: Bool, dequantized: Bool = false) throws -> Bool {
        var configRewritten = false
        for name in (SystemPath.list(directory) ?? []).sorted() {
            let path = SystemPath.join(directory, name)
            guard !name.hasPrefix("."), PathStatus.isRegularFile(path),
                  !weightExtensions.contains(where: { name.hasSuffix($0) }), !name.hasSuffix(".index.json")
            else { continue }
            if name == "config.json" && (untie || dequantized), case var .object(members) = try JSONFile.read(path) {
                if untie {
                    if let i = members.firstIndex(where: { $0.key == "tie_word_embeddings" }) {
                        members[i].value = .bool(false)
                    } else {
                        members.append(JSONMember("tie_word_embeddings", .bool(false)))
                    }
                    configRewritten = true
                }
                if dequantized { members = MLXQuantizationConfig.removingEntries(members) }
                try AtomicOutputFile.write(PythonJSON.dumps(PythonJSONValue(.object(members)), indent: 2, sortKeys: true) + "\n", to: staging.file(name))
                continue
            }
            try AtomicOutputFile.copy(from: path, to: staging.file(name))
        }
        return configRewritten
    }
}
