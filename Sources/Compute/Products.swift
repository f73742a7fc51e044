// Matrix products through OpenBLAS. Transposes are passed to sgemm as flags, never
// materialised. OpenBLAS runs its own threads (both cores) for large products.

import CBLAS

extension Matrix {
    /// c = alpha * op(a) * op(b) + beta * c, where op(x) is x or xᵀ.
    public static func multiply(
        _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
        into c: Matrix, alpha: Float = 1, beta: Float = 0
    ) {
        let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        precondition(k == kb, "Matrix.multiply: inner dimensions \(k) and \(kb) differ")
        precondition(c.rows == m && c.columns == n, "Matrix.multiply: result is \(c.shape), expected [\(m), \(n)]")
        gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a.baseAddress, lda: a.columns, b.baseAddress, ldb: b.columns,
            beta: beta, c.baseAddress, ldc: c.columns)
    }

    /// op(a) * op(b) as a new matrix.
    public static func product(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false) -> Matrix {
        let m = transposeA ? a.columns : a.rows
        let n = transposeB ? b.rows : b.columns
        let c = Matrix(rows: m, columns: n)
        multiply(a, transposeA: transposeA, b, transposeB: transposeB, into: c)
        return c
    }
}

/// Thin wrappers over CBLAS on raw pointers, for products over tiles of a matrix (a block
/// of columns is a pointer plus the full row stride).
public enum BLAS {
    /// Row-major c[m x n] = alpha * op(a) * op(b) + beta * c in Double.
    public static func dgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Row-major Double product of whole arrays: op(a)[m x k] * op(b)[k x n].
    public static func dgemm(
        _ a: [Double], rows aRows: Int, columns aColumns: Int, transposeA: Bool = false,
        _ b: [Double], rows bRows: Int, columns bColumns: Int, transposeB: Bool = false
    ) -> [Double] {
        let (m, k) = transposeA ? (aColumns, aRows) : (aRows, aColumns)
        let (kb, n) = transposeB ? (bColumns, bRows) : (bRows, bColumns)
        precondition(k == kb, "BLAS.dgemm: inner dimensions \(k) and \(kb) differ")
        var c = [Double](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    dgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                          a: a.baseAddress!, lda: aColumns, b: b.baseAddress!, ldb: bColumns,
                          beta: 0, c: c.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }
}
