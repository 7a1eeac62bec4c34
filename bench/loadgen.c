/*
 * loadgen: a load generator for arcad's client API that presents a client certificate (wrk and
 * h2load cannot). One thread per simulated client, each with one kept-alive mutual-TLS
 * connection (libcurl, the CLI's own stack), the server's key pinned. The same generator drives
 * the nginx baseline (bench/common.sh) so that the two figures differ only in the server.
 *
 *   loadgen --cas HOST:PORT --cas-key HEX (--identity DIR | --cert PEM --key PEM)
 *           --mode read|write|get [--path /PATH] [--new-conn]
 *           [--clients N] [--duration SECONDS] [--session NAME]
 *
 * read:  GET /v1/sessions/NAME as fast as possible (NAME must exist and be readable).
 * write: each client creates its own session, then updates it in a loop (every answered
 *        update is a durable commit: fsync'ed SQLite WAL + sealed state chain + audit line).
 * get:   GET /PATH as fast as possible (the baseline: a small static file served by nginx).
 * create: creates new sessions PREFIX-CLIENT-SEQ (a secret and a service each) until --requests
 *        N have been answered in all (bench/scale.sh fills arcad with it).
 * --new-conn: a new mutual-TLS connection (full handshake, no session resumption) per request
 *        instead of one kept-alive connection per client.
 * Prints one line: mode, clients, requests, errors, rate/s, p50 and p99 latency in ms, then
 * p90 and the maximum.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/enc.h"

struct opts {
    const char *cas;
    const char *identity;
    const char *cert_file, *key_file;
    const char *path;
    bool new_conn;
    char pin[128];
    const char *mode;
    const char *session;
    const char *prefix;
    long requests;         /* create: total budget over all clients */
    _Atomic long *claimed; /* create: requests taken from the budget so far */
    int clients;
    double duration;
};

struct client {
    const struct opts *o;
    int index;
    struct arca_buf cert, key;
    double *lat; /* milliseconds */
    size_t nlat, cap;
    unsigned long errors;
    double stop_at;
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

/* Appends the file DIR/NAME (or NAME alone when DIR is NULL) to out. */
static int read_file(const char *dir, const char *name, struct arca_buf *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        arca_buf_put(out, tmp, n);
    fclose(f);
    return 0;
}

/* One request; returns the HTTP status (0 on transport failure). body may be NULL (GET). */
static long request(struct client *c, CURL *h, const char *path, const char *body,
                    struct arca_buf *answer)
{
    char url[1024];
    snprintf(url, sizeof(url), "https://%s%s", c->o->cas, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    arca_buf_reset(answer);
    if (curl_easy_perform(h) != CURLE_OK)
        return 0;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void record(struct client *c, double ms)
{
    if (c->nlat == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        double *p = realloc(c->lat, cap * sizeof(*p));
        if (p == NULL)
            return;
        c->lat = p;
        c->cap = cap;
    }
    c->lat[c->nlat++] = ms;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    struct arca_buf answer;
    arca_buf_init(&answer, 4 << 20);
    struct curl_blob cert = {c->cert.data, c->cert.len, CURL_BLOB_NOCOPY};
    struct curl_blob key = {c->key.data, c->key.len, CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->o->pin);
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (c->o->new_conn) {
        /* Neither the connection nor the TLS session may be reused: a full handshake each. */
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    bool write = strcmp(c->o->mode, "write") == 0;
    bool create = strcmp(c->o->mode, "create") == 0;
    long seq = 0;
    char path[512], name[256], hash[65] = "", body[1024];
    if (write) {
        snprintf(name, sizeof(name), "bench-%ld-%d-%d", (long)getpid(), (int)time(NULL), c->index);
        snprintf(body, sizeof(body), "name: %s\nversion: \"0.3\"\n", name);
        if (request(c, h, "/v1/sessions", body, &answer) != 201)
            c->errors++;
        json_t *j = json_loadb((const char *)answer.data, answer.len, 0, NULL);
        const char *hs = json_string_value(json_object_get(j, "hash"));
        if (hs != NULL && strlen(hs) == 64)
            memcpy(hash, hs, 65);
        json_decref(j);
    } else if (c->o->path != NULL) {
        snprintf(path, sizeof(path), "%s", c->o->path);
    } else {
        snprintf(path, sizeof(path), "/v1/sessions/%s", c->o->session);
    }
    while (now_s() < c->stop_at) {
        double t0 = now_s();
        long st;
        if (create) {
            if (atomic_fetch_add(c->o->claimed, 1) >= c->o->requests)
                break;
            snprintf(body, sizeof(body),
                     "name: %s-%d-%ld\nversion: \"0.3\"\nsecrets:\n  - name: k\n    kind: "
                     "ascii\nservices:\n  - name: app\n    command: app\n    environment: {K: "
                     "\"$$SCONE::k$$\"}\n    attestation:\n      simulation: {measurement: "
                     "\"%064d\"}\nsecurity:\n  attestation:\n    mode: simulation\n",
                     c->o->prefix, c->index, seq++, 0);
            st = request(c, h, "/v1/sessions", body, &answer);
            if (st == 201)
                st = 200;
        } else if (write) {
            snprintf(body, sizeof(body), "name: %s\nversion: \"0.3\"\npredecessor: \"%s\"\n", name,
                     hash);
            st = request(c, h, "/v1/sessions", body, &answer);
            if (st == 200) {
                json_t *j = json_loadb((const char *)answer.data, answer.len, 0, NULL);
                const char *hs = json_string_value(json_object_get(j, "hash"));
                if (hs != NULL && strlen(hs) == 64)
                    memcpy(hash, hs, 65);
                json_decref(j);
            }
        } else {
            st = request(c, h, path, NULL, &answer);
        }
        double ms = (now_s() - t0) * 1000.0;
        if (st == 200)
            record(c, ms);
        else
            c->errors++;
        if (st == 0)
            usleep(10000); /* do not spin on a dead server */
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    arca_buf_free(&answer);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --cas HOST:PORT --cas-key HEX (--identity DIR | --cert PEM --key PEM)\n"
            "               --mode read|write|get|create [--path /PATH] [--new-conn]\n"
            "               [--requests N] [--prefix NAME]\n"
            "               [--clients N] [--duration SECONDS] [--session NAME]\n");
}

int main(int argc, char **argv)
{
    _Atomic long claimed = 0;
    struct opts o = {.mode = "read",
                     .clients = 1,
                     .duration = 5,
                     .session = "bench-read",
                     .prefix = "scale",
                     .requests = 1000,
                     .claimed = &claimed};
    const char *cas_key = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        if (strcmp(a, "--new-conn") == 0) {
            o.new_conn = true;
            i--;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
            return 2;
        }
        if (strcmp(a, "--cas") == 0)
            o.cas = v;
        else if (strcmp(a, "--cas-key") == 0)
            cas_key = v;
        else if (strcmp(a, "--identity") == 0)
            o.identity = v;
        else if (strcmp(a, "--cert") == 0)
            o.cert_file = v;
        else if (strcmp(a, "--key") == 0)
            o.key_file = v;
        else if (strcmp(a, "--path") == 0)
            o.path = v;
        else if (strcmp(a, "--requests") == 0)
            o.requests = atol(v);
        else if (strcmp(a, "--prefix") == 0)
            o.prefix = v;
        else if (strcmp(a, "--mode") == 0)
            o.mode = v;
        else if (strcmp(a, "--clients") == 0)
            o.clients = atoi(v);
        else if (strcmp(a, "--duration") == 0)
            o.duration = atof(v);
        else if (strcmp(a, "--session") == 0)
            o.session = v;
        else {
            usage();
            return 2;
        }
    }
    uint8_t kid[32];
    bool get = strcmp(o.mode, "get") == 0;
    if (o.cas == NULL || cas_key == NULL || o.clients < 1 || o.clients > 1024 || o.duration <= 0 ||
        (o.identity == NULL) == (o.cert_file == NULL) ||
        (o.cert_file == NULL) != (o.key_file == NULL) || get != (o.path != NULL) ||
        (strcmp(o.mode, "read") != 0 && strcmp(o.mode, "write") != 0 &&
         strcmp(o.mode, "create") != 0 && !get) ||
        arca_hex_decode_fixed(kid, 32, cas_key, strlen(cas_key)) < 0) {
        usage();
        return 2;
    }
    struct arca_buf b64;
    arca_buf_init(&b64, 128);
    arca_base64_encode(&b64, kid, 32);
    snprintf(o.pin, sizeof(o.pin), "sha256//%s", arca_buf_cstr(&b64));
    arca_buf_free(&b64);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    struct client *cs = calloc((size_t)o.clients, sizeof(*cs));
    pthread_t *ts = calloc((size_t)o.clients, sizeof(*ts));
    if (cs == NULL || ts == NULL)
        return 1;
    double start = now_s();
    for (int i = 0; i < o.clients; i++) {
        cs[i].o = &o;
        cs[i].index = i;
        arca_buf_init(&cs[i].cert, 1 << 16);
        arca_buf_init_secret(&cs[i].key, 1 << 16);
        if (read_file(o.identity, o.cert_file ? o.cert_file : "cert.pem", &cs[i].cert) < 0 ||
            read_file(o.identity, o.key_file ? o.key_file : "key.pem", &cs[i].key) < 0) {
            fprintf(stderr, "loadgen: no client certificate and key in %s\n",
                    o.identity ? o.identity : o.cert_file);
            return 1;
        }
        cs[i].stop_at = start + o.duration;
        pthread_create(&ts[i], NULL, client_main, &cs[i]);
    }
    size_t total = 0;
    unsigned long errors = 0;
    for (int i = 0; i < o.clients; i++) {
        pthread_join(ts[i], NULL);
        total += cs[i].nlat;
        errors += cs[i].errors;
    }
    double elapsed = now_s() - start;
    double *all = malloc((total ? total : 1) * sizeof(*all));
    size_t k = 0;
    for (int i = 0; i < o.clients; i++) {
        memcpy(all + k, cs[i].lat, cs[i].nlat * sizeof(*all));
        k += cs[i].nlat;
        free(cs[i].lat);
        arca_buf_free(&cs[i].cert);
        arca_buf_free(&cs[i].key);
    }
    qsort(all, total, sizeof(*all), cmp_double);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(total * 99) / 100] : 0;
    double p90 = total ? all[(total * 90) / 100] : 0, max = total ? all[total - 1] : 0;
    /* p90 and max after the fields other scripts read: the tail is what group commit shapes */
    printf("mode=%s%s clients=%d requests=%zu errors=%lu rate=%.1f/s p50=%.2fms p99=%.2fms "
           "p90=%.2fms max=%.2fms\n",
           o.mode, o.new_conn ? "+new-conn" : "", o.clients, total, errors, (double)total / elapsed,
           p50, p99, p90, max);
    free(all);
    free(cs);
    free(ts);
    curl_global_cleanup();
    return errors > 0 && total == 0 ? 1 : 0;
}
