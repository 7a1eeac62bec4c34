/*
 * The sealed encoding of a proposal (cas_proposals_internal.h): a JSON object, since the
 * record is small, versioned by its keys and read back only by this file. The store seals it;
 * decoding is still strict (duplicate keys refused, every field checked) because a decoder
 * that trusts its input is one bug away from trusting an attacker's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_proposals_internal.h"

static const char *const state_names[] = {"open",    "applied", "rejected",
                                          "expired", "stale",   "failed"};

const char *prop_state_name(enum prop_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

void prop_free(struct prop *p)
{
    if (p == NULL)
        return;
    free(p->session);
    free(p->reason);
    if (p->yaml != NULL)
        arca_wipe_free(p->yaml, p->yaml_len + 1);
    for (size_t i = 0; i < p->n_votes; i++) {
        free(p->votes[i].key_pem);
        free(p->votes[i].sig);
        free(p->votes[i].reason);
    }
    free(p->votes);
    free(p);
}

void prop_close(struct prop *p, enum prop_state s, int64_t now, const char *fmt, ...)
{
    char msg[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    free(p->reason);
    p->reason = strdup(msg);
    p->state = s;
    p->closed_at = now;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char h[129];
    arca_hex_fmt(h, p, n);
    return json_string(h);
}

static int set(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v) == 0 ? 0 : arca_err_set(ARCA_ERR_ALLOC, "proposal: encode");
}

static json_t *vote_json(const struct prop_vote *v)
{
    struct arca_buf b64;
    arca_buf_init(&b64, 0);
    json_t *o = NULL;
    if (arca_base64_encode(&b64, v->sig, v->sig_len) == 0)
        o = json_pack("{s:o, s:s, s:s%, s:s, s:s?, s:I}", "signer", hex_json(v->signer, 32), "key",
                      v->key_pem, "sig", (const char *)b64.data, b64.len, "verdict",
                      v->approve ? "approve" : "reject", "reason", v->reason, "at",
                      (json_int_t)v->at);
    arca_buf_free(&b64);
    return o;
}

int prop_encode(const struct prop *p, struct arca_buf *out)
{
    json_t *o = json_object(), *votes = json_array();
    int rc = o != NULL && votes != NULL ? 0 : arca_err_set(ARCA_ERR_ALLOC, "proposal: encode");
    for (size_t i = 0; rc == 0 && i < p->n_votes; i++) {
        json_t *v = vote_json(&p->votes[i]);
        if (v == NULL || json_array_append_new(votes, v) < 0)
            rc = arca_err_set(ARCA_ERR_ALLOC, "proposal: encode");
    }
    if (rc == 0)
        rc = set(o, "id", json_string(p->id));
    if (rc == 0)
        rc = set(o, "rev", json_integer((json_int_t)p->rev));
    if (rc == 0)
        rc = set(o, "session", json_string(p->session));
    if (rc == 0)
        rc = set(o, "predecessor", p->has_pred ? hex_json(p->pred, 32) : json_null());
    if (rc == 0)
        rc = set(o, "hash", hex_json(p->hash, 32));
    if (rc == 0)
        rc = set(o, "creator", hex_json(p->creator, 32));
    if (rc == 0)
        rc = set(o, "submitter", hex_json(p->submitter, 32));
    if (rc == 0)
        rc = set(o, "submitted_at", json_integer(p->submitted_at));
    if (rc == 0)
        rc = set(o, "expires_at", json_integer(p->expires_at));
    if (rc == 0)
        rc = set(o, "closed_at", json_integer(p->closed_at));
    if (rc == 0)
        rc = set(o, "state", json_string(prop_state_name(p->state)));
    if (rc == 0)
        rc = set(o, "reason", p->reason != NULL ? json_string(p->reason) : json_null());
    if (rc == 0)
        rc = set(o, "yaml", json_stringn(p->yaml, p->yaml_len));
    if (rc == 0)
        rc = set(o, "applied_version", json_integer((json_int_t)p->applied_version));
    if (rc == 0) {
        rc = set(o, "votes", votes);
        votes = NULL;
    }
    if (rc == 0)
        rc = arca_json_dump(o, true, out);
    json_decref(votes);
    json_decref(o);
    return rc;
}

/* ---- decode ------------------------------------------------------------------------------- */

static int bad(const char *field)
{
    return arca_err_set(ARCA_ERR_TAMPERED, "stored proposal: field '%s' is malformed", field);
}

static int get_str(const json_t *o, const char *k, bool nullable, char **out)
{
    const json_t *v = json_object_get(o, k);
    *out = NULL;
    if (nullable && json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(k);
    *out = strdup(json_string_value(v));
    return *out != NULL ? 0 : arca_err_set(ARCA_ERR_ALLOC, "proposal: decode");
}

static int get_hex32(const json_t *o, const char *k, uint8_t out[32])
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL || arca_hex_decode_fixed(out, 32, s, strlen(s)) < 0)
        return bad(k);
    return 0;
}

static int get_int(const json_t *o, const char *k, int64_t *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        return bad(k);
    *out = json_integer_value(v);
    return 0;
}

static int decode_vote(const json_t *j, struct prop_vote *v)
{
    const char *sig = json_string_value(json_object_get(j, "sig"));
    const char *verdict = json_string_value(json_object_get(j, "verdict"));
    ARCA_TRY(get_hex32(j, "signer", v->signer));
    ARCA_TRY(get_str(j, "key", false, &v->key_pem));
    ARCA_TRY(get_str(j, "reason", true, &v->reason));
    ARCA_TRY(get_int(j, "at", &v->at));
    if (verdict == NULL || (strcmp(verdict, "approve") != 0 && strcmp(verdict, "reject") != 0))
        return bad("verdict");
    v->approve = strcmp(verdict, "approve") == 0;
    struct arca_buf b;
    arca_buf_init(&b, 0);
    if (sig == NULL || arca_base64_decode(&b, sig, strlen(sig)) < 0) {
        arca_buf_free(&b);
        return bad("sig");
    }
    v->sig_len = b.len;
    int rc = arca_buf_steal(&b, (char **)&v->sig, &v->sig_len);
    arca_buf_free(&b);
    return rc;
}

static int decode_into(const json_t *o, struct prop *p)
{
    const char *id = json_string_value(json_object_get(o, "id"));
    if (id == NULL || strlen(id) == 0 || strlen(id) > ARCA_STORE_PROPOSAL_ID_MAX)
        return bad("id");
    snprintf(p->id, sizeof(p->id), "%s", id);
    int64_t rev = 0, ver = 0;
    ARCA_TRY(get_int(o, "rev", &rev));
    p->rev = (uint64_t)rev;
    ARCA_TRY(get_str(o, "session", false, &p->session));
    const json_t *pred = json_object_get(o, "predecessor");
    p->has_pred = !json_is_null(pred);
    if (p->has_pred)
        ARCA_TRY(get_hex32(o, "predecessor", p->pred));
    ARCA_TRY(get_hex32(o, "hash", p->hash));
    ARCA_TRY(get_hex32(o, "creator", p->creator));
    ARCA_TRY(get_hex32(o, "submitter", p->submitter));
    ARCA_TRY(get_int(o, "submitted_at", &p->submitted_at));
    ARCA_TRY(get_int(o, "expires_at", &p->expires_at));
    ARCA_TRY(get_int(o, "closed_at", &p->closed_at));
    ARCA_TRY(get_int(o, "applied_version", &ver));
    p->applied_version = (uint64_t)ver;
    const char *st = json_string_value(json_object_get(o, "state"));
    size_t ns = sizeof(state_names) / sizeof(state_names[0]), i = 0;
    while (st != NULL && i < ns && strcmp(st, state_names[i]) != 0)
        i++;
    if (st == NULL || i == ns)
        return bad("state");
    p->state = (enum prop_state)i;
    ARCA_TRY(get_str(o, "reason", true, &p->reason));
    const json_t *y = json_object_get(o, "yaml");
    if (!json_is_string(y))
        return bad("yaml");
    p->yaml_len = json_string_length(y);
    p->yaml = malloc(p->yaml_len + 1);
    ARCA_ENSURE(p->yaml != NULL, ARCA_ERR_ALLOC, "proposal: decode");
    memcpy(p->yaml, json_string_value(y), p->yaml_len + 1);
    const json_t *votes = json_object_get(o, "votes");
    if (!json_is_array(votes) || json_array_size(votes) > ARCA_PROP_VOTES_MAX)
        return bad("votes");
    size_t nv = json_array_size(votes);
    if (nv > 0) {
        p->votes = calloc(nv, sizeof(*p->votes));
        ARCA_ENSURE(p->votes != NULL, ARCA_ERR_ALLOC, "proposal: decode");
    }
    for (size_t k = 0; k < nv; k++) {
        p->n_votes = k + 1;
        ARCA_TRY(decode_vote(json_array_get(votes, k), &p->votes[k]));
    }
    return 0;
}

int prop_decode(const uint8_t *b, size_t n, struct prop **out)
{
    json_t *o = NULL;
    *out = NULL;
    int rc = arca_json_parse_object(b, n, "stored proposal", &o);
    if (rc < 0)
        return arca_err_set(ARCA_ERR_TAMPERED, "stored proposal: not a JSON object");
    struct prop *p = calloc(1, sizeof(*p));
    if (p == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "proposal: decode");
    else
        rc = decode_into(o, p);
    json_decref(o);
    if (rc < 0) {
        prop_free(p);
        return rc;
    }
    *out = p;
    return 0;
}
