/*
 * gp_select.c: order statistics without a full sort (gp_select.h).
 */
#include <stdlib.h>

#include "gp_select.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Partition of v[0..n) (n > 16) about the median of its first, middle and
 * last values: afterwards v[0, left) <= pivot <= v[left, n) with
 * 0 < left < n; returns left.  Branch-free (Lomuto, every value moved
 * whatever the comparison says), because the comparisons of a posterior's
 * samples against a pivot cannot be predicted: Hoare's loops mispredicted
 * about every other value.  When nothing lies below the pivot (it is the
 * minimum), a second pass moves the values equal to it; when all are
 * equal, any split is one.  (Writing each value to the left part in place
 * and to a scratch array for the right, so that no load waits on the
 * previous iteration's store, measured 6-20% slower.) */
static size_t partition_doubles(double *v, size_t n)
{
    size_t m = n / 2;
    double a = v[0], b = v[m], c = v[n - 1];
    double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    size_t left = 0;
    for (size_t j = 0; j < n; j++) {
        double x = v[j];
        v[j] = v[left];
        v[left] = x;
        left += x < piv;
    }
    if (left > 0) return left;
    for (size_t j = 0; j < n; j++) {
        double x = v[j];
        v[j] = v[left];
        v[left] = x;
        left += x <= piv;
    }
    return left < n ? left : n / 2;
}

static void insertion_sort(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double t = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > t) { v[j] = v[j - 1]; j--; }
        v[j] = t;
    }
}

/* Each partition sends the ranks below its split to the left side
 * (recursion) and the rest to the right (loop). */
static void select_ranks(double *v, size_t n, const size_t *r, int nr, int depth)
{
    size_t rr[8];
    while (nr > 0) {
        if (n <= 16) { insertion_sort(v, n); return; }
        if (depth-- <= 0) { qsort(v, n, sizeof *v, cmp_double); return; }
        size_t left = partition_doubles(v, n);
        int nl = 0;
        while (nl < nr && r[nl] < left) nl++;
        if (nl == nr) { n = left; continue; }
        if (nl > 0) select_ranks(v, left, r, nl, depth);
        for (int k = nl; k < nr; k++) rr[k - nl] = r[k] - left;   /* (r may be rr: k - nl <= k) */
        r = rr;
        nr -= nl;
        v += left;
        n -= left;
    }
}

void gp_select_ranks_depth(double *v, size_t n, const size_t *r, int nr, int depth)
{
    select_ranks(v, n, r, nr > 8 ? 8 : nr, depth < 0 ? 0 : depth);
}

void gp_select_ranks(double *v, size_t n, const size_t *r, int nr)
{
    int depth = 2;   /* 2 log2(n) + 2 */
    for (size_t m = n; m > 1; m >>= 1) depth += 2;
    gp_select_ranks_depth(v, n, r, nr, depth);
}

double gp_select_kth(double *v, size_t n, size_t k)
{
    gp_select_ranks(v, n, &k, 1);
    return v[k];
}
