// Token + position embeddings against finite differences (with a repeated token).

import Testing
@testable import Models

@Test func embeddingGradientsMatchFiniteDifferences() {
    let batch = 2, sequence = 3, channels = 4, vocabulary = 5
    let tokens: [Int32] = [1, 4, 1, 0, 1, 3]
    let wte = GradientCheck.random(vocabulary * channels, seed: 51), wpe = GradientCheck.random(sequence * channels, seed: 52)
    let upstream = GradientCheck.random(batch * sequence * channels, seed: 53)
    let x = FloatBuffer(count: upstream.count)
    func objective() -> Double {
        tokens.withUnsafeBufferPointer {
            Embedding.forward(output: x.pointer, tokens: $0.baseAddress!, tokenTable: wte.pointer, positionTable: wpe.pointer,
                              batch: batch, sequence: sequence, channels: channels)
        }
        return GradientCheck.dot(upstream, x)
    }
    let dwte = FloatBuffer(count: wte.count), dwpe = FloatBuffer(count: wpe.count)
    tokens.withUnsafeBufferPointer {
        Embedding.backward(tokenTableGradient: dwte.pointer, positionTableGradient: dwpe.pointer,
                           outputGradient: upstream.pointer, tokens: $0.baseAddress!, batch: batch, sequence: sequence, channels: channels)
    }
    #expect(GradientCheck.error(dwte, GradientCheck.numeric(wte, objective)) < GradientCheck.tolerance)
    #expect(GradientCheck.error(dwpe, GradientCheck.numeric(wpe, objective)) < GradientCheck.tolerance)
}
