/*
 * gp_mock_render.h: images of the mock sky in nanomaggies.
 *
 * Profiles are Gaussian mixtures (gp_mock_profile.h); each component is
 * convolved analytically with the two Gaussians of the band's PSF and with
 * the pixel (variance 1/12), then drawn only where it exceeds a threshold,
 * row by row with an exact multiplicative recurrence (no exp per pixel).
 * The sky->pixel Jacobian `jac` maps offsets (east, north) in arcsec to
 * pixel offsets (dx, dy): jac = {dx/dE, dx/dN, dy/dE, dy/dN}.
 */
#ifndef GALPOST_GP_MOCK_RENDER_H
#define GALPOST_GP_MOCK_RENDER_H

#include "gp_mock.h"
#include "gp_mock_rng.h"

/* The shape of a two-component galaxy (bulge n=4, disc n=1). */
typedef struct gp_mock_shape {
    double bt;               /* bulge fraction of the flux in this band */
    double re_disk, re_bulge;/* arcsec */
    double q_disk, q_bulge;
    double pa;               /* degrees east of north */
} gp_mock_shape;

/* One band image being built. */
typedef struct gp_mock_canvas {
    float *model;            /* nx*ny, row-major, y slowest */
    int    nx, ny;
    double jac[4];
    const gp_mock_obs *obs;  /* noise, sky and PSF of the band */
    int    band;
    double thresh;           /* nmgy/pixel below which a component is not drawn */
} gp_mock_canvas;

/* North up, east left cutout Jacobian for pixel scale GP_MOCK_PIXSCALE. */
void gp_mock_jac_northup(double jac[4]);

/* gp_mock_shape_of() - the shape of galaxy g in band b. */
void gp_mock_shape_of(const gp_mock_galaxy *g, int band, gp_mock_shape *s);

/* Add a galaxy of total `flux` (nmgy) centred at pixel (x0, y0). */
void gp_mock_render_galaxy(gp_mock_canvas *c, const gp_mock_shape *s, double flux,
                           double x0, double y0);

/* Add a point source (the PSF) of total `flux` at (x0, y0). */
void gp_mock_render_star(gp_mock_canvas *c, double flux, double x0, double y0);

/*
 * Saturate: pixels above the full well (in DN, sky included) are clipped to it and
 * their excess charge bleeds along the CCD columns, direction (ux, uy) in pixels.
 */
void gp_mock_render_saturate(gp_mock_canvas *c, double ux, double uy);

/* The same, only for pixels in the window [i0, i1] x [j0, j1] (one bright source). */
void gp_mock_render_saturate_window(gp_mock_canvas *c, int i0, int i1, int j0, int j1,
                                    double ux, double uy);

/* Peak pixel value (nmgy) of a point source of flux f in canvas c. */
double gp_mock_render_star_peak(const gp_mock_canvas *c, double flux);

/* Replace model by model + noise (sky Poisson + object Poisson + dark variance). */
void gp_mock_render_noise(gp_mock_canvas *c, gp_mock_fastrng *f, float *scratch);

/* Full-well level in DN (SDSS saturates near 2^16 minus the software bias). */
#define GP_MOCK_SATURATION_DN 55000.0

/*
 * gp_mock_render_cutout() - the whole stamp of galaxy g: the galaxy, neighbouring
 * galaxies and stars at realistic densities, occasional saturated stars with bleed
 * trails, noise.  out receives nbands planes of size*size floats, in the order of
 * bands[] (band indices 0..4).  Deterministic in (seed, g->index).  flags: a
 * combination of GP_MOCK_CUTOUT_ALONE and GP_MOCK_CUTOUT_NONOISE (tests), normally 0.
 * Returns GP_OK or GP_ERR_NOMEM / GP_ERR_ARG.
 */
#define GP_MOCK_CUTOUT_ALONE   1   /* flag: no neighbours or stars */
#define GP_MOCK_CUTOUT_NONOISE 2   /* flag: noiseless model */
int gp_mock_render_cutout(uint64_t seed, const gp_mock_galaxy *g, const int *bands, int nbands,
                          int size, int flags, float *out, gp_error *err);

#endif
