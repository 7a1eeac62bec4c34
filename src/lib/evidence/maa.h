/*
 * Microsoft Azure Attestation (MAA) tokens as evidence: an RS256 JWT that an attestation
 * provider (https://<name>.<region>.attest.azure.net) issues after it verified an SGX quote
 * and appraised its TCB itself (the docs' `maa-managed-tcb`).
 *
 * The token is checked against keys the caller configured — the provider's JWKS, as served at
 * <url>/certs — never against keys the token points to (its `jku` header is ignored): the
 * header's `kid` picks the key, whose first `x5c` certificate gives the RSA public key.
 * The issuer must be the configured provider and the validity window [nbf, exp) must hold at
 * `now` (the caller's clock, never read here). The SGX claims map onto struct arca_claims so
 * that the one appraisal (evidence/appraise.h) matches them against a policy's variants.
 */
#ifndef ARCA_EVIDENCE_MAA_H
#define ARCA_EVIDENCE_MAA_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "evidence/claims.h"

#define ARCA_MAA_TOKEN_MAX 65536 /* bytes of token text accepted */
#define ARCA_MAA_MIN_RSA_BITS 2048

struct arca_maa_cfg {
    const char *issuer;    /* the provider URL, the policy's security.attestation.url */
    const char *jwks;      /* the provider's JWKS JSON (borrowed) */
    size_t jwks_len;       /* bytes of jwks */
    unsigned min_rsa_bits; /* 0 means ARCA_MAA_MIN_RSA_BITS */
};

/*
 * Verifies token[0..len) under cfg at time now (Unix seconds). On success fills *claims
 * (type ARCA_EVIDENCE_SGX_DCAP, tcb_status UpToDate: the provider appraised the TCB; debug,
 * mrenclave, mrsigner, isv_prod_id, isv_svn from the x-ms-sgx-* claims) and, when ehd is not
 * NULL, appends the enclave-held data (x-ms-sgx-ehd, decoded) to it: the caller binds that
 * to its nonce and key. On failure *claims is zeroed, ehd is unchanged, and the error names
 * the step (ARCA_ERR_FORMAT for a malformed token or JWKS, ARCA_ERR_NOT_FOUND for an unknown
 * kid, ARCA_ERR_SIGNATURE, ARCA_ERR_EXPIRED outside the window, ARCA_ERR_POLICY for a wrong
 * issuer, attestation type or a key below the RSA minimum). Nothing is allocated for the
 * caller except what goes into ehd.
 */
int arca_maa_verify(const struct arca_maa_cfg *cfg, const char *token, size_t len, int64_t now,
                    struct arca_claims *claims, struct arca_buf *ehd);

#endif
