/*
 * gp_dataset.c: read training shards (sim/FORMAT.md; a real SDSS/MPA-JHU
 * export has the same layout, and its table alone may come as CSV) and mark
 * the rows that cannot be used.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fitsio.h>

#include "galpost/gp_image.h"
#include "galpost/gp_model.h"
#include "gp_csv.h"
#include "gp_dataset.h"
#include "gp_fits_table.h"
#include "gp_fits_util.h"

static const char *const bad_reason[GP_BAD_NREASON] = {
    "photometry (modelMag/extinction NaN, -9999 or outside 5..40 mag)",
    "core labels (lgm_tot_p50, sfr_tot_p50, z or log_mbh NaN/-9999; v_disp <= 0 without log_mbh)",
    "line fluxes (NaN or -9999)",
    "cutout (non-finite pixels)",
};

double gp_mbh_from_vdisp(double v)
{
    return 8.32 + 5.64 * log10(v / 200.0);
}

static int fits_fail(gp_error *err, int st, const char *path, const char *what)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    return GP_FAIL(err, GP_ERR_FITS, "%s: %s: %s", path, what, msg);
}

static int find_col(fitsfile *f, const char *name, int *col)
{
    int st = 0;
    fits_get_colnum(f, CASEINSEN, (char *)name, col, &st);
    if (st) { *col = 0; return 0; }
    return 1;
}

/* Read column `name` (double) of nrows rows; missing -> GP_ERR_NOTFOUND when required. */
static int read_col(fitsfile *f, const char *path, const char *name, long nrows, double *out,
                    int required, int *found, gp_error *err)
{
    int col, st = 0, anynul = 0;
    if (!find_col(f, name, &col)) {
        if (found) *found = 0;
        if (!required) { for (long i = 0; i < nrows; i++) out[i] = NAN; return GP_OK; }
        return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: table has no column '%s' (sim/FORMAT.md lists the columns)",
                       path, name);
    }
    if (found) *found = 1;
    double nulval = NAN;
    fits_read_col(f, TDOUBLE, col, 1, 1, nrows, &nulval, out, &anynul, &st);
    if (st) {
        int typecode = 0;
        long rep = 0, width = 0;
        int ts = 0;
        if (fits_get_coltype(f, col, &typecode, &rep, &width, &ts) == 0 && typecode == TSTRING)
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: column '%s' holds text, not numbers (a CSV converted with "
                           "'null' or empty cells becomes a text column: write those cells as NaN or -9999; "
                           "train --photometry and eval of a photometry-only model read the CSV itself)",
                           path, name);
        return fits_fail(err, st, path, name);
    }
    return GP_OK;
}

/* A position (it only labels results, so what is not one is NaN, never an
 * error): v where it is an RA in 0..360 or a Dec in -90..90 degrees. */
static double position_or_nan(double v, int ra)
{
    return (ra ? v >= 0.0 && v <= 360.0 : v >= -90.0 && v <= 90.0) ? v : NAN;
}

/* A position written as text (degrees, or sexagesimal with colons or, as
 * VizieR writes it, blanks; an RA's in hours), or NaN. */
static double position_of_text(const char *s, int ra)
{
    char b[80];
    double v;
    gp_fits_table_angle_text(s, b, sizeof b);
    return *b && !gp_angle_parse(b, ra, &v) ? position_or_nan(v, ra) : NAN;
}

/* A position column (ra or dec) of nrows rows, numbers or text, into out;
 * NaN where absent or unreadable (only out of memory fails). */
static int read_position_col(fitsfile *f, const char *path, const char *name, int ra, long nrows, double *out,
                             gp_error *err)
{
    for (long i = 0; i < nrows; i++) out[i] = NAN;
    int col, st = 0, anynul = 0, typecode = 0;
    long rep = 0, width = 0;
    if (!find_col(f, name, &col) || fits_get_coltype(f, col, &typecode, &rep, &width, &st) || nrows == 0) return GP_OK;
    if (typecode != TSTRING) {
        double nulval = NAN;
        if (rep != 1) return GP_OK;   /* (a vector column is no position) */
        if (fits_read_col(f, TDOUBLE, col, 1, 1, nrows, &nulval, out, &anynul, &st))
            for (long i = 0; i < nrows; i++) out[i] = NAN;
        for (long i = 0; i < nrows; i++) out[i] = position_or_nan(out[i], ra);
        return GP_OK;
    }
    /* the whole column in one read */
    size_t w = (size_t)(width > 0 ? width : 1) + 1;
    char *text = calloc((size_t)nrows, w);
    char **cell = malloc(sizeof(char *) * (size_t)nrows);
    if (!text || !cell) {
        free(text); free(cell);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate the '%s' column", path, name);
    }
    for (long i = 0; i < nrows; i++) cell[i] = text + (size_t)i * w;
    char nul[] = "";
    if (!fits_read_col(f, TSTRING, col, 1, 1, nrows, nul, cell, &anynul, &st))
        for (long i = 0; i < nrows; i++) out[i] = position_of_text(cell[i], ra);
    free(cell);
    free(text);
    return GP_OK;
}

/* ------------------------------------------------------------ CSV */

/* The numeric columns a training table is read for: a CSV keeps these (a
 * column open_shard() reads and this list lacks is absent from a CSV). */
static const char *const csv_want[] = {
    "modelMag_u", "modelMag_g", "modelMag_r", "modelMag_i", "modelMag_z",
    "extinction_u", "extinction_g", "extinction_r", "extinction_i", "extinction_z",
    "lgm_tot_p50", "sfr_tot_p50", "z", "log_mbh", "v_disp", "oh_p50", "oh_measurable",
    "h_alpha_flux", "h_beta_flux", "nii_6584_flux", "oiii_5007_flux",
    "sigma_pix_g", "sigma_pix_r", "sigma_pix_i", "ra", "dec",
};
#define CSV_NWANT ((int)(sizeof csv_want / sizeof csv_want[0]))
#define CSV_FIRST_POSITION (CSV_NWANT - 2)   /* ra, then dec */

/* A cell CasJobs writes for a missing value ("null"; an empty cell and
 * "NaN" are numbers to gp_csv_number()): NaN, counted as bad like the FITS
 * table's NaN and -9999. */
static int csv_null(const char *s)
{
    return !strcasecmp(s, "null");
}

/* Read CSV file `path` (gp_csv.h) into an in-memory FITS binary table
 * 'GALAXIES' with the csv_want columns it has (as D: every value as it was
 * parsed) and objID (as K, parsed as an integer: a 19-digit objID through a
 * double loses its low digits), so that the one table path below reads both
 * kinds of file alike.  An empty or null objID cell in a column that has
 * ids is a null cell of the table (TNULL: a value no row's id has), read as
 * a FITS table's null objID is (open_shard()).  A row with another number
 * of fields than the header, a cell that is not a number in one of those
 * columns or not an integer in objID is refused, naming file, line and
 * column. */
static int csv_to_fits(const char *path, fitsfile **out, long **lines_out, gp_error *err)
{
    *out = NULL;
    if (lines_out) *lines_out = NULL;
    FILE *in = fopen(path, "rb");
    if (!in) return GP_FAIL(err, GP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gp_csv csv;
    int st = gp_csv_open(&csv, path, in, "modelMag_r", "objID, modelMag_u, ...: sim/FORMAT.md", err);
    int col[CSV_NWANT + 1];          /* the last: objID */
    double *v[CSV_NWANT];
    uint64_t *id = NULL;
    uint8_t *noid = NULL;            /* rows whose objID cell is null or empty */
    long *lines = NULL;              /* each row's line, when lines_out wants them */
    long n = 0, cap = 0, nid = 0;    /* nid: rows with an objID (not null) */
    memset(v, 0, sizeof v);
    if (!st) {
        for (int k = 0; k < CSV_NWANT; k++) col[k] = gp_csv_col(&csv, csv_want[k]);
        col[CSV_NWANT] = gp_csv_col(&csv, "objID");
    }
    int got = 0;
    while (!st && !(st = gp_csv_next(&csv, &got, err)) && got) {
        if (csv.nfield != csv.nnames) {
            st = GP_FAIL(err, GP_ERR_FORMAT, "%s: line %ld: %d fields, the header (line %ld) has %d columns", path,
                         csv.lineno, csv.nfield, csv.hdrline, csv.nnames);
            break;
        }
        if (n == cap) {
            long nc = cap ? 2 * cap : 4096;
            for (int k = 0; k < CSV_NWANT && !st; k++) {
                if (col[k] < 0) continue;
                double *nv = realloc(v[k], sizeof(double) * (size_t)nc);
                if (!nv) st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", path, csv.lineno);
                else v[k] = nv;
            }
            if (!st && col[CSV_NWANT] >= 0) {
                uint64_t *ni = realloc(id, sizeof(uint64_t) * (size_t)nc);
                if (ni) id = ni;
                uint8_t *nn = realloc(noid, (size_t)nc);
                if (nn) noid = nn;
                if (!ni || !nn) st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", path, csv.lineno);
            }
            if (!st && lines_out) {
                long *nl = realloc(lines, sizeof(long) * (size_t)nc);
                if (!nl) st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", path, csv.lineno);
                else lines = nl;
            }
            if (st) break;
            cap = nc;
        }
        for (int k = 0; k < CSV_NWANT && !st; k++) {
            if (col[k] < 0) continue;
            const char *s = csv.field[col[k]];
            if (csv_null(s)) v[k][n] = NAN;
            else if (k >= CSV_FIRST_POSITION)   /* (a label: NaN where it is no position) */
                v[k][n] = position_of_text(s, k == CSV_FIRST_POSITION);
            else if (gp_csv_number(s, &v[k][n]))
                st = GP_FAIL(err, GP_ERR_FORMAT, "%s: line %ld, column '%s': '%.40s' is not a number (write a missing "
                             "value as an empty cell, null, NaN or -9999)", path, csv.lineno, csv.names[col[k]], s);
        }
        if (!st && col[CSV_NWANT] >= 0) {
            const char *s = csv.field[col[CSV_NWANT]];
            size_t lead = strspn(s, " \t");
            noid[n] = csv_null(s) || !s[lead];   /* (null, empty or blank: no id) */
            id[n] = 0;
            if (!noid[n] && gp_parse_objid(s, &id[n]))
                st = GP_FAIL(err, GP_ERR_FORMAT, "%s: line %ld, column '%s': '%.40s' is not an object ID (a non-negative "
                             "integer written out in full)", path, csv.lineno, csv.names[col[CSV_NWANT]], s);
            else if (!noid[n]) nid++;
        }
        if (!st && lines) lines[n] = csv.lineno;
        if (!st) n++;
    }
    gp_csv_close(&csv);
    fclose(in);
    /* an objID column with no id in any row (written as null, empty): a
     * table without objID, whose rows are numbered as a FITS table's
     * without one, not rows that all have id 0 (one id: duplicates, and a
     * split by id putting every row in one part) */
    if (!st && n > 0 && nid == 0) col[CSV_NWANT] = -1;
    /* some rows without an id among rows with ids: null cells of the column,
     * marked by a value that no row's id has (TNULL) */
    int has_null_id = !st && col[CSV_NWANT] >= 0 && nid < n;
    uint64_t nullid = (uint64_t)1 << 63;
    for (long i = 0; has_null_id && i < n; i++)
        if (!noid[i] && id[i] == nullid) { nullid++; i = -1; }   /* (taken: try the next, from the start) */
    for (long i = 0; has_null_id && i < n; i++) if (noid[i]) id[i] = nullid;
    /* the table: its columns in csv_want order, then objID */
    fitsfile *f = NULL;
    int fst = 0;
    if (!st) {
        char *ttype[CSV_NWANT + 1], *tform[CSV_NWANT + 1];
        int nc = 0;
        for (int k = 0; k <= CSV_NWANT; k++)
            if (col[k] >= 0) {
                ttype[nc] = (char *)(k < CSV_NWANT ? csv_want[k] : "objID");
                tform[nc++] = (char *)(k < CSV_NWANT ? "1D" : "1K");
            }
        fits_create_file(&f, "mem://", &fst);
        fits_create_tbl(f, BINARY_TBL, n, nc, ttype, tform, NULL, "GALAXIES", &fst);
        int c = 0;
        for (int k = 0; k < CSV_NWANT && !fst; k++)
            if (col[k] >= 0) fits_write_col(f, TDOUBLE, ++c, 1, 1, n, v[k], &fst);
        if (!fst && col[CSV_NWANT] >= 0) {
            /* the bits of each id as they are (as the FITS path's (uint64_t) of a K column gives them back) */
            LONGLONG *ll = (LONGLONG *)id;
            ++c;
            if (has_null_id) {
                char key[16];
                LONGLONG nv = (LONGLONG)nullid;
                snprintf(key, sizeof key, "TNULL%d", c);
                fits_write_key(f, TLONGLONG, key, &nv, "objID of a row without one (null or empty cell)", &fst);
                fits_set_btblnull(f, c, nv, &fst);
            }
            fits_write_col(f, TLONGLONG, c, 1, 1, n, ll, &fst);
        }
        if (fst) st = fits_fail(err, fst, path, "cannot hold the CSV table in memory");
    }
    for (int k = 0; k < CSV_NWANT; k++) free(v[k]);
    free(id);
    free(noid);
    if (st) {
        fst = 0;
        if (f) fits_close_file(f, &fst);
        free(lines);
        return st;
    }
    *out = f;
    if (lines_out) *lines_out = lines;
    return GP_OK;
}

/* Is `path` a text file (read as a CSV table)?  A FITS file, a compressed
 * one (cfitsio reads .gz), a name only cfitsio's extended syntax makes
 * ("x.fits[1]") or anything with NUL bytes is not. */
static int is_text_table(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    unsigned char b[4096];
    size_t got = fread(b, 1, sizeof b, fp);
    fclose(fp);
    if (got >= 6 && !memcmp(b, "SIMPLE", 6)) return 0;
    if (got >= 2 && b[0] == 0x1f && (b[1] == 0x8b || b[1] == 0x9d)) return 0;   /* gzip, compress */
    if (got >= 3 && !memcmp(b, "BZh", 3)) return 0;                            /* bzip2 */
    return memchr(b, 0, got) == NULL;
}

static int usable(double v)
{
    return isfinite(v) && v > -9990.0;
}

int gp_dataset_open_table(const char *path, fitsfile **out, long **lines, gp_error *err)
{
    *out = NULL;
    if (lines) *lines = NULL;
    fitsfile *f = NULL;
    int st = 0, rc = GP_OK;
    if (is_text_table(path)) {
        if ((rc = csv_to_fits(path, &f, lines, err))) return rc;
    } else if (fits_open_file(&f, path, READONLY, &st)) {
        char head[8] = "";
        FILE *fp = fopen(path, "rb");
        size_t got = fp ? fread(head, 1, 6, fp) : 0;
        if (fp) fclose(fp);
        if (got == 6 && memcmp(head, "SIMPLE", 6) != 0 && st != FILE_NOT_OPENED)
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: neither a FITS file nor a CSV table (sim/FORMAT.md)", path);
        return fits_fail(err, st, path, "cannot open");
    }
    /* the galaxy table: HDU 'GALAXIES', else the first binary table */
    fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
    if (st) {
        st = 0;
        int nhdu = 0, type = 0;
        fits_get_num_hdus(f, &nhdu, &st);
        int found = 0;
        for (int h = 1; h <= nhdu && !st; h++) {
            fits_movabs_hdu(f, h, &type, &st);
            if (!st && type == BINARY_TBL) { found = 1; break; }
        }
        if (!found) {
            fits_close_file(f, &st);
            if (lines) { free(*lines); *lines = NULL; }
            return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no binary table (HDU 'GALAXIES')", path);
        }
    }
    *out = f;
    return GP_OK;
}

static int open_shard(gp_dataset *d, int s, const char *path, int flags, gp_error *err)
{
    const int need_images = (flags & GP_DATASET_IMAGES) != 0;
    /* inference on a catalogue needs no truth: targets are then optional and never make a row bad */
    const int need_t = !(flags & GP_DATASET_NO_TARGETS);
    const unsigned core_bad = need_t ? GP_BAD_CORE : 0u, line_bad = need_t ? GP_BAD_LINE : 0u;
    fitsfile *f = NULL;
    int st = 0, rc = GP_OK;
    /* a CasJobs export downloaded as CSV: a catalogue without cutouts */
    if (need_images && is_text_table(path))
        return GP_FAIL(err, GP_ERR_ARG, "%s: a CSV table has no cutouts, and this model needs images: give it FITS "
                       "shards (cutout cube and table) from `galpost shards` (real SDSS frames) or `galpost mock "
                       "shards`; a CSV export serves the photometry-only model (galpost train --photometry)", path);
    if ((rc = gp_dataset_open_table(path, &f, NULL, err))) return rc;
    long nrows = 0;
    fits_get_num_rows(f, &nrows, &st);
    if (st) { rc = fits_fail(err, st, path, "cannot count table rows"); goto out; }
    long base = d->n;
    long n = base + nrows;
    float *mag = realloc(d->mag, sizeof(float) * (size_t)(n ? n : 1) * 5);
    if (mag) d->mag = mag;
    float *tg = realloc(d->target, sizeof(float) * (size_t)(n ? n : 1) * GP_NQ);
    if (tg) d->target = tg;
    uint8_t *ok = realloc(d->oh_ok, (size_t)(n ? n : 1));
    if (ok) d->oh_ok = ok;
    uint8_t *bad = realloc(d->bad, (size_t)(n ? n : 1));
    if (bad) d->bad = bad;
    uint64_t *id = realloc(d->id, sizeof(uint64_t) * (size_t)(n ? n : 1));
    if (id) d->id = id;
    float *sp = realloc(d->sigma_pix, sizeof(float) * (size_t)(n ? n : 1) * 3);
    if (sp) d->sigma_pix = sp;
    int32_t *cf = realloc(d->cutout_flags, sizeof(int32_t) * (size_t)(n ? n : 1));
    if (cf) d->cutout_flags = cf;
    double *pra = realloc(d->ra, sizeof(double) * (size_t)(n ? n : 1));
    if (pra) d->ra = pra;
    double *pdec = realloc(d->dec, sizeof(double) * (size_t)(n ? n : 1));
    if (pdec) d->dec = pdec;
    double *c = malloc(sizeof(double) * (size_t)(nrows ? nrows : 1));
    double *e = malloc(sizeof(double) * (size_t)(nrows ? nrows : 1));
    if (!mag || !tg || !ok || !bad || !id || !sp || !cf || !pra || !pdec || !c || !e) {
        free(c); free(e);
        rc = GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate %ld rows", path, nrows);
        goto out;
    }
    for (long i = 0; i < nrows; i++) d->bad[base + i] = 0;
    static const char bands[5] = { 'u', 'g', 'r', 'i', 'z' };
    for (int b = 0; b < 5 && !rc; b++) {
        char name[32];
        snprintf(name, sizeof name, "modelMag_%c", bands[b]);
        if ((rc = read_col(f, path, name, nrows, c, 1, NULL, err))) break;
        snprintf(name, sizeof name, "extinction_%c", bands[b]);
        if ((rc = read_col(f, path, name, nrows, e, 1, NULL, err))) break;
        for (long i = 0; i < nrows; i++) {
            double m = c[i] - e[i];
            if (!usable(c[i]) || !usable(e[i]) || !(m >= 5.0 && m <= 40.0)) { d->bad[base + i] |= GP_BAD_PHOT; m = NAN; }
            d->mag[(base + i) * 5 + b] = (float)m;
        }
    }
    static const char *const direct[3] = { "lgm_tot_p50", "sfr_tot_p50", "z" };
    for (int q = 0; q < 3 && !rc; q++) {
        if ((rc = read_col(f, path, direct[q], nrows, c, need_t, NULL, err))) break;
        for (long i = 0; i < nrows; i++) {
            double v = c[i];
            if (q == GP_Q_Z && usable(v)) v = gp_z_to_target(v, GP_Z_SOFTPLUS);   /* NaN for z <= 0 */
            if (!usable(c[i]) || !isfinite(v)) d->bad[base + i] |= core_bad;
            d->target[(base + i) * GP_NQ + q] = (float)v;
        }
    }
    if (!rc) {
        /* M_BH: the log_mbh column (sim/FORMAT.md; a real export computes it from v_disp by
         * McConnell & Ma 2013, -9999 when v_disp <= 70 km/s); without it, MM13 of v_disp */
        int has_m = 0;
        if ((rc = read_col(f, path, "log_mbh", nrows, c, 0, &has_m, err))) goto cleanup;
        if (has_m) {
            d->mbh_from_vdisp = 0;
            for (long i = 0; i < nrows; i++) {
                if (!usable(c[i])) d->bad[base + i] |= core_bad;
                d->target[(base + i) * GP_NQ + GP_Q_LOGMBH] = (float)c[i];
            }
        } else {
            d->mbh_from_vdisp = 1;
            if ((rc = read_col(f, path, "v_disp", nrows, c, need_t, NULL, err))) goto cleanup;
            for (long i = 0; i < nrows; i++) {
                /* as the export's SQL (sim/FORMAT.md): no label at or below the
                 * SDSS instrumental resolution, 70 km/s */
                double m = (usable(c[i]) && c[i] > GP_VDISP_MIN) ? gp_mbh_from_vdisp(c[i]) : NAN;
                if (!isfinite(m)) d->bad[base + i] |= core_bad;
                d->target[(base + i) * GP_NQ + GP_Q_LOGMBH] = (float)m;
            }
        }
        int has_flag = 0;
        if ((rc = read_col(f, path, "oh_p50", nrows, c, need_t, NULL, err))) goto cleanup;
        if ((rc = read_col(f, path, "oh_measurable", nrows, e, 0, &has_flag, err))) goto cleanup;
        for (long i = 0; i < nrows; i++) {
            int flag = has_flag ? (isfinite(e[i]) && e[i] > 0.5) : 1;
            int meas = flag && usable(c[i]) && c[i] > 0.0;
            /* a flag without a value: trained as not measurable, and counted */
            if (has_flag && flag && !meas) d->noh_flag_no_value++;
            d->oh_ok[base + i] = (uint8_t)meas;
            d->target[(base + i) * GP_NQ + GP_Q_OH] = meas ? (float)c[i] : NAN;
        }
        static const char *const lines[4] = { "h_alpha_flux", "h_beta_flux", "nii_6584_flux", "oiii_5007_flux" };
        for (int l = 0; l < 4 && !rc; l++) {
            if ((rc = read_col(f, path, lines[l], nrows, c, need_t, NULL, err))) break;
            for (long i = 0; i < nrows; i++) {
                double y = usable(c[i]) ? gp_line_target(c[i]) : NAN;
                if (!isfinite(y)) d->bad[base + i] |= line_bad;
                d->target[(base + i) * GP_NQ + GP_Q_HALPHA + l] = (float)y;
            }
        }
        if (rc) goto cleanup;
        static const char *const sig[3] = { "sigma_pix_g", "sigma_pix_r", "sigma_pix_i" };
        for (int b = 0; b < 3 && !rc; b++) {
            if ((rc = read_col(f, path, sig[b], nrows, c, 0, NULL, err))) break;
            for (long i = 0; i < nrows; i++) d->sigma_pix[(base + i) * 3 + b] = (float)c[i];
        }
        if (rc) goto cleanup;
        /* the position (degrees), carried into result tables; NaN when absent */
        if ((rc = read_position_col(f, path, "ra", 1, nrows, d->ra + base, err)) ||
            (rc = read_position_col(f, path, "dec", 0, nrows, d->dec + base, err))) goto cleanup;
        /* galpost shards' record of each cutout; absent: unknown */
        int has_cf = 0;
        if ((rc = read_col(f, path, "cutout_flags", nrows, c, 0, &has_cf, err))) goto cleanup;
        for (long i = 0; i < nrows; i++)
            d->cutout_flags[base + i] = has_cf && isfinite(c[i]) && c[i] >= 0.0 && c[i] < 2147483648.0 ? (int32_t)c[i] : -1;
        /* objID; a row without one (no column, or a null cell: TNULL in FITS,
         * empty or null in a CSV) is an object of its own, numbered by shard
         * and row as in a table without objID: not id 0, which would make
         * every such row one object (reported as duplicates, one part of the
         * split, the same sampling noise) */
        int has_id = 0, col;
        if (find_col(f, "objID", &col)) {
            LONGLONG *ids = malloc(sizeof(LONGLONG) * (size_t)(nrows ? nrows : 1));
            char *isnull = malloc((size_t)(nrows ? nrows : 1));
            int anynul = 0;
            if (!ids || !isnull) rc = GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate %ld objIDs", path, nrows);
            else {
                fits_read_colnull(f, TLONGLONG, col, 1, 1, nrows, ids, isnull, &anynul, &st);
                if (!st) {
                    for (long i = 0; i < nrows; i++) {
                        if (anynul && isnull[i]) {
                            d->id[base + i] = ((uint64_t)s << 32) | (uint64_t)i;
                            d->nmissing_ids++;
                        } else d->id[base + i] = (uint64_t)ids[i];
                    }
                    has_id = 1;
                }
                st = 0;
            }
            free(ids);
            free(isnull);
            if (rc) goto cleanup;
        }
        if (!has_id)
            for (long i = 0; i < nrows; i++) d->id[base + i] = ((uint64_t)s << 32) | (uint64_t)i;
    }
cleanup:
    free(c);
    free(e);
    if (rc) goto out;
    d->n = n;
    d->shard_first[s + 1] = n;
    if (need_images) {
        int naxis = 0;
        long naxes[4] = { 0, 0, 0, 0 };
        fits_movabs_hdu(f, 1, NULL, &st);
        fits_get_img_dim(f, &naxis, &st);
        if (!st && naxis == 4) fits_get_img_size(f, 4, naxes, &st);
        if (st) { rc = fits_fail(err, st, path, "cannot read the cutout cube header"); goto out; }
        if (naxis != 4 || naxes[0] != GP_CUTOUT_SIZE || naxes[1] != GP_CUTOUT_SIZE ||
            naxes[2] != GP_CUTOUT_BANDS || naxes[3] != nrows) {
            rc = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: primary HDU must be a %d x %d x %d x %ld cutout cube (NAXIS1..4), found NAXIS=%d %ld x %ld x %ld x %ld",
                         path, GP_CUTOUT_SIZE, GP_CUTOUT_SIZE, GP_CUTOUT_BANDS, nrows, naxis,
                         naxes[0], naxes[1], naxes[2], naxes[3]);
            goto out;
        }
        d->cube[s] = f;
        d->has_images = 1;
        return GP_OK;
    }
out:
    st = 0;
    fits_close_file(f, &st);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Rows whose objID an earlier row already has (an export joined twice, two
 * exports of one field): reported, not removed (the hash split puts them in
 * one part, but they weigh twice and may disagree); -1 when memory fails. */
static long count_duplicate_ids(const gp_dataset *d)
{
    if (d->n < 2) return 0;
    uint64_t *v = malloc(sizeof(uint64_t) * (size_t)d->n);
    if (!v) return -1;
    memcpy(v, d->id, sizeof(uint64_t) * (size_t)d->n);
    qsort(v, (size_t)d->n, sizeof *v, cmp_u64);
    long dup = 0;
    for (long i = 1; i < d->n; i++) dup += v[i] == v[i - 1];
    free(v);
    return dup;
}

int gp_dataset_open(const char *const *paths, int nshards, int flags,
                    gp_dataset **out, gp_error *err)
{
    if (!paths || !out || nshards < 1 || nshards > GP_DATASET_MAX_SHARDS)
        return GP_FAIL(err, GP_ERR_ARG, "gp_dataset_open: %d shards (1..%d)", nshards, GP_DATASET_MAX_SHARDS);
    gp_dataset *d = calloc(1, sizeof *d);
    if (!d) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the dataset");
    int rc = GP_OK;
    for (int s = 0; s < nshards && !rc; s++) {
        d->shard_path[s] = strdup(paths[s]);
        d->shard_first[s] = d->n;
        d->nshards = s + 1;
        if (!d->shard_path[s]) rc = GP_FAIL(err, GP_ERR_NOMEM, "cannot copy a path");
        else rc = open_shard(d, s, paths[s], flags, err);
    }
    if (rc) { gp_dataset_close(d); return rc; }
    for (long i = 0; i < d->n; i++) {
        if (d->bad[i]) d->nbad_rows++;
        for (int r = 0; r < GP_BAD_NREASON; r++) if (d->bad[i] & (1u << r)) d->nbad[r]++;
        if (d->cutout_flags[i] < 0) d->ncutout_unknown++;
        else if (d->cutout_flags[i] & GP_FLAG_EDGE) d->ncutout_edge++;
    }
    d->nduplicate_ids = count_duplicate_ids(d);
    *out = d;
    return GP_OK;
}

static int locate(const gp_dataset *d, long row, int *s, long *local)
{
    for (int k = 0; k < d->nshards; k++)
        if (row >= d->shard_first[k] && row < d->shard_first[k + 1]) { *s = k; *local = row - d->shard_first[k]; return 1; }
    return 0;
}

int gp_dataset_read_images(gp_dataset *d, const long *rows, int n, float *out, gp_error *err)
{
    if (!d->has_images) return GP_FAIL(err, GP_ERR_ARG, "dataset opened without cutouts");
    for (int i = 0; i < n; i++) {
        int s;
        long local;
        if (!locate(d, rows[i], &s, &local))
            return GP_FAIL(err, GP_ERR_ARG, "row %ld outside the %ld rows of the dataset", rows[i], d->n);
        int st = 0, anynul = 0;
        fitsfile *f = d->cube[s];
        fits_read_img(f, TFLOAT, (LONGLONG)local * GP_CUTOUT_PIXELS + 1, GP_CUTOUT_PIXELS, NULL,
                      out + (size_t)i * GP_CUTOUT_PIXELS, &anynul, &st);
        if (st) {
            char what[96];
            snprintf(what, sizeof what, "cannot read cutout %ld", local);
            return fits_fail(err, st, d->shard_path[s], what);
        }
    }
    return GP_OK;
}

int gp_dataset_check_images(gp_dataset *d, const long *rows, long n, gp_error *err)
{
    float *buf = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    if (!buf) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate a cutout");
    for (long i = 0; i < n; i++) {
        int st = gp_dataset_read_images(d, &rows[i], 1, buf, err);
        if (st) { free(buf); return st; }
        for (size_t p = 0; p < GP_CUTOUT_PIXELS; p++)
            if (!isfinite(buf[p])) {
                if (!d->bad[rows[i]]) d->nbad_rows++;
                if (!(d->bad[rows[i]] & GP_BAD_IMAGE)) d->nbad[3]++;
                d->bad[rows[i]] |= GP_BAD_IMAGE;
                break;
            }
    }
    free(buf);
    return GP_OK;
}

void gp_dataset_report(const gp_dataset *d, FILE *out)
{
    long nmeas = 0;
    for (long i = 0; i < d->n; i++) if (!d->bad[i] && d->oh_ok[i]) nmeas++;
    fprintf(out, "data: %ld rows in %d shard%s, %ld usable, %ld bad; metallicity measurable in %ld usable rows; M_BH from %s\n",
            d->n, d->nshards, d->nshards == 1 ? "" : "s", d->n - d->nbad_rows, d->nbad_rows, nmeas,
            d->mbh_from_vdisp ? "v_disp (McConnell & Ma 2013; no log_mbh column)" : "the log_mbh column");
    for (int r = 0; r < GP_BAD_NREASON; r++)
        if (d->nbad[r]) fprintf(out, "  bad rows: %ld with unusable %s\n", d->nbad[r], bad_reason[r]);
    if (d->nmissing_ids > 0)
        fprintf(out, "  note: %ld rows have an objID column but no id (empty or null cell): each is an object of its "
                "own, split by its shard and row as in a table without objID\n", d->nmissing_ids);
    if (d->nduplicate_ids > 0)
        fprintf(out, "  note: %ld rows repeat the objID of an earlier row: used as they are (they weigh twice; "
                "check the export for a doubled join)\n", d->nduplicate_ids);
    /* only where a shard says (galpost shards'), and only for the cutouts' users */
    if (d->has_images && d->ncutout_unknown < d->n) {
        fprintf(out, "  cutouts: %ld rows crossing a frame edge (cutout_flags; used as they are)",
                d->ncutout_edge);
        if (d->ncutout_unknown)
            fprintf(out, "; %ld rows from shards without cutout_flags: unknown", d->ncutout_unknown);
        fprintf(out, "\n");
    }
    if (d->noh_flag_no_value)
        fprintf(out, "  note: %ld rows have oh_measurable = 1 but no usable oh_p50: taken as not measurable\n",
                d->noh_flag_no_value);
}

void gp_dataset_row_where(const gp_dataset *d, long r, long line, char *buf, size_t size)
{
    int s = 0;
    while (s + 1 < d->nshards && r >= d->shard_first[s + 1]) s++;
    long local = r - d->shard_first[s];
    char ln[40] = "", input[48] = "";
    if (line > 0) snprintf(ln, sizeof ln, "line %ld", line);
    if (s > 0) snprintf(input, sizeof input, "row %ld of the input", r + 1);
    if (ln[0] || input[0])
        snprintf(buf, size, "%s: row %ld (%s%s%s)", d->shard_path[s], local + 1, ln, ln[0] && input[0] ? "; " : "",
                 input);
    else snprintf(buf, size, "%s: row %ld", d->shard_path[s], local + 1);
}

void gp_dataset_close(gp_dataset *d)
{
    if (!d) return;
    for (int s = 0; s < d->nshards; s++) {
        int st = 0;
        if (d->cube[s]) fits_close_file((fitsfile *)d->cube[s], &st);
        free(d->shard_path[s]);
    }
    free(d->mag); free(d->target); free(d->oh_ok); free(d->bad); free(d->id); free(d->sigma_pix);
    free(d->cutout_flags); free(d->ra); free(d->dec);
    free(d);
}
