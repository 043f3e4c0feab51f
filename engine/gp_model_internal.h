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
     * between calls (gp_model_host_alloc: page-locked on a GPU, so that
     * downloads into them run beside the next chunk's work) */
    void       *dl[2];
    size_t      dl_bytes[2];
};

/* gp_model_host_alloc() - `bytes` of host memory that the model's backend
 * copies from and to directly (host_alloc: page-locked on a GPU) when it
 * can, else plain (64-byte aligned); NULL when neither can be had.
 * gp_model_host_free() releases either kind (NULL is a no-op). */
void *gp_model_host_alloc(gp_model *m, size_t bytes);
void  gp_model_host_free(gp_model *m, void *p);

/* gp_model_host_areas_free() - release m->dl (gp_model_close does). */
void gp_model_host_areas_free(gp_model *m);

/* gp_infer_chunk_size() - gp_infer()'s chunk plan: the galaxies in the
 * chunk that starts c0 galaxies into a batch, `remaining` of them from
 * there, for chunks of at most per_chunk galaxies; on_cpu: the CPU
 * backend's plan (whole chunks); split_single: a GPU batch that fits one
 * chunk is split (GP_INFER_SPLIT unset).  See gp_infer.c for the plan. */
int gp_infer_chunk_size(size_t remaining, int per_chunk, size_t c0, int on_cpu, int split_single);
#endif
