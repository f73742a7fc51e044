// `loft experiment llama-step` (hidden): time and peak memory of LLaMA fine-tuning steps on
// random weights, for scripts/bench-llama.sh. The work is Models.LlamaStepBenchmark.

import ArgumentParser
import Experiments
import Foundation
import Models
import TensorIO

struct LlamaStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama-step",
        abstract: "Time LLaMA fine-tuning steps (forward, backward, optimizer) on random weights of the SmolLM-135M shape.",
        discussion: """
            Examples:
              loft experiment llama-step --steps 3 --json
              loft experiment llama-step --optimizer none --batch 1 --seq 128
            """,
        shouldDisplay: false
    )

    /// What updates the weights after each backward pass.
    enum StepOptimizer: String, CaseIterable, ExpressibleByArgument { case loft, lora, none }

    @Option(parsing: .unconditional, help: "Sequences per step.") var batch = 4
    @Option(parsing: .unconditional, help: "Tokens per sequence.") var seq = 256
    @Option(parsing: .unconditional, help: "Rank of the LoRA factors (on all seven projections).") var rank = 16
    @Option(help: "loft, lora (LoRA-AdamW) or none (forward + backward only).") var optimizer: StepOptimizer = .loft
    @Option(parsing: .unconditional, help: "Timed steps (after one warm-up step).") var steps = 3
    @Option(parsing: .unconditional, help: "Layers (the SmolLM-135M shape has 30).") var layers = 30
    @OptionGroup var format: JSONOutput

    func validate() throws {
        guard batch > 0, seq > 0, rank > 0, steps > 0, layers > 0 else { throw ValidationError("--batch, --seq, --rank, --steps and --layers must be positive") }
    }

    func run() throws {
        var benchmark = LlamaStepBenchmark()
        benchmark.config.layers = layers
        (benchmark.batch, benchmark.sequence, benchmark.rank, benchmark.steps, benchmark.optimizer) = (batch, seq, rank, steps, optimizer.rawValue)
        let r = try benchmark.run()
        let mib = Double(r.peakResidentBytes) / 1_048_576
        let console = Console.current
        if format.json {
            console.out(JSON.serialize(.object([
                JSONMember("optimizer", .string(optimizer.rawValue)), JSONMember("batch", .integer(Int64(batch))),
                JSONMember("seq", .integer(Int64(seq))), JSONMember("rank", .integer(Int64(rank))),
                JSONMember("steps", .integer(Int64(steps))), JSONMember("tokens_per_second", .double(r.tokensPerSecond)),
                JSONMember("seconds_per_step", .double(r.secondsPerStep)),
                JSONMember("cpu_seconds_per_step", .double(r.cpuSecondsPerStep)),
                JSONMember("forward_backward_seconds", .double(r.forwardBackwardSecondsPerStep)),
                JSONMember("optimizer_seconds", .double(r.optimizerSecondsPerStep)),
                JSONMember("peak_rss_mib", .double(mib)), JSONMember("trainable_parameters", .integer(Int64(r.trainableParameters))),
                JSONMember("loss", .finite(Double(r.lastLoss))),
            ])))
        } else {
            console.out(String(format: "%.1f tokens/s, %.2f s/step (CPU %.2f s; forward + backward %.2f, optimizer %.2f), peak RSS %.0f MiB, loss %.4f",
                         r.tokensPerSecond, r.secondsPerStep, r.cpuSecondsPerStep, r.forwardBackwardSecondsPerStep,
                         r.optimizerSecondsPerStep, mib, r.lastLoss))
        }
    }
}
