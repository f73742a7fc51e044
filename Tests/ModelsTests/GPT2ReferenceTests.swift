// GPT-2 logits, loss and gradients against transformers + peft in float32, on the tiny
// random model of fixtures/models/gpt2-tiny (n_embd 32, 4 heads, 2 layers, vocab 96, 2 x 16
// tokens; LoRA r 4, alpha 8 on c_attn, c_proj, c_fc).
//
// Tolerances (max |ours - torch| / max |torch| per tensor): 1e-5 for logits, loss and every
// gradient. Both sides are float32 with different summation orders; measured: logits 1.0e-6,
// LoRA factor gradients 1.3e-6, all-parameter gradients 2.8e-6 (worst tensor).

import Testing
import TensorIO
@testable import Models

private let batch = 2, sequence = 16

private func loadModel() throws -> GPT2Model {
    let config = try GPT2Config(contentsOf: Fixtures.path("gpt2-tiny/config.json"))
    return try GPT2Model(config: config, reader: try Fixtures.reader("gpt2-tiny/model.safetensors"))
}

/// input ids and Hugging Face's shifted targets (the last position predicts nothing).
private func tokensAndTargets() throws -> ([Int32], [Int32]) { try Fixtures.gpt2TokensAndTargets("gpt2-tiny") }

/// Attaches the fixture's PEFT adapter: keys base_model.model.<module>.lora_{A,B}.weight, scale 8 / 4.
private func attachAdapter(_ model: GPT2Model) throws {
    let adapter = try Fixtures.reader("gpt2-tiny/lora.safetensors")
    let modules = Set(adapter.tensors.map { String($0.name.dropFirst("base_model.model.".count).dropLast(".lora_A.weight".count)) })
    for module in modules.sorted() {
        let a = try Fixtures.floats(adapter, "base_model.model.\(module).lora_A.weight")
        let b = try Fixtures.floats(adapter, "base_model.model.\(module).lora_B.weight")
        try model.setLowRankAdapter(module: module, a: a, b: b, rank: 4, scale: 2)
    }
}

@Test func baseModelLogitsAndLossEqualTransformers() throws {
    let model = try loadModel()
    let (ids, targets) = try tokensAndTargets()
    let loss = try #require(try model.forward(tokens: ids, targets: targets, batch: batch, sequence: sequence))
    let expected = try Fixtures.reader("gpt2-tiny/expected-base.safetensors")
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) < 1e-5)
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "loss")) < 1e-5)
}

@Test func adaptedModelLogitsAndLossEqualPeft() throws {
    let model = try loadModel()
    try attachAdapter(model)
    #expect(model.lowRankAdapters.count == 8)
    let (ids, targets) = try tokensAndTargets()
    let loss = try #require(try model.forward(tokens: ids, targets: targets, batch: batch, sequence: sequence))
    let expected = try Fixtures.reader("gpt2-tiny/expected.safetensors")
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) < 1e-5)
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "loss")) < 1e-5)
}

@Test func loraFactorGradientsEqualPeft() throws {
    let model = try loadModel()
    try attachAdapter(model)
    #expect(model.trainableParameters.isEmpty, "base weights are frozen by default")
    let (ids, targets) = try tokensAndTargets()
    try model.forward(tokens: ids, targets: targets, batch: batch, sequence: sequence)
    model.zeroGradients()
    model.backward()
    let expected = try Fixtures.reader("gpt2-tiny/expected.safetensors")
    for pair in model.lowRankAdapters {
        let errorA = Fixtures.relativeError(pair.gradientA.array, try Fixtures.floats(expected, "grad.\(pair.name).lora_A"))
        let errorB = Fixtures.relativeError(pair.gradientB.array, try Fixtures.floats(expected, "grad.\(pair.name).lora_B"))
        #expect(errorA < 1e-5, "\(pair.name).lora_A")
        #expect(errorB < 1e-5, "\(pair.name).lora_B")
    }
}

@Test func allParameterGradientsEqualTorch() throws {
    let model = try loadModel()
    try attachAdapter(model)
    #expect(model.setTrainable(targets: ["all"]) == model.parameters.count)
    let (ids, targets) = try tokensAndTargets()
    try model.forward(tokens: ids, targets: targets, batch: batch, sequence: sequence)
    model.zeroGradients()
    model.backward()
    let expected = try Fixtures.reader("gpt2-tiny/expected.safetensors")
    for parameter in model.parameters {
        let gradient = try #require(parameter.gradient)
        let error = Fixtures.relativeError(gradient.array, try Fixtures.floats(expected, "grad." + parameter.name))
        #expect(error < 1e-5, "\(parameter.name)")
    }
}

@Test func gradientsAccumulateUntilZeroed() throws {
    let model = try loadModel()
    try attachAdapter(model)
    let (ids, targets) = try tokensAndTargets()
    try model.forward(tokens: ids, targets: targets, batch: batch, sequence: sequence)
    model.zeroGradients()
    model.backward()
    let once = model.lowRankAdapters[0].gradientA.array
    try model.forward(tokens: ids, targets: targets, batch: batch, sequence: sequence)
    model.backward()
    let twice = model.lowRankAdapters[0].gradientA.array
    #expect(Fixtures.relativeError(twice, once.map { 2 * $0 }) < 1e-6)
}

@Test func fusedHeadStepEqualsPeftWithoutHoldingTheLogits() throws {
    let model = try loadModel()
    try attachAdapter(model)
    model.setTrainable(targets: ["all"])
    let (ids, targets) = try tokensAndTargets()
    model.zeroGradients()
    // 5 rows per block: 32 rows end in a partial block.
    let loss = try model.forwardBackward(tokens: ids, targets: targets, batch: batch, sequence: sequence, headRows: 5)
    #expect(model.logits.isEmpty, "no [tokens, vocab] buffer was allocated")
    let expected = try Fixtures.reader("gpt2-tiny/expected.safetensors")
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "loss")) < 1e-5)
    for adapter in model.lowRankAdapters {
        #expect(Fixtures.relativeError(adapter.gradientA.array, try Fixtures.floats(expected, "grad.\(adapter.name).lora_A")) < 1e-5)
        #expect(Fixtures.relativeError(adapter.gradientB.array, try Fixtures.floats(expected, "grad.\(adapter.name).lora_B")) < 1e-5)
    }
    for parameter in model.parameters {
        #expect(Fixtures.relativeError(parameter.gradient!.array, try Fixtures.floats(expected, "grad." + parameter.name)) < 1e-5, "\(parameter.name)")
    }
}
