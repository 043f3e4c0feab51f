/* cli_eval.c: `galpost eval`, held-out evaluation of a trained model (gp_eval.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/gp_cli.h"
#include "train/gp_eval.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpost eval -m MODEL.gpw -o OUTDIR [options] SHARD.fits...\n"
        "  Evaluates a trained model on the test split it never saw (recomputed from the\n"
        "  model's train.split.* metadata and the same shards; a photometry-only model also\n"
        "  reads them as CSV tables): R^2, RMSE, outliers,\n"
        "  sigma_ale/sigma_epi, classifier accuracy, calibration (68%%/95%% coverage, PIT),\n"
        "  and the baselines (photometry + MLP, image embedding + MLP / kNN).\n"
        "  Writes OUTDIR/report.md, metrics.csv, galaxies.csv and eval.log.\n"
        "options:\n"
        "  --samples N        posterior samples per galaxy (200)\n"
        "  --seed S           sampler seed (12345)\n"
        "  --threads T        CPU threads (0: all)\n"
        "  --max-test N       evaluate at most N test galaxies (not with --record)\n"
        "  --max-baseline-train N  train the baselines on at most N rows\n"
        "  --latents FILE     the trainer's latent cache (WORKDIR/latents.f32) for the baselines\n"
        "  --no-baselines     skip the baselines\n"
        "  --record           write the figures into the model's eval.* metadata (refused when\n"
        "                     one is not a number: a quantity with fewer than 2 test galaxies)\n");
}

int gp_cli_eval(int argc, char **argv)
{
    enum { O_S = 256, O_SEED, O_T, O_MT, O_MB, O_LAT, O_NOB, O_REC };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"output", required_argument, 0, 'o'},
        {"samples", required_argument, 0, O_S}, {"seed", required_argument, 0, O_SEED},
        {"threads", required_argument, 0, O_T}, {"max-test", required_argument, 0, O_MT},
        {"max-baseline-train", required_argument, 0, O_MB}, {"latents", required_argument, 0, O_LAT},
        {"no-baselines", no_argument, 0, O_NOB}, {"record", no_argument, 0, O_REC},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    gp_eval_opts o;
    gp_eval_opts_default(&o);
    long v;
    optind = 1;
    int c;
#define BAD(what) do { fprintf(stderr, "galpost eval: bad %s '%s'\n", what, optarg); return 2; } while (0)
    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'o': o.outdir = optarg; break;
        case O_S: if (gp_cli_parse_int(optarg, 10, 100000, &v)) BAD("--samples"); o.nsamples = (int)v; break;
        case O_SEED: if (gp_cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &v)) BAD("--seed"); o.seed = (uint64_t)v; break;
        case O_T: if (gp_cli_parse_int(optarg, 0, 256, &v)) BAD("--threads"); o.threads = (int)v; break;
        case O_MT: if (gp_cli_parse_int(optarg, 1, 1L << 40, &v)) BAD("--max-test"); o.max_test = v; break;
        case O_MB: if (gp_cli_parse_int(optarg, 1, 1L << 40, &v)) BAD("--max-baseline-train"); o.max_baseline_train = v; break;
        case O_LAT: o.latents = optarg; break;
        case O_NOB: o.baselines = 0; break;
        case O_REC: o.record = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
#undef BAD
    if (!o.model || !o.outdir || optind >= argc) { usage(stderr); return 2; }
    if (o.record && o.max_test > 0) {
        /* the figures of some test galaxies would be recorded as the model's own */
        fprintf(stderr, "galpost eval: --record is refused with --max-test: the figures of at most %ld of the test galaxies "
                        "would be recorded as the model's own (run --record without --max-test)\n", o.max_test);
        return 2;
    }
    o.data = (const char *const *)(argv + optind);
    o.ndata = argc - optind;
    o.progress = gp_cli_is_terminal();
    o.interrupted = &gp_cli_interrupted;
    gp_cli_interrupts_catch(NULL);
    gp_error err;
    gp_error_clear(&err);
    struct stat sb;
    int existed = stat(o.outdir, &sb) == 0;
    if (gp_eval_run(&o, &err)) {
        fprintf(stderr, "galpost eval: %s\n", err.msg);
        /* an output directory this run created: its log goes with it when
         * nothing else was written there (the message above says why) */
        if (!existed) {
            char p[4200];
            snprintf(p, sizeof p, "%s/eval.log", o.outdir);
            unlink(p);
            rmdir(o.outdir);
        }
        return 1;
    }
    return 0;
}
