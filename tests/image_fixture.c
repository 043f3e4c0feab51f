/* image_fixture.c: see image_fixture.h. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fitsio.h>

#include "image_fixture.h"

static const double D2R = M_PI / 180.0;

void fx_cd(fx_wcs *w, double scale, double rot_deg, int east_left)
{
    double s = scale / 3600.0, c = cos(rot_deg * D2R), n = sin(rot_deg * D2R);
    double p = east_left ? -1.0 : 1.0;
    /* xi = p s (c x' - n y') ... with rotation of the pixel axes */
    w->cd[0][0] = p * s * c;
    w->cd[0][1] = -s * n;
    w->cd[1][0] = p * s * n;
    w->cd[1][1] = s * c;
}

void fx_pix_to_sky(const fx_wcs *w, double x, double y, double *ra, double *dec)
{
    double dx = x - w->crpix[0], dy = y - w->crpix[1];
    double xi = (w->cd[0][0] * dx + w->cd[0][1] * dy) * D2R;
    double eta = (w->cd[1][0] * dx + w->cd[1][1] * dy) * D2R;
    double d0 = w->crval[1] * D2R;
    double den = cos(d0) - eta * sin(d0);
    *ra = w->crval[0] + atan2(xi, den) / D2R;
    *dec = atan2(sin(d0) + eta * cos(d0), sqrt(xi * xi + den * den)) / D2R;
    if (*ra < 0) *ra += 360.0;
    if (*ra >= 360.0) *ra -= 360.0;
}

void fx_sky_to_pix(const fx_wcs *w, double ra, double dec, double *x, double *y)
{
    double d0 = w->crval[1] * D2R, d = dec * D2R, da = (ra - w->crval[0]) * D2R;
    double cosc = sin(d0) * sin(d) + cos(d0) * cos(d) * cos(da);
    double xi = cos(d) * sin(da) / cosc / D2R;
    double eta = (cos(d0) * sin(d) - sin(d0) * cos(d) * cos(da)) / cosc / D2R;
    double det = w->cd[0][0] * w->cd[1][1] - w->cd[0][1] * w->cd[1][0];
    *x = w->crpix[0] + (w->cd[1][1] * xi - w->cd[0][1] * eta) / det;
    *y = w->crpix[1] + (-w->cd[1][0] * xi + w->cd[0][0] * eta) / det;
}

int fx_write_frame(const char *path, long nx, long ny, const float *data,
                   const fx_wcs *w, const char *filter)
{
    char name[4096];
    snprintf(name, sizeof name, "!%s", path);
    fitsfile *fp = NULL;
    int status = 0;
    long naxes[2] = { nx, ny };
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, FLOAT_IMG, 2, naxes, &status);
    if (w) {
        fits_write_key(fp, TSTRING, "CTYPE1", "RA---TAN", NULL, &status);
        fits_write_key(fp, TSTRING, "CTYPE2", "DEC--TAN", NULL, &status);
        fits_write_key(fp, TDOUBLE, "CRVAL1", (void *)&w->crval[0], NULL, &status);
        fits_write_key(fp, TDOUBLE, "CRVAL2", (void *)&w->crval[1], NULL, &status);
        fits_write_key(fp, TDOUBLE, "CRPIX1", (void *)&w->crpix[0], NULL, &status);
        fits_write_key(fp, TDOUBLE, "CRPIX2", (void *)&w->crpix[1], NULL, &status);
        fits_write_key(fp, TDOUBLE, "CD1_1", (void *)&w->cd[0][0], NULL, &status);
        fits_write_key(fp, TDOUBLE, "CD1_2", (void *)&w->cd[0][1], NULL, &status);
        fits_write_key(fp, TDOUBLE, "CD2_1", (void *)&w->cd[1][0], NULL, &status);
        fits_write_key(fp, TDOUBLE, "CD2_2", (void *)&w->cd[1][1], NULL, &status);
        fits_write_key(fp, TSTRING, "RADESYS", "ICRS", NULL, &status);
    }
    if (filter) fits_write_key(fp, TSTRING, "FILTER", (void *)filter, NULL, &status);
    fits_write_img(fp, TFLOAT, 1, (LONGLONG)nx * ny, (void *)data, &status);
    int st2 = 0;
    if (fp) fits_close_file(fp, &st2);
    return status || st2;
}

int fx_edit_card(const char *path, const char *key, const char *card)
{
    fitsfile *fp = NULL;
    int status = 0;
    if (fits_open_file(&fp, path, READWRITE, &status)) return status;
    if (card) {
        char c[FLEN_CARD];
        snprintf(c, sizeof c, "%s", card);
        fits_update_card(fp, key, c, &status);
    } else {
        fits_delete_key(fp, key, &status);
    }
    int st2 = 0;
    fits_close_file(fp, &st2);
    return status || st2;
}

/* Rows: the galactic x, y, z axes in ICRS (ESA 1997, Hipparcos vol. 1, 1.5.3) */
static const double ICRS_TO_GAL[3][3] = {
    { -0.0548755604162154, -0.8734370902348850, -0.4838350155487132 },
    { +0.4941094278755837, -0.4448296299600112, +0.7469822444972189 },
    { -0.8676661490190047, -0.1980763734312015, +0.4559837761750669 },
};

static void fx_rotate(int transpose, double lng, double lat, double *olng, double *olat)
{
    double a = lng * D2R, d = lat * D2R;
    double v[3] = { cos(d) * cos(a), cos(d) * sin(a), sin(d) }, o[3];
    for (int i = 0; i < 3; i++) {
        o[i] = 0;
        for (int j = 0; j < 3; j++) o[i] += (transpose ? ICRS_TO_GAL[j][i] : ICRS_TO_GAL[i][j]) * v[j];
    }
    double l = atan2(o[1], o[0]) / D2R;
    *olng = l < 0 ? l + 360.0 : l;
    *olat = asin(o[2] > 1 ? 1 : o[2] < -1 ? -1 : o[2]) / D2R;
}

void fx_icrs_to_gal(double ra, double dec, double *l, double *b) { fx_rotate(0, ra, dec, l, b); }
void fx_gal_to_icrs(double l, double b, double *ra, double *dec) { fx_rotate(1, l, b, ra, dec); }

char *fx_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/gp-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

const char *fx_path(const char *dir, const char *name)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

const char *fx_write_text(const char *dir, const char *name, const char *text)
{
    const char *p = fx_path(dir, name);
    FILE *f = fopen(p, "w");
    if (!f) return NULL;
    int bad = fputs(text, f) < 0;
    return fclose(f) || bad ? NULL : p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;   /* go on past what cannot be removed */
}

void fx_rmtree(const char *dir)
{
    /* depth first, so that the subdirectories some tests make (shard output
       folders, work directories) go with their files */
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t fx_seed(void)
{
    static uint64_t seed;
    static int done;
    if (!done) {
        const char *e = getenv("GP_TEST_SEED");
        seed = e && *e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
        fprintf(stderr, "# random seed %llu (rerun with GP_TEST_SEED=%llu)\n",
                (unsigned long long)seed, (unsigned long long)seed);
        done = 1;
    }
    return seed;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double fx_uniform(uint64_t *s) { return (double)(splitmix(s) >> 11) * 0x1.0p-53; }

double fx_gauss(uint64_t *s)
{
    double u = fx_uniform(s), v = fx_uniform(s);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

void *fx_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

void fx_gaussian(double *m, long nx, long ny, double flux, double x0, double y0,
                 double sx, double sy)
{
    for (long y = 1; y <= ny; y++) {
        double ay = 0.5 * (erf((y + 0.5 - y0) / (M_SQRT2 * sy)) - erf((y - 0.5 - y0) / (M_SQRT2 * sy)));
        for (long x = 1; x <= nx; x++) {
            double ax = 0.5 * (erf((x + 0.5 - x0) / (M_SQRT2 * sx)) - erf((x - 0.5 - x0) / (M_SQRT2 * sx)));
            m[(y - 1) * nx + x - 1] += flux * ax * ay;
        }
    }
}
