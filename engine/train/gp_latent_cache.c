/*
 * gp_latent_cache.c: the trainer's cache of encoder outputs, with a
 * fingerprint of the rows, encoder and stretch it was made from.
 */
#include "gp_latent_cache.h"
#include "gp_hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = { 'G', 'P', 'L', 'A', 'T', 'C', '2', '\n' };
#define MAX_TENSORS 256

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const gp_latent_tensor *const *)a)->name, (*(const gp_latent_tensor *const *)b)->name);
}

int gp_latent_cache_key(const uint64_t *ids, const float *rowdata, int rowlen, long n,
                        const gp_latent_tensor *enc, int nenc,
                        const float stretch[9], int latent, uint64_t *key, gp_error *err)
{
    if (!key || !stretch || n < 0 || (n > 0 && !ids) || rowlen < 0 || rowlen > 64 || (n > 0 && rowlen > 0 && !rowdata) ||
        nenc < 0 || nenc > MAX_TENSORS || (nenc > 0 && !enc))
        return GP_FAIL(err, GP_ERR_ARG, "gp_latent_cache_key: bad arguments (n %ld, %d values per row, %d tensors)", n,
                       rowlen, nenc);
    const gp_latent_tensor *s[MAX_TENSORS];
    for (int i = 0; i < nenc; i++) {
        if (!enc[i].name || (enc[i].n && !enc[i].data))
            return GP_FAIL(err, GP_ERR_ARG, "gp_latent_cache_key: tensor %d has no name or no data", i);
        s[i] = &enc[i];
    }
    qsort(s, (size_t)nenc, sizeof s[0], by_name);
    uint64_t h = GP_FNV1A_BASIS;
    int64_t hdr[4] = { n, latent, nenc, rowlen };
    h = gp_fnv1a(h, hdr, sizeof hdr);
    h = gp_fnv1a(h, ids, sizeof(uint64_t) * (size_t)n);
    if (rowlen > 0) h = gp_fnv1a(h, rowdata, sizeof(float) * (size_t)n * (size_t)rowlen);
    for (int i = 0; i < nenc; i++) {
        if (i > 0 && !strcmp(s[i]->name, s[i - 1]->name))
            return GP_FAIL(err, GP_ERR_ARG, "gp_latent_cache_key: tensor %s given twice", s[i]->name);
        uint64_t len = s[i]->n;
        h = gp_fnv1a(h, s[i]->name, strlen(s[i]->name) + 1);
        h = gp_fnv1a(h, &len, sizeof len);
        h = gp_fnv1a(h, s[i]->data, sizeof(float) * s[i]->n);
    }
    h = gp_fnv1a(h, stretch, sizeof(float) * 9);
    *key = h;
    return GP_OK;
}

#define ROWDATA 8   /* ugriz magnitudes, g r i pixel noise */

int gp_latent_cache_key_rows(const gp_dataset *d, int nparts, const long *const rows[], const long nrows[],
                             const gp_latent_tensor *enc, int nenc, const float stretch[9], int latent,
                             uint64_t *key, gp_error *err)
{
    if (!d || nparts < 1 || nparts > 4 || !rows || !nrows)
        return GP_FAIL(err, GP_ERR_ARG, "gp_latent_cache_key_rows: bad arguments (%d row lists)", nparts);
    long n = 0;
    for (int p = 0; p < nparts; p++) n += nrows[p];
    uint64_t *ids = malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    float *rd = malloc(sizeof(float) * (size_t)(n ? n : 1) * ROWDATA);
    if (!ids || !rd) {
        free(ids);
        free(rd);
        return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the latent cache's row list (%ld rows)", n);
    }
    long i = 0;
    for (int p = 0; p < nparts; p++)
        for (long j = 0; j < nrows[p]; j++, i++) {
            long r = rows[p][j];
            float *x = rd + (size_t)i * ROWDATA;
            ids[i] = d->id[r];
            for (int b = 0; b < 5; b++) x[b] = d->mag[r * 5 + b];
            for (int b = 0; b < 3; b++) x[5 + b] = d->sigma_pix ? d->sigma_pix[r * 3 + b] : 0.0f;
        }
    int st = gp_latent_cache_key(ids, rd, ROWDATA, n, enc, nenc, stretch, latent, key, err);
    free(ids);
    free(rd);
    return st;
}

static void say(char *why, size_t whylen, const char *fmt, long a, long b)
{
    if (why && whylen) snprintf(why, whylen, fmt, a, b);
}

int gp_latent_cache_read(const char *path, long n, int latent, uint64_t key, float *out,
                         char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { say(why, whylen, "absent", 0, 0); return 0; }
    char magic[8];
    int64_t hdr[2];
    uint64_t k;
    int used = 0;
    if (fread(magic, sizeof magic, 1, f) != 1 || memcmp(magic, MAGIC, sizeof magic))
        say(why, whylen, "not a cache of this version (no fingerprint)", 0, 0);
    else if (fread(hdr, sizeof hdr, 1, f) != 1 || fread(&k, sizeof k, 1, f) != 1)
        say(why, whylen, "truncated header", 0, 0);
    else if (hdr[0] != n || hdr[1] != latent)
        say(why, whylen, "made for %ld rows of latent %ld", (long)hdr[0], (long)hdr[1]);
    else if (k != key)
        say(why, whylen, "made from other rows, another encoder or another band stretch", 0, 0);
    else {
        struct stat sb;
        long long want = (long long)sizeof MAGIC + 2 * (long long)sizeof(int64_t) + (long long)sizeof k +
                         (long long)n * 2 * latent * (long long)sizeof(float);
        if (fstat(fileno(f), &sb) != 0) say(why, whylen, "cannot be examined", 0, 0);
        else if ((long long)sb.st_size < want) say(why, whylen, "truncated data", 0, 0);
        else if ((long long)sb.st_size > want) say(why, whylen, "longer than its header says", 0, 0);
        else if (n > 0 && fread(out, sizeof(float) * 2 * (size_t)latent, (size_t)n, f) != (size_t)n)
            say(why, whylen, "read error", 0, 0);
        else
            used = 1;
    }
    fclose(f);
    return used;
}

int gp_latent_cache_write(const char *path, long n, int latent, uint64_t key, const float *data,
                          gp_error *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return GP_FAIL(err, GP_ERR_ARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return GP_FAIL(err, GP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    int64_t hdr[2] = { n, latent };
    int ok = fwrite(MAGIC, sizeof MAGIC, 1, f) == 1 && fwrite(hdr, sizeof hdr, 1, f) == 1 &&
             fwrite(&key, sizeof key, 1, f) == 1 &&
             (n == 0 || fwrite(data, sizeof(float) * 2 * (size_t)latent, (size_t)n, f) == (size_t)n);
    int e = errno;
    if (fclose(f) != 0 && ok) { ok = 0; e = errno; }
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        unlink(path);
        return GP_FAIL(err, GP_ERR_IO, "%s: cannot write the latent cache: %s", path, strerror(e));
    }
    return GP_OK;
}
