/*
 * Intel SGX / TDX DCAP quote verification (attestation-evidence.md §1.7): quote signature, QE
 * report binding, PCK chain to the pinned Intel SGX Root CA with CRLs, QE report signature,
 * TCB Info / QE Identity signatures over their exact JSON bytes and validity, FMSPC / PCE-ID
 * match, QE identity match, platform TCB level, TDX module identity, merged status and
 * advisories. "now" is a parameter; nothing here reads the clock.
 */
#ifndef ARCA_EVIDENCE_DCAP_VERIFY_H
#define ARCA_EVIDENCE_DCAP_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/claims.h"
#include "evidence/collateral.h"

struct arca_x509;

/*
 * A per-process cache of verification steps that do not depend on the quote itself: the PCK
 * chain with its CRLs (keyed by SHA-256 of the quote's certification data, the root and the
 * CRLs) and the TCB Info / QE Identity issuer chains and signatures (keyed by SHA-256 of the
 * exact JSON bytes, signature, chain and root CRL). An entry holds only while "now" is inside
 * the intersection of the validity windows it depended on. With a warm cache a verification
 * costs the quote signature, the QE report signature, the binding hash and the TCB matching.
 * Thread-safe (one mutex). Free with arca_dcap_cache_free (NULL is fine).
 */
struct arca_dcap_cache;
/* max_entries 0 = 256. */
int arca_dcap_cache_new(size_t max_entries, struct arca_dcap_cache **out);
void arca_dcap_cache_free(struct arca_dcap_cache *c);
/* Hits and misses so far (for tests and metrics). */
void arca_dcap_cache_stats(struct arca_dcap_cache *c, uint64_t *hits, uint64_t *misses);

struct arca_dcap_opts {
    /* Trust anchor; NULL = the pinned Intel SGX Root CA. Borrowed. */
    const struct arca_x509 *root;
    /* Accept collateral without CRLs / without QE Identity (weaker; for vectors and offline
     * tools that lack them). Defaults (false) are strict: missing pieces are errors. */
    bool allow_missing_crls;
    bool allow_missing_qe_identity;
    /* Optional cache (borrowed; may be shared between threads). NULL = verify everything. */
    struct arca_dcap_cache *cache;
};

/* Status details beyond struct arca_claims, for reports and the CLI. */
struct arca_dcap_report {
    enum arca_tcb_status platform_status; /* selected TCB Info level */
    int64_t platform_tcb_date;
    enum arca_tcb_status qe_status;     /* ARCA_TCB_UNKNOWN if QE Identity was skipped */
    enum arca_tcb_status module_status; /* TDX module identity; UNKNOWN if n/a */
    char module_id[16];
    uint16_t pcesvn;
    uint8_t comp_svn[16];
    uint8_t pceid[2];
    uint16_t qe_isvsvn;
    unsigned tcb_eval_number;
    bool crls_checked;
    bool qe_identity_checked;
};

/*
 * Verifies the quote in p[0..n) against collateral at time now. On success fills *claims (and
 * *report if non-NULL) and returns 0. On failure returns a negative code with a detail naming the
 * failing step, and the outputs are zeroed:
 *   ARCA_ERR_FORMAT/TRUNCATED/UNSUPPORTED  malformed or unsupported quote or collateral
 *   ARCA_ERR_SIGNATURE  quote signature, QE binding, QE report, TCB Info or QE Identity signature
 *   ARCA_ERR_CERT       PCK or TCB signing chain, wrong root, CRL issuer
 *   ARCA_ERR_REVOKED    a certificate in a chain is revoked
 *   ARCA_ERR_EXPIRED    certificate, CRL, TCB Info or QE Identity outside its window
 *   ARCA_ERR_NOT_FOUND  collateral missing, or no TCB level matches ("TCB level not found")
 *   ARCA_ERR_CONFLICT   collateral is for another platform / QE (FMSPC, PCE-ID, QE identity)
 * A verified quote whose status is Revoked or OutOfDate still returns 0: tolerance is the
 * appraisal's decision (appraise.h).
 */
int arca_dcap_verify(const void *p, size_t n, const struct arca_dcap_collateral *col,
                     const struct arca_dcap_opts *opts, int64_t now, struct arca_claims *claims,
                     struct arca_dcap_report *report);

struct arca_dcap_quote;
/* Copies the measurements of a parsed (NOT verified) quote into *claims (type, debug,
 * report data, SGX or TD fields); status, advisories and platform id are left as they are. For
 * display of unverifiable quotes and for tests; never a basis for trust. */
void arca_dcap_quote_claims(const struct arca_dcap_quote *q, struct arca_claims *claims);

#endif
