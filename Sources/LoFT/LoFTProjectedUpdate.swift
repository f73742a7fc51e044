// Step 4 of LoFT-AdamW: the projected full Adam update of the factor that moves.
//
// For A: U = (B mA) / (sqrt(V / c2) + eps) with V[i][j] = b_iᵀ PA[j] b_i, and
// A <- A - (lr / c1) SA Bᵀ U. U is m x n, so it is built a block of columns at a time: for a
// tile of columns, V_tile = packed(b_i b_iᵀ) (m x T) · PA[:, tile] (T x w) is one sgemm, the
// momentum M_tile = B · mA[:, tile] another, then U in place, then Bᵀ U_tile lands in the
// tile's columns of the r x n result. Transient memory: two m x w tiles of the worker's
// workspace (LoFTWorkers.swift): 256 KiB each when each core steps its own pairs, 4 MiB when
// one pair's pass runs on all cores.
// For B the same runs over tiles of rows: V_tile = PB[tile] (h x T) · packed(a_j a_jᵀ) (T x n).

import Compute
import TensorIO

import Glibc

extension LoFTPairState {
    /// The r x n direction D with A_new = decay * A - (lr / c1) D (D = SA Bᵀ U), from A_t, B_t.
    func directionA(_ prepared: LoFTPreparedStep, eps: Float, beta1: Float, beta2: Float, workspace: LoFTWorkspace) -> Matrix {
        let b = pair.b
        let (m, n, r, t) = (pair.outputSize, pair.inputSize, pair.rank, triangle.count)
        let state = stateA
        let result = Matrix(rows: r, columns: n)
        let c2 = 1 - pow(Double(beta2), Double(state.step))
        guard options.secondMomentCalibration else {
            factorSpaceAdamDirection(state, into: result, eps: eps, c2: c2, workspace: workspace)
            return result
        }
        let floor = Float(secondMomentFloor(step: state.step, beta1: beta1, beta2: beta2))
        let packedB = triangle.packedOuterProductsOfRows(b)
        let width = LoFTTiling.columnTile(rows: m, columns: n, elements: workspace.tileElements)
        let (secondMomentTile, momentumTile) = workspace.tiles(m * width)
        var start = 0
        while start < n {
            let w = min(width, n - start)
            gemm(transposeA: false, transposeB: false, m: m, n: w, k: t, alpha: 1,
                       packedB.baseAddress, lda: t, state.secondMoment.baseAddress + start, ldb: n,
                       beta: 0, secondMomentTile, ldc: w)
            gemm(transposeA: false, transposeB: false, m: m, n: w, k: r, alpha: 1,
                       b.baseAddress, lda: r, state.momentum.baseAddress + start, ldb: n,
                       beta: 0, momentumTile, ldc: w)
            adamDirection(momentum: momentumTile, secondMoment: secondMomentTile,
                          count: m * w, eps: eps, c2: c2, floor: floor, workspace: workspace)
            // (Bᵀ U)[:, tile]
            gemm(transposeA: true, transposeB: false, m: r, n: w, k: m, alpha: 1,
                       b.baseAddress, lda: r, momentumTile, ldb: w,
                       beta: 0, result.baseAddress + start, ldc: n)
            start += w
        }
        prepared.scalingA?.solveInPlace(leftHandOf: result)
        return result
    }

    /// The m x r direction D with B_new = decay * B - (lr / c1) D (D = U Aᵀ SB), from A_t, B_t.
    func directionB(_ prepared: LoFTPreparedStep, eps: Float, beta1: Float, beta2: Float, workspace: LoFTWorkspace) -> Matrix {
        let a = pair.a
        let (m, n, r, t) = (pair.outputSize, pair.inputSize, pair.rank, triangle.count)
        let state = stateB
        let result = Matrix(rows: m, columns: r)
        let c2 = 1 - pow(Double(beta2), Double(state.step))
        guard options.secondMomentCalibration else {
            factorSpaceAdamDirection(state, into: result, eps: eps, c2: c2, workspace: workspace)
            return result
        }
        let floor = Float(secondMomentFloor(step: state.step, beta1: beta1, beta2: beta2))
        let packedA = triangle.packedOuterProductsOfColumns(a)
        let height = LoFTTiling.rowTile(rows: m, columns: n, elements: workspace.tileElements)
        let (secondMomentTile, momentumTile) = workspace.tiles(height * n)
        var start = 0
        while start < m {
            let h = min(height, m - start)
            gemm(transposeA: false, transposeB: false, m: h, n: n, k: t, alpha: 1,
                       state.secondMoment.baseAddress + start * t, lda: t, packedA.baseAddress, ldb: n,
                       beta: 0, secondMomentTile, ldc: n)
            gemm(transposeA: false, transposeB: false, m: h, n: n, k: r, alpha: 1,
                       state.momentum.baseAddress + start * r, lda: r, a.baseAddress, ldb: n,
                       beta: 0, momentumTile, ldc: n)
            adamDirection(momentum: momentumTile, secondMoment: secondMomentTile,
                          count: h * n, eps: eps, c2: c2, floor: floor, workspace: workspace)
            // (U Aᵀ)[tile, :]
            gemm(transposeA: false, transposeB: true, m: h, n: r, k: n, alpha: 1,
                       momentumTile, lda: n, a.baseAddress, ldb: n,
                       beta: 0, result.baseAddress + start * r, ldc: r)
            start += h
        }
        prepared.scalingB?.solveInPlace(rightHandOf: result)
        return result
    }

    /// Second-moment calibration off: Adam's direction m / (sqrt(v / c2) + eps) in factor space.
    private func factorSpaceAdamDirection(_ state: LoFTFactorState, into result: Matrix, eps: Float, c2: Double,
                                          workspace: LoFTWorkspace) {
        result.assign(state.momentum)
        adamDirection(momentum: result.baseAddress, secondMoment: state.secondMoment.baseAddress,
                      count: result.count, eps: eps, c2: c2, floor: 0, workspace: workspace)
    }
}

/// momentum[k] <- momentum[k] / (sqrt(max(v[k], floor · momentum[k]², 0)) / sqrt(c2) + eps),
/// the first `count` elements. The reconstructed V = b_iᵀ P[j] b_i is a difference of float32
/// terms that can cancel to nearly nothing (or below zero) where the true V is small; the
/// floor (`secondMomentFloor`) restores the bound every Adam step has in exact arithmetic.
func adamDirection(momentum: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
                   count: Int, eps: Float, c2: Double, floor: Float, workspace: LoFTWorkspace) {
    let inverseRootC2 = Float(1 / c2.squareRoot())
    workspace.forEachRange(count: count, minimumChunk: 1 << 15) { range in
        for k in range {
            let m = momentum[k]
            let v = max(secondMoment[k], floor * m * m, 0)
            momentum[k] = m / (v.squareRoot() * inverseRootC2 + eps)
        }
    }
}

/// The largest κ with v >= κ m² for every Adam moment pair after `step` steps: with
/// m = (1-b1) Σ b1^k g_k and v = (1-b2) Σ b2^k g_k² (k < step), Cauchy-Schwarz gives
/// m² <= (1-b1)² Σ (b1²/b2)^k / (1-b2) · v. LoFT's full moments M = B mA and
/// V = b_iᵀ PA[j] b_i are such a pair for each entry (the calibrations map m and P by the
/// same R), so flooring V at κ M² changes nothing in exact arithmetic; it caps |M| / sqrt(V)
/// where float32 cancellation has made V too small. 0 when no bound exists (b2 = 0 < b1).
func secondMomentFloor(step: Int, beta1: Float, beta2: Float) -> Double {
    let b1 = Double(beta1), b2 = Double(beta2)
    guard step > 0 else { return 0 }
    if b2 == 0 { return b1 == 0 ? 1 : 0 }
    let ratio = b1 * b1 / b2
    var sum = 0.0, term = 1.0
    for _ in 0..<min(step, 100_000) {
        sum += term
        term *= ratio
        if term < 1e-17 * sum { break }
    }
    return (1 - b2) / ((1 - b1) * (1 - b1) * sum)
}
