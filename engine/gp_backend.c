/* gp_backend.c: backend selection when galpost is built without CUDA. */
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
#endif
