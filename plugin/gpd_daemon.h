/*
 * gpd_daemon.h: galpostd's state, jobs, worker and DS9 side (see gpd.h
 * for the thread model).
 */
#ifndef GALPOST_GPD_DAEMON_H
#define GALPOST_GPD_DAEMON_H

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include "gp_xpa.h"
#include "gpd.h"

typedef enum gpd_job_kind { GPD_JOB_INFER, GPD_JOB_CLEAR, GPD_JOB_RELOAD, GPD_JOB_PLOT } gpd_job_kind;

typedef enum gpd_job_state {
    GPD_JOB_QUEUED,     /* waiting in the queue */
    GPD_JOB_GATHER,     /* main thread: reading DS9 */
    GPD_JOB_COMPUTE,    /* worker: cutouts, colours, inference */
    GPD_JOB_COMPUTED,   /* worker done, main thread to publish */
    GPD_JOB_DONE,
    GPD_JOB_FAILED
} gpd_job_state;

/* A file's identity on disk (gpd_verified.c): what must not have changed
 * for a file checked against DS9 to need no new check. */
typedef struct gpd_file_id {
    int             ok;
    dev_t           dev;
    ino_t           ino;
    off_t           size;
    struct timespec mtim, ctim;
    struct timespec seen;       /* CLOCK_REALTIME when taken */
} gpd_file_id;

/* One image found among DS9's frames. */
typedef struct gpd_source {
    int    frame;               /* DS9 frame id */
    char   channel[8];          /* RGB channel, or "" */
    int    band;                /* gp_band, GP_BAND_UNKNOWN when not known */
    char   path[GPD_PATH_MAX];  /* file DS9 loaded, or "" */
    char  *mem;                 /* the frame's FITS, when there is no file or
                                   the file is not what DS9 shows */
    size_t memlen;
    char  *hdr;                 /* DS9's header of the frame (`fits header`), or NULL */
    const char *file_note;      /* with mem and a path: why the file was not used */
    gpd_file_id id;             /* the file's identity at gather (id.ok) */
    int    trusted;             /* unchanged since found to be what DS9 shows: no
                                   header fetched; the worker must find this id */
    /* set by the worker, read by the main thread when the job is back */
    int    worker_checked;      /* the worker compared the file (worker_id) with
                                   DS9's header: the same */
    int    worker_changed;      /* a trusted file changed before the worker read it */
    gpd_file_id worker_id;
} gpd_source;

/* The outcome for one galaxy. */
typedef struct gpd_outcome {
    int        status;          /* gp_status */
    char       message[768];
    gpd_result res;             /* valid when status == GP_OK */
    int        has_image;       /* overlay position in the current frame */
    double     x, y, rpix;
} gpd_outcome;

typedef struct gpd_job {
    uint64_t        seq;
    char            tag[64];
    gpd_job_kind    kind;
    gpd_job_state   state;
    gpd_infer_args  args;
    char            target[1024];
    char            ds9id[1024];  /* DS9's own XPA method: one DS9, however named */
    gpd_config      cfg;          /* settings when submitted */
    /* gathered from DS9 (main thread) */
    int             nshape;
    int             nskipped;     /* regions beyond max_galaxies, not inferred */
    gpd_shape      *shapes;
    int             nsrc;
    gpd_source     *src;
    int             cur_frame;
    double          zoom;
    /* computed (worker) */
    gpd_outcome    *out;
    int             nok;
    /* a reload of the catalogue alone (set catalog): opened by set, swapped
     * in by the worker in queue order (catalog_swapped), then the old one */
    int             catalog_only, catalog_swapped;
    gp_catalog     *catalog;
    /* result */
    int             status;
    char            error[1024];
    char            ids[256];     /* "#3 #4" */
    double          t_submit, t_start, t_gathered, t_computed, t_done;
    struct gpd_job *next;
} gpd_job;

#define GPD_RESULTS_KEPT 64
#define GPD_JOBS_KEPT    64
#define GPD_TIMINGS_KEPT 128

typedef struct gpd_frame_cache gpd_frame_cache;

typedef struct gpd_daemon {
    gpd_config   cfg;              /* live settings (main thread) */
    char         config_path[GPD_PATH_MAX];
    int          config_required; /* named with -c: it must exist (the default one may not) */
    char       **overrides;        /* command-line KEY VALUE pairs, re-applied on reload */
    int          noverrides;
    char         tmpdir[GPD_PATH_MAX];
    double       t_start;
    int          quit;

    /* queue (main thread) */
    gpd_job     *head, *tail;      /* queued */
    int          nqueued;
    gpd_job     *current;          /* being gathered, computed or published */
    gpd_job     *finished[GPD_JOBS_KEPT];
    int          nfinished;
    uint64_t     next_seq;

    /* results (main thread) */
    gpd_result  *results[GPD_RESULTS_KEPT];
    int          next_id;

    /* the BPT plot we last drew (main thread) */
    char         plot_target[1024];
    int          plot_posteriors;     /* its posterior datasets ... */
    int          plot_dataset[16];    /* ... and their DS9 dataset numbers */

    /* overlays drawn, so that a galaxy inferred again replaces its own
     * (main thread) */
    struct gpd_drawn {
        char    target[1024];
        int     frame, id;
        double  ra, dec, radius;
        /* where, so that later overlays in that frame keep clear of it */
        int       has_box;
        gpd_box   galaxy;      /* image pixels of the frame */
        gpd_lines lines;       /* its lines (their box at any zoom: gpd_lines_box) */
    } drawn[GPD_RESULTS_KEPT];
    int          ndrawn;

    /* statistics (main thread) */
    long         n_jobs, n_failed, n_galaxies;
    double       timings[GPD_TIMINGS_KEPT][4];   /* gather, compute, publish, total (ms) */
    int          ntimings;
    char         last_error[1024];

    /* worker */
    pthread_t        thread;
    int              thread_started;
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    gpd_job         *work;         /* handed to the worker */
    int              stop;
    int              wake[2];      /* worker and signals -> main loop */

    /* owned by the worker once it runs */
    gp_model        *model;
    gp_catalog      *catalog;
    gpd_frame_cache *cache;

    /* model facts for status (under mu) */
    char   model_path[GPD_PATH_MAX];
    char   backend_name[256];
    char   backend_note[512];
    int    model_trained, model_threads, model_ensemble, model_image;
    int    catalog_loaded;
    char   catalog_desc[GPD_PATH_MAX + 64];
} gpd_daemon;

/* gpd_worker.c */
int  gpd_load_model(gpd_daemon *d, const gpd_config *cfg, gp_error *err);
int  gpd_worker_start(gpd_daemon *d, gp_error *err);
void gpd_worker_submit(gpd_daemon *d, gpd_job *job);
void gpd_worker_stop(gpd_daemon *d);
void gpd_daemon_free_models(gpd_daemon *d);
void gpd_wake(gpd_daemon *d);

/* gpd_inputs.c (worker): a galaxy's cutout and magnitudes from the job's
 * images (opened by the worker) and the catalogue. */
typedef struct gpd_opened {
    gp_frame  *const *fr;         /* the job's sources, NULL where not open */
    const int        *open_st;    /* non-zero: not open ... */
    const char      (*open_msg)[512];  /* ... and why */
    int               cur_src;    /* the current frame's source, or -1 */
} gpd_opened;

const char *gpd_source_name(const gpd_source *s, char *buf, size_t n);

/* Non-zero, with why, when no galaxy of the job can be inferred: a
 * photometry-only model with no catalogue and not all five bands. */
int gpd_inputs_refuse(const gpd_job *job, int uses_image, const gp_catalog *cat, char *why, size_t n);

/* One galaxy's inputs: r (position, frames, colours, magnitudes, cutout
 * statistics), cut (GP_CUTOUT_PIXELS floats; *has_cut says whether it was
 * filled) and *flags.  Returns GP_OK, or a status with msg. */
int gpd_inputs_galaxy(const gpd_job *job, const gpd_opened *op, int uses_image, const gp_catalog *cat,
                      const gpd_shape *sh, float *cut, int *has_cut, uint32_t *flags, gpd_result *r,
                      char *msg, size_t n);

/* gpd_header.c: the file DS9 loaded against DS9's header of the frame.
 * gpd_header_differs: 1 (with the first difference in why), 0 the same,
 * -1 out of memory; cards are ncards 80-character records. */
enum { GPD_FILE_SAME, GPD_FILE_CHANGED, GPD_FILE_GONE, GPD_FILE_UNCHECKED };
int gpd_header_differs(const char *ds9hdr, const char *cards, int ncards, char *why, size_t n);
/* Main thread: a plain FITS file's header compared at once; a compressed
 * one is GPD_FILE_UNCHECKED (the worker compares it). */
int gpd_header_check_file(const char *path, const char *ds9hdr, char *why, size_t n);

/* gpd_verified.c: files found to be what DS9 shows, keyed on DS9 (XPA
 * method and target), frame, channel, path and the file's identity; see
 * its top comment for what may change and why skipping is then safe.
 * gpd_file_identity (0 or an errno) and gpd_file_id_settled (the file
 * last changed long enough before its identity was taken for a rewrite to
 * show) serve the worker too; the rest is main-thread only. */
int  gpd_file_identity(const char *path, gpd_file_id *id);
int  gpd_file_id_equal(const gpd_file_id *a, const gpd_file_id *b);
int  gpd_file_id_settled(const gpd_file_id *id);
int  gpd_verified_lookup(const char *ds9id, const char *target, int frame, const char *channel, const char *path,
                         const gpd_file_id *id);
void gpd_verified_record(const char *ds9id, const char *target, int frame, const char *channel, const char *path,
                         const gpd_file_id *id);
void gpd_verified_forget(const char *ds9id, const char *target, int frame, const char *channel);
void gpd_verified_forget_target(const char *target);
void gpd_verified_prune(const char *ds9id, const char *target, const int *frames, int nframes);
void gpd_verified_from_worker(const gpd_job *job);
void gpd_verified_count(int fetched);
void gpd_verified_counts(long *fetched, long *skipped);
void gpd_verified_clear(void);

/* gpd_visit.c (main thread): a walk over DS9's frames that leaves the
 * display as it was, over as many frames as DS9 has.  The user may delete
 * frames meanwhile: `frame N` would make a deleted frame again (empty), so
 * DS9's frames are listed anew before each frame is made current and
 * before the display is restored.
 *
 * gpd_visit_begin() - note DS9's frames and which of them are hidden.
 *   Given: target, cur (the user's current frame, as DS9 gave it).
 *   Returned: *v (its arrays allocated: gpd_visit_end() or gpd_visit_free()
 *   frees them).  GP_OK, or the XPA error of `frame all` / `frame active`,
 *   GP_ERR_NOMEM (nothing then to free).
 * gpd_visit_goto() - make `frame` current (DS9 reads only the current one).
 *   Returns GP_OK, GP_ERR_NOTFOUND (naming the frame) when the frame was
 *   deleted since (it is not made again), or the XPA error.
 * gpd_visit_end() - make the user's frame current again and hide the hidden
 *   frames that were visited (`frame N` shows a hidden frame), also after
 *   an error; frames deleted meanwhile are left alone, and when the user's
 *   own frame was deleted DS9's current frame stays as it is (logged).
 *   Given st, the walk's status so far: it is returned when not GP_OK (err
 *   keeps its message); otherwise the first failure of the restoration, in
 *   err, GP_ERR_NOTFOUND naming the user's frame when that was deleted.
 *   Frees v's arrays.
 * gpd_visit_free() - free v's arrays (gpd_visit_end() does). */
typedef struct gpd_visit {
    const char *target;
    int cur, shown;                  /* the user's frame; DS9's current one now */
    int *ids, n;                     /* `frame all` at the start */
    int *hidden;                     /* 0 active, 1 hidden, 2 hidden but shown by a visit */
    int cur_gone;                    /* set by gpd_visit_end(): the user's frame was deleted */
} gpd_visit;
int gpd_visit_begin(gpd_visit *v, const char *target, int cur, gp_error *err);
int gpd_visit_goto(gpd_visit *v, int frame, gp_error *err);
int gpd_visit_end(gpd_visit *v, int st, gp_error *err);
void gpd_visit_free(gpd_visit *v);

/* gpd_ds9.c (main thread) */
int gpd_ds9_gather(gpd_job *job, gp_error *err);
int gpd_ds9_publish(gpd_daemon *d, gpd_job *job, gp_error *err);
int gpd_ds9_clear(const char *target, gp_error *err);
int gpd_ds9_plot(gpd_daemon *d, gpd_job *job, gp_error *err);
void gpd_ds9_identity(gpd_job *job);
void gpd_ds9_show_error(const char *target, const char *message);

/* gpd_commands.c */
extern const struct gpx_command gpd_commands[];
extern const size_t gpd_ncommands;
/* the message for a mistyped sub-command (a gpx_unknown_fn; ctx: the
 * daemon): gpd_unknown_message() with the table above */
void gpd_unknown_command(void *ctx, const char *word, int set, char *errmsg, size_t errlen);

/* gpd_unknown.c */
/*
 * gpd_unknown_message() - what a client sees for a word that names no
 * sub-command of its direction.
 *
 * Given:
 *   cmds, ncmds  the sub-commands (gp_xpa.h); a direction's commands are
 *                those with a get (xpaget) or a set (xpaset) handler
 *   ap           the access point's name, as the message and a suggestion
 *                of the other direction write it
 *   word         the word sent
 *   set          1: it came with xpaset; 0: with xpaget
 * Returned:
 *   msg          one line, cut to len bytes:
 *                "AP: unknown command 'WORD'[, did you mean 'CMD'?] (DIR
 *                commands: ...; OTHER: ...); see galpostd(1)", where CMD is
 *                the nearest command at most 2 edits away (insertions,
 *                deletions, substitutions, swaps of neighbours; case
 *                ignored) and fewer edits than WORD has letters, one of
 *                this direction before one as near of the other, then in
 *                table order; one of the other direction is written
 *                "OTHER AP CMD".  A command of the other direction only
 *                gets "AP: 'WORD' is an OTHER command, not a DIR one (...)".
 */
void gpd_unknown_message(const struct gpx_command *cmds, size_t ncmds, const char *ap,
                         const char *word, int set, char *msg, size_t len);
void gpd_queue_run(gpd_daemon *d);          /* advance the job queue */
int  gpd_queue_reload(gpd_daemon *d, char *msg, size_t msglen);
void gpd_job_free(gpd_job *job);
double gpd_now(void);
const char *gpd_help_text(void);

#endif
