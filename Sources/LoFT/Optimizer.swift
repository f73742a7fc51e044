// The optimizer a training loop drives: parameters registered by name, one `step` per batch
// with the gradients passed by name and the learning rate of this step (for schedules).
//
//     let optimizer = Optimizer(method: .loft, hyperparameters: .loftDefaults, maxGradientNorm: 1)
//     try optimizer.register(pair: "h.0.attn.c_attn", LowRankPair(a: a, b: b))
//     try optimizer.register(dense: "lm_head.bias", bias)
//     try optimizer.step(gradients: ["h.0.attn.c_attn": .pair(a: gA, b: gB),
//                                    "lm_head.bias": .dense(gBias)], learningRate: lr)
//
// Parameters are updated in place (Matrix is a reference type). Dense parameters use AdamW;
// pairs use LoRA-AdamW (AdamW on each factor) or LoFT-AdamW, as `method` says.

import Compute
import TensorIO

public enum Gradient {
    case dense(Matrix)
    /// gA = dL/dA (r x n), gB = dL/dB (m x r).
    case pair(a: Matrix, b: Matrix)
}

public struct OptimizerStepReport: Sendable {
    /// Global gradient norm (LoFT-aware for LoFT pairs), before clipping.
    public var gradientNorm: Double
    /// The factor the raw gradients were multiplied by (1 when not clipped).
    public var clipCoefficient: Float
    /// What the step had to work around (empty on a normal step): see `OptimizerEvent`.
    public var events: [OptimizerEvent] = []
}

/// A LoFT step that could not be taken as specified. A step never fails for numerical
/// reasons: it works around the case, and says so here, for the training log.
public enum OptimizerEvent: Sendable, Equatable, CustomStringConvertible {
    /// A Gram matrix could not be factored with the method's ridge (1e-6 / 1e-8); it was
    /// solved with a larger one, `ridge`.
    case regularizedSolve(name: String, factor: String, ridge: Double)
    /// The pair did not move this step (non-finite gradient, factor or direction, or a Gram
    /// matrix that no ridge makes positive definite). `reset`: its moments were cleared.
    case skippedStep(name: String, reason: String, reset: Bool)

    public var description: String {
        switch self {
        case let .regularizedSolve(name, factor, ridge):
            return "optimizer: pair '\(name)': \(factor) Gram matrix not positive definite, solved with ridge \(ridge)"
        case let .skippedStep(name, reason, reset):
            return "optimizer: pair '\(name)': step skipped (\(reason))" + (reset ? ", moments reset" : "")
        }
    }
}

public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    case duplicateParameter(name: String)
    case unknownParameter(name: String)
    case missingGradient(name: String)
    case wrongGradientKind(name: String)
    case shapeMismatch(name: String, expected: [Int], got: [Int])
    case invalidState(path: String, tensor: String, problem: String)

    public var description: String {
        switch self {
        case let .duplicateParameter(name): return "optimizer: parameter '\(name)' is registered twice"
        case let .unknownParameter(name): return "optimizer: gradient for unknown parameter '\(name)'"
        case let .missingGradient(name): return "optimizer: no gradient for parameter '\(name)'"
        case let .wrongGradientKind(name):
            return "optimizer: parameter '\(name)' got a dense gradient for a pair or a pair gradient for a dense parameter"
        case let .shapeMismatch(name, expected, got):
            return "optimizer: gradient '\(name)' has shape \(got), expected \(expected)"
        case let .invalidState(path, tensor, problem): return "\(path): optimizer state tensor '\(tensor)': \(problem)"
        }
    }
}

public final class Optimizer {
    public let method: LowRankMethod
    public var hyperparameters: AdamWHyperparameters
    /// Global-norm clipping threshold; nil = no clipping.
    public var maxGradientNorm: Float?
    /// Steps taken so far (decides which LoFT factor moves next).
    public internal(set) var stepCount = 0
    /// Events (`OptimizerEvent`) reported by all steps so far.
    public internal(set) var eventCount = 0

    enum Entry {
        case dense(Matrix, DenseAdamWState)
        case lora(LowRankPair, DenseAdamWState, DenseAdamWState)
        case loft(LoFTPairState)
    }
    /// Registration order: the order of state tensors and of the work in a step.
    var entries: [(name: String, entry: Entry)] = []
    var indexByName: [String: Int] = [:]
    /// Scratch memory and the cores for the LoFT pairs (LoFTWorkers.swift).
    let workers = LoFTWorkers()

    public init(method: LowRankMethod, hyperparameters: AdamWHyperparameters = .loftDefaults, maxGradientNorm: Float? = nil) {
        self.method = method
        self.hyperparameters = hyperparameters
        self.maxGradientNorm = maxGradientNorm
    }

    public var parameterNames: [String] { entries.map(\.name) }

    public func register(dense name: String, _ parameter: Matrix) throws {
        try add(name, .dense(parameter, DenseAdamWState(rows: parameter.rows, columns: parameter.columns)))
    }

    public func register(pair name: String, _ pair: LowRankPair) throws {
        switch method {
        case .loraAdamW:
            try add(name, .lora(pair, DenseAdamWState(rows: pair.a.rows, columns: pair.a.columns),
                                DenseAdamWState(rows: pair.b.rows, columns: pair.b.columns)))
        case let .loft(options):
            try add(name, .loft(LoFTPairState(pair: pair, options: options)))
        }
    }

    private func add(_ name: String, _ entry: Entry) throws {
        guard indexByName[name] == nil else { throw OptimizerError.duplicateParameter(name: name) }
        indexByName[name] = entries.count
        entries.append((name, entry))
    }

    /// One optimizer step. Every registered parameter needs a gradient.
    @discardableResult
    public func step(gradients: [String: Gradient], learningRate: Float) throws -> OptimizerStepReport {
        for name in gradients.keys where indexByName[name] == nil { throw OptimizerError.unknownParameter(name: name) }
        let h = hyperparameters

        // Every gradient is present, of the right kind and shape before anything runs.
        var loft: [(index: Int, state: LoFTPairState, gradientA: Matrix, gradientB: Matrix)] = []
        for (index, (name, entry)) in entries.enumerated() {
            guard let gradient = gradients[name] else { throw OptimizerError.missingGradient(name: name) }
            switch (entry, gradient) {
            case let (.dense(parameter, _), .dense(g)):
                try checkShape(name, g, parameter)
            case let (.lora(pair, _, _), .pair(gA, gB)):
                try checkShape(name + ".A", gA, pair.a)
                try checkShape(name + ".B", gB, pair.b)
            case let (.loft(state), .pair(gA, gB)):
                try checkShape(name + ".A", gA, state.pair.a)
                try checkShape(name + ".B", gB, state.pair.b)
                loft.append((index, state, gA, gB))
            default:
                throw OptimizerError.wrongGradientKind(name: name)
            }
        }

        // Pass 1: gradient scaling (LoFT, pairs spread over the cores) and the global norm
        // (summed in registration order).
        var preparations = [LoFTPreparation?](repeating: nil, count: entries.count)
        var pairNorms = [Double](repeating: 0, count: entries.count)
        let globalStep = stepCount
        preparations.withUnsafeMutableBufferPointer { preparations in
            pairNorms.withUnsafeMutableBufferPointer { pairNorms in
                workers.forEach(loft.count, cost: { loft[$0].state.stepCost }) { item, _ in
                    let (index, state, gA, gB) = loft[item]
                    let preparation = state.prepare(gradientA: gA, gradientB: gB, globalStep: globalStep)
                    if case let .prepared(step, _) = preparation { pairNorms[index] = state.projectedGradientSquaredNorm(step) }
                    preparations[index] = preparation
                }
            }
        }
        var prepared = [LoFTPreparedStep?](repeating: nil, count: entries.count)
        var events: [OptimizerEvent] = []
        var squaredNorm = 0.0
        for (index, (name, entry)) in entries.enumerated() {
            switch (entry, gradients[name]!) {
            case let (.dense(_, _), .dense(g)):
                squaredNorm += g.squaredNorm()
            case let (.lora(_, _, _), .pair(gA, gB)):
                squaredNorm += gA.squaredNorm() + gB.squaredNorm()
            case (.loft, _):
                // A pair that cannot be prepared sits this step out (and adds nothing to the norm).
                switch preparations[index]! {
                case let .prepared(step, ridges):
                    for (factor, ridge) in ridges { events.append(.regularizedSolve(name: name, factor: factor, ridge: ridge)) }
                    squaredNorm += pairNorms[index]
                    prepared[index] = step
                case let .skipped(reason):
                    events.append(.skippedStep(name: name, reason: reason, reset: false))
                }
            default:
                break
            }
        }
        let norm = squaredNorm.squareRoot()
        var coefficient: Float = 1
        if let maxNorm = maxGradientNorm {
            coefficient = Float(min(1, Double(maxNorm) / (norm + 1e-6)))
        }

        // Pass 2: the updates; LoFT pairs spread over the cores, their events in registration order.
        for (name, entry) in entries {
            switch (entry, gradients[name]!) {
            case let (.dense(parameter, state), .dense(g)):
                state.apply(to: parameter, gradient: g, gradientScale: coefficient, learningRate: learningRate, hyperparameters: h)
            case let (.lora(pair, stateA, stateB), .pair(gA, gB)):
                stateA.apply(to: pair.a, gradient: gA, gradientScale: coefficient, learningRate: learningRate, hyperparameters: h)
                stateB.apply(to: pair.b, gradient: gB, gradientScale: coefficient, learningRate: learningRate, hyperparameters: h)
            default:
                break
            }
        }
        let moving = loft.filter { prepared[$0.index] != nil }
        var skipReasons = [String?](repeating: nil, count: entries.count)
        skipReasons.withUnsafeMutableBufferPointer { skipReasons in
            workers.forEach(moving.count, cost: { moving[$0].state.stepCost }) { item, workspace in
                let index = moving[item].index
                skipReasons[index] = applyLoFT(moving[item].state, prepared[index]!, gradientScale: coefficient,
                                               learningRate: learningRate, workspace: workspace)
            }
        }
        for (index, (name, _)) in entries.enumerated() {
            if let reason = skipReasons[index] { events.append(.skippedStep(name: name, reason: reason, reset: true)) }
        }
        stepCount += 1
        eventCount += events.count
        return OptimizerStepReport(gradientNorm: norm, clipCoefficient: coefficient, events: events)
    }

    /// Steps 2-5 for one pair, then the rebalancing. Returns why the pair did not move, when
    /// a direction is not finite (its moments are reset then: they produced it).
    private func applyLoFT(_ state: LoFTPairState, _ prepared: LoFTPreparedStep, gradientScale: Float, learningRate: Float,
                           workspace: LoFTWorkspace) -> String? {
        let h = hyperparameters
        state.updateMoments(prepared, gradientScale: gradientScale, beta1: h.beta1, beta2: h.beta2, workspace: workspace)
        // Both directions come from A_t, B_t: compute them before either factor moves.
        let directionA = prepared.movesA ? state.directionA(prepared, eps: h.eps, beta1: h.beta1, beta2: h.beta2, workspace: workspace) : nil
        let directionB = prepared.movesB ? state.directionB(prepared, eps: h.eps, beta1: h.beta1, beta2: h.beta2, workspace: workspace) : nil
        if !(directionA?.isFinite ?? true) || !(directionB?.isFinite ?? true) {
            state.resetMoments()
            return "update direction not finite"
        }
        let decay = 1 - learningRate * h.weightDecay
        if let direction = directionA {
            let c1 = 1 - pow(Double(h.beta1), Double(state.stateA.step))
            if decay != 1 { state.pair.a.scale(by: decay) }
            state.pair.a.add(direction, scaledBy: -Float(Double(learningRate) / c1))
        }
        if let direction = directionB {
            let c1 = 1 - pow(Double(h.beta1), Double(state.stateB.step))
            if decay != 1 { state.pair.b.scale(by: decay) }
            state.pair.b.add(direction, scaledBy: -Float(Double(learningRate) / c1))
        }
        if state.options.rebalances { state.rebalance() }
        return nil
    }

    private func checkShape(_ name: String, _ gradient: Matrix, _ parameter: Matrix) throws {
        guard gradient.rows == parameter.rows, gradient.columns == parameter.columns else {
            throw OptimizerError.shapeMismatch(name: name, expected: parameter.shape, got: gradient.shape)
        }
    }
}

import Glibc
