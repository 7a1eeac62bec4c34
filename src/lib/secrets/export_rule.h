/*
 * Secret sharing rules (DESIGN §6, docs/internals/secrets.md "Sharing"): the one decision
 * whether an `export` entry admits an importing session, locally or on another arcad, and the
 * resolution of relative session references ("./child", "../sibling"). Used by the local
 * import of the attestation pipeline and by the exporting side of a remote import alike.
 */
#ifndef ARCA_SECRETS_EXPORT_RULE_H
#define ARCA_SECRETS_EXPORT_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/session.h"

/*
 * Resolves ref as written in session base: absolute names stay, "./x" is base's child x,
 * "../x" base's sibling x (each further "../" one level up). out[n] gets the name, which is
 * checked against the session-name grammar. ARCA_ERR_FORMAT naming ref when it climbs above
 * the root or the result is no session name.
 */
int arca_session_ref_resolve(const char *base, const char *ref, char *out, size_t n);

/* Who asks for an exported secret. */
struct arca_export_asker {
    const char *session;     /* the importing session's full name */
    const uint8_t *hash;     /* its version hash (32 bytes) */
    const uint8_t *cas_key;  /* NULL: the same arcad; else the attested remote CAS key */
    const uint8_t *software; /* remote only: the attested measurement (32 bytes) or NULL */
};

/*
 * Whether rule e of secret in session exporter admits the asker: the session named (relative
 * names resolved against exporter) or a session below the namespace named, the pinned
 * session_hash if any, and for a remote asker a rule with cas_url whose cas_key (or
 * cas_software_key) is the asker's; rules without cas_url admit local askers only.
 */
bool arca_export_admits(const struct arca_session_ref *e, const char *exporter,
                        const struct arca_export_asker *a);

/* Whether any export rule of d admits a; on false the error detail names d, exporter and why
 * (ARCA_ERR_DENIED). */
int arca_export_check(const struct arca_secret *d, const char *exporter,
                      const struct arca_export_asker *a);

struct arca_secret_set;
struct arca_secret_value;
/*
 * The value an exporter hands out for its secret d, whose stored values are set (may be NULL):
 * a config-fragment's is the JSON text of its written value (arca_ynode_to_json; fragments
 * are never stored in the set), any other the stored value. *out is a new reference
 * (arca_secret_value_free); ARCA_ERR_NOT_FOUND "has no value yet" when there is none.
 */
int arca_export_value(const struct arca_secret *d, struct arca_secret_set *set,
                      struct arca_secret_value **out);

#endif
