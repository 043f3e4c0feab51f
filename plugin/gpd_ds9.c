/*
 * gpd_ds9.c: what galpostd asks DS9 and tells it, through gp_xpa.h: the
 * positions (regions, crosshair), the band images among the frames, the
 * text overlay, the BPT plot and clearing.  Main thread only.
 *
 * Reading the frames means making each frame current in turn (DS9 answers
 * `file` and `fits header` for the current frame only); the user's current
 * frame, hidden frames (gpd_visit.c) and RGB channels are restored before
 * anything else happens, also when reading fails halfway.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_xpa.h"
#include "gpd_daemon.h"

static void chomp(char *s)
{
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1])) s[--l] = '\0';
    size_t k = 0;
    while (isspace((unsigned char)s[k])) k++;
    if (k) memmove(s, s + k, strlen(s + k) + 1);
}

/* xpaget into a trimmed string. */
static int get_text(const char *t, const char *params, char **out, gp_error *err)
{
    size_t len;
    int st = gpx_get(t, params, out, &len, err);
    if (!st) chomp(*out);
    return st;
}

static int set_cmd(const char *t, gp_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int set_cmd(const char *t, gp_error *err, const char *fmt, ...)
{
    char p[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    return gpx_set(t, p, NULL, 0, err);
}

/* ----------------------------------------------------------- gather */

static int add_source(gpd_job *job, int frame, const char *channel, int band, const char *path,
                      char *mem, size_t memlen)
{
    gpd_source *s = realloc(job->src, sizeof *s * (size_t)(job->nsrc + 1));
    if (!s) return -1;
    job->src = s;
    gpd_source *n = &s[job->nsrc++];
    memset(n, 0, sizeof *n);
    n->frame = frame;
    snprintf(n->channel, sizeof n->channel, "%s", channel);
    n->band = band;
    snprintf(n->path, sizeof n->path, "%s", path);
    n->mem = mem;
    n->memlen = memlen;
    return 0;
}

/* The band of the current frame (or channel).  For a file, its name tells
 * at once (the worker then reads the FILTER keyword from the file itself,
 * which wins); otherwise DS9 is asked for the FILTER keyword. */
static int current_band(const char *t, const char *path)
{
    int band = path[0] ? gp_band_from_filename(path) : GP_BAND_UNKNOWN;
    if (band != GP_BAND_UNKNOWN) return band;
    char *filt = NULL;
    gp_error e2;
    if (get_text(t, "fits header keyword FILTER", &filt, &e2) == GP_OK) {
        band = gp_band_from_filter(filt);   /* DS9 returns the value without quotes */
        free(filt);
    }
    return band;
}

/* GPD_TEST_FAIL_FRAME="N" or "N CHANNEL" (tests only: tests/test_ds9_display.sh):
 * reading frame N (its RGB channel CHANNEL) fails, as an XPA error halfway
 * through the frames would (DS9 busy past the timeout, a frame deleted). */
static int test_failure(int frame, const char *channel, gp_error *err)
{
    const char *e = getenv("GPD_TEST_FAIL_FRAME");
    int n = 0, used = 0;
    if (!e || sscanf(e, "%d%n", &n, &used) != 1 || n != frame) return GP_OK;
    while (e[used] == ' ') used++;
    if (strcmp(e + used, channel)) return GP_OK;
    return GP_FAIL(err, GP_ERR_XPA, "reading frame %d%s%s failed (GPD_TEST_FAIL_FRAME)", frame,
                   channel[0] ? " " : "", channel);
}

/* Record the current frame (or RGB channel) as a source. */
static int read_current(gpd_job *job, int frame, const char *channel, char *cwd, size_t cwdlen,
                        gp_error *err)
{
    const char *t = job->target;
    char *file = NULL;
    int st = test_failure(frame, channel, err);
    if (st) return st;
    st = get_text(t, "file", &file, err);
    if (st) return st;
    char path[GPD_PATH_MAX] = "";
    if (file[0] && file[0] != '/' && !cwd[0]) {
        /* a relative name: relative to DS9's working directory */
        char *s = NULL;
        if (get_text(t, "cd", &s, err) == GP_OK) {
            snprintf(cwd, cwdlen, "%s", s);
            free(s);
        }
    }
    if (file[0]) {
        if (file[0] != '/' && cwd[0]) snprintf(path, sizeof path, "%s/%s", cwd, file);
        else snprintf(path, sizeof path, "%s", file);
    }
    free(file);
    /* an empty frame has no FITS: skip it */
    char *has = NULL;
    gp_error e2;
    if (!path[0] && get_text(t, "frame has fits", &has, &e2) == GP_OK) {
        int empty = !strcmp(has, "no");
        free(has);
        if (empty) return GP_OK;
    }
    int band = current_band(t, path);
    if (band == GP_BAND_UNKNOWN && channel[0]) {
        /* an RGB frame's channels, as in SDSS irg colour images */
        if (!strcmp(channel, "red")) band = GP_BAND_I;
        else if (!strcmp(channel, "green")) band = GP_BAND_R;
        else if (!strcmp(channel, "blue")) band = GP_BAND_G;
    }
    char *mem = NULL, *hdr = NULL;
    size_t memlen = 0;
    const char *note = NULL;
    gpd_file_id fid;
    int trusted = 0;
    memset(&fid, 0, sizeof fid);
    if (path[0]) {
        /* the pixels are read from the file: it must still be what DS9
         * shows (gpd_header.c).  When it is not, or is gone, the frame's
         * FITS comes from DS9 instead.  A file found to be what DS9 shows
         * and unchanged since is not compared again (gpd_verified.c); its
         * identity is taken before anything is read, so that a change
         * while it is read shows as another identity next time. */
        size_t hl;
        gp_error e3;
        char why[512] = "", nm[GPD_PATH_MAX + 64];
        gpd_file_identity(path, &fid);
        trusted = fid.ok && gpd_verified_lookup(job->ds9id, t, frame, channel, path, &fid);
        gpd_verified_count(!trusted);
        if (trusted) {
            gpd_log(GPD_LOG_DEBUG, "frame %d%s%s (%s): unchanged since found to be what DS9 shows: not compared again",
                    frame, channel[0] ? " " : "", channel, path);
        } else if (gpx_get(t, "fits header", &hdr, &hl, &e3) != GP_OK) {
            gpd_log(GPD_LOG_DEBUG, "frame %d: no header from DS9 to check %s against: %s", frame, path, e3.msg);
            hdr = NULL;
        } else {
            int fs = gpd_header_check_file(path, hdr, why, sizeof why);
            /* a plain file the same: remembered (a compressed one when the
             * worker found it the same: gpd_verified_from_worker) */
            if (fs == GPD_FILE_SAME && fid.ok) gpd_verified_record(job->ds9id, t, frame, channel, path, &fid);
            if (fs == GPD_FILE_CHANGED || fs == GPD_FILE_GONE) {
                gpd_verified_forget(job->ds9id, t, frame, channel);
                note = fs == GPD_FILE_GONE ? "the file is gone" : "the file changed after loading";
                gpd_source tmp = { .frame = frame };
                snprintf(tmp.channel, sizeof tmp.channel, "%s", channel);
                snprintf(tmp.path, sizeof tmp.path, "%s", path);
                gpd_log(GPD_LOG_WARN, "%s: the file on disk is not what DS9 shows (%s: %s): its pixels are read from DS9",
                        gpd_source_name(&tmp, nm, sizeof nm), fs == GPD_FILE_GONE ? "it is gone" : "it changed after loading", why);
                st = gpx_get(t, "fits", &mem, &memlen, err);
                if (st) { free(hdr); return st; }
            }
        }
    }
    if (!path[0] && (band != GP_BAND_UNKNOWN || frame == job->cur_frame)) {
        /* loaded from a pipe: fetch the frame's FITS (the current frame's
         * whatever its band: its WCS places the overlay and, for a
         * photometry-only model, the galaxy) */
        st = gpx_get(t, "fits", &mem, &memlen, err);
        if (st) return st;
    }
    if (add_source(job, frame, channel, band, path, mem, memlen)) {
        free(mem);
        free(hdr);
        return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
    }
    job->src[job->nsrc - 1].hdr = hdr;
    job->src[job->nsrc - 1].file_note = note;
    job->src[job->nsrc - 1].id = fid;
    job->src[job->nsrc - 1].trusted = trusted;
    return GP_OK;
}

static int have_gri(const gpd_job *job)
{
    int have[GP_NBANDS] = { 0 };
    for (int i = 0; i < job->nsrc; i++)
        if (job->src[i].band >= 0) have[job->src[i].band] = 1;
    return have[GP_BAND_G] && have[GP_BAND_R] && have[GP_BAND_I];
}

static int gather_positions(gpd_job *job, gp_error *err)
{
    const char *t = job->target;
    int max = job->cfg.max_galaxies;
    if (job->args.where == GPD_WHERE_POSITION) {
        job->shapes = calloc(1, sizeof *job->shapes);
        if (!job->shapes) return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
        job->shapes[0].ra = job->args.ra;
        job->shapes[0].dec = job->args.dec;
        job->nshape = 1;
        return GP_OK;
    }
    if (job->args.where == GPD_WHERE_CROSSHAIR) {
        char *w = NULL, *im = NULL, *mode = NULL;
        /* DS9 keeps a crosshair position in every mode, but shows it only in
         * crosshair mode: inferring at one the observer cannot see is a surprise */
        int st = get_text(t, "mode", &mode, err);
        if (st) return st;
        mode[strcspn(mode, " \n")] = '\0';
        if (strcmp(mode, "crosshair")) {
            st = GP_FAIL(err, GP_ERR_NOTFOUND,
                         "DS9 '%s' is in %s mode, so it shows no crosshair: choose Edit > Crosshair and click the galaxy "
                         "(or use: infer selected | infer RA DEC)", t, mode[0] ? mode : "another");
            free(mode);
            return st;
        }
        free(mode);
        st = get_text(t, "crosshair wcs icrs degrees", &w, err);
        if (st) return st;
        double ra, dec;
        if (sscanf(w, "%lf %lf", &ra, &dec) != 2 || !(dec >= -90 && dec <= 90)) {
            st = GP_FAIL(err, GP_ERR_WCS, "DS9 '%s' gave no sky position for the crosshair ('%s'): does frame %d have a celestial WCS?",
                         t, w, job->cur_frame);
            free(w);
            return st;
        }
        free(w);
        job->shapes = calloc(1, sizeof *job->shapes);
        if (!job->shapes) return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
        job->shapes[0].ra = ra;
        job->shapes[0].dec = dec;
        if (get_text(t, "crosshair image", &im, err) == GP_OK &&
            sscanf(im, "%lf %lf", &job->shapes[0].x, &job->shapes[0].y) == 2)
            job->shapes[0].has_image = 1;
        free(im);
        job->nshape = 1;
        return GP_OK;
    }
    const char *sel = job->args.where == GPD_WHERE_SELECTED ? " selected" : "";
    char q[256];
    char *w = NULL, *im = NULL;
    snprintf(q, sizeof q, "regions%s -format ds9 -system wcs -sky icrs -skyformat degrees", sel);
    int st = gpx_get(t, q, &w, NULL, err);
    if (st) return st;
    /* image positions for the overlay come from the frame's WCS (worker) */
    int sky = strstr(w, "\nicrs") != NULL || !strncmp(w, "icrs", 4);
    /* room for every region a frame may reasonably hold, so that those beyond
     * max_galaxies are counted and reported rather than dropped unseen */
    int cap = max > GPD_REGIONS_COUNTED ? max : GPD_REGIONS_COUNTED;
    job->shapes = calloc((size_t)cap, sizeof *job->shapes);
    if (!job->shapes) { free(w); return GP_FAIL(err, GP_ERR_NOMEM, "out of memory"); }
    int total = sky ? gpd_parse_regions(w, NULL, job->shapes, cap) : 0;
    job->nshape = total < max ? total : max;
    job->nskipped = total - job->nshape;
    int any = strchr(w, '(') != NULL;
    if (job->nshape == 0 && !any) {
        /* a frame without a celestial WCS lists no regions in wcs: the
         * image listing still has them */
        snprintf(q, sizeof q, "regions%s -format ds9 -system image", sel);
        if (gpx_get(t, q, &im, NULL, err) == GP_OK && strchr(im, '(')) any = 1;
    }
    free(w);
    free(im);
    if (job->nshape == 0) {
        if (any && !sky)
            return GP_FAIL(err, GP_ERR_WCS,
                           "frame %d of DS9 '%s' has no celestial WCS: its regions have no sky position",
                           job->cur_frame, t);
        if (job->args.where == GPD_WHERE_SELECTED)
            return GP_FAIL(err, GP_ERR_NOTFOUND,
                           "no region is selected in frame %d of DS9 '%s': draw a circle on the galaxy and select it "
                           "(or use: infer all | infer crosshair | infer RA DEC)", job->cur_frame, t);
        return GP_FAIL(err, GP_ERR_NOTFOUND, "no regions in frame %d of DS9 '%s': draw a circle on a galaxy",
                       job->cur_frame, t);
    }
    return GP_OK;
}

/* DS9's XPA method identifies it whether it was named by title or method.
 * Remembered per target name until a call to that target fails. */
static struct { char target[1024], id[1024]; } ident[8];
static int nident;

static void identity_forget(const char *target)
{
    for (int i = 0; i < nident; i++)
        if (!strcmp(ident[i].target, target)) ident[i] = ident[--nident];
}

void gpd_ds9_identity(gpd_job *job)
{
    for (int i = 0; i < nident; i++)
        if (!strcmp(ident[i].target, job->target)) {
            snprintf(job->ds9id, sizeof job->ds9id, "%s", ident[i].id);
            return;
        }
    char *s = NULL;
    gp_error e;
    snprintf(job->ds9id, sizeof job->ds9id, "%s", job->target);
    if (get_text(job->target, "xpa info", &s, &e) != GP_OK) return;
    char *m = strstr(s, "XPA_METHOD:");
    if (m) {
        m += 11;
        while (*m == ' ' || *m == '\t') m++;
        size_t l = strcspn(m, " \t\r\n");
        if (l > 0 && l < sizeof job->ds9id) {
            memcpy(job->ds9id, m, l);
            job->ds9id[l] = '\0';
            if (nident == 8) nident--;
            snprintf(ident[nident].target, sizeof ident[nident].target, "%s", job->target);
            snprintf(ident[nident].id, sizeof ident[nident].id, "%s", job->ds9id);
            nident++;
        }
    }
    free(s);
}

int gpd_ds9_gather(gpd_job *job, gp_error *err)
{
    const char *t = job->target;
    char *s = NULL;
    int st = get_text(t, "frame", &s, err);
    if (st) {
        identity_forget(t);   /* DS9 may come back under the same name */
        gpd_verified_forget_target(t);
        return st;
    }
    job->cur_frame = atoi(s);
    free(s);
    if (job->cur_frame <= 0) return GP_FAIL(err, GP_ERR_NOTFOUND, "DS9 '%s' has no frame", t);
    gpd_ds9_identity(job);
    job->zoom = 1.0;
    if (get_text(t, "zoom", &s, err) == GP_OK) {
        double z = atof(s);
        if (z > 0 && isfinite(z)) job->zoom = z;
        free(s);
    }
    if (job->kind == GPD_JOB_INFER && (st = gather_positions(job, err))) return st;

    char cwd[GPD_PATH_MAX] = "";   /* DS9's working directory, when needed */
    gpd_visit v;
    if ((st = gpd_visit_begin(&v, t, job->cur_frame, err))) return st;
    gpd_verified_prune(job->ds9id, t, v.ids, v.n);   /* frames deleted since */
    for (int i = 0; i < v.n && !st; i++) {
        st = gpd_visit_goto(&v, v.ids[i], err);
        if (!st) st = read_current(job, v.ids[i], "", cwd, sizeof cwd, err);
    }
    /* RGB frames: only when g, r and i are not all found as plain frames.
     * Setting the channel of a plain frame does nothing; of an RGB frame,
     * `rgb channel` then reads back what was set.  The frame's channel is
     * set back to the user's before leaving it, whatever happened. */
    for (int i = 0; i < v.n && !st && !have_gri(job); i++) {
        st = gpd_visit_goto(&v, v.ids[i], err);
        char *orig = NULL;
        if (!st) st = get_text(t, "rgb channel", &orig, err);
        if (st) break;
        const char *probe = strcmp(orig, "green") ? "green" : "blue";
        char *got = NULL;
        st = set_cmd(t, err, "rgb channel %s", probe);
        if (!st) st = get_text(t, "rgb channel", &got, err);
        int is_rgb = !st && !strcmp(got, probe);
        free(got);
        if (is_rgb) {
            /* drop what the plain pass recorded for this frame */
            for (int k = 0; k < job->nsrc; k++)
                if (job->src[k].frame == v.ids[i] && !job->src[k].channel[0]) {
                    free(job->src[k].mem);
                    free(job->src[k].hdr);
                    job->src[k] = job->src[--job->nsrc];
                    k--;
                }
            static const char *const ch[3] = { "red", "green", "blue" };
            for (int c = 0; c < 3 && !st; c++) {
                st = set_cmd(t, err, "rgb channel %s", ch[c]);
                if (!st) st = read_current(job, v.ids[i], ch[c], cwd, sizeof cwd, err);
            }
        }
        if (is_rgb || st) {
            gp_error e2;
            int rs = set_cmd(t, st ? &e2 : err, "rgb channel %s", orig);
            if (!st) st = rs;
        }
        free(orig);
    }
    /* give the user back the frame they were on, and hide what was hidden */
    return gpd_visit_end(&v, st, err);
}

/* ---------------------------------------------------------- publish */

/* Draw the posterior datasets of the job's results, recording their DS9
 * dataset numbers (DS9 does not reuse the numbers of deleted datasets). */
static int plot_posteriors(gpd_daemon *d, gpd_job *job, gp_error *err)
{
    const char *t = job->target;
    static const char *const colours[] = { "blue", "cyan", "green", "orange", "purple", "brown" };
    int k = 0, st = GP_OK;
    for (int i = 0; i < job->nshape && !st && k < 16; i++) {
        gpd_outcome *o = &job->out[i];
        if (o->status != GP_OK) continue;
        int n = 0;
        char *data = gpd_format_bpt_points(&o->res, &n);
        if (!data) return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
        if (n == 0) { free(data); continue; }
        st = gpx_set(t, "plot data xy", data, strlen(data), err);
        free(data);
        if (st) break;
        k++;
        char *num = NULL;
        if ((st = get_text(t, "plot current dataset", &num, err))) break;
        if (d->plot_posteriors < (int)(sizeof d->plot_dataset / sizeof d->plot_dataset[0]))
            d->plot_dataset[d->plot_posteriors++] = atoi(num);
        free(num);
        const char *col = colours[(k - 1) % (int)(sizeof colours / sizeof colours[0])];
        if (!st) st = set_cmd(t, err, "plot name {#%d posterior}", o->res.id);
        if (!st) st = set_cmd(t, err, "plot line width 0");
        if (!st) st = set_cmd(t, err, "plot line shape symbol circle");
        if (!st) st = set_cmd(t, err, "plot line shape color %s", col);
        if (!st) st = set_cmd(t, err, "plot line shape fill yes");
    }
    return st;
}

/* The BPT diagram in a DS9 plot window "galpost_bpt".  The window, its
 * curves and axes are made once per DS9; later results only replace the
 * posterior datasets (a new window costs about 100 ms, a swap 30 ms). */
static int plot_bpt(gpd_daemon *d, gpd_job *job, gp_error *err)
{
    const char *t = job->target;
    const char *ref = "galpost_bpt";
    char *names = NULL;
    int st, exists = 0;
    if ((st = get_text(t, "plot", &names, err))) return st;
    for (char *p = strtok(names, " \n"); p; p = strtok(NULL, " \n"))
        if (!strcmp(p, ref)) exists = 1;
    free(names);
    char title[256] = "BPT diagram: galpost";
    for (int i = 0; i < job->nshape && strlen(title) < 200; i++)
        if (job->out[i].status == GP_OK)
            snprintf(title + strlen(title), sizeof title - strlen(title), " #%d", job->out[i].res.id);
    if (!job->ds9id[0]) gpd_ds9_identity(job);
    int reuse = exists && !strcmp(d->plot_target, job->ds9id) && d->plot_posteriors >= 0;
    if (reuse) {
        st = set_cmd(t, err, "plot current %s", ref);
        for (int k = d->plot_posteriors - 1; k >= 0 && !st; k--)
            if (!(st = set_cmd(t, err, "plot current dataset %d", d->plot_dataset[k])))
                st = set_cmd(t, err, "plot delete dataset");
        if (!st) st = set_cmd(t, err, "plot title {%s}", title);
        if (st) {
            /* the plot is not as it was left (a dataset deleted or the window
             * changed by hand): build it afresh instead of failing this job
             * and every later one */
            gp_error_clear(err);
            d->plot_target[0] = '\0';
            reuse = 0;
        } else {
            d->plot_posteriors = 0;
        }
    }
    if (!reuse) {
        if (exists && ((st = set_cmd(t, err, "plot current %s", ref)) || (st = set_cmd(t, err, "plot close"))))
            return st;
        d->plot_target[0] = '\0';
        if ((st = set_cmd(t, err, "plot line %s {%s} {log([NII]6584/Halpha)} {log([OIII]5007/Hbeta)} xy", ref, title)))
            return st;
        static const char *const curve_colour[GPD_BPT_CURVES] = { "black", "red", "magenta" };
        for (int c = 0; c < GPD_BPT_CURVES; c++) {
            int n = 0;
            char *data = gpd_format_bpt_curve(c, &n);
            if (!data) return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
            st = gpx_set(t, "plot data xy", data, strlen(data), err);
            free(data);
            if (!st) st = set_cmd(t, err, "plot name {%s}", gpd_bpt_curve_name(c));
            if (!st) st = set_cmd(t, err, "plot line color %s", curve_colour[c]);
            if (!st) st = set_cmd(t, err, "plot line width 2");
            if (!st && c == 0) st = set_cmd(t, err, "plot line dash yes");
            if (st) return st;
        }
        const struct { const char *ax; double lo, hi; } ax[2] = {
            { "x", GPD_BPT_XMIN, GPD_BPT_XMAX }, { "y", GPD_BPT_YMIN, GPD_BPT_YMAX } };
        for (int a = 0; a < 2; a++)
            if ((st = set_cmd(t, err, "plot axis %s auto no", ax[a].ax)) ||
                (st = set_cmd(t, err, "plot axis %s min %g", ax[a].ax, ax[a].lo)) ||
                (st = set_cmd(t, err, "plot axis %s max %g", ax[a].ax, ax[a].hi)))
                return st;
        if ((st = set_cmd(t, err, "plot legend yes"))) return st;
        snprintf(d->plot_target, sizeof d->plot_target, "%s", job->ds9id);
        d->plot_posteriors = 0;
    }
    st = plot_posteriors(d, job, err);
    if (st) d->plot_target[0] = '\0';   /* unknown state: rebuild next time */
    return st;
}

/* Whether DS9's `regions group` listing holds the group `name`. */
static int group_listed(const char *groups, const char *name)
{
    size_t l = strlen(name);
    for (const char *p = groups; (p = strstr(p, name)); p += l) {
        int start = p == groups || strchr(" \t\n{", p[-1]);
        int end = !p[l] || strchr(" \t\n}", p[l]);
        if (start && end) return 1;
    }
    return 0;
}

/* Forget the overlays of this frame that are no longer in DS9 (deleted by
 * hand: Region > Delete All, the Groups dialog), so that later lines no
 * longer keep clear of them.  One call, and only when some are remembered;
 * DS9 lists the groups of its current frame, where the overlay goes.  When
 * DS9 does not answer, everything is kept (the drawing fails next anyway). */
static void forget_deleted(gpd_daemon *d, const gpd_job *job)
{
    int any = 0;
    for (int k = 0; k < d->ndrawn && !any; k++)
        any = d->drawn[k].frame == job->cur_frame && !strcmp(d->drawn[k].target, job->ds9id);
    if (!any) return;
    char *groups = NULL;
    gp_error e;
    if (get_text(job->target, "regions group", &groups, &e) != GP_OK) {
        gpd_log(GPD_LOG_DEBUG, "cannot list DS9's region groups: %s", e.msg);
        return;
    }
    for (int k = 0; k < d->ndrawn; k++) {
        struct gpd_drawn *dr = &d->drawn[k];
        if (dr->frame != job->cur_frame || strcmp(dr->target, job->ds9id)) continue;
        char name[32];
        snprintf(name, sizeof name, "galpost-%d", dr->id);
        if (group_listed(groups, name)) continue;
        gpd_log(GPD_LOG_DEBUG, "result #%d's lines were deleted from frame %d: no longer kept clear of", dr->id, dr->frame);
        memmove(dr, dr + 1, sizeof *dr * (size_t)(d->ndrawn - k - 1));
        d->ndrawn--;
        k--;
    }
    free(groups);
}

int gpd_ds9_publish(gpd_daemon *d, gpd_job *job, gp_error *err)
{
    const char *t = job->target;
    int st = GP_OK;
    if (job->cfg.overlay) {
        /* the previous overlay of the same galaxy, and old error texts, go */
        static char err_drawn[1024];   /* the DS9 with error texts */
        if (!strcmp(err_drawn, job->ds9id)) {
            if ((st = set_cmd(t, err, "regions group galpost-error delete"))) return st;
            err_drawn[0] = '\0';
        }
        for (int i = 0; i < job->nshape; i++)
            if (job->out[i].status != GP_OK) snprintf(err_drawn, sizeof err_drawn, "%s", job->ds9id);
        forget_deleted(d, job);
        /* the previous overlay of each galaxy inferred again goes */
        for (int i = 0; i < job->nshape; i++) {
            if (job->out[i].status != GP_OK) continue;
            const gpd_result *r = &job->out[i].res;
            for (int k = 0; k < d->ndrawn; k++) {
                struct gpd_drawn *dr = &d->drawn[k];
                double near = fmax(3.0, 0.5 * fmax(dr->radius, r->radius));
                if (dr->frame != job->cur_frame || strcmp(dr->target, job->ds9id) ||
                    gp_sky_separation(dr->ra, dr->dec, r->ra, r->dec) > near)
                    continue;
                if ((st = set_cmd(t, err, "regions group galpost-%d delete", dr->id))) return st;
                d->drawn[k--] = d->drawn[--d->ndrawn];
            }
        }
        /* what each galaxy's lines keep clear of: the overlays still drawn in
         * this frame (their lines where DS9 shows them at this zoom: each
         * keeps its place in the image and its size on the screen), the
         * request's galaxies, and the lines placed before them (neighbours'
         * overlays covered each other) */
        double zoom = job->zoom > 0 && isfinite(job->zoom) ? job->zoom : 1.0;
        int marker = job->args.where == GPD_WHERE_CROSSHAIR || job->args.where == GPD_WHERE_POSITION;
        char *all = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&all, &len);
        if (!f) return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
        gpd_box *avoid = malloc(sizeof *avoid * (size_t)(2 * d->ndrawn + 2 * job->nshape + 1));
        if (!avoid) { fclose(f); free(all); return GP_FAIL(err, GP_ERR_NOMEM, "out of memory"); }
        int na = 0;
        for (int k = 0; k < d->ndrawn; k++) {
            const struct gpd_drawn *dr = &d->drawn[k];
            if (!dr->has_box || dr->frame != job->cur_frame || strcmp(dr->target, job->ds9id)) continue;
            avoid[na++] = dr->galaxy;
            gpd_lines_box(&dr->lines, zoom, &avoid[na++]);
        }
        int *gal = malloc(sizeof(int) * (size_t)(job->nshape ? job->nshape : 1));
        if (!gal) { free(avoid); fclose(f); free(all); return GP_FAIL(err, GP_ERR_NOMEM, "out of memory"); }
        for (int i = 0; i < job->nshape; i++) {
            const gpd_outcome *o = &job->out[i];
            gal[i] = -1;
            if (o->status != GP_OK || !o->has_image) continue;
            double rg = fmax(o->rpix, 6.0 / zoom);
            gal[i] = na;
            avoid[na++] = (gpd_box){ o->x - rg, o->x + rg, o->y - rg, o->y + rg };
        }
        for (int i = 0; i < job->nshape; i++) {
            gpd_outcome *o = &job->out[i];
            char *reg;
            gpd_box lines = { 0, 0, 0, 0 };
            int place = GPD_PLACE_RIGHT;
            if (o->status != GP_OK) {
                reg = gpd_format_error_region(job->shapes[i].ra, job->shapes[i].dec, o->message);
            } else if (o->has_image) {
                /* its own galaxy is not in the way */
                gpd_box own = avoid[gal[i]];
                avoid[gal[i]] = (gpd_box){ 0, 0, 0, 0 };
                place = gpd_overlay_place(&o->res, o->x, o->y, o->rpix, zoom, avoid, na, &lines);
                avoid[gal[i]] = own;
                avoid[na++] = lines;
                reg = gpd_format_overlay_at(&o->res, o->x, o->y, o->rpix, zoom, marker, place);
            } else {
                reg = gpd_format_overlay_sky(&o->res, 14.0 / zoom * GP_PIXEL_SCALE, marker);
            }
            if (reg) fputs(reg, f);
            free(reg);
            if (o->status != GP_OK) continue;
            if (d->ndrawn == GPD_RESULTS_KEPT) memmove(d->drawn, d->drawn + 1, sizeof d->drawn[0] * --d->ndrawn);
            struct gpd_drawn *dr = &d->drawn[d->ndrawn++];
            memset(dr, 0, sizeof *dr);
            snprintf(dr->target, sizeof dr->target, "%s", job->ds9id);
            dr->frame = job->cur_frame;
            dr->id = o->res.id;
            dr->ra = o->res.ra;
            dr->dec = o->res.dec;
            dr->radius = o->res.radius;
            if (o->has_image) {
                dr->has_box = 1;
                dr->galaxy = avoid[gal[i]];
                gpd_overlay_lines(&o->res, o->x, o->y, o->rpix, zoom, place, &dr->lines);
            }
        }
        free(avoid);
        free(gal);
        fclose(f);
        if (!all) return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
        st = gpx_set(t, "regions", all, strlen(all), err);
        free(all);
        if (st) return st;
    }
    if (job->cfg.plot && job->nok > 0) st = plot_bpt(d, job, err);
    return st;
}

int gpd_ds9_plot(gpd_daemon *d, gpd_job *job, gp_error *err)
{
    return plot_bpt(d, job, err);
}

/* A failed request, in DS9's analysis text window (non-modal). */
void gpd_ds9_show_error(const char *target, const char *message)
{
    char text[1400];
    snprintf(text, sizeof text, "galpost: %s\n", message);
    gp_error e;
    if (gpx_set(target, "analysis text", text, strlen(text), &e))
        gpd_log(GPD_LOG_DEBUG, "cannot show the error in DS9: %s", e.msg);
}

/* ------------------------------------------------------------ clear */

int gpd_ds9_clear(const char *t, gp_error *err)
{
    char *s = NULL;
    int st = get_text(t, "frame", &s, err);
    if (st) return st;
    int cur = atoi(s);
    free(s);
    gpd_visit v;
    if ((st = gpd_visit_begin(&v, t, cur, err))) return st;
    for (int i = 0; i < v.n && !st; i++) {
        if ((st = gpd_visit_goto(&v, v.ids[i], err))) break;
        /* `regions group NAME delete` fails when the group is absent */
        char *groups = NULL;
        if (get_text(t, "regions group", &groups, err) == GP_OK) {
            int has = 0;
            for (char *p = strtok(groups, " \n{}"); p; p = strtok(NULL, " \n{}"))
                if (!strcmp(p, "galpost")) has = 1;
            free(groups);
            if (has) st = set_cmd(t, err, "regions group galpost delete");
        }
    }
    return gpd_visit_end(&v, st, err);
}
