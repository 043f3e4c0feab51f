/*
 * gp_error.h: status codes and the error record of every galpost call.
 *
 * Every fallible galpost function returns an int status (GP_OK = 0 on
 * success) and, on failure, fills a caller-owned gp_error record with the
 * status, the function, source file and line that detected the failure, and
 * a message naming the offending file, tensor, field or command.  Library
 * code never aborts or exits.  The record is per call site (no global state),
 * so it is safe to use one record per thread.
 *
 * A NULL gp_error pointer is allowed everywhere: the status is still returned.
 */
#ifndef GALPOST_GP_ERROR_H
#define GALPOST_GP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes.  GP_OK is zero; every error is positive. */
typedef enum gp_status {
    GP_OK = 0,
    GP_ERR_ARG,         /* invalid argument from the caller */
    GP_ERR_NOMEM,       /* an allocation failed */
    GP_ERR_IO,          /* operating-system I/O failure (open, read, write, mmap) */
    GP_ERR_FORMAT,      /* malformed or corrupt file contents (weights, tables) */
    GP_ERR_NOTFOUND,    /* a tensor, metadata key, column, HDU or frame is missing */
    GP_ERR_DATA,        /* input values unusable: NaN, sentinel, off the image */
    GP_ERR_FITS,        /* cfitsio reported an error */
    GP_ERR_WCS,         /* wcslib reported an error, or the image has no WCS */
    GP_ERR_BACKEND,     /* a compute backend is unavailable or failed */
    GP_ERR_XPA,         /* an XPA call to DS9 failed */
    GP_ERR_INTERRUPTED, /* the operation was interrupted (signal, user) */
    GP_ERR_INTERNAL,    /* an internal invariant failed: a bug in galpost */
    GP_STATUS_COUNT
} gp_status;

/* The error record.  func/file point to static strings. */
typedef struct gp_error {
    int         status;   /* a gp_status */
    const char *func;     /* function that detected the error */
    const char *file;     /* its source file */
    int         line;     /* its source line */
    char        msg[1024];/* human-readable message, NUL-terminated */
} gp_error;

/*
 * gp_error_clear() - reset an error record to GP_OK.
 *
 * Given and returned:
 *   err       gp_error*  The record (may be NULL).
 */
void gp_error_clear(gp_error *err);

/*
 * gp_error_set() - fill an error record (use the GP_FAIL macro).
 *
 * Given:
 *   status    int          A gp_status, non-zero.
 *   func, file, line       Where the error was detected.
 *   fmt, ...               printf-style message.
 *
 * Returned:
 *   err       gp_error*    Filled (may be NULL: nothing is written).
 *
 * Function return value:
 *   int       status, unchanged, so that `return GP_FAIL(...)` works.
 */
int gp_error_set(gp_error *err, int status, const char *func, const char *file,
                 int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/*
 * gp_error_prefix() - prepend context to an existing message, e.g. the
 * name of the galaxy or the file being processed, keeping status and origin.
 *
 * Given and returned:
 *   err       gp_error*    The record (may be NULL).
 * Given:
 *   fmt, ...               printf-style prefix; ": " is inserted after it.
 */
void gp_error_prefix(gp_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * gp_status_string() - a short constant name for a status ("GP_ERR_FORMAT").
 */
const char *gp_status_string(int status);

/* Fill `err` with status `st` at this source location and evaluate to `st`. */
#define GP_FAIL(err, st, ...) \
    gp_error_set((err), (st), __func__, __FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* GALPOST_GP_ERROR_H */
