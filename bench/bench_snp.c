/*
 * SEV-SNP verification rate on one core, printed beside the primitives it is made of and
 * beside `openssl speed` ECDSA rates measured in the same run (issue 4, Benchmark).
 *
 * A full arca_snp_verify is one ECDSA P-384 verification (the report) plus one RSA-4096
 * RSA-PSS verification (VCEK by ASK; the ARK self-signature and ASK-by-ARK signatures of the
 * embedded roots are checked once per process) plus parsing and X.509 field extraction; the
 * "floor" below is the time of those two signature checks alone.
 *
 * Rates are per CPU second (CLOCK_THREAD_CPUTIME_ID), like `openssl speed`, so that a loaded
 * shared machine does not distort the ratios.
 *
 * Usage: bench_snp [CPU seconds per measurement, default 2]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"
#include "evidence/snp.h"

#define TV ARCA_TESTVECTORS

static double g_secs = 2.0;

static void die(const char *what)
{
    fprintf(stderr, "bench_snp: %s: %s\n", what, arca_err_detail());
    exit(1);
}

static void slurp(const char *path, struct arca_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench_snp: cannot open %s\n", path);
        exit(1);
    }
    arca_buf_init(out, 0);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        if (arca_buf_put(out, tmp, n) < 0)
            die("read");
    fclose(f);
}

typedef int (*op_fn)(void *ctx);

/* CPU seconds of this thread: the machine is shared, so rates are per CPU second (per core),
 * as `openssl speed` reports them (it divides by user CPU time unless given -elapsed). */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs op until g_secs of CPU time have passed; returns operations per CPU second. */
static double rate(op_fn op, void *ctx)
{
    double start = cpu_now(), now;
    long n = 0;
    do {
        for (int i = 0; i < 16; i++) {
            if (op(ctx) != 0)
                die("operation failed");
            n++;
        }
        now = cpu_now();
    } while (now - start < g_secs);
    return (double)n / (now - start);
}

struct snp_ctx {
    struct arca_buf report;
    struct arca_snp_certs certs;
    int64_t now;
};

static int op_snp(void *p)
{
    struct snp_ctx *c = p;
    struct arca_claims cl;
    return arca_snp_verify(c->report.data, c->report.len, &c->certs, c->now, &cl);
}

struct sig_ctx {
    struct arca_key *key;
    const uint8_t *msg;
    size_t len;
    struct arca_buf sig;
    enum arca_hash_alg alg;
};

static int op_verify(void *p)
{
    struct sig_ctx *c = p;
    return arca_verify(c->key, c->alg, c->msg, c->len, c->sig.data, c->sig.len);
}

struct x509_ctx {
    struct arca_x509 *child;
    struct arca_key *parent_key;
};

static int op_x509(void *p)
{
    struct x509_ctx *c = p;
    return arca_x509_verify_signature(c->child, c->parent_key);
}

static double ecdsa_rate(enum arca_key_type t, enum arca_hash_alg alg)
{
    static const uint8_t msg[0x2A0];
    struct sig_ctx c = {.msg = msg, .len = sizeof(msg), .alg = alg};
    arca_buf_init(&c.sig, 0);
    if (arca_key_generate(t, &c.key) < 0 || arca_sign(c.key, alg, msg, sizeof(msg), &c.sig) < 0)
        die("ecdsa setup");
    double r = rate(op_verify, &c);
    arca_key_free(c.key);
    arca_buf_free(&c.sig);
    return r;
}

/* `openssl speed` verify/s for a curve, measured now; 0 if unavailable. */
static double openssl_speed(const char *alg, const char *tag)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "openssl speed -seconds %d %s 2>/dev/null", (int)g_secs, alg);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return 0;
    char line[512];
    double v = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        if (strstr(line, tag) == NULL || strstr(line, "ecdsa") == NULL)
            continue;
        /* "... 384 bits ecdsa (nistp384)   0.0008s   0.0010s   1251.9   1021.1" */
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == ' '))
            line[--l] = '\0';
        char *last = strrchr(line, ' ');
        if (last != NULL)
            v = strtod(last + 1, NULL);
    }
    pclose(p);
    return v;
}

static int op_sim(void *p)
{
    struct arca_buf *ev = p;
    struct arca_claims cl;
    return arca_sim_evidence_verify(ev->data, ev->len, &cl);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_secs = atof(argv[1]);
    if (g_secs <= 0)
        g_secs = 2.0;

    /* SNP: go-sev-guest Milan report, VCEK given, ASK/ARK embedded. */
    struct snp_ctx s = {0};
    slurp(TV "/google-go-sev-guest/attestation.bin", &s.report);
    if (arca_snp_certs_load_file(&s.certs, TV "/google-go-sev-guest/vcek.testcer") < 0)
        die("vcek");
    if (arca_time_parse_rfc3339("2024-01-01T00:00:00Z", &s.now) < 0)
        die("time");
    double snp = rate(op_snp, &s);

    /* Same with the KDS cert_chain supplied by the caller. */
    if (arca_snp_certs_load_file(&s.certs, TV "/google-go-sev-guest/milan.testcer") < 0)
        die("chain");
    double snp_chain = rate(op_snp, &s);

    /* VLEK v3 report. */
    struct snp_ctx v = {0};
    slurp(TV "/coco-trustee/snp/test-vlek-report.bin", &v.report);
    if (arca_snp_certs_load_file(&v.certs, TV "/coco-trustee/snp/test-vlek.der") < 0)
        die("vlek");
    if (arca_time_parse_rfc3339("2025-06-01T00:00:00Z", &v.now) < 0)
        die("time");
    double snp_vlek = rate(op_snp, &v);

    /* Primitives, in process. */
    double p256 = ecdsa_rate(ARCA_KEY_P256, ARCA_SHA256);
    double p384 = ecdsa_rate(ARCA_KEY_P384, ARCA_SHA384);
    struct x509_ctx x = {.child = s.certs.intermediate};
    if (arca_x509_public_key(s.certs.ark, &x.parent_key) < 0)
        die("ark key");
    double rsa4096 = rate(op_x509, &x);
    arca_key_free(x.parent_key);

    /* Simulated evidence, for scale. */
    char dir[] = "/tmp/arca-bench-sim-XXXXXX";
    struct arca_sim_platform *plat = NULL;
    struct arca_buf ev;
    arca_buf_init(&ev, 0);
    uint8_t m[32] = {0}, rd[64] = {0};
    if (mkdtemp(dir) == NULL || arca_sim_platform_open(dir, &plat) < 0 ||
        arca_sim_evidence_make(plat, m, rd, &ev) < 0)
        die("sim");
    double sim = rate(op_sim, &ev);
    arca_sim_platform_free(plat);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_snp: could not remove %s\n", dir);

    double os256 = openssl_speed("ecdsap256", "nistp256");
    double os384 = openssl_speed("ecdsap384", "nistp384");

    double floor_rate = 1.0 / (1.0 / p384 + 1.0 / rsa4096);
    double floor_os = os384 > 0 ? 1.0 / (1.0 / os384 + 1.0 / rsa4096) : 0;
    printf("arca SNP verification, per CPU second of one core, %.1f CPU s per figure\n", g_secs);
    printf("  snp verify (VCEK, embedded ASK/ARK)   %10.1f /s\n", snp);
    printf("  snp verify (VCEK + KDS cert_chain)    %10.1f /s\n", snp_chain);
    printf("  snp verify (VLEK v3, embedded ASVK)   %10.1f /s\n", snp_vlek);
    printf("  sim evidence verify (INSECURE)        %10.1f /s\n", sim);
    printf("primitives (arca crypto, same run)\n");
    printf("  ECDSA P-256 verify                    %10.1f /s\n", p256);
    printf("  ECDSA P-384 verify                    %10.1f /s\n", p384);
    printf("  RSA-4096 PSS cert signature verify    %10.1f /s\n", rsa4096);
    printf("openssl speed (same run)\n");
    printf("  ecdsap256 verify                      %10.1f /s\n", os256);
    printf("  ecdsap384 verify                      %10.1f /s\n", os384);
    printf("floor = 1 P-384 + 1 RSA-4096 verify     %10.1f /s  (arca primitives)\n", floor_rate);
    printf("snp / floor                             %10.2f\n", snp / floor_rate);
    if (os384 > 0) {
        printf("floor with openssl speed P-384          %10.1f /s\n", floor_os);
        printf("snp / that floor                        %10.2f\n", snp / floor_os);
        printf("snp / openssl ecdsap384 verify          %10.2f\n", snp / os384);
    }

    arca_snp_certs_clear(&s.certs);
    arca_snp_certs_clear(&v.certs);
    arca_buf_free(&s.report);
    arca_buf_free(&v.report);
    arca_buf_free(&ev);
    return 0;
}
