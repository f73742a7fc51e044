// Tokens per second of whole training steps (forward, backward, LoFT optimizer step, r 8),
// random GPT-2 weights, two ways:
//   zero-copy: the Trainer as it is (forwardBackward, the optimizer updating the model's own
//              Matrix views);
//   copying:   what Training did before the engine's hand-off: forward with full logits,
//              backward, gradients copied into optimizer-owned mirrors, values copied back.
// A measurement, not a check: it runs only when LOFT_BENCH is set, in a release build:
//   swift build -c release --build-tests -Xswiftc -enable-testing
//   LOFT_BENCH=1 swift test -c release --skip-build --filter TrainingThroughput

import Foundation
import Testing
import Compute
import LoFT
import Models
@testable import Training

private struct StepCase: CustomStringConvertible, Sendable {
    var label: String, config: GPT2Config, batch: Int, sequence: Int
    var description: String { label }
}

private let stepCases = [
    StepCase(label: "4 x 128, vocab 2001", config: GPT2Config(vocabularySize: 2001, positions: 256, channels: 128, heads: 4, layers: 4),
             batch: 8, sequence: 64),
    StepCase(label: "6 x 384, vocab 50257", config: GPT2Config(vocabularySize: 50257, positions: 1024, channels: 384, heads: 6, layers: 6),
             batch: 8, sequence: 128),
]

/// The per-step copies of the old bridge, on the same model.
private final class CopyingBridge {
    let optimizer: Optimizer
    var pairs: [(adapter: LowRankAdapter, pair: LowRankPair, gradientA: Matrix, gradientB: Matrix)] = []

    init(model: GPT2Model, options: TrainingOptions) throws {
        optimizer = Optimizer(method: .loft, hyperparameters: options.hyperparameters, maxGradientNorm: options.clip)
        for adapter in model.lowRankAdapters {
            let pair = LowRankPair(a: Matrix(rows: adapter.rank, columns: adapter.inFeatures, elements: Array(UnsafeBufferPointer(adapter.a.buffer))),
                                   b: Matrix(rows: adapter.outFeatures, columns: adapter.rank, elements: Array(UnsafeBufferPointer(adapter.b.buffer))))
            try optimizer.register(pair: adapter.name, pair)
            pairs.append((adapter, pair, Matrix(rows: adapter.rank, columns: adapter.inFeatures), Matrix(rows: adapter.outFeatures, columns: adapter.rank)))
        }
    }

    func step(learningRate: Float) throws {
        var gradients: [String: Gradient] = [:]
        for entry in pairs {
            entry.gradientA.baseAddress.update(from: entry.adapter.gradientA.pointer, count: entry.gradientA.count)
            entry.gradientB.baseAddress.update(from: entry.adapter.gradientB.pointer, count: entry.gradientB.count)
            gradients[entry.adapter.name] = .pair(a: entry.gradientA, b: entry.gradientB)
        }
        _ = try optimizer.step(gradients: gradients, learningRate: learningRate)
        for entry in pairs {
            entry.adapter.a.pointer.update(from: entry.pair.a.baseAddress, count: entry.adapter.a.count)
            entry.adapter.b.pointer.update(from: entry.pair.b.baseAddress, count: entry.adapter.b.count)
        }
    }
}

@Test(.serialized, .enabled(if: ProcessInfo.processInfo.environment["LOFT_BENCH"] != nil), arguments: stepCases)
private func TrainingThroughputZeroCopyAgainstCopying(_ bench: StepCase) throws {
    let steps = 8, warmup = 2
    var random = SeededGenerator(seed: 7)
    let tokens = (0..<(bench.batch * bench.sequence * 4)).map { _ in Int32(random.next() % UInt64(bench.config.vocabularySize)) }
    var options = TrainingOptions()
    options.targets = ["c_attn", "c_proj", "c_fc"]
    options.steps = steps
    options.evalInterval = 1_000_000

    let task = try LanguageModelTask(model: try GPT2Model(randomlyInitialized: bench.config, seed: 1), trainTokens: tokens, evalTokens: nil,
                                     batch: bench.batch, sequence: bench.sequence, seed: 3)
    let trainer = try Trainer(task: task, options: options)
    try trainer.run()
    let zeroCopy = trainer.history.dropFirst(warmup).compactMap(\.tokensPerSecond)

    // Same start (same seeds), the old way.
    let model = try GPT2Model(randomlyInitialized: bench.config, seed: 1)
    model.setTrainable(targets: [])
    try model.addLowRankAdapters(targets: options.targets ?? model.defaultTargets, rank: options.rank, alpha: options.alpha, seed: options.seed)
    let bridge = try CopyingBridge(model: model, options: options)
    let sampler = WindowSampler(tokenCount: tokens.count, batch: bench.batch, sequence: bench.sequence, seed: 3)
    var copying: [Double] = [], oldLosses: [Float] = []
    for step in 0..<steps {
        let started = Date()
        model.zeroGradients()
        let (inputs, targets) = sampler.batch(step: step, tokens: tokens)
        oldLosses.append(try model.forward(tokens: inputs, targets: targets, batch: bench.batch, sequence: bench.sequence)!)
        model.backward()
        try bridge.step(learningRate: options.schedulePlan.rate(step: step))
        if step >= warmup { copying.append(Double(inputs.count) / Date().timeIntervalSince(started)) }
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    let newLosses = trainer.history.compactMap(\.loss)
    let sameLosses = zip(newLosses, oldLosses).allSatisfy { $0.bitPattern == $1.bitPattern }
    print(String(format: "%@ B %d T %d: zero-copy %.0f tokens/s, copying %.0f tokens/s (median of %d steps); losses bit-identical: %@",
                 bench.label, bench.batch, bench.sequence, median(zeroCopy), median(copying), zeroCopy.count, sameLosses ? "yes" : "no"))
    print("  zero-copy losses \(newLosses)\n  copying   losses \(oldLosses)")
}

// Generated tokens per second with and without the KV cache (6 x 384, vocab 50257, prompt 16,
// 96 new tokens, greedy). LOFT_BENCH only, release build, as above.
@Test(.enabled(if: ProcessInfo.processInfo.environment["LOFT_BENCH"] != nil))
private func GenerationThroughputCachedAgainstUncached() throws {
    let model = try GPT2Model(randomlyInitialized: GPT2Config(vocabularySize: 50257, positions: 1024, channels: 384, heads: 6, layers: 6), seed: 1)
    let prompt = (0..<16).map { Int32($0 * 97) }
    let options = SamplingOptions(maxTokens: 96, temperature: 0)
    var rates: [Bool: Double] = [:], tokens: [Bool: [Int32]] = [:]
    for cached in [true, false] {
        let started = Date()
        tokens[cached] = try Generation.generate(model, prompt: prompt, options: options, cached: cached)
        rates[cached] = Double(options.maxTokens) / Date().timeIntervalSince(started)
    }
    print(String(format: "generate 6 x 384: cached %.1f tokens/s, uncached %.1f tokens/s; same tokens: %@",
                 rates[true]!, rates[false]!, tokens[true] == tokens[false] ? "yes" : "no"))
}
