// The training loop's handle on the optimizer. The model's parameters and adapter factors
// are LinearAlgebra Matrix views (Models/Layers/OptimizerBinding.swift), so the optimizer
// updates the model's own storage in place: no copies per step.

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
