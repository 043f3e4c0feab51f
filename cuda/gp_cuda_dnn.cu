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
 * (descriptors, algorithm, workspace size) is kept per shape and
 * direction; the algorithm is the fastest one cudnnFind measures (or
 * cuDNN's heuristic with GP_CUDA_CONV_ALGO=heuristic) whose workspace
 * fits, deterministic ones only for filter gradients.
 *
 * Training (backward passes): dense layers are two more sgemm calls;
 * convolutions use backward data / backward filter of the same cuDNN
 * convolution, with the roles of forward and backward data swapped for
 * the transposed convolution (see conv_backward).
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
 * its workspace fits.  cx and cy are the convolution's input and output
 * (see plan_build). */
static int choose_fwd(gp_cuda *c, gp_cuda_conv_plan *p, cudnnTensorDescriptor_t cx,
                      cudnnTensorDescriptor_t cy, const cudnnConvolutionFwdAlgoPerf_t *perf, int got)
{
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        cudnnMathType_t m = c->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
        size_t ws = 0;
        if (cudnnSetConvolutionMathType(p->conv, m) != CUDNN_STATUS_SUCCESS) continue;
        if (cudnnGetConvolutionForwardWorkspaceSize(c->dnn, cx, p->filter, p->conv, cy,
                                                    perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS)
            continue;
        if (ws > GP_CUDA_WS_LIMIT) continue;
        p->algo = (int)perf[i].algo;
        p->workspace = ws;
        return 1;
    }
    return 0;
}

static int choose_bwd(gp_cuda *c, gp_cuda_conv_plan *p, cudnnTensorDescriptor_t cx,
                      cudnnTensorDescriptor_t cy, const cudnnConvolutionBwdDataAlgoPerf_t *perf, int got)
{
    /* deterministic algorithms first (some accumulate with atomics) */
    for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        if (pass == 0 && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        cudnnMathType_t m = c->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
        size_t ws = 0;
        if (cudnnSetConvolutionMathType(p->conv, m) != CUDNN_STATUS_SUCCESS) continue;
        /* backward data: the filter, dy on the output side, dx on the input side */
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, p->filter, cy, p->conv, cx,
                                                         perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS)
            continue;
        if (ws > GP_CUDA_WS_LIMIT) continue;
        p->algo = (int)perf[i].algo;
        p->workspace = ws;
        return 1;
    }
    return 0;
}

/* Filter gradients: deterministic algorithms only (ALGO_0 and ALGO_3 add
 * with atomics), so that training is reproducible. */
static int choose_bwf(gp_cuda *c, gp_cuda_conv_plan *p, cudnnTensorDescriptor_t cx,
                      cudnnTensorDescriptor_t cy, const cudnnConvolutionBwdFilterAlgoPerf_t *perf, int got)
{
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        if (perf[i].algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || perf[i].algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3)
            continue;
        cudnnMathType_t m = c->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
        size_t ws = 0;
        if (cudnnSetConvolutionMathType(p->conv, m) != CUDNN_STATUS_SUCCESS) continue;
        if (cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, cx, cy, p->conv, p->filter,
                                                           perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS)
            continue;
        if (ws > GP_CUDA_WS_LIMIT) continue;
        p->algo = (int)perf[i].algo;
        p->workspace = ws;
        return 1;
    }
    return 0;
}

/*
 * Descriptors and algorithm for key = { transpose, n, cin, h, w, cout, k,
 * stride, pad, tf32, kind, find }.  p->in is [n x cin x h x w] and p->out
 * [n x cout x ho x wo], the layer's input and output.  The cuDNN
 * convolution underneath maps cx to cy with p->filter: for conv2d cx = in,
 * cy = out; for conv_transpose2d (whose weights [cin x cout x k x k] are
 * the filter [K = cin, C = cout]) cx = out, cy = in.  kind picks what the
 * plan runs on that convolution: forward (cx -> cy), backward data
 * (cy -> cx, the adjoint) or backward filter (x in cx, dy in cy).
 */
static int plan_build(gp_cuda *c, gp_cuda_conv_plan *p, const int key[12], int ho, int wo,
                      const char *what, gp_error *err)
{
    const int transpose = key[0], n = key[1], cin = key[2], h = key[3], w = key[4],
              cout = key[5], k = key[6], s = key[7], pad = key[8], kind = key[10], find = key[11];
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
    cudnnTensorDescriptor_t cx = transpose ? p->out : p->in, cy = transpose ? p->in : p->out;

    /* the forward convolution's geometry must give back the other side */
    int on = 0, oc = 0, oh = 0, ow = 0;
    GP_CUDNN(err, what, cudnnGetConvolution2dForwardOutputDim, p->conv, cx, p->filter, &on, &oc, &oh, &ow);
    const int en = n, ec = transpose ? cin : cout, eh = transpose ? h : ho, ew = transpose ? w : wo;
    if (on != en || oc != ec || oh != eh || ow != ew)
        return GP_FAIL(err, GP_ERR_INTERNAL, "CUDA %s: cuDNN convolution gives %dx%dx%dx%d, expected %dx%dx%dx%d",
                       what, on, oc, oh, ow, en, ec, eh, ew);

    int got = 0, ok = 0;
    if (kind == GP_CUDA_CONV_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        if (find &&
            cudnnFindConvolutionForwardAlgorithm(c->dnn, cx, p->filter, p->conv, cy,
                                                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf) == CUDNN_STATUS_SUCCESS)
            ok = choose_fwd(c, p, cx, cy, perf, got);
        (void)cudaGetLastError();  /* a failed search (out of memory) falls back to heuristics */
        if (!ok) {
            GP_CUDNN(err, what, cudnnSetConvolutionMathType, p->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
            GP_CUDNN(err, what, cudnnGetConvolutionForwardAlgorithm_v7, c->dnn, cx, p->filter, p->conv,
                     cy, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf);
            ok = choose_fwd(c, p, cx, cy, perf, got);
        }
    } else if (kind == GP_CUDA_CONV_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        if (find &&
            cudnnFindConvolutionBackwardDataAlgorithm(c->dnn, p->filter, cy, p->conv, cx,
                                                      CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf) == CUDNN_STATUS_SUCCESS)
            ok = choose_bwd(c, p, cx, cy, perf, got);
        (void)cudaGetLastError();
        if (!ok) {
            GP_CUDNN(err, what, cudnnSetConvolutionMathType, p->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
            GP_CUDNN(err, what, cudnnGetConvolutionBackwardDataAlgorithm_v7, c->dnn, p->filter, cy, p->conv,
                     cx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf);
            ok = choose_bwd(c, p, cx, cy, perf, got);
        }
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        if (find &&
            cudnnFindConvolutionBackwardFilterAlgorithm(c->dnn, cx, cy, p->conv, p->filter,
                                                        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf) == CUDNN_STATUS_SUCCESS)
            ok = choose_bwf(c, p, cx, cy, perf, got);
        (void)cudaGetLastError();
        if (!ok) {
            GP_CUDNN(err, what, cudnnSetConvolutionMathType, p->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
            GP_CUDNN(err, what, cudnnGetConvolutionBackwardFilterAlgorithm_v7, c->dnn, cx, cy, p->conv,
                     p->filter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf);
            ok = choose_bwf(c, p, cx, cy, perf, got);
        }
        if (!ok) {
            /* ALGO_1 (deterministic, any geometry) by name */
            size_t ws = 0;
            GP_CUDNN(err, what, cudnnSetConvolutionMathType, p->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
            if (cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, cx, cy, p->conv, p->filter,
                                                               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, &ws) == CUDNN_STATUS_SUCCESS &&
                ws <= GP_CUDA_WS_LIMIT) {
                p->algo = (int)CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
                p->workspace = ws;
                ok = 1;
            }
        }
    }
    if (!ok)
        return GP_FAIL(err, GP_ERR_BACKEND, "CUDA %s: cuDNN offers no %sfloat32 algorithm with a workspace under %zu MiB",
                       what, kind == GP_CUDA_CONV_BWD_FILTER ? "deterministic " : "", GP_CUDA_WS_LIMIT >> 20);
    /* GP_CUDA_LOG_PLANS=1: one line per plan on stderr, for diagnosing an algorithm */
    const char *lp = getenv("GP_CUDA_LOG_PLANS");
    if (lp && strcmp(lp, "1") == 0)
        fprintf(stderr, "galpost cuda: plan %s: %s algorithm %d (%s), workspace %zu bytes\n", what,
                kind == GP_CUDA_CONV_BWD_FILTER ? "backward-filter" : (kind == GP_CUDA_CONV_FWD ? "forward" : "backward-data"),
                p->algo, c->find_algo ? "measured" : "heuristic", p->workspace);
    return GP_OK;
}

/* The plan for a shape, built on first use; the least recently used one
 * makes room. */
static int plan_get(gp_cuda *c, const int key[12], int ho, int wo, gp_cuda_conv_plan **out,
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

/* Time the algorithms (cudnnFind), unless GP_CUDA_CONV_ALGO=heuristic or
 * the caller asked for run-to-run determinism: timings differ between
 * runs, and so would the algorithm and the last bits of the results. */
static int conv_find(gp_backend *be)
{
    return gp_cuda_of(be)->find_algo && !be->deterministic;
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
    const int key[12] = { transpose, n, cin, h, w, cout, k, stride, pad, c->tf32,
                          transpose ? GP_CUDA_CONV_BWD_DATA : GP_CUDA_CONV_FWD, conv_find(be) };
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

/* ------------------------------------------------------- backward */

/*
 * Dense backward, in the column-major reading of the header comment:
 * dX^T [in x rows] = W^T dY^T: W's buffer as [in x out] (lda = in) and
 * dY's as [out x rows] (ldb = out), both as they are, so
 * cublasSgemm(N, N, m = in, n = rows, k = out), beta 0.
 * dW^T [in x out] += X^T dY: X's buffer as [in x rows] (lda = in) as it
 * is, dY's buffer [out x rows] transposed, so
 * cublasSgemm(N, T, m = in, n = out, k = rows, ldb = out), beta 1.
 * db += column sums of dY (gp_cuda_k_channel_sums, fixed order).
 */
int gp_cuda_dense_backward(gp_backend *be, const float *X, int rows, int in, const float *W,
                           int out, const float *dY, float *dX, float *dW, float *db, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (rows < 0 || in < 1 || out < 1)
        return GP_FAIL(err, GP_ERR_ARG, "dense_backward: invalid shape rows=%d in=%d out=%d", rows, in, out);
    if (rows == 0) return GP_OK;
    char what[80];
    snprintf(what, sizeof what, "dense_backward %dx%d -> %d", rows, in, out);
    TRY(gp_cuda_enter(c, what, err));
    const float one = 1.0f, zero = 0.0f;
    if (dX)
        GP_CUBLAS(err, what, cublasSgemm, c->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, rows, out,
                  &one, W, in, dY, out, &zero, dX, in);
    if (dW)
        GP_CUBLAS(err, what, cublasSgemm, c->blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, rows,
                  &one, X, in, dY, out, &one, dW, in);
    return gp_cuda_k_channel_sums(c, dY, rows, out, 1, db, what, err);
}

/*
 * Convolution backward on the plan geometry of plan_build (cx -> cy by the
 * filter).  conv2d (cx = X's side, cy = dY's side): dX = backward data of
 * dY, dW += backward filter of (x = X, dy = dY).  conv_transpose2d is the
 * adjoint, so its roles swap (cx = dY's side, cy = X's side): dX = the
 * forward convolution of dY, dW += backward filter of (x = dY, dy = X).
 * db += per-channel sums of dY.  Filter gradients use deterministic
 * algorithms only.
 */
static int conv_backward(gp_backend *be, int transpose, const float *X, int n, int cin, int h, int w,
                         const float *W, int cout, int k, int stride, int pad, int ho, int wo,
                         const float *dY, float *dX, float *dW, float *db, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    char what[128];
    snprintf(what, sizeof what, "%s %dx%dx%dx%d -> %d k%d s%d p%d",
             transpose ? "conv_transpose2d_backward" : "conv2d_backward", n, cin, h, w, cout, k, stride, pad);
    if ((double)n * cout * ho * wo > 2147483647.0 || (double)n * cin * h * w > 2147483647.0)
        return GP_FAIL(err, GP_ERR_ARG, "CUDA %s: more than 2^31 values in a tensor", what);
    TRY(gp_cuda_enter(c, what, err));
    const float one = 1.0f, zero = 0.0f;
    gp_cuda_conv_plan *p;
    if (dX) {
        const int key[12] = { transpose, n, cin, h, w, cout, k, stride, pad, c->tf32,
                              transpose ? GP_CUDA_CONV_FWD : GP_CUDA_CONV_BWD_DATA, conv_find(be) };
        TRY(plan_get(c, key, ho, wo, &p, what, err));
        TRY(gp_cuda_workspace(c, p->workspace, what, err));
        if (!transpose)
            GP_CUDNN(err, what, cudnnConvolutionBackwardData, c->dnn, &one, p->filter, W, p->out, dY, p->conv,
                     (cudnnConvolutionBwdDataAlgo_t)p->algo, c->ws, p->workspace, &zero, p->in, dX);
        else
            GP_CUDNN(err, what, cudnnConvolutionForward, c->dnn, &one, p->out, dY, p->filter, W, p->conv,
                     (cudnnConvolutionFwdAlgo_t)p->algo, c->ws, p->workspace, &zero, p->in, dX);
    }
    if (dW) {
        const int key[12] = { transpose, n, cin, h, w, cout, k, stride, pad, c->tf32, GP_CUDA_CONV_BWD_FILTER,
                              conv_find(be) };
        TRY(plan_get(c, key, ho, wo, &p, what, err));
        TRY(gp_cuda_workspace(c, p->workspace, what, err));
        if (!transpose)
            GP_CUDNN(err, what, cudnnConvolutionBackwardFilter, c->dnn, &one, p->in, X, p->out, dY, p->conv,
                     (cudnnConvolutionBwdFilterAlgo_t)p->algo, c->ws, p->workspace, &one, p->filter, dW);
        else
            GP_CUDNN(err, what, cudnnConvolutionBackwardFilter, c->dnn, &one, p->out, dY, p->in, X, p->conv,
                     (cudnnConvolutionBwdFilterAlgo_t)p->algo, c->ws, p->workspace, &one, p->filter, dW);
    }
    return gp_cuda_k_channel_sums(c, dY, n, cout, (size_t)ho * wo, db, what, err);
}

int gp_cuda_conv2d_backward(gp_backend *be, const float *X, int n, int cin, int h, int w,
                            const float *W, int cout, int k, int stride, int pad,
                            const float *dY, float *dX, float *dW, float *db, gp_error *err)
{
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        h + 2 * pad < k || w + 2 * pad < k)
        return GP_FAIL(err, GP_ERR_ARG, "conv2d_backward: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    if (n == 0) return GP_OK;
    return conv_backward(be, 0, X, n, cin, h, w, W, cout, k, stride, pad, (h + 2 * pad - k) / stride + 1,
                         (w + 2 * pad - k) / stride + 1, dY, dX, dW, db, err);
}

int gp_cuda_conv_transpose2d_backward(gp_backend *be, const float *X, int n, int cin, int h,
                                      int w, const float *W, int cout, int k, int stride,
                                      int pad, const float *dY, float *dX, float *dW, float *db,
                                      gp_error *err)
{
    int ho = (h - 1) * stride - 2 * pad + k, wo = (w - 1) * stride - 2 * pad + k;
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        ho < 1 || wo < 1)
        return GP_FAIL(err, GP_ERR_ARG, "conv_transpose2d_backward: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    if (n == 0) return GP_OK;
    return conv_backward(be, 1, X, n, cin, h, w, W, cout, k, stride, pad, ho, wo, dY, dX, dW, db, err);
}
