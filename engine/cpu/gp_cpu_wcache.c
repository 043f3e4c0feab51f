/*
 * gp_cpu_wcache.c: weights rearranged for the CPU kernels (channels-last
 * convolution weights, transposed dense weights), made once per weight
 * tensor and kept by the backend until it closes (gp_cpu_impl.wcache).
 */
#include <pthread.h>
#include <stdlib.h>

#include "gp_cpu.h"

/* ---- reordered weights, cached per weight tensor for the backend's lifetime */

struct gp_cpu_wcache { const float *W; float *Wr; size_t n; int transposed; struct gp_cpu_wcache *next; };

void gp_cpu_wcache_free(gp_cpu_wcache *c)
{
    while (c) {
        gp_cpu_wcache *e = c;
        c = e->next;
        free(e->Wr);
        free(e);
    }
}

/* W [cout x cin x k x k] -> [cout x k x k x cin] (transposed: [k x k x cin
 * x cout]), kept by the backend (the weights live as long as it: they are
 * the model's); NULL when out of memory. */
const float *gp_cpu_conv_weights(gp_backend *be, const gp_conv_layer *L, int transposed)
{
    gp_cpu_impl *im = be->impl;
    size_t n = (size_t)L->cout * L->cin * L->k * L->k;
    pthread_mutex_lock(&im->mx);
    for (gp_cpu_wcache *e = im->wcache; e; e = e->next)
        if (e->W == L->W && e->n == n && e->transposed == transposed) { pthread_mutex_unlock(&im->mx); return e->Wr; }
    gp_cpu_wcache *e = malloc(sizeof *e);
    float *Wr = malloc(sizeof(float) * n);
    if (!e || !Wr) { free(e); free(Wr); pthread_mutex_unlock(&im->mx); return NULL; }
    const int k = L->k, cin = L->cin;
    for (int o = 0; o < L->cout; o++)
        for (int c = 0; c < cin; c++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    if (transposed)
                        Wr[((((size_t)ky * k + kx) * cin + c) * L->cout) + o] = L->W[(((size_t)o * cin + c) * k + ky) * k + kx];
                    else
                        Wr[(((size_t)o * k + ky) * k + kx) * cin + c] = L->W[(((size_t)o * cin + c) * k + ky) * k + kx];
    e->transposed = transposed;
    e->W = L->W;
    e->Wr = Wr;
    e->n = n;
    e->next = im->wcache;
    im->wcache = e;
    pthread_mutex_unlock(&im->mx);
    return Wr;
}

/* A dense weight W [out x in] transposed to [in x out], cached like the
 * reordered convolution weights (kind 2). */
const float *gp_cpu_dense_wt(gp_backend *be, const float *W, int out, int in)
{
    gp_cpu_impl *im = be->impl;
    size_t n = (size_t)out * in;
    pthread_mutex_lock(&im->mx);
    for (gp_cpu_wcache *e = im->wcache; e; e = e->next)
        if (e->W == W && e->n == n && e->transposed == 2) { pthread_mutex_unlock(&im->mx); return e->Wr; }
    gp_cpu_wcache *e = malloc(sizeof *e);
    float *Wt = malloc(sizeof(float) * n);
    if (!e || !Wt) { free(e); free(Wt); pthread_mutex_unlock(&im->mx); return NULL; }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) Wt[(size_t)i * out + o] = W[(size_t)o * in + i];
    e->W = W;
    e->Wr = Wt;
    e->n = n;
    e->transposed = 2;
    e->next = im->wcache;
    im->wcache = e;
    pthread_mutex_unlock(&im->mx);
    return Wt;
}


/* A dense weight W [out x (c x p)] whose input is a CHW feature map (c
 * channels of p pixels) with its input reordered for the same map stored
 * HWC: Wh[o][i * c + ch] = W[o][ch * p + i] (kind 4). */
const float *gp_cpu_dense_hwc(gp_backend *be, const float *W, int out, int c, int p)
{
    gp_cpu_impl *im = be->impl;
    size_t in = (size_t)c * p, n = (size_t)out * in;
    pthread_mutex_lock(&im->mx);
    for (gp_cpu_wcache *e = im->wcache; e; e = e->next)
        if (e->W == W && e->n == n && e->transposed == 4) { pthread_mutex_unlock(&im->mx); return e->Wr; }
    gp_cpu_wcache *e = malloc(sizeof *e);
    float *Wh = malloc(sizeof(float) * n);
    if (!e || !Wh) { free(e); free(Wh); pthread_mutex_unlock(&im->mx); return NULL; }
    for (int o = 0; o < out; o++)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < p; i++) Wh[(size_t)o * in + (size_t)i * c + ch] = W[(size_t)o * in + (size_t)ch * p + i];
    e->W = W;
    e->Wr = Wh;
    e->n = n;
    e->transposed = 4;
    e->next = im->wcache;
    im->wcache = e;
    pthread_mutex_unlock(&im->mx);
    return Wh;
}

/* The weights of a convolution as gp_cpu_amx_gemm_x6's B, three bf16
 * planes in the tile layout (kind 3; the uint16 data in a float block). */
const uint16_t *gp_cpu_conv_weights_amx(gp_backend *be, const gp_conv_layer *L)
{
#ifndef GP_HAVE_AMX
    (void)be; (void)L;
    return NULL;
#else
    const float *Wr = gp_cpu_conv_weights(be, L, 0);
    if (!Wr) return NULL;
    gp_cpu_impl *im = be->impl;
    const int K = L->cin * L->k * L->k;
    size_t n = (size_t)L->cout * K;
    pthread_mutex_lock(&im->mx);
    for (gp_cpu_wcache *e = im->wcache; e; e = e->next)
        if (e->W == L->W && e->n == n && e->transposed == 3) {
            pthread_mutex_unlock(&im->mx);
            return (const uint16_t *)e->Wr;
        }
    gp_cpu_wcache *e = malloc(sizeof *e);
    /* 64-byte aligned: each tile row is one cache line */
    float *B = aligned_alloc(64, (sizeof(uint16_t) * 3 * n + 63) & ~(size_t)63);
    if (!e || !B) { free(e); free(B); pthread_mutex_unlock(&im->mx); return NULL; }
    gp_cpu_amx_pack_b(Wr, L->cout, K, (uint16_t *)B);
    e->W = L->W;
    e->Wr = B;
    e->n = n;
    e->transposed = 3;
    e->next = im->wcache;
    im->wcache = e;
    pthread_mutex_unlock(&im->mx);
    return (const uint16_t *)B;
#endif
}
