/*
 * One door to the evidence verifiers (enclave_verify.h).
 */
#include "enclave_verify.h"

#include <string.h>

#include "base/err.h"
#include "evidence/collateral.h"
#include "evidence/dcap_verify.h"
#include "evidence/sim.h"
#include "evidence/snp.h"

const char *enclave_evidence_type_name(int type)
{
    switch (type) {
    case ARCA_EVIDENCE_SIM:
        return "sim";
    case ARCA_EVIDENCE_SGX_DCAP:
        return "sgx-dcap";
    case ARCA_EVIDENCE_TDX:
        return "tdx";
    case ARCA_EVIDENCE_SNP:
        return "snp";
    default:
        return "none";
    }
}

int enclave_evidence_type_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int t = ARCA_EVIDENCE_SIM; t <= ARCA_EVIDENCE_SNP; t++)
        if (strcmp(s, enclave_evidence_type_name(t)) == 0)
            return t;
    return -1;
}

static int verify_dcap(const struct enclave_verify_cfg *cfg, int type, const void *ev, size_t n,
                       int64_t now, struct arca_claims *claims)
{
    ARCA_ENSURE(cfg->collateral_path != NULL, ARCA_ERR_NOT_FOUND,
                "%s evidence: no DCAP collateral configured (ARCA_COLLATERAL)",
                enclave_evidence_type_name(type));
    struct arca_dcap_collateral col;
    arca_dcap_collateral_init(&col);
    int rc = arca_dcap_collateral_load_path(&col, cfg->collateral_path);
    if (rc == 0) {
        struct arca_dcap_opts opts = {0};
        rc = arca_dcap_verify(ev, n, &col, &opts, now, claims, NULL);
    }
    arca_dcap_collateral_free(&col);
    if (rc == 0 && (int)claims->type != type)
        rc = arca_err_set(ARCA_ERR_FORMAT, "evidence_type %s but the quote is %s",
                          enclave_evidence_type_name(type),
                          enclave_evidence_type_name((int)claims->type));
    return rc < 0 ? arca_err_wrap(rc, "%s evidence", enclave_evidence_type_name(type)) : 0;
}

static int verify_snp(const struct enclave_verify_cfg *cfg, const void *ev, size_t n, int64_t now,
                      struct arca_claims *claims)
{
    ARCA_ENSURE(cfg->snp_certs_path != NULL, ARCA_ERR_NOT_FOUND,
                "snp evidence: no VCEK/ASK/ARK configured (ARCA_SNP_CERTS)");
    struct arca_snp_certs certs;
    memset(&certs, 0, sizeof(certs));
    int rc = arca_snp_certs_load_dir(&certs, cfg->snp_certs_path);
    if (rc == 0)
        rc = arca_snp_verify(ev, n, &certs, now, claims);
    arca_snp_certs_clear(&certs);
    return rc < 0 ? arca_err_wrap(rc, "snp evidence") : 0;
}

int enclave_evidence_verify(const struct enclave_verify_cfg *cfg, int type, const void *ev,
                            size_t n, const void *aux, size_t auxn, int64_t now,
                            struct arca_claims *claims)
{
    ARCA_ENSURE_REF(cfg);
    ARCA_ENSURE_REF(claims);
    ARCA_ENSURE(ev != NULL && n > 0, ARCA_ERR_FORMAT, "evidence: empty");
    (void)aux;
    (void)auxn;
    memset(claims, 0, sizeof(*claims));
    int rc;
    switch (type) {
    case ARCA_EVIDENCE_SIM:
        ARCA_ENSURE(cfg->allow_simulation, ARCA_ERR_INSECURE,
                    "simulated evidence refused: arcad was not started with --allow-simulation "
                    "(the simulation TEE is INSECURE)");
        rc = arca_sim_evidence_verify(ev, n, claims);
        if (rc < 0)
            rc = arca_err_wrap(rc, "sim evidence");
        break;
    case ARCA_EVIDENCE_SGX_DCAP:
    case ARCA_EVIDENCE_TDX:
        rc = verify_dcap(cfg, type, ev, n, now, claims);
        break;
    case ARCA_EVIDENCE_SNP:
        rc = verify_snp(cfg, ev, n, now, claims);
        break;
    default:
        rc = arca_err_set(ARCA_ERR_UNSUPPORTED, "evidence type %d is not supported", type);
    }
    if (rc < 0)
        memset(claims, 0, sizeof(*claims));
    return rc;
}
