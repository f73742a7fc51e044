// A LoFT step never ends a run (issue 10, defect 3): rebalancing keeps the product, the
// second-moment floor is Adam's own bound, and the cases a step cannot take are reported as
// events instead of thrown.

import Compute
import Testing
@testable import LoFT

@Suite struct RobustStepTests {
    @Test func rebalancingKeepsTheProductAndEqualisesTheGrams() throws {
        var g = SeededGenerator(seed: 7)
        // A badly split pair: B large, A small, one direction nearly lost in each.
        let b = Matrix.normal(rows: 9, columns: 4, scale: 30, using: &g)
        let a = Matrix.normal(rows: 4, columns: 7, scale: 0.01, using: &g)
        let pair = LowRankPair(a: a, b: b)
        let before = BLAS.dgemm(b.doubleElements(), rows: 9, columns: 4, a.doubleElements(), rows: 4, columns: 7)
        let state = LoFTPairState(pair: pair, options: .full)
        #expect(state.rebalance())
        let after = BLAS.dgemm(b.doubleElements(), rows: 9, columns: 4, a.doubleElements(), rows: 4, columns: 7)
        let scale = before.map(abs).max()!
        for k in 0..<before.count { #expect(abs(after[k] - before[k]) < 1e-5 * scale) }
        let gramB = b.gramOfColumns(), gramA = a.gramOfRows()
        let diagonal = (0..<4).map { gramB[$0 * 4 + $0] }.max()!
        for k in 0..<16 { #expect(abs(gramB[k] - gramA[k]) < 1e-4 * diagonal) }
    }

    @Test func rebalancingLeavesARankDeficientPairAlone() {
        let pair = LowRankPair(a: Matrix(rows: 2, columns: 5, elements: (0..<10).map(Float.init)),
                               b: Matrix(rows: 6, columns: 2))  // B = 0, as at the start of fine-tuning
        let state = LoFTPairState(pair: pair, options: .full)
        #expect(!state.rebalance())
        #expect(pair.a.storage[3] == 3)
    }

    @Test func floorIsAdamsBound() {
        // After one step m = (1-b1) g and v = (1-b2) g²: v = κ m² exactly.
        #expect(abs(secondMomentFloor(step: 1, beta1: 0.9, beta2: 0.999) - 0.001 / 0.01) < 1e-4)  // betas are float32
        #expect(secondMomentFloor(step: 5, beta1: 0, beta2: 0) == 1)
        #expect(secondMomentFloor(step: 5, beta1: 0.9, beta2: 0) == 0)
        // Any gradient sequence: v >= κ m² after every step.
        var g = SeededGenerator(seed: 3)
        var m = 0.0, v = 0.0
        for t in 1...300 {
            let grad = g.nextNormal() * (t % 7 == 0 ? 100 : 1)
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            #expect(v >= secondMomentFloor(step: t, beta1: 0.9, beta2: 0.999) * m * m * (1 - 1e-9))
        }
    }

    @Test func nonFiniteGradientIsAnEventNotAnError() throws {
        var g = SeededGenerator(seed: 5)
        let pair = LowRankPair(a: .normal(rows: 3, columns: 6, using: &g), b: .normal(rows: 5, columns: 3, using: &g))
        let (a0, b0) = (pair.a.copy(), pair.b.copy())
        let optimizer = Optimizer(method: .loft)
        try optimizer.register(pair: "p", pair)
        let gA = Matrix.normal(rows: 3, columns: 6, using: &g)
        gA.storage[4] = .nan
        let report = try optimizer.step(gradients: ["p": .pair(a: gA, b: .normal(rows: 5, columns: 3, using: &g))], learningRate: 0.1)
        #expect(report.events == [.skippedStep(name: "p", reason: "gradient not finite", reset: false)])
        #expect(optimizer.eventCount == 1)
        #expect(Array(pair.a.storage) == Array(a0.storage))
        #expect(Array(pair.b.storage) == Array(b0.storage))
        // The next, finite step goes ahead.
        let next = try optimizer.step(gradients: ["p": .pair(a: .normal(rows: 3, columns: 6, using: &g), b: .normal(rows: 5, columns: 3, using: &g))],
                                      learningRate: 0.1)
        #expect(next.events.isEmpty)
        let finite = pair.a.isFinite && pair.b.isFinite
        #expect(finite)
    }

    @Test func hugeRankDeficientFactorsStayFinite() throws {
        // Entries of 1e6 and a rank-1 B: Bᵀ B ~ 1e13 and singular but for the 1e-6 ridge.
        let b = Matrix(rows: 4, columns: 2, elements: [1e6, 1e6, 2e6, 2e6, -1e6, -1e6, 3e6, 3e6])
        let a = Matrix(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6])
        let pair = LowRankPair(a: a, b: b)
        let optimizer = Optimizer(method: .loft)
        try optimizer.register(pair: "p", pair)
        var reports: [OptimizerStepReport] = []
        for _ in 0..<3 {
            reports.append(try optimizer.step(gradients: ["p": .pair(a: Matrix(rows: 2, columns: 3, elements: [1, 0, 1, 0, 1, 0]),
                                                                     b: Matrix(rows: 4, columns: 2, elements: [1, 0, 0, 1, 1, 0, 0, 1]))],
                                              learningRate: 0.01))
        }
        let finite = pair.a.isFinite && pair.b.isFinite
        #expect(finite)
        print("huge factors: events \(reports.flatMap(\.events))")
    }
}
