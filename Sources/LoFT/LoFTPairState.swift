// LoFT-AdamW's state for one low-rank pair and the per-step algebra in the r x r space:
// gradient scaling, change of basis (calibration) and moment updates. The full-size part of
// the step (the projected Adam update) is in LoFTProjectedUpdate.swift.
//
// The method: docs/loft.md, "The method". Every projection in a step uses the factors A_t, B_t
// as they were when the gradients were taken, also for the factor processed second.

import Compute
import TensorIO

/// The state of one factor (A or B) of a pair.
final class LoFTFactorState {
    /// Adam step count of this factor.
    var step = 0
    /// Momentum of the scaled gradient, the factor's shape.
    let momentum: Matrix
    /// Second-moment calibration on: the packed r x r matrices, T x n for A (one per column)
    /// or m x T for B (one per row). Off: an elementwise second moment, the factor's shape.
    let secondMoment: Matrix
    /// The other factor as it was at this factor's last step (the basis the state is in).
    var basis: Matrix?

    init(momentumRows: Int, momentumColumns: Int, secondMomentRows: Int, secondMomentColumns: Int) {
        momentum = Matrix(rows: momentumRows, columns: momentumColumns)
        secondMoment = Matrix(rows: secondMomentRows, columns: secondMomentColumns)
    }
}

final class LoFTPairState {
    let pair: LowRankPair
    let triangle: PackedTriangle
    let stateA: LoFTFactorState
    let stateB: LoFTFactorState
    let options: LoFTOptions

    init(pair: LowRankPair, options: LoFTOptions) {
        let (m, n, r) = (pair.outputSize, pair.inputSize, pair.rank)
        self.pair = pair
        self.options = options
        triangle = PackedTriangle(order: r)
        let t = triangle.count
        if options.secondMomentCalibration {
            stateA = LoFTFactorState(momentumRows: r, momentumColumns: n, secondMomentRows: t, secondMomentColumns: n)
            stateB = LoFTFactorState(momentumRows: m, momentumColumns: r, secondMomentRows: m, secondMomentColumns: t)
        } else {
            stateA = LoFTFactorState(momentumRows: r, momentumColumns: n, secondMomentRows: r, secondMomentColumns: n)
            stateB = LoFTFactorState(momentumRows: m, momentumColumns: r, secondMomentRows: m, secondMomentColumns: r)
        }
    }
}

/// What one step of a pair needs, computed from A_t and B_t before anything moves.
struct LoFTPreparedStep {
    /// (BᵀB + 1e-6 I) and (AAᵀ + 1e-8 I) factored; nil when gradient scaling is off.
    let scalingA: CholeskyFactorization?
    let scalingB: CholeskyFactorization?
    /// BᵀB and AAᵀ in Double (for the norms of the projected gradients).
    let gramB: [Double]
    let gramA: [Double]
    /// g~A = SA gA and g~B = gB SB.
    let scaledGradientA: Matrix
    let scaledGradientB: Matrix
    let movesA: Bool
    let movesB: Bool
}

/// What `prepare` made of a step: the scaled gradients, with the factors whose Gram matrix
/// needed a larger ridge than the method's; or why the pair cannot step at all.
enum LoFTPreparation {
    case prepared(LoFTPreparedStep, ridges: [(factor: String, ridge: Double)])
    case skipped(reason: String)
}

extension LoFTPairState {
    /// The relative work of a step of this pair (for sharing pairs out over the cores): the
    /// m x n passes and the changes of basis of both factors' second moments.
    var stepCost: Int {
        let (m, n) = (pair.outputSize, pair.inputSize)
        return m * n * (triangle.count + 2 * pair.rank) + (m + n) * triangle.count * triangle.count
    }

    /// Scales the gradients. `globalStep` (0-based) decides which factor moves.
    func prepare(gradientA: Matrix, gradientB: Matrix, globalStep: Int) -> LoFTPreparation {
        let a = pair.a, b = pair.b, r = pair.rank
        guard gradientA.isFinite, gradientB.isFinite else { return .skipped(reason: "gradient not finite") }
        guard a.isFinite, b.isFinite else { return .skipped(reason: "factor not finite") }
        let gramB = b.gramOfColumns()
        let gramA = a.gramOfRows()
        let movesB = !options.alternatingUpdates || globalStep % 2 == 0
        let movesA = !options.alternatingUpdates || globalStep % 2 == 1
        guard options.gradientScaling else {
            return .prepared(LoFTPreparedStep(scalingA: nil, scalingB: nil, gramB: gramB, gramA: gramA,
                                              scaledGradientA: gradientA.copy(), scaledGradientB: gradientB.copy(),
                                              movesA: movesA, movesB: movesB), ridges: [])
        }
        var ridges: [(factor: String, ridge: Double)] = []
        guard let scalingA = regularizedCholesky(gramB, ridge: LoFTOptions.ridgeB, order: r, factor: "B", ridges: &ridges),
              let scalingB = regularizedCholesky(gramA, ridge: LoFTOptions.ridgeA, order: r, factor: "A", ridges: &ridges)
        else { return .skipped(reason: "Gram matrix not positive definite with any ridge") }
        let scaledA = gradientA.copy()
        scalingA.solveInPlace(leftHandOf: scaledA)
        let scaledB = gradientB.copy()
        scalingB.solveInPlace(rightHandOf: scaledB)
        guard scaledA.isFinite, scaledB.isFinite else { return .skipped(reason: "scaled gradient not finite") }
        return .prepared(LoFTPreparedStep(scalingA: scalingA, scalingB: scalingB, gramB: gramB, gramA: gramA,
                                          scaledGradientA: scaledA, scaledGradientB: scaledB, movesA: movesA, movesB: movesB),
                         ridges: ridges)
    }

    /// Cholesky of gram + ridge I. The Gram matrix of finite float32 factors, formed in Double,
    /// is positive semi-definite up to rounding of about 1e-16 of its largest entries, which
    /// the method's ridge absorbs unless those entries exceed ~1e10. Then (and only then) the
    /// ridge grows to 1e-10 of the mean diagonal, ten times at a time, and the caller reports it.
    private func regularizedCholesky(_ gram: [Double], ridge: Double, order r: Int, factor: String,
                                     ridges: inout [(factor: String, ridge: Double)]) -> CholeskyFactorization? {
        if let factored = try? CholeskyFactorization(addingRidge(gram, ridge, order: r), order: r) { return factored }
        var trace = 0.0
        for i in 0..<r { trace += gram[i * r + i] }
        guard trace.isFinite else { return nil }
        var larger = max(ridge * 10, 1e-10 * trace / Double(max(r, 1)))
        for _ in 0..<12 {
            if let factored = try? CholeskyFactorization(addingRidge(gram, larger, order: r), order: r) {
                ridges.append((factor, larger))
                return factored
            }
            larger *= 10
        }
        return nil
    }

    /// Clears both factors' moments (after they produced a non-finite direction).
    func resetMoments() {
        for state in [stateA, stateB] {
            state.step = 0
            state.momentum.storage.update(repeating: 0)
            state.secondMoment.storage.update(repeating: 0)
            state.basis = nil
        }
    }

    /// Squared Frobenius norm of the projected full gradients of the factors that move:
    /// ||B g~A||² = sum over columns of g~Aᵀ (BᵀB) g~A, ||g~B A||² likewise with AAᵀ, so no
    /// m x n matrix is formed.
    func projectedGradientSquaredNorm(_ prepared: LoFTPreparedStep) -> Double {
        var total = 0.0
        if prepared.movesA { total += quadraticFormSum(prepared.scaledGradientA, prepared.gramB, columnsAreVectors: true) }
        if prepared.movesB { total += quadraticFormSum(prepared.scaledGradientB, prepared.gramA, columnsAreVectors: false) }
        return total
    }

    /// Steps 2 and 3 of the spec for both factors: change of basis, then the moments.
    /// `gradientScale` is the clipping coefficient. The second moments' change of basis and
    /// their moment update are one pass over them (a tile is carried into the new basis and
    /// updated while it is in cache); the result is that of the two steps one after the other.
    func updateMoments(_ prepared: LoFTPreparedStep, gradientScale: Float, beta1: Float, beta2: Float,
                       workspace: LoFTWorkspace) {
        let a = pair.a, b = pair.b, r = pair.rank
        let calibrates = options.momentumCalibration || options.secondMomentCalibration

        // A's state lives in the basis of B.
        var rotationA: [Double]?
        if calibrates {
            if let previous = stateA.basis {
                // R = SA (Bᵀ Bprev).
                var rotation = BLAS.dgemm(b.doubleElements(), rows: b.rows, columns: r, transposeA: true,
                                          previous.doubleElements(), rows: previous.rows, columns: r)
                if let s = prepared.scalingA { rotation = s.solve(leftHandOf: rotation, columns: r) }
                if options.momentumCalibration { rotateRows(stateA.momentum, by: rotation) }
                if options.secondMomentCalibration { rotationA = rotation }
            }
            stateA.basis = b.copy()
        }
        // B's state lives in the basis of A.
        var rotationB: [Double]?
        if calibrates {
            if let previous = stateB.basis {
                // R = (Aprev Aᵀ) SB; PB[i] <- Rᵀ PB[i] R.
                var rotation = BLAS.dgemm(previous.doubleElements(), rows: r, columns: previous.columns,
                                          a.doubleElements(), rows: r, columns: a.columns, transposeB: true)
                if let s = prepared.scalingB { rotation = s.solve(rightHandOf: rotation, rows: r) }
                if options.momentumCalibration { rotateColumns(stateB.momentum, by: rotation) }
                if options.secondMomentCalibration { rotationB = transpose(rotation, order: r) }
            }
            stateB.basis = a.copy()
        }

        for (state, gradient, columnsAreVectors, rotation) in [
            (stateA, prepared.scaledGradientA, true, rotationA), (stateB, prepared.scaledGradientB, false, rotationB),
        ] {
            state.step += 1
            updateFirstMoment(state.momentum, gradient, gradientScale: gradientScale, beta1: beta1, workspace: workspace)
            if options.secondMomentCalibration {
                let moment = SecondMomentUpdate(gradient: gradient, beta2: beta2,
                                                weight: (1 - beta2) * gradientScale * gradientScale)
                if columnsAreVectors {
                    updateColumnMoments(state.secondMoment, moment, rotation: rotation, workspace: workspace)
                } else {
                    updateRowMoments(state.secondMoment, moment, rotation: rotation, workspace: workspace)
                }
            } else {
                updateElementwiseSecondMoment(state.secondMoment, gradient, gradientScale: gradientScale, beta2: beta2,
                                              workspace: workspace)
            }
        }
    }

    // MARK: changes of basis

    /// m <- R m (R r x r in Double, m r x n).
    private func rotateRows(_ m: Matrix, by rotation: [Double]) {
        let r = Matrix(rows: m.rows, columns: m.rows, elements: rotation.map(Float.init))
        let original = m.copy()
        Matrix.multiply(r, original, into: m)
    }

    /// m <- m R (m is m x r).
    private func rotateColumns(_ m: Matrix, by rotation: [Double]) {
        let r = Matrix(rows: m.columns, columns: m.columns, elements: rotation.map(Float.init))
        let original = m.copy()
        Matrix.multiply(original, r, into: m)
    }

    /// P <- b2 P + w g gᵀ for one packed matrix P, given the scaled gradient g.
    struct SecondMomentUpdate {
        let gradient: Matrix
        let beta2: Float
        /// (1 - b2) times the squared clipping coefficient.
        let weight: Float
    }

    /// Each column j of `packed` (T x n) holds P[j]: P[j] <- R P[j] Rᵀ (when `rotation` is
    /// given), then P[j] <- b2 P[j] + w g_j g_jᵀ (g_j = column j of the gradient), in column tiles.
    private func updateColumnMoments(_ packed: Matrix, _ update: SecondMomentUpdate, rotation: [Double]?,
                                     workspace: LoFTWorkspace) {
        let t = packed.rows, n = packed.columns, pairs = triangle.pairs
        let ps = packed.storage, gs = update.gradient.storage
        let (beta2, weight) = (update.beta2, update.weight)
        guard let rotation, triangle.order < LoFTTiling.stackedCongruenceFromRank else {
            if let rotation {
                StackedCongruence(triangle: triangle, q: rotation, count: n).apply(
                    count: n, read: { j, index in ps[index * n + j] }, write: { j, index, v in ps[index * n + j] = v })
            }
            workspace.forEachRange(count: t, minimumChunk: max(1, (1 << 15) / max(n, 1))) { range in
                for index in range {
                    let (a, b) = pairs[index]
                    for j in 0..<n {
                        ps[index * n + j] = beta2 * ps[index * n + j] + weight * (gs[a * n + j] * gs[b * n + j])
                    }
                }
            }
            return
        }
        let k = triangle.congruence(rotation)
        let width = LoFTTiling.columnTile(rows: t, columns: n, elements: workspace.tileElements)
        let (tile, _) = workspace.tiles(t * width)
        var start = 0
        while start < n {
            let w = min(width, n - start)
            gemm(transposeA: false, transposeB: false, m: t, n: w, k: t, alpha: 1,
                       k.baseAddress, lda: t, packed.baseAddress + start, ldb: n,
                       beta: 0, tile, ldc: w)
            workspace.forEachRange(count: t, minimumChunk: max(1, (1 << 15) / max(w, 1))) { range in
                for index in range {
                    let (a, b) = pairs[index]
                    for j in 0..<w {
                        let column = start + j
                        ps[index * n + column] = beta2 * tile[index * w + j] + weight * (gs[a * n + column] * gs[b * n + column])
                    }
                }
            }
            start += w
        }
    }

    /// Each row i of `packed` (m x T) holds P[i]: P[i] <- Q P[i] Qᵀ (when `rotation` Q is
    /// given), then P[i] <- b2 P[i] + w g_iᵀ g_i (g_i = row i of the gradient), in row tiles.
    private func updateRowMoments(_ packed: Matrix, _ update: SecondMomentUpdate, rotation: [Double]?,
                                  workspace: LoFTWorkspace) {
        let m = packed.rows, t = packed.columns, r = update.gradient.columns, pairs = triangle.pairs
        let ps = packed.storage, gs = update.gradient.storage
        let (beta2, weight) = (update.beta2, update.weight)
        // source(i) is where row i's packed matrix is read from: P itself, or the rotated tile.
        func accumulate(rows: Range<Int>, source: UnsafePointer<Float>, sourceRow: Int) {
            workspace.forEachRange(count: rows.count, minimumChunk: max(1, (1 << 15) / max(t, 1))) { range in
                for offset in range {
                    let i = rows.lowerBound + offset
                    let from = source + (sourceRow + offset) * t
                    for (index, (a, b)) in pairs.enumerated() {
                        ps[i * t + index] = beta2 * from[index] + weight * (gs[i * r + a] * gs[i * r + b])
                    }
                }
            }
        }
        guard let rotation, triangle.order < LoFTTiling.stackedCongruenceFromRank else {
            if let rotation {
                StackedCongruence(triangle: triangle, q: rotation, count: m).apply(
                    count: m, read: { i, index in ps[i * t + index] }, write: { i, index, v in ps[i * t + index] = v })
            }
            accumulate(rows: 0..<m, source: packed.baseAddress, sourceRow: 0)
            return
        }
        let k = triangle.congruence(rotation)
        let height = LoFTTiling.rowTile(rows: m, columns: t, elements: workspace.tileElements)
        let (tile, _) = workspace.tiles(height * t)
        var start = 0
        while start < m {
            let h = min(height, m - start)
            gemm(transposeA: false, transposeB: true, m: h, n: t, k: t, alpha: 1,
                       packed.baseAddress + start * t, lda: t, k.baseAddress, ldb: t,
                       beta: 0, tile, ldc: t)
            accumulate(rows: start..<(start + h), source: tile, sourceRow: 0)
            start += h
        }
    }

    // MARK: moments

    private func updateFirstMoment(_ m: Matrix, _ g: Matrix, gradientScale: Float, beta1: Float, workspace: LoFTWorkspace) {
        let ms = m.storage, gs = g.storage
        workspace.forEachRange(count: m.count, minimumChunk: 1 << 15) { range in
            for k in range { ms[k] = beta1 * ms[k] + (1 - beta1) * (gs[k] * gradientScale) }
        }
    }

    private func updateElementwiseSecondMoment(_ v: Matrix, _ g: Matrix, gradientScale: Float, beta2: Float,
                                               workspace: LoFTWorkspace) {
        let vs = v.storage, gs = g.storage
        workspace.forEachRange(count: v.count, minimumChunk: 1 << 15) { range in
            for k in range {
                let grad = gs[k] * gradientScale
                vs[k] = beta2 * vs[k] + (1 - beta2) * grad * grad
            }
        }
    }
}

/// Tile sizes for the full-size passes: about `elements` floats per tile buffer (the
/// workspace's tileElements), and 2^20 (4 MB) for the stacked changes of basis.
enum LoFTTiling {
    static let elementsPerTile = 1 << 20
    /// From this rank on, changes of basis run as stacked r x r products (StackedCongruence);
    /// below it, one product with the T x T congruence matrix.
    static let stackedCongruenceFromRank = 32

    static func columnTile(rows: Int, columns: Int, elements: Int = elementsPerTile) -> Int {
        max(1, min(columns, max(16, elements / max(rows, 1))))
    }

    static func rowTile(rows: Int, columns: Int, elements: Int = elementsPerTile) -> Int {
        max(1, min(rows, max(1, elements / max(columns, 1))))
    }
}

extension Matrix {
    /// No element is NaN or infinite.
    var isFinite: Bool {
        let s = storage
        for k in 0..<s.count where !s[k].isFinite { return false }
        return true
    }
}

func addingRidge(_ gram: [Double], _ ridge: Double, order: Int) -> [Double] {
    var result = gram
    for i in 0..<order { result[i * order + i] += ridge }
    return result
}

func transpose(_ x: [Double], order: Int) -> [Double] {
    var result = x
    for i in 0..<order { for j in 0..<order { result[j * order + i] = x[i * order + j] } }
    return result
}

/// Σ_j x_jᵀ S x_j over the columns x_j of x (r x n) when `columnsAreVectors`, else over its
/// rows (x m x r), in Double.
func quadraticFormSum(_ x: Matrix, _ s: [Double], columnsAreVectors: Bool) -> Double {
    let xs = x.doubleElements()
    if columnsAreVectors {
        let r = x.rows, n = x.columns
        let sx = BLAS.dgemm(s, rows: r, columns: r, xs, rows: r, columns: n)
        var total = 0.0
        for k in 0..<xs.count { total += xs[k] * sx[k] }
        return total
    } else {
        let m = x.rows, r = x.columns
        let xsT = BLAS.dgemm(xs, rows: m, columns: r, s, rows: r, columns: r)
        var total = 0.0
        for k in 0..<xs.count { total += xs[k] * xsT[k] }
        return total
    }
}
