/*
 * gp_cpu_encoder.c: the CPU backend's conv_stack operation (gp_backend.h):
 * the encoder's convolutions fused image by image, in cache.
 *
 * Inside the stack activations are kept channels-last (HWC).  Each layer is
 * computed in bands of output rows, by one of:
 *  - where the CPU has AMX (gp_cpu_have_amx), for layers whose k x cin tap
 *    runs and output channels are multiples of 32: an implicit GEMM on the
 *    tile unit in split bf16 (gp_cpu_amx.c, fp32 accuracy), the band's
 *    padded input rows split once, no im2col;
 *  - a direct kernel (AVX-512, or AVX2 for a small first layer) reading the
 *    layer's input stored with a zero border: out[p][co] = b + sum over the
 *    k x k x cin taps, one FMA chain per output in tap order, registers
 *    blocked over pixels x 32 or 64 channels, no im2col and no packing
 *    (the first layer, K = 48, and 64-channel layers with K <= 512);
 *  - im2col of the band (k runs of k x cin floats per pixel, memcpy'd) and
 *    single-threaded cblas_sgemm, col [P x K] times W'^T [K x cout], W' the
 *    weights reordered to (ky, kx, c) once (gp_cpu_wcache.c) -- the large-K
 *    last layer, where OpenBLAS's packed GEMM is faster.
 * Bias and activation are applied to the band while it is in cache; the
 * last layer is transposed back to NCHW.
 *
 * gp_cpu_conv_stack_cutouts (ops->encode_cutouts, from gp_infer) reads the
 * callers' cutouts by pointer and stretches each input row as it builds
 * the first layer's HWC input: no batch-sized copy, stretch pass or
 * re-read of the inputs (they were ~4 + 5% of the pipeline as 20 MB
 * passes).  There the last layer stays HWC (the transposition to NCHW
 * was ~5%) and the mean and log-variance layers read it with their
 * weights' inputs reordered once (gp_cpu_dense_hwc), both in one pass over
 * the features: the values of stretch + conv_stack + two dense up to the
 * order of the latent layers' sums (k runs over pixel-major instead of
 * channel-major inputs), still the same bits in any batch and with any
 * thread count.
 *
 * With at least as many images as threads, each thread takes whole images
 * (three convolutions of one galaxy in ~3 MB of per-thread scratch, no
 * batch-sized activations); with fewer, the bands of each layer are spread
 * over the threads.  The bands and kernels depend only on the layer's
 * geometry and the CPU, so both ways compute the very same sums: a galaxy's
 * features are bit-identical in any batch and with any thread count.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gp_cpu.h"
#include "gp_cpu_simd.h"
#include "gp_cpu_math.h"
#include "gp_net.h"
#include "gp_parallel.h"
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#define MAX_STACK 8
#define MAX_IN 4     /* input channels of a stretched stack */
#define COL_TARGET_FLOATS (448u * 1024u)   /* one band's im2col: 1.75 MB, inside L2 */

typedef struct stack_geom {
    int n, nconv;
    int h[MAX_STACK + 1], w[MAX_STACK + 1], c[MAX_STACK + 1];   /* layer inputs; [nconv] = output */
    int band_rows[MAX_STACK], bands[MAX_STACK];
    const gp_conv_layer *layer;
    const float *Wr[MAX_STACK];   /* reordered weights [cout x k x k x cin] */
    const float *WT[MAX_STACK];   /* small-K layers: the same transposed, [k x k x cin x cout] */
    int ip[MAX_STACK];            /* zero border stored around layer l's HWC input (direct layers) */
    int dk[MAX_STACK];            /* direct kernel of layer l: 0 none (im2col), 1 small-K AVX2,
                                     2 AVX-512 32 channels, 3 AVX-512 64 channels,
                                     4 AMX implicit GEMM in split bf16 (gp_cpu_amx.c) */
    const uint16_t *Wa[MAX_STACK];   /* AMX layers: the weights packed for gp_cpu_amx_conv_x6 */
    size_t tmp_floats;            /* largest band [P x cout] */
    gp_act act;
    float slope;
    size_t act_floats, col_floats;   /* per-image activation floats, largest band */
    const float *X;
    const float *const *Xp;          /* or one pointer per image (gp_cpu_conv_stack_cutouts) */
    int stretch;                     /* stretch the input as it is read: x -> (asinh(x isoft) - off) iscale */
    float isoft[MAX_IN], off[MAX_IN], iscale[MAX_IN];
    size_t row_floats;               /* the stretched input row, c[0] x w[0] floats, after the activations */
    int hwc_out;                     /* Y per image HWC (no transposition back to NCHW) */
    float *Y;
    float *shared;                   /* fewer images than threads: activations of the current image */
    int cur_layer;
    size_t cur_img;
    int failed;
} stack_geom;

/* ---- one band of one layer */

/* col[(oy-oy0)*wo + ox][(ky*k + kx)*c + ci] = x[oy*s-p+ky][ox*s-p+kx][ci] (0 outside), x HWC */
GP_CPU_OPT static inline void copy_run(float *restrict d, const float *restrict s, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = s[i];
}

GP_CPU_OPT static void im2col_hwc(const float *x, int h, int w, int c, int k, int s, int p, int wo,
                       int oy0, int oy1, float *col)
{
    const size_t K = (size_t)k * k * c, run = (size_t)k * c;
    for (int oy = oy0; oy < oy1; oy++)
        for (int ox = 0; ox < wo; ox++) {
            float *dst = col + ((size_t)(oy - oy0) * wo + ox) * K;
            int ix0 = ox * s - p;
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * s - p + ky;
                float *d = dst + (size_t)ky * run;
                if (iy < 0 || iy >= h) { memset(d, 0, sizeof(float) * run); continue; }
                const float *src = x + ((size_t)iy * w) * c;
                if (ix0 >= 0 && ix0 + k <= w) {
                    copy_run(d, src + (size_t)ix0 * c, run);
                } else {
                    for (int kx = 0; kx < k; kx++) {
                        int ix = ix0 + kx;
                        if (ix < 0 || ix >= w) memset(d + (size_t)kx * c, 0, sizeof(float) * (size_t)c);
                        else memcpy(d + (size_t)kx * c, src + (size_t)ix * c, sizeof(float) * (size_t)c);
                    }
                }
            }
        }
}

#if defined(__GNUC__) && defined(__x86_64__)
#define HAVE_DIRECT 1
/* Small-K layers (the first convolution: K = 3 x 4 x 4 = 48) are a poor
 * GEMM (packing costs as much as the arithmetic): out[p][co] = b[co] +
 * sum_t col[p][t] WT[t][co] directly, 4 pixels x 8 channels per step with
 * FMA, WT = W'^T [K x cout] (cout a multiple of 8). */
__attribute__((target("avx2,fma")))
static void direct_small_k(const float *col, int P, int K, const float *WT, int cout, const float *bias,
                           gp_act act, float slope, float *out)
{
    const __m256 zero = _mm256_setzero_ps(), vslope = _mm256_set1_ps(slope);
    for (int c8 = 0; c8 < cout; c8 += 8) {
        __m256 b = bias ? _mm256_loadu_ps(bias + c8) : zero;
        int p = 0;
        for (; p + 4 <= P; p += 4) {
            const float *r0 = col + (size_t)p * K, *r1 = r0 + K, *r2 = r1 + K, *r3 = r2 + K;
            __m256 a0 = b, a1 = b, a2 = b, a3 = b;
            for (int t = 0; t < K; t++) {
                __m256 w = _mm256_loadu_ps(WT + (size_t)t * cout + c8);
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(r0 + t), w, a0);
                a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(r1 + t), w, a1);
                a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(r2 + t), w, a2);
                a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(r3 + t), w, a3);
            }
            __m256 acc[4] = { a0, a1, a2, a3 };
            for (int i = 0; i < 4; i++) {
                __m256 v = acc[i];
                if (act == GP_ACT_LEAKY_RELU)
                    v = _mm256_blendv_ps(_mm256_mul_ps(v, vslope), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
                else if (act == GP_ACT_RELU)
                    v = _mm256_and_ps(v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
                _mm256_storeu_ps(out + (size_t)(p + i) * cout + c8, v);
            }
        }
        for (; p < P; p++) {
            const float *r = col + (size_t)p * K;
            __m256 a = b;
            for (int t = 0; t < K; t++)
                a = _mm256_fmadd_ps(_mm256_broadcast_ss(r + t), _mm256_loadu_ps(WT + (size_t)t * cout + c8), a);
            if (act == GP_ACT_LEAKY_RELU)
                a = _mm256_blendv_ps(_mm256_mul_ps(a, vslope), a, _mm256_cmp_ps(a, zero, _CMP_GT_OQ));
            else if (act == GP_ACT_RELU)
                a = _mm256_and_ps(a, _mm256_cmp_ps(a, zero, _CMP_GT_OQ));
            _mm256_storeu_ps(out + (size_t)p * cout + c8, a);
        }
    }
}

/* The same for the first layer straight from its zero-padded HWC input
 * (row pitch wp pixels): pixel (oy, ox)'s taps are k runs of k x c floats,
 * so no im2col is needed; tap order as im2col's, so the same sums. */
__attribute__((target("avx2,fma")))
static void direct_padded(const float *xp, int wp, int c, int k, int s, int wo, int oy0, int oy1,
                          const float *WT, int cout, const float *bias, gp_act act, float slope, float *out,
                          size_t opitch)
{
    const __m256 zero = _mm256_setzero_ps(), vslope = _mm256_set1_ps(slope);
    const int run = k * c;
    const size_t pitch = (size_t)wp * c;
    for (int oy = oy0; oy < oy1; oy++) {
        float *orow = out + (size_t)(oy - oy0) * opitch;
        int c8 = 0;
        /* 32 channels x 3 pixels per step: 12 accumulators, each broadcast used 4 times */
        for (; c8 + 32 <= cout; c8 += 32) {
            __m256 b[4];
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) b[v] = bias ? _mm256_loadu_ps(bias + c8 + 8 * v) : zero;
            for (int ox = 0; ox < wo; ox += 3) {
                int np = wo - ox < 3 ? wo - ox : 3;
                const float *p0 = xp + (size_t)oy * s * pitch + (size_t)ox * s * c;
                const float *p1 = p0 + (np > 1 ? s * c : 0), *p2 = p0 + (np > 2 ? 2 * s * c : 0);
                __m256 a[3][4];
#pragma GCC unroll 3
                for (int i = 0; i < 3; i++)
#pragma GCC unroll 4
                    for (int v = 0; v < 4; v++) a[i][v] = b[v];
                const float *wt = WT + c8;
                for (int ky = 0; ky < k; ky++) {
                    size_t ro = (size_t)ky * pitch;
                    for (int j = 0; j < run; j++, wt += cout) {
                        __m256 w0 = _mm256_loadu_ps(wt), w1 = _mm256_loadu_ps(wt + 8),
                               w2 = _mm256_loadu_ps(wt + 16), w3 = _mm256_loadu_ps(wt + 24);
                        __m256 x0 = _mm256_broadcast_ss(p0 + ro + j), x1 = _mm256_broadcast_ss(p1 + ro + j),
                               x2 = _mm256_broadcast_ss(p2 + ro + j);
                        a[0][0] = _mm256_fmadd_ps(x0, w0, a[0][0]); a[0][1] = _mm256_fmadd_ps(x0, w1, a[0][1]);
                        a[0][2] = _mm256_fmadd_ps(x0, w2, a[0][2]); a[0][3] = _mm256_fmadd_ps(x0, w3, a[0][3]);
                        a[1][0] = _mm256_fmadd_ps(x1, w0, a[1][0]); a[1][1] = _mm256_fmadd_ps(x1, w1, a[1][1]);
                        a[1][2] = _mm256_fmadd_ps(x1, w2, a[1][2]); a[1][3] = _mm256_fmadd_ps(x1, w3, a[1][3]);
                        a[2][0] = _mm256_fmadd_ps(x2, w0, a[2][0]); a[2][1] = _mm256_fmadd_ps(x2, w1, a[2][1]);
                        a[2][2] = _mm256_fmadd_ps(x2, w2, a[2][2]); a[2][3] = _mm256_fmadd_ps(x2, w3, a[2][3]);
                    }
                }
                for (int i = 0; i < np; i++)
                    for (int v = 0; v < 4; v++) {
                        __m256 r = a[i][v];
                        if (act == GP_ACT_LEAKY_RELU)
                            r = _mm256_blendv_ps(_mm256_mul_ps(r, vslope), r, _mm256_cmp_ps(r, zero, _CMP_GT_OQ));
                        else if (act == GP_ACT_RELU)
                            r = _mm256_and_ps(r, _mm256_cmp_ps(r, zero, _CMP_GT_OQ));
                        _mm256_storeu_ps(orow + (size_t)(ox + i) * cout + c8 + 8 * v, r);
                    }
            }
        }
        for (; c8 < cout; c8 += 8) {
            __m256 b = bias ? _mm256_loadu_ps(bias + c8) : zero;
            for (int ox = 0; ox < wo; ox += 4) {
                int np = wo - ox < 4 ? wo - ox : 4;
                const float *base = xp + (size_t)oy * s * pitch + (size_t)ox * s * c;
                const float *p1 = base + (np > 1 ? s * c : 0), *p2 = base + (np > 2 ? 2 * s * c : 0),
                            *p3 = base + (np > 3 ? 3 * s * c : 0);
                __m256 a0 = b, a1 = b, a2 = b, a3 = b;
                const float *wt = WT + c8;
                for (int ky = 0; ky < k; ky++) {
                    size_t ro = (size_t)ky * pitch;
                    for (int j = 0; j < run; j++, wt += cout) {
                        __m256 w = _mm256_loadu_ps(wt);
                        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(base + ro + j), w, a0);
                        a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(p1 + ro + j), w, a1);
                        a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(p2 + ro + j), w, a2);
                        a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(p3 + ro + j), w, a3);
                    }
                }
                __m256 acc[4] = { a0, a1, a2, a3 };
                for (int i = 0; i < np; i++) {
                    __m256 v = acc[i];
                    if (act == GP_ACT_LEAKY_RELU)
                        v = _mm256_blendv_ps(_mm256_mul_ps(v, vslope), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
                    else if (act == GP_ACT_RELU)
                        v = _mm256_and_ps(v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
                    _mm256_storeu_ps(orow + (size_t)(ox + i) * cout + c8, v);
                }
            }
        }
    }
}

/* direct_padded with AVX-512: 32 channels x 8 pixels per step (16
 * accumulators of 16; 10 loads per 16 FMAs, and conv0's 80 output columns
 * in 10 full steps, where 6 pixels left a step of 2); the same FMA chain
 * per output, so the same bits. */
__attribute__((target("avx512f")))
static void direct_padded_avx512(const float *xp, int wp, int c, int k, int s, int wo, int oy0, int oy1,
                                 const float *WT, int cout, const float *bias, gp_act act, float slope,
                                 float *out, size_t opitch)
{
    const __m512 zero = _mm512_setzero_ps(), vslope = _mm512_set1_ps(slope);
    const int run = k * c;
    const size_t pitch = (size_t)wp * c;
    for (int oy = oy0; oy < oy1; oy++) {
        float *orow = out + (size_t)(oy - oy0) * opitch;
        for (int c16 = 0; c16 < cout; c16 += 32) {
            __m512 b0 = bias ? _mm512_loadu_ps(bias + c16) : zero, b1 = bias ? _mm512_loadu_ps(bias + c16 + 16) : zero;
            for (int ox = 0; ox < wo; ox += 8) {
                int np = wo - ox < 8 ? wo - ox : 8;
                const float *pp[8];
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) pp[i] = xp + (size_t)oy * s * pitch + (size_t)(ox + (i < np ? i : 0)) * s * c;
                __m512 a[8][2];
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) { a[i][0] = b0; a[i][1] = b1; }
                const float *wt = WT + c16;
                for (int ky = 0; ky < k; ky++) {
                    size_t ro = (size_t)ky * pitch;
                    for (int j = 0; j < run; j++, wt += cout) {
                        __m512 w0 = _mm512_loadu_ps(wt), w1 = _mm512_loadu_ps(wt + 16);
#pragma GCC unroll 8
                        for (int i = 0; i < 8; i++) {
                            __m512 x = _mm512_set1_ps(pp[i][ro + j]);
                            a[i][0] = _mm512_fmadd_ps(x, w0, a[i][0]);
                            a[i][1] = _mm512_fmadd_ps(x, w1, a[i][1]);
                        }
                    }
                }
                for (int i = 0; i < np; i++)
                    for (int v = 0; v < 2; v++) {
                        __m512 r = gp_cpu_act_avx512(a[i][v], act, vslope);
                        _mm512_storeu_ps(orow + (size_t)(ox + i) * cout + c16 + 16 * v, r);
                    }
            }
        }
    }
}

/* Any layer from its zero-padded HWC input, 64 channels x 6 pixels per step
 * (24 accumulators of 16, 4 weight vectors, one broadcast): an implicit
 * GEMM with no im2col and no packing, K = k x k x cin taps in im2col's
 * order.  cout a multiple of 64. */
__attribute__((target("avx512f")))
static void direct64_avx512(const float *xp, int wp, int c, int k, int s, int wo, int oy0, int oy1,
                            const float *WT, int cout, const float *bias, gp_act act, float slope,
                            float *out, size_t opitch)
{
    const __m512 zero = _mm512_setzero_ps(), vslope = _mm512_set1_ps(slope);
    const int run = k * c;
    const size_t pitch = (size_t)wp * c;
    for (int oy = oy0; oy < oy1; oy++) {
        float *orow = out + (size_t)(oy - oy0) * opitch;
        for (int cb = 0; cb < cout; cb += 64) {
            __m512 b[4];
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) b[v] = bias ? _mm512_loadu_ps(bias + cb + 16 * v) : zero;
            for (int ox = 0; ox < wo; ox += 6) {
                int np = wo - ox < 6 ? wo - ox : 6;
                const float *pp[6];
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++) pp[i] = xp + (size_t)oy * s * pitch + (size_t)(ox + (i < np ? i : 0)) * s * c;
                __m512 a[6][4];
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++)
#pragma GCC unroll 4
                    for (int v = 0; v < 4; v++) a[i][v] = b[v];
                const float *wt = WT + cb;
                for (int ky = 0; ky < k; ky++) {
                    size_t ro = (size_t)ky * pitch;
                    for (int j = 0; j < run; j++, wt += cout) {
                        __m512 w0 = _mm512_loadu_ps(wt), w1 = _mm512_loadu_ps(wt + 16),
                               w2 = _mm512_loadu_ps(wt + 32), w3 = _mm512_loadu_ps(wt + 48);
#pragma GCC unroll 6
                        for (int i = 0; i < 6; i++) {
                            __m512 x = _mm512_set1_ps(pp[i][ro + j]);
                            a[i][0] = _mm512_fmadd_ps(x, w0, a[i][0]);
                            a[i][1] = _mm512_fmadd_ps(x, w1, a[i][1]);
                            a[i][2] = _mm512_fmadd_ps(x, w2, a[i][2]);
                            a[i][3] = _mm512_fmadd_ps(x, w3, a[i][3]);
                        }
                    }
                }
                for (int i = 0; i < np; i++)
                    for (int v = 0; v < 4; v++) {
                        __m512 r = gp_cpu_act_avx512(a[i][v], act, vslope);
                        _mm512_storeu_ps(orow + (size_t)(ox + i) * cout + cb + 16 * v, r);
                    }
            }
        }
    }
}

static int K_taps(const gp_conv_layer *L) { return L->cin * L->k * L->k; }

static int direct_ok(const gp_conv_layer *L, gp_act act)
{
    static int cpu = -1;
    if (cpu < 0) cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cpu && L->cin * L->k * L->k <= 64 && L->cout % 8 == 0 &&
           (act == GP_ACT_LEAKY_RELU || act == GP_ACT_RELU || act == GP_ACT_NONE);
}
#else
#define HAVE_DIRECT 0
#endif

#if defined(GP_HAVE_AMX)
/* The AMX kernel takes any layer whose tap runs (k x cin values) and
 * output channels come in whole tile rows of 32, where the CPU and the
 * kernel allow it and GP_CPU_NO_AMX is not set (gp_cpu_have_amx). */
static int amx_layer(const gp_conv_layer *L)
{
    return (L->k * L->cin) % 32 == 0 && L->cout % 32 == 0 && gp_cpu_have_amx();
}
#endif

/* out[oy][ox][co] of output rows [oy0, oy1) (HWC, or, for the last layer,
 * NCHW into y_nchw with bias and activation applied in the transposition) */
static void band(const stack_geom *g, int l, int b, const float *in, float *out, float *y_nchw, float *col,
                 float *tmp)
{
    const gp_conv_layer *L = &g->layer[l];
    const int wo = g->w[l + 1], ho = g->h[l + 1], K = L->cin * L->k * L->k;
    const int oy0 = b * g->band_rows[l], oy1 = oy0 + g->band_rows[l] < ho ? oy0 + g->band_rows[l] : ho;
    const int P = (oy1 - oy0) * wo;
    /* where the band's HWC rows go: the next layer's (padded) input, or tmp */
    const int q = y_nchw || l == g->nconv - 1 ? 0 : g->ip[l + 1];
    float *o;
    size_t opitch;
    if (y_nchw) { o = tmp; opitch = (size_t)wo * L->cout; }
    else {
        opitch = (size_t)(wo + 2 * q) * L->cout;
        o = out + (size_t)(oy0 + q) * opitch + (size_t)q * L->cout;
    }
#if defined(GP_HAVE_AMX)
    if (g->dk[l] == 4) {   /* input padded (ip[l] = pad); rows q = oy wq + ox in tmp, ox < wo kept */
        const int wp = g->w[l] + 2 * g->ip[l], wq = (wp + L->stride - 1) / L->stride;
        gp_cpu_amx_conv_x6(in + (size_t)oy0 * L->stride * wp * L->cin, wp, L->cin, L->k, L->stride, wo, oy1 - oy0,
                           g->Wa[l], L->cout, (uint16_t *)col, tmp);
        for (int oy = oy0; oy < oy1; oy++) {
            float *t = tmp + (size_t)(oy - oy0) * wq * L->cout;
            if (y_nchw) {
                gp_cpu_bias_act_cols(t, wo, L->cout, (size_t)L->cout, L->b, g->act, g->slope);
                memmove(tmp + (size_t)(oy - oy0) * wo * L->cout, t, sizeof(float) * (size_t)wo * L->cout);
            } else {   /* bias and activation on the way to the next input: one pass over the row */
                gp_cpu_bias_act_copy(o + (size_t)(oy - oy0) * opitch, t, wo, L->cout, L->b, g->act, g->slope);
            }
        }
        goto placed;
    }
#endif
#if HAVE_DIRECT
    if (g->dk[l] == 2 || g->dk[l] == 3) {   /* input stored with the layer's padding (ip[l] = pad) */
        int wp = g->w[l] + 2 * g->ip[l];
        if (g->dk[l] == 3)
            direct64_avx512(in, wp, L->cin, L->k, L->stride, wo, oy0, oy1, g->WT[l], L->cout, L->b, g->act, g->slope,
                            o, opitch);
        else
            direct_padded_avx512(in, wp, L->cin, L->k, L->stride, wo, oy0, oy1, g->WT[l], L->cout, L->b, g->act,
                                 g->slope, o, opitch);
        goto placed;
    }
    if (g->dk[l] == 1 && g->ip[l] > 0) {
        int wp = g->w[0] + 2 * g->ip[0];
        direct_padded(in, wp, L->cin, L->k, L->stride, wo, oy0, oy1, g->WT[0], L->cout, L->b, g->act, g->slope,
                      o, opitch);
        goto placed;
    }
#endif
    {
        /* im2col path (unpadded input); rows land in tmp when the target is padded */
        float *d = (y_nchw || q) ? tmp : o;
        im2col_hwc(in, g->h[l], g->w[l], L->cin, L->k, L->stride, L->pad, wo, oy0, oy1, col);
#if HAVE_DIRECT
        if (g->dk[l] == 1) direct_small_k(col, P, K, g->WT[l], L->cout, L->b, g->act, g->slope, d);
        else
#endif
        {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, L->cout, K, 1.0f, col, K, g->Wr[l], K, 0.0f,
                        d, L->cout);
            gp_cpu_bias_act_cols(d, P, L->cout, (size_t)L->cout, L->b, g->act, g->slope);
        }
        if (!y_nchw && q)
            for (int oy = oy0; oy < oy1; oy++)
                memcpy(o + (size_t)(oy - oy0) * opitch, d + (size_t)(oy - oy0) * wo * L->cout,
                       sizeof(float) * (size_t)wo * L->cout);
    }
#if HAVE_DIRECT || defined(GP_HAVE_AMX)
placed:
#endif
    if (!y_nchw) return;
    /* transpose [P x cout] -> y[cout][oy0*wo + i] (bias and activation
     * applied), in blocks of 16 pixels, a block's rows (16 x cout floats)
     * in L1 while each channel's run is written.  (This is ~5% of the
     * encoder's CPU time either way: the stores to the batch-sized output
     * miss the caches.) */
    const size_t plane = (size_t)ho * wo;
    for (int i0 = 0; i0 < P; i0 += 16) {
        const int ni = P - i0 < 16 ? P - i0 : 16;
        const float *tb = tmp + (size_t)i0 * L->cout;
        for (int co = 0; co < L->cout; co++) {
            float *yr = y_nchw + (size_t)co * plane + (size_t)oy0 * wo + i0;
            for (int i = 0; i < ni; i++) yr[i] = tb[(size_t)i * L->cout + co];
        }
    }
}

static size_t tmp_floats(const stack_geom *g)
{
    return g->tmp_floats;
}

/* zero the border of a padded HWC buffer (interior h x w, border pad) */
static void zero_border(float *y, int c, int h, int w, int pad)
{
    if (!pad) return;
    const size_t wp = (size_t)w + 2 * pad;
    memset(y, 0, sizeof(float) * (size_t)pad * wp * c);
    memset(y + (size_t)(pad + h) * wp * c, 0, sizeof(float) * (size_t)pad * wp * c);
    for (int r = 0; r < h; r++) {
        float *row = y + (size_t)(r + pad) * wp * c;
        memset(row, 0, sizeof(float) * (size_t)pad * c);
        memset(row + (size_t)(pad + w) * c, 0, sizeof(float) * (size_t)pad * c);
    }
}


#if HAVE_DIRECT
/* One row of three channel planes r, g, b into rgb rgb ... (n pixels),
 * 16 pixels (three vectors) per step by two-source permutes. */
__attribute__((target("avx512f")))
static void interleave3_avx512(const float *r, const float *g, const float *b, int n, float *out)
{
    /* output lane e of vector v is pixel (16v + e) / 3, channel (16v + e) % 3:
     * channels 0 and 1 from r and g (index 16 + pixel), 2 from b */
    static const int32_t irg[3][16] = {
        { 0, 16, 0, 1, 17, 1, 2, 18, 2, 3, 19, 3, 4, 20, 4, 5 },
        { 21, 5, 6, 22, 6, 7, 23, 7, 8, 24, 8, 9, 25, 9, 10, 26 },
        { 10, 11, 27, 11, 12, 28, 12, 13, 29, 13, 14, 30, 14, 15, 31, 15 } };
    static const int32_t ib[3][16] = {
        { 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5 },
        { 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10 },
        { 10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15 } };
    static const __mmask16 mb[3] = { 0x4924, 0x2492, 0x9249 };   /* lanes of channel 2 */
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 vr = _mm512_loadu_ps(r + i), vg = _mm512_loadu_ps(g + i), vb = _mm512_loadu_ps(b + i);
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++) {
            __m512 t = _mm512_permutex2var_ps(vr, _mm512_loadu_si512(irg[v]), vg);
            t = _mm512_mask_permutexvar_ps(t, mb[v], _mm512_loadu_si512(ib[v]), vb);
            _mm512_storeu_ps(out + 3 * (size_t)i + 16 * v, t);
        }
    }
    for (; i < n; i++) {
        out[3 * (size_t)i] = r[i];
        out[3 * (size_t)i + 1] = g[i];
        out[3 * (size_t)i + 2] = b[i];
    }
}
#endif

/* X image (CHW) -> HWC with a zero border of `pad` pixels; with g->stretch,
 * each input row is first stretched in rb (c x w floats, in L1) by
 * gp_cpu_stretch_plane, elementwise, so the values are those of stretching
 * the whole planes beforehand (ops->stretch) */
static void to_hwc(const stack_geom *g, const float *x, int c, int h, int w, int pad, float *y, float *rb)
{
    const int wp = w + 2 * pad;
    if (pad) {
        memset(y, 0, sizeof(float) * (size_t)pad * wp * c);
        memset(y + (size_t)(pad + h) * wp * c, 0, sizeof(float) * (size_t)pad * wp * c);
    }
    for (int r = 0; r < h; r++) {
        float *row = y + ((size_t)(r + pad) * wp) * c;
        memset(row, 0, sizeof(float) * (size_t)pad * c);
        memset(row + (size_t)(pad + w) * c, 0, sizeof(float) * (size_t)pad * c);
        row += (size_t)pad * c;
        const float *src = x + (size_t)r * w;   /* channel ci's row at src + ci * cs */
        size_t cs = (size_t)h * w;
        if (g->stretch) {
            if (r + 4 < h)   /* the cutout rows four ahead, on their way from memory meanwhile */
                for (int ci = 0; ci < c; ci++)
                    for (int p = 0; p < w; p += 16) __builtin_prefetch(src + ci * cs + (size_t)4 * w + p, 0, 3);
            for (int ci = 0; ci < c; ci++) {
                memcpy(rb + (size_t)ci * w, src + ci * cs, sizeof(float) * (size_t)w);
                gp_cpu_stretch_plane(rb + (size_t)ci * w, (size_t)w, g->isoft[ci], g->off[ci], g->iscale[ci]);
            }
            src = rb;
            cs = (size_t)w;
        }
#if HAVE_DIRECT
        if (c == 3 && gp_cpu_have_avx512()) {   /* (a pure copy: the same values either way) */
            interleave3_avx512(src, src + cs, src + 2 * cs, w, row);
            continue;
        }
#endif
        for (int ci = 0; ci < c; ci++) {
            const float *sc = src + ci * cs;
            for (int i = 0; i < w; i++) row[(size_t)i * c + ci] = sc[i];
        }
    }
}

/* Activation buffer offsets: input of layer l (HWC) */
static size_t act_offset(const stack_geom *g, int l)
{
    size_t off = 0;
    for (int i = 0; i < l; i++)
        off += (size_t)(g->h[i] + 2 * g->ip[i]) * (g->w[i] + 2 * g->ip[i]) * g->c[i];
    return off;
}

/* image img's input into act (rb: the row buffer after the activations) */
static void image_start(const stack_geom *g, size_t img, float *act)
{
    const float *x = g->Xp ? g->Xp[img] : g->X + img * (size_t)g->c[0] * g->h[0] * g->w[0];
    to_hwc(g, x, g->c[0], g->h[0], g->w[0], g->ip[0], act, act + g->act_floats);
    for (int l = 1; l < g->nconv; l++)
        zero_border(act + act_offset(g, l), g->c[l], g->h[l], g->w[l], g->ip[l]);
}

/* whole images [begin, end), each in this thread's scratch */
static void images_range(void *ctx, size_t begin, size_t end)
{
    stack_geom *g = ctx;
    size_t tf = tmp_floats(g);
    float *s = gp_cpu_thread_scratch(g->act_floats + g->row_floats + g->col_floats + tf);
    if (!s) { g->failed = 1; return; }
    float *col = s + g->act_floats + g->row_floats, *tmp = col + g->col_floats;
    const size_t out_floats = (size_t)g->c[g->nconv] * g->h[g->nconv] * g->w[g->nconv];
    for (size_t img = begin; img < end; img++) {
        image_start(g, img, s);
        for (int l = 0; l < g->nconv; l++) {
            int last = l == g->nconv - 1;
            float *in = s + act_offset(g, l), *out = last ? NULL : s + act_offset(g, l + 1);
            float *y = last ? g->Y + img * out_floats : NULL;
            if (last && g->hwc_out) { out = y; y = NULL; }   /* as if into an unpadded next input */
            for (int b = 0; b < g->bands[l]; b++) band(g, l, b, in, out, y, col, tmp);
        }
    }
}

/* bands [begin, end) of layer g->cur_layer of image g->cur_img, activations in g->shared */
static void bands_range(void *ctx, size_t begin, size_t end)
{
    stack_geom *g = ctx;
    int l = g->cur_layer, last = l == g->nconv - 1;
    size_t tf = tmp_floats(g);
    float *s = gp_cpu_thread_scratch(g->col_floats + tf);
    if (!s) { g->failed = 1; return; }
    const size_t out_floats = (size_t)g->c[g->nconv] * g->h[g->nconv] * g->w[g->nconv];
    float *in = g->shared + act_offset(g, l), *out = last ? NULL : g->shared + act_offset(g, l + 1);
    float *y = last ? g->Y + g->cur_img * out_floats : NULL;
    if (last && g->hwc_out) { out = y; y = NULL; }
    for (size_t b = begin; b < end; b++) band(g, l, (int)b, in, out, y, s, s + g->col_floats);
}

/* The stack on images X (contiguous) or Xp[i], stretched as read when
 * soft is not NULL. */
static int conv_stack(gp_backend *be, const float *X, const float *const *Xp, const float *soft,
                      const float *offset, const float *scale, int hwc_out, int n, int h, int w, int nconv,
                      const gp_conv_layer *layer, gp_act act, float slope, float *Y, gp_error *err)
{
    if (n < 0 || nconv < 1 || nconv > MAX_STACK || h < 1 || w < 1)
        return GP_FAIL(err, GP_ERR_ARG, "conv_stack: invalid shape n=%d %dx%d, %d convolutions", n, h, w, nconv);
    if (n == 0) return GP_OK;
    stack_geom g;
    memset(&g, 0, sizeof g);
    g.n = n; g.nconv = nconv; g.layer = layer; g.act = act; g.slope = slope; g.X = X; g.Xp = Xp; g.Y = Y; g.hwc_out = hwc_out;
    g.h[0] = h; g.w[0] = w; g.c[0] = layer[0].cin;
    if (soft) {
        if (g.c[0] > MAX_IN)
            return GP_FAIL(err, GP_ERR_ARG, "conv_stack: %d input channels to stretch (at most %d)", g.c[0], MAX_IN);
        g.stretch = 1;
        for (int c = 0; c < g.c[0]; c++) {   /* the constants of cpu_stretch (gp_cpu_backend.c) */
            g.isoft[c] = 1.0f / soft[c];
            g.off[c] = offset[c];
            g.iscale[c] = 1.0f / scale[c];
        }
        g.row_floats = ((size_t)g.c[0] * w + 15) & ~(size_t)15;
    }
    for (int l = 0; l < nconv; l++) {
        const gp_conv_layer *L = &layer[l];
        if (L->cin != g.c[l] || L->cout < 1 || L->k < 1 || L->stride < 1 || L->pad < 0 ||
            g.h[l] + 2 * L->pad < L->k || g.w[l] + 2 * L->pad < L->k)
            return GP_FAIL(err, GP_ERR_ARG, "conv_stack: layer %d: cin=%d (input has %d) cout=%d k=%d s=%d p=%d on %dx%d",
                           l, L->cin, g.c[l], L->cout, L->k, L->stride, L->pad, g.h[l], g.w[l]);
        g.h[l + 1] = (g.h[l] + 2 * L->pad - L->k) / L->stride + 1;
        g.w[l + 1] = (g.w[l] + 2 * L->pad - L->k) / L->stride + 1;
        g.c[l + 1] = L->cout;
        /* bands: the im2col of a band fits COL_TARGET_FLOATS; at least 2 so
         * that two threads share a single image */
        size_t row = (size_t)g.w[l + 1] * L->cin * L->k * L->k;
        int rows = (int)(COL_TARGET_FLOATS / row);
        if (rows < 1) rows = 1;
        int bands = (g.h[l + 1] + rows - 1) / rows;
        if (bands < 2) bands = g.h[l + 1] < 2 ? 1 : 2;
        g.band_rows[l] = (g.h[l + 1] + bands - 1) / bands;
        g.bands[l] = (g.h[l + 1] + g.band_rows[l] - 1) / g.band_rows[l];
        size_t cf = (size_t)g.band_rows[l] * row;
        if (cf > g.col_floats) g.col_floats = cf;
        if (!(g.Wr[l] = gp_cpu_conv_weights(be, L, 0)))
            return GP_FAIL(err, GP_ERR_NOMEM, "conv_stack: cannot allocate reordered weights of layer %d", l);
        size_t tf = (size_t)g.band_rows[l] * g.w[l + 1] * L->cout;
        if (tf > g.tmp_floats) g.tmp_floats = tf;
#if HAVE_DIRECT
        /* direct kernels: AVX-512 for 64k channels (any layer) or a small-K
         * layer of 32k; AVX2 for a small-K layer of 8k (not the last one) */
        int small = direct_ok(L, act);
        int act_ok = act == GP_ACT_LEAKY_RELU || act == GP_ACT_RELU || act == GP_ACT_NONE;
        /* (64 channels of K taps are streamed from L2 per 6 pixels: beyond
         * K = 512, 128 KB, OpenBLAS's packed GEMM is faster) */
        if (act_ok && gp_cpu_have_avx512() && L->cout % 64 == 0 && K_taps(L) <= 512) g.dk[l] = 3;
        else if (small && gp_cpu_have_avx512() && L->cout % 32 == 0 && L->pad > 0) g.dk[l] = 2;
        else if (small && l < nconv - 1) g.dk[l] = 1;
        if (g.dk[l] == 1 && l == 0) g.ip[0] = L->pad;          /* padded input when it can (else im2col) */
        if (g.dk[l] >= 2) g.ip[l] = L->pad;
        if (g.dk[l] && !(g.WT[l] = gp_cpu_conv_weights(be, L, 1)))
            return GP_FAIL(err, GP_ERR_NOMEM, "conv_stack: cannot allocate reordered weights of layer %d", l);
#endif
#if defined(GP_HAVE_AMX)
        if (amx_layer(L)) {   /* AMX first, where it can: at fp32 accuracy, 1.5-2x the AVX-512 kernels */
            g.dk[l] = 4;
            g.ip[l] = L->pad;
            if (!(g.Wa[l] = gp_cpu_conv_weights_amx(be, L)))
                return GP_FAIL(err, GP_ERR_NOMEM, "conv_stack: cannot allocate packed weights of layer %d", l);
            size_t mq, sc = gp_cpu_amx_conv_scratch(g.w[l] + 2 * L->pad, L->cin, L->k, L->stride, g.w[l + 1],
                                                   g.band_rows[l], &mq);
            if ((sc + 1) / 2 > g.col_floats) g.col_floats = (sc + 1) / 2;
            if (mq * L->cout > g.tmp_floats) g.tmp_floats = mq * L->cout;
        }
#endif
    }
    /* col and tmp follow the activations in the scratch: 64-byte aligned
     * (the AMX tile loads read 64-byte rows; misaligned, each is two lines) */
    g.act_floats = (act_offset(&g, nconv) + 15) & ~(size_t)15;
    g.col_floats = (g.col_floats + 15) & ~(size_t)15;
    gp_blas_set_threads(1);
    if (n >= be->threads || be->threads == 1) {
        gp_parallel_dynamic(be->threads, (size_t)n, images_range, &g);   /* an image per claim */
    } else {
        g.shared = malloc(sizeof(float) * (g.act_floats + g.row_floats));
        if (!g.shared) return GP_FAIL(err, GP_ERR_NOMEM, "conv_stack: cannot allocate activations");
        for (int img = 0; img < n && !g.failed; img++) {
            g.cur_img = (size_t)img;
            image_start(&g, (size_t)img, g.shared);
            for (int l = 0; l < nconv; l++) {
                g.cur_layer = l;
                gp_parallel_for(be->threads, (size_t)g.bands[l], bands_range, &g);
            }
        }
        free(g.shared);
    }
    if (g.failed) return GP_FAIL(err, GP_ERR_NOMEM, "conv_stack: out of memory for per-thread scratch");
    return GP_OK;
}

int gp_cpu_conv_stack(gp_backend *be, const float *X, int n, int h, int w, int nconv,
                      const gp_conv_layer *layer, gp_act act, float slope, float *Y, gp_error *err)
{
    return conv_stack(be, X, NULL, NULL, NULL, NULL, 0, n, h, w, nconv, layer, act, slope, Y, err);
}

int gp_cpu_conv_stack_cutouts(gp_backend *be, const float *const *X, int n, int h, int w, const float *soft,
                              const float *offset, const float *scale, int hwc_out, int nconv,
                              const gp_conv_layer *layer, gp_act act, float slope, float *Y, gp_error *err)
{
    if (!X || !soft || !offset || !scale)
        return GP_FAIL(err, GP_ERR_ARG, "conv_stack: no cutouts or stretch constants");
    for (int i = 0; i < n; i++)
        if (!X[i]) return GP_FAIL(err, GP_ERR_ARG, "conv_stack: no cutout for image %d", i);
    return conv_stack(be, NULL, X, soft, offset, scale, hwc_out, n, h, w, nconv, layer, act, slope, Y, err);
}

/* The mean and log-variance layers on rows [begin, end) of the features,
 * both in one pass over them (gp_cpu_dense_rows_pair: the bits of
 * cpu_dense, whatever the rows). */
typedef struct latent_job {
    const gp_net *net;
    const float *Wmu, *Wlv;   /* the layers' weights reordered for HWC features */
    const float *F;
    float *mu, *logvar;
    int nomem;
} latent_job;

static void latent_rows(void *ctx, size_t begin, size_t end)
{
    latent_job *j = ctx;
    const gp_net *net = j->net;
    const int K = net->enc_mu.in, L = net->latent;
    if (gp_cpu_dense_rows_pair(j->F + begin * K, (int)(end - begin), K, j->Wmu, L, net->enc_mu.b,
                               j->mu + begin * L, j->Wlv, L, net->enc_logvar.b, j->logvar + begin * L))
        j->nomem = 1;
}

/* ops->encode_cutouts: the stack on the cutouts, stretched as read, then
 * the mean and log-variance layers, the rows split over the threads (each
 * thread's rows pass once through both weight matrices). */
int gp_cpu_encode_cutouts(gp_backend *be, const struct gp_net *net, const float *const *cutouts, int n,
                          float *scratch, float *mu, float *logvar, gp_error *err)
{
    gp_conv_layer layer[GP_ENC_CONVS];
    for (int i = 0; i < GP_ENC_CONVS; i++) {
        const gp_conv *c = &net->enc_conv[i];
        gp_conv_layer l = { c->cin, c->cout, c->k, c->stride, c->pad, c->W, c->b };
        layer[i] = l;
    }
    const int C = net->enc_conv[GP_ENC_CONVS - 1].cout, P = net->enc_h[GP_ENC_CONVS] * net->enc_h[GP_ENC_CONVS];
    if (net->enc_logvar.in != net->enc_mu.in || net->enc_mu.in != C * P || net->enc_mu.out != net->latent ||
        net->enc_logvar.out != net->latent)
        return GP_FAIL(err, GP_ERR_ARG, "encode_cutouts: mean %d -> %d and log-variance %d -> %d layers, latent %d, "
                       "features %d x %d", net->enc_mu.in, net->enc_mu.out, net->enc_logvar.in, net->enc_logvar.out,
                       net->latent, C, P);
    const float *Wmu = gp_cpu_dense_hwc(be, net->enc_mu.W, net->latent, C, P);
    const float *Wlv = gp_cpu_dense_hwc(be, net->enc_logvar.W, net->latent, C, P);
    if (!Wmu || !Wlv) return GP_FAIL(err, GP_ERR_NOMEM, "encode_cutouts: cannot reorder the latent layers' weights");
    int st = gp_cpu_conv_stack_cutouts(be, cutouts, n, net->enc_h[0], net->enc_h[0], net->soft, net->offset,
                                       net->scale, 1, GP_ENC_CONVS, layer, GP_ACT_LEAKY_RELU, net->slope, scratch,
                                       err);
    if (st) return st;
    latent_job j = { net, Wmu, Wlv, scratch, mu, logvar, 0 };
    gp_blas_set_threads(1);
    gp_parallel_for(be->threads, (size_t)n, latent_rows, &j);
    if (j.nomem) return GP_FAIL(err, GP_ERR_NOMEM, "encode_cutouts: cannot allocate the partial sums");
    return GP_OK;
}
