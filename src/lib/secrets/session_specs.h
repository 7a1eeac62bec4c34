/*
 * Bridge from the session model (policy/session.h) to the secret engine: turns a session's
 * secret definitions into struct arca_secret_spec, and generates a session's values in one call.
 */
#ifndef ARCA_SECRETS_SESSION_SPECS_H
#define ARCA_SECRETS_SESSION_SPECS_H

#include <stddef.h>
#include <stdint.h>

#include "policy/session.h"
#include "secrets/secrets.h"

/*
 * Fills *out with a malloc'ed array of *count specs, one per secret of s (config fragments
 * included; arca_secrets_generate skips them). Strings are borrowed from s and stay valid as
 * long as s does; free the array with arca_secret_specs_free(). Imported secrets and those with
 * provided_by are marked external. An empty session gives *out NULL and *count 0.
 */
int arca_secret_specs_from_session(const struct arca_session *s, struct arca_secret_spec **out,
                                   size_t *count);
/* Frees what arca_secret_specs_from_session made (not the borrowed strings). NULL is fine. */
void arca_secret_specs_free(struct arca_secret_spec *specs, size_t count);

/*
 * arca_secrets_generate over the definitions of s: set holds the imported / provided values
 * the caller resolved; old is the predecessor's set (NULL on create). set unchanged on failure.
 */
int arca_secrets_generate_for_session(const struct arca_session *s,
                                      const struct arca_secret_set *old, int64_t now,
                                      struct arca_secret_set *set);

#endif
