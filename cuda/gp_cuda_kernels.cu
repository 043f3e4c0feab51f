/*
 * gp_cuda_kernels.cu: the element-wise kernels of the CUDA backend.
 *
 * Each kernel is a grid-stride loop around a function of gp_cuda_elem.h,
 * which holds the arithmetic shared with the host test; the launchers queue
 * them on the backend's stream and check the launch.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include "gp_cuda.h"

#define GP_CU_BLOCK 256

/* Blocks for n elements; the loops stride over the rest. */
static unsigned grid_for(size_t n)
{
    size_t b = (n + GP_CU_BLOCK - 1) / GP_CU_BLOCK;
    const size_t maxb = (size_t)1 << 19;
    return (unsigned)(b < maxb ? (b ? b : 1) : maxb);
}

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * blockDim.x)

__global__ void k_bias_act(float *y, size_t n, int channels, size_t plane, const float *b,
                           int act, float slope)
{
    GRID_STRIDE(i, n) gp_cu_bias_act_at(i, y, channels, plane, b, act, slope);
}

__global__ void k_stretch(float *x, size_t n, int bands, size_t plane, gp_cu_stretch_par p)
{
    GRID_STRIDE(i, n) gp_cu_stretch_at(i, x, bands, plane, p.inv_soft, p.offset, p.inv_scale);
}

/* One block a plane (blockIdx.x), its threads over the plane's values, four
 * at a time when the plane's values are 16-byte aligned. */
__global__ void k_bias_act_planes(float *y, int channels, int plane, const float *b, int act,
                                  float slope)
{
    const size_t p = blockIdx.x;
    float *yp = y + p * (size_t)plane;
    if ((plane & 3) == 0 && ((uintptr_t)yp & 15) == 0) {
        const float bv = b ? b[blockIdx.x % (unsigned)channels] : 0.0f;
        float4 *v = (float4 *)yp;
        for (int j = threadIdx.x; j < plane / 4; j += blockDim.x) {
            float4 a = v[j];
            a.x = gp_cu_act(a.x + bv, act, slope);
            a.y = gp_cu_act(a.y + bv, act, slope);
            a.z = gp_cu_act(a.z + bv, act, slope);
            a.w = gp_cu_act(a.w + bv, act, slope);
            v[j] = a;
        }
    } else {
        gp_cu_bias_act_plane(p, y, channels, plane, b, threadIdx.x, blockDim.x, act, slope);
    }
}

__global__ void k_stretch_planes(float *x, int bands, int plane, gp_cu_stretch_par q)
{
    const size_t p = blockIdx.x;
    float *xp = x + p * (size_t)plane;
    if ((plane & 3) == 0 && ((uintptr_t)xp & 15) == 0) {
        const int c = (int)(blockIdx.x % (unsigned)bands);
        const float s = q.inv_soft[c], o = q.offset[c], k = q.inv_scale[c];
        float4 *v = (float4 *)xp;
        for (int j = threadIdx.x; j < plane / 4; j += blockDim.x) {
            float4 a = v[j];
            a.x = (asinhf(a.x * s) - o) * k;
            a.y = (asinhf(a.y * s) - o) * k;
            a.z = (asinhf(a.z * s) - o) * k;
            a.w = (asinhf(a.w * s) - o) * k;
            v[j] = a;
        }
    } else {
        gp_cu_stretch_plane(p, x, bands, plane, q.inv_soft, q.offset, q.inv_scale, threadIdx.x, blockDim.x);
    }
}

__global__ void k_flag_nonfinite(const float *x, size_t n, size_t per, int *flags)
{
    GRID_STRIDE(i, n) gp_cu_flag_nonfinite_at(i, x, per, flags);
}

__global__ void k_normals(uint64_t seed, const uint64_t *gal_id, const int *row_gal,
                          const int *sample_idx, int rows, int stream, int dim, float *out)
{
    GRID_STRIDE(r, (size_t)rows)
        gp_cu_normals_row((int)r, seed, gal_id, row_gal, sample_idx, stream, dim, out);
}

__global__ void k_add_rows(float *Y, size_t total, int n, const float *C, const int *row_gal)
{
    GRID_STRIDE(i, total) gp_cu_add_rows_at(i, Y, n, C, row_gal);
}

__global__ void k_gather(const float *X, size_t total, int ncols, const int *idx,
                         gp_cu_small small, int m, float *Y)
{
    const int *ix = idx ? idx : small.v;
    GRID_STRIDE(i, total) gp_cu_gather_at(i, X, ncols, ix, m, Y);
}

__global__ void k_coupling(float *x, int rows, int dim, const int *tidx, gp_cu_small small,
                           int nt, const float *st, float S, int dir, double *logdet)
{
    const int *ix = tidx ? tidx : small.v;
    GRID_STRIDE(r, (size_t)rows) gp_cu_coupling_row((int)r, x, dim, ix, nt, st, S, dir, logdet);
}

__global__ void k_add(const float *X, const float *Z, size_t n, float *Y)
{
    GRID_STRIDE(i, n) gp_cu_add_at(i, X, Z, Y);
}

__global__ void k_exp_half(const float *X, size_t n, float *Y)
{
    GRID_STRIDE(i, n) gp_cu_exp_half_at(i, X, Y);
}

__global__ void k_activate(float *x, size_t n, int act, float slope)
{
    GRID_STRIDE(i, n) gp_cu_activate_at(i, x, act, slope);
}

/* Threads for a kernel of one block a plane: enough for a plane's values
 * (four at a time) in a whole number of warps, at most GP_CU_BLOCK; 0 when
 * the element-wise kernel serves better (planes of fewer than 16 values,
 * dense layers' plane of 1, more planes than a grid holds, or
 * GP_CUDA_ELEM=generic). */
static int plane_threads(const gp_cuda *c, size_t n, size_t plane)
{
    if (c->elem_generic || plane < 16 || plane > (size_t)INT_MAX || n % plane != 0 ||
        n / plane > (size_t)INT_MAX)
        return 0;
    size_t w = (plane % 4 == 0 ? plane / 4 : plane);
    w = (w + 31) / 32 * 32;
    return (int)(w < GP_CU_BLOCK ? w : GP_CU_BLOCK);
}

int gp_cuda_k_bias_act(gp_cuda *c, float *y, size_t n, int channels, size_t plane,
                       const float *b, gp_act act, float slope, const char *what, gp_error *err)
{
    if (n == 0 || (!b && act == GP_ACT_NONE)) return GP_OK;
    const int t = plane_threads(c, n, plane);
    if (t)
        k_bias_act_planes<<<(unsigned)(n / plane), t, 0, c->stream>>>(y, channels, (int)plane, b, (int)act, slope);
    else
        k_bias_act<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(y, n, channels, plane, b, (int)act, slope);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_stretch(gp_cuda *c, float *x, size_t n, int bands, size_t plane,
                      const gp_cu_stretch_par *p, const char *what, gp_error *err)
{
    if (n == 0) return GP_OK;
    const int t = plane_threads(c, n, plane);
    if (t)
        k_stretch_planes<<<(unsigned)(n / plane), t, 0, c->stream>>>(x, bands, (int)plane, *p);
    else
        k_stretch<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(x, n, bands, plane, *p);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_normals(gp_cuda *c, uint64_t seed, const uint64_t *gal_id, const int *row_gal,
                      const int *sample_idx, int rows, int stream, int dim, float *out,
                      const char *what, gp_error *err)
{
    if (rows <= 0) return GP_OK;
    k_normals<<<grid_for((size_t)rows), GP_CU_BLOCK, 0, c->stream>>>(seed, gal_id, row_gal, sample_idx,
                                                                     rows, stream, dim, out);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_add_rows(gp_cuda *c, float *Y, int rows, int n, const float *C,
                       const int *row_gal, const char *what, gp_error *err)
{
    size_t total = (size_t)rows * (size_t)n;
    if (total == 0) return GP_OK;
    k_add_rows<<<grid_for(total), GP_CU_BLOCK, 0, c->stream>>>(Y, total, n, C, row_gal);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_gather(gp_cuda *c, const float *X, int rows, int ncols, const int *idx,
                     const gp_cu_small *small, int m, float *Y, const char *what, gp_error *err)
{
    size_t total = (size_t)rows * (size_t)m;
    if (total == 0) return GP_OK;
    gp_cu_small none = { 0, { 0 } };
    k_gather<<<grid_for(total), GP_CU_BLOCK, 0, c->stream>>>(X, total, ncols, idx, small ? *small : none, m, Y);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_coupling(gp_cuda *c, float *x, int rows, int dim, const int *tidx,
                       const gp_cu_small *small, int nt, const float *st, float S, int dir,
                       double *logdet, const char *what, gp_error *err)
{
    if (rows <= 0) return GP_OK;
    gp_cu_small none = { 0, { 0 } };
    k_coupling<<<grid_for((size_t)rows), GP_CU_BLOCK, 0, c->stream>>>(x, rows, dim, tidx, small ? *small : none,
                                                                      nt, st, S, dir, logdet);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_add(gp_cuda *c, const float *X, const float *Z, size_t n, float *Y,
                  const char *what, gp_error *err)
{
    if (n == 0) return GP_OK;
    k_add<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(X, Z, n, Y);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_flag_nonfinite(gp_cuda *c, const float *x, size_t n, size_t per, int *flags,
                             const char *what, gp_error *err)
{
    if (n == 0) return GP_OK;
    k_flag_nonfinite<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(x, n, per, flags);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_exp_half(gp_cuda *c, const float *X, size_t n, float *Y, const char *what,
                       gp_error *err)
{
    if (n == 0) return GP_OK;
    k_exp_half<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(X, n, Y);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_k_activate(gp_cuda *c, float *x, size_t n, gp_act act, float slope,
                       const char *what, gp_error *err)
{
    if (n == 0 || act == GP_ACT_NONE) return GP_OK;
    k_activate<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(x, n, (int)act, slope);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}
