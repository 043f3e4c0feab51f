/* gp_mock_bimodal.h: a two-Gaussian mixture fitted to one colour, the measure of
 * colour bimodality used to compare the mock with the real SDSS sample. */
#ifndef GALPOST_GP_MOCK_BIMODAL_H
#define GALPOST_GP_MOCK_BIMODAL_H

/* A fitted mixture: component 0 has the smaller mean (the blue cloud in a colour). */
typedef struct gp_mock_bimodal {
    double weight[2], mean[2], sigma[2];
    double ashman_d;    /* |mean1 - mean0| / sqrt((sigma0^2 + sigma1^2) / 2) (Ashman+94);
                           > 2 means two clearly separated peaks */
    int    iterations;  /* EM iterations used */
} gp_mock_bimodal;

/*
 * gp_mock_bimodal_fit() - maximum-likelihood two-Gaussian mixture of x[0..n-1] by
 * expectation-maximisation, started from the lower and upper quartiles.
 *
 * Given:
 *   x        values (not modified; NaNs are skipped)
 *   n        number of values
 * Returned:
 *   fit      weights, means and sigmas (component 0: smaller mean), Ashman's D
 * Function return value:
 *   0 on success; -1 when fewer than 10 finite values or no spread (fit is then
 *   filled with NaN).
 *
 * Notes: a hand-written EM (40 lines) rather than a library: GSL and the other
 * Debian C libraries have no mixture fitter.  Sigmas are floored at 1e-3 of the
 * sample's spread so a component cannot collapse onto one value.
 */
int gp_mock_bimodal_fit(const double *x, long n, gp_mock_bimodal *fit);

#endif
