/*
 * Intel DCAP quotes: SGX quote v3 / v4 (SGX body) and TDX quote v4 / v5 (TD 1.0 / TD 1.5 bodies),
 * with their ECDSA signature data (QE report, QE authentication data, certification data).
 *
 * The parser only checks structure (every length bounded by the buffer, known versions and
 * types); it verifies nothing. Parsed quotes BORROW the input bytes: every pointer in
 * struct arca_dcap_quote points into the caller's buffer, which must outlive the struct. There is
 * nothing to free.
 */
#ifndef ARCA_EVIDENCE_DCAP_QUOTE_H
#define ARCA_EVIDENCE_DCAP_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#define ARCA_DCAP_HEADER_LEN 48
#define ARCA_SGX_REPORT_LEN 384
#define ARCA_TD10_REPORT_LEN 584
#define ARCA_TD15_REPORT_LEN 648
#define ARCA_TEE_TYPE_SGX 0x00000000u
#define ARCA_TEE_TYPE_TDX 0x00000081u
#define ARCA_DCAP_ATT_KEY_P256 2

/* Body type, as in the v5 body descriptor (and implied by version/TEE type before v5). */
enum arca_dcap_body {
    ARCA_DCAP_BODY_SGX = 1,
    ARCA_DCAP_BODY_TD10 = 2,
    ARCA_DCAP_BODY_TD15 = 3,
};

/* Certification data types (Intel quote library spec, appendix A). */
enum arca_dcap_cert_type {
    ARCA_DCAP_CERT_PCK_CHAIN = 5,
    ARCA_DCAP_CERT_QE_REPORT = 6,
};

/* sgx_report_body_t (also the QE report). */
struct arca_sgx_report {
    uint8_t cpusvn[16];
    uint32_t miscselect;
    uint8_t isvextprodid[16];
    uint8_t attributes[16]; /* flags u64 LE then XFRM u64 LE; flags bit 1 = DEBUG */
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint8_t configid[64];
    uint16_t isvprodid;
    uint16_t isvsvn;
    uint16_t configsvn;
    uint8_t isvfamilyid[16];
    uint8_t reportdata[64];
};

/* TD report body; the last two fields are TD 1.5 only (zero otherwise). */
struct arca_td_report {
    uint8_t tee_tcb_svn[16];
    uint8_t mrseam[48];
    uint8_t mrsignerseam[48];
    uint8_t seamattributes[8];
    uint8_t tdattributes[8]; /* bit 0 of byte 0 = DEBUG */
    uint8_t xfam[8];
    uint8_t mrtd[48];
    uint8_t mrconfigid[48];
    uint8_t mrowner[48];
    uint8_t mrownerconfig[48];
    uint8_t rtmr[4][48];
    uint8_t reportdata[64];
    uint8_t tee_tcb_svn2[16];
    uint8_t mrservicetd[48];
};

struct arca_dcap_quote {
    /* header */
    uint16_t version;      /* 3, 4 or 5 */
    uint16_t att_key_type; /* 2 = ECDSA P-256 */
    uint32_t tee_type;     /* ARCA_TEE_TYPE_SGX / _TDX */
    uint16_t qe_svn;
    uint16_t pce_svn;
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];

    enum arca_dcap_body body_type;
    struct arca_sgx_report sgx; /* valid when body_type == ARCA_DCAP_BODY_SGX */
    struct arca_td_report td;   /* valid for TD bodies */

    /* Bytes covered by the quote signature: header (+ v5 descriptor) + body. */
    const uint8_t *signed_data;
    size_t signed_len;
    /* Length of the whole quote (the buffer may be longer: trailing bytes are ignored). */
    size_t quote_len;

    /* signature data */
    const uint8_t *signature;       /* 64 bytes r||s, big-endian */
    const uint8_t *attestation_key; /* 64 bytes x||y */
    const uint8_t *qe_report_raw;   /* 384 bytes, what the QE report signature covers */
    struct arca_sgx_report qe_report;
    const uint8_t *qe_report_signature; /* 64 bytes r||s */
    const uint8_t *qe_auth_data;
    size_t qe_auth_len;
    uint16_t cert_type; /* always ARCA_DCAP_CERT_PCK_CHAIN after a successful parse */
    const uint8_t *cert_data;
    size_t cert_len;
};

/*
 * Parses a quote from p[0..n) (n may exceed the quote; trailing bytes are ignored). On success
 * fills *q (borrowing p) and returns 0; on failure returns ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED /
 * ARCA_ERR_UNSUPPORTED with a detail naming the field and its offset, and *q is zeroed.
 */
int arca_dcap_quote_parse(const void *p, size_t n, struct arca_dcap_quote *q);

/* Parses a 384-byte SGX report body. */
int arca_sgx_report_parse(const uint8_t raw[ARCA_SGX_REPORT_LEN], struct arca_sgx_report *r);

/* Intel's QE vendor ID. */
extern const uint8_t arca_dcap_intel_qe_vendor_id[16];

#endif
