/* gp_fake_module.c: would-be backend modules for test_cuda_module.c.
 * Built twice: with the entry symbol but a future ABI (it must be refused
 * before its open is called), and with -DGP_FAKE_MODULE_NOSYM without the
 * entry (a shared object that is not a galpost module). */
#include "gp_backend.h"

#ifdef GP_FAKE_MODULE_NOSYM
const int gp_fake_module_unrelated = 1;
#else
static int fake_open(int device, gp_backend **out, gp_error *err)
{
    (void)device; (void)err;
    if (out) *out = NULL;
    return GP_ERR_BACKEND;
}

const gp_backend_module gp_backend_module_entry = {
    GP_BACKEND_ABI + 1000,
    (unsigned)sizeof(gp_backend_ops),
    (unsigned)sizeof(gp_backend),
    (unsigned)sizeof(gp_error),
    PACKAGE_VERSION,
    "fake",
    fake_open,
};
#endif
