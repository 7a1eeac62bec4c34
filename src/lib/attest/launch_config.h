/*
 * The configuration delivered to an attested service (DESIGN §4, docs/internals/attest.md):
 * built from the session's service and the launcher's host description, then encoded on the
 * wire by arca_launch_config_encode (api/attest_wire.h).
 */
#ifndef ARCA_ATTEST_LAUNCH_CONFIG_H
#define ARCA_ATTEST_LAUNCH_CONFIG_H

#include <stddef.h>

#include "api/attest_wire.h"
#include "policy/placeholder.h"

struct arca_session;
struct arca_service;

/* What the launcher sent about its host (the attest request's "host" member): its own argv
 * (argv[0] = the program as invoked; @@N takes argv[N]) and environment (\@\@NAME). All
 * borrowed. */
struct arca_launch_host {
    const char *const *argv;
    size_t argc;
    const char *const *env_names;
    const char *const *env_values;
    size_t n_env;
};

/*
 * Builds the configuration delivered to an attested service into *out (zeroed first; free
 * with arca_launch_config_free, which wipes every value):
 *   argv  from the service's command (already split by the session loader); an argument that
 *         is exactly "@@N" takes host->argv[N] (missing or used twice: ARCA_ERR_POLICY);
 *         placeholders expanded;
 *   env   only the policy's variables; \@\@NAME takes the host's value ("" when unset);
 *         placeholders expanded;
 *   pwd   the service's pwd ("/" when absent);
 *   files the injection files of the service's image with their content expanded (binary
 *         allowed) and permission; the short form (content read from the program's file
 *         system) is ARCA_ERR_UNSUPPORTED.
 * Every argv and env value must be text the wire can carry (UTF-8 as jansson reads it: no
 * overlong forms, surrogates, bytes >= 0xF5 or truncated sequences) and hold no NUL byte:
 * ARCA_ERR_FORMAT otherwise. render/render_ctx resolve secrets (the session's own and imported
 * ones, e.g. arca_secret_set_render). Errors name the session path of the offending value,
 * never a secret value. On failure *out is empty.
 */
int arca_launch_config_build(const struct arca_session *s, const struct arca_service *svc,
                             const struct arca_launch_host *host, arca_placeholder_render_fn render,
                             void *render_ctx, struct arca_launch_config *out);

#endif
