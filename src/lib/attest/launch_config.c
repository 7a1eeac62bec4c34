/*
 * The configuration delivered to an attested program (launch_config.h). Values carry secrets:
 * they are expanded into secret buffers and handed to the configuration struct, whose free
 * wipes them; the wire encoder writes the JSON by hand into a secret buffer.
 */
#include "attest/launch_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/path.h"
#include "policy/session.h"

/*
 * Whether n bytes can travel as a configuration string: UTF-8 exactly as jansson decodes it.
 * The check is the JSON escaper's (the one the wire encoder uses), run into a scratch secret
 * buffer, so the two cannot disagree.
 */
static bool text_ok(const void *p, size_t n)
{
    struct arca_buf scratch;
    arca_buf_init_secret(&scratch, 0);
    int rc = arca_placeholder_json_escape(p, n, &scratch);
    arca_buf_free(&scratch);
    return rc == 0;
}

struct expand_ctx {
    arca_placeholder_render_fn render;
    void *render_ctx;
    const char *service;
};

/* Expands text into *out, a new secret C string "NAME=" + value (name NULL: the value
 * alone). what names the value for errors. */
static int expand(const struct expand_ctx *x, const struct arca_str *name, const char *text,
                  size_t len, const char *what, char **out)
{
    struct arca_buf v;
    arca_buf_init_secret(&v, 0);
    int rc = 0;
    size_t skip = 0;
    if (name != NULL) {
        rc = arca_buf_put(&v, name->s, name->len);
        if (rc == 0)
            rc = arca_buf_put_u8(&v, '=');
        skip = v.len;
    }
    if (rc == 0)
        rc = arca_placeholder_expand(text, len, x->render, x->render_ctx, false, &v);
    if (rc < 0) {
        arca_buf_free(&v);
        return arca_err_wrap(rc, "services[%s].%s", x->service, what);
    }
    const uint8_t *val = v.data + skip;
    size_t vlen = v.len - skip;
    if (vlen > 0 && memchr(val, '\0', vlen) != NULL) {
        arca_buf_free(&v);
        ARCA_BAIL(ARCA_ERR_FORMAT, "services[%s].%s: the expanded value contains a NUL byte",
                  x->service, what);
    }
    if (!text_ok(val, vlen)) {
        arca_buf_free(&v);
        ARCA_BAIL(ARCA_ERR_FORMAT, "services[%s].%s: the expanded value is not UTF-8 text",
                  x->service, what);
    }
    *out = strndup((const char *)v.data, v.len);
    arca_buf_free(&v);
    ARCA_ENSURE(*out != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
    return 0;
}

/* "@@N" exactly: returns N (>= 0), or -1 if arg is not of that form. */
static long host_arg_index(const char *arg)
{
    if (strncmp(arg, "@@", 2) != 0 || arg[2] < '0' || arg[2] > '9')
        return -1;
    char *end = NULL;
    long n = strtol(arg + 2, &end, 10);
    if (*end != '\0' || n < 0 || n > 1000000)
        return -1;
    return n;
}

static int build_argv(const struct arca_service *svc, const struct arca_launch_host *host,
                      const struct expand_ctx *x, struct arca_launch_config *out)
{
    ARCA_ENSURE(svc->argc > 0, ARCA_ERR_POLICY, "services[%s].command: missing or empty",
                x->service);
    out->argv = calloc(svc->argc + 1, sizeof(char *));
    bool *used = calloc(host->argc + 1, sizeof(bool));
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, out->argv != NULL && used != NULL, done, ARCA_ERR_ALLOC,
                      "launch: out of memory");
    for (size_t i = 0; i < svc->argc; i++) {
        const char *a = svc->argv[i].s;
        long n = host_arg_index(a);
        if (n >= 0) {
            ARCA_GUARD_ENSURE(
                rc, (size_t)n<host->argc, done, ARCA_ERR_POLICY,
                              "services[%s].command: argument %zu is @@%ld but the launcher "
                              "was started with only %zu argument(s)",
                              x->service, i, n, host->argc> 0
                        ? host->argc - 1
                        : 0);
            ARCA_GUARD_ENSURE(rc, !used[n], done, ARCA_ERR_POLICY,
                              "services[%s].command: @@%ld is used twice", x->service, n);
            used[n] = true;
            const char *h = host->argv[n];
            ARCA_GUARD_ENSURE(rc, text_ok(h, strlen(h)), done, ARCA_ERR_FORMAT,
                              "host argument %ld is not UTF-8", n);
            out->argv[i] = strdup(h);
        } else {
            char what[48];
            snprintf(what, sizeof(what), "command[%zu]", i);
            ARCA_GUARD(rc, expand(x, NULL, a, svc->argv[i].len, what, &out->argv[i]), done);
        }
        ARCA_GUARD_ENSURE(rc, out->argv[i] != NULL, done, ARCA_ERR_ALLOC, "launch: out of memory");
        out->argc = i + 1;
    }
done:
    free(used);
    return rc;
}

static const char *host_env(const struct arca_launch_host *host, const char *name)
{
    for (size_t i = 0; i < host->n_env; i++)
        if (strcmp(host->env_names[i], name) == 0)
            return host->env_values[i];
    return NULL;
}

static int build_env(const struct arca_service *svc, const struct arca_launch_host *host,
                     const struct expand_ctx *x, struct arca_launch_config *out)
{
    out->envp = calloc(svc->n_env + 1, sizeof(char *));
    ARCA_ENSURE(out->envp != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
    for (size_t i = 0; i < svc->n_env; i++) {
        const struct arca_env *e = &svc->env[i];
        ARCA_ENSURE(e->name.len > 0 && memchr(e->name.s, '=', e->name.len) == NULL &&
                        memchr(e->name.s, '\0', e->name.len) == NULL &&
                        text_ok(e->name.s, e->name.len),
                    ARCA_ERR_POLICY, "services[%s].environment: bad variable name", x->service);
        if (e->from_host) {
            /* The reference: an unset host variable is defined as empty. */
            const char *v = host_env(host, e->name.s);
            if (v == NULL)
                v = "";
            ARCA_ENSURE(text_ok(v, strlen(v)), ARCA_ERR_FORMAT, "host environment %s: not UTF-8",
                        e->name.s);
            size_t vl = strlen(v);
            char *kv = malloc(e->name.len + 1 + vl + 1);
            ARCA_ENSURE(kv != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
            memcpy(kv, e->name.s, e->name.len);
            kv[e->name.len] = '=';
            memcpy(kv + e->name.len + 1, v, vl + 1);
            out->envp[i] = kv;
        } else {
            char what[ARCA_SESSION_COMPONENT_MAX + 32];
            snprintf(what, sizeof(what), "environment.%s", e->name.s);
            ARCA_TRY(expand(x, &e->name, e->value.s ? e->value.s : "", e->value.len, what,
                            &out->envp[i]));
        }
        out->envc = i + 1;
    }
    return 0;
}

static int build_files(const struct arca_session *s, const struct arca_service *svc,
                       const struct expand_ctx *x, struct arca_launch_config *out)
{
    const struct arca_image *img = NULL;
    if (svc->image_name.s != NULL) {
        img = arca_session_find_image(s, svc->image_name.s);
        ARCA_ENSURE(img != NULL, ARCA_ERR_POLICY, "services[%s].image_name: no image \"%s\"",
                    x->service, svc->image_name.s);
    }
    size_t n = img != NULL ? img->n_files : 0;
    out->files = calloc(n + 1, sizeof(*out->files));
    ARCA_ENSURE(out->files != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct arca_injection_file *f = &img->files[i];
        ARCA_ENSURE(f->has_content, ARCA_ERR_UNSUPPORTED,
                    "images[%s].injection_files[%zu] (%s): the short form (content read from "
                    "the program's file system) is not supported by arca: give content",
                    img->name.s, i, f->path.s ? f->path.s : "?");
        ARCA_ENSURE(f->path.s != NULL && f->path.s[0] == '/', ARCA_ERR_POLICY,
                    "images[%s].injection_files[%zu].path: not an absolute path", img->name.s, i);
        ARCA_ENSURE(memchr(f->path.s, '\0', f->path.len) == NULL && text_ok(f->path.s, f->path.len),
                    ARCA_ERR_POLICY, "images[%s].injection_files[%zu].path: not UTF-8 text",
                    img->name.s, i);
        struct arca_launch_file *o = &out->files[i];
        out->nfiles = i + 1; /* counted first: a half-filled entry is freed too */
        struct arca_buf v;
        arca_buf_init_secret(&v, 0);
        int rc = arca_placeholder_expand(f->content.s ? f->content.s : "", f->content.len,
                                         x->render, x->render_ctx, true, &v);
        if (rc < 0) {
            arca_buf_free(&v);
            return arca_err_wrap(rc, "images[%s].injection_files[%zu].content", img->name.s, i);
        }
        char *bytes = NULL;
        size_t len = 0;
        rc = arca_buf_steal(&v, &bytes, &len);
        arca_buf_free(&v);
        ARCA_TRY(rc);
        o->content = (uint8_t *)bytes;
        o->len = len;
        o->mode = (unsigned)(f->mode & 07777);
        o->path = strndup(f->path.s, f->path.len);
        ARCA_ENSURE(o->path != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
    }
    return 0;
}

/* ---- protected volumes (docs/volumes.md "Unlocking") ---------------------------------------- */

/* The 32-byte key of ref into key: the literal, or the binary secret it names (rendered raw). */
static int volume_key(const struct expand_ctx *x, const struct arca_key32_ref *ref,
                      const char *what, uint8_t key[32])
{
    if (ref->literal) {
        memcpy(key, ref->key, 32);
        return 0;
    }
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    int rc = x->render(x->render_ctx, ref->secret.s, ref->secret.len, "bin", &b);
    if (rc == 0 && b.len != 32)
        rc = arca_err_set(ARCA_ERR_POLICY, "secret %s has %zu bytes, a volume key needs 32",
                          ref->secret.s, b.len);
    if (rc == 0)
        memcpy(key, b.data, 32);
    arca_buf_free(&b);
    return rc < 0 ? arca_err_wrap(rc, "%s", what) : 0;
}

/* Appends one volume (name and path copied) to out->volumes, which has room for it. */
static int add_volume(struct arca_launch_config *out, const char *name, const char *path,
                      size_t path_len, const struct expand_ctx *x, const struct arca_key32_ref *key,
                      bool has_tag, const uint8_t tag[16], enum arca_fspf_policy policy,
                      const char *what)
{
    ARCA_ENSURE(path_len > 1 && arca_path_check(path, path_len) == 0 && text_ok(path, path_len),
                ARCA_ERR_POLICY,
                "%s: path is not a normalised absolute path below \"/\" (no '.', '..', '//')",
                what);
    struct arca_launch_volume *v = &out->volumes[out->nvolumes];
    memset(v, 0, sizeof(*v));
    out->nvolumes++; /* counted first: a half-filled entry is freed too */
    v->name = strdup(name);
    v->path = strndup(path, path_len);
    ARCA_ENSURE(v->name != NULL && v->path != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
    /* No key in the policy: arca_launch_config_volumes_resolve gives arcad's own. */
    if (key->set) {
        ARCA_TRY(volume_key(x, key, what, v->key));
        v->has_key = true;
    }
    v->has_tag = has_tag;
    if (has_tag)
        memcpy(v->tag, tag, 16);
    v->policy = arca_launch_volume_policy_of(policy);
    return 0;
}

/*
 * The volumes of the service: its own fspf_path (the directory of the manifest) and its
 * image's volumes with their definitions in volumes[].
 */
static int build_volumes(const struct arca_session *s, const struct arca_service *svc,
                         const struct expand_ctx *x, struct arca_launch_config *out)
{
    const struct arca_image *img =
        svc->image_name.s != NULL ? arca_session_find_image(s, svc->image_name.s) : NULL;
    size_t n = (svc->fspf_path.s != NULL ? 1 : 0) + (img != NULL ? img->n_volumes : 0);
    if (n == 0)
        return 0;
    out->volumes = calloc(n, sizeof(*out->volumes));
    ARCA_ENSURE(out->volumes != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
    char what[ARCA_SESSION_COMPONENT_MAX + 64];
    if (svc->fspf_path.s != NULL) {
        snprintf(what, sizeof(what), "services[%s].fspf_path", x->service);
        const char *slash = memrchr(svc->fspf_path.s, '/', svc->fspf_path.len);
        ARCA_ENSURE(slash != NULL && slash != svc->fspf_path.s, ARCA_ERR_POLICY,
                    "%s: expected DIR/volume.fspf with DIR below \"/\"", what);
        char name[ARCA_SESSION_COMPONENT_MAX + 8];
        snprintf(name, sizeof(name), "%s.fspf", x->service);
        ARCA_TRY(add_volume(out, name, svc->fspf_path.s, (size_t)(slash - svc->fspf_path.s), x,
                            &svc->fspf_key, svc->has_fspf_tag, svc->fspf_tag,
                            svc->fspf_update_policy, what));
    }
    for (size_t i = 0; img != NULL && i < img->n_volumes; i++) {
        const struct arca_image_volume *iv = &img->volumes[i];
        snprintf(what, sizeof(what), "images[%s].volumes[%zu]", img->name.s, i);
        const struct arca_volume *vol =
            iv->name.s != NULL ? arca_session_find_volume(s, iv->name.s) : NULL;
        ARCA_ENSURE(vol != NULL, ARCA_ERR_POLICY, "%s: no volume \"%s\" in volumes", what,
                    iv->name.s ? iv->name.s : "?");
        ARCA_ENSURE(!vol->has_import, ARCA_ERR_UNSUPPORTED,
                    "%s: imported volume \"%s\" is not unlocked by arca yet", what, iv->name.s);
        ARCA_ENSURE(iv->path.s != NULL, ARCA_ERR_POLICY, "%s: no path", what);
        ARCA_TRY(add_volume(out, iv->name.s, iv->path.s, iv->path.len, x, &vol->fspf_key,
                            vol->has_fspf_tag, vol->fspf_tag, iv->update_policy, what));
    }
    return 0;
}

int arca_launch_config_build(const struct arca_session *s, const struct arca_service *svc,
                             const struct arca_launch_host *host, arca_placeholder_render_fn render,
                             void *render_ctx, struct arca_launch_config *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(svc);
    ARCA_ENSURE_REF(host);
    ARCA_ENSURE_REF(render);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    struct expand_ctx x = {render, render_ctx, svc->name.s ? svc->name.s : "?"};
    int rc;
    ARCA_GUARD(rc, build_argv(svc, host, &x, out), fail);
    ARCA_GUARD(rc, build_env(svc, host, &x, out), fail);
    const char *pwd = svc->pwd.s != NULL && svc->pwd.len > 0 ? svc->pwd.s : "/";
    out->pwd = strdup(pwd);
    ARCA_GUARD_ENSURE(rc, out->pwd != NULL, fail, ARCA_ERR_ALLOC, "launch: out of memory");
    ARCA_GUARD(rc, build_files(s, svc, &x, out), fail);
    ARCA_GUARD(rc, build_volumes(s, svc, &x, out), fail);
    return 0;
fail:
    arca_launch_config_free(out);
    return rc;
}
