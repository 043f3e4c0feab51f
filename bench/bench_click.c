/*
 * bench_click.c: latency of a DS9 click, as the observer sees it: from
 * running the analysis task 'Infer selected' (xpaset DS9 analysis task) to
 * the text overlay being in DS9 (its regions list the new "galpost #N"),
 * and to galpostd having finished the request (overlay + BPT plot).
 * DS9 and galpostd must be running (bench/bench_click.sh starts them); a
 * region must be selected in the current frame.
 *
 *   bench_click DS9 N
 *
 * DS9 is polled every 2 ms (a busy loop would steal a core from DS9 and
 * galpostd on a 2-core machine), so figures carry up to 2 ms of polling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xpa.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void nap(void)
{
    struct timespec t = { 0, 2000000 };
    nanosleep(&t, NULL);
}

/* xpaget into a malloc'ed string, or NULL. */
static char *get(XPA x, const char *target, const char *params)
{
    char *bufs[1] = { NULL }, *names[1] = { NULL }, *msgs[1] = { NULL };
    size_t lens[1] = { 0 };
    int n = XPAGet(x, (char *)target, (char *)params, "doxpa=false", bufs, lens, names, msgs, 1);
    char *s = NULL;
    if (n > 0 && !msgs[0] && bufs[0]) {
        s = malloc(lens[0] + 1);
        if (s) { memcpy(s, bufs[0], lens[0]); s[lens[0]] = '\0'; }
    }
    free(bufs[0]); free(names[0]); free(msgs[0]);
    return s;
}

static int set(XPA x, const char *target, const char *params)
{
    char *names[1] = { NULL }, *msgs[1] = { NULL };
    int n = XPASet(x, (char *)target, (char *)params, "doxpa=false", NULL, 0, names, msgs, 1);
    int ok = n > 0 && !msgs[0];
    if (!ok) fprintf(stderr, "bench_click: xpaset %s %s: %s\n", target, params, msgs[0] ? msgs[0] : "no answer");
    free(names[0]); free(msgs[0]);
    return ok ? 0 : -1;
}

static int last_result(XPA x)
{
    char *s = get(x, "galpost", "status");
    int id = 0;
    char *p = s ? strstr(s, "last_result: #") : NULL;
    if (p) id = atoi(p + 14);
    free(s);
    return id;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    double pos = q * (n - 1);
    int i = (int)pos;
    return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[i];
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: bench_click DS9 N\n"); return 2; }
    const char *ds9 = argv[1];
    int n = atoi(argv[2]);
    if (n < 1) return 2;
    XPA x = XPAOpen(NULL);
    double *ov = malloc(sizeof(double) * (size_t)n), *all = malloc(sizeof(double) * (size_t)n);
    if (!ov || !all) return 1;
    for (int i = 0; i < n; i++) {
        int id = last_result(x) + 1;
        char want[64], prev_job[256] = "";
        snprintf(want, sizeof want, "galpost #%d  (", id);
        char *j = get(x, "galpost", "job");
        if (j) { snprintf(prev_job, sizeof prev_job, "%s", j); free(j); }
        double t0 = now();
        if (set(x, ds9, "analysis task {Infer selected}")) return 1;
        double t1 = 0, t2 = 0;
        for (int k = 0; !t1; k++) {
            char *r = get(x, ds9, "regions -format ds9 -system image");
            if (r && strstr(r, want)) t1 = now();
            free(r);
            if (!t1 && k % 10 == 9) {   /* a failed request draws no overlay */
                char *s = get(x, "galpost", "job");
                if (s && strcmp(s, prev_job) && strstr(s, " failed")) { fprintf(stderr, "bench_click: %s", s); return 1; }
                free(s);
            }
            if (!t1) nap();
            if (now() - t0 > 30) { fprintf(stderr, "bench_click: no overlay #%d after 30 s\n", id); return 1; }
        }
        while (!t2) {
            char *s = get(x, "galpost", "job");
            if (s && strcmp(s, prev_job) && (strstr(s, " done") || strstr(s, " failed"))) {
                t2 = now();
                if (strstr(s, " failed")) { fprintf(stderr, "bench_click: %s", s); return 1; }
            }
            free(s);
            if (!t2) nap();
            if (now() - t0 > 30) { fprintf(stderr, "bench_click: request #%d never finished\n", id); return 1; }
        }
        ov[i] = (t1 - t0) * 1e3;
        all[i] = (t2 - t0) * 1e3;
        printf("click %3d: overlay %7.1f ms, done (with plot) %7.1f ms\n", i + 1, ov[i], all[i]);
        fflush(stdout);
        /* DS9 refuses (with a modal question) to start a task whose
         * previous run it has not seen end: leave it time to reap it */
        for (int k = 0; k < 25; k++) nap();
    }
    double omed = quantile(ov, n, 0.5), o10 = quantile(ov, n, 0.1), o90 = quantile(ov, n, 0.9);
    double amed = quantile(all, n, 0.5), a10 = quantile(all, n, 0.1), a90 = quantile(all, n, 0.9);
    printf("overlay drawn: median %.1f ms (10%% %.1f, 90%% %.1f) over %d clicks\n", omed, o10, o90, n);
    printf("request done:  median %.1f ms (10%% %.1f, 90%% %.1f)\n", amed, a10, a90);
    XPAClose(x);
    free(ov);
    free(all);
    return 0;
}
