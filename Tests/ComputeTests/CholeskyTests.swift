// Cholesky solves against matrices whose answer is known by construction.

import Compute
import Testing

@Suite struct CholeskyTests {
    /// S = Mᵀ M + I for a random M: symmetric positive definite.
    func spd(_ order: Int, seed: UInt64) -> [Double] {
        var g = SeededGenerator(seed: seed)
        let m = Matrix.normal(rows: order, columns: order, using: &g)
        var s = m.gramOfColumns()
        for i in 0..<order { s[i * order + i] += 1 }
        return s
    }

    @Test func factorReproducesTheMatrix() throws {
        let s = spd(6, seed: 2)
        let c = try CholeskyFactorization(s, order: 6)
        let llt = BLAS.dgemm(c.lower, rows: 6, columns: 6, c.lower, rows: 6, columns: 6, transposeB: true)
        for k in 0..<36 { #expect(abs(llt[k] - s[k]) < 1e-10) }
    }

    @Test func solvesLeftAndRight() throws {
        let order = 5
        let s = spd(order, seed: 3)
        var g = SeededGenerator(seed: 4)
        let x = (0..<(order * 3)).map { _ in g.nextNormal() }
        // S X = rhs with rhs = S X.
        let rhs = BLAS.dgemm(s, rows: order, columns: order, x, rows: order, columns: 3)
        let c = try CholeskyFactorization(s, order: order)
        let solved = c.solve(leftHandOf: rhs, columns: 3)
        for k in 0..<x.count { #expect(abs(solved[k] - x[k]) < 1e-10) }
        // Y S = rhs2 with Y 3 x order.
        let rhs2 = BLAS.dgemm(x, rows: 3, columns: order, transposeA: false, s, rows: order, columns: order)
        let solved2 = c.solve(rightHandOf: rhs2, rows: 3)
        for k in 0..<x.count { #expect(abs(solved2[k] - x[k]) < 1e-10) }
    }

    @Test func rejectsIndefiniteMatrix() {
        #expect(throws: CholeskyError.self) { try CholeskyFactorization([1, 2, 2, 1], order: 2) }
    }
}
