/* gp_cuda_module.c: the entry of the CUDA backend module (galpost-cuda.so),
 * the one symbol the module exports (cuda/local.mk); libgalpost checks it
 * before calling open (engine/gp_backend_module.c). */
#include "config.h"
#include "gp_backend.h"

const gp_backend_module gp_backend_module_entry = {
    GP_BACKEND_ABI,
    (unsigned)sizeof(gp_backend_ops),
    (unsigned)sizeof(gp_backend),
    (unsigned)sizeof(gp_error),
    PACKAGE_VERSION,
    "cuda",
    gp_backend_open_cuda,  /* cuda/gp_cuda_backend.cu's, local to the module */
};
