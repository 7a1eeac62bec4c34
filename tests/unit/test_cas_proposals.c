/*
 * Online proposals (cas/cas_proposals.h) over a real temporary store, with real Ed25519 board
 * keys: a quorum applies the change, a signer counts once, unknown signers and signatures over
 * another message are refused, a stale or vetoed proposal takes no votes, strangers see
 * nothing, and proposals survive reopening the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_proposals.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "policy/session.h"
#include "test_cas_fixture.h"

#define EXPLICIT "Zr4-explicit-proposal-secret-77"

struct board {
    struct arca_key *k[3];
    char pem[3][512]; /* public keys as one-line YAML double-quoted strings */
};

static void board_new(struct board *b)
{
    for (int i = 0; i < 3; i++) {
        assert_int_equal(arca_key_generate(ARCA_KEY_ED25519, &b->k[i]), 0);
        struct arca_buf pem;
        arca_buf_init(&pem, 0);
        assert_int_equal(arca_key_public_pem(b->k[i], &pem), 0);
        size_t o = 0;
        for (size_t j = 0; j < pem.len && o + 3 < sizeof(b->pem[i]); j++) {
            if (pem.data[j] == '\n') {
                b->pem[i][o++] = '\\';
                b->pem[i][o++] = 'n';
            } else {
                b->pem[i][o++] = (char)pem.data[j];
            }
        }
        b->pem[i][o] = '\0';
        arca_buf_free(&pem);
    }
}

static void board_free(struct board *b)
{
    for (int i = 0; i < 3; i++)
        arca_key_free(b->k[i]);
}

/* A session governed by 2 of the board (veto: board[0] must approve too). */
static void text(char *out, size_t n, const char *name, const struct board *b, int size, bool veto,
                 const uint8_t *pred)
{
    char p[100] = "";
    if (pred != NULL) {
        char h[65];
        arca_hex_fmt(h, pred, 32);
        snprintf(p, sizeof(p), "predecessor: \"%s\"\n", h);
    }
    snprintf(out, n,
             "name: %s\nversion: \"0.3.11\"\n%s"
             "secrets:\n  - name: pw\n    kind: ascii\n    size: %d\n"
             "  - name: fixed\n    kind: ascii\n    value: \"" EXPLICIT "\"\n"
             "access_policy:\n  update:\n"
             "    - require-%s:\n"
             "        - signer: \"%s\"\n        - signer: \"%s\"\n        - signer: \"%s\"\n",
             name, p, size, veto ? "all" : "at-least-2", b->pem[0], b->pem[1], b->pem[2]);
}

static void create(struct fix *f, const char *t, uint8_t hash[32])
{
    struct arca_cas_put put;
    struct arca_diag d;
    arca_diag_init(&d);
    assert_int_equal(arca_cas_session_put(&f->cas, CREATOR, t, strlen(t), &d, &put), 0);
    memcpy(hash, put.v.hash, 32);
    arca_cas_put_clear(&put);
    arca_diag_free(&d);
}

/* Submits t; the proposal id into id. */
static json_t *submit(struct fix *f, const char *t, char id[65])
{
    json_t *a = NULL;
    bool invalid = false;
    struct arca_diag d;
    arca_diag_init(&d);
    assert_int_equal(
        arca_cas_proposal_submit(&f->cas, NULL, CREATOR, t, strlen(t), &d, &invalid, &a), 0);
    arca_diag_free(&d);
    snprintf(id, 65, "%s", json_string_value(json_object_get(a, ARCA_PROP_ID)));
    return a;
}

/* Votes on proposal id with key k over message msg (the proposal's own unless given). */
static int vote(struct fix *f, const char *id, struct arca_key *k, bool approve,
                const uint8_t *other_msg, json_t **ans)
{
    json_t *p = NULL;
    int rc = arca_cas_proposal_show(&f->cas, CREATOR, id, &p);
    if (rc < 0)
        return rc;
    uint8_t msg[32];
    const char *mh = json_string_value(json_object_get(p, ARCA_PROP_MESSAGE));
    assert_int_equal(arca_hex_decode_fixed(msg, 32, mh, strlen(mh)), 0);
    json_decref(p);
    struct arca_buf sig, pem;
    arca_buf_init(&sig, 0);
    arca_buf_init(&pem, 0);
    assert_int_equal(arca_approval_sign(k, other_msg != NULL ? other_msg : msg, &sig), 0);
    assert_int_equal(arca_key_public_pem(k, &pem), 0);
    struct arca_cas_vote v = {.approve = approve,
                              .signer_pem = arca_buf_cstr(&pem),
                              .sig = sig.data,
                              .sig_len = sig.len,
                              .reason = approve ? NULL : "not like this"};
    json_t *a = NULL;
    rc = arca_cas_proposal_vote(&f->cas, CREATOR, id, &v, &a);
    if (ans != NULL)
        *ans = a;
    else
        json_decref(a);
    arca_buf_free(&sig);
    arca_buf_free(&pem);
    return rc;
}

static const char *state_of(const json_t *a)
{
    return json_string_value(json_object_get(a, ARCA_PROP_STATE));
}

static void test_quorum_applies(void **state)
{
    struct fix *f = *state;
    struct board b;
    board_new(&b);
    char t[4096], id[65];
    uint8_t h1[32];
    text(t, sizeof(t), "pq", &b, 12, false, NULL);
    create(f, t, h1);
    text(t, sizeof(t), "pq", &b, 16, false, h1);
    json_t *a = submit(f, t, id);
    assert_string_equal(state_of(a), "open");
    /* never a secret value in what members see */
    char *dump = json_dumps(a, 0);
    assert_null(strstr(dump, EXPLICIT));
    assert_non_null(strstr(dump, "generated"));
    free(dump);
    json_decref(a);
    assert_int_equal(vote(f, id, b.k[0], true, NULL, &a), 0);
    assert_string_equal(state_of(a), "open");
    json_decref(a);
    assert_int_equal(vote(f, id, b.k[0], true, NULL, &a), 0); /* counted once */
    assert_string_equal(state_of(a), "open");
    assert_int_equal(json_array_size(json_object_get(a, ARCA_PROP_VOTES)), 1);
    json_decref(a);
    assert_int_equal(vote(f, id, b.k[1], true, NULL, &a), 0);
    assert_string_equal(state_of(a), "applied");
    const char *ph = json_string_value(json_object_get(a, ARCA_PROP_HASH));
    struct arca_store_session *act = NULL;
    assert_int_equal(arca_store_session_get_active(f->store, "pq", &act), 0);
    char ah[65];
    arca_hex_fmt(ah, act->hash, 32);
    assert_string_equal(ah, ph);
    assert_int_equal(act->version, 2);
    arca_store_session_free(act);
    json_decref(a);
    /* applied: no more votes */
    assert_int_equal(vote(f, id, b.k[2], true, NULL, NULL), ARCA_ERR_CONFLICT);
    board_free(&b);
}

static void test_refusals_and_strangers(void **state)
{
    struct fix *f = *state;
    struct board b, other;
    board_new(&b);
    board_new(&other);
    char t[4096], id[65];
    uint8_t h1[32], zero[32] = {0};
    text(t, sizeof(t), "pr", &b, 12, false, NULL);
    create(f, t, h1);
    text(t, sizeof(t), "pr", &b, 14, false, h1);
    json_decref(submit(f, t, id));
    assert_int_equal(vote(f, id, other.k[0], true, NULL, NULL), ARCA_ERR_DENIED);
    assert_non_null(strstr(arca_err_detail(), "not named by access_policy.update"));
    assert_int_equal(vote(f, id, b.k[0], true, zero, NULL), ARCA_ERR_SIGNATURE);
    /* a stranger sees nothing, answered exactly as a missing proposal */
    json_t *a = NULL;
    assert_int_equal(arca_cas_proposal_show(&f->cas, STRANGER, id, &a), ARCA_ERR_NOT_FOUND);
    char d1[600], d2[600];
    snprintf(d1, sizeof(d1), "%s", arca_err_detail());
    assert_int_equal(arca_cas_proposal_show(&f->cas, STRANGER, "00ff", &a), ARCA_ERR_NOT_FOUND);
    snprintf(d2, sizeof(d2), "%s", arca_err_detail());
    assert_non_null(strstr(d1, id));
    assert_non_null(strstr(d2, "00ff"));
    assert_int_equal(arca_cas_proposal_list(&f->cas, STRANGER, NULL, &a), 0);
    assert_int_equal(json_array_size(json_object_get(a, ARCA_PROP_PROPOSALS)), 0);
    json_decref(a);
    /* a stranger cannot propose on a session it cannot see */
    bool invalid = false;
    struct arca_diag d;
    arca_diag_init(&d);
    text(t, sizeof(t), "pr", &b, 15, false, h1);
    assert_int_equal(
        arca_cas_proposal_submit(&f->cas, NULL, STRANGER, t, strlen(t), &d, &invalid, &a),
        ARCA_ERR_NOT_FOUND);
    /* the same version twice is refused */
    text(t, sizeof(t), "pr", &b, 14, false, h1);
    assert_int_equal(
        arca_cas_proposal_submit(&f->cas, NULL, CREATOR, t, strlen(t), &d, &invalid, &a),
        ARCA_ERR_EXISTS);
    arca_diag_free(&d);
    board_free(&b);
    board_free(&other);
}

static void test_stale_and_veto(void **state)
{
    struct fix *f = *state;
    struct board b;
    board_new(&b);
    char t[4096], id1[65], id2[65], id3[65];
    uint8_t h1[32];
    text(t, sizeof(t), "ps", &b, 12, false, NULL);
    create(f, t, h1);
    text(t, sizeof(t), "ps", &b, 13, false, h1);
    json_decref(submit(f, t, id1));
    text(t, sizeof(t), "ps", &b, 14, false, h1);
    json_decref(submit(f, t, id2));
    assert_int_equal(vote(f, id1, b.k[0], true, NULL, NULL), 0);
    assert_int_equal(vote(f, id1, b.k[2], true, NULL, NULL), 0);
    json_t *a = NULL;
    assert_int_equal(vote(f, id2, b.k[1], true, NULL, NULL), ARCA_ERR_CONFLICT);
    assert_non_null(strstr(arca_err_detail(), "stale"));
    /* veto: the update rule of the ACTIVE version (2 of 3) judges, not the proposed one */
    struct arca_store_session *act = NULL;
    assert_int_equal(arca_store_session_get_active(f->store, "ps", &act), 0);
    text(t, sizeof(t), "ps", &b, 18, true, act->hash);
    arca_store_session_free(act);
    json_decref(submit(f, t, id3));
    assert_int_equal(vote(f, id3, b.k[0], false, NULL, &a), 0);
    assert_string_equal(state_of(a), "open"); /* one of a 2-of-3 board: still possible */
    json_decref(a);
    assert_int_equal(vote(f, id3, b.k[1], false, NULL, &a), 0);
    assert_string_equal(state_of(a), "rejected");
    assert_non_null(
        strstr(json_string_value(json_object_get(a, ARCA_PROP_REASON)), "not like this"));
    json_decref(a);
    assert_int_equal(vote(f, id3, b.k[2], true, NULL, NULL), ARCA_ERR_CONFLICT);
    board_free(&b);
}

static void test_survives_reopen(void **state)
{
    struct fix *f = *state;
    struct board b;
    board_new(&b);
    char t[4096], id[65];
    uint8_t h1[32];
    text(t, sizeof(t), "pro", &b, 12, false, NULL);
    create(f, t, h1);
    text(t, sizeof(t), "pro", &b, 17, false, h1);
    json_decref(submit(f, t, id));
    assert_int_equal(vote(f, id, b.k[0], true, NULL, NULL), 0);
    arca_store_close(f->store);
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &f->store), 0);
    f->cas.store = f->store;
    json_t *a = NULL;
    assert_int_equal(arca_cas_proposal_show(&f->cas, CREATOR, id, &a), 0);
    assert_int_equal(json_array_size(json_object_get(a, ARCA_PROP_VOTES)), 1);
    json_decref(a);
    assert_int_equal(vote(f, id, b.k[1], true, NULL, &a), 0);
    assert_string_equal(state_of(a), "applied");
    json_decref(a);
    board_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quorum_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_strangers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_and_veto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
