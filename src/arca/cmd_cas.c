/*
 * arca cas attest HOST:PORT [--accept-simulation] [--measurement HEX]...: verifies arcad's own
 * evidence for a fresh nonce and pins its key; arca cas show: the pinned CAS.
 *
 * Attestation protocol (docs/api.md, GET /v1/attest): the answer carries the CAS key's SPKI and
 * evidence whose REPORTDATA = SHA-512("arca-attest-v1" || SPKI || nonce). The CLI checks the
 * evidence, the binding to its own nonce, that SHA-256(SPKI) is the CAS key it announces, and
 * then proves the TLS endpoint holds that key by a second, pinned request. Only then is the key
 * recorded; every later connection is pinned to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "client.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"

#define MAX_MEASUREMENTS 16

static void cas_usage(FILE *f)
{
    fprintf(f, "usage: arca cas attest [HOST:PORT] [--accept-simulation] [--measurement HEX]...\n"
               "       arca cas show [-o json]\n\n"
               "attest verifies the CAS's evidence for a fresh nonce and pins its key for all\n"
               "later commands (it becomes the default CAS); without HOST:PORT it attests the\n"
               "--cas / $ARCA_CAS address. Simulated evidence is INSECURE and accepted only with\n"
               "--accept-simulation; --measurement (up to 16 times) restricts the accepted\n"
               "measurements of the arcad binary.\n"
               "show prints the pinned key of the CAS (--cas, else the default one).\n"
               "Exit codes: 0 ok, 1 not verified or not pinned, 2 usage, 3 CAS unreachable.\n");
}

static int verify_answer(json_t *a, const uint8_t nonce[32], bool accept_sim, uint8_t (*meas)[32],
                         size_t nmeas, uint8_t cas_key[32], char measurement_hex[65])
{
    const char *type = json_string_value(json_object_get(a, "type"));
    const char *ev64 = json_string_value(json_object_get(a, "evidence"));
    const char *spki64 = json_string_value(json_object_get(a, "spki"));
    const char *key_hex = json_string_value(json_object_get(a, "cas_key"));
    ARCA_ENSURE(type != NULL && ev64 != NULL && spki64 != NULL && key_hex != NULL, ARCA_ERR_FORMAT,
                "attestation answer lacks type, evidence, spki or cas_key");
    ARCA_ENSURE(strcmp(type, "sim") == 0, ARCA_ERR_UNSUPPORTED,
                "evidence type '%s' is not supported by this CLI yet", type);
    ARCA_ENSURE(accept_sim, ARCA_ERR_INSECURE,
                "the CAS offers only INSECURE simulated evidence; pass --accept-simulation if "
                "this is a development setup");
    struct arca_buf ev, spki;
    arca_buf_init(&ev, ARCA_SIM_MAX_EVIDENCE);
    arca_buf_init(&spki, 1 << 16);
    int rc = 0;
    struct arca_claims claims;
    memset(&claims, 0, sizeof(claims));
    uint8_t rd[64], kid[32];
    ARCA_GUARD(rc, arca_base64_decode(&ev, ev64, strlen(ev64)), out);
    ARCA_GUARD(rc, arca_base64_decode(&spki, spki64, strlen(spki64)), out);
    ARCA_GUARD(rc, arca_sim_evidence_verify(ev.data, ev.len, &claims), out);
    ARCA_GUARD(rc, arca_launch_binding(spki.data, spki.len, nonce, "", rd), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(rd, claims.report_data, 64), out, ARCA_ERR_POLICY,
                      "evidence REPORTDATA does not bind the CAS key and our nonce (replayed or "
                      "forged evidence)");
    ARCA_GUARD(rc, arca_sha256(spki.data, spki.len, kid), out);
    ARCA_GUARD(rc, arca_hex_decode_fixed(cas_key, 32, key_hex, strlen(key_hex)), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(kid, cas_key, 32), out, ARCA_ERR_POLICY,
                      "the announced CAS key is not the hash of the attested key");
    if (nmeas > 0) {
        bool hit = false;
        for (size_t i = 0; i < nmeas; i++)
            hit = hit || arca_memeq(meas[i], claims.mrenclave, 32);
        char m[65];
        arca_hex_fmt(m, claims.mrenclave, 32);
        ARCA_GUARD_ENSURE(rc, hit, out, ARCA_ERR_POLICY,
                          "CAS measurement %s is not one of the expected --measurement values", m);
    }
    arca_hex_fmt(measurement_hex, claims.mrenclave, 32);
out:
    arca_buf_free(&ev);
    arca_buf_free(&spki);
    return rc;
}

static int cas_attest(struct arca_cli *cli, int argc, char **argv)
{
    const char *addr = NULL;
    bool accept_sim = false;
    uint8_t meas[MAX_MEASUREMENTS][32];
    size_t nmeas = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--accept-simulation") == 0) {
            accept_sim = true;
        } else if (strcmp(argv[i], "--measurement") == 0) {
            if (i + 1 >= argc || nmeas >= MAX_MEASUREMENTS ||
                arca_hex_decode_fixed(meas[nmeas], 32, argv[i + 1], strlen(argv[i + 1])) < 0)
                return cli_fail(ARCA_EXIT_USAGE, "--measurement needs 64 hex digits");
            nmeas++;
            i++;
        } else if (argv[i][0] == '-') {
            return cli_fail(ARCA_EXIT_USAGE, "cas attest: unknown option '%s'", argv[i]);
        } else if (addr == NULL) {
            addr = argv[i];
        } else {
            return cli_fail(ARCA_EXIT_USAGE, "cas attest: unexpected argument '%s'", argv[i]);
        }
    }
    if (addr == NULL)
        addr = cli->cas;
    if (addr == NULL)
        return cli_fail(ARCA_EXIT_USAGE, "cas attest: which CAS? give HOST:PORT");

    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], cas_key[32];
    char nonce_hex[2 * ARCA_LAUNCH_NONCE_LEN + 1], path[256], mhex[65] = "";
    struct arca_client *c = NULL;
    json_t *a = NULL, *v = NULL, *db = NULL;
    long status = 0;
    int rc = arca_random(nonce, sizeof(nonce));
    if (rc == 0) {
        arca_hex_fmt(nonce_hex, nonce, sizeof(nonce));
        snprintf(path, sizeof(path), "/v1/attest?nonce=%s", nonce_hex);
        rc = arca_client_open_addr(cli, addr, NULL, false, &c);
    }
    if (rc == 0)
        rc = arca_client_json(c, "GET", path, NULL, 0, &status, &a);
    arca_client_free(c);
    c = NULL;
    if (rc < 0)
        goto fail;
    rc = verify_answer(a, nonce, accept_sim, meas, nmeas, cas_key, mhex);
    if (rc < 0)
        goto fail;
    /* Prove the TLS endpoint holds the attested key before recording it. */
    rc = arca_client_open_addr(cli, addr, cas_key, false, &c);
    if (rc == 0)
        rc = arca_client_json(c, "GET", "/v1/version", NULL, 0, &status, &v);
    arca_client_free(c);
    if (rc < 0)
        goto fail;
    rc = arca_cas_db_load(cli, &db);
    if (rc < 0)
        goto fail;
    char khex[65], t[ARCA_TIME_RFC3339_LEN];
    arca_hex_fmt(khex, cas_key, 32);
    arca_time_format_rfc3339(arca_time_now(), t);
    json_object_set_new(json_object_get(db, "cas"), addr,
                        json_pack("{s:s, s:s, s:s, s:s, s:b}", "cas_key", khex, "measurement", mhex,
                                  "evidence_type", "sim", "attested_at", t, "insecure", 1));
    json_object_set_new(db, "default", json_string(addr));
    rc = arca_cas_db_save(cli, db);
    if (rc < 0)
        goto fail;
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "address", addr, "cas_key", khex,
                              "measurement", mhex, "evidence_type", "sim", "insecure", 1);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("WARNING: %s runs on INSECURE simulated evidence (no TEE)\n"
               "attested CAS %s\nCAS key: %s\nmeasurement: %s\n",
               addr, addr, khex, mhex);
    }
    json_decref(a);
    json_decref(v);
    json_decref(db);
    return ARCA_EXIT_OK;
fail:
    json_decref(a);
    json_decref(v);
    json_decref(db);
    return cli_fail(arca_client_exit_code(rc), "cas attest %s: %s", addr, arca_err_detail());
}

static int cas_show(struct arca_cli *cli)
{
    json_t *db = NULL;
    int rc = arca_cas_db_load(cli, &db);
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "cas show: %s", arca_err_detail());
    const char *addr =
        cli->cas != NULL ? cli->cas : json_string_value(json_object_get(db, "default"));
    json_t *e = addr != NULL ? json_object_get(json_object_get(db, "cas"), addr) : NULL;
    if (e == NULL) {
        json_decref(db);
        return cli_fail(ARCA_EXIT_FAIL, "no attested CAS%s%s: run `arca cas attest HOST:PORT`",
                        addr ? " for " : "", addr ? addr : "");
    }
    const char *key = json_string_value(json_object_get(e, "cas_key"));
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s, s:s}", "address", addr, "cas_key", key ? key : "");
        json_object_set(o, "measurement", json_object_get(e, "measurement"));
        json_object_set(o, "attested_at", json_object_get(e, "attested_at"));
        json_object_set(o, "insecure", json_object_get(e, "insecure"));
        cli_print_json(o);
        json_decref(o);
    } else {
        uint8_t kid[32];
        struct arca_buf b;
        arca_buf_init(&b, 128);
        if (key != NULL && arca_hex_decode_fixed(kid, 32, key, strlen(key)) == 0)
            arca_base58check_encode(&b, ARCA_KEYHASH_B58_VERSION, kid, 32);
        printf("address:      %s\nCAS key:      %s\nCAS key b58:  %s\n", addr, key ? key : "?",
               arca_buf_cstr(&b));
        arca_buf_free(&b);
    }
    json_decref(db);
    return ARCA_EXIT_OK;
}

static int cas_show_cmd(struct arca_cli *cli, int argc, char **argv)
{
    if (argc > 1)
        return cli_fail(ARCA_EXIT_USAGE, "cas show: unknown argument '%s'", argv[1]);
    return cas_show(cli);
}

int cmd_cas(struct arca_cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"attest", cas_attest}, {"show", cas_show_cmd}};
    return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), cas_usage, argc, argv);
}
