/*
 * Intel DCAP collateral: TCB Info and QE Identity (their exact signed JSON bytes, signatures and
 * issuer chains), the Root CA CRL and the PCK CRL.
 *
 * Sources: Intel PCS / PCCS v4 responses ({"tcbInfo":{...},"signature":"..."} and
 * {"enclaveIdentity":{...},"signature":"..."}), PEM issuer chains, DER/PEM/hex CRLs, and the
 * combined JSON of the test vectors (dcap-qvl's QuoteCollateralV3: pck_crl_issuer_chain,
 * root_ca_crl, pck_crl, tcb_info_issuer_chain, tcb_info, tcb_info_signature,
 * qe_identity_issuer_chain, qe_identity, qe_identity_signature), which is also the on-disk cache
 * format of collateral_fetch.c.
 *
 * Ownership: struct arca_dcap_collateral owns everything it points to; initialise with
 * arca_dcap_collateral_init() and release with arca_dcap_collateral_free(). Loading functions
 * replace the piece they load (freeing the old one) and leave the struct unchanged on failure.
 */
#ifndef ARCA_EVIDENCE_COLLATERAL_H
#define ARCA_EVIDENCE_COLLATERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/fs.h"

struct arca_x509;
struct arca_x509_crl;

struct arca_dcap_signed_json {
    char *json; /* exact signed bytes (NUL-terminated copy), NULL when absent */
    size_t len;
    uint8_t signature[64];    /* ECDSA P-256 r||s over json[0..len) */
    struct arca_x509 **chain; /* issuer chain: TCB Signing cert first, then the root */
    size_t chain_len;
};

struct arca_dcap_collateral {
    struct arca_dcap_signed_json tcb_info;
    struct arca_dcap_signed_json qe_identity;
    struct arca_x509_crl *root_crl; /* issued by the Intel SGX Root CA; NULL when absent */
    struct arca_x509_crl *pck_crl;  /* issued by the PCK Processor/Platform CA; NULL when absent */
};

void arca_dcap_collateral_init(struct arca_dcap_collateral *c);
void arca_dcap_collateral_free(struct arca_dcap_collateral *c);

/* Loads the combined JSON (all members optional, but at least one must be present). */
int arca_dcap_collateral_load_combined(struct arca_dcap_collateral *c, const char *json, size_t n);
/* Loads a PCS TCB Info / QE Identity response body; the issuer chain (PEM, e.g. from the
 * TCB-Info-Issuer-Chain header, URL-decoded) may be NULL to keep the chain already loaded. */
int arca_dcap_collateral_load_tcb_info(struct arca_dcap_collateral *c, const char *body, size_t n,
                                       const char *chain_pem, size_t chain_len);
int arca_dcap_collateral_load_qe_identity(struct arca_dcap_collateral *c, const char *body,
                                          size_t n, const char *chain_pem, size_t chain_len);
/* Sets the issuer chain of both TCB Info and QE Identity (PEM, TCB Signing cert + root). */
int arca_dcap_collateral_load_signing_chain(struct arca_dcap_collateral *c, const char *pem,
                                            size_t n);
/* Loads a CRL (DER, PEM or hex of DER). The Root CA CRL is recognised by its signature verifying
 * with the pinned Intel SGX Root CA key; any other CRL is taken as the PCK CRL. */
int arca_dcap_collateral_load_crl(struct arca_dcap_collateral *c, const void *p, size_t n);

/*
 * Loads one file whose kind is recognised by content: combined JSON, PCS TCB Info or QE Identity
 * response, a PEM chain whose first certificate is the "Intel SGX TCB Signing" cert, or a CRL.
 * Other PEM chains (e.g. the PCK CRL issuer chain) are accepted and ignored: the PCK CA comes
 * from the quote. `name` is only for error details.
 */
int arca_dcap_collateral_load_bytes(struct arca_dcap_collateral *c, const void *p, size_t n,
                                    const char *name);
/* Loads a file, or every regular file of a directory (non-recursive, sorted by name). */
int arca_dcap_collateral_load_path(struct arca_dcap_collateral *c, const char *path);

/* The pinned Intel SGX Root CA (DER, 659 bytes) and a fresh certificate object of it (free with
 * arca_x509_free). */
extern const uint8_t arca_intel_sgx_root_ca_der[];
extern const size_t arca_intel_sgx_root_ca_der_len;
int arca_intel_sgx_root_ca(struct arca_x509 **out);

#endif
