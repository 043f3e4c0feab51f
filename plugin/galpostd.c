/*
 * galpostd.c: the galpost daemon for DS9.  Loads the model once, registers
 * the XPA access point `galpost` and serves it (see galpostd(1)).
 *
 * Start-up does everything that can fail before it reports ready: settings,
 * log, model, worker, XPA registration, pidfile.  Without --foreground the
 * parent waits for the detached child to say "ready" (or why not) and exits
 * with that status, so `galpostd && xpaget galpost status` works.
 * Signal handlers only set flags; the main loop acts on them: SIGHUP
 * re-reads the configuration and reloads the model, SIGTERM/SIGINT stop
 * cleanly (the access point is unregistered, the pidfile removed).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "gp_xpa.h"
#include "gpd_daemon.h"

#define MAX_BUFFER (64 * 1024)   /* data accepted with a request */

static volatile sig_atomic_t got_hup, got_term;
static int wake_write_fd = -1;

static void on_signal(int sig)
{
    if (sig == SIGHUP) got_hup = 1;
    else got_term = 1;
    if (wake_write_fd >= 0) {
        char c = 's';
        ssize_t r = write(wake_write_fd, &c, 1);
        (void)r;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpostd [-f] [-c FILE] [--KEY VALUE ...]\n"
        "  -f, --foreground     stay in the foreground (log to stderr unless --log)\n"
        "  -c, --config FILE    configuration file (default ~/.config/galpost/galpostd.conf when present)\n"
        "  -h, --help           this help;  -V, --version  the version\n"
        "settings (configuration keys, also for 'xpaset -p galpost set KEY VALUE'):\n"
        "  --model FILE  --backend auto|cpu|cuda  --threads N  --samples N  --seed N\n"
        "  --catalog FILE  --match_radius ARCSEC  --aperture ARCSEC  --ds9 TARGET\n"
        "  --name XPANAME  --log FILE  --log_level error|warn|info|debug  --pidfile FILE\n"
        "  --overlay yes|no  --plot yes|no  --show_errors yes|no  --max_queue N\n"
        "  --max_galaxies N  --timeout S  --zeropoint header|ZP|BAND=ZP,...\n"
        "see galpostd(1); 'xpaget galpost help' lists the XPA sub-commands\n");
}

/* Relative paths become absolute before the daemon changes directory. */
static void absolutize(char *p, size_t n)
{
    if (!p[0] || p[0] == '/') return;
    char cwd[PATH_MAX], out[GPD_PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return;
    if ((size_t)snprintf(out, sizeof out, "%s/%s", cwd, p) < n) snprintf(p, n, "%s", out);
}

static void absolutize_config(gpd_config *c)
{
    absolutize(c->model, sizeof c->model);
    absolutize(c->catalog, sizeof c->catalog);
    absolutize(c->log, sizeof c->log);
    absolutize(c->pidfile, sizeof c->pidfile);
}

/* Defaults, then the configuration file, then the command line. */
static int build_config(gpd_daemon *d, gpd_config *c, int file_required, char *msg, size_t n)
{
    gpd_config_defaults(c);
    if (d->config_path[0]) {
        struct stat st;
        if (file_required || stat(d->config_path, &st) == 0)
            if (gpd_config_load(c, d->config_path, msg, n)) return -1;
    }
    for (int i = 0; i + 1 < d->noverrides; i += 2)
        if (gpd_config_set(c, d->overrides[i], d->overrides[i + 1], msg, n)) return -1;
    absolutize_config(c);
    return 0;
}

static int pidfile_check(const char *path, char *msg, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long pid = 0;
    int ok = fscanf(f, "%ld", &pid) == 1;
    fclose(f);
    if (ok && pid > 0 && kill((pid_t)pid, 0) == 0) {
        snprintf(msg, n, "galpostd already runs as pid %ld (pidfile %.1000s)", pid, path);
        return -1;
    }
    return 0;   /* stale */
}

static int pidfile_write(const char *path, char *msg, size_t n)
{
    char tmp[GPD_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(msg, n, "cannot write the pidfile %.1000s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Detach.  The parent waits on `ready_fd` for "ok" or an error message. */
static int daemonize(int *ready_fd)
{
    int p[2];
    if (pipe(p) != 0) { perror("galpostd: pipe"); return -1; }
    pid_t pid = fork();
    if (pid < 0) { perror("galpostd: fork"); return -1; }
    if (pid > 0) {
        close(p[1]);
        char buf[2048];
        ssize_t k, len = 0;
        /* "ok", or an error message ended by the child closing the pipe */
        while (len < (ssize_t)sizeof buf - 1 && (k = read(p[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0) {
            len += k;
            if (len >= 2 && !strncmp(buf, "ok", 2)) break;
        }
        buf[len > 0 ? len : 0] = '\0';
        if (!strncmp(buf, "ok", 2)) _exit(0);
        fprintf(stderr, "galpostd: %s\n", len > 0 ? buf : "the daemon exited during start-up");
        int status;
        waitpid(pid, &status, WNOHANG);
        _exit(1);
    }
    close(p[0]);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);   /* not inherited by xpans */
    if (setsid() < 0) return -1;
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        dup2(nul, STDOUT_FILENO);
        if (nul > 2) close(nul);
    }
    if (chdir("/") != 0) return -1;
    *ready_fd = p[1];
    return 0;
}

static void ready_say(int *fd, const char *msg)
{
    if (*fd < 0) return;
    ssize_t r = write(*fd, msg, strlen(msg));
    (void)r;
    close(*fd);
    *fd = -1;
}

static void reload_config(gpd_daemon *d)
{
    gpd_config c;
    char msg[1024];
    /* (the default configuration file is optional here as at start-up: without
     * it SIGHUP still reopens the log and reloads the model and catalogue) */
    if (build_config(d, &c, d->config_required, msg, sizeof msg)) {
        gpd_log(GPD_LOG_ERROR, "SIGHUP: %s; keeping the current settings", msg);
        return;
    }
    if (strcmp(c.name, d->cfg.name)) gpd_log(GPD_LOG_WARN, "SIGHUP: a new access point name needs a restart");
    snprintf(c.name, sizeof c.name, "%s", d->cfg.name);
    snprintf(c.pidfile, sizeof c.pidfile, "%s", d->cfg.pidfile);
    if (gpd_log_open(c.log, c.log_level))
        gpd_log(GPD_LOG_ERROR, "SIGHUP: cannot open the log %s: %s", c.log, strerror(errno));
    d->cfg = c;
    gpd_log(GPD_LOG_INFO, "SIGHUP: configuration re-read, reloading the model");
    if (gpd_queue_reload(d, msg, sizeof msg)) gpd_log(GPD_LOG_ERROR, "SIGHUP: %s", msg);
}

static void cleanup(gpd_daemon *d)
{
    gpx_server_close();
    gpd_worker_stop(d);
    if (d->current) gpd_job_free(d->current);
    for (gpd_job *j = d->head, *n; j; j = n) { n = j->next; gpd_job_free(j); }
    for (int i = 0; i < GPD_JOBS_KEPT; i++) gpd_job_free(d->finished[i]);
    for (int i = 0; i < GPD_RESULTS_KEPT; i++)
        if (d->results[i]) { gp_result_free(&d->results[i]->r, 1); free(d->results[i]); }
    gpd_daemon_free_models(d);
    gpd_verified_clear();
    if (d->cfg.pidfile[0]) unlink(d->cfg.pidfile);
    if (d->tmpdir[0]) rmdir(d->tmpdir);
    if (d->wake[0] >= 0) close(d->wake[0]);
    if (d->wake[1] >= 0) close(d->wake[1]);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}

int main(int argc, char **argv)
{
    static gpd_daemon daemon_state;
    gpd_daemon *d = &daemon_state;
    int foreground = 0;
    d->wake[0] = d->wake[1] = -1;
    d->overrides = calloc((size_t)argc + 1, sizeof *d->overrides);
    if (!d->overrides) return 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-f") || !strcmp(a, "--foreground")) foreground = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "-V") || !strcmp(a, "--version")) { printf("galpostd %s\n", PACKAGE_VERSION); return 0; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (++i == argc) { fprintf(stderr, "galpostd: %s needs a file\n", a); return 2; }
            snprintf(d->config_path, sizeof d->config_path, "%s", argv[i]);
        } else if (!strncmp(a, "--", 2) && a[2]) {
            char *key = strdup(a + 2), *eq = strchr(key, '='), *val;
            for (char *p = key; *p && p != eq; p++) if (*p == '-') *p = '_';
            if (eq) { *eq = '\0'; val = strdup(eq + 1); }
            else if (i + 1 < argc) val = strdup(argv[++i]);
            else { fprintf(stderr, "galpostd: --%s needs a value\n", key); return 2; }
            d->overrides[d->noverrides++] = key;
            d->overrides[d->noverrides++] = val;
        } else {
            fprintf(stderr, "galpostd: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    int file_required = d->config_path[0] != '\0';
    d->config_required = file_required;
    if (!file_required) {
        const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
        if (x && *x) snprintf(d->config_path, sizeof d->config_path, "%s/galpost/galpostd.conf", x);
        else if (h && *h) snprintf(d->config_path, sizeof d->config_path, "%s/.config/galpost/galpostd.conf", h);
    } else {
        absolutize(d->config_path, sizeof d->config_path);
    }
    char msg[2048];
    if (build_config(d, &d->cfg, file_required, msg, sizeof msg)) {
        fprintf(stderr, "galpostd: %s\n", msg);
        return 2;
    }
    if (gpd_log_open(d->cfg.log, d->cfg.log_level)) {
        fprintf(stderr, "galpostd: cannot open the log %s: %s\n", d->cfg.log, strerror(errno));
        return 1;
    }
    if (d->cfg.pidfile[0] && pidfile_check(d->cfg.pidfile, msg, sizeof msg)) {
        fprintf(stderr, "galpostd: %s\n", msg);
        return 1;
    }
    gpx_init(d->cfg.timeout);
    if (gpx_name_in_use(d->cfg.name)) {
        fprintf(stderr, "galpostd: the XPA access point '%s' already answers (another galpostd?); "
                        "stop it (xpaset -p %s quit) or use --name\n", d->cfg.name, d->cfg.name);
        return 1;
    }
    int ready_fd = -1;
    if (!foreground && daemonize(&ready_fd)) return 1;

    /* From here on, failures are reported through ready_say(). */
    int rc = 1;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->t_start = gpd_now();
    gp_error err;
    const char *tmp = getenv("TMPDIR");
    snprintf(d->tmpdir, sizeof d->tmpdir, "%s/galpostd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->tmpdir)) {
        snprintf(msg, sizeof msg, "cannot create a temporary directory: %s", strerror(errno));
        d->tmpdir[0] = '\0';
        goto fail;
    }
    if (pipe(d->wake) != 0) { snprintf(msg, sizeof msg, "pipe: %s", strerror(errno)); goto fail; }
    fcntl(d->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(d->wake[1], F_SETFL, O_NONBLOCK);
    fcntl(d->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(d->wake[1], F_SETFD, FD_CLOEXEC);
    wake_write_fd = d->wake[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (gpd_load_model(d, &d->cfg, &err)) { snprintf(msg, sizeof msg, "%s", err.msg); goto fail; }
    if (gpd_worker_start(d, &err)) { snprintf(msg, sizeof msg, "%s", err.msg); goto fail; }
    if (gpx_server_open(d->cfg.name, gpd_commands, gpd_ncommands, gpd_unknown_command, d,
                        MAX_BUFFER, &err)) {
        snprintf(msg, sizeof msg, "%s", err.msg);
        goto fail;
    }
    if (d->cfg.pidfile[0] && pidfile_write(d->cfg.pidfile, msg, sizeof msg)) goto fail;
    gpd_log(GPD_LOG_INFO, "ready: XPA access point '%s' (XPA_METHOD=%s), DS9 target '%s'", d->cfg.name,
            getenv("XPA_METHOD") ? getenv("XPA_METHOD") : "default", d->cfg.ds9);
    ready_say(&ready_fd, "ok");

    while (!d->quit && !got_term) {
        if (got_hup) { got_hup = 0; reload_config(d); }
        gpd_queue_run(d);
        if (d->quit || got_term) break;
        fd_set r;
        FD_ZERO(&r);
        FD_SET(d->wake[0], &r);
        int maxfd = gpx_fds(&r);
        if (d->wake[0] > maxfd) maxfd = d->wake[0];
        struct timeval tv = { 1, 0 };
        int nsel = select(maxfd + 1, &r, NULL, NULL, &tv);
        if (nsel < 0) {
            if (errno == EINTR) continue;
            gpd_log(GPD_LOG_ERROR, "select: %s", strerror(errno));
            break;
        }
        if (FD_ISSET(d->wake[0], &r)) {
            char b[64];
            while (read(d->wake[0], b, sizeof b) > 0) {}
            FD_CLR(d->wake[0], &r);
        }
        if (nsel > 0) gpx_process(&r);
    }
    gpd_log(GPD_LOG_INFO, "stopping (%s)", got_term ? "signal" : "quit");
    rc = 0;
    goto out;
fail:
    gpd_log(GPD_LOG_ERROR, "%s", msg);
    if (ready_fd >= 0) ready_say(&ready_fd, msg);
    else if (d->cfg.log[0]) fprintf(stderr, "galpostd: %s\n", msg);
out:
    cleanup(d);
    gpd_log(GPD_LOG_INFO, "stopped");
    gpd_log_close();
    for (int i = 0; i < d->noverrides; i++) free(d->overrides[i]);
    free(d->overrides);
    return rc;
}
