// `loft finetune` as a library call: load the base (or initialise one), read and check the
// data, build the task and the trainer (every input error is thrown here, before training),
// then run and write the outputs. The command only parses flags and shows progress.
// Under mpirun every rank builds the same job; rank 0 alone writes (docs/distributed.md).

import Compute
import Foundation
import Models
import TensorIO

public struct FinetuneRequest: Sendable {
    /// Model directory or file; nil with `initConfig`.
    public var base: String?
    /// A GPT-2 or LLaMA config.json: start from a randomly initialised model (seeded by --seed).
    public var initConfig: String?
    public var data: String
    public var evalData: String?
    /// The tail of the training stream (tokens, or rows for an MLP) held out for evaluation.
    public var evalFraction: Double?
    public var output: String
    /// A directory whose checkpoint to continue from (usually the same as `output`).
    public var resume: String?
    /// Where to find the tokenizer for text data (default: the base model's directory).
    public var tokenizer: String?
    public var batch = 8
    /// Sequence length T (GPT-2); nil = min(128, the model's positions).
    public var sequence: Int?
    /// Passes over the training data instead of `options.steps`.
    public var epochs: Double?
    /// Warmup steps; nil = 5% of the steps.
    public var warmup: Int?
    /// Steps between evaluations and checkpoints; nil = a tenth of the steps.
    public var evalInterval: Int?
    /// Seed of the batch order; nil = `options.seed` (which also seeds the adapters). A
    /// comparison fixes it so every run sees the same batches.
    public var dataSeed: UInt64?
    /// Replace the files the run writes in an existing, non-empty output directory.
    /// Continuing a run (`resume` is `output`) needs no permission: they are its own files.
    public var overwrite = false
    public var options = TrainingOptions()
    /// How the frozen base weights are held (`--base-dtype`): float32, or 16 bits multiplied
    /// tile by tile; trained weights are float32 whatever this says.
    public var baseDType: BaseDType = .f32
    /// How the frozen bf16 weights multiply (`--base-compute`); bf16 holds the base in bf16
    /// (with `baseDType` auto or bf16; f32 and f16 are contradictions).
    public var baseCompute: BaseCompute = .f32

    public init(base: String?, data: String, output: String) {
        self.base = base
        self.data = data
        self.output = output
    }
}

extension FinetuneRequest {
    /// The checks that need no file: every setting in its range, no contradictory pair. A
    /// command runs them before it reads anything; FinetuneJob runs them again.
    public func validate() throws {
        guard base != nil || initConfig != nil else { throw TrainingError.missingSetting(.base, alternative: .initConfig) }
        guard evalData == nil || evalFraction == nil else { throw TrainingError.conflictingSettings(.evalData, .evalFraction) }
        guard !output.isEmpty else { throw TrainingError.invalidSetting(.output, value: "\"\"", requirement: "a directory path, not empty") }
        if let evalFraction, !(evalFraction > 0 && evalFraction < 1) {
            throw TrainingError.invalidSetting(.evalFraction, value: "\(evalFraction)", requirement: "in (0, 1)")
        }
        if let epochs, !(epochs > 0 && epochs.isFinite) { throw TrainingError.invalidSetting(.epochs, value: "\(epochs)", requirement: "positive") }
        guard batch > 0 else { throw TrainingError.invalidSetting(.batch, value: "\(batch)", requirement: "positive") }
        if let sequence, sequence <= 0 { throw TrainingError.invalidSetting(.sequence, value: "\(sequence)", requirement: "positive") }
        if let warmup, warmup < 0 { throw TrainingError.invalidSetting(.warmupSteps, value: "\(warmup)", requirement: "≥ 0") }
        if let evalInterval, evalInterval <= 0 { throw TrainingError.invalidSetting(.evalInterval, value: "\(evalInterval)", requirement: "positive") }
        guard baseCompute.heldDType(baseDType) != nil else {
            throw TrainingError.invalidSetting(.baseDType, value: baseDType.rawValue, requirement: "bf16 or auto for bf16 compute (--base-compute bf16)")
        }
        try options.validate()
    }
}

public struct FinetuneSummary: Sendable {
    public var steps: Int
    public var finalLoss: Float?
    public var finalEvalLoss: Double?
    public var outputFiles: [String]
    /// llama.cpp's LoRA adapter (a file name in the output directory), written when the base
    /// is a GGUF model and the adapter is one llama.cpp loads.
    public var ggufAdapter: String? = nil
    /// What the user should know about the outputs (why no adapter.gguf was written).
    public var notes: [String] = []
}

public final class FinetuneJob {
    public let request: FinetuneRequest
    public let model: LoadedModel
    /// Where the base came from (nil with --init); its notes are for the user.
    public let source: ModelSource?
    public let task: TrainingTask
    public let trainer: Trainer
    public private(set) var options: TrainingOptions
    /// Where the run writes (the output policy, checked before anything is read).
    public let target: OutputTarget

    public init(_ request: FinetuneRequest, communicator: Communicator = SingleProcess()) throws {
        self.request = request
        try request.validate()
        // A random model under an adapter config naming --base as its base would be
        // applied to weights it was never trained with.
        if let base = request.base, let config = request.initConfig { throw TrainingError.baseAndInit(base: base, config: config) }
        target = try FinetuneJob.outputTarget(request)
        if let config = request.initConfig {
            source = nil
            model = LoadedModel(try ModelFamilies.initialized(config: config, seed: request.options.seed))
            model.trainable.storeFrozenWeights(as: request.baseCompute.heldDType(request.baseDType) ?? request.baseDType)
        } else {
            let source = try ModelFamilies.open(request.base!)
            source.baseDType = request.baseCompute.heldDType(request.baseDType) ?? request.baseDType
            source.baseCompute = request.baseCompute
            self.source = source
            model = try LoadedModel.load(source)
        }
        var options = request.options
        switch model {
        case let .language(language):
            let sequence = request.sequence ?? min(128, language.maxPositions)
            let tokenizerPath = request.tokenizer ?? source?.tokenizerPath ?? request.base
            func tokenizer() throws -> TextTokenizer {
                guard let tokenizerPath else {
                    throw TrainingError.noTokenizer(path: request.data, reason: "no --base directory to take it from; pass --tokenizer DIR")
                }
                return try TokenFile.tokenizer(modelPath: tokenizerPath)
            }
            let V = language.vocabularySize
            var train = try TokenFile.tokens(path: request.data, vocabularySize: V, tokenizer: tokenizer)
            var eval: [Int32]?
            if let path = request.evalData {
                eval = try TokenFile.tokens(path: path, vocabularySize: V, tokenizer: tokenizer)
            } else if let fraction = request.evalFraction {
                let held = Int((Double(train.count) * fraction).rounded())
                eval = Array(train.suffix(held))
                train.removeLast(held)
            }
            task = try LanguageModelTask(model: language, trainTokens: train, evalTokens: eval, batch: request.batch, sequence: sequence,
                                         seed: request.dataSeed ?? options.seed, trainPath: request.data, evalPath: request.evalData ?? request.data + " (eval tail)")
        case let .mlp(mlp):
            var train = try MLPData(path: request.data)
            var eval: MLPData?
            if let path = request.evalData {
                eval = try MLPData(path: path)
            } else if let fraction = request.evalFraction {
                let held = Int((Double(train.rows) * fraction).rounded())
                guard held >= 1, held < train.rows else {
                    throw TrainingError.tooShort(path: request.data, count: train.rows, needed: 2, what: "rows to split with --eval-fraction \(fraction)")
                }
                eval = train.slice((train.rows - held)..<train.rows)
                train = train.slice(0..<(train.rows - held))
            }
            task = try MLPTask(model: mlp, train: train, eval: eval, batch: request.batch, seed: request.dataSeed ?? options.seed)
        }
        // No --targets: the family's own (GPT-2 c_attn,c_proj; LLaMA all seven projections, as
        // the LoFT paper does; an MLP every layer). Given ones are used as given: a name the
        // model does not have is refused below, never replaced.
        options.targets = request.options.targets ?? model.trainable.defaultTargets
        if let epochs = request.epochs {
            options.steps = max(1, Int((epochs * Double(task.trainingItems) / Double(task.itemsPerStep)).rounded(.up)))
        }
        options.warmupSteps = request.warmup ?? options.steps / 20
        options.evalInterval = request.evalInterval ?? max(1, (options.steps + 9) / 10)
        self.options = options
        // Everything the run will allocate is checked before any of it is: the rank against
        // every targeted module (a rank above min(in, out) adds nothing a full-rank update
        // lacks, makes LoFT's r x r solves singular, and --rank 100000 on a 64-wide model
        // asked for 80 GB), then the run's memory against what the machine has.
        if options.method != .adamw {
            do {
                try model.trainable.checkAdapterRank(options.rank, targets: options.targets ?? [])
            } catch let ModelError.rankTooLarge(rank, module, inFeatures, outFeatures) {
                throw TrainingError.rankTooLarge(rank: rank, module: module, inFeatures: inFeatures, outFeatures: outFeatures)
            }
        }
        try MemoryEstimate.check(model: model.trainable, options: options, rows: task.itemsPerStep,
                                 vocabulary: model.languageModel?.vocabularySize ?? 0)
        trainer = try Trainer(task: task, options: options, communicator: communicator)
        if let resume = request.resume { try TrainingCheckpoint.resume(trainer, from: resume) }
    }

    /// --out under the output policy: not an input, not inside one, not holding one (a
    /// full fine-tune would otherwise replace the base's model.safetensors), and not a
    /// non-empty directory unless asked for or continued (--resume DIR --out DIR).
    static func outputTarget(_ request: FinetuneRequest) throws -> OutputTarget {
        let output = SystemPath.absolute(request.output)
        let continuing = request.resume.map { output != nil && SystemPath.absolute($0) == output } ?? false
        var inputs = [request.base, request.initConfig, request.data, request.evalData, request.tokenizer].compactMap { $0 }
        if let resume = request.resume, !continuing { inputs.append(resume) }
        return try OutputTarget(request.output, kind: .directory, overwrite: request.overwrite || continuing, inputs: inputs)
    }

    /// Trains, then writes the adapter (or full checkpoint), the logs and the checkpoint.
    @discardableResult
    public func run(observer: (TrainingEvent) -> Void = { _ in }) throws -> FinetuneSummary {
        let output = request.output
        let communicator = trainer.communicator
        // Every rank has checked the output directory (and read any checkpoint) before rank 0
        // writes into it.
        try communicator.barrier()
        guard communicator.isRoot else {
            try trainer.run(observer: observer)
            return FinetuneSummary(steps: trainer.step, finalLoss: nil, finalEvalLoss: nil, outputFiles: [])
        }
        try target.prepare()
        try trainer.run(observer: observer, checkpoint: { trainer in
            try TrainingCheckpoint.save(trainer, outputDirectory: output)
            try TrainingLog.write(trainer.history, directory: output)
        })
        try TrainingLog.write(trainer.history, directory: output)
        // An interrupted run (stopAfter) writes its adapter too: it is the model as it stands.
        var files = ["log.csv", "log.jsonl", "loss.svg", "checkpoint/"] + (try writeModel())
        let llamaCpp = try writeGGUFAdapter()
        if let written = llamaCpp.file { files.append(written) }
        let last = trainer.history.last
        return FinetuneSummary(steps: trainer.step, finalLoss: trainer.history.last(where: { $0.loss != nil })?.loss,
                               finalEvalLoss: last?.evalLoss ?? trainer.history.last(where: { $0.evalLoss != nil })?.evalLoss,
                               outputFiles: files, ggufAdapter: llamaCpp.file, notes: llamaCpp.notes)
    }

    /// On a GGUF base, the adapter just written also as llama.cpp's LoRA file (adapter.gguf,
    /// the file `llama-cli -m BASE.gguf --lora` loads), by the converter `loft convert RUN
    /// adapter.gguf` runs, so the two are the same file. An adapter llama.cpp cannot load is a
    /// note, not a failed run: the PEFT adapter is there. Whenever none is written, an
    /// adapter.gguf of an earlier run in the directory is removed rather than left beside an
    /// adapter it does not match (as an earlier adapter's files are, docs/output.md).
    func writeGGUFAdapter() throws -> (file: String?, notes: [String]) {
        let path = SystemPath.join(request.output, GGUFAdapterExport.fileName)
        func removeStale() throws { if PathStatus.exists(path) { try FileManager.default.removeItem(atPath: path) } }
        guard options.method != .adamw, model.languageModel != nil, let base = request.base, GGUFModelReader.isGGUF(base) else {
            try removeStale()
            return (nil, [])
        }
        do {
            _ = try GGUFAdapterExport.run(adapterDirectory: request.output, base: base, output: path)
            return (GGUFAdapterExport.fileName, [])
        } catch let unsupported as GGUFAdapterExport.Unsupported {
            try removeStale()
            return (nil, ["no \(GGUFAdapterExport.fileName) (llama.cpp's LoRA format): \(unsupported.problem)"])
        }
    }

    func writeModel() throws -> [String] {
        let output = request.output
        switch (options.method, model) {
        case (.adamw, let .language(language)):
            try FullCheckpoint.write(language, directory: output)
            // A GGUF base carries its tokenizer inside; the files beside it belong to something else.
            if request.tokenizer == nil, let gguf = source?.reader as? GGUFModelReader {
                guard let tokenizer = gguf.tokenizerJSON else { return ["model.safetensors", "config.json"] }
                try AtomicOutputFile.write(JSON.serialize(tokenizer, style: .indented), to: SystemPath.join(output, "tokenizer.json"))
                return ["model.safetensors", "config.json", "tokenizer.json"]
            }
            if let base = request.tokenizer ?? source?.tokenizerPath ?? request.base { try FullCheckpoint.copyTokenizerFiles(from: base, to: output) }
            return ["model.safetensors", "config.json"]
        case (.adamw, let .mlp(mlp)):
            try FullCheckpoint.write(mlp, directory: output)
            return ["model.safetensors", "config.json"]
        case (_, let .language(language)):
            try PEFTAdapterFile.write(adapters: language.lowRankAdapters,
                                      description: description(fanInFanOut: language.fanInFanOut, task: "CAUSAL_LM"), directory: output)
            return ["adapter_model.safetensors", "adapter_config.json"]
        case (_, let .mlp(mlp)):
            try PEFTAdapterFile.write(adapters: mlp.lowRankAdapters, description: description(fanInFanOut: false, task: nil), directory: output)
            return ["adapter_model.safetensors", "adapter_config.json"]
        }
    }

    private func description(fanInFanOut: Bool, task: String?) -> PEFTAdapterDescription {
        // PEFT has no "all": name the adapted modules themselves (their full paths match exactly).
        let given = options.targets ?? []
        let targets = given.contains("all") ? trainer.task.trainableModel.lowRankAdapters.map(\.name) : given
        return PEFTAdapterDescription(rank: options.rank, alpha: options.alpha, targetModules: targets,
                               fanInFanOut: fanInFanOut, taskType: task, baseModel: request.base)
    }
}
