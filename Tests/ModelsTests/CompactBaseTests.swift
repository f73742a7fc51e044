// A frozen base held in 16 bits (CompactMatrix, `--base-dtype`) computes what the float32
// path computes on the same 16-bit-rounded weights: the tiled products against sgemm, and
// the GPT-2 and LLaMA-layout models' loss, logits and gradients against the float32 model
// whose weights were rounded the same way. Only the summation order differs (tiles of the
// summed dimension), so the tolerance is float32's: 1e-5 relative, measured about 1e-6.

import Compute
import Testing
import TensorIO
@testable import Models

private let tolerance: Float = 1e-5

private func random(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in generator.uniform(-1, 1) }
}

/// The float32 values a 16-bit matrix holds.
private func widened(_ matrix: CompactMatrix) -> [Float] { matrix.widened().array }

@Test(arguments: [CompactDType.bfloat16, .float16])
func compactProductsEqualSgemmOnTheWidenedMatrix(dtype: CompactDType) {
    // Larger than one 512 x 2048 tile in both directions, with ragged edges.
    let rows = 700, columns = 2100, m = 3
    let values = random(rows * columns, seed: 1)
    let matrix = values.withUnsafeBufferPointer { CompactMatrix(rows: rows, columns: columns, dtype: dtype, rounding: $0.baseAddress!) }
    let w = widened(matrix)
    // productTransposed: C[m, rows] = A[m, columns] Sᵀ + C.
    let a1 = random(m * columns, seed: 2), c1 = random(m * rows, seed: 3)
    var expected1 = c1, got1 = c1
    gemm(transposeA: false, transposeB: true, m: m, n: rows, k: columns, a1, lda: columns, w, ldb: columns, beta: 1, &expected1, ldc: rows)
    matrix.productTransposed(m: m, a1, lda: columns, beta: 1, &got1, ldc: rows)
    #expect(Fixtures.relativeError(got1, expected1) < tolerance)
    // product: C[m, columns] = A[m, rows] S (beta 0 overwrites whatever C held).
    let a2 = random(m * rows, seed: 4)
    var expected2 = [Float](repeating: 0, count: m * columns), got2 = random(m * columns, seed: 5)
    gemm(transposeA: false, transposeB: false, m: m, n: columns, k: rows, a2, lda: rows, w, ldb: columns, beta: 0, &expected2, ldc: columns)
    matrix.product(m: m, a2, lda: rows, beta: 0, &got2, ldc: columns)
    #expect(Fixtures.relativeError(got2, expected2) < tolerance)
}

@Test func roundingToSixteenBitsIsToNearestEven() {
    // 1 + 2⁻⁸ lies halfway between two bfloat16 values: ties to the even one (1.0).
    #expect(bfloat16Bits(1 + 0x1p-8) == 0x3F80)
    #expect(bfloat16Bits(1 + 0x1p-8 + 0x1p-20) == 0x3F81)
    #expect(bfloat16Bits(-2.5) == 0xC020)
    #expect(float16Bits(1 + 0x1p-11) == 0x3C00)
    #expect(float16Bits(65520) == 0x7C00, "past float16's range: infinity")
    #expect(float16Table[0x3C01] == 1 + 0x1p-10)
}

/// Rounds every 2-D weight of `model` to `dtype` in place, keeping it float32.
private func roundWeights(_ model: TrainableModel, to dtype: CompactDType) {
    for parameter in model.parameters where parameter.shape.count == 2 {
        let value = parameter.value
        for i in 0..<value.count {
            value[i] = dtype == .bfloat16 ? Float(bitPattern: UInt32(bfloat16Bits(value[i])) << 16) : float16Table[Int(float16Bits(value[i]))]
        }
    }
}

/// Loss, logits, the summed evaluation loss and every gradient of a LoRA step, and of a
/// step that trains every parameter.
private struct StepResult {
    var loss: Float
    var logits: [Float]
    var evalSum: Double
    var gradients: [String: [Float]]
}

private func step(_ model: some DecoderLanguageModel, tokens: [Int32], targets: [Int32], batch: Int, sequence: Int) throws -> StepResult {
    try model.forward(tokens: tokens, targets: nil, batch: batch, sequence: sequence)
    let logits = Array(model.logits)
    let evalSum = try model.loss(tokens: tokens, targets: targets, batch: batch, sequence: sequence, headRows: 5).sum
    model.zeroGradients()
    let loss = try model.forwardBackward(tokens: tokens, targets: targets, batch: batch, sequence: sequence, headRows: 5)
    var gradients: [String: [Float]] = [:]
    for pair in model.lowRankAdapters {
        gradients[pair.name + ".A"] = pair.gradientA.array
        gradients[pair.name + ".B"] = pair.gradientB.array
    }
    for parameter in model.trainableParameters { gradients[parameter.name] = parameter.gradient!.array }
    return StepResult(loss: loss, logits: logits, evalSum: evalSum, gradients: gradients)
}

private func expectEqual(_ got: StepResult, _ expected: StepResult, _ label: String) {
    #expect(Fixtures.relativeError([got.loss], [expected.loss]) < tolerance, "\(label) loss")
    #expect(Fixtures.relativeError(got.logits, expected.logits) < tolerance, "\(label) logits")
    #expect(abs(got.evalSum - expected.evalSum) <= 1e-5 * abs(expected.evalSum), "\(label) eval loss")
    #expect(Set(got.gradients.keys) == Set(expected.gradients.keys), "\(label) gradient names")
    for (name, gradient) in expected.gradients {
        #expect(Fixtures.relativeError(got.gradients[name] ?? [], gradient) < tolerance, "\(label) \(name)")
    }
}

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families, [CompactDType.bfloat16, .float16])
func llamaCompactBaseEqualsFloatOnRoundedWeights(fixture: String, dtype: CompactDType) throws {
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    let reference = try LlamaFixtures.load(fixture)
    roundWeights(reference, to: dtype)
    try LlamaFixtures.attachAdapter(reference, fixture: fixture)
    reference.setTrainable(targets: [])
    let compact = try LlamaFixtures.load(fixture)
    compact.storeFrozenWeights(as: dtype)
    #expect(compact.projections.allSatisfy { $0.weight.compact?.dtype == dtype })
    #expect(compact.tokenEmbedding.compact != nil && compact.head.compact != nil, "the embedding and head are held in 16 bits too")
    #expect(compact.finalNorm.compact == nil, "1-D weights stay float32")
    try LlamaFixtures.attachAdapter(compact, fixture: fixture)
    compact.setTrainable(targets: [])
    let b = LlamaFixtures.batch, t = LlamaFixtures.sequence
    expectEqual(try step(compact, tokens: ids, targets: targets, batch: b, sequence: t),
                try step(reference, tokens: ids, targets: targets, batch: b, sequence: t), "\(fixture) \(dtype) adapter")
    #expect(compact.projections.allSatisfy { $0.weight.compact != nil }, "a step widens no frozen weight")

    // Full fine-tuning: every weight it trains becomes float32; gradients as the float32 model's.
    reference.setTrainable(targets: ["all"])
    compact.setTrainable(targets: ["all"])
    #expect(compact.parameters.allSatisfy { $0.compact == nil })
    expectEqual(try step(compact, tokens: ids, targets: targets, batch: b, sequence: t),
                try step(reference, tokens: ids, targets: targets, batch: b, sequence: t), "\(fixture) \(dtype) all")
}

@Test func gpt2CompactBaseEqualsFloatOnRoundedWeights() throws {
    func load() throws -> GPT2Model {
        let config = try GPT2Config(contentsOf: Fixtures.path("gpt2-tiny/config.json"))
        let model = try GPT2Model(config: config, reader: try Fixtures.reader("gpt2-tiny/model.safetensors"))
        let adapter = try Fixtures.reader("gpt2-tiny/lora.safetensors")
        let modules = Set(adapter.tensors.map { String($0.name.dropFirst("base_model.model.".count).dropLast(".lora_A.weight".count)) })
        for module in modules.sorted() {
            try model.setLowRankAdapter(module: module, a: try Fixtures.floats(adapter, "base_model.model.\(module).lora_A.weight"),
                                        b: try Fixtures.floats(adapter, "base_model.model.\(module).lora_B.weight"), rank: 4, scale: 2)
        }
        return model
    }
    let (ids, targets) = try Fixtures.gpt2TokensAndTargets("gpt2-tiny")
    let reference = try load()
    roundWeights(reference, to: .bfloat16)
    let compact = try load()
    compact.storeFrozenWeights(as: .bfloat16)
    #expect(compact.tokenEmbedding.compact != nil && compact.positionEmbedding.compact != nil)
    expectEqual(try step(compact, tokens: ids, targets: targets, batch: 2, sequence: 16),
                try step(reference, tokens: ids, targets: targets, batch: 2, sequence: 16), "gpt2 adapter")
    // The KV-cache generation path reads the same 16-bit weights.
    let cache = compact.makeKVCache()
    let last = try cache.append(Array(ids.prefix(16)))
    let referenceLogits = try reference.makeKVCache().append(Array(ids.prefix(16)))
    #expect(Fixtures.relativeError(last, referenceLogits) < tolerance)
    reference.setTrainable(targets: ["c_attn", "wte"])
    compact.setTrainable(targets: ["c_attn", "wte"])
    expectEqual(try step(compact, tokens: ids, targets: targets, batch: 2, sequence: 16),
                try step(reference, tokens: ids, targets: targets, batch: 2, sequence: 16), "gpt2 c_attn + wte")
}

/// Loading with a base dtype: 2-D weights held in 16 bits (rounded from the float32 file),
/// 1-D ones float32; auto keeps a float32 file float32.
@Test func loadingHoldsTwoDimensionalWeightsAsAsked() throws {
    let config = try LlamaConfig(contentsOf: LlamaFixtures.path("gqa/config.json"))
    let reader = try LlamaFixtures.reader("gqa/model.safetensors")
    let compact = try LlamaModel(config: config, reader: reader, baseDType: .bf16)
    for parameter in compact.parameters {
        #expect(parameter.storageDType == (parameter.shape.count == 2 ? "bf16" : "f32"), "\(parameter.name)")
    }
    let auto = try LlamaModel(config: config, reader: reader, baseDType: .auto)
    #expect(auto.parameters.allSatisfy { $0.storageDType == "f32" })
    #expect(BaseDType.auto.resolved(for: .BF16) == .bf16 && BaseDType.auto.resolved(for: .F16) == .f16)
    #expect(BaseDType.auto.resolved(for: .F32) == .f32 && BaseDType.bf16.resolved(for: .F32) == .bf16)
}

/// Untying a tied head copies the 16-bit embedding into a float32 head and leaves the
/// embedding in 16 bits.
@Test func untyingAHeadKeepsTheEmbeddingCompact() throws {
    let model = try LlamaFixtures.load("mha-tied")
    model.storeFrozenWeights(as: .bfloat16)
    let embedding = try #require(model.tokenEmbedding.compact).widened().array
    model.untieHead()
    #expect(model.tokenEmbedding.compact != nil)
    #expect(model.head !== model.tokenEmbedding && model.head.compact == nil)
    #expect(model.head.value.array == embedding)
}
