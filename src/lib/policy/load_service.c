/*
 * Session loader: services (command, environment, pwd, fspf fields, attestation, platforms,
 * one-time password). The attestation variants themselves are in load_attest.c.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/path.h"
#include "policy/load_internal.h"

/* Shell-like split: whitespace separates, quotes group, backslash escapes. */
static void split_command(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    const char *t = n->text;
    size_t cap = 0;
    char *word = malloc(n->len + 1);
    if (word == NULL) {
        L->oom = true;
        return;
    }
    size_t i = 0;
    for (;;) {
        while (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')
            i++;
        if (t[i] == 0)
            break;
        size_t w = 0;
        char quote = 0;
        while (t[i] != 0) {
            char c = t[i];
            if (quote == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
                break;
            i++;
            if (quote == 0 && (c == '\'' || c == '"')) {
                quote = c;
            } else if (quote != 0 && c == quote) {
                quote = 0;
            } else if (c == '\\' && quote != '\'' && t[i] != 0) {
                word[w++] = t[i++];
            } else {
                word[w++] = c;
            }
        }
        if (quote != 0) {
            ld_err(L, n->pos, "command has an unterminated %s quote",
                   quote == '\'' ? "single" : "double");
            break;
        }
        if (svc->argc == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct arca_str *nv = realloc(svc->argv, ncap * sizeof(*nv));
            if (nv == NULL) {
                L->oom = true;
                break;
            }
            svc->argv = nv;
            cap = ncap;
        }
        memset(&svc->argv[svc->argc], 0, sizeof(svc->argv[0]));
        if (!ld_set_str(L, &svc->argv[svc->argc], word, w, n->pos))
            break;
        svc->argc++;
    }
    free(word);
    if (svc->argc == 0 && L->errors == 0)
        ld_err(L, n->pos, "command is empty");
}

static void parse_command(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    if (n->type == ARCA_YNODE_SCALAR) {
        if (!ld_get_str(L, n, &svc->command, false))
            return;
        split_command(L, n, svc);
        return;
    }
    svc->argv = ld_seq_alloc(L, n, "a string or a list of strings", "command is an empty list",
                             sizeof(*svc->argv));
    if (svc->argv == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++)
        LD_AT_INDEX(L, i, ld_get_str(L, &n->items[i], &svc->argv[i], true));
    svc->argc = n->n_items;
}

static void check_host_args(struct ld *L, const struct arca_service *svc, struct arca_pos pos)
{
    /* "@@N": argument N of the host argv; a position may be used once */
    uint64_t seen[4] = {0};
    for (size_t i = 0; i < svc->argc; i++) {
        const char *a = svc->argv[i].s;
        if (a == NULL || strncmp(a, "@@", 2) != 0)
            continue;
        const char *d = a + 2;
        unsigned long v = 0;
        bool ok = *d != 0;
        for (; *d && ok; d++) {
            ok = *d >= '0' && *d <= '9';
            v = v * 10 + (unsigned long)(*d - '0');
            if (v > 255)
                ok = false;
        }
        if (!ok) {
            ld_err(L, pos, "argument %zu: '%.20s' is not @@N with N in 0..255", i, a);
            continue;
        }
        if (seen[v / 64] & (1ull << (v % 64)))
            ld_err(L, pos, "argument %zu: host argument @@%lu is used twice", i, v);
        seen[v / 64] |= 1ull << (v % 64);
    }
}

/* One variable k: v of environment into e ("\\@\\@NAME": the host's value). */
static void env_item(struct ld *L, const struct arca_ynode *k, const struct arca_ynode *v,
                     struct arca_env *e)
{
    const char *name = k->text;
    size_t nlen = k->len;
    if (strncmp(name, "\\@\\@", 4) == 0) {
        e->from_host = true;
        name += 4;
        nlen -= 4;
    }
    if (nlen == 0)
        ld_err(L, k->pos, "environment variable name is empty");
    else if (memchr(name, '=', nlen) != NULL)
        ld_err(L, k->pos, "environment variable name must not contain '='");
    ld_set_str(L, &e->name, name, nlen, k->pos);
    if (e->from_host) {
        /* the written value is ignored: the host's value (or "") is used */
        ld_set_str(L, &e->value, "", 0, v->pos);
    } else {
        ld_get_str(L, v, &e->value, true);
    }
}

static void parse_env(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    if (!ld_expect(L, n, ARCA_YNODE_MAP, "a mapping of variable names to values"))
        return;
    size_t cnt = n->n_items / 2;
    if (cnt == 0)
        return;
    svc->env = calloc(cnt, sizeof(*svc->env));
    if (svc->env == NULL) {
        L->oom = true;
        return;
    }
    for (size_t i = 0; i < cnt; i++) {
        const struct arca_ynode *k = &n->items[2 * i];
        const struct arca_ynode *v = &n->items[2 * i + 1];
        struct arca_env *e = &svc->env[svc->n_env++];
        LD_AT_KEY(L, k->text, env_item(L, k, v, e));
    }
    for (size_t i = 0; i < svc->n_env; i++)
        for (size_t j = 0; j < i; j++)
            if (svc->env[i].name.s && svc->env[j].name.s &&
                strcmp(svc->env[i].name.s, svc->env[j].name.s) == 0)
                LD_AT_KEY(L, svc->env[i].name.s,
                          ld_err(L, svc->env[i].name.pos,
                                 "environment variable '%s' is defined twice", svc->env[i].name.s));
}

static void command_field(struct ld *L, const struct arca_ynode *x, struct arca_service *svc)
{
    parse_command(L, x, svc);
    check_host_args(L, svc, x->pos);
}

/* The deprecated `mrenclaves: [...]`: one SGX variant with those digests. */
static void mrenclaves_field(struct ld *L, const struct arca_ynode *mre, struct arca_service *svc)
{
    svc->mrenclaves_deprecated = true;
    svc->variants = calloc(1, sizeof(*svc->variants));
    if (svc->variants == NULL) {
        L->oom = true;
        return;
    }
    svc->variants[0].pos = mre->pos;
    ld_parse_digest_list(L, mre, "mrenclave", &svc->variants[0].mrenclave,
                         &svc->variants[0].n_mrenclave);
    svc->n_variants = svc->variants[0].n_mrenclave > 0;
}

/*
 * persistency: the established CAS writes `persistency: None` into every service it reads back
 * and documents no other value. `None` means what an absent key means (nothing is kept for the
 * service beyond its fspf and volumes), so it is accepted and not stored; anything else is
 * refused rather than guessed at.
 */
static void persistency_field(struct ld *L, const struct arca_ynode *x)
{
    if (ld_expect(L, x, ARCA_YNODE_SCALAR, "None") && strcmp(x->text, "None") != 0)
        ld_err(L, x->pos, "persistency '%.40s' is not known (only None, as read back, is)",
               x->text);
}

void ld_parse_service(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    static const char *const keys[] = {"name",
                                       "command",
                                       "environment",
                                       "pwd",
                                       "image_name",
                                       "fspf_path",
                                       "fspf_key",
                                       "fspf_tag",
                                       "fspf_update_policy",
                                       "attestation",
                                       "mrenclaves",
                                       "platforms",
                                       "one_time_password_shared_secret",
                                       "persistency",
                                       NULL};
    svc->pos = n->pos;
    if (!ld_check_keys(L, n, "a service", keys, NULL))
        return;
    ld_field_str(L, n, "name", &svc->name, true);
    ld_check_name(L, "name", &svc->name, false);
    const struct arca_ynode *x;
    if ((x = arca_ynode_get(n, "command")) != NULL)
        LD_AT_KEY(L, "command", command_field(L, x, svc));
    if ((x = arca_ynode_get(n, "environment")) != NULL)
        LD_AT_KEY(L, "environment", parse_env(L, x, svc));
    ld_field_str(L, n, "pwd", &svc->pwd, false);
    if (svc->pwd.s != NULL && svc->pwd.s[0] != '/')
        LD_AT_KEY(L, "pwd", ld_err(L, svc->pwd.pos, "pwd must be an absolute path"));
    else if (svc->pwd.s != NULL && arca_path_check(svc->pwd.s, strlen(svc->pwd.s)) < 0)
        LD_AT_KEY(L, "pwd", ld_err(L, svc->pwd.pos, "pwd: %s", arca_err_detail()));
    ld_field_str(L, n, "image_name", &svc->image_name, false);
    if ((x = arca_ynode_get(n, "persistency")) != NULL)
        LD_AT_KEY(L, "persistency", persistency_field(L, x));
    ld_field_str(L, n, "fspf_path", &svc->fspf_path, false);
    ld_parse_key32(L, n, "fspf_key", &svc->fspf_key);
    ld_field_hex(L, n, "fspf_tag", svc->fspf_tag, 16, &svc->has_fspf_tag, false);
    if ((x = arca_ynode_get(n, "fspf_update_policy")) != NULL)
        LD_AT_KEY(L, "fspf_update_policy", svc->fspf_update_policy = ld_parse_policy(L, x, true));
    const struct arca_ynode *fk = arca_ynode_get(n, "fspf_key");
    const struct arca_ynode *ft = arca_ynode_get(n, "fspf_tag");
    const struct arca_ynode *fp = arca_ynode_get(n, "fspf_path");
    if ((fk != NULL || ft != NULL) && fp == NULL)
        ld_err(L, (fk ? fk : ft)->pos, "fspf_key and fspf_tag need fspf_path");
    if (fp != NULL && fk == NULL)
        ld_err(L, fp->pos, "fspf_path needs fspf_key");
    if (fk != NULL && ft == NULL && svc->fspf_update_policy != ARCA_FSPF_NO_ROLLBACK_PROTECTION)
        ld_err(L, fk->pos,
               "fspf_tag is required unless fspf_update_policy is no_rollback_protection");
    const struct arca_ynode *att = arca_ynode_get(n, "attestation");
    const struct arca_ynode *mre = arca_ynode_get(n, "mrenclaves");
    if (att != NULL && mre != NULL)
        ld_err(L, mre->pos, "'mrenclaves' (deprecated) and 'attestation' are mutually exclusive");
    if (att != NULL)
        LD_AT_KEY(L, "attestation", ld_parse_attestation(L, att, svc));
    else if (mre != NULL)
        LD_AT_KEY(L, "mrenclaves", mrenclaves_field(L, mre, svc));
    if ((x = arca_ynode_get(n, "platforms")) != NULL)
        LD_AT_KEY(L, "platforms",
                  ld_parse_platform_list(L, x, "platform key", &svc->platforms, &svc->n_platforms));
    ld_parse_otp(L, n, &svc->otp_secret);
}
