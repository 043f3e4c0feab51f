/*
 * gp_select.h: order statistics of an array of doubles without a full
 * sort (the posterior summaries' percentiles, the source check's sky
 * median and median absolute deviation).  Not installed.
 */
#ifndef GALPOST_GP_SELECT_H
#define GALPOST_GP_SELECT_H

#include <stddef.h>

/* gp_select_ranks() - place chosen order statistics.
 *
 * Given:
 *   n        values in v
 *   r        nr ranks (0 <= r[k] < n), ascending and distinct, nr <= 8
 *
 * Given and returned:
 *   v        n finite values, reordered: afterwards v[r[k]] holds the value
 *            an ascending sort would put there, for each k
 *
 * Quickselect with a branch-free partition (the comparisons of samples or
 * pixels against a pivot cannot be predicted); spans of 16 or fewer values
 * are sorted, and past a depth of 2 log2(n) + 2 partitions (a hostile
 * order) the span is sorted with qsort, so the cost stays O(n log n) at
 * worst.  NaN values give an unspecified order. */
void gp_select_ranks(double *v, size_t n, const size_t *r, int nr);

/* gp_select_ranks_depth() - gp_select_ranks() allowed `depth` partitions
 * before a span goes to qsort (gp_select_ranks: 2 log2(n) + 2); for the
 * tests, which reach the fallback with depths 0 to 2. */
void gp_select_ranks_depth(double *v, size_t n, const size_t *r, int nr, int depth);

/* gp_select_kth() - the k-th smallest of v[0..n) (k < n, 0-based), v
 * reordered as by gp_select_ranks(). */
double gp_select_kth(double *v, size_t n, size_t k);

#endif
