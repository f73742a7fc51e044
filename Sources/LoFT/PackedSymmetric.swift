// Symmetric r x r matrices stored as their packed upper triangle: r(r+1)/2 numbers, entry
// (a, b) with a <= b at index a*r - a(a-1)/2 + (b - a), rows of the triangle in order.
//
// LoFT keeps one such matrix per column of A (stored as the columns of a T x n matrix,
// T = r(r+1)/2) and one per row of B (the rows of an m x T matrix), so that the second-moment
// reconstruction, the moment update and the change of basis are each one BLAS product or
// one row-wise loop over all of them.

import Compute

struct PackedTriangle {
    let order: Int
    /// (a, b) for each packed index, a <= b.
    let pairs: [(Int, Int)]

    init(order: Int) {
        self.order = order
        var pairs: [(Int, Int)] = []
        pairs.reserveCapacity(order * (order + 1) / 2)
        for a in 0..<order { for b in a..<order { pairs.append((a, b)) } }
        self.pairs = pairs
    }

    var count: Int { pairs.count }

    /// The T x T matrix K with packed(R P Rᵀ) = K packed(P) for every symmetric P.
    /// (R P Rᵀ)[a][b] = sum over c, d of R[a][c] P[c][d] R[b][d]; the packed entry (c, d), c < d,
    /// stands for both P[c][d] and P[d][c].
    func congruence(_ r: [Double]) -> Matrix {
        let n = order
        precondition(r.count == n * n)
        let t = count
        let k = Matrix(rows: t, columns: t)
        let target = k.storage
        r.withUnsafeBufferPointer { r in
            // Row (a, b) of K, its columns (c, d) in packed order: a contiguous run over d for each c.
            for (row, (a, b)) in pairs.enumerated() {
                let ra = r.baseAddress! + a * n, rb = r.baseAddress! + b * n
                var column = row * t
                for c in 0..<n {
                    target[column] = Float(ra[c] * rb[c])
                    column += 1
                    for d in (c + 1)..<max(c + 1, n) {
                        target[column] = Float(ra[c] * rb[d] + ra[d] * rb[c])
                        column += 1
                    }
                }
            }
        }
        return k
    }

    /// Row i of the result holds packed(x_i x_iᵀ) with off-diagonal entries doubled, x_i = row
    /// i of `x` (m x r): then (result · packed P)[i] = x_iᵀ P x_i.
    func packedOuterProductsOfRows(_ x: Matrix) -> Matrix {
        precondition(x.columns == order)
        let result = Matrix(rows: x.rows, columns: count)
        let source = x.storage, target = result.storage
        let t = count, n = order
        for i in 0..<x.rows {
            var index = 0
            for a in 0..<n {
                let xa = source[i * n + a]
                target[i * t + index] = xa * xa
                index += 1
                for b in (a + 1)..<n {
                    target[i * t + index] = 2 * xa * source[i * n + b]
                    index += 1
                }
            }
        }
        return result
    }

    /// Column j of the result holds packed(x_j x_jᵀ) with off-diagonal entries doubled, x_j =
    /// column j of `x` (r x n).
    func packedOuterProductsOfColumns(_ x: Matrix) -> Matrix {
        precondition(x.rows == order)
        let columns = x.columns
        let result = Matrix(rows: count, columns: columns)
        let source = x.storage, target = result.storage
        for (index, (a, b)) in pairs.enumerated() {
            let factor: Float = a == b ? 1 : 2
            for j in 0..<columns {
                target[index * columns + j] = factor * source[a * columns + j] * source[b * columns + j]
            }
        }
        return result
    }
}

/// The change of basis P <- Q P Qᵀ for many packed symmetric matrices at once, by unpacking a
/// tile of them into full r x r blocks stacked vertically and running two products with Qᵀ:
/// 4 r³ operations per matrix against r⁴/2 for the T x T congruence matrix, the better choice
/// from r = 32 on (measured at r = 64: about 8x fewer operations).
struct StackedCongruence {
    let triangle: PackedTriangle
    let q: Matrix
    let tile: Int
    let stacked: Matrix
    let product: Matrix

    init(triangle: PackedTriangle, q: [Double], count: Int) {
        let r = triangle.order
        self.triangle = triangle
        self.q = Matrix(rows: r, columns: r, elements: q.map(Float.init))
        tile = max(1, min(count, LoFTTiling.elementsPerTile / max(r * r, 1)))
        stacked = Matrix(rows: tile * r, columns: r)
        product = Matrix(rows: tile * r, columns: r)
    }

    /// Applies the change of basis to `count` matrices; `read(k, index)` / `write(k, index, v)`
    /// address packed entry `index` of matrix `start + k`.
    func apply(count: Int, read: (Int, Int) -> Float, write: (Int, Int, Float) -> Void) {
        let r = triangle.order, pairs = triangle.pairs
        var start = 0
        while start < count {
            let w = min(tile, count - start)
            let s = stacked.storage, p = product.storage
            for k in 0..<w {
                for (index, (a, b)) in pairs.enumerated() {
                    let v = read(start + k, index)
                    s[(k * r + a) * r + b] = v
                    s[(k * r + b) * r + a] = v
                }
            }
            // Y_k = P_k Qᵀ, then (Y_k)ᵀ = Q P_k, then Q P_k Qᵀ.
            gemm(transposeA: false, transposeB: true, m: w * r, n: r, k: r, alpha: 1,
                       stacked.baseAddress, lda: r, q.baseAddress, ldb: r, beta: 0, product.baseAddress, ldc: r)
            for k in 0..<w {
                for a in 0..<r { for b in 0..<r { s[(k * r + a) * r + b] = p[(k * r + b) * r + a] } }
            }
            gemm(transposeA: false, transposeB: true, m: w * r, n: r, k: r, alpha: 1,
                       stacked.baseAddress, lda: r, q.baseAddress, ldb: r, beta: 0, product.baseAddress, ldc: r)
            for k in 0..<w {
                for (index, (a, b)) in pairs.enumerated() { write(start + k, index, p[(k * r + a) * r + b]) }
            }
            start += w
        }
    }
}
