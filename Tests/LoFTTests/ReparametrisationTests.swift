// Starting from (c A, B / c) instead of (A, B) gives the same B A trajectory under LoFT
// (spec property 2), which is why LoFT needs no alpha. LoRA-AdamW's trajectory changes.

import Compute
import Testing
@testable import LoFT

@Suite struct ReparametrisationTests {
    func trajectories(_ method: LowRankMethod, c: Float) throws -> (plain: [Matrix], rescaled: [Matrix]) {
        var generator = SeededGenerator(seed: 11)
        let (m, n, r) = (12, 10, 3)
        let a = Matrix.normal(rows: r, columns: n, scale: 0.5, using: &generator)
        let b = Matrix.normal(rows: m, columns: r, scale: 0.5, using: &generator)
        let problem = QuadraticProblem(target: Matrix.normal(rows: m, columns: n, using: &generator))
        let h = AdamWHyperparameters(beta1: 0.9, beta2: 0.999, eps: 1e-4)
        let plain = try trajectory(LowRankPair(a: a.copy(), b: b.copy()), Optimizer(method: method, hyperparameters: h),
                                   problem, steps: 30, learningRate: 0.01)
        let scaledA = a.copy(), scaledB = b.copy()
        scaledA.scale(by: c)
        scaledB.scale(by: 1 / c)
        let rescaled = try trajectory(LowRankPair(a: scaledA, b: scaledB), Optimizer(method: method, hyperparameters: h),
                                      problem, steps: 30, learningRate: 0.01)
        return (plain, rescaled)
    }

    @Test func loftIsInvariant() throws {
        let (plain, rescaled) = try trajectories(.loft, c: 4)
        let difference = worstRelativeDifference(rescaled, plain)
        print("reparametrisation (c = 4), LoFT: worst relative difference of B A \(difference)")
        #expect(difference < 1e-4)
    }

    @Test func loraAdamWIsNot() throws {
        let (plain, rescaled) = try trajectories(.loraAdamW, c: 4)
        let difference = worstRelativeDifference(rescaled, plain)
        print("reparametrisation (c = 4), LoRA-AdamW: worst relative difference of B A \(difference)")
        #expect(difference > 1e-2)
    }
}
