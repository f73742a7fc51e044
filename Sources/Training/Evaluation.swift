// Evaluation loss, defined so that a PyTorch script reproduces it exactly (scripts/peft_eval.py):
//
// Language model: the token stream x[0..<n] is cut into consecutive, non-overlapping chunks
// x[kT ..< min((k+1)T, n)] for k = 0, 1, ...; a last chunk shorter than 2 tokens is dropped.
// Each chunk is one model input, and inside it position t predicts token t+1 (what
// `model(input_ids=chunk, labels=chunk)` does in transformers), so a chunk of length L gives
// L − 1 predictions and no prediction crosses a chunk boundary. The loss is the mean
// cross-entropy (natural log) over all predictions of all chunks; `tokens` counts them;
// perplexity = exp(loss). Chunks are run up to B at a time; the batch size changes nothing
// but speed (and memory: the output head runs in row blocks, never over all logits).
//
// MLP: the mean loss per example over all rows (MSE per entry for regression, cross-entropy
// for classification), run B rows at a time.
//
// A data-parallel run evaluates a shard per rank (a contiguous part of the chunks, or rows)
// and sums loss x count and count across the ranks.

import Compute
import Foundation
import Models

public struct EvaluationResult: Sendable, Equatable {
    /// Mean loss per prediction.
    public var loss: Double
    /// Predictions counted (tokens predicted, or rows for an MLP).
    public var count: Int
    public var perplexity: Double { exp(loss) }

    public init(loss: Double, count: Int) {
        self.loss = loss
        self.count = count
    }
}

public enum Evaluation {
    /// The settings' ranges: at least one chunk per pass, chunks of at least two tokens (one
    /// prediction). `sequence` nil: an MLP, or a language model's default length.
    public static func checkSettings(batch: Int, sequence: Int?) throws {
        guard batch > 0 else { throw TrainingError.invalidSetting(.batch, value: "\(batch)", requirement: "≥ 1") }
        if let sequence, sequence < 2 { throw TrainingError.invalidSetting(.sequence, value: "\(sequence)", requirement: "≥ 2") }
    }

    public static func languageModel(_ model: CausalLanguageModel, tokens: [Int32], batch: Int, sequence: Int,
                                     shard: Shard = .whole) throws -> EvaluationResult {
        try checkSettings(batch: batch, sequence: sequence)
        var chunks: [Range<Int>] = []
        var start = 0
        while start < tokens.count {
            let end = min(start + sequence, tokens.count)
            if end - start >= 2 { chunks.append(start..<end) }
            start = end
        }
        guard !chunks.isEmpty else {
            throw TrainingError.tooShort(path: "evaluation data", count: tokens.count, needed: 2, what: "tokens")
        }
        chunks = Array(chunks[shard.range(of: chunks.count)])
        // model.loss runs the head in row blocks: memory grows with batch x T x channels,
        // not with vocab x tokens.
        let perForward = batch
        var total = 0.0, predictions = 0
        var index = 0
        while index < chunks.count {
            // Equal-length chunks go together; the short last chunk runs alone.
            let length = chunks[index].count
            var group: [Range<Int>] = []
            while index < chunks.count, group.count < perForward, chunks[index].count == length {
                group.append(chunks[index])
                index += 1
            }
            var inputs: [Int32] = [], targets: [Int32] = []
            for chunk in group {
                inputs.append(contentsOf: tokens[chunk])
                targets.append(contentsOf: tokens[(chunk.lowerBound + 1)..<chunk.upperBound])
                targets.append(CrossEntropy.ignoreIndex)
            }
            let (sum, counted) = try model.loss(tokens: inputs, targets: targets, batch: group.count, sequence: length, headRows: 512)
            total += sum
            predictions += counted
        }
        model.releaseActivations()
        return EvaluationResult(loss: predictions == 0 ? 0 : total / Double(predictions), count: predictions)
    }

    public static func mlp(_ model: MLPModel, data: MLPData, batch: Int, shard: Shard = .whole) throws -> EvaluationResult {
        try checkSettings(batch: batch, sequence: nil)
        let part = shard.range(of: data.rows)
        var total = 0.0
        var start = part.lowerBound
        while start < part.upperBound {
            let rows = Array(start..<min(start + batch, part.upperBound))
            let (inputs, targets) = data.batch(rows: rows)
            let loss = try model.forward(inputs: inputs, batch: rows.count, targets: targets)!
            total += Double(loss) * Double(rows.count)
            start += batch
        }
        return EvaluationResult(loss: part.isEmpty ? 0 : total / Double(part.count), count: part.count)
    }
}
