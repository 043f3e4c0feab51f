/* test_latent_cache.c: the trainer's latent cache (engine/train/gp_latent_cache.c).
 *  - a cache written and read back with the same fingerprint gives the same
 *    floats, bit for bit, on fresh random latents;
 *  - the fingerprint changes with any one of: one objID, one value read with
 *    a row (the same objIDs in a mock of another seed), the order of two
 *    rows, one bit of one encoder weight, a tensor's name, one stretch value,
 *    the latent size; it does not change with the order the tensors are
 *    given in;
 *  - a reader asking for another fingerprint, row count or latent size, or
 *    meeting a truncated, overlong or old-format (fingerprint-less) file,
 *    does not use it, leaves its output untouched and says why;
 *  - a write to an impossible path fails with GP_ERR_IO naming it and leaves
 *    no file behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "train/gp_latent_cache.h"
#include "gp_test_util.h"

enum { N = 37, L = 5, NT = 3 };

typedef struct fixture {
    uint64_t ids[N];
    float rd[N * 3];
    float w0[12], w1[7], w2[3];
    gp_latent_tensor t[NT];
    float stretch[9];
} fixture;

static void fixture_fill(fixture *f)
{
    for (int i = 0; i < N; i++) f->ids[i] = (uint64_t)(gp_test_uniform() * 1e15) + 1;
    gp_test_fill(f->rd, N * 3, 1.0);
    gp_test_fill(f->w0, 12, 1.0);
    gp_test_fill(f->w1, 7, 1.0);
    gp_test_fill(f->w2, 3, 1.0);
    f->t[0] = (gp_latent_tensor){ "enc.conv0.w", f->w0, 12 };
    f->t[1] = (gp_latent_tensor){ "enc.conv0.b", f->w1, 7 };
    f->t[2] = (gp_latent_tensor){ "enc.mu.w", f->w2, 3 };
    for (int i = 0; i < 9; i++) f->stretch[i] = (float)(0.1 + gp_test_uniform());
}

static uint64_t key_of(const fixture *f, int latent)
{
    uint64_t k = 0;
    gp_error err;
    assert_int_equal(gp_latent_cache_key(f->ids, f->rd, 3, N, f->t, NT, f->stretch, latent, &k, &err), GP_OK);
    return k;
}

static void test_key_sensitivity(void **state)
{
    (void)state;
    fixture f;
    fixture_fill(&f);
    uint64_t k0 = key_of(&f, L);
    assert_int_equal(key_of(&f, L), k0);

    /* tensor order does not matter */
    fixture g = f;
    g.t[0] = f.t[2]; g.t[2] = f.t[0];
    assert_int_equal(key_of(&g, L), k0);

    g = f; g.ids[N / 2] ^= 1; assert_int_not_equal(key_of(&g, L), k0);
    /* the same objIDs, another galaxy (a mock of another seed): one value read with a row */
    g = f; g.rd[3 * 7 + 1] += 0.001f; assert_int_not_equal(key_of(&g, L), k0);
    g = f; g.ids[3] = f.ids[4]; g.ids[4] = f.ids[3]; assert_int_not_equal(key_of(&g, L), k0);
    g = f;
    uint32_t bits;
    memcpy(&bits, &g.w1[5], 4); bits ^= 1u; memcpy(&g.w1[5], &bits, 4);
    g.t[0].data = g.w0; g.t[1].data = g.w1; g.t[2].data = g.w2;
    assert_int_not_equal(key_of(&g, L), k0);
    g = f; g.t[2].name = "enc.mu.b"; assert_int_not_equal(key_of(&g, L), k0);
    g = f; g.stretch[7] *= 1.0001f; assert_int_not_equal(key_of(&g, L), k0);
    assert_int_not_equal(key_of(&f, L + 1), k0);

    /* refusals */
    gp_error err;
    uint64_t k;
    g = f; g.t[1].name = g.t[0].name;
    assert_int_equal(gp_latent_cache_key(g.ids, g.rd, 3, N, g.t, NT, g.stretch, L, &k, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "enc.conv0.w"));
    assert_int_equal(gp_latent_cache_key(f.ids, f.rd, 3, -1, f.t, NT, f.stretch, L, &k, &err), GP_ERR_ARG);
    assert_int_equal(gp_latent_cache_key(NULL, f.rd, 3, N, f.t, NT, f.stretch, L, &k, &err), GP_ERR_ARG);
    assert_int_equal(gp_latent_cache_key(f.ids, NULL, 3, N, f.t, NT, f.stretch, L, &k, &err), GP_ERR_ARG);
}

static void test_round_trip_and_refusals(void **state)
{
    (void)state;
    fixture f;
    fixture_fill(&f);
    uint64_t key = key_of(&f, L);
    float lat[N * 2 * L], back[N * 2 * L];
    gp_test_fill(lat, N * 2 * L, 2.0);
    char path[256], why[160];
    gp_test_tmpname(path, sizeof path, ".f32");
    gp_error err;

    why[0] = 0;
    assert_int_equal(gp_latent_cache_read(path, N, L, key, back, why, sizeof why), 0);
    assert_string_equal(why, "absent");

    assert_int_equal(gp_latent_cache_write(path, N, L, key, lat, &err), GP_OK);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    memset(back, 0, sizeof back);
    assert_int_equal(gp_latent_cache_read(path, N, L, key, back, why, sizeof why), 1);
    assert_memory_equal(back, lat, sizeof lat);

    /* what it was not made for: out untouched, a reason */
    float sentinel[N * 2 * L];
    for (int i = 0; i < N * 2 * L; i++) sentinel[i] = -777.0f;
    memcpy(back, sentinel, sizeof back);
    assert_int_equal(gp_latent_cache_read(path, N, L, key ^ 1, back, why, sizeof why), 0);
    assert_non_null(strstr(why, "another encoder"));
    assert_int_equal(gp_latent_cache_read(path, N - 1, L, key, back, why, sizeof why), 0);
    assert_non_null(strstr(why, "made for 37 rows"));
    assert_int_equal(gp_latent_cache_read(path, N, L + 1, key, back, why, sizeof why), 0);
    assert_memory_equal(back, sentinel, sizeof back);

    /* truncated, overlong, and the old header (n, latent only) */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(ftruncate(fileno(fp), 32 + (long)sizeof lat - 4), 0);
    fclose(fp);
    assert_int_equal(gp_latent_cache_read(path, N, L, key, back, why, sizeof why), 0);
    assert_non_null(strstr(why, "truncated"));
    assert_int_equal(gp_latent_cache_write(path, N, L, key, lat, &err), GP_OK);
    fp = fopen(path, "ab");
    fputc(0, fp);
    fclose(fp);
    assert_int_equal(gp_latent_cache_read(path, N, L, key, back, why, sizeof why), 0);
    assert_non_null(strstr(why, "longer"));
    fp = fopen(path, "wb");
    long old[2] = { N, L };
    fwrite(old, sizeof old, 1, fp);
    fwrite(lat, sizeof lat, 1, fp);
    fclose(fp);
    assert_int_equal(gp_latent_cache_read(path, N, L, key, back, why, sizeof why), 0);
    assert_non_null(strstr(why, "no fingerprint"));
    assert_memory_equal(back, sentinel, sizeof back);
    unlink(path);

    /* a path that cannot be written */
    char bad[300];
    snprintf(bad, sizeof bad, "%s.absent-dir/latents.f32", path);
    assert_int_equal(gp_latent_cache_write(bad, N, L, key, lat, &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, "absent-dir"));
    assert_int_equal(access(bad, F_OK), -1);
}

int main(void)
{
    gp_test_seed("test_latent_cache");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_sensitivity),
        cmocka_unit_test(test_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
