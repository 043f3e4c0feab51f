/* gp_mock_table.c: SDSS/MPA-JHU galaxy table columns (sim/FORMAT.md). */
#include "config.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gp_mock_table.h"

enum { T_I64, T_F64, T_F32, T_I32 };

typedef struct column {
    const char *name;
    int type;
    size_t off;       /* offset of a double / int / int64 field in gp_mock_galaxy */
    const char *unit;
    const char *comment;
} column;

#define OFF(f) offsetof(gp_mock_galaxy, f)
#define BAND5(base, field, type, unit, comment) \
    { base "_u", type, OFF(field[0]), unit, comment }, { base "_g", type, OFF(field[1]), unit, comment }, \
    { base "_r", type, OFF(field[2]), unit, comment }, { base "_i", type, OFF(field[3]), unit, comment }, \
    { base "_z", type, OFF(field[4]), unit, comment }

static const column cols[] = {
    { "objID", T_I64, OFF(objid), "", "mock object id (SDSS-like 64-bit)" },
    { "ra", T_F64, OFF(ra), "deg", "J2000 right ascension" },
    { "dec", T_F64, OFF(dec), "deg", "J2000 declination" },
    { "z", T_F64, OFF(z), "", "redshift (spectroscopic, exact in the mock)" },
    BAND5("modelMag", modelmag, T_F32, "mag", "model magnitude, not extinction corrected"),
    BAND5("modelMagErr", modelmag_err, T_F32, "mag", "model magnitude error"),
    BAND5("extinction", extinction, T_F32, "mag", "Galactic extinction (SFD x SF11 R)"),
    { "petroMag_r", T_F32, OFF(petromag_r), "mag", "Petrosian magnitude r" },
    { "petroMagErr_r", T_F32, OFF(petromag_err_r), "mag", "Petrosian magnitude error r" },
    { "petroR50_r", T_F32, OFF(petror50_r), "arcsec", "radius with 50% of the Petrosian flux, r" },
    { "petroR90_r", T_F32, OFF(petror90_r), "arcsec", "radius with 90% of the Petrosian flux, r" },
    { "psfMag_r", T_F32, OFF(psfmag_r), "mag", "PSF magnitude r" },
    { "fiberMag_r", T_F32, OFF(fibermag[2]), "mag", "3-arcsec fibre magnitude r (no noise)" },
    { "lgm_tot_p50", T_F32, OFF(lgm_tot_p50), "dex(Msun)", "log stellar mass (Kroupa), MPA-JHU-like estimate" },
    { "sfr_tot_p50", T_F32, OFF(sfr_tot_p50), "dex(Msun/yr)", "log SFR, MPA-JHU-like estimate" },
    { "oh_p50", T_F32, OFF(oh_p50), "dex", "12+log(O/H), T04 scale; -9999 when not measurable" },
    { "oh_measurable", T_I32, OFF(oh_measurable), "", "1: S/N>5 in Ha, Hb, [NII] and BPT star-forming" },
    { "v_disp", T_F32, OFF(v_disp), "km/s", "fibre stellar velocity dispersion" },
    { "v_disp_err", T_F32, OFF(v_disp_err), "km/s", "its error" },
    { "log_mbh", T_F32, OFF(log_mbh), "dex(Msun)", "log black-hole mass (MM13 from sigma_e + 0.38 dex)" },
    { "log_mbh_vdisp", T_F32, OFF(log_mbh_vdisp), "dex(Msun)", "MM13 applied to v_disp (as for real data)" },
    { "h_alpha_flux", T_F32, OFF(line_flux[0]), "1e-17 erg/s/cm2", "fibre Halpha flux" },
    { "h_alpha_flux_err", T_F32, OFF(line_err[0]), "1e-17 erg/s/cm2", "its error" },
    { "h_beta_flux", T_F32, OFF(line_flux[1]), "1e-17 erg/s/cm2", "fibre Hbeta flux" },
    { "h_beta_flux_err", T_F32, OFF(line_err[1]), "1e-17 erg/s/cm2", "its error" },
    { "nii_6584_flux", T_F32, OFF(line_flux[2]), "1e-17 erg/s/cm2", "fibre [NII]6584 flux" },
    { "nii_6584_flux_err", T_F32, OFF(line_err[2]), "1e-17 erg/s/cm2", "its error" },
    { "oiii_5007_flux", T_F32, OFF(line_flux[3]), "1e-17 erg/s/cm2", "fibre [OIII]5007 flux" },
    { "oiii_5007_flux_err", T_F32, OFF(line_err[3]), "1e-17 erg/s/cm2", "its error" },
    { "bptclass", T_I32, OFF(bptclass), "", "-1 unclass., 1 SF, 2 low-S/N SF, 3 comp., 4 AGN, 5 low-S/N LINER" },
    /* --- mock truth and conditions (absent from real exports) --- */
    { "lgm_true", T_F32, OFF(logm_true), "dex(Msun)", "true log stellar mass" },
    { "sfr_true", T_F32, OFF(logsfr_true), "dex(Msun/yr)", "true log SFR" },
    { "oh_true", T_F32, OFF(oh_true), "dex", "true 12+log(O/H), T04 scale" },
    { "sigma_e", T_F32, OFF(sigma_e), "km/s", "true velocity dispersion within R_e" },
    { "sf_state", T_I32, OFF(sfstate), "", "0 star forming, 1 green valley, 2 quenched" },
    { "agn_type", T_I32, OFF(agn), "", "0 none, 1 Seyfert, 2 LINER (true)" },
    { "bpt_agn_type", T_I32, OFF(bpt_agn_type), "", "Schawinski split of class 4/5: 1 Seyfert, 2 LINER" },
    { "h_alpha_flux_true", T_F32, OFF(line_true[0]), "1e-17 erg/s/cm2", "noiseless fibre Halpha flux" },
    { "h_beta_flux_true", T_F32, OFF(line_true[1]), "1e-17 erg/s/cm2", "noiseless fibre Hbeta flux" },
    { "nii_6584_flux_true", T_F32, OFF(line_true[2]), "1e-17 erg/s/cm2", "noiseless fibre [NII] flux" },
    { "oiii_5007_flux_true", T_F32, OFF(line_true[3]), "1e-17 erg/s/cm2", "noiseless fibre [OIII] flux" },
    { "a_halpha", T_F32, OFF(a_halpha), "mag", "host attenuation at Halpha" },
    { "ebv_sfd", T_F32, OFF(ebv), "mag", "Galactic E(B-V)" },
    { "bt_r", T_F32, OFF(bt), "", "bulge-to-total flux ratio, r" },
    { "re_disk", T_F32, OFF(re_disk), "arcsec", "disc half-light semi-major axis" },
    { "re_bulge", T_F32, OFF(re_bulge), "arcsec", "bulge half-light semi-major axis" },
    { "q_disk", T_F32, OFF(q_disk), "", "disc axis ratio" },
    { "q_bulge", T_F32, OFF(q_bulge), "", "bulge axis ratio" },
    { "pa", T_F32, OFF(pa), "deg", "position angle east of north" },
    { "r50_kpc", T_F32, OFF(r50_kpc), "kpc", "true half-light radius" },
    { "mu50", T_F32, OFF(mu50), "mag/arcsec2", "Petrosian half-light surface brightness r" },
    BAND5("mag_true", mag_true, T_F32, "mag", "noiseless total magnitude incl. extinction"),
    { "psf_fwhm_u", T_F32, OFF(obs.psf[0].fwhm), "arcsec", "PSF FWHM" },
    { "psf_fwhm_g", T_F32, OFF(obs.psf[1].fwhm), "arcsec", "PSF FWHM" },
    { "psf_fwhm_r", T_F32, OFF(obs.psf[2].fwhm), "arcsec", "PSF FWHM" },
    { "psf_fwhm_i", T_F32, OFF(obs.psf[3].fwhm), "arcsec", "PSF FWHM" },
    { "psf_fwhm_z", T_F32, OFF(obs.psf[4].fwhm), "arcsec", "PSF FWHM" },
    BAND5("sky", obs.sky_nmgy, T_F32, "nanomaggy/pixel", "sky level (subtracted)"),
    BAND5("sigma_pix", obs.sigma_pix, T_F32, "nanomaggy", "sky-limited pixel noise"),
    BAND5("nmgy_per_count", obs.nmgy_per_count, T_F32, "nanomaggy", "calibration (NMGY)"),
    { "run", T_I32, OFF(obs.run), "", "run of the observing conditions" },
    { "camcol", T_I32, OFF(obs.camcol), "", "camera column of gain/dark variance" },
    { "mgs_selected", T_I32, OFF(selected), "", "passes the Main Galaxy Sample cuts" },
};
#define NCOLS ((int)(sizeof cols / sizeof cols[0]))

int gp_mock_table_ncols(void) { return NCOLS; }
const char *gp_mock_table_colname(int k) { return k >= 0 && k < NCOLS ? cols[k].name : NULL; }

int gp_mock_table_create(fitsfile *f, const char *extname, const char *path, gp_error *err)
{
    char *ttype[NCOLS], *tform[NCOLS], *tunit[NCOLS];
    for (int k = 0; k < NCOLS; k++) {
        ttype[k] = (char *)cols[k].name;
        tform[k] = (char *)(cols[k].type == T_I64 ? "K" : cols[k].type == T_F64 ? "D" :
                            cols[k].type == T_I32 ? "J" : "E");
        tunit[k] = (char *)cols[k].unit;
    }
    int st = 0;
    fits_create_tbl(f, BINARY_TBL, 0, NCOLS, ttype, tform, tunit, (char *)extname, &st);
    for (int k = 0; k < NCOLS && !st; k++) {
        char key[16];
        snprintf(key, sizeof key, "TTYPE%d", k + 1);
        fits_modify_comment(f, key, (char *)cols[k].comment, &st);
    }
    if (st) {
        char msg[FLEN_STATUS];
        fits_get_errstatus(st, msg);
        return GP_FAIL(err, GP_ERR_FITS, "%s: cannot create table '%s': %s", path, extname, msg);
    }
    return GP_OK;
}

int gp_mock_table_write(fitsfile *f, long first_row, const gp_mock_galaxy *g, int n,
                        const char *path, gp_error *err)
{
    if (n <= 0) return GP_OK;
    void *buf = malloc((size_t)n * 8);
    if (!buf) return GP_FAIL(err, GP_ERR_NOMEM, "%s: no memory for %d table rows", path, n);
    int st = 0;
    for (int k = 0; k < NCOLS && !st; k++) {
        const column *c = &cols[k];
        for (int i = 0; i < n; i++) {
            const char *base = (const char *)&g[i] + c->off;
            switch (c->type) {
            case T_I64: ((LONGLONG *)buf)[i] = *(const int64_t *)base; break;
            case T_F64: ((double *)buf)[i] = *(const double *)base; break;
            case T_F32: ((float *)buf)[i] = (float)*(const double *)base; break;
            default:    ((int *)buf)[i] = *(const int *)base; break;
            }
        }
        int dt = c->type == T_I64 ? TLONGLONG : c->type == T_F64 ? TDOUBLE :
                 c->type == T_F32 ? TFLOAT : TINT;
        fits_write_col(f, dt, k + 1, first_row, 1, n, buf, &st);
    }
    free(buf);
    if (st) {
        char msg[FLEN_STATUS];
        fits_get_errstatus(st, msg);
        return GP_FAIL(err, GP_ERR_FITS, "%s: cannot write table rows %ld-%ld: %s", path,
                       first_row, first_row + n - 1, msg);
    }
    return GP_OK;
}
