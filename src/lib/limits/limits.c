/*
 * Throttles and rate limiters (limits.h) over one fixed-capacity table of keyed-hash slots.
 *
 * Why a probe window and not chaining or growth: the table's memory is fixed when it is made, so
 * no sequence of keys can make it allocate; and a key's slots are a window of WINDOW entries from
 * its hashed index, so every operation costs a bounded, small amount of work under the lock.
 */
#include "limits/limits.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

#define WINDOW 8
#define ID_LEN 16

struct entry {
    uint8_t id[ID_LEN];
    bool used;
    int64_t last_ms; /* last failure (throttle) or last refill (rate limiter) */
    /* throttle */
    unsigned failures;
    int64_t wait_until_ms;
    /* rate limiter */
    double tokens;
};

struct table {
    pthread_mutex_t mu;
    uint8_t salt[32];
    size_t mask;
    struct entry *e;
};

static int table_init(struct table *t, size_t capacity)
{
    size_t cap = WINDOW;
    while (cap < capacity) {
        if (cap > ((size_t)1 << 24))
            return arca_err_set(ARCA_ERR_INVALID_ARG, "limits: capacity %zu is too large",
                                capacity);
        cap <<= 1;
    }
    t->e = calloc(cap, sizeof(*t->e));
    if (t->e == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "limits: table of %zu entries", cap);
    t->mask = cap - 1;
    int rc = arca_random(t->salt, sizeof(t->salt));
    if (rc < 0) {
        free(t->e);
        t->e = NULL;
        return rc;
    }
    pthread_mutex_init(&t->mu, NULL);
    return 0;
}

static void table_free(struct table *t)
{
    if (t->e == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t->e);
    arca_wipe(t->salt, sizeof(t->salt));
}

static int key_id(const struct table *t, const void *key, size_t klen, uint8_t id[ID_LEN],
                  size_t *home)
{
    uint8_t h[ARCA_SHA256_LEN];
    ARCA_TRY(arca_hmac(ARCA_SHA256, t->salt, sizeof(t->salt), key, klen, h));
    memcpy(id, h, ID_LEN);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | h[ID_LEN + i];
    *home = (size_t)x & t->mask;
    return 0;
}

/* The entry of id in its window, or NULL. Under t->mu. */
static struct entry *find(struct table *t, const uint8_t id[ID_LEN], size_t home)
{
    for (size_t i = 0; i < WINDOW; i++) {
        struct entry *e = &t->e[(home + i) & t->mask];
        if (e->used && memcmp(e->id, id, ID_LEN) == 0)
            return e;
    }
    return NULL;
}

/*
 * A slot for a new id in its window: a free one, else the stalest one that evictable() allows;
 * NULL if none. Under t->mu.
 */
static struct entry *claim(struct table *t, const uint8_t id[ID_LEN], size_t home, int64_t now_ms,
                           bool (*evictable)(const struct entry *, int64_t, const void *),
                           const void *arg)
{
    struct entry *victim = NULL;
    for (size_t i = 0; i < WINDOW; i++) {
        struct entry *e = &t->e[(home + i) & t->mask];
        if (!e->used) {
            victim = e;
            break;
        }
        if (evictable(e, now_ms, arg) && (victim == NULL || e->last_ms < victim->last_ms))
            victim = e;
    }
    if (victim != NULL) {
        memset(victim, 0, sizeof(*victim));
        memcpy(victim->id, id, ID_LEN);
        victim->used = true;
        victim->last_ms = now_ms;
    }
    return victim;
}

/* ---- throttle -------------------------------------------------------------------------------- */

struct arca_throttle {
    struct arca_throttle_cfg cfg;
    struct table t;
};

void arca_throttle_cfg_default(struct arca_throttle_cfg *cfg)
{
    cfg->free_failures = 3;
    cfg->lockout_failures = 10;
    cfg->base_delay_ms = 1000;
    cfg->max_delay_ms = 60 * 1000;
    cfg->lockout_ms = 15 * 60 * 1000;
    cfg->forget_ms = 60 * 60 * 1000;
    cfg->capacity = 4096;
}

int arca_throttle_new(const struct arca_throttle_cfg *cfg, struct arca_throttle **out)
{
    ARCA_ENSURE_REF(cfg);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(cfg->lockout_failures > cfg->free_failures && cfg->base_delay_ms >= 0 &&
                    cfg->max_delay_ms >= cfg->base_delay_ms && cfg->lockout_ms > 0 &&
                    cfg->forget_ms > 0 && cfg->capacity > 0,
                ARCA_ERR_INVALID_ARG,
                "throttle: needs lockout_failures > free_failures, delays >= 0 and positive "
                "intervals and capacity");
    struct arca_throttle *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "throttle");
    t->cfg = *cfg;
    int rc = table_init(&t->t, cfg->capacity);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void arca_throttle_free(struct arca_throttle *t)
{
    if (t == NULL)
        return;
    table_free(&t->t);
    free(t);
}

/* A throttle entry may be replaced once it restricts nothing any more. */
static bool throttle_evictable(const struct entry *e, int64_t now_ms, const void *arg)
{
    const struct arca_throttle_cfg *cfg = arg;
    return e->wait_until_ms <= now_ms &&
           (e->failures <= cfg->free_failures || now_ms - e->last_ms >= cfg->forget_ms);
}

/* Forgets e's history when it is old enough. Under mu. */
static void throttle_age(const struct arca_throttle *t, struct entry *e, int64_t now_ms)
{
    if (now_ms - e->last_ms >= t->cfg.forget_ms && e->wait_until_ms <= now_ms) {
        e->failures = 0;
        e->wait_until_ms = 0;
    }
}

int arca_throttle_check(struct arca_throttle *t, const void *key, size_t klen, int64_t now_ms,
                        int64_t *retry_after_ms, bool *locked)
{
    ARCA_ENSURE_REF(t);
    ARCA_ENSURE(key != NULL || klen == 0, ARCA_ERR_INVALID_ARG, "throttle: NULL key");
    uint8_t id[ID_LEN];
    size_t home;
    ARCA_TRY(key_id(&t->t, key, klen, id, &home));
    int64_t wait = 0;
    bool lock = false;
    pthread_mutex_lock(&t->t.mu);
    struct entry *e = find(&t->t, id, home);
    if (e != NULL) {
        throttle_age(t, e, now_ms);
        if (e->wait_until_ms > now_ms) {
            wait = e->wait_until_ms - now_ms;
            lock = e->failures >= t->cfg.lockout_failures;
        }
    }
    pthread_mutex_unlock(&t->t.mu);
    if (retry_after_ms != NULL)
        *retry_after_ms = wait;
    if (locked != NULL)
        *locked = lock;
    if (wait == 0)
        return 0;
    return arca_err_set(ARCA_ERR_LIMIT, "too many failed tries: %s; try again in %lld s",
                        lock ? "locked out" : "slowed down", (long long)((wait + 999) / 1000));
}

int arca_throttle_fail(struct arca_throttle *t, const void *key, size_t klen, int64_t now_ms,
                       bool *locked_now)
{
    ARCA_ENSURE_REF(t);
    ARCA_ENSURE(key != NULL || klen == 0, ARCA_ERR_INVALID_ARG, "throttle: NULL key");
    uint8_t id[ID_LEN];
    size_t home;
    ARCA_TRY(key_id(&t->t, key, klen, id, &home));
    bool lock = false;
    int rc = 0;
    pthread_mutex_lock(&t->t.mu);
    struct entry *e = find(&t->t, id, home);
    if (e == NULL)
        e = claim(&t->t, id, home, now_ms, throttle_evictable, &t->cfg);
    if (e == NULL) {
        rc = ARCA_ERR_LIMIT;
    } else {
        throttle_age(t, e, now_ms);
        if (e->failures < UINT32_MAX)
            e->failures++;
        e->last_ms = now_ms;
        const struct arca_throttle_cfg *c = &t->cfg;
        if (e->failures >= c->lockout_failures) {
            lock = e->failures == c->lockout_failures;
            e->wait_until_ms = now_ms + c->lockout_ms;
        } else if (e->failures > c->free_failures) {
            unsigned shift = e->failures - c->free_failures - 1;
            int64_t d = c->base_delay_ms;
            while (shift-- > 0 && d < c->max_delay_ms)
                d *= 2;
            if (d > c->max_delay_ms)
                d = c->max_delay_ms;
            e->wait_until_ms = now_ms + d;
        }
    }
    pthread_mutex_unlock(&t->t.mu);
    if (locked_now != NULL)
        *locked_now = lock;
    if (rc < 0)
        return arca_err_set(rc, "too many keys are being throttled at once; try again later");
    return 0;
}

void arca_throttle_success(struct arca_throttle *t, const void *key, size_t klen)
{
    uint8_t id[ID_LEN];
    size_t home;
    if (t == NULL || (key == NULL && klen > 0) || key_id(&t->t, key, klen, id, &home) < 0)
        return;
    pthread_mutex_lock(&t->t.mu);
    struct entry *e = find(&t->t, id, home);
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    pthread_mutex_unlock(&t->t.mu);
}

/* ---- rate limiter ---------------------------------------------------------------------------- */

struct arca_ratelimit {
    struct arca_ratelimit_cfg cfg;
    struct table t;
    double global_tokens; /* under t.mu */
    int64_t global_ms;
};

int arca_ratelimit_new(const struct arca_ratelimit_cfg *cfg, struct arca_ratelimit **out)
{
    ARCA_ENSURE_REF(cfg);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(cfg->per_key_rate > 0 && cfg->per_key_burst >= 1 && cfg->global_rate >= 0 &&
                    (cfg->global_rate == 0 || cfg->global_burst >= 1) && cfg->capacity > 0 &&
                    isfinite(cfg->per_key_rate) && isfinite(cfg->per_key_burst) &&
                    isfinite(cfg->global_rate) && isfinite(cfg->global_burst),
                ARCA_ERR_INVALID_ARG,
                "rate limit: needs positive rates, bursts of at least 1 and a capacity");
    struct arca_ratelimit *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "rate limit");
    r->cfg = *cfg;
    int rc = table_init(&r->t, cfg->capacity);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->global_tokens = cfg->global_burst;
    r->global_ms = INT64_MIN;
    *out = r;
    return 0;
}

void arca_ratelimit_free(struct arca_ratelimit *r)
{
    if (r == NULL)
        return;
    table_free(&r->t);
    free(r);
}

static bool ratelimit_evictable(const struct entry *e, int64_t now_ms, const void *arg)
{
    (void)e;
    (void)now_ms;
    (void)arg;
    return true; /* the least recently refilled bucket goes: a fresh key gets one burst only */
}

static double refill(double tokens, double burst, double rate, int64_t from_ms, int64_t to_ms)
{
    if (to_ms <= from_ms)
        return tokens;
    double t = tokens + rate * (double)(to_ms - from_ms) / 1000.0;
    return t > burst ? burst : t;
}

static int64_t wait_ms(double tokens, double rate)
{
    return (int64_t)ceil((1.0 - tokens) / rate * 1000.0);
}

int arca_ratelimit_take(struct arca_ratelimit *r, const void *key, size_t klen, int64_t now_ms,
                        int64_t *retry_after_ms)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(key != NULL || klen == 0, ARCA_ERR_INVALID_ARG, "rate limit: NULL key");
    uint8_t id[ID_LEN];
    size_t home;
    ARCA_TRY(key_id(&r->t, key, klen, id, &home));
    int64_t wait = 0;
    const struct arca_ratelimit_cfg *c = &r->cfg;
    pthread_mutex_lock(&r->t.mu);
    struct entry *e = find(&r->t, id, home);
    if (e == NULL) {
        e = claim(&r->t, id, home, now_ms, ratelimit_evictable, NULL);
        e->tokens = c->per_key_burst; /* (claim cannot fail: every entry is evictable) */
    } else {
        e->tokens = refill(e->tokens, c->per_key_burst, c->per_key_rate, e->last_ms, now_ms);
        if (now_ms > e->last_ms)
            e->last_ms = now_ms;
    }
    if (c->global_rate > 0) {
        if (r->global_ms != INT64_MIN)
            r->global_tokens =
                refill(r->global_tokens, c->global_burst, c->global_rate, r->global_ms, now_ms);
        if (now_ms > r->global_ms)
            r->global_ms = now_ms;
    }
    if (e->tokens < 1.0)
        wait = wait_ms(e->tokens, c->per_key_rate);
    else if (c->global_rate > 0 && r->global_tokens < 1.0)
        wait = wait_ms(r->global_tokens, c->global_rate);
    if (wait == 0) {
        e->tokens -= 1.0;
        if (c->global_rate > 0)
            r->global_tokens -= 1.0;
    }
    pthread_mutex_unlock(&r->t.mu);
    if (retry_after_ms != NULL)
        *retry_after_ms = wait;
    if (wait == 0)
        return 0;
    return arca_err_set(ARCA_ERR_LIMIT, "too many requests; try again in %lld s",
                        (long long)((wait + 999) / 1000));
}
