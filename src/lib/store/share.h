/*
 * Handing a shared store's key to a new member (arcad --join, docs/high-availability.md): what
 * one member of a PostgreSQL store gives an attested newcomer so that it opens the same
 * records, and how the newcomer seals it into its own key-store. Kept apart from store.h: only
 * arcad's join (src/arcad/join.c, api_peer.c) uses it.
 *
 * The share holds the database key, the index root (they differ only after a key rotation) and
 * the member's commit number and chain head: the newcomer's key-store starts at that commit, so
 * its first open already refuses a database older than what the member had seen, and a key of
 * another store fails that open by name (the head row's MAC, the sealed head).
 */
#ifndef ARCA_STORE_SHARE_H
#define ARCA_STORE_SHARE_H

#include <stdint.h>

#include "store/store.h"

struct arca_store_share {
    uint8_t dbkey[ARCA_STORE_KEY_LEN];   /* secret */
    uint8_t idxroot[ARCA_STORE_KEY_LEN]; /* secret */
    uint64_t commit;
    uint8_t head[ARCA_STORE_HASH_LEN];
};

/*
 * Copies s's keys and current (commit, head) into *out (a secret: the caller wipes it with
 * arca_wipe). ARCA_ERR_UNSUPPORTED unless s is a shared (PostgreSQL) store: a SQLite store is
 * one process's and has no members to share with. *out wiped on failure.
 */
int arca_store_share_get(struct arca_store *s, struct arca_store_share *out);

/*
 * Seals in a new key-store at keystore_path under sealer (purpose "arca-keystore", as the
 * store itself does). ARCA_ERR_EXISTS if a key-store is there already (never overwritten:
 * it may be this data dir's only copy of another key). The caller then opens the store with
 * arca_store_open, which checks the key against the database.
 */
int arca_store_share_adopt(const char *keystore_path, const struct arca_store_sealer *sealer,
                           const struct arca_store_share *in);

#endif
