/*
 * gpd_visit.c: a walk over DS9's frames that leaves the display as the
 * user had it (main thread, through gp_xpa.h).
 *
 * DS9 answers `file`, `fits` and `fits header` for the current frame only
 * (its XPA takes no frame number for them), so reading every frame means
 * making each current in turn.  `frame N` also makes a hidden frame (Frame >
 * Active Frames, `frame hide`) active again, which puts it back into the
 * tile layout or the blink cycle for good.  gpd_visit_end() goes back to
 * the user's frame and hides again the frames that were hidden, whatever
 * happened on the way.
 */
#include <stdlib.h>
#include <string.h>

#include "gp_xpa.h"
#include "gpd_daemon.h"

static int list(const char *t, const char *what, int *ids, int max, int *n, gp_error *err)
{
    char *s = NULL;
    int st = gpx_get(t, what, &s, NULL, err);
    if (st) return st;
    *n = gpd_parse_int_list(s, ids, max);
    free(s);
    return GP_OK;
}

int gpd_visit_begin(gpd_visit *v, const char *target, int cur, gp_error *err)
{
    memset(v, 0, sizeof *v);
    v->target = target;
    v->cur = v->shown = cur;
    int active[GPD_VISIT_FRAMES], na = 0;
    int st = list(target, "frame all", v->ids, GPD_VISIT_FRAMES, &v->n, err);
    if (!st) st = list(target, "frame active", active, GPD_VISIT_FRAMES, &na, err);
    if (st) return st;
    for (int i = 0; i < v->n; i++) {
        int on = 0;
        for (int k = 0; k < na && !on; k++) on = active[k] == v->ids[i];
        v->hidden[i] = !on;
    }
    return GP_OK;
}

int gpd_visit_goto(gpd_visit *v, int frame, gp_error *err)
{
    if (frame == v->shown) return GP_OK;
    for (int i = 0; i < v->n; i++)
        if (v->ids[i] == frame && v->hidden[i]) v->hidden[i] = 2;   /* shown by us from here on */
    char p[32];
    snprintf(p, sizeof p, "frame %d", frame);
    v->shown = frame;   /* even when DS9 answers an error, it may have moved */
    return gpx_set(v->target, p, NULL, 0, err);
}

int gpd_visit_end(gpd_visit *v, int st, gp_error *err)
{
    gp_error spare, *e = st ? &spare : err;
    int rst = GP_OK;
    if (v->shown != v->cur) {
        char p[32];
        snprintf(p, sizeof p, "frame %d", v->cur);
        if (gpx_set(v->target, p, NULL, 0, e) == GP_OK) v->shown = v->cur;
        else if (!rst) rst = e->status;
        if (rst) e = &spare;
    }
    for (int i = 0; i < v->n; i++) {
        if (v->hidden[i] != 2) continue;
        char p[32];
        snprintf(p, sizeof p, "frame hide %d", v->ids[i]);
        if (gpx_set(v->target, p, NULL, 0, e) == GP_OK) v->hidden[i] = 1;
        else if (!rst) { rst = e->status; e = &spare; }
    }
    return st ? st : rst;
}
