/*
 * arca session sign (docs/cli.md, docs/governance.md): turns a session file into a signed
 * session, or adds an approval to one. The change is fixed at the first step: the CAS key (of
 * the attested CAS the CLI talks to), the predecessor (the file's, else the active version on
 * that CAS, else none: a create), the creator (the active version's, or for a create the first
 * signer) and so the hash every later signer approves.
 *
 *   sign FILE --key KEY.pem                         sign with a private key, print the JSON
 *   sign FILE message --signer PUB.pem              write the 32-byte message to stdout
 *   sign FILE add-signature --signer PUB.pem SIG    add an external signature, print the JSON
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/client_api.h"
#include "base/enc.h"
#include "base/err.h"
#include "cli.h"
#include "client.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "govern/signed_session.h"
#include "policy/session.h"

/* The key id of the attested CAS the CLI talks to (its entry in the CAS database). */
int cli_cas_key_id(const struct arca_cli *cli, uint8_t out[32])
{
    json_t *db = NULL;
    ARCA_TRY(arca_cas_db_load(cli, &db));
    const char *addr =
        cli->cas != NULL ? cli->cas : json_string_value(json_object_get(db, "default"));
    json_t *e = addr != NULL ? json_object_get(json_object_get(db, "cas"), addr) : NULL;
    const char *key = json_string_value(json_object_get(e, "cas_key"));
    int rc = key != NULL && arca_hex_decode_fixed(out, 32, key, strlen(key)) == 0
                 ? 0
                 : arca_err_set(ARCA_ERR_NOT_FOUND,
                                "no attested CAS%s%s: run `arca cas attest HOST:PORT` first",
                                addr ? " for " : "", addr ? addr : "");
    json_decref(db);
    return rc;
}

/* A new signed session from the YAML in b: fixes predecessor, creator, CAS key and hash.
 * first_signer is the key id that becomes the creator of a new session. */
static int from_yaml(struct arca_cli *cli, const char *file, const struct arca_buf *b,
                     const uint8_t first_signer[32], struct arca_signed_session **out)
{
    struct arca_session *s = NULL;
    struct arca_api_version active;
    struct arca_buf nb;
    memset(&active, 0, sizeof(active));
    arca_buf_init_secret(&nb, ARCA_SESSION_MAX_BYTES);
    int rc = session_load_local(file, b, &s);
    if (rc < 0) {
        arca_buf_free(&nb);
        return arca_err_set(ARCA_ERR_FORMAT, "%s is not a valid session", file);
    }
    struct arca_signed_session *ss = calloc(1, sizeof(*ss));
    ARCA_GUARD_ENSURE(rc, ss != NULL, fail, ARCA_ERR_ALLOC, "out of memory");
    ARCA_GUARD(rc, cli_cas_key_id(cli, ss->cas_key), fail);
    rc = session_get_version(cli, s->name.s, NULL, &active, NULL);
    if (rc == ARCA_ERR_NOT_FOUND && !s->has_predecessor) {
        rc = 0; /* a create: the first signer becomes the creator */
        memcpy(ss->creator, first_signer, 32);
    } else if (rc < 0) {
        goto fail;
    } else {
        memcpy(ss->creator, active.creator, 32);
    }
    const struct arca_buf *text = b;
    if (!s->has_predecessor && active.name != NULL) {
        char h[65];
        arca_hex_fmt(h, active.hash, 32);
        ARCA_GUARD(rc, session_set_predecessor(b, h, &nb), fail);
        arca_session_free(s);
        s = NULL;
        rc = session_load_local(file, &nb, &s);
        ARCA_GUARD_ENSURE(rc, rc == 0, fail, ARCA_ERR_FORMAT, "cannot set predecessor in %s", file);
        text = &nb;
    }
    ss->has_predecessor = s->has_predecessor;
    memcpy(ss->predecessor, s->predecessor, 32);
    ss->name = strdup(s->name.s);
    ss->session = malloc(text->len + 1);
    ARCA_GUARD_ENSURE(rc, ss->name != NULL && ss->session != NULL, fail, ARCA_ERR_ALLOC,
                      "out of memory");
    memcpy(ss->session, text->data, text->len);
    ss->session[text->len] = '\0';
    ss->session_len = text->len;
    ARCA_GUARD(rc, arca_session_hash(s, ss->creator, ss->hash), fail);
    *out = ss;
    ss = NULL;
fail:
    arca_signed_session_free(ss);
    arca_session_free(s);
    arca_api_version_clear(&active);
    arca_buf_free(&nb);
    return rc;
}

/* A signature argument: a file (raw, or base64 text) or base64 itself. */
static int read_sig(const char *arg, struct arca_buf *out)
{
    struct arca_buf f;
    arca_buf_init(&f, 4 * ARCA_SIGNED_SIG_MAX);
    int rc = cli_file_read(arg, &f);
    if (rc < 0) {
        arca_err_clear();
        arca_buf_free(&f);
        rc = arca_base64_decode(out, arg, strlen(arg));
        return rc < 0 ? arca_err_set(ARCA_ERR_FORMAT, "SIG is neither a file nor base64") : 0;
    }
    size_t n = f.len;
    while (n > 0 && (f.data[n - 1] == '\n' || f.data[n - 1] == '\r'))
        n--;
    struct arca_buf dec;
    arca_buf_init(&dec, ARCA_SIGNED_SIG_MAX);
    if (n > 0 && arca_base64_decode(&dec, (const char *)f.data, n) == 0)
        rc = arca_buf_put(out, dec.data, dec.len);
    else
        rc = arca_buf_put(out, f.data, f.len); /* raw DER / 64 raw bytes */
    arca_err_clear();
    arca_buf_free(&dec);
    arca_buf_free(&f);
    return rc;
}

enum sign_mode { SIGN_KEY, SIGN_MESSAGE, SIGN_ADD };

struct sign_args {
    enum sign_mode mode;
    const char *file, *key, *signer, *sig;
};

static int parse_args(int argc, char **argv, struct sign_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *v = argv[i];
        if ((strcmp(v, "--key") == 0 || strcmp(v, "--signer") == 0) && i + 1 < argc) {
            *(v[2] == 'k' ? &a->key : &a->signer) = argv[++i];
        } else if (v[0] == '-') {
            return cli_fail(ARCA_EXIT_USAGE, "session sign: unknown option '%s'", v);
        } else if (a->file == NULL) {
            a->file = v;
        } else if (a->mode == SIGN_KEY && strcmp(v, "message") == 0) {
            a->mode = SIGN_MESSAGE;
        } else if (a->mode == SIGN_KEY && strcmp(v, "add-signature") == 0) {
            a->mode = SIGN_ADD;
        } else if (a->mode == SIGN_ADD && a->sig == NULL) {
            a->sig = v;
        } else {
            return cli_fail(ARCA_EXIT_USAGE, "session sign: unexpected argument '%s'", v);
        }
    }
    if (a->file == NULL || (a->mode == SIGN_KEY && a->key == NULL) ||
        (a->mode != SIGN_KEY && a->signer == NULL) || (a->mode == SIGN_ADD && a->sig == NULL))
        return cli_fail(ARCA_EXIT_USAGE,
                        "usage: arca session sign FILE --key KEY.pem | FILE message --signer "
                        "PUB.pem | FILE add-signature --signer PUB.pem SIG");
    return ARCA_EXIT_OK;
}

int session_sign(struct arca_cli *cli, int argc, char **argv)
{
    struct sign_args a;
    int u = parse_args(argc, argv, &a);
    if (u != ARCA_EXIT_OK)
        return u;
    struct arca_buf b, keyb, sig, out;
    arca_buf_init_secret(&b, 4 * ARCA_SESSION_MAX_BYTES);
    arca_buf_init_secret(&keyb, 64 << 10);
    arca_buf_init(&sig, ARCA_SIGNED_SIG_MAX);
    arca_buf_init_secret(&out, 0);
    struct arca_key *k = NULL;
    struct arca_signed_session *ss = NULL;
    uint8_t kid[32], msg[ARCA_APPROVAL_MSG_LEN];
    int rc = cli_file_read(a.key != NULL ? a.key : a.signer, &keyb);
    if (rc == 0)
        rc = a.key != NULL ? arca_key_from_pem(keyb.data, keyb.len, &k)
                           : arca_approval_signer_key(keyb.data, keyb.len, &k);
    if (rc == 0 && a.key != NULL && !arca_key_has_private(k))
        rc = arca_err_set(ARCA_ERR_FORMAT, "--key needs a private key (PEM)");
    if (rc == 0)
        rc = arca_key_id(k, kid);
    if (rc == 0)
        rc = cli_file_read(a.file, &b);
    if (rc == 0)
        rc = arca_signed_session_detect(b.data, b.len)
                 ? arca_signed_session_parse(b.data, b.len, &ss)
                 : from_yaml(cli, a.file, &b, kid, &ss);
    if (rc == 0)
        rc = arca_signed_session_message(ss, msg);
    if (rc == 0 && a.mode == SIGN_MESSAGE) {
        if (fwrite(msg, 1, sizeof(msg), stdout) != sizeof(msg))
            rc = arca_err_set(ARCA_ERR_IO, "cannot write the message");
        goto out;
    }
    if (rc == 0 && a.mode == SIGN_KEY)
        rc = arca_approval_sign(k, msg, &sig);
    if (rc == 0 && a.mode == SIGN_ADD)
        rc = read_sig(a.sig, &sig);
    struct arca_buf pub;
    arca_buf_init(&pub, 0);
    if (rc == 0)
        rc = arca_key_spki_der(k, &pub);
    if (rc == 0)
        rc = arca_signed_session_add(ss, pub.data, pub.len, sig.data, sig.len);
    arca_buf_free(&pub);
    if (rc == 0)
        rc = arca_signed_session_encode(ss, &out);
    if (rc == 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = arca_err_set(ARCA_ERR_IO, "cannot write the signed session");
out:
    arca_key_free(k);
    arca_signed_session_free(ss);
    arca_buf_free(&b);
    arca_buf_free(&keyb);
    arca_buf_free(&sig);
    arca_buf_free(&out);
    if (rc < 0)
        return cli_fail(arca_client_exit_code(rc), "session sign: %s", arca_err_detail());
    return ARCA_EXIT_OK;
}
