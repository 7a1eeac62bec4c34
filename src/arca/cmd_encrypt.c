/*
 * Encrypted sessions on the CLI side (docs/encrypted-sessions.md):
 *   arca cas show --session-encryption-key   the attested arcad's X25519 key, checked first:
 *       its evidence must bind the key to the CAS key pinned by `arca cas attest` (over a
 *       connection pinned to that key) and to a fresh nonce of ours;
 *   arca session encrypt FILE [--out OUT]    FILE (a session, or the JSON `arca session sign`
 *       makes, taken as it is) encrypted to that key; OUT (default stdout) is uploaded with
 *       PUT /v1/encrypted_sessions. Only that arcad can read the values, in transit or at rest.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "cli.h"
#include "client.h"
#include "crypto/crypto.h"
#include "evidence/claims.h"
#include "evidence/sim.h"

#define SEK_BINDING "session-encryption-key:"

/* Whether the pinned CAS (cli->cas or the default) was attested accepting simulation, and its
 * key into key. */
static int pinned_cas(const struct arca_cli *cli, uint8_t key[32], bool *insecure)
{
    json_t *db = NULL;
    ARCA_TRY(arca_cas_db_load(cli, &db));
    const char *addr =
        cli->cas != NULL ? cli->cas : json_string_value(json_object_get(db, "default"));
    json_t *e = addr != NULL ? json_object_get(json_object_get(db, "cas"), addr) : NULL;
    const char *k = json_string_value(json_object_get(e, "cas_key"));
    int rc = 0;
    if (k == NULL || arca_hex_decode_fixed(key, 32, k, strlen(k)) < 0)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "no attested CAS: run `arca cas attest HOST:PORT`");
    *insecure = json_is_true(json_object_get(e, "insecure"));
    json_decref(db);
    return rc;
}

/* Checks answer a for our nonce and the pinned key; pub gets the session-encryption key. */
static int check_answer(const json_t *a, const uint8_t nonce[32], const uint8_t cas_key[32],
                        bool insecure_ok, uint8_t pub[32])
{
    const char *hex = json_string_value(json_object_get(a, "session_encryption_key"));
    const char *type = json_string_value(json_object_get(a, "evidence_type"));
    const char *ev = json_string_value(json_object_get(a, "evidence"));
    const char *spki = json_string_value(json_object_get(a, "spki"));
    ARCA_ENSURE(hex && type && ev && spki && arca_hex_decode_fixed(pub, 32, hex, strlen(hex)) == 0,
                ARCA_ERR_FORMAT, "session-encryption key answer: missing or malformed members");
    ARCA_ENSURE(strcmp(type, "sim") == 0, ARCA_ERR_UNSUPPORTED,
                "evidence type '%s' is not supported by this CLI yet", type);
    ARCA_ENSURE(insecure_ok, ARCA_ERR_INSECURE,
                "the CAS offers only INSECURE simulated evidence and was not attested with "
                "--accept-simulation");
    struct arca_buf e, s;
    arca_buf_init(&e, 0);
    arca_buf_init(&s, 0);
    struct arca_claims c;
    memset(&c, 0, sizeof(c));
    uint8_t rd[64], kid[32];
    char label[sizeof(SEK_BINDING) + 64];
    snprintf(label, sizeof(label), "%s%s", SEK_BINDING, hex);
    int rc;
    ARCA_GUARD(rc, arca_base64_decode(&e, ev, strlen(ev)), out);
    ARCA_GUARD(rc, arca_base64_decode(&s, spki, strlen(spki)), out);
    ARCA_GUARD(rc, arca_sim_evidence_verify(e.data, e.len, &c), out);
    ARCA_GUARD(rc, arca_launch_binding(s.data, s.len, nonce, label, rd), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(rd, c.report_data, 64), out, ARCA_ERR_POLICY,
                      "evidence does not bind the session-encryption key, the CAS key and our "
                      "nonce (replayed or forged)");
    ARCA_GUARD(rc, arca_sha256(s.data, s.len, kid), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(kid, cas_key, 32), out, ARCA_ERR_POLICY,
                      "the key was attested by another CAS than the pinned one");
out:
    arca_buf_free(&e);
    arca_buf_free(&s);
    return rc;
}

int cli_session_encryption_key(struct arca_cli *cli, uint8_t pub[32])
{
    uint8_t cas_key[32], nonce[ARCA_LAUNCH_NONCE_LEN];
    bool insecure = false;
    ARCA_TRY(pinned_cas(cli, cas_key, &insecure));
    ARCA_TRY(arca_random(nonce, sizeof(nonce)));
    char path[128], nhex[2 * ARCA_LAUNCH_NONCE_LEN + 1];
    arca_hex_fmt(nhex, nonce, sizeof(nonce));
    snprintf(path, sizeof(path), "/v1/session_encryption_key?nonce=%s", nhex);
    struct arca_client *c = NULL;
    json_t *a = NULL;
    long status = 0;
    int rc = arca_client_open(cli, false, &c);
    if (rc == 0)
        rc = arca_client_json(c, "GET", path, NULL, 0, &status, &a);
    if (rc == 0)
        rc = check_answer(a, nonce, cas_key, insecure, pub);
    json_decref(a);
    arca_client_free(c);
    return rc;
}

int cas_show_session_key(struct arca_cli *cli)
{
    uint8_t pub[32];
    int rc = cli_session_encryption_key(cli, pub);
    if (rc < 0)
        return cli_fail(arca_client_exit_code(rc), "cas show --session-encryption-key: %s",
                        arca_err_detail());
    char hex[65];
    arca_hex_fmt(hex, pub, 32);
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s}", "session_encryption_key", hex);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("%s\n", hex);
    }
    return ARCA_EXIT_OK;
}

int session_encrypt(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && file == NULL)
            file = argv[i];
        else
            return cli_fail(ARCA_EXIT_USAGE, "usage: arca session encrypt FILE [--out OUT]");
    }
    if (file == NULL)
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca session encrypt FILE [--out OUT]");
    uint8_t pub[32];
    struct arca_buf text, box;
    arca_buf_init_secret(&text, 0);
    arca_buf_init(&box, 0);
    int rc = cli_file_read(file, &text);
    if (rc == 0)
        rc = cli_session_encryption_key(cli, pub);
    if (rc == 0)
        rc = arca_box_seal(pub, text.data, text.len, &box);
    if (rc == 0 && out != NULL)
        rc = arca_file_write(out, box.data, box.len, 0600, 0);
    else if (rc == 0 && fwrite(box.data, 1, box.len, stdout) != box.len)
        rc = arca_err_set(ARCA_ERR_IO, "cannot write to stdout");
    arca_buf_free(&text);
    arca_buf_free(&box);
    if (rc < 0)
        return cli_fail(arca_client_exit_code(rc), "session encrypt %s: %s", file,
                        arca_err_detail());
    return ARCA_EXIT_OK;
}
