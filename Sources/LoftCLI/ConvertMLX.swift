// The MLX route of `loft convert`: `--dtype mlx-q4 --group-size 64` writes a model directory
// quantized as mlx-lm does (MLXModelExport). Reading MLX-quantized models needs no route:
// ModelSource dequantizes them for every command.

import Adapters
import ArgumentParser
import TensorIO

enum ConvertMLX {
    /// The widths `--dtype mlx-qN` writes (mlx's affine widths but 1).
    static let writableBits = [2, 3, 4, 5, 6, 8]
    /// mlx-lm's default group size.
    static let defaultGroupSize = 64

    /// N of "mlx-qN" (any case), or nil when the text is not that form.
    static func bits(_ text: String) -> Int? {
        let lower = text.lowercased()
        guard lower.hasPrefix("mlx-q"), let bits = Int(lower.dropFirst(5)), writableBits.contains(bits) else { return nil }
        return bits
    }
}

extension ConvertCommand {
    func validateMLX(bits: Int) throws {
        try refuseTensorOptions(route: "with --dtype mlx-q\(bits) (an MLX model directory is written whole)", keeping: ["--dtype", "--max-shard-size", "--key"])
        if let groupSize, !MLXAffine.writableGroupSizes.contains(groupSize) {
            throw ValidationError("--group-size must be one of \(MLXAffine.writableGroupSizes.map(String.init).joined(separator: ", ")) (mlx's kernels), not \(groupSize)")
        }
        let lower = output.lowercased()
        if [".safetensors", ".npz", ".npy", ".json", ".gguf"].contains(where: lower.hasSuffix) {
            throw ValidationError("--dtype mlx-q\(bits) writes a model directory (weights and config.json with the quantization), not \(output)")
        }
        _ = try shardSize.bytes()
    }

    func runMLX(bits: Int) throws {
        let console = Console.current
        let parameters = MLXAffine(bits: bits, groupSize: groupSize ?? ConvertMLX.defaultGroupSize)
        let source = try ModelSource.open(input, key: stateDict.key)
        let progress = ProgressBar(label: "convert", console: console)
        let start = ProgressBar.now()
        let summary = try MLXModelExport.run(source: source, output: output, parameters: parameters, maxShardSize: try shardSize.bytes(),
                                             overwrite: overwrite.overwrite) { done, total, name in
            progress.update(done: done, total: total, detail: name)
        }
        progress.finish()
        let seconds = ProgressBar.now() - start
        let kind = "mlx-q\(parameters.bits), group size \(parameters.groupSize)"
        if format.json {
            console.out(JSON.serialize(.object([
                JSONMember("input", .string(input)), JSONMember("output", .string(summary.output)), JSONMember("format", .string("mlx")),
                JSONMember("bits", .integer(Int64(parameters.bits))), JSONMember("group_size", .integer(Int64(parameters.groupSize))),
                JSONMember("tensors", .integer(Int64(summary.tensors))), JSONMember("quantized", .integer(Int64(summary.quantized))),
                JSONMember("output_bytes", .integer(Int64(summary.bytesWritten))),
                JSONMember("files", .array(summary.files.map { .string($0) })), JSONMember("seconds", .double(seconds)),
            ]), style: .indented))
        } else {
            console.out("\(input) -> \(summary.output) (MLX, \(kind)): \(summary.quantized) of \(summary.tensors) tensors quantized, "
                        + "\(ByteSize.format(summary.bytesWritten)) in \(ByteSize.formatFixed(seconds, digits: 2)) s")
        }
    }
}
