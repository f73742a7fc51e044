// The factor gradients against central finite differences of the loss computed in Double.
import Foundation

import Compute
import Testing
@testable import Experiments
@testable import LoFT

@Suite struct GradientCheckTests {
    /// Central difference of `loss` with respect to every element of `x` (Double elements).
    func numericalGradient(_ x: [Double], _ loss: ([Double]) -> Double, h: Double = 1e-6) -> [Double] {
        (0..<x.count).map { k in
            var plus = x, minus = x
            plus[k] += h
            minus[k] -= h
            return (loss(plus) - loss(minus)) / (2 * h)
        }
    }

    func product(_ x: [Double], _ xr: Int, _ xc: Int, _ y: [Double], _ yc: Int) -> [Double] {
        BLAS.dgemm(x, rows: xr, columns: xc, y, rows: xc, columns: yc)
    }

    func expectClose(_ analytic: Matrix, _ numeric: [Double], _ label: String) {
        let reference = numeric.map { $0 * $0 }.reduce(0, +).squareRoot()
        var error = 0.0
        for k in 0..<numeric.count { error += pow(Double(analytic.storage[k]) - numeric[k], 2) }
        let relative = error.squareRoot() / reference
        print("gradient check \(label): relative error \(relative)")
        #expect(relative < 1e-5)
    }

    @Test func factorizationLossGradients() {
        var g = SeededGenerator(seed: 5)
        let (m, n, r) = (7, 6, 3)
        let pair = LowRankPair(a: .normal(rows: r, columns: n, using: &g), b: .normal(rows: m, columns: r, using: &g))
        let target = Matrix.normal(rows: m, columns: n, using: &g)
        let (_, gA, gB) = FactorizationExperiment.lossAndGradients(pair: pair, target: target)
        let t = target.doubleElements(), a = pair.a.doubleElements(), b = pair.b.doubleElements()
        func loss(a: [Double], b: [Double]) -> Double {
            let w = product(b, m, r, a, n)
            return zip(w, t).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(m * n)
        }
        expectClose(gA, numericalGradient(a) { loss(a: $0, b: b) }, "factorization gA")
        expectClose(gB, numericalGradient(b) { loss(a: a, b: $0) }, "factorization gB")
    }

    @Test func linearLayerGradientsWithoutTheFullGradient() {
        // L = ½ ||X (W0 + s B A)ᵀ - Y||², so dY = X (W0 + s B A)ᵀ - Y.
        var g = SeededGenerator(seed: 6)
        let (tokens, m, n, r) = (5, 4, 6, 2)
        let scale: Float = 2
        let x = Matrix.normal(rows: tokens, columns: n, using: &g)
        let w0 = Matrix.normal(rows: m, columns: n, using: &g)
        let y = Matrix.normal(rows: tokens, columns: m, using: &g)
        let pair = LowRankPair(a: .normal(rows: r, columns: n, using: &g), b: .normal(rows: m, columns: r, using: &g))
        let w = w0.copy()
        w.add(pair.product(), scaledBy: scale)
        let dY = Matrix.product(x, w, transposeB: true)
        dY.add(y, scaledBy: -1)
        let (gA, gB) = LowRankGradients.linear(input: x, outputGradient: dY, pair: pair, scale: scale)

        let xs = x.doubleElements(), w0s = w0.doubleElements(), ys = y.doubleElements()
        let a = pair.a.doubleElements(), b = pair.b.doubleElements()
        func loss(a: [Double], b: [Double]) -> Double {
            let ba = product(b, m, r, a, n)
            let weight = zip(w0s, ba).map { $0 + Double(scale) * $1 }
            let out = BLAS.dgemm(xs, rows: tokens, columns: n, weight, rows: m, columns: n, transposeB: true)
            return 0.5 * zip(out, ys).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        }
        expectClose(gA, numericalGradient(a) { loss(a: $0, b: b) }, "linear gA")
        expectClose(gB, numericalGradient(b) { loss(a: a, b: $0) }, "linear gB")

        // And the same as going through the full gradient G = dYᵀ X.
        let full = LowRankGradients.fromFullGradient(Matrix.product(dY, transposeA: true, x), pair: pair, scale: scale)
        #expect(full.a.maxAbsoluteDifference(gA) < 1e-4)
        #expect(full.b.maxAbsoluteDifference(gB) < 1e-4)
    }
}
