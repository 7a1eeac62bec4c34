/*
 * arca proposal submit|list|show|message|approve|reject: online proposals over the client API
 * (docs/cli.md "arca proposal", docs/api.md "Proposals").
 *
 * An approval or rejection is a signature over the approval message (govern/approval.h). The
 * CLI computes that message itself from the proposal's session name, predecessor and new hash
 * and the CAS key it pinned with `arca cas attest`, so a CAS cannot make a member sign another
 * change or another CAS's; the message the CAS shows is only compared with it. Keys sign
 * locally (--key KEY.pem) or elsewhere: `message ID` prints the bytes to sign, and
 * `approve ID --signer PUB.pem --signature SIG` posts a signature made by an HSM or
 * `openssl pkeyutl`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api/client_api.h"
#include "api/json.h"
#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_proposals.h"
#include "cli.h"
#include "client.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "policy/session.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: arca proposal COMMAND [ARGS...] [-o json]\n\n"
            "  submit FILE                   propose FILE as the next version of its session\n"
            "                                (predecessor set to the active version), or as a\n"
            "                                new session in a namespace if it does not exist\n"
            "  list [--session NAME] [--open] [--pending] [--wait SECONDS]\n"
            "                                the proposals you may see; --pending: open ones\n"
            "                                your key may still vote on (--wait: long-poll up to\n"
            "                                SECONDS, at most 30, until there is one)\n"
            "  show ID                       a proposal with its diff against the active\n"
            "                                version, votes and what its rule still lacks\n"
            "  message ID [--binary]         the 32-byte approval message to sign (hex, or raw\n"
            "                                bytes with --binary), computed locally\n"
            "  approve ID (--key KEY.pem | --signer PUB.pem --signature SIG) [--reason TEXT]\n"
            "  reject ID  (--key KEY.pem | --signer PUB.pem --signature SIG) [--reason TEXT]\n"
            "                                sign the approval message with KEY.pem (Ed25519,\n"
            "                                P-256, P-384), or post SIG (base64, or a file\n"
            "                                holding the raw or base64 signature) made by\n"
            "                                PUB.pem's private key elsewhere\n\n"
            "Exit codes: 0 success, 1 refused or failed, 2 usage, 3 CAS unreachable.\n");
}

static int fail_rc(const char *what, int rc)
{
    return cli_fail(arca_client_exit_code(rc), "%s: %s", what, arca_err_detail());
}

/* One request to the CAS with the client identity; the JSON answer into *out. */
static int call(struct arca_cli *cli, const char *method, const char *path, const void *body,
                size_t n, json_t **out)
{
    struct arca_client *c = NULL;
    long status = 0;
    *out = NULL;
    int rc = arca_client_open(cli, true, &c);
    if (rc == 0)
        rc = arca_client_json(c, method, path, body, n, &status, out);
    arca_client_free(c);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* The CAS key this CLI pinned for the CAS it talks to. */
static int pinned_cas_key(struct arca_cli *cli, uint8_t key[32])
{
    struct arca_client *c = NULL;
    json_t *db = NULL;
    ARCA_TRY(arca_client_open(cli, false, &c));
    int rc = arca_cas_db_load(cli, &db);
    const char *hex =
        rc == 0 ? json_string_value(json_object_get(
                      json_object_get(json_object_get(db, "cas"), arca_client_addr(c)), "cas_key"))
                : NULL;
    if (rc == 0 && (hex == NULL || arca_hex_decode_fixed(key, 32, hex, strlen(hex)) < 0))
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "CAS %s is not attested", arca_client_addr(c));
    json_decref(db);
    arca_client_free(c);
    return rc;
}

static const char *str(const json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s != NULL ? s : "";
}

/* ---- submit ------------------------------------------------------------------------------ */

static void print_show(const json_t *p);

static int proposal_submit(struct arca_cli *cli, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca proposal submit FILE [-o json]");
    const char *file = argv[1];
    struct arca_buf b, nb;
    arca_buf_init_secret(&b, ARCA_SESSION_MAX_BYTES);
    arca_buf_init_secret(&nb, ARCA_SESSION_MAX_BYTES);
    struct arca_session *s = NULL;
    struct arca_diag d;
    arca_diag_init(&d);
    json_t *a = NULL;
    int exit_code = ARCA_EXIT_OK;
    int rc = cli_file_read(file, &b);
    if (rc == 0 && arca_session_load((const char *)b.data, b.len, file, &s, &d) < 0) {
        struct arca_buf msg;
        arca_buf_init(&msg, 0);
        arca_diag_format(&d, &msg);
        fprintf(stderr, "%s", arca_buf_cstr(&msg));
        arca_buf_free(&msg);
        rc = arca_err_set(ARCA_ERR_FORMAT, "%s is not a valid session", file);
    }
    if (rc < 0) {
        exit_code = cli_fail(ARCA_EXIT_FAIL, "proposal submit: %s", arca_err_detail());
        goto out;
    }
    const struct arca_buf *body = &b;
    if (!s->has_predecessor) {
        /* An existing session gets its active version as predecessor; a missing one (a
         * readable namespace child that does not exist yet) is proposed as a create. */
        char path[1200];
        snprintf(path, sizeof(path), "/v1/sessions/%s", s->name.s);
        struct arca_client *c = NULL;
        long status = 0;
        struct arca_buf ans;
        arca_buf_init(&ans, 16 << 20);
        rc = arca_client_open(cli, true, &c);
        if (rc == 0)
            rc = arca_client_request(c, "GET", path, NULL, 0, &status, &ans);
        arca_client_free(c);
        json_t *j = NULL;
        struct arca_api_version v;
        memset(&v, 0, sizeof(v));
        if (rc == 0 && status == 200 &&
            (rc = arca_json_parse_object(ans.data, ans.len, "answer", &j)) == 0 &&
            (rc = arca_api_version_from_json(j, ARCA_API_VERSION_READ, &v)) == 0) {
            char h[65];
            arca_hex_fmt(h, v.hash, 32);
            rc = session_set_predecessor(&b, h, &nb);
            body = &nb;
        }
        arca_api_version_clear(&v);
        json_decref(j);
        arca_buf_free(&ans);
        if (rc < 0) {
            exit_code = fail_rc("proposal submit: reading the active version", rc);
            goto out;
        }
    }
    rc = call(cli, "POST", "/v1/proposals", body->data, body->len, &a);
    if (rc < 0) {
        exit_code = fail_rc("proposal submit", rc);
        goto out;
    }
    if (cli->output == ARCA_OUTPUT_JSON)
        cli_print_json(a);
    else
        printf("%s %s\n", str(a, ARCA_PROP_ID), str(a, ARCA_PROP_STATE));
out:
    json_decref(a);
    arca_session_free(s);
    arca_diag_free(&d);
    arca_buf_free(&b);
    arca_buf_free(&nb);
    return exit_code;
}

/* ---- list, show -------------------------------------------------------------------------- */

static int proposal_list(struct arca_cli *cli, int argc, char **argv)
{
    const char *session = NULL, *wait = NULL;
    bool open = false, pending = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--session") == 0 && i + 1 < argc)
            session = argv[++i];
        else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
            wait = argv[++i];
        else if (strcmp(argv[i], "--open") == 0)
            open = true;
        else if (strcmp(argv[i], "--pending") == 0)
            pending = true;
        else
            return cli_fail(ARCA_EXIT_USAGE, "usage: arca proposal list [--session NAME] "
                                             "[--open] [--pending] [--wait SECONDS]");
    }
    char path[1400];
    char *se = session != NULL ? curl_easy_escape(NULL, session, (int)strlen(session)) : NULL;
    char *we = wait != NULL ? curl_easy_escape(NULL, wait, (int)strlen(wait)) : NULL;
    snprintf(path, sizeof(path), "/v1/proposals?state=%s%s%s%s%s%s", open ? "open" : "all",
             pending ? "&pending=1" : "", se ? "&session=" : "", se ? se : "", we ? "&wait=" : "",
             we ? we : "");
    curl_free(se);
    curl_free(we);
    json_t *a = NULL;
    int rc = call(cli, "GET", path, NULL, 0, &a);
    if (rc < 0)
        return fail_rc("proposal list", rc);
    if (cli->output == ARCA_OUTPUT_JSON) {
        cli_print_json(a);
    } else {
        const json_t *l = json_object_get(a, ARCA_PROP_PROPOSALS), *p;
        size_t i;
        json_array_foreach(l, i, p)
        {
            printf("%s  %-8s %-6s %s  votes %zu\n", str(p, ARCA_PROP_ID), str(p, ARCA_PROP_STATE),
                   str(p, ARCA_PROP_KIND), str(p, ARCA_PROP_SESSION),
                   json_array_size(json_object_get(p, ARCA_PROP_VOTES)));
        }
    }
    json_decref(a);
    return ARCA_EXIT_OK;
}

static void print_show(const json_t *p)
{
    printf("proposal %s: %s of %s\n", str(p, ARCA_PROP_ID), str(p, ARCA_PROP_KIND),
           str(p, ARCA_PROP_SESSION));
    printf("state:       %s%s%s\n", str(p, ARCA_PROP_STATE),
           json_is_string(json_object_get(p, ARCA_PROP_REASON)) ? " - " : "",
           str(p, ARCA_PROP_REASON));
    printf("predecessor: %s\n", json_is_string(json_object_get(p, ARCA_PROP_PREDECESSOR))
                                    ? str(p, ARCA_PROP_PREDECESSOR)
                                    : "(none: a new session)");
    printf("new hash:    %s\n", str(p, ARCA_PROP_HASH));
    printf("submitter:   %s\n", str(p, ARCA_PROP_SUBMITTER));
    printf("expires at:  %lld\n",
           (long long)json_integer_value(json_object_get(p, ARCA_PROP_EXPIRES_AT)));
    printf("rule:        %s\n", str(p, ARCA_PROP_RULE));
    printf("missing:     %s\n", str(p, ARCA_PROP_MISSING));
    printf("message:     %s\n", str(p, ARCA_PROP_MESSAGE));
    const json_t *v;
    size_t i;
    printf("votes:\n");
    json_array_foreach(json_object_get(p, ARCA_PROP_VOTES), i, v)
    {
        printf("  %-7s %s%s%s\n", str(v, ARCA_PROP_VERDICT), str(v, ARCA_PROP_SIGNER),
               json_is_string(json_object_get(v, ARCA_PROP_REASON)) ? ": " : "",
               str(v, ARCA_PROP_REASON));
    }
    printf("secrets:\n");
    json_array_foreach(json_object_get(p, ARCA_PROP_SECRETS), i, v)
    {
        printf("  %s (%s): %s\n", str(v, "name"), str(v, "kind"), str(v, "value"));
    }
    printf("diff against the active version:\n%s", str(p, ARCA_PROP_DIFF));
}

static int get_proposal(struct arca_cli *cli, const char *id, json_t **out)
{
    char path[256];
    for (const char *c = id; *c; c++)
        ARCA_ENSURE((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'), ARCA_ERR_FORMAT,
                    "proposal id: expected hex digits");
    ARCA_ENSURE(strlen(id) >= 1 && strlen(id) <= ARCA_PROP_ID_MAX, ARCA_ERR_FORMAT,
                "proposal id: expected 1 to %d hex digits", ARCA_PROP_ID_MAX);
    snprintf(path, sizeof(path), "/v1/proposals/%s", id);
    return call(cli, "GET", path, NULL, 0, out);
}

static int proposal_show(struct arca_cli *cli, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca proposal show ID [-o json]");
    json_t *a = NULL;
    int rc = get_proposal(cli, argv[1], &a);
    if (rc < 0)
        return fail_rc("proposal show", rc);
    if (cli->output == ARCA_OUTPUT_JSON)
        cli_print_json(a);
    else
        print_show(a);
    json_decref(a);
    return ARCA_EXIT_OK;
}

/* ---- message, votes ---------------------------------------------------------------------- */

/* The approval message of proposal p, computed from its fields and the pinned CAS key; refuses
 * a proposal whose own message disagrees (a CAS showing one change and asking for another). */
static int local_message(struct arca_cli *cli, const json_t *p, uint8_t msg[32])
{
    uint8_t cas_key[32], pred[32], hash[32];
    const char *ph = json_string_value(json_object_get(p, ARCA_PROP_PREDECESSOR));
    const char *hh = str(p, ARCA_PROP_HASH), *name = str(p, ARCA_PROP_SESSION);
    ARCA_TRY(pinned_cas_key(cli, cas_key));
    ARCA_ENSURE(arca_hex_decode_fixed(hash, 32, hh, strlen(hh)) == 0 &&
                    (ph == NULL || arca_hex_decode_fixed(pred, 32, ph, strlen(ph)) == 0),
                ARCA_ERR_FORMAT, "the CAS answered a malformed proposal");
    struct arca_approval_change ch = {.cas_key = cas_key,
                                      .session_name = name,
                                      .predecessor = ph ? pred : NULL,
                                      .new_hash = hash};
    ARCA_TRY(arca_approval_message(&ch, msg));
    char h[65];
    arca_hex_fmt(h, msg, 32);
    ARCA_ENSURE(strcmp(h, str(p, ARCA_PROP_MESSAGE)) == 0, ARCA_ERR_SIGNATURE,
                "the CAS's approval message for this proposal differs from the one computed "
                "here: not signing");
    return 0;
}

static int proposal_message(struct arca_cli *cli, int argc, char **argv)
{
    bool binary = argc == 3 && strcmp(argv[2], "--binary") == 0;
    if ((argc != 2 && !binary) || argv[1][0] == '-')
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca proposal message ID [--binary]");
    json_t *a = NULL;
    uint8_t msg[32];
    int rc = get_proposal(cli, argv[1], &a);
    if (rc == 0)
        rc = local_message(cli, a, msg);
    json_decref(a);
    if (rc < 0)
        return fail_rc("proposal message", rc);
    if (binary) {
        fwrite(msg, 1, sizeof(msg), stdout);
    } else {
        char h[65];
        arca_hex_fmt(h, msg, 32);
        printf("%s\n", h);
    }
    return ARCA_EXIT_OK;
}

/* SIG as base64 text, or a file holding the raw or base64 signature, into sig. */
static int read_signature(const char *arg, struct arca_buf *sig)
{
    struct arca_buf f;
    arca_buf_init(&f, 1 << 16);
    int rc = cli_file_read(arg, &f);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_err_clear();
        rc = arca_base64_decode(sig, arg, strlen(arg));
    } else if (rc == 0) {
        size_t n = f.len;
        while (n > 0 && (f.data[n - 1] == '\n' || f.data[n - 1] == '\r'))
            n--;
        if (arca_base64_decode(sig, (const char *)f.data, n) < 0) {
            arca_err_clear();
            arca_buf_reset(sig);
            rc = arca_buf_put(sig, f.data, f.len);
        }
    }
    arca_buf_free(&f);
    if (rc < 0 || sig->len == 0)
        return arca_err_set(ARCA_ERR_FORMAT, "--signature: expected base64 or a signature file");
    return 0;
}

static int proposal_vote(struct arca_cli *cli, int argc, char **argv)
{
    bool approve = strcmp(argv[0], "approve") == 0;
    const char *id = NULL, *keyf = NULL, *signerf = NULL, *sigarg = NULL, *reason = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            keyf = argv[++i];
        else if (strcmp(argv[i], "--signer") == 0 && i + 1 < argc)
            signerf = argv[++i];
        else if (strcmp(argv[i], "--signature") == 0 && i + 1 < argc)
            sigarg = argv[++i];
        else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
            reason = argv[++i];
        else if (argv[i][0] != '-' && id == NULL)
            id = argv[i];
        else
            id = NULL, argc = 0;
    }
    if (id == NULL || (keyf != NULL) == (signerf != NULL) || (signerf != NULL) != (sigarg != NULL))
        return cli_fail(ARCA_EXIT_USAGE,
                        "usage: arca proposal %s ID (--key KEY.pem | --signer PUB.pem "
                        "--signature SIG) [--reason TEXT]",
                        approve ? "approve" : "reject");
    json_t *a = NULL, *req = NULL;
    struct arca_buf kb, pub, sig, b64, body;
    arca_buf_init_secret(&kb, 1 << 16);
    arca_buf_init(&pub, 1 << 16);
    arca_buf_init(&sig, 1 << 16);
    arca_buf_init(&b64, 0);
    arca_buf_init(&body, 0);
    struct arca_key *k = NULL;
    uint8_t msg[32];
    char path[256];
    int rc = get_proposal(cli, id, &a);
    if (rc == 0)
        rc = local_message(cli, a, msg);
    if (rc == 0 && keyf != NULL) {
        rc = cli_file_read(keyf, &kb);
        if (rc == 0)
            rc = arca_key_from_pem(kb.data, kb.len, &k);
        if (rc == 0 && !arca_key_has_private(k))
            rc = arca_err_set(ARCA_ERR_FORMAT, "--key %s: not a private key", keyf);
        if (rc == 0)
            rc = arca_key_public_pem(k, &pub);
        if (rc == 0)
            rc = arca_approval_sign(k, msg, &sig);
    } else if (rc == 0) {
        rc = cli_file_read(signerf, &pub);
        if (rc == 0)
            rc = read_signature(sigarg, &sig);
    }
    if (rc == 0)
        rc = arca_base64_encode(&b64, sig.data, sig.len);
    if (rc == 0) {
        req = json_pack("{s:s%, s:s%, s:s?}", ARCA_PROP_REQ_KEY, (const char *)pub.data, pub.len,
                        ARCA_PROP_REQ_SIGNATURE, (const char *)b64.data, b64.len,
                        ARCA_PROP_REQ_REASON, reason);
        rc = req != NULL ? arca_json_dump(req, false, &body) : ARCA_ERR_ALLOC;
    }
    json_decref(a);
    a = NULL;
    if (rc == 0) {
        snprintf(path, sizeof(path), "/v1/proposals/%s/%s", id, approve ? "approve" : "reject");
        rc = call(cli, "POST", path, body.data, body.len, &a);
    }
    int exit_code = ARCA_EXIT_OK;
    if (rc < 0)
        exit_code = fail_rc(approve ? "proposal approve" : "proposal reject", rc);
    else if (cli->output == ARCA_OUTPUT_JSON)
        cli_print_json(a);
    else
        printf("%s %s%s%s\n", str(a, ARCA_PROP_ID), str(a, ARCA_PROP_STATE),
               json_is_string(json_object_get(a, ARCA_PROP_REASON)) ? ": " : "",
               str(a, ARCA_PROP_REASON));
    json_decref(a);
    json_decref(req);
    arca_key_free(k);
    arca_buf_free(&kb);
    arca_buf_free(&pub);
    arca_buf_free(&sig);
    arca_buf_free(&b64);
    arca_buf_free(&body);
    return exit_code;
}

int cmd_proposal(struct arca_cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"submit", proposal_submit, ""},
        {"list", proposal_list, "--session= --wait= --open --pending"},
        {"show", proposal_show, ""},
        {"message", proposal_message, "--binary"},
        {"approve", proposal_vote, "--key= --signer= --signature= --reason="},
        {"reject", proposal_vote, "--key= --signer= --signature= --reason="},
    };
    return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage, argc, argv);
}
