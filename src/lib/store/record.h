/*
 * Plaintext encoding of the store's records (what AES-256-GCM seals). Internal to store/, and
 * the decoder the fuzzer drives: it parses bytes that come out of an authenticated decryption,
 * but is written as if they were hostile (everything through arca_cur, every length bounded).
 *
 * Layout (all integers big-endian, lv = u32 length + bytes):
 *   u8 table | u8 format (1) | lv key | body
 * bodies:
 *   session:    lv name | u64 version | hash[32] | u8 has_pred | pred[32] | creator[32] |
 *               i64 created_at | lv yaml | lv model
 *   active:     lv name | hash[32] | u64 version
 *   secrets:    lv blob
 *   once:       i64 expires_at | lv data
 *   checkpoint: u64 seq | i64 time | lv sig [| u64 prefix_len (> 0) | prefix_sha256[32]]
 *               (the bracket is absent in records of arcad before the audit prefix)
 *   meta:       lv value
 *   index:      lv entry (a session's listing entry, sessions.c: hash | version | creator |
 *               readers)
 */
#ifndef ARCA_STORE_RECORD_H
#define ARCA_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/store.h"

enum arca_store_table {
    ARCA_ST_SESSION = 1,
    ARCA_ST_ACTIVE = 2,
    ARCA_ST_SECRETS = 3,
    ARCA_ST_ONCE = 4,
    ARCA_ST_CHECKPOINT = 5,
    ARCA_ST_META = 6,
    ARCA_ST_INDEX = 7, /* listing index: one entry per session name (sessions.c) */
};
#define ARCA_ST_FIRST ARCA_ST_SESSION
#define ARCA_ST_LAST ARCA_ST_INDEX
#define ARCA_STORE_RECORD_FORMAT 1
#define ARCA_STORE_NAME_MAX 4096 /* session names, meta keys, record keys */
#define ARCA_STORE_ONCE_DATA_MAX 65536

/* "session", "active", ... (static); NULL for an unknown table. */
const char *arca_store_table_name(int tbl);

/* A decoded record: key and body fields borrowed from the decoded bytes. */
struct arca_store_record {
    int tbl;
    const uint8_t *key;
    size_t key_len;
    /* session / active */
    const uint8_t *name;
    size_t name_len;
    uint64_t version;
    const uint8_t *hash; /* 32 bytes; checkpoint: the audit prefix's SHA-256 (with prefix_len) */
    uint8_t has_pred;
    const uint8_t *pred;    /* 32 bytes */
    const uint8_t *creator; /* 32 bytes */
    int64_t time;           /* session created_at, once expires_at, checkpoint time */
    uint64_t seq;           /* checkpoint */
    uint64_t prefix_len;    /* checkpoint: audit file prefix length (0 = none, hash unused) */
    const uint8_t *data;    /* session yaml, secrets blob, once data, checkpoint sig, meta value */
    size_t data_len;
    const uint8_t *model; /* session model */
    size_t model_len;
};

/* Appends the encoding of r to out. 0 or a negative code (out unchanged). */
int arca_store_record_encode(const struct arca_store_record *r, struct arca_buf *out);
/* Decodes p[n]; the record borrows p. ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED naming the field. */
int arca_store_record_decode(const uint8_t *p, size_t n, struct arca_store_record *r);

#endif
