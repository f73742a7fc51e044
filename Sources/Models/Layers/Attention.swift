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
//
// Two forms: one keeps P ([B, H, T, T]) for backward; the other keeps nothing and backward
// recomputes P from q and k (one more T x T x hs product per head, about 2% of a GPT-2 step,
// for 150 MB less at the 124M shape with B 4, T 256). GPT2Model uses the second.

import Compute
import CBLAS
import Dispatch
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
        forEachAttentionUnit(batch * heads, scratchPerWorker: 0) { bh, _ in
            let b = bh / heads, h = bh % heads
            let q = qkv + b * T * 3 * C + h * hs
            probabilities(into: p + bh * T * T, q: q, sequence: T, channels: C, headSize: hs)
            gemm(transposeA: false, transposeB: false, m: T, n: hs, k: T,
                 p + bh * T * T, lda: T, q + 2 * C, ldb: 3 * C, beta: 0, out + b * T * C + h * hs, ldc: C)
        }
    }

    /// dqkv[B, T, 3C] (overwritten) from dout[B, T, C]. `scratch` holds B·H·T·T floats.
    ///   dP = dO Vᵀ, dV = Pᵀ dO, dS = P ∘ (dP - rowsum(P ∘ dP)) / sqrt(hs), dQ = dS K, dK = dSᵀ Q.
    public static func backward(
        qkvGradient dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        outputGradient dout: UnsafePointer<Float>, probabilities p: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, batch: Int, sequence: Int, channels: Int, heads: Int
    ) {
        let T = sequence
        forEachAttentionUnit(batch * heads, scratchPerWorker: 0) { bh, _ in
            headBackward(bh, dqkv: dqkv, dS: scratch + bh * T * T, dout: dout, p: p + bh * T * T, qkv: qkv,
                         sequence: T, channels: channels, heads: heads)
        }
    }

    /// out[B, T, C], keeping nothing but the input for backward.
    public static func forward(
        output out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, batch: Int, sequence: Int, channels: Int, heads: Int
    ) {
        let T = sequence, C = channels, hs = channels / heads
        precondition(hs * heads == channels, "Attention: \(channels) channels do not split into \(heads) heads")
        forEachAttentionUnit(batch * heads, scratchPerWorker: T * T) { bh, p in
            let b = bh / heads, h = bh % heads
            let q = qkv + b * T * 3 * C + h * hs
            probabilities(into: p, q: q, sequence: T, channels: C, headSize: hs)
            gemm(transposeA: false, transposeB: false, m: T, n: hs, k: T,
                 p, lda: T, q + 2 * C, ldb: 3 * C, beta: 0, out + b * T * C + h * hs, ldc: C)
        }
    }

    /// dqkv[B, T, 3C] (overwritten) from dout[B, T, C], recomputing each head's P.
    public static func backward(
        qkvGradient dqkv: UnsafeMutablePointer<Float>, outputGradient dout: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, batch: Int, sequence: Int, channels: Int, heads: Int
    ) {
        let T = sequence, C = channels, hs = channels / heads
        forEachAttentionUnit(batch * heads, scratchPerWorker: 2 * T * T) { bh, scratch in
            let b = bh / heads, h = bh % heads
            probabilities(into: scratch, q: qkv + b * T * 3 * C + h * hs, sequence: T, channels: C, headSize: hs)
            headBackward(bh, dqkv: dqkv, dS: scratch + T * T, dout: dout, p: scratch, qkv: qkv,
                         sequence: T, channels: channels, heads: heads)
        }
    }

    /// P = softmax(mask(Q Kᵀ / sqrt(hs))) of one head into p [T, T], zero above the diagonal
    /// (k sits C columns after q in the fused rows).
    private static func probabilities(into p: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                                      sequence T: Int, channels C: Int, headSize hs: Int) {
        GroupedQueryAttention.probabilities(into: p, q: q, k: q + C, sequence: T, queryWidth: 3 * C, keyWidth: 3 * C, headDimension: hs)
    }

    /// One head's backward given its P; dS is T x T scratch.
    private static func headBackward(
        _ bh: Int, dqkv: UnsafeMutablePointer<Float>, dS: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
        p: UnsafePointer<Float>, qkv: UnsafePointer<Float>, sequence T: Int, channels C: Int, heads: Int
    ) {
        let hs = C / heads, b = bh / heads, h = bh % heads
        let scale = 1 / Float(hs).squareRoot()
        let q = qkv + b * T * 3 * C + h * hs, dq = dqkv + b * T * 3 * C + h * hs
        let dO = dout + b * T * C + h * hs
        gemm(transposeA: false, transposeB: true, m: T, n: T, k: hs,
             dO, lda: C, q + 2 * C, ldb: 3 * C, beta: 0, dS, ldc: T)
        gemm(transposeA: true, transposeB: false, m: T, n: hs, k: T,
             p, lda: T, dO, ldb: C, beta: 0, dq + 2 * C, ldc: 3 * C)
        for i in 0..<T {
            let pRow = p + i * T, gRow = dS + i * T
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
