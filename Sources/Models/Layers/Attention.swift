// Causal multi-head self-attention on a fused q|k|v projection (GPT-2's c_attn output).
//
// qkv is [B, T, 3C]: for token (b, t), q in columns 0..<C, k in C..<2C, v in 2C..<3C, each
// split into H heads of hs = C/H adjacent columns. Per (b, h):
//   P = softmax(mask(Q Kᵀ / sqrt(hs)))  [T, T]   out = P V  [T, hs] -> columns h·hs of [B, T, C]
// Products run through BLAS with leading dimensions that step over the fused layout, so no
// head is copied out. The scores product computes the masked upper triangle too: BLAS on
// the full square is still faster than a triangle by hand at these sizes. The (b, h) pairs
// are spread over the cores with BLAS single-threaded inside: a T x T x hs product is too
// small for OpenBLAS's own threads to pay off.

import CBLAS
import Dispatch
import Foundation

public enum Attention {
    /// out[B, T, C]; probabilities[B, H, T, T] are kept for backward (zero above the diagonal).
    public static func forward(
        output out: UnsafeMutablePointer<Float>, probabilities p: UnsafeMutablePointer<Float>,
        qkv: UnsafePointer<Float>, batch: Int, sequence: Int, channels: Int, heads: Int
    ) {
        let T = sequence, C = channels, hs = channels / heads
        precondition(hs * heads == channels, "Attention: \(channels) channels do not split into \(heads) heads")
        let scale = 1 / Float(hs).squareRoot()
        forEachHead(batch * heads) { bh in
            let b = bh / heads, h = bh % heads
            let q = qkv + b * T * 3 * C + h * hs
            let scores = p + bh * T * T
            gemm(transposeA: false, transposeB: true, m: T, n: T, k: hs, alpha: scale,
                 q, lda: 3 * C, q + C, ldb: 3 * C, beta: 0, scores, ldc: T)
            for i in 0..<T {
                let row = scores + i * T
                let inverse = 1 / exponentiateInPlace(row, count: i + 1, shift: maximum(row, count: i + 1))
                forEachVector(0..<(i + 1)) { j, lanes in storePartial(loadPartial(row + j, lanes) * inverse, row + j, lanes) }
                if i + 1 < T { (row + i + 1).update(repeating: 0, count: T - i - 1) }
            }
            gemm(transposeA: false, transposeB: false, m: T, n: hs, k: T,
                 scores, lda: T, q + 2 * C, ldb: 3 * C, beta: 0, out + b * T * C + h * hs, ldc: C)
        }
    }

    /// dqkv[B, T, 3C] (overwritten) from dout[B, T, C]. `scratch` holds B·H·T·T floats.
    ///   dP = dO Vᵀ, dV = Pᵀ dO, dS = P ∘ (dP - rowsum(P ∘ dP)) / sqrt(hs), dQ = dS K, dK = dSᵀ Q.
    public static func backward(
        qkvGradient dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        outputGradient dout: UnsafePointer<Float>, probabilities p: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, batch: Int, sequence: Int, channels: Int, heads: Int
    ) {
        let T = sequence, C = channels, hs = channels / heads
        let scale = 1 / Float(hs).squareRoot()
        forEachHead(batch * heads) { bh in
            let b = bh / heads, h = bh % heads
            let probabilities = p + bh * T * T, dS = scratch + bh * T * T
            let q = qkv + b * T * 3 * C + h * hs, dq = dqkv + b * T * 3 * C + h * hs
            let dO = dout + b * T * C + h * hs
            gemm(transposeA: false, transposeB: true, m: T, n: T, k: hs,
                 dO, lda: C, q + 2 * C, ldb: 3 * C, beta: 0, dS, ldc: T)
            gemm(transposeA: true, transposeB: false, m: T, n: hs, k: T,
                 probabilities, lda: T, dO, ldb: C, beta: 0, dq + 2 * C, ldc: 3 * C)
            for i in 0..<T {
                let pRow = probabilities + i * T, gRow = dS + i * T
                var dot: Float = 0
                for j in 0...i { dot += pRow[j] * gRow[j] }
                for j in 0...i { gRow[j] = pRow[j] * (gRow[j] - dot) * scale }
                if i + 1 < T { (gRow + i + 1).update(repeating: 0, count: T - i - 1) }
            }
            gemm(transposeA: false, transposeB: false, m: T, n: hs, k: T,
                 dS, lda: T, q + C, ldb: 3 * C, beta: 0, dq, ldc: 3 * C)
            gemm(transposeA: true, transposeB: false, m: T, n: hs, k: T,
                 dS, lda: T, q, ldb: 3 * C, beta: 0, dq + C, ldc: 3 * C)
        }
    }

    /// OpenBLAS's thread count at start-up, restored after each attention call (a fixed value,
    /// so two overlapping calls cannot leave BLAS single-threaded).
    private static let blasThreads = openblas_get_num_threads()

    /// body(bh) for every (batch, head) pair, concurrently, with OpenBLAS on one thread
    /// per call meanwhile.
    private static func forEachHead(_ count: Int, _ body: (Int) -> Void) {
        let threads = blasThreads
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(threads) }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: count) { body($0) }
        }
    }
}
