// Small problems shared by the LoFT tests.

import Compute
@_exported import TestSupport
@testable import LoFT

/// The quadratic loss L(W) = ½ ||W - T||², whose gradient is G = W - T: simple, and it
/// changes every step, so moments and calibration matter.
struct QuadraticProblem {
    let target: Matrix

    func gradient(at w: Matrix) -> Matrix {
        let g = w.copy()
        g.add(target, scaledBy: -1)
        return g
    }

    /// (gA, gB) = (Bᵀ G, G Aᵀ) at W = B A.
    func factorGradients(_ pair: LowRankPair) -> (a: Matrix, b: Matrix) {
        let g = gradient(at: pair.product())
        return (Matrix.product(pair.b, transposeA: true, g), Matrix.product(g, pair.a, transposeB: true))
    }
}

/// Runs `steps` steps of `optimizer` on one pair named "p"; returns B A after each step.
func trajectory(_ pair: LowRankPair, _ optimizer: Optimizer, _ problem: QuadraticProblem, steps: Int, learningRate: Float) throws -> [Matrix] {
    try optimizer.register(pair: "p", pair)
    var products: [Matrix] = []
    for _ in 0..<steps {
        let (gA, gB) = problem.factorGradients(pair)
        try optimizer.step(gradients: ["p": .pair(a: gA, b: gB)], learningRate: learningRate)
        products.append(pair.product())
    }
    return products
}

/// AdamW on W directly, from `w0`; W after each step.
func adamWTrajectory(_ w0: Matrix, _ hyperparameters: AdamWHyperparameters, _ problem: QuadraticProblem, steps: Int, learningRate: Float) throws -> [Matrix] {
    let w = w0.copy()
    let optimizer = Optimizer(method: .loraAdamW, hyperparameters: hyperparameters)
    try optimizer.register(dense: "W", w)
    var result: [Matrix] = []
    for _ in 0..<steps {
        try optimizer.step(gradients: ["W": .dense(problem.gradient(at: w))], learningRate: learningRate)
        result.append(w.copy())
    }
    return result
}

/// Largest relative Frobenius difference between two trajectories.
func worstRelativeDifference(_ x: [Matrix], _ y: [Matrix]) -> Double {
    zip(x, y).map { $0.relativeDifference(to: $1) }.max() ?? 0
}
