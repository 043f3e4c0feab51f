/* cli_util.c: argument parsing and interrupts shared by the galpost sub-commands. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/gp_cli.h"

volatile sig_atomic_t gp_cli_interrupted;

static void on_interrupt(int sig) { (void)sig; gp_cli_interrupted = 1; }

void gp_cli_interrupts_catch(gp_cli_signals *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    gp_cli_interrupted = 0;
    sigaction(SIGINT, &sa, saved ? &saved->sigint : NULL);
    sigaction(SIGTERM, &sa, saved ? &saved->sigterm : NULL);
}

void gp_cli_interrupts_restore(const gp_cli_signals *saved)
{
    if (!saved) return;
    sigaction(SIGINT, &saved->sigint, NULL);
    sigaction(SIGTERM, &saved->sigterm, NULL);
}

int gp_cli_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int gp_cli_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int gp_cli_is_terminal(void)
{
    return isatty(STDERR_FILENO);
}
