/* gp_fits_util.c: cfitsio error text in a gp_error record, and object IDs (gp_fits_util.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>

#include "gp_fits_util.h"

int gp_fits_fail(gp_error *err, int status, const char *fmt, ...)
{
    char ctx[512], reason[FLEN_STATUS] = "", detail[FLEN_ERRMSG] = "", msg[FLEN_ERRMSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    fits_get_errstatus(status, reason);
    /* the oldest message usually names the cause (e.g. "failed to find or open") */
    int first = 1;
    while (fits_read_errmsg(msg)) {
        if (first) { memcpy(detail, msg, sizeof detail); first = 0; }
    }
    fits_clear_errmsg();
    if (detail[0] && strcmp(detail, reason))
        return GP_FAIL(err, GP_ERR_FITS, "%s: %s (%s)", ctx, reason, detail);
    return GP_FAIL(err, GP_ERR_FITS, "%s: %s", ctx, reason);
}

int gp_parse_objid(const char *s, uint64_t *id)
{
    while (*s == ' ') s++;
    *id = 0;
    if (!*s) return 0;
    if (*s == '-') return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    while (*end == ' ') end++;
    if (end == s || *end || errno) return -1;
    *id = (uint64_t)v;
    return 0;
}
