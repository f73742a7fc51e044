// `loft merge` as a library call: open the base, read and check every adapter, plan each
// output tensor, then stream: one base tensor at a time is read (a view into the mapping),
// merged or passed through, written, and its pages dropped. Tensors no adapter touches are
// handed to the writer as the mapped bytes themselves, so they are copied byte-exact.

import Foundation
import TensorIO

import Glibc

// malloc.h is not part of the Glibc module.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

public struct MergeOptions: Sendable {
    public var base: String
    public var adapters: [AdapterSource]
    public var output: String
    /// Output dtype for every float tensor (default: each tensor keeps the base dtype).
    public var dtype: DType?
    /// Write new shards of at most this many bytes instead of keeping the base's sharding.
    public var maxShardSize: Int?
    /// Remove the adapters (negated deltas) instead of adding them.
    public var subtract = false
    /// Write NaN / infinite merged values instead of refusing.
    public var allowNonFinite = false
    /// Replace an existing output file, or the files merge writes in an existing directory.
    public var overwrite = false
    /// Writes the merged tensors itself instead of the built-in writers (the GGUF export):
    /// given the output tensors in order, the base, the names of those no adapter changes (a
    /// GGUF base's are copied as stored, without asking the producer: they count as copied),
    /// and the producer of each; returns the files written.
    nonisolated(unsafe) public var write: ((_ outputs: [TensorInfo], _ base: ModelSource, _ untouched: Set<String>,
                                            _ data: (TensorInfo) throws -> TensorData) throws -> [String])?

    /// Opens the base. The command passes ModelFamilies.open, which also reads a llama.cpp
    /// .gguf model as the Hugging Face checkpoint it stands for (names, layouts, config), so
    /// adapters trained on it line up; ModelSource.open alone sees GGUF's own names.
    nonisolated(unsafe) public var open: (String) throws -> ModelSource = { try ModelSource.open($0) }

    /// For a directory OUT, the side files of a base that has no directory to copy them from
    /// (a GGUF model: config.json and tokenizer.json from its metadata), as JSON documents.
    nonisolated(unsafe) public var sideFiles: ((ModelSource) -> [(name: String, json: JSONValue)])?

    public init(base: String, adapters: [AdapterSource], output: String) {
        self.base = base
        self.adapters = adapters
        self.output = output
    }
}

public struct MergeReport: Sendable {
    public var base: String
    public var output: String
    public var adapters: [(path: String, format: AdapterFormat, weight: Double)]
    public var modules: [MergedModule]
    /// Tensors added because the base tied its head to the embedding (lm_head.weight).
    public var untied: [String]
    public var tensorsMerged = 0
    /// Untouched tensors written as the base's own bytes.
    public var tensorsCopied = 0
    /// Untouched tensors converted by --dtype.
    public var tensorsConverted = 0
    public var bytesWritten = 0
    public var files: [String] = []
    /// Whether the copied config.json was changed to stop tying the embeddings.
    public var configUntied = false
}

public enum AdapterMerge {
    /// Opens a checkpoint: a .safetensors file, an .npz or .npy, a sharded index .json or a
    /// directory, as every other command does (ModelSource).
    public static func openCheckpoint(_ path: String) throws -> TensorReader {
        try ModelSource.open(path).reader
    }

    /// Merges, writes OUT, and says what it did. `progress(done, total)` counts output bytes.
    public static func run(_ options: MergeOptions, progress: ((Int, Int) -> Void)? = nil) throws -> MergeReport {
        guard !options.adapters.isEmpty else { throw AdapterError.invalidAdapterArgument(argument: "", reason: "give at least one adapter") }
        // glibc raises its mmap threshold after the first large free, after which each merged
        // tensor's buffer comes from the heap and stays resident; a fixed threshold keeps
        // every buffer of a megabyte or more its own mapping, returned when freed.
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD, malloc.h */, 1 << 20)
        // A write hook (merge --out X.gguf) writes one file of its own format.
        let layout = options.write == nil ? try outputLayout(options.output, maxShardSize: options.maxShardSize) : nil
        let source = try options.open(options.base)
        let base = source.reader
        let readPaths = source.inputPaths + options.adapters.map(\.path)
        let target = try layout?.target(overwrite: options.overwrite, inputs: readPaths)
            ?? OutputTarget(options.output, kind: .file, overwrite: options.overwrite, inputs: readPaths)
        let adapters = try options.adapters.map { (try Adapter(directory: $0.path), $0.weight) }
        let plan = try MergePlan(base: base, adapters: adapters, subtract: options.subtract, dtype: options.dtype)

        var report = MergeReport(base: options.base, output: options.output,
                                 adapters: adapters.map { ($0.0.path, $0.0.format, $0.1) },
                                 modules: plan.modules, untied: plan.untied)
        var byName: [String: TensorPlan] = [:]
        for tensor in plan.tensors { byName[tensor.output.name] = tensor }
        let total = plan.tensors.reduce(0) { $0 + $1.output.byteCount }
        var done = 0
        var lastBase: String?
        var produced = 0

        func produce(_ info: TensorInfo) throws -> TensorData {
            produced += 1
            if let last = lastBase { base.release(last) }
            let tensor = byName[info.name]!
            lastBase = tensor.baseName
            var result: TensorData
            if tensor.isUntouched {
                let data = try base.data(for: tensor.baseName!)
                if data.info.dtype == tensor.output.dtype {
                    result = data
                    report.tensorsCopied += 1
                } else {
                    result = try DTypeConversion.convert(data, to: tensor.output.dtype)
                    report.tensorsConverted += 1
                }
            } else {
                let source = try tensor.replacement ?? base.data(for: tensor.baseName!)
                result = try MergeKernel.withSingleThreadedBLAS {
                    try MergeKernel.merge(tensor, source: source, allowNonFinite: options.allowNonFinite)
                }
                report.tensorsMerged += 1
            }
            if result.info != tensor.output {
                result = TensorData(info: tensor.output, bytes: result.bytes, owner: result.owner)
            }
            done += tensor.output.byteCount
            report.bytesWritten += tensor.output.byteCount
            progress?(done, total)
            return result
        }

        let outputs = plan.tensors.map(\.output)
        if let write = options.write {
            let untouched = Set(plan.tensors.filter { $0.isUntouched && $0.baseName == $0.output.name }.map(\.output.name))
            report.files = try write(outputs, source, untouched, produce)
            report.tensorsCopied += outputs.count - produced
            // The hook's own format (quantized GGUF) decides the size, not the tensors it was given.
            report.bytesWritten = report.files.reduce(0) { $0 + (PathStatus($1)?.size ?? 0) }
            if let last = lastBase { base.release(last) }
            return report
        }
        if let files = try CheckpointOutput.writeFile(layout!, tensors: outputs, metadata: CheckpointOutput.firstShardMetadata(base), data: produce) {
            report.files = files
        } else {
            let sharded = base.storageReader as? ShardedSafetensorsReader
            var shardOf: [String: String] = [:]
            for shard in sharded?.shards ?? [] { for name in shard.tensors { shardOf[name] = shard.file } }
            let (shards, writeIndex) = try CheckpointOutput.shards(for: outputs, base: base, maxShardSize: options.maxShardSize) {
                byName[$0]?.baseName.flatMap { shardOf[$0] }
            }
            let staging = try target.stage()
            for shard in shards {
                try SafetensorsWriter.write(to: staging.file(shard.file), tensors: shard.tensors, metadata: shard.metadata, data: produce)
            }
            if writeIndex {
                let json = CheckpointOutput.indexJSON(shards: shards, baseMetadata: sharded.map { $0.metadata } ?? [])
                try AtomicOutputFile.write(json, to: staging.file(ShardedSafetensorsReader.indexFileName))
            }
            if let side = CheckpointOutput.baseDirectory(source) {
                report.configUntied = try CheckpointOutput.copySideFiles(from: side, to: staging, untie: !plan.untied.isEmpty,
                                                                          dequantized: base is MLXQuantizedReader)
            } else {
                for (name, json) in options.sideFiles?(source) ?? [] {
                    var json = json
                    if name == "config.json", !plan.untied.isEmpty, case var .object(members) = json {
                        members.removeAll { $0.key == "tie_word_embeddings" }
                        json = .object(members + [JSONMember("tie_word_embeddings", .bool(false))])
                        report.configUntied = true
                    }
                    try AtomicOutputFile.write(JSON.serialize(json, style: .indented) + "\n", to: staging.file(name))
                }
            }
            let weights = Set(shards.map(\.file) + (writeIndex ? [ShardedSafetensorsReader.indexFileName] : []))
            let moved = try staging.commit(staleNames: ConversionOutput.isCheckpointFileName)
            report.files = moved.filter(weights.contains).map(target.file)
        }
        if let last = lastBase { base.release(last) }
        return report
    }

    /// What OUT means (ConversionOutput's rules): .safetensors, .npz, or a directory (an
    /// existing one, a name without an extension, or .../model.safetensors.index.json).
    /// .npy holds one tensor and any other extension is refused, never taken as a directory.
    public static func outputLayout(_ output: String, maxShardSize: Int?) throws -> ConversionOutput {
        try ConversionOutput.from(path: output, maxShardSize: maxShardSize, singleTensor: false)
    }
}
