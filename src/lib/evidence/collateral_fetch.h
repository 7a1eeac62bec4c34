/*
 * Intel PCS / PCCS collateral fetch (API v4) with an on-disk cache.
 *
 * For a (TEE, FMSPC, PCK CA) the cache holds one combined collateral JSON (collateral.h format:
 * TCB Info, QE Identity, both CRLs and issuer chains). A cached entry is served while now is
 * before its earliest nextUpdate minus refresh_before; after that a fetch is attempted and, if
 * the service is unreachable, rate limiting (HTTP 429) or failing, the cached entry keeps being
 * served (the verifier then decides whether it is still inside its validity window). Entries
 * are written atomically (temporary file + rename).
 */
#ifndef ARCA_EVIDENCE_COLLATERAL_FETCH_H
#define ARCA_EVIDENCE_COLLATERAL_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "evidence/collateral.h"

#define ARCA_PCS_DEFAULT_URL "https://api.trustedservices.intel.com"
#define ARCA_PCS_ROOT_CRL_URL "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

struct arca_pcs {
    const char *base_url;   /* NULL = ARCA_PCS_DEFAULT_URL; a PCCS: "https://pccs:8081" */
    const char *cache_dir;  /* NULL = no cache (always fetch) */
    long timeout_secs;      /* per request; 0 = 20 */
    int64_t refresh_before; /* refresh this long before expiry; 0 = 1 day */
    const char *api_key;    /* optional Ocp-Apim-Subscription-Key (not needed for v4 collateral) */
};

/*
 * Fills *out (initialised by the caller, freed with arca_dcap_collateral_free) with the
 * collateral for an SGX (tdx false) or TDX quote of the platform fmspc whose PCK is issued by
 * the "platform" or "processor" CA. now decides freshness. ARCA_ERR_NETWORK / ARCA_ERR_LIMIT
 * only when nothing usable is cached; *out is unchanged on failure.
 */
int arca_pcs_collateral_get(const struct arca_pcs *pcs, bool tdx, const uint8_t fmspc[6],
                            const char *ca, int64_t now, struct arca_dcap_collateral *out);

/* The cache file path for an entry (appended to out). */
int arca_pcs_cache_path(const struct arca_pcs *pcs, bool tdx, const uint8_t fmspc[6],
                        const char *ca, struct arca_buf *out);

/* Earliest nextUpdate over the collateral's documents and CRLs (0 if it holds none). */
int arca_dcap_collateral_expiry(const struct arca_dcap_collateral *c, int64_t *expiry);

#endif
