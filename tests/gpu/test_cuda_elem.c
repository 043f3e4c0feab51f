/*
 * test_cuda_elem.c: the CUDA backend's kernel bodies (cuda/gp_cuda_elem.h)
 * run on the host over every index a kernel's grid covers, against the CPU
 * backend's operations on the same fresh random inputs, outputs poisoned
 * (NaN) first.  This checks the index arithmetic of every element-wise
 * kernel on machines without a GPU; tests/gpu/test_gpu_parity.c checks the
 * kernels themselves on a device.
 */
#include <float.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "gp_cuda_elem.h"
#include "gp_cuda_chain.h"
#include "gp_model_internal.h"
#include "cpu/gp_cpu.h"
#include "../gp_test_util.h"

static gp_backend *cpu;

static int setup(void **state)
{
    (void)state;
    return gp_backend_open_cpu(1, &cpu, NULL) == GP_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gp_backend_close(cpu);
    return 0;
}

static void poison(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

/* max |a - b| / max |b|; NaN anywhere fails. */
static double relerr(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        if (fabs((double)a[i] - b[i]) > num) num = fabs((double)a[i] - b[i]);
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / (den + 1e-30);
}

#define EXPECT_CLOSE(a, b, n, what) do { double e_ = relerr((a), (b), (n)); \
    if (!(e_ <= 1e-6)) fail_msg("%s: relative error %g", (what), e_); } while (0)

static void test_bias_act(void **state)
{
    (void)state;
    const int n = 3, ch = 5, plane = 42;
    size_t tot = (size_t)n * ch * plane;
    float *y = malloc(sizeof(float) * tot), *g = malloc(sizeof(float) * tot), b[5];
    for (int a = GP_ACT_NONE; a <= GP_ACT_SIGMOID; a++)
        for (int with_b = 0; with_b < 2; with_b++) {
            gp_test_fill(y, tot, 2.0);
            gp_test_fill(b, 5, 1.0);
            memcpy(g, y, sizeof(float) * tot);
            for (int i = 0; i < n; i++)   /* the CPU works image by image */
                gp_cpu_bias_act(y + (size_t)i * ch * plane, ch, plane, with_b ? b : NULL, (gp_act)a, 0.2f);
            float *h = malloc(sizeof(float) * tot);
            memcpy(h, g, sizeof(float) * tot);
            for (size_t i = 0; i < tot; i++) gp_cu_bias_act_at(i, g, ch, plane, with_b ? b : NULL, a, 0.2f);
            EXPECT_CLOSE(g, y, tot, "bias_act (convolution layout)");
            /* one block a plane: planes in reverse, 7 threads each, so a wrong
             * plane base or channel shows */
            for (size_t p = (size_t)n * ch; p-- > 0;)
                for (int t = 0; t < 7; t++)
                    gp_cu_bias_act_plane(p, h, ch, plane, with_b ? b : NULL, t, 7, a, 0.2f);
            EXPECT_CLOSE(h, y, tot, "bias_act (one block a plane)");
            free(h);
        }
    /* dense layout: plane 1, channels = outputs; against the CPU dense with W = I */
    const int rows = 7, out = 6;
    float X[7 * 6], I[6 * 6] = {0}, bd[6], Y[7 * 6], G[7 * 6];
    for (int o = 0; o < out; o++) I[o * out + o] = 1.0f;
    gp_test_fill(X, 42, 1.0);
    gp_test_fill(bd, 6, 1.0);
    poison(Y, 42);
    assert_int_equal(cpu->ops->dense(cpu, X, rows, out, I, bd, out, GP_ACT_LEAKY_RELU, 0.1f, Y, NULL), GP_OK);
    memcpy(G, X, sizeof G);
    for (size_t i = 0; i < 42; i++) gp_cu_bias_act_at(i, G, out, 1, bd, GP_ACT_LEAKY_RELU, 0.1f);
    EXPECT_CLOSE(G, Y, 42, "bias_act (dense layout)");
    free(y);
    free(g);
}

/* flag_nonfinite's element: exactly the images holding an inf or a NaN
 * (first, last and inner pixels, at random among fresh finite values,
 * huge and subnormal ones included) are flagged, the others left alone. */
static void test_flag_nonfinite(void **state)
{
    (void)state;
    const int n = 7;
    const size_t per = 301, tot = (size_t)n * per;
    float *x = malloc(sizeof(float) * tot);
    gp_test_fill(x, tot, 3.0);
    x[5] = 3.4e38f;
    x[per + 9] = 1e-41f;
    x[2 * per + 17] = -FLT_MAX;
    const float badv[3] = { INFINITY, -INFINITY, NAN };
    int want[7] = { 0, 0, 0, 0, 0, 0, 0 };
    x[3 * per] = badv[0]; want[3] = 1;                       /* first pixel */
    x[5 * per - 1] = badv[1]; want[4] = 1;                   /* last pixel */
    x[6 * per + (size_t)(gp_test_uniform() * (per - 2)) + 1] = badv[2]; want[6] = 1;
    int flags[7] = { 0, 0, 0, 0, 0, 0, 9 };                  /* a flag already set stays set */
    for (size_t i = 0; i < tot; i++) gp_cu_flag_nonfinite_at(i, x, per, flags);
    for (int g = 0; g < 6; g++) assert_int_equal(flags[g], want[g]);
    assert_true(flags[6] != 0);
    free(x);
}

static void test_stretch(void **state)
{
    (void)state;
    const int n = 2, bands = 3, plane = 31;
    size_t tot = (size_t)n * bands * plane;
    float *x = malloc(sizeof(float) * tot), *g = malloc(sizeof(float) * tot);
    float soft[3] = {0.017f, 0.029f, 0.046f}, off[3] = {0.1f, -0.2f, 0.3f}, scl[3] = {3, 2.5f, 4};
    float inv_soft[3], inv_scale[3];
    for (int c = 0; c < 3; c++) { inv_soft[c] = 1.0f / soft[c]; inv_scale[c] = 1.0f / scl[c]; }
    gp_test_fill(x, tot, 0.5);
    memcpy(g, x, sizeof(float) * tot);
    assert_int_equal(cpu->ops->stretch(cpu, x, n, bands, plane, soft, off, scl, NULL), GP_OK);
    float *h = malloc(sizeof(float) * tot);
    memcpy(h, g, sizeof(float) * tot);
    for (size_t i = 0; i < tot; i++) gp_cu_stretch_at(i, g, bands, plane, inv_soft, off, inv_scale);
    EXPECT_CLOSE(g, x, tot, "stretch");
    for (size_t p = (size_t)n * bands; p-- > 0;)
        for (int t = 0; t < 5; t++) gp_cu_stretch_plane(p, h, bands, plane, inv_soft, off, inv_scale, t, 5);
    EXPECT_CLOSE(h, x, tot, "stretch (one block a plane)");
    free(h);
    free(x);
    free(g);
}

static void test_normals(void **state)
{
    (void)state;
    const int ngal = 9, rows = 300;
    uint64_t ids[9];
    int row_gal[300], sidx[300];
    for (int g = 0; g < ngal; g++) ids[g] = (uint64_t)(gp_test_uniform() * 1.8e19);
    for (int r = 0; r < rows; r++) {
        row_gal[r] = (int)(gp_test_uniform() * ngal);
        sidx[r] = (int)(gp_test_uniform() * 5000);
    }
    uint64_t seed = (uint64_t)(gp_test_uniform() * 1e18);
    for (int dim = 1; dim <= 4; dim++)
        for (int stream = 0; stream < 3; stream++) {
            float a[300 * 4], b[300 * 4];
            poison(a, 1200);
            poison(b, 1200);
            assert_int_equal(cpu->ops->normals(cpu, seed, ids, row_gal, sidx, rows, stream, dim, a, NULL), GP_OK);
            for (int r = 0; r < rows; r++) gp_cu_normals_row(r, seed, ids, row_gal, sidx, stream, dim, b);
            /* the same function on both sides: identical bits */
            assert_memory_equal(a, b, sizeof(float) * (size_t)rows * dim);
            for (int i = 0; i < rows * dim; i++) assert_true(isfinite(b[i]));
        }
}

static void test_rows_and_columns(void **state)
{
    (void)state;
    /* add_rows */
    const int rows = 40, n = 7, ngal = 5;
    float Y[40 * 7], G[40 * 7], C[5 * 7];
    int row_gal[40];
    for (int r = 0; r < rows; r++) row_gal[r] = (int)(gp_test_uniform() * ngal);
    gp_test_fill(Y, 280, 1.0);
    gp_test_fill(C, 35, 1.0);
    memcpy(G, Y, sizeof G);
    assert_int_equal(cpu->ops->add_rows(cpu, Y, rows, n, C, row_gal, NULL), GP_OK);
    for (size_t i = 0; i < 280; i++) gp_cu_add_rows_at(i, G, n, C, row_gal);
    assert_memory_equal(G, Y, sizeof G);
    /* gather_cols, a short and a long index list (the kernel's two paths) */
    const int ncols = 13;
    float X[40 * 13];
    gp_test_fill(X, 520, 1.0);
    int idx_short[2] = { 3, 0 }, idx_long[11] = { 12, 0, 5, 5, 7, 1, 2, 11, 9, 4, 6 };
    const int *idxs[2] = { idx_short, idx_long };
    int ms[2] = { 2, 11 };
    for (int t = 0; t < 2; t++) {
        float A[40 * 11], B[40 * 11];
        poison(A, 440);
        poison(B, 440);
        assert_int_equal(cpu->ops->gather_cols(cpu, X, rows, ncols, idxs[t], ms[t], A, NULL), GP_OK);
        for (size_t i = 0; i < (size_t)rows * ms[t]; i++) gp_cu_gather_at(i, X, ncols, idxs[t], ms[t], B);
        assert_memory_equal(A, B, sizeof(float) * (size_t)rows * ms[t]);
    }
}

static void test_coupling(void **state)
{
    (void)state;
    const int rows = 33;
    struct { int dim, nt; int tidx[4]; } cfg[3] = { {4, 2, {1, 3}}, {4, 2, {0, 2}}, {1, 1, {0}} };
    for (int c = 0; c < 3; c++)
        for (int dir = -1; dir <= 1; dir += 2) {
            int dim = cfg[c].dim, nt = cfg[c].nt;
            float x[33 * 4], g[33 * 4], st[33 * 8];
            double la[33], lb[33];
            gp_test_fill(x, (size_t)rows * dim, 1.0);
            gp_test_fill(st, (size_t)rows * 2 * nt, 2.0);
            for (int r = 0; r < rows; r++) la[r] = lb[r] = gp_test_normal();
            memcpy(g, x, sizeof x);
            assert_int_equal(cpu->ops->coupling(cpu, x, rows, dim, cfg[c].tidx, nt, st, 3.0f, dir, la, NULL), GP_OK);
            for (int r = 0; r < rows; r++) gp_cu_coupling_row(r, g, dim, cfg[c].tidx, nt, st, 3.0f, dir, lb);
            EXPECT_CLOSE(g, x, (size_t)rows * dim, "coupling");
            for (int r = 0; r < rows; r++)
                if (!(fabs(la[r] - lb[r]) <= 1e-12 * (1 + fabs(la[r]))))
                    fail_msg("coupling dir %d: logdet row %d %.17g vs %.17g", dir, r, lb[r], la[r]);
            /* NULL logdet is allowed */
            for (int r = 0; r < rows; r++) gp_cu_coupling_row(r, g, dim, cfg[c].tidx, nt, st, 3.0f, dir, NULL);
        }
}

static void test_elementwise(void **state)
{
    (void)state;
    const size_t n = 257;
    float X[257], Z[257], A[257], B[257];
    gp_test_fill(X, n, 2.0);
    gp_test_fill(Z, n, 2.0);
    poison(A, n);
    poison(B, n);
    assert_int_equal(cpu->ops->add(cpu, X, Z, n, A, NULL), GP_OK);
    for (size_t i = 0; i < n; i++) gp_cu_add_at(i, X, Z, B);
    EXPECT_CLOSE(B, A, n, "add");
    poison(A, n);
    poison(B, n);
    assert_int_equal(cpu->ops->exp_half(cpu, X, n, A, NULL), GP_OK);
    for (size_t i = 0; i < n; i++) gp_cu_exp_half_at(i, X, B);
    EXPECT_CLOSE(B, A, n, "exp_half");
    for (int a = GP_ACT_NONE; a <= GP_ACT_SIGMOID; a++) {
        memcpy(A, X, sizeof A);
        memcpy(B, X, sizeof B);
        assert_int_equal(cpu->ops->activate(cpu, A, n, (gp_act)a, 0.3f, NULL), GP_OK);
        for (size_t i = 0; i < n; i++) gp_cu_activate_at(i, B, a, 0.3f);
        EXPECT_CLOSE(B, A, n, "activate");
    }
}

/* The training bodies (gp_cuda_train.cu's kernels and reductions) against
 * the CPU backend's training operations: gradients elementwise, and the
 * loss terms summed here in order against the CPU's loss. */
#define EXPECT_LOSS(a, b, what) do { double a_ = (a), b_ = (b); \
    if (!(fabs(a_ - b_) <= 1e-12 * (1 + fabs(b_)))) fail_msg("%s: loss %.17g vs %.17g", (what), a_, b_); } while (0)

static void test_training(void **state)
{
    (void)state;
    enum { N = 301, ROWS = 43, DIM = 7 };
    float Y[N], dY[N], A[N], B[N], mu[N], lv[N], eps[N], C[N], D[N];
    gp_test_fill(Y, N, 1.0);
    gp_test_fill(dY, N, 1.0);
    gp_test_fill(mu, N, 1.0);
    gp_test_fill(lv, N, 1.0);
    gp_test_fill(eps, N, 1.0);
    /* act_backward from outputs in each activation's range, in place and not */
    for (int a = GP_ACT_NONE; a <= GP_ACT_SIGMOID; a++) {
        float Yo[N];
        for (size_t i = 0; i < N; i++) Yo[i] = a == GP_ACT_SIGMOID ? 1.0f / (1.0f + expf(-Y[i])) : a == GP_ACT_TANH ? tanhf(Y[i]) : Y[i];
        poison(A, N);
        poison(B, N);
        assert_int_equal(cpu->ops->act_backward(cpu, Yo, dY, N, (gp_act)a, 0.2f, A, NULL), GP_OK);
        for (size_t i = 0; i < N; i++) gp_cu_act_backward_at(i, Yo, dY, a, 0.2f, B);
        EXPECT_CLOSE(B, A, N, "act_backward");
        memcpy(B, dY, sizeof B);
        for (size_t i = 0; i < N; i++) gp_cu_act_backward_at(i, Yo, B, a, 0.2f, B);
        EXPECT_CLOSE(B, A, N, "act_backward in place");
    }
    /* reparam and its backward */
    poison(A, N);
    poison(B, N);
    assert_int_equal(cpu->ops->reparam(cpu, mu, lv, eps, N, A, NULL), GP_OK);
    for (size_t i = 0; i < N; i++) gp_cu_reparam_at(i, mu, lv, eps, B);
    EXPECT_CLOSE(B, A, N, "reparam");
    poison(A, N); poison(B, N); poison(C, N); poison(D, N);
    assert_int_equal(cpu->ops->reparam_backward(cpu, lv, eps, dY, N, A, C, NULL), GP_OK);
    for (size_t i = 0; i < N; i++) gp_cu_reparam_backward_at(i, lv, eps, dY, B, D);
    EXPECT_CLOSE(B, A, N, "reparam_backward dmu");
    EXPECT_CLOSE(D, C, N, "reparam_backward dlogvar");
    /* KL: "+=" gradients */
    gp_test_fill(A, N, 1.0);
    memcpy(B, A, sizeof B);
    gp_test_fill(C, N, 1.0);
    memcpy(D, C, sizeof D);
    double la = 0.25, lb = 0.0;
    assert_int_equal(cpu->ops->kl_normal(cpu, mu, lv, N, 0.3, &la, A, C, NULL), GP_OK);
    for (size_t i = 0; i < N; i++) lb += gp_cu_kl_at(i, mu, lv, 0.3, B, D);
    EXPECT_LOSS(0.25 + 0.3 * lb, la, "kl_normal");
    EXPECT_CLOSE(B, A, N, "kl_normal dmu");
    EXPECT_CLOSE(D, C, N, "kl_normal dlogvar");
    /* mse, normal_nll over ROWS x DIM with and without a row mask; bce per row */
    float mask[ROWS];
    for (int r = 0; r < ROWS; r++) mask[r] = (float)(r % 3 != 1);
    for (int m = 0; m < 2; m++) {
        const float *mk = m ? mask : NULL;
        size_t n = (size_t)ROWS * DIM;
        poison(A, N); poison(B, N);
        la = 1.5; lb = 0.0;
        assert_int_equal(cpu->ops->mse(cpu, mu, lv, mk, ROWS, DIM, 0.7, &la, A, NULL), GP_OK);
        for (size_t i = 0; i < n; i++) lb += gp_cu_mse_at(i, mu, lv, mk, DIM, 0.7, B);
        EXPECT_LOSS(1.5 + 0.7 * lb, la, "mse");
        EXPECT_CLOSE(B, A, n, "mse gradient");
        poison(A, N); poison(B, N);
        la = 1.5; lb = 0.0;
        assert_int_equal(cpu->ops->normal_nll(cpu, mu, mk, ROWS, DIM, 0.7, &la, A, NULL), GP_OK);
        for (size_t i = 0; i < n; i++) lb += gp_cu_normal_nll_at(i, mu, mk, DIM, 0.7, B);
        EXPECT_LOSS(1.5 + 0.7 * lb, la, "normal_nll");
        EXPECT_CLOSE(B, A, n, "normal_nll gradient");
        float yb[ROWS], lg[ROWS];
        for (int r = 0; r < ROWS; r++) { yb[r] = (float)(r % 2); lg[r] = 8.0f * mu[r]; }   /* both softplus branches */
        poison(A, N); poison(B, N);
        la = 1.5; lb = 0.0;
        assert_int_equal(cpu->ops->bce_logits(cpu, lg, yb, mk, ROWS, 0.7, &la, A, NULL), GP_OK);
        for (size_t r = 0; r < ROWS; r++) lb += gp_cu_bce_at(r, lg, yb, mk, 0.7, B);
        EXPECT_LOSS(1.5 + 0.7 * lb, la, "bce_logits");
        EXPECT_CLOSE(B, A, ROWS, "bce_logits gradient");
    }
    double sa = -1, sb = 0;
    assert_int_equal(cpu->ops->sumsq(cpu, mu, N, &sa, NULL), GP_OK);
    for (size_t i = 0; i < N; i++) sb += gp_cu_sumsq_at(i, mu);
    EXPECT_LOSS(sb, sa, "sumsq");
    /* coupling_backward with and without log-det weights, kept/transformed columns */
    struct { int dim, nt; int tidx[4]; } cfg[3] = { {4, 2, {1, 3}}, {4, 2, {0, 2}}, {1, 1, {0}} };
    for (int c = 0; c < 3; c++)
        for (int w = 0; w < 2; w++) {
            int dim = cfg[c].dim, nt = cfg[c].nt;
            float x[ROWS * 4], st[ROWS * 8], ga[ROWS * 4], gb[ROWS * 4], sa_[ROWS * 8], sb_[ROWS * 8], ldw[ROWS];
            gp_test_fill(x, (size_t)ROWS * dim, 1.0);
            gp_test_fill(st, (size_t)ROWS * 2 * nt, 2.0);
            gp_test_fill(ga, (size_t)ROWS * dim, 1.0);
            gp_test_fill(ldw, ROWS, 1.0);
            memcpy(gb, ga, sizeof ga);
            poison(sa_, ROWS * 8); poison(sb_, ROWS * 8);
            assert_int_equal(cpu->ops->coupling_backward(cpu, x, ROWS, dim, cfg[c].tidx, nt, st, 3.0f, w ? ldw : NULL,
                                                         ga, sa_, NULL), GP_OK);
            for (int r = 0; r < ROWS; r++)
                gp_cu_coupling_backward_row(r, x, dim, cfg[c].tidx, nt, st, 3.0f, w ? ldw : NULL, gb, sb_);
            EXPECT_CLOSE(gb, ga, (size_t)ROWS * dim, "coupling_backward dx");
            EXPECT_CLOSE(sb_, sa_, (size_t)ROWS * 2 * nt, "coupling_backward dst");
        }
    /* copy_cols = and +=, axpby (aliased too), adam */
    for (int acc = 0; acc < 2; acc++) {
        float Ya[ROWS * DIM], Yb[ROWS * DIM];
        gp_test_fill(Ya, ROWS * DIM, 1.0);
        memcpy(Yb, Ya, sizeof Ya);
        assert_int_equal(cpu->ops->copy_cols(cpu, mu, ROWS, 5, 1, Ya, DIM, 3, 3, acc, NULL), GP_OK);
        for (size_t i = 0; i < (size_t)ROWS * 3; i++) gp_cu_copy_cols_at(i, mu, 5, 1, Yb, DIM, 3, 3, acc);
        EXPECT_CLOSE(Yb, Ya, ROWS * DIM, "copy_cols");
    }
    poison(A, N); poison(B, N);
    assert_int_equal(cpu->ops->axpby(cpu, 0.3f, mu, -1.7f, lv, N, A, NULL), GP_OK);
    for (size_t i = 0; i < N; i++) gp_cu_axpby_at(i, 0.3f, mu, -1.7f, lv, B);
    EXPECT_CLOSE(B, A, N, "axpby");
    memcpy(A, mu, sizeof A);
    memcpy(B, mu, sizeof B);
    assert_int_equal(cpu->ops->axpby(cpu, 0.5f, A, 2.0f, A, N, A, NULL), GP_OK);
    for (size_t i = 0; i < N; i++) gp_cu_axpby_at(i, 0.5f, B, 2.0f, B, B);
    EXPECT_CLOSE(B, A, N, "axpby aliased");
    float wa[N], wb[N], ma[N], mb[N], va[N], vb[N];
    gp_test_fill(wa, N, 1.0);
    memcpy(wb, wa, sizeof wa);
    gp_test_fill(ma, N, 0.1);
    memcpy(mb, ma, sizeof ma);
    for (size_t i = 0; i < N; i++) va[i] = vb[i] = 0.01f * (float)(i % 7);
    for (long t = 1; t <= 3; t++) {
        assert_int_equal(cpu->ops->adam(cpu, wa, dY, ma, va, N, 1e-2f, 0.9f, 0.999f, 1e-8f, t, NULL), GP_OK);
        double c1 = 1.0 - pow(0.9f, (double)t), c2 = 1.0 - pow(0.999f, (double)t);
        float a = (float)(1e-2f * sqrt(c2) / c1), epsh = (float)(1e-8f * sqrt(c2));
        for (size_t i = 0; i < N; i++) gp_cu_adam_at(i, wb, dY, mb, vb, a, 0.9f, 0.999f, epsh);
    }
    EXPECT_CLOSE(wb, wa, N, "adam weights");
    EXPECT_CLOSE(mb, ma, N, "adam first moments");
    EXPECT_CLOSE(vb, va, N, "adam second moments");
}

/* The CUDA member_sample kernel's staging on the host: conditioner c
 * packed (k_pack's gp_cu_cond_pack_at), then only the parts the kernel
 * copies into shared memory moved into w, which is poisoned first (NaN):
 * a weight the kernel would not have shows. */
static void stage_host(const gp_cu_cond *c, gp_cu_cond_w *w)
{
    static gp_cu_cond_w blob;
    float *b = (float *)(void *)&blob, *d = (float *)(void *)w;
    for (size_t i = 0; i < GP_CU_COND_W_FLOATS; i++) b[i] = gp_cu_cond_pack_at(c, i);
    memset(w, 0xff, sizeof *w);
    int a_end, b_begin, all;
    gp_cu_cond_w_parts(c->nmid, &a_end, &b_begin, &all);
    memcpy(d, b, 16 * (size_t)a_end);
    memcpy(d + 4 * (size_t)b_begin, b + 4 * (size_t)b_begin, 16 * (size_t)(all - b_begin));
}

/* The CUDA member_sample kernel's sequence on the host: each conditioner
 * staged once (as a block does into shared memory), then applied to every
 * row's values. */
static void member_rows(const gp_cu_chain *ch, int rows)
{
    static gp_cu_cond_w w;
    static float xc[4096][4], xo[4096], xl[4096][4];
    assert_true(rows <= 4096);
    for (int r = 0; r < rows; r++) gp_cu_member_noise(r, ch, xc[r], &xo[r], xl[r]);
    for (int i = ch->ncore - 1; i >= 0; i--) {
        assert_ptr_equal(gp_cu_chain_cond(ch, i), &ch->core[i].c);
        stage_host(&ch->core[i].c, &w);
        for (int r = 0; r < rows; r++)
            gp_cu_flowstep_inverse(&ch->core[i], &w, ch->core[i].c.G + (size_t)ch->row_gal[r] * GP_CU_FLOW_H,
                                   ch->core_S, ch->act, ch->slope, xc[r]);
    }
    for (int r = 0; r < rows; r++)
        for (int d = 0; d < 4; d++) xc[r][d] += ch->head[(size_t)ch->row_gal[r] * 5 + d];
    assert_ptr_equal(gp_cu_chain_cond(ch, ch->ncore + ch->nline), &ch->oh);
    stage_host(&ch->oh, &w);
    for (int r = 0; r < rows; r++)
        xo[r] = gp_cu_oh_inverse(ch, &w, ch->oh.G + (size_t)ch->row_gal[r] * GP_CU_FLOW_H, xc[r], xo[r],
                                 ch->head[(size_t)ch->row_gal[r] * 5 + 4]);
    for (int i = ch->nline - 1; i >= 0; i--) {
        assert_ptr_equal(gp_cu_chain_cond(ch, ch->ncore + i), &ch->line[i].c);
        stage_host(&ch->line[i].c, &w);
        for (int r = 0; r < rows; r++)
            gp_cu_flowstep_inverse(&ch->line[i], &w, ch->line[i].c.G + (size_t)ch->row_gal[r] * GP_CU_FLOW_H,
                                   ch->line_S, ch->act, ch->slope, xl[r]);
    }
    for (int r = 0; r < rows; r++) gp_cu_member_store(r, ch, xc[r], xo[r], xl[r]);
}

/* The fused sampler's chain (the CUDA member_sample kernel's arithmetic) on a random model, against the CPU backend's
 * member_sample; architectures it does not take are declined by
 * gp_cu_chain_fill (the CUDA backend then composes the flows). */
/* 25 chained couplings in float, summed in another order than the CPU's:
 * relative errors of a few 1e-6, 1.04e-5 the worst seen in ~100 seeds */
#ifndef LIM
#define LIM 1e-4
#endif
static void member_row_case(int flow_hidden, int flow_depth, int fits)
{
    gp_arch a = gp_arch_default();
    a.uses_image = 0;
    a.trunk[0] = 24; a.trunk[1] = 40; a.head_hidden = 8;
    a.flow_hidden = flow_hidden; a.flow_depth = flow_depth; a.ensemble = 2; a.flow_gain = 0.3f;
    gp_model *m = gp_test_random_model(&a, 1);
    assert_non_null(m);
    /* random biases (the file's are zeros), so that a bias left out fails */
    float *bias[2][2 * GP_FLOW_MAX_LAYERS + 1][GP_MLP_MAX_LAYERS];
    memset(bias, 0, sizeof bias);
    for (int k = 0; k < 2; k++) {
        gp_member *mm = &m->net.member[k];
        gp_cond_mlp *cs[2 * GP_FLOW_MAX_LAYERS + 1];
        int n = 0;
        for (int i = 0; i < mm->core_flow.nlayers; i++) cs[n++] = &mm->core_flow.layer[i].cond;
        for (int i = 0; i < mm->line_flow.nlayers; i++) cs[n++] = &mm->line_flow.layer[i].cond;
        cs[n++] = &mm->oh_flow.cond;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < cs[i]->net.nlayers; j++) {
                bias[k][i][j] = malloc(sizeof(float) * (size_t)cs[i]->net.layer[j].out);
                gp_test_fill(bias[k][i][j], (size_t)cs[i]->net.layer[j].out, 0.3);
                cs[i]->net.layer[j].b = bias[k][i][j];
            }
    }
    gp_cu_chain ch;
    assert_int_equal(gp_cu_chain_fill(&m->net, 0, &ch), fits);
    assert_int_equal(gp_cu_chain_fill(&m->net, 2, &ch), 0);   /* no member 2 */
    if (!fits) goto done;
    const int ngal = 3, per = 37, rows = ngal * per, T = 40;
    uint64_t ids[3] = { 5, (uint64_t)(gp_test_uniform() * 1e15), 1ull << 41 };
    int row_gal[3 * 37], sidx[3 * 37];
    for (int r = 0; r < rows; r++) { row_gal[r] = (r * 7) % ngal; sidx[r] = 3 * r + 2; }
    float trunk[3 * 40], head[15], lhead[12];
    gp_test_fill(trunk, (size_t)ngal * T, 1.0);
    gp_test_fill(head, 15, 1.0);
    gp_test_fill(lhead, 12, 1.0);
    static float c1[3 * 37 * 4], o1[3 * 37], l1[3 * 37 * 4], c2[3 * 37 * 4], o2[3 * 37], l2[3 * 37 * 4];
    uint64_t seed = 1 + (uint64_t)(gp_test_uniform() * 1e6);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(m->be->ops->member_sample(m->be, &m->net, k, seed, ids, row_gal, sidx, rows, trunk, head,
                                                   lhead, ngal, c1, o1, l1, NULL), GP_OK);
        assert_int_equal(gp_cu_chain_fill(&m->net, k, &ch), 1);
        const gp_member *mm = &m->net.member[k];
        const gp_cond_mlp *conds[2 * GP_CU_CHAIN_MAX + 1];
        gp_cu_cond *dst[2 * GP_CU_CHAIN_MAX + 1];
        int n = 0;
        for (int i = 0; i < ch.ncore; i++) { conds[n] = &mm->core_flow.layer[i].cond; dst[n++] = &ch.core[i].c; }
        for (int i = 0; i < ch.nline; i++) { conds[n] = &mm->line_flow.layer[i].cond; dst[n++] = &ch.line[i].c; }
        conds[n] = &mm->oh_flow.cond; dst[n++] = &ch.oh;
        assert_int_equal(ch.ncore, a.couplings);
        float *G = malloc(sizeof(float) * (size_t)n * ngal * GP_CU_FLOW_H);
        for (int i = 0; i < n; i++) {
            float *Gi = G + (size_t)i * ngal * GP_CU_FLOW_H;
            assert_int_equal(cpu->ops->dense(cpu, trunk, ngal, conds[i]->nctx, conds[i]->w_ctx,
                                             conds[i]->net.layer[0].b, GP_CU_FLOW_H, GP_ACT_NONE, 0.0f, Gi, NULL), GP_OK);
            dst[i]->G = Gi;
        }
        ch.head = head; ch.lhead = lhead; ch.seed = seed; ch.gal_id = ids;
        ch.row_gal = row_gal; ch.sample_idx = sidx;
        ch.out_core = c2; ch.out_oh = o2; ch.out_line = l2;
        poison(c2, (size_t)rows * 4); poison(o2, (size_t)rows); poison(l2, (size_t)rows * 4);
        member_rows(&ch, rows);
        double e;
        if (!((e = relerr(c2, c1, (size_t)rows * 4)) < LIM)) fail_msg("member row core (H %d, depth %d, member %d): %g", flow_hidden, flow_depth, k, e);
        if (!((e = relerr(o2, o1, (size_t)rows)) < LIM)) fail_msg("member row O/H (H %d, depth %d, member %d): %g", flow_hidden, flow_depth, k, e);
        if (!((e = relerr(l2, l1, (size_t)rows * 4)) < LIM)) fail_msg("member row lines (H %d, depth %d, member %d): %g", flow_hidden, flow_depth, k, e);
        free(G);
    }
done:
    gp_model_close(m);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 2 * GP_FLOW_MAX_LAYERS + 1; i++)
            for (int j = 0; j < GP_MLP_MAX_LAYERS; j++) free(bias[k][i][j]);
}

static void test_member_row(void **state)
{
    (void)state;
    member_row_case(64, 2, 1);   /* the default conditioners: one hidden 64 -> 64 layer */
    member_row_case(64, 1, 1);
    member_row_case(64, 3, 1);
    member_row_case(64, 4, 0);   /* too deep for the kernel */
    member_row_case(24, 2, 0);   /* not 64 wide */
}

int main(void)
{
    gp_test_seed("test_cuda_elem");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bias_act),
        cmocka_unit_test(test_stretch),
        cmocka_unit_test(test_flag_nonfinite),
        cmocka_unit_test(test_normals),
        cmocka_unit_test(test_rows_and_columns),
        cmocka_unit_test(test_coupling),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_training),
        cmocka_unit_test(test_member_row),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
