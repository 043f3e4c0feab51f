/* gp_backend.c: opening the CUDA backend from libgalpost.
 *
 * Built with CUDA, the backend lives in a module (cuda/local.mk) loaded on
 * first use, after the driver has reported a device (gp_backend_module.c):
 * AUTO on a machine without a GPU then costs no CUDA library in memory. */
#include "config.h"
#include "gp_backend.h"

#ifndef GP_HAVE_CUDA
int gp_backend_open_cuda(int device, gp_backend **out, gp_error *err)
{
    (void)device;
    if (out) *out = NULL;
    return GP_FAIL(err, GP_ERR_BACKEND,
                   "galpost was built without the CUDA backend (configure --with-cuda)");
}
#else
int gp_backend_open_cuda(int device, gp_backend **out, gp_error *err)
{
    if (!out) return GP_FAIL(err, GP_ERR_ARG, "gp_backend_open_cuda: NULL output");
    *out = NULL;
    if (device < 0) return GP_FAIL(err, GP_ERR_ARG, "CUDA device %d: the ordinal must be >= 0", device);
    int st = gp_backend_cuda_probe(device, err);
    if (st) return st;
    const gp_backend_module *m;
    if ((st = gp_backend_module_load(gp_backend_cuda_module_path(), &m, err))) {
        gp_error_prefix(err, "CUDA backend");
        return st;
    }
    st = m->open(device, out, err);
    if (st) *out = NULL;
    return st;
}
#endif
