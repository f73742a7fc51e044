// Causal self-attention with grouped key/value heads (LLaMA's num_key_value_heads): H query
// heads share KV key/value heads, query head h reading key/value head h / (H / KV). With
// KV = H it is ordinary multi-head attention.
//
// q is [B, T, H·d], k and v [B, T, KV·d] (the separate q_proj, k_proj, v_proj outputs, after
// rotary embeddings). Per (b, h), with g = h / (H / KV):
//   P = softmax(mask(Q_h K_gᵀ / sqrt(d)))  [T, T]    out_h = P V_g  -> columns h·d of [B, T, H·d]
// Products go through BLAS with leading dimensions that step over the interleaved heads, so
// no head is copied out. Backward sums the gradients of a shared K_g / V_g over its group.

import TensorIO

public enum GroupedQueryAttention {
    /// out[B, T, H·d]; probabilities[B, H, T, T] kept for backward (zero above the diagonal).
    public static func forward(
        output out: UnsafeMutablePointer<Float>, probabilities p: UnsafeMutablePointer<Float>,
        query q: UnsafePointer<Float>, key k: UnsafePointer<Float>, value v: UnsafePointer<Float>,
        batch: Int, sequence: Int, heads: Int, keyValueHeads: Int, headDimension d: Int
    ) {
        let T = sequence, QW = heads * d, KW = keyValueHeads * d, group = heads / keyValueHeads
        let scale = 1 / Float(d).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let g = h / group
                gemm(transposeA: false, transposeB: true, m: T, n: T, k: d, alpha: scale,
                     q + b * T * QW + h * d, lda: QW, k + b * T * KW + g * d, ldb: KW,
                     beta: 0, p + (b * heads + h) * T * T, ldc: T)
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
                let g = h / group
                gemm(transposeA: false, transposeB: false, m: T, n: d, k: T,
                     p + (b * heads + h) * T * T, lda: T, v + b * T * KW + g * d, ldb: KW,
                     beta: 0, out + b * T * QW + h * d, ldc: QW)
            }
        }
    }

    /// dq [B, T, H·d], dk and dv [B, T, KV·d], all overwritten, from dout [B, T, H·d].
    /// `scratch` holds B·H·T·T floats.
    ///   dP = dO V_gᵀ, dV_g += Pᵀ dO, dS = P ∘ (dP - rowsum(P ∘ dP)) / sqrt(d), dQ = dS K_g, dK_g += dSᵀ Q.
    public static func backward(
        queryGradient dq: UnsafeMutablePointer<Float>, keyGradient dk: UnsafeMutablePointer<Float>,
        valueGradient dv: UnsafeMutablePointer<Float>, scratch dS: UnsafeMutablePointer<Float>,
        outputGradient dout: UnsafePointer<Float>, probabilities p: UnsafePointer<Float>,
        query q: UnsafePointer<Float>, key k: UnsafePointer<Float>, value v: UnsafePointer<Float>,
        batch: Int, sequence: Int, heads: Int, keyValueHeads: Int, headDimension d: Int
    ) {
        let T = sequence, QW = heads * d, KW = keyValueHeads * d, group = heads / keyValueHeads
        let scale = 1 / Float(d).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let g = h / group, bh = (b * heads + h) * T * T
                let dO = dout + b * T * QW + h * d
                gemm(transposeA: false, transposeB: true, m: T, n: T, k: d,
                     dO, lda: QW, v + b * T * KW + g * d, ldb: KW, beta: 0, dS + bh, ldc: T)
                // The first head of a group writes dV_g, the others add to it.
                gemm(transposeA: true, transposeB: false, m: T, n: d, k: T,
                     p + bh, lda: T, dO, ldb: QW, beta: h % group == 0 ? 0 : 1, dv + b * T * KW + g * d, ldc: KW)
            }
        }
        Parallel.forEachRange(count: batch * heads * T, minimumChunk: max(1, 16384 / max(T, 1))) { range in
            for rowIndex in range {
                let i = rowIndex % T
                let probabilities = p + rowIndex * T, gradient = dS + rowIndex * T
                var dots = Float8()
                forEachVector(0..<(i + 1)) { j, lanes in dots += loadPartial(probabilities + j, lanes) * loadPartial(gradient + j, lanes) }
                let dot = dots.sum()
                forEachVector(0..<(i + 1)) { j, lanes in
                    let value = loadPartial(probabilities + j, lanes) * (loadPartial(gradient + j, lanes) - dot) * scale
                    storePartial(value, gradient + j, lanes)
                }
                if i + 1 < T { (gradient + i + 1).update(repeating: 0, count: T - i - 1) }
            }
        }
        for b in 0..<batch {
            for h in 0..<heads {
                let g = h / group, bh = (b * heads + h) * T * T
                gemm(transposeA: false, transposeB: false, m: T, n: d, k: T,
                     dS + bh, lda: T, k + b * T * KW + g * d, ldb: KW, beta: 0, dq + b * T * QW + h * d, ldc: QW)
                gemm(transposeA: true, transposeB: false, m: T, n: d, k: T,
                     dS + bh, lda: T, q + b * T * QW + h * d, ldb: QW, beta: h % group == 0 ? 0 : 1,
                     dk + b * T * KW + g * d, ldc: KW)
            }
        }
    }
}
