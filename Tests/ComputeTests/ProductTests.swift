// Products through BLAS against the definition, in every transpose combination.

import Compute
import Testing

@Suite struct ProductTests {
    /// Σ_k op(a)[i][k] op(b)[k][j], computed in Double from the definition.
    func naive(_ a: Matrix, _ ta: Bool, _ b: Matrix, _ tb: Bool) -> Matrix {
        let m = ta ? a.columns : a.rows, k = ta ? a.rows : a.columns, n = tb ? b.rows : b.columns
        return Matrix(rows: m, columns: n) { i, j in
            var s = 0.0
            for l in 0..<k { s += Double(ta ? a[l, i] : a[i, l]) * Double(tb ? b[j, l] : b[l, j]) }
            return Float(s)
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func productMatchesDefinition(transposes: (Bool, Bool)) {
        var g = SeededGenerator(seed: 1)
        let (ta, tb) = transposes
        let a = ta ? Matrix.normal(rows: 5, columns: 7, using: &g) : Matrix.normal(rows: 7, columns: 5, using: &g)
        let b = tb ? Matrix.normal(rows: 3, columns: 5, using: &g) : Matrix.normal(rows: 5, columns: 3, using: &g)
        let c = Matrix.product(a, transposeA: ta, b, transposeB: tb)
        #expect(c.rows == 7 && c.columns == 3)
        #expect(c.maxAbsoluteDifference(naive(a, ta, b, tb)) < 1e-5)
    }

    @Test func multiplyAccumulatesWithAlphaAndBeta() {
        let a = Matrix(rows: 1, columns: 2, elements: [1, 2])
        let b = Matrix(rows: 2, columns: 1, elements: [3, 4])
        let c = Matrix(rows: 1, columns: 1, elements: [10])
        Matrix.multiply(a, b, into: c, alpha: 2, beta: 0.5)
        #expect(c[0, 0] == 2 * 11 + 5)
    }

    @Test func gramMatricesInDouble() {
        let x = Matrix(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6])
        #expect(x.gramOfRows() == [14, 32, 32, 77])
        #expect(x.gramOfColumns() == [17, 22, 27, 22, 29, 36, 27, 36, 45])
    }

    @Test func copyIsIndependent() {
        let x = Matrix(rows: 1, columns: 2, elements: [1, 2])
        let y = x.copy()
        y[0, 0] = 5
        #expect(x[0, 0] == 1)
        #expect(x.elements == [1, 2] && y.elements == [5, 2])
    }

    @Test func storageIsAligned() {
        let x = Matrix(rows: 3, columns: 3)
        #expect(Int(bitPattern: x.baseAddress) % 64 == 0)
    }
}
