/* A cmocka fixture over a fresh store in a temporary directory, shared by the store's record and
 * index tests (header-only; include after cmocka.h). */
#ifndef ARCA_TEST_STORE_FIXTURE_H
#define ARCA_TEST_STORE_FIXTURE_H

#include "base/err.h"
#include "store_test_util.h"

struct fx {
    char *dir;
    struct arca_store_fixed_sealer fs;
    struct arca_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 1);
    arca_store_fixed_sealer_init(&f->fs, k);
    if (test_store_open(f->dir, &f->fs, true, &f->s) != 0) {
        fprintf(stderr, "open: %s\n", arca_err_detail());
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    arca_store_close(f->s);
    arca_store_fixed_sealer_wipe(&f->fs);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

/* Closes and reopens f's store (the checks at open run again). */
static void reopen(struct fx *f)
{
    arca_store_close(f->s);
    f->s = NULL;
    int rc = test_store_open(f->dir, &f->fs, false, &f->s);
    if (rc != 0)
        fprintf(stderr, "reopen: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
}

#endif
