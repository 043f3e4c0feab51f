/*
 * gp_cuda_dnn.cu: dense layers through cuBLAS and convolutions through
 * cuDNN for the CUDA backend.
 *
 * Dense: cuBLAS is column-major, and a row-major buffer read column-major
 * is its transpose.  So Y[rows x out] = X[rows x in] W[out x in]^T becomes
 * Y^T[out x rows] = W X^T where W's buffer, read as [in x out] (lda = in),
 * is transposed (CUBLAS_OP_T), X's buffer read as [in x rows] (ldb = in)
 * is X^T as it is (CUBLAS_OP_N), and Y's buffer read as [out x rows]
 * (ldc = out) is Y^T: cublasSgemm(T, N, m = out, n = rows, k = in).  Bias
 * and activation follow in one kernel.
 *
 * Convolutions (NCHW, float): conv2d is cudnnConvolutionForward with the
 * PyTorch weight layout [Cout x Cin x k x k]; conv_transpose2d is the
 * adjoint, cudnnConvolutionBackwardData of the convolution that maps the
 * output back to the input, whose filter [K = Cin, C = Cout, k, k] is
 * exactly PyTorch's ConvTranspose2d layout [Cin x Cout x k x k].  A plan
 * (descriptors, algorithm, workspace size) is kept per shape; the
 * algorithm is the fastest one cudnnFind measures (or cuDNN's heuristic
 * with GP_CUDA_CONV_ALGO=heuristic) whose workspace fits.
 *
 * Float32 is exact float32: cuBLAS uses CUBLAS_DEFAULT_MATH and cuDNN
 * CUDNN_FMA_MATH, which exclude TF32 tensor cores, unless GP_CUDA_TF32=1.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_cuda.h"

/* Largest convolution workspace accepted (bytes). */
#define GP_CUDA_WS_LIMIT ((size_t)1 << 30)

#define TRY(x) do { int st_ = (x); if (st_) return st_; } while (0)

int gp_cuda_dense(gp_backend *be, const float *X, int rows, int in, const float *W,
                  const float *b, int out, gp_act act, float slope, float *Y, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (rows < 0 || in < 1 || out < 1)
        return GP_FAIL(err, GP_ERR_ARG, "dense: invalid shape rows=%d in=%d out=%d", rows, in, out);
    if (rows == 0) return GP_OK;
    char what[80];
    snprintf(what, sizeof what, "dense %dx%d -> %d", rows, in, out);
    TRY(gp_cuda_enter(c, what, err));
    const float one = 1.0f, zero = 0.0f;
    GP_CUBLAS(err, what, cublasSgemm, c->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in,
              &one, W, in, X, in, &zero, Y, out);
    return gp_cuda_k_bias_act(c, Y, (size_t)rows * out, out, 1, b, act, slope, what, err);
}

/* ------------------------------------------------------------ plans */

static void plan_clear(gp_cuda_conv_plan *p)
{
    if (p->in) cudnnDestroyTensorDescriptor(p->in);
    if (p->out) cudnnDestroyTensorDescriptor(p->out);
    if (p->filter) cudnnDestroyFilterDescriptor(p->filter);
    if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    memset(p, 0, sizeof *p);
}

void gp_cuda_plans_free(gp_cuda *c)
{
    for (int i = 0; i < GP_CUDA_CONV_PLANS; i++) plan_clear(&c->plans[i]);
}

/* Pick the first usable algorithm of a list ordered best first: its status
 * is success, float32 math can be forced on it (unless TF32 is allowed) and
 * its workspace fits. */
static int choose_fwd(gp_cuda *c, gp_cuda_conv_plan *p, const cudnnConvolutionFwdAlgoPerf_t *perf,
                      int got)
{
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        cudnnMathType_t m = c->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
        size_t ws = 0;
        if (cudnnSetConvolutionMathType(p->conv, m) != CUDNN_STATUS_SUCCESS) continue;
        if (cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->in, p->filter, p->conv, p->out,
                                                    perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS)
            continue;
        if (ws > GP_CUDA_WS_LIMIT) continue;
        p->algo = (int)perf[i].algo;
        p->workspace = ws;
        return 1;
    }
    return 0;
}

static int choose_bwd(gp_cuda *c, gp_cuda_conv_plan *p, const cudnnConvolutionBwdDataAlgoPerf_t *perf,
                      int got)
{
    /* deterministic algorithms first (some accumulate with atomics) */
    for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        if (pass == 0 && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        cudnnMathType_t m = c->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
        size_t ws = 0;
        if (cudnnSetConvolutionMathType(p->conv, m) != CUDNN_STATUS_SUCCESS) continue;
        /* backward data: the filter, dy = our input, dx = our output */
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, p->filter, p->in, p->conv, p->out,
                                                         perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS)
            continue;
        if (ws > GP_CUDA_WS_LIMIT) continue;
        p->algo = (int)perf[i].algo;
        p->workspace = ws;
        return 1;
    }
    return 0;
}

static int plan_build(gp_cuda *c, gp_cuda_conv_plan *p, const int key[10], int ho, int wo,
                      const char *what, gp_error *err)
{
    const int transpose = key[0], n = key[1], cin = key[2], h = key[3], w = key[4],
              cout = key[5], k = key[6], s = key[7], pad = key[8];
    GP_CUDNN(err, what, cudnnCreateTensorDescriptor, &p->in);
    GP_CUDNN(err, what, cudnnCreateTensorDescriptor, &p->out);
    GP_CUDNN(err, what, cudnnCreateFilterDescriptor, &p->filter);
    GP_CUDNN(err, what, cudnnCreateConvolutionDescriptor, &p->conv);
    GP_CUDNN(err, what, cudnnSetTensor4dDescriptor, p->in, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, cin, h, w);
    GP_CUDNN(err, what, cudnnSetTensor4dDescriptor, p->out, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, cout, ho, wo);
    /* filter [K x C x k x k], K the forward convolution's output channels */
    GP_CUDNN(err, what, cudnnSetFilter4dDescriptor, p->filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
             transpose ? cin : cout, transpose ? cout : cin, k, k);
    GP_CUDNN(err, what, cudnnSetConvolution2dDescriptor, p->conv, pad, pad, s, s, 1, 1,
             CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    GP_CUDNN(err, what, cudnnSetConvolutionMathType, p->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);

    /* the forward convolution's geometry must give back the other side */
    int on = 0, oc = 0, oh = 0, ow = 0;
    if (!transpose) {
        GP_CUDNN(err, what, cudnnGetConvolution2dForwardOutputDim, p->conv, p->in, p->filter, &on, &oc, &oh, &ow);
        if (on != n || oc != cout || oh != ho || ow != wo)
            return GP_FAIL(err, GP_ERR_INTERNAL, "CUDA %s: cuDNN output %dx%dx%dx%d, expected %dx%dx%dx%d",
                           what, on, oc, oh, ow, n, cout, ho, wo);
    } else {
        GP_CUDNN(err, what, cudnnGetConvolution2dForwardOutputDim, p->conv, p->out, p->filter, &on, &oc, &oh, &ow);
        if (on != n || oc != cin || oh != h || ow != w)
            return GP_FAIL(err, GP_ERR_INTERNAL, "CUDA %s: cuDNN adjoint gives %dx%dx%dx%d, expected %dx%dx%dx%d",
                           what, on, oc, oh, ow, n, cin, h, w);
    }

    int got = 0, ok = 0;
    if (!transpose) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        if (c->find_algo &&
            cudnnFindConvolutionForwardAlgorithm(c->dnn, p->in, p->filter, p->conv, p->out,
                                                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf) == CUDNN_STATUS_SUCCESS)
            ok = choose_fwd(c, p, perf, got);
        (void)cudaGetLastError();  /* a failed search (out of memory) falls back to heuristics */
        if (!ok) {
            GP_CUDNN(err, what, cudnnSetConvolutionMathType, p->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
            GP_CUDNN(err, what, cudnnGetConvolutionForwardAlgorithm_v7, c->dnn, p->in, p->filter, p->conv,
                     p->out, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf);
            ok = choose_fwd(c, p, perf, got);
        }
    } else {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        if (c->find_algo &&
            cudnnFindConvolutionBackwardDataAlgorithm(c->dnn, p->filter, p->in, p->conv, p->out,
                                                      CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf) == CUDNN_STATUS_SUCCESS)
            ok = choose_bwd(c, p, perf, got);
        (void)cudaGetLastError();
        if (!ok) {
            GP_CUDNN(err, what, cudnnSetConvolutionMathType, p->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
            GP_CUDNN(err, what, cudnnGetConvolutionBackwardDataAlgorithm_v7, c->dnn, p->filter, p->in, p->conv,
                     p->out, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf);
            ok = choose_bwd(c, p, perf, got);
        }
    }
    if (!ok)
        return GP_FAIL(err, GP_ERR_BACKEND, "CUDA %s: cuDNN offers no float32 algorithm with a workspace under %zu MiB",
                       what, GP_CUDA_WS_LIMIT >> 20);
    /* GP_CUDA_LOG_PLANS=1: one line per plan on stderr, for diagnosing an algorithm */
    const char *lp = getenv("GP_CUDA_LOG_PLANS");
    if (lp && strcmp(lp, "1") == 0)
        fprintf(stderr, "galpost cuda: plan %s: %s algorithm %d (%s), workspace %zu bytes\n", what,
                transpose ? "backward-data" : "forward", p->algo, c->find_algo ? "measured" : "heuristic",
                p->workspace);
    return GP_OK;
}

/* The plan for a shape, built on first use; the least recently used one
 * makes room. */
static int plan_get(gp_cuda *c, const int key[10], int ho, int wo, gp_cuda_conv_plan **out,
                    const char *what, gp_error *err)
{
    gp_cuda_conv_plan *victim = NULL;
    for (int i = 0; i < GP_CUDA_CONV_PLANS; i++) {
        gp_cuda_conv_plan *p = &c->plans[i];
        if (p->valid && memcmp(p->key, key, sizeof p->key) == 0) {
            p->used = ++c->clock;
            *out = p;
            return GP_OK;
        }
        if (!victim || (victim->valid && (!p->valid || p->used < victim->used))) victim = p;
    }
    plan_clear(victim);
    int st = plan_build(c, victim, key, ho, wo, what, err);
    if (st) {
        plan_clear(victim);
        return st;
    }
    memcpy(victim->key, key, sizeof victim->key);
    victim->valid = 1;
    victim->used = ++c->clock;
    *out = victim;
    return GP_OK;
}

static int conv_run(gp_backend *be, int transpose, const float *X, int n, int cin, int h, int w,
                    const float *W, const float *b, int cout, int k, int stride, int pad, int ho,
                    int wo, gp_act act, float slope, float *Y, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    char what[128];
    snprintf(what, sizeof what, "%s %dx%dx%dx%d -> %d k%d s%d p%d", transpose ? "conv_transpose2d" : "conv2d",
             n, cin, h, w, cout, k, stride, pad);
    if ((double)n * cout * ho * wo > 2147483647.0 || (double)n * cin * h * w > 2147483647.0)
        return GP_FAIL(err, GP_ERR_ARG, "CUDA %s: more than 2^31 values in a tensor", what);
    TRY(gp_cuda_enter(c, what, err));
    const int key[10] = { transpose, n, cin, h, w, cout, k, stride, pad, c->tf32 };
    gp_cuda_conv_plan *p;
    TRY(plan_get(c, key, ho, wo, &p, what, err));
    TRY(gp_cuda_workspace(c, p->workspace, what, err));
    const float one = 1.0f, zero = 0.0f;
    if (!transpose)
        GP_CUDNN(err, what, cudnnConvolutionForward, c->dnn, &one, p->in, X, p->filter, W, p->conv,
                 (cudnnConvolutionFwdAlgo_t)p->algo, c->ws, p->workspace, &zero, p->out, Y);
    else
        GP_CUDNN(err, what, cudnnConvolutionBackwardData, c->dnn, &one, p->filter, W, p->in, X, p->conv,
                 (cudnnConvolutionBwdDataAlgo_t)p->algo, c->ws, p->workspace, &zero, p->out, Y);
    return gp_cuda_k_bias_act(c, Y, (size_t)n * cout * (size_t)ho * wo, cout, (size_t)ho * wo, b, act,
                              slope, what, err);
}

int gp_cuda_conv2d(gp_backend *be, const float *X, int n, int cin, int h, int w,
                   const float *W, const float *b, int cout, int k, int stride, int pad,
                   gp_act act, float slope, float *Y, gp_error *err)
{
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        h + 2 * pad < k || w + 2 * pad < k)
        return GP_FAIL(err, GP_ERR_ARG, "conv2d: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    if (n == 0) return GP_OK;
    return conv_run(be, 0, X, n, cin, h, w, W, b, cout, k, stride, pad, (h + 2 * pad - k) / stride + 1,
                    (w + 2 * pad - k) / stride + 1, act, slope, Y, err);
}

int gp_cuda_conv_transpose2d(gp_backend *be, const float *X, int n, int cin, int h, int w,
                             const float *W, const float *b, int cout, int k, int stride,
                             int pad, gp_act act, float slope, float *Y, gp_error *err)
{
    int ho = (h - 1) * stride - 2 * pad + k, wo = (w - 1) * stride - 2 * pad + k;
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        ho < 1 || wo < 1)
        return GP_FAIL(err, GP_ERR_ARG, "conv_transpose2d: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    if (n == 0) return GP_OK;
    return conv_run(be, 1, X, n, cin, h, w, W, b, cout, k, stride, pad, ho, wo, act, slope, Y, err);
}
