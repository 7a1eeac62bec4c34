/* Appraisal of verified claims against a policy (appraise.h). */
#include "evidence/appraise.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"

static const struct {
    uint32_t bit;
    const char *advisory;
} shortcuts[] = {
    {ARCA_TOLERATE_HYPERTHREADING, "INTEL-SA-00161"},
    {ARCA_TOLERATE_HYPERTHREADING, "INTEL-SA-00233"},
    {ARCA_TOLERATE_INSECURE_IGPU, "INTEL-SA-00219"},
    {ARCA_TOLERATE_AEPIC_LEAK, "INTEL-SA-00657"},
};

static bool advisory_ignored(const struct arca_security *s, const char *id)
{
    if (s->ignore_all_advisories)
        return true;
    for (size_t i = 0; i < s->n_ignore_advisories; i++)
        if (s->ignore_advisories[i].s && strcmp(s->ignore_advisories[i].s, id) == 0)
            return true;
    for (size_t i = 0; i < sizeof shortcuts / sizeof shortcuts[0]; i++)
        if ((s->tolerate & shortcuts[i].bit) && strcmp(shortcuts[i].advisory, id) == 0)
            return true;
    return false;
}

int arca_appraise_tcb(const struct arca_claims *c, const struct arca_security *s)
{
    uint32_t need = 0;
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(s);

    if (c->debug && !(s->tolerate & ARCA_TOLERATE_DEBUG_MODE))
        ARCA_BAIL(ARCA_ERR_POLICY,
                  "the %s runs in DEBUG mode, which is not tolerated (security.attestation."
                  "tolerate: %s; never in production)",
                  c->type == ARCA_EVIDENCE_TDX   ? "TD"
                  : c->type == ARCA_EVIDENCE_SNP ? "VM"
                                                 : "enclave",
                  arca_tolerate_name(ARCA_TOLERATE_DEBUG_MODE));
    switch (c->tcb_status) {
    case ARCA_TCB_UP_TO_DATE:
        return 0; /* advisories of an up-to-date level need no tolerance */
    case ARCA_TCB_SW_HARDENING_NEEDED:
        need = ARCA_TOLERATE_SW_HARDENING_NEEDED;
        break;
    case ARCA_TCB_CONFIGURATION_NEEDED:
        need = ARCA_TOLERATE_INSECURE_CONFIGURATION;
        break;
    case ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
        need = ARCA_TOLERATE_INSECURE_CONFIGURATION | ARCA_TOLERATE_SW_HARDENING_NEEDED;
        break;
    case ARCA_TCB_OUT_OF_DATE:
        need = ARCA_TOLERATE_OUTDATED_TCB;
        break;
    case ARCA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED:
        need = ARCA_TOLERATE_OUTDATED_TCB | ARCA_TOLERATE_INSECURE_CONFIGURATION;
        break;
    case ARCA_TCB_REVOKED:
        ARCA_BAIL(ARCA_ERR_POLICY, "TCB status Revoked is never tolerable");
    case ARCA_TCB_UNKNOWN:
    default:
        ARCA_BAIL(ARCA_ERR_POLICY, "TCB status is unknown, which is never tolerable");
    }
    uint32_t missing = need & ~s->tolerate;
    if (missing) {
        /* the names come from the one table (arca_tolerate_name); this is only their order */
        static const uint32_t order[] = {ARCA_TOLERATE_OUTDATED_TCB,
                                         ARCA_TOLERATE_INSECURE_CONFIGURATION,
                                         ARCA_TOLERATE_SW_HARDENING_NEEDED};
        char names[128];
        size_t off = 0;
        names[0] = 0;
        for (size_t i = 0; i < sizeof order / sizeof order[0] && off < sizeof names; i++)
            if (missing & order[i]) {
                int w =
                    snprintf(names + off, sizeof names - off, " %s", arca_tolerate_name(order[i]));
                if (w > 0)
                    off += (size_t)w;
            }
        ARCA_BAIL(ARCA_ERR_POLICY,
                  "TCB status %s is not tolerated (security.attestation.tolerate needs%s)",
                  arca_tcb_status_name(c->tcb_status), names);
    }
    for (unsigned i = 0; i < c->advisory_count; i++)
        if (!advisory_ignored(s, c->advisories[i]))
            ARCA_BAIL(ARCA_ERR_POLICY,
                      "TCB status %s with advisory %s, which is not ignored "
                      "(security.attestation.ignore_advisories)",
                      arca_tcb_status_name(c->tcb_status), c->advisories[i]);
    return 0;
}

/* Appends why the variant fails to why[]; returns true if it matches. */
static bool variant_matches(const struct arca_claims *c, const struct arca_security *s,
                            const struct arca_att_variant *v, char *why, size_t whylen)
{
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(why, whylen, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)
    bool sgx_variant = v->n_mrenclave > 0 || v->has_signer;
    switch (c->type) {
    case ARCA_EVIDENCE_SGX_DCAP:
        if (!sgx_variant || v->has_tdx || v->has_snp || v->has_sim)
            FAIL("not an SGX variant");
        break;
    case ARCA_EVIDENCE_TDX:
        if (!v->has_tdx)
            FAIL("not a tdx variant");
        break;
    case ARCA_EVIDENCE_SNP:
        if (!v->has_snp)
            FAIL("not an snp variant");
        break;
    case ARCA_EVIDENCE_SIM:
        if (s->mode != ARCA_ATT_MODE_SIMULATION)
            FAIL("simulated evidence needs security.attestation.mode: simulation");
        if (v->has_sim) {
            if (memcmp(v->sim_measurement, c->mrenclave, 32) != 0)
                FAIL("simulation measurement differs");
            return true;
        }
        if (v->n_mrenclave == 0 || v->has_signer || v->has_tdx || v->has_snp)
            FAIL("not a simulation or mrenclave-only variant");
        break;
    default:
        FAIL("evidence type unknown");
    }

    if (c->type == ARCA_EVIDENCE_SGX_DCAP || c->type == ARCA_EVIDENCE_SIM) {
        if (v->n_mrenclave) {
            bool any = false;
            for (size_t i = 0; i < v->n_mrenclave && !any; i++)
                any = memcmp(v->mrenclave[i].v, c->mrenclave, 32) == 0;
            if (!any) {
                char h[65];
                arca_hex_fmt(h, c->mrenclave, 32);
                FAIL("MRENCLAVE %s is not listed", h);
            }
        }
        if (v->has_signer) {
            const struct arca_sgx_signer *g = &v->signer;
            if (memcmp(g->mrsigner, c->mrsigner, 32) != 0)
                FAIL("MRSIGNER differs");
            if (g->isvprodid != c->isv_prod_id)
                FAIL("ISVPRODID %u, want %u", c->isv_prod_id, g->isvprodid);
            if (g->has_isvsvn && c->isv_svn != g->isvsvn)
                FAIL("ISVSVN %u, want %u", c->isv_svn, g->isvsvn);
            if (g->has_isvsvn_min && c->isv_svn < g->isvsvn_min)
                FAIL("ISVSVN %u below isvsvn_min %u", c->isv_svn, g->isvsvn_min);
            if (g->has_isvsvn_max && c->isv_svn > g->isvsvn_max)
                FAIL("ISVSVN %u above isvsvn_max %u", c->isv_svn, g->isvsvn_max);
        }
        return true;
    }
    if (c->type == ARCA_EVIDENCE_TDX) {
        const struct arca_tdx_factor *t = &v->tdx;
        if (memcmp(t->mrtd, c->mrtd, 48) != 0)
            FAIL("MRTD differs");
        for (int i = 0; i < 4; i++)
            if (t->has_rtmr[i] && memcmp(t->rtmr[i], c->rtmr[i], 48) != 0)
                FAIL("RTMR%d differs", i);
        if (t->has_mrconfigid && memcmp(t->mrconfigid, c->mrconfigid, 48) != 0)
            FAIL("MRCONFIGID differs");
        if (t->has_mrowner && memcmp(t->mrowner, c->mrowner, 48) != 0)
            FAIL("MROWNER differs");
        return true;
    }
    /* SNP */
    const struct arca_snp_factor *f = &v->snp;
    if (memcmp(f->measurement, c->measurement, 48) != 0)
        FAIL("MEASUREMENT differs");
    if (f->has_host_data && memcmp(f->host_data, c->host_data, 32) != 0)
        FAIL("HOST_DATA differs");
    if (f->has_min_tcb) {
        /* TCB_VERSION bytes: 0 boot loader, 1 TEE, 6 SNP, 7 microcode (little-endian u64). */
        static const struct {
            int shift;
            const char *name;
        } spl[] = {{0, "bootloader"}, {8, "tee"}, {48, "snp"}, {56, "microcode"}};
        for (size_t i = 0; i < 4; i++) {
            unsigned have = (unsigned)(c->reported_tcb >> spl[i].shift) & 0xff;
            unsigned want = (unsigned)(f->min_tcb >> spl[i].shift) & 0xff;
            if (have < want)
                FAIL("REPORTED_TCB %s SVN %u below min_tcb %u", spl[i].name, have, want);
        }
    }
    return true;
#undef FAIL
}

int arca_appraise(const struct arca_claims *c, const struct arca_security *s,
                  const struct arca_att_variant *variants, size_t n, size_t *matched)
{
    struct arca_buf why;
    char one[160];
    int rc;

    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(s);
    if (c->type == ARCA_EVIDENCE_SIM && s->mode != ARCA_ATT_MODE_SIMULATION)
        ARCA_BAIL(ARCA_ERR_INSECURE, "simulated evidence is refused: the session does not set "
                                     "security.attestation.mode: simulation");
    if (c->type != ARCA_EVIDENCE_SIM)
        ARCA_TRY(arca_appraise_tcb(c, s));
    ARCA_ENSURE(n > 0 && variants != NULL, ARCA_ERR_POLICY,
                "the service has no attestation variant");
    arca_buf_init(&why, 400);
    for (size_t i = 0; i < n; i++) {
        one[0] = 0;
        if (variant_matches(c, s, &variants[i], one, sizeof one)) {
            arca_buf_free(&why);
            if (matched)
                *matched = i;
            return 0;
        }
        /* Best effort: the detail is bounded, later variants may be cut. */
        (void)arca_buf_printf(&why, "%s variant %zu (line %u): %s", i ? ";" : "", i + 1,
                              (unsigned)variants[i].pos.line, one);
    }
    rc = arca_err_set(ARCA_ERR_POLICY, "no attestation variant matches:%s", arca_buf_cstr(&why));
    arca_buf_free(&why);
    return rc;
}
