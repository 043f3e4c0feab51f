/*
 * test_cpu_fast.c: the CPU backend's fused operations (issue 7) against
 * references, on fresh random inputs.
 *  - conv_stack equals a double-precision convolution reference layer by
 *    layer (relative error < 1e-5), on the direct first-layer path (cout a
 *    multiple of 32), the GEMM path and, where the CPU has it, the AMX
 *    path (and each again with GP_CPU_NO_AMX=1), and is bit-identical for
 *    1, 2 and 3 threads and for a batch or its images one at a time;
 *    and conv_stack on cutouts stretched as read is bit-identical to
 *    stretching copies and stacking those (also left HWC); ops->encode_cutouts
 *    is within 1e-5 of stretch + gp_net_encode on a model of the default
 *    architecture and bit-identical across threads and batches;
 *  - the stretch equals (asinh(x/soft) - offset)/scale in double within
 *    2 float ulps (and passes +-inf and NaN through);
 *  - member_sample equals the composed path (normals, gp_realnvp_apply,
 *    gp_affine1d_apply, add_rows) within 1e-5 relative, and is
 *    bit-identical for 1, 2 and 3 threads and for any split of the rows;
 *  - the dense kernel (gp_cpu_dense_rows) equals double loops within 1e-5,
 *    gives the same bits on every instruction-set path, for any subset of
 *    the rows and for 1, 2 and 3 threads; inference with a model of the
 *    default architecture gives the same samples for 1 and 2 threads and
 *    for a galaxy in a batch of 24 or of 5;
 *  - the thread pool covers every index once, also in a child process
 *    forked after the pool started (which must not wait for the parent's
 *    workers).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"
#include "cpu/gp_cpu.h"
#include "cpu/gp_cpu_math.h"
#include "gp_parallel.h"
#include "gp_rng.h"
#include "gp_test_util.h"
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static void conv_ref_d(const double *x, int cin, int h, int w, const float *W, const float *b, int cout,
                       int k, int s, int p, double slope, double *y)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    for (int co = 0; co < cout; co++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double acc = b[co];
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = oy * s - p + ky, ix = ox * s - p + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            acc += x[((size_t)ci * h + iy) * w + ix] * W[((co * cin + ci) * k + ky) * k + kx];
                        }
                y[((size_t)co * ho + oy) * wo + ox] = acc > 0 ? acc : slope * acc;
            }
}

static void check_stack(const int *ch, int nconv, int k, int s, int p, int hw, int n)
{
    gp_conv_layer L[4];
    float *W[4], *b[4];
    int h[5];
    h[0] = hw;
    for (int l = 0; l < nconv; l++) {
        W[l] = malloc(sizeof(float) * ch[l + 1] * ch[l] * k * k);
        b[l] = malloc(sizeof(float) * ch[l + 1]);
        gp_test_fill(W[l], (size_t)ch[l + 1] * ch[l] * k * k, 1.0 / sqrt(ch[l] * k * k));
        gp_test_fill(b[l], (size_t)ch[l + 1], 0.3);
        gp_conv_layer c = { ch[l], ch[l + 1], k, s, p, W[l], b[l] };
        L[l] = c;
        h[l + 1] = (h[l] + 2 * p - k) / s + 1;
    }
    size_t in = (size_t)ch[0] * hw * hw, out = (size_t)ch[nconv] * h[nconv] * h[nconv];
    float *x = malloc(sizeof(float) * in * n), *y = malloc(sizeof(float) * out * n);
    float *y1 = malloc(sizeof(float) * out * n);
    gp_test_fill(x, in * n, 1.0);
    /* double reference */
    double *R = malloc(sizeof(double) * out * n);
    for (int i = 0; i < n; i++) {
        double *a = malloc(sizeof(double) * in);
        for (size_t j = 0; j < in; j++) a[j] = x[i * in + j];
        for (int l = 0; l < nconv; l++) {
            double *o = malloc(sizeof(double) * ch[l + 1] * h[l + 1] * h[l + 1]);
            conv_ref_d(a, ch[l], h[l], h[l], W[l], b[l], ch[l + 1], k, s, p, 0.2, o);
            free(a);
            a = o;
        }
        memcpy(R + i * out, a, sizeof(double) * out);
        free(a);
    }
    /* where the CPU has AMX, its kernel takes the layers it can (k cin and
     * cout multiples of 32); both paths are checked (GP_CPU_NO_AMX) */
    char *no_amx = getenv("GP_CPU_NO_AMX") ? strdup(getenv("GP_CPU_NO_AMX")) : NULL;
    for (int path = 0; path < 2; path++) {
        if (path == 1) setenv("GP_CPU_NO_AMX", "1", 1);
        for (int threads = 1; threads <= 3; threads++) {
            gp_backend *be;
            assert_int_equal(gp_backend_open_cpu(threads, &be, NULL), GP_OK);
            assert_non_null(be->ops->conv_stack);
            for (size_t j = 0; j < out * n; j++) y[j] = NAN;
            assert_int_equal(be->ops->conv_stack(be, x, n, hw, hw, nconv, L, GP_ACT_LEAKY_RELU, 0.2f, y, NULL), GP_OK);
            double e = gp_test_relerr(y, R, out * n);
            if (!(e < 1e-5)) fail_msg("conv_stack %d->%d, %d threads: relative error %g", ch[0], ch[nconv], threads, e);
            if (threads == 1) memcpy(y1, y, sizeof(float) * out * n);
            else if (memcmp(y, y1, sizeof(float) * out * n)) fail_msg("conv_stack: %d threads differ from 1 thread", threads);
            /* one image at a time: the same bits */
            for (int i = 0; i < n; i++) {
                assert_int_equal(be->ops->conv_stack(be, x + i * in, 1, hw, hw, nconv, L, GP_ACT_LEAKY_RELU, 0.2f, y, NULL), GP_OK);
                if (memcmp(y, y1 + i * out, sizeof(float) * out))
                    fail_msg("conv_stack: image %d alone differs from the batch (%d threads)", i, threads);
            }
            /* stretched as read (gp_cpu_conv_stack_cutouts, images by
             * pointer, here in reverse order): the bits of stretching
             * copies first and stacking those */
            if (ch[0] == 3) {
                const float soft[3] = { 0.2f, 0.35f, 0.5f }, off[3] = { 0.1f, -0.2f, 0 }, scl[3] = { 1.5f, 2.5f, 1 };
                float *xs = malloc(sizeof(float) * in * n), *ys = malloc(sizeof(float) * out * n);
                const float **xp = malloc(sizeof *xp * n);
                memcpy(xs, x, sizeof(float) * in * n);
                assert_int_equal(be->ops->stretch(be, xs, n, 3, hw * hw, soft, off, scl, NULL), GP_OK);
                assert_int_equal(be->ops->conv_stack(be, xs, n, hw, hw, nconv, L, GP_ACT_LEAKY_RELU, 0.2f, ys, NULL),
                                 GP_OK);
                for (int i = 0; i < n; i++) xp[i] = x + (size_t)(n - 1 - i) * in;
                for (size_t j = 0; j < out * n; j++) y[j] = NAN;
                assert_int_equal(gp_cpu_conv_stack_cutouts(be, xp, n, hw, hw, soft, off, scl, 0, nconv, L,
                                                           GP_ACT_LEAKY_RELU, 0.2f, y, NULL), GP_OK);
                for (int i = 0; i < n; i++)
                    if (memcmp(y + i * out, ys + (size_t)(n - 1 - i) * out, sizeof(float) * out))
                        fail_msg("conv_stack_cutouts: image %d differs from stretch + conv_stack (%d threads)", i,
                                 threads);
                /* left HWC: the same values, laid out [pixel][channel] */
                const size_t P = out / ch[nconv];
                for (size_t j = 0; j < out * n; j++) y[j] = NAN;
                assert_int_equal(gp_cpu_conv_stack_cutouts(be, xp, n, hw, hw, soft, off, scl, 1, nconv, L,
                                                           GP_ACT_LEAKY_RELU, 0.2f, y, NULL), GP_OK);
                for (int i = 0; i < n; i++)
                    for (size_t pi = 0; pi < P; pi++)
                        for (int c = 0; c < ch[nconv]; c++) {
                            float a = y[i * out + pi * ch[nconv] + c], ev = ys[(size_t)(n - 1 - i) * out + c * P + pi];
                            if (memcmp(&a, &ev, sizeof a))
                                fail_msg("conv_stack_cutouts HWC: image %d pixel %zu channel %d: %g vs %g (%d threads)",
                                         i, pi, c, (double)a, (double)ev, threads);
                        }
                free(xs); free(ys); free(xp);
            }
            gp_backend_close(be);
        }
    }
    if (no_amx) setenv("GP_CPU_NO_AMX", no_amx, 1);
    else unsetenv("GP_CPU_NO_AMX");
    free(no_amx);
    for (int l = 0; l < nconv; l++) { free(W[l]); free(b[l]); }
    free(x); free(y); free(y1); free(R);
}

static void test_conv_stack(void **state)
{
    (void)state;
    const int direct[4] = { 3, 32, 16, 8 };     /* first layer on the direct path where the CPU has AVX2+FMA */
    check_stack(direct, 3, 4, 2, 1, 40, 3);
    const int wide[4] = { 3, 32, 64, 16 };      /* AVX-512: 32-channel first layer, 64-channel implicit GEMM */
    check_stack(wide, 3, 4, 2, 1, 24, 2);
    const int chain[4] = { 3, 64, 64, 8 };      /* a 64-channel layer writing into the next one's padded input */
    check_stack(chain, 3, 2, 2, 1, 30, 3);
    const int small[4] = { 3, 16, 8, 4 };      /* no padding, K = 12 and 64: im2col + direct small-K path */
    check_stack(small, 3, 2, 2, 0, 32, 2);
    const int gemm[3] = { 3, 12, 5 };           /* cout not a multiple of 8: GEMM path; stride 1 */
    check_stack(gemm, 2, 3, 1, 1, 17, 2);
    /* a bad stack is refused */
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(1, &be, NULL), GP_OK);
    float w[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, b[4] = { 0 }, x[16] = { 0 }, y[64];
    gp_conv_layer bad[2] = { { 1, 2, 1, 1, 0, w, b }, { 3, 1, 1, 1, 0, w, b } };   /* layer 1 wants 3 channels, gets 2 */
    assert_int_equal(be->ops->conv_stack(be, x, 1, 4, 4, 2, bad, GP_ACT_LEAKY_RELU, 0.2f, y, NULL), GP_ERR_ARG);
    gp_backend_close(be);
}

static void test_stretch(void **state)
{
    (void)state;
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(2, &be, NULL), GP_OK);
    const int plane = 4099, n = 2;   /* not a multiple of 8: the scalar tail too */
    float *x = malloc(sizeof(float) * 3 * plane * n), *x0 = malloc(sizeof(float) * 3 * plane * n);
    for (int i = 0; i < 3 * plane * n; i++) {
        double mag = pow(10.0, -12 + 20 * gp_test_uniform());      /* 1e-12 .. 1e8 */
        x0[i] = (float)(gp_test_uniform() < 0.5 ? -mag : mag);
    }
    x0[0] = INFINITY; x0[1] = -INFINITY; x0[2] = NAN; x0[3] = 0.0f; x0[4] = -0.0f;
    memcpy(x, x0, sizeof(float) * 3 * plane * n);
    const float soft[3] = { 0.017f, 0.029f, 0.046f }, off[3] = { 0.1f, -0.2f, 0 }, scl[3] = { 3, 2.5f, 1 };
    assert_int_equal(be->ops->stretch(be, x, n, 3, plane, soft, off, scl, NULL), GP_OK);
    for (int i = 5; i < 3 * plane * n; i++) {
        int c = (i / plane) % 3;
        float xs = x0[i] * (1.0f / soft[c]);
        double a = asinh((double)xs);
        /* the float asinh within 3 ulp (2.2e-7 relative over every float
         * from 2^-12 up, checked once exhaustively), then two float operations */
        double tol = 2.5 * (fabs(a) * 1.2e-7 + 1e-45) / scl[c] + 3 * 6e-8 * fabs((a - off[c]) / scl[c]);
        double ref = (a - off[c]) * (1.0 / scl[c]);
        if (!(fabs(x[i] - ref) <= tol)) fail_msg("stretch of %g: %.9g vs %.9g", (double)x0[i], (double)x[i], ref);
    }
    assert_true(isinf(x[0]) && x[0] > 0);
    assert_true(isinf(x[1]) && x[1] < 0);
    assert_true(isnan(x[2]));
    /* the vector paths give the scalar gp_asinhf's bits, also around its
     * branch points (a = 2^-12; 1 + t = sqrt(2), 2, 2 sqrt(2) at a = 0.3536,
     * 0.75, 1.2374; a = 2^12; a^2 overflowing) and on random values */
    const float edge[] = { 0x1p-12f, 0.35355339f, 0.75f, 1.23743687f, 0x1p12f, 1.8446744e19f, 3e38f };
    size_t ne = 0;
    for (size_t k = 0; k < sizeof edge / sizeof *edge; k++) {
        float v = edge[k];
        for (int j = 0; j < 200; j++) v = nextafterf(v, 0.0f);
        for (int j = 0; j < 400; j++, ne++) {
            x0[ne] = (ne & 1) ? -v : v;
            v = nextafterf(v, INFINITY);
        }
    }
    for (size_t i = ne; i < (size_t)3 * plane * n; i++) x0[i] = (float)((gp_test_uniform() - 0.5) * pow(10.0, -6 + 12 * gp_test_uniform()));
    memcpy(x, x0, sizeof(float) * 3 * plane * n);
    gp_cpu_stretch_plane(x, (size_t)3 * plane * n, 1.0f, 0.0f, 1.0f);
    for (size_t i = 0; i < (size_t)3 * plane * n; i++) {
        float r = (gp_asinhf(x0[i] * 1.0f) - 0.0f) * 1.0f;
        if (memcmp(&r, &x[i], sizeof r)) fail_msg("stretch of %.9g: %.9g, scalar gp_asinhf %.9g", (double)x0[i], (double)x[i], (double)r);
    }
    free(x); free(x0);
    gp_backend_close(be);
}

/* the composed path of gp_infer for member k */
static void composed(gp_model *m, int k, uint64_t seed, const uint64_t *ids, const int *row_gal,
                     const int *sidx, int rows, const float *trunk, const float *head, const float *lhead,
                     int ngal, float *core, float *oh, float *line)
{
    gp_backend *be = m->be;
    const gp_net *net = &m->net;
    const gp_member *mm = &net->member[k];
    static const int cc[4] = { 0, 1, 2, 3 }, oc[1] = { 4 };
    size_t fs = gp_realnvp_scratch(&mm->core_flow, rows, ngal);
    if (gp_realnvp_scratch(&mm->line_flow, rows, ngal) > fs) fs = gp_realnvp_scratch(&mm->line_flow, rows, ngal);
    if (gp_affine1d_scratch(&mm->oh_flow, rows, ngal) > fs) fs = gp_affine1d_scratch(&mm->oh_flow, rows, ngal);
    float *scr = malloc(sizeof(float) * fs), *hc = malloc(sizeof(float) * ngal * 4), *ho = malloc(sizeof(float) * ngal);
    assert_int_equal(be->ops->gather_cols(be, head, ngal, 5, cc, 4, hc, NULL), GP_OK);
    assert_int_equal(be->ops->gather_cols(be, head, ngal, 5, oc, 1, ho, NULL), GP_OK);
    assert_int_equal(be->ops->normals(be, seed, ids, row_gal, sidx, rows, GP_STREAM_CORE, 4, core, NULL), GP_OK);
    assert_int_equal(gp_realnvp_apply(be, &mm->core_flow, net->act, net->slope, core, rows, trunk, ngal, row_gal, -1, NULL, scr, NULL), GP_OK);
    assert_int_equal(be->ops->add_rows(be, core, rows, 4, hc, row_gal, NULL), GP_OK);
    assert_int_equal(be->ops->normals(be, seed, ids, row_gal, sidx, rows, GP_STREAM_OH, 1, oh, NULL), GP_OK);
    assert_int_equal(gp_affine1d_apply(be, &mm->oh_flow, net->act, net->slope, oh, rows, core, trunk, ngal, row_gal, -1, NULL, scr, NULL), GP_OK);
    assert_int_equal(be->ops->add_rows(be, oh, rows, 1, ho, row_gal, NULL), GP_OK);
    assert_int_equal(be->ops->normals(be, seed, ids, row_gal, sidx, rows, GP_STREAM_LINE, 4, line, NULL), GP_OK);
    assert_int_equal(gp_realnvp_apply(be, &mm->line_flow, net->act, net->slope, line, rows, trunk, ngal, row_gal, -1, NULL, scr, NULL), GP_OK);
    assert_int_equal(be->ops->add_rows(be, line, rows, 4, lhead, row_gal, NULL), GP_OK);
    free(scr); free(hc); free(ho);
}

/* flow_hidden 24: the generic first layer and the fixed-order kernel for
 * the hidden layers; 64: the AVX-512 first layer and row GEMM of the
 * default architecture */
static void member_sample_case(int flow_hidden)
{
    char path[512];
    gp_test_tmpname(path, sizeof path, ".gpw");
    gp_arch a = gp_arch_default();
    a.uses_image = 0;
    a.trunk[0] = 24; a.trunk[1] = 40; a.head_hidden = 8; a.flow_hidden = flow_hidden; a.couplings = 6;
    a.ensemble = 2; a.flow_gain = 0.3f;
    gp_error err;
    assert_int_equal(gp_model_write_random(path, &a, (uint64_t)(gp_test_uniform() * 1e9), &err), GP_OK);
    const int ngal = 3, per = 70, rows = ngal * per;   /* 210 rows: 4 blocks, the last partial */
    uint64_t ids[3] = { 17, (uint64_t)(gp_test_uniform() * 1e15), 1ull << 40 };
    int *row_gal = malloc(sizeof(int) * rows), *sidx = malloc(sizeof(int) * rows);
    for (int r = 0; r < rows; r++) { row_gal[r] = r / per; sidx[r] = 2 * (r % per) + 1; }
    float *trunk = malloc(sizeof(float) * ngal * 40), head[15], lhead[12];
    gp_test_fill(trunk, (size_t)ngal * 40, 1.0);
    gp_test_fill(head, 15, 1.0);
    gp_test_fill(lhead, 12, 1.0);
    float *c1 = malloc(sizeof(float) * rows * 4), *o1 = malloc(sizeof(float) * rows), *l1 = malloc(sizeof(float) * rows * 4);
    float *c2 = malloc(sizeof(float) * rows * 4), *o2 = malloc(sizeof(float) * rows), *l2 = malloc(sizeof(float) * rows * 4);
    uint64_t seed = 1 + (uint64_t)(gp_test_uniform() * 1e6);
    for (int threads = 1; threads <= 3; threads++) {
        gp_model_options o = gp_model_options_default();
        o.backend = GP_BACKEND_CPU;
        o.threads = threads;
        gp_model *m;
        assert_int_equal(gp_model_open(path, &o, &m, &err), GP_OK);
        assert_non_null(m->be->ops->member_sample);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(m->be->ops->member_sample(m->be, &m->net, k, seed, ids, row_gal, sidx, rows, trunk,
                                                       head, lhead, ngal, c1, o1, l1, NULL), GP_OK);
            composed(m, k, seed, ids, row_gal, sidx, rows, trunk, head, lhead, ngal, c2, o2, l2);
            double *R = malloc(sizeof(double) * rows * 4);
            const float *pairs[3][2] = { { c1, c2 }, { o1, o2 }, { l1, l2 } };
            const size_t len[3] = { (size_t)rows * 4, (size_t)rows, (size_t)rows * 4 };
            for (int q = 0; q < 3; q++) {
                for (size_t i = 0; i < len[q]; i++) R[i] = pairs[q][1][i];
                double e = gp_test_relerr(pairs[q][0], R, len[q]);
                if (!(e < 1e-5)) fail_msg("member_sample %d, output %d: relative error %g vs the composed path", k, q, e);
            }
            free(R);
            /* determinism: a different split (rows 5.. alone) gives the same bits */
            static float ref_c[2][210 * 4];
            if (threads == 1) memcpy(ref_c[k], c1, sizeof(float) * rows * 4);
            else if (memcmp(ref_c[k], c1, sizeof(float) * rows * 4)) fail_msg("member_sample: %d threads differ", threads);
            assert_int_equal(m->be->ops->member_sample(m->be, &m->net, k, seed, ids, row_gal + 5, sidx + 5, rows - 5,
                                                       trunk, head, lhead, ngal, c2, o2, l2, NULL), GP_OK);
            if (memcmp(c2, c1 + 5 * 4, sizeof(float) * (rows - 5) * 4) || memcmp(o2, o1 + 5, sizeof(float) * (rows - 5)) ||
                memcmp(l2, l1 + 5 * 4, sizeof(float) * (rows - 5) * 4))
                fail_msg("member_sample: rows 5.. alone differ from the full call");
        }
        assert_int_equal(m->be->ops->member_sample(m->be, &m->net, 2, seed, ids, row_gal, sidx, rows, trunk,
                                                   head, lhead, ngal, c1, o1, l1, NULL), GP_ERR_ARG);
        gp_model_close(m);
    }
    unlink(path);
    free(row_gal); free(sidx); free(trunk); free(c1); free(o1); free(l1); free(c2); free(o2); free(l2);
}

static void test_member_sample(void **state)
{
    (void)state;
    member_sample_case(24);
    member_sample_case(64);
}

static void count_range(void *ctx, int chunk, size_t begin, size_t end)
{
    (void)chunk;
    int *v = ctx;
    for (size_t i = begin; i < end; i++) v[i]++;
}

/* The fixed-order dense kernel: against double loops; the same bits on
 * every instruction-set path, for any subset of the rows, and through the
 * backend's dense op with 1, 2 and 3 threads (the property OpenBLAS's sgemm
 * lacks); K above the kernel's block (4096) and sizes that are not
 * multiples of the tiles. */
static void test_dense_rows(void **state)
{
    (void)state;
    static const int shp[][3] = { { 70, 73, 256 }, { 64, 256, 128 }, { 13, 128, 5 }, { 9, 9000, 33 }, { 3, 17, 1 } };
    gp_backend *be[3];
    for (int t = 0; t < 3; t++) assert_int_equal(gp_backend_open_cpu(t + 1, &be[t], NULL), GP_OK);
    for (size_t q = 0; q < sizeof shp / sizeof shp[0]; q++) {
        int R = shp[q][0], K = shp[q][1], N = shp[q][2];
        float *X = malloc(sizeof(float) * R * K), *W = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
        float *Y[3], *Z = malloc(sizeof(float) * R * N);
        double *ref = malloc(sizeof(double) * R * N);
        gp_test_fill(X, (size_t)R * K, 1.0);
        gp_test_fill(W, (size_t)N * K, 1.0 / sqrt(K));
        gp_test_fill(b, (size_t)N, 0.5);
        double num = 0, den = 0;
        for (int r = 0; r < R; r++)
            for (int o = 0; o < N; o++) {
                double acc = b[o];
                for (int k = 0; k < K; k++) acc += (double)X[(size_t)r * K + k] * W[(size_t)o * K + k];
                ref[(size_t)r * N + o] = acc;
                if (fabs(acc) > den) den = fabs(acc);
            }
        for (int path = 0; path < 3; path++) {
            Y[path] = malloc(sizeof(float) * R * N);
            for (size_t i = 0; i < (size_t)R * N; i++) Y[path][i] = NAN;
            int st = gp_cpu_dense_rows_path(X, R, K, W, N, b, Y[path], path);
            if (st == -2) { free(Y[path]); Y[path] = NULL; continue; }   /* this CPU lacks the path */
            assert_int_equal(st, 0);
            for (size_t i = 0; i < (size_t)R * N; i++) {
                if (!isfinite(Y[path][i])) fail_msg("dense rows %dx%d->%d path %d: output %zu not finite", R, K, N, path, i);
                double d = fabs(Y[path][i] - ref[i]);
                if (d > num) num = d;
            }
            if (!(num / den < 1e-5)) fail_msg("dense rows %dx%d->%d path %d: relative error %g", R, K, N, path, num / den);
            if (path > 0 && Y[0] && memcmp(Y[path], Y[0], sizeof(float) * R * N))
                fail_msg("dense rows %dx%d->%d: path %d differs from the scalar path", R, K, N, path);
        }
        /* rows alone or in part: the same bits as in the whole batch */
        for (int r0 = 0; r0 < R; r0 += 5) {
            int nr = R - r0 < 3 ? R - r0 : 3;
            assert_int_equal(gp_cpu_dense_rows(X + (size_t)r0 * K, nr, K, W, N, b, Z), 0);
            if (memcmp(Z, Y[0] + (size_t)r0 * N, sizeof(float) * nr * N))
                fail_msg("dense rows %dx%d->%d: rows %d..%d differ when computed alone", R, K, N, r0, r0 + nr - 1);
        }
        /* the backend's dense op: the same bits for 1, 2 and 3 threads */
        for (int t = 0; t < 3; t++) {
            for (size_t i = 0; i < (size_t)R * N; i++) Z[i] = NAN;
            assert_int_equal(be[t]->ops->dense(be[t], X, R, K, W, b, N, GP_ACT_NONE, 0.0f, Z, NULL), GP_OK);
            if (memcmp(Z, Y[0], sizeof(float) * R * N))
                fail_msg("dense %dx%d->%d: %d threads differ from the kernel", R, K, N, t + 1);
        }
        /* two layers on the same rows as one (the first N1 = N/2 + 1
         * outputs, then the rest; tiles of four that straddle the two and
         * tiles within one): the same bits as each layer alone */
        int N1 = N / 2 + 1, N2 = N - N1;
        if (N2 > 0) {
            float *P1 = malloc(sizeof(float) * R * N1), *P2 = malloc(sizeof(float) * R * N2);
            float *A2 = malloc(sizeof(float) * R * N2);
            assert_int_equal(gp_cpu_dense_rows_pair(X, R, K, W, N1, b, P1, W + (size_t)N1 * K, N2, b + N1, P2), 0);
            assert_int_equal(gp_cpu_dense_rows(X, R, K, W + (size_t)N1 * K, N2, b + N1, A2), 0);
            for (int r = 0; r < R; r++)
                if (memcmp(P1 + (size_t)r * N1, Y[0] + (size_t)r * N, sizeof(float) * N1))
                    fail_msg("dense rows pair %dx%d->%d+%d: row %d of the first layer differs", R, K, N1, N2, r);
            if (memcmp(P2, A2, sizeof(float) * R * N2))
                fail_msg("dense rows pair %dx%d->%d+%d: the second layer differs", R, K, N1, N2);
            free(P1); free(P2); free(A2);
        }
        for (int path = 0; path < 3; path++) free(Y[path]);
        free(X); free(W); free(b); free(Z); free(ref);
    }
    for (int t = 0; t < 3; t++) gp_backend_close(be[t]);
}

/* ops->encode_cutouts on a model of the default architecture: mu and
 * logvar within 1e-5 of the composed path (copies stretched, then
 * gp_net_encode), with and without AMX, and bit-identical for 1 and 2
 * threads and for a galaxy alone or in the batch. */
static void test_encode_cutouts(void **state)
{
    (void)state;
    char path[512];
    gp_test_tmpname(path, sizeof path, ".gpw");
    gp_arch a = gp_arch_default();
    a.ensemble = 1;
    gp_error err;
    if (gp_model_write_random(path, &a, 9, &err)) fail_msg("%s", err.msg);
    enum { NG = 3 };
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS * NG), *x = malloc(sizeof(float) * GP_CUTOUT_PIXELS * NG);
    gp_test_fill(cut, (size_t)GP_CUTOUT_PIXELS * NG, 0.05);
    const float *cp[NG];
    for (int g = 0; g < NG; g++) cp[g] = cut + (size_t)g * GP_CUTOUT_PIXELS;
    char *no_amx = getenv("GP_CPU_NO_AMX") ? strdup(getenv("GP_CPU_NO_AMX")) : NULL;
    float first[2 * NG * 64];
    for (int run = 0; run < 4; run++) {
        if (run == 2) setenv("GP_CPU_NO_AMX", "1", 1);
        gp_model_options o = gp_model_options_default();
        o.backend = GP_BACKEND_CPU;
        o.threads = 1 + run % 2;
        gp_model *m;
        if (gp_model_open(path, &o, &m, &err)) fail_msg("%s", err.msg);
        const gp_net *net = &m->net;
        gp_backend *be = m->be;
        assert_non_null(be->ops->encode_cutouts);
        size_t nl = (size_t)NG * net->latent;
        float *scr = malloc(sizeof(float) * gp_net_encoder_scratch(net, NG));
        float *mu0 = malloc(sizeof(float) * nl * 4), *lv0 = mu0 + nl, *mu1 = lv0 + nl, *lv1 = mu1 + nl;
        for (size_t i = 0; i < 4 * nl; i++) mu0[i] = NAN;
        memcpy(x, cut, sizeof(float) * GP_CUTOUT_PIXELS * NG);
        assert_int_equal(be->ops->stretch(be, x, NG, GP_CUTOUT_BANDS, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, net->soft,
                                          net->offset, net->scale, NULL), GP_OK);
        assert_int_equal(gp_net_encode(be, net, x, NG, scr, mu0, lv0, NULL), GP_OK);
        assert_int_equal(be->ops->encode_cutouts(be, net, cp, NG, scr, mu1, lv1, NULL), GP_OK);
        for (size_t i = 0; i < 2 * nl; i++)
            if (!isfinite(mu0[i])) fail_msg("composed encoder: value %zu is %g", i, (double)mu0[i]);
        /* the latent layers sum in another order (HWC features): within
         * 1e-5 of the composed path, checked by parity.py against PyTorch */
        double *ref = malloc(sizeof(double) * 2 * nl);
        for (size_t i = 0; i < 2 * nl; i++) ref[i] = mu0[i];
        double e = gp_test_relerr(mu1, ref, 2 * nl);   /* mu1, lv1 follow each other like mu0, lv0 */
        if (!(e < 1e-5)) fail_msg("encode_cutouts vs stretch + gp_net_encode: relative error %g (run %d)", e, run);
        free(ref);
        /* the same bits for an image alone, in any run (threads, AMX or not
         * for the latent layers' part: the stack is bit-identical anyway) */
        if (run == 0) memcpy(first, mu1, sizeof(float) * 2 * nl);
        else if (run == 1 && memcmp(first, mu1, sizeof(float) * 2 * nl)) fail_msg("encode_cutouts: 2 threads differ from 1");
        for (int g = 0; g < NG; g++) {
            float one[2 * 64];
            assert_true(net->latent <= 64);
            assert_int_equal(be->ops->encode_cutouts(be, net, cp + g, 1, scr, one, one + net->latent, NULL), GP_OK);
            if (memcmp(one, mu1 + (size_t)g * net->latent, sizeof(float) * net->latent) ||
                memcmp(one + net->latent, lv1 + (size_t)g * net->latent, sizeof(float) * net->latent))
                fail_msg("encode_cutouts: galaxy %d alone differs from the batch (run %d)", g, run);
        }
        free(scr); free(mu0);
        gp_model_close(m);
    }
    if (no_amx) setenv("GP_CPU_NO_AMX", no_amx, 1);
    else unsetenv("GP_CPU_NO_AMX");
    free(no_amx);
    free(cut); free(x);
    unlink(path);
}

/* Inference with a model of the default architecture (the sizes at which
 * OpenBLAS's row-count-dependent sums showed): samples bit-identical for 1
 * and 2 threads and for a galaxy inferred within a batch or with a few
 * others. */
static void test_default_arch_determinism(void **state)
{
    (void)state;
    char path[512];
    gp_test_tmpname(path, sizeof path, ".gpw");
    gp_arch a = gp_arch_default();
    a.ensemble = 2;
    gp_error err;
    if (gp_model_write_random(path, &a, 5, &err)) fail_msg("%s", err.msg);
    enum { NG = 24 };
    gp_galaxy gal[NG];
    float *cut = gp_test_galaxies(gal, NG);
    assert_non_null(cut);
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 60;
    io.seed = 11;
    io.keep_samples = 1;
    gp_result r1[NG], r2[NG], r3[5];
    gp_model *m[2];
    for (int t = 0; t < 2; t++) {
        gp_model_options o = gp_model_options_default();
        o.backend = GP_BACKEND_CPU;
        o.threads = t + 1;
        if (gp_model_open(path, &o, &m[t], &err)) fail_msg("%s", err.msg);
    }
    assert_int_equal(gp_infer(m[0], gal, NG, &io, r1, &err), GP_OK);
    assert_int_equal(gp_infer(m[1], gal, NG, &io, r2, &err), GP_OK);
    assert_int_equal(gp_infer(m[1], gal + 9, 5, &io, r3, &err), GP_OK);
    size_t bytes = sizeof(float) * (size_t)io.nsamples * GP_NQ;
    for (int g = 0; g < NG; g++)
        if (memcmp(r1[g].samples, r2[g].samples, bytes)) fail_msg("galaxy %d: samples differ between 1 and 2 threads", g);
    for (int g = 0; g < 5; g++)
        if (memcmp(r3[g].samples, r1[g + 9].samples, bytes)) fail_msg("galaxy %d: samples differ in a batch of 5", g + 9);
    gp_result_free(r1, NG);
    gp_result_free(r2, NG);
    gp_result_free(r3, 5);
    gp_model_close(m[0]);
    gp_model_close(m[1]);
    free(cut);
    unlink(path);
}

static void dynamic_item(void *ctx, size_t begin, size_t end)
{
    _Atomic int *hits = ctx;
    if (end != begin + 1) atomic_fetch_add(&hits[begin], 1000);   /* one index per call */
    for (size_t i = begin; i < end; i++) atomic_fetch_add(&hits[i], 1);
}

static void test_pool_fork(void **state)
{
    (void)state;
    static int v[1000];
    memset(v, 0, sizeof v);
    for (int t = 1; t <= 4; t++) assert_int_equal(gp_parallel_chunks(t, 1000, count_range, v), GP_OK);
    for (int i = 0; i < 1000; i++) assert_int_equal(v[i], 4);
    /* gp_parallel_dynamic: every index exactly once, one at a time, for
     * 1 to 4 threads (and more threads than items) */
    static _Atomic int hits[1000];
    for (int t = 1; t <= 5; t++) {
        size_t n = t == 5 ? 3 : 1000;
        for (int i = 0; i < 1000; i++) atomic_store(&hits[i], 0);
        assert_int_equal(gp_parallel_dynamic(t, n, dynamic_item, hits), GP_OK);
        for (size_t i = 0; i < 1000; i++)
            if (atomic_load(&hits[i]) != (i < n ? 1 : 0))
                fail_msg("gp_parallel_dynamic(%d, %zu): index %zu ran %d times", t, n, i, atomic_load(&hits[i]));
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);   /* a child waiting for its parent's workers would hang: SIGALRM fails it */
        int ok = gp_parallel_chunks(2, 1000, count_range, v) == GP_OK;
        for (int i = 0; i < 1000; i++) ok = ok && v[i] == 5;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("forked child: %s %d", WIFSIGNALED(status) ? "signal" : "exit status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

int main(void)
{
    gp_test_seed("test_cpu_fast");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_stack),
        cmocka_unit_test(test_stretch),
        cmocka_unit_test(test_member_sample),
        cmocka_unit_test(test_dense_rows),
        cmocka_unit_test(test_encode_cutouts),
        cmocka_unit_test(test_default_arch_determinism),
        cmocka_unit_test(test_pool_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
