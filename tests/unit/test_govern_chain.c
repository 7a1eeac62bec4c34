/* History re-check (govern/chain.h): a good two-version chain, and each kind of forgery a CAS
 * (or whoever stands between it and the client) could serve: a broken predecessor link, a
 * signature that does not verify, a record for another change, too few approvals, a text that
 * does not hash to its version, and withheld secret values (hash honestly not re-checked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "govern/chain.h"
#include "policy/session.h"
#include "test_util.h"

#define BOARD 3

static struct arca_key *KEYS[BOARD];
static struct arca_buf DER[BOARD];
static char *PEMQ[BOARD];
static uint8_t CAS[32], CREATOR[32];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < BOARD; i++) {
        struct arca_buf pem;
        arca_buf_init(&pem, 0);
        arca_buf_init(&DER[i], 0);
        if (arca_key_generate(ARCA_KEY_ED25519, &KEYS[i]) < 0 ||
            arca_key_public_pem(KEYS[i], &pem) < 0 || arca_key_spki_der(KEYS[i], &DER[i]) < 0)
            return -1;
        PEMQ[i] = yaml_quote_pem(pem.data, pem.len);
        arca_buf_free(&pem);
    }
    memset(CAS, 0xca, 32);
    memset(CREATOR, 0xc1, 32);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < BOARD; i++) {
        arca_key_free(KEYS[i]);
        arca_buf_free(&DER[i]);
        free(PEMQ[i]);
    }
    return 0;
}

/* A governed text (update by 2 of the board), optionally with a predecessor and extra lines. */
static char *text(const char *version, const uint8_t *pred, const char *extra)
{
    size_t cap = 16384;
    char *y = malloc(cap);
    assert_non_null(y);
    int o = snprintf(y, cap,
                     "name: chain\nversion: \"0.3.%s\"\naccess_policy:\n  read: [CREATOR]\n"
                     "  update:\n    - require-at-least-2:\n        - signer: \"%s\"\n"
                     "        - signer: \"%s\"\n        - signer: \"%s\"\n",
                     version, PEMQ[0], PEMQ[1], PEMQ[2]);
    if (pred != NULL) {
        char h[65];
        arca_hex_fmt(h, pred, 32);
        o += snprintf(y + o, cap - (size_t)o, "predecessor: \"%s\"\n", h);
    }
    if (extra != NULL)
        snprintf(y + o, cap - (size_t)o, "%s", extra);
    return y;
}

static void served(const char *t, const uint8_t *pred, struct arca_chain_version *v)
{
    struct arca_session *s = NULL;
    assert_int_equal(test_session_load(t, "t.yaml", &s), 0);
    memset(v, 0, sizeof(*v));
    assert_int_equal(arca_session_hash(s, CREATOR, v->hash), 0);
    arca_session_free(s);
    memcpy(v->creator, CREATOR, 32);
    v->has_predecessor = pred != NULL;
    if (pred != NULL)
        memcpy(v->predecessor, pred, 32);
    v->text = t;
    v->text_len = strlen(t);
}

/* The stored record of cur's approval by board members signers[0..n). */
struct rec {
    struct arca_chain_record r;
    struct arca_approval_sig sigs[BOARD];
    struct arca_buf sig[BOARD];
};

static void record(const struct arca_chain_version *prev, const struct arca_chain_version *cur,
                   const size_t *signers, size_t n, struct rec *out)
{
    memset(out, 0, sizeof(*out));
    struct arca_approval_change ch = {.cas_key = CAS,
                                      .session_name = "chain",
                                      .predecessor = cur->predecessor,
                                      .new_hash = cur->hash};
    assert_int_equal(arca_approval_message(&ch, out->r.message), 0);
    memcpy(out->r.judged_by, prev->hash, 32);
    for (size_t i = 0; i < n; i++) {
        arca_buf_init(&out->sig[i], 0);
        assert_int_equal(arca_approval_sign(KEYS[signers[i]], out->r.message, &out->sig[i]), 0);
        out->sigs[i] = (struct arca_approval_sig){DER[signers[i]].data, DER[signers[i]].len,
                                                  out->sig[i].data, out->sig[i].len};
    }
    out->r.sigs = out->sigs;
    out->r.n_sigs = n;
}

static void rec_free(struct rec *r)
{
    for (size_t i = 0; i < BOARD; i++)
        arca_buf_free(&r->sig[i]);
}

/* A two-version chain: v1 (created without approvals record), v2 approved by 0 and 1. */
struct fixture {
    char *t1, *t2;
    struct arca_chain_version v1, v2;
    struct rec rec;
    struct arca_chain_result res;
};

static void build(struct fixture *f, size_t n_signers)
{
    static const size_t signers[] = {0, 1, 2};
    f->t1 = text("1", NULL, NULL);
    served(f->t1, NULL, &f->v1);
    f->t2 = text("2", f->v1.hash, NULL);
    served(f->t2, f->v1.hash, &f->v2);
    record(&f->v1, &f->v2, signers, n_signers, &f->rec);
    arca_chain_result_init(&f->res);
}

static void done(struct fixture *f)
{
    arca_chain_result_clear(&f->res);
    rec_free(&f->rec);
    free(f->t1);
    free(f->t2);
}

static void test_good_chain(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2);
    assert_int_equal(arca_chain_check(CAS, "chain", NULL, &f.v1, NULL, &f.res), 0);
    assert_true(f.res.ok && f.res.link_ok && f.res.hash_checked && f.res.hash_ok);
    assert_false(f.res.approvals);
    assert_int_equal(arca_chain_check(CAS, "chain", &f.v1, &f.v2, &f.rec.r, &f.res), 0);
    assert_true(f.res.ok && f.res.link_ok && f.res.hash_ok && f.res.approvals_ok);
    assert_int_equal(f.res.approvers, 2);
    done(&f);
}

static void expect_forged(struct fixture *f, const char *what)
{
    assert_int_equal(arca_chain_check(CAS, "chain", &f->v1, &f->v2, &f->rec.r, &f->res), 0);
    assert_false(f->res.ok);
    assert_non_null(strstr(arca_buf_cstr(&f->res.why), what));
}

static void test_bad_signature(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2);
    f.rec.sig[1].data[5] ^= 1;
    expect_forged(&f, "does not verify");
    assert_false(f.res.approvals_ok);
    done(&f);
}

static void test_broken_link(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2);
    f.v2.predecessor[0] ^= 1;
    expect_forged(&f, "predecessor is not");
    assert_false(f.res.link_ok);
    done(&f);
}

static void test_record_for_another_change(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2);
    f.rec.r.message[31] ^= 1;
    expect_forged(&f, "another change");
    done(&f);
}

static void test_too_few_approvals(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 1);
    expect_forged(&f, "do not satisfy");
    assert_non_null(strstr(arca_buf_cstr(&f.res.why), "2 of 3"));
    done(&f);
}

static void test_text_does_not_hash(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2);
    char *other = text("2", f.v1.hash, "secrets:\n  - name: s\n    kind: ascii\n");
    f.v2.text = other;
    f.v2.text_len = strlen(other);
    expect_forged(&f, "does not hash");
    assert_true(f.res.hash_checked);
    free(other);
    done(&f);
}

static void test_redacted_text_not_hashed(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2);
    char *red =
        text("2", f.v1.hash, "secrets:\n  - name: s\n    kind: ascii\n    value: \"<redacted>\"\n");
    f.v2.text = red;
    f.v2.text_len = strlen(red);
    assert_int_equal(arca_chain_check(CAS, "chain", &f.v1, &f.v2, &f.rec.r, &f.res), 0);
    assert_true(f.res.ok && f.res.approvals_ok);
    assert_false(f.res.hash_checked);
    assert_non_null(strstr(arca_buf_cstr(&f.res.why), "hash not re-checked"));
    free(red);
    done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_chain),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_broken_link),
        cmocka_unit_test(test_record_for_another_change),
        cmocka_unit_test(test_too_few_approvals),
        cmocka_unit_test(test_text_does_not_hash),
        cmocka_unit_test(test_redacted_text_not_hashed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
