/*
 * gp_plot.h: small PNG plotting module (cairo) for reports: figures of one or
 * more panels with scatter (with alpha), 2-D density, histograms, lines and
 * curves, RGB images, axes with ticks and labels, titles and legends.
 *
 * Usage: p = gp_plot_new(w, h, rows, cols, &err); gp_plot_panel(p, k);
 * gp_plot_limits(...); gp_plot_labels(...); draw...; gp_plot_write_png(p, path,
 * &err); gp_plot_free(p).  Data are drawn in the panel's current limits;
 * when a panel has no limits yet, the first data drawn set them (5% margin).
 * Points outside the limits are clipped.  Not thread-safe per figure.
 */
#ifndef GALPOST_GP_PLOT_H
#define GALPOST_GP_PLOT_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_plot gp_plot;
struct gp_error;

/* Drawing style.  A zero-initialised style is a black 1-pixel solid line / 1.5 px dot. */
typedef struct gp_plot_style {
    double r, g, b;     /* colour, 0-1 */
    double alpha;       /* opacity; 0 means 1 */
    double size;        /* marker radius or line width in pixels; 0 means default */
    int    dashed;      /* lines: 1 dashed */
    int    filled;      /* histograms: 1 filled bars, 0 outline */
    const char *label;  /* legend entry (copied), NULL for none */
} gp_plot_style;

/*
 * gp_plot_new() - a blank figure of width x height pixels with rows x cols panels.
 *
 * Given:    width, height (64-8192), rows, cols (1-8).
 * Returned: err   filled on failure (may be NULL).
 * Function return value: the figure, or NULL (GP_ERR_ARG bad size, GP_ERR_NOMEM).
 */
gp_plot *gp_plot_new(int width, int height, int rows, int cols, struct gp_error *err);

/* gp_plot_free() - release a figure (NULL allowed). */
void gp_plot_free(gp_plot *p);

/*
 * gp_plot_release_fonts() - release cairo's static font caches (call once at exit,
 * when no figure exists, so that leak checkers see no cairo allocations).
 */
void gp_plot_release_fonts(void);

/*
 * gp_plot_panel() - select the panel drawn on next (0-based, row-major).
 * Function return value: 0 (GP_OK) or GP_ERR_ARG when k is out of range.
 */
int gp_plot_panel(gp_plot *p, int k);

/* gp_plot_limits() - set the current panel's axis limits; returns GP_ERR_ARG when empty. */
int gp_plot_limits(gp_plot *p, double xmin, double xmax, double ymin, double ymax);

/* gp_plot_labels() - title and axis labels of the current panel (NULL: none; copied). */
void gp_plot_labels(gp_plot *p, const char *title, const char *xlabel, const char *ylabel);

/* gp_plot_scatter() - n points (non-finite ones skipped). */
void gp_plot_scatter(gp_plot *p, const double *x, const double *y, int n, const gp_plot_style *s);

/*
 * gp_plot_density() - 2-D histogram on nx x ny cells over the panel limits, shown
 * in a white-to-colour ramp of style s (log counts).  Returns GP_ERR_NOMEM on failure.
 */
int gp_plot_density(gp_plot *p, const double *x, const double *y, int n, int nx, int ny,
                    const gp_plot_style *s);

/*
 * gp_plot_hist() - histogram of n values on nbins bins in [lo, hi]; normalise = 1
 * draws densities (integral 1).  Returns GP_ERR_ARG / GP_ERR_NOMEM.
 */
int gp_plot_hist(gp_plot *p, const double *x, int n, int nbins, double lo, double hi,
                 int normalise, const gp_plot_style *s);

/* gp_plot_line() - polyline through n points (breaks at non-finite points). */
void gp_plot_line(gp_plot *p, const double *x, const double *y, int n, const gp_plot_style *s);

/* gp_plot_curve() - y = f(x, arg) on [x0, x1] with npts samples. */
void gp_plot_curve(gp_plot *p, double (*f)(double x, void *arg), void *arg,
                   double x0, double x1, int npts, const gp_plot_style *s);

/* gp_plot_text() - text at data coordinates (x, y). */
void gp_plot_text(gp_plot *p, double x, double y, const char *text, const gp_plot_style *s);

/*
 * gp_plot_image_rgb() - an RGB image filling the panel (no axes), from three
 * nx x ny planes (row 0 at the bottom) with the asinh stretch of Lupton+04:
 * value = asinh(I / soft) scaled so that I = vmax maps to 1.
 */
void gp_plot_image_rgb(gp_plot *p, const float *red, const float *green, const float *blue,
                       int nx, int ny, double soft, double vmax);

/*
 * gp_plot_write_png() - draw axes, labels and legends, and write the PNG to path
 * atomically (a temporary name renamed at the end).
 * Function return value: GP_OK, GP_ERR_IO (naming the path).
 */
int gp_plot_write_png(gp_plot *p, const char *path, struct gp_error *err);

#ifdef __cplusplus
}
#endif
#endif
