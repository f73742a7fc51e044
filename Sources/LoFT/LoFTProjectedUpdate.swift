// Step 4 of LoFT-AdamW: the projected full Adam update of the factor that moves.
//
// For A: U = (B mA) / (sqrt(V / c2) + eps) with V[i][j] = b_iᵀ PA[j] b_i, and
// A <- A - (lr / c1) SA Bᵀ U. U is m x n, so it is built a block of columns at a time: for a
// tile of columns, V_tile = packed(b_i b_iᵀ) (m x T) · PA[:, tile] (T x w) is one sgemm, the
// momentum M_tile = B · mA[:, tile] another, then U in place, then Bᵀ U_tile lands in the
// tile's columns of the r x n result. Transient memory: two m x w tiles (about 8 MB).
// For B the same runs over tiles of rows: V_tile = PB[tile] (h x T) · packed(a_j a_jᵀ) (T x n).

import Compute
import TensorIO

import Glibc

extension LoFTPairState {
    /// The r x n direction D with A_new = decay * A - (lr / c1) D (D = SA Bᵀ U), from A_t, B_t.
    func directionA(_ prepared: LoFTPreparedStep, eps: Float, beta1: Float, beta2: Float) -> Matrix {
        let b = pair.b
        let (m, n, r, t) = (pair.outputSize, pair.inputSize, pair.rank, triangle.count)
        let state = stateA
        let result = Matrix(rows: r, columns: n)
        let c2 = 1 - pow(Double(beta2), Double(state.step))
        guard options.secondMomentCalibration else {
            factorSpaceAdamDirection(state, into: result, eps: eps, c2: c2)
            return result
        }
        let packedB = triangle.packedOuterProductsOfRows(b)
        let width = LoFTTiling.columnTile(rows: m, columns: n)
        let secondMomentTile = Matrix(rows: m, columns: width)
        let momentumTile = Matrix(rows: m, columns: width)
        var start = 0
        while start < n {
            let w = min(width, n - start)
            gemm(transposeA: false, transposeB: false, m: m, n: w, k: t, alpha: 1,
                       packedB.baseAddress, lda: t, state.secondMoment.baseAddress + start, ldb: n,
                       beta: 0, secondMomentTile.baseAddress, ldc: w)
            gemm(transposeA: false, transposeB: false, m: m, n: w, k: r, alpha: 1,
                       b.baseAddress, lda: r, state.momentum.baseAddress + start, ldb: n,
                       beta: 0, momentumTile.baseAddress, ldc: w)
            adamDirection(momentum: momentumTile.storage, secondMoment: secondMomentTile.storage,
                          count: m * w, eps: eps, c2: c2)
            // (Bᵀ U)[:, tile]
            gemm(transposeA: true, transposeB: false, m: r, n: w, k: m, alpha: 1,
                       b.baseAddress, lda: r, momentumTile.baseAddress, ldb: w,
                       beta: 0, result.baseAddress + start, ldc: n)
            start += w
        }
        prepared.scalingA?.solveInPlace(leftHandOf: result)
        return result
    }

    /// The m x r direction D with B_new = decay * B - (lr / c1) D (D = U Aᵀ SB), from A_t, B_t.
    func directionB(_ prepared: LoFTPreparedStep, eps: Float, beta1: Float, beta2: Float) -> Matrix {
        let a = pair.a
        let (m, n, r, t) = (pair.outputSize, pair.inputSize, pair.rank, triangle.count)
        let state = stateB
        let result = Matrix(rows: m, columns: r)
        let c2 = 1 - pow(Double(beta2), Double(state.step))
        guard options.secondMomentCalibration else {
            factorSpaceAdamDirection(state, into: result, eps: eps, c2: c2)
            return result
        }
        let packedA = triangle.packedOuterProductsOfColumns(a)
        let height = LoFTTiling.rowTile(rows: m, columns: n)
        let secondMomentTile = Matrix(rows: height, columns: n)
        let momentumTile = Matrix(rows: height, columns: n)
        var start = 0
        while start < m {
            let h = min(height, m - start)
            gemm(transposeA: false, transposeB: false, m: h, n: n, k: t, alpha: 1,
                       state.secondMoment.baseAddress + start * t, lda: t, packedA.baseAddress, ldb: n,
                       beta: 0, secondMomentTile.baseAddress, ldc: n)
            gemm(transposeA: false, transposeB: false, m: h, n: n, k: r, alpha: 1,
                       state.momentum.baseAddress + start * r, lda: r, a.baseAddress, ldb: n,
                       beta: 0, momentumTile.baseAddress, ldc: n)
            adamDirection(momentum: momentumTile.storage, secondMoment: secondMomentTile.storage,
                          count: h * n, eps: eps, c2: c2)
            // (U Aᵀ)[tile, :]
            gemm(transposeA: false, transposeB: true, m: h, n: r, k: n, alpha: 1,
                       momentumTile.baseAddress, lda: n, a.baseAddress, ldb: n,
                       beta: 0, result.baseAddress + start * r, ldc: r)
            start += h
        }
        prepared.scalingB?.solveInPlace(rightHandOf: result)
        return result
    }

    /// Second-moment calibration off: Adam's direction m / (sqrt(v / c2) + eps) in factor space.
    private func factorSpaceAdamDirection(_ state: LoFTFactorState, into result: Matrix, eps: Float, c2: Double) {
        result.assign(state.momentum)
        adamDirection(momentum: result.storage, secondMoment: state.secondMoment.storage,
                      count: result.count, eps: eps, c2: c2)
    }
}

/// momentum[k] <- momentum[k] / (sqrt(max(v[k], 0)) / sqrt(c2) + eps), the first `count` elements.
/// The reconstructed V can dip below zero by rounding, hence the clamp.
func adamDirection(momentum: UnsafeMutableBufferPointer<Float>, secondMoment: UnsafeMutableBufferPointer<Float>,
                   count: Int, eps: Float, c2: Double) {
    let inverseRootC2 = Float(1 / c2.squareRoot())
    Parallel.forEachRange(count: count, minimumChunk: 1 << 15) { range in
        for k in range {
            let v = max(secondMoment[k], 0)
            momentum[k] = momentum[k] / (v.squareRoot() * inverseRootC2 + eps)
        }
    }
}
