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
#include <unistd.h>

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
    fprintf(f, "usage: arca cas attest [HOST:PORT] [--accept-simulation] [--use]\n"
               "                       [--measurement HEX]...\n"
               "       arca cas show [-o json] [--env | --session-encryption-key]\n"
               "       arca cas list [-o json]\n"
               "       arca cas use HOST:PORT\n"
               "       arca cas forget HOST:PORT\n"
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
               "later commands; without HOST:PORT it attests the --cas / $ARCA_CAS address.\n"
               "It becomes the default CAS when there is none (or it is the same CAS at a new\n"
               "address); to replace another default it asks on a terminal, --use answers yes,\n"
               "and without a terminal the default stays. Simulated evidence is INSECURE and\n"
               "accepted only with --accept-simulation; --measurement (up to 16 times)\n"
               "restricts the accepted measurements of the arcad binary.\n"
               "show prints the pinned key of the CAS (--cas, else the default one) and its\n"
               "enclave API address; --env prints ARCA_CAS_ADDR=... and ARCA_CAS_KEY=... lines\n"
               "for arca-run (`export $(arca cas show --env)`); --session-encryption-key the\n"
               "attested CAS's X25519 key for `session encrypt`.\n"
               "list shows every pinned CAS (* marks the default), use makes one the default,\n"
               "forget removes a pin.\n"
               "provision attests the CAS like attest, then makes this client's key its owner\n"
               "with the one-time token arcad printed and the owner configuration FILE.\n"
               "register-upgrade / register-backup (owner only) let a new arcad build (by\n"
               "measurement) or another machine's arcad (by CAS key) take over the data.\n"
               "owner shows the owner record (owner only), or replaces the configuration.\n"
               "rotate-key (owner only) re-encrypts every record under a new database key.\n"
               "audit-checkpoint (owner only) prints the latest audit checkpoint as SEQ:SIG\n"
               "for `arca audit verify --checkpoint` (refused when the owner configuration\n"
               "sets audit.export-checkpoints: false).\n"
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

/* The enclave API address a workload uses (ARCA_CAS_ADDR) from arcad's --enclave-listen: a
 * wildcard host (0.0.0.0, [::]) is replaced by the host the client reached arcad at. */
static void enclave_addr_for(const char *client_addr, const char *listen, char *out, size_t n)
{
    const char *port = strrchr(listen, ':');
    size_t host_len = port != NULL ? (size_t)(port - listen) : 0;
    bool wildcard = host_len == 0 || (host_len == 7 && memcmp(listen, "0.0.0.0", 7) == 0) ||
                    (host_len == 4 && memcmp(listen, "[::]", 4) == 0) ||
                    (host_len == 2 && memcmp(listen, "::", 2) == 0);
    const char *cport = strrchr(client_addr, ':');
    if (port != NULL && wildcard && cport != NULL)
        snprintf(out, n, "%.*s%s", (int)(cport - client_addr), client_addr, port);
    else
        snprintf(out, n, "%s", listen);
}

/* Asks arcad at addr (pinned to cas_key, with this client's identity) for its enclave API
 * address into out. Fails quietly (a negative code) when there is no identity or no answer:
 * callers treat the address as unknown. */
static int learn_enclave_addr(const struct arca_cli *cli, const char *addr,
                              const uint8_t cas_key[32], char *out, size_t n)
{
    struct arca_client *c = NULL;
    json_t *a = NULL;
    long status = 0;
    struct arca_api_status st;
    int rc = arca_client_open_addr(cli, addr, cas_key, true, &c);
    if (rc == 0)
        rc = arca_client_json(c, "GET", "/v1/status", NULL, 0, &status, &a);
    arca_client_free(c);
    if (rc == 0)
        rc = arca_api_status_from_json(a, &st);
    json_decref(a);
    if (rc == 0 && st.enclave_address[0] != '\0')
        enclave_addr_for(addr, st.enclave_address, out, n);
    else if (rc == 0)
        rc = ARCA_ERR_NOT_FOUND;
    arca_err_clear();
    return rc;
}

/* Whether attesting addr (key khex) makes it the default CAS: when there is none yet, when it
 * is the default already or the same CAS (same key) at a new address, with --use, or when the
 * user says yes on a terminal. Otherwise the default stays and stderr says how to change it. */
static bool choose_default(json_t *db, const char *addr, const char *khex, bool use)
{
    const char *cur = json_string_value(json_object_get(db, "default"));
    if (cur == NULL || strcmp(cur, addr) == 0 || use)
        return true;
    const char *cur_key = json_string_value(
        json_object_get(json_object_get(json_object_get(db, "cas"), cur), "cas_key"));
    if (cur_key == NULL || strcmp(cur_key, khex) == 0)
        return true;
    if (isatty(STDIN_FILENO)) {
        fprintf(stderr, "Make %s the default CAS instead of %s? [y/N] ", addr, cur);
        fflush(stderr);
        char line[16] = "";
        if (fgets(line, sizeof(line), stdin) != NULL && (line[0] == 'y' || line[0] == 'Y'))
            return true;
    }
    fprintf(stderr,
            "arca: the default CAS stays %s; `arca cas use %s` (or `cas attest --use`) changes "
            "it\n",
            cur, addr);
    return false;
}

int cas_take_arg(const char *cmd, struct cas_attest_opts *o, int argc, char **argv, int *i,
                 const char **addr)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--accept-simulation") == 0) {
        o->accept_sim = true;
    } else if (strcmp(arg, "--use") == 0) {
        o->use = true;
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
    bool make_default = choose_default(db, addr, khex, o->use);
    json_t *entry =
        json_pack("{s:s, s:s, s:s, s:s, s:b}", "cas_key", khex, "measurement", mhex,
                  "evidence_type", ARCA_API_EVIDENCE_SIM, "attested_at", t, "insecure", 1);
    char enc[300];
    if (entry != NULL && learn_enclave_addr(cli, addr, cas_key, enc, sizeof(enc)) == 0)
        json_object_set_new(entry, "enclave_address", json_string(enc));
    json_object_set_new(json_object_get(db, "cas"), addr, entry);
    if (make_default)
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

/* The pinned entry of the CAS cli names (--cas, else the default) from db (borrowed), with its
 * address; NULL after printing why there is none. */
static json_t *pinned_entry(const struct arca_cli *cli, json_t *db, const char **addr)
{
    *addr = cli->cas != NULL ? cli->cas : json_string_value(json_object_get(db, "default"));
    json_t *e = *addr != NULL ? json_object_get(json_object_get(db, "cas"), *addr) : NULL;
    if (e == NULL)
        cli_fail(ARCA_EXIT_FAIL, "no attested CAS%s%s: run `arca cas attest HOST:PORT`",
                 *addr ? " for " : "", *addr ? *addr : "");
    return e;
}

/* The enclave API address of the pinned CAS addr (entry e): as recorded at attestation, else
 * (when live) asked from arcad now. "" when unknown. */
static void enclave_of(const struct arca_cli *cli, const char *addr, json_t *e, bool live,
                       char *out, size_t n)
{
    const char *rec = json_string_value(json_object_get(e, "enclave_address"));
    const char *key = json_string_value(json_object_get(e, "cas_key"));
    uint8_t kid[32];
    out[0] = '\0';
    if (rec != NULL)
        snprintf(out, n, "%s", rec);
    else if (live && key != NULL && arca_hex_decode_fixed(kid, 32, key, strlen(key)) == 0 &&
             learn_enclave_addr(cli, addr, kid, out, n) < 0)
        out[0] = '\0';
}

static int cas_show(struct arca_cli *cli, bool env)
{
    json_t *db = NULL;
    int rc = arca_cas_db_load(cli, &db);
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "cas show: %s", arca_err_detail());
    const char *addr = NULL;
    json_t *e = pinned_entry(cli, db, &addr);
    if (e == NULL) {
        json_decref(db);
        return ARCA_EXIT_FAIL;
    }
    const char *key = json_string_value(json_object_get(e, "cas_key"));
    char enc[300];
    enclave_of(cli, addr, e, env, enc, sizeof(enc)); /* plain show stays offline */
    int ex = ARCA_EXIT_OK;
    if (env && enc[0] == '\0') {
        ex = cli_fail(ARCA_EXIT_FAIL,
                      "cas show --env: the enclave address of %s is unknown (it is asked with "
                      "this client's identity: run `arca self keygen`, then `arca cas attest %s`)",
                      addr, addr);
    } else if (env && cli->output == ARCA_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s, s:s}", "ARCA_CAS_ADDR", enc, "ARCA_CAS_KEY", key ? key : "");
        cli_print_json(o);
        json_decref(o);
    } else if (env) {
        /* One NAME=VALUE per line: `export $(arca cas show --env)` or `eval`. */
        printf("ARCA_CAS_ADDR=%s\nARCA_CAS_KEY=%s\n", enc, key ? key : "");
    } else if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s, s:s}", "address", addr, "cas_key", key ? key : "");
        json_object_set(o, "measurement", json_object_get(e, "measurement"));
        json_object_set(o, "attested_at", json_object_get(e, "attested_at"));
        json_object_set(o, "insecure", json_object_get(e, "insecure"));
        if (enc[0] != '\0')
            json_object_set_new(o, "enclave_address", json_string(enc));
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
        if (enc[0] != '\0')
            printf("enclave:      %s\n", enc);
        arca_buf_free(&b);
    }
    json_decref(db);
    return ex;
}

static int cas_show_cmd(struct arca_cli *cli, int argc, char **argv)
{
    bool env = false, session_key = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--session-encryption-key") == 0)
            session_key = true;
        else if (strcmp(argv[i], "--env") == 0)
            env = true;
        else
            return cli_fail(ARCA_EXIT_USAGE, "cas show: unexpected argument '%s'", argv[i]);
    }
    if (session_key && env)
        return cli_fail(ARCA_EXIT_USAGE, "cas show: --env and --session-encryption-key exclude "
                                         "each other");
    if (session_key)
        return cas_show_session_key(cli); /* cmd_encrypt.c */
    return cas_show(cli, env);
}

static int cas_list(struct arca_cli *cli, int argc, char **argv)
{
    if (argc > 1)
        return cli_fail(ARCA_EXIT_USAGE, "cas list: unexpected argument '%s'", argv[1]);
    json_t *db = NULL;
    if (arca_cas_db_load(cli, &db) < 0)
        return cli_fail(ARCA_EXIT_FAIL, "cas list: %s", arca_err_detail());
    const char *def = json_string_value(json_object_get(db, "default"));
    json_t *list = json_array();
    const char *addr;
    json_t *e;
    json_object_foreach(json_object_get(db, "cas"), addr, e)
    {
        const char *key = json_string_value(json_object_get(e, "cas_key"));
        const char *at = json_string_value(json_object_get(e, "attested_at"));
        const char *enc = json_string_value(json_object_get(e, "enclave_address"));
        bool is_def = def != NULL && strcmp(def, addr) == 0;
        if (cli->output == ARCA_OUTPUT_JSON) {
            json_t *o = json_pack("{s:s, s:s, s:b}", "address", addr, "cas_key", key ? key : "",
                                  "default", is_def);
            json_object_set(o, "attested_at", json_object_get(e, "attested_at"));
            json_object_set(o, "measurement", json_object_get(e, "measurement"));
            json_object_set(o, "insecure", json_object_get(e, "insecure"));
            if (enc != NULL)
                json_object_set_new(o, "enclave_address", json_string(enc));
            json_array_append_new(list, o);
        } else {
            printf("%s %s\t%s\t%s\n", is_def ? "*" : " ", addr, key ? key : "?", at ? at : "");
        }
    }
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o =
            json_pack("{s:o?, s:O}", "default", def ? json_string(def) : json_null(), "cas", list);
        cli_print_json(o);
        json_decref(o);
    }
    json_decref(list);
    json_decref(db);
    return ARCA_EXIT_OK;
}

/*
 * `arca cas use|forget HOST:PORT`: use makes the pinned HOST:PORT the default, forget removes
 * its pin (and the default if it was that one). The change is saved to cas.json at once.
 */
static int cas_use_or_forget(struct arca_cli *cli, int argc, char **argv)
{
    const char *cmd = argv[0];
    bool forget = strcmp(cmd, "forget") == 0;
    if (argc != 2)
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca cas %s HOST:PORT", cmd);
    const char *addr = argv[1];
    json_t *db = NULL;
    if (arca_cas_db_load(cli, &db) < 0)
        return cli_fail(ARCA_EXIT_FAIL, "cas %s: %s", cmd, arca_err_detail());
    json_t *pins = json_object_get(db, "cas");
    if (json_object_get(pins, addr) == NULL) {
        json_decref(db);
        return cli_fail(ARCA_EXIT_FAIL, "cas %s: %s is not pinned%s", cmd, addr,
                        forget ? "" : " (run `arca cas attest HOST:PORT` first)");
    }
    const char *def = json_string_value(json_object_get(db, "default"));
    bool was_default = def != NULL && strcmp(def, addr) == 0;
    if (forget)
        json_object_del(pins, addr);
    if (!forget || was_default)
        json_object_set_new(db, "default", forget ? json_null() : json_string(addr));
    int rc = arca_cas_db_save(cli, db);
    json_decref(db);
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "cas %s: %s", cmd, arca_err_detail());
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o =
            json_pack("{s:s, s:b, s:b}", "address", addr, "pinned", !forget, "default", !forget);
        cli_print_json(o);
        json_decref(o);
    } else if (!forget) {
        printf("default CAS: %s\n", addr);
    } else {
        printf("forgot %s%s\n", addr,
               was_default ? " (it was the default: `arca cas use HOST:PORT` picks another)" : "");
    }
    return ARCA_EXIT_OK;
}

int cmd_cas(struct arca_cli *cli, int argc, char **argv)
{
    /* The owner commands (cmd_owner.c) check their own arguments: opts NULL. */
    static const struct cli_sub subs[] = {
        {"attest", cas_attest, "--accept-simulation --measurement= --use"},
        {"show", cas_show_cmd, "--session-encryption-key --env"},
        {"list", cas_list, ""},
        {"use", cas_use_or_forget, ""},
        {"forget", cas_use_or_forget, ""},
        {"provision", cas_provision, NULL},
        {"register-upgrade", cas_register_upgrade, NULL},
        {"register-backup", cas_register_backup, NULL},
        {"owner", cas_owner, NULL},
        {"rotate-key", cas_rotate_key, NULL},
        {"audit-checkpoint", cas_audit_checkpoint, NULL},
        {"snapshot", cas_snapshot, NULL},
    };
    return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), cas_usage, argc, argv);
}
