/* Secret-free session YAML: an event-level copy through libyaml with secret scalars replaced. */
#include <string.h>

#include <yaml.h>

#include "policy/redact.h"
#include "base/err.h"
#include "policy/placeholder.h"

static const char *const secret_keys[] = {"value", "fspf_key", "one_time_password_shared_secret",
                                          "service_access_token", "application_secret"};

static bool is_secret_key(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT)
        return false;
    for (size_t i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++)
        if (ev->data.scalar.length == strlen(secret_keys[i]) &&
            memcmp(ev->data.scalar.value, secret_keys[i], ev->data.scalar.length) == 0)
            return true;
    return false;
}

/* A scalar that is exactly one well-formed placeholder names a secret without holding any:
 * anything around it (or a second one, or a malformed one) may be a literal secret. */
static bool is_placeholder(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT)
        return false;
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length, pos = 0;
    struct arca_placeholder p;
    return arca_placeholder_next(text, len, &pos, &p) == 1 && p.start == 0 && p.end == len;
}

static int emit_out(void *data, unsigned char *buffer, size_t size)
{
    return arca_buf_put((struct arca_buf *)data, buffer, size) == 0 ? 1 : 0;
}

/* Per open collection: is it a mapping, and is the next scalar a key. */
struct level {
    bool map;
    bool expect_key;
};

int arca_session_redact(const char *yaml, size_t n, struct arca_buf *out)
{
    ARCA_ENSURE_REF(yaml);
    ARCA_ENSURE_REF(out);
    yaml_parser_t parser;
    yaml_emitter_t emitter;
    struct arca_buf tmp;
    arca_buf_init(&tmp, out->max);
    if (!yaml_parser_initialize(&parser))
        ARCA_BAIL(ARCA_ERR_ALLOC, "yaml parser: out of memory");
    if (!yaml_emitter_initialize(&emitter)) {
        yaml_parser_delete(&parser);
        ARCA_BAIL(ARCA_ERR_ALLOC, "yaml emitter: out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, n);
    yaml_emitter_set_output(&emitter, emit_out, &tmp);
    yaml_emitter_set_unicode(&emitter, 1);
    yaml_emitter_set_width(&emitter, -1);

    struct level stack[64];
    int depth = 0;
    bool redact_next = false; /* the previous scalar was a secret key */
    int skip = 0;             /* > 0 while dropping a redacted collection value */
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = arca_err_set(ARCA_ERR_FORMAT, "session YAML line %zu column %zu: %s",
                              parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                              parser.problem ? parser.problem : "parse error");
            break;
        }
        yaml_event_type_t type = ev.type;
        bool value_position = depth > 0 && stack[depth - 1].map && !stack[depth - 1].expect_key;
        bool is_key = depth > 0 && stack[depth - 1].map && stack[depth - 1].expect_key &&
                      type == YAML_SCALAR_EVENT;

        if (skip > 0) {
            if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT)
                skip++;
            else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT)
                skip--;
            yaml_event_delete(&ev);
            if (skip == 0 && depth > 0)
                stack[depth - 1].expect_key = true;
            continue;
        }
        if (redact_next && value_position && !is_placeholder(&ev)) {
            redact_next = false;
            if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT)
                skip = 1;
            yaml_event_delete(&ev);
            yaml_event_t rep;
            yaml_scalar_event_initialize(&rep, NULL, NULL, (yaml_char_t *)ARCA_REDACTED,
                                         (int)strlen(ARCA_REDACTED), 1, 1,
                                         YAML_DOUBLE_QUOTED_SCALAR_STYLE);
            if (!yaml_emitter_emit(&emitter, &rep)) {
                rc = arca_err_set(ARCA_ERR_FORMAT, "session YAML: cannot re-emit");
                break;
            }
            if (skip == 0 && depth > 0)
                stack[depth - 1].expect_key = true;
            continue;
        }
        redact_next = false;
        if (is_key)
            redact_next = is_secret_key(&ev);

        /* Anchors and aliases are refused by the session loader; drop them here too. */
        if (type == YAML_ALIAS_EVENT) {
            yaml_event_delete(&ev);
            rc = arca_err_set(ARCA_ERR_FORMAT, "session YAML: aliases are not allowed");
            break;
        }
        /* Update the structure bookkeeping before the emitter takes the event. */
        if (type == YAML_SCALAR_EVENT) {
            if (depth > 0 && stack[depth - 1].map)
                stack[depth - 1].expect_key = !stack[depth - 1].expect_key;
        } else if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (depth >= 64) {
                yaml_event_delete(&ev);
                rc = arca_err_set(ARCA_ERR_FORMAT, "session YAML: nested deeper than 64");
                break;
            }
            stack[depth].map = type == YAML_MAPPING_START_EVENT;
            stack[depth].expect_key = true;
            depth++;
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            if (depth > 0)
                depth--;
            if (depth > 0 && stack[depth - 1].map)
                stack[depth - 1].expect_key = true;
        }
        if (!yaml_emitter_emit(&emitter, &ev)) {
            rc = arca_err_set(ARCA_ERR_FORMAT, "session YAML: cannot re-emit: %s",
                              emitter.problem ? emitter.problem : "?");
            break;
        }
        if (type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    yaml_emitter_delete(&emitter);
    if (rc == 0)
        rc = arca_buf_put(out, tmp.data, tmp.len);
    arca_buf_free(&tmp);
    return rc;
}
