/* Approvals: the message's bytes, signature verification with real Ed25519 / ECDSA keys made
 * here, explained evaluation of board rules loaded from YAML, and unsatisfiable trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "policy/session.h"
#include "test_util.h"

#define MAXK 8

static struct arca_key *KEYS[MAXK]; /* Ed25519, P-256, P-384 in turn */
static uint8_t IDS[MAXK][32];       /* their key ids */
static char *PEMS[MAXK];            /* their SPKI PEM as a YAML double-quoted body */
static uint8_t CAS[32], PRED[32], NEWH[32];

static char *yaml_quoted_pem(const struct arca_key *k)
{
    struct arca_buf pem;
    arca_buf_init(&pem, 0);
    assert_int_equal(arca_key_public_pem(k, &pem), 0);
    char *out = yaml_quote_pem(pem.data, pem.len);
    arca_buf_free(&pem);
    return out;
}

static int setup(void **state)
{
    (void)state;
    static const enum arca_key_type types[] = {ARCA_KEY_ED25519, ARCA_KEY_P256, ARCA_KEY_P384};
    for (size_t i = 0; i < MAXK; i++) {
        if (arca_key_generate(types[i % 3], &KEYS[i]) < 0 || arca_key_id(KEYS[i], IDS[i]) < 0)
            return -1;
        PEMS[i] = yaml_quoted_pem(KEYS[i]);
    }
    memset(CAS, 0xca, 32);
    memset(PRED, 0x01, 32);
    memset(NEWH, 0x02, 32);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < MAXK; i++) {
        arca_key_free(KEYS[i]);
        free(PEMS[i]);
    }
    return 0;
}

static void message(const char *name, const uint8_t *pred, uint8_t out[32])
{
    struct arca_approval_change c = {
        .cas_key = CAS, .session_name = name, .predecessor = pred, .new_hash = NEWH};
    assert_int_equal(arca_approval_message(&c, out), 0);
}

/* The documented bytes, built by hand. */
static void test_message_bytes(void **state)
{
    (void)state;
    struct arca_buf m;
    arca_buf_init(&m, 0);
    assert_int_equal(arca_buf_put_lv(&m, "arca-approval-v1", 16), 0);
    assert_int_equal(arca_buf_put_lv(&m, CAS, 32), 0);
    assert_int_equal(arca_buf_put_lv(&m, "ns/app", 6), 0);
    assert_int_equal(arca_buf_put_lv(&m, PRED, 32), 0);
    assert_int_equal(arca_buf_put_lv(&m, NEWH, 32), 0);
    assert_int_equal(m.len, 4 + 16 + 4 + 32 + 4 + 6 + 4 + 32 + 4 + 32);
    assert_int_equal(memcmp(m.data,
                            "\0\0\0\x10"
                            "arca-approval-v1",
                            20),
                     0);
    uint8_t want[32], got[32];
    assert_int_equal(arca_sha256(m.data, m.len, want), 0);
    message("ns/app", PRED, got);
    assert_memory_equal(got, want, 32);

    /* A create: lv of nothing where the predecessor goes. */
    arca_buf_reset(&m);
    assert_int_equal(arca_buf_put_lv(&m, "arca-approval-v1", 16), 0);
    assert_int_equal(arca_buf_put_lv(&m, CAS, 32), 0);
    assert_int_equal(arca_buf_put_lv(&m, "ns/app", 6), 0);
    assert_int_equal(arca_buf_put_lv(&m, NULL, 0), 0);
    assert_int_equal(arca_buf_put_lv(&m, NEWH, 32), 0);
    assert_int_equal(arca_sha256(m.data, m.len, want), 0);
    message("ns/app", NULL, got);
    assert_memory_equal(got, want, 32);
    arca_buf_free(&m);

    /* Every field binds. */
    uint8_t a[32], b[32], zero[32] = {0};
    message("ns/app", PRED, a);
    message("ns/apq", PRED, b);
    assert_memory_not_equal(a, b, 32);
    message("ns/app", zero, b);
    assert_memory_not_equal(a, b, 32);
    message("ns/app", NULL, b);
    assert_memory_not_equal(a, b, 32);

    struct arca_approval_change bad = {.cas_key = CAS, .session_name = "", .new_hash = NEWH};
    assert_int_equal(arca_approval_message(&bad, a), ARCA_ERR_FORMAT);
}

static void sign(size_t k, const uint8_t msg[32], struct arca_buf *sig)
{
    arca_buf_init(sig, 0);
    assert_int_equal(arca_approval_sign(KEYS[k], msg, sig), 0);
}

static void pem_of(size_t k, struct arca_buf *pem)
{
    arca_buf_init(pem, 0);
    assert_int_equal(arca_key_public_pem(KEYS[k], pem), 0);
}

static void test_verify_types_and_duplicates(void **state)
{
    (void)state;
    uint8_t msg[32];
    message("board", PRED, msg);
    struct arca_buf sig[4], key[4];
    for (size_t i = 0; i < 3; i++) {
        sign(i, msg, &sig[i]);
        pem_of(i, &key[i]);
    }
    /* the same P-384 signer again, its key as DER this time */
    sign(2, msg, &sig[3]);
    arca_buf_init(&key[3], 0);
    assert_int_equal(arca_key_spki_der(KEYS[2], &key[3]), 0);
    struct arca_approval_sig s[4];
    for (size_t i = 0; i < 4; i++)
        s[i] = (struct arca_approval_sig){key[i].data, key[i].len, sig[i].data, sig[i].len};
    struct arca_approvers ap;
    assert_int_equal(arca_approval_verify(msg, s, 4, &ap), 0);
    assert_int_equal(ap.count, 3); /* a signer counts once */
    for (size_t i = 0; i < 3; i++)
        assert_memory_equal(ap.ids[i], IDS[i], 32);
    arca_approvers_clear(&ap);

    /* A signature over another change fails the set and names the approval. */
    uint8_t other[32];
    message("board", NULL, other);
    struct arca_buf osig;
    sign(1, other, &osig);
    s[1].sig = osig.data;
    s[1].sig_len = osig.len;
    assert_int_equal(arca_approval_verify(msg, s, 3, &ap), ARCA_ERR_SIGNATURE);
    assert_non_null(strstr(arca_err_detail(), "approval 1 by signer "));
    assert_int_equal(ap.count, 0);
    assert_null(ap.ids);
    /* One signer's signature under another's key */
    s[1].sig = sig[0].data;
    s[1].sig_len = sig[0].len;
    assert_int_equal(arca_approval_verify(msg, s, 3, &ap), ARCA_ERR_SIGNATURE);

    /* Keys that cannot approve */
    struct arca_key *rsa = NULL, *x = NULL;
    struct arca_buf rpem, xpem, priv;
    arca_buf_init(&rpem, 0);
    arca_buf_init(&xpem, 0);
    arca_buf_init_secret(&priv, 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_RSA2048, &rsa), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_X25519, &x), 0);
    assert_int_equal(arca_key_public_pem(rsa, &rpem), 0);
    assert_int_equal(arca_key_public_pem(x, &xpem), 0);
    assert_int_equal(arca_key_private_pem(KEYS[0], &priv), 0);
    struct arca_key *k = NULL;
    assert_int_equal(arca_approval_signer_key(rpem.data, rpem.len, &k), ARCA_ERR_UNSUPPORTED);
    assert_non_null(strstr(arca_err_detail(), "rsa2048 key cannot approve"));
    assert_int_equal(arca_approval_signer_key(xpem.data, xpem.len, &k), ARCA_ERR_UNSUPPORTED);
    assert_int_equal(arca_approval_signer_key(priv.data, priv.len, &k), ARCA_ERR_FORMAT);
    assert_int_equal(arca_approval_signer_key("garbage", 7, &k), ARCA_ERR_FORMAT);
    assert_null(k);
    struct arca_buf rs;
    arca_buf_init(&rs, 0);
    assert_int_equal(arca_approval_sign(rsa, msg, &rs), ARCA_ERR_UNSUPPORTED);
    s[0] = (struct arca_approval_sig){rpem.data, rpem.len, sig[0].data, sig[0].len};
    assert_int_equal(arca_approval_verify(msg, s, 1, &ap), ARCA_ERR_UNSUPPORTED);
    assert_non_null(strstr(arca_err_detail(), "approval 0"));
    assert_int_equal(arca_approval_verify(msg, s, ARCA_APPROVAL_MAX_SIGS + 1, &ap), ARCA_ERR_LIMIT);
    assert_int_equal(arca_approval_verify(msg, NULL, 0, &ap), 0);
    assert_int_equal(ap.count, 0);

    arca_key_free(rsa);
    arca_key_free(x);
    arca_buf_free(&rpem);
    arca_buf_free(&xpem);
    arca_buf_free(&priv);
    arca_buf_free(&rs);
    arca_buf_free(&osig);
    for (size_t i = 0; i < 4; i++) {
        arca_buf_free(&sig[i]);
        arca_buf_free(&key[i]);
    }
}

/* ---- rules ------------------------------------------------------------------------------- */

static struct arca_session *load_update(const char *update)
{
    char *yaml = NULL;
    size_t cap = strlen(update) + 256;
    yaml = malloc(cap);
    assert_non_null(yaml);
    snprintf(yaml, cap, "name: t\nversion: \"0.3\"\naccess_policy:\n  update:\n%s", update);
    struct arca_session *s = NULL;
    assert_int_equal(test_session_load(yaml, "t.yaml", &s), 0);
    free(yaml);
    return s;
}

/* "    - require-at-least-N:\n" followed by signer entries for keys [from, from+count). */
static void board(struct arca_buf *y, const char *indent, const char *head, size_t from,
                  size_t count)
{
    assert_int_equal(arca_buf_printf(y, "%s- %s:\n", indent, head), 0);
    for (size_t i = from; i < from + count; i++)
        assert_int_equal(arca_buf_printf(y, "%s    - signer: \"%s\"\n", indent, PEMS[i]), 0);
}

/* Evaluates s's update rule with approvers keys[] (indices) and an optional client. */
static bool judge(const struct arca_session *s, const size_t *keys, size_t n, const uint8_t *client,
                  struct arca_buf *why)
{
    uint8_t ids[MAXK][32];
    for (size_t i = 0; i < n; i++)
        memcpy(ids[i], IDS[keys[i]], 32);
    struct arca_access_subject subj = {.client_key_id = client,
                                       .creator_key_id = CAS,
                                       .approvers = (const uint8_t(*)[32])ids,
                                       .approver_count = n};
    bool ok = true;
    arca_buf_reset(why);
    assert_int_equal(arca_approval_explain(&s->access.update, &subj, "update", &ok, why), 0);
    if (ok)
        assert_int_equal(why->len, 0);
    else
        assert_true(why->len > 0);
    return ok;
}

static bool mentions(const struct arca_buf *why, size_t k)
{
    struct arca_buf t;
    arca_buf_init(&t, 0);
    assert_int_equal(arca_approval_key_text(IDS[k], &t), 0);
    bool found = strstr(arca_buf_cstr(why), arca_buf_cstr(&t)) != NULL;
    arca_buf_free(&t);
    return found;
}

/* F+1 of 2F+1 holds, F does not, for F = 1, 2, 3; the refusal names the missing signers. */
/* The key cache gives the same answers as a cold verify: hits, a forged signature under a
 * cached key, and eviction when full (capacity 2, three signers, twice round). */
static void test_verify_cached(void **state)
{
    (void)state;
    uint8_t msg[32], other[32];
    message("board", PRED, msg);
    message("board", NULL, other);
    struct arca_buf sig[3], key[3], osig;
    struct arca_approval_sig s[3];
    for (size_t i = 0; i < 3; i++) {
        sign(i, msg, &sig[i]);
        pem_of(i, &key[i]);
        s[i] = (struct arca_approval_sig){key[i].data, key[i].len, sig[i].data, sig[i].len};
    }
    sign(1, other, &osig);
    struct arca_approval_cache *c = NULL;
    assert_int_equal(arca_approval_cache_new(0, &c), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_approval_cache_new(2, &c), 0);
    for (int round = 0; round < 2; round++) {
        struct arca_approvers ap;
        assert_int_equal(arca_approval_verify_cached(c, msg, s, 3, &ap), 0);
        assert_int_equal(ap.count, 3);
        for (size_t i = 0; i < 3; i++)
            assert_memory_equal(ap.ids[i], IDS[i], 32);
        arca_approvers_clear(&ap);
        struct arca_approval_sig bad = {key[1].data, key[1].len, osig.data, osig.len};
        assert_int_equal(arca_approval_verify_cached(c, msg, &bad, 1, &ap), ARCA_ERR_SIGNATURE);
        assert_non_null(strstr(arca_err_detail(), "approval 0 by signer "));
        assert_int_equal(ap.count, 0);
    }
    arca_approval_cache_free(c);
    arca_approval_cache_free(NULL);
    for (size_t i = 0; i < 3; i++) {
        arca_buf_free(&sig[i]);
        arca_buf_free(&key[i]);
    }
    arca_buf_free(&osig);
}

/* One cache shared by threads (arcad's use): lookups, inserts and evictions (capacity 2 for
 * 6 keys: nearly every lookup evicts) race with verifications on other threads; every result
 * must be what an uncached verification gives, and nothing freed early (ASan). */
struct shared {
    struct arca_approval_cache *c;
    const uint8_t *msg;
    struct arca_approval_sig *good, *bad;
    size_t seed;
    int wrong;
};

static void *verifier(void *arg)
{
    struct shared *t = arg;
    for (size_t i = 0; i < 150; i++) {
        size_t k = (i + t->seed) % 6;
        bool bad = (i + t->seed) % 7 == 0;
        struct arca_approvers ap;
        int rc = arca_approval_verify_cached(t->c, t->msg, bad ? &t->bad[k] : &t->good[k], 1, &ap);
        if (bad ? rc != ARCA_ERR_SIGNATURE
                : rc != 0 || ap.count != 1 || memcmp(ap.ids[0], IDS[k], 32) != 0)
            t->wrong++;
        arca_approvers_clear(&ap);
    }
    return NULL;
}

static void test_verify_cached_threads(void **state)
{
    (void)state;
    uint8_t msg[32], other[32];
    message("board", PRED, msg);
    message("board", NULL, other);
    struct arca_buf sig[6], osig[6], key[6];
    struct arca_approval_sig good[6], bad[6];
    for (size_t i = 0; i < 6; i++) {
        sign(i, msg, &sig[i]);
        sign(i, other, &osig[i]);
        pem_of(i, &key[i]);
        good[i] = (struct arca_approval_sig){key[i].data, key[i].len, sig[i].data, sig[i].len};
        bad[i] = (struct arca_approval_sig){key[i].data, key[i].len, osig[i].data, osig[i].len};
    }
    struct arca_approval_cache *c = NULL;
    assert_int_equal(arca_approval_cache_new(2, &c), 0);
    enum { T = 4 };
    pthread_t tid[T];
    struct shared th[T];
    for (size_t i = 0; i < T; i++) {
        th[i] = (struct shared){.c = c, .msg = msg, .good = good, .bad = bad, .seed = i * 5};
        assert_int_equal(pthread_create(&tid[i], NULL, verifier, &th[i]), 0);
    }
    for (size_t i = 0; i < T; i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_int_equal(th[i].wrong, 0);
    }
    arca_approval_cache_free(c);
    for (size_t i = 0; i < 6; i++) {
        arca_buf_free(&sig[i]);
        arca_buf_free(&osig[i]);
        arca_buf_free(&key[i]);
    }
}

static void test_board_f_plus_one(void **state)
{
    (void)state;
    for (size_t f = 1; f <= 3; f++) {
        struct arca_buf y, why;
        arca_buf_init(&y, 0);
        arca_buf_init(&why, 0);
        char head[32];
        snprintf(head, sizeof(head), "require-at-least-%zu", f + 1);
        board(&y, "    ", head, 0, 2 * f + 1);
        struct arca_session *s = load_update(arca_buf_cstr(&y));
        size_t all[MAXK] = {0, 1, 2, 3, 4, 5, 6, 7};
        assert_true(judge(s, all, f + 1, NULL, &why));
        assert_true(judge(s, all + f, f + 1, NULL, &why)); /* any F+1 */
        assert_false(judge(s, all, f, NULL, &why));
        char want[96];
        snprintf(want, sizeof(want),
                 "update needs %zu of %zu (require-at-least-%zu, line 5); have %zu", f + 1,
                 2 * f + 1, f + 1, f);
        assert_non_null(strstr(arca_buf_cstr(&why), want));
        for (size_t i = 0; i < 2 * f + 1; i++)
            assert_int_equal(mentions(&why, i), i >= f); /* the missing ones only */
        /* a duplicate approver does not make up a missing one */
        size_t dup[MAXK] = {0, 0, 0, 0};
        assert_false(judge(s, dup, f + 1, NULL, &why));
        /* an outsider's approval does not count either */
        size_t out[1] = {7};
        assert_false(judge(s, out, 1, NULL, &why));
        arca_session_free(s);
        arca_buf_free(&y);
        arca_buf_free(&why);
    }
}

/* Veto: require-all [veto holder, board]; sole approver: require-at-least-1 [checker, board]. */
static void test_veto_sole_nested(void **state)
{
    (void)state;
    struct arca_buf y, why;
    arca_buf_init(&y, 0);
    arca_buf_init(&why, 0);
    assert_int_equal(arca_buf_printf(&y, "    - require-all:\n        - signer: \"%s\"\n", PEMS[6]),
                     0);
    board(&y, "        ", "require-at-least-2", 0, 3);
    struct arca_session *s = load_update(arca_buf_cstr(&y));
    size_t quorum[] = {0, 1, 2};
    assert_false(judge(s, quorum, 3, NULL, &why)); /* full quorum, no veto holder */
    assert_true(mentions(&why, 6));
    assert_false(mentions(&why, 0));
    assert_non_null(
        strstr(arca_buf_cstr(&why), "update needs all 2 (require-all, line 5); have 1"));
    size_t with_veto[] = {6, 0, 2};
    assert_true(judge(s, with_veto, 3, NULL, &why));
    size_t veto_alone[] = {6, 1};
    assert_false(judge(s, veto_alone, 2, NULL, &why));
    assert_non_null(strstr(arca_buf_cstr(&why), "[2 of 3 (require-at-least-2"));
    arca_session_free(s);

    arca_buf_reset(&y);
    assert_int_equal(
        arca_buf_printf(&y, "    - require-at-least-1:\n        - signer: \"%s\"\n", PEMS[7]), 0);
    board(&y, "        ", "require-at-least-2", 0, 3);
    s = load_update(arca_buf_cstr(&y));
    size_t checker[] = {7};
    assert_true(judge(s, checker, 1, NULL, &why));
    size_t two[] = {1, 2};
    assert_true(judge(s, two, 2, NULL, &why));
    size_t one[] = {1};
    assert_false(judge(s, one, 1, NULL, &why));
    arca_session_free(s);

    /* three levels: all of [A, at-least-1 of [B, all of [C, D]]] */
    arca_buf_reset(&y);
    assert_int_equal(arca_buf_printf(&y,
                                     "    - require-all:\n"
                                     "        - signer: \"%s\"\n"
                                     "        - require-at-least-1:\n"
                                     "            - signer: \"%s\"\n"
                                     "            - require-all:\n"
                                     "                - signer: \"%s\"\n"
                                     "                - signer: \"%s\"\n",
                                     PEMS[0], PEMS[1], PEMS[2], PEMS[3]),
                     0);
    s = load_update(arca_buf_cstr(&y));
    size_t ab[] = {0, 1}, acd[] = {0, 2, 3}, ac[] = {0, 2}, bcd[] = {1, 2, 3};
    assert_true(judge(s, ab, 2, NULL, &why));
    assert_true(judge(s, acd, 3, NULL, &why));
    assert_false(judge(s, ac, 2, NULL, &why));
    assert_true(mentions(&why, 1) && mentions(&why, 3) && !mentions(&why, 2));
    assert_false(judge(s, bcd, 3, NULL, &why));
    assert_true(mentions(&why, 0));
    arca_session_free(s);

    /* several entries: any one grants; the refusal explains each */
    arca_buf_reset(&y);
    assert_int_equal(arca_buf_printf(&y, "    - CREATOR\n    - signer: \"%s\"\n", PEMS[0]), 0);
    s = load_update(arca_buf_cstr(&y));
    size_t none[1] = {0};
    assert_false(judge(s, none, 0, NULL, &why));
    assert_non_null(strstr(arca_buf_cstr(&why),
                           "update needs one of its 2 entries: the creator's client certificate; "
                           "or signer "));
    assert_true(judge(s, none, 0, CAS, &why)); /* the creator uploads */
    assert_true(judge(s, none, 1, NULL, &why));
    arca_session_free(s);
    arca_buf_free(&y);
    arca_buf_free(&why);
}

static void test_rule_names(void **state)
{
    (void)state;
    struct arca_buf y;
    arca_buf_init(&y, 0);
    board(&y, "    ", "require-at-least-1", 0, 2);
    struct arca_session *s = load_update(arca_buf_cstr(&y));
    assert_true(arca_approval_rule_names(&s->access.update, IDS[0]));
    assert_true(arca_approval_rule_names(&s->access.update, IDS[1]));
    assert_false(arca_approval_rule_names(&s->access.update, IDS[2]));
    arca_session_free(s);
    arca_buf_free(&y);
}

/* A certificate names the one TLS client of a request: two of them can never both hold. */
static void test_unsatisfiable(void **state)
{
    (void)state;
    char *cert[2];
    uint8_t cid[2][32];
    for (size_t i = 0; i < 2; i++) {
        struct arca_x509_params p = {
            .common_name = "member", .not_before = 0, .not_after = 4102444800};
        struct arca_x509 *c = NULL;
        assert_int_equal(arca_x509_build(&p, KEYS[i], NULL, NULL, &c), 0);
        assert_int_equal(arca_x509_key_id(c, cid[i]), 0);
        struct arca_buf pem;
        arca_buf_init(&pem, 0);
        assert_int_equal(arca_x509_to_pem(c, &pem), 0);
        cert[i] = yaml_quote_pem(pem.data, pem.len);
        arca_buf_free(&pem);
        arca_x509_free(c);
    }
    char yaml[16384];
    snprintf(yaml, sizeof(yaml), "    - require-all: [\"%s\", \"%s\"]\n", cert[0], cert[1]);
    struct arca_session *s = load_update(yaml);
    assert_int_equal(arca_approval_satisfiable(&s->access.update, NULL, "update"), ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "access_policy.update (line 5) can never be"));
    /* and indeed: both members signing does not make it hold */
    struct arca_buf why;
    arca_buf_init(&why, 0);
    size_t both[] = {0, 1};
    assert_false(judge(s, both, 2, cid[0], &why));
    arca_session_free(s);

    snprintf(yaml, sizeof(yaml), "    - require-at-least-1: [\"%s\", \"%s\"]\n", cert[0], cert[1]);
    s = load_update(yaml);
    assert_int_equal(arca_approval_satisfiable(&s->access.update, NULL, "update"), 0);
    arca_session_free(s);

    /* the creator beside a certificate: fine until the creator is known to be someone else */
    snprintf(yaml, sizeof(yaml), "    - require-all: [CREATOR, \"%s\"]\n", cert[0]);
    s = load_update(yaml);
    assert_int_equal(arca_approval_satisfiable(&s->access.update, NULL, "update"), 0);
    assert_int_equal(arca_approval_satisfiable(&s->access.update, cid[0], "update"), 0);
    assert_int_equal(arca_approval_satisfiable(&s->access.update, cid[1], "update"),
                     ARCA_ERR_POLICY);
    arca_session_free(s);

    /* a certificate beside signers is one approval among them */
    snprintf(yaml, sizeof(yaml), "    - require-at-least-2: [\"%s\", signer: \"%s\"]\n", cert[0],
             PEMS[2]);
    s = load_update(yaml);
    assert_int_equal(arca_approval_satisfiable(&s->access.update, NULL, "update"), 0);
    size_t signer[] = {2};
    assert_true(judge(s, signer, 1, cid[0], &why));
    assert_false(judge(s, signer, 1, cid[1], &why));
    arca_session_free(s);

    s = load_update("    - NONE\n");
    assert_int_equal(arca_approval_satisfiable(&s->access.update, NULL, "update"), 0);
    arca_session_free(s);
    arca_buf_free(&why);
    free(cert[0]);
    free(cert[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_bytes),    cmocka_unit_test(test_verify_types_and_duplicates),
        cmocka_unit_test(test_verify_cached),    cmocka_unit_test(test_verify_cached_threads),
        cmocka_unit_test(test_board_f_plus_one), cmocka_unit_test(test_veto_sole_nested),
        cmocka_unit_test(test_rule_names),       cmocka_unit_test(test_unsatisfiable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
