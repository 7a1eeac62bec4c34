/* The owner board: the operation message binds every field, and the N-of-board check counts
 * distinct board signers, names the missing ones, and refuses outsiders and other messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "owner/board.h"

struct signer {
    struct arca_key *k;
    struct arca_buf spki;
    struct arca_buf sig;
    uint8_t id[32];
};

static void signer_new(struct signer *s, enum arca_key_type t)
{
    assert_int_equal(arca_key_generate(t, &s->k), 0);
    arca_buf_init(&s->spki, 0);
    arca_buf_init(&s->sig, 0);
    assert_int_equal(arca_key_spki_der(s->k, &s->spki), 0);
    assert_int_equal(arca_key_id(s->k, s->id), 0);
}

static struct arca_approval_sig sign(struct signer *s, const uint8_t msg[32])
{
    arca_buf_reset(&s->sig);
    assert_int_equal(arca_approval_sign(s->k, msg, &s->sig), 0);
    return (struct arca_approval_sig){s->spki.data, s->spki.len, s->sig.data, s->sig.len};
}

static void signer_free(struct signer *s)
{
    arca_key_free(s->k);
    arca_buf_free(&s->spki);
    arca_buf_free(&s->sig);
}

static void test_message(void **state)
{
    (void)state;
    uint8_t cas[32], other[32], a[32], b[32];
    memset(cas, 1, 32);
    memset(other, 2, 32);
    assert_int_equal(arca_owner_op_message(cas, "config", "x", 1, 7, a), 0);
    assert_int_equal(arca_owner_op_message(cas, "config", "x", 1, 7, b), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(arca_owner_op_message(cas, "config", "x", 1, 8, b), 0);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(arca_owner_op_message(other, "config", "x", 1, 7, b), 0);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(arca_owner_op_message(cas, "configx", "", 0, 7, b), 0);
    assert_memory_not_equal(a, b, 32); /* lv: no shifting bytes between fields */
    assert_int_equal(arca_owner_op_message(cas, "snapshot", NULL, 0, 7, b), 0);
}

static void test_two_of_three(void **state)
{
    (void)state;
    struct signer s[4];
    signer_new(&s[0], ARCA_KEY_P256);
    signer_new(&s[1], ARCA_KEY_ED25519);
    signer_new(&s[2], ARCA_KEY_P384);
    signer_new(&s[3], ARCA_KEY_P256); /* not on the board */
    struct arca_owner_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.board_require = 2;
    cfg.n_board = 3;
    for (int i = 0; i < 3; i++)
        memcpy(cfg.board[i], s[i].id, 32);
    uint8_t cas[32], msg[32], old[32];
    memset(cas, 9, 32);
    assert_int_equal(arca_owner_op_message(cas, "rotate-key", NULL, 0, 4, old), 0);
    assert_int_equal(arca_owner_op_message(cas, "rotate-key", NULL, 0, 5, msg), 0);

    struct arca_approval_sig sigs[3];
    sigs[0] = sign(&s[0], msg);
    assert_int_equal(arca_owner_board_check(&cfg, msg, sigs, 1, "rotate-key"), ARCA_ERR_DENIED);
    char hex[65];
    arca_hex_fmt(hex, s[1].id, 32);
    assert_non_null(strstr(arca_err_detail(), "needs 2 of 3"));
    assert_non_null(strstr(arca_err_detail(), hex));
    arca_hex_fmt(hex, s[0].id, 32);
    assert_null(strstr(strstr(arca_err_detail(), "missing"), hex));
    /* the same signer twice counts once */
    struct arca_approval_sig twice[2] = {sigs[0], sigs[0]};
    assert_int_equal(arca_owner_board_check(&cfg, msg, twice, 2, "rotate-key"), ARCA_ERR_DENIED);

    sigs[1] = sign(&s[1], msg);
    assert_int_equal(arca_owner_board_check(&cfg, msg, sigs, 2, "rotate-key"), 0);
    sigs[2] = sign(&s[2], msg);
    assert_int_equal(arca_owner_board_check(&cfg, msg, sigs, 3, "rotate-key"), 0);
    /* a replay: the same signatures under the next counter */
    assert_int_equal(arca_owner_board_check(&cfg, old, sigs, 2, "rotate-key"), ARCA_ERR_SIGNATURE);
    /* an outsider's signature */
    sigs[2] = sign(&s[3], msg);
    assert_int_equal(arca_owner_board_check(&cfg, msg, sigs, 3, "rotate-key"), ARCA_ERR_DENIED);
    assert_non_null(strstr(arca_err_detail(), "not on the owner board"));
    for (int i = 0; i < 4; i++)
        signer_free(&s[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_two_of_three),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
