/*
 * The counters an arcad holds for other arcads (witness.h, struct arca_witness_held): the
 * serving side of the peer witness. One monotonic counter per caller CAS key, in one sealed
 * file that is rewritten atomically and durably on every advance.
 *
 * Why a file of its own and not the store: every store commit is itself witnessed, so keeping
 * a peer's counter in the store would make each record of A at B a commit of B that B records
 * at A, and so on without end (and would need B's writer lock while A holds its own, waiting
 * for B). The file is sealed (AEAD under a key only this arcad derives) so the host can neither
 * read nor forge it; it can replace it by an older sealed copy, which is the limit of one
 * holder and why the peer witness needs a majority of holders (docs/state-protection.md).
 *
 * File: nonce (12 bytes) || AEAD(key, nonce, aad "arca-witness-held-v1", records), records
 * being n times (caller CAS key 32 bytes, value 8 bytes big-endian), at most HELD_MAX.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "witness/witness.h"

#define HELD_AAD "arca-witness-held-v1"
#define HELD_REC 40
#define HELD_MAX 4096

struct held_entry {
    uint8_t caller[32];
    uint64_t value;
};

struct arca_witness_held {
    pthread_mutex_t mu; /* one route handler at a time: read-modify-write of the file */
    char *path;
    uint8_t key[ARCA_AEAD_KEY_LEN];
    size_t n;
    struct held_entry e[HELD_MAX];
};

static int held_load(struct arca_witness_held *h)
{
    struct arca_buf f, pt;
    arca_buf_init(&f, 0);
    arca_buf_init_secret(&pt, 0);
    int rc = arca_file_read(h->path, ARCA_AEAD_NONCE_LEN + HELD_MAX * HELD_REC + 64, &f);
    if (rc == ARCA_ERR_NOT_FOUND) {
        rc = 0; /* holds nothing yet */
        goto out;
    }
    ARCA_GUARD(rc, rc, out);
    ARCA_GUARD_ENSURE(rc, f.len >= ARCA_AEAD_NONCE_LEN + ARCA_AEAD_TAG_LEN, out, ARCA_ERR_FORMAT,
                      "witness counters %s: too short", h->path);
    rc = arca_aead_open(h->key, f.data, HELD_AAD, sizeof(HELD_AAD) - 1,
                        f.data + ARCA_AEAD_NONCE_LEN, f.len - ARCA_AEAD_NONCE_LEN, &pt);
    if (rc < 0) {
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "witness counters %s: seal does not verify (forged, or another arcad's)",
                          h->path);
        goto out;
    }
    ARCA_GUARD_ENSURE(rc, pt.len % HELD_REC == 0 && pt.len / HELD_REC <= HELD_MAX, out,
                      ARCA_ERR_FORMAT, "witness counters %s: bad length %zu", h->path, pt.len);
    struct arca_cur c;
    arca_cur_init(&c, pt.data, pt.len);
    for (size_t i = 0; i < pt.len / HELD_REC && rc == 0; i++) {
        rc = arca_cur_get(&c, h->e[i].caller, 32);
        if (rc == 0)
            rc = arca_cur_get_u64be(&c, &h->e[i].value);
    }
    ARCA_GUARD(rc, rc, out);
    h->n = pt.len / HELD_REC;
out:
    arca_buf_free(&f);
    arca_buf_free(&pt);
    return rc < 0 ? arca_err_wrap(rc, "witness counters %s", h->path) : 0;
}

/* Writes the table with entry i set to value; h is changed only once the file is durable. */
static int held_store(struct arca_witness_held *h, size_t i, const uint8_t caller[32],
                      uint64_t value)
{
    size_t n = i < h->n ? h->n : h->n + 1;
    struct arca_buf pt, f;
    arca_buf_init_secret(&pt, n * HELD_REC);
    arca_buf_init(&f, 0);
    uint8_t nonce[ARCA_AEAD_NONCE_LEN];
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        rc = arca_buf_put(&pt, k == i && i == h->n ? caller : h->e[k].caller, 32);
        if (rc == 0)
            rc = arca_buf_put_u64be(&pt, k == i ? value : h->e[k].value);
    }
    if (rc == 0)
        rc = arca_random(nonce, sizeof(nonce));
    if (rc == 0)
        rc = arca_buf_put(&f, nonce, sizeof(nonce));
    if (rc == 0)
        rc = arca_aead_seal(h->key, nonce, HELD_AAD, sizeof(HELD_AAD) - 1, pt.data, pt.len, &f);
    if (rc == 0)
        rc = arca_file_write(h->path, f.data, f.len, 0600, 0);
    if (rc == 0) {
        memcpy(h->e[i].caller, caller, 32);
        h->e[i].value = value;
        h->n = n;
    }
    arca_buf_free(&pt);
    arca_buf_free(&f);
    return rc < 0 ? arca_err_wrap(rc, "witness counters %s", h->path) : 0;
}

int arca_witness_held_open(const char *path, const uint8_t key[ARCA_WITNESS_KEY_LEN],
                           struct arca_witness_held **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE(path != NULL && path[0] != '\0', ARCA_ERR_INVALID_ARG, "witness counters: no path");
    struct arca_witness_held *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->path = strdup(path)) == NULL) {
        free(h);
        return arca_err_set(ARCA_ERR_ALLOC, "witness counters");
    }
    pthread_mutex_init(&h->mu, NULL);
    memcpy(h->key, key, sizeof(h->key));
    int rc = held_load(h);
    if (rc < 0) {
        arca_witness_held_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void arca_witness_held_free(struct arca_witness_held *h)
{
    if (h == NULL)
        return;
    free(h->path);
    pthread_mutex_destroy(&h->mu);
    arca_wipe(h, sizeof(*h));
    free(h);
}

static size_t held_find(const struct arca_witness_held *h, const uint8_t caller[32])
{
    for (size_t i = 0; i < h->n; i++)
        if (memcmp(h->e[i].caller, caller, 32) == 0)
            return i;
    return h->n;
}

int arca_witness_held_read(struct arca_witness_held *h, const uint8_t caller[32], uint64_t *value)
{
    ARCA_ENSURE_REF(h);
    ARCA_ENSURE_REF(caller);
    ARCA_ENSURE_REF(value);
    pthread_mutex_lock(&h->mu);
    size_t i = held_find(h, caller);
    if (i < h->n)
        *value = h->e[i].value;
    pthread_mutex_unlock(&h->mu);
    return i < h->n ? 0 : ARCA_ERR_NOT_FOUND;
}

int arca_witness_held_record(struct arca_witness_held *h, const uint8_t caller[32], uint64_t epoch,
                             uint64_t *held)
{
    ARCA_ENSURE_REF(h);
    ARCA_ENSURE_REF(caller);
    char who[17];
    arca_hex_fmt(who, caller, 8);
    pthread_mutex_lock(&h->mu);
    size_t i = held_find(h, caller);
    int rc = 0;
    uint64_t cur = i < h->n ? h->e[i].value : 0;
    if (i < h->n && cur == epoch)
        rc = arca_err_set(ARCA_ERR_EXISTS, "counter of %s… is at commit %llu already", who,
                          (unsigned long long)cur);
    else if (i < h->n && cur > epoch)
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "counter of %s… is at commit %llu; refusing the lower commit %llu", who,
                          (unsigned long long)cur, (unsigned long long)epoch);
    else if (i == h->n && h->n == HELD_MAX)
        rc = arca_err_set(ARCA_ERR_LIMIT, "witness counters: at most %d callers", HELD_MAX);
    else
        rc = held_store(h, i, caller, epoch);
    if (held != NULL)
        *held = rc == 0 ? epoch : cur;
    pthread_mutex_unlock(&h->mu);
    return rc;
}
