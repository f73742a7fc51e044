// With r = m = n and B invertible, the projections are the identity, so LoFT's B A must move
// exactly as AdamW moves W (spec property 1). LoRA-AdamW does not.

import Compute
import Testing
@testable import LoFT

@Suite struct FullRankLimitTests {
    /// Well-conditioned invertible factors (identity plus small noise) and a target near
    /// B A, so W stays far from singular matrices along the way (where A = B⁻¹ W would be
    /// singular and A Aᵀ unsolvable in any precision).
    /// Noise shrinks with the order so the spectral norm of the perturbation stays near 0.3.
    func startingPair(order: Int, seed: UInt64) -> (pair: LowRankPair, problem: QuadraticProblem) {
        var generator = SeededGenerator(seed: seed)
        let noise = 0.1 * (8 / Float(order)).squareRoot()
        let b = Matrix.normal(rows: order, columns: order, scale: noise, using: &generator)
        b.add(Matrix.identity(order))
        let a = Matrix.normal(rows: order, columns: order, scale: noise, using: &generator)
        a.add(Matrix.identity(order))
        let target = Matrix.normal(rows: order, columns: order, scale: noise, using: &generator)
        target.add(Matrix.product(b, a))
        return (LowRankPair(a: a, b: b), QuadraticProblem(target: target))
    }

    func compare(order: Int, beta1: Float, beta2: Float) throws -> (loft: Double, lora: Double) {
        let h = AdamWHyperparameters(beta1: beta1, beta2: beta2, eps: 1e-4)
        let (pair, problem) = startingPair(order: order, seed: 7)
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

    /// Reached in float32 (worst relative difference of W - W0 over 50 steps): about 2e-5 at
    /// order 8, 2e-4 at order 32 (rounding in the reconstruction grows with r).
    func tolerance(_ order: Int) -> Double { order <= 8 ? 1e-4 : 1e-3 }

    /// Order 8 changes bases through the T x T congruence matrix, order 32 through stacked
    /// r x r products (StackedCongruence).
    @Test(arguments: [8, 32]) func tracksAdamWWithoutMomentum(order: Int) throws {
        let (loft, lora) = try compare(order: order, beta1: 0, beta2: 0)
        print("full-rank limit r = m = n = \(order), betas (0, 0): LoFT \(loft), LoRA-AdamW \(lora)")
        #expect(loft < tolerance(order))
        #expect(lora > 0.1)
    }

    @Test(arguments: [8, 32]) func tracksAdamWWithMomentum(order: Int) throws {
        let (loft, lora) = try compare(order: order, beta1: 0.9, beta2: 0.999)
        print("full-rank limit r = m = n = \(order), betas (0.9, 0.999): LoFT \(loft), LoRA-AdamW \(lora)")
        #expect(loft < tolerance(order))
        #expect(lora > 0.1)
    }

    /// PEFT's initialisation (B = 0): the first step moves B alone and equals AdamW's first
    /// step on W = B A (= 0). (Later steps are not AdamW's: with B = 0 the first gradient has
    /// no component in B's column space, so A's state starts one gradient short. The
    /// full-rank guarantee needs an invertible B.)
    @Test func firstStepFromZeroBIsAdamW() throws {
        let order = 8
        var generator = SeededGenerator(seed: 3)
        let a = Matrix.normal(rows: order, columns: order, scale: 0.1, using: &generator)
        a.add(Matrix.identity(order))
        let problem = QuadraticProblem(target: Matrix.normal(rows: order, columns: order, using: &generator))
        let h = AdamWHyperparameters(beta1: 0.9, beta2: 0.999, eps: 1e-4)
        let pair = LowRankPair(a: a, b: Matrix(rows: order, columns: order))
        let loft = try trajectory(pair, Optimizer(method: .loft, hyperparameters: h), problem, steps: 20, learningRate: 0.01)
        let reference = try adamWTrajectory(Matrix(rows: order, columns: order), h, problem, steps: 1, learningRate: 0.01)
        let difference = loft[0].relativeDifference(to: reference[0])
        print("full-rank, first step from B = 0: LoFT vs AdamW \(difference)")
        #expect(difference < 1e-4)
        let loss = { (w: Matrix) in problem.gradient(at: w).squaredNorm() }
        #expect(loss(loft[19]) < 0.8 * loss(loft[0]))
    }
}
