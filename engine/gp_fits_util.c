/* gp_fits_util.c: cfitsio error text in a gp_error record (gp_fits_util.h). */
#include <stdarg.h>
#include <stdio.h>
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
