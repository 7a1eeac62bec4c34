/*
 * Intel SGX / TDX DCAP quote verification rate on one core (issue 4, Benchmark): warm
 * collateral with the verification cache (PCK chain, CRLs and collateral signatures verified
 * once), warm collateral (in memory, everything verified per quote) and cold collateral (read
 * and parsed from the file for every quote, everything verified), printed beside `openssl speed -seconds 1 ecdsap256 ecdsap384` verify rates
 * measured in the same run and as a ratio to the floor: two P-256 verifications per quote
 * (quote signature + QE report signature), what a verifier with a cached chain and collateral
 * must at least do.
 *
 * Usage: bench_verify [seconds per measurement, default 2] [--no-openssl] [--cached-only]
 *
 * --cached-only measures only the warm+cache rate (for a profiler: perf record, callgrind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/claims.h"
#include "evidence/collateral.h"
#include "evidence/dcap_quote.h"
#include "evidence/dcap_verify.h"

#define TV ARCA_TESTVECTORS

static double g_secs = 2.0;

static void die(const char *what)
{
    fprintf(stderr, "bench_verify: %s: %s\n", what, arca_err_detail());
    exit(1);
}

typedef int (*op_fn)(void *ctx);

/* Runs op until g_secs have passed; returns operations per second. */
static double rate(op_fn op, void *ctx)
{
    int64_t start = arca_time_mono_ms(), now;
    long n = 0;
    do {
        for (int i = 0; i < 8; i++) {
            if (op(ctx) != 0)
                die("operation failed");
            n++;
        }
        now = arca_time_mono_ms();
    } while (now - start < (int64_t)(g_secs * 1000));
    return (double)n * 1000.0 / (double)(now - start);
}

struct vec {
    const char *name;
    const char *quote;
    const char *collateral;
    const char *when;
    struct arca_buf q;
    struct arca_dcap_collateral col;
    char colpath[512];
    int64_t at;
    struct arca_dcap_cache *cache;
};

static int op_cached(void *p)
{
    struct vec *v = p;
    struct arca_claims c;
    struct arca_dcap_opts o = {.cache = v->cache};
    return arca_dcap_verify(v->q.data, v->q.len, &v->col, &o, v->at, &c, NULL);
}

static int op_warm(void *p)
{
    struct vec *v = p;
    struct arca_claims c;
    return arca_dcap_verify(v->q.data, v->q.len, &v->col, NULL, v->at, &c, NULL);
}

static int op_cold(void *p)
{
    struct vec *v = p;
    struct arca_claims c;
    struct arca_dcap_collateral col;
    arca_dcap_collateral_init(&col);
    int rc = arca_dcap_collateral_load_path(&col, v->colpath);
    if (rc == 0)
        rc = arca_dcap_verify(v->q.data, v->q.len, &col, NULL, v->at, &c, NULL);
    arca_dcap_collateral_free(&col);
    return rc;
}

struct p256 {
    struct arca_key *k;
    uint8_t msg[64];
    struct arca_dcap_quote q;
};

/* One raw P-256 verification, as the quote signature check does it. */
static int op_p256(void *p)
{
    struct p256 *s = p;
    return arca_verify_ecdsa_raw(s->k, ARCA_SHA256, s->q.signed_data, s->q.signed_len,
                                 s->q.signature, s->q.signature + 32, 32, false);
}

/* The quote's attestation key made into a key object, as every quote check does it. */
static int op_p256_key(void *p)
{
    struct p256 *s = p;
    struct arca_key *k = NULL;
    int rc = arca_key_from_public_raw(ARCA_KEY_P256, s->q.attestation_key, 64, &k);
    arca_key_free(k);
    return rc;
}

/* Parses `openssl speed` output: the verify/s column of the nistp256 / nistp384 rows. */
static void openssl_speed(double *v256, double *v384)
{
    const char *cmd = "openssl speed -seconds 1 ecdsap256 ecdsap384 2>/dev/null";
    char line[512];
    *v256 = *v384 = 0;
    FILE *f = popen(cmd, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        double *dst = strstr(line, "(nistp256)") ? v256 : strstr(line, "(nistp384)") ? v384 : NULL;
        if (!dst)
            continue;
        /* last number on the line is verify/s */
        char *last = NULL;
        for (char *t = strtok(line, " \t\n"); t; t = strtok(NULL, " \t\n"))
            last = t;
        if (last)
            *dst = strtod(last, NULL);
    }
    pclose(f);
}

int main(int argc, char **argv)
{
    bool run_openssl = true;
    bool cached_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-openssl") == 0)
            run_openssl = false;
        else if (strcmp(argv[i], "--cached-only") == 0)
            cached_only = true;
        else
            g_secs = atof(argv[i]) > 0 ? atof(argv[i]) : g_secs;
    }
    struct vec vecs[] = {
        {.name = "SGX v3 (dcap-qvl sgx_quote)",
         .quote = "phala-dcap-qvl/sgx_quote",
         .collateral = "phala-dcap-qvl/sgx_quote_collateral.json",
         .when = "2025-07-01T00:00:00Z"},
        {.name = "TDX v4 (dcap-qvl tdx_quote)",
         .quote = "phala-dcap-qvl/tdx_quote",
         .collateral = "phala-dcap-qvl/tdx_quote_collateral.json",
         .when = "2025-07-01T00:00:00Z"},
    };
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        struct vec *v = &vecs[i];
        snprintf(path, sizeof path, "%s/%s", TV, v->quote);
        arca_buf_init(&v->q, 0);
        if (arca_file_read(path, 1 << 20, &v->q) < 0)
            die(path);
        snprintf(v->colpath, sizeof v->colpath, "%s/%s", TV, v->collateral);
        arca_dcap_collateral_init(&v->col);
        if (arca_dcap_collateral_load_path(&v->col, v->colpath) < 0)
            die(v->colpath);
        if (arca_time_parse_rfc3339(v->when, &v->at) < 0)
            die("time");
        if (arca_dcap_cache_new(0, &v->cache) < 0)
            die("cache");
    }

    struct p256 s;
    if (arca_dcap_quote_parse(vecs[0].q.data, vecs[0].q.len, &s.q) < 0 ||
        arca_key_from_public_raw(ARCA_KEY_P256, s.q.attestation_key, 64, &s.k) < 0)
        die("P-256 setup");
    double p256 = rate(op_p256, &s);
    double p256_key = rate(op_p256_key, &s);
    double floor_rate = p256 / 2.0;

    double o256 = 0, o384 = 0;
    if (run_openssl)
        openssl_speed(&o256, &o384);

    printf("# arca DCAP quote verification, one core, %.1f s per figure\n", g_secs);
    printf("# reproduce: %s %.1f   (bench/verify.sh builds and runs it)\n", argv[0], g_secs);
    printf("%-44s %12s %10s\n", "measurement", "per second", "floor x");
    printf("%-44s %12.0f\n", "arca P-256 verify (arca_verify_ecdsa_raw)", p256);
    printf("%-44s %12.0f\n", "arca P-256 key from a raw point", p256_key);
    if (run_openssl) {
        printf("%-44s %12.0f   [openssl speed -seconds 1 ecdsap256]\n", "openssl P-256 verify",
               o256);
        printf("%-44s %12.0f   [openssl speed -seconds 1 ecdsap384]\n", "openssl P-384 verify",
               o384);
    }
    double fl = run_openssl && o256 > 0 ? o256 / 2.0 : floor_rate;
    printf("%-44s %12.0f %10s   [2 P-256 verifies per quote, openssl rate]\n", "floor", fl, "1.0");
    for (size_t i = 0; i < 2; i++) {
        struct vec *v = &vecs[i];
        char label[96];
        double k = rate(op_cached, v);
        snprintf(label, sizeof label, "%s warm+cache", v->name);
        printf("%-44s %12.0f %10.1f   [%s %.1f]\n", label, k, fl / k, argv[0], g_secs);
        if (cached_only)
            continue;
        double w = rate(op_warm, v);
        snprintf(label, sizeof label, "%s warm", v->name);
        printf("%-44s %12.0f %10.1f   [%s %.1f]\n", label, w, fl / w, argv[0], g_secs);
        double c = rate(op_cold, v);
        snprintf(label, sizeof label, "%s cold", v->name);
        printf("%-44s %12.0f %10.1f   [%s %.1f]\n", label, c, fl / c, argv[0], g_secs);
    }
    printf("# floor x = how many times slower than the two-P-256 floor (1.0 = at the floor)\n");
    arca_key_free(s.k);
    for (size_t i = 0; i < 2; i++) {
        arca_dcap_collateral_free(&vecs[i].col);
        arca_dcap_cache_free(vecs[i].cache);
        arca_buf_free(&vecs[i].q);
    }
    return 0;
}
