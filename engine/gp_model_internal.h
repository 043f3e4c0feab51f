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
};
#endif
