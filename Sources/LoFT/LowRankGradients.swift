// The factor gradients of dW = B A, from the full gradient or, for a Linear layer, from the
// layer's input and output gradient without forming the m x n G.
//
// G = dL/dW (m x n): gA = Bᵀ G (r x n), gB = G Aᵀ (m x r).
// Linear layer Y = X Wᵀ (X tokens x n, Y tokens x m), dY = dL/dY: G = dYᵀ X, so
// gA = Bᵀ dYᵀ X = (dY B)ᵀ X and gB = dYᵀ X Aᵀ = dYᵀ (X Aᵀ).

import Compute

public enum LowRankGradients {
    /// (gA, gB) from the full gradient G (m x n), scaled by `scale` (e.g. PEFT's alpha / r).
    public static func fromFullGradient(_ g: Matrix, pair: LowRankPair, scale: Float = 1) -> (a: Matrix, b: Matrix) {
        precondition(g.rows == pair.outputSize && g.columns == pair.inputSize, "gradient is \(g.shape), pair is \(pair.outputSize) x \(pair.inputSize)")
        let gA = Matrix(rows: pair.rank, columns: pair.inputSize)
        let gB = Matrix(rows: pair.outputSize, columns: pair.rank)
        Matrix.multiply(pair.b, transposeA: true, g, into: gA, alpha: scale)
        Matrix.multiply(g, pair.a, transposeB: true, into: gB, alpha: scale)
        return (gA, gB)
    }

    /// (gA, gB) for a Linear layer Y = X (W0 + scale B A)ᵀ, from its input X (tokens x n) and
    /// output gradient dY (tokens x m). Cost O(tokens (m + n) r); no m x n matrix.
    public static func linear(input x: Matrix, outputGradient dY: Matrix, pair: LowRankPair, scale: Float = 1) -> (a: Matrix, b: Matrix) {
        precondition(x.columns == pair.inputSize && dY.columns == pair.outputSize && x.rows == dY.rows,
                     "input \(x.shape), output gradient \(dY.shape), pair \(pair.outputSize) x \(pair.inputSize)")
        let dYB = Matrix.product(dY, pair.b)                    // tokens x r
        let xAt = Matrix.product(x, pair.a, transposeB: true)   // tokens x r
        let gA = Matrix(rows: pair.rank, columns: pair.inputSize)
        let gB = Matrix(rows: pair.outputSize, columns: pair.rank)
        Matrix.multiply(dYB, transposeA: true, x, into: gA, alpha: scale)
        Matrix.multiply(dY, transposeA: true, xAt, into: gB, alpha: scale)
        return (gA, gB)
    }
}
