/* gp_model_internal.h: the model object (internal). */
#ifndef GALPOST_GP_MODEL_INTERNAL_H
#define GALPOST_GP_MODEL_INTERNAL_H
#include "galpost/gp_model.h"
#include "gp_backend.h"
#include "gp_net.h"

struct gp_model {
    gp_weights *w;
    gp_net      net;
    gp_backend *be;
    char        note[1200];
    /* gp_infer's host areas for the samples of two chunks in flight, kept
     * between calls: host_alloc() memory (page-locked on a GPU, so that
     * downloads into it run beside the next chunk's work) or malloc'd */
    void       *dl[2];
    size_t      dl_bytes[2];
    int         dl_backend[2];   /* from host_alloc() */
};

/* gp_model_host_areas_free() - release m->dl (gp_model_close does). */
void gp_model_host_areas_free(gp_model *m);
#endif
