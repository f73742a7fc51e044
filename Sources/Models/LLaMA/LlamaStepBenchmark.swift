// One LLaMA fine-tuning step, timed and weighed (scripts/bench-llama.sh through
// `loft experiment llama-step`): a randomly initialised model of a given shape (SmolLM-135M
// by default), LoRA factors on the chosen projections, random tokens, then per step
// forward + backward + an optimizer step (LoFT-AdamW by default; "none" for forward +
// backward alone).
//
// The optimizer works on LinearAlgebra.Matrix, the model on FloatBuffer: each pair has a
// Matrix mirror, gradients are copied in and values copied back (O(adapter) per step).
// Memory: the process's peak resident set (VmHWM), which includes the weights, activations,
// logits, gradients and optimizer state: what a user sees.

import Foundation
import LinearAlgebra
import LoFT

public struct LlamaStepBenchmark {
    public var config = LlamaConfig.smolLM135M
    public var batch = 4, sequence = 256
    public var rank = 16
    public var targets = LlamaModel.projectionNames
    /// "loft", "lora" (LoRA-AdamW) or "none" (forward + backward only).
    public var optimizer = "loft"
    public var steps = 3
    public var seed: UInt64 = 0

    public init() {}

    public struct Result: Sendable {
        public var tokensPerSecond: Double
        public var secondsPerStep: Double
        public var forwardSecondsPerStep: Double, backwardSecondsPerStep: Double, optimizerSecondsPerStep: Double
        /// Process CPU time (all threads) per step: steadier than wall time on a shared machine.
        public var cpuSecondsPerStep: Double
        public var peakResidentBytes: Int
        public var trainableParameters: Int
        public var lastLoss: Float
    }

    public func run() throws -> Result {
        let model = try LlamaModel(randomlyInitialized: config, seed: seed)
        let adapters = try model.addLowRankAdapters(targets: targets, rank: rank, alpha: Float(rank), seed: seed &+ 1)
        // PEFT starts B at zero; a step of random B makes the LoFT solves non-degenerate from step 1,
        // as they are after the first update of a real run.
        var random = SeededRandom(seed: seed &+ 2)
        for adapter in adapters { for i in 0..<adapter.b.count { adapter.b[i] = 0.01 * random.normal() } }
        let tokens = (0..<(batch * sequence)).map { _ in Int32(random.next() % UInt64(config.vocabularySize)) }
        let targetIds = (0..<(batch * sequence)).map { _ in Int32(random.next() % UInt64(config.vocabularySize)) }

        var mirrors: [(adapter: LowRankAdapter, pair: LowRankPair, gradientA: Matrix, gradientB: Matrix)] = []
        var optimizerObject: Optimizer?
        if optimizer != "none" {
            let method: LowRankMethod = optimizer == "lora" ? .loraAdamW : .loft
            let object = Optimizer(method: method, hyperparameters: .loftDefaults, maxGradientNorm: 1.0)
            for adapter in adapters {
                let a = Matrix(rows: adapter.rank, columns: adapter.inFeatures), b = Matrix(rows: adapter.outFeatures, columns: adapter.rank)
                a.baseAddress.update(from: adapter.a.pointer, count: adapter.a.count)
                b.baseAddress.update(from: adapter.b.pointer, count: adapter.b.count)
                let pair = LowRankPair(a: a, b: b)
                try object.register(pair: adapter.name, pair)
                mirrors.append((adapter, pair, Matrix(rows: adapter.rank, columns: adapter.inFeatures),
                                Matrix(rows: adapter.outFeatures, columns: adapter.rank)))
            }
            optimizerObject = object
        }

        var forward = 0.0, backward = 0.0, update = 0.0, cpu = 0.0, loss: Float = 0
        for step in 0...steps {  // step 0 is a warm-up (allocations, first-touch of pages)
            let c0 = Self.processCPUSeconds()
            let t0 = Date()
            loss = try model.forward(tokens: tokens, targets: targetIds, batch: batch, sequence: sequence)!
            let t1 = Date()
            model.zeroGradients()
            model.backward()
            let t2 = Date()
            if let optimizerObject {
                var gradients: [String: Gradient] = [:]
                for mirror in mirrors {
                    mirror.gradientA.baseAddress.update(from: mirror.adapter.gradientA.pointer, count: mirror.adapter.gradientA.count)
                    mirror.gradientB.baseAddress.update(from: mirror.adapter.gradientB.pointer, count: mirror.adapter.gradientB.count)
                    gradients[mirror.adapter.name] = .pair(a: mirror.gradientA, b: mirror.gradientB)
                }
                _ = try optimizerObject.step(gradients: gradients, learningRate: 1e-4)
                for mirror in mirrors {
                    mirror.adapter.a.pointer.update(from: mirror.pair.a.baseAddress, count: mirror.adapter.a.count)
                    mirror.adapter.b.pointer.update(from: mirror.pair.b.baseAddress, count: mirror.adapter.b.count)
                }
            }
            let t3 = Date()
            if step > 0 {
                cpu += Self.processCPUSeconds() - c0
                forward += t1.timeIntervalSince(t0)
                backward += t2.timeIntervalSince(t1)
                update += t3.timeIntervalSince(t2)
            }
        }
        let perStep = (forward + backward + update) / Double(steps)
        return Result(tokensPerSecond: Double(batch * sequence) / perStep, secondsPerStep: perStep,
                      forwardSecondsPerStep: forward / Double(steps), backwardSecondsPerStep: backward / Double(steps),
                      optimizerSecondsPerStep: update / Double(steps), cpuSecondsPerStep: cpu / Double(steps),
                      peakResidentBytes: Self.peakResidentBytes(),
                      trainableParameters: adapters.reduce(0) { $0 + $1.a.count + $1.b.count }, lastLoss: loss)
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
