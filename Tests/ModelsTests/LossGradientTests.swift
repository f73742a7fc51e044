// Cross-entropy (with ignored rows) and mean squared error against finite differences and
// against their definitions.

import Foundation
import Testing
@testable import Models

@Test func crossEntropyGradientMatchesFiniteDifferences() {
    let rows = 4, classes = 6
    let logits = GradientCheck.random(rows * classes, seed: 71, scale: 2)
    let targets: [Int32] = [2, CrossEntropy.ignoreIndex, 0, 5]
    func objective() -> Double {
        targets.withUnsafeBufferPointer { Double(CrossEntropy.forward(logits: logits.pointer, targets: $0.baseAddress!, rows: rows, classes: classes).loss) }
    }
    let numeric = GradientCheck.numeric(logits, epsilon: 1e-2, objective)
    let gradient = FloatBuffer(logits.array)
    targets.withUnsafeBufferPointer {
        CrossEntropy.backward(logitsToGradient: gradient.pointer, targets: $0.baseAddress!, rows: rows, classes: classes, count: 3)
    }
    #expect(GradientCheck.error(gradient, numeric) < GradientCheck.tolerance)
    for j in 0..<classes { #expect(gradient[classes + j] == 0, "an ignored row has no gradient") }
}

@Test func crossEntropyIsTheMeanNegativeLogSoftmaxOverCountedRows() {
    let logits: [Float] = [1, 2, 3, 0, 0, 0, -1, 5, 2]
    let targets: [Int32] = [2, CrossEntropy.ignoreIndex, 1]
    let (loss, count) = logits.withUnsafeBufferPointer { z in
        targets.withUnsafeBufferPointer { CrossEntropy.forward(logits: z.baseAddress!, targets: $0.baseAddress!, rows: 3, classes: 3) }
    }
    let row0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3
    let row2 = log(exp(-1.0) + exp(5.0) + exp(2.0)) - 5
    #expect(count == 2)
    #expect(abs(Double(loss) - (row0 + row2) / 2) < 1e-6)
}

@Test func meanSquaredErrorGradientMatchesFiniteDifferences() {
    let count = 12
    let prediction = GradientCheck.random(count, seed: 72), target = GradientCheck.random(count, seed: 73)
    func objective() -> Double { Double(MeanSquaredError.forward(prediction: prediction.pointer, target: target.pointer, count: count)) }
    let numeric = GradientCheck.numeric(prediction, objective)
    let gradient = FloatBuffer(count: count)
    MeanSquaredError.backward(inputGradient: gradient.pointer, prediction: prediction.pointer, target: target.pointer, count: count)
    #expect(GradientCheck.error(gradient, numeric) < GradientCheck.tolerance)
}
