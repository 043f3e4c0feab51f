/* cli_util.c: argument parsing and interrupts shared by the galpost sub-commands. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/gp_cli.h"

volatile sig_atomic_t gp_cli_interrupted;

static void on_interrupt(int sig) { gp_cli_interrupted = sig; }

/* Catch `sig` unless it was ignored when the process started: a shell runs
 * a script's background jobs (`galpost infer ... &`) with SIGINT ignored so
 * that Ctrl-C stops the script's foreground only, `trap '' INT` asks for
 * the same (nohup ignores SIGHUP only), and a program honours that (as
 * sort, make and Python do).  The previous action goes to *old. */
static void catch_unless_ignored(int sig, const struct sigaction *sa, struct sigaction *old)
{
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN) {
        if (old) *old = cur;
        return;
    }
    sigaction(sig, sa, old);
}

void gp_cli_interrupts_catch(gp_cli_signals *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    gp_cli_interrupted = 0;
    catch_unless_ignored(SIGINT, &sa, saved ? &saved->sigint : NULL);
    catch_unless_ignored(SIGTERM, &sa, saved ? &saved->sigterm : NULL);
}

void gp_cli_interrupts_restore(const gp_cli_signals *saved)
{
    if (!saved) return;
    sigaction(SIGINT, &saved->sigint, NULL);
    sigaction(SIGTERM, &saved->sigterm, NULL);
}

void gp_cli_exit_by_signal(void)
{
    const int sig = gp_cli_interrupted;
    if (sig != SIGINT && sig != SIGTERM) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

int gp_cli_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int gp_cli_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int gp_cli_is_terminal(void)
{
    return isatty(STDERR_FILENO);
}

static int stdin_was_closed;

void gp_cli_stdin_hold(void)
{
    if (fcntl(STDIN_FILENO, F_GETFD) >= 0 || errno != EBADF) return;
    /* (open() takes the lowest free descriptor: 0) */
    int fd = open("/dev/null", O_RDONLY);
    if (fd > STDIN_FILENO) close(fd);
    stdin_was_closed = 1;
}

int gp_cli_stdin_copy(const char *cmd, char *path, size_t n)
{
    if (stdin_was_closed || (fcntl(STDIN_FILENO, F_GETFD) < 0 && errno == EBADF)) {
        fprintf(stderr, "%s: cannot read standard input: it is closed\n", cmd);
        path[0] = '\0';
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    int w = snprintf(path, n, "%s/galpost-stdin-XXXXXX", tmp);
    if (w < 0 || (size_t)w >= n) {
        fprintf(stderr, "%s: the temporary directory's name is too long: %s\n", cmd, tmp);
        path[0] = '\0';
        return 1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot copy standard input into %s: %s\n", cmd, path, strerror(errno));
        path[0] = '\0';
        return 1;
    }
    char buf[1 << 16];
    int bad = 0;
    const char *what = "read standard input";
    for (;;) {
        /* (Ctrl-C caught by the caller: the copy stops, and goes) */
        if (gp_cli_interrupted) { bad = EINTR; what = NULL; break; }
        ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { bad = errno; break; }
        if (r == 0) break;
        for (ssize_t off = 0; off < r;) {
            ssize_t k = write(fd, buf + off, (size_t)(r - off));
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) { bad = errno; what = "write the copy of standard input"; break; }
            off += k;
        }
        if (bad) break;
    }
    if (close(fd) && !bad) { bad = errno; what = "write the copy of standard input"; }
    if (bad) {
        if (!what) fprintf(stderr, "%s: interrupted while reading standard input: nothing done\n", cmd);
        else fprintf(stderr, "%s: cannot %s (%s): %s\n", cmd, what, path, strerror(bad));
        unlink(path);
        path[0] = '\0';
        return 1;
    }
    return 0;
}

/* The directory part of path into dir ("." when none) and its last part. */
static const char *split_path(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) { snprintf(dir, n, "."); return path; }
    if (slash == path) snprintf(dir, n, "/");
    else snprintf(dir, n, "%.*s", (int)(slash - path), path);
    return slash + 1;
}

int gp_cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b) return 0;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea != eb) return 0;   /* one exists, the other not: different files */
    /* neither exists yet (two outputs): the same name in the same directory */
    char da[4096], db[4096];
    const char *na = split_path(a, da, sizeof da), *nb = split_path(b, db, sizeof db);
    if (strcmp(na, nb) || stat(da, &sa) != 0 || stat(db, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int gp_cli_output_clash(const char *cmd, const char *outopt, const char *out, const char *inopt, const char *in)
{
    if (!gp_cli_same_file(out, in)) return 0;
    if (!strcmp(out, in))
        fprintf(stderr, "galpost %s: %s and %s name the same file %s: refusing to overwrite an input\n",
                cmd, outopt, inopt, out);
    else
        fprintf(stderr, "galpost %s: %s %s is the same file as %s %s: refusing to overwrite an input\n",
                cmd, outopt, out, inopt, in);
    return 2;
}

int gp_cli_output_writable(const char *cmd, const char *opt, const char *path, int in_place)
{
    char dir[4096];
    struct stat sb;
    if (!path || !*path) { fprintf(stderr, "galpost %s: %s: empty file name\n", cmd, opt); return 1; }
    if (strlen(path) >= sizeof dir) { fprintf(stderr, "galpost %s: %s: file name too long\n", cmd, opt); return 1; }
    (void)split_path(path, dir, sizeof dir);
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT)
            fprintf(stderr, "galpost %s: cannot write %s %s: directory %s does not exist\n", cmd, opt, path, dir);
        else
            fprintf(stderr, "galpost %s: cannot write %s %s: directory %s: %s\n", cmd, opt, path, dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "galpost %s: cannot write %s %s: %s is not a directory\n", cmd, opt, path, dir);
        return 1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "galpost %s: cannot write %s %s: directory %s: %s\n", cmd, opt, path, dir, strerror(errno));
        return 1;
    }
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "galpost %s: cannot write %s %s: it is a directory\n", cmd, opt, path);
            return 1;
        }
        if (in_place && access(path, W_OK) != 0) {
            fprintf(stderr, "galpost %s: cannot write %s %s: %s\n", cmd, opt, path, strerror(errno));
            return 1;
        }
    }
    return 0;
}
