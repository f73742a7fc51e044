// `loft finetune`: parses flags into a FinetuneRequest, runs the FinetuneJob (Training) and
// shows progress (ProgressBar: a one-line bar on a terminal, plain lines otherwise).
// Started by `mpirun -np N` it is one rank of a data-parallel run (docs/distributed.md):
// rank 0 reports and writes, the others train silently; an error on any rank ends them all.

import ArgumentParser
import Compute
import Foundation
import TensorIO
import Training

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a GPT-2, LLaMA or MLP with LoFT (default), LoRA or full AdamW; writes a PEFT adapter.",
        discussion: """
            Writes DIR/adapter_model.safetensors + DIR/adapter_config.json (PEFT LoRA format; \
            --optimizer adamw writes model.safetensors + config.json instead; on a .gguf base \
            also DIR/adapter.gguf, llama.cpp's LoRA adapter), DIR/log.csv, \
            DIR/log.jsonl, DIR/loss.svg and DIR/checkpoint/ (resume with --resume DIR). \
            Every input is checked before the first step. DIR may not be, contain or lie inside \
            an input; an existing non-empty DIR needs --overwrite, which replaces only the files \
            finetune writes (--resume DIR --out DIR continues the run in place; docs/output.md). Details: docs/commands/finetune.md.

            Examples:
              loft finetune --base gpt2 --data train.txt --eval-fraction 0.05 --out runs/a
              loft finetune --base gpt2 --data tokens.npy --eval-data val.npy \\
                  --steps 2000 --rank 16 --out runs/b
              loft finetune --base gpt2 --data train.txt --optimizer lora --lr 1e-3 \\
                  --out runs/lora
              loft finetune --base SmolLM-135M --data train.txt --seq 256 --batch 4 \\
                  --out runs/smol
              loft finetune --init config.json --tokenizer gpt2 --data text.txt \\
                  --optimizer adamw --targets all --lr 1e-3 --out runs/scratch
              loft finetune --base model-q4_k_m.gguf --data train.txt --seq 256 \\
                  --out runs/q4
              loft finetune --base SmolLM-135M --base-dtype q8_0 --data train.txt \\
                  --out runs/q8
              loft finetune --base mlp/ --data train.npz --eval-fraction 0.1 --out runs/mlp
              loft finetune --base gpt2 --data train.txt --steps 100 --out runs/c --json
            """
    )

    @Option(help: "Base model: a GPT-2 or LLaMA directory (config.json, model.safetensors or shards, tokenizer), a GPT-2 .safetensors file, a llama.cpp .gguf model (llama, qwen2, qwen3, phi3, gemma3, gpt2), an MLX-quantized directory, or an MLP.")
    var base: String?
    @Option(name: .customLong("init"), help: "Start from a randomly initialised GPT-2 or LLaMA (model_type llama) of this config.json (seeded by --seed).")
    var initConfig: String?
    @Option(help: "Training data: a text file (tokenized with the model's tokenizer), .npy (uint16/int32/int64) or raw uint16 .bin tokens; .npz with x, y for an MLP.")
    var data: String
    @Option(help: "Evaluation data, same formats as --data.") var evalData: String?
    @Option(parsing: .unconditional, help: "Hold out this fraction of --data (its tail) for evaluation.") var evalFraction: Double?
    @Option(help: "Output directory.") var out: String
    @OptionGroup var overwrite: OverwriteOption
    @Option(help: "loft (LoFT-AdamW), lora (LoRA with AdamW) or adamw (full fine-tuning of the targets).")
    var optimizer: TrainingMethod = .loft
    @Option(parsing: .unconditional, help: "Adapter rank r.") var rank = 8
    @Option(parsing: .unconditional, help: "LoRA's lora_alpha (scale alpha / r); default r. LoFT always writes alpha = r.") var loraAlpha: Float?
    @Option(help: "Comma-separated module names, PEFT rule (path equals it or ends with .name); 'all' = every projection (adamw: every parameter). Default c_attn,c_proj (GPT-2), the seven q,k,v,o,gate,up,down_proj (LLaMA), all (MLP).")
    var targets: String?
    @Option(parsing: .unconditional, help: "Optimizer steps (default 1000).") var steps: Int?
    @Option(parsing: .unconditional, help: "Passes over the training data instead of --steps (steps = ceil(E · tokens / (B · T))).") var epochs: Double?
    @Option(parsing: .unconditional, help: "Windows (GPT-2, LLaMA) or rows (MLP) per step.") var batch = 8
    @Option(parsing: .unconditional, help: "Tokens per window T (default min(128, context)).") var seq: Int?
    @Option(parsing: .unconditional, help: "Peak learning rate (default 3e-4 loft, 1e-3 lora, 1e-4 adamw).") var lr: Float?
    @Option(parsing: .unconditional, help: "Linear warmup steps (default 5% of the steps).") var warmup: Int?
    @Option(help: "The learning rate after warmup: cosine (to 0 at the end) or constant.") var schedule: ScheduleShape = .cosine
    @Option(parsing: .unconditional, help: "Decoupled weight decay (PyTorch AdamW convention).") var weightDecay: Float = 0
    @Option(parsing: .unconditional, help: "Adam's eps (default 1e-4 loft, 1e-8 lora and adamw).") var eps: Float?
    @Option(parsing: .unconditional, help: "Global gradient-norm clipping threshold (LoFT-aware for LoFT).") var clip: Float = 1
    @Flag(help: "Do not clip gradients.") var noClip = false
    @Option(help: "Seed for adapter initialisation and batch sampling.") var seed: UInt64 = 0
    @Option(help: "Continue the run checkpointed in this directory (same base, data and settings).") var resume: String?
    @Option(parsing: .unconditional, help: "Steps between evaluations and checkpoints (default a tenth of the steps).") var evalInterval: Int?
    @Option(help: "Tokenizer directory for text data (default: the --base directory).") var tokenizer: String?
    @Option(name: .customLong("base-dtype"), help: "How the frozen base weights are held in memory: auto (the checkpoint's bf16/f16 or GGUF/MLX quantization kept, else f32), f32, bf16, f16, or quantized at load: q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k. Trained weights stay f32.")
    var baseDType: BaseDType = .auto
    @Option(name: .customLong("base-compute"), help: "How a frozen base held in bf16 multiplies: f32 (exact products of the bf16 weights, the default) or bf16 (activations rounded to bf16, AVX-512 BF16; holds the base in bf16).")
    var baseCompute: BaseCompute = .f32
    @OptionGroup var format: JSONOutput
    @Option(help: .hidden) var stopAfter: Int?

    func validate() throws {
        guard steps == nil || epochs == nil else { throw ValidationError("give --steps or --epochs, not both") }
        for (flag, path) in [("--base", base), ("--init", initConfig), ("--data", data), ("--eval-data", evalData), ("--resume", resume), ("--tokenizer", tokenizer)] {
            try path.map { try CommandFailure.requirePath($0, flag: flag) }
        }
        // Every range and combination, before any file is read.
        try CommandFailure.usage { try request().validate() }
    }

    func request() -> FinetuneRequest {
        var request = FinetuneRequest(base: base, data: data, output: out)
        request.initConfig = initConfig
        request.evalData = evalData
        request.evalFraction = evalFraction
        request.resume = resume
        request.overwrite = overwrite.overwrite
        request.tokenizer = tokenizer
        request.baseDType = baseDType
        request.baseCompute = baseCompute
        request.batch = batch
        request.sequence = seq
        request.epochs = epochs
        request.warmup = warmup
        request.evalInterval = evalInterval
        var options = TrainingOptions()
        options.method = optimizer
        options.rank = rank
        options.loraAlpha = loraAlpha
        if let targets { options.targets = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        options.steps = steps ?? 1000
        options.learningRate = lr ?? TrainingOptions.defaultLearningRate(options.method)
        options.schedule = schedule
        options.weightDecay = weightDecay
        options.eps = eps
        options.clip = noClip ? nil : clip
        options.seed = seed
        options.stopAfter = stopAfter
        request.options = options
        return request
    }

    func run() throws {
        // SingleProcess unless started by mpirun; MPIError (its text says what to do) otherwise.
        let communicator = try Distributed.communicator()
        do {
            try train(communicator)
        } catch {
            // One rank cannot stop alone: the others would wait in the next all-reduce forever.
            if communicator.size > 1 {
                let status = CommandFailure.report(error, command: "loft finetune (rank \(communicator.rank) of \(communicator.size))", console: Console.current)
                communicator.abort(status: status)
            }
            communicator.finalize()
            throw error
        }
        communicator.finalize()
    }

    private func train(_ communicator: Communicator) throws {
        let job = try FinetuneJob(request(), communicator: communicator)
        guard communicator.isRoot else {
            try job.run()
            return
        }
        let console = Console.current
        printNotes(job.source, command: "finetune")
        let o = job.options
        let what = o.method == .adamw ? "targets \((o.targets ?? []).joined(separator: ","))"
            : "rank \(o.rank), \(job.trainer.task.trainableModel.lowRankAdapters.count) adapted modules"
        let plan = "\(o.method.rawValue): \(what), \(o.steps) steps, lr \(o.learningRate) (\(o.schedule.rawValue), warmup \(o.warmupSteps)), "
            + "batch \(job.request.batch), seed \(o.seed)" + (job.trainer.step > 0 ? ", resuming at step \(job.trainer.step)" : "")
            + (communicator.size > 1 ? ", \(communicator.size) MPI ranks x \(Parallel.coreCount) threads" : "")
        // With --json stdout holds only the summary document; the plan goes with the progress.
        if format.json { console.err(plan) } else { console.out(plan) }
        let progress = ProgressBar(label: "finetune", unit: .steps, console: console)
        var tokensPerSecond = 0.0
        let summary = try job.run { event in
            switch event {
            case let .evaluated(entry):
                progress.log("step \(entry.step): eval loss \(fourDecimals(entry.evalLoss ?? .nan))")
            case let .stepped(entry):
                if let rate = entry.tokensPerSecond { tokensPerSecond = tokensPerSecond == 0 ? rate : 0.9 * tokensPerSecond + 0.1 * rate }
                var detail = "loss \(entry.loss.map { fourDecimals(Double($0)) } ?? "-")  \(Int(tokensPerSecond)) tok/s"
                if let eval = entry.evalLoss { detail += "  eval loss \(fourDecimals(eval))" }
                for note in entry.optimizerEvents { progress.log("step \(entry.step): \(note)") }
                progress.update(done: entry.step, total: o.steps, detail: detail)
            }
        }
        progress.finish()
        let files = summary.outputFiles.map { SystemPath.join(out, $0) }
        let ggufAdapter = summary.ggufAdapter.map { SystemPath.join(out, $0) }
        for note in summary.notes { console.err("loft finetune: note: \(note)") }
        let perplexity = job.model.languageModel != nil ? summary.finalEvalLoss.map(exp) : nil
        if format.json {
            console.out(JSON.serialize(.object([
                JSONMember("method", .string(o.method.rawValue)),
                JSONMember("steps", .integer(Int64(summary.steps))),
                JSONMember("loss", .finite(summary.finalLoss.map(Double.init))),
                JSONMember("eval_loss", .finite(summary.finalEvalLoss)),
                JSONMember("eval_perplexity", .finite(perplexity)),
                JSONMember("output", .string(out)),
                JSONMember("files", .array(files.map { .string($0) })),
                JSONMember("gguf_adapter", ggufAdapter.map { .string($0) } ?? .null),
            ]), style: .indented))
        } else {
            var line = "done: \(summary.steps) steps"
            if let loss = summary.finalLoss { line += ", loss \(fourDecimals(Double(loss)))" }
            if let eval = summary.finalEvalLoss {
                line += ", eval loss \(fourDecimals(eval))"
                if let perplexity { line += " (perplexity \(fourDecimals(perplexity)))" }
            }
            console.out(line)
            console.out("wrote \(files.joined(separator: ", "))")
            if let ggufAdapter, let base { console.out("llama.cpp: llama-cli -m \(base) --lora \(ggufAdapter)") }
        }
    }
}

/// A loss as the progress lines and the summary show it.
private func fourDecimals(_ value: Double) -> String { String(format: "%.4f", value) }
