/*
 * gp_fits_results.c: FITS tables of posterior summaries and samples,
 * streamed row by row (constant memory) and renamed into place at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "galpost/gp_fits.h"
#include "gp_derived.h"

struct gp_results_writer {
    fitsfile *f;
    fitsfile *sf;         /* the SAMPLES table, in a file of its own until close */
    char      path[4096];
    char      tmp[4200];
    char      stmp[4300]; /* sf's path */
    int       nkeep;
    long      row;        /* rows written */
    int       ncols;
};

#define NSTAT 5
static const char *const stat_names[NSTAT] = { "median", "p16", "p84", "mean", "std" };
/* the derived line diagnostics: names and units shared with the JSON
 * summaries (gp_derived.h) */
#define NDERIVED GP_NDERIVED
static const char *const bpt_cols[GP_NBPT] = { "p_bpt_sf", "p_bpt_composite", "p_bpt_seyfert", "p_bpt_liner" };

static int fits_fail(gp_error *err, int fst, const char *path, const char *what)
{
    char msg[FLEN_ERRMSG] = "", detail[FLEN_ERRMSG] = "";
    fits_get_errstatus(fst, msg);
    fits_read_errmsg(detail);
    fits_clear_errmsg();
    return GP_FAIL(err, GP_ERR_FITS, "%s: %s: %s%s%s", path, what, msg, *detail ? "; " : "", detail);
}

int gp_results_writer_open(const char *path, const char *model, int nkeep,
                           gp_results_writer **out, gp_error *err)
{
    if (!path || !out || nkeep < 0 || nkeep > 1000000)
        return GP_FAIL(err, GP_ERR_ARG, "gp_results_writer_open: bad arguments");
    gp_results_writer *w = calloc(1, sizeof *w);
    if (!w) return GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate the table writer", path);
    if (strlen(path) >= sizeof w->path) { free(w); return GP_FAIL(err, GP_ERR_ARG, "%s: path too long", path); }
    strcpy(w->path, path);
    snprintf(w->tmp, sizeof w->tmp, "%s.partial-%d", path, (int)getpid());
    unlink(w->tmp);
    w->nkeep = nkeep;
    int fst = 0;
    /* columns */
    enum { MAXC = 9 + GP_NQ * NSTAT + 1 + GP_NBPT + 2 + NDERIVED * 3 + 1 };
    char *names[MAXC], *forms[MAXC], *units[MAXC];
    char nbuf[MAXC][48], fbuf[MAXC][16], ubuf[MAXC][40];
    int nc = 0;
#define COL(n, f, u) do { snprintf(nbuf[nc], sizeof nbuf[nc], "%s", n); snprintf(fbuf[nc], sizeof fbuf[nc], "%s", f); \
    snprintf(ubuf[nc], sizeof ubuf[nc], "%s", u); names[nc] = nbuf[nc]; forms[nc] = fbuf[nc]; units[nc] = ubuf[nc]; nc++; } while (0)
    COL("objID", "K", "");
    COL("status", "J", "");
    COL("flags", "J", "");
    COL("latent_d2", "E", "");
    COL("latent_d2_limit", "E", "");
    COL("phot_d2", "E", "");
    COL("phot_d2_limit", "E", "");
    COL("source_snr", "E", "");
    COL("source_peak", "E", "arcsec");
    for (int q = 0; q < GP_NQ; q++)
        for (int s = 0; s < NSTAT; s++) {
            char n[48];
            snprintf(n, sizeof n, "%s_%s", gp_quantity_name(q), stat_names[s]);
            COL(n, "E", gp_quantity_unit(q));
        }
    COL("p_detect", "E", "");
    for (int c = 0; c < GP_NBPT; c++) COL(bpt_cols[c], "E", "");
    COL("bpt_class", "12A", "");
    COL("bpt_n", "J", "");
    for (int d = 0; d < NDERIVED; d++)
        for (int s = 0; s < 3; s++) {
            char n[48];
            snprintf(n, sizeof n, "%s_%s", gp_derived_name(d), stat_names[s]);
            COL(n, "E", gp_derived_unit(d));
        }
    COL("message", "255A", "");   /* all of gp_result.message: the reason comes after a long path */
#undef COL
    w->ncols = nc;
    if (fits_create_file(&w->f, w->tmp, &fst) ||
        fits_create_tbl(w->f, BINARY_TBL, 0, nc, names, forms, units, "SUMMARY", &fst)) {
        int st = fits_fail(err, fst, path, "cannot create the result table");
        if (w->f) { fst = 0; fits_close_file(w->f, &fst); }
        unlink(w->tmp);
        free(w);
        return st;
    }
    fits_write_key(w->f, TSTRING, "ORIGIN", "galpost", "posterior summaries", &fst);
    if (model) fits_write_key_longstr(w->f, "MODEL", model, "weights file", &fst);
    fits_write_key(w->f, TSTRING, "LINEUNIT", "log10(1+F), F in 1e-17 erg/s/cm2", "line columns", &fst);
    fits_write_key_longstr(w->f, "FLAGBITS",
                           "1 cutout crosses the frame edge, 2 masked pixels filled, 4 resampled through WCS, "
                           "16 catalogue magnitudes, 32 measured magnitudes, 64 u or z not detected (magnitude 30), "
                           "256 photometry held at 5 sigma of the "
                           "training set, 512 image unlike the training images (latent_d2 > latent_d2_limit), "
                           "1024 colours and magnitudes unlike the training set's (phot_d2 > phot_d2_limit), "
                           "2048 no source at the centre of the cutout (source_snr < 15, source_peak > 4.75 arcsec, or a blank band)",
                           "bits of the flags column", &fst);
    if (nkeep > 0) {
        /* objID, then one vector column per quantity (created in that order, so
         * that cfitsio's keywords and their comments stay in column order) */
        char *sn[GP_NQ + 1], *sf[GP_NQ + 1], *su[GP_NQ + 1];
        char snb[GP_NQ][32], sfb[GP_NQ][24];
        sn[0] = (char *)"objID"; sf[0] = (char *)"K"; su[0] = (char *)"";
        for (int q = 0; q < GP_NQ; q++) {
            snprintf(snb[q], sizeof snb[q], "%s", gp_quantity_name(q));
            snprintf(sfb[q], sizeof sfb[q], "%dE", nkeep);
            sn[q + 1] = snb[q]; sf[q + 1] = sfb[q]; su[q + 1] = (char *)gp_quantity_unit(q);
        }
        /* in a file of its own while rows are added: growing SUMMARY with
         * SAMPLES after it in one file made cfitsio move SAMPLES at every
         * row (a batch of 50,000 took 237 s instead of 10); close() appends
         * it behind SUMMARY in one copy */
        snprintf(w->stmp, sizeof w->stmp, "%s.samples", w->tmp);
        unlink(w->stmp);
        if (!fst) fits_create_file(&w->sf, w->stmp, &fst);
        fits_create_tbl(w->sf, BINARY_TBL, 0, GP_NQ + 1, sn, sf, su, "SAMPLES", &fst);
    }
    if (fst) {
        int st = fits_fail(err, fst, path, "cannot set up the result table");
        fst = 0; fits_close_file(w->f, &fst);
        unlink(w->tmp);
        if (w->sf) { fst = 0; fits_close_file(w->sf, &fst); }
        if (w->stmp[0]) unlink(w->stmp);
        free(w);
        return st;
    }
    *out = w;
    return GP_OK;
}

int gp_results_writer_append(gp_results_writer *w, const gp_result *res, size_t n, gp_error *err)
{
    int fst = 0;
    for (size_t i = 0; i < n; i++) {
        const gp_result *r = &res[i];
        const gp_summary *s = &r->summary;
        long row = w->row + 1;
        int col = 1;
        LONGLONG id = (LONGLONG)r->id;
        int status = r->status, flags = (int)r->flags;
        fits_write_col(w->f, TLONGLONG, col++, row, 1, 1, &id, &fst);
        fits_write_col(w->f, TINT, col++, row, 1, 1, &status, &fst);
        fits_write_col(w->f, TINT, col++, row, 1, 1, &flags, &fst);
        double ld[2] = { r->latent_d2, r->latent_d2_limit };
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &ld[0], &fst);
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &ld[1], &fst);
        double phd[2] = { r->phot_d2, r->phot_d2_limit };
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &phd[0], &fst);
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &phd[1], &fst);
        double src[2] = { r->source_snr, r->source_peak };
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &src[0], &fst);
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &src[1], &fst);
        int ok = r->status == GP_OK;
        for (int q = 0; q < GP_NQ; q++) {
            double v[NSTAT] = { s->median[q], s->p16[q], s->p84[q], s->mean[q], s->std[q] };
            for (int k = 0; k < NSTAT; k++) {
                double x = ok ? v[k] : NAN;
                fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &x, &fst);
            }
        }
        double pd = ok ? s->p_detect : NAN;
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &pd, &fst);
        for (int c = 0; c < GP_NBPT; c++) {
            double p = ok ? s->p_bpt[c] : NAN;
            fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &p, &fst);
        }
        char cls[16];
        snprintf(cls, sizeof cls, "%s", ok ? gp_bpt_class_name(s->bpt_class) : "failed");
        char *clsp = cls;
        fits_write_col(w->f, TSTRING, col++, row, 1, 1, &clsp, &fst);
        int bn = ok ? s->bpt_n : 0;
        fits_write_col(w->f, TINT, col++, row, 1, 1, &bn, &fst);
        for (int k = 0; k < NDERIVED; k++) {
            const gp_stat *d = gp_derived_stat(s, k);
            double v[3] = { d->median, d->p16, d->p84 };
            for (int j = 0; j < 3; j++) {
                double x = ok && d->n > 0 ? v[j] : NAN;
                fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &x, &fst);
            }
        }
        char msg[sizeof r->message];
        snprintf(msg, sizeof msg, "%s", r->message);
        char *mp = msg;
        fits_write_col(w->f, TSTRING, col++, row, 1, 1, &mp, &fst);
        if (w->nkeep > 0) {
            fits_write_col(w->sf, TLONGLONG, 1, row, 1, 1, &id, &fst);
            float *buf = malloc(sizeof(float) * (size_t)w->nkeep);
            if (!buf) return GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate a sample row", w->path);
            for (int q = 0; q < GP_NQ; q++) {
                for (int k = 0; k < w->nkeep; k++)
                    buf[k] = (ok && r->samples && k < r->nsamples) ? r->samples[(size_t)k * GP_NQ + q] : NAN;
                fits_write_col(w->sf, TFLOAT, q + 2, row, 1, w->nkeep, buf, &fst);
            }
            free(buf);
        }
        if (fst) return fits_fail(err, fst, w->path, "cannot write a result row");
        w->row = row;
    }
    return GP_OK;
}

int gp_results_writer_set_key(gp_results_writer *w, const char *key, const char *value,
                              const char *comment, gp_error *err)
{
    if (!w || !key || !value || !key[0] || strlen(key) > 8)
        return GP_FAIL(err, GP_ERR_ARG, "gp_results_writer_set_key: bad writer or keyword '%s'", key ? key : "(null)");
    int fst = 0;
    fits_write_key_longstr(w->f, key, value, comment, &fst);
    if (fst) return fits_fail(err, fst, w->path, "cannot write a header keyword");
    return GP_OK;
}

int gp_results_writer_close(gp_results_writer *w, gp_error *err)
{
    if (!w) return GP_FAIL(err, GP_ERR_ARG, "gp_results_writer_close: NULL writer");
    int fst = 0, st = GP_OK;
    if (w->sf) {
        /* SAMPLES behind SUMMARY: one copy of the finished table */
        /* (flushed first, so that its NAXIS2 counts the rows written) */
        if (fits_flush_file(w->sf, &fst) || fits_copy_hdu(w->sf, w->f, 0, &fst))
            st = fits_fail(err, fst, w->path, "cannot append the SAMPLES table");
        fst = 0;
        fits_close_file(w->sf, &fst);
        unlink(w->stmp);
        fst = 0;
        if (st) {
            fits_close_file(w->f, &fst);
            unlink(w->tmp);
            free(w);
            return st;
        }
    }
    if (fits_close_file(w->f, &fst)) st = fits_fail(err, fst, w->path, "cannot finish the result table");
    else if (rename(w->tmp, w->path) != 0) st = GP_FAIL(err, GP_ERR_IO, "%s: cannot rename the finished table into place", w->path);
    if (st) unlink(w->tmp);
    free(w);
    return st;
}

void gp_results_writer_abort(gp_results_writer *w)
{
    if (!w) return;
    int fst = 0;
    fits_close_file(w->f, &fst);
    unlink(w->tmp);
    if (w->sf) {
        fst = 0;
        fits_close_file(w->sf, &fst);
        unlink(w->stmp);
    }
    free(w);
}
