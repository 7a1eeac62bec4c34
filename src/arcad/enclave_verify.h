/*
 * Evidence verification for the enclave API: one entry point over the simulation TEE, Intel
 * DCAP (SGX, TDX) and AMD SEV-SNP verifiers of src/lib/evidence/, producing struct arca_claims.
 * Separate from the HTTP handler so that tests can run the real vectors through it.
 */
#ifndef ARCAD_ENCLAVE_VERIFY_H
#define ARCAD_ENCLAVE_VERIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/claims.h"

struct arca_dcap_collateral;
struct arca_dcap_cache;

/*
 * Where evidence is checked against. Everything is borrowed; the owner (arcad's context, or a
 * test) keeps it alive while verifications run. Sources for Intel quotes, in order: the
 * collateral loaded once at start-up (collateral), else collateral_path loaded on every call
 * (slow; offline tools and tests), then, when neither has the quote's FMSPC / a matching or
 * valid TCB Info, the PCS / PCCS at pcs_url through the on-disk cache. For SNP: the launcher's
 * certificate table, snp_certs_path, then AMD KDS at kds_url through the on-disk cache.
 */
struct enclave_verify_cfg {
    bool allow_simulation;       /* arcad --allow-simulation */
    const char *collateral_path; /* DCAP collateral file or directory, loaded per call */
    const char *snp_certs_path;  /* SNP VCEK/ASK/ARK directory (--snp-certs, ARCA_SNP_CERTS) */
    /* Loaded once (enclave_collateral_load). Read-only while verifications run, so worker
     * threads share it without a lock: arca_dcap_verify takes it const, and the OpenSSL
     * X509 / X509_CRL objects inside are safe for concurrent read-only use (OpenSSL 3 guards
     * its lazily computed caches, e.g. extension flags and the sorted revoked list). */
    const struct arca_dcap_collateral *collateral;
    struct arca_dcap_cache *dcap_cache; /* thread-safe; NULL = verify every step every time */
    const char *pcs_url;                /* Intel PCS / PCCS base URL; NULL = no fetch */
    const char *kds_url;                /* AMD KDS base URL (or mirror); NULL = no fetch */
    const char *pcs_cache_dir;          /* on-disk cache of PCS answers; NULL = none */
    const char *kds_cache_dir;          /* on-disk cache of KDS answers; NULL = none */
    /* Serialises fetches (the caches' temporary files are named per process, not per
     * thread); NULL when only one thread verifies. */
    pthread_mutex_t *fetch_lock;
};

/*
 * Loads DCAP collateral (a file or a directory, collateral.h) once into *out, a new object
 * freed with enclave_collateral_free. The error names the path and what is wrong with it.
 */
int enclave_collateral_load(const char *path, struct arca_dcap_collateral **out);
/* Frees what enclave_collateral_load made (NULL is fine). */
void enclave_collateral_free(struct arca_dcap_collateral *col);

/* The wire names: "sim", "sgx-dcap", "tdx", "snp" (static); enum arca_evidence_type or -1. */
const char *enclave_evidence_type_name(int type);
int enclave_evidence_type_parse(const char *s);

/*
 * Verifies evidence of the given type at time now and fills *claims (zeroed on failure).
 * Simulated evidence without allow_simulation is ARCA_ERR_INSECURE. aux is the SNP
 * certificate table the launcher may send (configfs-tsm auxblob): its VCEK/VLEK (and
 * ASK/ARK, checked against the pinned roots) are used, merged with snp_certs_path and, when
 * no VCEK is found there, with what kds_url serves. Errors name the verifier step that
 * failed. Safe to call from several threads at once with the same cfg.
 */
int enclave_evidence_verify(const struct enclave_verify_cfg *cfg, int type, const void *ev,
                            size_t n, const void *aux, size_t auxn, int64_t now,
                            struct arca_claims *claims);

struct arca_snp_certs;
/*
 * Loads the certificates of an SEV-SNP extended-report certificate table (entries of GUID,
 * offset u32le, length u32le, ended by an all-zero entry; offsets from the table's start):
 * VCEK/VLEK into certs->key, ASK/ASVK/ARK as a chain. Unknown GUIDs are skipped. Bounds are
 * checked (ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED).
 */
int enclave_snp_certs_from_table(const void *aux, size_t n, struct arca_snp_certs *certs);

#endif
