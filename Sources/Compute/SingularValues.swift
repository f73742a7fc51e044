// Singular value decompositions in Double, for adapter algebra (`loft combine`'s svd methods,
// `loft extract`): M ≈ U diag(s) Vᵀ, singular values in decreasing order.
//
//   thin(_:)        LAPACK dgesdd on the whole matrix: exact, O(m n min(m, n)).
//   ofProduct(_:_:) M = B A with B m x r, A r x n: QR of B and of Aᵀ, then the SVD of the
//                   r x r core. Exact and O((m + n) r²), so a sum of LoRA deltas is never
//                   formed.
//   randomized(_:)  Halko, Martinsson and Tropp's range finder (oversampling, power
//                   iterations with re-orthonormalisation), for the leading k of a large
//                   matrix in O(m n k).
//
// Row-major arrays throughout. LAPACK is column-major: a row-major m x n buffer is the
// column-major n x m transpose, so the SVD of Mᵀ = V S Uᵀ is computed and its factors read
// back swapped.

import CBLAS

public struct SingularValueDecomposition: Sendable {
    public var rows: Int
    public var columns: Int
    /// Singular values, decreasing.
    public var s: [Double]
    /// U: rows x s.count, row-major.
    public var u: [Double]
    /// Vᵀ: s.count x columns, row-major.
    public var vt: [Double]

    public var rank: Int { s.count }

    /// Keeps the leading `k` triplets.
    public func truncated(to k: Int) -> SingularValueDecomposition {
        let k = min(k, rank)
        var u = [Double](repeating: 0, count: rows * k)
        for i in 0..<rows { for j in 0..<k { u[i * k + j] = self.u[i * rank + j] } }
        return SingularValueDecomposition(rows: rows, columns: columns, s: Array(s[0..<k]), u: u, vt: Array(vt[0..<(k * columns)]))
    }

    /// U diag(s): rows x rank.
    public func scaledU() -> [Double] {
        var out = u
        for i in 0..<rows { for j in 0..<rank { out[i * rank + j] *= s[j] } }
        return out
    }
}

public enum SVD {
    /// Full thin SVD of a row-major rows x columns matrix.
    public static func thin(_ matrix: [Double], rows: Int, columns: Int) -> SingularValueDecomposition {
        precondition(matrix.count == rows * columns)
        let k = min(rows, columns)
        guard k > 0 else { return SingularValueDecomposition(rows: rows, columns: columns, s: [], u: [], vt: []) }
        // Column-major view: a = Mᵀ, m' = columns, n' = rows.
        var a = matrix
        var m = Int32(columns), n = Int32(rows), lda = Int32(columns)
        var s = [Double](repeating: 0, count: k)
        var uPrime = [Double](repeating: 0, count: columns * k)   // column-major m' x k = Vᵀ row-major
        var vtPrime = [Double](repeating: 0, count: k * rows)     // column-major k x n' = U row-major
        var ldu = Int32(columns), ldvt = Int32(k)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var info: Int32 = 0
        var jobz = CChar(UInt8(ascii: "S"))
        var query = 0.0
        var lwork: Int32 = -1
        dgesdd_(&jobz, &m, &n, &a, &lda, &s, &uPrime, &ldu, &vtPrime, &ldvt, &query, &lwork, &iwork, &info)
        lwork = Int32(query)
        var work = [Double](repeating: 0, count: max(1, Int(lwork)))
        dgesdd_(&jobz, &m, &n, &a, &lda, &s, &uPrime, &ldu, &vtPrime, &ldvt, &work, &lwork, &iwork, &info)
        precondition(info == 0, "dgesdd failed (info \(info))")
        return SingularValueDecomposition(rows: rows, columns: columns, s: s, u: vtPrime, vt: uPrime)
    }

    /// SVD of B @ A (B: rows x r, A: r x columns) without forming the product.
    public static func ofProduct(b: [Double], a: [Double], rows: Int, inner r: Int, columns: Int) -> SingularValueDecomposition {
        let (qb, rb) = qr(b, rows: rows, columns: r)          // B = Qb Rb
        let (qa, ra) = qr(transpose(a, rows: r, columns: columns), rows: columns, columns: r)  // Aᵀ = Qa Ra
        let kb = rb.count / r, ka = ra.count / r                // min(rows, r), min(columns, r)
        // Core = Rb (kb x r) Raᵀ (r x ka).
        let core = BLAS.dgemm(rb, rows: kb, columns: r, ra, rows: ka, columns: r, transposeB: true)
        let small = thin(core, rows: kb, columns: ka)
        let u = BLAS.dgemm(qb, rows: rows, columns: kb, small.u, rows: kb, columns: small.rank)
        let vt = BLAS.dgemm(small.vt, rows: small.rank, columns: ka, qa, rows: columns, columns: ka, transposeB: true)
        return SingularValueDecomposition(rows: rows, columns: columns, s: small.s, u: u, vt: vt)
    }

    /// The leading `k` singular triplets of a large matrix by randomized range finding
    /// (`oversample` extra directions, `powerIterations` passes of M Mᵀ).
    public static func randomized(_ matrix: [Double], rows: Int, columns: Int, rank k: Int,
                                  oversample: Int = 10, powerIterations: Int = 2, seed: UInt64 = 0) -> SingularValueDecomposition {
        let l = min(k + oversample, min(rows, columns))
        var generator = SeededGenerator(seed: seed)
        let omega = (0..<(columns * l)).map { _ in generator.nextNormal() }
        var q = qr(BLAS.dgemm(matrix, rows: rows, columns: columns, omega, rows: columns, columns: l), rows: rows, columns: l).q
        for _ in 0..<powerIterations {
            let z = qr(BLAS.dgemm(matrix, rows: rows, columns: columns, transposeA: true, q, rows: rows, columns: l), rows: columns, columns: l).q
            q = qr(BLAS.dgemm(matrix, rows: rows, columns: columns, z, rows: columns, columns: l), rows: rows, columns: l).q
        }
        // Qᵀ M: l x columns, then its small SVD.
        let projected = BLAS.dgemm(q, rows: rows, columns: l, transposeA: true, matrix, rows: rows, columns: columns)
        let small = thin(projected, rows: l, columns: columns)
        let u = BLAS.dgemm(q, rows: rows, columns: l, small.u, rows: l, columns: small.rank)
        return SingularValueDecomposition(rows: rows, columns: columns, s: small.s, u: u, vt: small.vt).truncated(to: k)
    }

    /// Thin QR of a row-major rows x columns matrix: Q (rows x p) and R (p x columns), p = min(rows, columns).
    public static func qr(_ matrix: [Double], rows: Int, columns: Int) -> (q: [Double], r: [Double]) {
        let p = min(rows, columns)
        // Column-major rows x columns = row-major transpose.
        var a = transpose(matrix, rows: rows, columns: columns)
        var m = Int32(rows), n = Int32(columns), lda = Int32(max(rows, 1))
        var tau = [Double](repeating: 0, count: max(p, 1))
        var info: Int32 = 0
        var query = 0.0
        var lwork: Int32 = -1
        dgeqrf_(&m, &n, &a, &lda, &tau, &query, &lwork, &info)
        lwork = Int32(query)
        var work = [Double](repeating: 0, count: max(1, Int(lwork)))
        dgeqrf_(&m, &n, &a, &lda, &tau, &work, &lwork, &info)
        precondition(info == 0, "dgeqrf failed (info \(info))")
        var r = [Double](repeating: 0, count: p * columns)
        for i in 0..<p { for j in i..<columns { r[i * columns + j] = a[j * rows + i] } }
        var k = Int32(p), qColumns = Int32(p)
        lwork = -1
        dorgqr_(&m, &qColumns, &k, &a, &lda, &tau, &query, &lwork, &info)
        lwork = Int32(query)
        work = [Double](repeating: 0, count: max(1, Int(lwork)))
        dorgqr_(&m, &qColumns, &k, &a, &lda, &tau, &work, &lwork, &info)
        precondition(info == 0, "dorgqr failed (info \(info))")
        var q = [Double](repeating: 0, count: rows * p)
        for i in 0..<rows { for j in 0..<p { q[i * p + j] = a[j * rows + i] } }
        return (q, r)
    }

    public static func transpose(_ values: [Double], rows: Int, columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: values.count)
        for i in 0..<rows { for j in 0..<columns { out[j * rows + i] = values[i * columns + j] } }
        return out
    }
}
