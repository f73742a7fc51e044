// LayerNorm against finite differences, and its forward against the definition.

import Testing
@testable import Models

@Test func layerNormGradientsMatchFiniteDifferences() {
    let rows = 4, channels = 9
    let x = GradientCheck.random(rows * channels, seed: 31, scale: 2)
    let weight = GradientCheck.random(channels, seed: 32), bias = GradientCheck.random(channels, seed: 33)
    let upstream = GradientCheck.random(rows * channels, seed: 34)
    let y = FloatBuffer(count: x.count), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
    func objective() -> Double {
        LayerNorm.forward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                          weight: weight.pointer, bias: bias.pointer, rows: rows, channels: channels, epsilon: 1e-5)
        return GradientCheck.dot(upstream, y)
    }
    _ = objective()
    let dx = FloatBuffer(count: x.count), dw = FloatBuffer(count: channels), db = FloatBuffer(count: channels)
    LayerNorm.backward(inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                       outputGradient: upstream.pointer, input: x.pointer, weight: weight.pointer,
                       mean: mean.pointer, rstd: rstd.pointer, rows: rows, channels: channels)
    #expect(GradientCheck.error(dx, GradientCheck.numeric(x, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(dw, GradientCheck.numeric(weight, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(db, GradientCheck.numeric(bias, objective)) < GradientCheck.tolerance)
}

@Test func layerNormOutputHasZeroMeanAndUnitVarianceBeforeTheAffine() {
    let rows = 3, channels = 16
    let x = GradientCheck.random(rows * channels, seed: 35, scale: 5)
    let ones = FloatBuffer([Float](repeating: 1, count: channels)), zeros = FloatBuffer(count: channels)
    let y = FloatBuffer(count: x.count), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
    LayerNorm.forward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                      weight: ones.pointer, bias: zeros.pointer, rows: rows, channels: channels, epsilon: 0)
    for row in 0..<rows {
        let values = (0..<channels).map { Double(y[row * channels + $0]) }
        let m = values.reduce(0, +) / Double(channels)
        let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(channels)
        #expect(abs(m) < 1e-5)
        #expect(abs(variance - 1) < 1e-4)
    }
}
