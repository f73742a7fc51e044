// Text generation for a causal language model (GPT-2, LLaMA): one token at a time. With a
// KV cache (the default, for the families that have one: GPT-2) the prompt runs once and each
// new token costs one row through the model; once the context passes the model's positions,
// every step is a full forward over the last `positions` tokens (the window slides, so cached
// keys would sit at the wrong positions). `cached: false`, and families without a cache
// (LLaMA), always run the full forward: the reference the cached path is tested against.
//
// Sampling: temperature 0 is greedy (argmax, lowest id on ties); otherwise softmax of
// logits / temperature, restricted to the top-k logits when k > 0, sampled with the seeded
// generator (Compute's SeededGenerator), so the same seed gives the same text.

import Compute
import Foundation
import Models

public struct SamplingOptions: Sendable {
    public var maxTokens = 64
    public var temperature: Float = 1
    public var topK = 0
    public var seed: UInt64 = 0
    /// Stop at this token (GPT-2's <|endoftext|>) when it is generated.
    public var stopToken: Int32?

    public init(maxTokens: Int = 64, temperature: Float = 1, topK: Int = 0, seed: UInt64 = 0, stopToken: Int32? = nil) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.seed = seed
        self.stopToken = stopToken
    }

    public func validate() throws {
        guard maxTokens >= 0 else { throw TrainingError.invalidSetting(.maxTokens, value: "\(maxTokens)", requirement: "≥ 0") }
        guard temperature >= 0, temperature.isFinite else {
            throw TrainingError.invalidSetting(.temperature, value: "\(temperature)", requirement: "≥ 0 and finite")
        }
        guard topK >= 0 else { throw TrainingError.invalidSetting(.topK, value: "\(topK)", requirement: "≥ 0") }
    }
}

public enum Generation {
    /// The generated ids (without the prompt). `onToken` sees each id as it is chosen.
    public static func generate(_ model: CausalLanguageModel, prompt: [Int32], options: SamplingOptions, cached: Bool = true,
                                onToken: (Int32) -> Void = { _ in }) throws -> [Int32] {
        guard !prompt.isEmpty else { throw TrainingError.emptyPrompt }
        try options.validate()
        let vocabulary = model.vocabularySize
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw TrainingError.tokenOutOfVocabulary(path: "prompt", index: prompt.firstIndex(of: bad)!, id: Int64(bad), vocabularySize: vocabulary)
        }
        var random = SeededGenerator(seed: options.seed)
        var context = prompt
        var generated: [Int32] = []
        let cache = cached ? model.makeKeyValueCache() : nil
        for _ in 0..<options.maxTokens {
            let logits: [Float]
            if let cache, context.count <= cache.capacity {
                logits = try cache.append(Array(context[cache.count...]))
            } else {
                let window = Array(context.suffix(model.maxPositions))
                try model.forward(tokens: window, targets: nil, batch: 1, sequence: window.count)
                logits = Array(model.logits[((window.count - 1) * vocabulary)..<(window.count * vocabulary)])
            }
            let next = sample(logits: logits, temperature: options.temperature, topK: options.topK, random: &random)
            generated.append(next)
            context.append(next)
            onToken(next)
            if let stop = options.stopToken, next == stop { break }
        }
        model.releaseActivations()
        return generated
    }

    public static func sample(logits: [Float], temperature: Float, topK: Int, random: inout SeededGenerator) -> Int32 {
        if temperature == 0 {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        var candidates = Array(logits.indices)
        if topK > 0 && topK < logits.count {
            candidates.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
            candidates = Array(candidates.prefix(topK))
        }
        let maximum = candidates.map { logits[$0] }.max()!
        let weights = candidates.map { exp(Double(logits[$0] - maximum) / Double(temperature)) }
        let total = weights.reduce(0, +)
        var u = Double(random.next() >> 11) * (1.0 / 9007199254740992.0) * total
        for (index, weight) in zip(candidates, weights) {
            u -= weight
            if u < 0 { return Int32(index) }
        }
        return Int32(candidates.last!)
    }
}
