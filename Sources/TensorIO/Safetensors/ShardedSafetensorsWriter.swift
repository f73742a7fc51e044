// Writes a Hugging Face sharded checkpoint into a directory.
//
// The split is huggingface_hub's `split_state_dict_into_shards_factory`: walk the tensors in
// the order given, start a new shard when the next tensor would push the current one past
// `maxShardSize`, and give a tensor larger than the limit a shard of its own (placed where it
// was met, before the shard still being filled). One shard is written as `model.safetensors`
// with no index; several as `model-00001-of-0000N.safetensors` plus
// `model.safetensors.index.json` in transformers' format (`json.dumps(index, indent=2,
// sort_keys=True) + "\n"`, metadata = total_size and the caller's keys). Every shard carries
// `{"format": "pt"}` in its own metadata, as transformers writes it.
//
// All files go to temporary names first and are renamed only after every one is complete;
// on failure nothing new is left. The commands write into a staging directory (the output
// policy, OutputStaging), which also removes an earlier checkpoint's shards from the target.

import Glibc

public enum ShardedSafetensorsWriter {
    /// The split, as (file name, tensors in order).
    public static func plan(tensors: [TensorInfo], maxShardSize: Int) -> [(file: String, tensors: [TensorInfo])] {
        var shards: [[TensorInfo]] = []
        var current: [TensorInfo] = []
        var currentSize = 0
        for tensor in tensors {
            let size = tensor.byteCount
            if size > maxShardSize {
                shards.append([tensor])
                continue
            }
            if currentSize + size > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(tensor)
            currentSize += size
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        if shards.count == 1 { return [(ShardedSafetensorsReader.singleFileName, shards[0])] }
        return shards.enumerated().map { position, shard in
            (shardFileName(position + 1, of: shards.count), shard)
        }
    }

    public static func shardFileName(_ number: Int, of count: Int) -> String {
        func fiveDigits(_ value: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, 5 - text.count)) + text
        }
        return "model-\(fiveDigits(number))-of-\(fiveDigits(count)).safetensors"
    }

    /// Writes the checkpoint; `data` is called once per tensor, one shard after another.
    public static func write(
        directory: String, tensors: [TensorInfo], metadata: [(key: String, value: String)] = [],
        maxShardSize: Int = ShardSize.defaultMaxShardSize, data: (TensorInfo) throws -> TensorData
    ) throws {
        guard maxShardSize > 0 else { throw SafetensorsError.invalidShardSize(text: String(maxShardSize), reason: "must be at least 1 byte") }
        try OutputTarget.makeDirectories(directory)
        var seen = Set<TensorNameKey>()
        for tensor in tensors where !seen.insert(TensorNameKey(tensor.name)).inserted {
            throw SafetensorsError.duplicateTensor(path: directory, tensor: tensor.name)
        }
        let shards = plan(tensors: tensors, maxShardSize: maxShardSize)
        let path = { (file: String) in SystemPath.join(directory, file) }

        var outputs: [AtomicOutputFile] = []
        if shards.count == 1 {
            // Single file: the caller's metadata goes into the file (after "format", which
            // the caller may override).
            var fileMetadata: [(key: String, value: String)] = [("format", "pt")]
            for entry in metadata {
                if let existing = fileMetadata.firstIndex(where: { $0.key == entry.key }) { fileMetadata[existing].value = entry.value }
                else { fileMetadata.append(entry) }
            }
            let output = try AtomicOutputFile(path: path(shards[0].file))
            try SafetensorsWriter.write(into: output, tensors: shards[0].tensors, metadata: fileMetadata, data: data)
            outputs.append(output)
        } else {
            for shard in shards {
                let output = try AtomicOutputFile(path: path(shard.file))
                try SafetensorsWriter.write(into: output, tensors: shard.tensors, metadata: [("format", "pt")], data: data)
                outputs.append(output)
            }
            let output = try AtomicOutputFile(path: path(ShardedSafetensorsReader.indexFileName))
            try output.write(Array(indexText(shards: shards, metadata: metadata).utf8))
            outputs.append(output)
        }
        var committed: [String] = []
        do {
            for output in outputs {
                try output.commit()
                committed.append(output.path)
            }
        } catch {
            for file in committed { unlink(SystemPath.cString(file)) }
            throw error
        }
    }

    /// The index file's text for a split. Readers hand index metadata over as strings; a value
    /// that reads as an integer (transformers' `total_parameters`) is written back as one.
    public static func indexText(shards: [(file: String, tensors: [TensorInfo])], metadata: [(key: String, value: String)]) -> String {
        let totalSize = shards.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + $1.byteCount } }
        var indexMetadata: [PythonJSONMember] = [PythonJSONMember("total_size", .integer(totalSize))]
        for entry in metadata where entry.key != "total_size" {
            let value: PythonJSONValue = Int(entry.value).map { .integer($0) } ?? .string(entry.value)
            indexMetadata.append(PythonJSONMember(entry.key, value))
        }
        var weightMap: [PythonJSONMember] = []
        for shard in shards { for tensor in shard.tensors { weightMap.append(PythonJSONMember(tensor.name, .string(shard.file))) } }
        let index = PythonJSONValue.object([PythonJSONMember("metadata", .object(indexMetadata)), PythonJSONMember("weight_map", .object(weightMap))])
        return PythonJSON.dumps(index, indent: 2, sortKeys: true) + "\n"
    }

    /// `model.safetensors`, `model.safetensors.index.json` or `model-DDDDD-of-DDDDD.safetensors`.
    static func isCheckpointFileName(_ name: String) -> Bool {
        if name == ShardedSafetensorsReader.singleFileName || name == ShardedSafetensorsReader.indexFileName { return true }
        let bytes = Array(name.utf8)
        let pattern = Array("model-#####-of-#####.safetensors".utf8)
        guard bytes.count == pattern.count else { return false }
        for (byte, expected) in zip(bytes, pattern) {
            if expected == UInt8(ascii: "#") { if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { return false } }
            else if byte != expected { return false }
        }
        return true
    }
}
