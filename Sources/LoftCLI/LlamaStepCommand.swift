// `loft experiment llama-step` (hidden): time and peak memory of LLaMA fine-tuning steps on
// random weights, for scripts/bench-llama.sh and scripts/bench/bench_families.py (--config: any
// LLaMA-layout config.json, Qwen2 or Gemma 3 say). The work is Experiments.LlamaStepBenchmark.

import ArgumentParser
import Experiments
import Foundation
import Models
import TensorIO

extension LlamaStepBenchmark.Shape: ExpressibleByArgument {}

struct LlamaStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama-step",
        abstract: "Time fine-tuning steps (forward, backward, optimizer) on random weights of the SmolLM-135M or GPT-2 124M shape.",
        discussion: """
            Examples:
              loft experiment llama-step --steps 3 --json
              loft experiment llama-step --optimizer none --batch 1 --seq 128
              loft experiment llama-step --config qwen2.5-0.5b.json --optimizer lora --batch 2
              loft experiment llama-step --shape gpt2-124m --base-dtype bf16 --json
              loft experiment llama-step --base-dtype bf16 --base-compute bf16 --layers 4
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
    @Option(parsing: .unconditional, help: "Layers (default: the shape's, 30 for SmolLM-135M, 12 for GPT-2 124M).") var layers: Int?
    @Option(help: "smollm-135m (LLaMA layout) or gpt2-124m.") var shape: LlamaStepBenchmark.Shape = .smolLM135M
    @Option(help: "A LLaMA-layout config.json (llama, mistral, qwen2, qwen3, phi3, gemma3_text) instead of the SmolLM-135M shape; LoRA on all its projections.")
    var config: String?
    @Option(name: .customLong("base-dtype"), help: "How the frozen base is held: f32, bf16, f16, or quantized: q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k.") var baseDType: BaseDType = .f32
    @Option(name: .customLong("base-compute"), help: "How a bf16 base multiplies: f32 or bf16 (needs --base-dtype bf16).") var baseCompute: BaseCompute = .f32
    @OptionGroup var format: JSONOutput

    func validate() throws {
        guard batch > 0, seq > 0, rank > 0, steps > 0, (layers ?? 1) > 0, baseDType != .auto else { throw ValidationError("--batch, --seq, --rank, --steps and --layers must be positive; --base-dtype is f32, bf16, f16 or a quantized type") }
        guard baseCompute == .f32 || baseDType == .bf16 else { throw ValidationError("--base-compute bf16 needs --base-dtype bf16 (got \(baseDType.rawValue))") }
    }

    func run() throws {
        var benchmark = LlamaStepBenchmark()
        benchmark.shape = shape
        if let config {
            guard shape == .smolLM135M else { throw ValidationError("--config replaces the LLaMA-layout shape; leave --shape at smollm-135m") }
            benchmark.config = try LlamaConfig(contentsOf: config)
            benchmark.targets = benchmark.config.layout.projectionNames
        }
        if let layers {
            benchmark.config.layers = layers
            benchmark.config.windows = Array(benchmark.config.windows.prefix(layers))
                + Array(repeating: benchmark.config.windows.last ?? nil, count: max(0, layers - benchmark.config.windows.count))
            benchmark.gpt2Layers = layers
        }
        benchmark.baseDType = baseDType
        benchmark.computeInBF16 = baseCompute == .bf16
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
                JSONMember("forward_backward_cpu_seconds", .double(r.forwardBackwardCPUSecondsPerStep)),
                JSONMember("optimizer_cpu_seconds", .double(r.optimizerCPUSecondsPerStep)),
                JSONMember("peak_rss_mib", .double(mib)), JSONMember("trainable_parameters", .integer(Int64(r.trainableParameters))),
                JSONMember("loss", .finite(Double(r.lastLoss))), JSONMember("shape", .string(shape.rawValue)),
                JSONMember("base_dtype", .string(baseDType.rawValue)), JSONMember("base_compute", .string(baseCompute.rawValue)),
                JSONMember("matrix_gflop_per_step", .double(r.matrixFlopsPerStep / 1e9)),
                JSONMember("sgemm_gflops", .double(r.sgemmGigaflops)), JSONMember("mfu", .double(r.modelFlopsUtilisation)),
                JSONMember("optimizer_share", .double(r.optimizerShare)),
            ])))
        } else {
            console.out(String(format: "%.1f tokens/s, %.2f s/step (CPU %.2f s; forward + backward %.2f, optimizer %.2f), peak RSS %.0f MiB, loss %.4f; MFU %.0f%% of sgemm's %.1f GFLOP/s",
                         r.tokensPerSecond, r.secondsPerStep, r.cpuSecondsPerStep, r.forwardBackwardSecondsPerStep,
                         r.optimizerSecondsPerStep, mib, r.lastLoss, 100 * r.modelFlopsUtilisation, r.sgemmGigaflops))
        }
    }
}
