/*
 * Session loader: config-fragment substitution. `$$SCONE::frag$$` scalars inside
 * services[].attestation, platforms, mrenclaves, access_policy and security are replaced by deep
 * copies of the fragment's value before the typed conversion; list items whose fragment value is
 * a list are spliced. One level only: fragment values are not rescanned.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/load_internal.h"

static const struct arca_ynode *fragment_value(struct ld *L, const char *name, size_t nlen)
{
    const struct arca_ynode *secrets = arca_ynode_get(L->root, "secrets");
    if (secrets == NULL || secrets->type != ARCA_YNODE_SEQ)
        return NULL;
    for (size_t i = 0; i < secrets->n_items; i++) {
        const struct arca_ynode *sec = &secrets->items[i];
        const struct arca_ynode *nm = arca_ynode_get(sec, "name");
        const struct arca_ynode *kind = arca_ynode_get(sec, "kind");
        if (nm == NULL || kind == NULL || nm->type != ARCA_YNODE_SCALAR ||
            kind->type != ARCA_YNODE_SCALAR)
            continue;
        if (nm->len == nlen && memcmp(nm->text, name, nlen) == 0 &&
            strcmp(kind->text, "config-fragment") == 0)
            return arca_ynode_get(sec, "value");
    }
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
    return fragment_value(L, name, nlen);
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

/* Replaces fragment placeholders in n (one level: fragment values are not rescanned). */
static int subst(struct ld *L, struct arca_ynode *n)
{
    const struct arca_ynode *f = frag_of(L, n);
    if (f != NULL) {
        ARCA_TRY(charge(L, f));
        struct arca_ynode copy;
        ARCA_TRY(arca_ynode_copy(&copy, f));
        arca_ynode_clear(n);
        *n = copy;
        return 0;
    }
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
            ARCA_TRY(subst(L, &n->items[i]));
        }
    } else if (n->type == ARCA_YNODE_MAP) {
        for (size_t i = 1; i < n->n_items; i += 2)
            ARCA_TRY(subst(L, &n->items[i]));
    }
    return 0;
}

int ld_substitute_fragments(struct ld *L)
{
    struct arca_ynode *root = L->root;
    for (size_t i = 0; i + 1 < root->n_items; i += 2) {
        const char *k = root->items[i].text;
        struct arca_ynode *v = &root->items[i + 1];
        if (strcmp(k, "access_policy") == 0 || strcmp(k, "security") == 0) {
            ARCA_TRY(subst(L, v));
        } else if (strcmp(k, "services") == 0 && v->type == ARCA_YNODE_SEQ) {
            for (size_t j = 0; j < v->n_items; j++) {
                struct arca_ynode *svc = &v->items[j];
                if (svc->type != ARCA_YNODE_MAP)
                    continue;
                for (size_t m = 0; m + 1 < svc->n_items; m += 2) {
                    const char *sk = svc->items[m].text;
                    if (strcmp(sk, "attestation") == 0 || strcmp(sk, "platforms") == 0 ||
                        strcmp(sk, "mrenclaves") == 0)
                        ARCA_TRY(subst(L, &svc->items[m + 1]));
                }
            }
        }
    }
    return 0;
}
