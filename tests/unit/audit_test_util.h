/* Shared fixture of the audit unit tests (header-only, static): a temporary directory with a
 * sealed store and an Ed25519 signing key; the log is DIR/audit.log. */
#ifndef ARCA_TEST_AUDIT_UTIL_H
#define ARCA_TEST_AUDIT_UTIL_H

#include "audit/audit.h"
#include "store_test_util.h"

struct fx {
    char *dir;
    char path[512];
    struct arca_key *key;
    struct arca_store_fixed_sealer fs;
    struct arca_store *store;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tdir_make();
    snprintf(f->path, sizeof(f->path), "%s/audit.log", f->dir);
    if (arca_key_generate(ARCA_KEY_ED25519, &f->key) != 0)
        return -1;
    uint8_t k[32];
    test_seal_key(k, 3);
    arca_store_fixed_sealer_init(&f->fs, k);
    if (test_store_open(f->dir, &f->fs, true, &f->store) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    arca_store_close(f->store);
    arca_key_free(f->key);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

#endif
