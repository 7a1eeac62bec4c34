/*
 * bench_launch: attestations per second against arcad's enclave API. Each of N client threads
 * loops: a NEW mutual-TLS connection, POST /v1/challenge, INSECURE simulated evidence bound to
 * (client key, nonce, config id), POST /v1/attest on the same connection (as arca-run does),
 * close; the latency of the whole is recorded. With --get PATH the same threads instead do a new mutual-TLS connection and one
 * GET PATH (to compare with a static file served by another TLS server, e.g. nginx; --cert and
 * --key give the client certificate such a server checks, see bench/common.sh).
 *
 *   bench_launch --addr HOST:PORT [--cas-key HEX] --config-id SESSION/SERVICE
 *                --measurement HEX --sim-dir DIR [--clients N] [--duration S]
 *   bench_launch --addr HOST:PORT --get /PATH [--cas-key HEX] [--cert PEM --key PEM]
 *                [--clients N] [--duration S]
 *
 * Prints one line: mode, clients, operations, errors, rate/s, p50 and p99 latency in ms.
 * Each client thread has one key pair and certificate (made once; arca-run makes one per
 * launch, which costs the launcher, not the server).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"

struct opts {
    const char *addr;
    const char *config_id;
    const char *sim_dir;
    const char *get_path;
    const char *cert_file, *key_file;
    char pin[128];
    bool has_pin;
    uint8_t measurement[32];
    int clients;
    double duration;
};

struct client {
    const struct opts *o;
    struct arca_sim_platform *plat;
    struct arca_buf cert_pem, key_pem, spki;
    double *lat; /* ms */
    size_t n, cap;
    unsigned long errors;
    char last_error[256];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t size, size_t nmemb, void *arg)
{
    struct arca_buf *b = arg;
    return arca_buf_put(b, p, size * nmemb) == 0 ? size * nmemb : 0;
}

/* One request on handle h (a new handle opens a new connection; the second request of an
 * attestation reuses it, as arca-run does); 0 and the body, or -1. */
static int request(struct client *c, CURL *h, const char *path, const char *body,
                   struct arca_buf *out)
{
    char url[512];
    snprintf(url, sizeof(url), "https://%s%s", c->o->addr, path);
    struct curl_blob cb = {c->cert_pem.data, c->cert_pem.len, CURL_BLOB_NOCOPY};
    struct curl_blob kb = {c->key_pem.data, c->key_pem.len, CURL_BLOB_NOCOPY};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    if (c->o->has_pin)
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->o->pin);
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    if (cc != CURLE_OK || status != 200) {
        snprintf(c->last_error, sizeof(c->last_error), "%s: %s (HTTP %ld) %.120s", path,
                 curl_easy_strerror(cc), status, arca_buf_cstr(out));
        return -1;
    }
    return 0;
}

static int binding(const struct arca_buf *spki, const uint8_t nonce[32], const char *id,
                   uint8_t out[64])
{
    struct arca_hash_ctx *h = NULL;
    int rc = arca_hash_ctx_new(ARCA_SHA512, &h);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, "arca-attest-v1", 14);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, spki->data, spki->len);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, nonce, 32);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, id, strlen(id));
    if (rc == 0)
        rc = arca_hash_ctx_final(h, out);
    arca_hash_ctx_free(h);
    return rc;
}

static int one_attestation(struct client *c)
{
    struct arca_buf ans, ev, b64;
    arca_buf_init(&ans, 1 << 20);
    arca_buf_init(&ev, 0);
    arca_buf_init(&b64, 0);
    uint8_t nonce[32], rd[64];
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    int rc = request(c, h, "/v1/challenge", "{}", &ans);
    if (rc == 0) {
        json_t *j = json_loadb((const char *)ans.data, ans.len, 0, NULL);
        json_t *n = json_object_get(j, "nonce");
        rc = json_is_string(n)
                 ? arca_hex_decode_fixed(nonce, 32, json_string_value(n), json_string_length(n))
                 : -1;
        json_decref(j);
    }
    if (rc == 0)
        rc = binding(&c->spki, nonce, c->o->config_id, rd);
    if (rc == 0)
        rc = arca_sim_evidence_make(c->plat, c->o->measurement, rd, &ev);
    if (rc == 0)
        rc = arca_base64_encode(&b64, ev.data, ev.len);
    if (rc == 0) {
        char nhex[65];
        arca_hex_fmt(nhex, nonce, 32);
        json_t *req =
            json_pack("{s:s, s:s, s:s, s:s, s:{s:[s,s], s:{}}}", "config_id", c->o->config_id,
                      "evidence_type", "sim", "evidence", arca_buf_cstr(&b64), "nonce", nhex,
                      "host", "argv", "/prog", "/dev/null", "env");
        char *body = json_dumps(req, JSON_COMPACT);
        arca_buf_reset(&ans);
        rc = body ? request(c, h, "/v1/attest", body, &ans) : -1;
        free(body);
        json_decref(req);
    }
    curl_easy_cleanup(h);
    arca_buf_free(&ans);
    arca_buf_free(&ev);
    arca_buf_free(&b64);
    return rc;
}

static void *run(void *arg)
{
    struct client *c = arg;
    double end = now_s() + c->o->duration;
    while (now_s() < end) {
        double t0 = now_s();
        int rc;
        if (c->o->get_path != NULL) {
            struct arca_buf ans;
            arca_buf_init(&ans, 1 << 20);
            CURL *h = curl_easy_init();
            rc = h ? request(c, h, c->o->get_path, NULL, &ans) : -1;
            if (h != NULL)
                curl_easy_cleanup(h);
            arca_buf_free(&ans);
        } else {
            rc = one_attestation(c);
        }
        double ms = (now_s() - t0) * 1000.0;
        if (rc != 0) {
            c->errors++;
            continue;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 1024;
            c->lat = realloc(c->lat, c->cap * sizeof(double));
            if (c->lat == NULL)
                abort();
        }
        c->lat[c->n++] = ms;
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Appends the whole file at path to out; 0 or -1. */
static int load_file(const char *path, struct arca_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char tmp[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        rc = arca_buf_put(out, tmp, n);
    fclose(f);
    return rc;
}

static int client_init(struct client *c, const struct opts *o)
{
    memset(c, 0, sizeof(*c));
    c->o = o;
    arca_buf_init(&c->cert_pem, 0);
    arca_buf_init_secret(&c->key_pem, 0);
    arca_buf_init(&c->spki, 0);
    if (o->cert_file != NULL) {
        if (load_file(o->cert_file, &c->cert_pem) < 0 || load_file(o->key_file, &c->key_pem) < 0)
            return ARCA_ERR_IO;
        return 0;
    }
    struct arca_key *k = NULL;
    struct arca_x509 *cert = NULL;
    int64_t t = arca_time_now();
    struct arca_x509_params xp = {.common_name = "bench-launch",
                                  .eku = ARCA_EKU_CLIENT,
                                  .not_before = t - 300,
                                  .not_after = t + 86400};
    int rc = arca_key_generate(ARCA_KEY_P256, &k);
    if (rc == 0)
        rc = arca_x509_build(&xp, k, NULL, NULL, &cert);
    if (rc == 0)
        rc = arca_x509_to_pem(cert, &c->cert_pem);
    if (rc == 0)
        rc = arca_key_private_pem(k, &c->key_pem);
    if (rc == 0)
        rc = arca_key_spki_der(k, &c->spki);
    if (rc == 0 && o->get_path == NULL)
        rc = arca_sim_platform_open(o->sim_dir, &c->plat);
    arca_x509_free(cert);
    arca_key_free(k);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_launch --addr HOST:PORT [--cas-key HEX] --config-id ID "
                    "--measurement HEX --sim-dir DIR [--clients N] [--duration S]\n"
                    "       bench_launch --addr HOST:PORT --get /PATH [--cas-key HEX] "
                    "[--cert PEM --key PEM] [--clients N] [--duration S]\n");
}

int main(int argc, char **argv)
{
    struct opts o = {.clients = 1, .duration = 5};
    const char *mhex = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--addr") == 0)
            o.addr = v;
        else if (strcmp(a, "--config-id") == 0)
            o.config_id = v;
        else if (strcmp(a, "--sim-dir") == 0)
            o.sim_dir = v;
        else if (strcmp(a, "--measurement") == 0)
            mhex = v;
        else if (strcmp(a, "--get") == 0)
            o.get_path = v;
        else if (strcmp(a, "--cert") == 0)
            o.cert_file = v;
        else if (strcmp(a, "--key") == 0)
            o.key_file = v;
        else if (strcmp(a, "--clients") == 0)
            o.clients = atoi(v);
        else if (strcmp(a, "--duration") == 0)
            o.duration = atof(v);
        else if (strcmp(a, "--cas-key") == 0) {
            uint8_t k[32];
            struct arca_buf b;
            arca_buf_init(&b, 0);
            if (arca_hex_decode_fixed(k, 32, v, strlen(v)) < 0 ||
                arca_base64_encode(&b, k, 32) < 0) {
                fprintf(stderr, "bench_launch: --cas-key: 64 hex digits\n");
                return 2;
            }
            snprintf(o.pin, sizeof(o.pin), "sha256//%s", arca_buf_cstr(&b));
            o.has_pin = true;
            arca_buf_free(&b);
        } else {
            usage();
            return 2;
        }
    }
    if (o.addr == NULL || o.clients < 1 || o.duration <= 0 ||
        (o.cert_file == NULL) != (o.key_file == NULL) ||
        (o.cert_file != NULL && o.get_path == NULL) ||
        (o.get_path == NULL &&
         (o.config_id == NULL || mhex == NULL ||
          arca_hex_decode_fixed(o.measurement, 32, mhex, strlen(mhex)) < 0))) {
        usage();
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct client *cs = calloc((size_t)o.clients, sizeof(*cs));
    pthread_t *th = calloc((size_t)o.clients, sizeof(*th));
    if (cs == NULL || th == NULL)
        return 1;
    for (int i = 0; i < o.clients; i++)
        if (client_init(&cs[i], &o) < 0) {
            fprintf(stderr, "bench_launch: %s\n", arca_err_detail());
            return 1;
        }
    double t0 = now_s();
    for (int i = 0; i < o.clients; i++)
        pthread_create(&th[i], NULL, run, &cs[i]);
    size_t total = 0;
    unsigned long errors = 0;
    for (int i = 0; i < o.clients; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].n;
        errors += cs[i].errors;
    }
    double secs = now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < o.clients; i++) {
        memcpy(all + k, cs[i].lat, cs[i].n * sizeof(double));
        k += cs[i].n;
    }
    qsort(all, total, sizeof(double), cmp);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(total * 99) / 100] : 0;
    printf("mode=%s clients=%d ops=%zu errors=%lu rate=%.1f/s p50=%.2fms p99=%.2fms\n",
           o.get_path ? "get" : "attest", o.clients, total, errors, (double)total / secs, p50, p99);
    for (int i = 0; i < o.clients; i++)
        if (cs[i].errors) {
            fprintf(stderr, "bench_launch: last error: %s\n", cs[i].last_error);
            break;
        }
    return errors && total == 0 ? 1 : 0;
}
