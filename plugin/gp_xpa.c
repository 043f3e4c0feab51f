/*
 * gp_xpa.c: the XPA transport of galpostd (see gp_xpa.h).  Thin on
 * purpose: no galpost logic lives here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xpa.h>

#include "gp_xpa.h"

#define GPX_CLASS "galpost"

struct binding {
    const gpx_command *cmd;
    void              *ctx;
};

static XPA             server;
static struct binding *bindings;
static const gpx_command *table;
static size_t          ntable;
static gpx_unknown_fn  unknown_fn;
static void           *unknown_ctx;
static size_t          max_buf;
static XPA             client;    /* persistent connection for gets/sets */

void gpx_init(int timeout_s)
{
    char v[32];
    snprintf(v, sizeof v, "%d", timeout_s > 0 ? timeout_s : 30);
    /* the daemon's own setting wins over an inherited environment (it is
     * the documented limit; a shell's XPA_SHORT_TIMEOUT=15 made every
     * request to an unresponsive DS9 wait 15 s whatever --timeout said) */
    setenv("XPA_SHORT_TIMEOUT", v, 1);
    setenv("XPA_LONG_TIMEOUT", v, 1);
}

static int send_cb(void *client_data, void *call_data, char *paramlist, char **buf, size_t *len)
{
    struct binding *b = client_data;
    char errmsg[1024] = "";
    char *out = NULL;
    size_t outlen = 0;
    if (b->cmd->get(b->ctx, b->cmd->name, paramlist ? paramlist : "", &out, &outlen,
                    errmsg, sizeof errmsg) != 0) {
        free(out);
        XPAError((XPA)call_data, errmsg[0] ? errmsg : "failed");
        return -1;
    }
    *buf = out;
    *len = outlen;
    return 0;
}

static int recv_cb(void *client_data, void *call_data, char *paramlist, char *buf, size_t len)
{
    struct binding *b = client_data;
    char errmsg[1024] = "";
    if (len > max_buf) {
        snprintf(errmsg, sizeof errmsg,
                 "%s: %zu bytes of data refused (at most %zu bytes are accepted)",
                 b->cmd->name, len, max_buf);
        XPAError((XPA)call_data, errmsg);
        return -1;
    }
    if (b->cmd->set(b->ctx, b->cmd->name, paramlist ? paramlist : "", buf, len,
                    errmsg, sizeof errmsg) != 0) {
        XPAError((XPA)call_data, errmsg[0] ? errmsg : "failed");
        return -1;
    }
    return 0;
}

/*
 * The gate in front of XPA's command dispatch.  XPACmdLookup has no default
 * command: a word that names no sub-command gets "undefined command for
 * this xpa", which names neither the word nor the valid ones.  So the
 * access point's two callbacks (XPASendCommands / XPAReceiveCommands, as
 * XPACmdNew sets them) are wrapped: the first word of each command is
 * looked up here, and only a request that XPA would serve is passed on, so
 * help (`xpaget NAME -help`, `xpaget NAME CMD -help`), ';'-separated
 * commands and commands read from the data channel stay XPA's.
 */
static const gpx_command *lookup(const char *w, size_t n)
{
    for (size_t i = 0; i < ntable; i++)
        if (strlen(table[i].name) == n && !strncmp(table[i].name, w, n)) return &table[i];
    return NULL;
}

/* 0 when XPA serves the command that starts at p (its first word), else
 * the refusal is sent and -1 returned */
static int gate_one(XPA xpa, const char *p, int set)
{
    while (isspace((unsigned char)*p)) p++;
    size_t n = strcspn(p, " \t\r\n;");
    /* nothing (xpaget: help; xpaset: commands in the data), XPA's own
     * reserved commands (-help, -version, ...) or a quoted word (XPA's
     * parser takes it apart): XPA's */
    if (n == 0 || *p == '-' || memchr(p, '"', n) || memchr(p, '\'', n)) return 0;
    const gpx_command *c = lookup(p, n);
    if (c && (set ? c->set != NULL : c->get != NULL)) return 0;
    if (c && !set) {   /* `xpaget NAME CMD -help` is help for an xpaset-only CMD */
        const char *r = p + n;
        while (isspace((unsigned char)*r)) r++;
        size_t rl = strlen(r);
        while (rl && isspace((unsigned char)r[rl - 1])) rl--;
        if (rl == 5 && !strncmp(r, "-help", 5)) return 0;
    }
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word - 1 ? n : sizeof word - 1), p);
    char errmsg[1024] = "";
    if (unknown_fn) unknown_fn(unknown_ctx, word, set, errmsg, sizeof errmsg);
    if (!errmsg[0]) snprintf(errmsg, sizeof errmsg, "unknown command '%s'", word);
    XPAError(xpa, errmsg);
    return -1;
}

/* 0: XPA serves the request; -1: refused here (the client has the
 * message).  xpaset may carry several commands separated by ';' or new
 * lines: all are checked before any runs, unless a quote could hide a
 * separator (then the first only). */
static int gate(XPA xpa, const char *paramlist, int set)
{
    const char *p = paramlist ? paramlist : "";
    if (gate_one(xpa, p, set)) return -1;
    if (!set || strpbrk(p, "\"'")) return 0;
    for (p = strpbrk(p, ";\n"); p; p = strpbrk(p, ";\n"))
        if (gate_one(xpa, ++p, set)) return -1;
    return 0;
}

static int send_gate(void *client_data, void *call_data, char *paramlist, char **buf, size_t *len)
{
    if (gate((XPA)call_data, paramlist, 0)) return -1;
    return XPASendCommands(client_data, call_data, paramlist, buf, len);
}

static int recv_gate(void *client_data, void *call_data, char *paramlist, char *buf, size_t len)
{
    if (gate((XPA)call_data, paramlist, 1)) return -1;
    return XPAReceiveCommands(client_data, call_data, paramlist, buf, len);
}

int gpx_name_in_use(const char *name)
{
    char tmpl[1100];
    char *names[4] = { NULL }, *msgs[4] = { NULL };
    snprintf(tmpl, sizeof tmpl, "%s:%s", GPX_CLASS, name);
    int n = XPAAccess(NULL, tmpl, NULL, "g", names, msgs, 4);
    int alive = 0;
    for (int i = 0; i < n && i < 4; i++) {
        if (!msgs[i]) alive = 1;
        free(names[i]);
        free(msgs[i]);
    }
    return alive;
}

int gpx_server_open(const char *name, const gpx_command *cmds, size_t ncmds,
                    gpx_unknown_fn unknown, void *ctx, size_t max_buffer, gp_error *err)
{
    if (server) return GP_FAIL(err, GP_ERR_XPA, "XPA access point already open");
    bindings = calloc(ncmds, sizeof *bindings);
    if (!bindings) return GP_FAIL(err, GP_ERR_NOMEM, "out of memory");
    max_buf = max_buffer;
    server = XPACmdNew(GPX_CLASS, (char *)name);
    if (!server) {
        free(bindings);
        bindings = NULL;
        return GP_FAIL(err, GP_ERR_XPA,
                       "cannot register the XPA access point '%s' (is xpans reachable? XPA_METHOD=%s)",
                       name, getenv("XPA_METHOD") ? getenv("XPA_METHOD") : "(unset)");
    }
    for (size_t i = 0; i < ncmds; i++) {
        bindings[i].cmd = &cmds[i];
        bindings[i].ctx = ctx;
        if (!XPACmdAdd(server, (char *)cmds[i].name, (char *)cmds[i].help,
                       cmds[i].get ? send_cb : NULL, &bindings[i], NULL,
                       cmds[i].set ? recv_cb : NULL, &bindings[i], NULL)) {
            gpx_server_close();
            return GP_FAIL(err, GP_ERR_XPA, "cannot add the XPA sub-command '%s'", cmds[i].name);
        }
    }
    /* after the last XPACmdAdd (it refuses an access point whose callbacks
     * are not XPA's own); the wrappers hand XPA the same calls */
    table = cmds;
    ntable = ncmds;
    unknown_fn = unknown;
    unknown_ctx = ctx;
    server->send_callback = send_gate;
    server->receive_callback = recv_gate;
    return GP_OK;
}

void gpx_server_close(void)
{
    if (client) { XPAClose(client); client = NULL; }
    if (server) { XPAFree(server); server = NULL; }
    free(bindings);
    bindings = NULL;
    table = NULL;
    ntable = 0;
    unknown_fn = NULL;
    unknown_ctx = NULL;
}

int gpx_fds(fd_set *r)
{
    int before = -1;
    for (int fd = 0; fd < FD_SETSIZE; fd++)
        if (FD_ISSET(fd, r)) before = fd;
    if (!server) return before;
    XPAAddSelect(NULL, r);
    int max = -1;
    for (int fd = 0; fd < FD_SETSIZE; fd++)
        if (FD_ISSET(fd, r)) max = fd;
    return max;
}

void gpx_process(fd_set *r)
{
    if (server) XPAProcessSelect(r, 0);
}

/* "XPA$ERROR message (DS9:ds9 host:port)\n" -> "message (DS9:...)" */
static void error_text(const char *msg, char *out, size_t n)
{
    const char *p = msg;
    if (!strncmp(p, "XPA$ERROR", 9)) p += 9;
    while (*p == ' ') p++;
    snprintf(out, n, "%s", p);
    size_t l = strlen(out);
    while (l && (out[l - 1] == '\n' || out[l - 1] == ' ')) out[--l] = '\0';
}

static XPA client_handle(void)
{
    if (!client) client = XPAOpen(NULL);
    return client;
}

static void client_reset(void)
{
    if (client) { XPAClose(client); client = NULL; }
}

int gpx_get(const char *target, const char *params, char **buf, size_t *len, gp_error *err)
{
    char *bufs[1] = { NULL }, *names[1] = { NULL }, *msgs[1] = { NULL };
    size_t lens[1] = { 0 };
    *buf = NULL;
    if (len) *len = 0;
    int n = XPAGet(client_handle(), (char *)target, (char *)params, "doxpa=false",
                   bufs, lens, names, msgs, 1);
    int st = GP_OK;
    if (n < 1) {
        client_reset();
        st = GP_FAIL(err, GP_ERR_XPA, "DS9 '%s' is not answering (xpaget %s)", target, params);
    } else if (msgs[0]) {
        char t[900];
        error_text(msgs[0], t, sizeof t);
        if (!strncmp(t, "no 'xpaget' access points", 25) || strstr(t, "can't connect") ||
            strstr(t, "timeout"))
            client_reset();
        st = GP_FAIL(err, GP_ERR_XPA, "DS9 '%s': xpaget %s: %s", target, params, t);
    } else {
        char *b = realloc(bufs[0], lens[0] + 1);
        if (!b) {
            st = GP_FAIL(err, GP_ERR_NOMEM, "out of memory for %zu bytes from DS9", lens[0]);
        } else {
            b[lens[0]] = '\0';
            bufs[0] = NULL;
            *buf = b;
            if (len) *len = lens[0];
        }
    }
    free(bufs[0]);
    free(names[0]);
    free(msgs[0]);
    return st;
}

int gpx_set(const char *target, const char *params, const char *buf, size_t len, gp_error *err)
{
    char *names[1] = { NULL }, *msgs[1] = { NULL };
    int n = XPASet(client_handle(), (char *)target, (char *)params, "doxpa=false",
                   (char *)buf, len, names, msgs, 1);
    int st = GP_OK;
    if (n < 1) {
        client_reset();
        st = GP_FAIL(err, GP_ERR_XPA, "DS9 '%s' is not answering (xpaset %s)", target, params);
    } else if (msgs[0]) {
        char t[900];
        error_text(msgs[0], t, sizeof t);
        if (!strncmp(t, "no 'xpaset' access points", 25) || strstr(t, "can't connect") ||
            strstr(t, "timeout"))
            client_reset();
        st = GP_FAIL(err, GP_ERR_XPA, "DS9 '%s': xpaset %s: %s", target, params, t);
    }
    free(names[0]);
    free(msgs[0]);
    return st;
}
