/*
 * cli_infer.c: `galpost infer`, posterior inference from the command line.
 *
 *   galpost infer [options] --cutout FILE.fits [--mags U,G,R,I,Z]
 *       one galaxy: a 160x160x3 gri cutout (magnitudes from --mags or the
 *       cutout's MAG_U..MAG_Z keywords); prints the summary table or JSON.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_fits.h"
#include "galpost/gp_model.h"
#include "cli/cli_common.h"
#include "cli/gp_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpost infer [options] --cutout FILE.fits [--mags U,G,R,I,Z]\n"
        "\n"
        "one galaxy:\n"
        "  --cutout FILE     160x160x3 FITS cube of g, r, i planes in nanomaggies\n"
        "  --mags U,G,R,I,Z  extinction-corrected ugriz model magnitudes (AB);\n"
        "                    default: the cutout's MAG_U..MAG_Z keywords\n"
        "  --id N            galaxy id keying the sampler (default: OBJID or 1)\n"
        "options:\n"
        "  --model FILE      weights file (default: $GALPOST_MODEL or the installed model)\n"
        "  --samples N       posterior samples (default 1000)\n"
        "  --seed S          sampler seed (default 1)\n"
        "  --threads T       CPU threads (default: all CPUs)\n"
        "  --backend B       auto, cpu or cuda (default auto)\n"
        "  --json            print the summary as JSON\n"
        "  --samples-out F   write the samples as text (one row per sample)\n");
}

static void print_json(const gp_result *r, const char *model, FILE *f)
{
    const gp_summary *s = &r->summary;
    fprintf(f, "{\"id\": %llu, \"model\": \"%s\", \"nsamples\": %d, \"flags\": %u, \"quantities\": {",
            (unsigned long long)r->id, model, r->nsamples, r->flags);
    for (int q = 0; q < GP_NQ; q++)
        fprintf(f, "%s\"%s\": {\"median\": %.6g, \"p16\": %.6g, \"p84\": %.6g, \"mean\": %.6g, \"std\": %.6g}",
                q ? ", " : "", gp_quantity_name(q), s->median[q], s->p16[q], s->p84[q], s->mean[q], s->std[q]);
    fprintf(f, "}, \"p_detect\": %.6g, \"bpt\": {\"class\": \"%s\", \"n\": %d", s->p_detect,
            gp_bpt_class_name(s->bpt_class), s->bpt_n);
    for (int c = 0; c < GP_NBPT; c++) fprintf(f, ", \"p_%s\": %.6g", c == 0 ? "sf" : c == 1 ? "composite" : c == 2 ? "seyfert" : "liner", s->p_bpt[c]);
    fprintf(f, "}}\n");
}

int gp_cli_infer(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cutout", required_argument, 0, 'c'}, {"mags", required_argument, 0, 'm'},
        {"id", required_argument, 0, 'i'}, {"model", required_argument, 0, 'M'},
        {"samples", required_argument, 0, 'n'}, {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"backend", required_argument, 0, 'b'},
        {"json", no_argument, 0, 'j'}, {"samples-out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cutout = NULL, *model = NULL, *samples_out = NULL;
    float mags[5] = {NAN, NAN, NAN, NAN, NAN};
    int have_mags = 0, json = 0;
    long nsamples = 1000, threads = 0, seed = 1, id = -1;
    gp_backend_kind backend = GP_BACKEND_AUTO;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cutout = optarg; break;
        case 'm':
            if (gp_cli_parse_mags(optarg, mags)) { fprintf(stderr, "galpost infer: --mags needs five magnitudes U,G,R,I,Z between 5 and 40, got '%s'\n", optarg); return 2; }
            have_mags = 1;
            break;
        case 'i': if (gp_cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &id)) { fprintf(stderr, "galpost infer: bad --id '%s'\n", optarg); return 2; } break;
        case 'M': model = optarg; break;
        case 'n': if (gp_cli_parse_int(optarg, 2, 1000000, &nsamples)) { fprintf(stderr, "galpost infer: --samples must be 2..1000000, got '%s'\n", optarg); return 2; } break;
        case 's': if (gp_cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &seed)) { fprintf(stderr, "galpost infer: bad --seed '%s'\n", optarg); return 2; } break;
        case 't': if (gp_cli_parse_int(optarg, 0, 256, &threads)) { fprintf(stderr, "galpost infer: --threads must be 0..256, got '%s'\n", optarg); return 2; } break;
        case 'b': if (gp_cli_parse_backend(optarg, &backend)) { fprintf(stderr, "galpost infer: --backend must be auto, cpu or cuda, got '%s'\n", optarg); return 2; } break;
        case 'j': json = 1; break;
        case 'o': samples_out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "galpost infer: unexpected argument '%s'\n", argv[optind]); usage(stderr); return 2; }
    if (!cutout) { fprintf(stderr, "galpost infer: --cutout FILE is required\n"); usage(stderr); return 2; }

    float *pix = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    if (!pix) { fprintf(stderr, "galpost infer: out of memory\n"); return 1; }
    gp_cutout_info info;
    gp_error err;
    if (gp_cutout_read_fits(cutout, pix, &info, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); free(pix); return 1; }
    if (!have_mags) {
        for (int b = 0; b < 5; b++) mags[b] = info.mag[b];
        for (int b = 0; b < 5; b++)
            if (!isfinite(mags[b])) {
                fprintf(stderr, "galpost infer: %s has no MAG_%c keyword: give --mags U,G,R,I,Z\n", cutout, "UGRIZ"[b]);
                free(pix);
                return 2;
            }
    }
    gp_model *m = gp_cli_open_model(model, backend, (int)threads);
    if (!m) { free(pix); return 1; }
    gp_galaxy g = { id >= 0 ? (uint64_t)id : (info.objid ? info.objid : 1), pix, {0}, 0 };
    memcpy(g.mag, mags, sizeof mags);
    gp_infer_options io = { (int)nsamples, (uint64_t)seed, samples_out != NULL };
    gp_result r;
    int st = gp_infer(m, &g, 1, &io, &r, &err);
    int rc = 0;
    if (st) { fprintf(stderr, "galpost infer: %s\n", err.msg); rc = 1; }
    else {
        if (json) print_json(&r, gp_model_path(m), stdout);
        else {
            printf("model: %s (%s%s)\n", gp_model_path(m), gp_model_backend_name(m),
                   gp_model_is_trained(m) ? "" : ", UNTRAINED random weights");
            printf("input: %s, magnitudes u g r i z = %.3f %.3f %.3f %.3f %.3f (command line%s)\n", cutout,
                   mags[0], mags[1], mags[2], mags[3], mags[4], have_mags ? "" : ": cutout keywords");
            gp_summary_print(&r, stdout);
        }
        if (samples_out) {
            FILE *f = fopen(samples_out, "w");
            if (!f) { fprintf(stderr, "galpost infer: cannot write %s\n", samples_out); rc = 1; }
            else {
                fprintf(f, "#");
                for (int q = 0; q < GP_NQ; q++) fprintf(f, " %s", gp_quantity_name(q));
                fprintf(f, "\n");
                for (int i = 0; i < r.nsamples; i++) {
                    for (int q = 0; q < GP_NQ; q++) fprintf(f, "%s%.7g", q ? " " : "", r.samples[i * GP_NQ + q]);
                    fprintf(f, "\n");
                }
                if (fclose(f)) { fprintf(stderr, "galpost infer: error writing %s\n", samples_out); rc = 1; }
            }
        }
        gp_result_free(&r, 1);
    }
    gp_model_close(m);
    free(pix);
    return rc;
}
