/*
 * What a member sees of a proposal (cas_proposals.h): the summary a list shows, and the full
 * answer with the diff against the active version and the secrets of the proposed version.
 * Both sides of the diff are redacted YAML (policy/redact.h), so an explicit secret value can
 * appear in neither; secrets are listed by name and origin only ("generated", ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_proposals_internal.h"
#include "policy/redact.h"
#include "policy/session.h"

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char h[129];
    arca_hex_fmt(h, p, n);
    return json_string(h);
}

static json_t *votes_json(const struct prop *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < p->n_votes; i++) {
        const struct prop_vote *v = &p->votes[i];
        json_t *o = json_pack("{s:o, s:s, s:s?, s:I}", ARCA_PROP_SIGNER, hex_json(v->signer, 32),
                              ARCA_PROP_VERDICT, v->approve ? "approve" : "reject",
                              ARCA_PROP_REASON, v->reason, ARCA_PROP_AT, (json_int_t)v->at);
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *prop_summary_json(const struct prop *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:I, s:I, s:o}", ARCA_PROP_ID, p->id,
                     ARCA_PROP_SESSION, p->session, ARCA_PROP_KIND,
                     p->has_pred ? "update" : "create", ARCA_PROP_STATE, prop_state_name(p->state),
                     ARCA_PROP_REASON, p->reason, ARCA_PROP_HASH, hex_json(p->hash, 32),
                     ARCA_PROP_SUBMITTER, hex_json(p->submitter, 32), ARCA_PROP_SUBMITTED_AT,
                     (json_int_t)p->submitted_at, ARCA_PROP_EXPIRES_AT, (json_int_t)p->expires_at,
                     ARCA_PROP_VOTES, votes_json(p));
}

/* ---- diff --------------------------------------------------------------------------------- */

struct lines {
    const char **at;
    size_t *len;
    size_t n;
};

static int split(const char *s, size_t n, struct lines *l)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += s[i] == '\n';
    count += n > 0 && s[n - 1] != '\n';
    l->n = 0;
    l->at = count ? calloc(count, sizeof(*l->at)) : NULL;
    l->len = count ? calloc(count, sizeof(*l->len)) : NULL;
    ARCA_ENSURE(count == 0 || (l->at != NULL && l->len != NULL), ARCA_ERR_ALLOC,
                "proposal: diff: out of memory");
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '\n') {
            if (i > start || i < n) {
                l->at[l->n] = s + start;
                l->len[l->n++] = i - start;
            }
            start = i + 1;
        }
    }
    return 0;
}

static bool line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->at[i], b->at[j], a->len[i]) == 0;
}

static int emit(struct arca_buf *out, char tag, const struct lines *l, size_t i)
{
    ARCA_TRY(arca_buf_put_u8(out, (uint8_t)tag));
    ARCA_TRY(arca_buf_put(out, l->at[i], l->len[i]));
    return arca_buf_put_u8(out, '\n');
}

/* Longest-common-subsequence table size above which the middle is shown as removed-then-added
 * (keeps the diff of a huge policy from costing arcad more than a few MiB). */
#define DIFF_CELLS_MAX ((size_t)4 << 20)

/* A line diff of a -> b: " " kept, "-" removed, "+" added, one line each. */
static int line_diff(const struct lines *a, const struct lines *b, struct arca_buf *out)
{
    size_t pre = 0, suf = 0;
    while (pre < a->n && pre < b->n && line_eq(a, pre, b, pre))
        pre++;
    while (suf < a->n - pre && suf < b->n - pre && line_eq(a, a->n - 1 - suf, b, b->n - 1 - suf))
        suf++;
    size_t n = a->n - pre - suf, m = b->n - pre - suf;
    for (size_t i = 0; i < pre; i++)
        ARCA_TRY(emit(out, ' ', a, i));
    uint32_t *t = NULL;
    if (n > 0 && m > 0 && (n + 1) * (m + 1) <= DIFF_CELLS_MAX)
        t = calloc((n + 1) * (m + 1), sizeof(*t));
    if (t == NULL) {
        for (size_t i = 0; i < n; i++)
            ARCA_TRY(emit(out, '-', a, pre + i));
        for (size_t j = 0; j < m; j++)
            ARCA_TRY(emit(out, '+', b, pre + j));
    } else {
        /* t[i][j]: LCS length of a[pre+i..] and b[pre+j..] */
#define T(i, j) t[(i) * (m + 1) + (j)]
        for (size_t i = n; i-- > 0;)
            for (size_t j = m; j-- > 0;)
                T(i, j) = line_eq(a, pre + i, b, pre + j)
                              ? T(i + 1, j + 1) + 1
                              : (T(i + 1, j) >= T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
        size_t i = 0, j = 0;
        int rc = 0;
        while (rc == 0 && (i < n || j < m)) {
            if (i < n && j < m && line_eq(a, pre + i, b, pre + j)) {
                rc = emit(out, ' ', a, pre + i++);
                j++;
            } else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1))) {
                rc = emit(out, '-', a, pre + i++);
            } else {
                rc = emit(out, '+', b, pre + j++);
            }
        }
#undef T
        free(t);
        ARCA_TRY(rc);
    }
    for (size_t i = a->n - suf; i < a->n; i++)
        ARCA_TRY(emit(out, ' ', a, i));
    return 0;
}

/* The diff of the redacted active version (none for a create) against the redacted proposal. */
static int diff_text(const struct prop *p, const struct prop_ctx *c, struct arca_buf *out)
{
    struct arca_buf ra, rb;
    arca_buf_init(&ra, 0);
    arca_buf_init(&rb, 0);
    struct lines la = {0}, lb = {0};
    int rc = 0;
    if (p->has_pred && c->active != NULL)
        ARCA_GUARD(rc, arca_session_redact(c->active->yaml, c->active->yaml_len, &ra), out);
    ARCA_GUARD(rc, arca_session_redact(p->yaml, p->yaml_len, &rb), out);
    ARCA_GUARD(rc, split((const char *)ra.data, ra.len, &la), out);
    ARCA_GUARD(rc, split((const char *)rb.data, rb.len, &lb), out);
    rc = line_diff(&la, &lb, out);
out:
    free(la.at);
    free(la.len);
    free(lb.at);
    free(lb.len);
    arca_buf_free(&ra);
    arca_buf_free(&rb);
    return rc;
}

/* [{name, kind, value}] of the proposed version: where each value comes from, never what. */
static json_t *secrets_json(const struct prop *p)
{
    struct arca_session *s = NULL;
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_session_load(p->yaml, p->yaml_len, "<proposal>", &s, &d);
    arca_diag_free(&d);
    json_t *a = json_array();
    for (size_t i = 0; rc == 0 && a != NULL && i < s->n_secrets; i++) {
        const struct arca_secret *x = &s->secrets[i];
        char origin[1400];
        if (x->has_import)
            snprintf(origin, sizeof(origin), "imported from %s",
                     x->import_from.session.s != NULL ? x->import_from.session.s : "?");
        else if (x->provided_by.s != NULL)
            snprintf(origin, sizeof(origin), "provided by service %s", x->provided_by.s);
        else if (x->value.s != NULL || x->fragment != NULL)
            snprintf(origin, sizeof(origin), "explicit value (hidden)");
        else
            snprintf(origin, sizeof(origin), "generated");
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", x->name.s, "kind",
                              arca_secret_kind_name(x->kind), "value", origin, "export_public",
                              x->export_public);
        if (o == NULL || json_array_append_new(a, o) < 0)
            rc = ARCA_ERR_ALLOC;
    }
    arca_session_free(s);
    arca_err_clear();
    return a;
}

/* What the rule still lacks, in the words of the rule evaluator (key hashes, lines). */
static json_t *missing_json(const struct prop *p, const struct prop_ctx *c)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    bool holds = false;
    if (p->state != PROP_OPEN)
        arca_buf_printf(&b, "nothing: the proposal is %s", prop_state_name(p->state));
    else if (c->rule == NULL)
        arca_buf_printf(&b, "no rule governs this change");
    else if (prop_rule_holds(p, c, &holds, &b) == 0 && holds)
        arca_buf_printf(&b, "nothing: the rule holds");
    else if (b.len == 0)
        arca_buf_printf(&b, "%s is not satisfied yet", c->rule_name);
    arca_err_clear();
    json_t *j = json_stringn(b.data != NULL ? (const char *)b.data : "", b.len);
    arca_buf_free(&b);
    return j;
}

int prop_show_json(const struct arca_cas *cas, const struct prop *p, const struct prop_ctx *c,
                   json_t **out)
{
    *out = NULL;
    uint8_t msg[32];
    ARCA_TRY(prop_message(cas, p, msg));
    struct arca_buf diff;
    arca_buf_init(&diff, 0);
    int rc = diff_text(p, c, &diff);
    if (rc < 0) { /* a version that cannot be re-emitted is shown without a diff */
        arca_buf_reset(&diff);
        arca_buf_printf(&diff, "(no diff: %s)", arca_err_detail());
        arca_err_clear();
    }
    struct arca_buf red;
    arca_buf_init(&red, 0);
    if (arca_session_redact(p->yaml, p->yaml_len, &red) < 0) {
        arca_buf_reset(&red);
        arca_err_clear();
    }
    json_t *j = prop_summary_json(p);
    if (j != NULL &&
        json_object_set_new(j, ARCA_PROP_PROPOSED,
                            json_stringn(red.data != NULL ? (const char *)red.data : "", red.len)) <
            0) {
        json_decref(j);
        j = NULL;
    }
    arca_buf_free(&red);
    if (j != NULL &&
        json_object_update_new(
            j, json_pack("{s:o, s:o, s:o, s:o, s:s, s:o, s:s%, s:o}", ARCA_PROP_PREDECESSOR,
                         p->has_pred ? hex_json(p->pred, 32) : json_null(), ARCA_PROP_CREATOR,
                         hex_json(p->creator, 32), ARCA_PROP_CAS_KEY, hex_json(cas->cas_key, 32),
                         ARCA_PROP_MESSAGE, hex_json(msg, 32), ARCA_PROP_RULE,
                         c->rule_name != NULL ? c->rule_name : "", ARCA_PROP_MISSING,
                         missing_json(p, c), ARCA_PROP_DIFF,
                         diff.data != NULL ? (const char *)diff.data : "", diff.len,
                         ARCA_PROP_SECRETS, secrets_json(p))) < 0) {
        json_decref(j);
        j = NULL;
    }
    if (j != NULL && p->state == PROP_APPLIED &&
        json_object_set_new(j, ARCA_PROP_APPLIED,
                            json_pack("{s:o, s:I}", "hash", hex_json(p->hash, 32), "version",
                                      (json_int_t)p->applied_version)) < 0) {
        json_decref(j);
        j = NULL;
    }
    arca_buf_free(&diff);
    ARCA_ENSURE(j != NULL, ARCA_ERR_ALLOC, "proposal: out of memory");
    *out = j;
    return 0;
}
