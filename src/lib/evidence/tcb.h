/*
 * Intel TCB Info (v2 SGX, v3 SGX/TDX) and Enclave Identity (v2: QE, TD_QE) documents, parsed
 * from their exact signed JSON text, and TCB level selection. The structs are heap objects
 * (levels can be many): free with arca_tcb_info_free / arca_qe_identity_free (NULL is fine).
 */
#ifndef ARCA_EVIDENCE_TCB_H
#define ARCA_EVIDENCE_TCB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/claims.h"

struct arca_advisories {
    char id[ARCA_CLAIMS_MAX_ADVISORIES][32];
    unsigned n;
};

struct arca_tcb_level {
    uint8_t sgx_svn[16];
    uint16_t pcesvn;
    uint8_t tdx_svn[16]; /* TDX TCB Info only */
    int64_t date;
    enum arca_tcb_status status;
    char status_text[48]; /* as written, for error details */
    struct arca_advisories adv;
};

/* An Enclave Identity / TDX module identity level: one ISVSVN threshold. */
struct arca_isv_level {
    uint16_t isvsvn;
    int64_t date;
    enum arca_tcb_status status;
    char status_text[48];
    struct arca_advisories adv;
};

struct arca_tdx_module_identity {
    char id[16]; /* "TDX_01" ... */
    uint8_t mrsigner[48];
    uint8_t attributes[8];
    uint8_t attributes_mask[8];
    struct arca_isv_level *levels;
    size_t nlevels;
};

struct arca_tcb_info {
    bool tdx; /* id "TDX" (else "SGX") */
    int version;
    int64_t issue_date;
    int64_t next_update;
    uint8_t fmspc[6];
    uint8_t pceid[2];
    unsigned eval_number;
    bool has_tdx_module;
    uint8_t module_mrsigner[48];
    uint8_t module_attributes[8];
    uint8_t module_attributes_mask[8];
    struct arca_tdx_module_identity *modules;
    size_t nmodules;
    struct arca_tcb_level *levels; /* newest first, as Intel orders them */
    size_t nlevels;
};

struct arca_qe_identity {
    char id[16]; /* "QE", "TD_QE", "QVE" */
    int version;
    int64_t issue_date;
    int64_t next_update;
    unsigned eval_number;
    uint32_t miscselect;
    uint32_t miscselect_mask;
    uint8_t attributes[16];
    uint8_t attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    struct arca_isv_level *levels;
    size_t nlevels;
};

/* Parse the signed JSON text (not the PCS envelope). ARCA_ERR_FORMAT naming the field. */
int arca_tcb_info_parse(const char *json, size_t n, struct arca_tcb_info **out);
void arca_tcb_info_free(struct arca_tcb_info *t);
int arca_qe_identity_parse(const char *json, size_t n, struct arca_qe_identity **out);
void arca_qe_identity_free(struct arca_qe_identity *q);

/* Deep copies (free with the matching _free); NULL on allocation failure. */
struct arca_tcb_info *arca_tcb_info_dup(const struct arca_tcb_info *t);
struct arca_qe_identity *arca_qe_identity_dup(const struct arca_qe_identity *q);

/* "UpToDate" etc. -> enum; ARCA_TCB_UNKNOWN for anything else. */
enum arca_tcb_status arca_tcb_status_parse(const char *s);

/*
 * The first level (newest first) whose thresholds the platform meets: every PCK component SVN
 * >= sgx_svn[i], PCESVN >= pcesvn, and for TDX (tee_tcb_svn non-NULL) every TEE_TCB_SVN[i] >=
 * tdx_svn[i]. NULL if none ("TCB not supported").
 */
const struct arca_tcb_level *arca_tcb_level_select(const struct arca_tcb_info *t,
                                                   const uint8_t comp_svn[16], uint16_t pcesvn,
                                                   const uint8_t *tee_tcb_svn);
/* First ISV level with isvsvn <= the given ISVSVN; NULL if none. */
const struct arca_isv_level *arca_isv_level_select(const struct arca_isv_level *levels, size_t n,
                                                   uint16_t isvsvn);

/* Folds a QE / TDX module status into the platform status (Intel QVL's convergence). */
enum arca_tcb_status arca_tcb_status_merge(enum arca_tcb_status platform,
                                           enum arca_tcb_status other);

#endif
