// The AVX-512 BF16 matrix product and the vector widening/rounding of 16-bit floats.
// Each kernel is compiled for its own instruction set (target attributes) and chosen at run
// time, so the binary still runs on an x86-64 without them (see CKernels.h for why C).
//
// loft_sbgemm is a GotoBLAS-shaped product around VDPBF16PS, which multiplies pairs of
// bfloat16 and adds both products into one float32 lane (32 multiply-adds per instruction):
//   for each block of KC = 384 values of the summed dimension k,
//     for each block of MC = 512 rows of A: round them to bfloat16 (rows of k pairs, 384 KB: L2),
//       for each panel of NR = 64 columns of B: pack it K-pair-interleaved (48 KB: L1/L2),
//         for each MR = 6 rows: the 6 x 64 microkernel (24 zmm accumulators).
// Packing B costs n·k per MC rows against 2·MC·n·k flops; rounding A costs m·k once.
// KC was measured (thread CPU time, Zen 4, 1024-row products of the SmolLM shapes): 128 to
// 768 all within ~10% (170-195 GFLOP/s per core against sgemm's ~102); 384 among the best.

#include "CKernels.h"

#include <stdlib.h>
#include <string.h>

// Nearest even by integer arithmetic, as torch's c10::BFloat16 does (VCVTNEPS2BF16 would
// flush subnormals to zero); a NaN keeps its upper half with the quiet bit set.
static inline uint16_t round_bf16_scalar(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if (value != value) return (uint16_t)((bits >> 16) | 0x0040);
    return (uint16_t)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define AVX2F16C __attribute__((target("avx2,f16c")))

enum { MR = 6, NR = 64, KC = 384, MC = 512 };

static int cpu_has(int which) {
    __builtin_cpu_init();
    switch (which) {
    case 0: return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    default: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    }
}

int loft_has_avx512bf16(void) {
    static int cached = -1;  // a benign race: every thread computes the same value
    if (cached < 0) cached = cpu_has(0);
    return cached;
}

static int has_avx2_f16c(void) {
    static int cached = -1;
    if (cached < 0) cached = cpu_has(1);
    return cached;
}

// MARK: widening

AVX2F16C static long widen_bf16_avx2(const uint16_t *source, long count, float *out) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(source + i));
        __m256i lo = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(h));
        __m256i hi = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1));
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_slli_epi32(lo, 16));
        _mm256_storeu_si256((__m256i *)(out + i + 8), _mm256_slli_epi32(hi, 16));
    }
    return i;
}

AVX2F16C static long widen_f16_f16c(const uint16_t *source, long count, float *out) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i h0 = _mm_loadu_si128((const __m128i *)(source + i));
        __m128i h1 = _mm_loadu_si128((const __m128i *)(source + i + 8));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h0));
        _mm256_storeu_ps(out + i + 8, _mm256_cvtph_ps(h1));
    }
    return i;
}

long loft_widen_bf16(const uint16_t *source, long count, float *out) {
    return has_avx2_f16c() ? widen_bf16_avx2(source, count, out) : 0;
}

long loft_widen_f16(const uint16_t *source, long count, float *out) {
    return has_avx2_f16c() ? widen_f16_f16c(source, count, out) : 0;
}

// MARK: rounding to bfloat16

AVX512BF16 static inline void round_bf16_avx512(const float *source, long count, uint16_t *out) {
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF), quiet = _mm512_set1_epi32(0x0040);
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 x = _mm512_loadu_ps(source + i);
        __m512i bits = _mm512_castps_si512(x);
        __m512i upper = _mm512_srli_epi32(bits, 16);
        __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(bias, _mm512_and_si512(upper, one))), 16);
        __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(upper, quiet));
        _mm256_storeu_si256((__m256i *)(out + i), _mm512_cvtepi32_epi16(rounded));
    }
    for (; i < count; i++) out[i] = round_bf16_scalar(source[i]);
}

void loft_round_bf16(const float *source, long count, uint16_t *out) {
    if (loft_has_avx512bf16()) { round_bf16_avx512(source, count, out); return; }
    for (long i = 0; i < count; i++) out[i] = round_bf16_scalar(source[i]);
}

// MARK: the bf16 product

// dest[p * NR + j] = the 32-bit word p of row j of src (row stride `stride` uint16s), for
// p, j < 16: a 16 x 16 transpose of 32-bit words in four rounds of shuffles.
AVX512BF16 static inline void transpose16(const uint16_t *src, long stride, uint32_t *dest) {
    __m512i r[16], t[16];
#pragma unroll
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(src + i * stride);
#pragma unroll
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
#pragma unroll
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
#pragma unroll
    for (int i = 0; i < 16; i += 8)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0xDD);
        }
#pragma unroll
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xDD);
    }
#pragma unroll
    for (int i = 0; i < 16; i++) _mm512_store_si512(dest + i * NR, r[i]);
}

// B[k0 ..< k0+kc, n0 ..< n0+nc] into dest[p][j] (p < kc/2 rounded up, j < NR): the two
// bfloat16 of rows 2p and 2p+1 of column j in one 32-bit word, zero past nc and past kc.
AVX512BF16 static void pack_b(int transposed, const uint16_t *s, long lds, long n0, long nc, long k0, long kc, uint32_t *dest) {
    long pairs = (kc + 1) / 2, full = kc / 2;
    if (transposed) {
        // S[n, k]: the pair is two neighbours of row n0 + j; 16 x 16 blocks by shuffles, the
        // ragged edges word by word.
        long rows16 = nc / 16 * 16, pairs16 = full / 16 * 16;
        for (long j = 0; j < rows16; j += 16)
            for (long p = 0; p < pairs16; p += 16) transpose16(s + (n0 + j) * lds + k0 + 2 * p, lds, dest + p * NR + j);
        for (long j = 0; j < nc; j++) {
            const uint16_t *row = s + (n0 + j) * lds + k0;
            for (long p = j < rows16 ? pairs16 : 0; p < full; p++) {
                uint32_t word;
                memcpy(&word, row + 2 * p, 4);
                dest[p * NR + j] = word;
            }
            if (kc & 1) dest[full * NR + j] = row[kc - 1];
        }
    } else {
        // S[k, n]: the pair is column n0 + j of two neighbouring rows.
        for (long p = 0; p < pairs; p++) {
            const uint16_t *r0 = s + (k0 + 2 * p) * lds + n0;
            uint32_t *d = dest + p * NR;
            if (2 * p + 1 < kc) {
                const uint16_t *r1 = r0 + lds;
                for (long j = 0; j < nc; j++) d[j] = (uint32_t)r0[j] | ((uint32_t)r1[j] << 16);
            } else {
                for (long j = 0; j < nc; j++) d[j] = r0[j];
            }
        }
    }
    if (nc < NR)
        for (long p = 0; p < pairs; p++) memset(dest + p * NR + nc, 0, (size_t)(NR - nc) * 4);
}

// C[0 ..< mr, 0 ..< nc] (=, +=, or beta· +) the product of `mr` rows of packed A (row stride
// `astride` words) and one packed B panel. Rows past mr repeat row 0 and are not stored.
enum { STORE = 0, ADD = 1, SCALE_ADD = 2 };

AVX512BF16 static inline void microkernel(long pairs, const uint32_t *a, long astride, long mr, const uint32_t *b,
                                          float *c, long ldc, long nc, int mode, float beta) {
    __m512 acc[MR][4];
#pragma unroll
    for (int i = 0; i < MR; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    const uint32_t *rows[MR];
#pragma unroll
    for (int i = 0; i < MR; i++) rows[i] = a + (i < mr ? i : 0) * astride;
    for (long p = 0; p < pairs; p++) {
        const uint32_t *bp = b + p * NR;
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp), b1 = (__m512bh)_mm512_load_si512(bp + 16);
        __m512bh b2 = (__m512bh)_mm512_load_si512(bp + 32), b3 = (__m512bh)_mm512_load_si512(bp + 48);
#pragma unroll
        for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)rows[i][p]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, b2);
            acc[i][3] = _mm512_dpbf16_ps(acc[i][3], ai, b3);
        }
    }
    __mmask16 masks[4];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        long left = nc - 16 * j;
        masks[j] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
    }
    const __m512 scale = _mm512_set1_ps(beta);
#pragma unroll
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        float *ci = c + i * ldc;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            if (!masks[j]) continue;
            __m512 sum = acc[i][j];
            if (mode == ADD) sum = _mm512_add_ps(_mm512_maskz_loadu_ps(masks[j], ci + 16 * j), sum);
            else if (mode == SCALE_ADD) sum = _mm512_fmadd_ps(scale, _mm512_maskz_loadu_ps(masks[j], ci + 16 * j), sum);
            _mm512_mask_storeu_ps(ci + 16 * j, masks[j], sum);
        }
    }
}

AVX512BF16 static void sbgemm_avx512(int transposed, long m, long n, long k, const float *a, long lda,
                                     const uint16_t *s, long lds, float beta, float *c, long ldc) {
    // The packing buffers (at most MC x KC/2 + KC/2 x NR words, 432 KB) per call: a call is
    // milliseconds of work, and malloc hands back the block the previous call freed.
    long pairsmax = ((k < KC ? k : KC) + 1) / 2, mcmax = m < MC ? m : MC;
    uint32_t *packed_a = aligned_alloc(64, ((size_t)(mcmax * pairsmax) * 4 + 63) / 64 * 64);
    uint32_t *packed_b = aligned_alloc(64, (size_t)(KC / 2) * NR * 4);
    if (!packed_a || !packed_b) abort();
    for (long k0 = 0; k0 < k; k0 += KC) {
        long kc = k - k0 < KC ? k - k0 : KC, pairs = (kc + 1) / 2;
        int mode = k0 > 0 || beta == 1 ? ADD : beta == 0 ? STORE : SCALE_ADD;
        for (long m0 = 0; m0 < m; m0 += MC) {
            long mc = m - m0 < MC ? m - m0 : MC;
            for (long i = 0; i < mc; i++) {
                uint16_t *row = (uint16_t *)(packed_a + i * pairs);
                round_bf16_avx512(a + (m0 + i) * lda + k0, kc, row);
                if (kc & 1) row[kc] = 0;
            }
            for (long n0 = 0; n0 < n; n0 += NR) {
                long nc = n - n0 < NR ? n - n0 : NR;
                pack_b(transposed, s, lds, n0, nc, k0, kc, packed_b);
                for (long i0 = 0; i0 < mc; i0 += MR)
                    microkernel(pairs, packed_a + i0 * pairs, pairs, mc - i0 < MR ? mc - i0 : MR, packed_b,
                                c + (m0 + i0) * ldc + n0, ldc, nc, mode, beta);
            }
        }
    }
    free(packed_a);
    free(packed_b);
}

void loft_sbgemm(int transposedB, long m, long n, long k, const float *a, long lda,
                 const uint16_t *s, long lds, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {  // an empty sum: C = beta · C (beta 0 never reads C)
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    sbgemm_avx512(transposedB, m, n, k, a, lda, s, lds, beta, c, ldc);
}

#else  // not x86-64: no kernels; the callers' portable paths do the work.

int loft_has_avx512bf16(void) { return 0; }
long loft_widen_bf16(const uint16_t *source, long count, float *out) { (void)source; (void)count; (void)out; return 0; }
long loft_widen_f16(const uint16_t *source, long count, float *out) { (void)source; (void)count; (void)out; return 0; }
void loft_round_bf16(const float *source, long count, uint16_t *out) {
    for (long i = 0; i < count; i++) out[i] = round_bf16_scalar(source[i]);
}
void loft_sbgemm(int transposedB, long m, long n, long k, const float *a, long lda,
                 const uint16_t *s, long lds, float beta, float *c, long ldc) {
    (void)transposedB; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)s; (void)lds; (void)beta; (void)c; (void)ldc;
    abort();  // callers check loft_has_avx512bf16() first
}

#endif
