/*
 * gp_mock_report.h: validation of the mock population against physics.md
 * expectations and the real SDSS tables (../shared/data/sdss-tables), with
 * printed figures and PNG plots.
 */
#ifndef GALPOST_GP_MOCK_REPORT_H
#define GALPOST_GP_MOCK_REPORT_H

#include <stdio.h>

#include "gp_mock.h"
#include "gp_mock_bimodal.h"

/* gp_mock_sample() - draw galaxies first..first+n-1 (MGS-selected) with nthreads threads
 * (0: all CPUs) into a new array (*out, free() it).  GP_OK, GP_ERR_ARG, GP_ERR_NOMEM. */
int gp_mock_sample(uint64_t seed, long first, long n, int nthreads, gp_mock_galaxy **out, gp_error *err);

typedef struct gp_mock_summary {
    long   n;
    double z_pct[5], logm_pct[5];       /* 10/25/50/75/90 percentiles */
    double quenched_frac;               /* log sSFR < -11 */
    double bpt_frac[7];                 /* index bptclass + 1: -1,(0),1..5 */
    double oh_measurable_frac;
    double snr_ha_sf_median;            /* star-forming (sf_state 0) galaxies */
} gp_mock_summary;

void gp_mock_summarise(const gp_mock_galaxy *g, long n, gp_mock_summary *s);

/* Real-table comparison of one quantity. */
typedef struct gp_mock_compare {
    char   name[48];
    long   n_mock, n_real;
    double mock_pct[5], real_pct[5];    /* 10/25/50/75/90 */
    double ks_d;                        /* two-sample Kolmogorov-Smirnov distance */
    int    has_mix;                     /* 1: mock_mix and real_mix are filled */
    gp_mock_bimodal mock_mix, real_mix; /* two-Gaussian fits (bimodality of a colour) */
} gp_mock_compare;

/*
 * gp_mock_compare_real() - compare colours (u-g, g-r, r-i, i-z; same cut u<=19.6,
 * g<=20, r<=17.77 as the real dr14-galaxies-specz.csv sample), g-r in redshift bins,
 * redshift, the line fluxes (all four lines S/N > 3, r <= 17.77) against
 * ugriz-bpt-lines.csv in datadir/sdss-tables, and last u-r at 0.06 <= z < 0.10 with a
 * two-Gaussian fit on each side (has_mix: the red and blue peaks and their separation).
 * Returned: cmp[0..*ncmp-1] (at most maxcmp).
 * Function return value: GP_OK, GP_ERR_NOTFOUND (a table is missing: naming it),
 *   GP_ERR_FORMAT (a column is missing), GP_ERR_NOMEM.
 */
int gp_mock_compare_real(const gp_mock_galaxy *g, long n, const char *datadir,
                         gp_mock_compare *cmp, int maxcmp, int *ncmp, gp_error *err);

/*
 * gp_mock_report() - sample n galaxies, print the summary and comparisons to out,
 * write PNG plots and report.txt to outdir (datadir NULL or missing: no real-data
 * comparison).  GP_OK or an error naming the file.
 */
int gp_mock_report(uint64_t seed, long n, const char *outdir, const char *datadir,
                   FILE *out, gp_error *err);

#endif
