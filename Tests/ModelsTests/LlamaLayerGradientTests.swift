// LLaMA's layers (RMSNorm, rotary embeddings, SwiGLU, grouped-query attention) against
// central finite differences (GradientCheck: h = 1e-2, error relative to the largest numeric
// entry < 2e-3), and the properties their definitions promise.

import Foundation
import Testing
@testable import Models

@Test func rmsNormGradientsMatchFiniteDifferences() {
    let rows = 4, channels = 12
    let x = GradientCheck.random(rows * channels, seed: 61, scale: 2)
    let weight = GradientCheck.random(channels, seed: 62)
    let upstream = GradientCheck.random(rows * channels, seed: 63)
    let y = FloatBuffer(count: x.count), rstd = FloatBuffer(count: rows)
    func objective() -> Double {
        RMSNorm.forward(output: y.pointer, rstd: rstd.pointer, input: x.pointer, weight: weight.pointer,
                        rows: rows, channels: channels, epsilon: 1e-5)
        return GradientCheck.dot(upstream, y)
    }
    _ = objective()
    let dx = FloatBuffer(count: x.count), dw = FloatBuffer(count: channels)
    RMSNorm.backward(inputGradient: dx.pointer, weightGradient: dw.pointer, outputGradient: upstream.pointer,
                     input: x.pointer, weight: weight.pointer, rstd: rstd.pointer, rows: rows, channels: channels)
    #expect(GradientCheck.error(dx, GradientCheck.numeric(x, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(dw, GradientCheck.numeric(weight, objective)) < GradientCheck.tolerance)
}

@Test func rmsNormOutputHasUnitRootMeanSquare() {
    let rows = 3, channels = 20
    let x = GradientCheck.random(rows * channels, seed: 64, scale: 7)
    let ones = FloatBuffer([Float](repeating: 1, count: channels))
    let y = FloatBuffer(count: x.count), rstd = FloatBuffer(count: rows)
    RMSNorm.forward(output: y.pointer, rstd: rstd.pointer, input: x.pointer, weight: ones.pointer, rows: rows, channels: channels, epsilon: 0)
    for row in 0..<rows {
        let meanSquare = (0..<channels).reduce(0.0) { $0 + Double(y[row * channels + $1]) * Double(y[row * channels + $1]) } / Double(channels)
        #expect(abs(meanSquare - 1) < 1e-5)
    }
}

@Test func swigluGradientsMatchFiniteDifferences() {
    let count = 37
    let gate = GradientCheck.random(count, seed: 65, scale: 2), up = GradientCheck.random(count, seed: 66)
    let upstream = GradientCheck.random(count, seed: 67)
    let h = FloatBuffer(count: count)
    func objective() -> Double {
        SwiGLU.forward(output: h.pointer, gate: gate.pointer, up: up.pointer, count: count)
        return GradientCheck.dot(upstream, h)
    }
    _ = objective()
    let dGate = FloatBuffer(count: count), dUp = FloatBuffer(count: count)
    SwiGLU.backward(gateGradient: dGate.pointer, upGradient: dUp.pointer, outputGradient: upstream.pointer,
                    gate: gate.pointer, up: up.pointer, count: count)
    #expect(GradientCheck.error(dGate, GradientCheck.numeric(gate, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(dUp, GradientCheck.numeric(up, objective)) < GradientCheck.tolerance)
}

@Test func swigluIsSiluOfGateTimesUp() {
    let gate = FloatBuffer([-3, -0.5, 0, 0.5, 4]), up = FloatBuffer([2, 2, 2, 2, 2])
    let h = FloatBuffer(count: 5)
    SwiGLU.forward(output: h.pointer, gate: gate.pointer, up: up.pointer, count: 5)
    for i in 0..<5 {
        let g = Double(gate[i])
        #expect(abs(Double(h[i]) - 2 * g / (1 + Foundation.exp(-g))) < 1e-6)
    }
}

@Test func rotaryGradientsMatchFiniteDifferences() {
    let batch = 2, sequence = 5, heads = 3, d = 8
    let rotary = RotaryEmbedding(headDimension: d, scaling: .default(theta: 10000), positions: 16)
    let x = GradientCheck.random(batch * sequence * heads * d, seed: 68)
    let upstream = GradientCheck.random(x.count, seed: 69)
    let y = FloatBuffer(count: x.count)
    func objective() -> Double {
        y.pointer.update(from: x.pointer, count: x.count)
        rotary.forward(y.pointer, batch: batch, sequence: sequence, heads: heads)
        return GradientCheck.dot(upstream, y)
    }
    let dx = FloatBuffer(upstream.array)
    rotary.backward(dx.pointer, batch: batch, sequence: sequence, heads: heads)
    #expect(GradientCheck.error(dx, GradientCheck.numeric(x, objective)) < GradientCheck.tolerance)
}

/// What rotary embeddings are for: q·k after rotation depends on the positions only through
/// their difference.
@Test func rotaryDotProductsDependOnRelativePosition() {
    let d = 16
    let rotary = RotaryEmbedding(headDimension: d, scaling: .default(theta: 10000), positions: 32)
    let q = GradientCheck.random(d, seed: 70), k = GradientCheck.random(d, seed: 71)
    func rotatedDot(_ qPosition: Int, _ kPosition: Int) -> Double {
        // One sequence of 32 positions, one head: place q and k at their positions.
        let qs = FloatBuffer(count: 32 * d), ks = FloatBuffer(count: 32 * d)
        (qs.pointer + qPosition * d).update(from: q.pointer, count: d)
        (ks.pointer + kPosition * d).update(from: k.pointer, count: d)
        rotary.forward(qs.pointer, batch: 1, sequence: 32, heads: 1)
        rotary.forward(ks.pointer, batch: 1, sequence: 32, heads: 1)
        return (0..<d).reduce(0.0) { $0 + Double(qs[qPosition * d + $1]) * Double(ks[kPosition * d + $1]) }
    }
    #expect(abs(rotatedDot(7, 3) - rotatedDot(20, 16)) < 1e-4)
    #expect(abs(rotatedDot(7, 3) - rotatedDot(7, 4)) > 1e-3)
}

/// transformers' `_compute_llama3_parameters` by hand on the fixture's setting: wavelengths
/// below original/high_freq_factor kept, above original/low_freq_factor divided by factor,
/// between them interpolated.
@Test func llama3FrequenciesFollowTheThreeBands() {
    let d = 16
    let plain = RotaryEmbedding.inverseFrequencies(headDimension: d, scaling: .default(theta: 10000))
    let scaled = RotaryEmbedding.inverseFrequencies(
        headDimension: d, scaling: .llama3(theta: 10000, factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalPositions: 32))
    for i in 0..<(d / 2) {
        let frequency = Double(plain[i]), wavelength = 2 * Double.pi / frequency
        let expected: Double
        if wavelength < 8 { expected = frequency }
        else if wavelength > 32 { expected = frequency / 8 }
        else { let smooth = (32 / wavelength - 1) / 3; expected = (1 - smooth) * frequency / 8 + smooth * frequency }
        #expect(abs(Double(scaled[i]) - expected) <= 1e-6 * expected, "frequency \(i)")
        #expect(abs(Double(plain[i]) - 1 / Foundation.pow(10000, Double(2 * i) / Double(d))) < 1e-6 * Double(plain[i]))
    }
}

@Test(arguments: [(heads: 4, keyValueHeads: 2), (heads: 3, keyValueHeads: 3), (heads: 4, keyValueHeads: 1), (heads: 6, keyValueHeads: 3)])
func groupedQueryAttentionGradientsMatchFiniteDifferences(heads: Int, keyValueHeads: Int) {
    let batch = 2, sequence = 5, d = 4
    let q = GradientCheck.random(batch * sequence * heads * d, seed: 72)
    let k = GradientCheck.random(batch * sequence * keyValueHeads * d, seed: 73)
    let v = GradientCheck.random(k.count, seed: 74)
    let upstream = GradientCheck.random(q.count, seed: 75)
    let out = FloatBuffer(count: q.count)
    func objective() -> Double {
        GroupedQueryAttention.forward(output: out.pointer, query: q.pointer, key: k.pointer, value: v.pointer,
                                      batch: batch, sequence: sequence, heads: heads, keyValueHeads: keyValueHeads, headDimension: d)
        return GradientCheck.dot(upstream, out)
    }
    _ = objective()
    let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
    GroupedQueryAttention.backward(queryGradient: dq.pointer, keyGradient: dk.pointer, valueGradient: dv.pointer,
                                   outputGradient: upstream.pointer, query: q.pointer, key: k.pointer, value: v.pointer,
                                   batch: batch, sequence: sequence, heads: heads, keyValueHeads: keyValueHeads, headDimension: d)
    #expect(GradientCheck.error(dq, GradientCheck.numeric(q, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(dk, GradientCheck.numeric(k, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(dv, GradientCheck.numeric(v, objective)) < GradientCheck.tolerance)
}

/// With one key/value head per query head, grouped-query attention is the engine's GPT-2
/// multi-head attention on the same q, k, v.
@Test func groupedQueryAttentionWithoutGroupsIsMultiHeadAttention() {
    let batch = 1, sequence = 6, heads = 2, d = 4, C = heads * d
    let q = GradientCheck.random(sequence * C, seed: 76), k = GradientCheck.random(sequence * C, seed: 77)
    let v = GradientCheck.random(sequence * C, seed: 78)
    let qkv = FloatBuffer(count: sequence * 3 * C)
    for t in 0..<sequence {
        for j in 0..<C { qkv[t * 3 * C + j] = q[t * C + j]; qkv[t * 3 * C + C + j] = k[t * C + j]; qkv[t * 3 * C + 2 * C + j] = v[t * C + j] }
    }
    let expected = FloatBuffer(count: sequence * C), actual = FloatBuffer(count: sequence * C)
    let p = FloatBuffer(count: heads * sequence * sequence)
    Attention.forward(output: expected.pointer, probabilities: p.pointer, qkv: qkv.pointer, batch: batch, sequence: sequence, channels: C, heads: heads)
    GroupedQueryAttention.forward(output: actual.pointer, query: q.pointer, key: k.pointer, value: v.pointer,
                                  batch: batch, sequence: sequence, heads: heads, keyValueHeads: heads, headDimension: d)
    #expect(Fixtures.relativeError(actual.array, expected.array) < 1e-6)
}
