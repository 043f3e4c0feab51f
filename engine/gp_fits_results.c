/*
 * gp_fits_results.c: FITS tables of posterior summaries and samples,
 * streamed row by row (constant memory) and renamed into place at the end.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "galpost/gp_fits.h"
#include "gp_derived.h"
#include "gp_hash.h"

struct gp_results_writer {
    fitsfile *f;
    fitsfile *sf;         /* the SAMPLES table, in a file of its own until close */
    char      path[4096];
    char      tmp[4200];
    char      stmp[4300]; /* sf's path */
    int       nkeep;
    long      row;        /* rows written */
    int       ncols;
    int       resumable;  /* temporary names without the pid, kept by suspend() */
    long      synced;     /* rows covered by hsum, hsamp (sync()) */
    uint64_t  hsum, hsamp;/* FNV-1a of the SUMMARY and SAMPLES rows' bytes 1..synced */
};

#define NSTAT 5
static const char *const stat_names[NSTAT] = { "median", "p16", "p84", "mean", "std" };
/* the derived line diagnostics: names and units shared with the JSON
 * summaries (gp_derived.h) */
#define NDERIVED GP_NDERIVED

static int fits_fail(gp_error *err, int fst, const char *path, const char *what)
{
    char msg[FLEN_ERRMSG] = "", detail[FLEN_ERRMSG] = "";
    fits_get_errstatus(fst, msg);
    fits_read_errmsg(detail);
    fits_clear_errmsg();
    return GP_FAIL(err, GP_ERR_FITS, "%s: %s: %s%s%s", path, what, msg, *detail ? "; " : "", detail);
}

/* The SUMMARY table's columns (gp_results_writer_open() lists them). */
/* the lines' 68% interval (from 0 where F <= 0 is 16% likely or more) and P(F <= 0) */
#define NLINE_STAT 3
static const char *const line_stat_names[NLINE_STAT] = { "lo68", "hi68", "p_zero" };
#define SUMMARY_NCOLS (11 + GP_NQ * NSTAT + 1 + GP_NBPT + 2 + NDERIVED * 3 + (GP_NQ - GP_Q_HALPHA) * NLINE_STAT + 2)

int gp_results_partial_path(const char *path, int samples, char *buf, size_t size)
{
    if (!path || !buf || !size) return -1;
    int n = snprintf(buf, size, samples ? "%s.partial.samples" : "%s.partial", path);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A writer's names: the output's, and the temporary files' (the output's with
 * .partial, or .partial-PID when the writer cannot be resumed, so that two
 * writers of one output do not meet) */
static gp_results_writer *writer_new(const char *path, int nkeep, int resumable, gp_error *err)
{
    gp_results_writer *w = calloc(1, sizeof *w);
    if (!w) { GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate the table writer", path); return NULL; }
    if (strlen(path) >= sizeof w->path) { free(w); GP_FAIL(err, GP_ERR_ARG, "%s: path too long", path); return NULL; }
    strcpy(w->path, path);
    if (resumable) snprintf(w->tmp, sizeof w->tmp, "%s.partial", path);
    else snprintf(w->tmp, sizeof w->tmp, "%s.partial-%d", path, (int)getpid());
    snprintf(w->stmp, sizeof w->stmp, "%s.samples", w->tmp);
    w->nkeep = nkeep;
    w->resumable = resumable;
    w->hsum = w->hsamp = GP_FNV1A_BASIS;
    return w;
}

static int writer_create(const char *path, const char *model, int nkeep, int resumable,
                         gp_results_writer **out, gp_error *err)
{
    if (!path || !out || nkeep < 0 || nkeep > 1000000)
        return GP_FAIL(err, GP_ERR_ARG, "gp_results_writer_open: bad arguments");
    gp_results_writer *w = writer_new(path, nkeep, resumable, err);
    if (!w) return err ? err->status : GP_ERR_NOMEM;
    unlink(w->tmp);
    unlink(w->stmp);   /* (a resumable writer's, from a run that kept none) */
    int fst = 0;
    /* columns */
    enum { MAXC = SUMMARY_NCOLS };
    char *names[MAXC], *forms[MAXC], *units[MAXC];
    char nbuf[MAXC][48], fbuf[MAXC][16], ubuf[MAXC][40];
    int nc = 0;
    /* (a column beyond SUMMARY_NCOLS is counted, never stored: refused below) */
#define COL(n, f, u) do { if (nc >= MAXC) { nc++; break; } \
    snprintf(nbuf[nc], sizeof nbuf[nc], "%s", n); snprintf(fbuf[nc], sizeof fbuf[nc], "%s", f); \
    snprintf(ubuf[nc], sizeof ubuf[nc], "%s", u); names[nc] = nbuf[nc]; forms[nc] = fbuf[nc]; units[nc] = ubuf[nc]; nc++; } while (0)
    COL("objID", "K", "");
    COL("ra", "D", "deg");
    COL("dec", "D", "deg");
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
    for (int c = 0; c < GP_NBPT; c++) {   /* p_bpt_sf ...: the JSON summaries' bpt.p_sf ... */
        char n[48];
        snprintf(n, sizeof n, "p_bpt_%s", gp_bpt_class_key(c));
        COL(n, "E", "");
    }
    COL("bpt_class", "12A", "");
    COL("bpt_n", "J", "");
    for (int d = 0; d < NDERIVED; d++)
        for (int s = 0; s < 3; s++) {
            char n[48];
            snprintf(n, sizeof n, "%s_%s", gp_derived_name(d), stat_names[s]);
            COL(n, "E", gp_derived_unit(d));
        }
    for (int q = GP_Q_HALPHA; q < GP_NQ; q++)
        for (int k = 0; k < NLINE_STAT; k++) {
            char n[48];
            snprintf(n, sizeof n, "%s_%s", gp_quantity_name(q), line_stat_names[k]);
            COL(n, "E", k < 2 ? gp_quantity_unit(q) : "");
        }
    /* the posterior correlation matrix, 9 x 9 in the quantities' order (TDIM) */
    char corr_form[16];
    snprintf(corr_form, sizeof corr_form, "%dE", GP_NQ * GP_NQ);
    COL("corr", corr_form, "");
    int corr_col = nc;
    COL("message", "255A", "");   /* all of gp_result.message: the reason comes after a long path */
#undef COL
    if (nc != MAXC) {   /* SUMMARY_NCOLS out of step with the columns listed (resume checks rely on it) */
        free(w);
        return GP_FAIL(err, GP_ERR_INTERNAL, "%s: the result table lists %d columns, SUMMARY_NCOLS is %d", path, nc, (int)MAXC);
    }
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
    long corr_dim[2] = { GP_NQ, GP_NQ };
    fits_write_tdim(w->f, corr_col, 2, corr_dim, &fst);
    char order[512] = "";
    for (int q = 0; q < GP_NQ; q++)
        snprintf(order + strlen(order), sizeof order - strlen(order), "%s%s", q ? " " : "", gp_quantity_name(q));
    fits_write_key_longstr(w->f, "CORRORD", order, "rows and columns of corr (Pearson r over the samples)", &fst);
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
        if (!fst) fits_create_file(&w->sf, w->stmp, &fst);
        fits_create_tbl(w->sf, BINARY_TBL, 0, GP_NQ + 1, sn, sf, su, "SAMPLES", &fst);
    }
    if (fst) {
        int st = fits_fail(err, fst, path, "cannot set up the result table");
        fst = 0; fits_close_file(w->f, &fst);
        unlink(w->tmp);
        if (w->sf) { fst = 0; fits_close_file(w->sf, &fst); }
        unlink(w->stmp);
        free(w);
        return st;
    }
    *out = w;
    return GP_OK;
}

int gp_results_writer_open(const char *path, const char *model, int nkeep,
                           gp_results_writer **out, gp_error *err)
{
    return writer_create(path, model, nkeep, 0, out, err);
}

int gp_results_writer_open_resumable(const char *path, const char *model, int nkeep,
                                     gp_results_writer **out, gp_error *err)
{
    return writer_create(path, model, nkeep, 1, out, err);
}

/* h continued over the bytes of rows first..last (from 1) of f's current
 * table, as they are in the file (or in cfitsio's buffers of it) */
static int hash_rows(fitsfile *f, long first, long last, uint64_t *h, const char *path, gp_error *err)
{
    if (last < first) return GP_OK;
    int fst = 0;
    long width = 0;
    if (fits_read_key(f, TLONG, "NAXIS1", &width, NULL, &fst) || width <= 0)
        return fst ? fits_fail(err, fst, path, "cannot read the table's row width")
                   : GP_FAIL(err, GP_ERR_FORMAT, "%s: table rows of %ld bytes", path, width);
    long per = width >= (1L << 20) ? 1 : (1L << 20) / width;   /* rows per read: about 1 MB */
    unsigned char *buf = malloc((size_t)(per * width));
    if (!buf) return GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate a row buffer", path);
    for (long r = first; r <= last; r += per) {
        long k = last - r + 1 < per ? last - r + 1 : per;
        if (fits_read_tblbytes(f, r, 1, k * width, buf, &fst)) {
            free(buf);
            return fits_fail(err, fst, path, "cannot read the table's rows back");
        }
        *h = gp_fnv1a(*h, buf, (size_t)(k * width));
    }
    free(buf);
    return GP_OK;
}

/* The progress digest: both tables' hashes in one number. */
static uint64_t writer_digest(const gp_results_writer *w)
{
    return w->hsum ^ ((w->hsamp << 1) | (w->hsamp >> 63));
}

int gp_results_writer_sync(gp_results_writer *w, long *rows, uint64_t *digest, gp_error *err)
{
    if (!w) return GP_FAIL(err, GP_ERR_ARG, "gp_results_writer_sync: NULL writer");
    int st = hash_rows(w->f, w->synced + 1, w->row, &w->hsum, w->path, err);
    if (!st && w->sf) st = hash_rows(w->sf, w->synced + 1, w->row, &w->hsamp, w->path, err);
    if (st) return st;
    int fst = 0;
    /* (fits_flush_file, not fits_flush_buffer: NAXIS2 too) */
    if (fits_flush_file(w->f, &fst) || (w->sf && fits_flush_file(w->sf, &fst)))
        return fits_fail(err, fst, w->path, "cannot flush the partial results");
    w->synced = w->row;
    if (rows) *rows = w->row;
    if (digest) *digest = writer_digest(w);
    return GP_OK;
}

/* One of a suspended writer's tables, as found: where its rows start, their
 * width, the rows its header counts. */
typedef struct partial_table {
    const char *file;
    LONGLONG    datastart, dataend;
    long        width, have;
} partial_table;

/* Look at a suspended writer's table `extname` in `file` (read only): it must
 * have `ncols` columns (and, for SAMPLES, nkeep samples a row) and the bytes
 * of at least `rows` rows, whose FNV-1a goes to *h.  Its header's row count
 * may differ from what the file holds when the process was killed as it
 * flushed them: the rows are read from the file itself. */
static int inspect_table(partial_table *t, const char *extname, int ncols, int nkeep, long rows,
                         uint64_t *h, const char *path, gp_error *err)
{
    int fst = 0, n = 0;
    fitsfile *f = NULL;
    /* (a finished table, gp_results_check_finished(), is the output itself) */
    const char *what = strcmp(t->file, path) ? "not a partial result table" : "not a result table";
    if (access(t->file, F_OK) != 0)
        return strcmp(t->file, path) ? GP_FAIL(err, GP_ERR_NOTFOUND, "%s: the partial table %s is missing", path, t->file)
                                     : GP_FAIL(err, GP_ERR_NOTFOUND, "%s is missing", path);
    if (fits_open_file(&f, t->file, READONLY, &fst))
        return fits_fail(err, fst, t->file, strcmp(t->file, path) ? "cannot open the partial table" : "cannot open the table");
    int st = GP_OK;
    if (fits_movnam_hdu(f, BINARY_TBL, (char *)extname, 0, &fst) || fits_get_num_cols(f, &n, &fst) ||
        fits_get_num_rows(f, &t->have, &fst) || fits_read_key(f, TLONG, "NAXIS1", &t->width, NULL, &fst) ||
        fits_get_hduaddrll(f, NULL, &t->datastart, &t->dataend, &fst))
        st = fits_fail(err, fst, t->file, what);
    else if (n != ncols)
        st = GP_FAIL(err, GP_ERR_FORMAT, "%s: %s has %d columns, not the %d this galpost writes", t->file, extname, n, ncols);
    else if (t->width <= 0)
        st = GP_FAIL(err, GP_ERR_FORMAT, "%s: %s has rows of %ld bytes", t->file, extname, t->width);
    else if (nkeep > 0) {
        int tc = 0;
        long rep = 0, wid = 0;
        if (fits_get_coltype(f, 2, &tc, &rep, &wid, &fst)) st = fits_fail(err, fst, t->file, "not a SAMPLES table");
        else if (rep != nkeep) st = GP_FAIL(err, GP_ERR_FORMAT, "%s: %ld samples per galaxy, not %d", t->file, rep, nkeep);
    }
    fst = 0;
    fits_close_file(f, &fst);
    if (st) return st;
    if (t->have < rows)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: holds %ld rows, fewer than the %ld the progress record counts",
                       t->file, t->have, rows);
    FILE *raw = fopen(t->file, "rb");
    if (!raw) return GP_FAIL(err, GP_ERR_IO, "%s: cannot open: %s", t->file, strerror(errno));
    size_t left = (size_t)rows * (size_t)t->width;
    unsigned char *buf = malloc(1 << 20);
    if (!buf) { fclose(raw); return GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate a read buffer", t->file); }
    if (fseeko(raw, (off_t)t->datastart, SEEK_SET)) st = GP_FAIL(err, GP_ERR_IO, "%s: cannot seek: %s", t->file, strerror(errno));
    while (!st && left) {
        size_t k = left < (1u << 20) ? left : (1u << 20);
        if (fread(buf, 1, k, raw) != k)
            st = GP_FAIL(err, GP_ERR_FORMAT, "%s: the file ends before the %ld rows the progress record counts", t->file, rows);
        else { *h = gp_fnv1a(*h, buf, k); left -= k; }
    }
    free(buf);
    fclose(raw);
    return st;
}

/* Make a checked table's file what its header says: nothing after its data
 * (a SAMPLES table a stopped close() appended, or anything else), and the
 * data as long as the header counts (zeros where a killed flush did not
 * get), so that cfitsio can drop the rows after the kept ones. */
static int trim_table(const partial_table *t, gp_error *err)
{
    if (truncate(t->file, (off_t)t->dataend) != 0)
        return GP_FAIL(err, GP_ERR_IO, "%s: cannot trim the partial table: %s", t->file, strerror(errno));
    return GP_OK;
}

int gp_results_writer_resume(const char *path, int nkeep, long rows, uint64_t digest,
                             gp_results_writer **out, gp_error *err)
{
    if (!path || !out || nkeep < 0 || nkeep > 1000000 || rows < 0)
        return GP_FAIL(err, GP_ERR_ARG, "gp_results_writer_resume: bad arguments");
    gp_results_writer *w = writer_new(path, nkeep, 1, err);
    if (!w) return err ? err->status : GP_ERR_NOMEM;
    w->ncols = SUMMARY_NCOLS;
    partial_table ts = { w->tmp, 0, 0, 0, 0 }, tk = { w->stmp, 0, 0, 0, 0 };
    int fst = 0;
    /* checked (read only) before anything is changed */
    int st = inspect_table(&ts, "SUMMARY", w->ncols, 0, rows, &w->hsum, path, err);
    if (!st && nkeep > 0) st = inspect_table(&tk, "SAMPLES", GP_NQ + 1, nkeep, rows, &w->hsamp, path, err);
    if (!st && writer_digest(w) != digest)
        st = GP_FAIL(err, GP_ERR_FORMAT, "%s: its first %ld rows are not the ones the progress record describes "
                     "(their digest differs): the partial results cannot be trusted", w->tmp, rows);
    if (!st) st = trim_table(&ts, err);
    if (!st && nkeep > 0) st = trim_table(&tk, err);
    /* rows written after the last record (a run killed between the two) */
    if (!st && (fits_open_file(&w->f, w->tmp, READWRITE, &fst) || fits_movnam_hdu(w->f, BINARY_TBL, "SUMMARY", 0, &fst) ||
                (ts.have > rows && fits_delete_rows(w->f, rows + 1, ts.have - rows, &fst))))
        st = fits_fail(err, fst, w->tmp, "cannot drop the rows after the progress record");
    if (!st && nkeep > 0 &&
        (fits_open_file(&w->sf, w->stmp, READWRITE, &fst) || fits_movnam_hdu(w->sf, BINARY_TBL, "SAMPLES", 0, &fst) ||
         (tk.have > rows && fits_delete_rows(w->sf, rows + 1, tk.have - rows, &fst))))
        st = fits_fail(err, fst, w->stmp, "cannot drop the rows after the progress record");
    if (st) {
        fst = 0;
        if (w->f) fits_close_file(w->f, &fst);
        fst = 0;
        if (w->sf) fits_close_file(w->sf, &fst);
        free(w);
        return st;
    }
    w->row = w->synced = rows;
    *out = w;
    return GP_OK;
}

int gp_results_check_finished(const char *path, int nkeep, long rows, uint64_t digest, gp_error *err)
{
    if (!path || nkeep < 0 || nkeep > 1000000 || rows < 0)
        return GP_FAIL(err, GP_ERR_ARG, "gp_results_check_finished: bad arguments");
    gp_results_writer w;   /* (for its hashes and digest only) */
    memset(&w, 0, sizeof w);
    w.hsum = w.hsamp = GP_FNV1A_BASIS;
    partial_table ts = { path, 0, 0, 0, 0 }, tk = { path, 0, 0, 0, 0 };
    int st = inspect_table(&ts, "SUMMARY", SUMMARY_NCOLS, 0, rows, &w.hsum, path, err);
    if (!st && ts.have != rows)
        st = GP_FAIL(err, GP_ERR_FORMAT, "%s: SUMMARY holds %ld rows, not %ld", path, ts.have, rows);
    if (!st && nkeep > 0) {
        st = inspect_table(&tk, "SAMPLES", GP_NQ + 1, nkeep, rows, &w.hsamp, path, err);
        if (!st && tk.have != rows)
            st = GP_FAIL(err, GP_ERR_FORMAT, "%s: SAMPLES holds %ld rows, not %ld", path, tk.have, rows);
    } else if (!st) {   /* no samples kept: no SAMPLES table */
        int fst = 0;
        fitsfile *f = NULL;
        if (fits_open_file(&f, path, READONLY, &fst)) st = fits_fail(err, fst, path, "cannot open the table");
        else if (!fits_movnam_hdu(f, BINARY_TBL, "SAMPLES", 0, &fst))
            st = GP_FAIL(err, GP_ERR_FORMAT, "%s: holds a SAMPLES table, and no samples were kept", path);
        fst = 0;
        if (f) fits_close_file(f, &fst);
    }
    if (!st && writer_digest(&w) != digest)
        st = GP_FAIL(err, GP_ERR_FORMAT, "%s: its %ld rows are not the ones the progress record describes "
                     "(their digest differs)", path, rows);
    return st;
}

int gp_results_writer_suspend(gp_results_writer *w, gp_error *err)
{
    if (!w) return GP_FAIL(err, GP_ERR_ARG, "gp_results_writer_suspend: NULL writer");
    int fst = 0, st = GP_OK;
    if (fits_close_file(w->f, &fst)) st = fits_fail(err, fst, w->path, "cannot close the partial results");
    fst = 0;
    if (w->sf && fits_close_file(w->sf, &fst) && !st) st = fits_fail(err, fst, w->path, "cannot close the partial samples");
    free(w);
    return st;
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
        double pos[2] = { r->ra, r->dec };   /* (NaN: no position, a null cell) */
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &pos[0], &fst);
        fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &pos[1], &fst);
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
        for (int q = GP_Q_HALPHA; q < GP_NQ; q++) {
            double v[NLINE_STAT] = { s->lo68[q], s->hi68[q], s->p_zero[q] };
            for (int k = 0; k < NLINE_STAT; k++) {
                double x = ok ? v[k] : NAN;
                fits_write_col(w->f, TDOUBLE, col++, row, 1, 1, &x, &fst);
            }
        }
        double corr[GP_NQ * GP_NQ];
        for (int a = 0; a < GP_NQ; a++)
            for (int b = 0; b < GP_NQ; b++) corr[a * GP_NQ + b] = ok ? s->corr[a][b] : NAN;
        fits_write_col(w->f, TDOUBLE, col++, row, 1, GP_NQ * GP_NQ, corr, &fst);
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
    /* SAMPLES behind SUMMARY: one copy of the finished table (flushed
     * first, so that its NAXIS2 counts the rows written) */
    if (w->sf && (fits_flush_file(w->sf, &fst) || fits_copy_hdu(w->sf, w->f, 0, &fst)))
        st = fits_fail(err, fst, w->path, "cannot append the SAMPLES table");
    fst = 0;
    if (st) fits_close_file(w->f, &fst);
    else if (fits_close_file(w->f, &fst)) st = fits_fail(err, fst, w->path, "cannot finish the result table");
    else if (rename(w->tmp, w->path) != 0) st = GP_FAIL(err, GP_ERR_IO, "%s: cannot rename the finished table into place", w->path);
    /* the samples file goes only once the table is in place: until then a
     * resumable writer's files can be resumed (gp_results_writer_resume()
     * drops a SAMPLES table a stopped close() appended) */
    if (w->sf) { fst = 0; fits_close_file(w->sf, &fst); }
    if (!st || !w->resumable) {
        if (w->sf) unlink(w->stmp);
        if (st) unlink(w->tmp);
    }
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
