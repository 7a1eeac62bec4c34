/*
 * arca session apply FILE (create, update, or nothing when the CAS has this text already) and
 * arca session diff FILE (what an update would change, structurally, secret values never
 * shown). Both compare through the canonical hash (session_same_as_active), so "unchanged"
 * means what the CAS means by it: no new version, no re-issued certificates.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/client_api.h"
#include "base/enc.h"
#include "base/err.h"
#include "client.h"
#include "govern/signed_session.h"
#include "policy/redact.h"
#include "policy/session.h"
#include "policy/session_internal.h" /* arca_ytree_parse: the generic tree the diff walks */

/* What apply and diff share: the local text and session, and the active version (when the
 * session exists). */
struct local_vs_active {
    struct arca_buf text; /* secret: explicit values may be in it */
    struct arca_session *s;
    struct arca_api_version active;
    bool exists;
    bool same;
    uint8_t local[32];
};

static void lva_clear(struct local_vs_active *l)
{
    arca_buf_free(&l->text);
    arca_session_free(l->s);
    arca_api_version_clear(&l->active);
}

/* Loads file and the active version of its session into l (cleared by the caller, also on
 * failure). Returns an exit code; failures are printed. */
static int lva_load(struct arca_cli *cli, const char *cmd, const char *file,
                    struct local_vs_active *l)
{
    memset(l, 0, sizeof(*l));
    int rc = session_read_file(file, &l->text);
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "session %s: %s", cmd, arca_err_detail());
    if (arca_signed_session_detect(l->text.data, l->text.len))
        return cli_fail(ARCA_EXIT_USAGE,
                        "session %s: %s is a signed session; upload it with `arca session "
                        "create` or `update`",
                        cmd, file);
    if (session_load_local(file, &l->text, &l->s) < 0)
        return cli_fail(ARCA_EXIT_FAIL, "session %s: %s is not a valid session", cmd, file);
    if (l->s->has_predecessor)
        return cli_fail(ARCA_EXIT_USAGE,
                        "session %s: %s has a predecessor; %s sets it itself (remove the line)",
                        cmd, file, cmd);
    rc = session_get_version(cli, l->s->name.s, NULL, &l->active, NULL);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_err_clear();
        return ARCA_EXIT_OK;
    }
    if (rc < 0)
        return cli_fail(arca_client_exit_code(rc), "session %s: %s", cmd, arca_err_detail());
    l->exists = true;
    if (session_same_as_active(file, &l->text, &l->s, &l->active, l->local, &l->same) < 0)
        return cli_fail(ARCA_EXIT_FAIL, "session %s: %s", cmd, arca_err_detail());
    return ARCA_EXIT_OK;
}

static int one_file(int argc, char **argv, const char **file)
{
    if (argc != 2)
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca session %s FILE [-o json]", argv[0]);
    *file = argv[1];
    return ARCA_EXIT_OK;
}

int session_apply(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    int ex = one_file(argc, argv, &file);
    if (ex != ARCA_EXIT_OK)
        return ex;
    struct local_vs_active l;
    ex = lva_load(cli, "apply", file, &l);
    if (ex == ARCA_EXIT_OK && !l.exists) {
        ex = session_upload(cli, "session apply", l.text.data, l.text.len);
    } else if (ex == ARCA_EXIT_OK && !l.same) {
        struct arca_buf nb;
        char h[65];
        arca_hex_fmt(h, l.active.hash, 32);
        arca_buf_init_secret(&nb, ARCA_SESSION_MAX_BYTES);
        if (session_set_predecessor(&l.text, h, &nb) < 0)
            ex = cli_fail(ARCA_EXIT_FAIL, "session apply: cannot set predecessor in %s", file);
        else
            ex = session_upload(cli, "session apply", nb.data, nb.len);
        arca_buf_free(&nb);
    } else if (ex == ARCA_EXIT_OK) {
        /* The CAS has this text already: nothing is uploaded, the active version is printed
         * as an upload would print it. */
        char h[65];
        arca_hex_fmt(h, l.active.hash, 32);
        fprintf(stderr, "arca: session apply: '%s' is unchanged (version %llu); nothing uploaded\n",
                l.s->name.s, (unsigned long long)l.active.version);
        if (cli->output == ARCA_OUTPUT_JSON) {
            json_t *j = arca_api_version_to_json(&l.active, ARCA_API_VERSION_UPLOADED);
            cli_print_json(j);
            json_decref(j);
        } else {
            printf("%s\n", h);
        }
    }
    lva_clear(&l);
    return ex;
}

/* ---- diff ------------------------------------------------------------------------------- */

struct differ {
    json_t *changes; /* [{"op": "+"|"-"|"~", "path", "old"?, "new"?}] */
};

static void change(struct differ *d, const char *op, const char *path, const char *old,
                   const char *new_)
{
    json_t *c = json_pack("{s:s, s:s}", "op", op, "path", path);
    if (old != NULL)
        json_object_set_new(c, "old", json_string(old));
    if (new_ != NULL)
        json_object_set_new(c, "new", json_string(new_));
    json_array_append_new(d->changes, c);
}

/* The "name" of a map item of a sequence (services, secrets, images, volumes), or NULL. */
static const char *item_name(const struct arca_ynode *n)
{
    const struct arca_ynode *v = n->type == ARCA_YNODE_MAP ? arca_ynode_get(n, "name") : NULL;
    return v != NULL && v->type == ARCA_YNODE_SCALAR ? v->text : NULL;
}

static bool all_named(const struct arca_ynode *seq)
{
    for (size_t i = 0; seq != NULL && i < seq->n_items; i++)
        if (item_name(&seq->items[i]) == NULL)
            return false;
    return true;
}

static void diff_node(struct differ *d, const char *path, const struct arca_ynode *a,
                      const struct arca_ynode *b);

/* path + ".key" or "[key]" into out. */
static void sub_path(char *out, size_t n, const char *path, const char *key, bool index)
{
    if (index)
        snprintf(out, n, "%s[%s]", path, key);
    else
        snprintf(out, n, "%s%s%s", path, path[0] ? "." : "", key);
}

static void diff_map(struct differ *d, const char *path, const struct arca_ynode *a,
                     const struct arca_ynode *b)
{
    char p[1024];
    for (size_t i = 0; a != NULL && i + 1 < a->n_items; i += 2) {
        const char *k = a->items[i].text;
        /* The chain fields are the CAS's to set: apply and update fill them in. */
        if (path[0] == '\0' && (strcmp(k, "predecessor") == 0 || strcmp(k, "creator") == 0))
            continue;
        sub_path(p, sizeof(p), path, k, false);
        diff_node(d, p, &a->items[i + 1], b != NULL ? arca_ynode_get(b, k) : NULL);
    }
    for (size_t i = 0; b != NULL && i + 1 < b->n_items; i += 2) {
        const char *k = b->items[i].text;
        if (path[0] == '\0' && (strcmp(k, "predecessor") == 0 || strcmp(k, "creator") == 0))
            continue;
        if (a == NULL || arca_ynode_get(a, k) == NULL) {
            sub_path(p, sizeof(p), path, k, false);
            diff_node(d, p, NULL, &b->items[i + 1]);
        }
    }
}

static const struct arca_ynode *find_named(const struct arca_ynode *seq, const char *name)
{
    for (size_t i = 0; seq != NULL && i < seq->n_items; i++)
        if (strcmp(item_name(&seq->items[i]), name) == 0)
            return &seq->items[i];
    return NULL;
}

/* Sequences of named maps are matched by name (secrets[api_key]), others by position. */
static void diff_seq(struct differ *d, const char *path, const struct arca_ynode *a,
                     const struct arca_ynode *b)
{
    char p[1024], k[32];
    if (all_named(a) && all_named(b)) {
        for (size_t i = 0; a != NULL && i < a->n_items; i++) {
            sub_path(p, sizeof(p), path, item_name(&a->items[i]), true);
            diff_node(d, p, &a->items[i], find_named(b, item_name(&a->items[i])));
        }
        for (size_t i = 0; b != NULL && i < b->n_items; i++) {
            if (find_named(a, item_name(&b->items[i])) != NULL)
                continue;
            sub_path(p, sizeof(p), path, item_name(&b->items[i]), true);
            diff_node(d, p, NULL, &b->items[i]);
        }
        return;
    }
    size_t na = a != NULL ? a->n_items : 0, nb = b != NULL ? b->n_items : 0;
    for (size_t i = 0; i < (na > nb ? na : nb); i++) {
        snprintf(k, sizeof(k), "%zu", i);
        sub_path(p, sizeof(p), path, k, true);
        diff_node(d, p, i < na ? &a->items[i] : NULL, i < nb ? &b->items[i] : NULL);
    }
}

/* a: the active (redacted) tree, b: the local one (redacted alike); either may be NULL. */
static void diff_node(struct differ *d, const char *path, const struct arca_ynode *a,
                      const struct arca_ynode *b)
{
    if (a != NULL && b != NULL && a->type != b->type) {
        diff_node(d, path, a, NULL);
        diff_node(d, path, NULL, b);
        return;
    }
    const struct arca_ynode *n = a != NULL ? a : b;
    if (n == NULL)
        return;
    if (n->type == ARCA_YNODE_SCALAR) {
        if (a == NULL)
            change(d, "+", path, NULL, b->text);
        else if (b == NULL)
            change(d, "-", path, a->text, NULL);
        else if (strcmp(a->text, b->text) != 0)
            change(d, "~", path, a->text, b->text);
    } else if (n->type == ARCA_YNODE_MAP) {
        diff_map(d, path, a, b);
    } else {
        diff_seq(d, path, a, b);
    }
}

/* text as a generic tree with every secret value replaced by "<redacted>" (arca_session_redact,
 * the same redaction reads get): nothing the diff prints can be a secret value. */
static int redacted_tree(const char *text, size_t n, const char *what, struct arca_ynode **out)
{
    struct arca_buf r;
    arca_buf_init_secret(&r, 0);
    struct arca_diag dg;
    arca_diag_init(&dg);
    int rc = arca_session_redact(text, n, &r);
    if (rc == 0)
        rc = arca_ytree_parse((const char *)r.data, r.len, what, out, &dg);
    arca_diag_free(&dg);
    arca_buf_free(&r);
    return rc;
}

static void print_diff(const json_t *changes)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c)
    {
        const char *op = json_string_value(json_object_get(c, "op"));
        const char *path = json_string_value(json_object_get(c, "path"));
        const char *old = json_string_value(json_object_get(c, "old"));
        const char *new_ = json_string_value(json_object_get(c, "new"));
        if (old != NULL && new_ != NULL)
            printf("%s %s: %s -> %s\n", op, path, old, new_);
        else
            printf("%s %s: %s\n", op, path, old != NULL ? old : new_ != NULL ? new_ : "");
    }
}

int session_diff(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    int ex = one_file(argc, argv, &file);
    if (ex != ARCA_EXIT_OK)
        return ex;
    struct local_vs_active l;
    struct arca_ynode *ta = NULL, *tb = NULL;
    struct differ d = {.changes = json_array()};
    ex = lva_load(cli, "diff", file, &l);
    if (ex == ARCA_EXIT_OK && l.exists && l.active.session != NULL &&
        redacted_tree(l.active.session, strlen(l.active.session), "<active>", &ta) < 0)
        ex = cli_fail(ARCA_EXIT_FAIL, "session diff: the active version does not parse");
    if (ex == ARCA_EXIT_OK && redacted_tree((const char *)l.text.data, l.text.len, file, &tb) < 0)
        ex = cli_fail(ARCA_EXIT_FAIL, "session diff: %s does not parse", file);
    if (ex == ARCA_EXIT_OK) {
        diff_node(&d, "", ta, tb);
        /* Same redacted text, other hash: a secret value (or key) changed; which one is not
         * shown, only that it did. */
        if (l.exists && !l.same && json_array_size(d.changes) == 0)
            change(&d, "~", "(redacted values)", NULL, "a secret value changed (not shown)");
        bool changed = !l.exists || !l.same;
        char ah[65] = "", lh[65];
        if (l.exists)
            arca_hex_fmt(ah, l.active.hash, 32);
        arca_hex_fmt(lh, l.local, 32);
        if (cli->output == ARCA_OUTPUT_JSON) {
            json_t *o = json_pack("{s:s, s:b, s:b, s:O}", "name", l.s->name.s, "exists", l.exists,
                                  "changed", changed, "changes", d.changes);
            if (l.exists) {
                json_object_set_new(o, "active_hash", json_string(ah));
                json_object_set_new(o, "local_hash", json_string(lh));
            }
            cli_print_json(o);
            json_decref(o);
        } else {
            if (!l.exists)
                printf("# '%s' does not exist: apply creates it\n", l.s->name.s);
            else
                printf("# '%s' version %llu %s\n# %s %s\n", l.s->name.s,
                       (unsigned long long)l.active.version, ah, file,
                       changed ? lh : "(unchanged)");
            print_diff(d.changes);
        }
        ex = changed ? ARCA_EXIT_FAIL : ARCA_EXIT_OK; /* as diff(1): 1 when they differ */
    }
    json_decref(d.changes);
    arca_ynode_free(ta);
    arca_ynode_free(tb);
    lva_clear(&l);
    return ex;
}
