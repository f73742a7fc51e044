// The GGUF routes of `loft convert` and `loft merge`, kept out of their command files:
//   convert MODEL_DIR model.gguf       HF model -> GGUF (GGUFModelExport), --dtype a recipe
//   convert ADAPTER_DIR adapter.gguf   LoRA adapter -> llama.cpp adapter (GGUFAdapterExport)
//   convert model.gguf OUT_DIR         GGUF -> HF directory (GGUFModelImport)
//   merge ... --out merged.gguf        merged tensors fed straight into GGUFModelExport

import Adapters
import ArgumentParser
import Foundation
import Models
import TensorIO
import Training

/// `--dtype` of convert and merge: a tensor dtype, a GGUF recipe (q8_0, q4_k_m, auto, ...),
/// or MLX's affine quantization (mlx-q4, mlx-q8, ...: bits; the group size is --group-size).
struct ConvertDType: ExpressibleByArgument {
    let dtype: DType?
    let recipe: GGUFRecipe?
    let mlxBits: Int?

    init?(argument: String) {
        mlxBits = ConvertMLX.bits(argument)
        dtype = mlxBits == nil ? DType(userName: argument) : nil
        recipe = mlxBits == nil ? GGUFRecipe(argument) ?? dtype.flatMap { GGUFRecipe($0.rawValue.lowercased()) } : nil
        if dtype == nil && recipe == nil && mlxBits == nil { return nil }
    }

    static var allValueStrings: [String] {
        DType.allValueStrings + GGUFRecipe.choices.filter { DType(userName: $0) == nil } + ConvertMLX.writableBits.map { "mlx-q\($0)" }
    }
}

enum ConvertGGUF {
    static func isGGUFPath(_ path: String) -> Bool { path.lowercased().hasSuffix(".gguf") }

    static func isGGUFFile(_ path: String) -> Bool {
        TensorFile.sniffedFormat(path) == "gguf"
    }

    static func isAdapterDirectory(_ path: String) -> Bool { Adapter.isAdapterDirectory(path) }

    /// Whether `convert INPUT OUTPUT` is one of the GGUF routes.
    static func handles(input: String, output: String) -> Bool {
        if isGGUFPath(output) { return true }
        let lower = output.lowercased()
        return isGGUFFile(input) && ![".safetensors", ".npz", ".npy", ".json"].contains(where: lower.hasSuffix)
    }

    static func recipe(_ dtype: ConvertDType?, flag: String = "--dtype") throws -> GGUFRecipe {
        guard let dtype else { return GGUFRecipe("auto")! }
        guard let recipe = dtype.recipe else {
            throw ValidationError("\(flag) must be one of \(GGUFRecipe.choices.joined(separator: ", ")) for a .gguf output")
        }
        return recipe
    }

    static func convert(input: String, output: String, dtype: ConvertDType?, overwrite: Bool, json: Bool) throws {
        let console = Console.current
        if isGGUFPath(output) {
            if isAdapterDirectory(input) {
                _ = try OutputTarget(output, kind: .file, overwrite: overwrite, inputs: [input])
                let result = try GGUFAdapterExport.run(adapterDirectory: input, base: nil, output: output)
                console.out(json ? JSON.serialize(.object([JSONMember("input", .string(input)), JSONMember("output", .string(output)),
                                                           JSONMember("format", .string("gguf-lora")), JSONMember("tensors", .integer(Int64(result.tensors))),
                                                           JSONMember("alpha", .double(result.alpha))]), style: .indented)
                            : "\(input) -> \(output) (llama.cpp LoRA adapter): \(result.tensors) tensors, alpha \(result.alpha)")
                return
            }
            let source = try ModelSource.open(input)
            _ = try OutputTarget(output, kind: .file, overwrite: overwrite, inputs: source.inputPaths)
            let progress = ProgressBar(label: "convert", console: console)
            let start = ProgressBar.now()
            let summary = try GGUFModelExport.run(source: source, output: output, recipe: try recipe(dtype)) { done, total, name in
                progress.update(done: done, total: total, detail: name)
            }
            progress.finish()
            report(summary, input: input, seconds: ProgressBar.now() - start, json: json)
            return
        }
        let reader = try GGUFReader(path: input)
        let type = dtype?.dtype ?? .F32
        let target = try OutputTarget(output, kind: .directory, overwrite: overwrite, inputs: [input])
        let result = try GGUFModelImport.run(input: reader, output: target, dtype: type)
        console.out(json ? JSON.serialize(.object([JSONMember("input", .string(input)), JSONMember("output", .string(output)),
                                                   JSONMember("format", .string("huggingface")), JSONMember("tensors", .integer(Int64(result.tensors))),
                                                   JSONMember("files", .array(result.files.map { .string($0) }))]), style: .indented)
                    : "\(input) -> \(output) (Hugging Face directory, \(type.rawValue)): \(result.tensors) tensors")
    }

    static func report(_ summary: GGUFExportSummary, input: String, seconds: Double, json: Bool) {
        let console = Console.current
        for note in summary.notes { console.err("note: \(note)") }
        let types = summary.types.map { "\($0.count) \($0.type)" }.joined(separator: ", ")
        if json {
            console.out(JSON.serialize(.object([
                JSONMember("input", .string(input)), JSONMember("output", .string(summary.output)), JSONMember("format", .string("gguf")),
                JSONMember("tensors", .integer(Int64(summary.tensors))), JSONMember("output_bytes", .integer(Int64(summary.bytesWritten))),
                JSONMember("types", .object(summary.types.map { JSONMember($0.type, .integer(Int64($0.count))) })),
                JSONMember("seconds", .double(seconds)), JSONMember("notes", .array(summary.notes.map { .string($0) })),
            ]), style: .indented))
        } else {
            console.out("\(input) -> \(summary.output) (gguf): \(summary.tensors) tensors (\(types)), \(ByteSize.format(summary.bytesWritten)) in \(ByteSize.formatFixed(seconds, digits: 2)) s")
        }
    }

    /// `merge --out X.gguf`: AdapterMerge plans and merges, the GGUF exporter writes. On a
    /// GGUF base without --dtype each tensor keeps the base's type (GGUFCarriedBase).
    static func merge(_ options: MergeOptions, dtype: ConvertDType?, progress: @escaping (Int, Int) -> Void) throws -> MergeReport {
        var options = options
        let recipe = try recipe(dtype)
        options.write = { outputs, source, untouched, produce in
            let carried = try (source.reader as? GGUFModelReader).map {
                try GGUFCarriedBase(reader: $0, keepsTypes: dtype == nil, untouched: untouched,
                                    instead: "give the merged file's type with --dtype (\(GGUFRecipe.choices.filter { $0 != "auto" }.joined(separator: ", ")))")
            }
            _ = try GGUFModelExport.run(tensors: outputs, config: source.config, configPath: source.configPath ?? source.path,
                                        tokenizerDirectory: source.tokenizerPath, modelName: source.path, output: options.output,
                                        recipe: recipe, carried: carried, progress: { done, total, _ in progress(done, total) }, data: produce)
            return [options.output]
        }
        return try AdapterMerge.run(options, progress: nil)
    }
}
