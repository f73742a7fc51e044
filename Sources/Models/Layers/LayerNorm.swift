// Layer normalisation over the last axis (PyTorch nn.LayerNorm: biased variance, eps inside
// the square root). Forward keeps the per-row mean and 1/std for backward.

import Compute
import TensorIO

public enum LayerNorm {
    /// y = (x - mean) · rstd · w + b per row of `channels`.
    public static func forward(
        output y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        input x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, channels: Int, epsilon: Float
    ) {
        Parallel.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(channels, 1))) { range in
            for row in range {
                let input = x + row * channels, out = y + row * channels
                var sum: Float = 0
                for j in 0..<channels { sum += input[j] }
                let m = sum / Float(channels)
                var variance: Float = 0
                for j in 0..<channels { let d = input[j] - m; variance += d * d }
                let s = 1 / (variance / Float(channels) + epsilon).squareRoot()
                for j in 0..<channels { out[j] = (input[j] - m) * s * weight[j] + bias[j] }
                mean[row] = m
                rstd[row] = s
            }
        }
    }

    /// dx += rstd · (dn - mean(dn) - n · mean(dn · n)) with n the normalised input and
    /// dn = dy · w (accumulated: in a residual network dx is the residual stream's gradient);
    /// dw += Σ dy · n, db += Σ dy when given.
    public static func backward(
        inputGradient dx: UnsafeMutablePointer<Float>, weightGradient dw: UnsafeMutablePointer<Float>?,
        biasGradient db: UnsafeMutablePointer<Float>?,
        outputGradient dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, channels: Int
    ) {
        Parallel.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(channels, 1))) { range in
            for row in range {
                let input = x + row * channels, gradOut = dy + row * channels, gradIn = dx + row * channels
                let m = mean[row], s = rstd[row]
                var meanDn: Float = 0, meanDnN: Float = 0
                for j in 0..<channels {
                    let n = (input[j] - m) * s
                    let dn = gradOut[j] * weight[j]
                    meanDn += dn
                    meanDnN += dn * n
                }
                meanDn /= Float(channels)
                meanDnN /= Float(channels)
                for j in 0..<channels {
                    let n = (input[j] - m) * s
                    gradIn[j] += s * (gradOut[j] * weight[j] - meanDn - n * meanDnN)
                }
            }
        }
        guard dw != nil || db != nil else { return }
        // Parameter gradients are sums over rows: split by columns so no entry is shared.
        Parallel.forEachRange(count: channels, minimumChunk: max(32, (1 << 15) / max(rows, 1))) { range in
            for row in 0..<rows {
                let input = x + row * channels, gradOut = dy + row * channels
                let m = mean[row], s = rstd[row]
                if let dw { for j in range { dw[j] += gradOut[j] * (input[j] - m) * s } }
                if let db { for j in range { db[j] += gradOut[j] } }
            }
        }
    }
}
