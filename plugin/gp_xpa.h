/*
 * gp_xpa.h: galpostd's only window on XPA (plugin/gp_xpa.c is the only
 * file that includes xpa.h).  The server side registers DS9-style
 * sub-commands of one access point and hands every request to plain
 * callbacks; the client side gets and sets parameters of DS9.  Another
 * transport (SAMP) would be another implementation of this header.
 *
 * Everything here runs on the daemon's main thread.  Client calls are made
 * with doxpa=false: no request to our own access point is processed while
 * we wait for DS9, so callbacks never run re-entrantly.
 */
#ifndef GALPOST_GP_XPA_H
#define GALPOST_GP_XPA_H

#include <stddef.h>
#include <sys/select.h>

#include "galpost/gp_error.h"

/*
 * A sub-command handler.  `params` are the words after the sub-command
 * (never NULL).  A get handler returns 0 and a malloc'ed reply in *out
 * (*outlen bytes; the transport frees it), or -1 with a message in errmsg
 * that the client sees as "XPA$ERROR message".  A set handler gets the
 * data sent with xpaset (buf may be NULL when len is 0).
 */
typedef int (*gpx_get_fn)(void *ctx, const char *cmd, const char *params,
                          char **out, size_t *outlen, char *errmsg, size_t errlen);
typedef int (*gpx_set_fn)(void *ctx, const char *cmd, const char *params,
                          const char *buf, size_t len, char *errmsg, size_t errlen);

typedef struct gpx_command {
    const char *name;   /* sub-command: one word */
    const char *help;   /* one line, for `xpaget NAME -help` */
    gpx_get_fn  get;    /* NULL: no xpaget */
    gpx_set_fn  set;    /* NULL: no xpaset */
} gpx_command;

/*
 * What the client sees when the first word of a request names no
 * sub-command of its direction: a mistyped word, or an xpaget-only one sent
 * with xpaset (or the reverse).  `word` is that word (truncated to 127
 * bytes), `set` is 1 for xpaset and 0 for xpaget.  The function writes a
 * one-line message to errmsg; the client sees "XPA$ERROR message" and the
 * server goes on serving.  Left empty (or with no function), the message is
 * "unknown command 'WORD'".
 */
typedef void (*gpx_unknown_fn)(void *ctx, const char *word, int set,
                               char *errmsg, size_t errlen);

/*
 * gpx_init() - set XPA's client timeouts (seconds) before anything else
 * touches XPA, unless the user set XPA_SHORT_TIMEOUT/XPA_LONG_TIMEOUT.
 */
void gpx_init(int timeout_s);

/*
 * gpx_name_in_use() - 1 when an access point NAME (class galpost) already
 * answers, 0 when none does.
 */
int gpx_name_in_use(const char *name);

/*
 * gpx_server_open() - register access point `name` (class "galpost") with
 * the sub-commands.  The table must outlive the server.  Requests carrying
 * more than max_buffer bytes of data are refused before any handler runs.
 * A request whose first word is no sub-command of its direction is refused
 * with unknown's message (NULL: a plain one), and so is an xpaset whose
 * ';'-separated commands include one, before any runs.  XPA's own help
 * (`xpaget NAME -help`, `xpaget NAME CMD -help`, an empty xpaget), its
 * reserved words (starting with '-'), quoted words and commands sent as
 * xpaset data are left to XPA ("undefined command for this xpa").  `ctx`
 * is passed to the handlers and to unknown.
 *
 * Function return value:
 *   GP_OK; GP_ERR_XPA (registration failed: no name server, bad name).
 */
int gpx_server_open(const char *name, const gpx_command *cmds, size_t ncmds,
                    gpx_unknown_fn unknown, void *ctx, size_t max_buffer,
                    gp_error *err);

/* gpx_server_close() - unregister and free (the socket files go too). */
void gpx_server_close(void);

/* gpx_fds() - add the server's sockets to *r; returns the highest fd or -1. */
int gpx_fds(fd_set *r);

/* gpx_process() - serve the requests pending on the sockets in *r. */
void gpx_process(fd_set *r);

/*
 * gpx_get() / gpx_set() - xpaget / xpaset against one target (a DS9 title
 * or an XPA method such as $xpa_method).  gpx_get returns a malloc'ed,
 * NUL-terminated reply (free() it).
 *
 * Function return value:
 *   GP_OK; GP_ERR_XPA when no access point answers (message: "DS9 'T' is
 *   not answering") or DS9 replies with an error (message quotes it).
 */
int gpx_get(const char *target, const char *params, char **buf, size_t *len,
            gp_error *err);
int gpx_set(const char *target, const char *params, const char *buf, size_t len,
            gp_error *err);

#endif
