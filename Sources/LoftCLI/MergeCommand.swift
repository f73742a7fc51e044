// `loft merge`: parses, calls AdapterMerge (Sources/Adapters), reports what was merged.

import Adapters
import ArgumentParser
import Models
import TensorIO

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold adapters into base weights, or merge whole models from a mergekit YAML (--config).",
        discussion: """
            Each merged tensor is base + sum(weight * scale * B @ A), computed in float64 and rounded once into the tensor's dtype (F32, F16, BF16): the correctly rounded exact sum. The base is streamed one tensor at a time; tensors no adapter touches are copied byte for byte. OUT ending in .safetensors or .npz is one file; OUT ending in .gguf is a llama.cpp file, merged and quantized in one pass (--dtype q8_0, q4_k_m, f16, ...; on a .gguf base each tensor keeps the base's type unless --dtype is given, and unchanged tensors are copied as stored); a directory (an existing one, or a name without an extension) keeps the base's sharding (and its config and tokenizer files) unless --max-shard-size is given; other extensions are refused. A failed merge leaves nothing at OUT. OUT may not be, contain or lie inside an input; an existing OUT file or non-empty directory needs --overwrite, which replaces only the files merge writes (docs/output.md). Details: docs/commands/merge.md.

            Examples:
              loft merge --base model.safetensors --adapter lora --out merged.safetensors
              loft merge --base llama --adapter style:0.7 --adapter facts:0.3 --out merged
              loft merge --base merged.safetensors --adapter lora --subtract --out base.npz
              loft merge --base llama --adapter lora --out out --dtype bf16 --json
              loft merge --base llama --adapter lora --out out --max-shard-size 2GB
              loft merge --base llama --adapter lora --out merged.gguf --dtype q8_0

            Whole models (mergekit's YAML: linear, slerp, task_arithmetic, ties, dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, model_stock, passthrough with slices):
              loft merge --config ties.yml --out merged
              loft merge --config slerp.yml --out merged --max-shard-size 2GB
              loft merge --config dare.yml --out merged.safetensors --seed 7
            where ties.yml is, for example:
              merge_method: ties
              base_model: base
              models:
                - model: math
                  parameters: {weight: 0.6, density: 0.5}
                - model: code
                  parameters: {weight: 0.4, density: 0.5}
              parameters: {normalize: true}
              dtype: float32
            """)

    @Option(help: "The base checkpoint: a .safetensors file, a sharded index .json or directory, an .npz, or a llama.cpp .gguf model (a .gguf OUT then keeps its types without --dtype).")
    var base: String?

    @Option(help: ArgumentHelp("A mergekit merge configuration (YAML): merge whole models instead of folding adapters.", valueName: "merge.yml"))
    var config: String?

    @Option(help: "Seeds the random masks of dare_linear and dare_ties (--config).")
    var seed: UInt64 = 0

    @Option(name: .customLong("adapter"), help: ArgumentHelp("An adapter directory, optionally with a weight: DIR or DIR:WEIGHT. Repeat for several (their weighted deltas are summed).", valueName: "dir[:weight]"))
    var adapters: [String] = []

    @Option(help: "Where to write: FILE.safetensors, FILE.npz, or a directory.")
    var out: String

    @OptionGroup var overwrite: OverwriteOption

    @Option(name: .customLong("dtype"), help: "Write every float tensor in this dtype instead of the base's (f32, f16, bf16, f64); for a .gguf output a GGUF type or recipe (q8_0, q4_k_m, ...).")
    var dtypeChoice: ConvertDType?
    var dtype: FloatDType? { dtypeChoice?.dtype.flatMap { d in FloatDType.allCases.first { $0.dtype == d } } }

    @OptionGroup var shardSize: ShardSizeOption

    @Flag(help: "Remove the adapters instead of adding them (unmerge).")
    var subtract = false

    @Flag(name: .customLong("allow-nonfinite"), help: "Write NaN or infinite merged values instead of refusing.")
    var allowNonFinite = false

    @OptionGroup var format: JSONOutput

    func validate() throws {
        if let config {
            if base != nil || !adapters.isEmpty || subtract || dtypeChoice != nil || allowNonFinite {
                throw ValidationError("--config takes no --base, --adapter, --subtract, --dtype or --allow-nonfinite (the YAML says what to merge; dtype and out_dtype go there)")
            }
            try CommandFailure.requirePath(config, flag: "--config")
            try CommandFailure.requirePath(out, flag: "--out")
            if ConvertGGUF.isGGUFPath(out) { throw ValidationError("--config writes a checkpoint directory, .safetensors or .npz, not .gguf") }
            do { _ = try AdapterMerge.outputLayout(out, maxShardSize: shardSize.bytes()) } catch { throw ValidationError("\(error)") }
            return
        }
        guard let base else { throw ValidationError("give --base BASE with --adapter DIR[:WEIGHT], or --config merge.yml") }
        if adapters.isEmpty { throw ValidationError("give at least one --adapter DIR[:WEIGHT]") }
        try CommandFailure.requirePath(base, flag: "--base")
        try CommandFailure.requirePath(out, flag: "--out")
        do {
            _ = try adapterSources()
            if !ConvertGGUF.isGGUFPath(out) { _ = try AdapterMerge.outputLayout(out, maxShardSize: shardSize.bytes()) }
        } catch { throw ValidationError("\(error)") }
        if ConvertGGUF.isGGUFPath(out) {
            if shardSize.text != nil { throw ValidationError("--max-shard-size does not apply to a .gguf output (one file)") }
            _ = try ConvertGGUF.recipe(dtypeChoice)
        } else if let bits = dtypeChoice?.mlxBits {
            throw ValidationError("--dtype mlx-q\(bits): merge writes dense weights; quantize the merged model with loft convert MERGED OUT --dtype mlx-q\(bits)")
        } else if let choice = dtypeChoice, dtype == nil {
            throw ValidationError("--dtype \(choice.recipe?.name ?? "?") needs a .gguf --out (merged checkpoints take f32, f16, bf16 or f64)")
        }
    }

    func adapterSources() throws -> [AdapterSource] { try adapters.map(AdapterSource.init(argument:)) }

    func run() throws {
        if let config { return try runConfig(config) }
        var options = MergeOptions(base: base!, adapters: try adapterSources(), output: out)
        options.open = ModelFamilies.open
        options.sideFiles = { source in
            guard let gguf = source.reader as? GGUFModelReader else { return [] }
            return [("config.json", gguf.config)] + (gguf.tokenizerJSON.map { [("tokenizer.json", $0)] } ?? [])
        }
        options.dtype = dtype?.dtype
        options.maxShardSize = try shardSize.bytes()
        options.subtract = subtract
        options.allowNonFinite = allowNonFinite
        options.overwrite = overwrite.overwrite
        let start = ProgressBar.now()
        let progress = ProgressBar(label: "merge")
        let report = ConvertGGUF.isGGUFPath(out)
            ? try ConvertGGUF.merge(options, dtype: dtypeChoice) { progress.update(done: $0, total: $1) }
            : try AdapterMerge.run(options) { progress.update(done: $0, total: $1) }
        progress.finish()
        let seconds = ProgressBar.now() - start
        Console.current.out(format.json ? MergeReportText.json(report, seconds: seconds) : MergeReportText.text(report, seconds: seconds))
    }
}

import TensorIO

extension MergeCommand {
    /// `--config`: a whole-model merge (ModelMerge in Sources/Adapters/ModelMerge).
    func runConfig(_ config: String) throws {
        var options = ModelMergeOptions(config: config, output: out)
        options.maxShardSize = try shardSize.bytes()
        options.overwrite = overwrite.overwrite
        options.seed = seed
        let start = ProgressBar.now()
        let progress = ProgressBar(label: "merge")
        let report = try ModelMerge.run(options) { progress.update(done: $0, total: $1) }
        progress.finish()
        let seconds = ProgressBar.now() - start
        if format.json {
            let value = JSONValue.object([
                JSONMember("method", .string(report.method.rawValue)),
                JSONMember("base_model", report.baseModel.map { .string($0) } ?? .null),
                JSONMember("models", .array(report.models.map { .string($0) })),
                JSONMember("output", .string(report.output)),
                JSONMember("layers", .integer(Int64(report.layers))),
                JSONMember("tensors_merged", .integer(Int64(report.tensorsMerged))),
                JSONMember("bytes_written", .integer(Int64(report.bytesWritten))),
                JSONMember("files", .array(report.files.map { .string($0) })),
                JSONMember("seconds", .double(seconds)),
            ])
            Console.current.out(JSON.serialize(value, style: .indented))
        } else {
            var lines = ["\(report.method.rawValue) merge of \(report.models.count) model(s)" + (report.baseModel.map { ", base \($0)" } ?? "")]
            for model in report.models { lines.append("  model \(model)") }
            lines.append("wrote \(report.tensorsMerged) tensor(s), \(report.layers) layer(s), \(ByteSize.format(report.bytesWritten)) to \(report.output) in \(String(format: "%.2f", seconds)) s")
            Console.current.out(lines.joined(separator: "\n"))
        }
    }
}

private enum MergeReportText {
    static func text(_ report: MergeReport, seconds: Double) -> String {
        var lines: [String] = []
        for adapter in report.adapters {
            lines.append("adapter \(adapter.path) (\(adapter.format.rawValue), weight \(number(adapter.weight)))")
            let modules = report.modules.filter { $0.adapter == adapter.path }
            let width = modules.map(\.module.count).max() ?? 0
            for module in modules {
                var fields = [module.module.padded(width), module.kind.padded(8)]
                if let rank = module.rank { fields.append("r=\(rank)") }
                if let alpha = module.alpha { fields.append("alpha=\(number(alpha))") }
                if let scale = module.scale { fields.append("scale=\(number(scale))") }
                fields.append("-> \(module.tensor)")
                lines.append("  " + fields.joined(separator: "  "))
            }
        }
        for name in report.untied {
            lines.append("untied: \(name) written as its own tensor (the base tied it to the input embedding)"
                + (report.configUntied ? "; config.json: tie_word_embeddings = false" : "; set tie_word_embeddings = false in the model config"))
        }
        lines.append("merged \(report.tensorsMerged) tensor(s), copied \(report.tensorsCopied) unchanged"
            + (report.tensorsConverted > 0 ? ", converted \(report.tensorsConverted)" : "")
            + "; wrote \(bytes(report.bytesWritten)) to \(report.output) in \(String(format: "%.2f", seconds)) s")
        return lines.joined(separator: "\n")
    }

    static func json(_ report: MergeReport, seconds: Double) -> String {
        func optionalNumber(_ value: Double?) -> JSONValue { value.map { .double($0) } ?? .null }
        let value = JSONValue.object([
            JSONMember("base", .string(report.base)),
            JSONMember("output", .string(report.output)),
            JSONMember("adapters", .array(report.adapters.map {
                .object([JSONMember("path", .string($0.path)), JSONMember("format", .string($0.format.rawValue)), JSONMember("weight", .double($0.weight))])
            })),
            JSONMember("modules", .array(report.modules.map { m in
                .object([
                    JSONMember("adapter", .string(m.adapter)), JSONMember("module", .string(m.module)),
                    JSONMember("tensor", .string(m.tensor)), JSONMember("kind", .string(m.kind)),
                    JSONMember("rank", m.rank.map { .integer(Int64($0)) } ?? .null),
                    JSONMember("alpha", optionalNumber(m.alpha)), JSONMember("scale", optionalNumber(m.scale)),
                    JSONMember("weight", .double(m.weight)),
                ])
            })),
            JSONMember("untied", .array(report.untied.map { .string($0) })),
            JSONMember("config_untied", .bool(report.configUntied)),
            JSONMember("tensors_merged", .integer(Int64(report.tensorsMerged))),
            JSONMember("tensors_copied", .integer(Int64(report.tensorsCopied))),
            JSONMember("tensors_converted", .integer(Int64(report.tensorsConverted))),
            JSONMember("bytes_written", .integer(Int64(report.bytesWritten))),
            JSONMember("files", .array(report.files.map { .string($0) })),
            JSONMember("seconds", .double(seconds)),
        ])
        return JSON.serialize(value, style: .indented)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func bytes(_ count: Int) -> String { ByteSize.format(count) }
}

extension String {
    fileprivate func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
