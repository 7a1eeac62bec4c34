/*
 * provided_by uploads from inside the attested program (docs/arca-run.md "Providing a
 * secret"). A program that a secret names as its provider gets, in its environment, what an
 * upload needs: ARCA_CAS_ADDR, ARCA_CAS_KEY, ARCA_CONFIG_ID (without a one-time password) and
 * ARCA_PROVIDE_TOKEN, the credential of its attested configuration. It then runs
 * `arca-run --provide SECRET=FILE` (or `=-` for standard input), so no source change of an
 * existing program is needed beyond calling a command. The credential lives only in the
 * environment of the attested program and its children, which are inside the TEE.
 */
#include "arcarun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/attest_wire.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"

#define PROVIDE_ENV_N 4

/* "NAME=VALUE" into a new string (the caller wipes and frees it). */
static char *env_entry(const char *name, const char *value, size_t vlen)
{
    size_t n = strlen(name) + vlen + 2;
    char *e = malloc(n);
    if (e != NULL)
        snprintf(e, n, "%s=%.*s", name, (int)vlen, value);
    return e;
}

int arcarun_provide_env(struct arcarun_config *c, const char *addr, const uint8_t key_id[32],
                        const char *config_id)
{
    ARCA_ENSURE_REF(c);
    if (!c->has_provide_token)
        return 0;
    ARCA_ENSURE(addr != NULL && key_id != NULL && config_id != NULL, ARCA_ERR_INVALID_ARG,
                "provide: incomplete parameters");
    char key_hex[65];
    arca_hex_fmt(key_hex, key_id, 32);
    char tok_hex[2 * ARCA_VOLUME_TOKEN_LEN + 1];
    arca_hex_fmt(tok_hex, c->provide_token, sizeof(c->provide_token));
    /* SESSION/SERVICE only: a one-time password after '@' is spent already. */
    const char *slash = strrchr(config_id, '/');
    const char *at = strchr(slash != NULL ? slash : config_id, '@');
    size_t id_len = at != NULL ? (size_t)(at - config_id) : strlen(config_id);
    char **envp = realloc(c->envp, (c->envc + PROVIDE_ENV_N + 1) * sizeof(*envp));
    ARCA_ENSURE(envp != NULL, ARCA_ERR_ALLOC, "provide: out of memory");
    c->envp = envp;
    char *add[PROVIDE_ENV_N] = {
        env_entry("ARCA_CAS_ADDR", addr, strlen(addr)),
        env_entry("ARCA_CAS_KEY", key_hex, 64),
        env_entry("ARCA_CONFIG_ID", config_id, id_len),
        env_entry("ARCA_PROVIDE_TOKEN", tok_hex, strlen(tok_hex)),
    };
    arca_wipe(tok_hex, sizeof(tok_hex));
    bool ok = true;
    for (size_t i = 0; i < PROVIDE_ENV_N; i++)
        ok = ok && add[i] != NULL;
    if (!ok) {
        for (size_t i = 0; i < PROVIDE_ENV_N; i++)
            arca_wipe_free_str(add[i]);
        envp[c->envc] = NULL;
        ARCA_BAIL(ARCA_ERR_ALLOC, "provide: out of memory");
    }
    for (size_t i = 0; i < PROVIDE_ENV_N; i++)
        envp[c->envc++] = add[i];
    envp[c->envc] = NULL;
    return 0;
}

/* Reads the value of "-" (standard input) or a file into v (secret, bounded); one trailing
 * newline is dropped, so `echo "$V" | arca-run --provide S=-` gives exactly $V. */
static int read_value(const char *src, struct arca_buf *v)
{
    if (strcmp(src, "-") == 0)
        ARCA_TRY(arca_fd_read_all(STDIN_FILENO, "standard input", v));
    else
        ARCA_TRY(arca_file_read(src, ARCA_PROVIDED_VALUE_MAX, v));
    if (v->len > 0 && v->data[v->len - 1] == '\n')
        v->data[--v->len] = 0;
    ARCA_ENSURE(v->len > 0, ARCA_ERR_INVALID_ARG, "%.200s: the value is empty", src);
    return 0;
}

static int need_env(const char *name, const char **out)
{
    *out = getenv(name);
    ARCA_ENSURE(*out != NULL && (*out)[0] != '\0', ARCA_ERR_INVALID_ARG,
                "%s is not set: --provide runs inside a program that arca-run started as the "
                "provided_by service of a secret",
                name);
    return 0;
}

int arcarun_cmd_provide(const char *arg)
{
    ARCA_ENSURE_REF(arg);
    const char *eq = strchr(arg, '=');
    ARCA_ENSURE(eq != NULL && eq != arg && eq[1] != '\0', ARCA_ERR_INVALID_ARG,
                "--provide: expected SECRET=FILE or SECRET=-");
    const char *addr, *key, *id, *tok;
    ARCA_TRY(need_env("ARCA_CAS_ADDR", &addr));
    ARCA_TRY(need_env("ARCA_CAS_KEY", &key));
    ARCA_TRY(need_env("ARCA_CONFIG_ID", &id));
    ARCA_TRY(need_env("ARCA_PROVIDE_TOKEN", &tok));
    uint8_t key_id[32];
    ARCA_ENSURE(arca_hex_decode_fixed(key_id, 32, key, strlen(key)) == 0, ARCA_ERR_INVALID_ARG,
                "ARCA_CAS_KEY: not 64 hex digits");
    struct arca_provided_upload u;
    memset(&u, 0, sizeof(u));
    arca_buf_init_secret(&u.value, ARCA_PROVIDED_VALUE_MAX);
    int rc = 0;
    u.config_id = strdup(id);
    u.secret = strndup(arg, (size_t)(eq - arg));
    ARCA_GUARD_ENSURE(rc, u.config_id != NULL && u.secret != NULL, out, ARCA_ERR_ALLOC,
                      "--provide: out of memory");
    ARCA_GUARD_ENSURE(rc, arca_hex_decode_fixed(u.token, sizeof(u.token), tok, strlen(tok)) == 0,
                      out, ARCA_ERR_INVALID_ARG, "ARCA_PROVIDE_TOKEN: not %zu hex digits",
                      2 * sizeof(u.token));
    ARCA_GUARD(rc, read_value(eq + 1, &u.value), out);
    struct arcarun_curl_loader curl = {0};
    struct arcarun_attest_params ap = {.cas_addr = addr, .cas_key_id = key_id, .curl = &curl};
    rc = arcarun_upload_provided(&ap, &u);
    arcarun_curl_done(&curl);
out:
    arca_provided_upload_free(&u);
    return rc;
}
