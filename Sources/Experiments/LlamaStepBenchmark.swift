// One fine-tuning step of a language model, timed and weighed (scripts/bench-llama.sh through
// `loft experiment llama-step`): a randomly initialised model of a given shape (SmolLM-135M
// by default, or GPT-2 124M), optionally with its frozen base held in bf16, f16 or quantized
// (CompactMatrix, as `--base-dtype` does), LoRA factors on every projection, random tokens,
// then per step forward + backward + an optimizer step (LoFT-AdamW by default; "none" for
// forward + backward alone), the step as a training loop runs it: zeroGradients,
// forwardBackward (the head in blocks, no full logits), optimizer.step on the model's own
// matrices.
// Memory: the process's peak resident set (VmHWM), which includes the weights, activations,
// logits, gradients and optimizer state: what a user sees.
// Model FLOPs utilisation: the step's matrix-product FLOPs (StepFlops) per second of step
// time, over the sgemm rate this process measures right after the steps (SgemmPeak).

import Foundation
import Compute
import LoFT
import Models
import Training
import TensorIO

public struct LlamaStepBenchmark {
    /// The model shapes the benchmark knows.
    public enum Shape: String, CaseIterable, Sendable {
        case smolLM135M = "smollm-135m"
        case gpt2Small = "gpt2-124m"
    }

    public var shape = Shape.smolLM135M
    public var config = LlamaConfig.smolLM135M
    /// LoRA targets of the LLaMA-layout shape (nil: LLaMA's seven projections).
    public var targets: [String]?
    /// Layers of the GPT-2 shape (12 in GPT-2 124M); `config.layers` for the LLaMA one.
    public var gpt2Layers = 12
    public var batch = 4, sequence = 256
    public var rank = 16
    /// "loft", "lora" (LoRA-AdamW) or "none" (forward + backward only).
    public var optimizer = "loft"
    public var steps = 3
    public var seed: UInt64 = 0
    /// How the frozen base is held: float32, 16 bits or quantized (q8_0, q4_k, ...).
    public var baseDType: BaseDType = .f32
    /// The bf16 base multiplied in bf16 (`--base-compute bf16`).
    public var computeInBF16 = false

    public init() {}

    public struct Result: Sendable {
        public var tokensPerSecond: Double
        public var secondsPerStep: Double
        public var forwardBackwardSecondsPerStep: Double, optimizerSecondsPerStep: Double
        /// Process CPU time (all threads) per step: steadier than wall time on a shared machine.
        public var cpuSecondsPerStep: Double
        /// The same split into forward + backward and the optimizer step.
        public var forwardBackwardCPUSecondsPerStep: Double, optimizerCPUSecondsPerStep: Double
        public var peakResidentBytes: Int
        public var trainableParameters: Int
        public var lastLoss: Float
        /// Matrix-product FLOPs of one step (StepFlops).
        public var matrixFlopsPerStep: Double
        /// sgemm's rate in this process right after the steps, GFLOP/s.
        public var sgemmGigaflops: Double
        /// matrixFlopsPerStep / secondsPerStep / sgemm rate.
        public var modelFlopsUtilisation: Double { matrixFlopsPerStep / secondsPerStep / (sgemmGigaflops * 1e9) }
        /// The optimizer's part of a step's wall time.
        public var optimizerShare: Double { optimizerSecondsPerStep / secondsPerStep }
    }

    /// The model of `shape`, its hidden width, and the attention width (heads x head size).
    func makeModel() throws -> (model: CausalLanguageModel, targets: [String], hidden: Int, attentionWidth: Int, layers: Int) {
        switch shape {
        case .smolLM135M:
            return (try LlamaModel(randomlyInitialized: config, seed: seed), targets ?? LlamaModel.projectionNames, config.hidden, config.queryWidth, config.layers)
        case .gpt2Small:
            var gpt2 = GPT2Config.gpt2Small
            gpt2.layers = gpt2Layers
            return (try GPT2Model(randomlyInitialized: gpt2, seed: seed), ["c_attn", "c_proj", "c_fc"], gpt2.channels, gpt2.channels, gpt2.layers)
        }
    }

    public func run() throws -> Result {
        let (model, targets, hidden, attentionWidth, layers) = try makeModel()
        model.storeFrozenWeights(as: baseDType)
        if computeInBF16 { model.computeFrozenWeights(inBF16: true) }
        let adapters = try model.addLowRankAdapters(targets: targets, rank: rank, alpha: Float(rank), seed: seed &+ 1)
        // PEFT starts B at zero; a step of random B makes the LoFT solves non-degenerate from step 1,
        // as they are after the first update of a real run.
        var random = SeededGenerator(seed: seed &+ 2)
        for adapter in adapters { for i in 0..<adapter.b.count { adapter.b[i] = 0.01 * random.normal() } }
        let tokens = (0..<(batch * sequence)).map { _ in Int32(random.next() % UInt64(model.vocabularySize)) }
        let targetIds = (0..<(batch * sequence)).map { _ in Int32(random.next() % UInt64(model.vocabularySize)) }

        var optimizerObject: Optimizer?
        if optimizer != "none" {
            let object = Optimizer(method: optimizer == "lora" ? .loraAdamW : .loft, hyperparameters: .loftDefaults, maxGradientNorm: 1.0)
            try model.register(with: object)
            optimizerObject = object
        }

        var forwardBackward = 0.0, update = 0.0, cpu = 0.0, updateCPU = 0.0, loss: Float = 0
        for step in 0...steps {  // step 0 is a warm-up (allocations, first-touch of pages)
            let c0 = Self.processCPUSeconds()
            let t0 = Date()
            model.zeroGradients()
            loss = try model.forwardBackward(tokens: tokens, targets: targetIds, batch: batch, sequence: sequence, headRows: 512)
            let t1 = Date()
            let c1 = Self.processCPUSeconds()
            if let optimizerObject { _ = try optimizerObject.step(gradients: model.gradients, learningRate: 1e-4) }
            let t2 = Date()
            if step > 0 {
                let c2 = Self.processCPUSeconds()
                cpu += c2 - c0
                updateCPU += c2 - c1
                forwardBackward += t1.timeIntervalSince(t0)
                update += t2.timeIntervalSince(t1)
            }
        }
        let perStep = (forwardBackward + update) / Double(steps)
        let flops = StepFlops.loraStep(projections: model.projections.map { ($0.inFeatures, $0.outFeatures) }, rank: rank,
                                       rows: batch * sequence, hidden: hidden, vocabulary: model.vocabularySize,
                                       attentionWidth: attentionWidth, layers: layers, batch: batch, sequence: sequence)
        return Result(tokensPerSecond: Double(batch * sequence) / perStep, secondsPerStep: perStep,
                      forwardBackwardSecondsPerStep: forwardBackward / Double(steps),
                      optimizerSecondsPerStep: update / Double(steps), cpuSecondsPerStep: cpu / Double(steps),
                      forwardBackwardCPUSecondsPerStep: (cpu - updateCPU) / Double(steps),
                      optimizerCPUSecondsPerStep: updateCPU / Double(steps),
                      peakResidentBytes: Self.peakResidentBytes(),
                      trainableParameters: adapters.reduce(0) { $0 + $1.a.count + $1.b.count }, lastLoss: loss,
                      matrixFlopsPerStep: flops, sgemmGigaflops: SgemmPeak.gigaflops())
    }

    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// VmHWM of /proc/self/status (0 where there is no /proc).
    public static func peakResidentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.split(separator: " ").compactMap { Int($0) }
            return (digits.first ?? 0) * 1024
        }
        return 0
    }
}
