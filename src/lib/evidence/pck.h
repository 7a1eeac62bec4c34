/*
 * PCK certificate SGX extensions (OID 1.2.840.113741.1.13.1): FMSPC, PCE-ID, the 16 SGX TCB
 * component SVNs, PCESVN, CPUSVN, PPID and SGX type, parsed from the extension's DER with our
 * own bounded DER reader (der.h). Plain values; nothing to free.
 */
#ifndef ARCA_EVIDENCE_PCK_H
#define ARCA_EVIDENCE_PCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARCA_PCK_SGX_EXT_OID "1.2.840.113741.1.13.1"

struct arca_pck_ext {
    uint8_t ppid[16];
    uint8_t comp_svn[16]; /* SGX TCB component SVNs 1..16 */
    uint16_t pcesvn;
    uint8_t cpusvn[16];
    uint8_t pceid[2];
    uint8_t fmspc[6];
    int sgx_type; /* 0 Standard, 1 Scalable, 2 Scalable with integrity; -1 absent */
};

/* Parses the DER contents of the SGX extension (the OCTET STRING's value). Requires PPID-less
 * parts only where needed: TCB (all 16 components and PCESVN), PCE-ID and FMSPC must be present.
 * ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED with a detail naming the element; *out unchanged on
 * failure. */
int arca_pck_ext_parse(const void *der, size_t n, struct arca_pck_ext *out);

struct arca_x509;
/* Reads the extension from a PCK certificate and parses it. ARCA_ERR_NOT_FOUND if absent. */
int arca_pck_ext_from_cert(const struct arca_x509 *pck, struct arca_pck_ext *out);

#endif
