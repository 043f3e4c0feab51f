/* gp_shard_write.c: training-shard output (gp_shard_write.h). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_fits_util.h"
#include "gp_shard_write.h"

int gp_outdir_ready(const char *dir, const char *who, gp_error *err)
{
    if (!dir || !*dir) return GP_FAIL(err, GP_ERR_ARG, "%s: no output directory", who);
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT || mkdir(dir, 0777) != 0)
            return GP_FAIL(err, GP_ERR_IO, "%s: cannot create directory '%s': %s", who, dir, strerror(errno));
        if (stat(dir, &sb) != 0)
            return GP_FAIL(err, GP_ERR_IO, "%s: '%s': %s", who, dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return GP_FAIL(err, GP_ERR_IO, "%s: '%s' is not a directory", who, dir);
    if (access(dir, W_OK) != 0) return GP_FAIL(err, GP_ERR_IO, "%s: directory '%s' is not writable", who, dir);
    return GP_OK;
}

int gp_shard_cube_create(fitsfile *f, const gp_shard_cube *c, const char *path, gp_error *err)
{
    int st = 0, size = c->size;
    long naxes[4] = { c->size, c->size, (long)strlen(c->bands), c->count }, first = c->first, count = c->count;
    long long seed = c->seed;
    double pix = c->pixscale;
    fits_create_img(f, FLOAT_IMG, 4, naxes, &st);
    fits_write_key(f, TSTRING, "GPFORMAT", "galpost-train-1", "galpost training shard, sim/FORMAT.md", &st);
    fits_write_key(f, TSTRING, "BUNIT", "nanomaggy", "1 nanomaggy = 3.631e-6 Jy", &st);
    fits_write_key(f, TSTRING, "BANDS", (char *)c->bands, "band of each plane of axis 3", &st);
    fits_write_key(f, TINT, "CUTSIZE", &size, "cutout side, pixels", &st);
    fits_write_key(f, TDOUBLE, "PIXSCALE", &pix, "arcsec per pixel", &st);
    fits_write_key(f, TSTRING, "ORIENT", "north up, east left", "cutout orientation (row 1 at the south)", &st);
    fits_write_key(f, TSTRING, "SKYSUB", "T", "sky subtracted, like SDSS frames", &st);
    fits_write_key(f, TSTRING, "ORIGIN", (char *)c->origin, c->origin_note, &st);
    fits_write_key(f, TLONGLONG, "SEED", &seed, c->seed_note, &st);
    fits_write_key(f, TLONG, "FIRSTIDX", &first, "galaxy index of plane 1", &st);
    fits_write_key(f, TLONG, "NGAL", &count, "galaxies in this shard", &st);
    if (st) return gp_fits_fail(err, st, "%s: cannot write the cube header", path);
    return GP_OK;
}
