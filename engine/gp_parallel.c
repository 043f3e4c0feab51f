/* gp_parallel.c: parallel-for over pthreads (see gp_parallel.h). */
#include <pthread.h>
#include <unistd.h>

#include <cblas.h>

#include "galpost/gp_error.h"
#include "gp_parallel.h"

#define GP_MAX_THREADS 256

struct chunk {
    gp_range_fn fn;
    void *ctx;
    size_t begin, end;
};

static void *run_chunk(void *arg)
{
    struct chunk *c = arg;
    c->fn(c->ctx, c->begin, c->end);
    return NULL;
}

int gp_parallel_for(int threads, size_t n, gp_range_fn fn, void *ctx)
{
    if (n == 0) return GP_OK;
    if (threads < 1) threads = 1;
    if (threads > GP_MAX_THREADS) threads = GP_MAX_THREADS;
    if ((size_t)threads > n) threads = (int)n;
    if (threads == 1) { fn(ctx, 0, n); return GP_OK; }

    struct chunk chunks[GP_MAX_THREADS];
    pthread_t tid[GP_MAX_THREADS];
    int started[GP_MAX_THREADS] = {0};
    int status = GP_OK;
    for (int t = 0; t < threads; t++) {
        chunks[t].fn = fn;
        chunks[t].ctx = ctx;
        chunks[t].begin = n * (size_t)t / (size_t)threads;
        chunks[t].end = n * (size_t)(t + 1) / (size_t)threads;
    }
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, run_chunk, &chunks[t]) == 0) started[t] = 1;
        else status = GP_ERR_BACKEND;
    }
    run_chunk(&chunks[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else run_chunk(&chunks[t]);
    }
    return status;
}

void gp_blas_set_threads(int threads)
{
    static int current = -1;
    if (threads < 1) threads = 1;
    if (threads != current) {
        openblas_set_num_threads(threads);
        current = threads;
    }
}

int gp_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
