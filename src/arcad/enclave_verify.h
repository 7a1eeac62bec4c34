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
 * certificate table the launcher may send (currently unused: certificates come from
 * snp_certs_path). Errors name the verifier step that failed.
 */
int enclave_evidence_verify(const struct enclave_verify_cfg *cfg, int type, const void *ev,
                            size_t n, const void *aux, size_t auxn, int64_t now,
                            struct arca_claims *claims);

#endif
