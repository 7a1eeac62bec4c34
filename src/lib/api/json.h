/*
 * jansson as the wire protocol uses it (client API and enclave API, server and clients):
 * strict parsing of JSON that came over the network, the error body every API answers with,
 * and the process-wide wiping allocator (JSON on the wire carries policy text, tokens and
 * configuration with secret values).
 */
#ifndef ARCA_API_JSON_H
#define ARCA_API_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"

/* The error body of every API answer that is not 2xx: {"msg": ["...", ...]}. */
#define ARCA_API_KEY_MSG "msg"
/* The error body used when even encoding an error failed (no allocation needed). */
#define ARCA_API_ERROR_OOM "{\"msg\":[\"out of memory\"]}"

/*
 * Makes jansson wipe every block it frees (values, keys, dumped text) before giving it back to
 * the C library. Process-wide and not thread-safe: each program calls it once at start, before
 * it starts threads or allocates JSON (arcad, arca, arca-run). Blocks jansson allocated before
 * the call are freed correctly too (same malloc underneath).
 */
void arca_json_wipe_on_free(void);

/*
 * Parses n bytes of untrusted JSON that must be an object into *out (json_decref). Duplicate
 * keys are refused (JSON_REJECT_DUPLICATES). Errors are ARCA_ERR_FORMAT with the detail
 * "WHAT: empty, expected a JSON object", "WHAT: invalid JSON at line L column C" (only the
 * position: jansson's own text quotes the input, which may be a secret) or "WHAT: expected a
 * JSON object". *out is untouched on failure.
 */
int arca_json_parse_object(const void *p, size_t n, const char *what, json_t **out);

/*
 * Serialises j compactly (and deterministically with sorted keys when sorted) into out, which
 * the caller initialised (a secret buffer if j may hold secrets). Replaces out's contents;
 * ARCA_ERR_ALLOC on failure. The intermediate text is wiped.
 */
int arca_json_dump(const json_t *j, bool sorted, struct arca_buf *out);

/* A new error body {"msg": [msgs[0], ...]} (json_decref), NULL only when out of memory. */
json_t *arca_api_error_new(const char *const *msgs, size_t n);
/*
 * The messages of an error body j joined with "; " into out (appended; nothing when j is not
 * an error body). Returns the number of messages found.
 */
size_t arca_api_error_join(const json_t *j, struct arca_buf *out);

/* The arca error code of an HTTP refusal status from an arca server (400 FORMAT, 401, 403
 * DENIED, 404, 409 CONFLICT, 413; anything else, 429 too, NETWORK: worth retrying), for
 * clients. */
int arca_api_status_err(long status);

/* True if s can go between JSON quotes as it is (no control characters, '"' or '\\'): the
 * encoders that write names from our own configuration refuse anything else. */
bool arca_json_plain_text(const char *s);

#endif
