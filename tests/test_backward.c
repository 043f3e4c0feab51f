/* test_backward.c: the CPU backend's training operations (backward passes,
 * losses, Adam) against central finite differences of the forward
 * operations, on fresh random inputs.  Linear maps (dense, convolutions)
 * are differenced in float with a unit step (exact up to rounding); the
 * element-wise non-linear operations against double-precision references
 * differenced with a small step. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gp_backend.h"
#include "gp_test_util.h"

/* compare analytic a[i] with numeric b[i] over n values: max abs error / max |b| */
static void check_close(const char *what, const float *a, const double *b, size_t n, double tol)
{
    double e = gp_test_relerr(a, b, n);
    if (!(e < tol)) fail_msg("%s: relative error %g (tolerance %g)", what, e, tol);
}

/* L = sum c .* Y */
static double dotc(const float *Y, const float *c, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)Y[i] * c[i];
    return s;
}

static void test_dense_backward(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        gp_backend *be;
        assert_int_equal(gp_backend_open_cpu(threads, &be, NULL), GP_OK);
        const int shapes[][3] = { {1, 5, 3}, {7, 13, 9}, {33, 40, 17} };
        for (size_t s = 0; s < 3; s++) {
            int rows = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
            size_t nx = (size_t)rows * in, nw = (size_t)out * in, ny = (size_t)rows * out;
            float *X = malloc(4 * nx), *W = malloc(4 * nw), *b = malloc(4 * out), *Y = malloc(4 * ny), *C = malloc(4 * ny);
            float *dX = malloc(4 * nx), *dW = calloc(nw, 4), *db = calloc((size_t)out, 4);
            double *nX = malloc(8 * nx), *nW = malloc(8 * nw), *nb = malloc(8 * (size_t)out);
            gp_test_fill(X, nx, 1.0); gp_test_fill(W, nw, 0.5); gp_test_fill(b, (size_t)out, 0.5); gp_test_fill(C, ny, 1.0);
            assert_int_equal(be->ops->dense_backward(be, X, rows, in, W, out, C, dX, dW, db, NULL), GP_OK);
            /* f is affine in each argument: unit central differences are exact up to rounding */
            float *ps[3] = { X, W, b };
            double *ns[3] = { nX, nW, nb };
            size_t nn[3] = { nx, nw, (size_t)out };
            for (int a = 0; a < 3; a++)
                for (size_t i = 0; i < nn[a]; i++) {
                    float keep = ps[a][i];
                    ps[a][i] = keep + 0.5f;
                    be->ops->dense(be, X, rows, in, W, b, out, GP_ACT_NONE, 0, Y, NULL);
                    double lp = dotc(Y, C, ny);
                    ps[a][i] = keep - 0.5f;
                    be->ops->dense(be, X, rows, in, W, b, out, GP_ACT_NONE, 0, Y, NULL);
                    double lm = dotc(Y, C, ny);
                    ps[a][i] = keep;
                    ns[a][i] = lp - lm;
                }
            check_close("dense dX", dX, nX, nx, 1e-4);
            check_close("dense dW", dW, nW, nw, 1e-4);
            check_close("dense db", db, nb, (size_t)out, 1e-4);
            /* accumulation: a second call doubles dW and db */
            assert_int_equal(be->ops->dense_backward(be, X, rows, in, W, out, C, NULL, dW, db, NULL), GP_OK);
            for (size_t i = 0; i < nw; i++) nW[i] *= 2;
            check_close("dense dW accumulated", dW, nW, nw, 1e-4);
            free(X); free(W); free(b); free(Y); free(C); free(dX); free(dW); free(db); free(nX); free(nW); free(nb);
        }
        gp_backend_close(be);
    }
}

static void test_act_backward(void **state)
{
    (void)state;
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(1, &be, NULL), GP_OK);
    const int n = 200;
    float x[200], y[200], g[200], dx[200];
    double ref[200];
    for (int a = GP_ACT_NONE; a <= GP_ACT_SIGMOID; a++) {
        gp_test_fill(x, n, 2.0);
        gp_test_fill(g, n, 1.0);
        for (int i = 0; i < n; i++) if (fabsf(x[i]) < 1e-2f) x[i] = 0.5f;   /* away from kinks */
        memcpy(y, x, sizeof x);
        be->ops->activate(be, y, n, (gp_act)a, 0.2f, NULL);
        assert_int_equal(be->ops->act_backward(be, y, g, n, (gp_act)a, 0.2f, dx, NULL), GP_OK);
        for (int i = 0; i < n; i++) {
            double h = 1e-6, v = x[i], fp, fm;
            switch (a) {
            case GP_ACT_RELU: fp = v + h > 0 ? v + h : 0; fm = v - h > 0 ? v - h : 0; break;
            case GP_ACT_LEAKY_RELU: fp = v + h > 0 ? v + h : 0.2 * (v + h); fm = v - h > 0 ? v - h : 0.2 * (v - h); break;
            case GP_ACT_TANH: fp = tanh(v + h); fm = tanh(v - h); break;
            case GP_ACT_SIGMOID: fp = 1 / (1 + exp(-(v + h))); fm = 1 / (1 + exp(-(v - h))); break;
            default: fp = v + h; fm = v - h;
            }
            ref[i] = g[i] * (fp - fm) / (2 * h);
        }
        char what[64];
        snprintf(what, sizeof what, "activation %d backward", a);
        check_close(what, dx, ref, n, 1e-5);
    }
    gp_backend_close(be);
}

static void conv_fd(gp_backend *be, int transpose, int n, int cin, int h, int w, int cout, int k, int s, int p)
{
    int ho = transpose ? (h - 1) * s - 2 * p + k : (h + 2 * p - k) / s + 1;
    int wo = transpose ? (w - 1) * s - 2 * p + k : (w + 2 * p - k) / s + 1;
    size_t nx = (size_t)n * cin * h * w, nw = (size_t)cin * cout * k * k, ny = (size_t)n * cout * ho * wo;
    float *X = malloc(4 * nx), *W = malloc(4 * nw), *b = malloc(4 * (size_t)cout), *Y = malloc(4 * ny), *C = malloc(4 * ny);
    float *dX = malloc(4 * nx), *dW = calloc(nw, 4), *db = calloc((size_t)cout, 4);
    double *nX = malloc(8 * nx), *nW = malloc(8 * nw), *nb = malloc(8 * (size_t)cout);
    gp_test_fill(X, nx, 1.0); gp_test_fill(W, nw, 0.5); gp_test_fill(b, (size_t)cout, 0.5); gp_test_fill(C, ny, 1.0);
    int st = transpose
        ? be->ops->conv_transpose2d_backward(be, X, n, cin, h, w, W, cout, k, s, p, C, dX, dW, db, NULL)
        : be->ops->conv2d_backward(be, X, n, cin, h, w, W, cout, k, s, p, C, dX, dW, db, NULL);
    assert_int_equal(st, GP_OK);
    float *ps[3] = { X, W, b };
    double *ns[3] = { nX, nW, nb };
    size_t nn[3] = { nx, nw, (size_t)cout };
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < nn[a]; i++) {
            float keep = ps[a][i];
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                ps[a][i] = keep + (sgn ? -0.5f : 0.5f);
                if (transpose) be->ops->conv_transpose2d(be, X, n, cin, h, w, W, b, cout, k, s, p, GP_ACT_NONE, 0, Y, NULL);
                else be->ops->conv2d(be, X, n, cin, h, w, W, b, cout, k, s, p, GP_ACT_NONE, 0, Y, NULL);
                l[sgn] = dotc(Y, C, ny);
            }
            ps[a][i] = keep;
            ns[a][i] = l[0] - l[1];
        }
    char what[128];
    snprintf(what, sizeof what, "%s n=%d %dx%dx%d->%d k%d s%d p%d threads %d: dX", transpose ? "conv_transpose2d" : "conv2d",
             n, cin, h, w, cout, k, s, p, be->threads);
    check_close(what, dX, nX, nx, 2e-4);
    what[strlen(what) - 2] = 'W';
    check_close(what, dW, nW, nw, 2e-4);
    what[strlen(what) - 2] = 'b';
    check_close(what, db, nb, (size_t)cout, 2e-4);
    free(X); free(W); free(b); free(Y); free(C); free(dX); free(dW); free(db); free(nX); free(nW); free(nb);
}

static void test_conv_backward(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        gp_backend *be;
        assert_int_equal(gp_backend_open_cpu(threads, &be, NULL), GP_OK);
        conv_fd(be, 0, 3, 2, 8, 8, 3, 4, 2, 1);   /* the model's geometry */
        conv_fd(be, 0, 1, 3, 7, 6, 2, 3, 1, 1);
        conv_fd(be, 1, 3, 3, 4, 4, 2, 4, 2, 1);
        conv_fd(be, 1, 2, 2, 5, 3, 3, 3, 1, 0);
        gp_backend_close(be);
    }
}

/* deterministic for a thread count: two calls give identical bits */
static void test_conv_backward_deterministic(void **state)
{
    (void)state;
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(2, &be, NULL), GP_OK);
    int n = 5, cin = 4, h = 16, cout = 6;
    size_t nx = (size_t)n * cin * h * h, nw = (size_t)cout * cin * 16, ny = (size_t)n * cout * 64;
    float *X = malloc(4 * nx), *W = malloc(4 * nw), *C = malloc(4 * ny);
    float *dW1 = calloc(nw, 4), *dW2 = calloc(nw, 4), *db1 = calloc(6, 4), *db2 = calloc(6, 4);
    gp_test_fill(X, nx, 1); gp_test_fill(W, nw, 1); gp_test_fill(C, ny, 1);
    be->ops->conv2d_backward(be, X, n, cin, h, h, W, cout, 4, 2, 1, C, NULL, dW1, db1, NULL);
    be->ops->conv2d_backward(be, X, n, cin, h, h, W, cout, 4, 2, 1, C, NULL, dW2, db2, NULL);
    assert_memory_equal(dW1, dW2, 4 * nw);
    assert_memory_equal(db1, db2, 4 * 6);
    free(X); free(W); free(C); free(dW1); free(dW2); free(db1); free(db2);
    gp_backend_close(be);
}

/* double references of the element-wise losses and layers */
static double coupling_ref(const double *x, int dim, const int *tidx, int nt, const double *st, double S,
                           const double *c, double ldw)
{
    double y[4], ld = 0;
    for (int d = 0; d < dim; d++) y[d] = x[d];
    for (int k = 0; k < nt; k++) {
        double s = S * tanh(st[k] / S);
        y[tidx[k]] = x[tidx[k]] * exp(s) + st[nt + k];
        ld += s;
    }
    double L = ldw * ld;
    for (int d = 0; d < dim; d++) L += c[d] * y[d];
    return L;
}

static void test_coupling_backward(void **state)
{
    (void)state;
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(1, &be, NULL), GP_OK);
    const int cases[][5] = { {4, 2, 2, 3, 0}, {4, 1, 3, 2, 1}, {1, 1, 0, 0, 0}, {4, 3, 1, 0, 2} };
    for (int cs = 0; cs < 4; cs++) {
        int dim = cases[cs][0], nt = cases[cs][1];
        int tidx[4];
        for (int k = 0; k < nt; k++) tidx[k] = cases[cs][2 + k] % dim;
        if (nt == 2 && tidx[0] == tidx[1]) tidx[1] = (tidx[0] + 1) % dim;
        int rows = 6;
        float x[24], st[48], dy[24], dst[48], ldw[6], c[24];
        gp_test_fill(x, (size_t)rows * dim, 1.0);
        gp_test_fill(st, (size_t)rows * 2 * nt, 2.0);
        gp_test_fill(c, (size_t)rows * dim, 1.0);
        gp_test_fill(ldw, (size_t)rows, 1.0);
        memcpy(dy, c, sizeof(float) * rows * dim);
        const float S = 2.0f;
        assert_int_equal(be->ops->coupling_backward(be, x, rows, dim, tidx, nt, st, S, ldw, dy, dst, NULL), GP_OK);
        double rx[24], rst[48];
        for (int r = 0; r < rows; r++) {
            double xd[4], sd[8], cd[4];
            for (int d = 0; d < dim; d++) { xd[d] = x[r * dim + d]; cd[d] = c[r * dim + d]; }
            for (int q = 0; q < 2 * nt; q++) sd[q] = st[r * 2 * nt + q];
            const double h = 1e-6;
            for (int d = 0; d < dim; d++) {
                double keep = xd[d];
                xd[d] = keep + h; double lp = coupling_ref(xd, dim, tidx, nt, sd, S, cd, ldw[r]);
                xd[d] = keep - h; double lm = coupling_ref(xd, dim, tidx, nt, sd, S, cd, ldw[r]);
                xd[d] = keep;
                rx[r * dim + d] = (lp - lm) / (2 * h);
            }
            for (int q = 0; q < 2 * nt; q++) {
                double keep = sd[q];
                sd[q] = keep + h; double lp = coupling_ref(xd, dim, tidx, nt, sd, S, cd, ldw[r]);
                sd[q] = keep - h; double lm = coupling_ref(xd, dim, tidx, nt, sd, S, cd, ldw[r]);
                sd[q] = keep;
                rst[r * 2 * nt + q] = (lp - lm) / (2 * h);
            }
        }
        check_close("coupling dx", dy, rx, (size_t)rows * dim, 1e-5);
        check_close("coupling d[s_raw|t]", dst, rst, (size_t)rows * 2 * nt, 1e-5);
        /* the forward op is the one differentiated: its output matches the reference */
        float y[24];
        double ld[6] = { 0 };
        memcpy(y, x, sizeof(float) * rows * dim);
        be->ops->coupling(be, y, rows, dim, tidx, nt, st, S, +1, ld, NULL);
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < nt; k++) {
                double s = S * tanh(st[r * 2 * nt + k] / S);
                assert_true(fabs(y[r * dim + tidx[k]] - (x[r * dim + tidx[k]] * exp(s) + st[r * 2 * nt + nt + k])) < 1e-4);
            }
    }
    gp_backend_close(be);
}

static void test_latent_and_losses(void **state)
{
    (void)state;
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(1, &be, NULL), GP_OK);
    enum { N = 40 };
    float mu[N], lv[N], eps[N], z[N], dz[N], dmu[N], dlv[N];
    double rmu[N], rlv[N];
    gp_test_fill(mu, N, 1); gp_test_fill(lv, N, 0.7); gp_test_fill(eps, N, 1); gp_test_fill(dz, N, 1);
    /* L = sum dz * z(mu, lv) + 0.3 KL */
    be->ops->reparam(be, mu, lv, eps, N, z, NULL);
    for (int i = 0; i < N; i++) assert_true(fabs(z[i] - (mu[i] + exp(0.5 * lv[i]) * eps[i])) < 1e-5 * (1 + fabs(z[i])));
    assert_int_equal(be->ops->reparam_backward(be, lv, eps, dz, N, dmu, dlv, NULL), GP_OK);
    double kl = 0;
    assert_int_equal(be->ops->kl_normal(be, mu, lv, N, 0.3, &kl, dmu, dlv, NULL), GP_OK);
    double klref = 0;
    for (int i = 0; i < N; i++) {
        double m = mu[i], l = lv[i], e = eps[i], h = 1e-6;
        klref += 0.3 * 0.5 * (m * m + exp(l) - 1 - l);
#define LOSS(M, LV) (dz[i] * ((M) + exp(0.5 * (LV)) * e) + 0.3 * 0.5 * ((M) * (M) + exp(LV) - 1 - (LV)))
        rmu[i] = (LOSS(m + h, l) - LOSS(m - h, l)) / (2 * h);
        rlv[i] = (LOSS(m, l + h) - LOSS(m, l - h)) / (2 * h);
#undef LOSS
    }
    assert_true(fabs(kl - klref) < 1e-9 * (1 + fabs(klref)) + 1e-6);
    check_close("reparam+KL dmu", dmu, rmu, N, 1e-5);
    check_close("reparam+KL dlogvar", dlv, rlv, N, 1e-5);

    /* MSE, BCE, normal NLL with masks */
    enum { R = 9, D = 3 };
    float P[R * D], T[R * D], M[R], dP[R * D], lg[R], y[R], dl[R];
    double ref[R * D];
    gp_test_fill(P, R * D, 1); gp_test_fill(T, R * D, 1); gp_test_fill(lg, R, 3);
    for (int r = 0; r < R; r++) { M[r] = (float)(r % 3 != 0); y[r] = (float)(r % 2); }
    double loss = 0, w = 0.25;
    be->ops->mse(be, P, T, M, R, D, w, &loss, dP, NULL);
    double lref = 0;
    for (int i = 0; i < R * D; i++) {
        double m = M[i / D], e = (double)P[i] - T[i], h = 1e-6;
        lref += w * m * e * e;
        ref[i] = (w * m * (e + h) * (e + h) - w * m * (e - h) * (e - h)) / (2 * h);
    }
    assert_true(fabs(loss - lref) < 1e-9 * (1 + lref));
    check_close("mse dP", dP, ref, R * D, 1e-5);
    loss = 0;
    be->ops->bce_logits(be, lg, y, M, R, w, &loss, dl, NULL);
    lref = 0;
    for (int r = 0; r < R; r++) {
        double l = lg[r], h = 1e-6;
#define BCE(L) (w * M[r] * (-(y[r]) * log(1 / (1 + exp(-(L)))) - (1 - y[r]) * log(1 - 1 / (1 + exp(-(L))))))
        lref += BCE(l);
        ref[r] = (BCE(l + h) - BCE(l - h)) / (2 * h);
#undef BCE
    }
    assert_true(fabs(loss - lref) < 1e-7 * (1 + lref));
    check_close("bce dlogit", dl, ref, R, 1e-5);
    loss = 0;
    be->ops->normal_nll(be, P, M, R, D, w, &loss, dP, NULL);
    lref = 0;
    for (int i = 0; i < R * D; i++) {
        double m = M[i / D], v = P[i], h = 1e-6;
        lref += w * m * (0.5 * v * v + 0.5 * log(2 * M_PI));
        ref[i] = w * m * (0.5 * (v + h) * (v + h) - 0.5 * (v - h) * (v - h)) / (2 * h);
    }
    assert_true(fabs(loss - lref) < 1e-9 * (1 + lref));
    check_close("normal nll dz", dP, ref, R * D, 1e-5);
    gp_backend_close(be);
}

static void test_adam_and_copies(void **state)
{
    (void)state;
    gp_backend *be;
    assert_int_equal(gp_backend_open_cpu(1, &be, NULL), GP_OK);
    /* the CPU backend implements every training operation */
    assert_non_null(be->ops->zero); assert_non_null(be->ops->dense_backward); assert_non_null(be->ops->act_backward);
    assert_non_null(be->ops->conv2d_backward); assert_non_null(be->ops->conv_transpose2d_backward);
    assert_non_null(be->ops->reparam); assert_non_null(be->ops->reparam_backward); assert_non_null(be->ops->kl_normal);
    assert_non_null(be->ops->coupling_backward); assert_non_null(be->ops->mse); assert_non_null(be->ops->bce_logits);
    assert_non_null(be->ops->normal_nll); assert_non_null(be->ops->copy_cols); assert_non_null(be->ops->axpby);
    assert_non_null(be->ops->adam); assert_non_null(be->ops->sumsq);
    enum { N = 17 };
    float w[N], g[N], m[N] = { 0 }, v[N] = { 0 };
    double rw[N], rm[N] = { 0 }, rv[N] = { 0 };
    gp_test_fill(w, N, 1);
    for (int i = 0; i < N; i++) rw[i] = w[i];
    for (long t = 1; t <= 5; t++) {
        gp_test_fill(g, N, 1);
        assert_int_equal(be->ops->adam(be, w, g, m, v, N, 1e-2f, 0.9f, 0.999f, 1e-8f, t, NULL), GP_OK);
        for (int i = 0; i < N; i++) {
            rm[i] = 0.9 * rm[i] + 0.1 * g[i];
            rv[i] = 0.999 * rv[i] + 0.001 * (double)g[i] * g[i];
            double mh = rm[i] / (1 - pow(0.9, t)), vh = rv[i] / (1 - pow(0.999, t));
            rw[i] -= 1e-2 * mh / (sqrt(vh) + 1e-8);
        }
    }
    check_close("adam", w, rw, N, 1e-5);
    assert_int_not_equal(be->ops->adam(be, w, g, m, v, N, 1e-2f, 0.9f, 0.999f, 1e-8f, 0, NULL), GP_OK);
    /* copy_cols: concatenation and accumulation */
    float A[6] = { 1, 2, 3, 4, 5, 6 }, Bm[8] = { 0 };
    be->ops->copy_cols(be, A, 2, 3, 1, Bm, 4, 2, 2, 0, NULL);
    float want[8] = { 0, 0, 2, 3, 0, 0, 5, 6 };
    assert_memory_equal(Bm, want, sizeof want);
    be->ops->copy_cols(be, A, 2, 3, 1, Bm, 4, 2, 2, 1, NULL);
    assert_true(Bm[2] == 4 && Bm[7] == 12);
    assert_int_not_equal(be->ops->copy_cols(be, A, 2, 3, 2, Bm, 4, 0, 2, 0, NULL), GP_OK);
    double ss;
    be->ops->sumsq(be, A, 6, &ss, NULL);
    assert_true(ss == 91.0);
    gp_backend_close(be);
}

int main(void)
{
    gp_test_seed("test_backward");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_backward),
        cmocka_unit_test(test_act_backward),
        cmocka_unit_test(test_conv_backward),
        cmocka_unit_test(test_conv_backward_deterministic),
        cmocka_unit_test(test_coupling_backward),
        cmocka_unit_test(test_latent_and_losses),
        cmocka_unit_test(test_adam_and_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
