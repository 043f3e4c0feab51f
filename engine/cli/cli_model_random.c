/* cli_model_random.c: `galpost model random`, an untrained random-weight model. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "galpost/gp_model.h"
#include "cli/gp_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpost model random OUT.gpw [--seed S] [--small] [--photometry] [--ensemble K]\n"
        "  writes an UNTRAINED model with random weights and the full metadata of a\n"
        "  real one (for tests, demos and as a training start).\n"
        "  --small        narrow layers (fast tests)\n"
        "  --photometry   the photometry-only variant\n");
}

int gp_cli_model_random(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, 0, 's'}, {"small", no_argument, 0, 'S'},
        {"photometry", no_argument, 0, 'p'}, {"ensemble", required_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    gp_arch a = gp_arch_default();
    long seed = 1, k = 1;
    int small = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': if (gp_cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &seed)) { fprintf(stderr, "galpost model random: bad --seed '%s'\n", optarg); return 2; } break;
        case 'S': small = 1; break;
        case 'p': a.uses_image = 0; break;
        case 'k': if (gp_cli_parse_int(optarg, 1, 16, &k)) { fprintf(stderr, "galpost model random: --ensemble must be 1..16\n"); return 2; } break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) { usage(stderr); return 2; }
    a.ensemble = (int)k;
    if (small) {
        a.enc_channels[0] = 8; a.enc_channels[1] = 8; a.enc_channels[2] = 8;
        a.trunk[0] = 64; a.trunk[1] = 64; a.head_hidden = 32; a.flow_hidden = 32;
    }
    gp_error err;
    if (gp_model_write_random(argv[optind], &a, (uint64_t)seed, &err)) {
        fprintf(stderr, "galpost model random: %s\n", err.msg);
        return 1;
    }
    return 0;
}
