// What the training loop drives: a model, the gradients of one step's batch, and the
// evaluation loss. One implementation per model family.

import Compute
import Models

public protocol TrainingTask: AnyObject {
    var trainableModel: TrainableModel { get }
    /// Forward and backward on rows `rows` of the batch of `step` (gradients accumulate; the
    /// loop zeroes them): the gradient of the mean loss over those rows. Returns that mean
    /// loss and the number of tokens (or rows) processed.
    func accumulateGradients(step: Int, rows: Range<Int>) throws -> (loss: Float, items: Int)
    /// The evaluation over `shard`'s part of the eval set (`.whole`: all of it); nil when
    /// there is none. A part with nothing to evaluate has count 0.
    func evaluate(shard: Shard) throws -> EvaluationResult?
    /// Rows (windows or examples) per step: the global batch.
    var batchRows: Int { get }
    /// Items (tokens or rows) in the training data, for `--epochs`.
    var trainingItems: Int { get }
    /// Items one step consumes.
    var itemsPerStep: Int { get }
}

extension TrainingTask {
    public func accumulateGradients(step: Int) throws -> (loss: Float, items: Int) {
        try accumulateGradients(step: step, rows: 0..<batchRows)
    }

    public func evaluate() throws -> EvaluationResult? { try evaluate(shard: .whole) }
}

public final class LanguageModelTask: TrainingTask {
    public let model: CausalLanguageModel
    public let trainTokens: [Int32]
    public let evalTokens: [Int32]?
    public let sampler: WindowSampler
    /// Windows per forward for evaluation (the training batch).
    public let evalBatch: Int

    /// Checks the data fits (T + 1 tokens at least, T within the model's positions).
    public init(model: CausalLanguageModel, trainTokens: [Int32], evalTokens: [Int32]?, batch: Int, sequence: Int, seed: UInt64,
                trainPath: String = "training data", evalPath: String = "evaluation data") throws {
        guard batch > 0 else { throw TrainingError.invalidSetting(.batch, value: "\(batch)", requirement: "positive") }
        guard sequence > 0 else { throw TrainingError.invalidSetting(.sequence, value: "\(sequence)", requirement: "positive") }
        guard sequence <= model.maxPositions else {
            throw TrainingError.sequenceTooLong(sequence: sequence, context: model.maxPositions)
        }
        guard trainTokens.count >= sequence + 1 else {
            throw TrainingError.tooShort(path: trainPath, count: trainTokens.count, needed: sequence + 1, what: "training tokens (one window of --seq + 1)")
        }
        if let evalTokens, evalTokens.count < 2 {
            throw TrainingError.tooShort(path: evalPath, count: evalTokens.count, needed: 2, what: "evaluation tokens")
        }
        self.model = model
        self.trainTokens = trainTokens
        self.evalTokens = evalTokens
        self.evalBatch = batch
        sampler = WindowSampler(tokenCount: trainTokens.count, batch: batch, sequence: sequence, seed: seed)
    }

    public var trainableModel: TrainableModel { model }
    public var trainingItems: Int { trainTokens.count - 1 }
    public var itemsPerStep: Int { sampler.batch * sampler.sequence }

    public var batchRows: Int { sampler.batch }

    public func accumulateGradients(step: Int, rows: Range<Int>) throws -> (loss: Float, items: Int) {
        let (inputs, targets) = sampler.batch(step: step, tokens: trainTokens, rows: rows)
        // forwardBackward never holds the [B·T, vocab] logits: the head runs in row blocks.
        let loss = try model.forwardBackward(tokens: inputs, targets: targets, batch: rows.count, sequence: sampler.sequence, headRows: 512)
        return (loss, inputs.count)
    }

    public func evaluate(shard: Shard) throws -> EvaluationResult? {
        guard let evalTokens else { return nil }
        return try Evaluation.languageModel(model, tokens: evalTokens, batch: evalBatch, sequence: sampler.sequence, shard: shard)
    }
}

public final class MLPTask: TrainingTask {
    public let model: MLPModel
    public let train: MLPData
    public let eval: MLPData?
    public let sampler: RowSampler

    public init(model: MLPModel, train: MLPData, eval: MLPData?, batch: Int, seed: UInt64) throws {
        guard batch > 0 else { throw TrainingError.invalidSetting(.batch, value: "\(batch)", requirement: "positive") }
        try train.check(against: model)
        try eval?.check(against: model)
        guard train.rows >= 1 else { throw TrainingError.tooShort(path: train.path, count: 0, needed: 1, what: "rows") }
        if let eval, eval.rows < 1 { throw TrainingError.tooShort(path: eval.path, count: 0, needed: 1, what: "evaluation rows") }
        self.model = model
        self.train = train
        self.eval = eval
        sampler = RowSampler(rowCount: train.rows, batch: batch, seed: seed)
    }

    public var trainableModel: TrainableModel { model }
    public var trainingItems: Int { train.rows }
    public var itemsPerStep: Int { sampler.batch }

    public var batchRows: Int { sampler.batch }

    public func accumulateGradients(step: Int, rows: Range<Int>) throws -> (loss: Float, items: Int) {
        let (inputs, targets) = train.batch(rows: Array(sampler.rows(step: step)[rows]))
        let loss = try model.forward(inputs: inputs, batch: rows.count, targets: targets)!
        model.backward()
        return (loss, rows.count)
    }

    public func evaluate(shard: Shard) throws -> EvaluationResult? {
        guard let eval else { return nil }
        return try Evaluation.mlp(model, data: eval, batch: sampler.batch, shard: shard)
    }
}
