/*
 * Collateral selection: which collateral (Intel) or certificates (AMD) verify a piece of
 * evidence, in which order, and when fetching from the vendor's service is worth a try. One
 * implementation for arcad's attestation pipeline (src/lib/attest/verify.c) and for
 * `arca evidence verify`, so the two cannot differ in what they accept.
 *
 * Intel DCAP, in order: the collateral loaded once (collateral), else the files and
 * directories of collateral_paths (loaded on every call); then, when fetching is allowed and
 * nothing was configured or what was configured cannot verify the quote (TCB Info of another
 * platform, no matching TCB level, outdated, or CRLs of the other PCK CA), the collateral of
 * the quote's FMSPC from the PCS / PCCS through the on-disk cache. Errors of the quote itself
 * (signature, format, revocation) are final. When the fetch fails too, the error keeps both
 * causes: "<fetch error> (configured collateral: <first error>)".
 *
 * AMD SEV-SNP: the certificates the caller already put in *certs (e.g. from the launcher's
 * certificate table), merged with snp_paths (a directory is a collateral directory, a file a
 * VCEK/VLEK or a chain), then, when no VCEK/VLEK is there and fetching is allowed, what AMD KDS
 * (or a mirror) serves through the on-disk cache. The ARK is always one of the pinned roots.
 *
 * Fetched collateral is never trusted more than files: it goes through the same verifiers.
 */
#ifndef ARCA_EVIDENCE_COLLATERAL_SELECT_H
#define ARCA_EVIDENCE_COLLATERAL_SELECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/claims.h"
#include "evidence/dcap_verify.h"

struct arca_dcap_collateral;
struct arca_snp_certs;

/* Everything is borrowed and only read, so one struct may serve several threads at once. */
struct arca_evidence_sources {
    /* Intel */
    const struct arca_dcap_collateral *collateral; /* loaded once; NULL = none */
    const char *const *collateral_paths;           /* files or directories, loaded per call */
    size_t n_collateral_paths;
    bool pcs_fetch;             /* may fetch from the PCS / PCCS */
    const char *pcs_url;        /* NULL = ARCA_PCS_DEFAULT_URL */
    const char *pcs_cache_dir;  /* NULL = no on-disk cache */
    struct arca_dcap_opts dcap; /* verifier options: missing CRLs / QE Identity, step cache */
    /* AMD */
    const char *const *snp_paths; /* collateral directories or certificate files */
    size_t n_snp_paths;
    bool kds_fetch;            /* may fetch the VCEK and chain from KDS */
    const char *kds_url;       /* NULL = https://kdsintf.amd.com */
    const char *kds_cache_dir; /* NULL = no on-disk cache */
    /* Serialises fetches (the caches' temporary files are named per process, not per
     * thread); NULL when only one thread verifies. */
    pthread_mutex_t *fetch_lock;
    /* NULL: these sources never change while verifications run. Else whoever changes them
     * (arcad's SIGHUP reload) holds it for writing, and verifications take their copy with
     * arca_evidence_sources_snapshot; what a change replaces must outlive those copies. */
    pthread_rwlock_t *swap_lock;
};

/* Copies *src into *out under src->swap_lock (for reading, if there is one): the sources one
 * verification uses from start to end, whatever a reload publishes meanwhile. */
void arca_evidence_sources_snapshot(const struct arca_evidence_sources *src,
                                    struct arca_evidence_sources *out);

/*
 * Verifies an SGX or TDX quote at now against the sources (order above) and fills *claims
 * and, when not NULL, *report. 1 is never returned: ARCA_ERR_NOT_FOUND when there is no
 * source at all. Does not check which of SGX / TDX the quote is (the caller compares
 * claims->type with what it expected).
 */
int arca_evidence_verify_dcap(const struct arca_evidence_sources *src, const void *quote, size_t n,
                              int64_t now, struct arca_claims *claims,
                              struct arca_dcap_report *report);

/*
 * Verifies a raw SEV-SNP report at now: merges the sources into *certs (which may already hold
 * certificates; the caller clears it afterwards), fetches when no VCEK/VLEK was found and
 * fetching is allowed, then arca_snp_verify. Errors name the source that failed ("VCEK from
 * URL: ...").
 */
int arca_evidence_verify_snp(const struct arca_evidence_sources *src, const void *report, size_t n,
                             struct arca_snp_certs *certs, int64_t now, struct arca_claims *claims);

#endif
