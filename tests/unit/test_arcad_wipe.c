/*
 * No secret left in freed memory: drives arcad's client API through its router
 * (arcad_dispatch_raw, a real sealed store) and scans every block our code frees for a known
 * secret value. Linked with -Wl,--wrap=free,--wrap=malloc,--wrap=realloc (tests/CMakeLists.txt),
 * so every free() call in
 * arca's own objects (the libraries, arcad's core, this file) passes through __wrap_free
 * first; blocks freed inside shared libraries (libyaml, SQLite, OpenSSL) are out of reach, and
 * jansson's are reached through the wiping allocator arcad installs (it frees with free()).
 *
 * The parsed sessions go through a session cache of two entries (as arcad's, only smaller): the
 * session "wiped" holds the secret as an explicit value, so its cached model does too, and the
 * cases evict it and finally free the cache with the scan on.
 *
 * Each case is one row of `cases`. The attestation case drives the enclave API's pipeline
 * (arca_attest_exchange, what enclave_api.c hands the body to) directly, since the router's
 * dispatch without a network has no TLS peer key to bind the evidence to; it delivers the
 * secret in the configuration and through a placeholder service access token.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/attest_wire.h"
#include "api/json.h"
#include "arcad_internal.h"
#include "attest/attest.h"
#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"
#include "policy/session_cache.h"
#include "store_test_util.h"

#define SECRET "Zk4-known-secret-VALUE-3141592653"

/*
 * What __wrap_free looks for. A global because the linker's hook has free()'s signature and
 * no context; only this test has it.
 */
static struct {
    bool on;
    size_t scanned, hits;
} scan;

void __real_free(void *p);
void __wrap_free(void *p);
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

/*
 * Our objects' blocks start zeroed over their whole usable size (the scan reads all of it):
 * otherwise a block could show a secret that a shared library (libyaml grows its buffers with
 * realloc) left in the heap before, in bytes our code never wrote, and the test would blame
 * our code at random. With this, a hit is a secret our code wrote and did not wipe.
 */
void *__wrap_malloc(size_t n)
{
    void *p = __real_malloc(n);
    if (p != NULL)
        memset(p, 0, malloc_usable_size(p));
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    size_t old = p != NULL ? malloc_usable_size(p) : 0;
    /* realloc may move the block and free the old one unwiped: a secret must never be in a
     * block our code reallocates (secret buffers grow by copy and wipe). */
    if (p != NULL && scan.on && memmem(p, old, SECRET, sizeof(SECRET) - 1) != NULL)
        scan.hits++;
    uint8_t *q = __real_realloc(p, n);
    size_t now = q != NULL ? malloc_usable_size(q) : 0;
    if (now > old)
        memset(q + old, 0, now - old);
    return q;
}

void __wrap_free(void *p)
{
    if (p != NULL && scan.on) {
        size_t n = malloc_usable_size(p);
        scan.scanned++;
        if (memmem(p, n, SECRET, sizeof(SECRET) - 1) != NULL)
            scan.hits++;
    }
    __real_free(p);
}

struct world {
    char *dir;
    struct arca_store_fixed_sealer fs;
    struct arcad_ctx ctx;
    uint8_t client[32];
    char yaml[1024];
    char hash1[65];
};

static int setup(void **state)
{
    arca_json_wipe_on_free(); /* as arcad's main does first */
    struct world *w = calloc(1, sizeof(*w));
    uint8_t k[32];
    test_seal_key(k, 7);
    w->dir = tdir_make();
    arca_store_fixed_sealer_init(&w->fs, k);
    if (w->dir == NULL || test_store_open(w->dir, &w->fs, true, &w->ctx.store) != 0)
        return -1;
    if (arca_session_cache_new(2, 1 << 20, &w->ctx.sessions) != 0)
        return -1;
    w->ctx.metrics = arcad_metrics_new();
    w->ctx.client_router = arcad_router_new();
    if (w->ctx.metrics == NULL || w->ctx.client_router == NULL ||
        arcad_api_register(w->ctx.client_router, &w->ctx) != 0)
        return -1;
    memset(w->client, 0x5a, sizeof(w->client));
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    arcad_router_free(w->ctx.client_router);
    arcad_metrics_free(w->ctx.metrics);
    arca_session_cache_free(w->ctx.sessions);
    arca_store_close(w->ctx.store);
    arca_store_fixed_sealer_wipe(&w->fs);
    tdir_remove(w->dir);
    arca_wipe(w->yaml, sizeof(w->yaml));
    free(w);
    return 0;
}

/* One request through the client router; returns the status, answer in *answer (if given). */
static int request(struct world *w, const char *method, const char *uri, const char *body,
                   json_t **answer)
{
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    int status = 0;
    assert_int_equal(arcad_dispatch_raw(&w->ctx, w->ctx.client_router, method, uri, body,
                                        body != NULL ? strlen(body) : 0, w->client, &status, &out),
                     0);
    assert_null(memmem(out.data, out.len, SECRET, sizeof(SECRET) - 1));
    if (answer != NULL)
        assert_int_equal(arca_json_parse_object(out.data, out.len, "answer", answer), 0);
    arca_buf_free(&out);
    return status;
}

static void upload(struct world *w, const char *pred)
{
    snprintf(w->yaml, sizeof(w->yaml),
             "name: wiped\n"
             "version: \"0.3\"\n"
             "services:\n"
             "  - name: app\n"
             "    command: /bin/app\n"
             "    environment:\n"
             "      TOKEN: \"$$SCONE::explicit$$\"\n"
             "    mrenclaves: [\"%064d\"]\n"
             "secrets:\n"
             "  - name: explicit\n"
             "    kind: ascii\n"
             "    value: \"" SECRET "\"\n"
             "  - name: generated\n"
             "    kind: binary\n"
             "    size: 16\n"
             "    export_public: true\n"
             "%s%s%s",
             0, pred ? "predecessor: \"" : "", pred ? pred : "", pred ? "\"\n" : "");
    json_t *a = NULL;
    int st = request(w, "POST", "/v1/sessions", w->yaml, &a);
    assert_int_equal(st, pred ? 200 : 201);
    if (pred == NULL)
        snprintf(w->hash1, sizeof(w->hash1), "%s", json_string_value(json_object_get(a, "hash")));
    json_decref(a);
}

static void case_upload(struct world *w)
{
    upload(w, NULL);
}

static void case_update(struct world *w)
{
    upload(w, w->hash1); /* migration decodes the stored secrets */
}

static void case_read(struct world *w)
{
    json_t *a = NULL;
    assert_int_equal(request(w, "GET", "/v1/sessions/wiped", NULL, &a), 200);
    assert_non_null(strstr(json_string_value(json_object_get(a, "session")), "<redacted>"));
    json_decref(a);
    char uri[200];
    snprintf(uri, sizeof(uri), "/v1/sessions/wiped?hash=%s", w->hash1);
    assert_int_equal(request(w, "GET", uri, NULL, NULL), 200);
    assert_int_equal(request(w, "GET", "/v1/history/wiped", NULL, NULL), 200);
    assert_int_equal(request(w, "GET", "/v1/sessions?prefix=wi", NULL, NULL), 200);
    assert_int_equal(request(w, "GET", "/v1/values/session=wiped", NULL, NULL), 200);
    assert_int_equal(request(w, "GET", "/v1/values/session=wiped,secret=explicit", NULL, NULL),
                     404);
}

/* A launch of a session whose environment and access token hold the secret, through the
 * whole exchange (decode, checks, configuration, encoding), answer freed as arcad frees it. */
static void case_attest(struct world *w)
{
    uint8_t m[32];
    memset(m, 0x33, sizeof(m));
    char mhex[65], yaml[1024], sim[600];
    arca_hex_fmt(mhex, m, sizeof(m));
    snprintf(yaml, sizeof(yaml),
             "name: wiped-launch\n"
             "version: \"0.3.10\"\n"
             "services:\n"
             "  - name: app\n"
             "    command: /bin/app\n"
             "    environment: {TOKEN: \"$$SCONE::explicit$$\"}\n"
             "    attestation: [{mrenclave: [\"%s\"]}]\n"
             "secrets: [{name: explicit, kind: ascii, value: \"" SECRET "\"}]\n"
             "security:\n"
             "  attestation: {mode: simulation}\n"
             "  service_access_token: \"$$SCONE::explicit$$\"\n",
             mhex);
    assert_int_equal(request(w, "POST", "/v1/sessions", yaml, NULL), 201);
    arca_wipe(yaml, sizeof(yaml));

    snprintf(sim, sizeof(sim), "%s/sim", w->dir);
    struct arca_sim_platform *p = NULL;
    struct arca_key *key = NULL;
    struct arca_attest_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    struct arca_buf spki, body, answer;
    arca_buf_init(&spki, 0);
    arca_buf_init_secret(&body, 0);
    arca_buf_init_secret(&answer, 0);
    assert_int_equal(arca_sim_platform_open(sim, &p), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &key), 0);
    assert_int_equal(arca_key_spki_der(key, &spki), 0);
    assert_int_equal(arca_attest_ctx_init(&ctx, 0), 0);
    ctx.store = w->ctx.store;
    ctx.verify.allow_simulation = true;
    ctx.sessions = w->ctx.sessions;

    struct arca_attest_request r;
    arca_attest_request_init(&r);
    struct arca_challenge_answer ch;
    assert_int_equal(arca_attest_challenge(&ctx, arca_time_now(), &ch), 0);
    memcpy(r.nonce, ch.nonce, sizeof(r.nonce));
    r.config_id = strdup("wiped-launch/app");
    r.access_token = strdup(SECRET);
    r.evidence_type = ARCA_EVIDENCE_SIM;
    uint8_t rd[64];
    assert_int_equal(arca_launch_binding(spki.data, spki.len, r.nonce, r.config_id, rd), 0);
    assert_int_equal(arca_sim_evidence_make(p, m, rd, &r.evidence), 0);
    char *argv[] = {"/usr/bin/arca-run", NULL};
    char *envp[] = {NULL};
    assert_int_equal(arca_attest_request_set_host(&r, argv, 1, envp), 0);
    assert_int_equal(arca_attest_request_encode(&r, &body), 0);
    arca_attest_request_free(&r);
    json_t *j = NULL;
    assert_int_equal(arca_json_parse_object(body.data, body.len, "attest request", &j), 0);
    struct arca_attest_outcome o;
    if (arca_attest_exchange(&ctx, j, spki.data, spki.len, arca_time_now(), &answer, &o) != 0)
        fail_msg("attest: %s", arca_err_detail());
    assert_non_null(memmem(answer.data, answer.len, SECRET, sizeof(SECRET) - 1));
    json_decref(j);
    arca_buf_free(&answer);
    arca_buf_free(&body);
    arca_buf_free(&spki);
    arca_attest_ctx_clear(&ctx);
    arca_key_free(key);
    arca_sim_platform_free(p);
}

/* Reads every version of "wiped" into the cache (the active one twice: a hit), then fills the
 * two slots with other versions so that both of its models are evicted. */
static void case_evict(struct world *w)
{
    struct arca_session_cache_stats before, after;
    arca_session_cache_stats(w->ctx.sessions, &before);
    assert_int_equal(request(w, "GET", "/v1/sessions/wiped", NULL, NULL), 200);
    assert_int_equal(request(w, "GET", "/v1/sessions/wiped", NULL, NULL), 200);
    for (int i = 0; i < 2; i++) {
        char yaml[200];
        snprintf(yaml, sizeof(yaml), "name: filler%d\nversion: \"0.3\"\n", i);
        assert_int_equal(request(w, "POST", "/v1/sessions", yaml, NULL), 201);
        snprintf(yaml, sizeof(yaml), "/v1/sessions/filler%d", i);
        assert_int_equal(request(w, "GET", yaml, NULL, NULL), 200);
    }
    arca_session_cache_stats(w->ctx.sessions, &after);
    assert_true(after.hits > before.hits);
    assert_true(after.evictions >= before.evictions + 1);
}

/* The cache freed with "wiped" in it (as arcad's exit frees it). */
static void case_cache_free(struct world *w)
{
    assert_int_equal(request(w, "GET", "/v1/sessions/wiped", NULL, NULL), 200);
    struct arca_session_cache_stats st;
    arca_session_cache_stats(w->ctx.sessions, &st);
    assert_true(st.count > 0);
    arca_session_cache_free(w->ctx.sessions);
    w->ctx.sessions = NULL;
}

struct wipe_case {
    const char *name;
    void (*run)(struct world *w);
};

/* In order: later cases use what earlier ones stored. */
static const struct wipe_case cases[] = {
    {"upload", case_upload}, {"update", case_update}, {"read", case_read},
    {"attest", case_attest}, {"evict", case_evict},   {"cache_free", case_cache_free},
};

static void test_no_secret_in_freed_memory(void **state)
{
    struct world *w = *state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&scan, 0, sizeof(scan));
        scan.on = true;
        cases[i].run(w);
        scan.on = false;
        if (scan.hits != 0)
            fail_msg("%s: %zu of %zu freed blocks still held the secret", cases[i].name, scan.hits,
                     scan.scanned);
        assert_true(scan.scanned > 0); /* the hook is linked in and saw the case's frees */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_secret_in_freed_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
