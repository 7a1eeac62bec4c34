/* Approvals stored with the session version they admitted (store.h). They live in the sealed
 * meta table under "approvals/<hash>", written in the version's own commit, so a version and
 * its approvals appear together or not at all. */
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "store/engine.h"

void arca_store_approvals_key(char out[ARCA_STORE_APPROVALS_KEY_LEN],
                              const uint8_t hash[ARCA_STORE_HASH_LEN])
{
    memcpy(out, "approvals/", 10);
    arca_hex_fmt(out + 10, hash, ARCA_STORE_HASH_LEN);
}

int arca_store_approvals_get(struct arca_store *s, const uint8_t hash[ARCA_STORE_HASH_LEN],
                             struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(hash);
    ARCA_ENSURE_REF(out);
    char key[ARCA_STORE_APPROVALS_KEY_LEN];
    arca_store_approvals_key(key, hash);
    int rc = arca_store_get_data(s, ARCA_ST_META, key, strlen(key), out);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no approvals stored for that version");
    return rc;
}
