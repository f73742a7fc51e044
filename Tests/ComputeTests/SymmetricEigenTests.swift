// The Jacobi eigendecomposition against matrices built from known eigenpairs.

import Compute
import Testing

@Suite struct SymmetricEigenTests {
    @Test(arguments: [1, 3, 8, 24])
    func reconstructsTheMatrix(order: Int) throws {
        var g = SeededGenerator(seed: UInt64(order))
        let m = Matrix.normal(rows: order, columns: order, using: &g)
        let s = m.gramOfColumns()  // symmetric, eigenvalues spread over several decades
        let eigen = try #require(SymmetricEigenDecomposition(s, order: order))
        #expect(eigen.values == eigen.values.sorted())
        // V diag(w) Vᵀ = S and Vᵀ V = I.
        var vw = eigen.vectors
        for i in 0..<order { for j in 0..<order { vw[i * order + j] *= eigen.values[j] } }
        let back = BLAS.dgemm(vw, rows: order, columns: order, eigen.vectors, rows: order, columns: order, transposeB: true)
        let identity = BLAS.dgemm(eigen.vectors, rows: order, columns: order, transposeA: true, eigen.vectors, rows: order, columns: order)
        let scale = s.map(abs).max()!
        for k in 0..<(order * order) {
            #expect(abs(back[k] - s[k]) < 1e-12 * scale)
            #expect(abs(identity[k] - (k % (order + 1) == 0 ? 1 : 0)) < 1e-12)
        }
    }

    @Test func smallEigenvaluesKeepTheirRelativeAccuracy() throws {
        // diag(1e-12, 1, 1e6) rotated: the smallest survives to well under 1% (Jacobi's strength).
        let c = 0.6, s = 0.8
        let q: [Double] = [c, -s, 0, s, c, 0, 0, 0, 1]
        let d: [Double] = [1e-12, 0, 0, 0, 1, 0, 0, 0, 1e6]
        let qd = BLAS.dgemm(q, rows: 3, columns: 3, d, rows: 3, columns: 3)
        let a = BLAS.dgemm(qd, rows: 3, columns: 3, q, rows: 3, columns: 3, transposeB: true)
        let eigen = try #require(SymmetricEigenDecomposition(a, order: 3))
        #expect(abs(eigen.values[0] - 1e-12) < 1e-2 * 1e-12 + 1e-15)
        #expect(abs(eigen.values[2] - 1e6) < 1e-9 * 1e6)
    }

    @Test func refusesNonFinite() {
        #expect(SymmetricEigenDecomposition([1, .nan, .nan, 1], order: 2) == nil)
    }
}
