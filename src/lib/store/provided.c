/*
 * Values uploaded by the service a secret names in `provided_by` (store.h, "provided"): one
 * sealed record per session and secret in the metadata table, under the key
 * "provided\n<session>\n<secret>" (names hold no newline, so the key is unambiguous). An
 * upload writes a new record that replaces the previous one in one write transaction; its
 * sequence number counts the uploads, so the audit line can name which value is current.
 *
 * Record: u8 format (1) || u64be seq || value bytes. The value is secret: it is read into
 * secret buffers only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/engine.h"
#include "store/store.h"

#define PROV_FORMAT 1
#define PROV_HDR 9

/* The record key into a malloc'ed string (caller frees); names checked. */
static int rec_key(const char *session, const char *secret, char **out)
{
    ARCA_ENSURE_REF(session);
    ARCA_ENSURE_REF(secret);
    ARCA_ENSURE(session[0] != '\0' && secret[0] != '\0' && strchr(session, '\n') == NULL &&
                    strchr(secret, '\n') == NULL,
                ARCA_ERR_INVALID_ARG, "store: provided: bad session or secret name");
    size_t n = strlen(session) + strlen(secret) + 11;
    ARCA_ENSURE(n <= ARCA_STORE_NAME_MAX, ARCA_ERR_TOO_LARGE, "store: provided: names too long");
    *out = malloc(n);
    ARCA_ENSURE(*out != NULL, ARCA_ERR_ALLOC, "store: out of memory");
    snprintf(*out, n, "provided\n%s\n%s", session, secret);
    return 0;
}

static uint64_t get_seq(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[1 + i];
    return v;
}

int arca_store_provided_get(struct arca_store *s, const char *session, const char *secret,
                            struct arca_buf *value, uint64_t *seq)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(value);
    char *key = NULL;
    ARCA_TRY(rec_key(session, secret, &key));
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    int rc = arca_store_get_data(s, ARCA_ST_META, key, strlen(key), &b);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "store: no provided value for secret %s of session %s", secret,
                          session);
    if (rc == 0 && (b.len < PROV_HDR || b.data[0] != PROV_FORMAT))
        rc = arca_err_set(ARCA_ERR_FORMAT, "store: provided value record: unknown format");
    if (rc == 0)
        rc = arca_buf_put(value, b.data + PROV_HDR, b.len - PROV_HDR);
    if (rc == 0 && seq != NULL)
        *seq = get_seq(b.data);
    arca_buf_free(&b);
    free(key);
    return rc;
}

int arca_store_provided_put(struct arca_store *s, const char *session, const char *secret,
                            const void *value, size_t len, uint64_t *seq)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE(value != NULL || len == 0, ARCA_ERR_INVALID_ARG, "store: provided: no value");
    char *key = NULL;
    ARCA_TRY(rec_key(session, secret, &key));
    struct arca_store_tx tx;
    int rc = arca_store_tx_begin(s, &tx);
    if (rc < 0) {
        free(key);
        return rc;
    }
    struct arca_buf plain, rec;
    arca_buf_init_secret(&plain, 0);
    arca_buf_init_secret(&rec, 0);
    struct arca_store_record cur;
    memset(&cur, 0, sizeof(cur));
    uint64_t next = 1;
    rc = arca_store_tx_get(&tx, ARCA_ST_META, key, strlen(key), &plain, &cur, NULL);
    if (rc == 0 && cur.data_len >= PROV_HDR)
        next = get_seq(cur.data) + 1;
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_err_clear();
        rc = 0;
    }
    if (rc == 0)
        rc = arca_buf_put_u8(&rec, PROV_FORMAT);
    for (int i = 0; rc == 0 && i < 8; i++)
        rc = arca_buf_put_u8(&rec, (uint8_t)(next >> (56 - 8 * i)));
    if (rc == 0)
        rc = arca_buf_put(&rec, value, len);
    if (rc == 0) {
        struct arca_store_record r = {.tbl = ARCA_ST_META,
                                      .key = (const uint8_t *)key,
                                      .key_len = strlen(key),
                                      .data = rec.data,
                                      .data_len = rec.len};
        rc = arca_store_tx_put(&tx, &r);
    }
    arca_buf_free(&plain);
    arca_buf_free(&rec);
    free(key);
    if (rc < 0) {
        arca_store_tx_abort(&tx);
        return rc;
    }
    rc = arca_store_tx_commit(&tx);
    if (rc == 0 && seq != NULL)
        *seq = next;
    return rc;
}
