/*
 * gp_summary_bench.c: time gp_summary_compute() alone, the CPU work done per
 * galaxy after the flows (percentiles, moments, correlations, line
 * diagnostics, the lines' intervals).
 *
 *   gp_summary_bench NSAMPLES [ROUNDS]
 *
 * 2,000 sample sets of NSAMPLES x 9 values from a fixed generator (masses,
 * redshifts, and line values with 0-50% of their samples at F = 0, as
 * undetected lines give); prints the best over ROUNDS (30) of the mean time
 * per summary, and a checksum of the medians so that two builds can be
 * seen to compute the same thing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "galpost/gp_model.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static unsigned long long state = 88172645463325252ull;

static double uniform(void)   /* xorshift64 */
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (state >> 11) * (1.0 / 9007199254740992.0);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 0, rounds = argc > 2 ? atoi(argv[2]) : 30;
    enum { G = 2000 };
    if (n < 2 || n > 100000 || rounds < 1) {
        fprintf(stderr, "usage: gp_summary_bench NSAMPLES (2..100000) [ROUNDS]\n");
        return 2;
    }
    float *x = malloc(sizeof(float) * (size_t)G * n * GP_NQ);
    if (!x) { fprintf(stderr, "gp_summary_bench: out of memory\n"); return 1; }
    for (int g = 0; g < G; g++) {
        double pz = 0.5 * uniform();
        for (int i = 0; i < n; i++)
            for (int q = 0; q < GP_NQ; q++) {
                float *p = x + ((size_t)g * n + i) * GP_NQ + q;
                if (q >= GP_Q_HALPHA) *p = uniform() < pz ? 0.0f : (float)(2.5 * uniform());
                else if (q == GP_Q_Z) *p = (float)(0.01 + 0.3 * uniform());
                else *p = (float)(8 + 3 * uniform());
            }
    }
    gp_summary s;
    gp_error err;
    double best = 1e30, check = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        for (int g = 0; g < G; g++) {
            if (gp_summary_compute(x + (size_t)g * n * GP_NQ, n, &s, &err)) {
                fprintf(stderr, "gp_summary_bench: %s\n", err.msg);
                free(x);
                return 1;
            }
            check += s.median[GP_Q_HALPHA];
        }
        double t = (now_s() - t0) / G;
        if (t < best) best = t;
    }
    printf("%d samples: %.1f us per summary (best of %d rounds of %d; checksum %.6g)\n", n, best * 1e6, rounds, G,
           check / rounds);
    free(x);
    return 0;
}
