/*
 * What a verifier proves about a piece of evidence (DESIGN §4), independent of its type, and
 * the appraisal result against a policy. Filled by sgx.c / tdx.c / snp.c / sim.c verifiers.
 */
#ifndef ARCA_EVIDENCE_CLAIMS_H
#define ARCA_EVIDENCE_CLAIMS_H

#include <stdbool.h>
#include <stdint.h>

enum arca_evidence_type {
    ARCA_EVIDENCE_NONE = 0,
    ARCA_EVIDENCE_SIM,      /* INSECURE simulation TEE */
    ARCA_EVIDENCE_SGX_DCAP, /* SGX quote v3 / v4 */
    ARCA_EVIDENCE_TDX,      /* TDX quote v4 / v5 */
    ARCA_EVIDENCE_SNP,      /* SEV-SNP attestation report */
};

/*
 * The one table of evidence-type names: "sim", "sgx-dcap", "tdx", "snp" (the enclave API's
 * evidence_type, audit lines, the CLI's output) and back; NULL / -1 when unknown.
 * arca_evidence_type_from_wire accepts exactly those names; arca_evidence_type_parse also
 * the CLI's short form "sgx".
 */
const char *arca_evidence_type_name(enum arca_evidence_type t);
int arca_evidence_type_from_wire(const char *s);
int arca_evidence_type_parse(const char *s);

/* TCB status (Intel's names; SNP and sim report UpToDate when the chain verifies). */
enum arca_tcb_status {
    ARCA_TCB_UNKNOWN = 0,
    ARCA_TCB_UP_TO_DATE,
    ARCA_TCB_SW_HARDENING_NEEDED,
    ARCA_TCB_CONFIGURATION_NEEDED,
    ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    ARCA_TCB_OUT_OF_DATE,
    ARCA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    ARCA_TCB_REVOKED,
};
const char *arca_tcb_status_name(enum arca_tcb_status s);

#define ARCA_CLAIMS_MAX_ADVISORIES 64

struct arca_claims {
    enum arca_evidence_type type;
    bool debug;              /* SGX ATTRIBUTES.DEBUG, TD ATTRIBUTES.DEBUG, SNP policy DEBUG */
    uint8_t report_data[64]; /* REPORTDATA / SNP REPORT_DATA */
    enum arca_tcb_status tcb_status;
    char advisories[ARCA_CLAIMS_MAX_ADVISORIES][32]; /* "INTEL-SA-00615", ... */
    unsigned advisory_count;
    uint8_t platform_id[64]; /* FMSPC (6) | SNP CHIP_ID (64) | sim platform key id (32) */
    unsigned platform_id_len;
    int64_t collateral_expiry; /* earliest nextUpdate of the collateral used; 0 if n/a */

    /* SGX (also the simulated measurement, which uses mrenclave) */
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    uint8_t attributes[16];
    uint8_t config_id[64];
    uint16_t config_svn;
    uint8_t fmspc[6];

    /* TDX */
    uint8_t mrtd[48];
    uint8_t rtmr[4][48];
    uint8_t mrconfigid[48];
    uint8_t mrowner[48];
    uint8_t mrownerconfig[48];
    uint8_t tee_tcb_svn[16];
    uint8_t td_attributes[8];
    uint64_t xfam;

    /* SNP */
    uint8_t measurement[48];
    uint8_t host_data[32];
    uint8_t chip_id[64];
    uint64_t snp_policy;
    uint32_t vmpl;
    uint64_t reported_tcb;
    uint32_t snp_report_version;
};

#endif
