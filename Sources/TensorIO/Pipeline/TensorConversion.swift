// `loft convert` as a library call: read any tensor file, select and rename tensors, change
// value types, and write any format, one tensor at a time.
//
// Streaming: the writers pull each tensor through a closure in their own order. The closure
// releases the tensor asked for before (a mapped reader drops its pages, its cast buffer goes
// back to the pool) and hands over the next, which a second thread has already read and cast
// (TensorPrefetcher); so resident memory stays near two or three tensors, not the file.
//
// dtype policy (`dtype`): by default only floating-point tensors are cast, because that is
// what "make this checkpoint bf16" means: integer position ids, token ids or bool masks keep
// their values and type. `castIntegers` (`--dtype-all`) casts every tensor. Floating types
// loft has no value conversion for (F4, F6_*, F8_E8M0, *FNUZ) are copied unchanged, with a
// note; complex tensors follow a complex target (C128 -> C64) and keep their type otherwise.
//
// NumPy has no bfloat16 or float8: written to .npy/.npz those tensors are widened to F32
// (exact), with a note, so a NumPy user reads the right numbers.

import Glibc

public struct ConversionOptions: Sendable {
    /// Target value type for the cast, or nil to keep every dtype.
    public var dtype: DType?
    /// Cast integer and bool tensors too, not only floating-point ones.
    public var castIntegers: Bool
    public var selection: TensorSelection
    /// Metadata added to (or replacing keys of) the input's, in order.
    public var metadata: [(key: String, value: String)]
    /// Replace an existing output file, or loft's files in an existing output directory.
    public var overwrite = false
    /// Read the output back and compare every tensor with the input (ConversionVerification).
    public var verify = false

    public init(dtype: DType? = nil, castIntegers: Bool = false, selection: TensorSelection = TensorSelection(),
                metadata: [(key: String, value: String)] = []) {
        self.dtype = dtype
        self.castIntegers = castIntegers
        self.selection = selection
        self.metadata = metadata
    }

    /// Parses `KEY=VALUE` (the first `=` splits; VALUE may be empty).
    public static func parseMetadata(_ entry: String) throws -> (key: String, value: String) {
        guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
            throw PipelineError.badMetadata(entry: entry)
        }
        return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
    }
}

public struct ConversionProgress: Sendable {
    public let tensorsDone: Int
    public let tensorCount: Int
    public let bytesDone: Int
    public let totalBytes: Int
    /// The tensor being read next (nil when finished).
    public let current: String?
}

public struct ConversionSummary: Sendable {
    public let input: String
    public let output: ConversionOutput
    public let tensorCount: Int
    /// Data bytes read from the selected input tensors.
    public let inputBytes: Int
    /// The size of the files written (headers, padding and compression included).
    public let outputBytes: Int
    /// The files written.
    public let outputFiles: [String]
    public let seconds: Double
    /// What was done that the user did not spell out (widening, tensors kept as they were).
    public let notes: [String]
    /// Whether the output was read back and found equal to the input (`verify`).
    public var verified = false
}

public enum TensorConversion {
    /// One planned output tensor.
    struct Step {
        let source: TensorInfo
        let output: TensorInfo
        /// A cast on the way (`--dtype bf16` into NumPy: round to bf16, then widen to F32).
        var via: DType? = nil
    }

    public static func run(
        reader: TensorReader, output: ConversionOutput, options: ConversionOptions,
        progress: ((ConversionProgress) -> Void)? = nil
    ) throws -> ConversionSummary {
        let start = monotonicSeconds()
        let target = try output.target(overwrite: options.overwrite, inputs: inputFiles(of: reader))
        // The reader's own notes (where a PyTorch state dict was found, entries skipped).
        var notes: [String] = reader.notes
        let planned = try plan(reader: reader, output: output, options: options, notes: &notes)
        let (steps, written) = writtenOnce(planned, aliases: reader.aliases, output: output, notes: &notes)
        var metadata = outputMetadata(reader: reader, output: output, options: options, notes: &notes)
        if !written.isEmpty {
            // As safetensors' own converter records them, with the "format" transformers checks.
            if !metadata.contains(where: { $0.key == "format" }) { metadata.insert(("format", "pt"), at: 0) }
            for (dropped, kept) in written where !metadata.contains(where: { $0.key == dropped.output.name }) { metadata.append((dropped.output.name, kept)) }
        }

        // UTF-8 keys: names are compared as bytes (see TensorSelection.plan).
        let byName = Dictionary(steps.map { (Array($0.output.name.utf8), $0) }, uniquingKeysWith: { first, _ in first })
        let totalBytes = steps.reduce(0) { $0 + $1.source.byteCount }
        let outputs = steps.map(\.output)
        let pool = BufferPool()
        // Runs on the prefetch thread: only the reader and the cast, nothing of this scope's state.
        let prefetcher = TensorPrefetcher(order: writeOrder(output, outputs)) { name in
            guard let step = byName[Array(name.utf8)] else {
                throw PipelineError.unsupportedOutput(path: output.path, reason: "the writer asked for an unknown tensor \"\(name)\"")
            }
            return try prepared(step, reader: reader, pool: pool)
        }
        var previous: String?
        var previousBuffer: ByteBuffer?
        var done = 0
        var bytesDone = 0
        let data: (TensorInfo) throws -> TensorData = { requested in
            guard let step = byName[Array(requested.name.utf8)] else {
                throw PipelineError.unsupportedOutput(path: output.path, reason: "the writer asked for an unknown tensor \"\(requested.name)\"")
            }
            progress?(ConversionProgress(tensorsDone: done, tensorCount: steps.count, bytesDone: bytesDone, totalBytes: totalBytes, current: step.output.name))
            let tensor = try prefetcher.tensor(requested.name) { dropped in
                // The writer is done with the tensor before: drop its pages, reuse its buffer.
                if let previous { reader.release(previous) }
                if let previousBuffer { pool.give(previousBuffer) }
                previousBuffer = nil
                if let dropped, let other = byName[Array(dropped.utf8)] { reader.release(other.source.name) }
            }
            previous = step.source.name
            previousBuffer = (tensor.owner as? PooledBuffer)?.buffer
            done += 1
            bytesDone += step.source.byteCount
            return tensor
        }

        var files: [String] = [output.path]
        do {
            switch output {
            case let .safetensors(path):
                try SafetensorsWriter.write(to: path, tensors: outputs, metadata: metadata, data: data)
            case let .sharded(_, maxShardSize):
                let staging = try target.stage()
                try ShardedSafetensorsWriter.write(directory: staging.path, tensors: outputs, metadata: metadata, maxShardSize: maxShardSize, data: data)
                files = try staging.commit(staleNames: ConversionOutput.isCheckpointFileName).map(target.file)
            case let .npz(path, compress):
                try NpzWriter.write(to: path, tensors: outputs, compress: compress, data: data)
            case let .npy(path):
                try NpyWriter.write(to: path, tensor: data(outputs[0]))
            }
        } catch {
            prefetcher.finish()
            if let previous { reader.release(previous) }
            throw error
        }
        prefetcher.finish()
        if let previous { reader.release(previous) }
        progress?(ConversionProgress(tensorsDone: steps.count, tensorCount: steps.count, bytesDone: totalBytes, totalBytes: totalBytes, current: nil))
        if options.verify { try verify(output, steps: steps, aliased: written, reader: reader) }
        var summary = ConversionSummary(
            input: reader.path, output: output, tensorCount: steps.count, inputBytes: totalBytes,
            outputBytes: files.reduce(0) { $0 + (PathStatus($1)?.size ?? 0) }, outputFiles: files,
            seconds: monotonicSeconds() - start, notes: notes)
        summary.verified = options.verify
        return summary
    }

    /// The files a reader reads: the file itself, or the index and every shard (and the
    /// directory they are in).
    static func inputFiles(of reader: TensorReader) -> [String] {
        guard let sharded = reader.storageReader as? ShardedTensorReader else { return [reader.path] }
        let directory = PathStatus.isDirectory(reader.path) ? reader.path : SystemPath.parent(reader.path)
        return [reader.path] + sharded.shards.map { SystemPath.join(directory, $0.file) }
    }

    /// One output tensor's bytes: read, then cast (through `via` when set).
    static func prepared(_ step: Step, reader: TensorReader, pool: BufferPool) throws -> TensorData {
        let source = try reader.data(for: step.source.name)
        if step.via == nil, source.info.dtype == step.output.dtype {
            return TensorData(info: step.output, bytes: source.bytes, owner: source.owner)
        }
        var converted = source
        if let via = step.via {
            converted = try pool.convert(converted, to: via)
        }
        let intermediate = step.via == nil ? nil : (converted.owner as? PooledBuffer)?.buffer
        converted = try pool.convert(converted, to: step.output.dtype)
        if let intermediate { pool.give(intermediate) }
        return TensorData(info: step.output, bytes: converted.bytes, owner: converted.owner)
    }

    /// The order each writer asks for tensors in (a guess for the prefetcher; a wrong one
    /// costs speed, not correctness).
    static func writeOrder(_ output: ConversionOutput, _ tensors: [TensorInfo]) -> [String] {
        switch output {
        case .safetensors: return SafetensorsWriter.writeOrder(tensors).map(\.name)
        case let .sharded(_, maxShardSize):
            return ShardedSafetensorsWriter.plan(tensors: tensors, maxShardSize: maxShardSize)
                .flatMap { SafetensorsWriter.writeOrder($0.tensors) }.map(\.name)
        case .npz, .npy: return tensors.map(\.name)
        }
    }

    /// Selection, renames and the dtype of every output tensor; all checks that can be made
    /// before a byte is written.
    static func plan(reader: TensorReader, output: ConversionOutput, options: ConversionOptions, notes: inout [String]) throws -> [Step] {
        if let target = options.dtype, !(target.supportsValueConversion || target == .C64 || target == .C128) {
            throw PipelineError.notAValueType(dtype: target)
        }
        let selected = try options.selection.plan(reader.tensors, path: reader.path)
        guard !selected.isEmpty else { throw PipelineError.noTensorsSelected(path: reader.path) }
        if case .npy = output, selected.count != 1 {
            throw PipelineError.npyNeedsOneTensor(path: output.path, count: selected.count)
        }
        var keptUnconverted: [String] = []
        var widened: [String] = []
        let steps: [Step] = try selected.map { source, name in
            var dtype = source.dtype
            var via: DType?
            if let target = options.dtype, target != source.dtype {
                let convertible = DTypeConversion.canConvert(from: source.dtype, to: target)
                if options.castIntegers {
                    guard convertible else {
                        throw PipelineError.cannotConvert(path: reader.path, tensor: source.name, from: source.dtype, to: target)
                    }
                    dtype = target
                } else if source.dtype.isFloatingPoint || source.dtype.isComplex {
                    if convertible {
                        dtype = target
                    } else if source.dtype.isFloatingPoint, !source.dtype.supportsValueConversion {
                        keptUnconverted.append(source.name)
                    }
                }
            }
            if output.isNumPy {
                switch dtype {
                case .BF16, .F8_E4M3, .F8_E5M2:
                    widened.append("\(source.name) (\(dtype.rawValue))")
                    if dtype != source.dtype { via = dtype }
                    dtype = .F32
                case .F4, .F6_E2M3, .F6_E3M2, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ:
                    throw PipelineError.noNumPyDType(path: reader.path, tensor: source.name, dtype: dtype)
                default: break
                }
            } else if dtype == .C128 {
                throw PipelineError.noSafetensorsDType(path: reader.path, tensor: source.name, dtype: dtype)
            }
            return Step(source: source, output: TensorInfo(name: name, dtype: dtype, shape: source.shape), via: via)
        }
        if !keptUnconverted.isEmpty {
            notes.append("kept \(keptUnconverted.count) tensor(s) in their own dtype (no value conversion for it): \(listed(keptUnconverted))")
        }
        if !widened.isEmpty {
            notes.append("NumPy has no bfloat16/float8 dtype: \(widened.count) tensor(s) written as F32 holding their exact values: \(listed(widened))")
        }
        return steps
    }

    /// safetensors cannot say that two names share bytes: a tensor that is exactly another
    /// (reader.aliases: a tied head) is written once, under the kept name, and the dropped
    /// name is returned with the name it equals (output names, in order) for the metadata.
    /// Only when both are selected and end in the same dtype; NumPy outputs keep every copy.
    static func writtenOnce(_ steps: [Step], aliases: [String: String], output: ConversionOutput,
                            notes: inout [String]) -> (steps: [Step], dropped: [(step: Step, kept: String)]) {
        guard !aliases.isEmpty, !output.isNumPy else { return (steps, []) }
        let bySource = Dictionary(steps.map { ($0.source.name, $0) }, uniquingKeysWith: { first, _ in first })
        var dropped: [(step: Step, kept: String)] = []
        let kept = steps.filter { step in
            guard let keptName = aliases[step.source.name], let keptStep = bySource[keptName],
                  keptStep.output.dtype == step.output.dtype, keptStep.via == step.via else { return true }
            dropped.append((step, keptStep.output.name))
            return false
        }
        if !dropped.isEmpty {
            notes.append("\(dropped.count) tied tensor(s) written once (they are the same bytes; the name is kept in the metadata): "
                + listed(dropped.map { "\($0.step.output.name) = \($0.kept)" }))
        }
        return (kept, dropped)
    }

    /// The input's metadata (minus the index's computed total_size), then the user's entries.
    static func outputMetadata(reader: TensorReader, output: ConversionOutput, options: ConversionOptions,
                               notes: inout [String]) -> [(key: String, value: String)] {
        var metadata = reader.metadata
        if reader.storageReader is ShardedTensorReader { metadata.removeAll { $0.key == "total_size" } }
        for entry in options.metadata {
            if let index = metadata.firstIndex(where: { $0.key == entry.key }) {
                metadata[index].value = entry.value
            } else {
                metadata.append(entry)
            }
        }
        if output.isNumPy {
            // "format" is safetensors' own marker ("pt", "np"): dropping it is not news.
            let dropped = metadata.filter { $0.key != "format" || options.metadata.contains { $0.key == "format" } }
            if !dropped.isEmpty {
                notes.append("NumPy files hold no metadata: dropped \(dropped.count) key(s): \(listed(dropped.map(\.key)))")
            }
            return []
        }
        return metadata
    }

    private static func listed(_ names: [String]) -> String {
        names.count <= 4 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + ", ... (\(names.count - 3) more)"
    }
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

extension DType {
    var isComplex: Bool { self == .C64 || self == .C128 }
}
