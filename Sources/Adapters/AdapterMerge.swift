// `loft merge` as a library call: open the base, read and check every adapter, plan each
// output tensor, then stream: one base tensor at a time is read (a view into the mapping),
// merged or passed through, written, and its pages dropped. Tensors no adapter touches are
// handed to the writer as the mapped bytes themselves, so they are copied byte-exact.

import Foundation
import TensorIO

#if canImport(Glibc)
import Glibc

// malloc.h is not part of the Glibc module.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

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
    /// Writes the merged tensors itself instead of the built-in writers (the GGUF export):
    /// given the output tensors in order, the base, and the producer of each; returns the
    /// files written.
    nonisolated(unsafe) public var write: ((_ outputs: [TensorInfo], _ base: ModelSource, _ data: (TensorInfo) throws -> TensorData) throws -> [String])?

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
        #if canImport(Glibc)
        // glibc raises its mmap threshold after the first large free, after which each merged
        // tensor's buffer comes from the heap and stays resident; a fixed threshold keeps
        // every buffer of a megabyte or more its own mapping, returned when freed.
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD, malloc.h */, 1 << 20)
        #endif
        let source = try ModelSource.open(options.base)
        let base = source.reader
        try checkNotInput(options.output, base: source)
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

        func produce(_ info: TensorInfo) throws -> TensorData {
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
        let out = options.output
        if let write = options.write {
            report.files = try write(outputs, source, produce)
        } else if out.hasSuffix(".safetensors") {
            if options.maxShardSize != nil {
                throw AdapterError.invalidOutput(path: out, reason: "--max-shard-size writes shards into a directory; give a directory, not a .safetensors file")
            }
            try SafetensorsWriter.write(to: out, tensors: outputs, metadata: CheckpointOutput.firstShardMetadata(base), data: produce)
            report.files = [out]
        } else if out.hasSuffix(".npz") {
            try NpzWriter.write(to: out, tensors: outputs, compress: false, data: produce)
            report.files = [out]
        } else {
            let sharded = base as? ShardedSafetensorsReader
            var shardOf: [String: String] = [:]
            for shard in sharded?.shards ?? [] { for name in shard.tensors { shardOf[name] = shard.file } }
            let (shards, writeIndex) = try CheckpointOutput.shards(for: outputs, base: base, maxShardSize: options.maxShardSize) {
                byName[$0]?.baseName.flatMap { shardOf[$0] }
            }
            let directory = try CheckpointOutput.TemporaryDirectory(beside: out)
            for shard in shards {
                try SafetensorsWriter.write(to: directory.path + "/" + shard.file, tensors: shard.tensors, metadata: shard.metadata, data: produce)
                report.files.append(out + "/" + shard.file)
            }
            if writeIndex {
                let indexName = ShardedSafetensorsReader.indexFileName
                let json = CheckpointOutput.indexJSON(shards: shards, baseMetadata: sharded.map { $0.metadata } ?? [])
                try json.write(toFile: directory.path + "/" + indexName, atomically: false, encoding: .utf8)
                report.files.append(out + "/" + indexName)
            }
            if let side = CheckpointOutput.baseDirectory(source) {
                report.configUntied = try CheckpointOutput.copySideFiles(from: side, to: directory.path, untie: !plan.untied.isEmpty)
            }
            try directory.commit()
        }
        if let last = lastBase { base.release(last) }
        return report
    }

    static func checkNotInput(_ output: String, base source: ModelSource) throws {
        let base = source.reader
        let outputPath = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        var inputs = [base.path]
        if let directory = CheckpointOutput.baseDirectory(source) { inputs.append(directory) }
        if let sharded = base as? ShardedSafetensorsReader { inputs += sharded.shards.map { sharded.directory + "/" + $0.file } }
        for input in inputs where URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path == outputPath {
            throw FileError.wouldOverwriteInput(path: output)
        }
    }
}
