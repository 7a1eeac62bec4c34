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
    /* The format is a legacy suffix (".hex", ".crt", ".key", ".chain") split off the name:
     * `$$SCONE::db.hex$$` gives name "db", format ".hex". Secret names may themselves contain
     * '.', so arca_placeholder_expand falls back to the whole text as the name (format "") when
     * the renderer does not know the split name. */
    bool legacy_suffix;
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
 * Renders one secret for a placeholder: appends the value of secret `name` in format `format`
 * to out (a secret buffer). `format` is the format as written in the placeholder, NUL-terminated
 * ("" when none, ".hex" etc. for legacy suffixes): only the renderer knows the secret's kind, so
 * it canonicalises with arca_placeholder_format_check(). Returns 0, or a negative code
 * (ARCA_ERR_NOT_FOUND for an unknown name, ARCA_ERR_FORMAT for a format invalid for the kind).
 * The detail must never contain the value. secrets/secrets.h provides arca_secret_set_render.
 */
typedef int (*arca_placeholder_render_fn)(void *ctx, const char *name, size_t name_len,
                                          const char *format, struct arca_buf *out);

/* Longest format text accepted (e.g. "privatekey:pkcs8:pem" is 20). */
#define ARCA_PLACEHOLDER_FORMAT_MAX 64

/*
 * Appends p[0..n) to out with JSON string escaping and no surrounding quotes ('"', '\\' and
 * control characters escaped; \u00XX for those without a short form). ARCA_ERR_FORMAT if the
 * bytes are not valid UTF-8 (JSON cannot carry them: render with :base64 or :hex instead).
 * out unchanged on failure.
 */
int arca_placeholder_json_escape(const void *p, size_t n, struct arca_buf *out);

/*
 * Expands every placeholder of text into out (a secret buffer), applying |escape(json) after
 * rendering. If binary_ok is false, a rendered value containing a NUL byte is refused (argv and
 * environment cannot carry it). Leaves out unchanged on failure. Errors name the placeholder's
 * offset and secret name, never a value. Text without placeholders is copied as is.
 */
int arca_placeholder_expand(const char *text, size_t len, arca_placeholder_render_fn render,
                            void *ctx, bool binary_ok, struct arca_buf *out);

/*
 * Tells the kind of secret `name` for arca_placeholder_check, or ARCA_SECRET_NONE if the session
 * has no such secret.
 */
typedef enum arca_secret_kind (*arca_placeholder_kind_fn)(void *ctx, const char *name,
                                                          size_t name_len);

/*
 * Validates every placeholder of text without rendering anything (for session validation):
 * well-formed, naming a known secret, with a format valid for that secret's kind (legacy
 * suffixes fall back to a dotted name as in expansion). Returns 0 and the number of placeholders
 * in *count (may be NULL), or the first error: ARCA_ERR_FORMAT / ARCA_ERR_UNSUPPORTED, or
 * ARCA_ERR_NOT_FOUND for an unknown secret, with the offset and the name in the detail.
 */
int arca_placeholder_check(const char *text, size_t len, arca_placeholder_kind_fn kind_of,
                           void *ctx, size_t *count);

/*
 * Looks a secret up for arca_placeholder_check_each: returns true if the session has a secret
 * `name` and sets *kind to its kind, which may be ARCA_SECRET_NONE for a secret whose kind is not
 * known yet (imported without a kind: its formats are checked when the value arrives).
 */
typedef bool (*arca_placeholder_lookup_fn)(void *ctx, const char *name, size_t name_len,
                                           enum arca_secret_kind *kind);

/* One problem found by arca_placeholder_check_each; every pointer is borrowed for the call. */
struct arca_placeholder_problem {
    int rc; /* ARCA_ERR_FORMAT (malformed, or format invalid for the kind), ARCA_ERR_NOT_FOUND
                      (no such secret), ARCA_ERR_UNSUPPORTED (kind without formats) */
    size_t offset;    /* offset of the placeholder in the text */
    const char *name; /* the secret name (the split one when neither it nor the dotted one
                         exists); NULL for a malformed placeholder */
    size_t name_len;
    enum arca_secret_kind kind; /* the secret's kind (format problems only) */
    const char *detail;         /* what is wrong, without offset or name; never a value */
};

typedef void (*arca_placeholder_problem_fn)(void *ctx, const struct arca_placeholder_problem *p);

/*
 * The validator behind arca_placeholder_check, reporting every problem instead of the first:
 * calls problem(ctx, ...) for each (a malformed placeholder ends the scan, since the rest of the
 * text cannot be split reliably). A dotted secret name (`db.crt`) resolves as in expansion.
 * Returns 0 when there was no problem, else the code of the first one; *count (may be NULL)
 * gets the number of placeholders seen. With problem NULL it stops at the first problem, whose
 * detail (offset and name included) is left in arca_err_detail().
 */
int arca_placeholder_check_each(const char *text, size_t len, arca_placeholder_lookup_fn lookup,
                                arca_placeholder_problem_fn problem, void *ctx, size_t *count);

#endif
