/*
 * Fast fill for bench/scale.sh (issue 14 item 6): creates N sessions in a stopped arcad's data
 * directory through the library create path arcad's POST /v1/sessions uses
 * (arca_cas_session_put over the real store), so the records, listing index, created counts
 * and journal are exactly what arcad writes. No HTTP, no TLS, no audit line (the fill is not
 * an API request; audit checkpoints stay as arcad left them, so arcad's start-up check of the
 * log's tail against the store still holds).
 *
 *   bench_fill --data-dir DIR --sim-dir DIR --arcad PATH --cas-key HEX --identity DIR
 *              --prefix P --count N [--clients C]
 *
 * The store is sealed like arcad seals it in simulation: arca_sim_seal_key(platform,
 * measurement of the arcad binary at PATH, purpose), so that binary opens the result. Sessions
 * are named P-I-SEQ (I = 0..C-1, as bench/loadgen --mode create names them, one secret and one
 * service each) with the identity's key as creator. Each create is its own durable commit, as
 * in arcad. Prints "filled N sessions in S s (R/s)"; exit 1 on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/fs.h"
#include "base/log.h"
#include "bench_util.h"
#include "cas/cas.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"
#include "policy/session.h"
#include "store/store.h"

struct sealer_ctx {
    struct arca_sim_platform *p;
    uint8_t measurement[32];
};

static int get_key(void *vctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN])
{
    const struct sealer_ctx *s = vctx;
    return arca_sim_seal_key(s->p, s->measurement, purpose, key);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_fill --data-dir DIR --sim-dir DIR --arcad PATH --cas-key HEX "
                    "--identity DIR --prefix P --count N [--clients C]\n");
    exit(2);
}

/* The creator: the key id of DIR/cert.pem, as arcad derives it from the client certificate. */
static void creator_of(const char *dir, uint8_t id[32])
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    struct arca_buf pem;
    arca_buf_init(&pem, 0);
    struct arca_x509 *c = NULL;
    if (arca_file_read(path, 1 << 20, &pem) < 0 || arca_x509_from_pem(pem.data, pem.len, &c) < 0 ||
        arca_x509_key_id(c, id) < 0)
        bench_die("bench_fill", path);
    arca_x509_free(c);
    arca_buf_free(&pem);
}

int main(int argc, char **argv)
{
    const char *data_dir = NULL, *sim_dir = NULL, *arcad = NULL, *cas_key = NULL, *ident = NULL,
               *prefix = NULL;
    long count = -1, clients = 16;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--data-dir") == 0)
            data_dir = v;
        else if (strcmp(a, "--sim-dir") == 0)
            sim_dir = v;
        else if (strcmp(a, "--arcad") == 0)
            arcad = v;
        else if (strcmp(a, "--cas-key") == 0)
            cas_key = v;
        else if (strcmp(a, "--identity") == 0)
            ident = v;
        else if (strcmp(a, "--prefix") == 0)
            prefix = v;
        else if (strcmp(a, "--count") == 0)
            count = strtol(v, NULL, 10);
        else if (strcmp(a, "--clients") == 0)
            clients = strtol(v, NULL, 10);
        else
            usage();
    }
    if (argc % 2 != 1 || !data_dir || !sim_dir || !arcad || !cas_key || !ident || !prefix ||
        count < 0 || clients < 1)
        usage();

    arca_log_set_level(ARCA_LOG_WARN); /* not a line per session */
    struct sealer_ctx sc;
    memset(&sc, 0, sizeof(sc));
    if (arca_sim_platform_open(sim_dir, &sc.p) < 0 ||
        arca_sim_measure_path(arcad, sc.measurement) < 0)
        bench_die("bench_fill", "simulation platform");
    struct arca_store_sealer sealer = {.get_key = get_key, .ctx = &sc};
    char db[4096], ks[4096];
    snprintf(db, sizeof(db), "%s/arca.db", data_dir);
    snprintf(ks, sizeof(ks), "%s/arca.db.key-store", data_dir);
    struct arca_store_options so = {.path = db, .keystore_path = ks, .sealer = &sealer};
    struct arca_cas cas;
    memset(&cas, 0, sizeof(cas));
    if (arca_hex_decode_fixed(cas.cas_key, sizeof(cas.cas_key), cas_key, strlen(cas_key)) < 0)
        bench_die("bench_fill", "--cas-key");
    uint8_t creator[32];
    creator_of(ident, creator);
    double t0 = bench_now_s();
    if (arca_store_open(&so, &cas.store) < 0)
        bench_die("bench_fill", "store");
    double t1 = bench_now_s();
    char body[1024];
    for (long n = 0; n < count; n++) {
        int len = snprintf(body, sizeof(body),
                           "name: %s-%ld-%ld\nversion: \"0.3\"\nsecrets:\n  - name: k\n    kind: "
                           "ascii\nservices:\n  - name: app\n    command: app\n    environment: "
                           "{K: \"$$SCONE::k$$\"}\n    attestation:\n      simulation: "
                           "{measurement: \"%064d\"}\nsecurity:\n  attestation:\n    mode: "
                           "simulation\n",
                           prefix, n % clients, n / clients, 0);
        struct arca_diag d;
        arca_diag_init(&d);
        struct arca_cas_put put;
        int rc = arca_cas_session_put(&cas, creator, body, (size_t)len, &d, &put);
        arca_cas_put_clear(&put);
        arca_diag_free(&d);
        if (rc < 0)
            bench_die("bench_fill", "create");
    }
    double t2 = bench_now_s();
    arca_store_close(cas.store);
    arca_sim_platform_free(sc.p);
    printf("filled %ld sessions in %.1f s (%.0f/s; store open %.2f s)\n", count, t2 - t1,
           (double)count / (t2 - t1 > 0 ? t2 - t1 : 1), t1 - t0);
    return 0;
}
