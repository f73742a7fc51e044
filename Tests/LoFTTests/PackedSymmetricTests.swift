// The packed second-moment algebra against the definitions computed in Double: the
// reconstruction b_iᵀ P b_i as one product, and both implementations of P <- R P Rᵀ.

import Compute
import Testing
@testable import LoFT

@Suite struct PackedSymmetricTests {
    /// `count` random symmetric r x r matrices (Double, row-major) and their packed form as
    /// the columns of a T x count matrix.
    func randomSymmetric(order r: Int, count: Int, seed: UInt64) -> (full: [[Double]], packedColumns: Matrix) {
        var g = SeededGenerator(seed: seed)
        let triangle = PackedTriangle(order: r)
        var full: [[Double]] = []
        let packed = Matrix(rows: triangle.count, columns: count)
        for j in 0..<count {
            var p = [Double](repeating: 0, count: r * r)
            for a in 0..<r { for b in a..<r {
                let v = Double(Float(g.nextNormal()))
                p[a * r + b] = v
                p[b * r + a] = v
            } }
            full.append(p)
            for (index, (a, b)) in triangle.pairs.enumerated() { packed[index, j] = Float(p[a * r + b]) }
        }
        return (full, packed)
    }

    @Test func reconstructionIsOneProductOverPackedTriangles() {
        let (r, m, n) = (5, 7, 4)
        var g = SeededGenerator(seed: 2)
        let b = Matrix.normal(rows: m, columns: r, using: &g)
        let (full, packed) = randomSymmetric(order: r, count: n, seed: 3)
        let v = Matrix.product(PackedTriangle(order: r).packedOuterProductsOfRows(b), packed)
        for i in 0..<m { for j in 0..<n {
            var expected = 0.0
            for c in 0..<r { for d in 0..<r { expected += Double(b[i, c]) * full[j][c * r + d] * Double(b[i, d]) } }
            #expect(abs(Double(v[i, j]) - expected) < 1e-4 * max(1, abs(expected)))
        } }
    }

    @Test(arguments: [3, 8, 33]) func changeOfBasisBothWays(order r: Int) {
        let count = 5
        let (full, packed) = randomSymmetric(order: r, count: count, seed: UInt64(r))
        var g = SeededGenerator(seed: 9)
        let rotation = (0..<(r * r)).map { _ in g.nextNormal() }
        let triangle = PackedTriangle(order: r)

        let viaCongruenceMatrix = Matrix.product(triangle.congruence(rotation), packed)
        let viaStacked = packed.copy()
        let ps = viaStacked.storage
        StackedCongruence(triangle: triangle, q: rotation, count: count).apply(
            count: count, read: { j, index in ps[index * count + j] }, write: { j, index, v in ps[index * count + j] = v })

        for j in 0..<count {
            let rp = BLAS.dgemm(rotation, rows: r, columns: r, full[j], rows: r, columns: r)
            let expected = BLAS.dgemm(rp, rows: r, columns: r, rotation, rows: r, columns: r, transposeB: true)
            let scale = expected.map(abs).max()!
            for (index, (a, b)) in triangle.pairs.enumerated() {
                #expect(abs(Double(viaCongruenceMatrix[index, j]) - expected[a * r + b]) < 1e-5 * scale)
                #expect(abs(Double(viaStacked[index, j]) - expected[a * r + b]) < 1e-5 * scale)
            }
        }
    }
}
