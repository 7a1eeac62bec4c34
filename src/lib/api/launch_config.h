/*
 * Attested launch, the parts shared by arcad's enclave API and arca-run (DESIGN §4,
 * docs/internals/launch.md): the REPORTDATA binding and the wire format of the configuration
 * delivered to an attested program.
 *
 * Wire format of the POST /v1/attest answer (a JSON object; arca-run's config.c parses it):
 *   {"argv": [STRING...],                 at least one element, no NUL bytes
 *    "env": {NAME: VALUE, ...},           the program's whole environment
 *    "pwd": ABSOLUTE_PATH,
 *    "files": [{"path": ABSOLUTE_PATH, "mode": INT (0..0o7777), "content": BASE64}, ...]}
 */
#ifndef ARCA_API_LAUNCH_CONFIG_H
#define ARCA_API_LAUNCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "policy/placeholder.h"

struct arca_session;
struct arca_service;

#define ARCA_LAUNCH_BINDING_LABEL "arca-attest-v1"
#define ARCA_LAUNCH_NONCE_LEN 32

/*
 * REPORTDATA = SHA-512("arca-attest-v1" || spki || nonce || config_id): binds the evidence to
 * the TLS key K (DER SPKI), the challenge and the configuration asked for. The SPKI is
 * self-delimiting DER and the nonce has a fixed length, so the concatenation is unambiguous.
 */
int arca_launch_binding(const uint8_t *spki, size_t spki_len,
                        const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], const char *config_id,
                        uint8_t out[64]);

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
 * Builds the configuration delivered to an attested service (the wire format above) and
 * appends its JSON to out (a secret buffer; unchanged on failure):
 *   argv  from the service's command (already split by the session loader); an argument that
 *         is exactly "@@N" takes host->argv[N] (missing or used twice: ARCA_ERR_POLICY);
 *         placeholders expanded, NUL bytes refused;
 *   env   only the policy's variables; \@\@NAME takes the host's value ("" when unset);
 *         placeholders expanded;
 *   pwd   the service's pwd ("/" when absent);
 *   files the injection files of the service's image with their content expanded (binary
 *         allowed) and permission; the short form (content read from the program's file
 *         system) is ARCA_ERR_UNSUPPORTED.
 * render/render_ctx resolve secrets (the session's own and imported ones, e.g.
 * arca_secret_set_render). Errors name the session path of the offending value, never a
 * secret value.
 */
int arca_launch_config_build(const struct arca_session *s, const struct arca_service *svc,
                             const struct arca_launch_host *host, arca_placeholder_render_fn render,
                             void *render_ctx, struct arca_buf *out);

#endif
