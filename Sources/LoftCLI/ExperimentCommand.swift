// `loft experiment`: the LoFT paper's experiments. The work is in the LoFT library
// (FactorizationExperiment, OptimizerBenchmark); this file parses, writes files, reports.

import ArgumentParser
import Experiments
import Plots
import Foundation
import Compute
import LoFT
import TensorIO
import Training

struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run the LoFT paper's experiments.",
        discussion: """
            Examples:
              loft experiment factorization --out runs/factorization
              loft experiment factorization --rank 4 --steps 100 --out f --json
              loft experiment compare --base demo/model --data demo/text/proverbs.txt --out runs/compare
            """,
        subcommands: [FactorizationCommand.self, CompareCommand.self, OptimizerStepCommand.self, LlamaStepCommand.self]
    )
}

/// The synthetic matrix-factorization experiment.
struct FactorizationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "factorization",
        abstract: "Fit B A to a low-rank target with LoFT, LoRA-AdamW, two LoFT ablations and full AdamW.",
        discussion: """
            Target T = randn(m, k) randn(k, n); loss = mean((B A - T)²); A (r x n) and B (m x r) start like Linear layers (uniform, bound 1/sqrt(fan_in)); full AdamW trains W from B0 A0. Writes DIR/losses.csv (columns step, loft, lora, loft-no-alternate, loft-no-calibration, adamw-full: the loss before step 1 and after each step) and DIR/losses.svg (log-scale loss per step), and prints the final losses.

            Examples:
              loft experiment factorization --out runs/factorization
              loft experiment factorization --rank 4 --target-rank 8 --seed 3 --out runs/r4
              loft experiment factorization --steps 50 --out /tmp/quick --json
            """
    )

    @Option(parsing: .unconditional, help: "Rows of W (output size).") var m = 1024
    @Option(parsing: .unconditional, help: "Columns of W (input size).") var n = 512
    @Option(parsing: .unconditional, help: "Rank r of the factors B (m x r) and A (r x n).") var rank = 8
    @Option(parsing: .unconditional, help: "Rank of the target.") var targetRank = 8
    @Option(parsing: .unconditional, help: "Optimizer steps.") var steps = 300
    @Option(parsing: .unconditional, help: "Learning rate (every method).") var lr: Float = 10
    @Option(parsing: .unconditional, help: "Adam's betas, comma-separated.") var betas = "0.9,0.999"
    @Option(parsing: .unconditional, help: "Adam's eps.") var eps: Float = 1e-4
    @Option(help: "Seed of the target and the initial factors.") var seed: UInt64 = 0
    @Option(help: "Output directory (created if missing).") var out: String
    @Flag(help: "Also write DIR/problem.safetensors: the target and the initial factors (target, a0, b0), for scripts/loft_reference.py.")
    var saveProblem = false
    @OptionGroup var overwrite: OverwriteOption
    @OptionGroup var format: JSONOutput

    func parsedBetas() throws -> (Float, Float) {
        let parts = betas.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, parts.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
            throw ValidationError("--betas must be two numbers in [0, 1), e.g. 0.9,0.999 (got '\(betas)')")
        }
        return (parts[0], parts[1])
    }

    func validate() throws {
        guard m > 0, n > 0, rank > 0, targetRank > 0 else { throw ValidationError("--m, --n, --rank and --target-rank must be positive") }
        guard rank <= min(m, n) else { throw ValidationError("--rank \(rank) exceeds min(m, n) = \(min(m, n))") }
        guard steps >= 0 else { throw ValidationError("--steps must be ≥ 0 (got \(steps))") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive and finite (got \(lr))") }
        guard eps > 0, eps.isFinite else { throw ValidationError("--eps must be positive and finite (got \(eps))") }
        _ = try parsedBetas()
        try CommandFailure.requirePath(out, flag: "--out")
        // Before anything is allocated: a size that cannot fit is refused, not killed.
        var experiment = FactorizationExperiment()
        (experiment.m, experiment.n, experiment.rank) = (m, n, rank)
        if let available = MemoryEstimate.availableBytes(), experiment.estimatedBytes > available {
            throw ValidationError(String(format: "--m %d --n %d needs at least %.1f GB of memory and %.1f GB is available",
                                         m, n, experiment.estimatedBytes / 1e9, available / 1e9))
        }
    }

    func run() throws {
        var experiment = FactorizationExperiment()
        (experiment.m, experiment.n, experiment.rank, experiment.targetRank) = (m, n, rank, targetRank)
        experiment.steps = steps
        experiment.learningRate = lr
        let (beta1, beta2) = try parsedBetas()
        experiment.hyperparameters = AdamWHyperparameters(beta1: beta1, beta2: beta2, eps: eps)
        experiment.seed = seed

        // Before the runs: a bad --out is reported at once, not after minutes of work.
        let target = try OutputTarget(out, kind: .directory, overwrite: overwrite.overwrite)
        let methods = FactorizationExperiment.Method.allCases
        let console = Console.current
        let json = format.json
        if saveProblem { try experiment.saveProblem(to: (out as NSString).appendingPathComponent("problem.safetensors")) }
        var losses: [[Double]] = []
        var events: [Int] = []
        for method in methods {
            if !json { console.out("running \(method.rawValue)...", terminator: " ") }
            let start = Date()
            let run = try experiment.runCountingEvents(method)
            losses.append(run.losses)
            events.append(run.events)
            if !json {
                console.out(String(format: "%.1f s", Date().timeIntervalSince(start))
                            + (run.events > 0 ? " (\(run.events) optimizer events: regularised solves or skipped steps)" : ""))
            }
        }

        var csv = "step," + methods.map(\.rawValue).joined(separator: ",") + "\n"
        for step in 0...steps {
            csv += "\(step)," + losses.map { "\($0[step])" }.joined(separator: ",") + "\n"
        }
        try target.prepare()
        let csvPath = target.file("losses.csv")
        try AtomicOutputFile.write(csv, to: csvPath)

        var plot = SVGLinePlot(title: "Matrix factorization \(m) x \(n), rank \(rank), lr \(lr)",
                               xLabel: "step", yLabel: "loss (MSE)", logScaleY: true)
        for (method, values) in zip(methods, losses) { plot.add(method.rawValue, values: values) }
        let svgPath = target.file("losses.svg")
        try AtomicOutputFile.write(plot.render(), to: svgPath)

        if json {
            let finals = zip(methods, losses).map { JSONMember($0.rawValue, .finite($1.last!)) }
            let document = JSONValue.object([
                JSONMember("m", .integer(Int64(m))), JSONMember("n", .integer(Int64(n))),
                JSONMember("rank", .integer(Int64(rank))), JSONMember("steps", .integer(Int64(steps))),
                JSONMember("final_losses", .object(finals)),
                JSONMember("optimizer_events", .object(zip(methods, events).map { JSONMember($0.rawValue, .integer(Int64($1))) })),
                JSONMember("csv", .string(csvPath)), JSONMember("svg", .string(svgPath)),
            ])
            console.out(JSON.serialize(document, style: .indented))
        } else {
            console.out("final loss after \(steps) steps:")
            for (method, values) in zip(methods, losses) {
                console.out("  " + method.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%.3e", values.last!))
            }
            console.out("wrote \(csvPath) and \(svgPath)")
        }
    }
}

/// Time and memory of one optimizer step (scripts/bench-optimizer.sh).
struct OptimizerStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimizer-step",
        abstract: "Time one optimizer step on one m x n weight (LoFT / LoRA-AdamW pair, or dense AdamW).",
        discussion: """
            Examples:
              loft experiment optimizer-step --method loft --rank 16
              loft experiment optimizer-step --method adamw --steps 5 --json
            """,
        shouldDisplay: false
    )

    @Option(parsing: .unconditional, help: "Rows of W.") var m = 4096
    @Option(parsing: .unconditional, help: "Columns of W.") var n = 4096
    @Option(parsing: .unconditional, help: "Rank of the pair (loft, lora).") var rank = 16
    @Option(help: "loft, lora or adamw (dense AdamW on the whole m x n).") var method: OptimizerBenchmark.Method = .loft
    @Option(parsing: .unconditional, help: "Timed steps (after two warm-up steps).") var steps = 10
    @OptionGroup var format: JSONOutput

    func validate() throws {
        guard m > 0, n > 0, rank > 0, steps > 0 else { throw ValidationError("--m, --n, --rank and --steps must be positive") }
        guard rank <= min(m, n) else { throw ValidationError("--rank \(rank) exceeds min(m, n) = \(min(m, n))") }
    }

    func run() throws {
        var benchmark = OptimizerBenchmark()
        (benchmark.m, benchmark.n, benchmark.rank, benchmark.steps) = (m, n, rank, steps)
        let r = try benchmark.run(method)
        let mib = { (bytes: Int) in Double(bytes) / 1_048_576 }
        let console = Console.current
        if format.json {
            console.out(JSON.serialize(.object([
                JSONMember("method", .string(r.method.rawValue)), JSONMember("m", .integer(Int64(r.m))),
                JSONMember("n", .integer(Int64(r.n))), JSONMember("rank", .integer(Int64(r.rank))),
                JSONMember("steps", .integer(Int64(r.steps))), JSONMember("ms_per_step", .double(r.secondsPerStep * 1000)),
                JSONMember("cpu_ms_per_step", .double(r.cpuSecondsPerStep * 1000)),
                JSONMember("state_mib", .double(mib(r.stateBytes))), JSONMember("transient_mib", .double(mib(r.transientBytes))),
                JSONMember("peak_rss_mib", .double(mib(r.peakResidentBytes))),
            ])))
        } else {
            console.out("\(r.method.rawValue) \(r.m)x\(r.n) rank \(r.rank): " + String(format: "%.2f ms/step (CPU %.2f ms), state %.1f MiB, transient %.1f MiB, peak RSS %.1f MiB",
                  r.secondsPerStep * 1000, r.cpuSecondsPerStep * 1000, mib(r.stateBytes), mib(r.transientBytes), mib(r.peakResidentBytes)))
        }
    }
}
