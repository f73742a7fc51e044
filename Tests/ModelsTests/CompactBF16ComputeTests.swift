// bf16 compute of a bf16-held base (`--base-compute bf16`, CompactBF16Products.swift): the
// fallback without AVX-512 BF16 computes what the kernel does; a model computing in bf16
// stays within the activations' rounding of the float32 compute (loss ~1e-3 relative,
// measured); and the vector widening of 16-bit floats equals the scalar definition on every
// bit pattern.

import Compute
import Testing
import TensorIO
@testable import Models

private func random(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in generator.uniform(-1, 1) }
}

/// The fallback (A rounded to bf16, widened, the float32 tile product) against the kernel,
/// in both products, across more than one 512 x 2048 tile.
@Test(.enabled(if: BF16Products.available, "this CPU has no AVX-512 BF16"), arguments: [true, false])
func bf16ComputeFallbackEqualsTheKernel(transposed: Bool) {
    let rows = 600, columns = 2100, m = 9
    let matrix = random(rows * columns, seed: 1).withUnsafeBufferPointer {
        CompactMatrix(rows: rows, columns: columns, dtype: .bfloat16, rounding: $0.baseAddress!)
    }
    let k = transposed ? columns : rows, n = transposed ? rows : columns
    let a = random(m * k, seed: 2), c0 = random(m * n, seed: 3)
    for beta: Float in [0, 1] {
        var kernel = c0, fallback = c0
        matrix.bf16Product(transposed: transposed, m: m, a, lda: k, beta: beta, &kernel, ldc: n, kernel: true)
        matrix.bf16Product(transposed: transposed, m: m, a, lda: k, beta: beta, &fallback, ldc: n, kernel: false)
        #expect(Fixtures.relativeError(kernel, fallback) < 1e-5, "beta \(beta)")
    }
    // The flag routes the public products through it.
    matrix.computesInBF16 = true
    var routed = c0, direct = c0
    if transposed { matrix.productTransposed(m: m, a, lda: k, beta: 1, &routed, ldc: n) } else { matrix.product(m: m, a, lda: k, beta: 1, &routed, ldc: n) }
    matrix.bf16Product(transposed: transposed, m: m, a, lda: k, beta: 1, &direct, ldc: n)
    #expect(routed == direct)
}

/// A LoRA step of a LLaMA-layout fixture with its bf16 base computing in bf16, against the
/// same bf16 base computing in float32: loss and gradients within the activations' rounding.
@Test(arguments: ["gqa", "mha-tied"])
func bf16ComputeStaysCloseToFloat32Compute(fixture: String) throws {
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    func run(bf16: Bool) throws -> (Float, [[Float]]) {
        let model = try LlamaFixtures.load(fixture)
        model.storeFrozenWeights(as: .bfloat16)
        _ = try LlamaFixtures.attachAdapter(model, fixture: fixture)
        model.setTrainable(targets: [])
        let covered = model.computeFrozenWeights(inBF16: bf16)
        #expect(covered == model.parameters.filter { $0.compact != nil }.count)
        model.zeroGradients()
        let loss = try model.forwardBackward(tokens: ids, targets: targets, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence, headRows: 5)
        return (loss, model.lowRankAdapters.flatMap { [$0.gradientA.array, $0.gradientB.array] })
    }
    let (loss32, gradients32) = try run(bf16: false)
    let (loss16, gradients16) = try run(bf16: true)
    #expect(loss16 != loss32, "bf16 compute rounds the activations")
    #expect(abs(loss16 - loss32) <= 1e-2 * abs(loss32), "\(loss16) vs \(loss32)")
    for (g16, g32) in zip(gradients16, gradients32) {
        #expect(Fixtures.relativeError(g16, g32, floor: 1e-3) < 5e-2)
    }
}

/// Widening (AVX2 / F16C, the scalar loop for the tail) equals the scalar conversion on all
/// 65536 bit patterns, at an offset and with a tail: bfloat16 bit for bit; float16 bit for
/// bit except that F16C quiets a signalling NaN (same sign and payload, quiet bit set).
@Test(arguments: [CompactDType.bfloat16, .float16])
func wideningEqualsTheScalarConversionOnEveryBitPattern(dtype: CompactDType) {
    let columns = 65536 + 3 + 7
    let matrix = CompactMatrix(rows: 2, columns: columns, dtype: dtype)
    for i in 0..<(2 * columns) { matrix.bits[i] = UInt16(truncatingIfNeeded: i &- columns &- 3) }
    var out = [Float](repeating: 0, count: columns)
    matrix.widenRow(1, into: &out)  // bits[columns + j] = j - 3: every pattern, from 0xFFFD on
    for j in 0..<columns {
        let bits = matrix.bits[columns + j]
        let expected = dtype == .bfloat16 ? Float(bitPattern: UInt32(bits) << 16) : halfToFloat(bits)
        if expected.isNaN && dtype == .float16 {
            #expect(out[j].bitPattern == expected.bitPattern | 0x0040_0000, "\(String(bits, radix: 16))")
        } else {
            #expect(out[j].bitPattern == expected.bitPattern, "\(String(bits, radix: 16))")
        }
    }
}
