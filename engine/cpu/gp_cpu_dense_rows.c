/*
 * gp_cpu_dense_rows.c: the CPU backend's dense layers, with the same
 * arithmetic for a row whatever else is computed.
 *
 * Y[r][o] = b[o] + sum_k X[r][k] W[o][k], W in its stored [out x in]
 * layout, is computed in one fixed order: 16 partial sums, sum l taking
 * k = l, l + 16, l + 32, ... as a chain of fused multiply-adds in k order;
 * then the tree s[l] += s[l + 8], s[l] += s[l + 4], s[l] += s[l + 2],
 * s[0] += s[1]; then + b[o].  A row's values therefore depend on nothing
 * but that row and the weights: not on how many rows are computed with it,
 * where it sits in the batch or how rows are split over threads; and they
 * are the same bits on every path (AVX-512: one 16-lane vector per sum;
 * AVX2 + FMA: two 8-lane vectors; scalar: fmaf), since each lane runs the
 * same fused chain and the tree is done in scalar code.
 *
 * Why not OpenBLAS: its sgemm kernels for different numbers of rows sum in
 * different orders (a 256 -> 128 layer differed in the last bit for most
 * outputs between 64 and 8 rows), which made posterior samples depend on
 * the batch and the thread count.
 *
 * Blocking: rows and outputs in 4 x 4 register tiles; K in blocks of
 * KBLOCK so that a block of W (all outputs) stays in L2 while every row
 * passes through it, the 16 partial sums of each output waiting in memory
 * between blocks (only for K > KBLOCK: the encoder's mean and log-variance
 * layers).
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gp_cpu.h"
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#define KBLOCK 4096   /* a block of W: 4096 x 32 outputs x 4 B = 512 KB */
#define TR 4          /* rows per register tile */
#define TO 4          /* outputs per register tile */

/* The fixed reduction of 16 partial sums, then the bias. */
static inline float finish(float s[16], float b)
{
    for (int l = 0; l < 8; l++) s[l] += s[l + 8];
    for (int l = 0; l < 4; l++) s[l] += s[l + 4];
    for (int l = 0; l < 2; l++) s[l] += s[l + 2];
    return (s[0] + s[1]) + b;
}

/* Output o's weights: row o of W for o < N1, else row o - N1 of W2 (two
 * layers on the same input computed as one). */
static inline const float *wrow(const float *W, const float *W2, int N1, int o, int K)
{
    return o < N1 ? W + (size_t)o * K : W2 + (size_t)(o - N1) * K;
}

/* Partial sums S [R x N x 16] over k in [k0, k1) (S holds the sums so far). */
static void sums_scalar(const float *X, int R, int K, int k0, int k1, const float *W, const float *W2, int N1, int N, float *S)
{
    for (int r = 0; r < R; r++)
        for (int o = 0; o < N; o++) {
            const float *x = X + (size_t)r * K, *w = wrow(W, W2, N1, o, K);
            float *s = S + ((size_t)r * N + o) * 16;
            for (int k = k0; k < k1; k++) s[k & 15] = fmaf(x[k], w[k], s[k & 15]);
        }
}

#if defined(__GNUC__) && defined(__x86_64__)
/* The fixed tree of finish() on one vector of 16 partial sums, in
 * registers (the same additions in the same pairs, so the same bits). */
__attribute__((target("avx512f")))
static inline float finish_avx512(__m512 s, float b)
{
    __m256 t8 = _mm256_add_ps(_mm512_castps512_ps256(s),
                              _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
    __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
    __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
    __m128 t1 = _mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1));
    return _mm_cvtss_f32(t1) + b;
}

/* finish_avx512 of four vectors at once (before the biases): lane j of
 * the result is the tree of the 16 partial sums in a, b, c, d (j = 0..3),
 * the same additions in the same pairs, so the same bits; the pairs of
 * four outputs share each vector addition (about 17 operations instead of
 * 40 for four outputs: the flows' 64 -> 4 output layers are mostly this
 * epilogue). */
__attribute__((target("avx512f")))
static inline __m128 finish4_avx512(__m512 a, __m512 b, __m512 c, __m512 d)
{
    /* s[l] + s[l + 8]: lanes 0-7 of a's, then b's (c's, d's) */
    __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    /* + s[l + 4]: 128-bit lane j holds output j's four sums */
    __m512 t4 = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    /* + s[l + 2], then s[0] + s[1], within each 128-bit lane */
    __m512 t2 = _mm512_add_ps(t4, _mm512_shuffle_ps(t4, t4, _MM_SHUFFLE(1, 0, 3, 2)));
    __m512 t1 = _mm512_add_ps(t2, _mm512_shuffle_ps(t2, t2, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), t1));
}

/* The sums over k in [k0, k1) (k0 and k1 - k0 multiples of 16 except for
 * the last block's end), in 4 x 4 register tiles.  With S, they continue
 * and return to the sums' buffer S [R x N x 16]; without (the whole of K
 * in one block), they start at zero and are finished in registers into Y
 * (outputs < N1) and Y2 with the biases b and b2, with no round trip
 * through memory (which cost more than the products for the flows' 64-wide
 * layers). */
__attribute__((target("avx512f")))
static void tiles_avx512(const float *X, int R, int K, int k0, int k1, const float *W, const float *W2, int N1,
                         int N, float *S, const float *b, const float *b2, float *Y, float *Y2)
{
    const int N2 = N - N1;
    for (int r0 = 0; r0 < R; r0 += TR)
        for (int o0 = 0; o0 < N; o0 += TO) {
            int nr = R - r0 < TR ? R - r0 : TR, no = N - o0 < TO ? N - o0 : TO;
            const float *xr[TR], *wr[TO];
            for (int i = 0; i < TR; i++) xr[i] = X + (size_t)(r0 + (i < nr ? i : 0)) * K;
            for (int j = 0; j < TO; j++) wr[j] = wrow(W, W2, N1, o0 + (j < no ? j : 0), K);
            __m512 acc[TR][TO];
            for (int i = 0; i < TR; i++)
                for (int j = 0; j < TO; j++)
                    acc[i][j] = (S && i < nr && j < no) ? _mm512_loadu_ps(S + ((size_t)(r0 + i) * N + o0 + j) * 16)
                                                        : _mm512_setzero_ps();
            int k = k0;
            for (; k + 16 <= k1; k += 16) {
                __m512 xv[TR], wv[TO];
#pragma GCC unroll 4
                for (int i = 0; i < TR; i++) xv[i] = _mm512_loadu_ps(xr[i] + k);
#pragma GCC unroll 4
                for (int j = 0; j < TO; j++) wv[j] = _mm512_loadu_ps(wr[j] + k);
#pragma GCC unroll 4
                for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
                    for (int j = 0; j < TO; j++) acc[i][j] = _mm512_fmadd_ps(xv[i], wv[j], acc[i][j]);
            }
            if (k < k1) {   /* the tail: lanes 0 .. k1 - k - 1 (k is a multiple of 16) */
                __mmask16 m = (__mmask16)((1u << (k1 - k)) - 1u);
                for (int i = 0; i < TR; i++) {
                    __m512 xv = _mm512_maskz_loadu_ps(m, xr[i] + k);
                    for (int j = 0; j < TO; j++)
                        acc[i][j] = _mm512_mask3_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, wr[j] + k), acc[i][j], m);
                }
            }
            if (!S && (o0 + no <= N1 || o0 >= N1)) {   /* four outputs of one layer: finished together */
                const int second = o0 >= N1;
                const float *bb = second ? b2 : b;
                const int ob = second ? o0 - N1 : o0, ld = second ? N2 : N1;
                float *yy = second ? Y2 : Y;
                float bv[TO] = { 0.0f, 0.0f, 0.0f, 0.0f }, yv[TO];
                for (int j = 0; j < no && bb; j++) bv[j] = bb[ob + j];
                const __m128 bias = _mm_loadu_ps(bv);
                for (int i = 0; i < nr; i++) {
                    _mm_storeu_ps(yv, _mm_add_ps(finish4_avx512(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), bias));
                    memcpy(yy + (size_t)(r0 + i) * ld + ob, yv, sizeof(float) * (size_t)no);
                }
                continue;
            }
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < no; j++) {
                    int o = o0 + j;
                    if (S) _mm512_storeu_ps(S + ((size_t)(r0 + i) * N + o) * 16, acc[i][j]);
                    else if (o < N1) Y[(size_t)(r0 + i) * N1 + o] = finish_avx512(acc[i][j], b ? b[o] : 0.0f);
                    else Y2[(size_t)(r0 + i) * N2 + o - N1] = finish_avx512(acc[i][j], b2 ? b2[o - N1] : 0.0f);
                }
        }
}

__attribute__((target("avx2,fma")))
static void sums_avx2(const float *X, int R, int K, int k0, int k1, const float *W, const float *W2, int N1, int N, float *S)
{
    for (int r0 = 0; r0 < R; r0 += TR)
        for (int o0 = 0; o0 < N; o0 += TO) {
            int nr = R - r0 < TR ? R - r0 : TR, no = N - o0 < TO ? N - o0 : TO;
            const float *xr[TR], *wr[TO];
            for (int i = 0; i < TR; i++) xr[i] = X + (size_t)(r0 + (i < nr ? i : 0)) * K;
            for (int j = 0; j < TO; j++) wr[j] = wrow(W, W2, N1, o0 + (j < no ? j : 0), K);
            __m256 lo[TR][TO], hi[TR][TO];
            for (int i = 0; i < TR; i++)
                for (int j = 0; j < TO; j++) {
                    const float *s = S + ((size_t)(r0 + (i < nr ? i : 0)) * N + o0 + (j < no ? j : 0)) * 16;
                    lo[i][j] = _mm256_loadu_ps(s);
                    hi[i][j] = _mm256_loadu_ps(s + 8);
                }
            int k = k0;
            for (; k + 16 <= k1; k += 16)
                for (int i = 0; i < TR; i++) {
                    __m256 xl = _mm256_loadu_ps(xr[i] + k), xh = _mm256_loadu_ps(xr[i] + k + 8);
                    for (int j = 0; j < TO; j++) {
                        lo[i][j] = _mm256_fmadd_ps(xl, _mm256_loadu_ps(wr[j] + k), lo[i][j]);
                        hi[i][j] = _mm256_fmadd_ps(xh, _mm256_loadu_ps(wr[j] + k + 8), hi[i][j]);
                    }
                }
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < no; j++) {
                    float *s = S + ((size_t)(r0 + i) * N + o0 + j) * 16;
                    _mm256_storeu_ps(s, lo[i][j]);
                    _mm256_storeu_ps(s + 8, hi[i][j]);
                    const float *x = xr[i], *w = wr[j];
                    for (int kk = k; kk < k1; kk++) s[kk & 15] = fmaf(x[kk], w[kk], s[kk & 15]);
                }
        }
}

static int isa(void)
{
    static int v = -1;
    if (v < 0)
        v = __builtin_cpu_supports("avx512f") ? 2
            : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    return v;
}
#endif

/* Rows in chunks whose partial sums (rows x N x 16 floats) fit in 256 KB,
 * at least TR rows; each chunk passes through all of K, block by block. */
static int dense_rows(const float *X, int R, int K, const float *W, const float *W2, int N1, int N, const float *b,
                      const float *b2, float *Y, float *Y2, int path)
{
    if (R <= 0) return 0;
#if defined(__GNUC__) && defined(__x86_64__)
    if (path == 2 && K <= KBLOCK) {
        tiles_avx512(X, R, K, 0, K, W, W2, N1, N, NULL, b, b2, Y, Y2);
        return 0;
    }
#endif
    int chunk = (int)((256u << 10) / ((size_t)N * 16 * sizeof(float)));
    if (chunk < TR) chunk = TR;
    if (chunk > R) chunk = R;
    float *S = gp_cpu_thread_scratch_slot(1, (size_t)chunk * N * 16);   /* slot 0 may be the caller's */
    if (!S) return -1;
    for (int c0 = 0; c0 < R; c0 += chunk) {
        int cr = R - c0 < chunk ? R - c0 : chunk;
        const float *Xc = X + (size_t)c0 * K;
        memset(S, 0, sizeof(float) * (size_t)cr * N * 16);
        for (int k0 = 0; k0 < K; k0 += KBLOCK) {
            int k1 = K - k0 < KBLOCK ? K : k0 + KBLOCK;
#if defined(__GNUC__) && defined(__x86_64__)
            if (path == 2) { tiles_avx512(Xc, cr, K, k0, k1, W, W2, N1, N, S, NULL, NULL, NULL, NULL); continue; }
            if (path == 1) { sums_avx2(Xc, cr, K, k0, k1, W, W2, N1, N, S); continue; }
#endif
            sums_scalar(Xc, cr, K, k0, k1, W, W2, N1, N, S);
        }
        for (int r = 0; r < cr; r++) {
            for (int o = 0; o < N1; o++)
                Y[(size_t)(c0 + r) * N1 + o] = finish(S + ((size_t)r * N + o) * 16, b ? b[o] : 0.0f);
            for (int o = N1; o < N; o++)
                Y2[(size_t)(c0 + r) * (N - N1) + o - N1] = finish(S + ((size_t)r * N + o) * 16,
                                                                  b2 ? b2[o - N1] : 0.0f);
        }
    }
    return 0;
}

int gp_cpu_dense_rows(const float *X, int R, int K, const float *W, int N, const float *b, float *Y)
{
#if defined(__GNUC__) && defined(__x86_64__)
    return dense_rows(X, R, K, W, NULL, N, N, b, NULL, Y, NULL, isa());
#else
    return dense_rows(X, R, K, W, NULL, N, N, b, NULL, Y, NULL, 0);
#endif
}

int gp_cpu_dense_rows_path(const float *X, int R, int K, const float *W, int N, const float *b, float *Y,
                           int path)
{
#if defined(__GNUC__) && defined(__x86_64__)
    if (path > isa()) return -2;
#else
    if (path > 0) return -2;
#endif
    return dense_rows(X, R, K, W, NULL, N, N, b, NULL, Y, NULL, path);
}

int gp_cpu_dense_rows_pair(const float *X, int R, int K, const float *W1, int N1, const float *b1, float *Y1,
                           const float *W2, int N2, const float *b2, float *Y2)
{
#if defined(__GNUC__) && defined(__x86_64__)
    return dense_rows(X, R, K, W1, W2, N1, N1 + N2, b1, b2, Y1, Y2, isa());
#else
    return dense_rows(X, R, K, W1, W2, N1, N1 + N2, b1, b2, Y1, Y2, 0);
#endif
}
