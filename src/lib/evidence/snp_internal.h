/*
 * Internal to the SNP verifier (snp.c, snp_roots.c, snp_fetch.c); not for other modules.
 */
#ifndef ARCA_EVIDENCE_SNP_INTERNAL_H
#define ARCA_EVIDENCE_SNP_INTERNAL_H

#include <stdint.h>

#include "evidence/snp.h"

/* The pinned SHA-256 of the product's ARK DER SubjectPublicKeyInfo (32 bytes, static), or
 * NULL for UNKNOWN. */
const uint8_t *arca_snp_ark_spki_sha256(enum arca_snp_product p);

#endif
