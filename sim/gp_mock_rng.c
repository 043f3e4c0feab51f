/* gp_mock_rng.c: Philox streams and fast normal deviates for the mock sky. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include <Random123/philox.h>

#include "gp_mock_rng.h"

void gp_mock_rng_init(gp_mock_rng *r, uint64_t seed, uint64_t index, uint32_t kind)
{
    memset(r, 0, sizeof *r);
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = (uint32_t)index;
    r->ctr[1] = (uint32_t)(index >> 32);
    r->ctr[2] = kind;
    r->ctr[3] = 0;
}

uint32_t gp_mock_rng_u32(gp_mock_rng *r)
{
    if (r->nbuf == 0) {
        philox4x32_ctr_t c = {{ r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3] }};
        philox4x32_key_t k = {{ r->key[0], r->key[1] }};
        philox4x32_ctr_t o = philox4x32(c, k);
        memcpy(r->buf, o.v, sizeof r->buf);
        r->ctr[3]++;
        r->nbuf = 4;
    }
    return r->buf[--r->nbuf];
}

double gp_mock_rng_uniform(gp_mock_rng *r)
{
    uint64_t a = gp_mock_rng_u32(r) >> 5, b = gp_mock_rng_u32(r) >> 6;
    /* 53-bit uniform, shifted by half an ulp so it is never 0 or 1 */
    return ((double)(a * 67108864u + b) + 0.5) / 9007199254740992.0;
}

double gp_mock_rng_normal(gp_mock_rng *r)
{
    if (r->have_spare) { r->have_spare = 0; return r->spare; }
    double u1 = gp_mock_rng_uniform(r), u2 = gp_mock_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(2.0 * M_PI * u2);
    r->have_spare = 1;
    return rad * cos(2.0 * M_PI * u2);
}

double gp_mock_rng_range(gp_mock_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * gp_mock_rng_uniform(r);
}

double gp_mock_normal_quantile(double p)
{
    static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
        -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01,
        2.506628277459239e+00 };
    static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
        -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01 };
    static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
        -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00,
        2.938163982698783e+00 };
    static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01,
        2.445134137142996e+00, 3.754408661907416e+00 };
    if (p <= 0.0) return -INFINITY;
    if (p >= 1.0) return INFINITY;
    double q, x;
    if (p < 0.02425) {
        q = sqrt(-2.0 * log(p));
        x = (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q+c[5]) /
            ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q+1.0);
    } else if (p <= 1.0 - 0.02425) {
        q = p - 0.5;
        double rr = q * q;
        x = (((((a[0]*rr+a[1])*rr+a[2])*rr+a[3])*rr+a[4])*rr+a[5])*q /
            (((((b[0]*rr+b[1])*rr+b[2])*rr+b[3])*rr+b[4])*rr+1.0);
    } else {
        q = sqrt(-2.0 * log(1.0 - p));
        x = -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q+c[5]) /
             ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q+1.0);
    }
    /* one Halley step on erfc for full double accuracy */
    double e = 0.5 * erfc(-x / M_SQRT2) - p;
    double u = e * sqrt(2.0 * M_PI) * exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}

/* ---- fast normals: xoshiro128+ and a tabulated inverse CDF ---- */
#define QBITS 12
#define QN    (1 << QBITS)
static float qtab[QN + 1];
static float qslope[QN];
static pthread_once_t qonce = PTHREAD_ONCE_INIT;

static void qtab_build(void)
{
    for (int k = 1; k < QN; k++) qtab[k] = (float)gp_mock_normal_quantile((double)k / QN);
    qtab[0] = qtab[1];      /* cells 0 and QN-1 are sampled exactly */
    qtab[QN] = qtab[QN - 1];
    for (int k = 0; k < QN; k++) qslope[k] = qtab[k + 1] - qtab[k];
}

static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static inline uint32_t xo_next(uint32_t *s)
{
    uint32_t result = s[0] + s[3], t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 11);
    return result;
}

void gp_mock_fastrng_seed(gp_mock_fastrng *f, gp_mock_rng *from)
{
    do {
        for (int k = 0; k < 4; k++) f->s[k] = gp_mock_rng_u32(from);
    } while (!(f->s[0] | f->s[1] | f->s[2] | f->s[3]));
    pthread_once(&qonce, qtab_build);
}

void gp_mock_fastrng_normals(gp_mock_fastrng *f, float *out, int n)
{
    uint32_t s[4] = { f->s[0], f->s[1], f->s[2], f->s[3] };
    for (int i = 0; i < n; i++) {
        uint32_t u = xo_next(s);
        uint32_t cell = u >> (32 - QBITS);
        float frac = (float)(u & ((1u << (32 - QBITS)) - 1)) * (1.0f / (1u << (32 - QBITS)));
        if (cell == 0 || cell == QN - 1) {
            /* exact tail: p uniform inside the outer cell */
            double p = ((double)(u & ((1u << (32 - QBITS)) - 1)) + 0.5) / (1u << (32 - QBITS)) / QN;
            double x = gp_mock_normal_quantile(p);
            out[i] = (float)(cell == 0 ? x : -x);
        } else {
            out[i] = qtab[cell] + frac * qslope[cell];
        }
    }
    memcpy(f->s, s, sizeof s);
}
