/* cli_util.c: argument parsing shared by the galpost sub-commands. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/gp_cli.h"

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
