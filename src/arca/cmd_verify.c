/*
 * arca session verify NAME: re-checks a session's whole history offline from what the CAS
 * serves (GET /v1/history/NAME, each version, GET /v1/approvals/NAME?hash=H), with
 * govern/chain.h: every predecessor link, every version's hash where the served text is
 * complete, and that every approvals record verifies over its change and satisfies the update
 * rule of the version before it. Says per version what was and was not re-checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client_api.h"
#include "base/enc.h"
#include "base/err.h"
#include "cli.h"
#include "client.h"
#include "govern/chain.h"
#include "policy/session.h"

/* A parsed approvals record; the signature bytes and keys owned here. */
struct served_record {
    struct arca_chain_record r;
    struct arca_approval_sig sigs[ARCA_APPROVAL_MAX_SIGS];
    struct arca_buf sig[ARCA_APPROVAL_MAX_SIGS];
    json_t *json; /* keeps the signer PEM strings alive */
};

static void record_free(struct served_record *s)
{
    for (size_t i = 0; i < s->r.n_sigs; i++)
        arca_buf_free(&s->sig[i]);
    json_decref(s->json);
    s->json = NULL;
    s->r.n_sigs = 0;
}

static int hex32(const json_t *o, const char *key, uint8_t out[32])
{
    const char *h = json_string_value(json_object_get(o, key));
    ARCA_ENSURE(h != NULL && arca_hex_decode_fixed(out, 32, h, strlen(h)) == 0, ARCA_ERR_FORMAT,
                "approvals record: \"%s\" is not 64 hex characters", key);
    return 0;
}

/* Reads the record of version hash of name into *s; *found false when there is none. */
static int fetch_record(struct arca_cli *cli, const char *name, const uint8_t hash[32],
                        struct served_record *s, bool *found)
{
    char h[65], path[1300];
    arca_hex_fmt(h, hash, 32);
    snprintf(path, sizeof(path), "/v1/approvals/%s?hash=%s", name, h);
    memset(&s->r, 0, sizeof(s->r));
    *found = false;
    int rc = session_get_json(cli, path, &s->json);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_err_clear();
        return 0;
    }
    ARCA_TRY(rc);
    ARCA_TRY(hex32(s->json, "message", s->r.message));
    ARCA_TRY(hex32(s->json, "judged_by", s->r.judged_by));
    s->r.has_client = hex32(s->json, "client", s->r.client) == 0;
    arca_err_clear();
    const json_t *a = json_object_get(s->json, "approvals");
    ARCA_ENSURE(json_is_array(a) && json_array_size(a) <= ARCA_APPROVAL_MAX_SIGS, ARCA_ERR_FORMAT,
                "approvals record: \"approvals\" is not a list of at most %d entries",
                ARCA_APPROVAL_MAX_SIGS);
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        const char *pem = json_string_value(json_object_get(e, "signer"));
        const char *b64 = json_string_value(json_object_get(e, "signature"));
        ARCA_ENSURE(pem != NULL && b64 != NULL, ARCA_ERR_FORMAT,
                    "approvals record: entry %zu lacks signer or signature", i);
        arca_buf_init(&s->sig[i], 0);
        s->r.n_sigs = i + 1;
        ARCA_TRY(arca_base64_decode(&s->sig[i], b64, strlen(b64)));
        s->sigs[i] = (struct arca_approval_sig){pem, strlen(pem), s->sig[i].data, s->sig[i].len};
    }
    s->r.sigs = s->sigs;
    *found = true;
    return 0;
}

/* Prints (or adds to arr) the outcome of one version. */
static void report(json_t *arr, const struct arca_api_version *v, const struct arca_chain_result *r)
{
    char h[65];
    arca_hex_fmt(h, v->hash, 32);
    const char *why = arca_buf_cstr(&r->why);
    if (arr != NULL) {
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b, s:I, s:b, s:s}", "version",
                           (json_int_t)v->version, "hash", h, "ok", r->ok, "link_ok", r->link_ok,
                           "hash_checked", r->hash_checked, "hash_ok", r->hash_ok,
                           "approvals_checked", r->approvals, "approvers", (json_int_t)r->approvers,
                           "approvals_ok", r->approvals_ok, "notes", why));
        return;
    }
    printf("%llu\t%s\t%s\tlink %s, hash %s, approvals %s", (unsigned long long)v->version, h,
           r->ok ? "ok" : "FAILED", r->link_ok ? "ok" : "BROKEN",
           !r->hash_checked ? "not re-checked"
           : r->hash_ok     ? "ok"
                            : "MISMATCH",
           !r->approvals     ? "none"
           : r->approvals_ok ? "ok"
                             : "FAILED");
    if (r->approvals)
        printf(" (%zu signers)", r->approvers);
    printf("%s%s\n", *why ? ": " : "", why);
}

int session_verify_chain(struct arca_cli *cli, const char *name)
{
    if (arca_session_name_check(name, strlen(name), true) < 0)
        return cli_fail(ARCA_EXIT_USAGE, "session verify: %s", arca_err_detail());
    uint8_t cas_key[32];
    if (cli_cas_key_id(cli, cas_key) < 0)
        return cli_fail(ARCA_EXIT_CAS, "session verify: %s", arca_err_detail());
    struct arca_api_versions l;
    int rc = session_get_history(cli, name, &l);
    if (rc < 0)
        return cli_fail(arca_client_exit_code(rc), "session verify: %s", arca_err_detail());
    /* Served versions with their text, oldest first (history is newest first). */
    struct arca_api_version *v = calloc(l.n > 0 ? l.n : 1, sizeof(*v));
    struct served_record *sr = calloc(1, sizeof(*sr));
    json_t *arr = cli->output == ARCA_OUTPUT_JSON ? json_array() : NULL;
    bool all_ok = l.n > 0;
    if (v == NULL || sr == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "session verify: out of memory");
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char h[65];
        arca_hex_fmt(h, l.v[l.n - 1 - i].hash, 32);
        rc = session_get_version(cli, name, h, &v[i], NULL);
        if (rc == 0 && memcmp(v[i].hash, l.v[l.n - 1 - i].hash, 32) != 0)
            rc = arca_err_set(ARCA_ERR_FORMAT, "the CAS served version %s under another hash", h);
    }
    struct arca_chain_result res;
    arca_chain_result_init(&res);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        struct arca_chain_version cur = {.version = v[i].version,
                                         .has_predecessor = v[i].has_predecessor,
                                         .text = v[i].session,
                                         .text_len = v[i].session_len};
        memcpy(cur.hash, v[i].hash, 32);
        memcpy(cur.creator, v[i].creator, 32);
        memcpy(cur.predecessor, v[i].predecessor, 32);
        struct arca_chain_version prev = {0};
        if (i > 0) {
            prev = (struct arca_chain_version){.version = v[i - 1].version,
                                               .text = v[i - 1].session,
                                               .text_len = v[i - 1].session_len};
            memcpy(prev.hash, v[i - 1].hash, 32);
            memcpy(prev.creator, v[i - 1].creator, 32);
        }
        bool found = false;
        rc = fetch_record(cli, name, cur.hash, sr, &found);
        if (rc == 0)
            rc = arca_chain_check(cas_key, name, i > 0 ? &prev : NULL, &cur, found ? &sr->r : NULL,
                                  &res);
        record_free(sr);
        if (rc == 0) {
            all_ok = all_ok && res.ok;
            report(arr, &v[i], &res);
        }
    }
    arca_chain_result_clear(&res);
    for (size_t i = 0; v != NULL && i < l.n; i++)
        arca_api_version_clear(&v[i]);
    free(v);
    free(sr);
    arca_api_versions_clear(&l);
    if (rc < 0) {
        json_decref(arr);
        return cli_fail(arca_client_exit_code(rc), "session verify: %s", arca_err_detail());
    }
    if (arr != NULL) {
        json_t *o = json_pack("{s:s, s:b, s:o}", "name", name, "verified", all_ok, "versions", arr);
        cli_print_json(o);
        json_decref(o);
    } else if (all_ok) {
        printf("verified: the history of '%s' chains and every approval checked holds\n", name);
    } else {
        fprintf(stderr, "arca: session verify: the history of '%s' does NOT verify\n", name);
    }
    return all_ok ? ARCA_EXIT_OK : ARCA_EXIT_FAIL;
}
