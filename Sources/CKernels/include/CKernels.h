// Kernels that need one instruction set per function (AVX-512 BF16, F16C), chosen at run
// time: C, because Swift cannot compile a function for an instruction set the rest of the
// binary does not assume. The same binary runs on any x86-64; the callers (Compute's
// BF16Products.swift, Models' CompactMatrix) fall back to portable code when a kernel is absent.

#ifndef LOFT_CKERNELS_H
#define LOFT_CKERNELS_H

#include <stdint.h>

/// 1 when this CPU (and its OS) runs the AVX-512 BF16 kernels (loft_sbgemm).
int loft_has_avx512bf16(void);

/// out[i] = the float of bfloat16 `source[i]` for a prefix of the elements; returns how many
/// were converted (the caller converts the rest; 0 without AVX2).
long loft_widen_bf16(const uint16_t *source, long count, float *out);

/// out[i] = the float of IEEE binary16 `source[i]` for a prefix of the elements (F16C's
/// vcvtph2ps: exact, subnormals kept, a signalling NaN comes back quiet); returns how many
/// were converted (0 without F16C).
long loft_widen_f16(const uint16_t *source, long count, float *out);

/// out[i] = source[i] rounded to bfloat16, nearest even (a NaN stays a quiet NaN), all of them.
void loft_round_bf16(const float *source, long count, uint16_t *out);

/// C[m, n] = A[m, k] · B + beta · C in float32 accumulation, A float32 rounded to bfloat16
/// (nearest even) on the way in, B bfloat16:
///   transposedB != 0: B = Sᵀ, S[n, k] with row stride lds (C = A · Sᵀ)
///   transposedB == 0: B = S,  S[k, n] with row stride lds (C = A · S)
/// beta == 0 never reads C. One thread; callers split m or n across cores.
/// Requires loft_has_avx512bf16().
void loft_sbgemm(int transposedB, long m, long n, long k, const float *a, long lda,
                 const uint16_t *s, long lds, float beta, float *c, long ldc);

#endif
