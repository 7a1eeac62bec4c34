/* The owner record, provisioning and the owner-only operations (owner.h). */
#include "owner/owner.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "limits/limits.h"
#include "owner/backup.h"
#include "owner/board.h"
#include "owner/snapshot.h"

#define RECORD_MAX (256 * 1024)

struct arca_owner {
    struct arca_owner_opts opts;
    pthread_mutex_t mu;
    json_t *rec; /* the owner record; NULL while unprovisioned */
    uint8_t owner[32];
    uint8_t token_hash[32]; /* SHA-256 of the token's hex text; zero once provisioned */
    struct arca_throttle *guesses;
    struct arca_owner_config cfg;     /* the stored configuration, parsed (board) */
    struct arca_owner_config pending; /* a configuration change's, until it is stored */
    bool has_pending;
    /* arca_owner_unmet's sentence (static storage) or NULL; atomic: read per request */
    const char *unmet;
};

static void audit(struct arca_owner *o, const char *event, json_t *fields)
{
    if (o->opts.audit != NULL)
        arca_audit_append(o->opts.audit, event, fields, NULL);
    json_decref(fields);
}

static void refused(struct arca_owner *o, const uint8_t *caller, const char *what, int rc)
{
    char hex[65] = "";
    if (caller != NULL)
        arca_hex_fmt(hex, caller, 32);
    audit(o, ARCA_AUDIT_OWNER_REFUSED,
          json_pack("{s:s, s:s, s:s}", "operation", what, "client", hex, "reason",
                    arca_strerror(rc)));
}

static int record_save(struct arca_owner *o, json_t *rec)
{
    char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "owner: record");
    int rc = arca_store_meta_put(o->opts.store, ARCA_OWNER_META_KEY, text, strlen(text));
    free(text);
    return rc < 0 ? arca_err_wrap(rc, "owner: saving the owner record") : 0;
}

/* The configuration stored in record rec, parsed into *cfg. */
static int record_config(const json_t *rec, struct arca_owner_config *cfg)
{
    const char *yaml = json_string_value(json_object_get(rec, "config"));
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_owner_config_parse(yaml != NULL ? yaml : "", yaml != NULL ? strlen(yaml) : 0,
                                     "owner-config", cfg, &d);
    arca_diag_free(&d);
    return rc < 0 ? arca_err_set(ARCA_ERR_TAMPERED, "owner: the stored owner configuration does "
                                                    "not parse")
                  : 0;
}

static int record_load(struct arca_owner *o)
{
    struct arca_buf b;
    arca_buf_init(&b, RECORD_MAX);
    int rc = arca_store_meta_get(o->opts.store, ARCA_OWNER_META_KEY, &b);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_buf_free(&b);
        return 0;
    }
    json_error_t jerr;
    json_t *rec =
        rc == 0 ? json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    arca_buf_free(&b);
    ARCA_TRY(rc);
    const char *owner = json_string_value(json_object_get(rec, "owner"));
    if (owner == NULL || arca_hex_decode_fixed(o->owner, 32, owner, strlen(owner)) < 0) {
        json_decref(rec);
        return arca_err_set(ARCA_ERR_TAMPERED, "owner: the stored owner record does not decode");
    }
    rc = record_config(rec, &o->cfg);
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    o->rec = rec;
    return 0;
}

int arca_owner_stored_config(struct arca_store *store, struct arca_owner_config *out)
{
    ARCA_ENSURE(store != NULL && out != NULL, ARCA_ERR_INVALID_ARG, "owner: missing argument");
    memset(out, 0, sizeof(*out));
    struct arca_owner o = {.opts.store = store};
    ARCA_TRY(record_load(&o));
    if (o.rec == NULL)
        return ARCA_ERR_NOT_FOUND;
    *out = o.cfg;
    json_decref(o.rec);
    return 0;
}

/* Appends hex to the string array rec[key] unless present. */
static int list_add(json_t *rec, const char *key, const uint8_t v[32])
{
    char hex[65];
    arca_hex_fmt(hex, v, 32);
    json_t *a = json_object_get(rec, key);
    if (!json_is_array(a)) {
        a = json_array();
        if (a == NULL || json_object_set_new(rec, key, a) != 0)
            return arca_err_set(ARCA_ERR_ALLOC, "owner: record");
    }
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), hex) == 0)
            return 0;
    }
    if (json_array_append_new(a, json_string(hex)) != 0)
        return arca_err_set(ARCA_ERR_ALLOC, "owner: record");
    return 0;
}

static int write_slot(struct arca_owner *o, const uint8_t m[32])
{
    struct arca_seal_keys keys;
    int rc = arca_seal_keys_get(o->opts.sealer, &keys);
    if (rc == 0)
        rc = arca_slot_write(o->opts.data_dir, m, o->opts.slot_key, o->opts.slot_key_ctx, &keys);
    arca_wipe(&keys, sizeof(keys));
    return rc;
}

/* Recomputes what the running arcad misses of the stored configuration (arca_owner_unmet): a
 * requirement that becomes unmet is logged and audited, one met again is logged. Called at
 * open and after every stored configuration, so the owner's change acts at once. */
static void gate_update(struct arca_owner *o)
{
    pthread_mutex_lock(&o->mu);
    const char *now =
        o->rec != NULL ? arca_owner_config_unmet(&o->cfg, o->opts.witness_specs, o->opts.n_witness)
                       : NULL;
    pthread_mutex_unlock(&o->mu);
    const char *was = __atomic_exchange_n(&o->unmet, now, __ATOMIC_ACQ_REL);
    if (now != NULL && now != was) {
        arca_error("owner", "%s", now);
        audit(o, ARCA_AUDIT_OWNER_UNMET, json_pack("{s:s}", "reason", now));
    } else if (now == NULL && was != NULL) {
        arca_info("owner", "the owner configuration's requirements are met: arcad serves writes");
    }
}

const char *arca_owner_unmet(const struct arca_owner *o)
{
    return o != NULL ? __atomic_load_n(&o->unmet, __ATOMIC_ACQUIRE) : NULL;
}

int arca_owner_open(const struct arca_owner_opts *opts, struct arca_owner **out,
                    char token_hex[ARCA_OWNER_TOKEN_HEX_LEN + 1])
{
    ARCA_ENSURE(opts != NULL && opts->store != NULL && opts->data_dir != NULL &&
                    opts->sealer != NULL && opts->slot_key != NULL && out != NULL &&
                    token_hex != NULL,
                ARCA_ERR_INVALID_ARG, "owner: missing option");
    *out = NULL;
    token_hex[0] = '\0';
    struct arca_owner *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "owner");
    o->opts = *opts;
    pthread_mutex_init(&o->mu, NULL);
    struct arca_throttle_cfg tc;
    arca_throttle_cfg_default(&tc);
    int rc = arca_throttle_new(&tc, &o->guesses);
    if (rc == 0)
        rc = record_load(o);
    if (rc == 0 && o->rec == NULL) {
        uint8_t raw[ARCA_OWNER_TOKEN_HEX_LEN / 2];
        rc = arca_random(raw, sizeof(raw));
        if (rc == 0) {
            arca_hex_fmt(token_hex, raw, sizeof(raw));
            rc = arca_sha256(token_hex, ARCA_OWNER_TOKEN_HEX_LEN, o->token_hash);
        }
        arca_wipe(raw, sizeof(raw));
        if (rc < 0)
            arca_wipe(token_hex, ARCA_OWNER_TOKEN_HEX_LEN + 1);
    }
    if (rc < 0) {
        arca_owner_free(o);
        return rc;
    }
    *out = o;
    gate_update(o);
    return 0;
}

void arca_owner_free(struct arca_owner *o)
{
    if (o == NULL)
        return;
    json_decref(o->rec);
    arca_throttle_free(o->guesses);
    pthread_mutex_destroy(&o->mu);
    arca_wipe(o, sizeof(*o));
    free(o);
}

json_t *arca_owner_status(struct arca_owner *o)
{
    pthread_mutex_lock(&o->mu);
    json_t *j = json_pack("{s:b}", "provisioned", o->rec != NULL);
    if (j != NULL && o->rec != NULL) {
        json_t *ctr = json_object_get(o->rec, "op_counter");
        json_object_set(j, "owner", json_object_get(o->rec, "owner"));
        if (o->opts.cas_key != NULL) {
            char hex[65];
            arca_hex_fmt(hex, o->opts.cas_key, 32);
            json_object_set_new(j, "cas_key", json_string(hex));
        }
        json_object_set_new(j, "op_counter",
                            json_integer(json_is_integer(ctr) ? json_integer_value(ctr) : 0));
        if (o->cfg.board_require > 0) {
            json_t *keys = json_array();
            for (size_t i = 0; keys != NULL && i < o->cfg.n_board; i++) {
                char hex[65];
                arca_hex_fmt(hex, o->cfg.board[i], 32);
                json_array_append_new(keys, json_string(hex));
            }
            json_object_set_new(j, "board",
                                json_pack("{s:I, s:o*}", "require_at_least",
                                          (json_int_t)o->cfg.board_require, "owners", keys));
        }
    }
    pthread_mutex_unlock(&o->mu);
    return j;
}

/* Parses yaml into a config; on failure *invalid is set and diag says where. */
static int parse_config(const char *yaml, size_t len, struct arca_owner_config *cfg,
                        struct arca_diag *diag, bool *invalid)
{
    int rc = arca_owner_config_parse(yaml, len, "owner-config", cfg, diag);
    if (rc < 0) {
        *invalid = true;
        return arca_err_set(rc, "owner configuration is invalid (%zu error%s)", diag->n,
                            diag->n == 1 ? "" : "s");
    }
    return 0;
}

/* A new record for owner with the configuration text (new reference, NULL: out of memory). */
static json_t *record_new(const uint8_t owner[32], const char *yaml, size_t len)
{
    char hex[65];
    arca_hex_fmt(hex, owner, 32);
    return json_pack("{s:s, s:I, s:s%, s:[], s:[]}", "owner", hex, "provisioned_at",
                     (json_int_t)arca_time_now(), "config", yaml, len, "upgrades", "backups");
}

/* Adds cfg's successors to rec and writes the upgrade slots (before the record is stored, so a
 * stored registration always has its slot). */
static int apply_successors(struct arca_owner *o, json_t *rec, const struct arca_owner_config *cfg)
{
    for (size_t i = 0; i < cfg->n_upgrades; i++) {
        ARCA_TRY(write_slot(o, cfg->upgrades[i]));
        ARCA_TRY(list_add(rec, "upgrades", cfg->upgrades[i]));
    }
    for (size_t i = 0; i < cfg->n_backups; i++)
        ARCA_TRY(list_add(rec, "backups", cfg->backups[i]));
    return 0;
}

int arca_owner_provision(struct arca_owner *o, const uint8_t *caller, const void *guess_key,
                         size_t guess_len, const char *token, size_t token_len, const char *yaml,
                         size_t yaml_len, struct arca_diag *diag, bool *invalid)
{
    ARCA_ENSURE(o != NULL && diag != NULL && invalid != NULL, ARCA_ERR_INVALID_ARG,
                "owner: missing argument");
    *invalid = false;
    if (caller == NULL)
        return arca_err_set(ARCA_ERR_UNAUTHENTICATED,
                            "provisioning needs a client certificate: its key becomes the owner");
    int64_t now = arca_time_mono_ms(), wait_ms = 0;
    int rc = 0;
    json_t *rec = NULL;
    pthread_mutex_lock(&o->mu);
    if (o->rec != NULL) {
        rc = arca_err_set(ARCA_ERR_EXISTS, "arcad is already provisioned; the provisioning "
                                           "token was single-use");
        goto out;
    }
    if (arca_throttle_check(o->guesses, guess_key, guess_len, now, &wait_ms, NULL) < 0) {
        rc = arca_err_set(ARCA_ERR_LIMIT,
                          "too many wrong provisioning tokens from this address; try again in "
                          "%lld s",
                          (long long)((wait_ms + 999) / 1000));
        goto out;
    }
    uint8_t h[32];
    ARCA_GUARD(rc, arca_sha256(token != NULL ? token : "", token != NULL ? token_len : 0, h), out);
    if (!arca_memeq(h, o->token_hash, 32)) {
        arca_throttle_fail(o->guesses, guess_key, guess_len, now, NULL);
        rc = arca_err_set(ARCA_ERR_DENIED, "wrong provisioning token (see the line \"provisioning "
                                           "token\" that arcad printed at this start)");
        goto out;
    }
    arca_throttle_success(o->guesses, guess_key, guess_len);
    struct arca_owner_config cfg;
    ARCA_GUARD(rc, parse_config(yaml, yaml_len, &cfg, diag, invalid), out);
    rec = record_new(caller, yaml, yaml_len);
    ARCA_GUARD_ENSURE(rc, rec != NULL, out, ARCA_ERR_ALLOC, "owner: record");
    ARCA_GUARD(rc, apply_successors(o, rec, &cfg), out);
    ARCA_GUARD(rc, record_save(o, rec), out);
    o->rec = rec;
    rec = NULL;
    memcpy(o->owner, caller, 32);
    o->cfg = cfg;
    arca_wipe(o->token_hash, sizeof(o->token_hash));
out:
    pthread_mutex_unlock(&o->mu);
    json_decref(rec);
    char hex[65];
    arca_hex_fmt(hex, caller, 32);
    if (rc == 0) {
        audit(o, ARCA_AUDIT_OWNER_PROVISIONED, json_pack("{s:s}", "owner", hex));
        gate_update(o);
    } else {
        refused(o, caller, "provision", rc);
    }
    return rc;
}

static bool on_board(const struct arca_owner_config *cfg, const uint8_t *id)
{
    for (size_t i = 0; id != NULL && i < cfg->n_board; i++)
        if (arca_memeq(cfg->board[i], id, 32))
            return true;
    return false;
}

/* With a board, a change (op != NULL) needs the board's signatures over its operation message
 * under the current owner-op counter, which it then consumes (stored before the operation runs:
 * a failed operation still used up its signatures, never the other way round). o->mu held. */
static int board_approve(struct arca_owner *o, const struct arca_owner_auth *auth, const char *what,
                         const char *op, const void *args, size_t len)
{
    json_t *ctr = json_object_get(o->rec, "op_counter");
    uint64_t n = json_is_integer(ctr) ? (uint64_t)json_integer_value(ctr) : 0;
    uint8_t msg[32];
    ARCA_ENSURE(o->opts.cas_key != NULL, ARCA_ERR_INVALID_ARG, "owner: no CAS key id");
    ARCA_TRY(arca_owner_op_message(o->opts.cas_key, op, args, len, n, msg));
    ARCA_TRY(arca_owner_board_check(&o->cfg, msg, auth->sigs, auth->n_sigs, what));
    json_t *rec = json_deep_copy(o->rec);
    int rc =
        rec != NULL && json_object_set_new(rec, "op_counter", json_integer((json_int_t)n + 1)) == 0
            ? record_save(o, rec)
            : arca_err_set(ARCA_ERR_ALLOC, "owner: record");
    if (rc == 0) {
        json_decref(o->rec);
        o->rec = rec;
        rec = NULL;
    }
    json_decref(rec);
    return rc;
}

/* Who may do what (o->mu held): the owner, or with a board a board member's client key, plus
 * for a change (op != NULL) the board's signatures. Refusals are audited. */
static int check_locked(struct arca_owner *o, const struct arca_owner_auth *auth, const char *what,
                        const char *op, const void *args, size_t len)
{
    const uint8_t *caller = auth != NULL ? auth->caller : NULL;
    bool board = o->rec != NULL && o->cfg.board_require > 0;
    int rc = 0;
    if (o->rec == NULL)
        rc = arca_err_set(ARCA_ERR_CONFLICT,
                          "%s: arcad is not provisioned; provision it first (arca cas provision "
                          "HOST:PORT --token T --owner-config FILE)",
                          what);
    else if (caller == NULL)
        rc = arca_err_set(ARCA_ERR_UNAUTHENTICATED, "%s: needs the owner's client certificate",
                          what);
    else if (board && !on_board(&o->cfg, caller))
        rc = arca_err_set(ARCA_ERR_DENIED,
                          "%s: only the owner (a member of the owner board) may do this", what);
    else if (!board && !arca_memeq(caller, o->owner, 32))
        rc = arca_err_set(ARCA_ERR_DENIED, "%s: only the owner of this arcad may do this", what);
    else if (board && op != NULL)
        rc = board_approve(o, auth, what, op, args, len);
    if (rc < 0)
        refused(o, caller, what, rc);
    return rc;
}

int arca_owner_check(struct arca_owner *o, const struct arca_owner_auth *auth, const char *what)
{
    ARCA_ENSURE_REF(o);
    pthread_mutex_lock(&o->mu);
    int rc = check_locked(o, auth, what, NULL, NULL, 0);
    pthread_mutex_unlock(&o->mu);
    return rc;
}

/* The check of a change op with argument bytes args[len] (board.h). */
static int check_op(struct arca_owner *o, const struct arca_owner_auth *auth, const char *what,
                    const char *op, const void *args, size_t len)
{
    pthread_mutex_lock(&o->mu);
    int rc = check_locked(o, auth, what, op, args, len);
    pthread_mutex_unlock(&o->mu);
    return rc;
}

int arca_owner_get(struct arca_owner *o, const struct arca_owner_auth *auth, json_t **out)
{
    ARCA_ENSURE(o != NULL && out != NULL, ARCA_ERR_INVALID_ARG, "owner: missing argument");
    pthread_mutex_lock(&o->mu);
    int rc = check_locked(o, auth, "owner record", NULL, NULL, 0);
    if (rc == 0 && (*out = json_deep_copy(o->rec)) == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "owner: record");
    pthread_mutex_unlock(&o->mu);
    return rc;
}

/* Runs change on a copy of the record and stores it; the record in memory changes only once the
 * store has it. */
static int update(struct arca_owner *o, const struct arca_owner_auth *auth, const char *what,
                  const char *op, const void *args, size_t len,
                  int (*change)(struct arca_owner *o, json_t *rec, const void *arg),
                  const void *arg)
{
    pthread_mutex_lock(&o->mu);
    json_t *rec = NULL;
    o->has_pending = false;
    int rc = check_locked(o, auth, what, op, args, len);
    if (rc == 0 && (rec = json_deep_copy(o->rec)) == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "owner: record");
    if (rc == 0)
        rc = change(o, rec, arg);
    if (rc == 0)
        rc = record_save(o, rec);
    if (rc == 0) {
        json_decref(o->rec);
        o->rec = rec;
        rec = NULL;
        if (o->has_pending)
            o->cfg = o->pending;
    }
    o->has_pending = false;
    pthread_mutex_unlock(&o->mu);
    json_decref(rec);
    return rc;
}

struct config_arg {
    const char *yaml;
    size_t len;
    struct arca_diag *diag;
    bool *invalid;
};

static int change_config(struct arca_owner *o, json_t *rec, const void *varg)
{
    const struct config_arg *a = varg;
    struct arca_owner_config cfg;
    ARCA_TRY(parse_config(a->yaml, a->len, &cfg, a->diag, a->invalid));
    ARCA_TRY(apply_successors(o, rec, &cfg));
    if (json_object_set_new(rec, "config", json_stringn(a->yaml, a->len)) != 0)
        return arca_err_set(ARCA_ERR_ALLOC, "owner: record");
    o->pending = cfg; /* takes effect once stored (update) */
    o->has_pending = true;
    return 0;
}

int arca_owner_config_set(struct arca_owner *o, const struct arca_owner_auth *auth,
                          const char *yaml, size_t yaml_len, struct arca_diag *diag, bool *invalid)
{
    ARCA_ENSURE(o != NULL && diag != NULL && invalid != NULL, ARCA_ERR_INVALID_ARG,
                "owner: missing argument");
    *invalid = false;
    struct config_arg a = {yaml, yaml_len, diag, invalid};
    int rc = update(o, auth, "owner config", "config", yaml, yaml_len, change_config, &a);
    if (rc == 0) {
        audit(o, ARCA_AUDIT_OWNER_CONFIG, json_pack("{s:I}", "bytes", (json_int_t)yaml_len));
        gate_update(o);
    }
    return rc;
}

static int change_upgrade(struct arca_owner *o, json_t *rec, const void *m)
{
    ARCA_TRY(write_slot(o, m));
    return list_add(rec, "upgrades", m);
}

/* The same-measurement rule of backups and of members joining a shared store: m is this
 * arcad's measurement or an upgrade in rec (NULL: unprovisioned). ARCA_ERR_POLICY otherwise,
 * naming both measurements and what to do; op, who and rule word the refusal. */
static int same_measurement(const struct arca_owner *o, const json_t *rec, const uint8_t m[32],
                            const char *op, const char *who, const char *rule)
{
    if (o->opts.measurement != NULL && arca_memeq(m, o->opts.measurement, 32))
        return 0;
    char mhex[65], own[65] = "unknown";
    arca_hex_fmt(mhex, m, 32);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rec, "upgrades"), i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), mhex) == 0)
            return 0;
    }
    if (o->opts.measurement != NULL)
        arca_hex_fmt(own, o->opts.measurement, 32);
    return arca_err_set(ARCA_ERR_POLICY,
                        "%s: %s runs measurement %s, but %s allows only this arcad's "
                        "measurement %s or a registered upgrade (arca cas register-upgrade "
                        "--measurement %s first)",
                        op, who, mhex, rule, own, mhex);
}

int arca_owner_admit_member(struct arca_owner *o, const uint8_t measurement[32])
{
    ARCA_ENSURE(o != NULL && measurement != NULL, ARCA_ERR_INVALID_ARG, "owner: missing argument");
    /* Fresh from the store, not o->rec: on a shared store another member may have registered
     * an upgrade since this one started. */
    struct arca_owner t = {.opts = o->opts};
    ARCA_TRY(record_load(&t));
    int rc = same_measurement(o, t.rec, measurement, "join: measurement not admitted",
                              "the joining arcad", "this member");
    json_decref(t.rec);
    return rc;
}

/* The owner configuration's backup rule for t (config.h "backup-rule"), with o->mu held. */
static int backup_rule_check(struct arca_owner *o, const json_t *rec,
                             const struct arca_backup_target *t)
{
    struct arca_owner_config cfg;
    ARCA_TRY(record_config(rec, &cfg));
    if (cfg.backup_rule == ARCA_OWNER_BACKUP_SAME_SIGNER) {
        char mhex[65];
        arca_hex_fmt(mhex, t->measurement, 32);
        return arca_err_set(ARCA_ERR_UNSUPPORTED,
                            "register-backup: the owner configuration's backup-rule same-signer "
                            "needs SGX evidence (signer and version); the backup arcad offers "
                            "simulated evidence (measurement %s) that has neither",
                            mhex);
    }
    return same_measurement(o, rec, t->measurement, "register-backup", "the backup arcad",
                            "the owner configuration's backup rule (same-measurement)");
}

static int change_backup(struct arca_owner *o, json_t *rec, const void *arg)
{
    const struct arca_backup_target *t = arg;
    ARCA_TRY(backup_rule_check(o, rec, t));
    struct arca_seal_keys keys;
    int rc = arca_seal_keys_get(o->opts.sealer, &keys);
    /* The slot is written before the registration is stored: a registered backup has it. */
    if (rc == 0)
        rc = arca_backup_slot_write(o->opts.data_dir, t, &keys);
    arca_wipe(&keys, sizeof(keys));
    ARCA_TRY(rc);
    return list_add(rec, "backups", t->cas_key);
}

static int change_revoke(struct arca_owner *o, json_t *rec, const void *k)
{
    char hex[65];
    arca_hex_fmt(hex, k, 32);
    json_t *a = json_object_get(rec, "backups");
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), hex) == 0) {
            json_array_remove(a, i);
            break;
        }
    }
    /* Removed before the record says so; a crash in between leaves a listed key without slot,
     * which restores refuse: the safe side. */
    return arca_backup_slot_remove(o->opts.data_dir, k);
}

/* Registers a successor with change(arg) and audits event with field = hex of v. */
static int register_successor(struct arca_owner *o, const struct arca_owner_auth *auth,
                              const char *what, const void *args, size_t len,
                              int (*change)(struct arca_owner *o, json_t *rec, const void *arg),
                              const uint8_t v[32], const void *arg, const char *event,
                              const char *field)
{
    ARCA_ENSURE(o != NULL && v != NULL, ARCA_ERR_INVALID_ARG, "owner: missing argument");
    int rc = update(o, auth, what, what, args, len, change, arg);
    char hex[65];
    arca_hex_fmt(hex, v, 32);
    if (rc == 0)
        audit(o, event, json_pack("{s:s}", field, hex));
    return rc;
}

int arca_owner_register_upgrade(struct arca_owner *o, const struct arca_owner_auth *auth,
                                const uint8_t measurement[32])
{
    return register_successor(o, auth, "register-upgrade", measurement, 32, change_upgrade,
                              measurement, measurement, ARCA_AUDIT_OWNER_UPGRADE, "measurement");
}

int arca_owner_register_backup(struct arca_owner *o, const struct arca_owner_auth *auth,
                               const struct arca_backup_target *t)
{
    ARCA_ENSURE(t != NULL, ARCA_ERR_INVALID_ARG, "owner: missing argument");
    uint8_t args[64];
    memcpy(args, t->cas_key, 32);
    memcpy(args + 32, t->enc_key, 32);
    return register_successor(o, auth, "register-backup", args, sizeof(args), change_backup,
                              t->cas_key, t, ARCA_AUDIT_OWNER_BACKUP, "cas_key");
}

int arca_owner_revoke_backup(struct arca_owner *o, const struct arca_owner_auth *auth,
                             const uint8_t cas_key[32])
{
    return register_successor(o, auth, "revoke-backup", cas_key, 32, change_revoke, cas_key,
                              cas_key, ARCA_AUDIT_OWNER_BACKUP_REVOKED, "cas_key");
}

int arca_owner_rotate_key(struct arca_owner *o, const struct arca_owner_auth *auth,
                          uint64_t *records)
{
    ARCA_ENSURE_REF(o);
    ARCA_TRY(check_op(o, auth, "rotate-key", "rotate-key", NULL, 0));
    uint64_t n = 0;
    int rc = arca_store_rotate_key(o->opts.store, &n);
    if (rc < 0)
        return arca_err_wrap(rc, "rotate-key");
    audit(o, ARCA_AUDIT_OWNER_KEY_ROTATED, json_pack("{s:I}", "records", (json_int_t)n));
    if (records != NULL)
        *records = n;
    return 0;
}

int arca_owner_checkpoint(struct arca_owner *o, const struct arca_owner_auth *auth, json_t **out)
{
    ARCA_ENSURE(o != NULL && out != NULL, ARCA_ERR_INVALID_ARG, "owner: missing argument");
    ARCA_TRY(arca_owner_check(o, auth, "audit checkpoint"));
    pthread_mutex_lock(&o->mu);
    bool exported = o->cfg.audit_export_checkpoints;
    pthread_mutex_unlock(&o->mu);
    if (!exported) {
        int rc = arca_err_set(ARCA_ERR_DENIED,
                              "audit checkpoints are not exported: the owner configuration sets "
                              "audit.export-checkpoints: false (the owner sets it to true with "
                              "arca cas owner --set-config to fetch them)");
        refused(o, auth != NULL ? auth->caller : NULL, "audit checkpoint", rc);
        return rc;
    }
    struct arca_store_checkpoint cp;
    int rc = arca_store_checkpoint_latest(o->opts.store, &cp);
    if (rc == ARCA_ERR_NOT_FOUND)
        return arca_err_set(ARCA_ERR_NOT_FOUND, "no audit checkpoint yet (arcad checkpoints "
                                                "every 128 lines and when it stops)");
    ARCA_TRY(rc);
    struct arca_buf sig, both;
    arca_buf_init(&sig, 0);
    arca_buf_init(&both, 0);
    rc = arca_base64_encode(&sig, cp.sig, cp.sig_len);
    if (rc == 0)
        rc = arca_buf_printf(&both, "%llu:%s", (unsigned long long)cp.seq, arca_buf_cstr(&sig));
    if (rc == 0 && (*out = json_pack("{s:I, s:I, s:s, s:s}", "seq", (json_int_t)cp.seq, "time",
                                     (json_int_t)cp.time, "sig", arca_buf_cstr(&sig), "checkpoint",
                                     arca_buf_cstr(&both))) == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "owner: checkpoint");
    arca_buf_free(&sig);
    arca_buf_free(&both);
    return rc;
}

int arca_owner_snapshot(struct arca_owner *o, const struct arca_owner_auth *auth, char *out,
                        size_t n)
{
    ARCA_ENSURE(o != NULL && out != NULL, ARCA_ERR_INVALID_ARG, "owner: missing argument");
    ARCA_TRY(check_op(o, auth, "snapshot", "snapshot", NULL, 0));
    ARCA_TRY(arca_snapshot_write(o->opts.data_dir, o->opts.store, out, n));
    audit(o, ARCA_AUDIT_OWNER_SNAPSHOT, json_pack("{s:s}", "path", out));
    return 0;
}
