/*
 * gp_xpa.c: the XPA transport of galpostd (see gp_xpa.h).  Thin on
 * purpose: no galpost logic lives here.
 */
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
                    void *ctx, size_t max_buffer, gp_error *err)
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
    return GP_OK;
}

void gpx_server_close(void)
{
    if (client) { XPAClose(client); client = NULL; }
    if (server) { XPAFree(server); server = NULL; }
    free(bindings);
    bindings = NULL;
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
