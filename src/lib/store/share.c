/* A shared store's key for a new member (share.h). Reads the engine's keys under its writer
 * lock, like engine.c, and writes a key-store with keystore.c: nothing else of the engine. */
#include "store/share.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/engine.h"
#include "store/keystore.h"

#define SEAL_PURPOSE "arca-keystore" /* engine.c's */

int arca_store_share_get(struct arca_store *s, struct arca_store_share *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    ARCA_ENSURE(s->ops->shared, ARCA_ERR_UNSUPPORTED,
                "store: only a shared (PostgreSQL) store has members to hand its key to");
    pthread_mutex_lock(&s->wmu);
    int rc = 0;
    if (s->rotating)
        rc = arca_err_set(ARCA_ERR_CONFLICT, "store: a key rotation is in flight");
    else if (s->broken)
        rc = arca_err_set(ARCA_ERR_IO, "store: the key-store lags the database; restart arcad");
    if (rc == 0) {
        memcpy(out->dbkey, s->dbkey, sizeof(out->dbkey));
        memcpy(out->idxroot, s->idxroot, sizeof(out->idxroot));
        out->commit = s->commit;
        memcpy(out->head, s->head, sizeof(out->head));
    }
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

int arca_store_share_adopt(const char *keystore_path, const struct arca_store_sealer *sealer,
                           const struct arca_store_share *in)
{
    ARCA_ENSURE_REF(keystore_path);
    ARCA_ENSURE(sealer != NULL && sealer->get_key != NULL, ARCA_ERR_INVALID_ARG,
                "store: no sealer");
    ARCA_ENSURE_REF(in);
    struct stat st;
    ARCA_ENSURE(stat(keystore_path, &st) != 0 && errno == ENOENT, ARCA_ERR_EXISTS,
                "store: key-store %s exists already: not replaced", keystore_path);
    uint8_t seal[ARCA_STORE_KEY_LEN];
    struct arca_keystore ks;
    memset(&ks, 0, sizeof(ks));
    memcpy(ks.dbkey, in->dbkey, sizeof(ks.dbkey));
    memcpy(ks.idxroot, in->idxroot, sizeof(ks.idxroot));
    ks.commit = in->commit;
    memcpy(ks.head, in->head, sizeof(ks.head));
    int rc = sealer->get_key(sealer->ctx, SEAL_PURPOSE, seal);
    if (rc < 0)
        rc = arca_err_wrap(rc, "store: sealing key");
    else
        rc = arca_keystore_write(keystore_path, seal, &ks);
    arca_wipe(seal, sizeof(seal));
    arca_wipe(&ks, sizeof(ks));
    return rc;
}
