// Rebalancing of a LoFT pair between steps: (B, A) <- (B S, S⁻¹ A), which keeps the product
// B A and gives both factors the same Gram matrix, (B S)ᵀ(B S) = (S⁻¹ A)(S⁻¹ A)ᵀ = Σ, the
// singular values of B A (docs/loft.md, "Keeping the pair balanced").
//
// Why: LoFT moves the product the way AdamW moves W, but says nothing about how the product
// is split between the factors. With alternating updates the split drifts: one factor can
// take all the small singular values of B A, and then its Gram matrix is as ill-conditioned
// as (B A)², the projections (Bᵀ B + 1e-6 I)⁻¹ and the float32 factors lose the trajectory,
// and the Cholesky factorisation of the next step fails. Balanced, each factor carries the
// square root of the product's condition number.
//
// The optimizer state needs no change here: each factor's state is expressed in the basis
// of the other factor as it was at the last step (the stored `basis`), and the next step's
// calibration, R = SA (Bᵀ Bprev) = S⁻¹ (for A) and R = (Aprev Aᵀ) SB = S (for B), carries the
// moments into the rebalanced basis exactly as it carries them through an update.
//
// S, from r x r matrices only: Bᵀ B = L Lᵀ (Cholesky), K = Lᵀ (A Aᵀ) L = U diag(w) Uᵀ
// (w = squared singular values of B A), S = L⁻ᵀ U diag(w^(1/4)), S⁻¹ = diag(w^(-1/4)) Uᵀ Lᵀ.

import Compute
import TensorIO

extension LoFTPairState {
    /// Rebalances the pair in place. Returns false (and leaves it alone) when either factor
    /// is rank-deficient, as B is before its first step, or a value is not finite.
    @discardableResult
    func rebalance() -> Bool {
        let a = pair.a, b = pair.b, r = pair.rank
        let bs = b.doubleElements(), as_ = a.doubleElements()
        let gramB = BLAS.dgemm(bs, rows: b.rows, columns: r, transposeA: true, bs, rows: b.rows, columns: r)
        let gramA = BLAS.dgemm(as_, rows: r, columns: a.columns, as_, rows: r, columns: a.columns, transposeB: true)
        guard let cholesky = try? CholeskyFactorization(gramB, order: r) else { return false }
        let l = cholesky.lower
        // K = Lᵀ (A Aᵀ) L.
        let gl = BLAS.dgemm(gramA, rows: r, columns: r, l, rows: r, columns: r)
        let k = BLAS.dgemm(l, rows: r, columns: r, transposeA: true, gl, rows: r, columns: r)
        guard let eigen = SymmetricEigenDecomposition(k, order: r),
              let smallest = eigen.values.first, smallest > 0,
              // Both factors must be numerically of full rank for S to be trustworthy.
              smallest > 1e-24 * eigen.values.last! else { return false }
        let scale = eigen.values.map { $0.squareRoot().squareRoot() }
        // S = L⁻ᵀ U diag(scale): solve Lᵀ X = U column by column (back substitution), then scale.
        var s = eigen.vectors
        for column in 0..<r {
            for i in stride(from: r - 1, through: 0, by: -1) {
                var value = s[i * r + column]
                for j in (i + 1)..<max(i + 1, r) { value -= l[j * r + i] * s[j * r + column] }
                s[i * r + column] = value / l[i * r + i]
            }
        }
        for i in 0..<r { for column in 0..<r { s[i * r + column] *= scale[column] } }
        // S⁻¹ = diag(1 / scale) Uᵀ Lᵀ.
        let ul = BLAS.dgemm(eigen.vectors, rows: r, columns: r, transposeA: true, l, rows: r, columns: r, transposeB: true)
        var inverse = ul
        for i in 0..<r { for column in 0..<r { inverse[i * r + column] /= scale[i] } }

        let newB = BLAS.dgemm(bs, rows: b.rows, columns: r, s, rows: r, columns: r)
        let newA = BLAS.dgemm(inverse, rows: r, columns: r, as_, rows: r, columns: a.columns)
        guard newB.allSatisfy(\.isFinite), newA.allSatisfy(\.isFinite) else { return false }
        for index in 0..<newB.count { b.storage[index] = Float(newB[index]) }
        for index in 0..<newA.count { a.storage[index] = Float(newA[index]) }
        return true
    }
}
