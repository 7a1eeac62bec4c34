/*
 * arcad's configuration file: a flat YAML mapping of long flag names to values, read with
 * libyaml's event parser (no tree: the grammar is one mapping of scalars, so anything else is
 * refused at the event that starts it, with its line).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fs.h"
#include "config_file.h"

#define CONFIG_MAX_BYTES (64 * 1024)
#define CONFIG_MAX_KEY 64

int arcad_args_push(struct arcad_args *a, const char *s)
{
    char *copy = strdup(s);
    char **grown = copy != NULL ? realloc(a->argv, ((size_t)a->argc + 2) * sizeof(*a->argv)) : NULL;
    if (grown == NULL) {
        free(copy);
        return arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    }
    a->argv = grown;
    a->argv[a->argc++] = copy;
    a->argv[a->argc] = NULL;
    return 0;
}

void arcad_args_free(struct arcad_args *a)
{
    if (a == NULL)
        return;
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
    a->argv = NULL;
    a->argc = 0;
}

/* Drops the entries past keep (the caller's own), so a failed parse leaves out as it was. */
static void args_truncate(struct arcad_args *a, int keep)
{
    while (a->argc > keep) {
        free(a->argv[--a->argc]);
        a->argv[a->argc] = NULL;
    }
}

static const struct option *find_option(const struct option *opts, const char *key)
{
    for (const struct option *o = opts; o->name != NULL; o++)
        if (strcmp(o->name, key) == 0)
            return o;
    return NULL;
}

static bool is_refused(const char *const *refused, const char *key)
{
    for (size_t i = 0; refused != NULL && refused[i] != NULL; i++)
        if (strcmp(refused[i], key) == 0)
            return true;
    return false;
}

static bool seen_before(const struct arcad_args *seen, const char *key)
{
    for (int i = 0; i < seen->argc; i++)
        if (strcmp(seen->argv[i], key) == 0)
            return true;
    return false;
}

/* The parser's state between events: the key whose value comes next, and where it stood. */
struct cfg_parse {
    const char *name;
    const struct option *opts;
    const char *const *refused;
    struct arcad_args *out;
    int first;                    /* out->argc before this file */
    struct arcad_args seen;       /* the keys so far (a repeated key is refused) */
    char key[CONFIG_MAX_KEY + 1]; /* "" while a key is expected */
    const struct option *key_opt; /* its option */
};

static int on_key(struct cfg_parse *p, const yaml_event_t *ev)
{
    unsigned long line = (unsigned long)ev->start_mark.line + 1;
    const char *k = (const char *)ev->data.scalar.value;
    size_t klen = ev->data.scalar.length;
    ARCA_ENSURE(klen > 0 && klen <= CONFIG_MAX_KEY && memchr(k, 0, klen) == NULL, ARCA_ERR_FORMAT,
                "%s:%lu: a key must be an arcad flag name without its dashes", p->name, line);
    memcpy(p->key, k, klen);
    p->key[klen] = '\0';
    const struct option *o = find_option(p->opts, p->key);
    ARCA_ENSURE(o != NULL, ARCA_ERR_FORMAT,
                "%s:%lu: unknown key '%s' (keys are arcad's long flags, see arcad --help)", p->name,
                line, p->key);
    ARCA_ENSURE(!is_refused(p->refused, p->key), ARCA_ERR_FORMAT,
                "%s:%lu: '%s' cannot be set in the configuration file", p->name, line, p->key);
    ARCA_ENSURE(!seen_before(&p->seen, p->key), ARCA_ERR_FORMAT, "%s:%lu: key '%s' is given twice",
                p->name, line, p->key);
    p->key_opt = o;
    return arcad_args_push(&p->seen, p->key);
}

static int on_value(struct cfg_parse *p, const yaml_event_t *ev)
{
    unsigned long line = (unsigned long)ev->start_mark.line + 1;
    const char *v = (const char *)ev->data.scalar.value;
    size_t vlen = ev->data.scalar.length;
    ARCA_ENSURE(memchr(v, 0, vlen) == NULL, ARCA_ERR_FORMAT, "%s:%lu: '%s': NUL byte in value",
                p->name, line, p->key);
    char flag[CONFIG_MAX_KEY + 3];
    snprintf(flag, sizeof(flag), "--%s", p->key);
    if (p->key_opt->has_arg == no_argument) {
        bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && strcmp(v, "false") == 0)
            return 0; /* the default of every switch */
        ARCA_ENSURE(plain && strcmp(v, "true") == 0, ARCA_ERR_FORMAT,
                    "%s:%lu: '%s' is a switch: true or false", p->name, line, p->key);
        return arcad_args_push(p->out, flag);
    }
    ARCA_ENSURE(vlen > 0, ARCA_ERR_FORMAT, "%s:%lu: '%s' needs a value", p->name, line, p->key);
    ARCA_TRY(arcad_args_push(p->out, flag));
    return arcad_args_push(p->out, v);
}

static const char *event_what(yaml_event_type_t t)
{
    switch (t) {
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_ALIAS_EVENT:
        return "an alias";
    default:
        return "this";
    }
}

/* One event of the document body (after MAPPING-START of the top level, before its END). */
static int on_event(struct cfg_parse *p, const yaml_event_t *ev)
{
    unsigned long line = (unsigned long)ev->start_mark.line + 1;
    bool want_key = p->key[0] == '\0';
    if (ev->type != YAML_SCALAR_EVENT) {
        if (want_key)
            ARCA_BAIL(ARCA_ERR_FORMAT, "%s:%lu: %s cannot be a key", p->name, line,
                      event_what(ev->type));
        ARCA_BAIL(ARCA_ERR_FORMAT, "%s:%lu: '%s': %s is not allowed, give one value", p->name, line,
                  p->key, event_what(ev->type));
    }
    if (want_key)
        return on_key(p, ev);
    int rc = on_value(p, ev);
    p->key[0] = '\0';
    p->key_opt = NULL;
    return rc;
}

int arcad_config_parse(const char *name, const char *text, size_t n, const struct option *opts,
                       const char *const *refused, struct arcad_args *out)
{
    ARCA_ENSURE_REF(name);
    ARCA_ENSURE_REF(opts);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(text != NULL || n == 0, ARCA_ERR_INVALID_ARG, "config text is NULL");
    ARCA_ENSURE(n <= CONFIG_MAX_BYTES, ARCA_ERR_TOO_LARGE, "%s: larger than %d bytes", name,
                CONFIG_MAX_BYTES);
    ARCA_ENSURE(n == 0 || memchr(text, 0, n) == NULL, ARCA_ERR_FORMAT, "%s: NUL byte in the file",
                name);
    yaml_parser_t parser;
    ARCA_ENSURE(yaml_parser_initialize(&parser), ARCA_ERR_ALLOC, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)(n ? text : ""), n);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    struct cfg_parse p = {
        .name = name, .opts = opts, .refused = refused, .out = out, .first = out->argc};
    /* depth 0: before the document; 1: in the document, before its mapping; 2: in the mapping;
     * 3: after the mapping. */
    int depth = 0, rc = 0, docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = arca_err_set(ARCA_ERR_FORMAT, "%s:%lu: %s", name,
                              (unsigned long)parser.problem_mark.line + 1,
                              parser.problem != NULL ? parser.problem : "YAML syntax error");
            break;
        }
        unsigned long line = (unsigned long)ev.start_mark.line + 1;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT) {
            /* nothing */
        } else if (t == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1)
                rc = arca_err_set(ARCA_ERR_FORMAT, "%s:%lu: only one YAML document is allowed",
                                  name, line);
            depth = 1;
        } else if (t == YAML_DOCUMENT_END_EVENT) {
            depth = 0;
        } else if (depth == 1 && t == YAML_MAPPING_START_EVENT) {
            depth = 2;
        } else if (depth == 1 && t == YAML_SCALAR_EVENT && ev.data.scalar.length == 0) {
            depth = 3; /* an empty document (comments only) */
        } else if (depth == 1) {
            rc = arca_err_set(ARCA_ERR_FORMAT,
                              "%s:%lu: the file must be a mapping of arcad flag names to values",
                              name, line);
        } else if (depth == 2 && t == YAML_MAPPING_END_EVENT) {
            depth = 3;
        } else if (depth == 2) {
            rc = on_event(&p, &ev);
        } else {
            rc = arca_err_set(ARCA_ERR_FORMAT, "%s:%lu: unexpected content", name, line);
        }
        yaml_event_delete(&ev);
        if (rc < 0)
            break;
    }
    yaml_parser_delete(&parser);
    arcad_args_free(&p.seen);
    if (rc == 0 && depth == 2)
        rc = arca_err_set(ARCA_ERR_FORMAT, "%s: the mapping is not closed", name);
    if (rc < 0)
        args_truncate(out, p.first);
    return rc;
}

int arcad_config_file_args(const char *path, const struct option *opts, const char *const *refused,
                           struct arcad_args *out)
{
    ARCA_ENSURE_REF(path);
    struct arca_buf text;
    arca_buf_init(&text, CONFIG_MAX_BYTES);
    int rc = arca_file_read(path, CONFIG_MAX_BYTES, &text);
    if (rc == 0)
        rc = arcad_config_parse(path, (const char *)text.data, text.len, opts, refused, out);
    arca_buf_free(&text);
    return rc;
}
