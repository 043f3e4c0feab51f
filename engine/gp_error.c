/* gp_error.c: the error record (see include/galpost/gp_error.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "galpost/gp_error.h"

void gp_error_clear(gp_error *err)
{
    if (!err) return;
    err->status = GP_OK;
    err->func = "";
    err->file = "";
    err->line = 0;
    err->msg[0] = '\0';
}

int gp_error_set(gp_error *err, int status, const char *func, const char *file,
                 int line, const char *fmt, ...)
{
    if (!err) return status;
    err->status = status;
    err->func = func ? func : "";
    err->file = file ? file : "";
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

void gp_error_prefix(gp_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%.400s: %.600s", prefix, old);
}

const char *gp_status_string(int status)
{
    static const char *const names[GP_STATUS_COUNT] = {
        "GP_OK", "GP_ERR_ARG", "GP_ERR_NOMEM", "GP_ERR_IO", "GP_ERR_FORMAT",
        "GP_ERR_NOTFOUND", "GP_ERR_DATA", "GP_ERR_FITS", "GP_ERR_WCS",
        "GP_ERR_BACKEND", "GP_ERR_XPA", "GP_ERR_INTERRUPTED", "GP_ERR_INTERNAL",
    };
    if (status < 0 || status >= GP_STATUS_COUNT) return "GP_ERR_UNKNOWN";
    return names[status];
}
