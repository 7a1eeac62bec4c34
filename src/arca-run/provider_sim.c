/*
 * The INSECURE simulation TEE provider: evidence signed by the host's simulation platform key
 * over the program's measurement (src/lib/evidence/sim.h). Anyone who can read the platform
 * directory can forge such evidence; arcad accepts it only when explicitly allowed.
 */
#include "arcarun.h"

#include "base/err.h"
#include "base/log.h"
#include "evidence/sim.h"

int arcarun_provider_sim_evidence(const struct arcarun_provider_opts *opts,
                                  const uint8_t report_data[64], struct arcarun_evidence *out)
{
    ARCA_ENSURE_REF(opts);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(opts->measurement != NULL, ARCA_ERR_INVALID_ARG,
                "sim provider: no program measurement");
    struct arca_sim_platform *plat = NULL;
    /* The sim module's details already say "simulation TEE (INSECURE)". */
    int rc = arca_sim_platform_open(opts->sim_dir, &plat);
    if (rc < 0)
        return rc;
    arca_warn("arca-run", "using the INSECURE simulation TEE (platform %s): for development only",
              arca_sim_platform_dir(plat));
    rc = arca_sim_evidence_make(plat, opts->measurement, report_data, &out->ev);
    arca_sim_platform_free(plat);
    if (rc < 0)
        return rc;
    out->type = ARCA_EVIDENCE_SIM;
    return 0;
}
