/*
 * One door to the evidence verifiers (verify.h).
 */
#include "attest/verify.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "evidence/collateral.h"
#include "evidence/sim.h"
#include "evidence/snp.h"

int arca_attest_collateral_load(const char *path, struct arca_dcap_collateral **out)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(out);
    *out = NULL;
    struct arca_dcap_collateral *col = calloc(1, sizeof(*col));
    ARCA_ENSURE(col != NULL, ARCA_ERR_ALLOC, "collateral: out of memory");
    arca_dcap_collateral_init(col);
    int rc = arca_dcap_collateral_load_path(col, path);
    if (rc < 0) {
        arca_dcap_collateral_free(col);
        free(col);
        return arca_err_wrap(rc, "collateral %s", path);
    }
    *out = col;
    return 0;
}

void arca_attest_collateral_free(struct arca_dcap_collateral *col)
{
    if (col == NULL)
        return;
    arca_dcap_collateral_free(col);
    free(col);
}

static int verify_dcap(const struct arca_attest_verify_cfg *cfg, int type, const void *ev, size_t n,
                       int64_t now, struct arca_claims *claims)
{
    struct arca_evidence_sources cur; /* as of this call: SIGHUP may swap the sources */
    arca_evidence_sources_snapshot(&cfg->sources, &cur);
    const struct arca_evidence_sources *src = &cur;
    const char *name = arca_evidence_type_name((enum arca_evidence_type)type);
    ARCA_ENSURE(src->collateral != NULL || src->n_collateral_paths > 0 || src->pcs_fetch,
                ARCA_ERR_NOT_FOUND,
                "%s evidence: no DCAP collateral configured (arcad --collateral or --pcs-url, "
                "or ARCA_COLLATERAL)",
                name);
    int rc = arca_evidence_verify_dcap(src, ev, n, now, claims, NULL);
    if (rc == 0 && (int)claims->type != type)
        rc = arca_err_set(ARCA_ERR_FORMAT, "evidence_type %s but the quote is %s", name,
                          arca_evidence_type_name(claims->type));
    return rc < 0 ? arca_err_wrap(rc, "%s evidence", name) : 0;
}

static int verify_snp(const struct arca_attest_verify_cfg *cfg, const void *ev, size_t n,
                      const void *aux, size_t auxn, int64_t now, struct arca_claims *claims)
{
    struct arca_evidence_sources cur; /* as of this call: SIGHUP may swap the sources */
    arca_evidence_sources_snapshot(&cfg->sources, &cur);
    const struct arca_evidence_sources *src = &cur;
    ARCA_ENSURE(src->n_snp_paths > 0 || src->kds_fetch || auxn > 0, ARCA_ERR_NOT_FOUND,
                "snp evidence: no VCEK: the launcher sent no certificate table (auxblob) and "
                "none is configured (arcad --snp-certs or --kds-url, or ARCA_SNP_CERTS)");
    struct arca_snp_certs certs;
    memset(&certs, 0, sizeof(certs));
    int rc = 0;
    if (auxn > 0)
        rc = arca_attest_snp_table_load(aux, auxn, &certs);
    if (rc == 0)
        rc = arca_evidence_verify_snp(src, ev, n, &certs, now, claims);
    arca_snp_certs_clear(&certs);
    return rc < 0 ? arca_err_wrap(rc, "snp evidence") : 0;
}

int arca_attest_evidence_verify(const struct arca_attest_verify_cfg *cfg, int type, const void *ev,
                                size_t n, const void *aux, size_t auxn, int64_t now,
                                struct arca_claims *claims)
{
    ARCA_ENSURE_REF(cfg);
    ARCA_ENSURE_REF(claims);
    ARCA_ENSURE(ev != NULL && n > 0, ARCA_ERR_FORMAT, "evidence: empty");
    memset(claims, 0, sizeof(*claims));
    int rc;
    switch (type) {
    case ARCA_EVIDENCE_SIM:
        ARCA_ENSURE(cfg->allow_simulation, ARCA_ERR_INSECURE,
                    "simulated evidence refused: arcad was not started with --allow-simulation "
                    "(the simulation TEE is INSECURE)");
        rc = arca_sim_evidence_verify_cached(cfg->sim_keys, ev, n, claims);
        if (rc < 0)
            rc = arca_err_wrap(rc, "sim evidence");
        break;
    case ARCA_EVIDENCE_SGX_DCAP:
    case ARCA_EVIDENCE_TDX:
        rc = verify_dcap(cfg, type, ev, n, now, claims);
        break;
    case ARCA_EVIDENCE_SNP:
        rc = verify_snp(cfg, ev, n, aux, auxn, now, claims);
        break;
    default:
        rc = arca_err_set(ARCA_ERR_UNSUPPORTED, "evidence type %d is not supported", type);
    }
    if (rc < 0)
        memset(claims, 0, sizeof(*claims));
    return rc;
}
