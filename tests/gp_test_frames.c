/*
 * gp_test_frames.c: writes small SDSS-like test frames for the DS9 tests:
 * DIR/frame-{u,g,r,i,z}-000001-1-0001.fits (nanomaggies, FILTER keyword,
 * a TAN WCS rotated about 90 degrees as SDSS frames are, with offsets of a
 * few pixels between bands), two exponential-disc galaxies and a star on a
 * noisy sky, and DIR/photo.csv, a PhotoObj-like catalogue of the galaxies.
 * It prints one line per galaxy: "galaxy RA DEC".
 *
 *   gp_test_frames DIR [--nowcs] [--nan] [--hole R] [--counts] [--galactic] [--seed N]
 *     --nowcs     frames without WCS keywords
 *     --nan       every pixel NaN within 30" of galaxy 1
 *     --hole R    every pixel NaN within R arcsec of galaxy 1 (a masked core)
 *     --counts    pixels in counts (DN: 200 per nanomaggy on a soft bias of
 *                 1000), BUNIT = 'counts'
 *     --magzp     with --counts: the zero point of those counts, MAGZP =
 *                 28.252575 (22.5 + 2.5 log10 200), which makes them usable
 *     --galactic  the same sky through a WCS in galactic coordinates
 *                 (GLON-TAN/GLAT-TAN, reference point at the galactic
 *                 position of the equatorial frames')
 *     --fk4       the equatorial frames' WCS labelled FK4 B1950 (RADESYS,
 *                 EQUINOX): a system galpost does not read
 *
 * Until the simulator's `galpost mock field` is used instead, this is the
 * tests' own mock field.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_image.h"
#include "image_fixture.h"

#define NX 600
#define NY 450

static const double RA0 = 185.25, DEC0 = 12.75;

typedef struct { double ra, dec, mag[5], scale, q, pa; } galaxy;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gp_test_frames DIR [--nowcs] [--nan] [--hole R] [--counts [--magzp]] [--galactic] [--fk4] [--seed N]\n");
        return 2;
    }
    const char *dir = argv[1];
    int nowcs = 0, counts = 0, magzp = 0, galactic = 0, fk4 = 0;
    double hole = 0.0; /* arcsec */
    uint64_t rng = 12345;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--nowcs")) nowcs = 1;
        else if (!strcmp(argv[i], "--nan")) hole = 30.0;
        else if (!strcmp(argv[i], "--hole") && i + 1 < argc) hole = atof(argv[++i]);
        else if (!strcmp(argv[i], "--counts")) counts = 1;
        else if (!strcmp(argv[i], "--magzp")) magzp = 1;
        else if (!strcmp(argv[i], "--galactic")) galactic = 1;
        else if (!strcmp(argv[i], "--fk4")) fk4 = 1;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng = strtoull(argv[++i], NULL, 10);
        else { fprintf(stderr, "gp_test_frames: unknown option %s\n", argv[i]); return 2; }
    }
    const double cosd = cos(DEC0 * M_PI / 180.0);
    galaxy gal[2] = {
        { RA0 - 20.0 / 3600.0 / cosd, DEC0 + 15.0 / 3600.0, { 18.3, 16.95, 16.2, 15.8, 15.55 }, 2.5, 0.6, 30.0 },
        { RA0 + 35.0 / 3600.0 / cosd, DEC0 - 25.0 / 3600.0, { 19.6, 18.55, 17.9, 17.55, 17.35 }, 1.5, 0.8, 120.0 },
    };
    const double star_ra = RA0 + 5.0 / 3600.0 / cosd, star_dec = DEC0 + 40.0 / 3600.0;
    const double star_mag[5] = { 17.5, 16.4, 16.0, 15.85, 15.8 };
    const double sky_rms[5] = { 0.045, 0.02, 0.025, 0.035, 0.09 };
    const char *bands = "ugriz";
    float *d = malloc(sizeof(float) * NX * NY);
    if (!d) return 1;
    for (int b = 0; b < 5; b++) {
        fx_wcs w = { { RA0, DEC0 }, { 0.5 * NX + 2.7 * b - 4.0, 0.5 * NY - 3.1 * b + 5.0 }, { { 0 } } };
        fx_cd(&w, 0.396, 90.0 + 0.02 * b, 1);
        if (galactic) fx_icrs_to_gal(RA0, DEC0, &w.crval[0], &w.crval[1]);
        for (long y = 1; y <= NY; y++)
            for (long x = 1; x <= NX; x++) {
                double ra, dec, v = sky_rms[b] * fx_gauss(&rng);
                fx_pix_to_sky(&w, (double)x, (double)y, &ra, &dec);
                if (galactic) fx_gal_to_icrs(ra, dec, &ra, &dec);
                for (int g = 0; g < 2; g++) {
                    /* exponential disc, position angle pa east of north, axis ratio q */
                    double dx = (ra - gal[g].ra) * cosd * 3600.0, dy = (dec - gal[g].dec) * 3600.0;
                    double pa = gal[g].pa * M_PI / 180.0;
                    double u = dx * sin(pa) + dy * cos(pa), t = dx * cos(pa) - dy * sin(pa);
                    double r = sqrt(u * u + (t / gal[g].q) * (t / gal[g].q));
                    double total = pow(10.0, (22.5 - gal[g].mag[b]) / 2.5);
                    double h = gal[g].scale;
                    v += total / (2 * M_PI * h * h * gal[g].q) * exp(-r / h) * 0.396 * 0.396;
                }
                double sx = (ra - star_ra) * cosd * 3600.0, sy = (dec - star_dec) * 3600.0, s = 0.6;
                v += pow(10.0, (22.5 - star_mag[b]) / 2.5) / (2 * M_PI * s * s) *
                     exp(-(sx * sx + sy * sy) / (2 * s * s)) * 0.396 * 0.396;
                if (gp_sky_separation(ra, dec, gal[0].ra, gal[0].dec) < hole) v = NAN;
                if (counts) v = 1000.0 + 200.0 * v;
                d[(y - 1) * NX + (x - 1)] = (float)v;
            }
        char path[4096], filt[2] = { bands[b], 0 };
        snprintf(path, sizeof path, "%s/frame-%c-000001-1-0001.fits", dir, bands[b]);
        if (fx_write_frame(path, NX, NY, d, nowcs ? NULL : &w, filt)) {
            fprintf(stderr, "gp_test_frames: cannot write %s\n", path);
            return 1;
        }
        if ((counts && fx_edit_card(path, "BUNIT", "BUNIT   = 'counts  '")) ||
            (counts && magzp && fx_edit_card(path, "MAGZP", "MAGZP   =            28.252575 / AB zero point of the counts")) ||
            (galactic && !nowcs &&
             (fx_edit_card(path, "CTYPE1", "CTYPE1  = 'GLON-TAN'") || fx_edit_card(path, "CTYPE2", "CTYPE2  = 'GLAT-TAN'") ||
              fx_edit_card(path, "RADESYS", NULL))) ||
            (fk4 && !nowcs &&
             (fx_edit_card(path, "RADESYS", "RADESYS = 'FK4     '") ||
              fx_edit_card(path, "EQUINOX", "EQUINOX =               1950.0")))) {
            fprintf(stderr, "gp_test_frames: cannot edit %s\n", path);
            return 1;
        }
    }
    free(d);
    char path[4096];
    snprintf(path, sizeof path, "%s/photo.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); return 1; }
    fprintf(f, "objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z,"
               "extinction_u,extinction_g,extinction_r,extinction_i,extinction_z\n");
    for (int g = 0; g < 2; g++)
        fprintf(f, "%d,%.7f,%.7f,%.3f,%.3f,%.3f,%.3f,%.3f,0.10,0.08,0.06,0.04,0.03\n", g + 1, gal[g].ra,
                gal[g].dec, gal[g].mag[0] + 0.10, gal[g].mag[1] + 0.08, gal[g].mag[2] + 0.06,
                gal[g].mag[3] + 0.04, gal[g].mag[4] + 0.03);
    fclose(f);
    for (int g = 0; g < 2; g++) printf("galaxy %.7f %.7f\n", gal[g].ra, gal[g].dec);
    return 0;
}
