/* Plaintext record codec (see record.h). */
#include "store/record.h"

#include <string.h>

#include "base/err.h"

const char *arca_store_table_name(int tbl)
{
    switch (tbl) {
    case ARCA_ST_SESSION:
        return "session";
    case ARCA_ST_ACTIVE:
        return "active";
    case ARCA_ST_SECRETS:
        return "secrets";
    case ARCA_ST_ONCE:
        return "once";
    case ARCA_ST_CHECKPOINT:
        return "checkpoint";
    case ARCA_ST_META:
        return "meta";
    case ARCA_ST_INDEX:
        return "index";
    default:
        return NULL;
    }
}

static int put_lv(struct arca_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return arca_err_set(ARCA_ERR_TOO_LARGE, "store record: field of %zu bytes", n);
    return arca_buf_put_lv(b, p, n);
}

static int encode_body(const struct arca_store_record *r, struct arca_buf *b)
{
    switch (r->tbl) {
    case ARCA_ST_SESSION:
        ARCA_TRY(put_lv(b, r->name, r->name_len));
        ARCA_TRY(arca_buf_put_u64be(b, r->version));
        ARCA_TRY(arca_buf_put(b, r->hash, ARCA_STORE_HASH_LEN));
        ARCA_TRY(arca_buf_put_u8(b, r->has_pred ? 1 : 0));
        ARCA_TRY(arca_buf_put(b, r->pred, ARCA_STORE_HASH_LEN));
        ARCA_TRY(arca_buf_put(b, r->creator, ARCA_STORE_HASH_LEN));
        ARCA_TRY(arca_buf_put_u64be(b, (uint64_t)r->time));
        ARCA_TRY(put_lv(b, r->data, r->data_len));
        return put_lv(b, r->model, r->model_len);
    case ARCA_ST_ACTIVE:
        ARCA_TRY(put_lv(b, r->name, r->name_len));
        ARCA_TRY(arca_buf_put(b, r->hash, ARCA_STORE_HASH_LEN));
        return arca_buf_put_u64be(b, r->version);
    case ARCA_ST_SECRETS:
    case ARCA_ST_META:
    case ARCA_ST_INDEX:
        return put_lv(b, r->data, r->data_len);
    case ARCA_ST_ONCE:
        ARCA_TRY(arca_buf_put_u64be(b, (uint64_t)r->time));
        return put_lv(b, r->data, r->data_len);
    case ARCA_ST_CHECKPOINT:
        ARCA_TRY(arca_buf_put_u64be(b, r->seq));
        ARCA_TRY(arca_buf_put_u64be(b, (uint64_t)r->time));
        ARCA_TRY(put_lv(b, r->data, r->data_len));
        if (r->prefix_len == 0)
            return 0;
        ARCA_TRY(arca_buf_put_u64be(b, r->prefix_len));
        return arca_buf_put(b, r->hash, ARCA_STORE_HASH_LEN);
    default:
        return arca_err_set(ARCA_ERR_INVALID_ARG, "store record: unknown table %d", r->tbl);
    }
}

int arca_store_record_encode(const struct arca_store_record *r, struct arca_buf *out)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(out);
    size_t mark = out->len;
    int rc;
    ARCA_GUARD(rc, arca_buf_put_u8(out, (uint8_t)r->tbl), fail);
    ARCA_GUARD(rc, arca_buf_put_u8(out, ARCA_STORE_RECORD_FORMAT), fail);
    ARCA_GUARD(rc, put_lv(out, r->key, r->key_len), fail);
    ARCA_GUARD(rc, encode_body(r, out), fail);
    return 0;
fail:
    /* leave no partial output: wipe what we appended (records may be secret) */
    if (out->data != NULL && out->len > mark)
        arca_wipe(out->data + mark, out->len - mark);
    out->len = mark;
    return rc;
}

static int get_lv(struct arca_cur *c, const uint8_t **p, size_t *n, size_t max, const char *what)
{
    uint32_t len;
    if (arca_cur_get_u32be(c, &len) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "store record: %s length at offset %zu", what,
                            c->off);
    if (len > max)
        return arca_err_set(ARCA_ERR_FORMAT, "store record: %s of %u bytes exceeds %zu", what, len,
                            max);
    if (arca_cur_get_ptr(c, p, len) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "store record: %s (%u bytes) at offset %zu", what,
                            len, c->off);
    *n = len;
    return 0;
}

static int get_fixed(struct arca_cur *c, const uint8_t **p, size_t n, const char *what)
{
    if (arca_cur_get_ptr(c, p, n) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "store record: %s at offset %zu", what, c->off);
    return 0;
}

static int get_u64(struct arca_cur *c, uint64_t *v, const char *what)
{
    if (arca_cur_get_u64be(c, v) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "store record: %s at offset %zu", what, c->off);
    return 0;
}

static int get_u8(struct arca_cur *c, uint8_t *v, const char *what)
{
    if (arca_cur_get_u8(c, v) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "store record: %s at offset %zu", what, c->off);
    return 0;
}

static int decode_body(struct arca_cur *c, struct arca_store_record *r)
{
    uint64_t t;
    switch (r->tbl) {
    case ARCA_ST_SESSION:
        ARCA_TRY(get_lv(c, &r->name, &r->name_len, ARCA_STORE_NAME_MAX, "session name"));
        ARCA_TRY(get_u64(c, &r->version, "session version"));
        ARCA_TRY(get_fixed(c, &r->hash, ARCA_STORE_HASH_LEN, "session hash"));
        ARCA_TRY(get_u8(c, &r->has_pred, "session predecessor flag"));
        if (r->has_pred > 1)
            return arca_err_set(ARCA_ERR_FORMAT, "store record: predecessor flag %u", r->has_pred);
        ARCA_TRY(get_fixed(c, &r->pred, ARCA_STORE_HASH_LEN, "session predecessor"));
        ARCA_TRY(get_fixed(c, &r->creator, ARCA_STORE_HASH_LEN, "session creator"));
        ARCA_TRY(get_u64(c, &t, "session creation time"));
        r->time = (int64_t)t;
        ARCA_TRY(get_lv(c, &r->data, &r->data_len, ARCA_BUF_MAX_DEFAULT, "session yaml"));
        return get_lv(c, &r->model, &r->model_len, ARCA_BUF_MAX_DEFAULT, "session model");
    case ARCA_ST_ACTIVE:
        ARCA_TRY(get_lv(c, &r->name, &r->name_len, ARCA_STORE_NAME_MAX, "active name"));
        ARCA_TRY(get_fixed(c, &r->hash, ARCA_STORE_HASH_LEN, "active hash"));
        return get_u64(c, &r->version, "active version");
    case ARCA_ST_SECRETS:
        return get_lv(c, &r->data, &r->data_len, ARCA_BUF_MAX_DEFAULT, "secrets blob");
    case ARCA_ST_META:
        return get_lv(c, &r->data, &r->data_len, ARCA_BUF_MAX_DEFAULT, "meta value");
    case ARCA_ST_INDEX:
        return get_lv(c, &r->data, &r->data_len, ARCA_BUF_MAX_DEFAULT, "index entry");
    case ARCA_ST_ONCE:
        ARCA_TRY(get_u64(c, &t, "once expiry"));
        r->time = (int64_t)t;
        return get_lv(c, &r->data, &r->data_len, ARCA_STORE_ONCE_DATA_MAX, "once data");
    case ARCA_ST_CHECKPOINT:
        ARCA_TRY(get_u64(c, &r->seq, "checkpoint seq"));
        ARCA_TRY(get_u64(c, &t, "checkpoint time"));
        r->time = (int64_t)t;
        ARCA_TRY(get_lv(c, &r->data, &r->data_len, ARCA_STORE_SIG_MAX, "checkpoint signature"));
        if (arca_cur_done(c))
            return 0; /* written before the audit prefix fields */
        if (arca_cur_left(c) != 8 + ARCA_STORE_HASH_LEN)
            return arca_err_set(ARCA_ERR_FORMAT,
                                "store record: checkpoint audit prefix of %zu bytes (expected %d)",
                                arca_cur_left(c), 8 + ARCA_STORE_HASH_LEN);
        ARCA_TRY(get_u64(c, &r->prefix_len, "checkpoint prefix length"));
        if (r->prefix_len == 0)
            return arca_err_set(ARCA_ERR_FORMAT,
                                "store record: checkpoint audit prefix of length 0");
        return get_fixed(c, &r->hash, ARCA_STORE_HASH_LEN, "checkpoint prefix hash");
    default:
        return arca_err_set(ARCA_ERR_FORMAT, "store record: unknown table %d", r->tbl);
    }
}

int arca_store_record_decode(const uint8_t *p, size_t n, struct arca_store_record *r)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "store record: NULL input");
    struct arca_store_record tmp;
    memset(&tmp, 0, sizeof(tmp));
    struct arca_cur c;
    arca_cur_init(&c, p, n);
    uint8_t tbl, fmt;
    ARCA_TRY(get_u8(&c, &tbl, "table"));
    ARCA_TRY(get_u8(&c, &fmt, "format"));
    ARCA_ENSURE(arca_store_table_name(tbl) != NULL, ARCA_ERR_FORMAT,
                "store record: unknown table %u", tbl);
    ARCA_ENSURE(fmt == ARCA_STORE_RECORD_FORMAT, ARCA_ERR_FORMAT,
                "store record: format %u (this arca reads %d)", fmt, ARCA_STORE_RECORD_FORMAT);
    tmp.tbl = tbl;
    ARCA_TRY(get_lv(&c, &tmp.key, &tmp.key_len, ARCA_STORE_NAME_MAX, "key"));
    ARCA_TRY(decode_body(&c, &tmp));
    ARCA_ENSURE(arca_cur_done(&c), ARCA_ERR_FORMAT, "store record: %zu trailing bytes",
                arca_cur_left(&c));
    *r = tmp;
    return 0;
}
