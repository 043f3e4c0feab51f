/* gp_fits_util.c: cfitsio error text in a gp_error record, object IDs, mirror
 * images of masked pixels and the clipped local sky (gp_fits_util.h). */
#include <errno.h>
#include <math.h>
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

int gp_mirror_value(const float *sec, long x0, long y0, long w, long h,
                    double x, double y, double *v)
{
    if (!isfinite(x) || !isfinite(y)) return 0;
    double fx = floor(x), fy = floor(y);
    /* nearest pixel: floor or floor + 1, so it is one of the four below */
    long nx = (long)fx + (x - fx >= 0.5), ny = (long)fy + (y - fy >= 0.5);
    if (nx < x0 || nx >= x0 + w || ny < y0 || ny >= y0 + h ||
        !isfinite(sec[(ny - y0) * w + (nx - x0)]))
        return 0;
    double ax = x - fx, ay = y - fy, s = 0, ws = 0;
    for (int q = 0; q < 4; q++) {
        long xi = (long)fx + (q & 1), yi = (long)fy + (q >> 1);
        double wq = ((q & 1) ? ax : 1 - ax) * ((q >> 1) ? ay : 1 - ay);
        if (wq == 0 || xi < x0 || xi >= x0 + w || yi < y0 || yi >= y0 + h) continue;
        float p = sec[(yi - y0) * w + (xi - x0)];
        if (!isfinite(p)) continue;
        s += wq * p;
        ws += wq;
    }
    *v = s / ws;   /* ws >= 1/4: the nearest pixel's weight */
    return 1;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double median_sorted(const float *v, size_t n)
{
    return n % 2 ? v[n / 2] : 0.5 * ((double)v[n / 2 - 1] + (double)v[n / 2]);
}

size_t gp_clipped_sky(float *v, size_t n, double *sky, double *rms)
{
    float *dev = n ? malloc(sizeof(float) * n) : NULL;
    if (!dev) {
        *sky = *rms = NAN;
        return 0;
    }
    size_t m = n;
    double med = 0, sig = 0;
    for (int it = 0; it < 5 && m > 0; it++) {
        qsort(v, m, sizeof *v, cmp_float);
        med = median_sorted(v, m);
        for (size_t i = 0; i < m; i++) dev[i] = (float)fabs(v[i] - med);
        qsort(dev, m, sizeof *dev, cmp_float);
        sig = 1.4826 * median_sorted(dev, m);
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
            if (fabs(v[i] - med) <= 3.0 * sig || sig == 0) v[k++] = v[i];
        if (k == m) break;
        m = k;
    }
    free(dev);
    *sky = med;
    *rms = sig;
    return m;
}
