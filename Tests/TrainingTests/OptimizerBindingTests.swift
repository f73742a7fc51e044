// The model hands its own Matrix objects to the LoFT optimizer: a step moves the adapters the
// model computes with, and a few steps on one batch lower its loss.

import Testing
import LoFT
import TensorIO
@testable import Models
@testable import Training

private func tinyModel() throws -> (GPT2Model, [Int32], [Int32]) {
    let models = TrainingFixtures.root.appendingPathComponent("fixtures/models").path
    let model = try GPT2Model.load(path: models + "/gpt2-tiny")
    let ids = try SafetensorsReader(path: models + "/gpt2-tiny/input_ids.safetensors").data(for: "input_ids").withElements(as: Int32.self) { Array($0) }
    var targets = [Int32](repeating: CrossEntropy.ignoreIndex, count: ids.count)
    for b in 0..<2 { for t in 0..<15 { targets[b * 16 + t] = ids[b * 16 + t + 1] } }
    return (model, ids, targets)
}

@Test(arguments: [LowRankMethod.loft, .loraAdamW])
func optimizerStepsOnSharedStorageLowerTheLoss(method: LowRankMethod) throws {
    let (model, ids, targets) = try tinyModel()
    try model.addLowRankAdapters(targets: ["c_attn", "c_proj"], rank: 4, alpha: 4, seed: 1)
    model.setTrainable(targets: ["ln_f"])
    let optimizer = Optimizer(method: method)
    try model.register(with: optimizer)
    #expect(optimizer.parameterNames.count == 6 + 2)
    var losses: [Float] = []
    for _ in 0..<8 {
        model.zeroGradients()
        losses.append(try #require(try model.forward(tokens: ids, targets: targets, batch: 2, sequence: 16)))
        model.backward()
        try optimizer.step(gradients: model.gradients, learningRate: 1e-2)
    }
    #expect(model.lowRankAdapters.allSatisfy { $0.b.array.contains { $0 != 0 } }, "B moved from zero in place")
    #expect(losses.last! < losses.first! - 0.05, "losses \(losses)")
}

@Test func parametersAndFactorsAreMatricesOfTheirTensorShape() throws {
    let (model, _, _) = try tinyModel()
    let adapters = try model.addLowRankAdapters(targets: ["c_fc"], rank: 3, alpha: 3, seed: 1)
    #expect(adapters[0].pair.a === adapters[0].a.matrix && adapters[0].pair.b === adapters[0].b.matrix)
    #expect(adapters[0].a.matrix!.shape == [3, 32] && adapters[0].b.matrix!.shape == [128, 3])
    #expect(adapters[0].gradientB.matrix!.shape == [128, 3])
    #expect(model.blocks[0].attention.weight.value.matrix!.shape == [32, 96])
    #expect(model.finalNormBias.value.matrix!.shape == [1, 32], "1-D tensors are 1 x n")
    model.setTrainable(targets: ["c_attn"])
    #expect(model.blocks[0].attention.weight.gradient!.matrix!.shape == [32, 96])
}
