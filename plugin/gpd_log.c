/* gpd_log.c: galpostd's log, with levels, to a file or stderr. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gpd.h"

static FILE           *log_file;
static int             log_level = GPD_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int gpd_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, level_names[i])) return i;
    if (!strcasecmp(s, "warning")) return GPD_LOG_WARN;
    return -1;
}

const char *gpd_log_level_name(int level)
{
    return level >= 0 && level < 4 ? level_names[level] : "?";
}

int gpd_log_open(const char *path, int level)
{
    FILE *f = NULL;
    if (path && *path) {
        f = fopen(path, "a");
        if (!f) return -1;
        setvbuf(f, NULL, _IOLBF, 0);
    }
    pthread_mutex_lock(&log_mu);
    if (log_file) fclose(log_file);
    log_file = f;
    log_level = level;
    pthread_mutex_unlock(&log_mu);
    return 0;
}

void gpd_log_set_level(int level)
{
    pthread_mutex_lock(&log_mu);
    log_level = level;
    pthread_mutex_unlock(&log_mu);
}

void gpd_log_close(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_file) fclose(log_file);
    log_file = NULL;
    pthread_mutex_unlock(&log_mu);
}

void gpd_log(int level, const char *fmt, ...)
{
    int saved = errno;
    pthread_mutex_lock(&log_mu);
    if (level <= log_level) {
        FILE *f = log_file ? log_file : stderr;
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        localtime_r(&tv.tv_sec, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(f, "%s.%03ld galpostd[%ld] %s: ", ts, (long)(tv.tv_usec / 1000), (long)getpid(),
                gpd_log_level_name(level));
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fflush(f);
    }
    pthread_mutex_unlock(&log_mu);
    errno = saved;
}
