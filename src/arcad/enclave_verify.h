/*
 * Evidence verification for the enclave API: one entry point over the simulation TEE, Intel
 * DCAP (SGX, TDX) and AMD SEV-SNP verifiers of src/lib/evidence/, producing struct arca_claims.
 * Separate from the HTTP handler so that tests can run the real vectors through it.
 */
#ifndef ARCAD_ENCLAVE_VERIFY_H
#define ARCAD_ENCLAVE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/claims.h"

struct enclave_verify_cfg {
    bool allow_simulation;       /* arcad --allow-simulation */
    const char *collateral_path; /* DCAP collateral file or directory (ARCA_COLLATERAL) */
    const char *snp_certs_path;  /* SNP VCEK/ASK/ARK directory (ARCA_SNP_CERTS) */
};

/* The wire names: "sim", "sgx-dcap", "tdx", "snp" (static); enum arca_evidence_type or -1. */
const char *enclave_evidence_type_name(int type);
int enclave_evidence_type_parse(const char *s);

/*
 * Verifies evidence of the given type at time now and fills *claims (zeroed on failure).
 * Simulated evidence without allow_simulation is ARCA_ERR_INSECURE. aux is the SNP
 * certificate table the launcher may send (configfs-tsm auxblob): its VCEK/VLEK (and
 * ASK/ARK, checked against the pinned roots) are used, merged with snp_certs_path. Errors
 * name the verifier step that failed.
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
