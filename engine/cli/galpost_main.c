/* galpost_main.c: the `galpost` program, a dispatcher over sub-commands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cli/gp_cli.h"

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct subcommand commands[] = {
    /* one line per sub-command; keep in the order of the man page */
    { "infer", gp_cli_infer, "posterior inference on galaxies" },
    { "model", gp_cli_model, "inspect and create model weights files" },
    { "train", gp_cli_train, "train a model on training shards" },
    { "eval", gp_cli_eval, "evaluate a trained model on its held-out test split" },
    { "shards", gp_cli_shards, "training shards from a real SDSS export and its frames" },
    { "mock", gp_cli_mock, "simulate SDSS-like galaxies, training shards and fields" },
    { NULL, NULL, NULL }
};

static void usage(FILE *f)
{
    fprintf(f, "usage: galpost COMMAND [ARGS...]\n\ncommands:\n");
    for (const struct subcommand *c = commands; c->name; c++)
        fprintf(f, "  %-8s %s\n", c->name, c->summary);
    fprintf(f, "\n'galpost COMMAND --help' describes a command; see galpost(1).\n");
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("galpost %s\n", PACKAGE_VERSION); return 0; }
    for (const struct subcommand *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) {
            /* the sub-command's argv[0] is its whole name, which getopt's own
             * messages start with ("galpost eval: unrecognized option ...") */
            static char name[32];
            snprintf(name, sizeof name, "galpost %s", c->name);
            argv[1] = name;
            return c->run(argc - 1, argv + 1);
        }
    fprintf(stderr, "galpost: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    gp_cli_stdin_hold();
    int rc = dispatch(argc, argv);
    /* a result that never reached standard output (a full disk, a closed
     * pipe) is a failure, not a success: flush it and look */
    errno = 0;
    int e = fflush(stdout) ? errno : 0;
    if (ferror(stdout) || e) {
        /* (a sub-command that failed has said why already) */
        if (!rc) fprintf(stderr, "galpost: cannot write to standard output: %s\n", e ? strerror(e) : "write error");
        if (!rc) rc = 1;
    }
    /* a sub-command that caught SIGINT or SIGTERM (and has stopped
     * cleanly and said where, or finished what it was doing) ends by that
     * signal, as an uncaught one would: exit status 130 or 143 in the
     * shell, and a shell loop stops */
    fflush(stderr);
    gp_cli_exit_by_signal();
    return rc;
}
