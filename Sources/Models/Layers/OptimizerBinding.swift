// Handing a model to the LoFT optimizer: the same Matrix objects, by name, no copies.
//
//     try model.register(with: optimizer)          // once, after adapters/trainability are set
//     model.zeroGradients()
//     let loss = try model.forwardBackward(tokens: x, targets: y, batch: B, sequence: T)
//     try optimizer.step(gradients: model.gradients, learningRate: lr)
//
// Adapters are registered as pairs under their module path (`transformer.h.0.attn.c_attn`),
// trainable dense parameters under their checkpoint name (`transformer.ln_f.weight`).

import LinearAlgebra
import LoFT

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
