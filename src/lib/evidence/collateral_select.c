/*
 * Collateral selection (collateral_select.h).
 */
#include "evidence/collateral_select.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "evidence/collateral.h"
#include "evidence/collateral_fetch.h"
#include "evidence/dcap_quote.h"
#include "evidence/pck.h"
#include "evidence/snp.h"

static void fetch_lock(const struct arca_evidence_sources *src)
{
    if (src->fetch_lock != NULL)
        pthread_mutex_lock(src->fetch_lock);
}

static void fetch_unlock(const struct arca_evidence_sources *src)
{
    if (src->fetch_lock != NULL)
        pthread_mutex_unlock(src->fetch_lock);
}

void arca_evidence_sources_snapshot(const struct arca_evidence_sources *src,
                                    struct arca_evidence_sources *out)
{
    if (src->swap_lock != NULL)
        pthread_rwlock_rdlock(src->swap_lock);
    *out = *src;
    if (src->swap_lock != NULL)
        pthread_rwlock_unlock(src->swap_lock);
}

/* Fetches (or reads from the on-disk cache) the collateral for the quote's platform: FMSPC from
 * the PCK certificate, the PCK CA ("processor" or "platform") from its issuer's name. */
static int pcs_fetch(const struct arca_evidence_sources *src, const void *q, size_t n, int64_t now,
                     struct arca_dcap_collateral *col)
{
    struct arca_dcap_quote quote;
    ARCA_TRY(arca_dcap_quote_parse(q, n, &quote));
    struct arca_x509 **list = NULL;
    size_t nl = 0;
    ARCA_TRY(arca_x509_list_from_pem(quote.cert_data, quote.cert_len, &list, &nl));
    struct arca_pck_ext ext;
    struct arca_buf cn;
    arca_buf_init(&cn, 4096);
    int rc = nl >= 2 ? arca_pck_ext_from_cert(list[0], &ext)
                     : arca_err_set(ARCA_ERR_CERT, "quote: PCK chain too short");
    if (rc == 0)
        rc = arca_x509_subject_cn(list[1], &cn);
    if (rc == 0) {
        struct arca_pcs pcs = {.base_url = src->pcs_url, .cache_dir = src->pcs_cache_dir};
        const char *ca = strstr(arca_buf_cstr(&cn), "Processor") ? "processor" : "platform";
        fetch_lock(src);
        rc = arca_pcs_collateral_get(&pcs, quote.body_type != ARCA_DCAP_BODY_SGX, ext.fmspc, ca,
                                     now, col);
        fetch_unlock(src);
        if (rc < 0)
            rc = arca_err_wrap(rc, "collateral from %s",
                               src->pcs_url ? src->pcs_url : ARCA_PCS_DEFAULT_URL);
    }
    arca_buf_free(&cn);
    arca_x509_list_free(list, nl);
    return rc;
}

/* Errors after which collateral from the PCS may do better than the configured one: TCB Info
 * of another platform (CONFLICT), no matching TCB level (NOT_FOUND), outdated (EXPIRED), or
 * CRLs of the other PCK CA (CERT). */
static bool refetch_helps(int rc)
{
    return rc == ARCA_ERR_CONFLICT || rc == ARCA_ERR_NOT_FOUND || rc == ARCA_ERR_EXPIRED ||
           rc == ARCA_ERR_CERT;
}

int arca_evidence_verify_dcap(const struct arca_evidence_sources *src, const void *quote, size_t n,
                              int64_t now, struct arca_claims *claims,
                              struct arca_dcap_report *report)
{
    ARCA_ENSURE_REF(src);
    ARCA_ENSURE_REF(claims);
    int rc = 1; /* nothing tried yet */
    if (src->collateral != NULL) {
        rc = arca_dcap_verify(quote, n, src->collateral, &src->dcap, now, claims, report);
    } else if (src->n_collateral_paths > 0) {
        struct arca_dcap_collateral col;
        arca_dcap_collateral_init(&col);
        rc = 0;
        for (size_t i = 0; rc == 0 && i < src->n_collateral_paths; i++)
            rc = arca_dcap_collateral_load_path(&col, src->collateral_paths[i]);
        if (rc == 0)
            rc = arca_dcap_verify(quote, n, &col, &src->dcap, now, claims, report);
        arca_dcap_collateral_free(&col);
    }
    if (src->pcs_fetch && (rc == 1 || refetch_helps(rc))) {
        char first[512] = "";
        if (rc < 0)
            snprintf(first, sizeof(first), "%s", arca_err_detail());
        struct arca_dcap_collateral col;
        arca_dcap_collateral_init(&col);
        rc = pcs_fetch(src, quote, n, now, &col);
        if (rc == 0)
            rc = arca_dcap_verify(quote, n, &col, &src->dcap, now, claims, report);
        arca_dcap_collateral_free(&col);
        if (rc < 0 && first[0] != '\0') {
            char second[512];
            snprintf(second, sizeof(second), "%s", arca_err_detail());
            rc = arca_err_set(rc, "%s (configured collateral: %s)", second, first);
        }
    }
    if (rc == 1)
        ARCA_BAIL(ARCA_ERR_NOT_FOUND, "no DCAP collateral");
    return rc;
}

int arca_evidence_verify_snp(const struct arca_evidence_sources *src, const void *report, size_t n,
                             struct arca_snp_certs *certs, int64_t now, struct arca_claims *claims)
{
    ARCA_ENSURE_REF(src);
    ARCA_ENSURE_REF(certs);
    ARCA_ENSURE_REF(claims);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < src->n_snp_paths; i++) {
        const char *p = src->snp_paths[i];
        struct stat st;
        bool dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        rc = dir ? arca_snp_certs_load_dir(certs, p) : arca_snp_certs_load_file(certs, p);
    }
    if (rc == 0 && certs->key == NULL && src->kds_fetch) {
        /* VCEKs never change for a (chip, TCB): after the first fetch this reads the cache. */
        struct arca_snp_kds kds = {.base_url = src->kds_url, .cache_dir = src->kds_cache_dir};
        if (kds.cache_dir != NULL)
            (void)arca_mkdirs(kds.cache_dir, 0700); /* the fetcher reports what fails */
        fetch_lock(src);
        rc = arca_snp_certs_fetch(&kds, report, n, ARCA_SNP_PRODUCT_UNKNOWN, now, certs);
        fetch_unlock(src);
        if (rc < 0)
            rc = arca_err_wrap(rc, "VCEK from %s",
                               src->kds_url ? src->kds_url : "https://kdsintf.amd.com");
    }
    if (rc == 0 && certs->key == NULL)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND,
                          "no VCEK or VLEK in the certificate table or the collateral given");
    /* The ARK is always checked against the pinned AMD roots by arca_snp_verify. */
    if (rc == 0)
        rc = arca_snp_verify(report, n, certs, now, claims);
    return rc;
}
