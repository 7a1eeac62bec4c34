/*
 * Helpers shared by the unit tests (include after <cmocka.h>): pinned times, whole files,
 * error assertions and session loading.
 */
#ifndef ARCA_TEST_UTIL_H
#define ARCA_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#include "base/time.h"
#include "crypto/crypto.h"
#include "policy/session.h"

/* The RFC 3339 time s as seconds; fails the test if it does not parse. */
/* A fixed X25519 key (private bytes all seed) and its raw public key (crypto.h's box). */
static inline void test_x25519(uint8_t seed, struct arca_key **k, uint8_t pub[32])
{
    uint8_t raw[32];
    memset(raw, seed, sizeof(raw));
    assert_int_equal(arca_x25519_from_private(raw, k), 0);
    struct arca_buf b;
    arca_buf_init(&b, 64);
    assert_int_equal(arca_key_public_raw(*k, &b), 0);
    assert_int_equal(b.len, 32);
    memcpy(pub, b.data, 32);
    arca_buf_free(&b);
}

static inline int64_t at(const char *s)
{
    int64_t t = 0;
    assert_int_equal(arca_time_parse_rfc3339(s, &t), 0);
    return t;
}

/* The whole file at path (malloc'ed, the caller frees); fails the test if unreadable. */
static inline uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* text[0..n) (a PEM) as the body of a YAML double-quoted string, newlines as \n (malloc'ed,
 * the caller frees). */
static inline char *yaml_quote_pem(const uint8_t *text, size_t n)
{
    char *out = malloc(2 * n + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = (char)text[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Asserts that rc is code and that the error detail contains substr. */
#define assert_err(rc, code, substr)                                                               \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != (code) || strstr(arca_err_detail(), (substr)) == NULL)                          \
            fail_msg("got %d (%s), want %d with \"%s\"", rc_, arca_err_detail(), (code),           \
                     (substr));                                                                    \
    } while (0)

/*
 * Loads yaml (named file in diagnostics) into *out (arca_session_free); on failure prints every
 * located diagnostic to stderr and returns the code, so a failing test shows why.
 */
/* Prints every diagnostic of d to stderr (so a failing test shows why). */
static inline void test_diag_print(const struct arca_diag *d)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    arca_diag_format(d, &b);
    fprintf(stderr, "%s", arca_buf_cstr(&b));
    arca_buf_free(&b);
}

static inline int test_session_load(const char *yaml, const char *file, struct arca_session **out)
{
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_session_load(yaml, strlen(yaml), file, out, &d);
    if (rc < 0)
        test_diag_print(&d);
    arca_diag_free(&d);
    return rc;
}

#endif
