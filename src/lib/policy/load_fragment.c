/*
 * Session loader: config-fragment substitution. `$$SCONE::frag$$` scalars inside
 * services[].attestation, platforms, mrenclaves, access_policy and security are replaced by deep
 * copies of the fragment's value before the typed conversion; list items whose fragment value is
 * a list are spliced. One level only: fragment values are not rescanned.
 *
 * An imported fragment (a secret with `import` and kind config-fragment or no kind) has its
 * value in another session. When the caller gives that value (arca_session_load_imported, at
 * use) it is substituted like a written one; otherwise a whole placeholder naming it inside
 * attestation, access_policy or security is recorded as an import use (struct
 * arca_import_use, with the key path) and the typed conversion skips it (ld_is_pending).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/load_internal.h"

#define FIELD_MAX 256

static const struct arca_ynode *secret_node(const struct ld *L, const char *name, size_t nlen)
{
    const struct arca_ynode *secrets = arca_ynode_get(L->root, "secrets");
    if (secrets == NULL || secrets->type != ARCA_YNODE_SEQ)
        return NULL;
    for (size_t i = 0; i < secrets->n_items; i++) {
        const struct arca_ynode *nm = arca_ynode_get(&secrets->items[i], "name");
        if (nm != NULL && nm->type == ARCA_YNODE_SCALAR && nm->len == nlen &&
            memcmp(nm->text, name, nlen) == 0)
            return &secrets->items[i];
    }
    return NULL;
}

/* An imported secret whose value may be a fragment: `import` and no kind or config-fragment. */
static bool fragment_import(const struct arca_ynode *sec)
{
    const struct arca_ynode *kind = arca_ynode_get(sec, "kind");
    if (arca_ynode_get(sec, "import") == NULL)
        return false;
    return kind == NULL ||
           (kind->type == ARCA_YNODE_SCALAR && strcmp(kind->text, "config-fragment") == 0);
}

/* The given value of the imported fragment name (parsed once), or NULL when none was given. */
static const struct arca_ynode *imported_value(struct ld *L, const char *name, size_t nlen,
                                               struct arca_pos at)
{
    for (size_t i = 0; i < L->n_frags; i++) {
        const struct arca_fragment_value *f = &L->frags[i];
        if (f->name == NULL || strlen(f->name) != nlen || memcmp(f->name, name, nlen) != 0)
            continue;
        if (L->frag_trees[i] == NULL) {
            char file[80];
            snprintf(file, sizeof(file), "<imported %.*s>", (int)(nlen > 60 ? 60 : nlen), name);
            if (arca_ytree_parse(f->text ? f->text : "", f->len, file, &L->frag_trees[i], NULL) <
                0) {
                ld_err(L, at, "imported config-fragment '%.*s' is not valid YAML (%s)",
                       (int)(nlen > 128 ? 128 : nlen), name, arca_err_detail());
                return NULL;
            }
        }
        return L->frag_trees[i];
    }
    return NULL;
}

static const struct arca_ynode *fragment_value(struct ld *L, const char *name, size_t nlen,
                                               struct arca_pos at)
{
    const struct arca_ynode *sec = secret_node(L, name, nlen);
    if (sec == NULL)
        return NULL;
    const struct arca_ynode *kind = arca_ynode_get(sec, "kind");
    if (kind != NULL && kind->type == ARCA_YNODE_SCALAR &&
        strcmp(kind->text, "config-fragment") == 0 && arca_ynode_get(sec, "value") != NULL)
        return arca_ynode_get(sec, "value");
    if (fragment_import(sec))
        return imported_value(L, name, nlen, at);
    return NULL;
}

static const struct arca_ynode *frag_of(struct ld *L, const struct arca_ynode *n)
{
    const char *name, *fmt;
    size_t nlen, flen;
    if (n->type != ARCA_YNODE_SCALAR ||
        !ld_whole_placeholder(n->text, n->len, &name, &nlen, &fmt, &flen))
        return NULL;
    if (flen != 0)
        return NULL;
    return fragment_value(L, name, nlen, n->pos);
}

/* n names an imported fragment that has no value here: its secret name, or false. */
static bool pending_name(const struct ld *L, const struct arca_ynode *n, const char **name,
                         size_t *nlen)
{
    const char *fmt;
    size_t flen;
    if (n->type != ARCA_YNODE_SCALAR ||
        !ld_whole_placeholder(n->text, n->len, name, nlen, &fmt, &flen) || flen != 0)
        return false;
    const struct arca_ynode *sec = secret_node(L, *name, *nlen);
    return sec != NULL && fragment_import(sec);
}

/* Records the import use n at field (the caller found it pending). */
static int record_use(struct ld *L, const struct arca_ynode *n, const char *name, size_t nlen,
                      const char *field)
{
    struct arca_session *s = L->s;
    if (s->n_import_uses >= 1024)
        return ARCA_ERR_TOO_LARGE;
    struct arca_import_use *v = realloc(s->import_uses, (s->n_import_uses + 1) * sizeof(*v));
    if (v == NULL)
        return ARCA_ERR_ALLOC;
    s->import_uses = v;
    struct arca_import_use *u = memset(&v[s->n_import_uses++], 0, sizeof(*u));
    u->pos = n->pos;
    if (!ld_set_str(L, &u->secret, name, nlen, n->pos) ||
        !ld_set_str(L, &u->field, field, strlen(field), n->pos))
        return ARCA_ERR_ALLOC;
    return 0;
}

bool ld_is_pending(const struct ld *L, const struct arca_ynode *n)
{
    const char *name;
    size_t nlen;
    if (!pending_name(L, n, &name, &nlen))
        return false;
    for (size_t i = 0; i < L->s->n_import_uses; i++) {
        const struct arca_import_use *u = &L->s->import_uses[i];
        if (u->pos.line == n->pos.line && u->pos.col == n->pos.col && u->secret.len == nlen &&
            memcmp(u->secret.s, name, nlen) == 0)
            return true;
    }
    return false;
}

const struct arca_import_use *ld_import_under(const struct ld *L, const char *field)
{
    size_t fl = strlen(field);
    for (size_t i = 0; i < L->s->n_import_uses; i++) {
        const char *f = L->s->import_uses[i].field.s;
        if (strncmp(f, field, fl) == 0 && (f[fl] == 0 || f[fl] == '.' || f[fl] == '['))
            return &L->s->import_uses[i];
    }
    return NULL;
}

void ld_fragments_clear(struct ld *L)
{
    for (size_t i = 0; L->frag_trees != NULL && i < L->n_frags; i++)
        arca_ynode_free(L->frag_trees[i]);
    free(L->frag_trees);
    L->frag_trees = NULL;
}

static size_t ynode_count(const struct arca_ynode *n)
{
    size_t c = 1;
    for (size_t i = 0; i < n->n_items; i++)
        c += ynode_count(&n->items[i]);
    return c;
}

/* Charges a fragment copy against the node budget, so that a large fragment used many times
 * cannot blow up memory ("billion laughs" through fragments). */
static int charge(struct ld *L, const struct arca_ynode *f)
{
    L->copied += ynode_count(f);
    return L->copied > ARCA_SESSION_MAX_NODES ? ARCA_ERR_TOO_LARGE : 0;
}

/* Appends a key path step to field (cut at FIELD_MAX; the path only names the place). */
static void path_push(char *field, size_t at, const char *key, size_t index, bool is_index)
{
    if (at >= FIELD_MAX - 1)
        return;
    if (is_index)
        snprintf(field + at, FIELD_MAX - at, "[%zu]", index);
    else
        snprintf(field + at, FIELD_MAX - at, "%s%.100s", at ? "." : "", key);
}

/* Replaces fragment placeholders in n (one level: fragment values are not rescanned). field is
 * n's key path (a FIELD_MAX buffer); imports_ok: a pending import may stand here. */
static int subst(struct ld *L, struct arca_ynode *n, char *field, bool imports_ok)
{
    const struct arca_ynode *f = frag_of(L, n);
    const char *pname;
    size_t pnlen;
    if (f == NULL && imports_ok && pending_name(L, n, &pname, &pnlen))
        return record_use(L, n, pname, pnlen, field);
    if (f != NULL) {
        ARCA_TRY(charge(L, f));
        struct arca_ynode copy;
        ARCA_TRY(arca_ynode_copy(&copy, f));
        arca_ynode_clear(n);
        *n = copy;
        return 0;
    }
    size_t at = strlen(field);
    if (n->type == ARCA_YNODE_SEQ) {
        for (size_t i = 0; i < n->n_items; i++) {
            const struct arca_ynode *fi = frag_of(L, &n->items[i]);
            if (fi != NULL && fi->type == ARCA_YNODE_SEQ) {
                /* splice the fragment's items in place of the placeholder (lists merge) */
                ARCA_TRY(charge(L, fi));
                size_t add = fi->n_items;
                size_t total = n->n_items - 1 + add;
                if (total > ARCA_SESSION_MAX_NODES)
                    return ARCA_ERR_TOO_LARGE;
                struct arca_ynode *ni = calloc(total ? total : 1, sizeof(*ni));
                if (ni == NULL)
                    return ARCA_ERR_ALLOC;
                for (size_t j = 0; j < add; j++) {
                    if (arca_ynode_copy(&ni[i + j], &fi->items[j]) < 0) {
                        for (size_t k = 0; k < j; k++)
                            arca_ynode_clear(&ni[i + k]);
                        free(ni);
                        return ARCA_ERR_ALLOC;
                    }
                }
                memcpy(ni, n->items, i * sizeof(*ni));
                memcpy(ni + i + add, n->items + i + 1, (n->n_items - i - 1) * sizeof(*ni));
                arca_ynode_clear(&n->items[i]);
                free(n->items);
                n->items = ni;
                n->n_items = total;
                i += add;
                if (add > 0)
                    i--;
                continue;
            }
            path_push(field, at, NULL, i, true);
            int rc = subst(L, &n->items[i], field, imports_ok);
            field[at] = 0;
            ARCA_TRY(rc);
        }
    } else if (n->type == ARCA_YNODE_MAP) {
        for (size_t i = 1; i < n->n_items; i += 2) {
            path_push(field, at, n->items[i - 1].text, 0, false);
            int rc = subst(L, &n->items[i], field, imports_ok);
            field[at] = 0;
            ARCA_TRY(rc);
        }
    }
    return 0;
}

int ld_substitute_fragments(struct ld *L)
{
    struct arca_ynode *root = L->root;
    char field[FIELD_MAX];
    if (L->n_frags > 0) {
        L->frag_trees = calloc(L->n_frags, sizeof(*L->frag_trees));
        if (L->frag_trees == NULL)
            return ARCA_ERR_ALLOC;
    }
    for (size_t i = 0; i + 1 < root->n_items; i += 2) {
        const char *k = root->items[i].text;
        struct arca_ynode *v = &root->items[i + 1];
        if (strcmp(k, "access_policy") == 0 || strcmp(k, "security") == 0) {
            snprintf(field, sizeof(field), "%s", k);
            ARCA_TRY(subst(L, v, field, true));
        } else if (strcmp(k, "services") == 0 && v->type == ARCA_YNODE_SEQ) {
            for (size_t j = 0; j < v->n_items; j++) {
                struct arca_ynode *svc = &v->items[j];
                if (svc->type != ARCA_YNODE_MAP)
                    continue;
                for (size_t m = 0; m + 1 < svc->n_items; m += 2) {
                    const char *sk = svc->items[m].text;
                    if (strcmp(sk, "attestation") == 0 || strcmp(sk, "platforms") == 0 ||
                        strcmp(sk, "mrenclaves") == 0) {
                        snprintf(field, sizeof(field), "services[%zu].%s", j, sk);
                        /* platforms keep an imported entry as a secret reference */
                        ARCA_TRY(
                            subst(L, &svc->items[m + 1], field, strcmp(sk, "attestation") == 0));
                    }
                }
            }
        }
    }
    return 0;
}
