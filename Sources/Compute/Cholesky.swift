// Cholesky factorisation S = L Lᵀ of a small symmetric positive definite matrix, and solves
// with it, in Double.
//
// LoFT's r x r systems (Bᵀ B + 1e-6 I, A Aᵀ + 1e-8 I) are as ill-conditioned as the factors
// squared, so they are formed and solved in Double even though the factors are float32. The
// factorisation (r³/3 operations, r <= a few hundred) is plain Swift; the triangular solves
// against many right-hand sides go through BLAS dtrsm. No inverse is ever formed.

import CBLAS

public enum CholeskyError: Error, CustomStringConvertible, Equatable {
    /// The matrix is not (numerically) positive definite: pivot `index` was `pivot` <= 0.
    case notPositiveDefinite(index: Int, pivot: Double)

    public var description: String {
        switch self {
        case let .notPositiveDefinite(index, pivot):
            return "Cholesky: matrix is not positive definite (pivot \(index) is \(pivot))"
        }
    }
}

public struct CholeskyFactorization: Sendable {
    public let order: Int
    /// L, lower triangular, row-major (upper part zero).
    public let lower: [Double]

    /// Factors the symmetric `order x order` matrix `symmetric` (row-major; only its lower
    /// triangle is read).
    public init(_ symmetric: [Double], order: Int) throws {
        precondition(symmetric.count == order * order, "Cholesky: \(symmetric.count) elements for order \(order)")
        var l = [Double](repeating: 0, count: order * order)
        for j in 0..<order {
            var diagonal = symmetric[j * order + j]
            for k in 0..<j { diagonal -= l[j * order + k] * l[j * order + k] }
            guard diagonal > 0, diagonal.isFinite else {
                throw CholeskyError.notPositiveDefinite(index: j, pivot: diagonal)
            }
            let pivot = diagonal.squareRoot()
            l[j * order + j] = pivot
            for i in (j + 1)..<order {
                var value = symmetric[i * order + j]
                for k in 0..<j { value -= l[i * order + k] * l[j * order + k] }
                l[i * order + j] = value / pivot
            }
        }
        self.order = order
        self.lower = l
    }

    /// Solves S X = rhs in place; rhs is `order x columns`, row-major, row stride `stride`.
    public func solve(leftHandOf rhs: UnsafeMutablePointer<Double>, columns: Int, stride: Int? = nil) {
        guard order > 0, columns > 0 else { return }
        lower.withUnsafeBufferPointer { l in
            // L Y = rhs, then Lᵀ X = Y.
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
                        Int32(order), Int32(columns), 1, l.baseAddress!, Int32(order), rhs, Int32(stride ?? columns))
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
                        Int32(order), Int32(columns), 1, l.baseAddress!, Int32(order), rhs, Int32(stride ?? columns))
        }
    }

    /// Solves X S = rhs in place; rhs is `rows x order`, row-major.
    public func solve(rightHandOf rhs: UnsafeMutablePointer<Double>, rows: Int, stride: Int? = nil) {
        guard order > 0, rows > 0 else { return }
        lower.withUnsafeBufferPointer { l in
            // Z Lᵀ = rhs, then X L = Z.
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
                        Int32(rows), Int32(order), 1, l.baseAddress!, Int32(order), rhs, Int32(stride ?? order))
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
                        Int32(rows), Int32(order), 1, l.baseAddress!, Int32(order), rhs, Int32(stride ?? order))
        }
    }

    /// S⁻¹ rhs for an `order x columns` row-major array.
    public func solve(leftHandOf rhs: [Double], columns: Int) -> [Double] {
        precondition(rhs.count == order * columns)
        var x = rhs
        x.withUnsafeMutableBufferPointer { solve(leftHandOf: $0.baseAddress!, columns: columns) }
        return x
    }

    /// rhs S⁻¹ for a `rows x order` row-major array.
    public func solve(rightHandOf rhs: [Double], rows: Int) -> [Double] {
        precondition(rhs.count == rows * order)
        var x = rhs
        x.withUnsafeMutableBufferPointer { solve(rightHandOf: $0.baseAddress!, rows: rows) }
        return x
    }

    /// S⁻¹ m for a float32 matrix with `order` rows, computed in Double, written back.
    public func solveInPlace(leftHandOf matrix: Matrix) {
        precondition(matrix.rows == order)
        var x = matrix.doubleElements()
        x.withUnsafeMutableBufferPointer { solve(leftHandOf: $0.baseAddress!, columns: matrix.columns) }
        for k in 0..<x.count { matrix.storage[k] = Float(x[k]) }
    }

    /// m S⁻¹ for a float32 matrix with `order` columns, computed in Double, written back.
    public func solveInPlace(rightHandOf matrix: Matrix) {
        precondition(matrix.columns == order)
        var x = matrix.doubleElements()
        x.withUnsafeMutableBufferPointer { solve(rightHandOf: $0.baseAddress!, rows: matrix.rows) }
        for k in 0..<x.count { matrix.storage[k] = Float(x[k]) }
    }
}

extension Matrix {
    /// selfᵀ self (columns x columns) in Double, from the float32 elements.
    public func gramOfColumns() -> [Double] {
        let x = doubleElements()
        return BLAS.dgemm(x, rows: rows, columns: columns, transposeA: true, x, rows: rows, columns: columns)
    }

    /// self selfᵀ (rows x rows) in Double.
    public func gramOfRows() -> [Double] {
        let x = doubleElements()
        return BLAS.dgemm(x, rows: rows, columns: columns, x, rows: rows, columns: columns, transposeB: true)
    }
}
