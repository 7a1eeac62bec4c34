/* Shared helpers for the store and audit unit tests (header-only, static). */
#ifndef ARCA_TEST_STORE_UTIL_H
#define ARCA_TEST_STORE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* A fresh temporary directory; the caller removes it with tdir_remove. */
static inline char *tdir_make(void)
{
    char tmpl[] = "/tmp/arca-store-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d != NULL ? strdup(d) : NULL;
}

static inline void tdir_remove(char *dir)
{
    if (dir == NULL)
        return;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(dir);
}

static inline void test_seal_key(uint8_t key[32], uint8_t v)
{
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(v + i);
}

static inline int test_store_open(const char *dir, struct arca_store_fixed_sealer *fs, bool create,
                                  struct arca_store **out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/arca.db", dir);
    struct arca_store_options o = {.path = path, .sealer = &fs->sealer, .create = create};
    return arca_store_open(&o, out);
}

static inline void test_session(struct arca_store_session *s, const char *name, uint8_t tag,
                                const uint8_t *pred, uint64_t version)
{
    memset(s, 0, sizeof(*s));
    s->name = (char *)name;
    s->version = version;
    memset(s->hash, tag, 32);
    if (pred != NULL) {
        s->has_predecessor = true;
        memcpy(s->predecessor, pred, 32);
    }
    memset(s->creator, 0xc0, 32);
    s->created_at = 1700000000 + tag;
    s->yaml = (char *)"name: x\nversion: \"0.3.10\"\n";
    s->yaml_len = strlen(s->yaml);
}

#endif
