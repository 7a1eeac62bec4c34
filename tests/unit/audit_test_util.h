/* Shared fixture of the audit unit tests (header-only, static; include after cmocka.h): a
 * temporary directory with a sealed store and an Ed25519 signing key; the log is
 * DIR/audit.log. Also line-level helpers to tamper with the file. */
#ifndef ARCA_TEST_AUDIT_UTIL_H
#define ARCA_TEST_AUDIT_UTIL_H

#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
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

/* Opens a log with o, or fails the test printing why. */
static inline struct arca_audit *audit_open_ok(const struct arca_audit_options *o)
{
    struct arca_audit *a = NULL;
    int rc = arca_audit_open(o, &a);
    if (rc != 0)
        fprintf(stderr, "audit open: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    return a;
}

/* Appends n session_read lines (fields session, i). */
static inline void audit_events(struct arca_audit *a, int n)
{
    for (int i = 0; i < n; i++) {
        json_t *fl = json_pack("{s:s, s:i}", "session", "app/db", "i", i);
        assert_int_equal(arca_audit_append(a, ARCA_AUDIT_SESSION_READ, fl, NULL), 0);
        json_decref(fl);
    }
}

/* Lines of the file, each with its newline. */
struct lines {
    char *l[64];
    int n;
};

static inline void read_lines(const char *path, struct lines *ls)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    ls->n = 0;
    char buf[8192];
    while (fgets(buf, sizeof(buf), fp) != NULL && ls->n < 64)
        ls->l[ls->n++] = strdup(buf);
    fclose(fp);
}

static inline void write_lines(const char *path, struct lines *ls)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < ls->n; i++)
        fputs(ls->l[i], fp);
    fclose(fp);
}

static inline void free_lines(struct lines *ls)
{
    for (int i = 0; i < ls->n; i++)
        free(ls->l[i]);
    ls->n = 0;
}

/* Appends a line signed with key after the file's last line, as a writer that ignored the
 * rollback check (or a stranger) would have: content is the JSON before its closing brace. */
static inline void append_signed(struct fx *f, const struct arca_key *key, const char *content_fmt,
                                 ...) __attribute__((format(printf, 3, 4)));

static inline void append_signed(struct fx *f, const struct arca_key *key, const char *content_fmt,
                                 ...)
{
    /* the file's last line, however many there are */
    FILE *in = fopen(f->path, "r");
    assert_non_null(in);
    char last[8192] = "", buf[8192];
    while (fgets(buf, sizeof(buf), in) != NULL)
        memcpy(last, buf, sizeof(buf));
    fclose(in);
    const char *b64 = strstr(last, ",\"sig\":\"") + 8;
    struct arca_buf prev, msg, sig, line;
    arca_buf_init(&prev, 0);
    arca_buf_init(&msg, 0);
    arca_buf_init(&sig, 0);
    arca_buf_init(&line, 0);
    assert_int_equal(arca_base64_decode(&prev, b64, strcspn(b64, "\"")), 0);
    char content[512];
    va_list ap;
    va_start(ap, content_fmt);
    vsnprintf(content, sizeof(content), content_fmt, ap);
    va_end(ap);
    assert_int_equal(arca_buf_put(&msg, "arca-audit-v1", 14), 0);
    assert_int_equal(arca_buf_put_lv(&msg, prev.data, prev.len), 0);
    assert_int_equal(arca_buf_put_str(&msg, content), 0);
    assert_int_equal(arca_buf_put_str(&msg, "}"), 0);
    assert_int_equal(arca_sign(key, ARCA_SHA256, msg.data, msg.len, &sig), 0);
    assert_int_equal(arca_buf_put_str(&line, content), 0);
    assert_int_equal(arca_buf_put_str(&line, ",\"sig\":\""), 0);
    assert_int_equal(arca_base64_encode(&line, sig.data, sig.len), 0);
    assert_int_equal(arca_buf_put_str(&line, "\"}\n"), 0);
    FILE *fp = fopen(f->path, "a");
    assert_non_null(fp);
    assert_int_equal(fwrite(line.data, 1, line.len, fp), line.len);
    fclose(fp);
    arca_buf_free(&prev);
    arca_buf_free(&msg);
    arca_buf_free(&sig);
    arca_buf_free(&line);
}

#endif
