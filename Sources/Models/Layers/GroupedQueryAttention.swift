// Causal self-attention with grouped key/value heads (LLaMA's num_key_value_heads): H query
// heads share KV key/value heads, query head h reading key/value head h / (H / KV). With
// KV = H it is ordinary multi-head attention.
//
// q is [B, T, H·d], k and v [B, T, KV·d] (the separate q_proj, k_proj, v_proj outputs, after
// rotary embeddings). Per (b, h), with g = h / (H / KV):
//   P = softmax(mask(Q_h K_gᵀ / sqrt(d)))  [T, T]    out_h = P V_g  -> columns h·d of [B, T, H·d]
// With a sliding window w (Mistral, Qwen2 sliding layers, Phi-3) the mask is banded: query i
// sees keys max(0, i - w + 1)...i, transformers' `kv_idx > q_idx - sliding_window`. Only P
// changes: backward's dS = P ∘ (...) is zero wherever P is. `scale` replaces 1/sqrt(d) when
// given (Gemma's query_pre_attn_scalar^-1/2).
//
// Products go through BLAS with leading dimensions that step over the interleaved heads, so
// no head is copied out.
//
// As GPT-2's Attention: nothing but q, k, v is kept for backward (each head's P is
// recomputed there: one more T x T x d product per head, for B·H·T² fewer floats per layer,
// 283 MB over SmolLM-135M's 30 layers at B 4, T 256), and the work is spread over the cores
// with single-threaded BLAS inside. The unit of work is a (batch, key/value head) pair with
// all the query heads of its group, so the gradients of a shared K_g / V_g are summed by one
// worker and never raced.

import Compute
import CBLAS
import Dispatch
import TensorIO

public enum GroupedQueryAttention {
    /// out[B, T, H·d] (overwritten).
    public static func forward(
        output out: UnsafeMutablePointer<Float>,
        query q: UnsafePointer<Float>, key k: UnsafePointer<Float>, value v: UnsafePointer<Float>,
        batch: Int, sequence: Int, heads: Int, keyValueHeads: Int, headDimension d: Int, window: Int? = nil, scale: Float? = nil
    ) {
        let T = sequence, QW = heads * d, KW = keyValueHeads * d, group = heads / keyValueHeads
        precondition(group * keyValueHeads == heads, "GroupedQueryAttention: \(heads) heads do not split into \(keyValueHeads) groups")
        forEachAttentionUnit(batch * keyValueHeads, scratchPerWorker: T * T) { unit, p in
            let b = unit / keyValueHeads, g = unit % keyValueHeads
            for h in (g * group)..<((g + 1) * group) {
                probabilities(into: p, q: q + b * T * QW + h * d, k: k + b * T * KW + g * d, sequence: T, queryWidth: QW, keyWidth: KW,
                              headDimension: d, window: window, scale: scale)
                gemm(transposeA: false, transposeB: false, m: T, n: d, k: T,
                     p, lda: T, v + b * T * KW + g * d, ldb: KW, beta: 0, out + b * T * QW + h * d, ldc: QW)
            }
        }
    }

    /// dq [B, T, H·d], dk and dv [B, T, KV·d], all overwritten, from dout [B, T, H·d], each
    /// head's P recomputed from q and k.
    ///   dP = dO V_gᵀ, dV_g += Pᵀ dO, dS = P ∘ (dP - rowsum(P ∘ dP)) / sqrt(d), dQ = dS K_g, dK_g += dSᵀ Q.
    public static func backward(
        queryGradient dq: UnsafeMutablePointer<Float>, keyGradient dk: UnsafeMutablePointer<Float>,
        valueGradient dv: UnsafeMutablePointer<Float>, outputGradient dout: UnsafePointer<Float>,
        query q: UnsafePointer<Float>, key k: UnsafePointer<Float>, value v: UnsafePointer<Float>,
        batch: Int, sequence: Int, heads: Int, keyValueHeads: Int, headDimension d: Int, window: Int? = nil, scale: Float? = nil
    ) {
        let T = sequence, QW = heads * d, KW = keyValueHeads * d, group = heads / keyValueHeads
        let scale = scale ?? 1 / Float(d).squareRoot()
        forEachAttentionUnit(batch * keyValueHeads, scratchPerWorker: 2 * T * T) { unit, scratch in
            let b = unit / keyValueHeads, g = unit % keyValueHeads
            let p = scratch, dS = scratch + T * T
            let kg = k + b * T * KW + g * d, vg = v + b * T * KW + g * d
            let dkg = dk + b * T * KW + g * d, dvg = dv + b * T * KW + g * d
            for h in (g * group)..<((g + 1) * group) {
                // The group's first head writes dK_g and dV_g, the others add to them.
                let beta: Float = h == g * group ? 0 : 1
                let qh = q + b * T * QW + h * d, dO = dout + b * T * QW + h * d
                probabilities(into: p, q: qh, k: kg, sequence: T, queryWidth: QW, keyWidth: KW, headDimension: d, window: window, scale: scale)
                gemm(transposeA: false, transposeB: true, m: T, n: T, k: d, dO, lda: QW, vg, ldb: KW, beta: 0, dS, ldc: T)
                gemm(transposeA: true, transposeB: false, m: T, n: d, k: T, p, lda: T, dO, ldb: QW, beta: beta, dvg, ldc: KW)
                for i in 0..<T {
                    let pRow = p + i * T, gRow = dS + i * T
                    var dots = Float8()
                    forEachVector(0..<(i + 1)) { j, lanes in dots += loadPartial(pRow + j, lanes) * loadPartial(gRow + j, lanes) }
                    let dot = dots.sum()
                    forEachVector(0..<(i + 1)) { j, lanes in
                        storePartial(loadPartial(pRow + j, lanes) * (loadPartial(gRow + j, lanes) - dot) * scale, gRow + j, lanes)
                    }
                    if i + 1 < T { (gRow + i + 1).update(repeating: 0, count: T - i - 1) }
                }
                gemm(transposeA: false, transposeB: false, m: T, n: d, k: T, dS, lda: T, kg, ldb: KW, beta: 0, dq + b * T * QW + h * d, ldc: QW)
                gemm(transposeA: true, transposeB: false, m: T, n: d, k: T, dS, lda: T, qh, ldb: QW, beta: beta, dkg, ldc: KW)
            }
        }
    }

    /// P = softmax(mask(Q Kᵀ / sqrt(d))) of one head into p [T, T], zero above the diagonal
    /// and, with a window w, left of the band (keys before i - w + 1).
    static func probabilities(into p: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                              sequence T: Int, queryWidth: Int, keyWidth: Int, headDimension d: Int, window: Int? = nil,
                              scale: Float? = nil) {
        gemm(transposeA: false, transposeB: true, m: T, n: T, k: d, alpha: scale ?? 1 / Float(d).squareRoot(),
             q, lda: queryWidth, k, ldb: keyWidth, beta: 0, p, ldc: T)
        for i in 0..<T {
            let first = window.map { max(0, i - $0 + 1) } ?? 0, count = i + 1 - first
            let row = p + i * T, band = row + first
            let inverse = 1 / exponentiateInPlace(band, count: count, shift: maximum(band, count: count))
            forEachVector(0..<count) { j, lanes in storePartial(loadPartial(band + j, lanes) * inverse, band + j, lanes) }
            if first > 0 { row.update(repeating: 0, count: first) }
            if i + 1 < T { (row + i + 1).update(repeating: 0, count: T - i - 1) }
        }
    }
}
