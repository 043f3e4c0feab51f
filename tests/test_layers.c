/* test_layers.c: every CPU backend layer against a naive loop, on fresh
 * random inputs, by relative error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gp_backend.h"
#include "gp_parallel.h"
#include "gp_test_util.h"

static double act_ref(double v, gp_act a, double slope)
{
    switch (a) {
    case GP_ACT_RELU: return v > 0 ? v : 0;
    case GP_ACT_LEAKY_RELU: return v > 0 ? v : slope * v;
    case GP_ACT_TANH: return tanh(v);
    case GP_ACT_SIGMOID: return 1 / (1 + exp(-v));
    default: return v;
    }
}

static void test_dense(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        gp_backend *be;
        assert_int_equal(gp_backend_open_cpu(threads, &be, NULL), GP_OK);
        const int shapes[][3] = { {1, 7, 3}, {5, 33, 17}, {64, 73, 256}, {130, 256, 64} };
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int a = GP_ACT_NONE; a <= GP_ACT_SIGMOID; a++) {
                int rows = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
                float *X = malloc(sizeof(float) * rows * in), *W = malloc(sizeof(float) * out * in);
                float *b = malloc(sizeof(float) * out), *Y = malloc(sizeof(float) * rows * out);
                double *R = malloc(sizeof(double) * rows * out);
                gp_test_fill(X, (size_t)rows * in, 1.0);
                gp_test_fill(W, (size_t)out * in, 0.3);
                gp_test_fill(b, (size_t)out, 0.5);
                for (int i = 0; i < rows * out; i++) Y[i] = NAN; /* poisoned */
                for (int r = 0; r < rows; r++)
                    for (int o = 0; o < out; o++) {
                        double acc = b[o];
                        for (int i = 0; i < in; i++) acc += (double)X[r * in + i] * W[o * in + i];
                        R[r * out + o] = act_ref(acc, (gp_act)a, 0.2);
                    }
                assert_int_equal(be->ops->dense(be, X, rows, in, W, b, out, (gp_act)a, 0.2f, Y, NULL), GP_OK);
                double e = gp_test_relerr(Y, R, (size_t)rows * out);
                if (!(e < 1e-5)) fail_msg("dense %dx%d->%d act %d: relative error %g", rows, in, out, a, e);
                free(X); free(W); free(b); free(Y); free(R);
            }
        gp_backend_close(be);
    }
}

static void conv_ref(const float *x, int n, int cin, int h, int w, const float *W, const float *b,
                     int cout, int k, int s, int p, double slope, double *y)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    for (int i = 0; i < n; i++)
        for (int co = 0; co < cout; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double acc = b[co];
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s - p + ky, ix = ox * s - p + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                acc += (double)x[((i * cin + ci) * h + iy) * w + ix] *
                                       W[((co * cin + ci) * k + ky) * k + kx];
                            }
                    y[((i * cout + co) * ho + oy) * wo + ox] = act_ref(acc, GP_ACT_LEAKY_RELU, slope);
                }
}

/* out[oy][ox] += in[iy][ix] * W[ci][co][ky][kx] with oy = iy*s - p + ky (PyTorch). */
static void convT_ref(const float *x, int n, int cin, int h, int w, const float *W, const float *b,
                      int cout, int k, int s, int p, double *y)
{
    int ho = (h - 1) * s - 2 * p + k, wo = (w - 1) * s - 2 * p + k;
    for (int i = 0; i < n; i++) {
        for (int co = 0; co < cout; co++)
            for (int j = 0; j < ho * wo; j++) y[(i * cout + co) * ho * wo + j] = b[co];
        for (int ci = 0; ci < cin; ci++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++)
                    for (int co = 0; co < cout; co++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int oy = iy * s - p + ky, ox = ix * s - p + kx;
                                if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
                                y[((i * cout + co) * ho + oy) * wo + ox] +=
                                    (double)x[((i * cin + ci) * h + iy) * w + ix] * W[((ci * cout + co) * k + ky) * k + kx];
                            }
    }
}

static void test_conv(void **state)
{
    (void)state;
    const int cfg[][7] = { /* n cin h cout k s p */
        {1, 3, 16, 5, 4, 2, 1}, {3, 4, 10, 6, 4, 2, 1}, {2, 2, 9, 3, 3, 1, 1}, {1, 3, 160, 4, 4, 2, 1},
    };
    for (int threads = 1; threads <= 2; threads++) {
        gp_backend *be;
        assert_int_equal(gp_backend_open_cpu(threads, &be, NULL), GP_OK);
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            int n = cfg[c][0], cin = cfg[c][1], h = cfg[c][2], cout = cfg[c][3], k = cfg[c][4], s = cfg[c][5], p = cfg[c][6];
            int ho = (h + 2 * p - k) / s + 1;
            size_t nx = (size_t)n * cin * h * h, ny = (size_t)n * cout * ho * ho;
            float *x = malloc(sizeof(float) * nx), *W = malloc(sizeof(float) * cout * cin * k * k);
            float *b = malloc(sizeof(float) * cout), *y = malloc(sizeof(float) * ny);
            double *r = malloc(sizeof(double) * ny);
            gp_test_fill(x, nx, 1.0);
            gp_test_fill(W, (size_t)cout * cin * k * k, 0.3);
            gp_test_fill(b, (size_t)cout, 0.2);
            for (size_t i = 0; i < ny; i++) y[i] = NAN;
            conv_ref(x, n, cin, h, h, W, b, cout, k, s, p, 0.2, r);
            assert_int_equal(be->ops->conv2d(be, x, n, cin, h, h, W, b, cout, k, s, p, GP_ACT_LEAKY_RELU, 0.2f, y, NULL), GP_OK);
            double e = gp_test_relerr(y, r, ny);
            if (!(e < 1e-5)) fail_msg("conv2d config %zu: relative error %g", c, e);
            free(y); free(r);
            /* transposed convolution from the conv output shape back */
            float *Wt = malloc(sizeof(float) * cout * cin * k * k);
            gp_test_fill(Wt, (size_t)cout * cin * k * k, 0.3);
            int hT = (ho - 1) * s - 2 * p + k;
            size_t nyt = (size_t)n * cin * hT * hT;
            float *xt = malloc(sizeof(float) * ny), *yt = malloc(sizeof(float) * nyt);
            double *rt = malloc(sizeof(double) * nyt);
            gp_test_fill(xt, ny, 1.0);
            for (size_t i = 0; i < nyt; i++) yt[i] = NAN;
            float *bt = malloc(sizeof(float) * cin);
            gp_test_fill(bt, (size_t)cin, 0.2);
            convT_ref(xt, n, cout, ho, ho, Wt, bt, cin, k, s, p, rt);
            assert_int_equal(be->ops->conv_transpose2d(be, xt, n, cout, ho, ho, Wt, bt, cin, k, s, p, GP_ACT_NONE, 0.0f, yt, NULL), GP_OK);
            e = gp_test_relerr(yt, rt, nyt);
            if (!(e < 1e-5)) fail_msg("conv_transpose2d config %zu: relative error %g", c, e);
            free(x); free(W); free(b); free(Wt); free(xt); free(yt); free(rt); free(bt);
        }
        gp_backend_close(be);
    }
}

static void test_conv_rejects_bad_shapes(void **state)
{
    (void)state;
    gp_backend *be;
    gp_error err;
    assert_int_equal(gp_backend_open_cpu(1, &be, NULL), GP_OK);
    float x[4] = {0}, y[4];
    assert_int_equal(be->ops->conv2d(be, x, 1, 1, 1, 1, x, NULL, 1, 4, 2, 0, GP_ACT_NONE, 0, y, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "conv2d"));
    assert_int_equal(be->ops->dense(be, x, 1, 0, x, NULL, 1, GP_ACT_NONE, 0, y, &err), GP_ERR_ARG);
    gp_backend *bad = NULL;
    assert_int_equal(gp_backend_open_cpu(-1, &bad, &err), GP_ERR_ARG);
    assert_null(bad);
    gp_backend_close(be);
}

static void test_elementwise(void **state)
{
    (void)state;
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(2, &be, NULL), GP_OK);
    /* stretch */
    const int plane = 50;
    float x[3 * 50 * 2], soft[3] = {0.02f, 0.03f, 0.05f}, off[3] = {0.1f, -0.2f, 0.3f}, scl[3] = {2, 3, 4};
    gp_test_fill(x, 300, 1.0);
    double r[300];
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < plane; k++) {
                size_t j = ((size_t)i * 3 + c) * plane + k;
                r[j] = (asinh((double)x[j] / soft[c]) - off[c]) / scl[c];
            }
    assert_int_equal(be->ops->stretch(be, x, 2, 3, plane, soft, off, scl, NULL), GP_OK);
    assert_true(gp_test_relerr(x, r, 300) < 1e-5);
    /* coupling forward then inverse restores x, log-dets cancel */
    float v[6 * 4], v0[6 * 4], st[6 * 4];
    gp_test_fill(v, 24, 1.0);
    memcpy(v0, v, sizeof v);
    gp_test_fill(st, 24, 2.0);
    int tidx[2] = {1, 3};
    double ld[6] = {0};
    assert_int_equal(be->ops->coupling(be, v, 6, 4, tidx, 2, st, 3.0f, 1, ld, NULL), GP_OK);
    for (int r2 = 0; r2 < 6; r2++) {
        double s1 = 3 * tanh(st[r2 * 4] / 3.0), s2 = 3 * tanh(st[r2 * 4 + 1] / 3.0);
        assert_true(fabs(ld[r2] - (s1 + s2)) < 1e-5);
        double e1 = v0[r2 * 4 + 1] * exp(s1) + st[r2 * 4 + 2];
        assert_true(fabs(v[r2 * 4 + 1] - e1) < 1e-4 * (1 + fabs(e1)));
        assert_true(v[r2 * 4] == v0[r2 * 4]);
    }
    assert_int_equal(be->ops->coupling(be, v, 6, 4, tidx, 2, st, 3.0f, -1, ld, NULL), GP_OK);
    for (int i = 0; i < 24; i++) assert_true(fabs(v[i] - v0[i]) < 1e-4 * (1 + fabs(v0[i])));
    for (int i = 0; i < 6; i++) assert_true(fabs(ld[i]) < 1e-5);
    gp_backend_close(be);
}

int main(void)
{
    gp_test_seed("test_layers");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_conv_rejects_bad_shapes),
        cmocka_unit_test(test_elementwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
