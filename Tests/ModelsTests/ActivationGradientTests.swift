// GELU (tanh), ReLU and tanh against finite differences; GELU against its formula.

import Foundation
import Testing
@testable import Models

@Test(arguments: Activation.allCases)
func activationGradientsMatchFiniteDifferences(activation: Activation) {
    let count = 40
    let x = GradientCheck.random(count, seed: 41, scale: 2)
    // Keep ReLU's inputs away from the kink, where a central difference is meaningless.
    if activation == .relu { for i in 0..<count where abs(x[i]) < 0.05 { x[i] = 0.5 } }
    let upstream = GradientCheck.random(count, seed: 42)
    let y = FloatBuffer(count: count)
    func objective() -> Double {
        activation.forward(output: y.pointer, input: x.pointer, count: count)
        return GradientCheck.dot(upstream, y)
    }
    let dx = FloatBuffer(count: count)
    activation.backward(inputGradient: dx.pointer, outputGradient: upstream.pointer, input: x.pointer, count: count)
    #expect(GradientCheck.error(dx, GradientCheck.numeric(x, epsilon: 1e-3, objective)) < GradientCheck.tolerance)
}

@Test func geluIsTheTanhApproximation() {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), PyTorch gelu(approximate="tanh"), in Double.
    let inputs: [Float] = [-3, -1, -0.5, 0, 0.5, 1, 3]
    let y = FloatBuffer(count: inputs.count)
    let x = FloatBuffer(inputs)
    Activation.gelu.forward(output: y.pointer, input: x.pointer, count: inputs.count)
    withExtendedLifetime(x) {}
    for (i, v) in inputs.enumerated() {
        let x = Double(v)
        let expected = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        #expect(abs(Double(y[i]) - expected) < 1e-6)
    }
}
