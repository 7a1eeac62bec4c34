/*
 * Appraisal: verified claims against a session's security.attestation settings (tolerate,
 * ignore_advisories, mode) and a service's attestation variants (policy/session.h).
 *
 * Decision order: evidence type allowed by the mode; DEBUG only with `debug-mode` tolerated;
 * TCB status mapped onto tolerance categories (an unknown status and Revoked are never
 * tolerable); every advisory of a non-UpToDate status must be ignored or covered by a shortcut;
 * then one variant must match (every factor in it must hold).
 *
 * TCB status -> required tolerance:
 *   UpToDate                          -> nothing
 *   SWHardeningNeeded                 -> software-hardening-needed
 *   ConfigurationNeeded               -> insecure-configuration
 *   ConfigurationAndSWHardeningNeeded -> insecure-configuration + software-hardening-needed
 *   OutOfDate                         -> outdated-tcb
 *   OutOfDateConfigurationNeeded      -> outdated-tcb + insecure-configuration
 *   Revoked, Unknown                  -> never
 * Shortcut categories cover advisories: hyperthreading (INTEL-SA-00161, INTEL-SA-00233),
 * insecure-igpu (INTEL-SA-00219), aepic-leak (INTEL-SA-00657).
 */
#ifndef ARCA_EVIDENCE_APPRAISE_H
#define ARCA_EVIDENCE_APPRAISE_H

#include <stddef.h>

#include "evidence/claims.h"
#include "policy/session.h"

/*
 * Returns 0 if the claims are acceptable, with *matched (if non-NULL) the index of the first
 * matching variant. Otherwise ARCA_ERR_POLICY (or ARCA_ERR_INSECURE for simulated evidence
 * outside simulation mode) with a detail saying exactly what does not hold and which setting
 * would relax it. Pure function: reads only its arguments.
 */
int arca_appraise(const struct arca_claims *claims, const struct arca_security *security,
                  const struct arca_att_variant *variants, size_t n_variants, size_t *matched);

/* Only the TCB-status/advisory/debug part (no variants). Same return convention. */
int arca_appraise_tcb(const struct arca_claims *claims, const struct arca_security *security);

#endif
