// Products with a bfloat16 matrix computed in bfloat16, and 16-bit widening, on the C
// kernels (CKernels): the Swift face of them, with the split over the cores.
//
// The product rounds the float32 operand A to bfloat16 (nearest even, as torch does) and
// multiplies it with VDPBF16PS: every product of two bfloat16 is exact in float32 and the
// sums are float32, so the result is sgemm's on the widened operands up to summation order.

import CKernels

public enum BF16Products {
    /// Whether this CPU runs the AVX-512 BF16 product (`gemm`); without it the callers do the
    /// same arithmetic in float32 (Models' CompactBF16Products.swift).
    public static let available: Bool = loft_has_avx512bf16() != 0

    /// C[m, n] = bf16(A)[m, k] · B + beta · C, float32 accumulation, on both cores:
    ///   transposedB: B = Sᵀ with S[n, k] (row stride lds); else B = S with S[k, n].
    /// beta = 0 never reads C. Requires `available`.
    public static func gemm(transposedB: Bool, m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int,
                            _ s: UnsafePointer<UInt16>, lds: Int, beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(available, "BF16Products.gemm: this CPU has no AVX-512 BF16")
        guard m > 0, n > 0 else { return }
        let flag: Int32 = transposedB ? 1 : 0
        // The kernel's blocks: 6 rows by 64 columns. Many rows: each core takes half of them
        // (and packs S for itself, n·k against m·n·k multiply-adds); few rows (generation):
        // each core takes half of the columns.
        let blockRows = 6, blockColumns = 64
        let rowBlocks = (m + blockRows - 1) / blockRows
        if rowBlocks >= 16 {
            Parallel.forEachRange(count: rowBlocks, minimumChunk: 8) { range in
                let r0 = range.lowerBound * blockRows, r1 = min(m, range.upperBound * blockRows)
                loft_sbgemm(flag, r1 - r0, n, k, a + r0 * lda, lda, s, lds, beta, c + r0 * ldc, ldc)
            }
        } else {
            let panels = (n + blockColumns - 1) / blockColumns
            let worthSplitting = m * n * k >= 1 << 20
            Parallel.forEachRange(count: panels, minimumChunk: worthSplitting ? 1 : panels) { range in
                let n0 = range.lowerBound * blockColumns, n1 = min(n, range.upperBound * blockColumns)
                loft_sbgemm(flag, m, n1 - n0, k, a, lda, transposedB ? s + n0 * lds : s + n0, lds, beta, c + n0, ldc)
            }
        }
    }

    /// out[0..<count] = source rounded to bfloat16 bits, nearest even (a NaN stays a quiet NaN).
    public static func round(_ source: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt16>) {
        loft_round_bf16(source, count, out)
    }

    /// Widens a prefix of `count` bfloat16 values with AVX2; returns how many (the caller does the rest).
    public static func widenBFloat16Prefix(_ source: UnsafePointer<UInt16>, count: Int, into out: UnsafeMutablePointer<Float>) -> Int {
        loft_widen_bf16(source, count, out)
    }

    /// Widens a prefix of `count` IEEE binary16 values with F16C; returns how many (the caller
    /// does the rest). Exact, subnormals included; a signalling NaN comes back quiet.
    public static func widenFloat16Prefix(_ source: UnsafePointer<UInt16>, count: Int, into out: UnsafeMutablePointer<Float>) -> Int {
        loft_widen_f16(source, count, out)
    }
}
