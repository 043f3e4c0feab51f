/*
 * gp_plot_internal.h: the legend placement of gp_plot.c and what the tests
 * need to check it (internal; the figure API is include/galpost/gp_plot.h).
 */
#ifndef GALPOST_GP_PLOT_INTERNAL_H
#define GALPOST_GP_PLOT_INTERNAL_H

#include "galpost/gp_plot.h"

/*
 * gp_plot_legend_place() - where a bw x bh legend box covers the least ink
 * (pixels other than opaque white) inside the panel x0, y0, w, h of an
 * ARGB32 image (cairo's layout: rows of stride bytes, native-endian 32-bit
 * pixels): the corners first (top right, top left, bottom right, bottom
 * left, 6 pixels inside the panel), then positions on a 4-pixel grid; the
 * first with the least ink wins.
 * Returned: bx, by, the box's top-left pixel (top right when it does not fit).
 * Function return value: the ink under the box; -1 when the box does not fit
 * in the panel or memory fails (then the top-right corner).
 */
long gp_plot_legend_place(const unsigned char *argb, int stride, int x0, int y0, int w, int h, int bw, int bh,
                          int *bx, int *by);

/*
 * gp_plot_legend_box() - panel k's legend box as gp_plot_write_png() drew it:
 * x, y (top left), width, height in pixels.
 * Function return value: GP_OK; GP_ERR_ARG when k is out of range or the
 * panel has no legend drawn (yet).
 */
int gp_plot_legend_box(const gp_plot *p, int k, double box[4]);

/* The figure's pixels (ARGB32, stride bytes a row; gp_plot_new's width x
 * height), as drawn so far; valid until the next drawing call. */
const unsigned char *gp_plot_pixels(gp_plot *p, int *stride);

#endif
