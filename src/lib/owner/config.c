/* The owner configuration parser (config.h). */
#include "owner/config.h"

#include <stdio.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "policy/session_internal.h"

/* A parse in progress: the first error wins (one clear message beats a cascade). */
struct oc {
    const char *file;
    struct arca_diag *diag;
    int rc;
};

static bool oc_fail(struct oc *p, const struct arca_ynode *n, const char *path, int rc,
                    const char *msg)
{
    if (p->rc == 0) {
        struct arca_pos pos = n != NULL ? n->pos : (struct arca_pos){1, 1};
        arca_diag_add(p->diag, p->file, pos, path, "%s", msg);
        p->rc = rc;
    }
    return false;
}

static bool want(struct oc *p, const struct arca_ynode *n, enum arca_ynode_type t, const char *path)
{
    if (n->type == t)
        return true;
    return oc_fail(p, n, path, ARCA_ERR_FORMAT,
                   t == ARCA_YNODE_MAP   ? "expected a mapping"
                   : t == ARCA_YNODE_SEQ ? "expected a list"
                                         : "expected a scalar value");
}

/* Every key of map m must be one of allowed (NULL-terminated). */
static bool only_keys(struct oc *p, const struct arca_ynode *m, const char *path,
                      const char *const *allowed)
{
    for (size_t i = 0; i + 1 < m->n_items; i += 2) {
        const struct arca_ynode *k = &m->items[i];
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL && !ok; a++)
            ok = strcmp(k->text, *a) == 0;
        if (!ok) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown key '%.64s'", k->text);
            return oc_fail(p, k, path, ARCA_ERR_FORMAT, msg);
        }
    }
    return true;
}

static bool get_hex32(struct oc *p, const struct arca_ynode *n, const char *path, uint8_t out[32])
{
    if (!want(p, n, ARCA_YNODE_SCALAR, path))
        return false;
    if (arca_hex_decode_fixed(out, 32, n->text, n->len) < 0)
        return oc_fail(p, n, path, ARCA_ERR_FORMAT, "expected 64 hex digits");
    return true;
}

static bool get_uint(struct oc *p, const struct arca_ynode *n, const char *path, uint64_t lo,
                     uint64_t hi, uint64_t *out)
{
    if (!want(p, n, ARCA_YNODE_SCALAR, path))
        return false;
    uint64_t v = 0;
    bool ok = n->len > 0 && n->len <= 10;
    for (size_t i = 0; ok && i < n->len; i++) {
        ok = n->text[i] >= '0' && n->text[i] <= '9';
        v = v * 10 + (uint64_t)(n->text[i] - '0');
    }
    if (!ok || v < lo || v > hi) {
        char msg[96];
        snprintf(msg, sizeof(msg), "expected a whole number from %llu to %llu",
                 (unsigned long long)lo, (unsigned long long)hi);
        return oc_fail(p, n, path, ARCA_ERR_FORMAT, msg);
    }
    *out = v;
    return true;
}

static bool get_bool(struct oc *p, const struct arca_ynode *n, const char *path, bool *out)
{
    if (!want(p, n, ARCA_YNODE_SCALAR, path))
        return false;
    if (strcmp(n->text, "true") == 0 || strcmp(n->text, "false") == 0) {
        *out = n->text[0] == 't';
        return true;
    }
    return oc_fail(p, n, path, ARCA_ERR_FORMAT, "expected true or false");
}

/* A printable, space-free string of at most ARCA_OWNER_URL_MAX - 1 bytes starting with one of
 * the prefixes. */
static bool get_text(struct oc *p, const struct arca_ynode *n, const char *path,
                     const char *const *prefixes, const char *expect, char out[ARCA_OWNER_URL_MAX])
{
    if (!want(p, n, ARCA_YNODE_SCALAR, path))
        return false;
    bool ok = n->len > 0 && n->len < ARCA_OWNER_URL_MAX;
    for (size_t i = 0; ok && i < n->len; i++)
        ok = n->text[i] > 0x20 && n->text[i] < 0x7f;
    bool pre = false;
    for (const char *const *a = prefixes; ok && *a != NULL && !pre; a++)
        pre = strncmp(n->text, *a, strlen(*a)) == 0 && (n->len > strlen(*a) || (*a)[0] == 't');
    if (!ok || !pre)
        return oc_fail(p, n, path, ARCA_ERR_FORMAT, expect);
    memcpy(out, n->text, n->len);
    out[n->len] = '\0';
    return true;
}

/* Parses a list of {key: HEX64} maps (or of HEX64 scalars for key NULL) into out[max][32],
 * refusing duplicates. */
static bool get_hex_list(struct oc *p, const struct arca_ynode *n, const char *path,
                         const char *key, uint8_t (*out)[32], size_t max, size_t *count)
{
    if (!want(p, n, ARCA_YNODE_SEQ, path))
        return false;
    if (n->n_items > max) {
        char msg[64];
        snprintf(msg, sizeof(msg), "at most %zu entries", max);
        return oc_fail(p, n, path, ARCA_ERR_FORMAT, msg);
    }
    for (size_t i = 0; i < n->n_items; i++) {
        const struct arca_ynode *it = &n->items[i];
        char ipath[96];
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if (key != NULL) {
            const char *allowed[] = {key, NULL};
            if (!want(p, it, ARCA_YNODE_MAP, ipath) || !only_keys(p, it, ipath, allowed))
                return false;
            const struct arca_ynode *v = arca_ynode_get(it, key);
            if (v == NULL) {
                char msg[64];
                snprintf(msg, sizeof(msg), "missing '%s'", key);
                return oc_fail(p, it, ipath, ARCA_ERR_FORMAT, msg);
            }
            it = v;
        }
        if (!get_hex32(p, it, ipath, out[i]))
            return false;
        for (size_t j = 0; j < i; j++)
            if (memcmp(out[j], out[i], 32) == 0)
                return oc_fail(p, it, ipath, ARCA_ERR_FORMAT, "listed twice");
    }
    *count = n->n_items;
    return true;
}

static void parse_root(struct oc *p, const struct arca_ynode *root, struct arca_owner_config *c)
{
    static const char *const top[] = {"version",   "audit", "collateral",  "backups", "upgrades",
                                      "witnesses", "board", "backup-rule", NULL};
    if (!want(p, root, ARCA_YNODE_MAP, NULL) || !only_keys(p, root, NULL, top))
        return;
    c->audit_export_checkpoints = true; /* the owner fetches checkpoints unless it says no */
    const struct arca_ynode *v = arca_ynode_get(root, "version");
    uint64_t ver = 0;
    if (v == NULL) {
        oc_fail(p, root, NULL, ARCA_ERR_FORMAT, "missing 'version' (write version: 1)");
        return;
    }
    if (!get_uint(p, v, "version", 1, 1, &ver))
        return;
    if ((v = arca_ynode_get(root, "audit")) != NULL) {
        static const char *const keys[] = {"checkpoint-every", "export-checkpoints", NULL};
        if (!want(p, v, ARCA_YNODE_MAP, "audit") || !only_keys(p, v, "audit", keys))
            return;
        c->has_audit = true;
        const struct arca_ynode *x = arca_ynode_get(v, "checkpoint-every");
        if (x != NULL &&
            !get_uint(p, x, "audit.checkpoint-every", 1, 1000000, &c->audit_checkpoint_every))
            return;
        x = arca_ynode_get(v, "export-checkpoints");
        if (x != NULL && !get_bool(p, x, "audit.export-checkpoints", &c->audit_export_checkpoints))
            return;
    }
    if ((v = arca_ynode_get(root, "collateral")) != NULL) {
        static const char *const keys[] = {"pcs-url", "kds-url", NULL};
        static const char *const http[] = {"https://", "http://", NULL};
        if (!want(p, v, ARCA_YNODE_MAP, "collateral") || !only_keys(p, v, "collateral", keys))
            return;
        const struct arca_ynode *x = arca_ynode_get(v, "pcs-url");
        if (x != NULL && !get_text(p, x, "collateral.pcs-url", http,
                                   "expected an http(s):// URL without spaces", c->pcs_url))
            return;
        x = arca_ynode_get(v, "kds-url");
        if (x != NULL && !get_text(p, x, "collateral.kds-url", http,
                                   "expected an http(s):// URL without spaces", c->kds_url))
            return;
    }
    if ((v = arca_ynode_get(root, "backups")) != NULL &&
        !get_hex_list(p, v, "backups", "cas-key", c->backups, ARCA_OWNER_MAX_SUCCESSORS,
                      &c->n_backups))
        return;
    if ((v = arca_ynode_get(root, "backup-rule")) != NULL) {
        if (!want(p, v, ARCA_YNODE_SCALAR, "backup-rule"))
            return;
        if (strcmp(v->text, "same-signer") == 0) {
            c->backup_rule = ARCA_OWNER_BACKUP_SAME_SIGNER;
        } else if (strcmp(v->text, "same-measurement") != 0) {
            oc_fail(p, v, "backup-rule", ARCA_ERR_FORMAT,
                    "expected same-measurement or same-signer");
            return;
        }
    }
    if ((v = arca_ynode_get(root, "upgrades")) != NULL &&
        !get_hex_list(p, v, "upgrades", "measurement", c->upgrades, ARCA_OWNER_MAX_SUCCESSORS,
                      &c->n_upgrades))
        return;
    if ((v = arca_ynode_get(root, "witnesses")) != NULL) {
        static const char *const kinds[] = {"tpm", "arcad://", NULL};
        if (!want(p, v, ARCA_YNODE_SEQ, "witnesses"))
            return;
        if (v->n_items > ARCA_OWNER_MAX_WITNESSES) {
            oc_fail(p, v, "witnesses", ARCA_ERR_FORMAT, "at most 8 witnesses");
            return;
        }
        for (size_t i = 0; i < v->n_items; i++) {
            char ipath[32];
            snprintf(ipath, sizeof(ipath), "witnesses[%zu]", i);
            const struct arca_ynode *w = &v->items[i];
            if (!get_text(p, w, ipath, kinds, "expected tpm, tpm:DEVICE or arcad://HOST:PORT",
                          c->witnesses[i]))
                return;
            if (strncmp(w->text, "tpm", 3) == 0 && w->text[3] != '\0' && w->text[3] != ':') {
                oc_fail(p, w, ipath, ARCA_ERR_FORMAT,
                        "expected tpm, tpm:DEVICE or arcad://HOST:PORT");
                return;
            }
            c->n_witnesses = i + 1;
        }
    }
    if ((v = arca_ynode_get(root, "board")) != NULL) {
        static const char *const keys[] = {"require-at-least", "owners", NULL};
        if (!want(p, v, ARCA_YNODE_MAP, "board") || !only_keys(p, v, "board", keys))
            return;
        const struct arca_ynode *o = arca_ynode_get(v, "owners");
        const struct arca_ynode *r = arca_ynode_get(v, "require-at-least");
        if (o == NULL || r == NULL) {
            oc_fail(p, v, "board", ARCA_ERR_FORMAT, "needs 'require-at-least' and 'owners'");
            return;
        }
        uint64_t n = 0;
        if (!get_hex_list(p, o, "board.owners", NULL, c->board, ARCA_OWNER_MAX_BOARD,
                          &c->n_board) ||
            !get_uint(p, r, "board.require-at-least", 1, c->n_board > 0 ? c->n_board : 1, &n))
            return;
        if (c->n_board == 0) {
            oc_fail(p, o, "board.owners", ARCA_ERR_FORMAT, "needs at least one owner key");
            return;
        }
        c->board_require = (uint32_t)n;
    }
}

int arca_owner_config_parse(const char *yaml, size_t len, const char *file,
                            struct arca_owner_config *out, struct arca_diag *diag)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(diag);
    memset(out, 0, sizeof(*out));
    ARCA_ENSURE(yaml != NULL || len == 0, ARCA_ERR_INVALID_ARG, "owner config: NULL text");
    struct oc p = {.file = file != NULL ? file : "owner-config", .diag = diag};
    if (len > ARCA_OWNER_CONFIG_MAX_BYTES) {
        oc_fail(&p, NULL, NULL, ARCA_ERR_TOO_LARGE,
                "the owner configuration is larger than 64 KiB");
        return p.rc;
    }
    struct arca_ynode *root = NULL;
    int rc = arca_ytree_parse(yaml != NULL ? yaml : "", len, p.file, &root, diag);
    if (rc < 0)
        return rc;
    if (root == NULL || arca_ynode_is_null(root))
        oc_fail(&p, root, NULL, ARCA_ERR_FORMAT, "empty owner configuration (write version: 1)");
    else
        parse_root(&p, root, out);
    arca_ynode_free(root);
    if (p.rc < 0)
        memset(out, 0, sizeof(*out));
    return p.rc;
}

/* Does any of specs[0..n) start with prefix? */
static bool has_kind(const char *const *specs, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++)
        if (specs[i] != NULL && strncmp(specs[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

const char *arca_owner_config_unmet(const struct arca_owner_config *c, const char *const *specs,
                                    size_t n)
{
    /* Whole sentences in static storage: arcad hands one to every refused request without a
     * copy or a lock (an atomic pointer), and no caller can make it leak anything. */
    static const struct {
        const char *prefix, *message;
    } kinds[] = {
        {"tpm", "the owner configuration requires a TPM witness, but arcad runs without one: "
                "start it with --witness tpm (or the owner drops the requirement with arca cas "
                "owner --set-config); until then arcad refuses writes"},
        {"arcad://", "the owner configuration requires a peer arcad witness, but arcad runs "
                     "without one: start it with --witness arcad://HOST:PORT (or the owner drops "
                     "the requirement with arca cas owner --set-config); until then arcad refuses "
                     "writes"},
    };
    if (c == NULL)
        return NULL;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        bool wanted = false;
        for (size_t i = 0; i < c->n_witnesses && !wanted; i++)
            wanted = strncmp(c->witnesses[i], kinds[k].prefix, strlen(kinds[k].prefix)) == 0;
        if (wanted && !has_kind(specs, n, kinds[k].prefix))
            return kinds[k].message;
    }
    return NULL;
}
