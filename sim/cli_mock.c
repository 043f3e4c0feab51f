/* cli_mock.c: `galpost mock` - training shards, full fields and the validation report. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/gp_cli.h"
#include "galpost/gp_plot.h"
#include "gp_mock_field.h"
#include "gp_mock_report.h"
#include "gp_mock_shards.h"


static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpost mock shards -n N -o DIR [--seed S] [--shard-size K] [--bands gri|ugriz]\n"
        "                           [--size PIX] [--first I] [--threads T]\n"
        "       galpost mock field -o DIR [--seed S] [--run R] [--camcol C] [--field F]\n"
        "                          [--ra DEG] [--dec DEG]\n"
        "       galpost mock report -n N -o DIR [--seed S] [--data DIR]\n"
        "See galpost-mock(1).\n");
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct progress { double t0; int tty; } progress;

static void show_progress(long done, long total, void *arg)
{
    progress *p = arg;
    if (!p->tty) return;
    double dt = now() - p->t0, rate = dt > 0 ? done / dt : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "\r  %ld/%ld galaxies  %.0f galaxies/s  ETA %.0f s   ", done, total, rate, eta);
    if (done == total) fputc('\n', stderr);
}

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "galpost mock: invalid %s '%s'\n", what, value ? value : "");
    return 2;
}

enum { O_SEED = 1000, O_SHARD, O_BANDS, O_SIZE, O_FIRST, O_THREADS, O_RUN, O_CAMCOL, O_FIELD,
       O_RA, O_DEC, O_DATA };

static const struct option longopts[] = {
    { "n", required_argument, NULL, 'n' }, { "out", required_argument, NULL, 'o' },
    { "seed", required_argument, NULL, O_SEED }, { "shard-size", required_argument, NULL, O_SHARD },
    { "bands", required_argument, NULL, O_BANDS }, { "size", required_argument, NULL, O_SIZE },
    { "first", required_argument, NULL, O_FIRST }, { "threads", required_argument, NULL, O_THREADS },
    { "run", required_argument, NULL, O_RUN }, { "camcol", required_argument, NULL, O_CAMCOL },
    { "field", required_argument, NULL, O_FIELD }, { "ra", required_argument, NULL, O_RA },
    { "dec", required_argument, NULL, O_DEC }, { "data", required_argument, NULL, O_DATA },
    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
};

int gp_cli_mock(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) { usage(stdout); return 0; }
    int mode = !strcmp(cmd, "shards") ? 1 : !strcmp(cmd, "field") ? 2 : !strcmp(cmd, "report") ? 3 : 0;
    if (!mode) { fprintf(stderr, "galpost mock: unknown sub-command '%s'\n", cmd); usage(stderr); return 2; }

    gp_mock_shard_opt so;
    gp_mock_shard_opt_default(&so);
    gp_mock_field_opt fo;
    gp_mock_field_opt_default(&fo);
    long n = -1, v;
    double d;
    uint64_t seed = 1;
    const char *out = NULL;
    const char *data = getenv("GP_SHARED_DATA");
    if (!data) data = "../shared/data";
    optind = 1;
    opterr = 0;
    int c;
    /* options each sub-command takes: any other is refused, not ignored */
    const char *given = NULL;
    while ((c = getopt_long(argc - 1, argv + 1, "n:o:h", longopts, NULL)) != -1) {
        const char *a = optarg;
        static const struct { int opt, modes; const char *name; } owner[] = {
            { 'n', 1 | 4, "-n" }, { O_SHARD, 1, "--shard-size" }, { O_BANDS, 1, "--bands" },
            { O_SIZE, 1, "--size" }, { O_FIRST, 1, "--first" }, { O_THREADS, 1, "--threads" },
            { O_RUN, 2, "--run" }, { O_CAMCOL, 2, "--camcol" }, { O_FIELD, 2, "--field" },
            { O_RA, 2, "--ra" }, { O_DEC, 2, "--dec" }, { O_DATA, 4, "--data" } };
        for (size_t k = 0; k < sizeof owner / sizeof owner[0]; k++)
            if (owner[k].opt == c && !(owner[k].modes & (1 << (mode - 1)))) given = owner[k].name;
        switch (c) {
        case 'n': if (gp_cli_parse_int(a, 1, 1000000000L, &n)) return bad("galaxy count (1-1e9)", a); break;
        case 'o': out = a; break;
        case O_SEED: if (gp_cli_parse_int(a, 0, 0x7fffffffffffffffL, &v)) return bad("seed", a); seed = (uint64_t)v; break;
        case O_SHARD: if (gp_cli_parse_int(a, 1, 10000000L, &v)) return bad("shard size (1-1e7)", a); so.shard_size = v; break;
        case O_BANDS:
            if (!strcmp(a, "gri")) { so.nbands = 3; so.bands[0] = 1; so.bands[1] = 2; so.bands[2] = 3; }
            else if (!strcmp(a, "ugriz")) { so.nbands = 5; for (int b = 0; b < 5; b++) so.bands[b] = b; }
            else return bad("bands (gri or ugriz)", a);
            break;
        case O_SIZE: if (gp_cli_parse_int(a, 16, 1024, &v)) return bad("cutout size (16-1024)", a); so.size = (int)v; break;
        case O_FIRST: if (gp_cli_parse_int(a, 0, 1L << 40, &v)) return bad("first index", a); so.first = v; break;
        case O_THREADS: if (gp_cli_parse_int(a, 0, 64, &v)) return bad("thread count (0-64, 0: all CPUs)", a); so.nthreads = (int)v; break;
        case O_RUN: if (gp_cli_parse_int(a, 1, 999999, &v)) return bad("run (1-999999)", a); fo.run = (int)v; break;
        case O_CAMCOL: if (gp_cli_parse_int(a, 1, 6, &v)) return bad("camcol (1-6)", a); fo.camcol = (int)v; break;
        case O_FIELD: if (gp_cli_parse_int(a, 0, 9999, &v)) return bad("field (0-9999)", a); fo.field = (int)v; break;
        case O_RA: if (gp_cli_parse_double(a, 0.0, 359.999999, &d)) return bad("ra (0-360 deg)", a); fo.ra = d; break;
        case O_DEC: if (gp_cli_parse_double(a, -84.9, 84.9, &d)) return bad("dec (-85-85 deg)", a); fo.dec = d; break;
        case O_DATA: data = a; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "galpost mock %s: unknown or incomplete option '%s'\n", cmd, argv[optind]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc - 1) { fprintf(stderr, "galpost mock %s: unexpected argument '%s'\n", cmd, argv[optind + 1]); return 2; }
    if (given) {
        fprintf(stderr, "galpost mock %s: %s does not apply to mock %s (see galpost-mock(1))\n", cmd, given, cmd);
        return 2;
    }
    if (!out) { fprintf(stderr, "galpost mock %s: an output directory is needed (-o DIR)\n", cmd); return 2; }
    if (mode != 2 && n < 0) { fprintf(stderr, "galpost mock %s: a galaxy count is needed (-n N)\n", cmd); return 2; }

    gp_cli_interrupts_catch(NULL);
    gp_error err;
    gp_error_clear(&err);
    int rc;
    if (mode == 1) {
        progress pr = { now(), gp_cli_is_terminal() };
        so.seed = seed; so.n = n; so.outdir = out;
        so.progress = show_progress; so.progress_arg = &pr; so.interrupted = &gp_cli_interrupted;
        rc = gp_mock_write_shards(&so, &err);
        if (!rc) {
            double dt = now() - pr.t0;
            fprintf(stderr, "galpost mock shards: %ld galaxies in %ld shard(s) in %s (%.1f s, %.0f galaxies/s)\n",
                    n, (n + so.shard_size - 1) / so.shard_size, out, dt, n / dt);
        }
    } else if (mode == 2) {
        fo.seed = seed; fo.outdir = out;
        long ng = 0;
        rc = gp_mock_write_field(&fo, &ng, &err);
        if (!rc) {
            char p[4096];
            gp_mock_field_path(&fo, "frame-r", p, sizeof p);
            fprintf(stderr, "galpost mock field: %s and the u, g, i, z frames, photoObj and truth (%ld galaxies)\n", p, ng);
        }
    } else {
        rc = gp_mock_report(seed, n, out, data, stdout, &err);
        gp_plot_release_fonts();
    }
    if (rc) {
        fprintf(stderr, "galpost mock %s: %s\n", cmd, err.msg);
        return rc == GP_ERR_ARG ? 2 : 1;
    }
    return 0;
}
