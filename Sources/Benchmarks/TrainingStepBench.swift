// Tokens per second of whole training steps (forward, backward, LoFT optimizer step, r 8) on
// random GPT-2 weights, through the Trainer as `loft finetune` runs it; and generation with
// and without the KV cache.

import ArgumentParser
import Compute
import Foundation
import Models
import Training

struct TrainingStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "training-step", abstract: "Trainer tokens/s (LoFT r 8) on random GPT-2 weights.")

    enum Shape: String, ExpressibleByArgument, CaseIterable { case small, bench }

    @Option(help: "small (4 x 128, vocab 2001, B 8, T 64) or bench (6 x 384, vocab 50257, B 8, T 128).") var shape: Shape = .small
    @Option(help: "Steps; the first two are warm-up.") var steps = 8

    func run() throws {
        let (config, batch, sequence): (GPT2Config, Int, Int) = switch shape {
        case .small: (GPT2Config(vocabularySize: 2001, positions: 256, channels: 128, heads: 4, layers: 4), 8, 64)
        case .bench: (GPT2Config(vocabularySize: 50257, positions: 1024, channels: 384, heads: 6, layers: 6), 8, 128)
        }
        var random = SeededGenerator(seed: 7)
        let tokens = (0..<(batch * sequence * 4)).map { _ in Int32(random.next() % UInt64(config.vocabularySize)) }
        var options = TrainingOptions()
        options.targets = ["c_attn", "c_proj", "c_fc"]
        options.steps = steps
        options.evalInterval = 1_000_000
        let task = try LanguageModelTask(model: try GPT2Model(randomlyInitialized: config, seed: 1), trainTokens: tokens,
                                         evalTokens: nil, batch: batch, sequence: sequence, seed: 3)
        let trainer = try Trainer(task: task, options: options)
        try trainer.run()
        let rates = trainer.history.dropFirst(2).compactMap(\.tokensPerSecond).sorted()
        guard !rates.isEmpty else { throw ValidationError("--steps must be above 2 (two warm-up steps)") }
        print(String(format: "%@ B %d T %d: %.0f tokens/s (median of %d steps), peak RSS %.0f MB", shape.rawValue, batch, sequence,
                     rates[rates.count / 2], rates.count, Timing.peakResidentMegabytes()))
    }
}

struct GenerationBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generation", abstract: "Generated tokens/s with and without the KV cache (6 x 384, greedy).")

    @Option(help: "New tokens per run.") var tokens = 96

    func run() throws {
        let config = GPT2Config(vocabularySize: 50257, positions: 1024, channels: 384, heads: 6, layers: 6)
        let model = try GPT2Model(randomlyInitialized: config, seed: 1)
        let prompt = (0..<16).map { Int32($0 * 97) }
        let options = SamplingOptions(maxTokens: tokens, temperature: 0)
        var rates: [Bool: Double] = [:], outputs: [Bool: [Int32]] = [:]
        for cached in [true, false] {
            let started = Date()
            outputs[cached] = try Generation.generate(model, prompt: prompt, options: options, cached: cached)
            rates[cached] = Double(options.maxTokens) / Date().timeIntervalSince(started)
        }
        print(String(format: "generate 6 x 384: cached %.1f tokens/s, uncached %.1f tokens/s; same tokens: %@",
                     rates[true]!, rates[false]!, outputs[true] == outputs[false] ? "yes" : "no"))
    }
}
