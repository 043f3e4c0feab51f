/* cli_infer_progress.c: the progress record of a galpost infer batch (cli_infer_progress.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_infer_progress.h"
#include "gp_hash.h"

#define PAGE 4096
#define MAGIC "galpost infer progress record, format 1\n"

int gp_progress_lock(gp_progress *p, const char *output)
{
    p->fd = -1;
    int n = snprintf(p->path, sizeof p->path, "%s.partial.progress", output);
    if (n < 0 || (size_t)n >= sizeof p->path) {
        fprintf(stderr, "galpost infer: %s: path too long\n", output);
        return 1;
    }
    /* the record is removed when a batch completes: lock the file that is
     * at the path once locked (another run may have removed the one opened) */
    for (int tries = 0; tries < 10; tries++) {
        int fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            fprintf(stderr, "galpost infer: cannot open the progress record %s: %s\n", p->path, strerror(errno));
            return 1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            if (e == EWOULDBLOCK) {
                fprintf(stderr, "galpost infer: another galpost infer is writing %s (it holds %s): "
                        "refusing to write over its partial results\n", output, p->path);
                close(fd);
                return 1;
            }
            /* (a file system without locks: go on unlocked) */
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(p->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            p->fd = fd;
            return 0;
        }
        close(fd);
    }
    fprintf(stderr, "galpost infer: cannot lock the progress record %s: it keeps being replaced\n", p->path);
    return 1;
}

/* The record's text up to its checksum line. */
static int format_body(const gp_progress *p, long rows, long failed, uint64_t digest, char *buf, size_t size)
{
    size_t pos = 0;
    int n = snprintf(buf, size, MAGIC);
    pos = (size_t)n;
    for (int i = 0; i < p->nset && pos < size; i++) {
        char v[sizeof p->set[i].val];
        snprintf(v, sizeof v, "%s", p->set[i].val);
        for (char *c = v; *c; c++) if (*c == '\n' || *c == '\r') *c = ' ';
        pos += (size_t)snprintf(buf + pos, size - pos, "set.%s = %s\n", p->set[i].key, v);
    }
    if (pos < size)
        pos += (size_t)snprintf(buf + pos, size - pos, "rows = %ld\nfailed = %ld\ndigest = %016" PRIx64 "\n",
                                rows, failed, digest);
    return pos < size ? (int)pos : -1;
}

int gp_progress_write(const gp_progress *p, long rows, long failed, uint64_t digest)
{
    char page[PAGE];
    memset(page, ' ', sizeof page);
    int n = format_body(p, rows, failed, digest, page, sizeof page - 40);
    if (n < 0) { errno = ENAMETOOLONG; return -1; }
    uint64_t h = gp_fnv1a(GP_FNV1A_BASIS, page, (size_t)n);
    n += snprintf(page + n, sizeof page - (size_t)n, "check = %016" PRIx64 "\n", h);
    page[n] = ' ';   /* (snprintf's NUL: the page is padded with spaces) */
    page[sizeof page - 1] = '\n';
    /* one page at offset 0, one call: the old record or the new one */
    ssize_t w = pwrite(p->fd, page, sizeof page, 0);
    if (w != (ssize_t)sizeof page) { if (w >= 0) errno = EIO; return -1; }
    return 0;
}

int gp_progress_clear(const gp_progress *p)
{
    return ftruncate(p->fd, 0);
}

int gp_progress_read(const gp_progress *p, gp_progress_record *r, char *why, size_t size)
{
    memset(r, 0, sizeof *r);
    char page[PAGE + 1];
    ssize_t n = pread(p->fd, page, PAGE, 0);
    if (n == 0) return 0;
    if (n < 0) { snprintf(why, size, "cannot read it: %s", strerror(errno)); return -1; }
    page[n] = 0;
    if (n != PAGE || strncmp(page, MAGIC, strlen(MAGIC))) {
        snprintf(why, size, "not a galpost infer progress record (%zd bytes)", n);
        return -1;
    }
    char *check = strstr(page, "\ncheck = ");
    uint64_t h = 0;
    if (!check || sscanf(check + 9, "%16" SCNx64, &h) != 1 ||
        gp_fnv1a(GP_FNV1A_BASIS, page, (size_t)(check + 1 - page)) != h) {
        snprintf(why, size, "its checksum does not match its content (damaged)");
        return -1;
    }
    check[1] = 0;
    int have = 0;
    char *save = NULL;
    for (char *line = strtok_r(page + strlen(MAGIC), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");
        if (!eq) continue;
        *eq = 0;
        const char *v = eq + 3;
        if (!strncmp(line, "set.", 4) && r->nset < GP_PROGRESS_NSET) {
            snprintf(r->key[r->nset], sizeof r->key[0], "%s", line + 4);
            snprintf(r->val[r->nset], sizeof r->val[0], "%s", v);
            r->nset++;
        } else if (!strcmp(line, "rows")) have |= (sscanf(v, "%ld", &r->rows) == 1) << 0;
        else if (!strcmp(line, "failed")) have |= (sscanf(v, "%ld", &r->failed) == 1) << 1;
        else if (!strcmp(line, "digest")) have |= (sscanf(v, "%16" SCNx64, &r->digest) == 1) << 2;
    }
    if (have != 7 || r->rows < 0 || r->failed < 0 || r->failed > r->rows) {
        snprintf(why, size, "it lacks the rows, failed or digest line");
        return -1;
    }
    return 1;
}

int gp_progress_differs(const gp_progress *p, const gp_progress_record *r, const char **recorded)
{
    for (int i = 0; i < p->nset; i++) {
        int k = 0;
        while (k < r->nset && strcmp(r->key[k], p->set[i].key)) k++;
        if (k == r->nset) { *recorded = "(not recorded)"; return i; }
        /* (the record holds values with line ends made spaces) */
        char v[sizeof p->set[i].val];
        snprintf(v, sizeof v, "%s", p->set[i].val);
        for (char *c = v; *c; c++) if (*c == '\n' || *c == '\r') *c = ' ';
        if (strcmp(r->val[k], v)) { *recorded = r->val[k]; return i; }
    }
    return -1;
}

int gp_progress_empty(const gp_progress *p)
{
    struct stat sb;
    return p->fd >= 0 && fstat(p->fd, &sb) == 0 && sb.st_size == 0;
}

void gp_progress_release(gp_progress *p, int remove)
{
    if (p->fd < 0) return;
    if (remove) unlink(p->path);   /* (while still locked: see gp_progress_lock) */
    close(p->fd);
    p->fd = -1;
}

int gp_progress_file_identity(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint64_t h = GP_FNV1A_BASIS;
    long long bytes = 0;
    unsigned char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) { h = gp_fnv1a(h, buf, k); bytes += (long long)k; }
    int bad = ferror(f);
    fclose(f);
    if (bad) { errno = EIO; return -1; }
    snprintf(out, size, "%lld bytes, FNV-1a %016" PRIx64, bytes, h);
    return 0;
}
