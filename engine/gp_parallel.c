/*
 * gp_parallel.c: parallel-for over a persistent pool of pthreads (see
 * gp_parallel.h).
 *
 * The workers are started on first use and live until the process ends.
 * A call publishes a job (fn, ctx, n, threads) under a mutex and bumps a
 * generation counter; worker t runs chunk t.  Workers spin briefly on the
 * counter before sleeping on a condition variable, so that the many short
 * parallel regions of inference do not pay a wake-up each, and a busy
 * machine does not lose a core to spinning.  One job runs at a time: a
 * call made while the pool is busy (another thread's job, or a nested call
 * from inside a job) runs its chunks in the calling thread, in the same
 * split, so results never depend on who ran what.  A child process forked
 * after the pool started starts a pool of its own (pthread_atfork).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cblas.h>

#include "galpost/gp_error.h"
#include "gp_parallel.h"

#define GP_MAX_THREADS 256
#define GP_SPIN_ROUNDS 20000   /* about 50-100 us of polling before sleeping */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static pthread_mutex_t pool_mx = PTHREAD_MUTEX_INITIALIZER;     /* guards the fields below */
static pthread_cond_t  pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t  pool_done = PTHREAD_COND_INITIALIZER;
static int             pool_workers;                  /* started workers (ids 1..pool_workers) */
static atomic_uint     pool_gen;                      /* job generation */
static atomic_int      pool_pending;                  /* chunks not finished */
static int             pool_sleepers;
static unsigned        pool_start_gen[GP_MAX_THREADS]; /* generation when worker i was started */

static struct {
    gp_chunk_fn fn;
    void *ctx;
    size_t n;
    int threads;
} job;

static void run_chunk(gp_chunk_fn fn, void *ctx, size_t n, int threads, int t)
{
    size_t begin = n * (size_t)t / (size_t)threads, end = n * (size_t)(t + 1) / (size_t)threads;
    if (begin < end) fn(ctx, t, begin, end);
}

static void *worker_main(void *arg)
{
    int id = (int)(size_t)arg;
    unsigned seen = pool_start_gen[id];   /* a job published before this thread ran is still seen */
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool_gen, memory_order_acquire)) == seen && spins < GP_SPIN_ROUNDS) {
            spins++;
            if ((spins & 63) == 0) sched_yield();
        }
        if (g == seen) {
            pthread_mutex_lock(&pool_mx);
            pool_sleepers++;
            while ((g = atomic_load(&pool_gen)) == seen) pthread_cond_wait(&pool_wake, &pool_mx);
            pool_sleepers--;
            pthread_mutex_unlock(&pool_mx);
        }
        seen = g;
        /* every worker acknowledges every job, so none can lag a generation */
        if (id < job.threads) run_chunk(job.fn, job.ctx, job.n, job.threads, id);
        if (atomic_fetch_sub_explicit(&pool_pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool_mx);
            pthread_cond_signal(&pool_done);
            pthread_mutex_unlock(&pool_mx);
        }
    }
    return NULL;
}

/* A forked child has none of the parent's workers: start afresh. */
static void pool_atfork_child(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pool_lock = m;
    pool_mx = m;
    pool_wake = c;
    pool_done = c;
    pool_workers = 0;
    pool_sleepers = 0;
    atomic_store(&pool_pending, 0);
}

/* Start workers up to `want` (ids 1..want-1); returns how many exist. */
static int pool_grow(int want)
{
    static int atfork_registered;
    if (!atfork_registered) {
        pthread_atfork(NULL, NULL, pool_atfork_child);
        atfork_registered = 1;
    }
    while (pool_workers < want - 1) {
        pthread_t tid;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pool_start_gen[pool_workers + 1] = atomic_load(&pool_gen);
        int ok = pthread_create(&tid, &at, worker_main, (void *)(size_t)(pool_workers + 1)) == 0;
        pthread_attr_destroy(&at);
        if (!ok) break;
        pool_workers++;
    }
    return pool_workers + 1;
}

int gp_parallel_chunks(int threads, size_t n, gp_chunk_fn fn, void *ctx)
{
    if (n == 0) return GP_OK;
    if (threads < 1) threads = 1;
    if (threads > GP_MAX_THREADS) threads = GP_MAX_THREADS;
    if ((size_t)threads > n) threads = (int)n;
    if (threads == 1) { fn(ctx, 0, 0, n); return GP_OK; }

    if (pthread_mutex_trylock(&pool_lock) != 0) {
        /* busy (another job or a nested call): same chunks, this thread */
        for (int t = 0; t < threads; t++) run_chunk(fn, ctx, n, threads, t);
        return GP_OK;
    }
    int status = GP_OK;
    int have = pool_grow(threads);
    int pooled = have < threads ? have : threads;
    if (pooled < threads) status = GP_ERR_BACKEND;
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.threads = threads;
    atomic_store(&pool_pending, have - 1);
    pthread_mutex_lock(&pool_mx);
    atomic_fetch_add_explicit(&pool_gen, 1, memory_order_release);
    if (pool_sleepers) pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_mx);
    run_chunk(fn, ctx, n, threads, 0);
    /* chunks of threads that could not be started run here */
    for (int t = pooled; t < threads; t++) run_chunk(fn, ctx, n, threads, t);
    int spins = 0;
    while (atomic_load_explicit(&pool_pending, memory_order_acquire) > 0 && spins < GP_SPIN_ROUNDS) {
        spins++;
        if ((spins & 63) == 0) sched_yield();
    }
    if (atomic_load(&pool_pending) > 0) {
        pthread_mutex_lock(&pool_mx);
        while (atomic_load(&pool_pending) > 0) pthread_cond_wait(&pool_done, &pool_mx);
        pthread_mutex_unlock(&pool_mx);
    }
    pthread_mutex_unlock(&pool_lock);
    return status;
}

struct range_adapter { gp_range_fn fn; void *ctx; };

static void range_adapter_run(void *ctx, int chunk, size_t begin, size_t end)
{
    (void)chunk;
    struct range_adapter *a = ctx;
    a->fn(a->ctx, begin, end);
}

int gp_parallel_for(int threads, size_t n, gp_range_fn fn, void *ctx)
{
    struct range_adapter a = { fn, ctx };
    return gp_parallel_chunks(threads, n, range_adapter_run, &a);
}

struct dynamic_job { gp_range_fn fn; void *ctx; size_t n; atomic_size_t next; };

static void dynamic_run(void *ctx, size_t begin, size_t end)
{
    (void)begin; (void)end;
    struct dynamic_job *d = ctx;
    size_t i;
    while ((i = atomic_fetch_add_explicit(&d->next, 1, memory_order_relaxed)) < d->n) d->fn(d->ctx, i, i + 1);
}

int gp_parallel_dynamic(int threads, size_t n, gp_range_fn fn, void *ctx)
{
    if (n == 0) return GP_OK;
    if (threads < 1) threads = 1;
    if ((size_t)threads > n) threads = (int)n;
    if (threads == 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, i + 1);
        return GP_OK;
    }
    struct dynamic_job d = { fn, ctx, n, 0 };
    return gp_parallel_for(threads, (size_t)threads, dynamic_run, &d);
}

void gp_blas_set_threads(int threads)
{
    static _Atomic int current = -1;
    if (threads < 1) threads = 1;
    if (threads != atomic_load(&current)) {
        openblas_set_num_threads(threads);
        atomic_store(&current, threads);
    }
}

int gp_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
