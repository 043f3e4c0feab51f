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
 *
 * `frame N` of a frame that is gone creates a new, empty frame N, and the
 * user may delete frames while a request runs (DS9 serves its menus between
 * our XPA calls).  So DS9's frames are listed again before each frame is
 * made current and before the display is restored: a deleted frame is not
 * visited (the walk stops with an error naming it), not hidden again, and
 * a deleted user's frame is not made current again.  A deletion between
 * that listing and the next call is not seen (one XPA call cannot ask both).
 * As many frames as DS9 has are walked.
 */
#include <stdlib.h>
#include <string.h>

#include "gp_xpa.h"
#include "gpd_daemon.h"

/* DS9's frame numbers in `what` (`frame all`, `frame active`), as many as
 * it lists, in *ids (malloc'd, NULL when none). */
static int list(const char *t, const char *what, int **ids, int *n, gp_error *err)
{
    char *s = NULL;
    *ids = NULL;
    *n = 0;
    int st = gpx_get(t, what, &s, NULL, err);
    if (st) return st;
    /* no more numbers than half the characters, rounded up */
    size_t cap = strlen(s) / 2 + 1;
    *ids = malloc(sizeof **ids * cap);
    if (!*ids) {
        free(s);
        return GP_FAIL(err, GP_ERR_NOMEM, "out of memory for the frames of DS9 '%s'", t);
    }
    *n = gpd_parse_int_list(s, *ids, (int)cap);
    free(s);
    return GP_OK;
}

static int has(const int *ids, int n, int frame)
{
    for (int k = 0; k < n; k++)
        if (ids[k] == frame) return 1;
    return 0;
}

int gpd_visit_begin(gpd_visit *v, const char *target, int cur, gp_error *err)
{
    memset(v, 0, sizeof *v);
    v->target = target;
    v->cur = v->shown = cur;
    int *active = NULL, na = 0;
    int st = list(target, "frame all", &v->ids, &v->n, err);
    if (!st) st = list(target, "frame active", &active, &na, err);
    if (!st && v->n > 0 && !(v->hidden = calloc((size_t)v->n, sizeof *v->hidden)))
        st = GP_FAIL(err, GP_ERR_NOMEM, "out of memory for the frames of DS9 '%s'", target);
    if (st) {
        free(active);
        gpd_visit_free(v);
        return st;
    }
    for (int i = 0; i < v->n; i++) v->hidden[i] = !has(active, na, v->ids[i]);
    free(active);
    return GP_OK;
}

int gpd_visit_goto(gpd_visit *v, int frame, gp_error *err)
{
    if (frame == v->shown) return GP_OK;
    int *now = NULL, nnow = 0;
    int st = list(v->target, "frame all", &now, &nnow, err);
    if (st) return st;
    int there = has(now, nnow, frame);
    free(now);
    if (!there)
        return GP_FAIL(err, GP_ERR_NOTFOUND,
                       "frame %d of DS9 '%s' was deleted during the request: it was not read (nor made again); ask again",
                       frame, v->target);
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
    int *now = NULL, nnow = 0;
    if ((rst = list(v->target, "frame all", &now, &nnow, e))) {
        /* DS9 no longer answers: nothing can be restored */
        gpd_visit_free(v);
        return st ? st : rst;
    }
    if (!has(now, nnow, v->cur)) {
        /* the user's frame was deleted: DS9 shows what it shows now */
        char *s = NULL;
        gp_error e2;
        int shown = gpx_get(v->target, "frame", &s, NULL, &e2) == GP_OK ? atoi(s) : 0;
        free(s);
        v->cur_gone = 1;
        gpd_log(GPD_LOG_WARN, "DS9 '%s': frame %d, current when the request began, was deleted during it: "
                "not made again; DS9's current frame is left at %d", v->target, v->cur, shown);
        rst = GP_FAIL(e, GP_ERR_NOTFOUND,
                      "frame %d of DS9 '%s', current when the request began, was deleted during it: not made again "
                      "(DS9's current frame is left at %d); ask again", v->cur, v->target, shown);
        e = &spare;
    } else if (v->shown != v->cur) {
        char p[32];
        snprintf(p, sizeof p, "frame %d", v->cur);
        if (gpx_set(v->target, p, NULL, 0, e) == GP_OK) v->shown = v->cur;
        else { rst = e->status; e = &spare; }
    }
    for (int i = 0; i < v->n; i++) {
        if (v->hidden[i] != 2) continue;
        if (!has(now, nnow, v->ids[i])) {
            gpd_log(GPD_LOG_DEBUG, "DS9 '%s': frame %d was deleted during the request: not hidden again",
                    v->target, v->ids[i]);
            continue;
        }
        char p[32];
        snprintf(p, sizeof p, "frame hide %d", v->ids[i]);
        if (gpx_set(v->target, p, NULL, 0, e) == GP_OK) v->hidden[i] = 1;
        else if (!rst) { rst = e->status; e = &spare; }
    }
    free(now);
    gpd_visit_free(v);
    return st ? st : rst;
}

void gpd_visit_free(gpd_visit *v)
{
    free(v->ids);
    free(v->hidden);
    v->ids = v->hidden = NULL;
    v->n = 0;
}
