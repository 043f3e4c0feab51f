/*
 * galpost.h: the whole public API of libgalpost.
 */
#ifndef GALPOST_GALPOST_H
#define GALPOST_GALPOST_H
#include "galpost/gp_error.h"
#include "galpost/gp_weights.h"
#include "galpost/gp_model.h"
#include "galpost/gp_image.h"
#endif
