/*
 * gp_cpu_gemm.c: a row-block GEMM for the flows' hidden layers (AVX-512):
 * one FMA chain per output in k order, so a row's values do not depend on
 * the other rows of its block.  Also the CPU feature checks
 * (gp_cpu_have_avx512, gp_cpu_have_amx), built without any ISA flags.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include "gp_cpu.h"
#include "gp_cpu_simd.h"
#if defined(__GNUC__) && defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__GNUC__) && defined(__x86_64__)
/* Y [R x N] = act(X [R x K] WT [K x N] + b), N a multiple of 64: rows in
 * sixes, 64 columns at a time, one FMA chain per output in k order (so a
 * row's values do not depend on R).  AVX-512; the caller checks. */
__attribute__((target("avx512f")))
void gp_cpu_gemm_rows64_avx512(const float *X, int R, int K, const float *WT, int N, const float *bias,
                               gp_act act, float slope, float *Y)
{
    const __m512 zero = _mm512_setzero_ps(), vslope = _mm512_set1_ps(slope);
    for (int cb = 0; cb < N; cb += 64) {
        __m512 b[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) b[v] = bias ? _mm512_loadu_ps(bias + cb + 16 * v) : zero;
        for (int r0 = 0; r0 < R; r0 += 6) {
            int np = R - r0 < 6 ? R - r0 : 6;
            const float *xr[6];
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++) xr[i] = X + (size_t)(r0 + (i < np ? i : 0)) * K;
            __m512 a[6][4];
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++)
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) a[i][v] = b[v];
            const float *wt = WT + cb;
            for (int k = 0; k < K; k++, wt += N) {
                __m512 w0 = _mm512_loadu_ps(wt), w1 = _mm512_loadu_ps(wt + 16),
                       w2 = _mm512_loadu_ps(wt + 32), w3 = _mm512_loadu_ps(wt + 48);
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++) {
                    __m512 x = _mm512_set1_ps(xr[i][k]);
                    a[i][0] = _mm512_fmadd_ps(x, w0, a[i][0]);
                    a[i][1] = _mm512_fmadd_ps(x, w1, a[i][1]);
                    a[i][2] = _mm512_fmadd_ps(x, w2, a[i][2]);
                    a[i][3] = _mm512_fmadd_ps(x, w3, a[i][3]);
                }
            }
            for (int i = 0; i < np; i++)
                for (int v = 0; v < 4; v++) {
                    __m512 y = gp_cpu_act_avx512(a[i][v], act, vslope);
                    _mm512_storeu_ps(Y + (size_t)(r0 + i) * N + cb + 16 * v, y);
                }
        }
    }
}

int gp_cpu_have_avx512(void)
{
    static int cpu = -1;
    if (cpu < 0) cpu = __builtin_cpu_supports("avx512f");
    return cpu;
}

#if defined(GP_HAVE_AMX) && defined(SYS_arch_prctl)
static int amx_usable;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

/* CPUID: AMX-TILE, AMX-BF16 (leaf 7 EDX bits 24, 22), AVX512-BF16 (leaf 7
 * subleaf 1 EAX bit 5), AVX-512F; then the kernel's permission for the
 * process to use the tile data state (Linux 5.16+), asked once. */
static void amx_probe(void)
{
    unsigned a, b, c, d;
    if (!gp_cpu_have_avx512() || __get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(d & (1u << 24)) || !(d & (1u << 22))) return;
    __cpuid_count(7, 1, a, b, c, d);
    if (!(a & (1u << 5))) return;
    const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    amx_usable = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int gp_cpu_have_amx(void)
{
    pthread_once(&amx_once, amx_probe);
    if (!amx_usable) return 0;
    const char *off = getenv("GP_CPU_NO_AMX");
    return !(off && *off && *off != '0');
}
#else
int gp_cpu_have_amx(void) { return 0; }
#endif
#else
void gp_cpu_gemm_rows64_avx512(const float *X, int R, int K, const float *WT, int N, const float *bias,
                               gp_act act, float slope, float *Y)
{
    (void)X; (void)R; (void)K; (void)WT; (void)N; (void)bias; (void)act; (void)slope; (void)Y;
}
int gp_cpu_have_avx512(void) { return 0; }
int gp_cpu_have_amx(void) { return 0; }
#endif

