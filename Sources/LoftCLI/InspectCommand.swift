// `loft inspect`: what a tensor file holds. Without --stats only headers are read (the
// safetensors header, the npy headers, the zip directory, the shard index), so it is
// instant on a checkpoint of any size; --stats streams the tensors one at a time.

import ArgumentParser
import TensorIO

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the tensors, dtypes, shapes and metadata of a tensor file.",
        discussion: """
            PATH is a .safetensors, .npy or .npz file, a PyTorch checkpoint (.bin, .pt, .pth, \
            .ckpt; read without running its code), a sharded checkpoint's index, or a \
            directory holding one (or a model.safetensors / pytorch_model.bin). An adapter \
            directory (PEFT or MLX-LM, with adapter_config.json) is shown module by module: kind, \
            rank, alpha, scale, delta shape and the norm of scale * B @ A.

            Lists every tensor (name, dtype, shape, parameters, bytes), totals by dtype, the \
            metadata and, for a sharded checkpoint, which file holds which tensor. NumPy dtypes \
            are shown by their safetensors names (float32 is F32, complex128 is C128).

            Examples:
              loft inspect model.safetensors
              loft inspect checkpoint/ --filter 'layers.0.*'
              loft inspect weights.npz --stats
              loft inspect model.safetensors --json | jq '.totals'
              loft inspect my-lora

            The --json schema is documented in docs/commands/inspect.md.
            """)

    @Argument(help: "The tensor file, index or checkpoint directory.")
    var path: String

    @OptionGroup var stateDict: StateDictKeyOption

    @OptionGroup var format: JSONOutput

    @Flag(help: "Also read the data: min, max, mean, std and NaN/Inf/zero counts per tensor.")
    var stats = false

    @Option(help: ArgumentHelp(
        "Show only tensors whose name matches: a glob on the whole name ('*.bias', 'layers.[0-3].*'), or, without *?[, any name containing it.",
        valueName: "pattern"))
    var filter: String?

    func run() throws {
        let console = Console.current
        if InspectAdapter.isAdapter(path) {
            // An adapter directory: what it changes, module by module (InspectAdapter.swift).
            console.out(try InspectAdapter.report(path, json: format.json))
            return
        }
        let reader = try ModelSource.open(path, key: stateDict.key).reader
        for note in reader.notes { console.err("note: \(note)") }
        var report = InspectReport(reader: reader, filter: filter.map(TensorNamePattern.init))
        if stats { try computeStatistics(&report, reader: reader, console: console) }
        console.out(format.json ? JSON.serialize(report.json, style: .indented) : report.text)
    }

    /// Streams the tensors in file order, dropping each one's pages once its statistics are in.
    private func computeStatistics(_ report: inout InspectReport, reader: TensorReader, console: Console) throws {
        report.withStatistics = true
        let total = report.entries.reduce(0) { $0 + $1.info.byteCount }
        let progress = ProgressBar(label: "inspect --stats", console: console)
        var done = 0
        for index in report.entries.indices {
            let info = report.entries[index].info
            progress.update(done: done, total: total, detail: info.name)
            if InspectCommand.hasStatistics(info.dtype) {
                let data = InspectCommand.aligned(try reader.data(for: info.name))
                report.entries[index].statistics = TensorStatistics.compute(data)
                reader.release(info.name)
            }
            done += info.byteCount
        }
        progress.update(done: total, total: total)
        progress.finish()
    }

    /// The format does not align tensor data (a header without padding, an F16 after an odd
    /// number of BOOL bytes), and the statistics kernels load whole elements: give them an
    /// aligned copy then (rare; reference-written files are aligned).
    static func aligned(_ data: TensorData) -> TensorData {
        let width = data.info.dtype.byteWidth ?? 1
        guard let base = data.bytes.baseAddress, Int(bitPattern: base) % max(width, 1) != 0 else { return data }
        return TensorData(info: data.info, buffer: ByteBuffer(copying: data.bytes))
    }

    /// Statistics are defined for the types loft reads values of; others show "-" / null.
    static func hasStatistics(_ dtype: DType) -> Bool { TensorStatistics.supports(dtype) }
}
