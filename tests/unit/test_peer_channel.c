/*
 * The peer channel's server side and evidence checks (peer/peer.h) without a network: the
 * hello answer checked as a client checks it; a call accepted once (its nonce used up); every
 * refusal in its place: simulation not allowed, evidence for another key, another nonce,
 * another route, a nonce we did not issue, no TLS certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "evidence/claims.h"
#include "evidence/sim.h"
#include "peer/peer.h"
#include "store/store.h"
#include "store_test_util.h"
#include "test_util.h"

#define NOW 1800000000
#define ROUTE "/v1/peer/test"

struct fx {
    char *dir;
    struct arca_store_fixed_sealer fs;
    struct arca_store *store;
    struct arca_sim_platform *sim;
    struct arca_attest_ctx nonces;
    struct arca_attest_verify_cfg verify;
    struct arca_key *key, *other;
    struct arca_buf spki, spki_other;
    struct arca_peer_self self;
    uint8_t measurement[32];
};

static int sim_evidence(void *arg, const uint8_t rd[64], int *type, struct arca_buf *ev)
{
    struct fx *f = arg;
    *type = ARCA_EVIDENCE_SIM;
    return arca_sim_evidence_make(f->sim, f->measurement, rd, ev);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 9);
    arca_store_fixed_sealer_init(&f->fs, k);
    char sim[600];
    snprintf(sim, sizeof(sim), "%s/sim", f->dir);
    arca_buf_init(&f->spki, 0);
    arca_buf_init(&f->spki_other, 0);
    if (test_store_open(f->dir, &f->fs, true, &f->store) != 0 ||
        arca_sim_platform_open(sim, &f->sim) != 0 || arca_attest_ctx_init(&f->nonces, 60) != 0 ||
        arca_key_generate(ARCA_KEY_P256, &f->key) != 0 ||
        arca_key_generate(ARCA_KEY_P256, &f->other) != 0 ||
        arca_key_spki_der(f->key, &f->spki) != 0 ||
        arca_key_spki_der(f->other, &f->spki_other) != 0) {
        fprintf(stderr, "setup: %s\n", arca_err_detail());
        return -1;
    }
    memset(f->measurement, 0x42, 32);
    f->nonces.store = f->store;
    f->verify.allow_simulation = true;
    f->self = (struct arca_peer_self){
        .key = f->key, .evidence = sim_evidence, .evidence_arg = f, .verify = &f->verify};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    arca_attest_ctx_clear(&f->nonces);
    arca_buf_free(&f->spki);
    arca_buf_free(&f->spki_other);
    arca_key_free(f->key);
    arca_key_free(f->other);
    arca_sim_platform_free(f->sim);
    arca_store_close(f->store);
    arca_store_fixed_sealer_wipe(&f->fs);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

/* A call message for route with our evidence bound to spki and the server's nonce. */
static json_t *call_msg(struct fx *f, const struct arca_buf *spki, const uint8_t nonce[32],
                        const char *route)
{
    char hex[65];
    arca_hex_fmt(hex, nonce, 32);
    json_t *m = json_pack("{s:s, s:{s:s}}", "nonce", hex, "body", "k", "v");
    assert_int_equal(arca_peer_evidence_put(&f->self, spki->data, spki->len, nonce, route, m), 0);
    return m;
}

static void hello_is_checked_by_the_client(void **state)
{
    struct fx *f = *state;
    uint8_t mine[32];
    memset(mine, 7, sizeof(mine));
    char hex[65];
    arca_hex_fmt(hex, mine, 32);
    json_t *body = json_pack("{s:s}", "nonce", hex), *a = NULL;
    assert_int_equal(arca_peer_hello(&f->self, &f->nonces, body, NOW, &a), 0);
    struct arca_peer_identity who;
    assert_int_equal(arca_peer_evidence_check(&f->verify, a, f->spki.data, f->spki.len, mine,
                                              ARCA_PEER_HELLO_ROUTE, NOW, &who),
                     0);
    uint8_t kid[32];
    arca_key_id(f->key, kid);
    assert_memory_equal(who.cas_key, kid, 32);
    assert_memory_equal(who.measurement, f->measurement, 32);
    assert_true(who.insecure);
    /* Another key (a relay presenting its own TLS key), another nonce, another route. */
    assert_err(arca_peer_evidence_check(&f->verify, a, f->spki_other.data, f->spki_other.len, mine,
                                        ARCA_PEER_HELLO_ROUTE, NOW, &who),
               ARCA_ERR_POLICY, "does not bind");
    uint8_t other[32];
    memset(other, 8, sizeof(other));
    assert_err(arca_peer_evidence_check(&f->verify, a, f->spki.data, f->spki.len, other,
                                        ARCA_PEER_HELLO_ROUTE, NOW, &who),
               ARCA_ERR_POLICY, "does not bind");
    assert_err(
        arca_peer_evidence_check(&f->verify, a, f->spki.data, f->spki.len, mine, ROUTE, NOW, &who),
        ARCA_ERR_POLICY, "does not bind");
    /* An importer that does not allow simulation refuses the simulated arcad. */
    struct arca_attest_verify_cfg strict = {.allow_simulation = false};
    assert_err(arca_peer_evidence_check(&strict, a, f->spki.data, f->spki.len, mine,
                                        ARCA_PEER_HELLO_ROUTE, NOW, &who),
               ARCA_ERR_INSECURE, "");
    json_decref(a);
    json_decref(body);
}

static void call_accepted_once(void **state)
{
    struct fx *f = *state;
    struct arca_challenge_answer ch;
    assert_int_equal(arca_attest_challenge(&f->nonces, NOW, &ch), 0);
    json_t *m = call_msg(f, &f->spki, ch.nonce, ROUTE);
    struct arca_peer_identity who;
    const json_t *payload = NULL;
    assert_int_equal(arca_peer_accept(&f->self, &f->nonces, f->spki.data, f->spki.len, ROUTE, m,
                                      NOW, &who, &payload),
                     0);
    assert_string_equal(json_string_value(json_object_get(payload, "k")), "v");
    /* Replayed. */
    assert_err(arca_peer_accept(&f->self, &f->nonces, f->spki.data, f->spki.len, ROUTE, m, NOW,
                                &who, &payload),
               ARCA_ERR_REPLAY, "used already");
    json_decref(m);
}

static void call_refusals(void **state)
{
    struct fx *f = *state;
    struct arca_peer_identity who;
    const json_t *payload = NULL;
    struct arca_challenge_answer ch;
    assert_int_equal(arca_attest_challenge(&f->nonces, NOW, &ch), 0);
    json_t *m = call_msg(f, &f->spki, ch.nonce, ROUTE);
    /* No certificate; another TLS key; another route; a nonce we did not issue; expired. */
    assert_err(arca_peer_accept(&f->self, &f->nonces, NULL, 0, ROUTE, m, NOW, &who, &payload),
               ARCA_ERR_UNAUTHENTICATED, "no TLS certificate");
    assert_err(arca_peer_accept(&f->self, &f->nonces, f->spki_other.data, f->spki_other.len, ROUTE,
                                m, NOW, &who, &payload),
               ARCA_ERR_POLICY, "does not bind");
    assert_err(arca_peer_accept(&f->self, &f->nonces, f->spki.data, f->spki.len, "/v1/peer/other",
                                m, NOW, &who, &payload),
               ARCA_ERR_POLICY, "does not bind");
    assert_true(arca_peer_accept(&f->self, &f->nonces, f->spki.data, f->spki.len, ROUTE, m,
                                 NOW + 3600, &who, &payload) < 0);
    uint8_t forged[32];
    memset(forged, 3, sizeof(forged));
    json_t *m2 = call_msg(f, &f->spki, forged, ROUTE);
    assert_true(arca_peer_accept(&f->self, &f->nonces, f->spki.data, f->spki.len, ROUTE, m2, NOW,
                                 &who, &payload) < 0);
    /* The refusals above did not use the nonce up: the right call still goes through. */
    assert_int_equal(arca_peer_accept(&f->self, &f->nonces, f->spki.data, f->spki.len, ROUTE, m,
                                      NOW, &who, &payload),
                     0);
    json_decref(m);
    json_decref(m2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hello_is_checked_by_the_client, setup, teardown),
        cmocka_unit_test_setup_teardown(call_accepted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(call_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
