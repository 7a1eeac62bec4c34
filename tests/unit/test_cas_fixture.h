/* The fixture of the cas unit tests: a CAS context over a fresh temporary store. */
#ifndef ARCA_TEST_CAS_FIXTURE_H
#define ARCA_TEST_CAS_FIXTURE_H

#include "cas/cas.h"
#include "store_test_util.h"

static const uint8_t CREATOR[32] = {0xc1, 0x01};
static const uint8_t READER[32] = {0x2e, 0xad};
static const uint8_t STRANGER[32] = {0x57, 0x4a};

struct fix {
    char *dir;
    struct arca_store_fixed_sealer fs;
    struct arca_store *store;
    struct arca_cas cas; /* no audit log, no limits unless a test sets them */
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    uint8_t k[32];
    test_seal_key(k, 3);
    f->dir = tdir_make();
    arca_store_fixed_sealer_init(&f->fs, k);
    if (f->dir == NULL || test_store_open(f->dir, &f->fs, true, &f->store) != 0)
        return -1;
    f->cas.store = f->store;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    arca_store_close(f->store);
    arca_store_fixed_sealer_wipe(&f->fs);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

#endif
