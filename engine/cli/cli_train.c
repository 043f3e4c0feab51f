/* cli_train.c: `galpost train`, the paper's training protocol (gp_train_run.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/gp_cli.h"
#include "train/gp_train_run.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpost train -o OUT.gpw [options] SHARD.fits...\n"
        "  Trains a model on training shards (sim/FORMAT.md: mock or real SDSS/MPA-JHU exports;\n"
        "  --photometry also reads the export's table as CSV, as CasJobs downloads it):\n"
        "  the VAE on its own part of the sample, then K flow-stage members on the rest\n"
        "  (70/15/15 train/validation/test), early-stopped on the validation loss.\n"
        "  An interrupted run resumes from WORKDIR/checkpoint.gpw when rerun with the same settings.\n"
        "options:\n"
        "  -o, --output FILE      weights file to write\n"
        "  -w, --workdir DIR      checkpoints, latent cache and log (default OUT.gpw.work)\n"
        "  --photometry           the photometry-only model\n"
        "  --encoder-from MODEL   reuse MODEL's trained VAE and stretch (skip the VAE stage)\n"
        "  --seed S               seed of the split, initialisation and shuffles (1)\n"
        "  --threads T            CPU threads (0: all)\n"
        "  --backend B            cpu, cuda or auto (default cpu; auto: CUDA when usable)\n"
        "  --ensemble K           flow-stage members (5)\n"
        "  --max-rows N           use at most N usable rows\n"
        "  --vae-count N          galaxies reserved for the VAE (25%% of the rows; --photometry: 0)\n"
        "  --vae-epochs E (4)  --vae-batch B (16)  --vae-lr LR (1e-3)  --vae-beta BETA (1)\n"
        "  --vae-soft K           the stretch's asinh softening in sky sigmas (1)\n"
        "  --flow-epochs E (60)  --flow-batch B (256)  --flow-lr LR (1e-3)  --patience P (8)\n"
        "  --enc-channels A,B,C (32,64,64)  --latent L (32)  --trunk W1,W2 (256,128)\n"
        "  --head-hidden H (128)  --flow-hidden H (64)  --couplings C (12)\n"
        "  --log FILE             log file (default WORKDIR/train.log)\n");
}

static int parse_list(const char *s, int *v, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 1 || x > 65536) return -1;
        v[i] = (int)x;
        if (i < n - 1) { if (*end != ',') return -1; s = end + 1; }
        else if (*end) return -1;
    }
    return 0;
}

int gp_cli_train(int argc, char **argv)
{
    enum { O_PHOT = 256, O_ENC, O_SEED, O_THREADS, O_ENS, O_MAXROWS, O_VAEN, O_VEP, O_VB, O_VLR, O_VBETA, O_VSOFT,
           O_FEP, O_FB, O_FLR, O_PAT, O_CH, O_LAT, O_TRUNK, O_HH, O_FH, O_CPL, O_LOG, O_BACKEND };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"workdir", required_argument, 0, 'w'},
        {"photometry", no_argument, 0, O_PHOT}, {"encoder-from", required_argument, 0, O_ENC},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        {"ensemble", required_argument, 0, O_ENS}, {"max-rows", required_argument, 0, O_MAXROWS},
        {"vae-count", required_argument, 0, O_VAEN}, {"vae-epochs", required_argument, 0, O_VEP},
        {"vae-batch", required_argument, 0, O_VB}, {"vae-lr", required_argument, 0, O_VLR},
        {"vae-beta", required_argument, 0, O_VBETA}, {"vae-soft", required_argument, 0, O_VSOFT}, {"flow-epochs", required_argument, 0, O_FEP},
        {"flow-batch", required_argument, 0, O_FB}, {"flow-lr", required_argument, 0, O_FLR},
        {"patience", required_argument, 0, O_PAT}, {"enc-channels", required_argument, 0, O_CH},
        {"latent", required_argument, 0, O_LAT}, {"trunk", required_argument, 0, O_TRUNK},
        {"head-hidden", required_argument, 0, O_HH}, {"flow-hidden", required_argument, 0, O_FH},
        {"couplings", required_argument, 0, O_CPL}, {"log", required_argument, 0, O_LOG},
        {"backend", required_argument, 0, O_BACKEND},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    gp_train_opts o;
    gp_train_opts_default(&o);
    /* shipped defaults (weights/README.md): narrower last conv and trunk keep the file < 20 MB */
    o.arch.enc_channels[2] = 64;
    o.arch.trunk[1] = 128;
    o.arch.ensemble = 5;
    const char *out = NULL, *workdir = NULL, *logpath = NULL;
    long v;
    double x;
    optind = 1;
    int c;
#define BAD(what) do { fprintf(stderr, "galpost train: bad %s '%s'\n", what, optarg); return 2; } while (0)
    while ((c = getopt_long(argc, argv, "o:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'w': workdir = optarg; break;
        case O_PHOT: o.arch.uses_image = 0; break;
        case O_ENC: o.encoder_from = optarg; break;
        case O_SEED: if (gp_cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &v)) BAD("--seed"); o.seed = (uint64_t)v; break;
        case O_THREADS: if (gp_cli_parse_int(optarg, 0, 256, &v)) BAD("--threads"); o.threads = (int)v; break;
        case O_ENS: if (gp_cli_parse_int(optarg, 1, 16, &v)) BAD("--ensemble"); o.arch.ensemble = (int)v; break;
        case O_MAXROWS: if (gp_cli_parse_int(optarg, 1, 1L << 40, &v)) BAD("--max-rows"); o.max_rows = v; break;
        case O_VAEN: if (gp_cli_parse_int(optarg, 0, 1L << 40, &v)) BAD("--vae-count"); o.vae_count = v; break;
        case O_VEP: if (gp_cli_parse_int(optarg, 0, 100000, &v)) BAD("--vae-epochs"); o.vae_epochs = (int)v; break;
        case O_VB: if (gp_cli_parse_int(optarg, 1, 4096, &v)) BAD("--vae-batch"); o.vae_batch = (int)v; break;
        case O_VLR: if (gp_cli_parse_double(optarg, 1e-8, 1.0, &x)) BAD("--vae-lr"); o.vae_lr = (float)x; break;
        case O_VBETA: if (gp_cli_parse_double(optarg, 0.0, 1e6, &x)) BAD("--vae-beta"); o.vae_beta = x; break;
        case O_VSOFT: if (gp_cli_parse_double(optarg, 0.01, 1e4, &x)) BAD("--vae-soft"); o.vae_soft = x; break;
        case O_FEP: if (gp_cli_parse_int(optarg, 1, 100000, &v)) BAD("--flow-epochs"); o.flow_epochs = (int)v; break;
        case O_FB: if (gp_cli_parse_int(optarg, 1, 65536, &v)) BAD("--flow-batch"); o.flow_batch = (int)v; break;
        case O_FLR: if (gp_cli_parse_double(optarg, 1e-8, 1.0, &x)) BAD("--flow-lr"); o.flow_lr = (float)x; break;
        case O_PAT: if (gp_cli_parse_int(optarg, 1, 100000, &v)) BAD("--patience"); o.patience = (int)v; break;
        case O_CH: if (parse_list(optarg, o.arch.enc_channels, 3)) BAD("--enc-channels"); break;
        case O_LAT: if (gp_cli_parse_int(optarg, 1, 1024, &v)) BAD("--latent"); o.arch.latent = (int)v; break;
        case O_TRUNK: if (parse_list(optarg, o.arch.trunk, 2)) BAD("--trunk"); o.arch.trunk_layers = 2; break;
        case O_HH: if (gp_cli_parse_int(optarg, 1, 65536, &v)) BAD("--head-hidden"); o.arch.head_hidden = (int)v; break;
        case O_FH: if (gp_cli_parse_int(optarg, 1, 65536, &v)) BAD("--flow-hidden"); o.arch.flow_hidden = (int)v; break;
        case O_CPL: if (gp_cli_parse_int(optarg, 1, 32, &v)) BAD("--couplings"); o.arch.couplings = (int)v; break;
        case O_LOG: logpath = optarg; break;
        case O_BACKEND:
            if (gp_cli_parse_backend(optarg, &o.backend)) {
                fprintf(stderr, "galpost train: --backend must be auto, cpu or cuda, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
#undef BAD
    if (!out || optind >= argc) { usage(stderr); return 2; }
    if (o.vae_count == 0 && o.arch.uses_image && !o.encoder_from) {
        fprintf(stderr, "galpost train: --vae-count 0 leaves no galaxies to train the image model's VAE on "
                        "(0 is for --photometry, or with --encoder-from)\n");
        return 2;
    }
    o.data = (const char *const *)(argv + optind);
    o.ndata = argc - optind;
    /* the weights file (and an explicit log) must not replace an input */
    {
        const char *outs[2] = { out, logpath }, *outopt[2] = { "-o", "--log" };
        for (int k = 0; k < 2; k++) {
            if (!outs[k]) continue;
            int rc = gp_cli_output_clash("train", outopt[k], outs[k], "--encoder-from", o.encoder_from);
            for (int i = 0; i < o.ndata && !rc; i++) rc = gp_cli_output_clash("train", outopt[k], outs[k], "shard", o.data[i]);
            if (!rc && k == 1) rc = gp_cli_output_clash("train", "--log", logpath, "-o", out);
            if (rc) return rc;
        }
    }
    char wd[4096], lp[4200], cmd[4096];
    if (!workdir) { snprintf(wd, sizeof wd, "%s.work", out); workdir = wd; }
    o.out = out;
    o.workdir = workdir;
    size_t pos = (size_t)snprintf(cmd, sizeof cmd, "%s", argv[0]);   /* "galpost train" */
    for (int i = 1; i < argc && pos < sizeof cmd; i++) pos += (size_t)snprintf(cmd + pos, sizeof cmd - pos, " %s", argv[i]);
    o.command = cmd;
    o.progress = gp_cli_is_terminal();
    o.interrupted = &gp_cli_interrupted;
    gp_cli_interrupts_catch(NULL);
    gp_error err;
    gp_error_clear(&err);
    if (!logpath) { snprintf(lp, sizeof lp, "%s/train.log", workdir); logpath = lp; }
    int created = mkdir(workdir, 0777) == 0;
    if (!created && errno != EEXIST) {
        fprintf(stderr, "galpost train: cannot create the work directory %s: %s\n", workdir, strerror(errno));
        return 1;
    }
    FILE *logf = fopen(logpath, "a");
    if (!logf) {
        fprintf(stderr, "galpost train: cannot open the log %s\n", logpath);
        if (created) rmdir(workdir);
        return 1;
    }
    fprintf(logf, "# %s\n", cmd);
    o.log = logf;
    int st = gp_train_run(&o, &err);
    if (o.progress) fprintf(stderr, "\r\033[K");
    if (st) {
        fprintf(stderr, "galpost train: %s\n", err.msg);
        fprintf(logf, "error: %s\n", err.msg);
    }
    fclose(logf);
    /* a work directory this run created and left without a checkpoint holds
     * nothing to resume: remove what the run wrote there (the starting
     * weights, the default log) and the directory, when nothing else is in it */
    if (st && created) {
        char p[4200];
        snprintf(p, sizeof p, "%s/checkpoint.gpw", workdir);
        if (access(p, F_OK) != 0) {
            snprintf(p, sizeof p, "%s/init.gpw", workdir);
            unlink(p);
            if (logpath == lp) unlink(lp);
            rmdir(workdir);
        }
    }
    return st ? 1 : 0;
}
