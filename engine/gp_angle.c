/*
 * gp_angle.c: an angle typed by a user, in decimal degrees or sexagesimal
 * (RA in hours), for galpost infer --ra/--dec and galpostd's requests.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_image.h"

int gp_angle_parse(const char *s, int hours, double *deg)
{
    if (!s || !*s || !deg) return -1;
    char *end;
    errno = 0;
    if (!strchr(s, ':')) {
        /* decimal degrees only: strtod would also take hexadecimal ("0x10" as 16),
         * "inf" and "nan" */
        for (const char *q = s; *q; q++)
            if (!isdigit((unsigned char)*q) && !strchr("+-.eE", *q)) return -1;
        double v = strtod(s, &end);
        if (*end || errno || !isfinite(v)) return -1;
        *deg = v;
        return 0;
    }
    /* [+-]A:B[:C] */
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') { neg = *p == '-'; p++; }
    /* digits, points and colons only: strtod would take "0x10" as 16,
     * "1e1" as 10 and "inf" within a part too */
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q) && *q != '.' && *q != ':') return -1;
    double part[3] = { 0, 0, 0 };
    int k = 0;
    for (;;) {
        if (!isdigit((unsigned char)*p) && *p != '.') return -1;
        part[k] = strtod(p, &end);
        if (errno || end == p) return -1;
        k++;
        if (*end == '\0') break;
        if (*end != ':' || k == 3) return -1;
        p = end + 1;
    }
    if (k < 2 || part[1] >= 60 || part[2] >= 60) return -1;
    double v = part[0] + part[1] / 60.0 + part[2] / 3600.0;
    if (hours) v *= 15.0;
    *deg = neg ? -v : v;
    return 0;
}
