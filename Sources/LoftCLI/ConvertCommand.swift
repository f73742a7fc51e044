// `loft convert`: parses, hands the job to TensorConversion (Sources/TensorIO/Pipeline), and
// reports. Notes (widening, kept dtypes, dropped metadata) go to stderr, the summary to
// stdout.

import Adapters
import ArgumentParser
import TensorIO

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert between safetensors, .npy, .npz and GGUF, change dtypes, quantize, re-shard.",
        discussion: """
            The formats come from the paths: .safetensors, .npz, .npy (exactly one tensor), \
            a sharded checkpoint given as its model.safetensors.index.json or its directory. \
            PyTorch checkpoints (.bin, .pt, .pth, .ckpt, sharded pytorch_model-*.bin) are read \
            as input without running their code; --key picks the entry holding the state dict. \
            --max-shard-size writes a sharded checkpoint into the directory OUT.

            GGUF (llama.cpp): a GPT-2, LLaMA-layout (Mistral, Qwen2, Qwen3, Phi-3) or Gemma 3 model \
            directory to OUT.gguf, with --dtype a \
            GGUF type or recipe (f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, \
            q4_k_m, q5_k_m; auto, the default, keeps bf16 and writes f16 otherwise); a LoRA \
            adapter directory to llama.cpp's adapter .gguf (for --lora); a .gguf back to a \
            Hugging Face directory, dequantized (--dtype f32, f16 or bf16). docs/commands/convert.md.

            --dtype casts floating-point tensors only: integer and bool tensors (token ids, \
            position ids, masks) keep their values; --dtype-all casts every tensor. bfloat16 \
            and float8 have no NumPy dtype: written to .npy/.npz they are widened to F32 \
            (exact), with a note on stderr.

            Patterns (--include, --exclude): a glob on the whole name ('*.bias'), or, without \
            *?[, any name containing the text. --rename FROM=TO replaces the first FROM in \
            each name; ^FROM anchors at the start, FROM$ at the end. Renames apply in order.

            The output appears only when complete (temporary file + rename). loft refuses an \
            output that is, contains or lies inside its input (also through symlinks and hard \
            links), and an existing output file or non-empty directory unless --overwrite is \
            given (docs/output.md).

            Examples:
              loft convert model.safetensors model-f16.safetensors --dtype f16
              loft convert model.safetensors weights.npz --compress
              loft convert weights.npz model.safetensors --metadata format=pt
              loft convert model.safetensors sharded/ --max-shard-size 2GB
              loft convert sharded/ merged.safetensors --exclude 'lm_head.*'
              loft convert in.safetensors out.safetensors --rename '^model.=' --dtype bf16
              loft convert model.safetensors wte.npy --include transformer.wte.weight
              loft convert pytorch_model.bin model.safetensors --verify
              loft convert last.ckpt model.safetensors --key state_dict
              loft convert llama model-q8.gguf --dtype q8_0
              loft convert llama model-q4.gguf --dtype q4_k_m
              loft convert runs/lora lora.gguf
              loft convert model-q8.gguf llama-back
              loft convert model/ model-4bit/ --dtype mlx-q4 --group-size 64
            """)

    @Argument(help: "The input: a tensor file, index or checkpoint directory.")
    var input: String

    @Argument(help: "The output: .safetensors, .npz, .npy, .gguf, a directory or .../model.safetensors.index.json.")
    var output: String

    @Option(name: .customLong("dtype"), help: ArgumentHelp("Cast floating-point tensors to this type (f32, f16, bf16, f64, f8_e4m3, f8_e5m2, ...; NumPy names too); for a .gguf output a GGUF type or recipe (q8_0, q4_k_m, auto, ...); mlx-q4, mlx-q8 (mlx-q2 ... mlx-q8): an MLX-quantized model directory.", valueName: "dtype"))
    var dtypeChoice: ConvertDType?
    var dtype: DType? { dtypeChoice?.dtype }

    @Option(help: ArgumentHelp("With --dtype mlx-qN: values per scale and bias (32, 64 or 128; default 64, as mlx-lm).", valueName: "n"))
    var groupSize: Int?

    @Flag(help: "With --dtype: cast integer and bool tensors too.")
    var dtypeAll = false

    @Option(help: ArgumentHelp("Keep only tensors matching (repeatable).", valueName: "pattern"))
    var include: [String] = []

    @Option(help: ArgumentHelp("Drop tensors matching (repeatable).", valueName: "pattern"))
    var exclude: [String] = []

    @Option(help: ArgumentHelp("Rename tensors: replace FROM by TO (repeatable; ^FROM = prefix, FROM$ = suffix).", valueName: "from=to"))
    var rename: [String] = []

    @OptionGroup var shardSize: ShardSizeOption

    @Flag(help: "Deflate the members of a .npz output (like np.savez_compressed).")
    var compress = false

    @Option(help: ArgumentHelp("Add or replace a metadata entry (repeatable; safetensors outputs).", valueName: "key=value"))
    var metadata: [String] = []

    @Flag(help: "Read the output back and compare every tensor with the input, byte for byte.")
    var verify = false

    @OptionGroup var stateDict: StateDictKeyOption

    @Option(help: "Convert the adapter directory INPUT to this layout (peft or mlx) instead of converting tensors.")
    var to: AdapterLayout?

    @OptionGroup var overwrite: OverwriteOption

    @OptionGroup var format: JSONOutput

    func validate() throws {
        try CommandFailure.requirePath(input, flag: "INPUT")
        try CommandFailure.requirePath(output, flag: "OUTPUT")
        if to != nil { return try validateAdapterConversion() }
        if let bits = dtypeChoice?.mlxBits { return try validateMLX(bits: bits) }
        if groupSize != nil { throw ValidationError("--group-size needs --dtype mlx-q2 ... mlx-q8") }
        if ConvertGGUF.handles(input: input, output: output) { return try refuseTensorOptions(route: "to or from GGUF", keeping: ["--dtype"]) }
        if let choice = dtypeChoice, choice.dtype == nil, choice.recipe != nil { throw ValidationError("--dtype \(choice.recipe!.name) is a GGUF type: the output must be a .gguf file") }
        if dtypeAll, dtype == nil { throw ValidationError("--dtype-all needs --dtype") }
        do {
            _ = try options()
            _ = try target()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func options() throws -> ConversionOptions {
        let selection = TensorSelection(
            include: include.map(TensorNamePattern.init), exclude: exclude.map(TensorNamePattern.init),
            renames: try rename.map(TensorRename.init(rule:)))
        var options = ConversionOptions(
            dtype: dtype, castIntegers: dtypeAll, selection: selection,
            metadata: try metadata.map(ConversionOptions.parseMetadata))
        options.overwrite = overwrite.overwrite
        options.verify = verify
        return options
    }

    func target() throws -> ConversionOutput {
        try ConversionOutput.from(path: output, maxShardSize: try shardSize.bytes(), compress: compress)
    }

    func run() throws {
        if let to { return try runAdapterConversion(to) }
        if let bits = dtypeChoice?.mlxBits { return try runMLX(bits: bits) }
        if ConvertGGUF.handles(input: input, output: output) {
            return try ConvertGGUF.convert(input: input, output: output, dtype: dtypeChoice, overwrite: overwrite.overwrite, json: format.json)
        }
        let console = Console.current
        let reader = try ModelSource.open(input, key: stateDict.key).reader
        let progress = ProgressBar(label: "convert", console: console)
        let summary = try TensorConversion.run(reader: reader, output: try target(), options: try options()) {
            progress.update(done: $0.bytesDone, total: $0.totalBytes, detail: $0.current)
        }
        progress.finish()
        for note in summary.notes { console.err("note: \(note)") }
        console.out(format.json ? JSON.serialize(ConvertCommand.json(summary), style: .indented) : ConvertCommand.line(summary))
    }

    static func line(_ s: ConversionSummary) -> String {
        "\(s.input) -> \(s.output.path) (\(s.output.format)): \(NumberText.grouped(s.tensorCount)) \(s.tensorCount == 1 ? "tensor" : "tensors"), "
            + "\(ByteSize.format(s.inputBytes)) -> \(ByteSize.format(s.outputBytes)) in \(ByteSize.formatFixed(s.seconds, digits: 2)) s"
            + (s.verified ? ", verified (read back, equal to the input)" : "")
    }

    static func json(_ s: ConversionSummary) -> JSONValue {
        .object([
            JSONMember("input", .string(s.input)),
            JSONMember("output", .string(s.output.path)),
            JSONMember("format", .string(s.output.format)),
            JSONMember("tensors", .integer(Int64(s.tensorCount))),
            JSONMember("input_bytes", .integer(Int64(s.inputBytes))),
            JSONMember("output_bytes", .integer(Int64(s.outputBytes))),
            JSONMember("files", .array(s.outputFiles.map { .string($0) })),
            JSONMember("seconds", .double(s.seconds)),
            JSONMember("verified", .bool(s.verified)),
            JSONMember("notes", .array(s.notes.map { .string($0) })),
        ])
    }
}
