// LoFT-aware global-norm clipping: the norm is over the projected full gradients of the
// factors that move this step (B g~A or g~B A) and the raw dense gradients; every raw
// gradient is then multiplied by min(1, max_norm / (norm + 1e-6)).

import Compute
import Testing
@testable import LoFT

@Suite struct ClippingTests {
    let m = 6, n = 5, r = 2

    func setUp(seed: UInt64) -> (pair: LowRankPair, bias: Matrix, gA: Matrix, gB: Matrix, gBias: Matrix) {
        var g = SeededGenerator(seed: seed)
        let pair = LowRankPair(a: .normal(rows: r, columns: n, using: &g), b: .normal(rows: m, columns: r, using: &g))
        let bias = Matrix.normal(rows: 1, columns: m, using: &g)
        return (pair, bias, .normal(rows: r, columns: n, using: &g), .normal(rows: m, columns: r, using: &g),
                .normal(rows: 1, columns: m, using: &g))
    }

    /// ||P||_F² of the projected full gradient, formed explicitly in Double from the definition.
    func projectedSquaredNorm(pair: LowRankPair, gA: Matrix, gB: Matrix, movesA: Bool) -> Double {
        let a = pair.a.doubleElements(), b = pair.b.doubleElements()
        let full: [Double]
        if movesA {
            // B (BᵀB + 1e-6 I)⁻¹ gA
            var gram = BLAS.dgemm(b, rows: m, columns: r, transposeA: true, b, rows: m, columns: r)
            for i in 0..<r { gram[i * r + i] += 1e-6 }
            let scaled = try! CholeskyFactorization(gram, order: r).solve(leftHandOf: gA.doubleElements(), columns: n)
            full = BLAS.dgemm(b, rows: m, columns: r, scaled, rows: r, columns: n)
        } else {
            // gB (A Aᵀ + 1e-8 I)⁻¹ A
            var gram = BLAS.dgemm(a, rows: r, columns: n, a, rows: r, columns: n, transposeB: true)
            for i in 0..<r { gram[i * r + i] += 1e-8 }
            let scaled = try! CholeskyFactorization(gram, order: r).solve(rightHandOf: gB.doubleElements(), rows: m)
            full = BLAS.dgemm(scaled, rows: m, columns: r, a, rows: r, columns: n)
        }
        return full.map { $0 * $0 }.reduce(0, +)
    }

    @Test(arguments: [0, 1]) func normIsOverTheMovingFactorsProjectedGradient(step: Int) throws {
        let (pair, bias, gA, gB, gBias) = setUp(seed: 21)
        let optimizer = Optimizer(method: .loft, hyperparameters: .loftDefaults, maxGradientNorm: 1e-3)
        try optimizer.register(pair: "p", pair)
        try optimizer.register(dense: "bias", bias)
        if step == 1 {
            try optimizer.step(gradients: ["p": .pair(a: gA, b: gB), "bias": .dense(gBias)], learningRate: 0)
        }
        let expected = (projectedSquaredNorm(pair: pair, gA: gA, gB: gB, movesA: step == 1) + gBias.squaredNorm()).squareRoot()
        let report = try optimizer.step(gradients: ["p": .pair(a: gA, b: gB), "bias": .dense(gBias)], learningRate: 0.01)
        #expect(abs(report.gradientNorm - expected) < 1e-5 * expected)
        #expect(abs(Double(report.clipCoefficient) - 1e-3 / (expected + 1e-6)) < 1e-6)
    }

    @Test func clippingEqualsScalingTheRawGradients() throws {
        let first = setUp(seed: 22), second = setUp(seed: 22)
        let clipped = Optimizer(method: .loft, hyperparameters: .loftDefaults, maxGradientNorm: 0.5)
        try clipped.register(pair: "p", first.pair)
        try clipped.register(dense: "bias", first.bias)
        let plain = Optimizer(method: .loft, hyperparameters: .loftDefaults)
        try plain.register(pair: "p", second.pair)
        try plain.register(dense: "bias", second.bias)
        for _ in 0..<3 {
            let report = try clipped.step(gradients: ["p": .pair(a: first.gA, b: first.gB), "bias": .dense(first.gBias)], learningRate: 0.01)
            #expect(report.clipCoefficient < 1)
            let c = report.clipCoefficient
            let (gA, gB, gBias) = (second.gA.copy(), second.gB.copy(), second.gBias.copy())
            gA.scale(by: c); gB.scale(by: c); gBias.scale(by: c)
            try plain.step(gradients: ["p": .pair(a: gA, b: gB), "bias": .dense(gBias)], learningRate: 0.01)
        }
        #expect(first.pair.product().relativeDifference(to: second.pair.product()) < 1e-5)
        #expect(first.bias.maxAbsoluteDifference(second.bias) < 1e-6)
    }

    @Test func smallGradientsAreNotClipped() throws {
        let (pair, bias, gA, gB, gBias) = setUp(seed: 23)
        let optimizer = Optimizer(method: .loft, hyperparameters: .loftDefaults, maxGradientNorm: 1e6)
        try optimizer.register(pair: "p", pair)
        try optimizer.register(dense: "bias", bias)
        let report = try optimizer.step(gradients: ["p": .pair(a: gA, b: gB), "bias": .dense(gBias)], learningRate: 0.01)
        #expect(report.clipCoefficient == 1)
    }

    @Test func missingOrMisshapedGradientsAreErrors() throws {
        let (pair, bias, gA, gB, gBias) = setUp(seed: 24)
        let optimizer = Optimizer(method: .loft)
        try optimizer.register(pair: "p", pair)
        try optimizer.register(dense: "bias", bias)
        #expect(throws: OptimizerError.missingGradient(name: "bias")) {
            try optimizer.step(gradients: ["p": .pair(a: gA, b: gB)], learningRate: 0.01)
        }
        #expect(throws: OptimizerError.shapeMismatch(name: "p.A", expected: [r, n], got: [m, r])) {
            try optimizer.step(gradients: ["p": .pair(a: gB, b: gB), "bias": .dense(gBias)], learningRate: 0.01)
        }
        #expect(throws: OptimizerError.duplicateParameter(name: "p")) { try optimizer.register(dense: "p", bias) }
    }
}
