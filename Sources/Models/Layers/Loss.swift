// Losses at the top of a model: softmax cross-entropy over class logits and mean squared
// error, both as PyTorch's defaults define them (mean over the counted items).

import Compute
import Foundation
import TensorIO

public enum CrossEntropy {
    /// The label that contributes nothing (PyTorch's default ignore_index).
    public static let ignoreIndex: Int32 = -100

    /// Mean over rows whose target is not `ignoreIndex` of logsumexp(z) - z[target];
    /// returns (loss, counted rows). Accumulated in Double: 50k-class rows in float32 lose
    /// digits the finite-difference checks can see.
    public static func forward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, classes: Int) -> (loss: Float, count: Int) {
        let (total, count) = sum(logits: logits, targets: targets, rows: rows, classes: classes)
        return (count == 0 ? 0 : Float(total / Double(count)), count)
    }

    /// The sum (not the mean) of the counted rows' losses, in Double, and their number: what
    /// a caller adding up row blocks needs to form the mean of the whole.
    public static func sum(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, classes: Int) -> (sum: Double, count: Int) {
        let losses = FloatBuffer(count: rows)
        let lossPointer = losses.pointer
        Parallel.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(classes, 1))) { range in
            for row in range {
                let target = targets[row]
                if target == ignoreIndex { lossPointer[row] = 0; continue }
                precondition(target >= 0 && Int(target) < classes, "CrossEntropy: target \(target) out of 0..<\(classes)")
                let z = logits + row * classes
                let m = maximum(z, count: classes)
                let sum = sumOfExponentials(z, count: classes, shift: m)
                lossPointer[row] = Float(Double(m) + Foundation.log(sum) - Double(z[Int(target)]))
            }
        }
        var total: Double = 0
        var count = 0
        for row in 0..<rows where targets[row] != ignoreIndex { total += Double(lossPointer[row]); count += 1 }
        return (total, count)
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
                let sum = exponentiateInPlace(logits, count: classes, shift: maximum(logits, count: classes))
                let factor = inverseCount / sum
                forEachVector(0..<classes) { i, lanes in storePartial(loadPartial(logits + i, lanes) * factor, logits + i, lanes) }
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

/// Σ exp(z[j] - shift) in Double from eight float partial sums per block of 1024: the
/// loss is compared with PyTorch's to 1e-6 relative, over 50k-class rows.
private func sumOfExponentials(_ z: UnsafePointer<Float>, count: Int, shift: Float) -> Double {
    var total: Double = 0
    var start = 0
    while start < count {
        let end = min(count, start + 1024)
        var sums = Float8()
        forEachVector(start..<end) { i, lanes in
            var e = exp8(loadPartial(z + i, lanes, padding: -Float.infinity) - shift)
            if lanes < 8 { for lane in lanes..<8 { e[lane] = 0 } }
            sums += e
        }
        total += Double(sums.sum())
        start = end
    }
    return total
}
