/*
 * cli_model.c: `galpost model ACTION ...`, inspect and create weights
 * files.  Each action is one entry of the `actions` table below, so new
 * ones (e.g. `model random`) are one function and one line.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "galpost/gp_model.h"
#include "galpost/gp_weights.h"
#include "cli/gp_cli.h"

struct model_action {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is "galpost model NAME" */
    const char *synopsis;                /* arguments after the action */
    const char *summary;
};

static int model_info(int argc, char **argv);

static const struct model_action actions[] = {
    { "info", model_info, "FILE",
      "validate a weights file and print its header, metadata and tensors" },
    { "random", gp_cli_model_random, "OUT.gpw [--seed S] [--small] [--photometry] [--ensemble K]",
      "write an UNTRAINED model with random weights (tests, demos, training start)" },
    { NULL, NULL, NULL, NULL }
};

static int is_help(const char *s)
{
    return !strcmp(s, "--help") || !strcmp(s, "-h");
}

static void model_usage(FILE *f)
{
    fprintf(f, "usage: galpost model ACTION [ARGS...]\n\nactions:\n");
    for (const struct model_action *a = actions; a->name; a++)
        fprintf(f, "  %s %-10s %s\n", a->name, a->synopsis, a->summary);
    fprintf(f, "\n'galpost model ACTION --help' describes an action; see galpost(1).\n");
}

/* `galpost model info FILE` */
static int model_info(int argc, char **argv)
{
    if (argc == 2 && is_help(argv[1])) {
        printf("usage: galpost model info FILE\n\n"
               "Validate the weights file FILE (layout, sizes, shapes, offsets,\n"
               "checksum, finite values) and print its header, every metadata\n"
               "entry and the tensor table with shapes, parameter counts and\n"
               "min/max/mean.  Exit status 0 on success, 1 when the file cannot\n"
               "be read or is invalid, 2 on a usage error.\n");
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        if (argc >= 2 && argv[1][0] == '-')
            fprintf(stderr, "galpost model info: unknown option '%s'\n", argv[1]);
        fprintf(stderr, "usage: galpost model info FILE\n");
        return 2;
    }
    gp_error err;
    gp_error_clear(&err);
    gp_weights *w = NULL;
    if (gp_weights_open(argv[1], &w, &err) != GP_OK) {
        fprintf(stderr, "galpost model info: %s\n", err.msg);
        return 1;
    }
    int st = gp_weights_print_info(w, stdout, &err);
    const char *variant = NULL;
    int is_model = gp_weights_meta_str(w, "model.variant", &variant, NULL) == GP_OK;
    gp_weights_close(w);
    if (st != GP_OK) {
        fprintf(stderr, "galpost model info: %s\n", err.msg);
        return 1;
    }
    if (!is_model) {
        printf("\n(no 'model.variant' key: a valid weights file, but not a galpost model)\n");
        return 0;
    }
    /* a model file: check that it loads as one and describe its stages */
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    o.threads = 1;
    gp_model *m = NULL;
    if (gp_model_open(argv[1], &o, &m, &err) != GP_OK) {
        fprintf(stderr, "galpost model info: not a usable model: %s\n", err.msg);
        return 1;
    }
    printf("\n");
    gp_model_print_architecture(m, stdout);
    gp_model_close(m);
    return 0;
}

int gp_cli_model(int argc, char **argv)
{
    if (argc < 2) {
        model_usage(stderr);
        return 2;
    }
    if (is_help(argv[1]) || !strcmp(argv[1], "help")) {
        model_usage(stdout);
        return 0;
    }
    for (const struct model_action *a = actions; a->name; a++)
        if (!strcmp(argv[1], a->name)) {
            static char name[48];   /* "galpost model random", as getopt's messages say it */
            snprintf(name, sizeof name, "galpost model %s", a->name);
            argv[1] = name;
            return a->run(argc - 1, argv + 1);
        }
    fprintf(stderr, "galpost model: unknown action '%s'\n", argv[1]);
    model_usage(stderr);
    return 2;
}
