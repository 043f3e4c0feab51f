/* gp_mock_field.c: full SDSS-like mock fields (frames, catalogue, truth). */
#include "config.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wcslib/wcs.h>

#include "gp_mock_field.h"
#include "gp_mock_profile.h"
#include "gp_mock_render.h"
#include "gp_mock_table.h"
#include "gp_shard_write.h"

#define D2R (M_PI / 180.0)

void gp_mock_field_opt_default(gp_mock_field_opt *o)
{
    memset(o, 0, sizeof *o);
    o->run = 9001; o->camcol = 3; o->field = 100; o->rerun = 301;
    o->ra = 180.0; o->dec = 30.0;
    o->catalog_rlim = 22.2;
}

void gp_mock_field_path(const gp_mock_field_opt *o, const char *kind, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s-%06d-%d-%04d.fits", o->outdir, kind, o->run, o->camcol, o->field);
}

typedef struct band_frame {
    struct wcsprm wcs;
    double cd[4], crval[2];
    double jac[4];           /* (east, north) arcsec -> pixels */
    float *img;
} band_frame;

static int frame_wcs_init(band_frame *bf, double ra, double dec, const double cd[4], gp_error *err)
{
    if (wcsini(1, 2, &bf->wcs)) return GP_FAIL(err, GP_ERR_WCS, "mock field: wcsini failed");
    strcpy(bf->wcs.ctype[0], "RA---TAN");
    strcpy(bf->wcs.ctype[1], "DEC--TAN");
    bf->wcs.crpix[0] = 1025.0; bf->wcs.crpix[1] = 745.0;
    bf->wcs.crval[0] = ra; bf->wcs.crval[1] = dec;
    bf->wcs.altlin |= 2;
    for (int k = 0; k < 4; k++) bf->wcs.cd[k] = cd[k];
    if (wcsset(&bf->wcs)) return GP_FAIL(err, GP_ERR_WCS, "mock field: wcsset failed for the frame WCS");
    bf->crval[0] = ra; bf->crval[1] = dec;
    memcpy(bf->cd, cd, sizeof bf->cd);
    /* CD maps pixels to (east, north) degrees: jac = CD^-1 / 3600 */
    double det = cd[0] * cd[3] - cd[1] * cd[2];
    bf->jac[0] = cd[3] / det / 3600.0; bf->jac[1] = -cd[1] / det / 3600.0;
    bf->jac[2] = -cd[2] / det / 3600.0; bf->jac[3] = cd[0] / det / 3600.0;
    return GP_OK;
}

/* world -> 0-based pixel; returns 0 on success */
static int sky_to_pix(struct wcsprm *w, double ra, double dec, double *x, double *y)
{
    double world[2] = { ra, dec }, imgc[2], phi, theta, pix[2];
    int stat;
    if (wcss2p(w, 1, 2, world, &phi, &theta, imgc, pix, &stat)) return -1;
    *x = pix[0] - 1.0; *y = pix[1] - 1.0;
    return 0;
}

static int pix_to_sky(struct wcsprm *w, double x, double y, double *ra, double *dec)
{
    double pix[2] = { x + 1.0, y + 1.0 }, imgc[2], phi, theta, world[2];
    int stat;
    if (wcsp2s(w, 1, 2, pix, imgc, &phi, &theta, world, &stat)) return -1;
    *ra = world[0]; *dec = world[1];
    return 0;
}

typedef struct extra_source {      /* background galaxy or star */
    int star;
    double ra, dec, mag[5];
    gp_mock_shape shape;
    double sersic_n;
} extra_source;

static int fits_fail(gp_error *err, int st, const char *path, const char *what)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    return GP_FAIL(err, GP_ERR_FITS, "%s: %s: %s", path, what, msg);
}

static int finish_file(fitsfile *f, const char *tmp, const char *path, int rc, gp_error *err)
{
    int st = 0;
    fits_close_file(f, &st);
    if (!rc && st) rc = fits_fail(err, st, tmp, "cannot close");
    if (rc) { unlink(tmp); return rc; }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return GP_FAIL(err, GP_ERR_IO, "%s: cannot rename from .partial: %s", path, strerror(e));
    }
    return GP_OK;
}

static int write_frame(const gp_mock_field_opt *o, const gp_mock_obs *obs, int b,
                       const band_frame *bf, double spa, gp_error *err)
{
    char path[4096], tmp[4200], kind[16];
    snprintf(kind, sizeof kind, "frame-%c", gp_mock_band_names[b]);
    gp_mock_field_path(o, kind, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    fitsfile *f;
    int st = 0;
    char bang[4300];
    snprintf(bang, sizeof bang, "!%s", tmp);
    fits_create_file(&f, bang, &st);
    if (st) return fits_fail(err, st, tmp, "cannot create");
    long naxes[2] = { GP_FRAME_NX, GP_FRAME_NY };
    fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
    char filt[2] = { gp_mock_band_names[b], 0 }, rerun[8];
    snprintf(rerun, sizeof rerun, "%d", o->rerun);
    double v;
    int iv;
    long long seed = (long long)o->seed;
    fits_write_key(f, TDOUBLE, "RA", (void *)&o->ra, "1st row - Right ascension of telescope boresight (deg)", &st);
    fits_write_key(f, TDOUBLE, "DEC", (void *)&o->dec, "1st row - Declination of telescope boresight (deg)", &st);
    fits_write_key(f, TDOUBLE, "SPA", &spa, "1st row - Camera col position angle wrt north (deg)", &st);
    fits_write_key(f, TSTRING, "DATE-OBS", "2005-04-01", "1st row - TAI date", &st);
    fits_write_key(f, TSTRING, "ORIGIN", "SDSS", "simulated by galpost mock (not SDSS data)", &st);
    fits_write_key(f, TSTRING, "TELESCOP", "2.5m", NULL, &st);
    fits_write_key(f, TSTRING, "TIMESYS", "TAI", NULL, &st);
    fits_write_key(f, TINT, "RUN", (void *)&o->run, "Run number", &st);
    fits_write_key(f, TINT, "FRAME", (void *)&o->field, "Frame sequence number within the run", &st);
    fits_write_key(f, TINT, "FIELD", (void *)&o->field, "Field number (= FRAME)", &st);
    fits_write_key(f, TSTRING, "FLAVOR", "science", "Flavor of this run", &st);
    fits_write_key(f, TSTRING, "EXPTIME", "53.907456", "Exposure time (seconds)", &st);
    fits_write_key(f, TSTRING, "SYSTEM", "FK5", NULL, &st);
    fits_write_key(f, TSTRING, "CCDMODE", "DRIFT", NULL, &st);
    iv = 1000;
    fits_write_key(f, TINT, "SOFTBIAS", &iv, "software \"bias\" added to all DN", &st);
    fits_write_key(f, TSTRING, "BUNIT", "nanomaggy", "1 nanomaggy = 3.631e-6 Jy", &st);
    fits_write_key(f, TSTRING, "FILTER", filt, "filter used", &st);
    fits_write_key(f, TINT, "CAMCOL", (void *)&o->camcol, "column in the imaging camera", &st);
    fits_write_key(f, TSTRING, "VERSION", "galpost-mock", NULL, &st);
    fits_write_key(f, TSTRING, "RADECSYS", "ICRS", "International Celestial Ref. System", &st);
    v = 2000.0;
    fits_write_key(f, TDOUBLE, "EQUINOX", &v, NULL, &st);
    fits_write_key(f, TSTRING, "CTYPE1", "RA---TAN", "Coordinate type", &st);
    fits_write_key(f, TSTRING, "CTYPE2", "DEC--TAN", "Coordinate type", &st);
    fits_write_key(f, TSTRING, "CUNIT1", "deg", "Units", &st);
    fits_write_key(f, TSTRING, "CUNIT2", "deg", "Units", &st);
    v = 1025.0; fits_write_key(f, TDOUBLE, "CRPIX1", &v, "X of reference pixel", &st);
    v = 745.0;  fits_write_key(f, TDOUBLE, "CRPIX2", &v, "Y of reference pixel", &st);
    fits_write_key(f, TDOUBLE, "CRVAL1", (void *)&bf->crval[0], "RA of reference pixel (deg)", &st);
    fits_write_key(f, TDOUBLE, "CRVAL2", (void *)&bf->crval[1], "Dec of reference pixel (deg)", &st);
    fits_write_key(f, TDOUBLE, "CD1_1", (void *)&bf->cd[0], "RA deg per column pixel", &st);
    fits_write_key(f, TDOUBLE, "CD1_2", (void *)&bf->cd[1], "RA deg per row pixel", &st);
    fits_write_key(f, TDOUBLE, "CD2_1", (void *)&bf->cd[2], "Dec deg per column pixel", &st);
    fits_write_key(f, TDOUBLE, "CD2_2", (void *)&bf->cd[3], "Dec deg per row pixel", &st);
    fits_write_key(f, TDOUBLE, "NMGY", (void *)&obs->nmgy_per_count[b], "Calibration factor [nMgy per count]", &st);
    v = 1.0 / pow(0.01 * obs->nmgy_per_count[b], 2);
    fits_write_key(f, TDOUBLE, "NMGYIVAR", &v, "Calibration factor inverse variance", &st);
    fits_write_key(f, TSTRING, "RERUN", rerun, "rerun", &st);
    /* mock-only keys: the truth of the observing conditions */
    fits_write_key(f, TLOGICAL, "MOCK", &(int){ 1 }, "simulated by galpost mock", &st);
    fits_write_key(f, TLONGLONG, "MOCKSEED", &seed, "galpost mock --seed", &st);
    fits_write_key(f, TDOUBLE, "GAIN", (void *)&obs->gain[b], "[e-/DN] (mock truth)", &st);
    fits_write_key(f, TDOUBLE, "DARKVAR", (void *)&obs->dark_var[b], "[DN^2] dark variance (mock truth)", &st);
    fits_write_key(f, TDOUBLE, "SKYLEVEL", (void *)&obs->sky_nmgy[b], "[nMgy/pix] subtracted sky (mock truth)", &st);
    fits_write_key(f, TDOUBLE, "PSF_FWHM", (void *)&obs->psf[b].fwhm, "[arcsec] PSF FWHM (mock truth)", &st);
    fits_write_img(f, TFLOAT, 1, (LONGLONG)GP_FRAME_NX * GP_FRAME_NY, bf->img, &st);
    /* HDU 2: calibration vector (nanomaggies per count per column), as SDSS */
    long nc = GP_FRAME_NX;
    float *calib = malloc(sizeof(float) * GP_FRAME_NX);
    float *allsky = malloc(sizeof(float) * 256 * 192);
    float *xi = malloc(sizeof(float) * GP_FRAME_NX), *yi = malloc(sizeof(float) * GP_FRAME_NY);
    int rc = GP_OK;
    if (!calib || !allsky || !xi || !yi) {
        rc = GP_FAIL(err, GP_ERR_NOMEM, "%s: no memory for the calibration extensions", path);
    } else {
        for (int i = 0; i < GP_FRAME_NX; i++) { calib[i] = (float)obs->nmgy_per_count[b]; xi[i] = i / 8.0f; }
        for (int j = 0; j < GP_FRAME_NY; j++) yi[j] = j / 8.0f;
        for (int k = 0; k < 256 * 192; k++) allsky[k] = (float)(obs->sky_nmgy[b] / obs->nmgy_per_count[b]);
        fits_create_img(f, FLOAT_IMG, 1, &nc, &st);
        fits_write_img(f, TFLOAT, 1, nc, calib, &st);
        /* HDU 3: sky in counts on a coarse grid with interpolation vectors, as SDSS */
        char *tt[3] = { "ALLSKY", "XINTERP", "YINTERP" }, *tf[3] = { "49152E", "2048E", "1489E" };
        fits_create_tbl(f, BINARY_TBL, 1, 3, tt, tf, NULL, NULL, &st);
        fits_write_key(f, TSTRING, "TDIM1", "(256,192)", NULL, &st);
        fits_write_col(f, TFLOAT, 1, 1, 1, 256 * 192, allsky, &st);
        fits_write_col(f, TFLOAT, 2, 1, 1, GP_FRAME_NX, xi, &st);
        fits_write_col(f, TFLOAT, 3, 1, 1, GP_FRAME_NY, yi, &st);
        if (st) rc = fits_fail(err, st, tmp, "cannot write the frame");
    }
    free(calib); free(allsky); free(xi); free(yi);
    return finish_file(f, tmp, path, rc, err);
}

/* PhotoObj-like catalogue of galaxies (population and background) and stars */
static int write_catalog(const gp_mock_field_opt *o, const gp_mock_obs *obs,
                         const gp_mock_galaxy *gal, long ngal, const extra_source *ex, long nex,
                         struct wcsprm *wr, gp_error *err)
{
    char path[4096], tmp[4200], bang[4300];
    gp_mock_field_path(o, "photoObj", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    snprintf(bang, sizeof bang, "!%s", tmp);
    fitsfile *f;
    int st = 0;
    fits_create_file(&f, bang, &st);
    if (st) return fits_fail(err, st, tmp, "cannot create");
    enum { NC = 28 };
    char *tt[NC] = { "objID", "run", "rerun", "camcol", "field", "obj", "type", "ra", "dec",
        "rowc_r", "colc_r", "modelMag_u", "modelMag_g", "modelMag_r", "modelMag_i", "modelMag_z",
        "modelMagErr_u", "modelMagErr_g", "modelMagErr_r", "modelMagErr_i", "modelMagErr_z",
        "psfMag_r", "petroMag_r", "petroR50_r", "extinction_r", "fracDeV_r", "mgs_target", "truth_row" };
    char *tf[NC] = { "K", "J", "J", "J", "J", "J", "J", "D", "D", "E", "E", "E", "E", "E", "E", "E",
        "E", "E", "E", "E", "E", "E", "E", "E", "E", "E", "J", "J" };
    char *tu[NC] = { "", "", "", "", "", "", "", "deg", "deg", "pix", "pix", "mag", "mag", "mag", "mag",
        "mag", "mag", "mag", "mag", "mag", "mag", "mag", "mag", "arcsec", "mag", "", "", "" };
    fits_create_tbl(f, BINARY_TBL, 0, NC, tt, tf, tu, "PHOTOOBJ", &st);
    fits_write_key(f, TSTRING, "COMMENT1", "type: 3 galaxy, 6 star; mgs_target: MGS cuts pass", NULL, &st);
    fits_write_key(f, TSTRING, "COMMENT2", "truth_row: row in truth GALAXIES (>=1) or -row in BACKGROUND/-STARS HDU", NULL, &st);
    gp_mock_rng r;
    gp_mock_rng_init(&r, o->seed, ((uint64_t)o->run << 20) ^ ((uint64_t)o->camcol << 16) ^ (uint64_t)o->field,
                     GP_STREAM_OBSERVE);
    long row = 0;
    for (long k = 0; k < ngal + nex && !st; k++) {
        int type, mgs = 0, truth;
        double ra, dec, mm[5], me[5], psfm, petm, r50, frac;
        if (k < ngal) {
            const gp_mock_galaxy *g = &gal[k];
            if (g->modelmag[GP_BAND_R] > o->catalog_rlim) continue;
            type = 3; ra = g->ra; dec = g->dec; mgs = g->selected; truth = (int)k + 1;
            for (int b = 0; b < 5; b++) { mm[b] = g->modelmag[b]; me[b] = g->modelmag_err[b]; }
            psfm = g->psfmag_r; petm = g->petromag_r; r50 = g->petror50_r; frac = g->bt;
        } else {
            const extra_source *e = &ex[k - ngal];
            if (e->mag[GP_BAND_R] > o->catalog_rlim) continue;
            type = e->star ? 6 : 3; ra = e->ra; dec = e->dec; truth = -(int)(k - ngal + 1);
            double re = e->star ? 0.0 : e->shape.re_disk;
            for (int b = 0; b < 5; b++) {
                double fl = pow(10.0, -0.4 * (e->mag[b] - 22.5));
                double s2 = obs->psf[b].fwhm * obs->psf[b].fwhm / 5.545 + 0.5 * re * re;
                double sf = gp_mock_flux_sigma(obs, b, fl, 4.0 * M_PI * s2);
                double fo = fl + sf * gp_mock_rng_normal(&r);
                mm[b] = 22.5 - 2.5 * log10(fmax(fo, 1e-3));
                me[b] = 1.0857 * sf / fmax(fo, 1e-3);
            }
            psfm = e->star ? mm[2] : mm[2] + 0.3 + 0.5 * re;
            petm = mm[2] + (e->star ? 0.02 : 0.1);
            r50 = e->star ? 0.5 * obs->psf[2].fwhm : sqrt(re * re + 0.25 * obs->psf[2].fwhm * obs->psf[2].fwhm);
            frac = e->star ? 0.0 : e->sersic_n > 2 ? 1.0 : 0.0;
        }
        double x, y;
        if (sky_to_pix(wr, ra, dec, &x, &y)) { x = y = -1; }
        row++;
        long long objid = (1237000000000000000LL) + ((long long)o->run << 32) +
                          ((long long)o->camcol << 29) + ((long long)o->field << 16) + row;
        int ival[6] = { o->run, o->rerun, o->camcol, o->field, (int)row, type };
        fits_write_col(f, TLONGLONG, 1, row, 1, 1, &objid, &st);
        for (int c = 0; c < 6; c++) fits_write_col(f, TINT, 2 + c, row, 1, 1, &ival[c], &st);
        fits_write_col(f, TDOUBLE, 8, row, 1, 1, &ra, &st);
        fits_write_col(f, TDOUBLE, 9, row, 1, 1, &dec, &st);
        /* SDSS rowc/colc: 0-based, rowc along NAXIS2 */
        fits_write_col(f, TDOUBLE, 10, row, 1, 1, &y, &st);
        fits_write_col(f, TDOUBLE, 11, row, 1, 1, &x, &st);
        for (int b = 0; b < 5; b++) fits_write_col(f, TDOUBLE, 12 + b, row, 1, 1, &mm[b], &st);
        for (int b = 0; b < 5; b++) fits_write_col(f, TDOUBLE, 17 + b, row, 1, 1, &me[b], &st);
        double ext = k < ngal ? gal[k].extinction[2] : 2.285 * 0.03;
        double vals[5] = { psfm, petm, r50, ext, frac };
        for (int c = 0; c < 5; c++) fits_write_col(f, TDOUBLE, 22 + c, row, 1, 1, &vals[c], &st);
        fits_write_col(f, TINT, 27, row, 1, 1, &mgs, &st);
        fits_write_col(f, TINT, 28, row, 1, 1, &truth, &st);
    }
    int rc = st ? fits_fail(err, st, tmp, "cannot write the catalogue") : GP_OK;
    return finish_file(f, tmp, path, rc, err);
}

static int write_truth(const gp_mock_field_opt *o, const gp_mock_galaxy *gal, long ngal,
                       const extra_source *ex, long nex, gp_error *err)
{
    char path[4096], tmp[4200], bang[4300];
    gp_mock_field_path(o, "truth", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    snprintf(bang, sizeof bang, "!%s", tmp);
    fitsfile *f;
    int st = 0;
    fits_create_file(&f, bang, &st);
    if (st) return fits_fail(err, st, tmp, "cannot create");
    fits_create_img(f, BYTE_IMG, 0, NULL, &st);
    fits_write_key(f, TSTRING, "ORIGIN", "galpost mock", "truth of a simulated field", &st);
    int rc = st ? fits_fail(err, st, tmp, "cannot create") : GP_OK;
    if (!rc) rc = gp_mock_table_create(f, "GALAXIES", tmp, err);
    for (long k = 0; !rc && k < ngal; k += 256)
        rc = gp_mock_table_write(f, k + 1, gal + k, (int)(ngal - k < 256 ? ngal - k : 256), tmp, err);
    for (int pass = 0; pass < 2 && !rc; pass++) {
        char *tt[10] = { "ra", "dec", "mag_u", "mag_g", "mag_r", "mag_i", "mag_z", "re", "sersic_n", "q" };
        char *tf[10] = { "D", "D", "E", "E", "E", "E", "E", "E", "E", "E" };
        fits_create_tbl(f, BINARY_TBL, 0, pass ? 7 : 10, tt, tf, NULL, pass ? "STARS" : "BACKGROUND", &st);
        long row = 0;
        for (long k = 0; k < nex && !st; k++) {
            const extra_source *e = &ex[k];
            if (e->star != pass) continue;
            row++;
            fits_write_col(f, TDOUBLE, 1, row, 1, 1, (void *)&e->ra, &st);
            fits_write_col(f, TDOUBLE, 2, row, 1, 1, (void *)&e->dec, &st);
            for (int b = 0; b < 5; b++) fits_write_col(f, TDOUBLE, 3 + b, row, 1, 1, (void *)&e->mag[b], &st);
            if (!pass) {
                fits_write_col(f, TDOUBLE, 8, row, 1, 1, (void *)&e->shape.re_disk, &st);
                fits_write_col(f, TDOUBLE, 9, row, 1, 1, (void *)&e->sersic_n, &st);
                fits_write_col(f, TDOUBLE, 10, row, 1, 1, (void *)&e->shape.q_disk, &st);
            }
        }
        if (st) rc = fits_fail(err, st, tmp, "cannot write the background/star truth");
    }
    return finish_file(f, tmp, path, rc, err);
}

/* draws shared with the cutout neighbours, simplified for the field */
static void draw_extra(gp_mock_rng *r, int star, double m, extra_source *e)
{
    double gr, col[4];
    e->star = star;
    if (star) {
        gr = 0.2 + 1.3 * pow(gp_mock_rng_uniform(r), 0.7);
        col[0] = fmin(0.75 + 1.6 * gr, 2.7) + 0.08 * gp_mock_rng_normal(r);
        col[2] = (gr < 1.2 ? 0.02 + 0.42 * gr : 0.52 + 1.4 * (gr - 1.2)) + 0.04 * gp_mock_rng_normal(r);
        col[3] = 0.55 * col[2] + 0.03 * gp_mock_rng_normal(r);
    } else {
        gr = fmin(fmax(1.0 + 0.35 * gp_mock_rng_normal(r), 0.2), 1.8);
        col[0] = 0.6 + 0.9 * gr + 0.25 * gp_mock_rng_normal(r);
        col[2] = 0.25 + 0.3 * gr + 0.08 * gp_mock_rng_normal(r);
        col[3] = 0.1 + 0.2 * gr + 0.08 * gp_mock_rng_normal(r);
    }
    col[1] = gr;
    e->mag[2] = m; e->mag[1] = m + col[1]; e->mag[0] = e->mag[1] + col[0];
    e->mag[3] = m - col[2]; e->mag[4] = e->mag[3] - col[3];
    if (!star) {
        double re = 0.9 * pow(10.0, -0.15 * (m - 20.0) + 0.22 * gp_mock_rng_normal(r));
        int dev = gp_mock_rng_uniform(r) < 0.3;
        e->sersic_n = dev ? 4 : 1;
        e->shape.bt = dev ? 1.0 : 0.0;
        e->shape.re_disk = e->shape.re_bulge = re;
        e->shape.q_disk = e->shape.q_bulge = gp_mock_rng_range(r, 0.25, 1.0);
        e->shape.pa = gp_mock_rng_range(r, 0.0, 180.0);
    }
}

int gp_mock_write_field(const gp_mock_field_opt *o, long *ngal_out, gp_error *err)
{
    if (o->run < 1 || o->run > 999999) return GP_FAIL(err, GP_ERR_ARG, "mock field: run %d is not within 1-999999", o->run);
    if (o->camcol < 1 || o->camcol > 6) return GP_FAIL(err, GP_ERR_ARG, "mock field: camcol %d is not within 1-6", o->camcol);
    if (o->field < 0 || o->field > 9999) return GP_FAIL(err, GP_ERR_ARG, "mock field: field %d is not within 0-9999", o->field);
    if (!(o->ra >= 0 && o->ra < 360) || !(o->dec > -85 && o->dec < 85))
        return GP_FAIL(err, GP_ERR_ARG, "mock field: centre (%g, %g) is not within 0<=ra<360, -85<dec<85", o->ra, o->dec);
    int st_dir = gp_outdir_ready(o->outdir, "mock field", err);
    if (st_dir) return st_dir;

    uint64_t fkey = ((uint64_t)o->run << 20) ^ ((uint64_t)o->camcol << 16) ^ (uint64_t)o->field;
    gp_mock_rng r;
    gp_mock_rng_init(&r, o->seed, fkey, GP_STREAM_FIELD);
    gp_mock_obs obs;
    gp_mock_obs_draw(&r, &obs);
    obs.camcol = o->camcol;
    obs.run = o->run;
    for (int b = 0; b < 5; b++) {   /* recompute with the requested camcol/run */
        obs.gain[b] = gp_mock_gain(b, o->camcol, o->run);
        obs.dark_var[b] = gp_mock_dark_variance(b, o->camcol, o->run);
        double sky_dn = obs.sky_nmgy[b] / obs.nmgy_per_count[b];
        obs.sigma_pix[b] = obs.nmgy_per_count[b] * sqrt(sky_dn / obs.gain[b] + obs.dark_var[b]);
    }
    /* frame orientation: CD = s [[sin psi, cos psi], [cos psi, -sin psi]] (SDSS-like parity) */
    double psi = fabs(o->dec) < 2.0 ? 0.0 : gp_mock_rng_range(&r, -0.6, 0.6);
    double s = GP_MOCK_PIXSCALE / 3600.0;
    double cd[4] = { s * sin(psi), s * cos(psi), s * cos(psi), -s * sin(psi) };
    double spa = 90.0 + psi * 180.0 / M_PI;
    band_frame bf[5];
    memset(bf, 0, sizeof bf);
    for (int b = 0; b < 5; b++) bf[b].wcs.flag = -1;
    int rc = GP_OK;
    long ngal = 0, nex = 0;
    gp_mock_galaxy *gal = NULL;
    extra_source *ex = NULL;
    float *scratch = NULL;
    for (int b = 0; b < 5 && !rc; b++) {
        /* bands are offset by a few pixels, as SDSS frames of one field are */
        double dra = b == GP_BAND_R ? 0 : 1.5 * gp_mock_rng_normal(&r) / 3600.0 / cos(o->dec * D2R);
        double ddec = b == GP_BAND_R ? 0 : 1.5 * gp_mock_rng_normal(&r) / 3600.0;
        double cdb[4];
        for (int k = 0; k < 4; k++) cdb[k] = cd[k] * (1.0 + 2e-4 * gp_mock_rng_normal(&r));
        rc = frame_wcs_init(&bf[b], o->ra + dra, o->dec + ddec, cdb, err);
        if (!rc && !(bf[b].img = calloc((size_t)GP_FRAME_NX * GP_FRAME_NY, sizeof(float))))
            rc = GP_FAIL(err, GP_ERR_NOMEM, "mock field: no memory for the frames");
    }
    double area_as2 = GP_FRAME_NX * GP_FRAME_NY * GP_MOCK_PIXSCALE * GP_MOCK_PIXSCALE;
    double margin = 40.0;  /* pixels: sources just outside still spill in */
    double area_ext = (GP_FRAME_NX + 2 * margin) * (GP_FRAME_NY + 2 * margin) * GP_MOCK_PIXSCALE * GP_MOCK_PIXSCALE;
    double omega = area_ext / (206264.806 * 206264.806);
    gp_mock_popopt po;
    gp_mock_popopt_default(&po);
    po.select_mgs = 0;
    po.single_try = 1;
    po.rlim_unselected = 23.0;
    po.fixed_obs = &obs;
    long ncand = 0;
    if (!rc) {
        double mean = gp_mock_expected_count(&po, omega);
        ncand = (long)floor(mean + sqrt(mean) * gp_mock_rng_normal(&r) + 0.5);
        if (ncand < 0) ncand = 0;
        gal = malloc(sizeof *gal * (size_t)(ncand + 1));
        if (!gal) rc = GP_FAIL(err, GP_ERR_NOMEM, "mock field: no memory for %ld galaxies", ncand);
    }
    for (long k = 0; k < ncand && !rc; k++) {
        uint64_t idx = (1ULL << 62) | (fkey << 24) | (uint64_t)k;
        int st = gp_mock_galaxy_draw(o->seed, idx, &po, &gal[ngal], err);
        if (st == GP_ERR_NOTFOUND) continue;
        if (st) { rc = st; break; }
        double x = gp_mock_rng_range(&r, -margin, GP_FRAME_NX + margin);
        double y = gp_mock_rng_range(&r, -margin, GP_FRAME_NY + margin);
        if (pix_to_sky(&bf[GP_BAND_R].wcs, x, y, &gal[ngal].ra, &gal[ngal].dec))
            rc = GP_FAIL(err, GP_ERR_WCS, "mock field: pixel (%g, %g) has no sky position", x, y);
        ngal++;
    }
    /* background galaxies (beyond z = 0.33, faint) and stars [M] */
    if (!rc) {
        double deg2 = area_ext / (3600.0 * 3600.0);
        double nbg = deg2 * 0.7 * 1000.0 / (0.42 * log(10.0)) * (pow(10.0, 0.42 * 3.5) - 1.0);
        double nst = deg2 * 300.0 / (0.13 * log(10.0)) * (pow(10.0, 0.13 * 3.0) - pow(10.0, 0.13 * -10.0));
        long a = (long)(nbg + sqrt(nbg) * gp_mock_rng_normal(&r)), c = (long)(nst + sqrt(nst) * gp_mock_rng_normal(&r));
        if (a < 0) a = 0;
        if (c < 0) c = 0;
        ex = malloc(sizeof *ex * (size_t)(a + c + 1));
        if (!ex) rc = GP_FAIL(err, GP_ERR_NOMEM, "mock field: no memory for %ld sources", a + c);
        for (long k = 0; k < a + c && !rc; k++) {
            int star = k >= a;
            double m;
            if (star) { double lo = pow(10.0, 0.13 * 10.0), hi = pow(10.0, 0.13 * 23.0);
                        m = log10(lo + gp_mock_rng_uniform(&r) * (hi - lo)) / 0.13; }
            else { double lo = pow(10.0, 0.42 * 20.0), hi = pow(10.0, 0.42 * 23.5);
                   m = log10(lo + gp_mock_rng_uniform(&r) * (hi - lo)) / 0.42; }
            draw_extra(&r, star, m, &ex[nex]);
            double x = gp_mock_rng_range(&r, -margin, GP_FRAME_NX + margin);
            double y = gp_mock_rng_range(&r, -margin, GP_FRAME_NY + margin);
            pix_to_sky(&bf[GP_BAND_R].wcs, x, y, &ex[nex].ra, &ex[nex].dec);
            nex++;
        }
    }
    (void)area_as2;
    if (!rc && !(scratch = malloc(sizeof(float) * GP_FRAME_NX)))
        rc = GP_FAIL(err, GP_ERR_NOMEM, "mock field: no memory");
    gp_mock_rng nr;
    gp_mock_rng_init(&nr, o->seed, fkey, GP_STREAM_NOISE);
    for (int b = 0; b < 5 && !rc; b++) {
        gp_mock_canvas c = { bf[b].img, GP_FRAME_NX, GP_FRAME_NY, { 0 }, &obs, b, 1e-3 * obs.sigma_pix[b] };
        memcpy(c.jac, bf[b].jac, sizeof c.jac);
        for (long k = 0; k < ngal; k++) {
            double x, y;
            if (sky_to_pix(&bf[b].wcs, gal[k].ra, gal[k].dec, &x, &y)) continue;
            gp_mock_shape sh;
            gp_mock_shape_of(&gal[k], b, &sh);
            gp_mock_render_galaxy(&c, &sh, gal[k].flux_true[b], x, y);
        }
        for (long k = 0; k < nex; k++) {
            double x, y;
            if (sky_to_pix(&bf[b].wcs, ex[k].ra, ex[k].dec, &x, &y)) continue;
            double f = pow(10.0, -0.4 * (ex[k].mag[b] - 22.5));
            if (ex[k].star) gp_mock_render_star(&c, f, x, y);
            else gp_mock_render_galaxy(&c, &ex[k].shape, f, x, y);
        }
        /* saturated stars bleed along the CCD columns (frame y) */
        double sat = (GP_MOCK_SATURATION_DN - obs.sky_nmgy[b] / obs.nmgy_per_count[b]) * obs.nmgy_per_count[b];
        for (long k = 0; k < nex; k++) {
            if (!ex[k].star) continue;
            double f = pow(10.0, -0.4 * (ex[k].mag[b] - 22.5)), x, y;
            if (gp_mock_render_star_peak(&c, f) < sat) continue;
            if (sky_to_pix(&bf[b].wcs, ex[k].ra, ex[k].dec, &x, &y)) continue;
            int w = 6 + (int)(3.0 * obs.psf[b].fwhm / GP_MOCK_PIXSCALE);
            gp_mock_render_saturate_window(&c, (int)x - w, (int)x + w, (int)y - w, (int)y + w, 0.0, 1.0);
        }
        gp_mock_fastrng fr;
        gp_mock_fastrng_seed(&fr, &nr);
        gp_mock_render_noise(&c, &fr, scratch);
        rc = write_frame(o, &obs, b, &bf[b], spa, err);
    }
    if (!rc) rc = write_catalog(o, &obs, gal, ngal, ex, nex, &bf[GP_BAND_R].wcs, err);
    if (!rc) rc = write_truth(o, gal, ngal, ex, nex, err);
    for (int b = 0; b < 5; b++) { free(bf[b].img); if (bf[b].wcs.flag != -1) wcsfree(&bf[b].wcs); }
    free(gal); free(ex); free(scratch);
    if (ngal_out) *ngal_out = ngal;
    return rc;
}
