// Linear (out x in) and Conv1D (in x out) projections, with and without the low-rank branch,
// against finite differences.

import Testing
@testable import Models

private let rows = 5, inFeatures = 7, outFeatures = 6, rank = 3

@Test(arguments: [WeightLayout.outIn, .inOut])
func projectionGradientsMatchFiniteDifferences(layout: WeightLayout) {
    let x = GradientCheck.random(rows * inFeatures, seed: 1)
    let w = GradientCheck.random(inFeatures * outFeatures, seed: 2, scale: 0.5)
    let bias = GradientCheck.random(outFeatures, seed: 3)
    let upstream = GradientCheck.random(rows * outFeatures, seed: 4)
    let y = FloatBuffer(count: rows * outFeatures)
    func objective() -> Double {
        Linear.forward(output: y.pointer, input: x.pointer, weight: w.pointer, bias: bias.pointer,
                       rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
        return GradientCheck.dot(upstream, y)
    }
    let dx = FloatBuffer(count: x.count), dw = FloatBuffer(count: w.count), db = FloatBuffer(count: bias.count)
    Linear.backward(inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                    outputGradient: upstream.pointer, input: x.pointer, weight: w.pointer,
                    rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
    #expect(GradientCheck.error(dx, GradientCheck.numeric(x, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(dw, GradientCheck.numeric(w, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(db, GradientCheck.numeric(bias, objective)) < GradientCheck.tolerance)
}

@Test(arguments: [WeightLayout.outIn, .inOut])
func lowRankFactorGradientsMatchFiniteDifferences(layout: WeightLayout) {
    let x = GradientCheck.random(rows * inFeatures, seed: 11)
    let w = GradientCheck.random(inFeatures * outFeatures, seed: 12, scale: 0.5)
    let weight = Parameter(name: "m.weight", shape: layout == .outIn ? [outFeatures, inFeatures] : [inFeatures, outFeatures], value: w)
    let projection = Projection(name: "m", weight: weight, bias: nil, layout: layout)
    let pair = LowRankAdapter(name: "m", inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, scale: 1.5,
                           a: GradientCheck.random(rank * inFeatures, seed: 13), b: GradientCheck.random(outFeatures * rank, seed: 14))
    projection.adapter = pair
    let upstream = GradientCheck.random(rows * outFeatures, seed: 15)
    let y = FloatBuffer(count: rows * outFeatures), hidden = FloatBuffer(count: rows * rank)
    func objective() -> Double {
        projection.forward(output: y.pointer, input: x.pointer, adapterHidden: hidden.pointer, rows: rows)
        return GradientCheck.dot(upstream, y)
    }
    _ = objective()
    let dx = FloatBuffer(count: x.count), scratch = FloatBuffer(count: rows * rank)
    projection.backward(inputGradient: dx.pointer, outputGradient: upstream.pointer, input: x.pointer,
                        adapterHidden: hidden.pointer, adapterScratch: scratch.pointer, rows: rows)
    #expect(weight.gradient == nil, "a frozen weight gets no gradient buffer")
    #expect(GradientCheck.error(dx, GradientCheck.numeric(x, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(pair.gradientA, GradientCheck.numeric(pair.a, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(pair.gradientB, GradientCheck.numeric(pair.b, objective)) < GradientCheck.tolerance)
}

@Test func lowRankFactorGradientsAreTheProjectedFullGradient() {
    // gA = scale Bᵀ G and gB = scale G Aᵀ, with G = dYᵀ X the full (out x in) weight gradient.
    let x = GradientCheck.random(rows * inFeatures, seed: 21), dy = GradientCheck.random(rows * outFeatures, seed: 22)
    let a = GradientCheck.random(rank * inFeatures, seed: 23), b = GradientCheck.random(outFeatures * rank, seed: 24)
    let scale: Float = 0.5
    let hidden = FloatBuffer(count: rows * rank), y = FloatBuffer(count: rows * outFeatures)
    LowRank.forward(output: y.pointer, hidden: hidden.pointer, input: x.pointer, a: a.pointer, b: b.pointer, scale: scale,
                    rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, rank: rank)
    let gA = FloatBuffer(count: a.count), gB = FloatBuffer(count: b.count), scratch = FloatBuffer(count: rows * rank)
    LowRank.backward(inputGradient: nil, gradientA: gA.pointer, gradientB: gB.pointer, hiddenGradient: scratch.pointer,
                     outputGradient: dy.pointer, input: x.pointer, hidden: hidden.pointer, a: a.pointer, b: b.pointer,
                     scale: scale, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, rank: rank)
    var g = [[Double]](repeating: [Double](repeating: 0, count: inFeatures), count: outFeatures)
    for o in 0..<outFeatures { for i in 0..<inFeatures { for t in 0..<rows {
        g[o][i] += Double(dy[t * outFeatures + o]) * Double(x[t * inFeatures + i]) } } }
    for r in 0..<rank { for i in 0..<inFeatures {
        let expected = Double(scale) * (0..<outFeatures).reduce(0.0) { $0 + Double(b[$1 * rank + r]) * g[$1][i] }
        #expect(abs(Double(gA[r * inFeatures + i]) - expected) < 1e-4 * max(1, abs(expected)))
    } }
    for o in 0..<outFeatures { for r in 0..<rank {
        let expected = Double(scale) * (0..<inFeatures).reduce(0.0) { $0 + g[o][$1] * Double(a[r * inFeatures + $1]) }
        #expect(abs(Double(gB[o * rank + r]) - expected) < 1e-4 * max(1, abs(expected)))
    } }
}
