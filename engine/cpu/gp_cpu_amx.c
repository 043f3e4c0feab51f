/*
 * gp_cpu_amx.c: convolution GEMMs on the AMX tile unit in split bf16
 * ("bf16x6"), at fp32 accuracy.
 *
 * Every fp32 operand is split into three bf16 parts, a = a0 + a1 + a2
 * (a0 = bf16(a), a1 = bf16(a - a0), a2 = bf16(a - a0 - a1); each
 * difference exact in fp32), which hold its 24 bits.  A product is then
 *   a b ~ a0 b0 + a0 b1 + a1 b0 + a0 b2 + a1 b1 + a2 b0,
 * dropping terms below 2^-24 |a b|; TDPBF16PS multiplies bf16 pairs
 * exactly and accumulates in fp32 tiles, so the result is as accurate as
 * an fp32 dot product.  The cheaper "bf16x3" (two parts, three products)
 * leaves ~2^-18 per product: on the default-architecture encoder that is
 * 0.5-1.0e-5 of mu's largest value, at the project's 1e-5 tolerance, so it
 * is not used (bench/RESULTS.md, issue 7).
 *
 * B, a layer's weights [N x K] (rows in (ky, kx, c) order), is packed
 * once per model as three bf16 planes in the tile (VNNI) layout
 * [N/16][K/32][16 k pairs][16 n][2].  A, the activations, is read straight
 * from the band's input rows, split once per band (gp_cpu_amx_conv_x6).
 * Each output is one fp32 tile accumulation over the K taps in 32-wide
 * steps, its six products in the same order whatever the band, the batch
 * or the thread: the encoder's features stay bit-identical for any batch
 * size and thread count, as with the AVX-512 kernels.
 *
 * Compiled with -mamx-tile -mamx-bf16 -mavx512f -mavx512bf16 (engine/
 * local.mk): call nothing here unless gp_cpu_have_amx() (gp_cpu_gemm.c).
 * Each call configures the calling thread's tiles and releases them.
 */
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "gp_cpu.h"

/* bf16 of x rounded to nearest even (x finite), and back */
static uint16_t bf16_rne(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;   /* denormals to zero, as VCVTNEPS2BF16 */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void gp_cpu_amx_pack_b(const float *Wr, int N, int K, uint16_t *B)
{
    const size_t plane = (size_t)N * K, kbs = (size_t)K / 32;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            float r = Wr[(size_t)n * K + k];
            size_t o = ((((size_t)(n / 16) * kbs + (size_t)(k / 32)) * 16 + (size_t)(k % 32) / 2) * 16 +
                        (size_t)(n % 16)) * 2 + (size_t)(k % 2);
            for (int part = 0; part < 3; part++) {
                uint16_t h = bf16_rne(r);
                B[part * plane + o] = h;
                r -= bf16_to_float(h);
            }
        }
}

/* 16 floats -> their three bf16 parts */
static inline void split16(__m512 v, __m256i *h0, __m256i *h1, __m256i *h2)
{
    __m256bh a = _mm512_cvtneps_pbh(v);
    v = _mm512_sub_ps(v, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)a), 16)));
    __m256bh b = _mm512_cvtneps_pbh(v);
    v = _mm512_sub_ps(v, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)b), 16)));
    *h0 = (__m256i)a;
    *h1 = (__m256i)b;
    *h2 = (__m256i)_mm512_cvtneps_pbh(v);
}

/* n floats of s -> the three bf16 parts at d, d + plane, d + 2 plane */
static inline void split_run(const float *s, size_t n, uint16_t *d, size_t plane)
{
    __m256i h0, h1, h2;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        split16(_mm512_loadu_ps(s + i), &h0, &h1, &h2);
        _mm256_storeu_si256((__m256i *)(d + i), h0);
        _mm256_storeu_si256((__m256i *)(d + plane + i), h1);
        _mm256_storeu_si256((__m256i *)(d + 2 * plane + i), h2);
    }
    if (i < n) {   /* tail (no AVX512-BW/VL masked store with this file's flags) */
        uint16_t t[3][16];
        split16(_mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1u), s + i), &h0, &h1, &h2);
        _mm256_storeu_si256((__m256i *)t[0], h0);
        _mm256_storeu_si256((__m256i *)t[1], h1);
        _mm256_storeu_si256((__m256i *)t[2], h2);
        for (int part = 0; part < 3; part++) memcpy(d + part * plane + i, t[part], sizeof(uint16_t) * (n - i));
    }
}

static inline void zero_run(uint16_t *d, size_t n, size_t plane)
{
    for (int part = 0; part < 3; part++) memset(d + part * plane, 0, sizeof(uint16_t) * n);
}

struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* accumulators: tiles 0-3 (2 x 2 blocks of 16 x 16 fp32); A parts: 4, 5 (16
 * pixels x 32 k each); B parts: 6, 7 (16 k pairs x 16 channels x 2) */
#define DP_2X2() do { _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); \
                      _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7); } while (0)

/* The implicit-GEMM form (no im2col).  The band's input rows are split
 * into bf16 and stored by row phase (input row oy s + ky lands in phase
 * ky mod s, row oy + ky / s), each row pitch = s wq pixels, wq = wp / s
 * rounded up.  Output pixel q = oy wq + ox (ox < wq; ox >= wo are
 * discarded) then reads its taps of (ky, kx, c) at
 *   phase[ky mod s] + ((ky / s) pitch + q s) c + kx c + ci,
 * so consecutive q are s c values apart whatever the row: a tile is 16
 * consecutive q, as in an im2col, without writing one. */
static void conv_geometry(int wp, int c, int k, int s, int rows, size_t *pitch, int *wq, size_t *mq, size_t *phase,
                          int *trows)
{
    *wq = (wp + s - 1) / s;
    *pitch = (size_t)s * *wq * c;
    *mq = ((size_t)rows * *wq + 31) & ~(size_t)31;
    *trows = rows + (k - 1) / s;
    *phase = (*mq * s * c + (size_t)((k - 1) / s) * *pitch + (size_t)k * c + 31) & ~(size_t)31;
}

size_t gp_cpu_amx_conv_scratch(int wp, int c, int k, int s, int wo, int rows, size_t *c_rows)
{
    size_t pitch, mq, phase;
    int wq, trows;
    (void)wo;
    conv_geometry(wp, c, k, s, rows, &pitch, &wq, &mq, &phase, &trows);
    if (c_rows) *c_rows = mq;
    return 3 * (size_t)s * phase;
}

void gp_cpu_amx_conv_x6(const float *x, int wp, int c, int k, int s, int wo, int rows, const uint16_t *B, int N,
                        uint16_t *A, float *C)
{
    size_t pitch, mq, phase;
    int wq, trows;
    conv_geometry(wp, c, k, s, rows, &pitch, &wq, &mq, &phase, &trows);
    const size_t plane = (size_t)s * phase, rowlen = (size_t)wp * c;
    const int nin = (rows - 1) * s + k;   /* input rows of the band */
    for (int f = 0; f < s; f++) {
        uint16_t *ph = A + (size_t)f * phase;
        for (int t = 0; t < trows; t++) {
            int iy = f + s * t;
            uint16_t *d = ph + (size_t)t * pitch;
            if (iy < nin) {
                split_run(x + (size_t)iy * rowlen, rowlen, d, plane);
                if (pitch > rowlen) zero_run(d + rowlen, pitch - rowlen, plane);
            } else {
                zero_run(d, pitch, plane);
            }
        }
        zero_run(ph + (size_t)trows * pitch, phase - (size_t)trows * pitch, plane);
    }

    struct tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.rows[t] = 16; cfg.colsb[t] = 64; }
    _tile_loadconfig(&cfg);
    const int run = k * c, K = k * run;
    const size_t bplane = (size_t)N * K, kbs = (size_t)K / 32, c1 = kbs * 512;
    const size_t as = (size_t)s * c * sizeof(uint16_t), cs = (size_t)N * sizeof(float);
    const size_t r1 = (size_t)16 * s * c;   /* the second tile's first pixel */
    for (size_t q = 0; q < mq; q += 32) {
        for (int n0 = 0; n0 < N; n0 += 32) {
            const uint16_t *b0 = B + (size_t)(n0 / 16) * kbs * 512, *b1 = b0 + bplane, *b2 = b1 + bplane;
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            size_t bo = 0;
            for (int ky = 0; ky < k; ky++) {
                const uint16_t *a0 = A + (size_t)(ky % s) * phase + (size_t)(ky / s) * pitch + q * s * c;
                const uint16_t *a1 = a0 + plane, *a2 = a1 + plane;
                for (int j = 0; j < run; j += 32, bo += 512) {
                    _tile_loadd(4, a2 + j, as); _tile_loadd(5, a2 + j + r1, as);
                    _tile_loadd(6, b0 + bo, 64); _tile_loadd(7, b0 + bo + c1, 64);
                    DP_2X2();                                                   /* a2 b0 */
                    _tile_loadd(4, a1 + j, as); _tile_loadd(5, a1 + j + r1, as);
                    DP_2X2();                                                   /* a1 b0 */
                    _tile_loadd(6, b1 + bo, 64); _tile_loadd(7, b1 + bo + c1, 64);
                    DP_2X2();                                                   /* a1 b1 */
                    _tile_loadd(4, a0 + j, as); _tile_loadd(5, a0 + j + r1, as);
                    _tile_loadd(6, b2 + bo, 64); _tile_loadd(7, b2 + bo + c1, 64);
                    DP_2X2();                                                   /* a0 b2 */
                    _tile_loadd(6, b1 + bo, 64); _tile_loadd(7, b1 + bo + c1, 64);
                    DP_2X2();                                                   /* a0 b1 */
                    _tile_loadd(6, b0 + bo, 64); _tile_loadd(7, b0 + bo + c1, 64);
                    DP_2X2();                                                   /* a0 b0 */
                }
            }
            float *cp = C + q * N + n0;
            _tile_stored(0, cp, cs); _tile_stored(1, cp + 16, cs);
            _tile_stored(2, cp + 16 * (size_t)N, cs); _tile_stored(3, cp + 16 * (size_t)N + 16, cs);
        }
    }
    _tile_release();
}
