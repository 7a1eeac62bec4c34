/*
 * Session create, update, read, list and history (cas/cas.h). Moved here from arcad's request
 * handlers so that the rules have unit tests of their own and arcad only adapts HTTP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "api/json.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "cas/cas_internal.h"
#include "govern/access.h"
#include "govern/approval.h"
#include "govern/signed_session.h"
#include "policy/redact.h"
#include "policy/session.h"
#include "policy/session_cache.h"
#include "secrets/secrets.h"
#include "secrets/session_specs.h"

static void hexstr(char out[65], const uint8_t in[32])
{
    arca_hex_fmt(out, in, 32);
}

void arca_cas_audit(const struct arca_cas *cas, const char *event, json_t *fields)
{
    if (cas->audit != NULL && arca_audit_append(cas->audit, event, fields, NULL) < 0)
        arca_error("cas", "audit: cannot record %s: %s", event, arca_err_detail());
    json_decref(fields);
}

/* Rules of model that are imported fragments (resolved per request, never cached). */
static bool imports_access(const struct arca_session *model)
{
    const struct arca_access_policy *ap = &model->access;
    return ap->read.import.s != NULL || ap->update.import.s != NULL ||
           ap->create_sessions.import.s != NULL || ap->list_sessions.import.s != NULL;
}

int cas_load_model(const struct arca_cas *cas, const struct arca_store_session *rec,
                   struct arca_cached_session **out)
{
    *out = NULL;
    struct arca_cached_session *ref = NULL;
    if (arca_session_cache_get(cas->sessions, rec->name, rec->hash, rec->yaml, rec->yaml_len,
                               &ref) < 0)
        return arca_err_set(ARCA_ERR_INTERNAL, "stored session '%s' no longer loads", rec->name);
    if (!imports_access(arca_cached_session_model(ref))) {
        *out = ref;
        return 0;
    }
    arca_cached_session_put(ref);
    struct arca_session *own = NULL;
    if (arca_session_load(rec->yaml, rec->yaml_len, rec->name, &own, NULL) < 0)
        return arca_err_set(ARCA_ERR_INTERNAL, "stored session '%s' no longer loads", rec->name);
    /* unresolved imported rules grant nothing: the request is refused, not failed */
    if (arca_attest_access_resolve(cas->store, cas->remote, rec->name, rec->hash, rec->yaml,
                                   rec->yaml_len, arca_time_now(), &own) < 0)
        arca_warn("cas", "session %s: imported access policy not resolved: %s", rec->name,
                  arca_err_detail());
    return arca_cached_session_own(own, out);
}

int cas_check_access(const struct arca_session *model, const uint8_t creator[32],
                     const uint8_t *client, enum arca_access_op op, bool *allowed)
{
    struct arca_access_subject subj = {.client_key_id = client, .creator_key_id = creator};
    return arca_access_check(arca_access_rule(&model->access, op), &subj, allowed);
}

/* The key ids of ap as a JSON list of hex strings (for audit lines). */
static json_t *approvers_json(const struct arca_approvers *ap)
{
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < ap->count; i++) {
        char h[65];
        hexstr(h, ap->ids[i]);
        json_array_append_new(ids, json_string(h));
    }
    return ids;
}

/* Evaluates op of model (creator given) for client and the verified approvers ap (may be
 * NULL): *allowed, and when refused with approvers the explanation in why. */
static int judge(const struct arca_session *model, const uint8_t creator[32], const uint8_t *client,
                 const struct arca_approvers *ap, enum arca_access_op op, bool *allowed,
                 struct arca_buf *why)
{
    if (ap == NULL)
        return cas_check_access(model, creator, client, op, allowed);
    const struct arca_ap_rule *rule = arca_access_rule(&model->access, op);
    ARCA_TRY(cas_approvers_known(rule, ap, arca_access_op_name(op)));
    struct arca_access_subject subj = {.client_key_id = client,
                                       .creator_key_id = creator,
                                       .approvers = (const uint8_t(*)[32])ap->ids,
                                       .approver_count = ap->count};
    ARCA_TRY(arca_approval_explain(rule, &subj, arca_access_op_name(op), allowed, why));
    if (!*allowed && arca_approval_satisfiable(rule, creator, arca_access_op_name(op)) < 0) {
        (void)arca_buf_printf(why, "; %s", arca_err_detail());
        arca_err_clear();
    }
    return 0;
}

/*
 * Decides op on stored version rec for client (and, for a signed upload, the verified
 * approvers ap; NULL otherwise) against rec's own policy: 0 if allowed, else ARCA_ERR_DENIED
 * (audited) with "not allowed to WHAT (...)", naming the unsatisfied branch and the missing
 * signers when approvals were given, or the error that stopped the decision. With hidden (a
 * "not found" detail), a client that may not read rec either gets ARCA_ERR_NOT_FOUND with that
 * detail instead, exactly what a missing session answers: who cannot read a session does not
 * learn that it exists (the denial is audited all the same).
 */
static int require_access(const struct arca_cas *cas, const uint8_t *client,
                          const struct arca_store_session *rec, enum arca_access_op op,
                          const char *what, const char *hidden, const struct arca_approvers *ap)
{
    struct arca_cached_session *ref = NULL;
    bool allowed = false, readable = false;
    struct arca_buf why;
    arca_buf_init(&why, 0);
    int rc = cas_load_model(cas, rec, &ref);
    const struct arca_session *model = arca_cached_session_model(ref);
    if (rc == 0 && hidden != NULL && op != ARCA_ACCESS_READ)
        rc = cas_check_access(model, rec->creator, client, ARCA_ACCESS_READ, &readable);
    if (rc == 0)
        rc = judge(model, rec->creator, client, ap, op, &allowed, &why);
    arca_cached_session_put(ref);
    if (rc == 0 && allowed) {
        arca_buf_free(&why);
        return 0;
    }
    if (rc < 0 && rc != ARCA_ERR_DENIED) {
        arca_buf_free(&why);
        return rc;
    }
    char kid[65] = "";
    if (client != NULL)
        hexstr(kid, client);
    json_t *fields = json_pack("{s:s, s:s, s:s}", "operation", arca_access_op_name(op), "session",
                               rec->name, "client", kid);
    if (ap != NULL) {
        json_object_set_new(fields, "approvers", approvers_json(ap));
        json_object_set_new(fields, "reason",
                            json_string(rc < 0 ? arca_err_detail() : arca_buf_cstr(&why)));
    }
    arca_cas_audit(cas, ARCA_AUDIT_ACCESS_DENIED, fields);
    /* Approvals that verified and come from keys the rule names were made for this session
     * by its own board: the uploader may learn why they do not suffice. */
    bool vouched = rc == 0 && ap != NULL && ap->count > 0;
    if (hidden != NULL && !readable && !vouched)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "%s", hidden);
    else if (rc == 0 && ap != NULL)
        rc = arca_err_set(ARCA_ERR_DENIED, "not allowed to %s: %s", what, arca_buf_cstr(&why));
    else if (rc == 0)
        rc = arca_err_set(ARCA_ERR_DENIED,
                          "not allowed to %s (its access_policy.%s does not list your key)", what,
                          arca_access_op_name(op));
    arca_buf_free(&why);
    return rc;
}

/* May client read stored version rec? false when it cannot be decided. */
static bool may_read(const struct arca_cas *cas, const struct arca_store_session *rec,
                     const uint8_t *client)
{
    struct arca_cached_session *ref = NULL;
    bool allowed = false;
    if (cas_load_model(cas, rec, &ref) < 0 ||
        cas_check_access(arca_cached_session_model(ref), rec->creator, client, ARCA_ACCESS_READ,
                         &allowed) < 0)
        allowed = false;
    arca_cached_session_put(ref);
    arca_err_clear();
    return allowed;
}

int cas_version_of(const struct arca_store_session *rec, struct arca_api_version *v)
{
    memset(v, 0, sizeof(*v));
    v->name = strdup(rec->name);
    ARCA_ENSURE(v->name != NULL, ARCA_ERR_ALLOC, "cas: out of memory");
    memcpy(v->hash, rec->hash, 32);
    v->version = rec->version;
    memcpy(v->creator, rec->creator, 32);
    v->created_at = rec->created_at;
    v->has_predecessor = rec->has_predecessor;
    memcpy(v->predecessor, rec->predecessor, 32);
    return 0;
}

/* ---- create and update -------------------------------------------------------------------- */

/* Generates (create) or migrates (update: old_hash given) the secrets of s and appends their
 * serialisation to blob (a secret buffer). */
static int secrets_for(const struct arca_cas *cas, const struct arca_session *s,
                       const uint8_t *old_hash, struct arca_buf *blob)
{
    int rc = 0;
    struct arca_secret_set *old = NULL, *set = NULL;
    if (s->n_secrets == 0)
        return 0;
    if (old_hash != NULL) {
        struct arca_buf ob;
        arca_buf_init_secret(&ob, 0);
        rc = arca_store_secrets_get(cas->store, old_hash, &ob);
        if (rc == 0)
            rc = arca_secret_set_decode(ob.data, ob.len, &old);
        else if (rc == ARCA_ERR_NOT_FOUND)
            rc = 0;
        arca_buf_free(&ob);
        if (rc < 0)
            return rc;
    }
    ARCA_GUARD(rc, arca_secret_set_new(&set), out);
    ARCA_GUARD(rc, arca_secrets_generate_for_session(s, old, arca_time_now(), set), out);
    ARCA_GUARD(rc, arca_secret_set_encode(set, blob), out);
out:
    arca_secret_set_free(set);
    arca_secret_set_free(old);
    return rc;
}

/*
 * The create rules: a namespaced name's parent admits the client, and the name is free. The
 * parent is decided first, so that who may not see it learns nothing about the names under
 * it; an existing name is 409 for everyone (names are one space), but only a client that may
 * read the session is told its active hash.
 */
static int check_create(const struct arca_cas *cas, const uint8_t *client,
                        const struct arca_session *s, const struct arca_store_session *active,
                        const struct arca_approvers *ap, uint8_t judged_by[32])
{
    const char *name = s->name.s;
    int rc = 0;
    char *parent_name = arca_session_parent_name(s);
    if (parent_name != NULL) {
        char missing[1400], what[1400];
        snprintf(missing, sizeof(missing),
                 "cannot create '%s': its namespace session '%s' does not exist", name,
                 parent_name);
        struct arca_store_session *parent = NULL;
        rc = arca_store_session_get_active(cas->store, parent_name, &parent);
        if (rc == ARCA_ERR_NOT_FOUND)
            rc = arca_err_set(ARCA_ERR_NOT_FOUND, "%s", missing);
        if (rc == 0) {
            snprintf(what, sizeof(what), "create sessions in namespace '%s'", parent_name);
            rc =
                require_access(cas, client, parent, ARCA_ACCESS_CREATE_SESSIONS, what, missing, ap);
            memcpy(judged_by, parent->hash, 32);
        }
        arca_store_session_free(parent);
        free(parent_name);
    }
    if (rc < 0 || active == NULL)
        return rc;
    if (!may_read(cas, active, client))
        return arca_err_set(ARCA_ERR_EXISTS,
                            "session '%s' exists; choose another name for a new session", name);
    char h[65];
    hexstr(h, active->hash);
    return arca_err_set(ARCA_ERR_EXISTS,
                        "session '%s' exists (active version %s); to change it, upload "
                        "with `predecessor: %s` (arca session update does that)",
                        name, h, h);
}

/* The update rules: the name exists and update admits the client (a client that may not read
 * it either is answered as if it did not exist), and only then: predecessor is the active
 * hash. */
static int check_update(const struct arca_cas *cas, const uint8_t *client,
                        const struct arca_session *s, const struct arca_store_session *active,
                        const struct arca_approvers *ap)
{
    const char *name = s->name.s;
    char missing[1400], what[1400];
    snprintf(missing, sizeof(missing),
             "cannot update '%s': no such session (remove `predecessor` to create it)", name);
    ARCA_ENSURE(active != NULL, ARCA_ERR_NOT_FOUND, "%s", missing);
    snprintf(what, sizeof(what), "update '%s'", name);
    ARCA_TRY(require_access(cas, client, active, ARCA_ACCESS_UPDATE, what, missing, ap));
    if (!arca_memeq(active->hash, s->predecessor, 32)) {
        char h[65], p[65];
        hexstr(h, active->hash);
        hexstr(p, s->predecessor);
        return arca_err_set(ARCA_ERR_CONFLICT,
                            "predecessor %s is not the active version of '%s' (%s); read it "
                            "again and retry%s",
                            p, name, h,
                            ap != NULL ? " (approvals apply to one change, once: sign the "
                                         "change again against the active version)"
                                       : "");
    }
    return 0;
}

/* Refuses an upload that would make arcad generate more than cas allows (before any store
 * access: the refusal depends on the upload alone). */
static int check_cost(const struct arca_secrets_limits *lim, const struct arca_session *s)
{
    struct arca_secret_spec *specs = NULL;
    size_t n = 0;
    ARCA_TRY(arca_secret_specs_from_session(s, &specs, &n));
    struct arca_secrets_cost cost;
    int rc = arca_secrets_cost_check(specs, n, lim, &cost);
    arca_secret_specs_free(specs, n);
    if (rc == ARCA_ERR_LIMIT) {
        /* The same order as the check: the first limit exceeded is the one reported. */
        const char *flag = lim->max_keys != 0 && cost.keys > lim->max_keys
                               ? "--max-keys-per-session"
                           : lim->max_certificates != 0 && cost.certificates > lim->max_certificates
                               ? "--max-certs-per-session"
                               : "--max-keygen-ms";
        char detail[512];
        snprintf(detail, sizeof(detail), "%s", arca_err_detail());
        rc = arca_err_set(ARCA_ERR_TOO_LARGE, "session '%s': %s (arcad %s)", s->name.s, detail,
                          flag);
    }
    return rc;
}

/* A create over the client's quota is refused before its secrets are generated (the commit
 * checks again inside its transaction, against concurrent creates). */
static int check_quota(const struct arca_cas *cas, const uint8_t *client)
{
    uint64_t made = 0, max = cas->max_sessions_per_client;
    if (max == 0)
        return 0;
    ARCA_TRY(arca_store_sessions_created(cas->store, client, &made));
    ARCA_ENSURE(made < max, ARCA_ERR_LIMIT,
                "quota: this client key created %llu sessions already, the limit is "
                "--max-sessions-per-client %llu",
                (unsigned long long)made, (unsigned long long)max);
    return 0;
}

static void audit_put(const struct arca_cas *cas, const struct arca_store_session *rec,
                      const uint8_t *client, const struct arca_approvers *ap)
{
    char h[65], c[65];
    hexstr(h, rec->hash);
    hexstr(c, client);
    json_t *fields = json_pack("{s:s, s:s, s:I, s:s}", "session", rec->name, "hash", h, "version",
                               (json_int_t)rec->version, "client", c);
    if (rec->has_predecessor) {
        char p[65];
        hexstr(p, rec->predecessor);
        json_object_set_new(fields, "predecessor", json_string(p));
    }
    if (ap != NULL) /* the approval set that admitted the version (docs/governance.md) */
        json_object_set_new(fields, "approvers", approvers_json(ap));
    arca_cas_audit(cas,
                   rec->has_predecessor ? ARCA_AUDIT_SESSION_UPDATED : ARCA_AUDIT_SESSION_CREATED,
                   fields);
    arca_info("cas", "session %s: %s version %llu (%s)",
              rec->has_predecessor ? "updated" : "created", rec->name,
              (unsigned long long)rec->version, h);
}

/* Refuses a version whose update or create_sessions rule could never hold (the session
 * would be locked for good). */
/* An access policy imported from another session is validated at create when the import can
 * be resolved: a value that does not fit is refused, one not there yet is left for use (the
 * imported rules grant nothing until then). */
static int check_imported_access(const struct arca_cas *cas, const struct arca_session *s,
                                 const uint8_t creator[32], const uint8_t *yaml, size_t n)
{
    /* Nothing to resolve (almost every upload): no second parse of the text, no hash. */
    if (!imports_access(s))
        return 0;
    uint8_t h[32];
    ARCA_TRY(arca_session_hash(s, creator, h));
    struct arca_session *copy = NULL;
    ARCA_TRY(arca_session_load((const char *)yaml, n, s->name.s, &copy, NULL));
    int rc = arca_attest_access_resolve(cas->store, cas->remote, s->name.s, h, (const char *)yaml,
                                        n, arca_time_now(), &copy);
    arca_session_free(copy);
    if (rc == ARCA_ERR_FORMAT || rc == ARCA_ERR_POLICY)
        return rc;
    if (rc < 0)
        arca_warn("cas", "session %s: imported access policy left for use: %s", s->name.s,
                  arca_err_detail());
    arca_err_clear();
    return 0;
}

static int check_satisfiable(const struct arca_session *s, const uint8_t creator[32])
{
    ARCA_TRY(arca_approval_satisfiable(&s->access.update, creator, "update"));
    return arca_approval_satisfiable(&s->access.create_sessions, creator, "create_sessions");
}

/* A creator: field (read back from a CAS, or written by a signer) must name the creator, and
 * the access rules must be satisfiable by it. */
static int check_creator_rules(const struct arca_session *s, const uint8_t creator[32])
{
    ARCA_ENSURE(!s->has_creator || arca_memeq(s->creator.key_id, creator, 32), ARCA_ERR_POLICY,
                "creator: names a key that is not the creator of '%s' (the uploader of its "
                "first version)",
                s->name.s);
    return check_satisfiable(s, creator);
}

int arca_cas_session_check_static(const struct arca_secrets_limits *lim,
                                  const struct arca_session *s, const uint8_t *creator)
{
    ARCA_ENSURE_REF(lim);
    ARCA_ENSURE_REF(s);
    ARCA_TRY(check_cost(lim, s));
    return creator != NULL ? check_creator_rules(s, creator) : 0;
}

/* For a signed upload: the creator the signers fixed must be the one the version gets, and
 * the hash they signed the one of the text. */
static int check_signed_hash(const struct arca_signed_session *ss, const struct arca_session *s,
                             const struct arca_store_session *active)
{
    if (s->has_predecessor && active != NULL)
        ARCA_ENSURE(arca_memeq(ss->creator, active->creator, 32), ARCA_ERR_FORMAT,
                    "signed session: \"creator\" is not the creator of '%s'", s->name.s);
    uint8_t h[32];
    ARCA_TRY(arca_session_hash(s, ss->creator, h));
    ARCA_ENSURE(arca_memeq(h, ss->hash, 32), ARCA_ERR_FORMAT,
                "signed session: \"hash\" is not the hash of its session text and creator");
    return 0;
}

/* A signed create names its creator: it must be someone who took part (the uploader or a
 * verified signer), so nobody is made the creator (and charged the session) behind their back. */
static int check_signed_creator(const struct arca_signed_session *ss, const uint8_t *client,
                                const struct arca_approvers *ap)
{
    if (arca_memeq(ss->creator, client, 32))
        return 0;
    for (size_t i = 0; i < ap->count; i++)
        if (arca_memeq(ss->creator, ap->ids[i], 32))
            return 0;
    ARCA_BAIL(ARCA_ERR_FORMAT, "signed session: \"creator\" is neither the uploader nor one of "
                               "its signers");
}

int arca_cas_session_put(const struct arca_cas *cas, const uint8_t *client, const void *yaml,
                         size_t n, struct arca_diag *diag, struct arca_cas_put *out)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(diag);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    ARCA_ENSURE(client != NULL, ARCA_ERR_UNAUTHENTICATED,
                "uploading a session needs a client certificate");
    ARCA_ENSURE(yaml != NULL && n > 0, ARCA_ERR_FORMAT,
                "request body: empty, expected a session in YAML");
    struct arca_session *s = NULL;
    struct arca_store_session *active = NULL;
    struct arca_signed_session *ss = NULL;
    struct arca_approvers ap = {0};
    uint8_t msg[ARCA_APPROVAL_MSG_LEN], judged_by[32];
    struct arca_buf blob, readers, approvals;
    arca_buf_init_secret(&blob, 0);
    arca_buf_init(&readers, 0);
    arca_buf_init(&approvals, 0);
    int rc = 0;
    if (arca_signed_session_detect(yaml, n)) {
        ARCA_GUARD(rc, arca_signed_session_parse(yaml, n, &ss), out);
        yaml = ss->session;
        n = ss->session_len;
    }
    rc = arca_session_load((const char *)yaml, n, "<upload>", &s, diag);
    if (rc < 0) {
        out->invalid = true;
        goto out;
    }
    const char *name = s->name.s;
    ARCA_GUARD(rc, check_cost(&cas->secrets_limits, s), out);
    rc = arca_store_session_get_active(cas->store, name, &active);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
        goto out;
    if (ss != NULL) {
        rc = cas_signed_check(cas, ss, s, msg, &ap);
        if (rc == 0)
            rc = check_signed_hash(ss, s, active);
        if (rc == 0 && !s->has_predecessor)
            rc = check_signed_creator(ss, client, &ap);
        if (rc < 0) {
            char c[65];
            hexstr(c, client);
            arca_cas_audit(cas, ARCA_AUDIT_ACCESS_DENIED,
                           json_pack("{s:s, s:s, s:s, s:s}", "operation",
                                     s->has_predecessor ? "update" : "create", "session", name,
                                     "client", c, "reason", arca_err_detail()));
            goto out;
        }
    }
    const struct arca_approvers *approvers = ss != NULL ? &ap : NULL;
    memset(judged_by, 0, sizeof(judged_by));
    rc = s->has_predecessor ? check_update(cas, client, s, active, approvers)
                            : check_create(cas, client, s, active, approvers, judged_by);
    if (rc == 0 && s->has_predecessor)
        memcpy(judged_by, active->hash, 32);
    if (rc == 0 && !s->has_predecessor)
        rc = check_quota(cas, client);
    if (rc < 0)
        goto out;
    /* The creator of the first version stays the creator: CREATOR rules keep their meaning. A
     * signed create has the creator its signers fixed. */
    const uint8_t *creator = s->has_predecessor ? active->creator
                             : ss != NULL       ? ss->creator
                                                : client;
    ARCA_GUARD(rc, check_imported_access(cas, s, creator, yaml, n), out);
    ARCA_GUARD(rc, check_creator_rules(s, creator), out);
    struct arca_store_session rec;
    memset(&rec, 0, sizeof(rec));
    rec.name = (char *)name;
    rec.version = active != NULL ? active->version + 1 : 1;
    rec.has_predecessor = s->has_predecessor;
    if (s->has_predecessor)
        memcpy(rec.predecessor, s->predecessor, 32);
    memcpy(rec.creator, creator, 32);
    rec.created_at = arca_time_now();
    rec.yaml = (char *)yaml; /* the store reads yaml_len bytes; no copy to wipe */
    rec.yaml_len = n;
    ARCA_GUARD(rc, arca_session_hash(s, creator, rec.hash), out);
    ARCA_GUARD(rc, secrets_for(cas, s, s->has_predecessor ? s->predecessor : NULL, &blob), out);
    ARCA_GUARD(rc, cas_readers_encode(s, creator, &readers), out);
    if (ss != NULL)
        ARCA_GUARD(rc,
                   cas_approvals_encode(ss, msg, s->has_predecessor ? "update" : "create_sessions",
                                        judged_by, client, &approvals),
                   out);
    struct arca_store_commit_extra extra = {.readers = readers.data,
                                            .readers_len = readers.len,
                                            .max_created = cas->max_sessions_per_client,
                                            .approvals = approvals.len ? approvals.data : NULL,
                                            .approvals_len = approvals.len};
    rc = arca_store_session_commit_ex(cas->store, &rec, blob.len ? blob.data : NULL, blob.len,
                                      &extra);
    if (rc == ARCA_ERR_EXISTS && s->has_predecessor)
        arca_err_set(rc, "this exact version of '%s' is stored already", name);
    if (rc < 0)
        goto out;
    audit_put(cas, &rec, client, approvers);
    out->updated = s->has_predecessor;
    rc = cas_version_of(&rec, &out->v);
out:
    arca_buf_free(&approvals);
    arca_buf_free(&readers);
    arca_buf_free(&blob);
    arca_approvers_clear(&ap);
    arca_signed_session_free(ss);
    arca_session_free(s);
    arca_store_session_free(active);
    return rc;
}

void arca_cas_put_clear(struct arca_cas_put *p)
{
    if (p == NULL)
        return;
    arca_api_version_clear(&p->v);
    memset(p, 0, sizeof(*p));
}

/* ---- read, history, list ------------------------------------------------------------------ */

/* Loads the active version of name into *active_out if op admits the client. */
static int authorize_active(const struct arca_cas *cas, const uint8_t *client, const char *name,
                            enum arca_access_op op, struct arca_store_session **active_out)
{
    struct arca_store_session *active = NULL;
    ARCA_ENSURE_REF(name);
    ARCA_TRY(arca_session_name_check(name, strlen(name), true));
    char missing[1200], what[1200];
    snprintf(missing, sizeof(missing), "Session not found: '%s'", name);
    int rc = arca_store_session_get_active(cas->store, name, &active);
    if (rc == ARCA_ERR_NOT_FOUND)
        return arca_err_set(rc, "%s", missing);
    ARCA_TRY(rc);
    snprintf(what, sizeof(what), "%s session '%s'",
             op == ARCA_ACCESS_READ ? "read" : arca_access_op_name(op), name);
    rc = require_access(cas, client, active, op, what, missing, NULL);
    if (rc < 0) {
        arca_store_session_free(active);
        return rc;
    }
    *active_out = active;
    return 0;
}

/* The stored version of name whose hash is hash_hex. */
static int get_version(const struct arca_cas *cas, const char *name, const char *hash_hex,
                       struct arca_store_session **out)
{
    uint8_t h[32];
    ARCA_ENSURE(arca_hex_decode_fixed(h, 32, hash_hex, strlen(hash_hex)) == 0, ARCA_ERR_FORMAT,
                "query hash: expected 64 hex digits");
    int rc = arca_store_session_get(cas->store, h, out);
    if (rc == 0 && strcmp((*out)->name, name) != 0) {
        arca_store_session_free(*out);
        *out = NULL;
        rc = ARCA_ERR_NOT_FOUND;
    }
    if (rc == ARCA_ERR_NOT_FOUND)
        return arca_err_set(rc, "Session not found: '%s' has no version %s", name, hash_hex);
    return rc;
}

/* Appends the redacted text of rec to y: kept with its model in cas->sessions (it does not
 * depend on the reader), made afresh without a cache. */
static int redacted_text(const struct arca_cas *cas, const struct arca_store_session *rec,
                         struct arca_buf *y)
{
    struct arca_cached_session *ref = NULL;
    if (cas->sessions == NULL || arca_session_cache_get(cas->sessions, rec->name, rec->hash,
                                                        rec->yaml, rec->yaml_len, &ref) < 0)
        return arca_session_redact(rec->yaml, rec->yaml_len, y);
    const char *text = NULL;
    size_t n = 0;
    int rc = arca_cached_session_redacted(ref, rec->yaml, rec->yaml_len, &text, &n);
    if (rc == 0)
        rc = arca_buf_put(y, text, n);
    arca_cached_session_put(ref);
    return rc;
}

/*
 * The authorised and audited part of a read: the active version of name into *active, and the
 * stored version hash_hex (NULL: none asked) into *rec. Both freed by the caller, also on
 * failure.
 */
static int read_audited(const struct arca_cas *cas, const uint8_t *client, const char *name,
                        const char *hash_hex, struct arca_store_session **active,
                        struct arca_store_session **rec)
{
    *active = *rec = NULL;
    ARCA_TRY(authorize_active(cas, client, name, ARCA_ACCESS_READ, active));
    if (hash_hex != NULL)
        ARCA_TRY(get_version(cas, name, hash_hex, rec));
    const struct arca_store_session *show = *rec != NULL ? *rec : *active;
    char h[65], c[65] = "";
    hexstr(h, show->hash);
    if (client != NULL)
        hexstr(c, client);
    arca_cas_audit(cas, ARCA_AUDIT_SESSION_READ,
                   json_pack("{s:s, s:s, s:s}", "session", name, "hash", h, "client", c));
    return 0;
}

/* The answer of show (active or not) as arca_cas_session_read gives it. */
static int version_read(const struct arca_cas *cas, const struct arca_store_session *show,
                        bool active, struct arca_api_version *out)
{
    struct arca_buf y;
    arca_buf_init(&y, 0);
    int rc = cas_version_of(show, out);
    out->active = active;
    /* A version that cannot be re-emitted is shown without its text rather than not at all. */
    if (rc == 0 && redacted_text(cas, show, &y) == 0)
        rc = arca_buf_steal(&y, &out->session, &out->session_len);
    arca_err_clear();
    arca_buf_free(&y);
    if (rc < 0)
        arca_api_version_clear(out);
    return rc;
}

/* The inputs of a read's answer besides the version's text (its cache key): the memo key. */
struct answer_key {
    uint64_t version;
    int64_t created_at;
    uint8_t creator[32];
    uint8_t predecessor[32];
    uint8_t has_predecessor;
};

/* The JSON text of show's answer into out: from its cache entry's memo, or made and kept. */
static int answer_text(const struct arca_cas *cas, const struct arca_store_session *show,
                       bool active, struct arca_buf *out)
{
    struct answer_key key;
    memset(&key, 0, sizeof(key)); /* padding too: the key is compared as bytes */
    key.version = show->version;
    key.created_at = show->created_at;
    memcpy(key.creator, show->creator, 32);
    key.has_predecessor = show->has_predecessor;
    if (show->has_predecessor)
        memcpy(key.predecessor, show->predecessor, 32);
    struct arca_cached_session *ref = NULL;
    if (cas->sessions != NULL && arca_session_cache_get(cas->sessions, show->name, show->hash,
                                                        show->yaml, show->yaml_len, &ref) < 0)
        ref = NULL;
    const void *kept = NULL;
    size_t n = 0;
    int rc;
    if (ref != NULL && arca_cached_session_memo(ref, active, &key, sizeof(key), &kept, &n) == 0) {
        rc = arca_buf_put(out, kept, n);
    } else {
        struct arca_api_version v;
        memset(&v, 0, sizeof(v));
        rc = version_read(cas, show, active, &v);
        json_t *j = rc == 0 ? arca_api_version_to_json(&v, ARCA_API_VERSION_READ) : NULL;
        if (rc == 0)
            rc = j != NULL ? arca_json_dump(j, false, out)
                           : arca_err_set(ARCA_ERR_ALLOC, "cas: out of memory");
        /* only a text with the session in it: a failed redaction is not kept */
        if (rc == 0 && ref != NULL && v.session != NULL)
            rc = arca_cached_session_memo_keep(ref, active, &key, sizeof(key), out->data, out->len);
        json_decref(j);
        arca_api_version_clear(&v);
    }
    arca_cached_session_put(ref);
    return rc;
}

/* A read whose answer goes to v (a version) or, v NULL, to text (its JSON text). */
static int read_as(const struct arca_cas *cas, const uint8_t *client, const char *name,
                   const char *hash_hex, struct arca_api_version *v, struct arca_buf *text)
{
    struct arca_store_session *active = NULL, *rec = NULL;
    int rc = read_audited(cas, client, name, hash_hex, &active, &rec);
    const struct arca_store_session *show = rec != NULL ? rec : active;
    if (rc == 0)
        rc = v != NULL ? version_read(cas, show, rec == NULL, v)
                       : answer_text(cas, show, rec == NULL, text);
    arca_store_session_free(active);
    arca_store_session_free(rec);
    return rc;
}

int arca_cas_session_read(const struct arca_cas *cas, const uint8_t *client, const char *name,
                          const char *hash_hex, struct arca_api_version *out)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    return read_as(cas, client, name, hash_hex, out, NULL);
}

int arca_cas_session_read_json(const struct arca_cas *cas, const uint8_t *client, const char *name,
                               const char *hash_hex, struct arca_buf *out)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(out);
    arca_buf_reset(out);
    int rc = read_as(cas, client, name, hash_hex, NULL, out);
    if (rc < 0)
        arca_buf_reset(out);
    return rc;
}

int arca_cas_session_history(const struct arca_cas *cas, const uint8_t *client, const char *name,
                             struct arca_api_versions *out)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    struct arca_store_session *active = NULL;
    ARCA_TRY(authorize_active(cas, client, name, ARCA_ACCESS_READ, &active));
    struct arca_api_version v;
    memset(&v, 0, sizeof(v));
    int rc = 0;
    out->name = strdup(name);
    ARCA_GUARD_ENSURE(rc, out->name != NULL, out, ARCA_ERR_ALLOC, "cas: out of memory");
    ARCA_GUARD(rc, cas_version_of(active, &v), out);
    ARCA_GUARD(rc, arca_api_versions_add(out, &v), out);
    bool more = active->has_predecessor;
    uint8_t next[32];
    memcpy(next, active->predecessor, 32);
    for (size_t i = 0; more && i < ARCA_CAS_HISTORY_MAX; i++) {
        struct arca_store_session *rec = NULL;
        ARCA_GUARD(rc, arca_store_session_get(cas->store, next, &rec), out);
        rc = cas_version_of(rec, &v);
        if (rc == 0)
            rc = arca_api_versions_add(out, &v);
        more = rec->has_predecessor;
        memcpy(next, rec->predecessor, 32);
        arca_store_session_free(rec);
        if (rc < 0)
            goto out;
    }
out:
    arca_api_version_clear(&v);
    if (rc < 0)
        arca_api_versions_clear(out);
    arca_store_session_free(active);
    return rc;
}

int arca_cas_session_approvals(const struct arca_cas *cas, const uint8_t *client, const char *name,
                               const char *hash_hex, json_t **out)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(hash_hex);
    *out = NULL;
    struct arca_store_session *active = NULL, *rec = NULL;
    struct arca_buf b;
    arca_buf_init(&b, 0);
    int rc = authorize_active(cas, client, name, ARCA_ACCESS_READ, &active);
    if (rc == 0)
        rc = get_version(cas, name, hash_hex, &rec);
    if (rc == 0)
        rc = arca_store_approvals_get(cas->store, rec->hash, &b);
    json_t *j = NULL;
    if (rc == 0) {
        json_error_t jerr;
        j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
        if (j == NULL)
            rc = arca_err_set(ARCA_ERR_INTERNAL, "stored approvals of '%s' do not parse", name);
    }
    if (rc == 0) {
        *out = j;
        json_object_set_new(j, "name", json_string(name));
        json_object_set_new(j, "hash", json_string(hash_hex));
    }
    arca_buf_free(&b);
    arca_store_session_free(active);
    arca_store_session_free(rec);
    return rc;
}
