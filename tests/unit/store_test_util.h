/* Shared helpers for the store and audit unit tests (header-only, static). */
#ifndef ARCA_TEST_STORE_UTIL_H
#define ARCA_TEST_STORE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/*
 * Backend choice: ARCA_TEST_STORE=pg (ctest's "unit.test_store_*.pg" variants) runs the same
 * tests against PostgreSQL: one throw-away cluster per test process (tests/pg_util.sh, stopped
 * at exit) and one fresh database per test directory (its URI kept in DIR/pg.url). Without
 * server binaries the process exits 77 (skipped) with a message.
 */
static inline bool test_store_is_pg(void)
{
    const char *v = getenv("ARCA_TEST_STORE");
    return v != NULL && strcmp(v, "pg") == 0;
}

static char test_pg_cluster[128];

static inline void test_pg_stop(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "sh " ARCA_SOURCE_DIR "/tests/pg_util.sh stop %s; rm -rf %s",
             test_pg_cluster, test_pg_cluster);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the test cluster %s\n", test_pg_cluster);
}

/* Runs "tests/pg_util.sh ARGS" and reads its one-line answer into out. Exits 77 if PostgreSQL is not installed. */
static inline void test_pg_util(const char *args, char *out, size_t n)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "sh " ARCA_SOURCE_DIR "/tests/pg_util.sh %s", args);
    FILE *p = popen(cmd, "r");
    if (p == NULL || fgets(out, (int)n, p) == NULL) {
        int st = p != NULL ? pclose(p) : -1;
        if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 77) {
            fprintf(stderr, "SKIPPED: PostgreSQL server binaries are not installed\n");
            exit(77);
        }
        fprintf(stderr, "pg_util.sh %s failed\n", args);
        exit(1);
    }
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
}

/* The store path of dir: DIR/arca.db, or (PostgreSQL) the URI of dir's own database. */
static inline void test_store_path(const char *dir, char *path, size_t n)
{
    if (!test_store_is_pg()) {
        snprintf(path, n, "%s/arca.db", dir);
        return;
    }
    char file[512];
    snprintf(file, sizeof(file), "%s/pg.url", dir);
    FILE *f = fopen(file, "r");
    if (f != NULL) {
        if (fgets(path, (int)n, f) == NULL)
            path[0] = '\0';
        fclose(f);
        path[strcspn(path, "\n")] = '\0';
        return;
    }
    static unsigned dbno;
    if (test_pg_cluster[0] == '\0') {
        snprintf(test_pg_cluster, sizeof(test_pg_cluster), "/tmp/arca-pg-%d", (int)getpid());
        char args[256];
        snprintf(args, sizeof(args), "start %s", test_pg_cluster);
        test_pg_util(args, path, n);
        atexit(test_pg_stop);
    }
    char args[256];
    snprintf(args, sizeof(args), "createdb %s t%u", test_pg_cluster, ++dbno);
    test_pg_util(args, path, n);
    f = fopen(file, "w");
    if (f != NULL) {
        fprintf(f, "%s\n", path);
        fclose(f);
    }
}

static inline int test_store_open(const char *dir, struct arca_store_fixed_sealer *fs, bool create,
                                  struct arca_store **out)
{
    char path[512], ks[512];
    test_store_path(dir, path, sizeof(path));
    snprintf(ks, sizeof(ks), "%s/arca.db.key-store", dir);
    struct arca_store_options o = {
        .path = path, .keystore_path = ks, .sealer = &fs->sealer, .create = create};
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
