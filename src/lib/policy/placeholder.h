/*
 * The placeholder engine: $$SCONE::name[:format[:subformat...]][|escape(json)]$$ and the legacy
 * suffix forms (name.hex, name.crt, name.key, name.chain) from the session language reference.
 *
 * Placeholders are scanned in command strings, environment values, injection-file contents and
 * (0.3.10) security fields. Nested placeholders and unterminated ones are errors.
 */
#ifndef ARCA_POLICY_PLACEHOLDER_H
#define ARCA_POLICY_PLACEHOLDER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "policy/kinds.h"

struct arca_placeholder {
    size_t start;     /* offset of the opening "$$" */
    size_t end;       /* offset just past the closing "$$" */
    const char *name; /* secret name, borrowed from the text, not NUL-terminated */
    size_t name_len;
    const char *format; /* the text after the first ':' up to '|' (or "" if none) */
    size_t format_len;
    bool escape_json; /* "|escape(json)" given */
};

/*
 * Finds the next placeholder at or after *pos in text[0..len). Returns 1 and fills *out
 * (advancing *pos past it), 0 when there is none left, or ARCA_ERR_FORMAT for a malformed one
 * (unterminated, nested, empty name, unknown "|encoding") with the offset in the detail.
 * Text that merely contains "$$" without "SCONE::" is not a placeholder.
 */
int arca_placeholder_next(const char *text, size_t len, size_t *pos, struct arca_placeholder *out);

/*
 * Normalises the format for a kind, mapping defaults and legacy suffixes (e.g. binary "" -> "bin",
 * private-key "" -> "pkcs8:pem", x509 "" -> "crt:pem", ".hex" -> "hex"). Writes a static
 * canonical format name to *canonical. ARCA_ERR_FORMAT if the format is not valid for the kind,
 * with the list of valid formats in the detail.
 */
int arca_placeholder_format_check(enum arca_secret_kind kind, const char *format, size_t len,
                                  const char **canonical);

/*
 * Renders one secret for a placeholder: appends the value of secret `name` in canonical format
 * `format` to out (a secret buffer). Returns 0, or a negative code (e.g. ARCA_ERR_NOT_FOUND).
 */
typedef int (*arca_placeholder_render_fn)(void *ctx, const char *name, size_t name_len,
                                          const char *format, struct arca_buf *out);

/*
 * Expands every placeholder of text into out (a secret buffer), applying |escape(json) after
 * rendering. If binary_ok is false, a rendered value containing a NUL byte is refused (argv and
 * environment cannot carry it). Leaves out unchanged on failure.
 */
int arca_placeholder_expand(const char *text, size_t len, arca_placeholder_render_fn render,
                            void *ctx, bool binary_ok, struct arca_buf *out);

#endif
