/*
 * Strict YAML to tree conversion on libyaml's event API. The tree is the only thing the typed
 * loader sees, so everything YAML allows but the session language must not (anchors, aliases,
 * tags, duplicate keys, several documents) is refused here, with limits on depth and size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/err.h"
#include "policy/session_internal.h"

struct builder {
    yaml_parser_t parser;
    const char *file;
    struct arca_diag *diag;
    size_t nodes;
};

static struct arca_pos mark_pos(yaml_mark_t m)
{
    struct arca_pos p = {(uint32_t)m.line + 1, (uint32_t)m.column + 1};
    return p;
}

void arca_ynode_clear(struct arca_ynode *n)
{
    if (n == NULL)
        return;
    if (n->text != NULL)
        arca_wipe_free(n->text, n->len);
    for (size_t i = 0; i < n->n_items; i++)
        arca_ynode_clear(&n->items[i]);
    free(n->items);
    memset(n, 0, sizeof(*n));
}

void arca_ynode_free(struct arca_ynode *n)
{
    arca_ynode_clear(n);
    free(n);
}

int arca_ynode_copy(struct arca_ynode *dst, const struct arca_ynode *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->type = src->type;
    dst->pos = src->pos;
    dst->plain = src->plain;
    if (src->text != NULL) {
        dst->text = malloc(src->len + 1);
        if (dst->text == NULL)
            return ARCA_ERR_ALLOC;
        memcpy(dst->text, src->text, src->len + 1);
        dst->len = src->len;
    }
    if (src->n_items > 0) {
        dst->items = calloc(src->n_items, sizeof(*dst->items));
        if (dst->items == NULL) {
            arca_ynode_clear(dst);
            return ARCA_ERR_ALLOC;
        }
        for (size_t i = 0; i < src->n_items; i++) {
            dst->n_items = i + 1;
            if (arca_ynode_copy(&dst->items[i], &src->items[i]) < 0) {
                arca_ynode_clear(dst);
                return ARCA_ERR_ALLOC;
            }
        }
    }
    return 0;
}

const struct arca_ynode *arca_ynode_get(const struct arca_ynode *n, const char *key)
{
    if (n == NULL || n->type != ARCA_YNODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < n->n_items; i += 2)
        if (strcmp(n->items[i].text, key) == 0)
            return &n->items[i + 1];
    return NULL;
}

bool arca_ynode_is_null(const struct arca_ynode *n)
{
    if (n == NULL || n->type != ARCA_YNODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static int fail(struct builder *b, struct arca_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct builder *b, struct arca_pos pos, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    arca_diag_add(b->diag, b->file, pos, NULL, "%s", msg);
    return ARCA_ERR_FORMAT;
}

static int fail_unsupported(struct builder *b, struct arca_pos pos, const char *what)
{
    arca_diag_add(b->diag, b->file, pos, NULL, "%s is not supported by arca", what);
    return ARCA_ERR_UNSUPPORTED;
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) {
        struct arca_pos pos = mark_pos(b->parser.problem_mark);
        const char *problem = b->parser.problem ? b->parser.problem : "malformed YAML";
        if (b->parser.error == YAML_MEMORY_ERROR)
            return ARCA_ERR_ALLOC;
        if (b->parser.context != NULL) {
            arca_diag_add(b->diag, b->file, pos, NULL, "YAML syntax error: %s %s", problem,
                          b->parser.context);
        } else {
            arca_diag_add(b->diag, b->file, pos, NULL, "YAML syntax error: %s", problem);
        }
        return ARCA_ERR_FORMAT;
    }
    return 0;
}

/* Refuses anchors and tags on a node event (aliases are their own event). */
static int check_props(struct builder *b, struct arca_pos pos, const yaml_char_t *anchor,
                       const yaml_char_t *tag, bool *is_cas)
{
    *is_cas = false;
    if (anchor != NULL)
        return fail(b, pos, "YAML anchors ('&%s') are not allowed in a session",
                    (const char *)anchor);
    if (tag != NULL) {
        if (strcmp((const char *)tag, "!akv") == 0)
            return fail_unsupported(b, pos, "the '!akv' secret store (Azure Key Vault)");
        if (strcmp((const char *)tag, "!cas") == 0) {
            *is_cas = true;
            return 0;
        }
        return fail(b, pos, "YAML tags ('%s') are not allowed in a session", (const char *)tag);
    }
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct arca_ynode *x = *(const struct arca_ynode *const *)a;
    const struct arca_ynode *y = *(const struct arca_ynode *const *)b;
    int c = strcmp(x->text, y->text);
    if (c != 0)
        return c;
    /* Equal keys: order by position so the second occurrence is reported. */
    if (x->pos.line != y->pos.line)
        return x->pos.line < y->pos.line ? -1 : 1;
    return x->pos.col < y->pos.col ? -1 : (x->pos.col > y->pos.col);
}

static int check_duplicates(struct builder *b, struct arca_ynode *map)
{
    size_t nk = map->n_items / 2;
    if (nk < 2)
        return 0;
    struct arca_ynode **keys = malloc(nk * sizeof(*keys));
    if (keys == NULL)
        return ARCA_ERR_ALLOC;
    for (size_t i = 0; i < nk; i++)
        keys[i] = &map->items[2 * i];
    qsort(keys, nk, sizeof(*keys), key_cmp);
    int rc = 0;
    for (size_t i = 1; i < nk; i++) {
        if (strcmp(keys[i - 1]->text, keys[i]->text) == 0) {
            rc = fail(b, keys[i]->pos, "duplicate key '%s'", keys[i]->text);
            break;
        }
    }
    free(keys);
    return rc;
}

static int push_item(struct arca_ynode *parent, size_t *cap, struct arca_ynode **slot)
{
    if (parent->n_items == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct arca_ynode *ni = realloc(parent->items, ncap * sizeof(*ni));
        if (ni == NULL)
            return ARCA_ERR_ALLOC;
        parent->items = ni;
        *cap = ncap;
    }
    *slot = &parent->items[parent->n_items++];
    memset(*slot, 0, sizeof(**slot));
    return 0;
}

/* Builds the node whose start event is ev (consumed by the caller's ownership). */
static int build(struct builder *b, yaml_event_t *ev, struct arca_ynode *n, int depth)
{
    struct arca_pos pos = mark_pos(ev->start_mark);
    bool is_cas = false;
    if (++b->nodes > ARCA_SESSION_MAX_NODES)
        return fail(b, pos, "%s", "the session has too many YAML nodes");
    n->pos = pos;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return fail(b, pos, "YAML aliases ('*%s') are not allowed in a session",
                    (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT: {
        int rc = check_props(b, pos, ev->data.scalar.anchor, ev->data.scalar.tag, &is_cas);
        if (rc < 0)
            return rc;
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (is_cas) {
            if (len != 0)
                return fail(b, pos, "%s", "the '!cas' tag takes no value");
            v = "!cas";
            len = 4;
        } else if (memchr(v, 0, len) != NULL) {
            return fail(b, pos, "%s", "NUL bytes are not allowed in a session");
        }
        n->type = ARCA_YNODE_SCALAR;
        n->text = malloc(len + 1);
        if (n->text == NULL)
            return ARCA_ERR_ALLOC;
        memcpy(n->text, v, len);
        n->text[len] = 0;
        n->len = len;
        n->plain = !is_cas && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return 0;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool is_map = ev->type == YAML_MAPPING_START_EVENT;
        int rc = is_map ? check_props(b, pos, ev->data.mapping_start.anchor,
                                      ev->data.mapping_start.tag, &is_cas)
                        : check_props(b, pos, ev->data.sequence_start.anchor,
                                      ev->data.sequence_start.tag, &is_cas);
        if (rc < 0)
            return rc;
        if (is_cas)
            return fail(b, pos, "%s", "the '!cas' tag takes no value");
        if (depth >= ARCA_SESSION_MAX_DEPTH)
            return fail(b, pos, "%s", "the YAML is nested too deeply");
        n->type = is_map ? ARCA_YNODE_MAP : ARCA_YNODE_SEQ;
        size_t cap = 0;
        for (;;) {
            yaml_event_t child;
            rc = next_event(b, &child);
            if (rc < 0)
                return rc;
            if (child.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
                yaml_event_delete(&child);
                break;
            }
            struct arca_ynode *slot;
            rc = push_item(n, &cap, &slot);
            if (rc == 0) {
                if (is_map && (n->n_items % 2) == 1 && child.type != YAML_SCALAR_EVENT &&
                    child.type != YAML_ALIAS_EVENT)
                    rc = fail(b, mark_pos(child.start_mark), "%s",
                              "mapping keys must be plain strings");
                else
                    rc = build(b, &child, slot, depth + 1);
            }
            yaml_event_delete(&child);
            if (rc < 0)
                return rc;
        }
        if (is_map)
            return check_duplicates(b, n);
        return 0;
    }
    default:
        return fail(b, pos, "%s", "unexpected YAML structure");
    }
}

int arca_ytree_parse(const char *yaml, size_t len, const char *file, struct arca_ynode **out,
                     struct arca_diag *diag)
{
    *out = NULL;
    struct builder b = {.file = file, .diag = diag};
    struct arca_pos start = {1, 1};
    if (len > ARCA_SESSION_MAX_BYTES) {
        arca_diag_add(diag, file, start, NULL, "the session is larger than %zu bytes",
                      ARCA_SESSION_MAX_BYTES);
        return ARCA_ERR_TOO_LARGE;
    }
    if (memchr(yaml, 0, len) != NULL) {
        arca_diag_add(diag, file, start, NULL, "NUL bytes are not allowed in a session");
        return ARCA_ERR_FORMAT;
    }
    if (!yaml_parser_initialize(&b.parser))
        return ARCA_ERR_ALLOC;
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)yaml, len);
    yaml_parser_set_encoding(&b.parser, YAML_UTF8_ENCODING);

    struct arca_ynode *root = NULL;
    int rc = 0;
    bool seen_doc = false;
    for (;;) {
        yaml_event_t ev;
        rc = next_event(&b, &ev);
        if (rc < 0)
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (seen_doc)
                rc = fail(&b, mark_pos(ev.start_mark), "%s",
                          "a session file holds exactly one YAML document");
            seen_doc = true;
        } else if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
                   t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            root = calloc(1, sizeof(*root));
            if (root == NULL)
                rc = ARCA_ERR_ALLOC;
            else
                rc = build(&b, &ev, root, 0);
        }
        yaml_event_delete(&ev);
        if (rc < 0)
            break;
    }
    yaml_parser_delete(&b.parser);
    if (rc == 0 && root == NULL) {
        arca_diag_add(diag, file, start, NULL, "the session is empty");
        rc = ARCA_ERR_FORMAT;
    }
    if (rc < 0) {
        arca_ynode_free(root);
        return rc;
    }
    *out = root;
    return 0;
}

/* Canonical tree encoding: 'S' lv(text) | 'L' u32 n items | 'M' u32 n (lv(key) value)* with
 * keys sorted bytewise. Quoting does not matter: a scalar is its text. */
static int enc_cmp(const void *a, const void *b)
{
    const struct arca_ynode *x = *(const struct arca_ynode *const *)a;
    const struct arca_ynode *y = *(const struct arca_ynode *const *)b;
    return strcmp(x->text, y->text);
}

int arca_ynode_encode(const struct arca_ynode *n, struct arca_buf *out)
{
    switch (n->type) {
    case ARCA_YNODE_SCALAR:
        ARCA_TRY(arca_buf_put_u8(out, 'S'));
        return arca_buf_put_lv(out, n->text, n->len);
    case ARCA_YNODE_SEQ:
        ARCA_TRY(arca_buf_put_u8(out, 'L'));
        ARCA_TRY(arca_buf_put_u32be(out, (uint32_t)n->n_items));
        for (size_t i = 0; i < n->n_items; i++)
            ARCA_TRY(arca_ynode_encode(&n->items[i], out));
        return 0;
    case ARCA_YNODE_MAP: {
        size_t nk = n->n_items / 2;
        ARCA_TRY(arca_buf_put_u8(out, 'M'));
        ARCA_TRY(arca_buf_put_u32be(out, (uint32_t)nk));
        if (nk == 0)
            return 0;
        const struct arca_ynode **keys = malloc(nk * sizeof(*keys));
        if (keys == NULL)
            return ARCA_ERR_ALLOC;
        for (size_t i = 0; i < nk; i++)
            keys[i] = &n->items[2 * i];
        qsort(keys, nk, sizeof(*keys), enc_cmp);
        int rc = 0;
        for (size_t i = 0; i < nk && rc == 0; i++) {
            rc = arca_buf_put_lv(out, keys[i]->text, keys[i]->len);
            if (rc == 0)
                rc = arca_ynode_encode(keys[i] + 1, out);
        }
        free(keys);
        return rc;
    }
    }
    return ARCA_ERR_INTERNAL;
}

/* A JSON string of t[0..len) (control characters as \u00XX; bytes >= 0x80 kept as UTF-8). */
static int json_string(struct arca_buf *out, const char *t, size_t len)
{
    ARCA_TRY(arca_buf_put(out, "\"", 1));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            ARCA_TRY(arca_buf_put(out, esc, 2));
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            ARCA_TRY(arca_buf_put(out, esc, 6));
        } else {
            ARCA_TRY(arca_buf_put(out, &t[i], 1));
        }
    }
    return arca_buf_put(out, "\"", 1);
}

int arca_ynode_to_json(const struct arca_ynode *n, struct arca_buf *out)
{
    ARCA_ENSURE_REF(n);
    ARCA_ENSURE_REF(out);
    switch (n->type) {
    case ARCA_YNODE_SCALAR:
        if (arca_ynode_is_null(n))
            return arca_buf_put(out, "null", 4);
        return json_string(out, n->text, n->len);
    case ARCA_YNODE_SEQ:
        ARCA_TRY(arca_buf_put(out, "[", 1));
        for (size_t i = 0; i < n->n_items; i++) {
            if (i > 0)
                ARCA_TRY(arca_buf_put(out, ", ", 2));
            ARCA_TRY(arca_ynode_to_json(&n->items[i], out));
        }
        return arca_buf_put(out, "]", 1);
    case ARCA_YNODE_MAP:
        ARCA_TRY(arca_buf_put(out, "{", 1));
        for (size_t i = 0; i + 1 < n->n_items; i += 2) {
            if (i > 0)
                ARCA_TRY(arca_buf_put(out, ", ", 2));
            ARCA_TRY(json_string(out, n->items[i].text, n->items[i].len));
            ARCA_TRY(arca_buf_put(out, ": ", 2)); /* libyaml wants the space after ':' */
            ARCA_TRY(arca_ynode_to_json(&n->items[i + 1], out));
        }
        return arca_buf_put(out, "}", 1);
    }
    return arca_err_set(ARCA_ERR_FORMAT, "config fragment: unknown node type");
}
