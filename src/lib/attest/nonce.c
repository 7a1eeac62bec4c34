/*
 * Challenge nonces (attest.h): stateless until used, single use afterwards.
 *
 * Used nonces are kept in memory, not in the store: a store commit is witnessed (a peer
 * witness's route would then commit to use up its caller's nonce, which is witnessed by that
 * caller: a cycle), and the nonce key lives only as long as the process, so a restart makes
 * every earlier nonce fail its MAC and the forgotten used set cannot be replayed against.
 *
 * The set: open addressing with linear probing over twice max slots of the nonce's first 16
 * bytes (expiry || random; the random half is the hash: we drew it and its MAC was checked,
 * so a caller cannot aim at one slot). An all-zero slot is empty (expiry 0 never verifies).
 * Expired entries are dropped by rebuilding the table, only when it is full and the earliest
 * expiry has passed, so a full set of live nonces costs no sweep per request.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define NONCE_LABEL "arca-nonce-v1"
#define USED_ID 16 /* expiry (8) || random (8) */
#define USED_MAX_LIMIT ((size_t)1 << 24)

struct arca_nonce_used {
    pthread_mutex_t mu;
    size_t max, n, slots; /* slots: a power of two >= 2 * max */
    int64_t earliest;     /* lowest expiry held (INT64_MAX when empty) */
    uint8_t (*t)[USED_ID];
};

static uint64_t id_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static bool slot_empty(const uint8_t s[USED_ID])
{
    static const uint8_t zero[USED_ID];
    return memcmp(s, zero, USED_ID) == 0;
}

/* The slot holding id, or the empty one where it belongs (there always is one: n <= slots/2). */
static size_t used_find(const struct arca_nonce_used *u, const uint8_t id[USED_ID])
{
    size_t i = (size_t)id_u64(id + 8) & (u->slots - 1);
    while (!slot_empty(u->t[i]) && memcmp(u->t[i], id, USED_ID) != 0)
        i = (i + 1) & (u->slots - 1);
    return i;
}

/* Rebuilds the table without the nonces expired at now (locked). */
static int used_sweep(struct arca_nonce_used *u, int64_t now)
{
    uint8_t(*nt)[USED_ID] = calloc(u->slots, USED_ID);
    ARCA_ENSURE(nt != NULL, ARCA_ERR_ALLOC, "used nonces: out of memory");
    uint8_t(*old)[USED_ID] = u->t;
    size_t n = 0;
    int64_t earliest = INT64_MAX;
    u->t = nt;
    for (size_t i = 0; i < u->slots; i++) {
        if (slot_empty(old[i]))
            continue;
        int64_t exp = (int64_t)id_u64(old[i]);
        if (exp <= now)
            continue;
        memcpy(u->t[used_find(u, old[i])], old[i], USED_ID);
        n++;
        earliest = exp < earliest ? exp : earliest;
    }
    free(old);
    u->n = n;
    u->earliest = earliest;
    return 0;
}

/* Room for one more used nonce at now (locked); ARCA_ERR_LIMIT when all held are unexpired. */
static int used_room(struct arca_nonce_used *u, int64_t now)
{
    if (u->n < u->max)
        return 0;
    if (u->earliest <= now)
        ARCA_TRY(used_sweep(u, now));
    ARCA_ENSURE(u->n < u->max, ARCA_ERR_LIMIT,
                "nonces: %zu used in the last minutes and still unexpired; busy, try later", u->n);
    return 0;
}

static void used_free(struct arca_nonce_used *u)
{
    if (u == NULL)
        return;
    pthread_mutex_destroy(&u->mu);
    free(u->t);
    free(u);
}

int arca_attest_ctx_init_max(struct arca_attest_ctx *ctx, int nonce_ttl, size_t used_max)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE(nonce_ttl <= 3600, ARCA_ERR_INVALID_ARG, "nonce lifetime: at most 3600 s");
    ARCA_ENSURE(used_max >= 1 && used_max <= USED_MAX_LIMIT, ARCA_ERR_INVALID_ARG,
                "used nonces: 1..%zu", USED_MAX_LIMIT);
    struct arca_nonce_used *u = calloc(1, sizeof(*u));
    ARCA_ENSURE(u != NULL, ARCA_ERR_ALLOC, "used nonces: out of memory");
    u->max = used_max;
    u->slots = 2;
    while (u->slots < 2 * used_max)
        u->slots *= 2;
    u->earliest = INT64_MAX;
    u->t = calloc(u->slots, USED_ID);
    if (u->t == NULL) {
        free(u);
        return arca_err_set(ARCA_ERR_ALLOC, "used nonces: out of memory");
    }
    pthread_mutex_init(&u->mu, NULL);
    int rc = arca_random(ctx->nonce_key, sizeof(ctx->nonce_key));
    if (rc < 0) {
        used_free(u);
        return rc;
    }
    ctx->nonce_ttl = nonce_ttl > 0 ? nonce_ttl : ARCA_ATTEST_NONCE_TTL_DEFAULT;
    ctx->used = u;
    return 0;
}

int arca_attest_ctx_init(struct arca_attest_ctx *ctx, int nonce_ttl)
{
    return arca_attest_ctx_init_max(ctx, nonce_ttl, ARCA_ATTEST_NONCES_USED_MAX);
}

void arca_attest_ctx_clear(struct arca_attest_ctx *ctx)
{
    if (ctx == NULL)
        return;
    arca_wipe(ctx->nonce_key, sizeof(ctx->nonce_key));
    used_free(ctx->used);
    ctx->used = NULL;
}

static int nonce_mac(const struct arca_attest_ctx *ctx, const uint8_t n[16], uint8_t mac[32])
{
    uint8_t msg[sizeof(NONCE_LABEL) - 1 + 16];
    memcpy(msg, NONCE_LABEL, sizeof(NONCE_LABEL) - 1);
    memcpy(msg + sizeof(NONCE_LABEL) - 1, n, 16);
    return arca_hmac(ARCA_SHA256, ctx->nonce_key, sizeof(ctx->nonce_key), msg, sizeof(msg), mac);
}

int arca_attest_challenge(const struct arca_attest_ctx *ctx, int64_t now,
                          struct arca_challenge_answer *out)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(ctx->used != NULL, ARCA_ERR_INTERNAL, "nonces: context not initialised");
    /* A nonce that could not be used up later is not handed out. */
    pthread_mutex_lock(&ctx->used->mu);
    int room = used_room(ctx->used, now);
    pthread_mutex_unlock(&ctx->used->mu);
    ARCA_TRY(room);
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    uint64_t exp = (uint64_t)(now + ctx->nonce_ttl);
    for (int i = 7; i >= 0; i--) {
        nonce[i] = (uint8_t)(exp & 0xff);
        exp >>= 8;
    }
    ARCA_TRY(arca_random(nonce + 8, 8));
    uint8_t mac[32];
    ARCA_TRY(nonce_mac(ctx, nonce, mac));
    memcpy(nonce + 16, mac, 16);
    memcpy(out->nonce, nonce, sizeof(nonce));
    out->expires_in = ctx->nonce_ttl;
    return 0;
}

int arca_attest_nonce_check(const struct arca_attest_ctx *ctx,
                            const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], int64_t now,
                            int64_t *expires)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(nonce);
    uint8_t mac[32];
    ARCA_TRY(nonce_mac(ctx, nonce, mac));
    ARCA_ENSURE(arca_memeq(mac, nonce + 16, 16), ARCA_ERR_UNAUTHENTICATED,
                "nonce: not issued by this CAS (or before its last restart)");
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = (exp << 8) | nonce[i];
    ARCA_ENSURE(exp <= (uint64_t)INT64_MAX && (int64_t)exp > now, ARCA_ERR_EXPIRED,
                "nonce: expired (older than %d s)", ctx->nonce_ttl);
    if (expires != NULL)
        *expires = (int64_t)exp;
    return 0;
}

int arca_attest_nonce_use(const struct arca_attest_ctx *ctx,
                          const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], int64_t now)
{
    ARCA_ENSURE(ctx != NULL && ctx->used != NULL, ARCA_ERR_INTERNAL,
                "nonces: context not initialised");
    int64_t expires = 0;
    ARCA_TRY(arca_attest_nonce_check(ctx, nonce, now, &expires));
    struct arca_nonce_used *u = ctx->used;
    pthread_mutex_lock(&u->mu);
    size_t i = used_find(u, nonce);
    int rc = 0;
    if (!slot_empty(u->t[i]))
        rc = arca_err_set(ARCA_ERR_REPLAY, "nonce: used already (replayed attestation)");
    else if ((rc = used_room(u, now)) == 0) {
        i = used_find(u, nonce); /* a sweep moved the slots */
        memcpy(u->t[i], nonce, USED_ID);
        u->n++;
        u->earliest = expires < u->earliest ? expires : u->earliest;
    }
    pthread_mutex_unlock(&u->mu);
    return rc;
}

void arca_attest_purge(const struct arca_attest_ctx *ctx, int64_t now)
{
    size_t n = 0;
    if (ctx == NULL || ctx->store == NULL)
        return;
    if (arca_store_once_purge(ctx->store, now, &n) < 0)
        arca_warn("attest", "purging expired single-use records: %s", arca_err_detail());
    else if (n > 0)
        arca_debug("attest", "purged %zu expired single-use records", n);
}
