// The command line's vocabulary, declared once: closed choices as ExpressibleByArgument types
// (their values are listed in --help and checked by the parser), the option groups several
// commands share, and the flag each library setting is spelled with.

import ArgumentParser
import Experiments
import TensorIO
import Training

extension TrainingMethod: ExpressibleByArgument {}
extension BaseDType: ExpressibleByArgument {}
extension BaseCompute: ExpressibleByArgument {}
extension ScheduleShape: ExpressibleByArgument {}
extension OptimizerBenchmark.Method: ExpressibleByArgument {}

/// Any element type, by its safetensors name or a NumPy/PyTorch alias (f16, float16, half).
extension DType: ExpressibleByArgument {
    public init?(argument: String) { self.init(userName: argument) }
    public static var allValueStrings: [String] { allCases.map { $0.rawValue.lowercased() } }
}

/// The float types a merged checkpoint can be written in.
enum FloatDType: String, CaseIterable, ExpressibleByArgument {
    case f32, f16, bf16, f64

    var dtype: DType {
        switch self {
        case .f32: return .F32
        case .f16: return .F16
        case .bf16: return .BF16
        case .f64: return .F64
        }
    }

    init?(argument: String) {
        guard let type = DType(userName: argument), let match = FloatDType.allCases.first(where: { $0.dtype == type }) else { return nil }
        self = match
    }
}

/// `--overwrite`: the output policy's one switch (docs/output.md). Without it a command that
/// finds its output file, or a non-empty output directory, refuses; with it, it replaces the
/// file, or the files it writes in the directory (other files stay).
struct OverwriteOption: ParsableArguments {
    @Flag(help: "Replace an existing output file, or the files loft writes in an existing output directory (other files are kept).")
    var overwrite = false
}

/// `--json`: the result as one JSON document on stdout (schemas in docs/commands/).
struct JSONOutput: ParsableArguments {
    @Flag(help: "Print the result as JSON (for scripts; the schema is in docs/commands/).")
    var json = false
}

extension JSONValue {
    /// A number, or null when it is NaN or infinite (JSON has no such numbers).
    static func finite(_ value: Double?) -> JSONValue { value.flatMap { $0.isFinite ? .double($0) : nil } ?? .null }
}

/// The model eval and generate run: a base, an optional adapter, where the tokenizer is.
struct ModelOptions: ParsableArguments {
    @Option(help: "Base model: a GPT-2 or LLaMA directory (config.json, weights, tokenizer), a .safetensors file, a llama.cpp .gguf model, or an MLP.")
    var base: String
    @Option(help: "An adapter directory (PEFT LoRA: adapter_config.json + adapter_model.safetensors).")
    var adapter: String?
    @Option(help: "Tokenizer directory (default: the --base directory).")
    var tokenizer: String?
    @Option(name: .customLong("base-dtype"), help: "How the base weights are held in memory: auto (the checkpoint's bf16/f16 or GGUF/MLX quantization kept, else f32), f32, bf16, f16, or quantized at load: q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k.")
    var baseDType: BaseDType = .auto
    @Option(name: .customLong("base-compute"), help: "How a base held in bf16 multiplies: f32 (exact products of the bf16 weights, the default) or bf16 (activations rounded to bf16, AVX-512 BF16; holds the base in bf16).")
    var baseCompute: BaseCompute = .f32

    /// Where the tokenizer is looked for.
    var tokenizerPath: String { tokenizer ?? base }

    func validate() throws {
        try CommandFailure.requirePath(base, flag: "--base")
        try adapter.map { try CommandFailure.requirePath($0, flag: "--adapter") }
        try tokenizer.map { try CommandFailure.requirePath($0, flag: "--tokenizer") }
        try baseCompute.checkHeld(baseDType)
    }

    /// Sets how `source` holds and multiplies the base.
    func configure(_ source: ModelSource) {
        source.baseDType = baseCompute.heldDType(baseDType) ?? baseDType
        source.baseCompute = baseCompute
    }
}

extension BaseCompute {
    /// `--base-compute bf16` with `--base-dtype f32|f16` is a usage error.
    func checkHeld(_ baseDType: BaseDType) throws {
        guard heldDType(baseDType) == nil else { return }
        throw ValidationError("--base-compute bf16 needs the base held in bf16: --base-dtype bf16 or auto (got \(baseDType.rawValue))")
    }
}

/// `--max-shard-size`: decimal units as Hugging Face means them (5GB = 5e9 bytes), or binary.
struct ShardSizeOption: ParsableArguments {
    @Option(name: .customLong("max-shard-size"), parsing: .unconditional,
            help: ArgumentHelp("Shards of at most this size (decimal units: 500MB, 5GB; binary: 2GiB).", valueName: "size"))
    var text: String?

    /// The limit in bytes, nil when not given.
    func bytes() throws -> Int? { try text.map(ShardSize.parse) }

    func validate() throws {
        do { _ = try bytes() } catch { throw ValidationError("--max-shard-size: \(error)") }
    }
}

extension TrainingSetting {
    /// The flag that sets it.
    var flag: String {
        switch self {
        case .base: return "--base"
        case .initConfig: return "--init"
        case .evalData: return "--eval-data"
        case .evalFraction: return "--eval-fraction"
        case .output: return "--out"
        case .method: return "--optimizer"
        case .rank: return "--rank"
        case .loraAlpha: return "--lora-alpha"
        case .targets: return "--targets"
        case .steps: return "--steps"
        case .epochs: return "--epochs"
        case .batch: return "--batch"
        case .sequence: return "--seq"
        case .learningRate: return "--lr"
        case .warmupSteps: return "--warmup"
        case .schedule: return "--schedule"
        case .weightDecay: return "--weight-decay"
        case .eps: return "--eps"
        case .clip: return "--clip"
        case .evalInterval: return "--eval-interval"
        case .seed: return "--seed"
        case .maxTokens: return "--max-tokens"
        case .temperature: return "--temperature"
        case .topK: return "--top-k"
        case .tokenizer: return "--tokenizer"
        case .baseDType: return "--base-dtype"
        case .baseCompute: return "--base-compute"
        }
    }
}

/// `--key`: where a PyTorch checkpoint keeps its state dict (inspect, convert, diff).
struct StateDictKeyOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "PyTorch checkpoints: the entry holding the state dict (e.g. state_dict, model; a dotted path for nested ones). Default: the top level, else state_dict, model or module.",
        valueName: "key"))
    var key: String?
}
