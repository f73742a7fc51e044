// The training loop: per step zero the gradients, forward and backward on the step's batch,
// one optimizer step (LoFT, LoRA-AdamW or AdamW, clipped) at the schedule's rate; evaluate
// and checkpoint every `evalInterval` steps and after the last. Everything a step depends on
// is a function of (seed, step) or stored in the checkpoint, so a resumed run is bit for bit
// the uninterrupted one.
//
// Under mpirun the loop is data-parallel (DataParallel.swift): each rank runs its slice of
// the batch and one all-reduce per step sums the gradients before the common optimizer step.

import Compute
import Foundation
import LoFT
import Models

public struct LogEntry: Sendable, Equatable {
    /// Steps done (0 = before training, an evaluation-only entry).
    public var step: Int
    public var loss: Float?
    public var evalLoss: Double?
    public var learningRate: Float?
    public var tokensPerSecond: Double?
    public var gradientNorm: Double?
    /// What the optimizer step had to work around (LoFT's `OptimizerEvent`s), as text.
    public var optimizerEvents: [String]
    /// Seconds in the step's gradient all-reduce (data-parallel runs only).
    public var allReduceSeconds: Double?

    public init(step: Int, loss: Float? = nil, evalLoss: Double? = nil, learningRate: Float? = nil,
                tokensPerSecond: Double? = nil, gradientNorm: Double? = nil, optimizerEvents: [String] = [],
                allReduceSeconds: Double? = nil) {
        self.step = step
        self.loss = loss
        self.evalLoss = evalLoss
        self.learningRate = learningRate
        self.tokensPerSecond = tokensPerSecond
        self.gradientNorm = gradientNorm
        self.optimizerEvents = optimizerEvents
        self.allReduceSeconds = allReduceSeconds
    }
}

public enum TrainingEvent {
    case evaluated(LogEntry)
    case stepped(LogEntry)
}

public final class Trainer {
    public let task: TrainingTask
    public let options: TrainingOptions
    public private(set) var step = 0
    public private(set) var history: [LogEntry] = []
    /// The job's processes (one unless started by mpirun).
    public let communicator: Communicator
    let binding: OptimizerBinding
    private let reduction: GradientReduction?

    /// Attaches adapters (LoFT, LoRA) or unfreezes the targeted weights (AdamW) and registers
    /// them with the optimizer. Unknown targets throw here, before any step.
    public init(task: TrainingTask, options: TrainingOptions, communicator: Communicator = SingleProcess()) throws {
        try options.validate()
        guard task.batchRows >= communicator.size else {
            throw TrainingError.invalidSetting(.batch, value: "\(task.batchRows)", requirement: "at least the number of MPI ranks (\(communicator.size))")
        }
        self.task = task
        self.communicator = communicator
        reduction = communicator.size > 1 ? GradientReduction(communicator: communicator) : nil
        let model = task.trainableModel
        let targets = options.targets ?? model.defaultTargets
        var resolved = options
        resolved.targets = targets
        self.options = resolved
        model.removeLowRankAdapters()
        let method: LowRankMethod
        switch options.method {
        case .loft, .lora:
            model.setTrainable(targets: [])
            try model.addLowRankAdapters(targets: targets, rank: options.rank, alpha: options.alpha, seed: options.seed)
            method = options.method == .loft ? .loft(options.loftOptions) : .loraAdamW
        case .adamw:
            try Trainer.checkDenseTargets(targets, model: model)
            model.setTrainable(targets: targets)
            method = .loraAdamW
        }
        let optimizer = Optimizer(method: method, hyperparameters: options.hyperparameters, maxGradientNorm: options.clip)
        binding = try OptimizerBinding(optimizer: optimizer, model: model)
    }

    /// For full fine-tuning a target may name any module holding parameters (wte, ln_f, ...).
    static func checkDenseTargets(_ targets: [String], model: TrainableModel) throws {
        if targets.contains("all") { return }
        let modules = Array(Set(model.parameters.map(\.modulePath))).sorted()
        for target in targets where !modules.contains(where: { moduleMatches($0, target: target) }) {
            throw ModelError.unknownTarget(target: target, modules: model.projections.map(\.name) + modules)
        }
    }

    public var optimizer: Optimizer { binding.optimizer }
    public var isFinished: Bool { step >= options.steps }

    /// Runs until `options.steps` (or `options.stopAfter`) steps are done in total.
    public func run(observer: (TrainingEvent) -> Void = { _ in }, checkpoint: ((Trainer) throws -> Void)? = nil) throws {
        let model = task.trainableModel
        let schedule = options.schedulePlan
        let end = min(options.steps, options.stopAfter ?? options.steps)
        let rows = communicator.shard.range(of: task.batchRows)
        let fault = communicator.size > 1 ? FaultInjection.fromEnvironment() : nil
        if step == 0, let result = try evaluate() {
            let entry = LogEntry(step: 0, evalLoss: result.loss)
            history.append(entry)
            observer(.evaluated(entry))
        }
        while step < end {
            fault?.check(rank: communicator.rank, step: step)
            let started = DispatchTime.now().uptimeNanoseconds
            model.zeroGradients()
            var (loss, items) = try task.accumulateGradients(step: step, rows: rows)
            var allReduceSeconds: Double?
            if let reduction {
                // Every rank sees the global loss, so every rank stops together on a bad one.
                var seconds = 0.0
                loss = try reduction.reduce(model: model, weight: Float(rows.count) / Float(task.batchRows), loss: loss, seconds: &seconds)
                items = task.itemsPerStep
                allReduceSeconds = seconds
            }
            guard loss.isFinite else {
                throw TrainingError.lossNotFinite(step: step + 1, loss: loss)
            }
            let rate = schedule.rate(step: step)
            let report = try binding.step(learningRate: rate)
            step += 1
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            var entry = LogEntry(step: step, loss: loss, learningRate: rate, tokensPerSecond: Double(items) / max(seconds, 1e-9),
                                 gradientNorm: report.gradientNorm, optimizerEvents: report.events.map(\.description),
                                 allReduceSeconds: allReduceSeconds)
            if step % options.evalInterval == 0 || step == options.steps, let result = try evaluate() {
                entry.evalLoss = result.loss
            }
            history.append(entry)
            observer(.stepped(entry))
            if step % options.evalInterval == 0 || step == end { try checkpoint?(self) }
        }
    }

    /// The evaluation over the whole eval set: each rank's shard, summed across the ranks.
    func evaluate() throws -> EvaluationResult? {
        guard communicator.size > 1 else { return try task.evaluate() }
        guard let part = try task.evaluate(shard: communicator.shard) else { return nil }
        let (total, count) = try communicator.allReduceSum(part.loss * Double(part.count), Double(part.count))
        return EvaluationResult(loss: total / count, count: Int(count))
    }

    /// Restores a run saved by `TrainingCheckpoint.save` (same options that shape the state).
    func restore(step: Int, history: [LogEntry]) {
        self.step = step
        self.history = history
    }
}
