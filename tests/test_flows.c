/*
 * test_flows.c: the conditional RealNVP and the 1-D affine flow of a
 * random-weight model.
 *  - inverse(forward(x)) = x;
 *  - the float flow agrees with a double-precision reference written here
 *    from the weights alone (naive loops);
 *  - the log-determinant equals log|det J| of a central finite-difference
 *    Jacobian of that double reference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"
#include "gp_test_util.h"

static char model_path[512];
static gp_model *model;

static int setup(void **state)
{
    (void)state;
    gp_test_tmpname(model_path, sizeof model_path, ".gpw");
    gp_arch a = gp_arch_default();
    a.uses_image = 0;           /* flows do not depend on the encoder */
    a.trunk[0] = 24; a.trunk[1] = 16;
    a.head_hidden = 8; a.flow_hidden = 12; a.couplings = 12; a.ensemble = 2;
    a.flow_gain = 0.15f;        /* |s| up to ~0.5 per coupling: far from the identity, yet the 12-coupling map stays well conditioned in float */
    gp_error err;
    if (gp_model_write_random(model_path, &a, (uint64_t)(gp_test_uniform() * 1e9), &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    o.threads = 1;
    if (gp_model_open(model_path, &o, &model, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gp_model_close(model);
    unlink(model_path);
    return 0;
}

static double actd(double v, gp_act a, double slope)
{
    switch (a) {
    case GP_ACT_RELU: return v > 0 ? v : 0;
    case GP_ACT_LEAKY_RELU: return v > 0 ? v : slope * v;
    case GP_ACT_TANH: return tanh(v);
    default: return v;
    }
}

/* Signature of the activation pattern (signs of every hidden pre-activation)
 * seen by mlp_ref since the last reset: a central difference is only a
 * derivative when x+h and x-h see the same piecewise-linear piece. */
static uint64_t act_signature;

/* Double-precision conditioner: the stored (unsplit) layers. */
static void mlp_ref(const gp_mlp *m, gp_act act, double slope, const double *in, int nin, double *out)
{
    double a[4096], b[4096];
    memcpy(a, in, sizeof(double) * nin);
    for (int l = 0; l < m->nlayers; l++) {
        const gp_dense *d = &m->layer[l];
        for (int o = 0; o < d->out; o++) {
            double acc = d->b[o];
            for (int i = 0; i < d->in; i++) acc += (double)d->W[o * d->in + i] * a[i];
            if (l < m->nlayers - 1 || m->act_last) {
                act_signature = (act_signature ^ (uint64_t)(acc > 0)) * 1099511628211ull;
                b[o] = actd(acc, act, slope);
            } else b[o] = acc;
        }
        memcpy(a, b, sizeof(double) * d->out);
    }
    memcpy(out, a, sizeof(double) * m->layer[m->nlayers - 1].out);
}

/* Forward (data -> base) of the RealNVP in double; returns log|det|. */
static double realnvp_ref(const gp_realnvp *f, gp_act act, double slope, const double *x0,
                          const float *ctx, double *y)
{
    double x[4], ld = 0;
    memcpy(x, x0, sizeof x);
    for (int l = 0; l < f->nlayers; l++) {
        const gp_coupling *c = &f->layer[l];
        double in[4096], out[8];
        for (int i = 0; i < c->nkeep; i++) in[i] = x[c->keep[i]];
        for (int i = 0; i < f->ctx; i++) in[c->nkeep + i] = ctx[i];
        mlp_ref(&c->cond.net, act, slope, in, c->nkeep + f->ctx, out);
        for (int k = 0; k < c->nt; k++) {
            double s = f->scale_bound * tanh(out[k] / f->scale_bound);
            x[c->trans[k]] = x[c->trans[k]] * exp(s) + out[c->nt + k];
            ld += s;
        }
    }
    memcpy(y, x, sizeof x);
    return ld;
}

static double det4(double m[4][4])
{
    double a[4][4];
    memcpy(a, m, sizeof a);
    double det = 1;
    for (int c = 0; c < 4; c++) {
        int p = c;
        for (int r = c + 1; r < 4; r++) if (fabs(a[r][c]) > fabs(a[p][c])) p = r;
        if (p != c) { for (int k = 0; k < 4; k++) { double t = a[c][k]; a[c][k] = a[p][k]; a[p][k] = t; } det = -det; }
        det *= a[c][c];
        for (int r = c + 1; r < 4; r++) {
            double f = a[r][c] / a[c][c];
            for (int k = c; k < 4; k++) a[r][k] -= f * a[c][k];
        }
    }
    return det;
}

static void check_realnvp(const gp_realnvp *f, const char *name)
{
    gp_backend *be = model->be;
    const gp_net *net = &model->net;
    const int rows = 40, ngal = 3;
    float *ctx = malloc(sizeof(float) * ngal * f->ctx);
    gp_test_fill(ctx, (size_t)ngal * f->ctx, 1.0);
    int row_gal[40];
    float x[40 * 4], x0[40 * 4];
    double ld[40] = {0}, ldi[40] = {0};
    for (int r = 0; r < rows; r++) row_gal[r] = r % ngal;
    gp_test_fill(x, rows * 4, 1.5);
    memcpy(x0, x, sizeof x);
    float *scr = malloc(sizeof(float) * gp_realnvp_scratch(f, rows, ngal));
    assert_int_equal(gp_realnvp_apply(be, f, net->act, net->slope, x, rows, ctx, ngal, row_gal, 1, ld, scr, NULL), GP_OK);
    /* against the double reference, and its finite-difference Jacobian */
    double worst = 0, worst_ld = 0, worst_fd = 0;
    int kinks = 0;
    for (int r = 0; r < rows; r++) {
        double xd[4], y[4];
        for (int d = 0; d < 4; d++) xd[d] = x0[r * 4 + d];
        double ldr = realnvp_ref(f, net->act, net->slope, xd, ctx + row_gal[r] * f->ctx, y);
        for (int d = 0; d < 4; d++) {
            double e = fabs(x[r * 4 + d] - y[d]) / (1 + fabs(y[d]));
            if (!(e <= worst)) worst = e;
        }
        double e = fabs(ld[r] - ldr) / (1 + fabs(ldr));
        if (!(e <= worst_ld)) worst_ld = e;
        double J[4][4], h = 1e-5;
        act_signature = 0;
        double ycheck[4];
        realnvp_ref(f, net->act, net->slope, xd, ctx + row_gal[r] * f->ctx, ycheck);
        uint64_t sig0 = act_signature;
        int same_piece = 1;
        for (int d = 0; d < 4; d++) {
            double xp[4], xm[4], yp[4], ym[4];
            memcpy(xp, xd, sizeof xp); memcpy(xm, xd, sizeof xm);
            xp[d] += h; xm[d] -= h;
            act_signature = 0;
            realnvp_ref(f, net->act, net->slope, xp, ctx + row_gal[r] * f->ctx, yp);
            same_piece &= act_signature == sig0;
            act_signature = 0;
            realnvp_ref(f, net->act, net->slope, xm, ctx + row_gal[r] * f->ctx, ym);
            same_piece &= act_signature == sig0;
            for (int o = 0; o < 4; o++) J[o][d] = (yp[o] - ym[o]) / (2 * h);
        }
        /* a LeakyReLU kink within h of this point: no derivative to compare */
        if (!same_piece) { kinks++; continue; }
        double fd = log(fabs(det4(J)));
        e = fabs(fd - ldr) / (1 + fabs(ldr));
        if (!(e <= worst_fd)) worst_fd = e;
    }
    fprintf(stderr, "%s: worst relative errors: values %.2g, log-det %.2g, finite-difference log-det %.2g (%d of %d rows next to a kink)\n",
            name, worst, worst_ld, worst_fd, kinks, rows);
    if (kinks > rows / 4) fail_msg("%s: %d of %d rows next to an activation kink: the finite-difference check saw too few", name, kinks, rows);
    /* 12 strongly non-linear couplings amplify float rounding: the whole
     * flow gets 2e-5; each coupling alone is held to 1e-5 below */
    if (!(worst < 2e-5)) fail_msg("%s: float forward vs double reference: relative error %g", name, worst);
    if (!(worst_ld < 1e-5)) fail_msg("%s: log-det vs double reference: relative error %g", name, worst_ld);
    if (!(worst_fd < 1e-6)) fail_msg("%s: log-det vs finite-difference Jacobian: relative error %g", name, worst_fd);
    /* inverse restores x and the log-dets cancel */
    assert_int_equal(gp_realnvp_apply(be, f, net->act, net->slope, x, rows, ctx, ngal, row_gal, -1, ldi, scr, NULL), GP_OK);
    /* float rounding grows through 12 couplings (exp(s) amplifies it); each
     * coupling's own inverse is held to 1e-5 below */
    for (int i = 0; i < rows * 4; i++)
        if (!(fabs(x[i] - x0[i]) < 1e-4 * (1 + fabs(x0[i])))) fail_msg("%s: inverse(forward(x)) != x at %d: %g vs %g", name, i, x[i], x0[i]);
    for (int r = 0; r < rows; r++)
        if (!(fabs(ld[r] + ldi[r]) < 1e-4 * (1 + fabs(ld[r])))) fail_msg("%s: log-dets do not cancel: %g %g", name, ld[r], ldi[r]);
    /* each coupling alone, from the same float input, against the double loop */
    for (int l = 0; l < f->nlayers; l++) {
        gp_realnvp one = *f;
        one.nlayers = 1;
        one.layer[0] = f->layer[l];
        gp_test_fill(x, rows * 4, 1.5);
        memcpy(x0, x, sizeof x);
        double ld1[40] = {0};
        assert_int_equal(gp_realnvp_apply(be, &one, net->act, net->slope, x, rows, ctx, ngal, row_gal, 1, ld1, scr, NULL), GP_OK);
        for (int r = 0; r < rows; r++) {
            double xd[4], y[4];
            for (int d = 0; d < 4; d++) xd[d] = x0[r * 4 + d];
            double ldr = realnvp_ref(&one, net->act, net->slope, xd, ctx + row_gal[r] * f->ctx, y);
            for (int d = 0; d < 4; d++)
                if (!(fabs(x[r * 4 + d] - y[d]) <= 1e-5 * (1 + fabs(y[d]))))
                    fail_msg("%s coupling %d row %d dim %d: %.9g vs %.9g", name, l, r, d, x[r * 4 + d], y[d]);
            if (!(fabs(ld1[r] - ldr) <= 1e-5 * (1 + fabs(ldr))))
                fail_msg("%s coupling %d row %d: log-det %.9g vs %.9g", name, l, r, ld1[r], ldr);
        }
        assert_int_equal(gp_realnvp_apply(be, &one, net->act, net->slope, x, rows, ctx, ngal, row_gal, -1, NULL, scr, NULL), GP_OK);
        for (int i = 0; i < rows * 4; i++)
            if (!(fabs(x[i] - x0[i]) <= 1e-5 * (1 + fabs(x0[i]))))
                fail_msg("%s coupling %d: inverse(forward(x)) != x at %d: %.9g vs %.9g", name, l, i, x[i], x0[i]);
    }
    free(ctx);
    free(scr);
}

static void test_core_and_line_flows(void **state)
{
    (void)state;
    for (int k = 0; k < model->net.K; k++) {
        check_realnvp(&model->net.member[k].core_flow, "core flow");
        check_realnvp(&model->net.member[k].line_flow, "line flow");
    }
}

static void test_oh_flow(void **state)
{
    (void)state;
    const gp_net *net = &model->net;
    const gp_affine1d *f = &net->member[0].oh_flow;
    const int rows = 25, ngal = 2, T = net->trunk_out;
    float *ctx = malloc(sizeof(float) * ngal * T), core[25 * 4], x[25], x0[25];
    int row_gal[25];
    double ld[25] = {0}, ldi[25] = {0};
    gp_test_fill(ctx, (size_t)ngal * T, 1.0);
    gp_test_fill(core, 100, 1.0);
    gp_test_fill(x, 25, 1.0);
    memcpy(x0, x, sizeof x);
    for (int r = 0; r < rows; r++) row_gal[r] = r & 1;
    float *scr = malloc(sizeof(float) * gp_affine1d_scratch(f, rows, ngal));
    assert_int_equal(gp_affine1d_apply(model->be, f, net->act, net->slope, x, rows, core, ctx, ngal, row_gal, 1, ld, scr, NULL), GP_OK);
    for (int r = 0; r < rows; r++) {
        double in[4096], out[2];
        for (int i = 0; i < 4; i++) in[i] = core[r * 4 + i];
        for (int i = 0; i < T; i++) in[4 + i] = ctx[row_gal[r] * T + i];
        mlp_ref(&f->cond.net, net->act, net->slope, in, 4 + T, out);
        double s = f->scale_bound * tanh(out[0] / f->scale_bound);
        double y = x0[r] * exp(s) + out[1];
        if (!(fabs(x[r] - y) < 1e-5 * (1 + fabs(y)))) fail_msg("oh flow row %d: %g vs %g", r, x[r], y);
        if (!(fabs(ld[r] - s) < 1e-5 * (1 + fabs(s)))) fail_msg("oh flow log-det row %d: %g vs %g", r, ld[r], s);
    }
    assert_int_equal(gp_affine1d_apply(model->be, f, net->act, net->slope, x, rows, core, ctx, ngal, row_gal, -1, ldi, scr, NULL), GP_OK);
    for (int r = 0; r < rows; r++) assert_true(fabs(x[r] - x0[r]) < 1e-5 * (1 + fabs(x0[r])));
    free(ctx);
    free(scr);
}

int main(void)
{
    gp_test_seed("test_flows");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_and_line_flows),
        cmocka_unit_test(test_oh_flow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
