/*
 * test_gpd.c: galpostd's pure parts without DS9: request parsing, DS9
 * region listings, settings, and what is shown (overlay text, summaries,
 * BPT points and curves) against naive recomputations.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gp_json.h"
#include "gp_xpa.h"
#include "gpd.h"
#include "gpd_daemon.h"
#include "image_fixture.h"

static void test_parse_infer(void **state)
{
    (void)state;
    gpd_infer_args a;
    char msg[512];
    assert_int_equal(gpd_parse_infer("", &a, msg, sizeof msg), 0);
    assert_int_equal(a.where, GPD_WHERE_SELECTED);
    assert_string_equal(a.target, "");
    assert_int_equal(gpd_parse_infer("all ds9 /tmp/x/DS9_ds9.12 tag ds9-77", &a, msg, sizeof msg), 0);
    assert_int_equal(a.where, GPD_WHERE_ALL);
    assert_string_equal(a.target, "/tmp/x/DS9_ds9.12");
    assert_string_equal(a.tag, "ds9-77");
    assert_int_equal(gpd_parse_infer("crosshair", &a, msg, sizeof msg), 0);
    assert_int_equal(a.where, GPD_WHERE_CROSSHAIR);
    assert_int_equal(gpd_parse_infer("  150.25   -2.5  ", &a, msg, sizeof msg), 0);
    assert_int_equal(a.where, GPD_WHERE_POSITION);
    assert_true(a.ra == 150.25 && a.dec == -2.5);
    assert_int_equal(gpd_parse_infer("10:00:30 -02:30:00 ds9 gpt", &a, msg, sizeof msg), 0);
    assert_true(fabs(a.ra - 150.125) < 1e-12 && fabs(a.dec + 2.5) < 1e-12);
    assert_string_equal(a.target, "gpt");
    const struct { const char *in, *needle; } bad[] = {
        { "foo", "'foo' is not selected" }, { "150.1", "needs a Dec" }, { "150.1 x", "'x' is not a Dec" },
        { "360 0", "outside 0 <= RA < 360 degrees" }, { "25:00:00 0", "outside 0h..24h" }, { "10 -91", "outside -90..90" }, { "all crosshair", "unexpected 'crosshair'" },
        { "ds9", "'ds9' needs a value" }, { "tag a{b}", "may hold only" }, { "1:99:00 2", "not selected, all" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg[0] = '\0';
        assert_int_equal(gpd_parse_infer(bad[i].in, &a, msg, sizeof msg), -1);
        if (!strstr(msg, bad[i].needle)) fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, msg, bad[i].needle);
    }
    /* a value too long is said to be too long, not missing */
    char longv[1200] = "tag ";
    memset(longv + 4, 'a', 1100);
    longv[1104] = '\0';
    assert_int_equal(gpd_parse_infer(longv, &a, msg, sizeof msg), -1);
    if (!strstr(msg, "longer than")) fail_msg("long tag: '%s'", msg);
}

static void test_parse_angle(void **state)
{
    (void)state;
    double v;
    assert_int_equal(gp_angle_parse("12:30:00", 1, &v), 0);
    assert_true(fabs(v - 187.5) < 1e-12);
    assert_int_equal(gp_angle_parse("-00:30:00", 0, &v), 0);
    assert_true(fabs(v + 0.5) < 1e-12);
    assert_int_equal(gp_angle_parse("+45:15", 0, &v), 0);
    assert_true(fabs(v - 45.25) < 1e-12);
    assert_int_equal(gp_angle_parse("1e1", 0, &v), 0);
    assert_true(v == 10.0);
    const char *bad[] = { "", "abc", "1:60:00", "1:2:3:4", "1:", "nan", "inf", "12 ", ":3", "0x10", "1e", "infinity",
                          /* no hexadecimal, exponent or sign within a sexagesimal part */
                          "0x10:00", "12:0x1E", "1e1:30", "12:3e1", "12:-30", "12:+30" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (gp_angle_parse(bad[i], 0, &v) == 0) fail_msg("'%s' accepted", bad[i]);
}

static void test_parse_regions(void **state)
{
    (void)state;
    const char *wcs =
        "# Region file format: DS9 version 4.1\n"
        "global color=green dashlist=8 3 width=1 font=\"helvetica 10 normal roman\" select=1\n"
        "icrs\n"
        "circle(150.1000000,2.2000000,8.000\")\n"
        "ellipse(150.2,2.3,4\",6\",30) # color=red\n"
        "box(150.3,2.4,0.5',10\",0)\n"
        "point(150.4,2.5) # point=circle\n"
        "# text(150.5,2.6) text={not a galaxy}\n"
        "circle(150.6,2.7,3\") # tag={galpost} tag={galpost-3}\n"
        "-circle(150.7,2.8,0.001d); circle(150.8,2.9,0.001d); polygon(10,20,10.001,20,10.001,20.001,10,20.001)\n";
    const char *img =
        "image\ncircle(100,200,20.2)\nellipse(110,210,10,15,30)\nbox(120,220,75,25,0)\npoint(130,230)\n"
        "# text(1,1) text={x}\ncircle(5,5,5) # tag={galpost}\n-circle(140,240,9); circle(150,250,9); polygon(1,1,3,1,3,3,1,3)\n";
    gpd_shape s[16];
    int n = gpd_parse_regions(wcs, img, s, 16);
    assert_int_equal(n, 6);
    assert_true(s[0].ra == 150.1 && s[0].dec == 2.2 && s[0].radius == 8.0);
    assert_true(s[0].has_image && s[0].x == 100 && s[0].y == 200 && fabs(s[0].rpix - 20.2) < 1e-12);
    assert_true(s[1].radius == 6.0);                   /* ellipse: the larger axis */
    assert_true(fabs(s[2].radius - 15.0) < 1e-9);     /* box: half of 0.5' */
    assert_true(s[3].radius == 0.0 && s[3].ra == 150.4);
    assert_true(fabs(s[4].radius - 3.6) < 1e-9);      /* 0.001 degree */
    for (int i = 0; i < n; i++) assert_true(s[i].ra != 150.7);   /* '-circle': an exclude region, no galaxy */
    assert_true(s[4].ra == 150.8 && s[4].has_image && s[4].x == 150);
    assert_true(fabs(s[5].ra - 10.0005) < 1e-9 && fabs(s[5].dec - 20.0005) < 1e-9);
    double cd = cos(20.0005 * M_PI / 180.0), r = 0.0005 * 3600.0 * sqrt(cd * cd + 1.0);  /* centre to a vertex */
    assert_true(fabs(s[5].radius - r) / r < 0.01);
    /* listings of different lengths: no image positions */
    n = gpd_parse_regions(wcs, "image\ncircle(1,1,1)\n", s, 16);
    assert_int_equal(n, 6);
    assert_false(s[0].has_image);
    assert_int_equal(gpd_parse_regions(wcs, NULL, s, 2), 2);
    assert_int_equal(gpd_parse_regions("# Region file\nicrs\n", NULL, s, 16), 0);
    int ids[8];
    assert_int_equal(gpd_parse_int_list("1 2 12 ", ids, 8), 3);
    assert_int_equal(ids[2], 12);
    assert_int_equal(gpd_parse_int_list("", ids, 8), 0);
}

static void test_config(void **state)
{
    (void)state;
    gpd_config c;
    char msg[512], v[256];
    gpd_config_defaults(&c);
    assert_int_equal(c.samples, 1000);
    assert_int_equal(gpd_config_set(&c, "samples", "250", msg, sizeof msg), 0);
    assert_int_equal(gpd_config_get(&c, "samples", v, sizeof v), 0);
    assert_string_equal(v, "250");
    assert_int_equal(gpd_config_set(&c, "backend", "cpu", msg, sizeof msg), 0);
    assert_int_equal(c.backend, GP_BACKEND_CPU);
    assert_int_equal(gpd_config_set(&c, "overlay", "no", msg, sizeof msg), 0);
    assert_int_equal(c.overlay, 0);
    assert_int_equal(gpd_config_set(&c, "catalog", "none", msg, sizeof msg), 0);
    assert_string_equal(c.catalog, "");
    const struct { const char *k, *v, *needle; } bad[] = {
        { "samples", "1", "samples: '1' is not an integer in 2..100000" }, { "backend", "gpu", "not auto, cpu or cuda" },
        { "seed", "-3", "not a non-negative integer" }, { "aperture", "0", "between 0.1 and 60" },
        { "log_level", "loud", "not error, warn" }, { "name", "a b", "not a valid XPA name" },
        { "colour", "red", "unknown setting 'colour'" }, { "plot", "maybe", "not yes or no" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gpd_config_set(&c, bad[i].k, bad[i].v, msg, sizeof msg), -1);
        if (!strstr(msg, bad[i].needle)) fail_msg("%s %s: '%s'", bad[i].k, bad[i].v, msg);
    }
    for (int i = 0; gpd_config_keys[i]; i++)
        assert_int_equal(gpd_config_get(&c, gpd_config_keys[i], v, sizeof v), 0);

    char *dir = fx_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/g.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("# comment\n\nsamples = 400   # trailing\n  seed=9\nds9 = my ds9\n", f);
    fclose(f);
    gpd_config_defaults(&c);
    assert_int_equal(gpd_config_load(&c, path, msg, sizeof msg), 0);
    assert_int_equal(c.samples, 400);
    assert_true(c.seed == 9);
    assert_string_equal(c.ds9, "my ds9");
    f = fopen(path, "w");
    fputs("samples = 400\nthis line is wrong\n", f);
    fclose(f);
    assert_int_equal(gpd_config_load(&c, path, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "g.conf:2: expected 'key = value'"));
    f = fopen(path, "w");
    fputs("threads = lots\n", f);
    fclose(f);
    assert_int_equal(gpd_config_load(&c, path, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "g.conf:1: threads"));
    fx_rmtree(dir);
    free(dir);
}

/* A result with random samples; lines drawn so that some fluxes are <= 0. */
static void make_result(gpd_result *r, int n, uint64_t *rng)
{
    memset(r, 0, sizeof *r);
    r->id = 7;
    r->ra = 150.1;
    r->dec = 2.2;
    r->radius = 8;
    snprintf(r->model, sizeof r->model, "m.gpw");
    snprintf(r->colours, sizeof r->colours, "measured");
    r->r.nsamples = n;
    r->r.samples = malloc(sizeof(float) * GP_NQ * (size_t)n);
    r->r.flags = GP_FLAG_RESAMPLED | GP_FLAG_PHOT_MEASURED | GP_FLAG_EDGE;
    r->r.latent_d2 = r->r.latent_d2_limit = NAN;   /* as gp_infer leaves a model without the check */
    const double mu[GP_NQ] = { 10.5, 0.2, 0.08, 7.5, 8.8, 2.0, 1.5, 1.8, 1.2 };
    for (int i = 0; i < n; i++)
        for (int q = 0; q < GP_NQ; q++) {
            double v = mu[q] + (q >= GP_Q_HALPHA ? 0.8 : 0.3) * fx_gauss(rng);
            if (q >= GP_Q_HALPHA && fx_uniform(rng) < 0.05) v = -0.01;   /* F < 0 */
            r->r.samples[(size_t)i * GP_NQ + q] = (float)v;
        }
    assert_int_equal(gp_summary_compute(r->r.samples, n, &r->r.summary, NULL), GP_OK);
    r->r.summary.p_detect = 0.8;
}

/* A line likely undetected (40% of its samples at F = 0, 0.0 here): the
 * overlay gives its 68% upper limit, "Hbeta < X" with X the flux at the 68th
 * percentile, and the summaries give lo68 = 0, hi68 and p_zero; a detected
 * line keeps "median +up/-down" from [lo68, hi68] = [p16, p84]. */
static void test_overlay_upper_limit(void **state)
{
    (void)state;
    uint64_t rng = fx_seed();
    gpd_result r;
    make_result(&r, 1000, &rng);
    for (int i = 0; i < 1000; i++) {
        float *x = r.r.samples + (size_t)i * GP_NQ;
        x[GP_Q_HBETA] = fx_uniform(&rng) < 0.4 ? 0.0f : (float)(0.05 + 1.2 * fx_uniform(&rng));
        x[GP_Q_OIII5007] = fx_uniform(&rng) < 0.8 ? 0.0f : (float)(0.05 + 1.2 * fx_uniform(&rng));
    }
    assert_int_equal(gp_summary_compute(r.r.samples, 1000, &r.r.summary, NULL), GP_OK);
    const gp_summary *s = &r.r.summary;
    assert_true(s->p_zero[GP_Q_HBETA] > 0.3 && s->p_zero[GP_Q_HBETA] < 0.5);
    assert_true(s->lo68[GP_Q_HBETA] == 0.0 && s->hi68[GP_Q_HBETA] < s->p84[GP_Q_HBETA]);
    char *o = gpd_format_overlay(&r, 100, 200, 20, 0.5, 0);
    assert_non_null(o);
    char want[128];
    snprintf(want, sizeof want, "H\xce\xb2 < %.1f e-17 erg/s/cm2  (P(F \xe2\x89\xa4 0) %.2f)",
             gpd_line_flux(s->hi68[GP_Q_HBETA]), s->p_zero[GP_Q_HBETA]);
    if (!strstr(o, want)) fail_msg("overlay lacks '%s':\n%s", want, o);
    assert_null(strstr(o, "H\xce\xb2 = "));
    /* 80% at F = 0: the 68% interval is {0}, "not detected" rather than "< 0.0" */
    assert_true(s->hi68[GP_Q_OIII5007] == 0.0);
    snprintf(want, sizeof want, "[OIII]5007 not detected  (P(F \xe2\x89\xa4 0) %.2f)", s->p_zero[GP_Q_OIII5007]);
    if (!strstr(o, want)) fail_msg("overlay lacks '%s':\n%s", want, o);
    assert_null(strstr(o, "[OIII]5007 < "));
    snprintf(want, sizeof want, "H\xce\xb1 = %.1f", gpd_line_flux(s->median[GP_Q_HALPHA]));
    assert_non_null(strstr(o, want));
    free(o);
    char *j = gpd_format_summary_json(&r);
    assert_non_null(j);
    const char *hb = strstr(j, "\"h_beta_flux\"");
    assert_non_null(hb);
    double lo = -1, pz = -1;
    const char *k = strstr(hb, "\"lo68\": ");
    assert_non_null(k);
    assert_int_equal(sscanf(k, "\"lo68\": %lf", &lo), 1);
    k = strstr(hb, "\"p_zero\": ");
    assert_non_null(k);
    assert_int_equal(sscanf(k, "\"p_zero\": %lf", &pz), 1);
    assert_true(lo == 0.0 && fabs(pz - s->p_zero[GP_Q_HBETA]) < 1e-6);
    /* the correlation matrix: the quantities' order, then 9 rows of 9 (4 decimals) */
    k = strstr(j, "\"corr\": {\"order\": [\"lgm_tot_p50\", \"sfr_tot_p50\", \"z\", ");
    if (!k) fail_msg("no corr order in:\n%s", j);
    k = strstr(k, "\"matrix\": [");
    assert_non_null(k);
    k += strlen("\"matrix\": [");
    int nr = 0;
    for (int a = 0; a < GP_NQ; a++)
        for (int b = 0; b < GP_NQ; b++) {
            while (*k && strchr("[], \n", *k)) k++;
            char *end;
            double v = strtod(k, &end);
            if (end == k) fail_msg("corr[%d][%d]: no number at '%.20s'", a, b, k);
            if (!(fabs(v - s->corr[a][b]) <= 5.1e-5)) fail_msg("corr[%d][%d] = %g, summary %g", a, b, v, s->corr[a][b]);
            k = end;
            nr++;
        }
    assert_int_equal(nr, GP_NQ * GP_NQ);
    while (*k == ' ' || *k == '\n') k++;
    assert_true(k[0] == ']' && k[1] == ']' && k[2] == '}');
    free(j);
    free(r.r.samples);
}

static int boxes_meet(const gpd_box *a, const gpd_box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Overlays of neighbouring galaxies: each result's lines go where they
 * cover neither the other galaxies nor lines already placed (DS9's text is
 * a fixed screen size, so a block of a dozen lines is about 160 screen
 * pixels tall: two galaxies 60" apart, 150 SDSS pixels at zoom 1, covered
 * each other's lines when both went to the right). */
static void test_overlay_places(void **state)
{
    (void)state;
    uint64_t rng = fx_seed();
    gpd_result r;
    make_result(&r, 100, &rng);
    /* the box: right of the galaxy's edge + 12 screen px, centred on it */
    gpd_box b, b2;
    gpd_overlay_box(&r, 500, 500, 10, 1.0, GPD_PLACE_RIGHT, &b);
    assert_true(fabs(b.x0 - 522) < 1e-9 && b.x1 - b.x0 > 100 && b.y1 - b.y0 > 100);
    assert_true(fabs(0.5 * (b.y0 + b.y1) - 500) < 1e-9);
    gpd_overlay_box(&r, 500, 500, 10, 2.0, GPD_PLACE_RIGHT, &b2);
    assert_true(fabs((b2.x1 - b2.x0) - 0.5 * (b.x1 - b.x0)) < 1e-9 && fabs((b2.y1 - b2.y0) - 0.5 * (b.y1 - b.y0)) < 1e-9);
    /* every place: its text lines inside its box, clear of the galaxy */
    for (int p = 0; p < GPD_PLACES; p++) {
        gpd_overlay_box(&r, 500, 500, 10, 1.0, p, &b);
        gpd_box g = { 490, 510, 490, 510 };
        assert_false(boxes_meet(&b, &g));
        char *o = gpd_format_overlay_at(&r, 500, 500, 10, 1.0, 0, p);
        assert_non_null(o);
        int n = 0;
        for (const char *q = strstr(o, "# text("); q; q = strstr(q + 1, "# text(")) {
            double tx, ty;
            assert_int_equal(sscanf(q, "# text(%lf,%lf)", &tx, &ty), 2);
            const char *t0 = strstr(q, "text={") + 6, *t1 = strchr(t0, '}');
            int chars = 0;
            for (const char *c = t0; c < t1; c++) chars += (*c & 0xc0) != 0x80;
            assert_true(tx - 3.5 * chars >= b.x0 - 1e-6 && tx + 3.5 * chars <= b.x1 + 1e-6);
            assert_true(ty - 7 >= b.y0 - 1e-6 && ty + 7 <= b.y1 + 1e-6);
            n++;
        }
        assert_true(n >= 5 && fabs(n * 14.0 - (b.y1 - b.y0)) < 1e-9);
        free(o);
    }
    /* the right-hand place alone: as gpd_format_overlay() */
    gpd_box got;
    assert_int_equal(gpd_overlay_place(&r, 500, 500, 10, 1.0, NULL, 0, &got), GPD_PLACE_RIGHT);
    char *o1 = gpd_format_overlay(&r, 500, 500, 10, 1.0, 1), *o2 = gpd_format_overlay_at(&r, 500, 500, 10, 1.0, 1, GPD_PLACE_RIGHT);
    assert_string_equal(o1, o2);
    free(o1);
    free(o2);
    /* two galaxies 60" apart (151.5 px at zoom 1, radius 8" = 20 px) in
     * eight directions, and 45" apart at zoom 0.5: placed in turn as
     * galpostd does, the lines meet neither each other nor a galaxy */
    const double seps[2] = { 60.0 / 0.396, 45.0 / 0.396 }, zooms[2] = { 1.0, 0.5 };
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 8; k++) {
            double zoom = zooms[c], rad = 20;
            double x[2] = { 1000, 1000 + seps[c] * cos(k * M_PI / 4) }, y[2] = { 1000, 1000 + seps[c] * sin(k * M_PI / 4) };
            gpd_box avoid[4], lines[2];
            for (int g = 0; g < 2; g++) avoid[g] = (gpd_box){ x[g] - rad, x[g] + rad, y[g] - rad, y[g] + rad };
            gpd_box own = avoid[0];
            avoid[0] = (gpd_box){ 0, 0, 0, 0 };
            gpd_overlay_place(&r, x[0], y[0], rad, zoom, avoid, 2, &lines[0]);
            avoid[0] = own;
            avoid[2] = lines[0];
            avoid[1] = (gpd_box){ 0, 0, 0, 0 };
            gpd_overlay_place(&r, x[1], y[1], rad, zoom, avoid, 3, &lines[1]);
            avoid[1] = (gpd_box){ x[1] - rad, x[1] + rad, y[1] - rad, y[1] + rad };
            assert_false(boxes_meet(&lines[0], &lines[1]));
            for (int g = 0; g < 2; g++)
                for (int l = 0; l < 2; l++) assert_false(boxes_meet(&lines[l], &avoid[g]));
        }
    /* lines drawn earlier (another request) are kept clear of too */
    gpd_box drawn;
    gpd_overlay_box(&r, 1000, 1000 - 100, 10, 1.0, GPD_PLACE_RIGHT, &drawn);
    int p = gpd_overlay_place(&r, 1000, 1000, 10, 1.0, &drawn, 1, &got);
    assert_int_not_equal(p, GPD_PLACE_RIGHT);
    assert_false(boxes_meet(&got, &drawn));
    free(r.r.samples);
}

/* Lines drawn at one zoom, seen at another: DS9 keeps each text's place in
 * the image and its size on the screen, so the box the lines cover is the
 * union of the texts at the new zoom (zoomed in from 1 to 4, a dozen lines
 * still span 150 image pixels, not 40: a neighbour inferred then was given
 * the place just above the old lines' scaled box, on top of them). */
static void test_overlay_rezoom(void **state)
{
    (void)state;
    uint64_t rng = fx_seed();
    gpd_result r;
    make_result(&r, 100, &rng);
    const double zooms[][2] = { { 1, 1 }, { 1, 4 }, { 4, 1 }, { 0.5, 2 }, { 2, 0.25 }, { 8, 8 } };
    for (size_t z = 0; z < sizeof zooms / sizeof zooms[0]; z++)
        for (int p = 0; p < GPD_PLACES; p++) {
            const double zd = zooms[z][0], zs = zooms[z][1];
            char *o = gpd_format_overlay_at(&r, 500, 500, 10, zd, 0, p);
            assert_non_null(o);
            /* the texts as DS9 shows them at zs: centred where drawn, 3.5
             * screen px a character either side, 7 screen px up and down */
            gpd_box want = { INFINITY, -INFINITY, INFINITY, -INFINITY };
            int n = 0;
            for (const char *q = strstr(o, "# text("); q; q = strstr(q + 1, "# text(")) {
                double tx, ty;
                assert_int_equal(sscanf(q, "# text(%lf,%lf)", &tx, &ty), 2);
                const char *t0 = strstr(q, "text={") + 6, *t1 = strchr(t0, '}');
                int chars = 0;
                for (const char *c = t0; c < t1; c++) chars += (*c & 0xc0) != 0x80;
                want.x0 = fmin(want.x0, tx - 3.5 * chars / zs);
                want.x1 = fmax(want.x1, tx + 3.5 * chars / zs);
                want.y0 = fmin(want.y0, ty - 7 / zs);
                want.y1 = fmax(want.y1, ty + 7 / zs);
                n++;
            }
            free(o);
            assert_true(n >= 5);
            gpd_lines l;
            gpd_box got;
            gpd_overlay_lines(&r, 500, 500, 10, zd, p, &l);
            gpd_lines_box(&l, zs, &got);
            /* (the texts' positions are printed to 1e-3 px) */
            if (fabs(got.x0 - want.x0) > 2e-3 || fabs(got.x1 - want.x1) > 2e-3 || fabs(got.y0 - want.y0) > 2e-3 ||
                fabs(got.y1 - want.y1) > 2e-3)
                fail_msg("place %d drawn at zoom %g, shown at %g: box x %.3f..%.3f y %.3f..%.3f, the texts cover "
                         "x %.3f..%.3f y %.3f..%.3f", p, zd, zs, got.x0, got.x1, got.y0, got.y1, want.x0, want.x1,
                         want.y0, want.y1);
            if (zd == zs) {   /* at the zoom drawn: the placement's own box */
                gpd_box b;
                gpd_overlay_box(&r, 500, 500, 10, zd, p, &b);
                assert_true(fabs(b.x0 - got.x0) < 1e-9 && fabs(b.x1 - got.x1) < 1e-9 && fabs(b.y0 - got.y0) < 1e-9 &&
                            fabs(b.y1 - got.y1) < 1e-9);
            }
        }
    free(r.r.samples);
}

static void test_formats(void **state)
{
    (void)state;
    uint64_t rng = fx_seed();
    gpd_result r;
    make_result(&r, 1000, &rng);
    /* line flux conversion */
    assert_true(fabs(gpd_line_flux(log10(1 + 123.0)) - 123.0) < 1e-9);
    /* the overlay: every quantity, the p_detect, the fluxes and the class */
    char *o = gpd_format_overlay(&r, 100, 200, 20, 0.5, 0);
    assert_non_null(o);
    const gp_summary *s = &r.r.summary;
    char want[128];
    snprintf(want, sizeof want, "log M*/Msun = %.2f", s->median[GP_Q_LOGMSTAR]);
    assert_non_null(strstr(o, want));
    snprintf(want, sizeof want, "z = %.3f", s->median[GP_Q_Z]);
    assert_non_null(strstr(o, want));
    snprintf(want, sizeof want, "(p_detect %.2f)", s->p_detect);
    assert_non_null(strstr(o, want));
    snprintf(want, sizeof want, "H\xce\xb1 = %.1f", pow(10, s->median[GP_Q_HALPHA]) - 1);
    assert_non_null(strstr(o, want));
    snprintf(want, sizeof want, "BPT: %s (p = %.2f)", gp_bpt_class_name(s->bpt_class), s->p_bpt[s->bpt_class]);
    assert_non_null(strstr(o, want));
    assert_non_null(strstr(o, "cutout crosses the frame edge"));
    assert_non_null(strstr(o, "tag={galpost} tag={galpost-7}"));
    assert_null(strstr(o, "circle("));   /* no marker asked */
    /* lines 14/zoom = 28 image pixels apart */
    double y1, y2;
    const char *p = strstr(o, "# text(");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "# text(%*f,%lf)", &y1), 1);
    p = strstr(p + 1, "# text(");
    assert_int_equal(sscanf(p, "# text(%*f,%lf)", &y2), 1);
    assert_true(fabs((y1 - y2) - 28.0) < 1e-6);
    free(o);
    o = gpd_format_overlay_sky(&r, 5.0, 1);
    assert_non_null(strstr(o, "icrs\ncircle(150.1000000,2.2000000,8.000\")"));
    free(o);

    /* the BPT points, against a naive loop */
    int np = 0, ne = 0;
    char *pts = gpd_format_bpt_points(&r, &np);
    const char *q = pts;
    for (int i = 0; i < r.r.nsamples; i++) {
        const float *x = r.r.samples + (size_t)i * GP_NQ;
        double ha = pow(10, x[GP_Q_HALPHA]) - 1, hb = pow(10, x[GP_Q_HBETA]) - 1;
        double n2 = pow(10, x[GP_Q_NII6584]) - 1, o3 = pow(10, x[GP_Q_OIII5007]) - 1;
        if (!(ha > 0 && hb > 0 && n2 > 0 && o3 > 0)) continue;
        double a, b;
        int used;
        assert_int_equal(sscanf(q, "%lf %lf%n", &a, &b, &used), 2);
        q += used;
        assert_true(fabs(a - log10(n2 / ha)) < 1e-4 && fabs(b - log10(o3 / hb)) < 1e-4);
        ne++;
    }
    assert_int_equal(np, ne);
    assert_true(ne > 500 && ne < 1000);   /* some samples have a line flux <= 0 */
    free(pts);
    /* a sample whose Hbeta overflows (F = inf, as a far-out flow sample on
     * blank sky gave) or whose [NII] does is no point: DS9 refuses "inf" */
    {
        float keep[2][GP_NQ];
        memcpy(keep[0], r.r.samples, sizeof keep[0]);
        memcpy(keep[1], r.r.samples + GP_NQ, sizeof keep[1]);
        float *s0 = r.r.samples, *s1 = r.r.samples + GP_NQ;
        s0[GP_Q_HALPHA] = s0[GP_Q_NII6584] = s0[GP_Q_OIII5007] = 1.0f;
        s0[GP_Q_HBETA] = 1123.0f;
        s1[GP_Q_HALPHA] = s1[GP_Q_HBETA] = s1[GP_Q_OIII5007] = 1.0f;
        s1[GP_Q_NII6584] = 400.0f;
        int np2 = 0;
        char *pts2 = gpd_format_bpt_points(&r, &np2);
        assert_non_null(pts2);
        assert_null(strstr(pts2, "inf"));
        assert_null(strstr(pts2, "nan"));
        int lines = 0;
        for (const char *c = pts2; *c; c++) lines += *c == '\n';
        assert_int_equal(lines, np2);
        /* both edited samples were points before (all four fluxes positive) */
        int before_ok = 0;
        for (int k = 0; k < 2; k++) {
            double ha = pow(10, keep[k][GP_Q_HALPHA]) - 1, hb = pow(10, keep[k][GP_Q_HBETA]) - 1;
            double n2 = pow(10, keep[k][GP_Q_NII6584]) - 1, o3 = pow(10, keep[k][GP_Q_OIII5007]) - 1;
            before_ok += ha > 0 && hb > 0 && n2 > 0 && o3 > 0;
        }
        assert_int_equal(np2, np - before_ok);
        free(pts2);
        memcpy(r.r.samples, keep[0], sizeof keep[0]);
        memcpy(r.r.samples + GP_NQ, keep[1], sizeof keep[1]);
    }

    /* the curves follow their equations and stay in the plot */
    for (int c = 0; c < GPD_BPT_CURVES; c++) {
        int n = 0;
        char *cv = gpd_format_bpt_curve(c, &n);
        assert_true(n >= 10);
        const char *t = cv;
        double x, y, x0 = 0, y0 = 0;
        int used, k = 0;
        while (sscanf(t, "%lf %lf%n", &x, &y, &used) == 2) {
            t += used;
            double e = c == 0 ? 0.61 / (x - 0.05) + 1.30 : c == 1 ? 0.61 / (x - 0.47) + 1.19 : 1.05 * x + 0.45;
            assert_true(fabs(y - e) < 2e-4);
            assert_true(x >= GPD_BPT_XMIN - 1e-9 && x <= GPD_BPT_XMAX + 1e-9 && y >= GPD_BPT_YMIN && y <= GPD_BPT_YMAX);
            if (k++ == 0) { x0 = x; y0 = y; }
        }
        assert_int_equal(k, n);
        if (c == 2) assert_true(fabs(y0 - (0.61 / (x0 - 0.47) + 1.19)) < 1e-3);   /* starts on Kewley+01 */
        free(cv);
    }
    assert_string_equal(gpd_bpt_curve_name(1), "Kewley+01");

    /* summaries: text names the model and flags; JSON balanced with null for NaN */
    char *t = gpd_format_summary_text(&r);
    assert_non_null(strstr(t, "galpost #7  RA 150.100000"));
    assert_non_null(strstr(t, "flags  edge,resampled,measured-colours"));
    free(t);
    r.r.summary.sfr_halpha.median = NAN;
    char *j = gpd_format_summary_json(&r);
    int depth = 0, minimum = 0;
    for (const char *c = j; *c; c++) {
        if (*c == '{') depth++;
        if (*c == '}') depth--;
        if (depth < minimum) minimum = depth;
    }
    assert_int_equal(depth, 0);
    assert_int_equal(minimum, 0);
    /* the derived diagnostics by the CLI's and the FITS tables' names and units */
    assert_non_null(strstr(j, "\"sfr_halpha\": {\"unit\": \"log10 Msun/yr\", \"median\": null"));
    {
        const char *want_d[7][2] = { { "sfr_halpha", "log10 Msun/yr" }, { "balmer_decrement", "" }, { "a_v", "mag" },
                                     { "oh_n2", "12+log10(O/H)" }, { "oh_o3n2", "12+log10(O/H)" },
                                     { "log_n2ha", "dex" }, { "log_o3hb", "dex" } };
        const char *d = strstr(j, "\"derived\": {");
        assert_non_null(d);
        for (int k = 0; k < 7; k++) {
            char w[96];
            snprintf(w, sizeof w, "    \"%s\": {\"unit\": \"%s\", \"median\": ", want_d[k][0], want_d[k][1]);
            assert_non_null(strstr(d, w));
        }
        assert_null(strstr(j, "log_sfr_halpha"));   /* the old names */
        assert_null(strstr(j, "\"log_n2\""));
        assert_null(strstr(j, "\"log_o3\""));
    }
    assert_non_null(strstr(j, "\"lgm_tot_p50\": {"));
    assert_non_null(strstr(j, "\"latent_d2\": null, \"latent_d2_limit\": null"));
    /* the BPT member by galpost infer --json's names (p_KEY; p_bpt_KEY columns) */
    {
        char w[256];
        const gp_summary *bs = &r.r.summary;
        snprintf(w, sizeof w, "\"bpt\": {\"class\": \"%s\", \"n\": %d, \"p_sf\": ", gp_bpt_class_name(bs->bpt_class),
                 bs->bpt_n);
        assert_non_null(strstr(j, w));
        assert_non_null(strstr(j, ", \"p_composite\": "));
        assert_non_null(strstr(j, ", \"p_seyfert\": "));
        assert_non_null(strstr(j, ", \"p_liner\": "));
        assert_null(strstr(j, "\"star-forming\": "));   /* the old keys */
        assert_null(strstr(j, "\"Seyfert\": "));
    }
    free(j);
    {   /* no sample with all four lines: no class (null, as galpost infer --json writes it) */
        gpd_result u = r;
        u.r.summary.bpt_class = -1;
        u.r.summary.bpt_n = 0;
        j = gpd_format_summary_json(&u);
        assert_non_null(strstr(j, "\"bpt\": {\"class\": null, \"n\": 0, \"p_sf\": "));
        free(j);
    }
    /* inputs unlike the training set's: words, values and warnings everywhere */
    t = gpd_format_summary_text(&r);
    assert_null(strstr(t, "image likeness"));
    free(t);
    o = gpd_format_overlay(&r, 100, 200, 20, 0.5, 0);
    assert_null(strstr(o, "unlike"));
    assert_null(strstr(o, "5 sigma"));
    free(o);
    r.r.flags |= GP_FLAG_IMAGE_UNLIKE | GP_FLAG_PHOT_CLIPPED;
    r.r.latent_d2 = 250.3;
    r.r.latent_d2_limit = 120.5;
    t = gpd_format_summary_text(&r);
    assert_non_null(strstr(t, "flags  edge,resampled,measured-colours,photometry-clipped,image-unlike-training"));
    assert_non_null(strstr(t, "image likeness: latent distance^2 250.3, training limit 120.5"));
    assert_non_null(strstr(t, "WARNING: the image is unlike the training images (latent distance^2 250.3, limit 120.5)"));
    assert_null(strstr(t, "UNLIKE THE TRAINING"));   /* said once, not twice */
    free(t);
    j = gpd_format_summary_json(&r);
    assert_non_null(strstr(j, "\"latent_d2\": 250.3, \"latent_d2_limit\": 120.5"));
    free(j);
    o = gpd_format_overlay(&r, 100, 200, 20, 0.5, 0);
    assert_non_null(strstr(o, "warning: image unlike the training images (latent d2 250 > 120)"));
    assert_non_null(strstr(o, "warning: photometry beyond 5 sigma of the training set"));
    free(o);
    /* a galaxy inside the limit: the values, no warning */
    r.r.flags &= ~(GP_FLAG_IMAGE_UNLIKE | GP_FLAG_PHOT_CLIPPED);
    r.r.latent_d2 = 60.0;
    t = gpd_format_summary_text(&r);
    assert_non_null(strstr(t, "image likeness: latent distance^2 60.0, training limit 120.5 (99.9% of the training images)\n"));
    free(t);
    char *sm = gpd_format_samples_text(&r);
    int rows = 0;
    for (const char *c = sm; *c; c++) if (*c == '\n') rows++;
    assert_int_equal(rows, 1000 + 2);
    free(sm);
    char *e = gpd_format_error_region(1, 2, "bad {thing}\nhere");
    assert_non_null(strstr(e, "text={galpost: bad  thing  here}"));
    free(e);
    free(r.r.samples);
}

/* gp_json_str's output for s, in a static buffer. */
static const char *json_of(const char *s)
{
    static char buf[512];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f);
    gp_json_str(f, s);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* JSON strings are valid UTF-8 whatever the bytes: a Latin-1 byte, an
 * overlong form, a surrogate, a truncated sequence become U+FFFD; control
 * characters are escaped; well-formed UTF-8 passes through */
/* Braces balanced and never closed before opened. */
static int json_balanced(const char *j)
{
    int depth = 0;
    for (const char *c = j; *c; c++) {
        if (*c == '{') depth++;
        if (*c == '}' && --depth < 0) return 0;
    }
    return depth == 0;
}

/* A photometry-only model's result without a cutout: no image lines, null
 * frames and cutout in JSON, the frame that placed the galaxy; an image
 * model's result says photometry_only false and has no position frame. */
static void test_formats_photometry_only(void **state)
{
    (void)state;
    uint64_t rng = fx_seed();
    gpd_result r;
    make_result(&r, 200, &rng);
    char *j = gpd_format_summary_json(&r);
    assert_true(json_balanced(j));
    assert_non_null(strstr(j, "\"photometry_only\": false,\n  \"position_frame\": null,\n  \"no_cutout\": null,\n  \"frames\": {\"g\": "));
    assert_non_null(strstr(j, "\"cutout\": {\"g\": {\"sum\": "));
    free(j);
    char *t = gpd_format_summary_text(&r);
    assert_non_null(strstr(t, "  image g "));
    assert_null(strstr(t, "position from"));
    assert_null(strstr(t, "photometry only"));
    free(t);

    r.phot_model = 1;
    r.no_cutout = 1;
    r.r.flags = GP_FLAG_PHOT_CATALOG;
    r.r.source_snr = r.r.source_peak = NAN;
    snprintf(r.nocut_why, sizeof r.nocut_why, "no g image among the 1 frames of DS9 'x'");
    snprintf(r.posframe, sizeof r.posframe, "frame 3 (/data/r.fits), through DS9");
    snprintf(r.colours, sizeof r.colours, "catalogue c.csv row 1");
    t = gpd_format_summary_text(&r);
    assert_non_null(strstr(t, "  model m.gpw (photometry only) (UNTRAINED"));
    assert_non_null(strstr(t, "  position from frame 3 (/data/r.fits), through DS9\n"));
    assert_non_null(strstr(t, "  image none (photometry only; no g, r, i cutout: no g image among the 1 frames of DS9 'x')\n"));
    assert_null(strstr(t, "image g"));
    assert_null(strstr(t, "cutout g:"));
    assert_null(strstr(t, "source at the centre"));
    free(t);
    j = gpd_format_summary_json(&r);
    assert_true(json_balanced(j));
    assert_non_null(strstr(j, "\"photometry_only\": true,\n  \"position_frame\": \"frame 3 (/data/r.fits), through DS9\",\n"
                              "  \"no_cutout\": \"no g image among the 1 frames of DS9 'x'\",\n  \"frames\": null,\n"));
    assert_non_null(strstr(j, "\"cutout\": null,\n  \"flags\": \"catalogue-colours\""));
    assert_non_null(strstr(j, "\"source_snr\": null"));
    free(j);
    char *o = gpd_format_overlay(&r, 100, 200, 20, 1.0, 0);
    assert_non_null(strstr(o, "galpost #7  (catalogue colours, photometry-only model, untrained model)"));
    free(o);
    free(r.r.samples);
}

static void test_json_strings(void **state)
{
    (void)state;
    assert_string_equal(json_of("/data/caf\xe9/m.gpw"), "\"/data/caf\\ufffd/m.gpw\"");   /* Latin-1 e-acute */
    assert_string_equal(json_of("caf\xc3\xa9 \xce\xb1 \xf0\x9f\x94\xad"), "\"caf\xc3\xa9 \xce\xb1 \xf0\x9f\x94\xad\"");
    assert_string_equal(json_of("a\"b\\c\n\x01\x7f\xc2\x85"), "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\\u0085\"");
    assert_string_equal(json_of("\xc0\xaf"), "\"\\ufffd\\ufffd\"");          /* overlong '/' */
    assert_string_equal(json_of("\xed\xa0\x80x"), "\"\\ufffd\\ufffd\\ufffdx\"");   /* a surrogate */
    assert_string_equal(json_of("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");   /* above U+10FFFF */
    assert_string_equal(json_of("\xe2\x82x"), "\"\\ufffdx\"");            /* truncated: one U+FFFD */
    assert_string_equal(json_of("\xe2\x82"), "\"\\ufffd\"");              /* ... at the end */
    assert_string_equal(json_of("\xff\xfe"), "\"\\ufffd\\ufffd\"");
    /* the plug-in's summary with such a model path */
    uint64_t rng = fx_seed();
    gpd_result r;
    make_result(&r, 10, &rng);
    snprintf(r.model, sizeof r.model, "/data/caf\xe9.gpw");
    char *j = gpd_format_summary_json(&r);
    assert_non_null(strstr(j, "\"model\": \"/data/caf\\ufffd.gpw\""));
    for (const unsigned char *c = (const unsigned char *)j; *c; c++) assert_true(*c < 0x80 || *c >= 0xc2);
    free(j);
    free(r.r.samples);
}

/* 80-character records from lines, as cfitsio gives a header */
static char *records(const char *const *lines, int n)
{
    char *s = malloc((size_t)n * 80 + 1);
    for (int i = 0; i < n; i++) snprintf(s + (size_t)i * 80, 81, "%-80.80s", lines[i]);
    return s;
}

static void test_header_compare(void **state)
{
    (void)state;
    static const char *const file[] = {
        "SIMPLE  =                    T / conforms", "NAXIS   =                    2", "",
        "CRVAL1  =               185.25 / RA", "DATE-OBS= '2024-03-01T02:03:04' / start", "HISTORY reduced / twice",
    };
    char *cards = records(file, 6), why[512] = "";
    /* DS9's text: one card a line, blank-padded or not, END last */
    const char *same = "SIMPLE  =                    T / conforms     \nNAXIS   =                    2\n"
                       "CRVAL1  =               185.25 / RA\nDATE-OBS= '2024-03-01T02:03:04' / start\n"
                       "HISTORY reduced / twice\nEND                       \n";
    assert_int_equal(gpd_header_differs(same, cards, 6, why, sizeof why), 0);
    const char *crval = "SIMPLE  =                    T / conforms\nNAXIS   =                    2\n"
                        "CRVAL1  =               185.24 / RA\nDATE-OBS= '2024-03-01T02:03:04' / start\n"
                        "HISTORY reduced / twice\nEND\n";
    assert_int_equal(gpd_header_differs(crval, cards, 6, why, sizeof why), 1);
    assert_string_equal(why, "CRVAL1 = 185.25 in the file, 185.24 in DS9");
    const char *nodate = "SIMPLE  =                    T / conforms\nNAXIS   =                    2\n"
                         "CRVAL1  =               185.25 / RA\nHISTORY reduced / twice\nEND\n";
    assert_int_equal(gpd_header_differs(nodate, cards, 6, why, sizeof why), 1);
    assert_string_equal(why, "DATE-OBS = '2024-03-01T02:03:04' in the file, no DATE-OBS in DS9");
    const char *more = "SIMPLE  =                    T / conforms\nNAXIS   =                    2\n"
                       "CRVAL1  =               185.25 / RA\nDATE-OBS= '2024-03-01T02:03:04' / start\n"
                       "HISTORY reduced / twice\nRUN     =                 1992\nEND\n";
    assert_int_equal(gpd_header_differs(more, cards, 6, why, sizeof why), 1);
    assert_string_equal(why, "RUN = 1992 in DS9, no RUN in the file");
    const char *hist = "SIMPLE  =                    T / conforms\nNAXIS   =                    2\n"
                       "CRVAL1  =               185.25 / RA\nDATE-OBS= '2024-03-01T02:03:04' / start\n"
                       "HISTORY reduced / once\nEND\n";
    assert_int_equal(gpd_header_differs(hist, cards, 6, why, sizeof why), 1);
    assert_string_equal(why, "HISTORY reduced / twice in the file, reduced / once in DS9");
    /* cards after END are not the header */
    const char *after = "SIMPLE  =                    T / conforms\nNAXIS   =                    2\n"
                        "CRVAL1  =               185.25 / RA\nDATE-OBS= '2024-03-01T02:03:04' / start\n"
                        "HISTORY reduced / twice\nEND\nCRVAL1  =                    0\n";
    assert_int_equal(gpd_header_differs(after, cards, 6, why, sizeof why), 0);
    free(cards);
    /* a missing file; a compressed one is left to the worker */
    assert_int_equal(gpd_header_check_file("/nonexistent/galpost/frame-r.fits[1]", same, why, sizeof why), GPD_FILE_GONE);
    assert_string_equal(why, "No such file or directory");
    char path[] = "/tmp/test_gpd_hdrXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "BZh91AY&SY", 10), 10);
    close(fd);
    assert_int_equal(gpd_header_check_file(path, same, why, sizeof why), GPD_FILE_UNCHECKED);
    unlink(path);
}

/* gpd_verified.c: a file found to be what DS9 shows is trusted again only
 * for the same DS9, target, frame, channel, path and identity, and only
 * once it had been left alone long enough for a rewrite to show. */
static void test_verified(void **state)
{
    (void)state;
    char path[] = "/tmp/test_gpd_verXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "SIMPLE  =", 9), 9);
    close(fd);
    gpd_file_id id, other;
    assert_int_equal(gpd_file_identity(path, &id), 0);
    assert_true(id.ok);
    assert_true(gpd_file_id_equal(&id, &id));
    char with_ext[64];
    snprintf(with_ext, sizeof with_ext, "%s[1]", path);   /* the file part of a cfitsio name */
    assert_int_equal(gpd_file_identity(with_ext, &other), 0);
    assert_true(gpd_file_id_equal(&id, &other));
    assert_int_equal(gpd_file_identity("/nonexistent/galpost/f.fits", &other), ENOENT);
    assert_false(other.ok);
    assert_false(gpd_file_id_equal(&other, &other));
    assert_int_equal(gpd_file_identity("/tmp", &other), EINVAL);   /* not a plain file */

    /* settled: changed 0.1 s (nanosecond times) or 2 s (whole seconds) before */
    gpd_file_id t = id;
    t.ctim.tv_sec = 1000, t.ctim.tv_nsec = 500000000, t.mtim = t.ctim;
    t.seen.tv_sec = 1000, t.seen.tv_nsec = 550000000;
    assert_false(gpd_file_id_settled(&t));
    t.seen.tv_nsec = 600000000;
    assert_true(gpd_file_id_settled(&t));
    t.ctim.tv_nsec = 0, t.mtim.tv_nsec = 0;
    t.seen.tv_sec = 1001, t.seen.tv_nsec = 900000000;
    assert_false(gpd_file_id_settled(&t));
    t.seen.tv_sec = 1002, t.seen.tv_nsec = 0;
    assert_true(gpd_file_id_settled(&t));

    /* a just-changed file is not remembered; one left alone is */
    gpd_file_id racy = id, old = id;
    racy.seen = racy.ctim;
    gpd_verified_record("ds9-1", "gpt", 2, "", path, &racy);
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &racy));
    old.seen.tv_sec = old.ctim.tv_sec + 5;
    gpd_verified_record("ds9-1", "gpt", 2, "", path, &old);
    assert_true(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &old));
    /* identity taken later (another seen): still the same file */
    assert_true(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &id));
    /* another DS9, target, frame, channel or path */
    assert_false(gpd_verified_lookup("ds9-2", "gpt", 2, "", path, &old));
    assert_false(gpd_verified_lookup("ds9-1", "ds9", 2, "", path, &old));
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 3, "", path, &old));
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 2, "red", path, &old));
    assert_true(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &old));
    /* each part of the identity: a change is never trusted, and the entry goes */
    for (int k = 0; k < 6; k++) {
        gpd_file_id c = old;
        if (k == 0) c.dev++;
        if (k == 1) c.ino++;
        if (k == 2) c.size++;
        if (k == 3) c.mtim.tv_nsec ^= 1;
        if (k == 4) c.ctim.tv_nsec ^= 1;
        if (k == 5) c.ctim.tv_sec++;
        gpd_verified_record("ds9-1", "gpt", 2, "", path, &old);
        assert_false(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &c));
        assert_false(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &old));
    }
    /* another path for the frame replaces it */
    gpd_verified_record("ds9-1", "gpt", 2, "", path, &old);
    gpd_verified_record("ds9-1", "gpt", 2, "", "/elsewhere/f.fits", &old);
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &old));
    /* frames no longer in DS9 are forgotten; DS9 gone, all of its frames */
    gpd_verified_record("ds9-1", "gpt", 2, "", path, &old);
    gpd_verified_record("ds9-1", "gpt", 12, "", path, &old);
    gpd_verified_record("ds9-1", "gpt", 1, "green", path, &old);
    gpd_verified_record("ds9-2", "other", 2, "", path, &old);
    int live[] = { 1, 3 };
    gpd_verified_prune("ds9-1", "gpt", live, 2);
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 2, "", path, &old));
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 12, "", path, &old));
    assert_true(gpd_verified_lookup("ds9-1", "gpt", 1, "green", path, &old));
    assert_true(gpd_verified_lookup("ds9-2", "other", 2, "", path, &old));   /* another DS9 */
    gpd_verified_forget("ds9-1", "gpt", 1, "green");
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 1, "green", path, &old));
    gpd_verified_record("ds9-1", "gpt", 1, "green", path, &old);
    gpd_verified_forget_target("gpt");
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 1, "green", path, &old));
    assert_true(gpd_verified_lookup("ds9-2", "other", 2, "", path, &old));
    /* more frames than slots: the least recently used go, never a wrong one */
    for (int f = 0; f < 200; f++) gpd_verified_record("ds9-3", "many", f, "", path, &old);
    assert_true(gpd_verified_lookup("ds9-3", "many", 199, "", path, &old));
    assert_false(gpd_verified_lookup("ds9-3", "many", 0, "", path, &old));

    /* what the worker found the same is remembered when the job is back */
    gpd_verified_clear();
    gpd_job job;
    gpd_source src[2];
    memset(&job, 0, sizeof job);
    memset(src, 0, sizeof src);
    snprintf(job.ds9id, sizeof job.ds9id, "ds9-1");
    snprintf(job.target, sizeof job.target, "gpt");
    job.src = src;
    job.nsrc = 2;
    src[0].frame = 3;
    snprintf(src[0].path, sizeof src[0].path, "%s", path);
    src[0].worker_checked = 1;
    src[0].worker_id = old;
    src[1].frame = 4;
    snprintf(src[1].path, sizeof src[1].path, "%s", path);
    gpd_verified_record("ds9-1", "gpt", 4, "", path, &old);
    src[1].worker_changed = 1;
    gpd_verified_from_worker(&job);
    assert_true(gpd_verified_lookup("ds9-1", "gpt", 3, "", path, &old));
    assert_false(gpd_verified_lookup("ds9-1", "gpt", 4, "", path, &old));
    gpd_verified_clear();
    unlink(path);
}

/* the message for a mistyped sub-command, against a table of our own:
 * 'sets' and 'stat' are xpaget-only, 'seed' and 'start' xpaset-only, 'set'
 * both (the handlers only mark the direction) */
static int fake_get(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                    char *errmsg, size_t errlen)
{
    (void)ctx, (void)cmd, (void)params, (void)out, (void)outlen, (void)errmsg, (void)errlen;
    return -1;
}
static int fake_set(void *ctx, const char *cmd, const char *params, const char *buf, size_t len,
                    char *errmsg, size_t errlen)
{
    (void)ctx, (void)cmd, (void)params, (void)buf, (void)len, (void)errmsg, (void)errlen;
    return -1;
}

static void test_unknown_command(void **state)
{
    (void)state;
    static const gpx_command t[] = {
        { "sets", "", fake_get, NULL },  { "stat", "", fake_get, NULL },
        { "seed", "", NULL, fake_set },  { "start", "", NULL, fake_set },
        { "set", "", fake_get, fake_set },
    };
    const size_t n = sizeof t / sizeof t[0];
    char m[1024];
    static const char lists_get[] = " (xpaget commands: sets, stat, set; xpaset: seed, start, set); see galpostd(1)";
    static const char lists_set[] = " (xpaset commands: seed, start, set; xpaget: sets, stat, set); see galpostd(1)";
    const struct {
        const char *word;
        int set;
        const char *head;
    } cases[] = {
        /* nothing within 2 edits */
        { "frobnicate", 0, "ap: unknown command 'frobnicate'" },
        /* one deletion; the nearest of three ('stat' 1, 'start' 2, 'set' 2) */
        { "sta", 0, "ap: unknown command 'sta', did you mean 'stat'?" },
        /* a swap of neighbours is one edit, so 'stat' (1) beats 'set' (2) */
        { "stta", 0, "ap: unknown command 'stta', did you mean 'stat'?" },
        /* case is ignored */
        { "SEED", 1, "ap: unknown command 'SEED', did you mean 'seed'?" },
        /* as near in both directions ('stat' get, 'start' set: 1 each for
         * 'stast'): this direction's, whatever the table order */
        { "stast", 1, "ap: unknown command 'stast', did you mean 'start'?" },
        { "stast", 0, "ap: unknown command 'stast', did you mean 'stat'?" },
        /* only the other direction is near: written out */
        { "satrt", 0, "ap: unknown command 'satrt', did you mean 'xpaset ap start'?" },
        /* no suggestion from as many edits as the word has letters */
        { "s", 0, "ap: unknown command 's'" },
        { "eq", 1, "ap: unknown command 'eq'" },
        { "st", 0, "ap: unknown command 'st', did you mean 'set'?" },
        /* a command of the other direction only */
        { "seed", 0, "ap: 'seed' is an xpaset command, not an xpaget one" },
        { "stat", 1, "ap: 'stat' is an xpaget command, not an xpaset one" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[1024];
        snprintf(want, sizeof want, "%s%s", cases[i].head, cases[i].set ? lists_set : lists_get);
        gpd_unknown_message(t, n, "ap", cases[i].word, cases[i].set, m, sizeof m);
        if (strcmp(m, want)) fail_msg("'%s' (%s):\n got  %s\n want %s", cases[i].word,
                                      cases[i].set ? "set" : "get", m, want);
    }
    /* a long word is refused like a short one; a small buffer is cut, ended */
    char longw[200];
    memset(longw, 'q', sizeof longw - 1);
    longw[sizeof longw - 1] = '\0';
    gpd_unknown_message(t, n, "ap", longw, 0, m, sizeof m);
    assert_non_null(strstr(m, "ap: unknown command 'qqqq"));
    assert_null(strstr(m, "did you mean"));
    gpd_unknown_message(t, n, "ap", "sta", 0, m, 20);
    assert_string_equal(m, "ap: unknown command");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_infer),
        cmocka_unit_test(test_parse_angle),
        cmocka_unit_test(test_parse_regions),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_overlay_upper_limit),
        cmocka_unit_test(test_overlay_places),
        cmocka_unit_test(test_overlay_rezoom),
        cmocka_unit_test(test_formats_photometry_only),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_header_compare),
        cmocka_unit_test(test_verified),
        cmocka_unit_test(test_unknown_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
