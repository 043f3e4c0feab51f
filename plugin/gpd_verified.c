/*
 * gpd_verified.c: frames whose file was found to be what DS9 shows, so
 * that an unchanged file is not checked again (main thread, except
 * gpd_file_identity and gpd_file_id_settled, which the worker uses too).
 *
 * gpd_header.c compares DS9's header of each frame with the file's, which
 * costs one more XPA round trip per frame per request (`fits header` of an
 * SDSS frame: about 1.0 ms, and 0.3 ms to compare it on the main thread;
 * bench/RESULTS.md, bench_files).  Once DS9's
 * frame and the file were found the same, they stay the same as long as
 * neither changes, so the check is skipped while all of these are as they
 * were when it passed:
 *
 *   DS9: its XPA method (the unix socket names DS9's pid; inet a port)
 *        and the target name the request gave;
 *   the frame number and RGB channel;
 *   the path DS9 names for the frame (`file`, made absolute);
 *   the file's identity: st_dev, st_ino, st_size, st_mtim and st_ctim to
 *        the nanosecond, taken before its header was read.
 *
 * What can change, and why that is safe:
 *  - The file rewritten in place, truncated, or replaced (rename, rm and
 *    create): the change time moves (nobody can set it) and a replacement
 *    has another inode, so the identity differs and the header is compared
 *    again.  A same-size rewrite that keeps the modification time (touch
 *    -r) still moves ctime.  (DS9 8.4.1 memory-maps a plain FITS file
 *    (mmapincr), so after a rewrite in place its header is the new one too
 *    and the comparison finds them the same; after a replacement DS9 still
 *    maps the old file, and the comparison tells them apart.)
 *  - A rewrite within one tick of the file system's clock (jiffies on
 *    Linux, 1-2 s on FAT or old NFS servers) leaves the identity as it
 *    was: a file whose ctime was within GPD_SETTLE of the moment its
 *    identity was taken is never remembered (the "racily clean" case of
 *    git's index), so it is compared on every request until it has been
 *    left alone that long.  The margin is 2 s where the times have no
 *    nanoseconds (a coarse file system), else 0.1 s.
 *  - The identity comes from fstat() of the file opened, not stat(): on
 *    NFS the open revalidates the attributes (close-to-open), where stat()
 *    may answer from a cache seconds old.
 *  - DS9 loading a file again into the frame (the same path): it read the
 *    file while its identity was the checked one, so it shows the checked
 *    contents.  Another file or extension: another path, compared again.
 *  - A frame deleted and another made with its number (DS9 numbers from 1
 *    again after `frame delete all`): a frame that is gone is forgotten at
 *    the next request (gpd_verified_prune), and whatever the new frame
 *    loaded from the same path and identity is, again, the checked file.
 *  - DS9 restarted, or another DS9 under the same name: its XPA method
 *    differs (a DS9 that stops answering is forgotten at once), and again
 *    what it loaded from the unchanged file is the checked file.
 *  - A compressed file is compared by the worker (gpd_header.c); it
 *    reports the identity of the file it compared in the job's source
 *    (worker_checked, worker_id), which the main thread reads once the job
 *    is back (the hand-over under d->mu orders it) and remembers here.
 *  - The file changed between the gather and the worker's reading of it:
 *    a frame trusted without a header must be found with the same identity
 *    by the worker, else it refuses it ("infer again").
 *
 * What is not caught (and was caught by comparing headers every time):
 * DS9 given other data under the name of an unchanged, checked file, by a
 * pipe (`xpaset ds9 fits /path/f.fits < other.fits`): DS9 then names a
 * file whose contents it does not show, and `file` answers the same path.
 * Setting the system clock back so that a replacement gets an old ctime,
 * the same inode number and size, is not guarded against either.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gpd_daemon.h"

/* how long after its last change a file's identity can be trusted */
#define GPD_SETTLE_NS        100000000LL    /* 0.1 s: nanosecond times */
#define GPD_SETTLE_COARSE_NS 2000000000LL   /* 2 s: whole-second times */

#define VERIFIED_SLOTS 64

static struct verified {
    char       *key;     /* "ds9id\ntarget\nframe\nchannel\n", NULL when free */
    char       *path;
    gpd_file_id id;
    uint64_t    used;
} tab[VERIFIED_SLOTS];
static uint64_t clock_tick;
static long n_fetched, n_skipped;

int gpd_file_identity(const char *path, gpd_file_id *id)
{
    char p[GPD_PATH_MAX];
    memset(id, 0, sizeof *id);
    snprintf(p, sizeof p, "%s", path);
    char *br = strchr(p, '[');   /* "f.fits[1]" -> "f.fits" */
    if (br && br != p) *br = '\0';
    struct stat st;
    if (stat(p, &st)) return errno ? errno : EIO;
    if (!S_ISREG(st.st_mode)) return EINVAL;   /* a FIFO, a device ...: never opened, never trusted */
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return errno ? errno : EIO;
    clock_gettime(CLOCK_REALTIME, &id->seen);
    int rc = fstat(fd, &st) ? (errno ? errno : EIO) : 0;
    close(fd);
    if (rc) return rc;
    if (!S_ISREG(st.st_mode)) return EINVAL;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtim = st.st_mtim;
    id->ctim = st.st_ctim;
    id->ok = 1;
    return 0;
}

int gpd_file_id_equal(const gpd_file_id *a, const gpd_file_id *b)
{
    return a->ok && b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
           a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

int gpd_file_id_settled(const gpd_file_id *id)
{
    if (!id->ok) return 0;
    long long margin = id->ctim.tv_nsec == 0 && id->mtim.tv_nsec == 0 ? GPD_SETTLE_COARSE_NS : GPD_SETTLE_NS;
    long long age = (long long)(id->seen.tv_sec - id->ctim.tv_sec) * 1000000000LL + (id->seen.tv_nsec - id->ctim.tv_nsec);
    return age >= margin;
}

static char *make_key(const char *ds9id, const char *target, int frame, const char *channel)
{
    size_t n = strlen(ds9id) + strlen(target) + strlen(channel) + 32;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s\n%s\n%d\n%s\n", ds9id, target, frame, channel);
    return k;
}

static void drop(struct verified *v)
{
    free(v->key);
    free(v->path);
    memset(v, 0, sizeof *v);
}

static struct verified *find(const char *key)
{
    for (int i = 0; i < VERIFIED_SLOTS; i++)
        if (tab[i].key && !strcmp(tab[i].key, key)) return &tab[i];
    return NULL;
}

int gpd_verified_lookup(const char *ds9id, const char *target, int frame, const char *channel, const char *path,
                        const gpd_file_id *id)
{
    char *key = make_key(ds9id, target, frame, channel);
    if (!key) return 0;
    struct verified *v = find(key);
    free(key);
    if (!v) return 0;
    if (strcmp(v->path, path) || !gpd_file_id_equal(&v->id, id)) {
        drop(v);   /* another file, or the file changed: compare again */
        return 0;
    }
    v->used = ++clock_tick;
    return 1;
}

void gpd_verified_record(const char *ds9id, const char *target, int frame, const char *channel, const char *path,
                         const gpd_file_id *id)
{
    char *key = make_key(ds9id, target, frame, channel);
    if (!key) return;
    struct verified *v = find(key);
    if (v) drop(v);
    if (!gpd_file_id_settled(id)) {
        /* changed too recently: a rewrite in the same clock tick would
         * keep this identity */
        gpd_log(GPD_LOG_DEBUG, "frame %d (%s) changed within the last moments: compared again next time", frame, path);
        free(key);
        return;
    }
    v = NULL;
    for (int i = 0; i < VERIFIED_SLOTS && !v; i++)
        if (!tab[i].key) v = &tab[i];
    if (!v) {
        v = &tab[0];
        for (int i = 1; i < VERIFIED_SLOTS; i++)
            if (tab[i].used < v->used) v = &tab[i];
        drop(v);
    }
    v->path = strdup(path);
    if (!v->path) { free(key); return; }
    v->key = key;
    v->id = *id;
    v->used = ++clock_tick;
}

void gpd_verified_forget(const char *ds9id, const char *target, int frame, const char *channel)
{
    char *key = make_key(ds9id, target, frame, channel);
    if (!key) return;
    struct verified *v = find(key);
    if (v) drop(v);
    free(key);
}

/* The target line of a key: after the first '\n'. */
static int key_target_is(const char *key, const char *target)
{
    const char *t = strchr(key, '\n');
    size_t l = strlen(target);
    return t && !strncmp(t + 1, target, l) && t[1 + l] == '\n';
}

void gpd_verified_forget_target(const char *target)
{
    for (int i = 0; i < VERIFIED_SLOTS; i++)
        if (tab[i].key && key_target_is(tab[i].key, target)) drop(&tab[i]);
}

void gpd_verified_prune(const char *ds9id, const char *target, const int *frames, int nframes)
{
    char pre[2200];
    int pl = snprintf(pre, sizeof pre, "%s\n%s\n", ds9id, target);
    if (pl < 0 || (size_t)pl >= sizeof pre) return;
    for (int i = 0; i < VERIFIED_SLOTS; i++) {
        if (!tab[i].key || strncmp(tab[i].key, pre, (size_t)pl)) continue;
        int f = atoi(tab[i].key + pl), live = 0;
        for (int k = 0; k < nframes && !live; k++) live = frames[k] == f;
        if (!live) {
            gpd_log(GPD_LOG_DEBUG, "frame %d (%s) is no longer in DS9 '%s': forgotten", f, tab[i].path, target);
            drop(&tab[i]);
        }
    }
}

void gpd_verified_from_worker(const gpd_job *job)
{
    for (int i = 0; i < job->nsrc; i++) {
        const gpd_source *s = &job->src[i];
        if (s->worker_checked)
            gpd_verified_record(job->ds9id, job->target, s->frame, s->channel, s->path, &s->worker_id);
        else if (s->worker_changed)
            gpd_verified_forget(job->ds9id, job->target, s->frame, s->channel);
    }
}

void gpd_verified_count(int fetched)
{
    if (fetched) n_fetched++;
    else n_skipped++;
}

void gpd_verified_counts(long *fetched, long *skipped)
{
    *fetched = n_fetched;
    *skipped = n_skipped;
}

void gpd_verified_clear(void)
{
    for (int i = 0; i < VERIFIED_SLOTS; i++) drop(&tab[i]);
}
