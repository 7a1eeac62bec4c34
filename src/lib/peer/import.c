/* Remote imports over the peer channel, with their cache (import.h). */
#include "peer/import.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "cas/cas.h"
#include "secrets/secrets.h"

struct entry {
    uint8_t key[32]; /* SHA-256 of the query */
    int64_t fetched;
    struct arca_buf enc; /* secret: the encoded one-entry set */
};

struct arca_peer_importer {
    const struct arca_peer_self *self;
    int ttl;
    pthread_mutex_t mu;
    struct entry e[ARCA_PEER_IMPORT_CACHE_MAX];
    size_t n;
    struct arca_attest_remote hook;
};

/* The cache key: every part of the question, length-prefixed so no two questions collide. */
static int query_key(const struct arca_attest_import *q, uint8_t out[32])
{
    const struct arca_session_ref *r = &q->d->import_from;
    struct arca_buf b;
    arca_buf_init(&b, 2048);
    const char *parts[] = {r->cas_url.s, r->session.s, q->secret, q->session};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < 4; i++) {
        uint32_t n = (uint32_t)strlen(parts[i]);
        rc = arca_buf_put(&b, &n, sizeof(n));
        if (rc == 0)
            rc = arca_buf_put(&b, parts[i], n);
    }
    uint8_t z[32] = {0};
    if (rc == 0)
        rc = arca_buf_put(&b, r->has_cas_key ? r->cas_key : z, 32);
    if (rc == 0)
        rc = arca_buf_put(&b, r->has_cas_software_key ? r->cas_software_key : z, 32);
    if (rc == 0)
        rc = arca_buf_put(&b, q->hash, 32);
    if (rc == 0)
        rc = arca_sha256(b.data, b.len, out);
    arca_buf_free(&b);
    return rc;
}

/* A fresh cached copy of the encoded value for key into enc (appended), or ARCA_ERR_NOT_FOUND. */
static int cache_get(struct arca_peer_importer *imp, const uint8_t key[32], int64_t now,
                     struct arca_buf *enc)
{
    int rc = ARCA_ERR_NOT_FOUND;
    pthread_mutex_lock(&imp->mu);
    for (size_t i = 0; i < imp->n; i++) {
        struct entry *x = &imp->e[i];
        if (memcmp(x->key, key, 32) != 0)
            continue;
        if (now >= x->fetched && now - x->fetched < imp->ttl)
            rc = arca_buf_put(enc, x->enc.data, x->enc.len);
        break;
    }
    pthread_mutex_unlock(&imp->mu);
    return rc;
}

/* Replaces the entry of key (enc NULL: drops it), else fills a free or the oldest slot. */
static void cache_put(struct arca_peer_importer *imp, const uint8_t key[32], int64_t now,
                      const struct arca_buf *enc)
{
    if (imp->ttl <= 0)
        return;
    pthread_mutex_lock(&imp->mu);
    size_t at = imp->n;
    for (size_t i = 0; i < imp->n && at == imp->n; i++)
        if (memcmp(imp->e[i].key, key, 32) == 0)
            at = i;
    if (at == imp->n && enc != NULL) {
        if (imp->n < ARCA_PEER_IMPORT_CACHE_MAX) {
            imp->n++;
            arca_buf_init_secret(&imp->e[at].enc, 0);
        } else {
            at = 0;
            for (size_t i = 1; i < imp->n; i++)
                if (imp->e[i].fetched < imp->e[at].fetched)
                    at = i;
        }
    }
    if (at < imp->n) {
        struct entry *x = &imp->e[at];
        arca_buf_reset(&x->enc);
        memcpy(x->key, key, 32);
        x->fetched = enc != NULL ? now : INT64_MIN;
        if (enc != NULL && arca_buf_put(&x->enc, enc->data, enc->len) < 0)
            x->fetched = INT64_MIN;
    }
    pthread_mutex_unlock(&imp->mu);
}

/* Asks the exporter named in q over a new channel; enc gets the encoded one-entry set. */
static int ask(struct arca_peer_importer *imp, const struct arca_attest_import *q,
               struct arca_buf *enc)
{
    const struct arca_session_ref *r = &q->d->import_from;
    struct arca_peer_expect ex = {.cas_key = r->has_cas_key ? r->cas_key : NULL,
                                  .software_key =
                                      r->has_cas_software_key ? r->cas_software_key : NULL};
    char hash[65];
    arca_hex_fmt(hash, q->hash, 32);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "session", r->session.s, "secret", q->secret,
                             "importer", q->session, "importer_hash", hash);
    ARCA_ENSURE(body != NULL, ARCA_ERR_ALLOC, "remote import: out of memory");
    struct arca_peer *p = NULL;
    json_t *a = NULL;
    int rc = 0;
    ARCA_GUARD(rc, arca_peer_connect(imp->self, r->cas_url.s, &ex, &p), out);
    ARCA_GUARD(rc, arca_peer_call(p, ARCA_PEER_EXPORT_ROUTE, body, &a), out);
    const json_t *v = json_object_get(a, "value");
    ARCA_GUARD_ENSURE(rc, json_is_string(v), out, ARCA_ERR_FORMAT,
                      "remote CAS %.256s: answer without 'value'", r->cas_url.s);
    ARCA_GUARD(rc, arca_base64_decode(enc, json_string_value(v), json_string_length(v)), out);
out:
    json_decref(a);
    json_decref(body);
    arca_peer_close(p);
    return rc;
}

static int fetch(void *arg, const struct arca_attest_import *q, int64_t now,
                 struct arca_secret_value **out)
{
    struct arca_peer_importer *imp = arg;
    ARCA_ENSURE(imp != NULL && q != NULL && q->d != NULL && out != NULL, ARCA_ERR_INVALID_ARG,
                "remote import: incomplete query");
    *out = NULL;
    uint8_t key[32];
    ARCA_TRY(query_key(q, key));
    struct arca_buf enc;
    arca_buf_init_secret(&enc, 0);
    struct arca_secret_set *set = NULL;
    int rc = imp->ttl > 0 ? cache_get(imp, key, now, &enc) : ARCA_ERR_NOT_FOUND;
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_err_clear();
        rc = ask(imp, q, &enc);
        cache_put(imp, key, now, rc == 0 ? &enc : NULL);
    }
    if (rc < 0)
        goto out;
    ARCA_GUARD(rc, arca_secret_set_decode(enc.data, enc.len, &set), out);
    struct arca_secret_value *v = arca_secret_set_get(set, q->secret, strlen(q->secret));
    ARCA_GUARD_ENSURE(rc, v != NULL && arca_secret_set_count(set) == 1, out, ARCA_ERR_FORMAT,
                      "remote CAS answered another secret than %s", q->secret);
    *out = arca_secret_value_ref(v);
out:
    arca_secret_set_free(set);
    arca_buf_free(&enc);
    return rc;
}

int arca_peer_importer_new(const struct arca_peer_self *self, int ttl,
                           struct arca_peer_importer **out)
{
    ARCA_ENSURE_REF(self);
    ARCA_ENSURE_REF(out);
    struct arca_peer_importer *imp = calloc(1, sizeof(*imp));
    ARCA_ENSURE(imp != NULL, ARCA_ERR_ALLOC, "remote import: out of memory");
    imp->self = self;
    imp->ttl = ttl < 0 ? ARCA_PEER_IMPORT_TTL_DEFAULT : ttl;
    pthread_mutex_init(&imp->mu, NULL);
    imp->hook.fetch = fetch;
    imp->hook.arg = imp;
    *out = imp;
    return 0;
}

const struct arca_attest_remote *arca_peer_importer_remote(const struct arca_peer_importer *imp)
{
    return imp != NULL ? &imp->hook : NULL;
}

void arca_peer_importer_free(struct arca_peer_importer *imp)
{
    if (imp == NULL)
        return;
    for (size_t i = 0; i < imp->n; i++)
        arca_buf_free(&imp->e[i].enc);
    pthread_mutex_destroy(&imp->mu);
    free(imp);
}

int arca_peer_export_req_parse(const json_t *body, struct arca_cas_export_req *q, uint8_t hash[32])
{
    ARCA_ENSURE_REF(q);
    memset(q, 0, sizeof(*q));
    static const char *const names[] = {"session", "secret", "importer"};
    const char *v[3];
    for (size_t i = 0; i < 3; i++) {
        const json_t *s = json_object_get(body, names[i]);
        ARCA_ENSURE(json_is_string(s) && json_string_length(s) > 0 &&
                        json_string_length(s) <= ARCA_SESSION_NAME_MAX &&
                        strlen(json_string_value(s)) == json_string_length(s),
                    ARCA_ERR_FORMAT, "export request: '%s' must be a name", names[i]);
        v[i] = json_string_value(s);
    }
    ARCA_TRY(arca_peer_hex32(body, "importer_hash", hash));
    q->session = v[0];
    q->secret = v[1];
    q->importer = v[2];
    q->importer_hash = hash;
    return 0;
}

json_t *arca_peer_export_answer(const struct arca_buf *encoded)
{
    struct arca_buf b64;
    arca_buf_init_secret(&b64, 0);
    json_t *a = NULL;
    if (arca_base64_encode(&b64, encoded->data, encoded->len) == 0)
        a = json_pack("{s:s%}", "value", (const char *)b64.data, b64.len);
    arca_buf_free(&b64);
    return a;
}
