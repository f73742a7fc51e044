// The products of a bfloat16 matrix computed in bfloat16 (`--base-compute bf16`): the other
// operand A is rounded to bfloat16 (nearest even, as torch's bf16 models hold activations),
// the products of bfloat16 pairs are exact and the sums float32, so the result differs from
// the float32 compute (CompactProducts.swift) by A's rounding, about 2^-9 relative per value.
//
// With AVX-512 BF16 this is Compute's BF16Products kernel; without it the same arithmetic
// runs as A rounded, widened back to float32 and multiplied tile by tile with sgemm: the same
// numbers (up to summation order), at the float32 path's speed or a little under.

import Compute

extension CompactMatrix {
    /// transposed: C[m, rows] = bf16(A)[m, columns] · Sᵀ + beta C; else C[m, columns] = bf16(A)[m, rows] · S + beta C.
    func bf16Product(transposed: Bool, m: Int, _ a: UnsafePointer<Float>, lda: Int, beta: Float,
                     _ c: UnsafeMutablePointer<Float>, ldc: Int, kernel: Bool = BF16Products.available) {
        precondition(dtype == .bfloat16, "CompactMatrix: bf16 compute of a \(dtype.rawValue) matrix")
        let n = transposed ? rows : columns, k = transposed ? columns : rows
        guard m > 0, n > 0 else { return }
        if kernel {
            BF16Products.gemm(transposedB: transposed, m: m, n: n, k: k, a, lda: lda, bits, lds: columns, beta: beta, c, ldc: ldc)
            return
        }
        let rounded = UnsafeMutablePointer<Float>.allocate(capacity: max(m * k, 1))
        defer { rounded.deallocate() }
        Parallel.forEachRange(count: m, minimumChunk: max(1, (1 << 16) / max(k, 1))) { range in
            for i in range {
                for j in 0..<k { rounded[i * k + j] = Float(bitPattern: UInt32(bfloat16Bits(a[i * lda + j])) << 16) }
            }
        }
        if transposed {
            widenedProductTransposed(m: m, rounded, lda: k, beta: beta, c, ldc: ldc)
        } else {
            widenedProduct(m: m, rounded, lda: k, beta: beta, c, ldc: ldc)
        }
    }
}
