/*
 * Session loader: volumes (fspf key and tag, exports to other sessions, imports) and images
 * (volume mounts, injection files).
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/path.h"
#include "policy/load_internal.h"

/* The target of a volume export: a session on this CAS. */
static void export_to(struct ld *L, const struct arca_ynode *to, struct arca_volume_export *e)
{
    static const char *const tk[] = {"session", "session_hash", "namespace", "cas_url", NULL};
    if (!ld_check_keys(L, to, "to", tk, NULL))
        return;
    if (arca_ynode_get(to, "namespace") != NULL)
        ld_err(L, arca_ynode_get(to, "namespace")->pos,
               "volumes can only be exported to sessions, not namespaces");
    else if (arca_ynode_get(to, "cas_url") != NULL)
        ld_err(L, arca_ynode_get(to, "cas_url")->pos,
               "volumes can only be exported to sessions on the same CAS");
    else
        ld_parse_ref_fields(L, to, &e->to, false);
}

/*
 * One volume export. The short form names the target session in the entry itself
 * ({session, session_hash?}); `to:` is needed only to add update_policy or volume_alias.
 */
static void volume_export_one(struct ld *L, const struct arca_ynode *it,
                              struct arca_volume_export *e)
{
    static const char *const ek[] = {"to",           "update_policy", "volume_alias", "session",
                                     "session_hash", "namespace",     "cas_url",      NULL};
    e->pos = it->pos;
    if (!ld_check_keys(L, it, "a volume export", ek, NULL))
        return;
    const struct arca_ynode *to = arca_ynode_get(it, "to");
    bool inline_ref =
        arca_ynode_get(it, "session") != NULL || arca_ynode_get(it, "session_hash") != NULL ||
        arca_ynode_get(it, "namespace") != NULL || arca_ynode_get(it, "cas_url") != NULL;
    const struct arca_ynode *extra = arca_ynode_get(it, "update_policy");
    if (extra == NULL)
        extra = arca_ynode_get(it, "volume_alias");
    if (to != NULL && inline_ref)
        ld_err(L, it->pos, "a volume export names its target either in 'to' or directly, not both");
    else if (to != NULL)
        LD_AT_KEY(L, "to", export_to(L, to, e));
    else if (!inline_ref)
        ld_err(L, it->pos, "missing mandatory key 'to' (or 'session')");
    else if (extra != NULL)
        ld_err(L, extra->pos,
               "update_policy and volume_alias need the target in 'to: {session: ...}'");
    else
        export_to(L, it, e);
    ld_field_update_policy(L, it, &e->update_policy);
    ld_field_str(L, it, "volume_alias", &e->volume_alias, false);
    ld_check_name(L, "volume_alias", &e->volume_alias, false);
}

static void volume_export_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i,
                             void *ctx)
{
    (void)ctx;
    volume_export_one(L, it, (struct arca_volume_export *)base + i);
}

/* export: a list of targets, or (as the docs also write it) one target as a mapping. */
static void volume_exports(struct ld *L, const struct arca_ynode *ex, struct arca_volume *vo)
{
    if (ex->type != ARCA_YNODE_MAP) {
        vo->exports = ld_parse_seq(L, ex, "a list of export targets", sizeof(*vo->exports),
                                   &vo->n_exports, volume_export_fn, NULL);
        return;
    }
    vo->exports = calloc(1, sizeof(*vo->exports));
    if (vo->exports == NULL) {
        L->oom = true;
        return;
    }
    vo->n_exports = 1;
    volume_export_one(L, ex, &vo->exports[0]);
}

static void volume_import(struct ld *L, const struct arca_ynode *im, struct arca_volume *vo,
                          bool has_own)
{
    static const char *const ik[] = {"session", "session_hash", "volume", NULL};
    if (ld_check_keys(L, im, "a volume import", ik, NULL)) {
        vo->has_import = true;
        ld_parse_ref_fields(L, im, &vo->import_from, false);
        ld_field_str(L, im, "volume", &vo->import_volume, true);
        ld_check_name(L, "volume", &vo->import_volume, false);
    }
    if (has_own)
        ld_err(L, im->pos, "an imported volume has no fspf_key/fspf_tag/export of its own");
}

void ld_parse_volume(struct ld *L, const struct arca_ynode *n, struct arca_volume *vo)
{
    static const char *const keys[] = {"name", "fspf_key", "fspf_tag", "export", "import", NULL};
    vo->pos = n->pos;
    if (!ld_check_keys(L, n, "a volume", keys, NULL))
        return;
    ld_field_str(L, n, "name", &vo->name, true);
    ld_check_name(L, "name", &vo->name, false);
    ld_parse_key32(L, n, "fspf_key", &vo->fspf_key);
    ld_field_hex(L, n, "fspf_tag", vo->fspf_tag, 16, &vo->has_fspf_tag, false);
    const struct arca_ynode *fk = arca_ynode_get(n, "fspf_key");
    const struct arca_ynode *ft = arca_ynode_get(n, "fspf_tag");
    if (ft != NULL && fk == NULL)
        ld_err(L, ft->pos, "fspf_tag needs fspf_key");
    const struct arca_ynode *ex = arca_ynode_get(n, "export");
    if (ex != NULL)
        LD_AT_KEY(L, "export", volume_exports(L, ex, vo));
    const struct arca_ynode *im = arca_ynode_get(n, "import");
    if (im != NULL)
        LD_AT_KEY(L, "import", volume_import(L, im, vo, fk != NULL || ex != NULL));
}

static void image_volume_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i,
                            void *ctx)
{
    (void)ctx;
    static const char *const vk[] = {"name", "path", "update_policy", NULL};
    struct arca_image_volume *iv = (struct arca_image_volume *)base + i;
    iv->pos = it->pos;
    if (!ld_check_keys(L, it, "a volume mount", vk, NULL))
        return;
    ld_field_str(L, it, "name", &iv->name, true);
    ld_field_str(L, it, "path", &iv->path, true);
    if (iv->path.s != NULL && iv->path.s[0] != '/')
        LD_AT_KEY(L, "path", ld_err(L, iv->path.pos, "path must be absolute"));
    ld_field_update_policy(L, it, &iv->update_policy);
}

static void injection_file_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i,
                              void *ctx)
{
    (void)ctx;
    static const char *const fk[] = {"path", "content", "permission", NULL};
    struct arca_injection_file *files = base, *f = &files[i];
    f->pos = it->pos;
    f->mode = 0700;
    if (it->type == ARCA_YNODE_SCALAR) {
        ld_get_str(L, it, &f->path, false);
    } else if (ld_check_keys(L, it, "an injection file", fk, NULL)) {
        ld_field_str(L, it, "path", &f->path, true);
        const struct arca_ynode *c = arca_ynode_get(it, "content");
        if (c != NULL)
            LD_AT_KEY(L, "content", f->has_content = ld_get_str(L, c, &f->content, true));
        const struct arca_ynode *p = arca_ynode_get(it, "permission");
        if (p != NULL) {
            uint64_t m;
            bool ok = false;
            LD_AT_KEY(L, "permission", ok = ld_get_uint(L, p, 07777, true, &m));
            if (ok)
                f->mode = (uint32_t)m;
        }
    }
    if (f->path.s != NULL && f->path.s[0] != '/')
        ld_err(L, f->path.pos, "injection file path must be absolute");
    else if (f->path.s != NULL && strcmp(f->path.s, "/") == 0)
        ld_err(L, f->path.pos, "injection file path \"/\" is not a file");
    else if (f->path.s != NULL && arca_path_check(f->path.s, strlen(f->path.s)) < 0)
        ld_err(L, f->path.pos, "injection file path: %s", arca_err_detail());
    for (size_t j = 0; f->path.s != NULL && j < i; j++)
        if (files[j].path.s && strcmp(files[j].path.s, f->path.s) == 0)
            ld_err(L, f->path.pos, "injection file '%.100s' is listed twice", f->path.s);
}

void ld_parse_image(struct ld *L, const struct arca_ynode *n, struct arca_image *im)
{
    static const char *const keys[] = {"name", "volumes", "injection_files", NULL};
    im->pos = n->pos;
    if (!ld_check_keys(L, n, "an image", keys, NULL))
        return;
    ld_field_str(L, n, "name", &im->name, true);
    ld_check_label(L, "name", &im->name);
    const struct arca_ynode *vs = arca_ynode_get(n, "volumes");
    if (vs != NULL)
        LD_AT_KEY(L, "volumes",
                  im->volumes = ld_parse_seq(L, vs, "a list of volume mounts", sizeof(*im->volumes),
                                             &im->n_volumes, image_volume_fn, NULL));
    const struct arca_ynode *fs = arca_ynode_get(n, "injection_files");
    if (fs != NULL)
        LD_AT_KEY(L, "injection_files",
                  im->files = ld_parse_seq(L, fs, "a list of injection files", sizeof(*im->files),
                                           &im->n_files, injection_file_fn, NULL));
}
