/*
 * Session YAML as a human may see it (DESIGN §3: reads never contain secret values).
 */
#ifndef ARCA_POLICY_REDACT_H
#define ARCA_POLICY_REDACT_H

#include <stddef.h>

#include "base/buf.h"

#define ARCA_REDACTED "<redacted>"

/*
 * Re-emits the session YAML yaml[0..n) with the value of every mapping key that can hold a
 * secret replaced by "<redacted>": `value` (explicit secret values), `fspf_key` (volume and
 * file-system keys), `one_time_password_shared_secret`, `service_access_token`,
 * `application_secret` (a key vault credential), all alike. A value that is exactly one
 * well-formed placeholder ("$$SCONE::name$$") is kept since it names a secret without holding
 * it; anything else (text around a placeholder, two of them, a malformed one, a collection)
 * is redacted whole. Comments and
 * formatting are not preserved (the YAML is re-emitted from its events). Appends to out; out
 * is unchanged on failure (ARCA_ERR_FORMAT naming line and column of malformed YAML).
 */
int arca_session_redact(const char *yaml, size_t n, struct arca_buf *out);

#endif
