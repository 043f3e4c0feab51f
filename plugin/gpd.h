/*
 * gpd.h: galpostd internals (the daemon of the DS9 plugin).
 *
 * Threads: the main thread runs the event loop, every XPA call (server and
 * client, through gp_xpa.h) and the job queue; one worker thread owns the
 * model, the catalogue and the open frames, and runs cutouts, photometry
 * and inference.  A job passes main (gather from DS9) -> worker (compute)
 * -> main (publish overlays and plot), so XPA handlers stay short and DS9
 * is never made to wait on us.
 */
#ifndef GALPOST_GPD_H
#define GALPOST_GPD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "galpost/galpost.h"

/* ------------------------------------------------------------ logging */

enum { GPD_LOG_ERROR = 0, GPD_LOG_WARN, GPD_LOG_INFO, GPD_LOG_DEBUG };

/* gpd_log_open() - log to `path` (appending), or to stderr when NULL/"".
 * Returns 0, or -1 with errno set when the file cannot be opened. */
int  gpd_log_open(const char *path, int level);
void gpd_log_set_level(int level);
void gpd_log_close(void);
void gpd_log(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int         gpd_log_level_parse(const char *s);  /* -1 when unknown */
const char *gpd_log_level_name(int level);

/* ------------------------------------------------------ configuration */

#define GPD_PATH_MAX 4096

typedef struct gpd_config {
    char            model[GPD_PATH_MAX];   /* "" = the default model */
    gp_backend_kind backend;
    int             threads;               /* 0 = all CPUs */
    int             samples;               /* posterior samples per galaxy */
    uint64_t        seed;
    char            catalog[GPD_PATH_MAX]; /* "" = none */
    double          match_radius;          /* catalogue match, arcsec */
    double          aperture;              /* photometry radius without a region, arcsec */
    char            ds9[1024];             /* default DS9 target */
    char            name[256];             /* our XPA access point */
    char            log[GPD_PATH_MAX];     /* "" = stderr */
    int             log_level;
    char            pidfile[GPD_PATH_MAX]; /* "" = none */
    int             overlay;               /* draw text regions */
    int             plot;                  /* draw the BPT plot */
    int             show_errors;           /* failures in DS9's text window */
    int             max_queue;             /* pending requests */
    int             max_galaxies;          /* per request */
    int             timeout;               /* XPA timeout towards DS9, seconds */
    double          zeropoint[GP_NBANDS];  /* AB zero points given by hand for frames in
                                              counts without one, per band; NaN: the
                                              header's (gp_zeropoint_parse()) */
} gpd_config;

void gpd_config_defaults(gpd_config *c);

/*
 * gpd_config_set() - set one key from text (configuration file, command
 * line and `xpaset galpost set` all go through here).
 * Returns 0, or -1 with a message naming the key and the accepted values.
 */
int gpd_config_set(gpd_config *c, const char *key, const char *value,
                   char *msg, size_t msglen);

/* gpd_config_load() - read "key = value" lines ('#' comments).  Returns 0,
 * or -1 with a message naming the file and line. */
int gpd_config_load(gpd_config *c, const char *path, char *msg, size_t msglen);

/* gpd_config_get() - the value of one key as text; -1 for an unknown key. */
int gpd_config_get(const gpd_config *c, const char *key, char *out, size_t outlen);

/* The keys, NULL-terminated, and whether changing one needs a reload. */
extern const char *const gpd_config_keys[];
int gpd_config_key_reloads(const char *key);

/* ------------------------------------------------------ request parsing */

typedef enum gpd_where {
    GPD_WHERE_SELECTED = 0,  /* DS9's selected regions (default) */
    GPD_WHERE_ALL,           /* every shape region of the current frame */
    GPD_WHERE_CROSSHAIR,     /* DS9's crosshair */
    GPD_WHERE_POSITION       /* RA DEC given */
} gpd_where;

typedef struct gpd_infer_args {
    gpd_where where;
    double    ra, dec;       /* GPD_WHERE_POSITION */
    char      target[1024];  /* "" = the configured DS9 */
    char      tag[64];       /* "" = none */
} gpd_infer_args;

/*
 * gpd_parse_infer() - parse "[selected|all|crosshair|RA DEC] [ds9 TARGET]
 * [tag WORD]".  RA/Dec in degrees, or sexagesimal (RA in hours) with ':'.
 * Returns 0, or -1 with a message quoting the offending word.
 */
int gpd_parse_infer(const char *params, gpd_infer_args *a, char *msg, size_t msglen);

/* One region read from DS9. */
typedef struct gpd_shape {
    double ra, dec;          /* centre, ICRS degrees */
    double radius;           /* arcsec; 0 for points */
    double x, y, rpix;       /* image coordinates of the current frame */
    int    has_image;
} gpd_shape;

/*
 * gpd_parse_regions() - shapes (circle, ellipse, box, annulus, point,
 * polygon centroid) from DS9 region text in wcs/icrs/degrees, skipping
 * text and our own (tag={galpost}) regions.  When `image` is not NULL it is
 * the same listing in image coordinates and fills x, y, rpix.
 * Returns the number of shapes written (at most max).
 */
int gpd_parse_regions(const char *wcs, const char *image, gpd_shape *out, int max);

/* Regions of a frame counted (beyond max_galaxies they are reported, not inferred). */
#define GPD_REGIONS_COUNTED 10000

/* Split a whitespace-separated list of integers ("1 2 3 "). */
int gpd_parse_int_list(const char *s, int *out, int max);

/* ------------------------------------------------------------- results */

/* One galaxy's result as kept by the daemon. */
typedef struct gpd_result {
    int       id;            /* #N shown to the user */
    double    ra, dec, radius;  /* radius: the region's, arcsec (0 for a point or RA/Dec) */
    double    aperture;      /* photometry aperture radius used, arcsec; NAN for catalogue magnitudes */
    char      colours[256];  /* where the magnitudes came from */
    float     mag[GP_NMAG];
    float     magerr[GP_NMAG];  /* NAN for catalogue magnitudes */
    char      frames[3][GPD_PATH_MAX / 4];  /* g, r, i sources */
    char      pixels[1536];  /* frames in counts: what was done to their pixels, or "" */
    int       phot_model;    /* the model takes no image (photometry only) */
    int       no_cutout;     /* no cutout was made (photometry-only model) ... */
    char      nocut_why[768];   /* ... and why */
    char      posframe[GPD_PATH_MAX / 4];   /* photometry-only model: the image placing the galaxy */
    char      model[GPD_PATH_MAX / 4];
    int       model_trained;
    uint64_t  seed;
    double    compute_ms;
    double    cut_sum[3];    /* g, r, i cutout: total flux (nanomaggies) */
    double    cut_peak[3];   /*   brightest pixel within 20 px of the centre */
    int       cut_px[3], cut_py[3];  /* its position (0-based; centre 79.5) */
    gp_result r;             /* summary and samples */
} gpd_result;

/* ------------------------------------------------------------ formats */

/* Each gpd_format_* function returns a malloc'ed NUL-terminated string
 * (NULL when out of memory). */
char *gpd_format_summary_text(const gpd_result *res);
char *gpd_format_summary_json(const gpd_result *res);
char *gpd_format_samples_text(const gpd_result *res);
char *gpd_format_bpt_text(const gpd_result *res);

/* F from the model's y = log10(1 + F). */
double gpd_line_flux(double y);

/*
 * gpd_format_overlay() - DS9 region text: the lines of the result beside
 * the galaxy.  (x, y) is the galaxy in image pixels of the frame, r its
 * radius in pixels, zoom DS9's zoom (line spacing), `marker` adds a circle
 * at the galaxy (when the user drew none).  The lines go on its right,
 * centred on it (GPD_PLACE_RIGHT).
 */
char *gpd_format_overlay(const gpd_result *res, double x, double y, double r,
                         double zoom, int marker);

/* Where an overlay's lines go, in order of preference: right of the galaxy
 * (lines starting past its edge) or left (ending before it), centred on
 * its y, above it (the last line beside it) or below (the first line
 * beside it); then above or below it, centred on its x. */
enum {
    GPD_PLACE_RIGHT = 0, GPD_PLACE_LEFT, GPD_PLACE_RIGHT_UP, GPD_PLACE_LEFT_UP,
    GPD_PLACE_RIGHT_DOWN, GPD_PLACE_LEFT_DOWN, GPD_PLACE_ABOVE, GPD_PLACE_BELOW, GPD_PLACES
};

/* A box in image pixels: [x0, x1] x [y0, y1]. */
typedef struct gpd_box { double x0, x1, y0, y1; } gpd_box;

/* gpd_format_overlay_at() - the same with the lines at `place` (GPD_PLACE_*). */
char *gpd_format_overlay_at(const gpd_result *res, double x, double y, double r,
                            double zoom, int marker, int place);

/* gpd_overlay_box() - the box the lines of gpd_format_overlay_at() cover
 * at that zoom (DS9 draws text at a fixed screen size: helvetica 10 is
 * taken as 7 screen pixels per character, 14 per line). */
void gpd_overlay_box(const gpd_result *res, double x, double y, double r, double zoom,
                     int place, gpd_box *box);

/* Where an overlay's lines are, as DS9 keeps them when the zoom changes:
 * each text stays at its position in image pixels and keeps its size on the
 * screen, so the block's box in image pixels is not the one drawn scaled
 * (zoomed in, the lines stay as far apart as they were drawn, each shorter
 * and lower: the box shrinks by less than the zoom). */
typedef struct gpd_lines {
    double zoom;        /* DS9's zoom when drawn */
    double ax;          /* the x the lines line up on (image pixels) ... */
    int    align;       /* ... their left ends (> 0) or right ends (< 0) at the zoom drawn */
    double wmin, wmax;  /* half the narrowest and the widest line (screen pixels) */
    double yc0, yc1;    /* the lowest and the highest line's centre (image pixels) */
} gpd_lines;

/*
 * gpd_overlay_lines() - the lines of gpd_format_overlay_at() at `place`,
 * drawn at `zoom`.
 *   Given: res, x, y, r, zoom, place as for gpd_format_overlay_at().
 *   Returned: *lines.
 * gpd_lines_box() - the box those lines cover when DS9 shows them at
 *   `zoom` (gpd_overlay_box()'s at the zoom they were drawn at).
 *   Given: lines, zoom.  Returned: *box (image pixels).
 */
void gpd_overlay_lines(const gpd_result *res, double x, double y, double r, double zoom,
                       int place, gpd_lines *lines);
void gpd_lines_box(const gpd_lines *lines, double zoom, gpd_box *box);

/*
 * gpd_overlay_place() - the place for a galaxy's lines that covers least of
 * the boxes to avoid (other results' lines, other galaxies), each kept 3
 * screen pixels away; the earliest place among equals (GPD_PLACE_RIGHT
 * when nothing is in the way).
 *   Given: res, x, y, r, zoom as for gpd_format_overlay(); avoid[navoid].
 *   Returned: *box, the chosen place's box.
 *   Function return value: the place (GPD_PLACE_*).
 */
int gpd_overlay_place(const gpd_result *res, double x, double y, double r, double zoom,
                      const gpd_box *avoid, int navoid, gpd_box *box);

/* gpd_format_overlay_sky() - the same placed in ICRS degrees (when no image
 * coordinates are known): lines to the west, `line` arcsec apart. */
char *gpd_format_overlay_sky(const gpd_result *res, double line_arcsec, int marker);

/* gpd_format_error_region() - a red text region with a failure message. */
char *gpd_format_error_region(double ra, double dec, const char *message);

/* BPT plot data: "x y" lines of the posterior samples with all four line
 * fluxes positive; *n is the number of points. */
char *gpd_format_bpt_points(const gpd_result *res, int *n);

/* The demarcation curves: 0 Kauffmann+03, 1 Kewley+01, 2 Schawinski+07. */
#define GPD_BPT_CURVES 3
char *gpd_format_bpt_curve(int which, int *n);
const char *gpd_bpt_curve_name(int which);

/* Plot ranges (log([NII]/Ha), log([OIII]/Hb)). */
#define GPD_BPT_XMIN (-2.0)
#define GPD_BPT_XMAX 1.0
#define GPD_BPT_YMIN (-1.5)
#define GPD_BPT_YMAX 1.5

#endif
