/*
 * test_select.c: gp_select_ranks() and gp_select_kth() (engine/gp_select.h)
 * against a full qsort of the same values, on fresh random inputs of many
 * shapes: continuous values, heavy ties, all equal, sorted, reversed,
 * organ pipes and a scrambled order; and the depth limit's fallback to
 * qsort, reached by allowing 0 to 2 partitions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_select.h"
#include "gp_test_util.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { SHAPES = 7 };

static void fill(double *v, size_t n, int shape)
{
    for (size_t i = 0; i < n; i++)
        switch (shape) {
        case 0: v[i] = gp_test_normal(); break;                         /* continuous */
        case 1: v[i] = (double)(int)(5 * gp_test_uniform()); break;     /* ties: 0..4 */
        case 2: v[i] = 3.25; break;                                     /* all equal */
        case 3: v[i] = (double)i; break;                                /* sorted */
        case 4: v[i] = (double)(n - i); break;                          /* reversed */
        case 5: v[i] = (double)(i < n / 2 ? i : n - i); break;          /* organ pipe */
        default: v[i] = gp_test_uniform() < 0.4 ? 0.0 : gp_test_uniform(); break; /* a point mass */
        }
}

/* A scrambled permutation of 0..n-1 with neighbours swapped. */
static void scrambled(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = (double)((i * 7919) % n);
    for (size_t i = 0; i + 1 < n; i += 2) {   /* pairs swapped: pivots near the ends */
        double t = v[i];
        v[i] = v[i + 1];
        v[i + 1] = t;
    }
}

/* The chosen ranks hold the sorted values, and v is still a permutation. */
static void check(const double *orig, double *v, size_t n, const size_t *r, int nr, const char *what)
{
    double *s = malloc(n * sizeof *s), *w = malloc(n * sizeof *w);
    assert_non_null(s);
    assert_non_null(w);
    memcpy(s, orig, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    for (int k = 0; k < nr; k++)
        if (v[r[k]] != s[r[k]])
            fail_msg("%s, n = %zu: rank %zu holds %.17g, a sort puts %.17g there", what, n, r[k], v[r[k]], s[r[k]]);
    memcpy(w, v, n * sizeof *w);
    qsort(w, n, sizeof *w, cmp_double);
    assert_memory_equal(w, s, n * sizeof *s);
    free(s);
    free(w);
}

static void test_ranks_against_sort(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 2, 3, 15, 16, 17, 33, 100, 101, 801, 1000, 4097 };
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t n = sizes[si];
        double *orig = malloc(n * sizeof *orig), *v = malloc(n * sizeof *v);
        assert_non_null(orig);
        assert_non_null(v);
        for (int shape = 0; shape < SHAPES; shape++)
            for (int trial = 0; trial < 20; trial++) {
                fill(orig, n, shape);
                /* 1 to 8 distinct ascending ranks, the median and the ends among them */
                size_t r[8];
                int nr = 0;
                int want = 1 + (int)(8 * gp_test_uniform());
                if (want > (int)n) want = (int)n;
                while (nr < want) {
                    size_t t = trial == 0 ? (nr == 0 ? n / 2 : (nr == 1 ? 0 : n - 1))
                                          : (size_t)(gp_test_uniform() * (double)n);
                    if (t >= n) t = n - 1;
                    int dup = 0;
                    for (int k = 0; k < nr; k++) dup |= r[k] == t;
                    if (dup) { if (trial == 0) break; continue; }
                    int k = nr++;
                    while (k > 0 && r[k - 1] > t) { r[k] = r[k - 1]; k--; }
                    r[k] = t;
                }
                memcpy(v, orig, n * sizeof *v);
                gp_select_ranks(v, n, r, nr);
                check(orig, v, n, r, nr, "gp_select_ranks");

                size_t k = (size_t)(gp_test_uniform() * (double)n);
                if (k >= n) k = n - 1;
                memcpy(v, orig, n * sizeof *v);
                double got = gp_select_kth(v, n, k);
                check(orig, v, n, &k, 1, "gp_select_kth");
                assert_true(got == v[k]);
            }
        free(orig);
        free(v);
    }
}

static void test_scrambled_and_depth_limit(void **state)
{
    (void)state;
    static const size_t sizes[] = { 64, 1000, 20001 };
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t n = sizes[si];
        double *orig = malloc(n * sizeof *orig), *v = malloc(n * sizeof *v);
        assert_non_null(orig);
        assert_non_null(v);
        size_t r[3] = { n / 6, n / 2, n - n / 6 };
        scrambled(orig, n);
        memcpy(v, orig, n * sizeof *v);
        gp_select_ranks(v, n, r, 3);
        check(orig, v, n, r, 3, "gp_select_ranks, scrambled order");
        /* the fallback: no partition allowed (the whole span sorted), one,
         * two (the spans left after them sorted) */
        for (int depth = 0; depth <= 2; depth++)
            for (int shape = 0; shape < SHAPES; shape++) {
                fill(orig, n, shape);
                memcpy(v, orig, n * sizeof *v);
                gp_select_ranks_depth(v, n, r, 3, depth);
                check(orig, v, n, r, 3, "gp_select_ranks_depth");
                if (depth == 0) {   /* qsort at once: all of it sorted */
                    for (size_t i = 1; i < n; i++)
                        if (v[i - 1] > v[i]) fail_msg("depth 0, n = %zu: not sorted at %zu", n, i);
                }
            }
        free(orig);
        free(v);
    }
}

int main(void)
{
    gp_test_seed("test_select");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranks_against_sort),
        cmocka_unit_test(test_scrambled_and_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
