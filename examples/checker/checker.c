/*
 * arca-checker: an automated policy checker for online proposals (docs/governance.md "Online
 * proposals", README.md here). It runs as an ordinary attested service under arca-run; its
 * signing key is a CAS-generated `private-key` secret injected at attestation, so no human ever
 * holds it, and governed sessions name its public key (export_public) as a `signer`.
 *
 * It long-polls the proposals its key may still vote on, fetches each one, recomputes the
 * approval message from the proposal and the CAS key of its configuration (a CAS cannot make it
 * sign another change), loads the proposed policy and applies its rules, then approves or
 * rejects with a reason that `arca proposal show` shows.
 *
 * Configuration: one JSON file (argv[1]):
 *   {"cas": "HOST:PORT",            client API of arcad
 *    "cas_key": "HEX64",            the CAS key to pin
 *    "identity": "DIR",             DIR/key.pem (the signing key, also the TLS key) and
 *                                   DIR/cert.pem (a certificate for it)
 *    "refuse": ["debug-mode", "outdated-tcb", "any-reader", "foreign-export",
 *               "remove-checker"],  the rules to apply (default: all five)
 *    "wait": 10,                    seconds per long-poll (at most 30)
 *    "rounds": 0}                   polls before exiting (0: forever)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/json.h"
#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_proposals.h"
#include "cli.h"
#include "client.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "policy/session.h"

struct checker {
    struct arca_cli cli;
    const char *addr;
    uint8_t cas_key[32];
    struct arca_key *key; /* the signing key */
    uint8_t key_id[32];
    struct arca_buf pub; /* its public key PEM */
    const json_t *refuse;
    int wait, rounds;
};

static bool rule_on(const struct checker *ck, const char *name)
{
    if (ck->refuse == NULL)
        return true;
    size_t i;
    const json_t *v;
    json_array_foreach(ck->refuse, i, v) if (json_is_string(v) &&
                                             strcmp(json_string_value(v), name) == 0) return true;
    return false;
}

/* The namespace ("a" of "a/b/c") of a session name into ns. */
static void top_of(const char *name, char *ns, size_t cap)
{
    size_t n = strcspn(name, "/");
    snprintf(ns, cap, "%.*s", (int)n, name);
}

static bool in_namespace(const char *ns, const char *name)
{
    size_t n = strlen(ns);
    return strncmp(name, ns, n) == 0 && (name[n] == '\0' || name[n] == '/');
}

/*
 * Judges the proposed policy s of session name: NULL if harmless, else why not (static or in
 * why). Secrets' values never reach the checker: the CAS shows it redacted YAML.
 */
static const char *judge(const struct checker *ck, const struct arca_session *s, char *why,
                         size_t cap)
{
    if (rule_on(ck, "debug-mode") && (s->security.tolerate & ARCA_TOLERATE_DEBUG_MODE))
        return "refused by checker: the policy tolerates debug-mode (an enclave anyone can read)";
    if (rule_on(ck, "outdated-tcb") && (s->security.tolerate & ARCA_TOLERATE_OUTDATED_TCB))
        return "refused by checker: the policy tolerates outdated-tcb";
    if (rule_on(ck, "any-reader")) {
        const struct arca_ap_rule *r = &s->access.read;
        for (size_t i = 0; i < r->n_entries; i++)
            if (r->entries[i].kind == ARCA_AP_ANY)
                return "refused by checker: access_policy.read lists ANY";
    }
    if (rule_on(ck, "foreign-export")) {
        char ns[ARCA_SESSION_NAME_MAX + 1];
        top_of(s->name.s, ns, sizeof(ns));
        for (size_t i = 0; i < s->n_secrets; i++)
            for (size_t j = 0; j < s->secrets[i].n_exports; j++) {
                const struct arca_session_ref *e = &s->secrets[i].exports[j];
                const char *to = e->session.s != NULL ? e->session.s : e->namespace_.s;
                if (to != NULL && !in_namespace(ns, to)) {
                    snprintf(why, cap,
                             "refused by checker: secret '%s' is exported to '%s', outside "
                             "namespace '%s'",
                             s->secrets[i].name.s, to, ns);
                    return why;
                }
            }
    }
    if (rule_on(ck, "remove-checker") && !arca_approval_rule_names(&s->access.update, ck->key_id))
        return "refused by checker: the policy removes the checker from access_policy.update";
    return NULL;
}

/* GET/POST on the CAS; the JSON answer into *out. */
static int call(struct checker *ck, const char *method, const char *path, const void *body,
                size_t n, json_t **out)
{
    struct arca_client *c = NULL;
    long status = 0;
    *out = NULL;
    int rc = arca_client_open_addr(&ck->cli, ck->addr, ck->cas_key, true, &c);
    if (rc == 0)
        rc = arca_client_json(c, method, path, body, n, &status, out);
    arca_client_free(c);
    return rc;
}

static int vote(struct checker *ck, const json_t *p, const char *id)
{
    const char *name = json_string_value(json_object_get(p, ARCA_PROP_SESSION));
    const char *ph = json_string_value(json_object_get(p, ARCA_PROP_PREDECESSOR));
    const char *hh = json_string_value(json_object_get(p, ARCA_PROP_HASH));
    const char *shown = json_string_value(json_object_get(p, ARCA_PROP_MESSAGE));
    const char *yaml = json_string_value(json_object_get(p, ARCA_PROP_PROPOSED));
    uint8_t pred[32], hash[32], msg[32];
    ARCA_ENSURE(name != NULL && hh != NULL && shown != NULL && yaml != NULL &&
                    arca_hex_decode_fixed(hash, 32, hh, strlen(hh)) == 0 &&
                    (ph == NULL || arca_hex_decode_fixed(pred, 32, ph, strlen(ph)) == 0),
                ARCA_ERR_FORMAT, "proposal %s: malformed answer", id);
    struct arca_approval_change ch = {.cas_key = ck->cas_key,
                                      .session_name = name,
                                      .predecessor = ph != NULL ? pred : NULL,
                                      .new_hash = hash};
    ARCA_TRY(arca_approval_message(&ch, msg));
    char mh[65];
    arca_hex_fmt(mh, msg, 32);
    ARCA_ENSURE(strcmp(mh, shown) == 0, ARCA_ERR_SIGNATURE,
                "proposal %s: the CAS shows another approval message; not voting", id);
    struct arca_session *s = NULL;
    char why[1600];
    const char *reason = "refused by checker: the proposed policy does not load";
    if (arca_session_load(yaml, strlen(yaml), "<proposal>", &s, NULL) == 0)
        reason = judge(ck, s, why, sizeof(why));
    arca_session_free(s);
    arca_err_clear();
    struct arca_buf sig, b64, body;
    arca_buf_init(&sig, 0);
    arca_buf_init(&b64, 0);
    arca_buf_init(&body, 0);
    json_t *req = NULL, *ans = NULL;
    int rc = arca_approval_sign(ck->key, msg, &sig);
    if (rc == 0)
        rc = arca_base64_encode(&b64, sig.data, sig.len);
    if (rc == 0) {
        req = json_pack("{s:s%, s:s%, s:s}", ARCA_PROP_REQ_KEY, (const char *)ck->pub.data,
                        ck->pub.len, ARCA_PROP_REQ_SIGNATURE, (const char *)b64.data, b64.len,
                        ARCA_PROP_REQ_REASON,
                        reason != NULL ? reason : "approved by checker: no rule refuses it");
        rc = req != NULL ? arca_json_dump(req, false, &body) : ARCA_ERR_ALLOC;
    }
    char path[256];
    snprintf(path, sizeof(path), "/v1/proposals/%s/%s", id, reason != NULL ? "reject" : "approve");
    if (rc == 0)
        rc = call(ck, "POST", path, body.data, body.len, &ans);
    if (rc == 0)
        printf("checker: %s %s (%s): %s\n", reason != NULL ? "rejected" : "approved", id, name,
               json_string_value(json_object_get(ans, ARCA_PROP_STATE)));
    fflush(stdout);
    json_decref(req);
    json_decref(ans);
    arca_buf_free(&sig);
    arca_buf_free(&b64);
    arca_buf_free(&body);
    return rc;
}

static int round_once(struct checker *ck)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/proposals?state=open&pending=1&wait=%d", ck->wait);
    json_t *l = NULL;
    ARCA_TRY(call(ck, "GET", path, NULL, 0, &l));
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(l, ARCA_PROP_PROPOSALS), i, e)
    {
        const char *id = json_string_value(json_object_get(e, ARCA_PROP_ID));
        json_t *p = NULL;
        char pp[128];
        snprintf(pp, sizeof(pp), "/v1/proposals/%s", id != NULL ? id : "");
        int rc = id != NULL ? call(ck, "GET", pp, NULL, 0, &p) : ARCA_ERR_FORMAT;
        if (rc == 0)
            rc = vote(ck, p, id);
        if (rc < 0)
            fprintf(stderr, "checker: proposal %s: %s\n", id != NULL ? id : "?", arca_err_detail());
        json_decref(p);
    }
    json_decref(l);
    return 0;
}

static int setup(struct checker *ck, const json_t *cfg)
{
    const char *key_hex = json_string_value(json_object_get(cfg, "cas_key"));
    const char *dir = json_string_value(json_object_get(cfg, "identity"));
    ck->addr = json_string_value(json_object_get(cfg, "cas"));
    ARCA_ENSURE(ck->addr != NULL && dir != NULL && key_hex != NULL &&
                    arca_hex_decode_fixed(ck->cas_key, 32, key_hex, strlen(key_hex)) == 0,
                ARCA_ERR_FORMAT, "config: needs \"cas\", \"cas_key\" (64 hex) and \"identity\"");
    ck->cli.identity = dir;
    ck->refuse = json_object_get(cfg, "refuse");
    ck->wait = (int)json_integer_value(json_object_get(cfg, "wait"));
    ck->rounds = (int)json_integer_value(json_object_get(cfg, "rounds"));
    if (ck->wait <= 0 || ck->wait > ARCA_PROP_WAIT_MAX)
        ck->wait = 10;
    char path[4200];
    struct arca_buf pem;
    arca_buf_init_secret(&pem, 1 << 16);
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    int rc = cli_file_read(path, &pem);
    if (rc == 0)
        rc = arca_key_from_pem(pem.data, pem.len, &ck->key);
    arca_buf_free(&pem);
    ARCA_TRY(rc);
    ARCA_TRY(arca_key_id(ck->key, ck->key_id));
    arca_buf_init(&ck->pub, 0);
    return arca_key_public_pem(ck->key, &ck->pub);
}

/* The CLI's group dispatch in client.c (never used here) refers to these two of its main.c. */
int cli_take_output_flag(struct arca_cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argv;
    return argc;
}
int cli_fail(int code, const char *fmt, ...)
{
    (void)fmt;
    return code;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: arca-checker CONFIG.json\n");
        return 2;
    }
    arca_json_wipe_on_free();
    struct checker ck;
    memset(&ck, 0, sizeof(ck));
    ck.cli.argv0 = argv[0];
    struct arca_buf text;
    arca_buf_init(&text, 1 << 20);
    json_t *cfg = NULL;
    int rc = cli_file_read(argv[1], &text);
    if (rc == 0)
        rc = arca_json_parse_object(text.data, text.len, argv[1], &cfg);
    if (rc == 0)
        rc = setup(&ck, cfg);
    if (rc < 0) {
        fprintf(stderr, "arca-checker: %s\n", arca_err_detail());
        json_decref(cfg);
        arca_buf_free(&text);
        return 1;
    }
    char kid[65];
    arca_hex_fmt(kid, ck.key_id, 32);
    printf("checker: judging proposals as signer %s\n", kid);
    fflush(stdout);
    for (int r = 0; ck.rounds == 0 || r < ck.rounds; r++)
        if (round_once(&ck) < 0)
            fprintf(stderr, "checker: %s\n", arca_err_detail());
    arca_key_free(ck.key);
    arca_buf_free(&ck.pub);
    json_decref(cfg);
    arca_buf_free(&text);
    return 0;
}
