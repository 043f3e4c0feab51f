/*
 * test_cpu_amx.c: the AMX split-bf16 convolution (engine/cpu/gp_cpu_amx.c)
 * against double-precision loops, on fresh random inputs:
 *  - one layer, the kernel alone, several geometries (strides 1 and 2, the
 *    encoder's conv1 and conv2, a wide tail of garbage pixels): relative
 *    error < 2e-6, i.e. fp32 accuracy (a two-part "bf16x3" split gives
 *    ~4e-6 here and fails);
 *  - the encoder's three convolutions (conv_stack) and the whole encoder of
 *    a default-architecture model (mu, logvar) on synthetic galaxies, with
 *    and without AMX (GP_CPU_NO_AMX=1): each within 1e-5 of the double
 *    reference, and within 1e-5 of each other.
 * The AMX parts are skipped where gp_cpu_have_amx() says no at the start (no
 * AMX in the CPU, the kernel refuses the tile state, a build without the
 * kernels, or GP_CPU_NO_AMX set by the caller); the no-AMX half still runs.  NaN never passes (outputs are poisoned
 * first; gp_test_relerr gives +inf for NaN).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"
#include "cpu/gp_cpu.h"
#include "gp_test_util.h"

/* y[co][oy][ox] = b + sum x[ci][iy][ix] W[co][ci][ky][kx] in double, x CHW */
static void conv_ref(const double *x, int cin, int h, int w, const float *W, const float *b, int cout, int k, int s,
                     int p, double *y)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    for (int co = 0; co < cout; co++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double acc = b ? b[co] : 0.0;
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < k; ky++) {
                        int iy = oy * s - p + ky;
                        if (iy < 0 || iy >= h) continue;
                        const double *xr = x + ((size_t)ci * h + iy) * w;
                        const float *wr = W + (((size_t)co * cin + ci) * k + ky) * k;
                        for (int kx = 0; kx < k; kx++) {
                            int ix = ox * s - p + kx;
                            if (ix >= 0 && ix < w) acc += xr[ix] * wr[kx];
                        }
                    }
                y[((size_t)co * ho + oy) * wo + ox] = acc;
            }
}

static void leaky(double *y, size_t n, double slope)
{
    for (size_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : slope * y[i];
}

/* AMX usable here and not turned off by the caller's GP_CPU_NO_AMX (main) */
static int amx_here;

static void use_amx(int on)
{
    if (on && amx_here) unsetenv("GP_CPU_NO_AMX");
    else setenv("GP_CPU_NO_AMX", "1", 1);
}

/* ---- the kernel alone: one band of `rows` output rows from padded HWC rows */
static void check_kernel(int cin, int cout, int k, int s, int p, int h, int w)
{
    const int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1, hp = h + 2 * p, wp = w + 2 * p;
    const int K = cin * k * k;
    float *W = malloc(sizeof(float) * cout * K), *Wr = malloc(sizeof(float) * cout * K);
    float *x = malloc(sizeof(float) * cin * h * w), *xp = calloc((size_t)hp * wp * cin, sizeof(float));
    double *xd = malloc(sizeof(double) * cin * h * w), *R = malloc(sizeof(double) * cout * ho * wo);
    gp_test_fill(W, (size_t)cout * K, 1.0 / sqrt(K));
    /* activations as the encoder has them: mostly positive, a wide range */
    for (int i = 0; i < cin * h * w; i++) {
        double v = gp_test_normal() * exp(2 * gp_test_normal());
        x[i] = (float)(v > 0 ? v : 0.2 * v);
        xd[i] = x[i];
    }
    for (int c = 0; c < cin; c++)
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++)
                xp[(((size_t)(iy + p) * wp) + ix + p) * cin + c] = x[((size_t)c * h + iy) * w + ix];
    for (int o = 0; o < cout; o++)   /* (ky, kx, c) order, as gp_cpu_conv_weights(., ., 0) */
        for (int c = 0; c < cin; c++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    Wr[(((size_t)o * k + ky) * k + kx) * cin + c] = W[(((size_t)o * cin + c) * k + ky) * k + kx];
    conv_ref(xd, cin, h, w, W, NULL, cout, k, s, p, R);
    uint16_t *B = aligned_alloc(64, (sizeof(uint16_t) * 3 * cout * K + 63) & ~(size_t)63);
    gp_cpu_amx_pack_b(Wr, cout, K, B);
    /* the output rows in two bands, as the encoder cuts them */
    const int band = (ho + 1) / 2;
    float *Y = malloc(sizeof(float) * cout * ho * wo);
    for (int i = 0; i < cout * ho * wo; i++) Y[i] = NAN;
    const int wq = (wp + s - 1) / s;
    for (int oy0 = 0; oy0 < ho; oy0 += band) {
        int rows = ho - oy0 < band ? ho - oy0 : band;
        size_t mq, sc = gp_cpu_amx_conv_scratch(wp, cin, k, s, wo, rows, &mq);
        uint16_t *A = aligned_alloc(64, (sizeof(uint16_t) * sc + 63) & ~(size_t)63);
        float *C = malloc(sizeof(float) * mq * cout);
        for (size_t i = 0; i < mq * cout; i++) C[i] = NAN;
        gp_cpu_amx_conv_x6(xp + (size_t)oy0 * s * wp * cin, wp, cin, k, s, wo, rows, B, cout, A, C);
        for (int r = 0; r < rows; r++)
            for (int ox = 0; ox < wo; ox++)
                for (int co = 0; co < cout; co++)
                    Y[((size_t)co * ho + oy0 + r) * wo + ox] = C[((size_t)r * wq + ox) * cout + co];
        free(A); free(C);
    }
    double e = gp_test_relerr(Y, R, (size_t)cout * ho * wo);
    fprintf(stderr, "AMX conv %d->%d k%d s%d p%d on %dx%d: relative error %.3g\n", cin, cout, k, s, p, h, w, e);
    if (!(e < 2e-6)) fail_msg("AMX conv %d->%d k%d s%d p%d on %dx%d: relative error %g", cin, cout, k, s, p, h, w, e);
    free(W); free(Wr); free(x); free(xp); free(xd); free(R); free(B); free(Y);
}

static void test_amx_kernel(void **state)
{
    (void)state;
    use_amx(1);
    if (!gp_cpu_have_amx()) { fprintf(stderr, "test_cpu_amx: no AMX here (CPU, kernel or build): kernel test skipped\n"); skip(); }
    check_kernel(64, 128, 4, 2, 1, 40, 40);   /* the encoder's conv2, K = 1024 */
    check_kernel(32, 64, 4, 2, 1, 80, 80);    /* conv1, K = 512 */
    check_kernel(32, 32, 3, 1, 1, 13, 21);    /* stride 1, odd sizes: wq = wo + 2 */
    check_kernel(16, 96, 2, 2, 0, 14, 30);    /* k c = 32, no padding */
    check_kernel(64, 32, 4, 3, 2, 17, 23);    /* stride 3 */
}

/* ---- conv_stack, the default encoder's convolutions, with and without AMX */
static void test_stack(void **state)
{
    (void)state;
    const int ch[4] = { 3, 32, 64, 128 }, k = 4, s = 2, p = 1, hw = 64, n = 2;
    gp_conv_layer L[3];
    float *W[3], *b[3];
    int h[4] = { hw, 0, 0, 0 };
    for (int l = 0; l < 3; l++) {
        W[l] = malloc(sizeof(float) * ch[l + 1] * ch[l] * k * k);
        b[l] = malloc(sizeof(float) * ch[l + 1]);
        gp_test_fill(W[l], (size_t)ch[l + 1] * ch[l] * k * k, 1.0 / sqrt(ch[l] * k * k));
        gp_test_fill(b[l], (size_t)ch[l + 1], 0.1);
        gp_conv_layer c = { ch[l], ch[l + 1], k, s, p, W[l], b[l] };
        L[l] = c;
        h[l + 1] = (h[l] + 2 * p - k) / s + 1;
    }
    size_t in = (size_t)ch[0] * hw * hw, out = (size_t)ch[3] * h[3] * h[3];
    float *x = malloc(sizeof(float) * in * n), *y[2] = { malloc(sizeof(float) * out * n), malloc(sizeof(float) * out * n) };
    gp_test_fill(x, in * n, 1.0);
    double *R = malloc(sizeof(double) * out * n);
    for (int i = 0; i < n; i++) {
        double *a = malloc(sizeof(double) * in);
        for (size_t j = 0; j < in; j++) a[j] = x[i * in + j];
        for (int l = 0; l < 3; l++) {
            size_t no = (size_t)ch[l + 1] * h[l + 1] * h[l + 1];
            double *o = malloc(sizeof(double) * no);
            conv_ref(a, ch[l], h[l], h[l], W[l], b[l], ch[l + 1], k, s, p, o);
            leaky(o, no, 0.2);
            free(a);
            a = o;
        }
        memcpy(R + i * out, a, sizeof(double) * out);
        free(a);
    }
    use_amx(1);
    const int amx = gp_cpu_have_amx();
    for (int mode = amx ? 1 : 0; mode >= 0; mode--) {
        use_amx(mode);
        gp_backend *be;
        assert_int_equal(gp_backend_open_cpu(2, &be, NULL), GP_OK);
        for (size_t j = 0; j < out * n; j++) y[mode][j] = NAN;
        assert_int_equal(be->ops->conv_stack(be, x, n, hw, hw, 3, L, GP_ACT_LEAKY_RELU, 0.2f, y[mode], NULL), GP_OK);
        double e = gp_test_relerr(y[mode], R, out * n);
        fprintf(stderr, "conv_stack %s: relative error %.3g\n", mode ? "AMX" : "without AMX", e);
        if (!(e < 1e-5)) fail_msg("conv_stack %s: relative error %g", mode ? "AMX" : "without AMX", e);
        gp_backend_close(be);
    }
    use_amx(1);
    if (!amx) fprintf(stderr, "test_cpu_amx: no AMX here: conv_stack checked without it only\n");
    for (int l = 0; l < 3; l++) { free(W[l]); free(b[l]); }
    free(x); free(y[0]); free(y[1]); free(R);
}

/* ---- the whole encoder of a default-architecture model, on synthetic
 * galaxies (a Gaussian blob on sky noise per band, stretched) */
static void test_encoder(void **state)
{
    (void)state;
    gp_model *m = gp_test_random_model(NULL, 2);
    assert_non_null(m);
    gp_error err;
    const gp_net *net = &m->net;
    gp_backend *be = m->be;
    const int n = 2, S = net->enc_h[0], L = net->latent;
    const size_t px = (size_t)3 * S * S;
    float *x = malloc(sizeof(float) * px * n);
    for (int g = 0; g < n; g++) {
        double amp = 0.5 + 3 * gp_test_uniform(), rad = 3 + 10 * gp_test_uniform();
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < S * S; i++) {
                double dx = i % S - 0.5 * (S - 1), dy = i / S - 0.5 * (S - 1);
                x[g * px + (size_t)c * S * S + i] = (float)(amp * (1 + 0.3 * c) * exp(-(dx * dx + dy * dy) / (2 * rad * rad)) +
                                                           0.03 * gp_test_normal());
            }
    }
    assert_int_equal(be->ops->stretch(be, x, n, 3, (size_t)S * S, net->soft, net->offset, net->scale, NULL), GP_OK);
    /* double reference: the convolutions, LeakyReLU, then fc_mu and fc_logvar */
    double *Rmu = malloc(sizeof(double) * n * L), *Rlv = malloc(sizeof(double) * n * L);
    for (int g = 0; g < n; g++) {
        double *a = malloc(sizeof(double) * px);
        for (size_t j = 0; j < px; j++) a[j] = x[g * px + j];
        for (int l = 0; l < GP_ENC_CONVS; l++) {
            const gp_conv *c = &net->enc_conv[l];
            size_t no = (size_t)c->cout * net->enc_h[l + 1] * net->enc_h[l + 1];
            double *y = malloc(sizeof(double) * no);
            conv_ref(a, c->cin, net->enc_h[l], net->enc_h[l], c->W, c->b, c->cout, c->k, c->stride, c->pad, y);
            leaky(y, no, net->slope);
            free(a);
            a = y;
        }
        for (int j = 0; j < L; j++) {
            double sm = net->enc_mu.b[j], sl = net->enc_logvar.b[j];
            for (int i = 0; i < net->enc_mu.in; i++) {
                sm += a[i] * net->enc_mu.W[(size_t)j * net->enc_mu.in + i];
                sl += a[i] * net->enc_logvar.W[(size_t)j * net->enc_logvar.in + i];
            }
            Rmu[g * L + j] = sm;
            Rlv[g * L + j] = sl;
        }
        free(a);
    }
    float *scr = malloc(sizeof(float) * gp_net_encoder_scratch(net, n));
    float *mu[2] = { malloc(sizeof(float) * n * L), malloc(sizeof(float) * n * L) };
    float *lv[2] = { malloc(sizeof(float) * n * L), malloc(sizeof(float) * n * L) };
    use_amx(1);
    const int amx = gp_cpu_have_amx();
    for (int mode = amx ? 1 : 0; mode >= 0; mode--) {
        use_amx(mode);
        float *xin = malloc(sizeof(float) * px * n);   /* the encoder may use its input as scratch */
        memcpy(xin, x, sizeof(float) * px * n);
        for (int i = 0; i < n * L; i++) mu[mode][i] = lv[mode][i] = NAN;
        assert_int_equal(gp_net_encode(be, net, xin, n, scr, mu[mode], lv[mode], &err), GP_OK);
        free(xin);
        double em = gp_test_relerr(mu[mode], Rmu, (size_t)n * L), el = gp_test_relerr(lv[mode], Rlv, (size_t)n * L);
        fprintf(stderr, "encoder %s: relative error mu %.3g, logvar %.3g\n", mode ? "AMX" : "without AMX", em, el);
        if (!(em < 1e-5) || !(el < 1e-5))
            fail_msg("encoder %s: relative error mu %g, logvar %g", mode ? "AMX" : "without AMX", em, el);
    }
    use_amx(1);
    if (amx) {   /* the two paths against each other, the fp32 one as the reference */
        double *d = malloc(sizeof(double) * n * L);
        for (int i = 0; i < n * L; i++) d[i] = mu[0][i];
        double em = gp_test_relerr(mu[1], d, (size_t)n * L);
        for (int i = 0; i < n * L; i++) d[i] = lv[0][i];
        double el = gp_test_relerr(lv[1], d, (size_t)n * L);
        fprintf(stderr, "encoder AMX vs without: mu %.3g, logvar %.3g\n", em, el);
        if (!(em < 1e-5) || !(el < 1e-5)) fail_msg("encoder AMX vs without: mu %g, logvar %g", em, el);
        free(d);
    } else {
        fprintf(stderr, "test_cpu_amx: no AMX here: the encoder checked without it only\n");
    }
    free(x); free(Rmu); free(Rlv); free(scr);
    free(mu[0]); free(mu[1]); free(lv[0]); free(lv[1]);
    gp_model_close(m);
}

int main(void)
{
    gp_test_seed("test_cpu_amx");
    amx_here = gp_cpu_have_amx();
    fprintf(stderr, "test_cpu_amx: AMX %s\n", amx_here ? "in use" : "not available (or GP_CPU_NO_AMX set): AMX parts skipped");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amx_kernel),
        cmocka_unit_test(test_stack),
        cmocka_unit_test(test_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
