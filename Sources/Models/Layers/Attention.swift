// Causal multi-head self-attention on a fused q|k|v projection (GPT-2's c_attn output).
//
// qkv is [B, T, 3C]: for token (b, t), q in columns 0..<C, k in C..<2C, v in 2C..<3C, each
// split into H heads of hs = C/H adjacent columns. Per (b, h):
//   P = softmax(mask(Q Kᵀ / sqrt(hs)))  [T, T]   out = P V  [T, hs] -> columns h·hs of [B, T, C]
// Products run through BLAS with leading dimensions that step over the fused layout, so no
// head is copied out. The scores product computes the masked upper triangle too: BLAS on
// the full square is still faster than a triangle by hand at these sizes.

import Foundation
import TensorIO

public enum Attention {
    /// out[B, T, C]; probabilities[B, H, T, T] are kept for backward (zero above the diagonal).
    public static func forward(
        output out: UnsafeMutablePointer<Float>, probabilities p: UnsafeMutablePointer<Float>,
        qkv: UnsafePointer<Float>, batch: Int, sequence: Int, channels: Int, heads: Int
    ) {
        let T = sequence, C = channels, hs = channels / heads
        precondition(hs * heads == channels, "Attention: \(channels) channels do not split into \(heads) heads")
        let scale = 1 / Float(hs).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let q = qkv + b * T * 3 * C + h * hs
                gemm(transposeA: false, transposeB: true, m: T, n: T, k: hs, alpha: scale,
                     q, lda: 3 * C, q + C, ldb: 3 * C, beta: 0, p + (b * heads + h) * T * T, ldc: T)
            }
        }
        Parallel.forEachRange(count: batch * heads * T, minimumChunk: max(1, 16384 / max(T, 1))) { range in
            for rowIndex in range {
                let i = rowIndex % T
                let row = p + rowIndex * T
                let inverse = 1 / exponentiateInPlace(row, count: i + 1, shift: maximum(row, count: i + 1))
                forEachVector(0..<(i + 1)) { j, lanes in storePartial(loadPartial(row + j, lanes) * inverse, row + j, lanes) }
                if i + 1 < T { (row + i + 1).update(repeating: 0, count: T - i - 1) }
            }
        }
        for b in 0..<batch {
            for h in 0..<heads {
                let v = qkv + b * T * 3 * C + 2 * C + h * hs
                gemm(transposeA: false, transposeB: false, m: T, n: hs, k: T,
                     p + (b * heads + h) * T * T, lda: T, v, ldb: 3 * C, beta: 0, out + b * T * C + h * hs, ldc: C)
            }
        }
    }

    /// dqkv[B, T, 3C] (overwritten) from dout[B, T, C]. `scratch` holds B·H·T·T floats.
    ///   dP = dO Vᵀ, dV = Pᵀ dO, dS = P ∘ (dP - rowsum(P ∘ dP)) / sqrt(hs), dQ = dS K, dK = dSᵀ Q.
    public static func backward(
        qkvGradient dqkv: UnsafeMutablePointer<Float>, scratch dS: UnsafeMutablePointer<Float>,
        outputGradient dout: UnsafePointer<Float>, probabilities p: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, batch: Int, sequence: Int, channels: Int, heads: Int
    ) {
        let T = sequence, C = channels, hs = channels / heads
        let scale = 1 / Float(hs).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let bh = (b * heads + h) * T * T
                let v = qkv + b * T * 3 * C + 2 * C + h * hs
                let dO = dout + b * T * C + h * hs
                gemm(transposeA: false, transposeB: true, m: T, n: T, k: hs,
                     dO, lda: C, v, ldb: 3 * C, beta: 0, dS + bh, ldc: T)
                gemm(transposeA: true, transposeB: false, m: T, n: hs, k: T,
                     p + bh, lda: T, dO, ldb: C, beta: 0, dqkv + b * T * 3 * C + 2 * C + h * hs, ldc: 3 * C)
            }
        }
        Parallel.forEachRange(count: batch * heads * T, minimumChunk: max(1, 16384 / max(T, 1))) { range in
            for rowIndex in range {
                let i = rowIndex % T
                let probabilities = p + rowIndex * T, gradient = dS + rowIndex * T
                var dot: Float = 0
                for j in 0...i { dot += probabilities[j] * gradient[j] }
                for j in 0...i { gradient[j] = probabilities[j] * (gradient[j] - dot) * scale }
                if i + 1 < T { (gradient + i + 1).update(repeating: 0, count: T - i - 1) }
            }
        }
        for b in 0..<batch {
            for h in 0..<heads {
                let bh = (b * heads + h) * T * T
                let q = qkv + b * T * 3 * C + h * hs
                let dq = dqkv + b * T * 3 * C + h * hs
                gemm(transposeA: false, transposeB: false, m: T, n: hs, k: T,
                     dS + bh, lda: T, q + C, ldb: 3 * C, beta: 0, dq, ldc: 3 * C)
                gemm(transposeA: true, transposeB: false, m: T, n: hs, k: T,
                     dS + bh, lda: T, q, ldb: 3 * C, beta: 0, dq + C, ldc: 3 * C)
            }
        }
    }
}
