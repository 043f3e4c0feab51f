/* cli_common.c: options shared by the sub-commands that run a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/gp_cli.h"

int gp_cli_parse_backend(const char *s, gp_backend_kind *out)
{
    if (!strcmp(s, "auto")) *out = GP_BACKEND_AUTO;
    else if (!strcmp(s, "cpu")) *out = GP_BACKEND_CPU;
    else if (!strcmp(s, "cuda")) *out = GP_BACKEND_CUDA;
    else return -1;
    return 0;
}

int gp_cli_parse_mags(const char *s, float mag[5])
{
    char buf[256];
    if (!s || strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *save = NULL, *tok = strtok_r(buf, ",", &save);
    for (int i = 0; i < 5; i++) {
        double v;
        if (!tok || gp_cli_parse_double(tok, 5.0, 40.0, &v)) return -1;
        mag[i] = (float)v;
        tok = strtok_r(NULL, ",", &save);
    }
    return tok ? -1 : 0;
}

gp_model *gp_cli_open_model(const char *path, gp_backend_kind backend, int threads)
{
    char def[4096];
    gp_error err;
    if (!path) {
        if (gp_model_default_path(def, sizeof def, &err)) {
            fprintf(stderr, "galpost: %s\n", err.msg);
            return NULL;
        }
        path = def;
    }
    gp_model_options o = gp_model_options_default();
    o.backend = backend;
    o.threads = threads;
    gp_model *m = NULL;
    if (gp_model_open(path, &o, &m, &err)) {
        fprintf(stderr, "galpost: %s\n", err.msg);
        return NULL;
    }
#ifdef GP_HAVE_CUDA
    /* the CUDA backend is built but could not be used: say so, once */
    if (backend == GP_BACKEND_AUTO && *gp_model_backend_note(m))
        fprintf(stderr, "galpost: %s; running on %s\n", gp_model_backend_note(m), gp_model_backend_name(m));
#endif
    if (!gp_model_is_trained(m))
        fprintf(stderr, "galpost: warning: %s is an UNTRAINED model with random weights: its posteriors are not physics\n", path);
    return m;
}
