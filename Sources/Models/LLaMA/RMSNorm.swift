// Root-mean-square normalisation over the last axis (LlamaRMSNorm): y = w · x / sqrt(mean(x²) + eps),
// no mean subtracted, no bias. Forward keeps 1/rms per row for backward. Gemma scales by
// (1 + w) instead (weightOffset 1): its stored weights are centred on 0; dw is the same.

import Compute
import TensorIO

public enum RMSNorm {
    /// y = w · x · rstd per row of `channels`; rstd[row] = 1 / sqrt(mean(x²) + eps).
    public static func forward(
        output y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        input x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, channels: Int, epsilon: Float,
        weightOffset: Float = 0
    ) {
        Parallel.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(channels, 1))) { range in
            for row in range {
                let input = x + row * channels, out = y + row * channels
                var squares = Float8()
                forEachVector(0..<channels) { j, lanes in let v = loadPartial(input + j, lanes); squares += v * v }
                let s = 1 / (squares.sum() / Float(channels) + epsilon).squareRoot()
                forEachVector(0..<channels) { j, lanes in
                    storePartial(loadPartial(input + j, lanes) * s * (loadPartial(weight + j, lanes) + weightOffset), out + j, lanes)
                }
                rstd[row] = s
            }
        }
    }

    /// With n = x · rstd and dn = dy · w:  dx += rstd · (dn - n · mean(dn · n)) (accumulated:
    /// dx is the residual stream's gradient);  dw += Σ_rows dy · n when given.
    public static func backward(
        inputGradient dx: UnsafeMutablePointer<Float>, weightGradient dw: UnsafeMutablePointer<Float>?,
        outputGradient dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, rows: Int, channels: Int, weightOffset: Float = 0
    ) {
        Parallel.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(channels, 1))) { range in
            for row in range {
                let input = x + row * channels, gradOut = dy + row * channels, gradIn = dx + row * channels
                let s = rstd[row]
                var dots = Float8()
                forEachVector(0..<channels) { j, lanes in
                    dots += loadPartial(gradOut + j, lanes) * (loadPartial(weight + j, lanes) + weightOffset) * loadPartial(input + j, lanes)
                }
                // mean(dn · n) · s = s² · mean(dy · w · x)
                let correction = dots.sum() * s * s / Float(channels)
                forEachVector(0..<channels) { j, lanes in
                    let xv = loadPartial(input + j, lanes)
                    let dn = loadPartial(gradOut + j, lanes) * (loadPartial(weight + j, lanes) + weightOffset)
                    storePartial(loadPartial(gradIn + j, lanes) + s * (dn - xv * correction), gradIn + j, lanes)
                }
            }
        }
        guard let dw else { return }
        // A sum over rows: split by columns so no entry is shared between threads.
        Parallel.forEachRange(count: channels, minimumChunk: max(32, (1 << 15) / max(rows, 1))) { range in
            for row in 0..<rows {
                let input = x + row * channels, gradOut = dy + row * channels
                let s = rstd[row]
                for j in range { dw[j] += gradOut[j] * input[j] * s }
            }
        }
    }
}
