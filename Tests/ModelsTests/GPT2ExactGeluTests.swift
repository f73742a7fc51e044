// GPT-2 with activation_function "gelu": transformers runs the exact (erf) GELU for that name,
// loft used to run the tanh form of "gelu_new". Against fixtures/models/gpt2-gelu (made by
// fixtures/generators/models.py with MLP pre-activations of order 1, where the two forms
// differ by 1e-4 relative in the logits, ten times the tolerance used here).

import Foundation
import Testing
import TensorIO
@testable import Models

private let batch = 2, sequence = 16

private func exactGeluModel() throws -> GPT2Model {
    let config = try GPT2Config(contentsOf: Fixtures.path("gpt2-gelu/config.json"))
    return try GPT2Model(config: config, reader: try Fixtures.reader("gpt2-gelu/model.safetensors"))
}

private func tokensAndTargets() throws -> ([Int32], [Int32]) { try Fixtures.gpt2TokensAndTargets("gpt2-gelu") }

@Test func geluConfigRunsTheExactGelu() throws {
    let model = try exactGeluModel()
    #expect(model.config.activation == .geluExact)
    let (ids, targets) = try tokensAndTargets()
    let loss = try #require(try model.forward(tokens: ids, targets: targets, batch: batch, sequence: sequence))
    let expected = try Fixtures.reader("gpt2-gelu/expected.safetensors")
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) < 1e-5)
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "loss")) < 1e-5)
}

@Test func exactGeluGradientsEqualTorch() throws {
    let model = try exactGeluModel()
    model.setTrainable(targets: ["all"])
    let (ids, targets) = try tokensAndTargets()
    model.zeroGradients()
    try model.forwardBackward(tokens: ids, targets: targets, batch: batch, sequence: sequence, headRows: 7)
    let expected = try Fixtures.reader("gpt2-gelu/expected.safetensors")
    for parameter in model.parameters {
        let error = Fixtures.relativeError(try #require(parameter.gradient).array, try Fixtures.floats(expected, "grad." + parameter.name))
        #expect(error < 1e-5, "\(parameter.name)")
    }
}

@Test func exactGeluIsTheErfForm() {
    // x Φ(x) = 0.5 x (1 + erf(x / sqrt 2)), PyTorch's default gelu, in Double.
    let inputs: [Float] = [-4, -2, -1, -0.5, 0, 0.5, 1, 2, 4]
    let x = FloatBuffer(inputs), y = FloatBuffer(count: inputs.count)
    Activation.geluExact.forward(output: y.pointer, input: x.pointer, count: inputs.count)
    for (i, v) in inputs.enumerated() {
        let expected = 0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot()))
        #expect(abs(Double(y[i]) - expected) < 1e-6)
    }
}

@Test(arguments: [("gelu", Activation.geluExact), ("gelu_new", .gelu), ("gelu_pytorch_tanh", .gelu), ("gelu_fast", .gelu)])
func gpt2ActivationNamesAsTransformers(name: String, activation: Activation) throws {
    let json = try JSON.parse(#"{"n_embd": 8, "n_head": 2, "n_layer": 1, "vocab_size": 10, "activation_function": "\#(name)"}"#)
    #expect(try GPT2Config(json: json, path: "config.json").activation == activation)
    // Written back under a name transformers maps to the same function.
    #expect(GPT2Config(vocabularySize: 10, positions: 4, channels: 8, heads: 2, layers: 1, activation: activation)
        .json()["activation_function"]?.stringValue.flatMap(Activation.init(huggingFaceName:)) == activation)
}

@Test func unknownGpt2ActivationIsRefusedByName() throws {
    let json = try JSON.parse(#"{"n_embd": 8, "n_head": 2, "n_layer": 1, "vocab_size": 10, "activation_function": "swish_glu"}"#)
    #expect { try GPT2Config(json: json, path: "config.json") } throws: { error in
        guard case let ModelError.invalidConfig(path, reason) = error else { return false }
        return path == "config.json" && reason.contains("'swish_glu'")
    }
}
