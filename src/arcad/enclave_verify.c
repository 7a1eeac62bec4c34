/*
 * One door to the evidence verifiers (enclave_verify.h).
 */
#include "enclave_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "evidence/collateral.h"
#include "evidence/collateral_fetch.h"
#include "evidence/dcap_quote.h"
#include "evidence/dcap_verify.h"
#include "evidence/pck.h"
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

int enclave_collateral_load(const char *path, struct arca_dcap_collateral **out)
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

void enclave_collateral_free(struct arca_dcap_collateral *col)
{
    if (col == NULL)
        return;
    arca_dcap_collateral_free(col);
    free(col);
}

/* Fetches (or reads from the on-disk cache) the collateral for the quote's platform: FMSPC from
 * the PCK certificate, the PCK CA ("processor" or "platform") from its issuer's name. */
static int dcap_fetch(const struct enclave_verify_cfg *cfg, const void *ev, size_t n, int64_t now,
                      struct arca_dcap_collateral *col)
{
    struct arca_dcap_quote q;
    ARCA_TRY(arca_dcap_quote_parse(ev, n, &q));
    struct arca_x509 **list = NULL;
    size_t nl = 0;
    ARCA_TRY(arca_x509_list_from_pem(q.cert_data, q.cert_len, &list, &nl));
    struct arca_pck_ext ext;
    struct arca_buf cn;
    arca_buf_init(&cn, 4096);
    int rc = nl >= 2 ? arca_pck_ext_from_cert(list[0], &ext)
                     : arca_err_set(ARCA_ERR_CERT, "quote: PCK chain too short");
    if (rc == 0)
        rc = arca_x509_subject_cn(list[1], &cn);
    if (rc == 0) {
        struct arca_pcs pcs = {.base_url = cfg->pcs_url, .cache_dir = cfg->pcs_cache_dir};
        const char *ca = strstr(arca_buf_cstr(&cn), "Processor") ? "processor" : "platform";
        if (cfg->fetch_lock != NULL)
            pthread_mutex_lock(cfg->fetch_lock);
        rc = arca_pcs_collateral_get(&pcs, q.body_type != ARCA_DCAP_BODY_SGX, ext.fmspc, ca, now,
                                     col);
        if (cfg->fetch_lock != NULL)
            pthread_mutex_unlock(cfg->fetch_lock);
        if (rc < 0)
            rc = arca_err_wrap(rc, "collateral from %s", cfg->pcs_url);
    }
    arca_buf_free(&cn);
    arca_x509_list_free(list, nl);
    return rc;
}

/* Errors after which collateral from the PCS may do better than the configured one: TCB Info
 * of another platform (CONFLICT), no matching TCB level (NOT_FOUND), outdated (EXPIRED), or
 * CRLs of the other PCK CA (CERT). Errors of the quote itself (signature, format, revocation)
 * are final. Fetched collateral is verified exactly as configured collateral is. */
static bool dcap_refetch_helps(int rc)
{
    return rc == ARCA_ERR_CONFLICT || rc == ARCA_ERR_NOT_FOUND || rc == ARCA_ERR_EXPIRED ||
           rc == ARCA_ERR_CERT;
}

static int verify_dcap(const struct enclave_verify_cfg *cfg, int type, const void *ev, size_t n,
                       int64_t now, struct arca_claims *claims)
{
    ARCA_ENSURE(cfg->collateral != NULL || cfg->collateral_path != NULL || cfg->pcs_url != NULL,
                ARCA_ERR_NOT_FOUND,
                "%s evidence: no DCAP collateral configured (arcad --collateral or --pcs-url, "
                "or ARCA_COLLATERAL)",
                enclave_evidence_type_name(type));
    struct arca_dcap_opts opts = {.cache = cfg->dcap_cache};
    int rc = 1; /* nothing tried yet */
    if (cfg->collateral != NULL) {
        rc = arca_dcap_verify(ev, n, cfg->collateral, &opts, now, claims, NULL);
    } else if (cfg->collateral_path != NULL) {
        struct arca_dcap_collateral col;
        arca_dcap_collateral_init(&col);
        rc = arca_dcap_collateral_load_path(&col, cfg->collateral_path);
        if (rc == 0)
            rc = arca_dcap_verify(ev, n, &col, &opts, now, claims, NULL);
        arca_dcap_collateral_free(&col);
    }
    if (cfg->pcs_url != NULL && (rc == 1 || dcap_refetch_helps(rc))) {
        char first[512] = "";
        if (rc < 0)
            snprintf(first, sizeof(first), "%s", arca_err_detail());
        struct arca_dcap_collateral col;
        arca_dcap_collateral_init(&col);
        rc = dcap_fetch(cfg, ev, n, now, &col);
        if (rc == 0)
            rc = arca_dcap_verify(ev, n, &col, &opts, now, claims, NULL);
        arca_dcap_collateral_free(&col);
        if (rc < 0 && first[0] != '\0') {
            char second[512];
            snprintf(second, sizeof(second), "%s", arca_err_detail());
            rc = arca_err_set(rc, "%s (configured collateral: %s)", second, first);
        }
    }
    if (rc == 0 && (int)claims->type != type)
        rc = arca_err_set(ARCA_ERR_FORMAT, "evidence_type %s but the quote is %s",
                          enclave_evidence_type_name(type),
                          enclave_evidence_type_name((int)claims->type));
    return rc < 0 ? arca_err_wrap(rc, "%s evidence", enclave_evidence_type_name(type)) : 0;
}

/* GUIDs of the extended-report certificate table, in their textual (big-endian) order. */
static const struct {
    const char *name;
    uint8_t guid[16];
    bool key;
} snp_guids[] = {
    {"VCEK",
     {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac,
      0xcd},
     true},
    {"VLEK",
     {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8,
      0xa1},
     true},
    {"ASK",
     {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7,
      0x82},
     false},
    {"ARK",
     {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0,
      0xae},
     false},
};

/* A GUID as stored (little-endian first three fields, as UEFI does) or in textual order. */
static int snp_guid_index(const uint8_t g[16])
{
    for (size_t i = 0; i < sizeof(snp_guids) / sizeof(snp_guids[0]); i++) {
        const uint8_t *t = snp_guids[i].guid;
        uint8_t le[16] = {t[3], t[2], t[1], t[0], t[5], t[4], t[7], t[6]};
        memcpy(le + 8, t + 8, 8);
        if (memcmp(g, t, 16) == 0 || memcmp(g, le, 16) == 0)
            return (int)i;
    }
    return -1;
}

int enclave_snp_certs_from_table(const void *aux, size_t n, struct arca_snp_certs *certs)
{
    ARCA_ENSURE_REF(certs);
    struct arca_cur c;
    arca_cur_init(&c, aux, n);
    for (unsigned entry = 0;; entry++) {
        ARCA_ENSURE(entry < 64, ARCA_ERR_FORMAT, "snp certificate table: more than 64 entries");
        const uint8_t *guid;
        uint32_t off = 0, len = 0;
        if (arca_cur_get_ptr(&c, &guid, 16) < 0 || arca_cur_get_u32le(&c, &off) < 0 ||
            arca_cur_get_u32le(&c, &len) < 0)
            ARCA_BAIL(ARCA_ERR_TRUNCATED, "snp certificate table: entry %u truncated", entry);
        static const uint8_t zero[16];
        if (memcmp(guid, zero, 16) == 0 && off == 0 && len == 0)
            return 0;
        ARCA_ENSURE(off <= n && len <= n - off && len > 0, ARCA_ERR_FORMAT,
                    "snp certificate table: entry %u points outside the table", entry);
        int which = snp_guid_index(guid);
        if (which < 0)
            continue; /* other certificates (e.g. CRLs) are not needed */
        const uint8_t *der = (const uint8_t *)aux + off;
        int rc = snp_guids[which].key ? arca_snp_certs_load_key(certs, der, len)
                                      : arca_snp_certs_load_chain(certs, der, len);
        if (rc < 0)
            return arca_err_wrap(rc, "snp certificate table: %s", snp_guids[which].name);
    }
}

static int verify_snp(const struct enclave_verify_cfg *cfg, const void *ev, size_t n,
                      const void *aux, size_t auxn, int64_t now, struct arca_claims *claims)
{
    ARCA_ENSURE(cfg->snp_certs_path != NULL || cfg->kds_url != NULL || auxn > 0, ARCA_ERR_NOT_FOUND,
                "snp evidence: no VCEK: the launcher sent no certificate table (auxblob) and "
                "none is configured (arcad --snp-certs or --kds-url, or ARCA_SNP_CERTS)");
    struct arca_snp_certs certs;
    memset(&certs, 0, sizeof(certs));
    int rc = 0;
    if (auxn > 0)
        rc = enclave_snp_certs_from_table(aux, auxn, &certs);
    if (rc == 0 && cfg->snp_certs_path != NULL)
        rc = arca_snp_certs_load_dir(&certs, cfg->snp_certs_path);
    if (rc == 0 && certs.key == NULL && cfg->kds_url != NULL) {
        /* VCEKs never change for a (chip, TCB): after the first fetch this reads the cache. */
        struct arca_snp_kds kds = {.base_url = cfg->kds_url, .cache_dir = cfg->kds_cache_dir};
        if (cfg->fetch_lock != NULL)
            pthread_mutex_lock(cfg->fetch_lock);
        rc = arca_snp_certs_fetch(&kds, ev, n, ARCA_SNP_PRODUCT_UNKNOWN, now, &certs);
        if (cfg->fetch_lock != NULL)
            pthread_mutex_unlock(cfg->fetch_lock);
        if (rc < 0)
            rc = arca_err_wrap(rc, "VCEK from %s", cfg->kds_url);
    }
    if (rc == 0 && certs.key == NULL)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "no VCEK or VLEK in the certificate table");
    /* The ARK is always checked against the pinned AMD roots by arca_snp_verify. */
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
        rc = verify_snp(cfg, ev, n, aux, auxn, now, claims);
        break;
    default:
        rc = arca_err_set(ARCA_ERR_UNSUPPORTED, "evidence type %d is not supported", type);
    }
    if (rc < 0)
        memset(claims, 0, sizeof(*claims));
    return rc;
}
