// The training loop's handle on the optimizer, and handing a model to it: the model's
// parameters and adapter factors are Compute `Matrix` views, registered by name, so the
// optimizer updates the model's own storage in place: no copies per step.
//
//     try model.register(with: optimizer)          // once, after adapters/trainability are set
//     model.zeroGradients()
//     let loss = try model.forwardBackward(tokens: x, targets: y, batch: B, sequence: T)
//     try optimizer.step(gradients: model.gradients, learningRate: lr)
//
// Adapters are registered as pairs under their module path (`transformer.h.0.attn.c_attn`),
// trainable dense parameters under their checkpoint name (`transformer.ln_f.weight`).

import Compute
import LoFT
import Models

final class OptimizerBinding {
    let optimizer: Optimizer
    let model: TrainableModel

    init(optimizer: Optimizer, model: TrainableModel) throws {
        self.optimizer = optimizer
        self.model = model
        try model.register(with: optimizer)
    }

    func step(learningRate: Float) throws -> OptimizerStepReport {
        try optimizer.step(gradients: model.gradients, learningRate: learningRate)
    }
}

extension TrainableModel {
    public func register(with optimizer: Optimizer) throws {
        for adapter in lowRankAdapters { try optimizer.register(pair: adapter.name, adapter.pair) }
        for parameter in trainableParameters { try optimizer.register(dense: parameter.name, parameter.value.matrix!) }
    }

    /// The accumulated gradients, keyed as `register(with:)` names them.
    public var gradients: [String: Gradient] {
        var result: [String: Gradient] = [:]
        for adapter in lowRankAdapters { result[adapter.name] = .pair(a: adapter.gradientA.matrix!, b: adapter.gradientB.matrix!) }
        for parameter in parameters { if let gradient = parameter.gradient { result[parameter.name] = .dense(gradient.matrix!) } }
        return result
    }
}
