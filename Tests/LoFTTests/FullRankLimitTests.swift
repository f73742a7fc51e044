// With r = m = n and B invertible, the projections are the identity, so LoFT's B A must move
// exactly as AdamW moves W (spec property 1). LoRA-AdamW does not.

import LinearAlgebra
import Testing
@testable import LoFT

@Suite struct FullRankLimitTests {
    static let order = 8

    /// Well-conditioned invertible factors (identity plus small noise) and a target near
    /// B A, so W stays far from singular matrices along the way (where A = B⁻¹ W would be
    /// singular and A Aᵀ unsolvable in any precision).
    func startingPair(seed: UInt64) -> (pair: LowRankPair, problem: QuadraticProblem) {
        var generator = SeededGenerator(seed: seed)
        let b = Matrix.normal(rows: Self.order, columns: Self.order, scale: 0.1, using: &generator)
        b.add(Matrix.identity(Self.order))
        let a = Matrix.normal(rows: Self.order, columns: Self.order, scale: 0.1, using: &generator)
        a.add(Matrix.identity(Self.order))
        let target = Matrix.normal(rows: Self.order, columns: Self.order, scale: 0.1, using: &generator)
        target.add(Matrix.product(b, a))
        return (LowRankPair(a: a, b: b), QuadraticProblem(target: target))
    }

    func compare(beta1: Float, beta2: Float) throws -> (loft: Double, lora: Double) {
        let h = AdamWHyperparameters(beta1: beta1, beta2: beta2, eps: 1e-4)
        let (pair, problem) = startingPair(seed: 7)
        let w0 = pair.product()
        let reference = try adamWTrajectory(w0, h, problem, steps: 50, learningRate: 0.01)
        let loftPair = LowRankPair(a: pair.a.copy(), b: pair.b.copy())
        let loft = try trajectory(loftPair, Optimizer(method: .loft, hyperparameters: h), problem, steps: 50, learningRate: 0.01)
        let loraPair = LowRankPair(a: pair.a.copy(), b: pair.b.copy())
        let lora = try trajectory(loraPair, Optimizer(method: .loraAdamW, hyperparameters: h), problem, steps: 50, learningRate: 0.01)
        // Compare the updates W - W0, the part the optimizers are responsible for.
        func updates(_ t: [Matrix]) -> [Matrix] { t.map { w in let d = w.copy(); d.add(w0, scaledBy: -1); return d } }
        return (worstRelativeDifference(updates(loft), updates(reference)),
                worstRelativeDifference(updates(lora), updates(reference)))
    }

    @Test func tracksAdamWWithoutMomentum() throws {
        let (loft, lora) = try compare(beta1: 0, beta2: 0)
        print("full-rank limit, betas (0, 0): LoFT \(loft), LoRA-AdamW \(lora)")
        #expect(loft < 1e-4)
        #expect(lora > 0.1)
    }

    @Test func tracksAdamWWithMomentum() throws {
        let (loft, lora) = try compare(beta1: 0.9, beta2: 0.999)
        print("full-rank limit, betas (0.9, 0.999): LoFT \(loft), LoRA-AdamW \(lora)")
        #expect(loft < 1e-4)
        #expect(lora > 0.1)
    }
}
