// The AVX-512 BF16 product (BF16Products.gemm) against sgemm on the same bfloat16 values:
// A rounded to bfloat16 by BF16Products.round and widened, S widened. Every product of two
// bfloat16 is exact in float32, so only the summation order differs: float32's ~1e-6.
// Shapes that are not multiples of the kernel's blocks (6 rows, 64 columns, 256 of k), odd k,
// one row, strided A and C, beta 0 (C's garbage never read), 1 and 0.5; both layouts of S.

import Compute
import Testing

private let needsKernel = Testing.ConditionTrait.enabled(if: BF16Products.available, "this CPU has no AVX-512 BF16")

private func randomFloats(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in generator.uniform(-1, 1) }
}

private func roundedBits(_ values: [Float]) -> [UInt16] {
    var bits = [UInt16](repeating: 0, count: values.count)
    BF16Products.round(values, count: values.count, into: &bits)
    return bits
}

private func widened(_ bits: [UInt16]) -> [Float] { bits.map { Float(bitPattern: UInt32($0) << 16) } }

/// ‖got − expected‖ / ‖expected‖ over the m x n block of two ldc-strided matrices.
private func relativeError(_ got: [Float], _ expected: [Float], m: Int, n: Int, ldc: Int) -> Double {
    var difference = 0.0, norm = 0.0
    for i in 0..<m {
        for j in 0..<n {
            let e = Double(expected[i * ldc + j]), g = Double(got[i * ldc + j])
            difference += (g - e) * (g - e)
            norm += e * e
        }
    }
    return (difference / max(norm, 1e-300)).squareRoot()
}

@Suite(needsKernel) struct BF16ProductTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (1, 1100, 1000), (5, 3, 2), (7, 65, 257), (13, 129, 513), (6, 64, 256), (100, 300, 601), (385, 77, 1), (200, 70, 1537),
    ]

    @Test(arguments: [true, false], [Float(0), 1, 0.5])
    func gemmEqualsSgemmOnTheRoundedOperands(transposed: Bool, beta: Float) {
        var generator = SeededGenerator(seed: 7)
        for (m, n, k) in Self.shapes {
            let lda = k + 3, ldc = n + 5
            // S[n, k] (transposed: C = A Sᵀ) or S[k, n] (C = A S), rows padded to lds.
            let sRows = transposed ? n : k, sColumns = transposed ? k : n, lds = sColumns + 2
            let a = randomFloats(m * lda, &generator)
            let s = roundedBits(randomFloats(sRows * lds, &generator))
            let c0 = randomFloats(m * ldc, &generator)
            var got = c0
            if beta == 0 { for i in 0..<m { for j in 0..<n { got[i * ldc + j] = .nan } } }
            BF16Products.gemm(transposedB: transposed, m: m, n: n, k: k, a, lda: lda, s, lds: lds, beta: beta, &got, ldc: ldc)

            let roundedA = widened(roundedBits(a)), wideS = widened(s)
            var expected = c0
            gemm(transposeA: false, transposeB: transposed, m: m, n: n, k: k, roundedA, lda: lda, wideS, ldb: lds, beta: beta, &expected, ldc: ldc)
            let error = relativeError(got, expected, m: m, n: n, ldc: ldc)
            #expect(error < 1e-5, "m \(m) n \(n) k \(k): \(error)")
            // The padding of C beyond n columns is not C's: untouched.
            #expect((0..<m).allSatisfy { i in (n..<ldc).allSatisfy { got[i * ldc + $0] == c0[i * ldc + $0] } }, "m \(m) n \(n) k \(k) padding")
        }
    }

    /// An empty sum: C = beta C, and beta 0 sets C to 0 without reading it.
    @Test func emptySumScalesC() {
        var c: [Float] = [.nan, .nan, 2, 4]
        BF16Products.gemm(transposedB: true, m: 2, n: 2, k: 0, [], lda: 1, [], lds: 1, beta: 0, &c, ldc: 2)
        #expect(c == [0, 0, 0, 0])
        c = [1, 2, 3, 4]
        BF16Products.gemm(transposedB: false, m: 2, n: 2, k: 0, [], lda: 1, [], lds: 2, beta: 0.5, &c, ldc: 2)
        #expect(c == [0.5, 1, 1.5, 2])
    }
}

/// The vector rounding (AVX-512) equals the definition (nearest even; a NaN stays a quiet
/// NaN) on special values and on random bit patterns.
@Test func roundingToBFloat16IsNearestEven() {
    var generator = SeededGenerator(seed: 3)
    var values: [Float] = [0, -0, 1 + 0x1p-8, 1 + 0x1p-8 + 0x1p-20, 1 + 3 * 0x1p-8, -2.5, .infinity, -.infinity, .nan,
                           Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0x0000_8000), Float(bitPattern: 0x0001_8000),
                           .greatestFiniteMagnitude, Float(bitPattern: 0x7F7F_8000)]
    values += (0..<4096).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())) }
    let bits = roundedBits(values)
    for (value, got) in zip(values, bits) {
        let pattern = value.bitPattern
        let expected: UInt16 = value.isNaN ? UInt16(pattern >> 16) | 0x0040 : UInt16(truncatingIfNeeded: (pattern &+ 0x7FFF &+ ((pattern >> 16) & 1)) >> 16)
        #expect(got == expected, "\(String(pattern, radix: 16))")
    }
    #expect(bits[2] == 0x3F80 && bits[3] == 0x3F81 && bits[4] == 0x3F82 && bits[13] == 0x7F80, "ties to even; the largest float rounds to infinity")
}
