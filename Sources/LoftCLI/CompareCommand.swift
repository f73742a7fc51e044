// `loft experiment compare`: parses the grid and the shared settings, opens the directory
// under the output policy, runs the sweep (CompareExperiment: each run is a FinetuneJob)
// with one progress bar over all of it, and writes and prints the report (CompareReport).

import ArgumentParser
import Experiments
import Foundation
import TensorIO
import Training

extension CompareMethod: ExpressibleByArgument {}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare LoFT, LoRA and full AdamW fine-tuning on a model and data: method x rank x learning rate x seed.",
        discussion: """
            Every run is a `loft finetune` run in DIR/runs/ID (same batches for every run at a \
            seed), evaluated on the held-out data after the last step. Writes DIR/table.md (best \
            learning rate per method and rank: mean and sd of the held-out loss over seeds), \
            DIR/results.csv, DIR/results.json, DIR/lr-METHOD.svg and DIR/curves-rR.svg. A run \
            whose loss becomes non-finite, or whose held-out loss ends above 1.5 x where it \
            started, is recorded as diverged. Rerun the same command to continue: finished runs \
            are kept. Details: docs/commands/experiment.md.

            Examples:
              loft experiment compare --base demo/model --data demo/text/proverbs.txt \\
                  --eval-data demo/text/proverbs-eval.txt --out runs/compare
              loft experiment compare --base gpt2 --data train.txt --methods loft,lora \\
                  --ranks 8 --lrs 1e-3,3e-3,1e-2 --seeds 1 --steps 200 --out runs/c
            """
    )

    @Option(help: "Base model (as for loft finetune).") var base: String
    @Option(help: "Training data (text, .npy or .bin tokens).") var data: String
    @Option(help: "Held-out data; default the last --eval-fraction of --data.") var evalData: String?
    @Option(parsing: .unconditional, help: "Hold out this fraction of --data (its tail) when there is no --eval-data (default 0.1).")
    var evalFraction: Double?
    @Option(help: "Comma-separated: loft, loft-no-alternate, loft-no-calibration, loft-no-rebalance, lora, rslora, adamw.") var methods = "loft,lora,adamw"
    @Option(help: "Comma-separated adapter ranks (adamw runs once, at full rank).") var ranks = "8"
    @Option(help: "Comma-separated learning rates, or auto: 1, 3, 10, ... x from a tenth of each method's default to 100 x it.")
    var lrs = "auto"
    @Option(parsing: .unconditional, help: "Seeds per setting (0, 1, ...): adapter initialisation.") var seeds = 1
    @Flag(help: "Let the seed also choose the batches (default: one batch order, the same for every run).") var varyDataOrder = false
    @Option(parsing: .unconditional, help: "Optimizer steps per run.") var steps = 150
    @Option(parsing: .unconditional, help: "Windows per step.") var batch = 8
    @Option(parsing: .unconditional, help: "Tokens per window (default min(128, context)).") var seq: Int?
    @Option(parsing: .unconditional, help: "Linear warmup steps (default 5% of the steps).") var warmup: Int?
    @Option(help: "cosine or constant.") var schedule: ScheduleShape = .cosine
    @Option(parsing: .unconditional, help: "Global gradient-norm clipping threshold.") var clip: Float = 1
    @Flag(help: "Do not clip gradients.") var noClip = false
    @Option(parsing: .unconditional, help: "Decoupled weight decay.") var weightDecay: Float = 0
    @Option(parsing: .unconditional, help: "Adam's eps for every method (default: LoFT 1e-4, LoRA and AdamW 1e-8).") var eps: Float?
    @Option(parsing: .unconditional, help: "lora_alpha for lora (scale alpha / r) and rslora (alpha / sqrt(r)); default r.") var loraAlpha: Float?
    @Option(help: "Comma-separated target modules (as for loft finetune).") var targets: String?
    @Option(parsing: .unconditional, help: "Steps between evaluations of each run (default a tenth of the steps).") var evalInterval: Int?
    @Option(help: "Tokenizer directory for text data (default: the --base directory).") var tokenizer: String?
    @Option(help: "Output directory; rerun with the same settings to continue it.") var out: String
    @OptionGroup var overwrite: OverwriteOption
    @OptionGroup var format: JSONOutput

    func parsedMethods() throws -> [CompareMethod] {
        let names = list(methods)
        let parsed = try names.map { name in
            guard let method = CompareMethod(rawValue: name) else {
                throw ValidationError("--methods: unknown method '\(name)' (expected \(CompareMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return method
        }
        guard !parsed.isEmpty, Set(parsed).count == parsed.count else { throw ValidationError("--methods: give each method once (got '\(methods)')") }
        return parsed
    }

    func parsedRanks() throws -> [Int] {
        let parsed = list(ranks).map { Int($0) }
        guard !parsed.isEmpty, parsed.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("--ranks: positive integers, comma-separated (got '\(ranks)')") }
        let values = parsed.map { $0! }
        guard Set(values).count == values.count else { throw ValidationError("--ranks: give each rank once (got '\(ranks)')") }
        return values
    }

    /// nil = auto.
    func parsedRates() throws -> [Float]? {
        if lrs.trimmingCharacters(in: .whitespaces) == "auto" { return nil }
        let parsed = list(lrs).map { Float($0) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0.map { $0 > 0 && $0.isFinite } ?? false }) else {
            throw ValidationError("--lrs: positive numbers, comma-separated, or auto (got '\(lrs)')")
        }
        // Two rates that print alike would share a run directory.
        let names = parsed.map { CompareRun.format($0!) }
        guard Set(names).count == names.count else { throw ValidationError("--lrs: give each rate once, distinct in 3 significant digits (got '\(lrs)')") }
        return parsed.map { $0! }
    }

    private func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func settings() -> CompareSettings {
        var s = CompareSettings(base: base, data: data)
        s.evalData = evalData
        s.evalFraction = evalFraction
        s.tokenizer = tokenizer
        s.steps = steps
        s.batch = batch
        s.sequence = seq
        s.warmup = warmup
        s.schedule = schedule
        s.clip = noClip ? nil : clip
        s.weightDecay = weightDecay
        s.eps = eps
        s.loraAlpha = loraAlpha
        s.targets = targets.map(list)
        s.evalInterval = evalInterval
        s.varyDataOrder = varyDataOrder
        return s
    }

    func validate() throws {
        for (flag, path) in [("--base", base), ("--data", data), ("--eval-data", evalData), ("--tokenizer", tokenizer), ("--out", out)] {
            try path.map { try CommandFailure.requirePath($0, flag: flag) }
        }
        _ = try parsedMethods()
        _ = try parsedRanks()
        _ = try parsedRates()
        guard seeds > 0 else { throw ValidationError("--seeds must be positive (got \(seeds))") }
        guard evalData == nil || evalFraction == nil else { throw ValidationError("give --eval-data or --eval-fraction, not both") }
        // Every run's settings are finetune's: its range checks, before any file is read.
        let experiment = try makeExperiment()
        for run in experiment.runs.prefix(1) { try CommandFailure.usage { try experiment.request(run).validate() } }
    }

    func makeExperiment() throws -> CompareExperiment {
        CompareExperiment(settings: settings(), methods: try parsedMethods(), ranks: try parsedRanks(),
                          learningRates: try parsedRates(), seeds: seeds, directory: out)
    }

    func run() throws {
        let console = Console.current
        let experiment = try makeExperiment()
        let continuing = try experiment.openDirectory(overwrite: overwrite.overwrite)
        let runs = experiment.runs
        let say = { (line: String) in if format.json { console.err(line) } else { console.out(line) } }
        say("\(runs.count) runs (\(experiment.methods.map(\.rawValue).joined(separator: ", ")); ranks \(experiment.ranks.map(String.init).joined(separator: ",")); "
            + "\(experiment.seeds) seed\(experiment.seeds == 1 ? "" : "s"); \(steps) steps each) in \(out)" + (continuing ? ", continuing" : ""))
        let progress = ProgressBar(label: "compare", unit: .steps, console: console)
        let total = runs.count * steps
        var results: [CompareRunResult] = []
        var skipped = 0
        for (index, run) in runs.enumerated() {
            let counter = "[\(index + 1)/\(runs.count)] \(run.id)"
            if let done = experiment.finishedResult(run) {
                results.append(done)
                skipped += 1
                progress.update(done: (index + 1) * steps, total: total, detail: counter + " done earlier")
                continue
            }
            let result = try experiment.execute(run) { event in
                if case let .stepped(entry) = event {
                    progress.update(done: index * steps + entry.step, total: total, detail: counter)
                }
            }
            results.append(result)
            let outcome = result.diverged.map { "diverged: \($0)" } ?? "held-out loss \(CompareReport.loss(result.evalLoss))"
            progress.log(counter + ": " + outcome + String(format: " (%.1f s)", result.seconds))
        }
        progress.finish()
        // Earlier calls' runs in the same directory join the report (same settings, checked
        // when the directory was opened): one table for a grid built up call by call.
        let ours = Set(runs.map(\.id))
        let earlier = experiment.everyFinishedResult().filter { !ours.contains($0.run.id) }
        let report = CompareReport(experiment: experiment, results: results + earlier)
        let files = try report.write()
        if format.json {
            console.out(JSON.serialize(report.json, style: .indented))
            return
        }
        if skipped > 0 { console.out("\(skipped) of \(runs.count) runs were done earlier and kept") }
        if !earlier.isEmpty { console.out("the tables also cover \(earlier.count) run\(earlier.count == 1 ? "" : "s") of earlier calls into \(out)") }
        var table = TextTable(CompareReport.bestHeader.enumerated().map { ($0.element, $0.offset < 2 ? .left : .right) })
        for row in report.bestRows { table.add(row) }
        console.out(table.render())
        for note in report.notes { console.out(note) }
        console.out("wrote " + files.map { SystemPath.join(out, $0) }.joined(separator: ", "))
    }
}
