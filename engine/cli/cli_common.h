/* cli_common.h: options shared by the sub-commands that run a model. */
#ifndef GALPOST_CLI_COMMON_H
#define GALPOST_CLI_COMMON_H
#include "galpost/gp_model.h"

/* Parse "auto", "cpu" or "cuda". */
int gp_cli_parse_backend(const char *s, gp_backend_kind *out);
/* Parse "U,G,R,I,Z" into five magnitudes. */
int gp_cli_parse_mags(const char *s, float mag[5]);
/* Open the named model, or the default one; prints the error and returns
 * NULL on failure.  Prints a warning when the model is untrained. */
gp_model *gp_cli_open_model(const char *path, gp_backend_kind backend, int threads);
#endif
