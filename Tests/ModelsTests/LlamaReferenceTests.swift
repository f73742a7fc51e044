// LLaMA-layout logits, loss and gradients against transformers 5.25 + peft 0.21 in float32, on
// the three tiny random models of fixtures/llama (grouped-query attention with an untied head,
// multi-head attention with tied embeddings, llama3 rope scaling) and the four of
// fixtures/families (Mistral with a sliding window, Qwen2 with q/k/v biases and a sliding layer,
// Qwen3 with q/k norms, Phi-3 with fused projections, Gemma 3), 2 x 16 tokens, a LoRA (r 4, alpha 8)
// on every projection with nonzero random B.
//
// Tolerance: max |ours - torch| / max |torch| per tensor < 1e-5 for logits, loss, every LoRA
// factor gradient and every base parameter gradient (both sides float32, different
// summation orders; see docs/models.md for the measured errors).

import Testing
import TensorIO
@testable import Models

private let tolerance: Float = 1e-5

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families)
func llamaBaseLogitsAndLossEqualTransformers(fixture: String) throws {
    let model = try LlamaFixtures.load(fixture)
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    let loss = try #require(try model.forward(tokens: ids, targets: targets, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence))
    let expected = try LlamaFixtures.reader("\(fixture)/expected-base.safetensors")
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) < tolerance)
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "loss")) < tolerance)
}

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families)
func llamaAdaptedLogitsAndLossEqualPeft(fixture: String) throws {
    let model = try LlamaFixtures.load(fixture)
    let modules = try LlamaFixtures.attachAdapter(model, fixture: fixture)
    #expect(modules.count == model.config.layout.projectionNames.count * model.config.layers)
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    let loss = try #require(try model.forward(tokens: ids, targets: targets, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence))
    let expected = try LlamaFixtures.reader("\(fixture)/expected.safetensors")
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) < tolerance)
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "loss")) < tolerance)
}

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families)
func llamaLoraFactorGradientsEqualPeft(fixture: String) throws {
    let model = try LlamaFixtures.load(fixture)
    try LlamaFixtures.attachAdapter(model, fixture: fixture)
    #expect(model.trainableParameters.isEmpty, "base weights are frozen by default")
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    try model.forward(tokens: ids, targets: targets, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence)
    model.zeroGradients()
    model.backward()
    let expected = try LlamaFixtures.reader("\(fixture)/expected.safetensors")
    for pair in model.lowRankAdapters {
        let errorA = Fixtures.relativeError(pair.gradientA.array, try Fixtures.floats(expected, "grad.\(pair.name).lora_A"))
        let errorB = Fixtures.relativeError(pair.gradientB.array, try Fixtures.floats(expected, "grad.\(pair.name).lora_B"))
        #expect(errorA < tolerance, "\(pair.name).lora_A")
        #expect(errorB < tolerance, "\(pair.name).lora_B")
    }
}

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families)
func llamaAllParameterGradientsEqualTorch(fixture: String) throws {
    let model = try LlamaFixtures.load(fixture)
    try LlamaFixtures.attachAdapter(model, fixture: fixture)
    #expect(model.setTrainable(targets: ["all"]) == model.parameters.count)
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    try model.forward(tokens: ids, targets: targets, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence)
    model.zeroGradients()
    model.backward()
    let expected = try LlamaFixtures.reader("\(fixture)/expected.safetensors")
    for parameter in model.parameters {
        let gradient = try #require(parameter.gradient)
        let error = Fixtures.relativeError(gradient.array, try Fixtures.floats(expected, "grad." + parameter.name))
        #expect(error < tolerance, "\(parameter.name)")
    }
}

/// The training step without held logits gives the same loss and gradients as forward + backward.
@Test(arguments: LlamaFixtures.models + LlamaFixtures.families)
func llamaForwardBackwardEqualsForwardThenBackward(fixture: String) throws {
    let model = try LlamaFixtures.load(fixture)
    try LlamaFixtures.attachAdapter(model, fixture: fixture)
    model.setTrainable(targets: ["all"])
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    model.zeroGradients()
    // Head blocks of 5 rows: 32 rows split unevenly, so block edges are exercised.
    let loss = try model.forwardBackward(tokens: ids, targets: targets, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence, headRows: 5)
    #expect(model.logits.isEmpty, "no logits are held")
    let expected = try LlamaFixtures.reader("\(fixture)/expected.safetensors")
    #expect(Fixtures.relativeError([loss], try Fixtures.floats(expected, "loss")) < tolerance)
    for pair in model.lowRankAdapters {
        #expect(Fixtures.relativeError(pair.gradientA.array, try Fixtures.floats(expected, "grad.\(pair.name).lora_A")) < tolerance)
        #expect(Fixtures.relativeError(pair.gradientB.array, try Fixtures.floats(expected, "grad.\(pair.name).lora_B")) < tolerance)
    }
    for parameter in model.parameters {
        #expect(Fixtures.relativeError(parameter.gradient!.array, try Fixtures.floats(expected, "grad." + parameter.name)) < tolerance, "\(parameter.name)")
    }
}

/// The families' sliding windows are shorter than the 16 tokens and change the result: the same
/// weights with full causal attention miss transformers' logits, so the windows were applied.
@Test(arguments: ["mistral", "qwen2", "phi3", "gemma3"])
func slidingWindowsChangeTheLogits(fixture: String) throws {
    var config = try LlamaConfig(contentsOf: LlamaFixtures.path("\(fixture)/config.json"))
    #expect(config.windows.contains { $0 != nil && $0! < LlamaFixtures.sequence })
    config.windows = config.windows.map { _ in nil }
    let model = try LlamaModel(config: config, reader: LlamaFixtures.reader("\(fixture)/model.safetensors"))
    let (ids, _) = try LlamaFixtures.tokensAndTargets(fixture)
    try model.forward(tokens: ids, targets: nil, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence)
    let expected = try LlamaFixtures.reader("\(fixture)/expected-base.safetensors")
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) > 1e-3)
}
