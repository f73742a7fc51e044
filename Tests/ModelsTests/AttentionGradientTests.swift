// Causal multi-head self-attention against finite differences, and causality itself.

import Testing
@testable import Models

private let batch = 2, sequence = 5, channels = 8, heads = 2

private func attend(_ qkv: FloatBuffer, _ out: FloatBuffer, _ probabilities: FloatBuffer) {
    Attention.forward(output: out.pointer, probabilities: probabilities.pointer, qkv: qkv.pointer,
                      batch: batch, sequence: sequence, channels: channels, heads: heads)
}

@Test func attentionGradientsMatchFiniteDifferences() {
    let qkv = GradientCheck.random(batch * sequence * 3 * channels, seed: 61)
    let upstream = GradientCheck.random(batch * sequence * channels, seed: 62)
    let out = FloatBuffer(count: upstream.count), probabilities = FloatBuffer(count: batch * heads * sequence * sequence)
    func objective() -> Double { attend(qkv, out, probabilities); return GradientCheck.dot(upstream, out) }
    _ = objective()
    let dqkv = FloatBuffer(count: qkv.count), scratch = FloatBuffer(count: probabilities.count)
    Attention.backward(qkvGradient: dqkv.pointer, scratch: scratch.pointer, outputGradient: upstream.pointer,
                       probabilities: probabilities.pointer, qkv: qkv.pointer,
                       batch: batch, sequence: sequence, channels: channels, heads: heads)
    #expect(GradientCheck.error(dqkv, GradientCheck.numeric(qkv, objective)) < GradientCheck.tolerance)
}

@Test func attentionOutputIgnoresLaterTokens() {
    let qkv = GradientCheck.random(batch * sequence * 3 * channels, seed: 63)
    let out = FloatBuffer(count: batch * sequence * channels), probabilities = FloatBuffer(count: batch * heads * sequence * sequence)
    attend(qkv, out, probabilities)
    let before = out.array
    // Change everything of the last token of each sequence: earlier outputs must not move.
    for b in 0..<batch { for j in 0..<(3 * channels) { qkv[(b * sequence + sequence - 1) * 3 * channels + j] += 1 } }
    attend(qkv, out, probabilities)
    for b in 0..<batch { for t in 0..<(sequence - 1) { for j in 0..<channels {
        let i = (b * sequence + t) * channels + j
        #expect(out[i] == before[i])
    } } }
}

@Test func recomputingAttentionEqualsTheStoredForm() {
    let qkv = GradientCheck.random(batch * sequence * 3 * channels, seed: 64)
    let upstream = GradientCheck.random(batch * sequence * channels, seed: 65)
    let stored = FloatBuffer(count: upstream.count), light = FloatBuffer(count: upstream.count)
    let probabilities = FloatBuffer(count: batch * heads * sequence * sequence)
    attend(qkv, stored, probabilities)
    Attention.forward(output: light.pointer, qkv: qkv.pointer, batch: batch, sequence: sequence, channels: channels, heads: heads)
    #expect(light.array == stored.array)
    let dStored = FloatBuffer(count: qkv.count), dLight = FloatBuffer(count: qkv.count), scratch = FloatBuffer(count: probabilities.count)
    Attention.backward(qkvGradient: dStored.pointer, scratch: scratch.pointer, outputGradient: upstream.pointer,
                       probabilities: probabilities.pointer, qkv: qkv.pointer, batch: batch, sequence: sequence, channels: channels, heads: heads)
    Attention.backward(qkvGradient: dLight.pointer, outputGradient: upstream.pointer, qkv: qkv.pointer,
                       batch: batch, sequence: sequence, channels: channels, heads: heads)
    #expect(dLight.array == dStored.array, "same operations in the same order")
}
