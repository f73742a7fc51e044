// A frozen base held block-quantized (CompactMatrix's quantized case, `--base-dtype q4_k`,
// a GGUF or MLX base kept as stored): a tile is bit for bit what TensorIO's dequantization
// of the whole tensor gives (GGMLCodec.decode, MLX's dequantize), the tiled products are
// sgemm's on the dequantized matrix, and a model held quantized computes what the float32
// model built from the dequantized weights computes, up to the summation order (1e-5).

import Compute
import Testing
@testable import TensorIO
@testable import Models

private let tolerance: Float = 1e-5

private func random(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in generator.uniform(-1, 1) }
}

/// Every GGML type loft dequantizes.
private let ggmlTypes: [GGMLType] = GGMLType.allCases.filter(\.isQuantized)

/// Larger than one 512 x 2048 tile both ways, with ragged edges (a row is 9 super-blocks).
private let rows = 530, columns = 2304

/// A `type` matrix: the quantizer's bytes for the writable types, random blocks (their
/// half-precision scales kept finite) for Q2_K and Q3_K, which loft reads only.
private func matrix(_ type: GGMLType, seed: UInt64) throws -> (matrix: QuantizedMatrix, bytes: ByteBuffer) {
    let rowBytes = try #require(type.rowBytes(columns))
    let bytes = ByteBuffer(count: rows * rowBytes)
    if type.isWritable {
        let values = random(rows * columns, seed: seed)
        values.withUnsafeBufferPointer { GGMLCodec.encode($0, as: type, into: bytes.bytes) }
    } else {
        var generator = SeededGenerator(seed: seed)
        for i in 0..<bytes.count { bytes.bytes[i] = UInt8(truncatingIfNeeded: generator.next()) }
        // d and dmin are the last 4 bytes of a Q2_K block, d the last 2 of a Q3_K block: small halves.
        let halves = type == .Q2_K ? [type.typeSize - 4, type.typeSize - 2] : [type.typeSize - 2]
        for block in 0..<(bytes.count / type.typeSize) {
            for offset in halves {
                bytes.bytes.storeBytes(of: Float16(generator.uniform(-0.1, 0.1)).bitPattern, toByteOffset: block * type.typeSize + offset, as: UInt16.self)
            }
        }
    }
    let quantized = try QuantizedMatrix(ggml: type, rows: rows, columns: columns, bytes: UnsafeRawBufferPointer(bytes.bytes), owner: bytes)
    return (quantized, bytes)
}

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Test(arguments: ggmlTypes)
func quantizedTilesEqualTensorIODequantization(type: GGMLType) throws {
    let (quantized, bytes) = try matrix(type, seed: 7)
    var reference = [Float](repeating: 0, count: rows * columns)
    reference.withUnsafeMutableBufferPointer { GGMLCodec.decode(UnsafeRawBufferPointer(bytes.bytes), as: type, count: rows * columns, into: $0) }
    let compact = CompactMatrix(quantized: quantized)
    #expect(bits(compact.widened().array) == bits(reference), "the whole matrix")
    // One tile at a block-aligned offset: rows 512..<530, columns 2048..<2304.
    var tile = [Float](repeating: 0, count: 18 * 256)
    tile.withUnsafeMutableBufferPointer { compact.widen(rows: 512..<530, columns: 2048..<2304, into: $0.baseAddress!) }
    let expected = (512..<530).flatMap { r in reference[(r * columns + 2048)..<(r * columns + 2304)] }
    #expect(bits(tile) == bits(expected), "a tile")
    var row = [Float](repeating: 0, count: columns)
    row.withUnsafeMutableBufferPointer { compact.widenRow(3, into: $0.baseAddress!) }
    #expect(bits(row) == bits(Array(reference[(3 * columns)..<(4 * columns)])), "an embedding row")
    #expect(compact.storageName == type.name.lowercased() && compact.byteCount == bytes.count)
}

/// MLX affine at 4 and 8 bits, groups of 32, 64 and 128, scales in bf16 and f16.
@Test(arguments: [(4, 32), (4, 64), (4, 128), (8, 64), (8, 128), (3, 64)], [DType.BF16, .F16])
func mlxTilesEqualMLXDequantization(bitsAndGroup: (Int, Int), scaleType: DType) throws {
    let affine = MLXAffine(bits: bitsAndGroup.0, groupSize: bitsAndGroup.1)
    let values = random(rows * columns, seed: 11)
    let buffer = ByteBuffer(count: values.count * 4)
    values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
    let dense = try DTypeConversion.convert(TensorData(info: TensorInfo(name: "w.weight", dtype: .F32, shape: [rows, columns]), buffer: buffer), to: scaleType)
    let (packed, scales, biases) = try affine.quantize(dense)
    let scales32 = try DTypeConversion.convert(scales, to: .F32), biases32 = try DTypeConversion.convert(biases, to: .F32)
    let reference = try DTypeConversion.convert(try MLXQuantizedReader.dequantize(packed: packed, scales: scales32, biases: biases32, parameters: affine, as: dense.info), to: .F32)
        .withElements(as: Float.self) { Array($0) }
    let quantized = try QuantizedMatrix(mlx: affine, scaleType: scaleType, rows: rows, columns: columns, packed: packed.bytes, owner: packed.owner,
                                        scales: ByteBuffer(copying: scales32.bytes), biases: ByteBuffer(copying: biases32.bytes))
    let compact = CompactMatrix(quantized: quantized)
    #expect(bits(compact.widened().array) == bits(reference))
    var tile = [Float](repeating: 0, count: 18 * 256)
    tile.withUnsafeMutableBufferPointer { compact.widen(rows: 512..<530, columns: 2048..<2304, into: $0.baseAddress!) }
    #expect(bits(tile) == bits((512..<530).flatMap { r in reference[(r * columns + 2048)..<(r * columns + 2304)] }))
    #expect(compact.storageName == "mlx-q\(affine.bits)/g\(affine.groupSize)")
}

@Test(arguments: [GGMLType.Q8_0, .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q4_K, .Q5_K, .Q6_K])
func quantizedProductsEqualSgemmOnTheDequantizedMatrix(type: GGMLType) throws {
    let compact = CompactMatrix(quantized: try matrix(type, seed: 3).matrix)
    let w = compact.widened().array
    let m = 3
    let a1 = random(m * columns, seed: 2), c1 = random(m * rows, seed: 3)
    var expected1 = c1, got1 = c1
    gemm(transposeA: false, transposeB: true, m: m, n: rows, k: columns, a1, lda: columns, w, ldb: columns, beta: 1, &expected1, ldc: rows)
    compact.productTransposed(m: m, a1, lda: columns, beta: 1, &got1, ldc: rows)
    #expect(Fixtures.relativeError(got1, expected1) < 1e-6 * 10)
    let a2 = random(m * rows, seed: 4)
    var expected2 = [Float](repeating: 0, count: m * columns), got2 = random(m * columns, seed: 5)
    gemm(transposeA: false, transposeB: false, m: m, n: columns, k: rows, a2, lda: rows, w, ldb: columns, beta: 0, &expected2, ldc: columns)
    compact.product(m: m, a2, lda: rows, beta: 0, &got2, ldc: columns)
    #expect(Fixtures.relativeError(got2, expected2) < 1e-6 * 10)
}

/// A quantized tensor whose sizes disagree is refused with the problem.
@Test func quantizedMatrixRefusesWrongSizes() throws {
    let bytes = ByteBuffer(count: 34 * 4)
    #expect(throws: QuantizedMatrixError.self) { try QuantizedMatrix(ggml: .Q8_0, rows: 2, columns: 48, bytes: UnsafeRawBufferPointer(bytes.bytes), owner: bytes) }
    #expect(throws: QuantizedMatrixError.self) { try QuantizedMatrix(ggml: .Q8_0, rows: 3, columns: 32, bytes: UnsafeRawBufferPointer(bytes.bytes), owner: bytes) }
    let error = try #require(throws: QuantizedMatrixError.self) {
        try QuantizedMatrix(ggml: .Q4_K, rows: 1, columns: 100, bytes: UnsafeRawBufferPointer(bytes.bytes), owner: bytes)
    }
    #expect(error.problem == "rows of 100 are not whole Q4_K blocks of 256")
}

/// The float32 model with every 2-D weight replaced by what `held` holds (dequantized).
private func dequantizedReference(_ fixture: String, like held: LlamaModel) throws -> LlamaModel {
    let reference = try LlamaFixtures.load(fixture)
    for parameter in held.parameters where parameter.compact != nil {
        let value = try #require(reference.parameter(named: parameter.name)).value
        let widened = parameter.widenedValue()
        for i in 0..<value.count { value[i] = widened[i] }
    }
    return reference
}

private func lossAndLogits(_ model: LlamaModel, fixture: String) throws -> (loss: Float, logits: [Float], gradients: [Float]) {
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    let b = LlamaFixtures.batch, t = LlamaFixtures.sequence
    try model.forward(tokens: ids, targets: nil, batch: b, sequence: t)
    let logits = Array(model.logits)
    model.zeroGradients()
    let loss = try model.forwardBackward(tokens: ids, targets: targets, batch: b, sequence: t, headRows: 5)
    return (loss, logits, model.lowRankAdapters.flatMap { $0.gradientA.array + $0.gradientB.array })
}

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families, [BaseDType.q8_0, .q4_k, .q5_1])
func llamaQuantizedBaseEqualsFloatOnDequantizedWeights(fixture: String, choice: BaseDType) throws {
    let held = try LlamaFixtures.load(fixture)
    held.storeFrozenWeights(as: choice)
    #expect(held.projections.contains { $0.weight.compact?.dtype == .quantized }, "some projection is held quantized")
    #expect(held.finalNorm.compact == nil, "1-D weights stay float32")
    let reference = try dequantizedReference(fixture, like: held)
    try LlamaFixtures.attachAdapter(held, fixture: fixture)
    try LlamaFixtures.attachAdapter(reference, fixture: fixture)
    held.setTrainable(targets: [])
    reference.setTrainable(targets: [])
    let got = try lossAndLogits(held, fixture: fixture), expected = try lossAndLogits(reference, fixture: fixture)
    #expect(Fixtures.relativeError([got.loss], [expected.loss]) < tolerance)
    #expect(Fixtures.relativeError(got.logits, expected.logits) < tolerance)
    #expect(Fixtures.relativeError(got.gradients, expected.gradients) < tolerance)
    #expect(held.parameters.allSatisfy { $0.shape.count != 2 || $0.compact != nil }, "a step widens no frozen weight")
}

/// A GPT-2 weight held transposed (as GGUF stores Conv1D weights) multiplies as the float32 one.
@Test func transposedQuantizedWeightMultipliesAsTheWeight() throws {
    let inFeatures = 64, outFeatures = 96, batchRows = 5
    // The stored matrix is out x in (GGUF's); the weight is its transpose, in x out (Conv1D).
    let stored = random(outFeatures * inFeatures, seed: 21)
    let quantized = try stored.withUnsafeBufferPointer { try QuantizedMatrix(quantizing: $0.baseAddress!, rows: outFeatures, columns: inFeatures, as: .Q8_0) }
    let held = Parameter(name: "c_fc.weight", shape: [inFeatures, outFeatures], compact: CompactMatrix(quantized: quantized), transposed: true)
    let dense = Parameter(name: "c_fc.weight", shape: [inFeatures, outFeatures], value: held.widenedValue())
    let x = random(batchRows * inFeatures, seed: 22), dy = random(batchRows * outFeatures, seed: 23)
    func run(_ weight: Parameter) -> ([Float], [Float]) {
        var y = [Float](repeating: 0, count: batchRows * outFeatures), dx = [Float](repeating: 0, count: batchRows * inFeatures)
        Linear.forward(output: &y, input: x, weight: weight, bias: nil, rows: batchRows, inFeatures: inFeatures, outFeatures: outFeatures, layout: .inOut)
        Linear.backward(inputGradient: &dx, weightGradient: nil, biasGradient: nil, outputGradient: dy, input: x, weight: weight,
                        rows: batchRows, inFeatures: inFeatures, outFeatures: outFeatures, layout: .inOut)
        return (y, dx)
    }
    let (y1, dx1) = run(held), (y2, dx2) = run(dense)
    #expect(Fixtures.relativeError(y1, y2) < tolerance && Fixtures.relativeError(dx1, dx2) < tolerance)
    #expect(held.compact != nil)
    #expect(held.value.array == dense.value.array, "widening for good transposes")
}

private let quantbase = Repository.root.appendingPathComponent("fixtures/quantbase")

/// The committed Q8_0 GGUF (written and quantized by gguf-py), held quantized as stored,
/// gives the logits and loss transformers computes on gguf-py's dequantization of the file.
@Test func ggufQ8BaseGivesTransformersLogits() throws {
    let source = try ModelFamilies.open(quantbase.appendingPathComponent("llama-q8_0.gguf").path)
    source.baseDType = .auto
    let model = try #require(try ModelFamilies.load(source) as? LlamaModel)
    #expect(model.parameters.allSatisfy { $0.storageDType == ($0.shape.count == 2 ? "q8_0" : "f32") })
    let expected = try SafetensorsReader(path: quantbase.appendingPathComponent("expected-q8_0.safetensors").path)
    let ids = try Fixtures.ints(expected, "input_ids")
    try model.forward(tokens: ids, targets: nil, batch: 2, sequence: 16)
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) < 1e-4)
    var targets = [Int32](repeating: CrossEntropy.ignoreIndex, count: ids.count)
    for b in 0..<2 { for t in 0..<15 { targets[b * 16 + t] = ids[b * 16 + t + 1] } }
    let loss = try model.loss(tokens: ids, targets: targets, batch: 2, sequence: 16, headRows: 5)
    #expect(abs(Float(loss.sum / Double(loss.count)) - (try Fixtures.floats(expected, "loss"))[0]) < 1e-4)
}

/// mlx-lm's 4-bit directory held quantized computes what the float32 model of mlx's own
/// dequantization (llama-dequantized-q4-g32.safetensors) computes.
@Test func mlxQ4BaseEqualsMLXDequantizedModel() throws {
    let directory = Repository.root.appendingPathComponent("fixtures/mlx/llama-q4-g32").path
    let source = try ModelFamilies.open(directory)
    source.baseDType = .auto
    let held = try #require(try ModelFamilies.load(source) as? LlamaModel)
    #expect(held.projections.allSatisfy { $0.weight.storageDType == "mlx-q4/g32" })
    let config = try LlamaConfig(contentsOf: directory + "/config.json")
    let reference = try LlamaModel(config: config, reader: try SafetensorsReader(path: Repository.root.appendingPathComponent("fixtures/mlx/llama-dequantized-q4-g32.safetensors").path))
    let tokens: [Int32] = [3, 17, 5, 9, 1, 22, 14, 8, 0, 11, 19, 6, 3, 17, 40, 77]
    try held.forward(tokens: tokens, targets: nil, batch: 2, sequence: 8)
    let got = Array(held.logits)
    try reference.forward(tokens: tokens, targets: nil, batch: 2, sequence: 8)
    #expect(Fixtures.relativeError(got, Array(reference.logits)) < tolerance)
}
