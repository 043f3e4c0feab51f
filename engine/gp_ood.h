/*
 * gp_ood.h: is an input like the training set's?  The Mahalanobis distance
 * of a vector from the mean of the training rows under their covariance.
 *
 * galpost uses it on the image model's latent inputs: the trunk sees the
 * encoder's latent means and standard deviations, and a cutout unlike the
 * training images (another survey's pixels, an artefact, a star, a merger the
 * mock never drew) can put them anywhere, where the networks' answers mean
 * nothing.  The check compares the squared distance d2 of
 * x = [mu_1..mu_L, ln sigma_1..ln sigma_L] with the quantile of the training
 * rows' own distances stored beside the weights (`ood.latent.*`, FORMAT.md).
 * The posteriors are not changed: the result is flagged (GP_FLAG_IMAGE_UNLIKE)
 * and carries d2 and the limit.
 */
#ifndef GP_OOD_H
#define GP_OOD_H

#include <stddef.h>

#include "galpost/gp_error.h"
#include "galpost/gp_weights.h"

/* The most values a check takes (an image model's latent of up to 512). */
#define GP_OOD_MAX_DIM 1024

typedef struct gp_ood {
    int     dim;        /* 0: no check (a model written without one) */
    double *mean;       /* [dim] */
    double *chol;       /* [dim (dim + 1) / 2]: lower-triangular L, covariance = L L^T,
                           packed by rows (row i holds L[i][0..i]) */
    double  d2_limit;   /* squared distance above which an input is unlike the rows */
    double  quantile;   /* the fraction of the training rows within d2_limit */
    long    rows;       /* training rows it was fitted on */
} gp_ood;

/*
 * gp_ood_fit() - fit the check on n training rows.
 *
 * Given:
 *   x         const double*  n rows of dim values, row i at x + i * dim.
 *   n         long           Rows (more than dim).
 *   dim       int            Values per row (1 to GP_OOD_MAX_DIM).
 *   quantile  double         Fraction of the rows to fall within the limit,
 *                            in (0.5, 1), e.g. 0.999.
 *
 * Returned:
 *   out       gp_ood*        Mean, Cholesky factor of the covariance (a ridge
 *                            of 1e-6 of the largest variance is added to the
 *                            diagonal, so that a nearly constant dimension
 *                            does not turn rounding into distance) and
 *                            d2_limit, the `quantile`
 *                            quantile of the rows' own squared distances.
 *                            Free with gp_ood_free().
 *
 * Function return value:
 *             int            GP_OK; GP_ERR_ARG for bad sizes, GP_ERR_DATA
 *                            for a non-finite value (names the row and
 *                            column) or a covariance that is not positive
 *                            definite, GP_ERR_NOMEM.
 */
int gp_ood_fit(const double *x, long n, int dim, double quantile, gp_ood *out, gp_error *err);

/*
 * gp_ood_distance2() - squared Mahalanobis distance of x (dim values) from
 * the training mean: |L^-1 (x - mean)|^2 by forward substitution.  Returns
 * +inf when a value of x is not finite (an input far from anything trained
 * on), NaN when the check is absent (o->dim == 0) or larger than
 * GP_OOD_MAX_DIM.
 */
double gp_ood_distance2(const gp_ood *o, const double *x);

/*
 * gp_ood_latent_vector() - the vector the latent check measures, from the
 * trunk's latent inputs mu[0..L) and sigma[0..L): x = [mu, ln sigma]
 * (sigma's logarithm, whose spread is closer to normal; sigma <= 0 gives
 * -inf, hence d2 = +inf).
 */
void gp_ood_latent_vector(const float *mu, const float *sigma, int L, double *x);

/*
 * gp_ood_write() - store o under `prefix` ("ood.latent"): prefix.mean,
 * prefix.chol (f64 arrays), prefix.d2_limit, prefix.quantile, prefix.rows.
 */
int gp_ood_write(const gp_ood *o, const char *prefix, gp_weights_writer *wr, gp_error *err);

/*
 * gp_ood_read() - read the check stored under `prefix`.  A file without any
 * of its keys gives o->dim = 0 and GP_OK; one with it must have dim = `dim`
 * (at most GP_OOD_MAX_DIM), a chol of dim (dim + 1) / 2 values with a
 * positive diagonal, a positive limit, a quantile in (0.5, 1) and a
 * positive row count, else GP_ERR_FORMAT naming the key (also for a key of
 * the check without prefix.mean, or prefix.mean of another type).
 */
int gp_ood_read(const gp_weights *w, const char *prefix, int dim, gp_ood *out, gp_error *err);

/* gp_ood_free() - free o's arrays; o->dim becomes 0.  NULL allowed. */
void gp_ood_free(gp_ood *o);

#endif
