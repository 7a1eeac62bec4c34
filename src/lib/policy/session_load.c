/*
 * The session loader: YAML tree -> config-fragment substitution -> typed model -> cross checks.
 *
 * Every problem is recorded in the caller's arca_diag with the file, the position of the
 * offending node and its key path, and loading continues so that one run lists all errors.
 * The model is only handed out when there was no error at all.
 *
 * This file holds the entry points and the top level; each section of the session language
 * has its own load_*.c (load_internal.h lists them and the shared helpers).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/load_internal.h"

static const char supported_versions[] = "\"0.3\" and \"0.3.0\" to \"0.3.12\"";

static void version_value(struct ld *L, const struct arca_ynode *v)
{
    if (ld_expect(L, v, ARCA_YNODE_SCALAR, "a version string")) {
        const char *t = v->text;
        bool ok = false;
        if (strcmp(t, "0.3") == 0) {
            ok = true;
            L->s->version_minor = 12;
        } else if (strncmp(t, "0.3.", 4) == 0 && t[4] >= '0' && t[4] <= '9') {
            char *end;
            unsigned long m = strtoul(t + 4, &end, 10);
            bool canon = !(t[4] == '0' && t[5] != 0);
            if (*end == 0 && m <= 12 && canon) {
                ok = true;
                L->s->version_minor = (unsigned)m;
            }
        }
        if (ok)
            ld_set_str(L, &L->s->version, t, v->len, v->pos);
        else
            ld_err(L, v->pos, "version '%.20s' is not supported (supported: %s)", t,
                   supported_versions);
    }
}

static void parse_version(struct ld *L, const struct arca_ynode *root)
{
    const struct arca_ynode *v = arca_ynode_get(root, "version");
    if (v == NULL)
        ld_err(L, root->pos, "missing mandatory key 'version' (supported: %s)", supported_versions);
    else
        LD_AT_KEY(L, "version", version_value(L, v));
}

static void *parse_list(struct ld *L, const struct arca_ynode *root, const char *key, size_t size,
                        size_t *count, ld_item_fn fn)
{
    const struct arca_ynode *n = arca_ynode_get(root, key);
    *count = 0;
    if (n == NULL || arca_ynode_is_null(n))
        return NULL; /* "services:" with nothing after it: an empty list */
    void *arr = NULL;
    LD_AT_KEY(L, key, arr = ld_parse_seq(L, n, "a list", size, count, fn, NULL));
    return arr;
}

static void svc_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    ld_parse_service(L, n, (struct arca_service *)base + i);
}

static void sec_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    ld_parse_secret(L, n, (struct arca_secret *)base + i);
}

static void img_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    ld_parse_image(L, n, (struct arca_image *)base + i);
}

static void vol_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    ld_parse_volume(L, n, (struct arca_volume *)base + i);
}

static void secret_config_fields(struct ld *L, const struct arca_ynode *n)
{
    static const char *const keys[] = {"store_in", NULL};
    if (!ld_check_keys(L, n, "secret_config", keys, NULL))
        return;
    const struct arca_ynode *st = arca_ynode_get(n, "store_in");
    if (st != NULL && (st->type != ARCA_YNODE_SCALAR || strcmp(st->text, "!cas") != 0))
        LD_AT_KEY(L, "store_in",
                  ld_err(L, st->pos, "store_in must be !cas (the only secret store arca has)"));
}

static void parse_secret_config(struct ld *L, const struct arca_ynode *n)
{
    LD_AT_KEY(L, "secret_config", secret_config_fields(L, n));
}

/* Orders errors by position (stable: insertion sort, lists are short). */
static void sort_diags(struct arca_diag_entry *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct arca_diag_entry e = v[i];
        size_t j = i;
        while (j > 0 &&
               (v[j - 1].line > e.line || (v[j - 1].line == e.line && v[j - 1].col > e.col))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = e;
    }
}

static int load(const char *yaml, size_t len, const char *filename,
                const struct arca_fragment_value *frags, size_t n_frags, bool hash_only,
                struct arca_session **out, struct arca_diag *diag);

int arca_session_load(const char *yaml, size_t len, const char *filename, struct arca_session **out,
                      struct arca_diag *diag)
{
    return load(yaml, len, filename, NULL, 0, false, out, diag);
}

int arca_session_load_for_hash(const char *yaml, size_t len, const char *filename,
                               struct arca_session **out, struct arca_diag *diag)
{
    return load(yaml, len, filename, NULL, 0, true, out, diag);
}

int arca_session_load_imported(const char *yaml, size_t len, const char *filename,
                               const struct arca_fragment_value *frags, size_t n_frags,
                               struct arca_session **out, struct arca_diag *diag)
{
    return load(yaml, len, filename, frags, n_frags, false, out, diag);
}

static int load(const char *yaml, size_t len, const char *filename,
                const struct arca_fragment_value *frags, size_t n_frags, bool hash_only,
                struct arca_session **out, struct arca_diag *diag)
{
    if (out == NULL || (yaml == NULL && len > 0) || (frags == NULL && n_frags > 0))
        return arca_err_set(ARCA_ERR_INVALID_ARG, "arca_session_load: bad arguments");
    *out = NULL;
    struct ld L;
    memset(&L, 0, sizeof(L));
    L.hash_only = hash_only;
    L.frags = frags;
    L.n_frags = n_frags;
    L.file = filename != NULL ? filename : "<input>";
    L.diag = diag;
    size_t diag_start = diag != NULL ? diag->n : 0;
    int rc = arca_ytree_parse(yaml ? yaml : "", len, L.file, &L.root, diag);
    if (rc < 0)
        return (rc == ARCA_ERR_UNSUPPORTED || rc == ARCA_ERR_ALLOC || rc == ARCA_ERR_TOO_LARGE)
                   ? rc
                   : ARCA_ERR_FORMAT;
    L.s = calloc(1, sizeof(*L.s));
    if (L.s == NULL || (L.s->filename = strdup(L.file)) == NULL) {
        arca_ynode_free(L.root);
        free(L.s);
        return ARCA_ERR_ALLOC;
    }
    struct arca_ynode *root = L.root;
    static const char *const top[] = {"name",     "version", "predecessor", "services",
                                      "secrets",  "images",  "volumes",     "access_policy",
                                      "security", "salt",    "creator",     "secret_config",
                                      NULL};
    if (!ld_check_keys(&L, root, "the session", top, NULL))
        goto done;
    rc = ld_substitute_fragments(&L);
    if (rc < 0) {
        if (rc == ARCA_ERR_ALLOC)
            L.oom = true;
        else
            ld_err(&L, root->pos, "config-fragment substitution makes the session too large");
        goto done;
    }
    parse_version(&L, root);
    ld_field_str(&L, root, "name", &L.s->name, true);
    ld_check_name(&L, "name", &L.s->name, true);
    const struct arca_ynode *pred = arca_ynode_get(root, "predecessor");
    if (pred != NULL && !arca_ynode_is_null(pred))
        ld_field_hex(&L, root, "predecessor", L.s->predecessor, 32, &L.s->has_predecessor, false);
    ld_field_hex(&L, root, "salt", L.s->salt, 16, &L.s->has_salt, false);
    const struct arca_ynode *creator = arca_ynode_get(root, "creator");
    if (creator != NULL)
        ld_parse_creator(&L, creator);
    L.s->secrets =
        parse_list(&L, root, "secrets", sizeof(struct arca_secret), &L.s->n_secrets, sec_fn);
    L.s->volumes =
        parse_list(&L, root, "volumes", sizeof(struct arca_volume), &L.s->n_volumes, vol_fn);
    L.s->images = parse_list(&L, root, "images", sizeof(struct arca_image), &L.s->n_images, img_fn);
    L.s->services =
        parse_list(&L, root, "services", sizeof(struct arca_service), &L.s->n_services, svc_fn);
    ld_parse_access(&L, arca_ynode_get(root, "access_policy"));
    const struct arca_ynode *sec = arca_ynode_get(root, "security");
    if (sec != NULL)
        ld_parse_security(&L, sec);
    const struct arca_ynode *sc = arca_ynode_get(root, "secret_config");
    if (sc != NULL)
        parse_secret_config(&L, sc);
    if (!L.oom) {
        ld_check_cross(&L);
        ld_check_azure(&L);
    }
done:
    ld_fragments_clear(&L);
    arca_ynode_free(L.root);
    /* Every key-path scope is closed again; if not, no message above can be trusted. */
    assert(!L.path_broken && L.depth == 0 && L.plen == 0);
    if (L.path_broken || L.depth != 0 || L.plen != 0) {
        struct arca_pos none = {0, 0};
        arca_session_free(L.s);
        arca_diag_add(diag, L.file, none, NULL,
                      "internal error: the session loader left a key path open");
        return arca_err_set(ARCA_ERR_INTERNAL, "session loader: unbalanced key path");
    }
    if (diag != NULL && diag->n > diag_start)
        sort_diags(diag->v + diag_start, diag->n - diag_start);
    if (L.oom) {
        arca_session_free(L.s);
        return ARCA_ERR_ALLOC;
    }
    if (L.errors > 0) {
        arca_session_free(L.s);
        return L.unsupported == L.errors ? ARCA_ERR_UNSUPPORTED : ARCA_ERR_FORMAT;
    }
    *out = L.s;
    return 0;
}

static int load_file(const char *path, bool hash_only, struct arca_session **out,
                     struct arca_diag *diag);

int arca_session_load_file(const char *path, struct arca_session **out, struct arca_diag *diag)
{
    return load_file(path, false, out, diag);
}

int arca_session_load_file_for_hash(const char *path, struct arca_session **out,
                                    struct arca_diag *diag)
{
    return load_file(path, true, out, diag);
}

static int load_file(const char *path, bool hash_only, struct arca_session **out,
                     struct arca_diag *diag)
{
    struct arca_pos none = {0, 0};
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        arca_diag_add(diag, path, none, NULL, "cannot open: %s", strerror(errno));
        return ARCA_ERR_IO;
    }
    struct arca_buf b;
    arca_buf_init(&b, ARCA_SESSION_MAX_BYTES + 1);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if ((rc = arca_buf_put(&b, chunk, n)) < 0)
            break;
    }
    bool ioerr = ferror(f);
    fclose(f);
    if (rc == ARCA_ERR_TOO_LARGE || (rc == 0 && b.len > ARCA_SESSION_MAX_BYTES)) {
        arca_diag_add(diag, path, none, NULL, "the session is larger than %zu bytes",
                      ARCA_SESSION_MAX_BYTES);
        arca_buf_free(&b);
        return ARCA_ERR_TOO_LARGE;
    }
    if (rc < 0 || ioerr) {
        arca_diag_add(diag, path, none, NULL, "cannot read the file");
        arca_buf_free(&b);
        return rc < 0 ? rc : ARCA_ERR_IO;
    }
    rc = load((const char *)b.data, b.len, path, NULL, 0, hash_only, out, diag);
    arca_buf_free(&b);
    return rc;
}
