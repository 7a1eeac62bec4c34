/*
 * The configuration delivered to an attested program (launch_config.h). Values carry secrets:
 * they are expanded into secret buffers, and the JSON text is assembled here by hand into a
 * secret buffer rather than through a JSON library whose internal copies we could not wipe.
 */
#include "api/launch_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "policy/session.h"

/* Appends s[0..n) as a JSON string literal (UTF-8 passed through, controls escaped). */
static int put_json_string(struct arca_buf *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    ARCA_TRY(arca_buf_put_u8(out, '"'));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            ARCA_TRY(arca_buf_put_u8(out, '\\'));
            ARCA_TRY(arca_buf_put_u8(out, c));
        } else if (c < 0x20 || c == 0x7f) {
            ARCA_TRY(arca_buf_printf(out, "\\u%04x", c));
        } else {
            ARCA_TRY(arca_buf_put_u8(out, c));
        }
    }
    return arca_buf_put_u8(out, '"');
}

/* JSON text must be UTF-8; argv and environment values come from YAML (UTF-8) and secrets
 * (ascii is printable, binary would be rendered in a text format), but check anyway. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        if (len == 2 && c < 0xc2)
            return false;
        i += len;
    }
    return true;
}

struct expand_ctx {
    arca_placeholder_render_fn render;
    void *render_ctx;
    const char *service;
};

/* Expands text and appends it as a JSON string. what names the value for errors. */
static int put_expanded(const struct expand_ctx *x, const char *text, size_t len, const char *what,
                        struct arca_buf *out)
{
    struct arca_buf v;
    arca_buf_init_secret(&v, 0);
    int rc = arca_placeholder_expand(text, len, x->render, x->render_ctx, false, &v);
    if (rc < 0) {
        arca_buf_free(&v);
        return arca_err_wrap(rc, "services[%s].%s", x->service, what);
    }
    if (!utf8_valid(v.data, v.len)) {
        arca_buf_free(&v);
        ARCA_BAIL(ARCA_ERR_FORMAT, "services[%s].%s: the expanded value is not UTF-8 text",
                  x->service, what);
    }
    rc = put_json_string(out, v.data, v.len);
    arca_buf_free(&v);
    return rc;
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
                      const struct expand_ctx *x, struct arca_buf *out)
{
    ARCA_ENSURE(svc->argc > 0, ARCA_ERR_POLICY, "services[%s].command: missing or empty",
                x->service);
    bool *used = calloc(host->argc + 1, sizeof(bool));
    ARCA_ENSURE(used != NULL, ARCA_ERR_ALLOC, "launch: out of memory");
    int rc = 0;
    ARCA_GUARD(rc, arca_buf_put_str(out, "\"argv\":["), done);
    for (size_t i = 0; i < svc->argc; i++) {
        if (i > 0)
            ARCA_GUARD(rc, arca_buf_put_u8(out, ','), done);
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
            ARCA_GUARD_ENSURE(rc, utf8_valid((const uint8_t *)h, strlen(h)), done, ARCA_ERR_FORMAT,
                              "host argument %ld is not UTF-8", n);
            ARCA_GUARD(rc, put_json_string(out, h, strlen(h)), done);
            continue;
        }
        char what[48];
        snprintf(what, sizeof(what), "command[%zu]", i);
        ARCA_GUARD(rc, put_expanded(x, a, svc->argv[i].len, what, out), done);
    }
    rc = arca_buf_put_u8(out, ']');
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
                     const struct expand_ctx *x, struct arca_buf *out)
{
    ARCA_TRY(arca_buf_put_str(out, "\"env\":{"));
    for (size_t i = 0; i < svc->n_env; i++) {
        const struct arca_env *e = &svc->env[i];
        if (i > 0)
            ARCA_TRY(arca_buf_put_u8(out, ','));
        ARCA_ENSURE(e->name.len > 0 && strchr(e->name.s, '=') == NULL, ARCA_ERR_POLICY,
                    "services[%s].environment: bad variable name", x->service);
        ARCA_TRY(put_json_string(out, e->name.s, e->name.len));
        ARCA_TRY(arca_buf_put_u8(out, ':'));
        if (e->from_host) {
            /* The reference: an unset host variable is defined as empty. */
            const char *v = host_env(host, e->name.s);
            if (v == NULL)
                v = "";
            ARCA_ENSURE(utf8_valid((const uint8_t *)v, strlen(v)), ARCA_ERR_FORMAT,
                        "host environment %s: not UTF-8", e->name.s);
            ARCA_TRY(put_json_string(out, v, strlen(v)));
            continue;
        }
        char what[ARCA_SESSION_COMPONENT_MAX + 32];
        snprintf(what, sizeof(what), "environment.%s", e->name.s);
        ARCA_TRY(put_expanded(x, e->value.s ? e->value.s : "", e->value.len, what, out));
    }
    return arca_buf_put_u8(out, '}');
}

static int build_files(const struct arca_session *s, const struct arca_service *svc,
                       const struct expand_ctx *x, struct arca_buf *out)
{
    ARCA_TRY(arca_buf_put_str(out, "\"files\":["));
    const struct arca_image *img = NULL;
    if (svc->image_name.s != NULL) {
        img = arca_session_find_image(s, svc->image_name.s);
        ARCA_ENSURE(img != NULL, ARCA_ERR_POLICY, "services[%s].image_name: no image \"%s\"",
                    x->service, svc->image_name.s);
    }
    for (size_t i = 0; img != NULL && i < img->n_files; i++) {
        const struct arca_injection_file *f = &img->files[i];
        ARCA_ENSURE(f->has_content, ARCA_ERR_UNSUPPORTED,
                    "images[%s].injection_files[%zu] (%s): the short form (content read from "
                    "the program's file system) is not supported by arca: give content",
                    img->name.s, i, f->path.s ? f->path.s : "?");
        ARCA_ENSURE(f->path.s != NULL && f->path.s[0] == '/', ARCA_ERR_POLICY,
                    "images[%s].injection_files[%zu].path: not an absolute path", img->name.s, i);
        struct arca_buf v;
        arca_buf_init_secret(&v, 0);
        int rc = arca_placeholder_expand(f->content.s ? f->content.s : "", f->content.len,
                                         x->render, x->render_ctx, true, &v);
        if (rc < 0) {
            arca_buf_free(&v);
            return arca_err_wrap(rc, "images[%s].injection_files[%zu].content", img->name.s, i);
        }
        if (i > 0)
            rc = arca_buf_put_u8(out, ',');
        if (rc == 0)
            rc = arca_buf_put_str(out, "{\"path\":");
        if (rc == 0)
            rc = put_json_string(out, f->path.s, f->path.len);
        if (rc == 0)
            rc = arca_buf_printf(out, ",\"mode\":%u,\"content\":\"", (unsigned)(f->mode & 07777));
        if (rc == 0)
            rc = arca_base64_encode(out, v.data, v.len);
        if (rc == 0)
            rc = arca_buf_put_str(out, "\"}");
        arca_buf_free(&v);
        ARCA_TRY(rc);
    }
    return arca_buf_put_u8(out, ']');
}

int arca_launch_config_build(const struct arca_session *s, const struct arca_service *svc,
                             const struct arca_launch_host *host, arca_placeholder_render_fn render,
                             void *render_ctx, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(svc);
    ARCA_ENSURE_REF(host);
    ARCA_ENSURE_REF(render);
    ARCA_ENSURE_REF(out);
    struct expand_ctx x = {render, render_ctx, svc->name.s ? svc->name.s : "?"};
    struct arca_buf j;
    arca_buf_init_secret(&j, out->max);
    int rc;
    ARCA_GUARD(rc, arca_buf_put_u8(&j, '{'), fail);
    ARCA_GUARD(rc, build_argv(svc, host, &x, &j), fail);
    ARCA_GUARD(rc, arca_buf_put_u8(&j, ','), fail);
    ARCA_GUARD(rc, build_env(svc, host, &x, &j), fail);
    ARCA_GUARD(rc, arca_buf_put_str(&j, ",\"pwd\":"), fail);
    const char *pwd = svc->pwd.s != NULL && svc->pwd.len > 0 ? svc->pwd.s : "/";
    ARCA_GUARD(rc, put_json_string(&j, pwd, strlen(pwd)), fail);
    ARCA_GUARD(rc, arca_buf_put_u8(&j, ','), fail);
    ARCA_GUARD(rc, build_files(s, svc, &x, &j), fail);
    ARCA_GUARD(rc, arca_buf_put_u8(&j, '}'), fail);
    rc = arca_buf_put(out, j.data, j.len);
fail:
    arca_buf_free(&j);
    return rc;
}
