/*
 * Evidence verification for the attestation pipeline: one door over the simulation TEE,
 * Intel DCAP (SGX, TDX) and AMD SEV-SNP verifiers of src/lib/evidence/, producing struct
 * arca_claims. Which collateral is used, and when it is fetched, is the one collateral
 * selection of evidence/collateral_select.h (shared with `arca evidence verify`).
 */
#ifndef ARCA_ATTEST_VERIFY_H
#define ARCA_ATTEST_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/claims.h"
#include "evidence/collateral_select.h"

struct arca_dcap_collateral;
struct arca_snp_certs;

/*
 * What evidence is checked against. Everything is borrowed; the owner (arcad's enclave state,
 * or a test) keeps it alive while verifications run, which may be on several threads at once:
 * the loaded collateral is only read (arca_dcap_verify takes it const, and OpenSSL 3 guards
 * the lazily computed caches of the X509 / X509_CRL objects inside).
 */
struct arca_attest_verify_cfg {
    bool allow_simulation; /* arcad --allow-simulation */
    /* Simulated platform keys parsed once (borrowed, may be shared; NULL: parsed each time). */
    struct arca_key_cache *sim_keys;
    struct arca_evidence_sources sources;
};

/*
 * Loads DCAP collateral (a file or a directory, evidence/collateral.h) once into *out, a new
 * object freed with arca_attest_collateral_free. The error names the path and what is wrong.
 */
int arca_attest_collateral_load(const char *path, struct arca_dcap_collateral **out);
/* Frees what arca_attest_collateral_load made (NULL is fine). */
void arca_attest_collateral_free(struct arca_dcap_collateral *col);

/*
 * Verifies evidence of the given type at time now and fills *claims (zeroed on failure).
 * Simulated evidence without allow_simulation is ARCA_ERR_INSECURE. aux is the SNP
 * certificate table the launcher may send (configfs-tsm auxblob): its VCEK/VLEK (and ASK/ARK,
 * checked against the pinned roots) come first in the collateral selection. Errors start
 * with the evidence type ("tdx evidence: ...") and name the verifier step that failed. Safe to
 * call from several threads at once with the same cfg.
 */
int arca_attest_evidence_verify(const struct arca_attest_verify_cfg *cfg, int type, const void *ev,
                                size_t n, const void *aux, size_t auxn, int64_t now,
                                struct arca_claims *claims);

/*
 * Loads the certificates of an SEV-SNP extended-report certificate table (entries of GUID,
 * offset u32le, length u32le, ended by an all-zero entry; offsets from the table's start):
 * VCEK/VLEK into certs->key, ASK/ASVK/ARK as a chain. Unknown GUIDs are skipped. Bounds are
 * checked (ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED).
 */
int arca_attest_snp_table_load(const void *aux, size_t n, struct arca_snp_certs *certs);

#endif
