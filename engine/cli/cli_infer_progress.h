/*
 * cli_infer_progress.h: the progress record of a `galpost infer` batch
 * (-o OUT.fits), so that an interrupted or killed batch resumes.
 *
 * OUT.fits.partial.progress sits beside the writer's temporary files
 * (gp_results_partial_path()) and holds, in one 4096-byte page rewritten
 * in place by a single pwrite (so that a killed process leaves the old
 * record or the new one, never a mixture), the settings that change the
 * table's bytes, the rows written and synced, the failed rows among them and
 * the digest of their bytes (gp_results_writer_sync()), under a checksum.
 * The process running the batch holds an exclusive flock on it, so that a
 * second `galpost infer -o` of the same output is refused instead of
 * writing over the same temporary files.
 */
#ifndef GALPOST_CLI_INFER_PROGRESS_H
#define GALPOST_CLI_INFER_PROGRESS_H

#include <stdint.h>

#define GP_PROGRESS_NSET 12

/* One setting: its key in the record, how a user sets it (for messages),
 * and its value. */
typedef struct gp_progress_setting {
    const char *key;
    const char *what;
    char val[512];
} gp_progress_setting;

typedef struct gp_progress {
    int  fd;                       /* the locked record, -1 when none */
    char path[4200];
    gp_progress_setting set[GP_PROGRESS_NSET];   /* this run's settings */
    int  nset;
} gp_progress;

/* What a record holds (gp_progress_read). */
typedef struct gp_progress_record {
    long     rows;                 /* rows written and synced */
    long     failed;               /* failed rows among them */
    uint64_t digest;               /* gp_results_writer_sync()'s */
    int      nset;
    char     key[GP_PROGRESS_NSET][32];
    char     val[GP_PROGRESS_NSET][512];
} gp_progress_record;

/* Open (creating it empty) and lock OUTPUT's progress record.  0, or 1 with
 * the reason printed (another run holds it, or it cannot be opened). */
int gp_progress_lock(gp_progress *p, const char *output);

/* Read the record: 0 none (an empty file), 1 read into *r, -1 unreadable
 * (why[] says why: not a record, a bad checksum). */
int gp_progress_read(const gp_progress *p, gp_progress_record *r, char *why, size_t size);

/* The first of p's settings that *r records otherwise: its index, with the
 * recorded value in *recorded ("(not recorded)" when missing); -1 when all
 * are the same. */
int gp_progress_differs(const gp_progress *p, const gp_progress_record *r, const char **recorded);

/* Write the record: p's settings, rows, failed and digest.  0, or -1 with
 * errno set. */
int gp_progress_write(const gp_progress *p, long rows, long failed, uint64_t digest);

/* Empty the record (nothing to resume), keeping the lock.  0 or -1. */
int gp_progress_clear(const gp_progress *p);

/* Does the record hold nothing (an empty file: none, or the one
 * gp_progress_lock() created)?  1 or 0 (0 too when it cannot be told). */
int gp_progress_empty(const gp_progress *p);

/* Release the lock; with `remove`, delete the record first. */
void gp_progress_release(gp_progress *p, int remove);

/* "N bytes, FNV-1a H" of a file's content into out; 0, or -1 with errno set. */
int gp_progress_file_identity(const char *path, char *out, size_t size);

#endif
