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

#include "api/client_api.h"
#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "client.h"
#include "cmd_owner.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"

static void cas_usage(FILE *f)
{
    fprintf(f, "usage: arca cas attest [HOST:PORT] [--accept-simulation] [--measurement HEX]...\n"
               "       arca cas show [-o json] [--session-encryption-key]\n"
               "       arca cas provision HOST:PORT --token T --owner-config FILE\n"
               "                          [--skip-if-provisioned] [--accept-simulation]\n"
               "                          [--measurement HEX]...\n"
               "       arca cas register-upgrade --measurement HEX\n"
               "       arca cas register-backup --cas-key HEX [--revoke]\n"
               "       arca cas owner [--set-config FILE] [-o json]\n"
               "       arca cas rotate-key\n"
               "       arca cas audit-checkpoint [-o json]\n"
               "       arca cas snapshot [-o json]\n\n"
               "attest verifies the CAS's evidence for a fresh nonce and pins its key for all\n"
               "later commands (it becomes the default CAS); without HOST:PORT it attests the\n"
               "--cas / $ARCA_CAS address. Simulated evidence is INSECURE and accepted only with\n"
               "--accept-simulation; --measurement (up to 16 times) restricts the accepted\n"
               "measurements of the arcad binary.\n"
               "show prints the pinned key of the CAS (--cas, else the default one); with\n"
               "--session-encryption-key the attested CAS's X25519 key for `session encrypt`.\n"
               "provision attests the CAS like attest, then makes this client's key its owner\n"
               "with the one-time token arcad printed and the owner configuration FILE.\n"
               "register-upgrade / register-backup (owner only) let a new arcad build (by\n"
               "measurement) or another machine's arcad (by CAS key) take over the data.\n"
               "owner shows the owner record (owner only), or replaces the configuration.\n"
               "rotate-key (owner only) re-encrypts every record under a new database key.\n"
               "audit-checkpoint (owner only) prints the latest audit checkpoint as SEQ:SIG\n"
               "for `arca audit verify --checkpoint`.\n"
               "snapshot (owner only) writes a consistent sealed copy of the data directory\n"
               "on the CAS host (DATA_DIR/snapshots/...) while it serves.\n"
               "Exit codes: 0 ok, 1 not verified or not pinned, 2 usage, 3 CAS unreachable.\n");
}

static int verify_answer(json_t *a, const uint8_t nonce[32], bool accept_sim,
                         const uint8_t (*meas)[32], size_t nmeas, uint8_t cas_key[32],
                         char measurement_hex[65])
{
    struct arca_api_cas_evidence e;
    arca_api_cas_evidence_init(&e);
    struct arca_claims claims;
    memset(&claims, 0, sizeof(claims));
    uint8_t rd[64], kid[32];
    int rc = 0;
    ARCA_GUARD(rc, arca_api_cas_evidence_from_json(a, &e), out);
    ARCA_GUARD_ENSURE(rc, strcmp(e.type, ARCA_API_EVIDENCE_SIM) == 0, out, ARCA_ERR_UNSUPPORTED,
                      "evidence type '%s' is not supported by this CLI yet", e.type);
    ARCA_GUARD_ENSURE(rc, accept_sim, out, ARCA_ERR_INSECURE,
                      "the CAS offers only INSECURE simulated evidence; pass --accept-simulation "
                      "if this is a development setup");
    ARCA_GUARD_ENSURE(rc, e.evidence.len <= ARCA_SIM_MAX_EVIDENCE, out, ARCA_ERR_TOO_LARGE,
                      "attestation answer: evidence larger than %d bytes", ARCA_SIM_MAX_EVIDENCE);
    ARCA_GUARD(rc, arca_sim_evidence_verify(e.evidence.data, e.evidence.len, &claims), out);
    ARCA_GUARD(rc, arca_launch_binding(e.spki.data, e.spki.len, nonce, "", rd), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(rd, claims.report_data, 64), out, ARCA_ERR_POLICY,
                      "evidence REPORTDATA does not bind the CAS key and our nonce (replayed or "
                      "forged evidence)");
    ARCA_GUARD(rc, arca_sha256(e.spki.data, e.spki.len, kid), out);
    memcpy(cas_key, e.cas_key, 32);
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
    arca_api_cas_evidence_clear(&e);
    return rc;
}

/* Warns on stderr when addr has a pinned key other than khex: the CAS changed its key (a new
 * installation, or someone else answering at that address) and attesting pins the new one. */
static void warn_if_repinning(json_t *db, const char *addr, const char *khex)
{
    const char *old = json_string_value(
        json_object_get(json_object_get(json_object_get(db, "cas"), addr), "cas_key"));
    if (old != NULL && strcmp(old, khex) != 0)
        fprintf(stderr,
                "arca: warning: CAS %s was pinned to key %s; replacing it with the newly attested "
                "key %s\n",
                addr, old, khex);
}

int cas_take_arg(const char *cmd, struct cas_attest_opts *o, int argc, char **argv, int *i,
                 const char **addr)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--accept-simulation") == 0) {
        o->accept_sim = true;
    } else if (strcmp(arg, "--measurement") == 0) {
        if (*i + 1 >= argc || o->nmeas >= CAS_MAX_MEASUREMENTS ||
            arca_hex_decode_fixed(o->meas[o->nmeas], 32, argv[*i + 1], strlen(argv[*i + 1])) < 0)
            return cli_fail(ARCA_EXIT_USAGE, "--measurement needs 64 hex digits");
        o->nmeas++;
        (*i)++;
    } else if (arg[0] == '-') {
        return cli_fail(ARCA_EXIT_USAGE, "cas %s: unknown option '%s'", cmd, arg);
    } else if (*addr != NULL) {
        return cli_fail(ARCA_EXIT_USAGE, "cas %s: unexpected argument '%s'", cmd, arg);
    } else {
        *addr = arg;
    }
    return ARCA_EXIT_OK;
}

static int cas_attest(struct arca_cli *cli, int argc, char **argv)
{
    const char *addr = NULL;
    struct cas_attest_opts o = {0};
    for (int i = 1; i < argc; i++) {
        int ex = cas_take_arg("attest", &o, argc, argv, &i, &addr);
        if (ex != ARCA_EXIT_OK)
            return ex;
    }
    if (addr == NULL)
        addr = cli->cas;
    if (addr == NULL)
        return cli_fail(ARCA_EXIT_USAGE, "cas attest: which CAS? give HOST:PORT");
    uint8_t cas_key[32];
    return cas_attest_pin(cli, addr, &o, cas_key);
}

int cas_attest_pin(struct arca_cli *cli, const char *addr, const struct cas_attest_opts *o,
                   uint8_t cas_key[32])
{
    bool accept_sim = o->accept_sim;
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
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
    rc = verify_answer(a, nonce, accept_sim, o->meas, o->nmeas, cas_key, mhex);
    if (rc < 0)
        goto fail;
    /* Prove the TLS endpoint holds the attested key before recording it. */
    rc = arca_client_open_addr(cli, addr, cas_key, false, &c);
    if (rc == 0)
        rc = arca_client_json(c, "GET", "/v1/version", NULL, 0, &status, &v);
    arca_client_free(c);
    struct arca_api_cas_version ver;
    if (rc == 0)
        rc = arca_api_cas_version_from_json(v, &ver);
    if (rc == 0 && !arca_memeq(ver.cas_key, cas_key, 32))
        rc = arca_err_set(ARCA_ERR_POLICY, "the CAS announces another key than the attested one");
    if (rc < 0)
        goto fail;
    rc = arca_cas_db_load(cli, &db);
    if (rc < 0)
        goto fail;
    char khex[65], t[ARCA_TIME_RFC3339_LEN];
    arca_hex_fmt(khex, cas_key, 32);
    arca_time_format_rfc3339(arca_time_now(), t);
    warn_if_repinning(db, addr, khex);
    json_object_set_new(json_object_get(db, "cas"), addr,
                        json_pack("{s:s, s:s, s:s, s:s, s:b}", "cas_key", khex, "measurement", mhex,
                                  "evidence_type", ARCA_API_EVIDENCE_SIM, "attested_at", t,
                                  "insecure", 1));
    json_object_set_new(db, "default", json_string(addr));
    rc = arca_cas_db_save(cli, db);
    if (rc < 0)
        goto fail;
    if (o->quiet) {
        /* the caller reports */
    } else if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:s, s:b}", "address", addr, "cas_key", khex, "measurement",
                      mhex, "evidence_type", ARCA_API_EVIDENCE_SIM, "insecure", 1);
        cli_print_json(j);
        json_decref(j);
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
    if (argc == 2 && strcmp(argv[1], "--session-encryption-key") == 0)
        return cas_show_session_key(cli); /* cmd_encrypt.c */
    if (argc > 1)
        return cli_fail(ARCA_EXIT_USAGE, "cas show: unknown argument '%s'", argv[1]);
    return cas_show(cli);
}

int cmd_cas(struct arca_cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"attest", cas_attest},
                                          {"show", cas_show_cmd},
                                          {"provision", cas_provision},
                                          {"register-upgrade", cas_register_upgrade},
                                          {"register-backup", cas_register_backup},
                                          {"owner", cas_owner},
                                          {"rotate-key", cas_rotate_key},
                                          {"audit-checkpoint", cas_audit_checkpoint},
                                          {"snapshot", cas_snapshot}};
    return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), cas_usage, argc, argv);
}
