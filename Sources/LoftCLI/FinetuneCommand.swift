// `loft finetune`: parses flags into a FinetuneRequest, runs the FinetuneJob (Training) and
// shows progress: a one-line bar on a terminal, plain lines otherwise.

import ArgumentParser
import Foundation
import Training

#if canImport(Glibc)
import Glibc
#endif

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a GPT-2, LLaMA or MLP with LoFT (default), LoRA or full AdamW; writes a PEFT adapter.",
        discussion: """
            Writes DIR/adapter_model.safetensors + DIR/adapter_config.json (PEFT LoRA format; \
            --optimizer adamw writes model.safetensors + config.json instead), DIR/log.csv, \
            DIR/log.jsonl, DIR/loss.svg and DIR/checkpoint/ (resume with --resume DIR). \
            Every input is checked before the first step. Details: docs/commands/finetune.md.

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
              loft finetune --base mlp/ --data train.npz --eval-fraction 0.1 --out runs/mlp
            """
    )

    @Option(help: "Base model: a GPT-2 or LLaMA directory (config.json, model.safetensors or shards, tokenizer), a GPT-2 .safetensors file, or an MLP.")
    var base: String?
    @Option(name: .customLong("init"), help: "Start from a randomly initialised GPT-2 or LLaMA (model_type llama) of this config.json (seeded by --seed).")
    var initConfig: String?
    @Option(help: "Training data: a text file (tokenized with the model's tokenizer), .npy (uint16/int32/int64) or raw uint16 .bin tokens; .npz with x, y for an MLP.")
    var data: String
    @Option(help: "Evaluation data, same formats as --data.") var evalData: String?
    @Option(help: "Hold out this fraction of --data (its tail) for evaluation.") var evalFraction: Double?
    @Option(help: "Output directory.") var out: String
    @Option(help: "loft (LoFT-AdamW), lora (LoRA with AdamW) or adamw (full fine-tuning of the targets).")
    var optimizer: String = "loft"
    @Option(help: "Adapter rank r.") var rank = 8
    @Option(help: "LoRA's lora_alpha (scale alpha / r); default r. LoFT always writes alpha = r.") var loraAlpha: Float?
    @Option(help: "Comma-separated module names, PEFT rule (path equals it or ends with .name); 'all' = every projection (adamw: every parameter). Default c_attn,c_proj (GPT-2), the seven q,k,v,o,gate,up,down_proj (LLaMA), all (MLP).")
    var targets: String?
    @Option(help: "Optimizer steps (default 1000).") var steps: Int?
    @Option(help: "Passes over the training data instead of --steps (steps = ceil(E · tokens / (B · T))).") var epochs: Double?
    @Option(help: "Windows (GPT-2, LLaMA) or rows (MLP) per step.") var batch = 8
    @Option(help: "Tokens per window T (default min(128, context)).") var seq: Int?
    @Option(help: "Peak learning rate (default 3e-4 loft, 1e-3 lora, 1e-4 adamw).") var lr: Float?
    @Option(help: "Linear warmup steps (default 5% of the steps).") var warmup: Int?
    @Option(help: "cosine (to 0 at the end) or constant after warmup.") var schedule: String = "cosine"
    @Option(help: "Decoupled weight decay (PyTorch AdamW convention).") var weightDecay: Float = 0
    @Option(help: "Global gradient-norm clipping threshold (LoFT-aware for LoFT).") var clip: Float = 1
    @Flag(help: "Do not clip gradients.") var noClip = false
    @Option(help: "Seed for adapter initialisation and batch sampling.") var seed: UInt64 = 0
    @Option(help: "Continue the run checkpointed in this directory (same base, data and settings).") var resume: String?
    @Option(help: "Steps between evaluations and checkpoints (default a tenth of the steps).") var evalInterval: Int?
    @Option(help: "Tokenizer directory for text data (default: the --base directory).") var tokenizer: String?
    @Option(help: .hidden) var stopAfter: Int?

    func validate() throws {
        guard TrainingMethod(rawValue: optimizer) != nil else { throw ValidationError("--optimizer must be loft, lora or adamw (got '\(optimizer)')") }
        guard ScheduleShape(rawValue: schedule) != nil else { throw ValidationError("--schedule must be cosine or constant (got '\(schedule)')") }
        guard steps == nil || epochs == nil else { throw ValidationError("give --steps or --epochs, not both") }
        guard evalData == nil || evalFraction == nil else { throw ValidationError("give --eval-data or --eval-fraction, not both") }
        guard base != nil || initConfig != nil else { throw ValidationError("give --base MODEL (or --init CONFIG.json)") }
    }

    func request() -> FinetuneRequest {
        var request = FinetuneRequest(base: base, data: data, output: out)
        request.initConfig = initConfig
        request.evalData = evalData
        request.evalFraction = evalFraction
        request.resume = resume
        request.tokenizer = tokenizer
        request.batch = batch
        request.sequence = seq
        request.epochs = epochs
        request.warmup = warmup
        request.evalInterval = evalInterval
        var options = TrainingOptions()
        options.method = TrainingMethod(rawValue: optimizer)!
        options.rank = rank
        options.loraAlpha = loraAlpha
        if let targets { options.targets = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        options.steps = steps ?? 1000
        options.learningRate = lr ?? TrainingOptions.defaultLearningRate(options.method)
        options.schedule = ScheduleShape(rawValue: schedule)!
        options.weightDecay = weightDecay
        options.clip = noClip ? nil : clip
        options.seed = seed
        options.stopAfter = stopAfter
        request.options = options
        return request
    }

    func run() throws {
        let job = try FinetuneJob(request())
        printNotes(job.source, command: "finetune")
        let o = job.options
        let what = o.method == .adamw ? "targets \((o.targets ?? []).joined(separator: ","))"
            : "rank \(o.rank), \(job.trainer.task.trainableModel.lowRankAdapters.count) adapted modules"
        print("\(o.method.rawValue): \(what), \(o.steps) steps, lr \(o.learningRate) (\(o.schedule.rawValue), warmup \(o.warmupSteps)), "
              + "batch \(job.request.batch), seed \(o.seed)" + (job.trainer.step > 0 ? ", resuming at step \(job.trainer.step)" : ""))
        let progress = ProgressReporter(totalSteps: o.steps, startStep: job.trainer.step)
        let summary = try job.run { progress.report($0) }
        progress.finish()
        var line = "done: \(summary.steps) steps"
        if let loss = summary.finalLoss { line += ", loss \(format(Double(loss)))" }
        if let eval = summary.finalEvalLoss {
            line += ", eval loss \(format(eval))"
            if job.model.languageModel != nil { line += " (perplexity \(format(exp(eval))))" }
        }
        print(line)
        print("wrote \(summary.outputFiles.map { (out as NSString).appendingPathComponent($0) }.joined(separator: ", "))")
    }
}

func format(_ value: Double) -> String { String(format: "%.4f", value) }

/// A progress bar on a terminal (stderr, redrawn in place); plain lines every ~10% and at
/// each evaluation otherwise, so logs stay readable.
final class ProgressReporter {
    let totalSteps: Int
    let startStep: Int
    let interactive = isatty(STDERR_FILENO) != 0
    let started = Date()
    var tokensPerSecond: Double = 0
    var drewBar = false

    init(totalSteps: Int, startStep: Int) {
        self.totalSteps = totalSteps
        self.startStep = startStep
    }

    func report(_ event: TrainingEvent) {
        switch event {
        case let .evaluated(entry):
            line("step \(entry.step): eval loss \(format(entry.evalLoss ?? .nan))")
        case let .stepped(entry):
            if let rate = entry.tokensPerSecond { tokensPerSecond = tokensPerSecond == 0 ? rate : 0.9 * tokensPerSecond + 0.1 * rate }
            let done = entry.step - startStep
            let elapsed = Date().timeIntervalSince(started)
            let eta = done > 0 ? elapsed / Double(done) * Double(totalSteps - entry.step) : 0
            let loss = entry.loss.map { format(Double($0)) } ?? "-"
            let status = "step \(entry.step)/\(totalSteps)  loss \(loss)  \(Int(tokensPerSecond)) tok/s  ETA \(duration(eta))"
            if let eval = entry.evalLoss {
                line(status + "  eval loss \(format(eval))")
            } else if interactive {
                let width = 24, filled = totalSteps > 0 ? width * entry.step / totalSteps : width
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                FileHandle.standardError.write(("\r[" + bar + "] " + status + "\u{1B}[K").data(using: .utf8)!)
                drewBar = true
            } else if entry.step % max(1, totalSteps / 10) == 0 {
                print(status)
            }
        }
    }

    private func line(_ text: String) {
        if drewBar { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!); drewBar = false }
        print(text)
        fflush(stdout)
    }

    func finish() {
        if drewBar { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
    }

    private func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
