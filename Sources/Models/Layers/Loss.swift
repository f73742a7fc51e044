// Losses at the top of a model: softmax cross-entropy over class logits and mean squared
// error, both as PyTorch's defaults define them (mean over the counted items).

import Foundation
import TensorIO

public enum CrossEntropy {
    /// The label that contributes nothing (PyTorch's default ignore_index).
    public static let ignoreIndex: Int32 = -100

    /// Mean over rows whose target is not `ignoreIndex` of logsumexp(z) - z[target];
    /// returns (loss, counted rows). Accumulated in Double: 50k-class rows in float32 lose
    /// digits the finite-difference checks can see.
    public static func forward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, classes: Int) -> (loss: Float, count: Int) {
        let losses = FloatBuffer(count: rows)
        let lossPointer = losses.pointer
        Parallel.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(classes, 1))) { range in
            for row in range {
                let target = targets[row]
                if target == ignoreIndex { lossPointer[row] = 0; continue }
                precondition(target >= 0 && Int(target) < classes, "CrossEntropy: target \(target) out of 0..<\(classes)")
                let z = logits + row * classes
                var maximum = -Float.infinity
                for j in 0..<classes { maximum = max(maximum, z[j]) }
                var sum: Double = 0
                for j in 0..<classes { sum += Double(expf(z[j] - maximum)) }
                lossPointer[row] = Float(Double(maximum) + Foundation.log(sum) - Double(z[Int(target)]))
            }
        }
        var total: Double = 0
        var count = 0
        for row in 0..<rows where targets[row] != ignoreIndex { total += Double(lossPointer[row]); count += 1 }
        return (count == 0 ? 0 : Float(total / Double(count)), count)
    }

    /// Overwrites the logits with d(mean loss)/d(logits) = (softmax - onehot) / count, zero on
    /// ignored rows: the largest activation of a language model is not held twice.
    public static func backward(logitsToGradient z: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, classes: Int, count: Int) {
        let inverseCount = count == 0 ? 0 : 1 / Float(count)
        Parallel.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(classes, 1))) { range in
            for row in range {
                let logits = z + row * classes
                let target = targets[row]
                if target == ignoreIndex { logits.update(repeating: 0, count: classes); continue }
                var maximum = -Float.infinity
                for j in 0..<classes { maximum = max(maximum, logits[j]) }
                var sum: Float = 0
                for j in 0..<classes { let e = expf(logits[j] - maximum); logits[j] = e; sum += e }
                let factor = inverseCount / sum
                for j in 0..<classes { logits[j] *= factor }
                logits[Int(target)] -= inverseCount
            }
        }
    }
}

public enum MeanSquaredError {
    /// mean over all `count` elements of (prediction - target)².
    public static func forward(prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int) -> Float {
        var total: Double = 0
        for i in 0..<count { let d = Double(prediction[i] - target[i]); total += d * d }
        return count == 0 ? 0 : Float(total / Double(count))
    }

    /// d/dprediction = 2 (prediction - target) / count, overwritten.
    public static func backward(
        inputGradient dx: UnsafeMutablePointer<Float>, prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int
    ) {
        let factor = 2 / Float(max(count, 1))
        for i in 0..<count { dx[i] = factor * (prediction[i] - target[i]) }
    }
}
