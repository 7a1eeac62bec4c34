/*
 * The latest state of each protected volume (store.h, "volumes"): one sealed record per
 * session and volume in the metadata table, under the key "volume\n<session>\n<volume>"
 * (names hold no newline, so the key is unambiguous). Updates are compare-and-set on the
 * record's sequence number inside one write transaction, so concurrent reports of one volume
 * are ordered and only one of two writers that started from the same version wins.
 *
 * Record (74 bytes): u8 format (1) || u64be seq || u8 flags (1 key, 2 tag, 4 base) ||
 * key[32] || tag[16] || base[16]. The key is secret: it is read into secret buffers only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/engine.h"
#include "store/store.h"

#define VOL_REC_LEN 74
#define VOL_REC_FORMAT 1

/* The record key into a malloc'ed string (caller frees); names checked. */
static int rec_key(const char *session, const char *volume, char **out)
{
    ARCA_ENSURE_REF(session);
    ARCA_ENSURE_REF(volume);
    ARCA_ENSURE(session[0] != '\0' && volume[0] != '\0' && strchr(session, '\n') == NULL &&
                    strchr(volume, '\n') == NULL,
                ARCA_ERR_INVALID_ARG, "store: volume: bad session or volume name");
    size_t n = strlen(session) + strlen(volume) + 9;
    ARCA_ENSURE(n <= ARCA_STORE_NAME_MAX, ARCA_ERR_TOO_LARGE, "store: volume: names too long");
    *out = malloc(n);
    ARCA_ENSURE(*out != NULL, ARCA_ERR_ALLOC, "store: out of memory");
    snprintf(*out, n, "volume\n%s\n%s", session, volume);
    return 0;
}

/* Puts a metadata record (key, data) in tx. */
static int tx_put_meta(struct arca_store_tx *tx, const char *key, const void *data, size_t len)
{
    struct arca_store_record r = {.tbl = ARCA_ST_META,
                                  .key = (const uint8_t *)key,
                                  .key_len = strlen(key),
                                  .data = data,
                                  .data_len = len};
    return arca_store_tx_put(tx, &r);
}

static void encode(const struct arca_store_volume *v, uint8_t out[VOL_REC_LEN])
{
    memset(out, 0, VOL_REC_LEN);
    out[0] = VOL_REC_FORMAT;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(v->seq >> (56 - 8 * i));
    out[9] = (uint8_t)((v->has_key ? 1 : 0) | (v->has_tag ? 2 : 0) | (v->has_base ? 4 : 0));
    if (v->has_key)
        memcpy(out + 10, v->key, 32);
    if (v->has_tag)
        memcpy(out + 42, v->tag, 16);
    if (v->has_base)
        memcpy(out + 58, v->base, 16);
}

static int decode(const uint8_t *p, size_t n, struct arca_store_volume *v)
{
    ARCA_ENSURE(n == VOL_REC_LEN && p[0] == VOL_REC_FORMAT && (p[9] & ~7) == 0, ARCA_ERR_FORMAT,
                "store: volume record: unknown format");
    memset(v, 0, sizeof(*v));
    for (int i = 0; i < 8; i++)
        v->seq = (v->seq << 8) | p[1 + i];
    v->has_key = (p[9] & 1) != 0;
    v->has_tag = (p[9] & 2) != 0;
    v->has_base = (p[9] & 4) != 0;
    memcpy(v->key, p + 10, 32);
    memcpy(v->tag, p + 42, 16);
    memcpy(v->base, p + 58, 16);
    return 0;
}

int arca_store_volume_get(struct arca_store *s, const char *session, const char *volume,
                          struct arca_store_volume *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    char *key = NULL;
    ARCA_TRY(rec_key(session, volume, &key));
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    int rc = arca_store_get_data(s, ARCA_ST_META, key, strlen(key), &b);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "store: no state for volume %s of session %s", volume, session);
    if (rc == 0)
        rc = decode(b.data, b.len, out);
    arca_buf_free(&b);
    free(key);
    return rc;
}

int arca_store_volume_update(struct arca_store *s, const char *session, const char *volume,
                             const uint64_t *expect_seq, struct arca_store_volume *next)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(next);
    char *key = NULL;
    ARCA_TRY(rec_key(session, volume, &key));
    struct arca_store_tx tx;
    int rc = arca_store_tx_begin(s, &tx);
    if (rc < 0) {
        free(key);
        return rc;
    }
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record cur;
    memset(&cur, 0, sizeof(cur));
    rc = arca_store_tx_get(&tx, ARCA_ST_META, key, strlen(key), &plain, &cur, NULL);
    struct arca_store_volume have;
    memset(&have, 0, sizeof(have));
    bool exists = rc == 0;
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = 0;
    if (rc == 0 && exists)
        rc = decode(cur.data, cur.data_len, &have);
    if (rc == 0 && (expect_seq == NULL ? exists : !exists || have.seq != *expect_seq))
        rc = arca_err_set(ARCA_ERR_CONFLICT,
                          "volume %s of session %s changed meanwhile (version %llu is current): "
                          "another writer reported first",
                          volume, session, (unsigned long long)(exists ? have.seq : 0));
    if (rc == 0) {
        next->seq = exists ? have.seq + 1 : 1;
        uint8_t rec[VOL_REC_LEN];
        encode(next, rec);
        rc = tx_put_meta(&tx, key, rec, sizeof(rec));
        arca_wipe(rec, sizeof(rec));
    }
    arca_wipe(&have, sizeof(have));
    arca_buf_free(&plain);
    free(key);
    if (rc < 0) {
        arca_store_tx_abort(&tx);
        return rc;
    }
    return arca_store_tx_commit(&tx);
}

#define REPORT_KEY_NAME "volume-report-key"

int arca_store_volume_report_key(struct arca_store *s, uint8_t key[32])
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(key);
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin(s, &tx));
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record cur;
    memset(&cur, 0, sizeof(cur));
    int rc = arca_store_tx_get(&tx, ARCA_ST_META, REPORT_KEY_NAME, strlen(REPORT_KEY_NAME), &plain,
                               &cur, NULL);
    bool made = false;
    if (rc == 0 && cur.data_len != 32)
        rc = arca_err_set(ARCA_ERR_FORMAT, "store: %s: not 32 bytes", REPORT_KEY_NAME);
    if (rc == 0) {
        memcpy(key, cur.data, 32);
    } else if (rc == ARCA_ERR_NOT_FOUND) {
        /* First use: made once, inside the writer's transaction, so every thread and every
         * later run of arcad uses the same key. */
        rc = arca_random(key, 32);
        if (rc == 0)
            rc = tx_put_meta(&tx, REPORT_KEY_NAME, key, 32);
        made = rc == 0;
    }
    arca_buf_free(&plain);
    if (rc < 0 || !made) {
        arca_store_tx_abort(&tx);
        if (rc < 0)
            arca_wipe(key, 32);
        return rc;
    }
    rc = arca_store_tx_commit(&tx);
    if (rc < 0)
        arca_wipe(key, 32);
    return rc;
}
