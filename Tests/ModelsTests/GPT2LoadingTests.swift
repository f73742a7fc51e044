// Loading GPT-2 checkpoints: unprefixed float16 files with mask buffers, config inference,
// adapter targets, and the errors a user sees before training.

import Testing
import TensorIO
@testable import Models

private func prefixedModel() throws -> GPT2Model {
    let config = try GPT2Config(contentsOf: Fixtures.path("gpt2-tiny/config.json"))
    return try GPT2Model(config: config, reader: try Fixtures.reader("gpt2-tiny/model.safetensors"))
}

@Test func unprefixedFloat16CheckpointLoadsAsItsFloat32Rounding() throws {
    let config = try GPT2Config(contentsOf: Fixtures.path("gpt2-tiny/config.json"))
    let half = try GPT2Model(config: config, reader: try Fixtures.reader("gpt2-tiny/model-f16-unprefixed.safetensors"))
    let full = try prefixedModel()
    #expect(half.parameters.map(\.name) == full.parameters.map(\.name))
    #expect(half.untiedHead == nil)
    for (h, f) in zip(half.parameters, full.parameters) {
        // Python wrote the float16 file by rounding the float32 one to nearest.
        let rounded = f.value.array.map { Float(Float16($0)) }
        #expect(h.value.array == rounded, "\(h.name)")
    }
}

@Test func halfToFloatIsExact() {
    #expect(halfToFloat(0x3C00) == 1)
    #expect(halfToFloat(0xC000) == -2)
    #expect(halfToFloat(0x0001) == 0x1p-24)           // smallest subnormal
    #expect(halfToFloat(0x7BFF) == 65504)             // largest finite
    #expect(halfToFloat(0x7C00) == .infinity)
    #expect(halfToFloat(0x7E00).isNaN)
    #expect(halfToFloat(0x8000).sign == .minus)
}

@Test func configIsInferredFromShapesWithSixtyFourWideHeads() throws {
    let tensors = [
        TensorInfo(name: "wte.weight", dtype: .F32, shape: [50257, 768]), TensorInfo(name: "wpe.weight", dtype: .F32, shape: [1024, 768]),
        TensorInfo(name: "h.0.ln_1.weight", dtype: .F32, shape: [768]), TensorInfo(name: "h.1.ln_1.weight", dtype: .F32, shape: [768]),
        TensorInfo(name: "h.0.mlp.c_fc.weight", dtype: .F32, shape: [768, 3072]),
    ]
    let config = try GPT2Config.inferred(from: tensors, path: "x.safetensors")
    #expect(config == GPT2Config(vocabularySize: 50257, positions: 1024, channels: 768, heads: 12, layers: 2))
    #expect(GPT2Config.gpt2Small.parameterCount == 124_439_808)
}

@Test func tinyWidthCannotBeInferred() throws {
    let reader = try Fixtures.reader("gpt2-tiny/model.safetensors")
    #expect(throws: ModelError.self) { try GPT2Config.inferred(from: reader.tensors, path: reader.path) }
}

@Test func targetsMatchModulePathsTheWayPeftDoes() throws {
    let model = try prefixedModel()
    let pairs = try model.addLowRankAdapters(targets: ["c_attn", "c_proj"], rank: 2, alpha: 2, seed: 7)
    #expect(pairs.map(\.name) == [
        "transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj",
        "transformer.h.1.attn.c_attn", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_proj",
    ])
    #expect(pairs[0].aShape == [2, 32] && pairs[0].bShape == [96, 2])
    #expect(pairs.allSatisfy { $0.b.array.allSatisfy { $0 == 0 } }, "B starts at zero, so the model is unchanged")
    #expect(throws: ModelError.self) { try model.addLowRankAdapters(targets: ["q_proj"], rank: 2, alpha: 2, seed: 7) }
    #expect(model.adaptableModules.count == 8)
}

@Test func newAdaptersLeaveTheLogitsUnchanged() throws {
    let model = try prefixedModel()
    let tokens: [Int32] = [1, 5, 9, 2]
    try model.forward(tokens: tokens, batch: 1, sequence: 4)
    let before = Array(model.logits)
    try model.addLowRankAdapters(targets: ["c_attn", "c_proj", "c_fc"], rank: 4, alpha: 8, seed: 1)
    try model.forward(tokens: tokens, batch: 1, sequence: 4)
    #expect(Fixtures.relativeError(Array(model.logits), before) < 1e-6)
}

@Test func badInputsAreRejectedBeforeAnyWork() throws {
    let model = try prefixedModel()
    #expect(throws: ModelError.self) { try model.forward(tokens: [1, 2, 96], batch: 1, sequence: 3) }
    #expect(throws: ModelError.self) { try model.forward(tokens: [1, 2, 3], batch: 2, sequence: 3) }
    #expect(throws: ModelError.self) { try model.forward(tokens: [Int32](repeating: 0, count: 33), batch: 1, sequence: 33) }
    #expect(throws: ModelError.self) { try model.forward(tokens: [1, 2], targets: [3, -5], batch: 1, sequence: 2) }
}

@Test func missingWeightIsNamed() throws {
    let config = GPT2Config(vocabularySize: 96, positions: 32, channels: 32, heads: 4, layers: 3)
    #expect(throws: ModelError.missingTensor(path: Fixtures.path("gpt2-tiny/model.safetensors"), name: "transformer.h.2.ln_1.weight")) {
        try GPT2Model(config: config, reader: try Fixtures.reader("gpt2-tiny/model.safetensors"))
    }
}

@Test func randomInitializationIsDeterministicAndFollowsHuggingFace() throws {
    let config = GPT2Config(vocabularySize: 50, positions: 16, channels: 64, heads: 2, layers: 2)
    let a = try GPT2Model(randomlyInitialized: config, seed: 3), b = try GPT2Model(randomlyInitialized: config, seed: 3)
    #expect(a.parameters.map { $0.value.array } == b.parameters.map { $0.value.array })
    func std(_ p: Parameter) -> Double {
        let v = p.value.array.map(Double.init); let m = v.reduce(0, +) / Double(v.count)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
    }
    #expect(abs(std(a.blocks[0].attention.weight) - 0.02) < 0.002)
    #expect(abs(std(a.blocks[0].attentionOutput.weight) - 0.01) < 0.002)   // 0.02 / sqrt(2 * 2)
    #expect(a.blocks[0].ln1Weight.value.array.allSatisfy { $0 == 1 })
    #expect(a.blocks[0].attention.bias!.value.array.allSatisfy { $0 == 0 })
}

@Test func modelDirectoryLoadsWithItsConfig() throws {
    let model = try GPT2Model.load(path: Fixtures.path("gpt2-tiny"))
    #expect(model.config == GPT2Config(vocabularySize: 96, positions: 32, channels: 32, heads: 4, layers: 2))
    #expect(model.parameters.count == 2 + 2 * 12 + 2)
}

@Test func singleFileLoadsWithTheConfigBesideIt() throws {
    let model = try GPT2Model.load(path: Fixtures.path("gpt2-tiny/model-f16-unprefixed.safetensors"))
    #expect(model.config.heads == 4)
    #expect(model.tokenEmbedding.name == "transformer.wte.weight")
}

@Test func mlpLoadsFromItsDirectory() throws {
    let model = try MLPModel.load(path: Fixtures.path("mlp"))
    #expect(model.activation == .tanh)
    #expect(model.inputFeatures == 5 && model.outputFeatures == 3)
}

@Test func prefixLogitsDoNotDependOnLaterTokens() throws {
    // What generation relies on: the logits of a prefix equal the first rows of a longer run.
    let model = try prefixedModel()
    let tokens: [Int32] = [3, 14, 15, 92, 65, 35]
    try model.forward(tokens: tokens, batch: 1, sequence: 6)
    let full = Array(model.logits)
    try model.forward(tokens: Array(tokens.prefix(2)), batch: 1, sequence: 2)
    #expect(Fixtures.relativeError(Array(model.logits), Array(full.prefix(2 * 96))) < 1e-6)
}
