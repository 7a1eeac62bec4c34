/* Server metadata (store.h): a generic sealed key/value table. */
#include <string.h>

#include "base/err.h"
#include "store/engine.h"

/* ---- metadata ------------------------------------------------------------------------------- */

int arca_store_meta_put(struct arca_store *s, const char *key, const void *value, size_t len)
{
    ARCA_ENSURE_REF(s);
    ARCA_TRY(arca_store_check_name(key));
    ARCA_ENSURE(value != NULL || len == 0, ARCA_ERR_INVALID_ARG, "store: meta: NULL value");
    struct arca_store_record r;
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_META;
    r.key = (const uint8_t *)key;
    r.key_len = strlen(key);
    r.data = value;
    r.data_len = len;
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin(s, &tx));
    int rc = arca_store_tx_put(&tx, &r);
    if (rc < 0) {
        arca_store_tx_abort(&tx);
        return rc;
    }
    return arca_store_tx_commit(&tx);
}

int arca_store_meta_get(struct arca_store *s, const char *key, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    ARCA_TRY(arca_store_check_name(key));
    int rc = arca_store_get_data(s, ARCA_ST_META, key, strlen(key), out);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no metadata '%s'", key);
    return rc;
}

int arca_store_meta_delete(struct arca_store *s, const char *key)
{
    ARCA_ENSURE_REF(s);
    ARCA_TRY(arca_store_check_name(key));
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin(s, &tx));
    int rc = arca_store_tx_del(&tx, ARCA_ST_META, key, strlen(key));
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no metadata '%s'", key);
    if (rc < 0) {
        arca_store_tx_abort(&tx);
        return rc;
    }
    return arca_store_tx_commit(&tx);
}
