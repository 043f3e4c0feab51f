/* bench_mock.c: galaxies per second of `galpost mock` cutouts, drawn, rendered
 * and written as shards (sim/FORMAT.md), and rendered only.
 * usage: bench_mock [N] [OUTDIR] [THREADS]   (defaults 4000, /tmp, all CPUs) */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gp_mock_render.h"
#include "gp_mock_shards.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 4000;
    const char *base = argc > 2 ? argv[2] : "/tmp";
    int threads = argc > 3 ? atoi(argv[3]) : 0;
    if (n < 1) { fprintf(stderr, "bench_mock: bad N\n"); return 2; }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bench_mock_XXXXXX", base);
    if (!mkdtemp(dir)) { perror(dir); return 1; }
    gp_error err;
    for (int nb = 5; nb >= 3; nb -= 2) {
        gp_mock_shard_opt o;
        gp_mock_shard_opt_default(&o);
        o.seed = 1; o.n = n; o.shard_size = n < 2000 ? n : 2000; o.outdir = dir; o.nthreads = threads;
        o.nbands = nb;
        for (int b = 0; b < nb; b++) o.bands[b] = nb == 5 ? b : b + 1;
        double t0 = now();
        if (gp_mock_write_shards(&o, &err)) { fprintf(stderr, "bench_mock: %s\n", err.msg); return 1; }
        double dt = now() - t0;
        printf("%s %dx160x160 cutouts: %ld galaxies drawn+rendered+written in %.2f s: %.0f galaxies/s (%.0f MB/s)\n",
               nb == 5 ? "ugriz" : "gri  ", nb, n, dt, n / dt, n * nb * 160.0 * 160 * 4 / dt / 1e6);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -f '%s'/shard-*.fits", dir);
        if (system(cmd) != 0) return 1;
    }
    /* one thread, no I/O: where the time goes */
    long m = n < 1000 ? n : 1000;
    int bands[5] = { 0, 1, 2, 3, 4 };
    float *img = malloc(sizeof(float) * 5 * 160 * 160);
    gp_mock_galaxy g;
    double tp = 0, tr = 0;
    for (long i = 0; i < m; i++) {
        double t0 = now();
        gp_mock_galaxy_draw(1, (uint64_t)i, NULL, &g, &err);
        double t1 = now();
        gp_mock_render_cutout(1, &g, bands, 5, 160, 0, img, &err);
        tp += t1 - t0; tr += now() - t1;
    }
    printf("single thread, no I/O: population %.3f ms/galaxy, 5-band render+noise %.3f ms/galaxy\n",
           1e3 * tp / m, 1e3 * tr / m);
    free(img);
    rmdir(dir);
    return 0;
}
