/* gp_plot.c: PNG figures with cairo (see include/galpost/gp_plot.h). */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "galpost/gp_error.h"
#include "galpost/gp_plot.h"
#include "gp_plot_internal.h"

#define MAX_PANELS 64
#define MAX_LEGEND 12

typedef struct legend_entry { gp_plot_style style; char text[96]; int kind; } legend_entry;

typedef struct panel {
    double x0, y0, w, h;           /* plot area in device pixels */
    double xmin, xmax, ymin, ymax;
    int    has_limits, is_image, used;
    char   title[160], xlabel[96], ylabel[96];
    legend_entry legend[MAX_LEGEND];
    int    nlegend;
    double legend_box[4];          /* where draw_axes put it: x, y, width, height */
} panel;

struct gp_plot {
    cairo_surface_t *surf;
    cairo_t *cr;
    int width, height, npanel, cur;
    panel pan[MAX_PANELS];
};

gp_plot *gp_plot_new(int width, int height, int rows, int cols, gp_error *err)
{
    if (width < 64 || height < 64 || width > 8192 || height > 8192 || rows < 1 || cols < 1 ||
        rows > 8 || cols > 8) {
        GP_FAIL(err, GP_ERR_ARG, "plot: bad figure size %dx%d or panel grid %dx%d", width, height, rows, cols);
        return NULL;
    }
    gp_plot *p = calloc(1, sizeof *p);
    if (!p) { GP_FAIL(err, GP_ERR_NOMEM, "plot: no memory"); return NULL; }
    p->surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    if (cairo_surface_status(p->surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(p->surf);
        free(p);
        GP_FAIL(err, GP_ERR_NOMEM, "plot: cannot create a %dx%d image", width, height);
        return NULL;
    }
    p->cr = cairo_create(p->surf);
    p->width = width; p->height = height;
    p->npanel = rows * cols;
    cairo_set_source_rgb(p->cr, 1, 1, 1);
    cairo_paint(p->cr);
    double cw = (double)width / cols, ch = (double)height / rows;
    for (int k = 0; k < p->npanel; k++) {
        panel *q = &p->pan[k];
        int r = k / cols, c = k % cols;
        q->x0 = c * cw + 62; q->w = cw - 62 - 16;
        q->y0 = r * ch + 30; q->h = ch - 30 - 46;
    }
    return p;
}

void gp_plot_free(gp_plot *p)
{
    if (!p) return;
    cairo_destroy(p->cr);
    cairo_surface_destroy(p->surf);
    free(p);
}

void gp_plot_release_fonts(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}

int gp_plot_panel(gp_plot *p, int k)
{
    if (k < 0 || k >= p->npanel) return GP_ERR_ARG;
    p->cur = k;
    return GP_OK;
}

int gp_plot_limits(gp_plot *p, double xmin, double xmax, double ymin, double ymax)
{
    if (!(xmax > xmin) || !(ymax > ymin)) return GP_ERR_ARG;
    panel *q = &p->pan[p->cur];
    q->xmin = xmin; q->xmax = xmax; q->ymin = ymin; q->ymax = ymax;
    q->has_limits = 1;
    return GP_OK;
}

static void copy_str(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

void gp_plot_labels(gp_plot *p, const char *title, const char *xlabel, const char *ylabel)
{
    panel *q = &p->pan[p->cur];
    copy_str(q->title, sizeof q->title, title);
    copy_str(q->xlabel, sizeof q->xlabel, xlabel);
    copy_str(q->ylabel, sizeof q->ylabel, ylabel);
}

static void auto_limits(panel *q, const double *x, const double *y, int n)
{
    if (q->has_limits) return;
    double a = INFINITY, b = -INFINITY, c = INFINITY, d = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || (y && !isfinite(y[i]))) continue;
        if (x[i] < a) a = x[i];
        if (x[i] > b) b = x[i];
        if (y) { if (y[i] < c) c = y[i]; if (y[i] > d) d = y[i]; }
    }
    if (!(b >= a)) { a = 0; b = 1; }
    if (!y || !(d >= c)) { c = 0; d = 1; }
    if (b == a) { a -= 0.5; b += 0.5; }
    if (d == c) { c -= 0.5; d += 0.5; }
    double mx = 0.05 * (b - a), my = 0.05 * (d - c);
    q->xmin = a - mx; q->xmax = b + mx; q->ymin = c - my; q->ymax = d + my;
    q->has_limits = 1;
}

static double dev_x(const panel *q, double x) { return q->x0 + (x - q->xmin) / (q->xmax - q->xmin) * q->w; }
static double dev_y(const panel *q, double y) { return q->y0 + q->h - (y - q->ymin) / (q->ymax - q->ymin) * q->h; }

static void set_style(cairo_t *cr, const gp_plot_style *s)
{
    double a = s && s->alpha > 0 ? s->alpha : 1.0;
    if (s) cairo_set_source_rgba(cr, s->r, s->g, s->b, a);
    else cairo_set_source_rgba(cr, 0, 0, 0, 1);
}

static void clip_panel(gp_plot *p, const panel *q)
{
    cairo_save(p->cr);
    cairo_rectangle(p->cr, q->x0, q->y0, q->w, q->h);
    cairo_clip(p->cr);
}

static void add_legend(panel *q, const gp_plot_style *s, int kind)
{
    if (!s || !s->label || q->nlegend >= MAX_LEGEND) return;
    legend_entry *e = &q->legend[q->nlegend++];
    e->style = *s;
    e->style.label = NULL;
    e->kind = kind;
    copy_str(e->text, sizeof e->text, s->label);
}

void gp_plot_scatter(gp_plot *p, const double *x, const double *y, int n, const gp_plot_style *s)
{
    panel *q = &p->pan[p->cur];
    auto_limits(q, x, y, n);
    q->used = 1;
    clip_panel(p, q);
    set_style(p->cr, s);
    double rad = s && s->size > 0 ? s->size : 1.5;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        cairo_new_sub_path(p->cr);
        cairo_arc(p->cr, dev_x(q, x[i]), dev_y(q, y[i]), rad, 0, 2 * M_PI);
    }
    cairo_fill(p->cr);
    cairo_restore(p->cr);
    add_legend(q, s, 0);
}

int gp_plot_density(gp_plot *p, const double *x, const double *y, int n, int nx, int ny,
                    const gp_plot_style *s)
{
    panel *q = &p->pan[p->cur];
    if (nx < 1 || ny < 1 || nx > 4096 || ny > 4096) return GP_ERR_ARG;
    auto_limits(q, x, y, n);
    q->used = 1;
    double *h = calloc((size_t)nx * ny, sizeof *h);
    if (!h) return GP_ERR_NOMEM;
    double hmax = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        int a = (int)floor((x[i] - q->xmin) / (q->xmax - q->xmin) * nx);
        int b = (int)floor((y[i] - q->ymin) / (q->ymax - q->ymin) * ny);
        if (a < 0 || b < 0 || a >= nx || b >= ny) continue;
        double v = ++h[(size_t)b * nx + a];
        if (v > hmax) hmax = v;
    }
    clip_panel(p, q);
    double cr_ = s ? s->r : 0, cg = s ? s->g : 0, cb = s ? s->b : 0;
    double cw = q->w / nx, ch = q->h / ny;
    for (int b = 0; b < ny; b++)
        for (int a = 0; a < nx; a++) {
            double v = h[(size_t)b * nx + a];
            if (v <= 0) continue;
            double t = 0.15 + 0.85 * log1p(v) / log1p(hmax);
            cairo_set_source_rgb(p->cr, 1 - t * (1 - cr_), 1 - t * (1 - cg), 1 - t * (1 - cb));
            cairo_rectangle(p->cr, q->x0 + a * cw, q->y0 + q->h - (b + 1) * ch, cw + 0.5, ch + 0.5);
            cairo_fill(p->cr);
        }
    cairo_restore(p->cr);
    free(h);
    add_legend(q, s, 2);
    return GP_OK;
}

int gp_plot_hist(gp_plot *p, const double *x, int n, int nbins, double lo, double hi,
                 int normalise, const gp_plot_style *s)
{
    if (nbins < 1 || nbins > 100000 || !(hi > lo)) return GP_ERR_ARG;
    double *h = calloc((size_t)nbins, sizeof *h);
    if (!h) return GP_ERR_NOMEM;
    int used = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        int k = (int)floor((x[i] - lo) / (hi - lo) * nbins);
        if (k < 0 || k >= nbins) continue;
        h[k] += 1; used++;
    }
    double bw = (hi - lo) / nbins, hmax = 0;
    for (int k = 0; k < nbins; k++) {
        if (normalise && used) h[k] /= used * bw;
        if (h[k] > hmax) hmax = h[k];
    }
    panel *q = &p->pan[p->cur];
    if (!q->has_limits) gp_plot_limits(p, lo, hi, 0, hmax > 0 ? 1.1 * hmax : 1);
    q->used = 1;
    clip_panel(p, q);
    set_style(p->cr, s);
    cairo_set_line_width(p->cr, s && s->size > 0 ? s->size : 1.5);
    if (s && s->filled) {
        for (int k = 0; k < nbins; k++) {
            double xa = dev_x(q, lo + k * bw), xb = dev_x(q, lo + (k + 1) * bw);
            cairo_rectangle(p->cr, xa, dev_y(q, h[k]), xb - xa, dev_y(q, 0) - dev_y(q, h[k]));
        }
        cairo_fill(p->cr);
    } else {
        cairo_move_to(p->cr, dev_x(q, lo), dev_y(q, 0));
        for (int k = 0; k < nbins; k++) {
            cairo_line_to(p->cr, dev_x(q, lo + k * bw), dev_y(q, h[k]));
            cairo_line_to(p->cr, dev_x(q, lo + (k + 1) * bw), dev_y(q, h[k]));
        }
        cairo_line_to(p->cr, dev_x(q, hi), dev_y(q, 0));
        if (s && s->dashed) { double d[2] = { 6, 4 }; cairo_set_dash(p->cr, d, 2, 0); }
        cairo_stroke(p->cr);
    }
    cairo_restore(p->cr);
    free(h);
    add_legend(q, s, s && s->filled ? 2 : 1);
    return GP_OK;
}

void gp_plot_line(gp_plot *p, const double *x, const double *y, int n, const gp_plot_style *s)
{
    panel *q = &p->pan[p->cur];
    auto_limits(q, x, y, n);
    q->used = 1;
    clip_panel(p, q);
    set_style(p->cr, s);
    cairo_set_line_width(p->cr, s && s->size > 0 ? s->size : 1.5);
    if (s && s->dashed) { double d[2] = { 6, 4 }; cairo_set_dash(p->cr, d, 2, 0); }
    int pen = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) { pen = 0; continue; }
        if (pen) cairo_line_to(p->cr, dev_x(q, x[i]), dev_y(q, y[i]));
        else cairo_move_to(p->cr, dev_x(q, x[i]), dev_y(q, y[i]));
        pen = 1;
    }
    cairo_stroke(p->cr);
    cairo_restore(p->cr);
    add_legend(q, s, 1);
}

void gp_plot_curve(gp_plot *p, double (*f)(double, void *), void *arg, double x0, double x1,
                   int npts, const gp_plot_style *s)
{
    if (npts < 2) npts = 2;
    if (npts > 100000) npts = 100000;
    double *x = malloc(sizeof(double) * 2 * (size_t)npts);
    if (!x) return;
    double *y = x + npts;
    for (int i = 0; i < npts; i++) {
        x[i] = x0 + (x1 - x0) * i / (npts - 1);
        y[i] = f(x[i], arg);
    }
    gp_plot_line(p, x, y, npts, s);
    free(x);
}

void gp_plot_text(gp_plot *p, double x, double y, const char *text, const gp_plot_style *s)
{
    panel *q = &p->pan[p->cur];
    if (!q->has_limits || !text) return;
    set_style(p->cr, s);
    cairo_select_font_face(p->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(p->cr, s && s->size > 0 ? s->size : 12);
    cairo_move_to(p->cr, dev_x(q, x), dev_y(q, y));
    cairo_show_text(p->cr, text);
}

void gp_plot_image_rgb(gp_plot *p, const float *red, const float *green, const float *blue,
                       int nx, int ny, double soft, double vmax)
{
    panel *q = &p->pan[p->cur];
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, nx, ny);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) { cairo_surface_destroy(img); return; }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    double norm = asinh(vmax / soft);
    const float *pl[3] = { red, green, blue };
    for (int j = 0; j < ny; j++) {
        uint32_t *row = (uint32_t *)(data + (size_t)(ny - 1 - j) * stride);
        for (int i = 0; i < nx; i++) {
            unsigned int c[3];
            for (int k = 0; k < 3; k++) {
                double v = asinh(pl[k][(size_t)j * nx + i] / soft) / norm;
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                c[k] = (unsigned int)lround(255 * v);
            }
            row[i] = (c[0] << 16) | (c[1] << 8) | c[2];
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_save(p->cr);
    cairo_translate(p->cr, q->x0, q->y0);
    double sc = fmin(q->w / nx, q->h / ny);
    cairo_scale(p->cr, sc, sc);
    cairo_set_source_surface(p->cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(p->cr), CAIRO_FILTER_NEAREST);
    cairo_paint(p->cr);
    cairo_restore(p->cr);
    cairo_surface_destroy(img);
    q->is_image = 1;
    q->used = 1;
}

/* Ink (pixels other than the white background) in each rectangle, from a
 * summed-area table of the panel's pixels. */
static long ink_in(const long *sat, int sw, int x, int y, int w, int h)
{
    return sat[(size_t)(y + h) * sw + x + w] - sat[(size_t)y * sw + x + w] - sat[(size_t)(y + h) * sw + x] +
           sat[(size_t)y * sw + x];
}

long gp_plot_legend_place(const unsigned char *argb, int stride, int x0, int y0, int w, int h, int bw, int bh,
                          int *bx, int *by)
{
    const int m = 6;   /* clear of the frame and the tick marks (5 px) */
    *bx = x0 + w - m - bw;   /* top right when nothing better is found */
    *by = y0 + m;
    if (w < 1 || h < 1 || bw > w - 2 * m || bh > h - 2 * m) return -1;
    const int sw = w + 1;
    long *sat = calloc((size_t)sw * (size_t)(h + 1), sizeof *sat);
    if (!sat) return -1;
    for (int j = 0; j < h; j++) {
        const uint32_t *row = (const uint32_t *)(argb + (size_t)(y0 + j) * stride) + x0;
        long run = 0;
        for (int i = 0; i < w; i++) {
            run += row[i] != 0xFFFFFFFFu;
            sat[(size_t)(j + 1) * sw + i + 1] = sat[(size_t)j * sw + i + 1] + run;
        }
    }
    /* the corners first (top right, top left, bottom right, bottom left),
     * then every position on a 4-pixel grid; the first with the least ink */
    const int xl = m, xr = w - m - bw, yt = m, yb = h - m - bh;
    const int corner[4][2] = { { xr, yt }, { xl, yt }, { xr, yb }, { xl, yb } };
    long best = -1;
    for (int c = 0; c < 4 && best != 0; c++) {
        long k = ink_in(sat, sw, corner[c][0], corner[c][1], bw, bh);
        if (best < 0 || k < best) { best = k; *bx = x0 + corner[c][0]; *by = y0 + corner[c][1]; }
    }
    for (int y = yt; y <= yb && best != 0; y += 4)
        for (int x = xl; x <= xr && best != 0; x += 4) {
            long k = ink_in(sat, sw, x, y, bw, bh);
            if (k < best) { best = k; *bx = x0 + x; *by = y0 + y; }
        }
    free(sat);
    return best;
}

int gp_plot_legend_box(const gp_plot *p, int k, double box[4])
{
    if (k < 0 || k >= p->npanel || p->pan[k].legend_box[2] <= 0) return GP_ERR_ARG;
    memcpy(box, p->pan[k].legend_box, sizeof p->pan[k].legend_box);
    return GP_OK;
}

const unsigned char *gp_plot_pixels(gp_plot *p, int *stride)
{
    cairo_surface_flush(p->surf);
    *stride = cairo_image_surface_get_stride(p->surf);
    return cairo_image_surface_get_data(p->surf);
}

/* Where panel q's legend goes: the box (x, y, width, height) of its entries
 * where it covers the least of what is drawn in the panel, none when it can
 * (the curves of a calibration figure end in the top right corner, where the
 * legend used to be).  Measured on the pixels drawn so far: call before the
 * panel's frame and ticks are drawn. */
static void legend_place(gp_plot *p, panel *q)
{
    cairo_t *cr = p->cr;
    cairo_text_extents_t te;
    cairo_set_font_size(cr, 11);
    double tw = 0;
    for (int k = 0; k < q->nlegend; k++) {
        cairo_text_extents(cr, q->legend[k].text, &te);
        if (te.width > tw) tw = te.width;
    }
    int bw = (int)ceil(tw) + 34, bh = 16 * q->nlegend - 1;
    int px0 = (int)ceil(q->x0), py0 = (int)ceil(q->y0);
    int pw = (int)floor(q->x0 + q->w) - px0, ph = (int)floor(q->y0 + q->h) - py0;
    if (px0 < 0 || py0 < 0 || px0 + pw > p->width || py0 + ph > p->height) pw = ph = 0;
    int stride, bx, by;
    const unsigned char *px = gp_plot_pixels(p, &stride);
    (void)gp_plot_legend_place(px, stride, px0, py0, pw, ph, bw, bh, &bx, &by);
    q->legend_box[0] = bx; q->legend_box[1] = by;
    q->legend_box[2] = bw; q->legend_box[3] = bh;
}

/* "nice" tick step for a range */
static double tick_step(double range, int target)
{
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void draw_axes(gp_plot *p, panel *q)
{
    cairo_t *cr = p->cr;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_text_extents_t te;
    if (!q->is_image && q->has_limits && q->nlegend > 0) legend_place(p, q);   /* before the frame and ticks */
    if (q->title[0]) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_font_size(cr, 13);
        cairo_text_extents(cr, q->title, &te);
        cairo_move_to(cr, q->x0 + 0.5 * q->w - 0.5 * te.width, q->y0 - 10);
        cairo_show_text(cr, q->title);
    }
    if (q->is_image || !q->has_limits) return;
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, q->x0, q->y0, q->w, q->h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    double sx = tick_step(q->xmax - q->xmin, 6), sy = tick_step(q->ymax - q->ymin, 6);
    char buf[64];
    for (double t = ceil(q->xmin / sx) * sx; t <= q->xmax + 1e-9 * sx; t += sx) {
        double X = dev_x(q, t);
        cairo_move_to(cr, X, q->y0 + q->h); cairo_line_to(cr, X, q->y0 + q->h - 5);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", fabs(t) < 1e-12 * sx ? 0.0 : t);
        cairo_text_extents(cr, buf, &te);
        cairo_move_to(cr, X - 0.5 * te.width, q->y0 + q->h + 15);
        cairo_show_text(cr, buf);
    }
    for (double t = ceil(q->ymin / sy) * sy; t <= q->ymax + 1e-9 * sy; t += sy) {
        double Y = dev_y(q, t);
        cairo_move_to(cr, q->x0, Y); cairo_line_to(cr, q->x0 + 5, Y);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", fabs(t) < 1e-12 * sy ? 0.0 : t);
        cairo_text_extents(cr, buf, &te);
        cairo_move_to(cr, q->x0 - te.width - 5, Y + 4);
        cairo_show_text(cr, buf);
    }
    cairo_set_font_size(cr, 12);
    if (q->xlabel[0]) {
        cairo_text_extents(cr, q->xlabel, &te);
        cairo_move_to(cr, q->x0 + 0.5 * q->w - 0.5 * te.width, q->y0 + q->h + 34);
        cairo_show_text(cr, q->xlabel);
    }
    if (q->ylabel[0]) {
        cairo_save(cr);
        cairo_text_extents(cr, q->ylabel, &te);
        cairo_move_to(cr, q->x0 - 44, q->y0 + 0.5 * q->h + 0.5 * te.width);
        cairo_rotate(cr, -M_PI / 2);
        cairo_show_text(cr, q->ylabel);
        cairo_restore(cr);
    }
    /* legend, where legend_place put it: right-aligned entries on the
     * right half of the panel, left-aligned on the left half */
    const double *b = q->legend_box;
    const int right = b[0] + 0.5 * b[2] > q->x0 + 0.5 * q->w;
    double ly = b[1] + 11;
    cairo_set_font_size(cr, 11);
    for (int k = 0; k < q->nlegend; k++) {
        legend_entry *e = &q->legend[k];
        cairo_text_extents(cr, e->text, &te);
        double lx = right ? b[0] + b[2] - te.width - 30 : b[0] + 4;
        cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
        cairo_rectangle(cr, lx - 4, ly - 11, te.width + 34, 15);
        cairo_fill(cr);
        set_style(cr, &e->style);
        if (e->kind == 0) { cairo_arc(cr, lx + 9, ly - 4, 3, 0, 2 * M_PI); cairo_fill(cr); }
        else if (e->kind == 2) { cairo_rectangle(cr, lx + 2, ly - 9, 16, 10); cairo_fill(cr); }
        else {
            cairo_set_line_width(cr, 2);
            if (e->style.dashed) { double d[2] = { 4, 3 }; cairo_set_dash(cr, d, 2, 0); }
            cairo_move_to(cr, lx, ly - 4); cairo_line_to(cr, lx + 20, ly - 4); cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, lx + 26, ly);
        cairo_show_text(cr, e->text);
        ly += 16;
    }
}

int gp_plot_write_png(gp_plot *p, const char *path, gp_error *err)
{
    for (int k = 0; k < p->npanel; k++)
        if (p->pan[k].used || p->pan[k].title[0]) draw_axes(p, &p->pan[k]);
    cairo_surface_flush(p->surf);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return GP_FAIL(err, GP_ERR_NOMEM, "plot: no memory for '%s'", path);
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    cairo_status_t st = cairo_surface_write_to_png(p->surf, tmp);
    if (st != CAIRO_STATUS_SUCCESS) {
        unlink(tmp);
        free(tmp);
        return GP_FAIL(err, GP_ERR_IO, "plot: cannot write '%s': %s", path, cairo_status_to_string(st));
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        free(tmp);
        return GP_FAIL(err, GP_ERR_IO, "plot: cannot rename the PNG to '%s'", path);
    }
    free(tmp);
    return GP_OK;
}
