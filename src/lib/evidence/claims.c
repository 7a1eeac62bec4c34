/* Names for the claims enums (claims.h): the one table of evidence-type names. */
#include "evidence/claims.h"

#include <string.h>

static const char *const type_names[] = {
    [ARCA_EVIDENCE_SIM] = "sim",
    [ARCA_EVIDENCE_SGX_DCAP] = "sgx-dcap",
    [ARCA_EVIDENCE_TDX] = "tdx",
    [ARCA_EVIDENCE_SNP] = "snp",
};

const char *arca_evidence_type_name(enum arca_evidence_type t)
{
    if ((int)t <= 0 || (size_t)t >= sizeof type_names / sizeof type_names[0])
        return NULL;
    return type_names[t];
}

int arca_evidence_type_from_wire(const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 1; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i] && strcmp(s, type_names[i]) == 0)
            return (int)i;
    return -1;
}

int arca_evidence_type_parse(const char *s)
{
    if (s && strcmp(s, "sgx") == 0) /* the CLI's short form */
        return ARCA_EVIDENCE_SGX_DCAP;
    return arca_evidence_type_from_wire(s);
}

const char *arca_tcb_status_name(enum arca_tcb_status s)
{
    switch (s) {
    case ARCA_TCB_UP_TO_DATE:
        return "UpToDate";
    case ARCA_TCB_SW_HARDENING_NEEDED:
        return "SWHardeningNeeded";
    case ARCA_TCB_CONFIGURATION_NEEDED:
        return "ConfigurationNeeded";
    case ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
        return "ConfigurationAndSWHardeningNeeded";
    case ARCA_TCB_OUT_OF_DATE:
        return "OutOfDate";
    case ARCA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED:
        return "OutOfDateConfigurationNeeded";
    case ARCA_TCB_REVOKED:
        return "Revoked";
    case ARCA_TCB_UNKNOWN:
    default:
        return "Unknown";
    }
}
