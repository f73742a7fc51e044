// The MLP (fixtures/models/mlp: Linear 5-16-16-3 with tanh, torch nn.Sequential names)
// against torch: outputs, MSE and cross-entropy losses, every parameter gradient, and the
// LoRA factor gradients of a peft adapter on layers.0 and layers.4.
// Tolerance 1e-5 relative (max |ours - torch| / max |torch|), float32 on both sides.

import Testing
import TensorIO
@testable import Models

private let batch = 8

private func loadModel() throws -> MLPModel {
    let activation = try MLPModel.activation(json: JSONFile.read(Fixtures.path("mlp/config.json")), path: "config.json")
    #expect(activation == .tanh)
    return try MLPModel(reader: try Fixtures.reader("mlp/model.safetensors"), activation: activation)
}

private func data() throws -> (x: [Float], y: [Float], labels: [Int32]) {
    let reader = try Fixtures.reader("mlp/data.safetensors")
    return (try Fixtures.floats(reader, "x"), try Fixtures.floats(reader, "y"), try Fixtures.ints(reader, "labels"))
}

@Test(arguments: ["mse", "cross_entropy"])
func mlpOutputsLossAndGradientsEqualTorch(loss lossName: String) throws {
    let model = try loadModel()
    #expect(model.layers.map(\.name) == ["layers.0", "layers.2", "layers.4"])
    model.setTrainable(targets: ["all"])
    let (x, y, labels) = try data()
    let targets: MLPTargets = lossName == "mse" ? .regression(y) : .classification(labels)
    let loss = try #require(try model.forward(inputs: x, batch: batch, targets: targets))
    let expected = try Fixtures.reader("mlp/expected.safetensors")
    #expect(Fixtures.relativeError(Array(model.outputs), try Fixtures.floats(expected, "\(lossName).output")) < 1e-5)
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "\(lossName).loss")) < 1e-5)
    model.zeroGradients()
    model.backward()
    for parameter in model.parameters {
        let gradient = try #require(parameter.gradient)
        #expect(Fixtures.relativeError(gradient.array, try Fixtures.floats(expected, "\(lossName).grad.\(parameter.name)")) < 1e-5,
                "\(parameter.name)")
    }
}

@Test func mlpLoraFactorGradientsEqualPeft() throws {
    let model = try loadModel()
    let adapter = try Fixtures.reader("mlp/lora.safetensors")
    for module in ["layers.0", "layers.4"] {
        try model.setLowRankAdapter(module: module, a: try Fixtures.floats(adapter, "base_model.model.\(module).lora_A.weight"),
                                    b: try Fixtures.floats(adapter, "base_model.model.\(module).lora_B.weight"), rank: 2, scale: 1)
    }
    let (x, y, _) = try data()
    let loss = try #require(try model.forward(inputs: x, batch: batch, targets: .regression(y)))
    let expected = try Fixtures.reader("mlp/expected.safetensors")
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "lora.loss")) < 1e-5)
    model.zeroGradients()
    model.backward()
    #expect(model.trainableParameters.isEmpty)
    for pair in model.lowRankAdapters {
        #expect(Fixtures.relativeError(pair.gradientA.array, try Fixtures.floats(expected, "lora.grad.\(pair.name).lora_A")) < 1e-5)
        #expect(Fixtures.relativeError(pair.gradientB.array, try Fixtures.floats(expected, "lora.grad.\(pair.name).lora_B")) < 1e-5)
    }
}
