/* Intel DCAP quote verification; see dcap_verify.h and attestation-evidence.md §1.7. */
#include "evidence/dcap_verify.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/dcap_internal.h"
#include "evidence/dcap_quote.h"
#include "evidence/pck.h"
#include "evidence/tcb.h"

struct vctx {
    const struct arca_dcap_quote *q;
    const struct arca_dcap_collateral *col;
    const struct arca_dcap_opts *opts;
    int64_t now;
    const struct arca_x509 *root;
    struct arca_x509 **pck; /* the quote's PEM chain */
    size_t npck;
    struct arca_key *pck_key;
    struct arca_key *ak; /* the quote's attestation key (own reference) */
    bool ak_from_cache;
    uint8_t ak_id[32]; /* its cache key (only with opts->cache) */
    struct arca_pck_ext ext;
    struct arca_tcb_info *tcb;
    struct arca_qe_identity *qe;
    int64_t expiry;
    struct arca_claims *claims;
    struct arca_dcap_report *rep;
    /* cache keys' common part (only with opts->cache) */
    uint8_t root_id[32], root_crl_id[32], pck_crl_id[32];
};

/* The pinned root, parsed once per process (read-only afterwards, never freed). */
static pthread_once_t pinned_once = PTHREAD_ONCE_INIT;
static struct arca_x509 *pinned_root;
static void pinned_init(void)
{
    if (arca_intel_sgx_root_ca(&pinned_root) < 0)
        pinned_root = NULL;
}

/* Narrows [*lo, *hi) to a certificate's validity. */
static int narrow_cert(const struct arca_x509 *c, int64_t *lo, int64_t *hi)
{
    int64_t nb, na;
    ARCA_TRY(arca_x509_validity(c, &nb, &na));
    if (nb > *lo)
        *lo = nb;
    if (na < *hi)
        *hi = na;
    return 0;
}

static int narrow_crl(const struct arca_x509_crl *crl, int64_t *lo, int64_t *hi)
{
    int64_t tu, nu;
    if (!crl)
        return 0;
    ARCA_TRY(arca_x509_crl_validity(crl, &tu, &nu));
    if (tu > *lo)
        *lo = tu;
    if (nu < *hi)
        *hi = nu;
    return 0;
}

/* SHA-256 over a domain label, the common ids and the given parts. */
static int cache_key(const struct vctx *v, const char *label, const void *a, size_t alen,
                     const void *b, size_t blen, uint8_t out[32])
{
    struct arca_hash_ctx *h = NULL;
    uint64_t lens[2] = {alen, blen};
    uint8_t flags = (uint8_t)(v->opts->allow_missing_crls ? 1 : 0);
    int rc = arca_hash_ctx_new(ARCA_SHA256, &h);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, label, strlen(label) + 1);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, v->root_id, 32);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, v->root_crl_id, 32);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, v->pck_crl_id, 32);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, &flags, 1);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, lens, sizeof lens);
    if (rc == 0 && alen)
        rc = arca_hash_ctx_update(h, a, alen);
    if (rc == 0 && blen)
        rc = arca_hash_ctx_update(h, b, blen);
    if (rc == 0)
        rc = arca_hash_ctx_final(h, out);
    arca_hash_ctx_free(h);
    return rc;
}

static void fmt_time(int64_t t, char *out)
{
    arca_time_format_rfc3339(t, out);
}

static int window(const char *what, int64_t from, int64_t until, int64_t now)
{
    if (now >= from && now < until)
        return 0;
    char a[ARCA_TIME_RFC3339_LEN], b[ARCA_TIME_RFC3339_LEN], c[ARCA_TIME_RFC3339_LEN];
    fmt_time(from, a);
    fmt_time(until, b);
    fmt_time(now, c);
    return arca_err_set(ARCA_ERR_EXPIRED, "%s is valid from %s until %s, not at %s", what, a, b, c);
}

static void note_expiry(struct vctx *v, int64_t t)
{
    if (v->expiry == 0 || t < v->expiry)
        v->expiry = t;
}

/* Step 2: quote signature by the attestation key over header (+ v5 descriptor) + body. */
/*
 * The attestation key as a key object. Making one from the raw point costs more than a
 * verification (OpenSSL validates the point), and a platform's QE signs every quote with the
 * same key, so with a cache it is looked up by the exact 64 bytes. Safe: the entry is a pure
 * function of those bytes (a public key, no trust attached; every check using it still runs),
 * and it is stored only after a whole quote verified with it (arca_dcap_verify), so made-up
 * keys cannot push the chain entries out of the LRU.
 */
static int attestation_key(struct vctx *v)
{
    if (v->opts->cache) {
        struct dcap_cache_val hit;
        ARCA_TRY(cache_key(v, "attestation-key", v->q->attestation_key, 64, NULL, 0, v->ak_id));
        if (dcap_cache_lookup(v->opts->cache, v->ak_id, v->now, &hit) && hit.pck_key != NULL) {
            v->ak = hit.pck_key;
            v->ak_from_cache = true;
            return 0;
        }
    }
    if (arca_key_from_public_raw(ARCA_KEY_P256, v->q->attestation_key, 64, &v->ak) < 0)
        ARCA_BAIL(ARCA_ERR_SIGNATURE, "quote: attestation key is not a valid P-256 point");
    return 0;
}

static int check_quote_signature(struct vctx *v)
{
    ARCA_TRY(attestation_key(v));
    int rc = arca_verify_ecdsa_raw(v->ak, ARCA_SHA256, v->q->signed_data, v->q->signed_len,
                                   v->q->signature, v->q->signature + 32, 32, false);
    if (rc < 0)
        ARCA_BAIL(ARCA_ERR_SIGNATURE,
                  "quote signature does not verify with the attestation key (header or body "
                  "altered, or wrong key)");
    return 0;
}

/* Step 3: the QE vouches for the attestation key through its REPORTDATA. */
static int check_qe_binding(struct vctx *v)
{
    uint8_t h[32];
    static const uint8_t zero[32];
    struct arca_hash_ctx *hc = NULL;
    int rc = arca_hash_ctx_new(ARCA_SHA256, &hc);
    if (rc == 0)
        rc = arca_hash_ctx_update(hc, v->q->attestation_key, 64);
    if (rc == 0 && v->q->qe_auth_len)
        rc = arca_hash_ctx_update(hc, v->q->qe_auth_data, v->q->qe_auth_len);
    if (rc == 0)
        rc = arca_hash_ctx_final(hc, h);
    arca_hash_ctx_free(hc);
    ARCA_TRY(rc);
    if (!arca_memeq(h, v->q->qe_report.reportdata, 32) ||
        !arca_memeq(zero, v->q->qe_report.reportdata + 32, 32))
        ARCA_BAIL(ARCA_ERR_SIGNATURE,
                  "QE report data does not bind the attestation key and QE authentication data "
                  "(SHA-256 mismatch)");
    return 0;
}

static int check_crl(const char *what, const struct arca_x509_crl *crl,
                     const struct arca_x509 *issuer, const char *issuer_name, int64_t now,
                     struct vctx *v)
{
    struct arca_key *k = NULL;
    int64_t tu, nu;
    int rc;
    ARCA_TRY(arca_x509_public_key(issuer, &k));
    rc = arca_x509_crl_verify_signature(crl, k);
    arca_key_free(k);
    if (rc < 0)
        ARCA_BAIL(ARCA_ERR_CERT, "%s is not signed by the %s", what, issuer_name);
    ARCA_TRY(arca_x509_crl_validity(crl, &tu, &nu));
    ARCA_TRY(window(what, tu, nu, now));
    note_expiry(v, nu);
    return 0;
}

static int check_pck_chain_uncached(struct vctx *v);

/* Steps 4-5 through the cache: a hit stands for the whole chain + CRL + extension step. */
static int check_pck_chain(struct vctx *v)
{
    uint8_t key[32];
    struct dcap_cache_val val;
    if (!v->opts->cache)
        return check_pck_chain_uncached(v);
    ARCA_TRY(cache_key(v, "arca-dcap-pck", v->q->cert_data, v->q->cert_len, NULL, 0, key));
    if (dcap_cache_lookup(v->opts->cache, key, v->now, &val)) {
        v->pck_key = val.pck_key;
        v->ext = val.ext;
        if (val.crl_expiry)
            note_expiry(v, val.crl_expiry);
        if (v->rep)
            v->rep->crls_checked = val.crls_checked;
        return 0;
    }
    int64_t before = v->expiry;
    ARCA_TRY(check_pck_chain_uncached(v));
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    ARCA_TRY(narrow_cert(v->pck[0], &lo, &hi));
    ARCA_TRY(narrow_cert(v->pck[1], &lo, &hi));
    ARCA_TRY(narrow_cert(v->root, &lo, &hi));
    ARCA_TRY(narrow_crl(v->col->root_crl, &lo, &hi));
    ARCA_TRY(narrow_crl(v->col->pck_crl, &lo, &hi));
    memset(&val, 0, sizeof val);
    val.crl_expiry = v->expiry != before ? v->expiry : 0;
    val.crls_checked = v->rep ? v->rep->crls_checked : false;
    val.pck_key = v->pck_key;
    val.ext = v->ext;
    dcap_cache_store(v->opts->cache, key, &val, lo, hi);
    return 0;
}

/* Steps 4-5: PCK chain to the pinned root, with CRLs. */
static int check_pck_chain_uncached(struct vctx *v)
{
    const struct arca_x509 *untrusted[8];
    const struct arca_x509_crl *crls[2];
    size_t nun = 0, ncrl = 0;
    int rc;

    rc = arca_x509_list_from_pem(v->q->cert_data, v->q->cert_len, &v->pck, &v->npck);
    if (rc < 0)
        return arca_err_wrap(ARCA_ERR_CERT, "PCK certificate chain in the quote");
    ARCA_ENSURE(v->npck >= 2 && v->npck <= 8, ARCA_ERR_CERT,
                "PCK certificate chain in the quote has %zu certificates (want leaf, PCK CA, "
                "root)",
                v->npck);
    /* Only the leaf's CA is taken from the quote; the root is never trusted from it. */
    untrusted[nun++] = v->pck[1];

    if (v->col->root_crl) {
        ARCA_TRY(
            check_crl("Root CA CRL", v->col->root_crl, v->root, "Intel SGX Root CA", v->now, v));
        crls[ncrl++] = v->col->root_crl;
    }
    if (v->col->pck_crl) {
        ARCA_TRY(check_crl("PCK CRL", v->col->pck_crl, v->pck[1], "PCK certificate's issuer CA",
                           v->now, v));
        crls[ncrl++] = v->col->pck_crl;
    }
    if (ncrl < 2 && !v->opts->allow_missing_crls)
        ARCA_BAIL(ARCA_ERR_NOT_FOUND, "collateral: no %s (revocation cannot be checked)",
                  v->col->root_crl ? "PCK CRL" : "Root CA CRL");
    if (v->rep)
        v->rep->crls_checked = ncrl == 2;

    rc = arca_x509_verify_chain(v->pck[0], untrusted, nun, &v->root, 1, crls, ncrl, v->now, 0);
    if (rc < 0)
        return arca_err_wrap(rc, "PCK certificate chain");
    ARCA_TRY(arca_x509_public_key(v->pck[0], &v->pck_key));
    rc = arca_pck_ext_from_cert(v->pck[0], &v->ext);
    if (rc < 0)
        return arca_err_wrap(rc, "PCK certificate");
    return 0;
}

/* Step 6: the PCK key signed the QE report. */
static int check_qe_report_signature(struct vctx *v)
{
    int rc =
        arca_verify_ecdsa_raw(v->pck_key, ARCA_SHA256, v->q->qe_report_raw, ARCA_SGX_REPORT_LEN,
                              v->q->qe_report_signature, v->q->qe_report_signature + 32, 32, false);
    if (rc < 0)
        ARCA_BAIL(ARCA_ERR_SIGNATURE,
                  "QE report signature does not verify with the PCK certificate key");
    return 0;
}

static int check_signed_json_uncached(struct vctx *v, const struct arca_dcap_signed_json *s,
                                      const char *what);

/* Step 7 (authenticity) and parsing of a signed document, through the cache, keyed by the
 * exact bytes, the signature and the chain: exactly one of tcb / qe is non-NULL and receives
 * the parsed document (the caller frees it). */
static int check_signed_doc(struct vctx *v, const struct arca_dcap_signed_json *s, const char *what,
                            struct arca_tcb_info **tcb, struct arca_qe_identity **qe)
{
    uint8_t key[32], ids[8 * 32 + 64];
    size_t nids = 0;
    struct dcap_cache_val val;
    bool cached = v->opts->cache && s->chain_len >= 1 && s->chain_len <= 8;

    if (cached) {
        memcpy(ids, s->signature, 64);
        for (size_t i = 0; i < s->chain_len; i++)
            ARCA_TRY(arca_x509_der_id(s->chain[i], ids + 64 + 32 * nids++));
        ARCA_TRY(cache_key(v, tcb ? "arca-dcap-tcb-info" : "arca-dcap-qe-identity", s->json, s->len,
                           ids, 64 + 32 * nids, key));
        if (dcap_cache_lookup(v->opts->cache, key, v->now, &val)) {
            if (tcb && val.tcb) {
                *tcb = val.tcb;
                val.tcb = NULL;
            } else if (qe && val.qe) {
                *qe = val.qe;
                val.qe = NULL;
            }
            arca_tcb_info_free(val.tcb);
            arca_qe_identity_free(val.qe);
            arca_key_free(val.pck_key);
            if ((tcb && *tcb) || (qe && *qe))
                return 0;
        }
    }
    ARCA_TRY(check_signed_json_uncached(v, s, what));
    if (tcb)
        ARCA_TRY(arca_tcb_info_parse(s->json, s->len, tcb));
    else
        ARCA_TRY(arca_qe_identity_parse(s->json, s->len, qe));
    if (!cached)
        return 0;
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    for (size_t i = 0; i + 1 < s->chain_len || i == 0; i++)
        ARCA_TRY(narrow_cert(s->chain[i], &lo, &hi)); /* the chain's own root is not used */
    ARCA_TRY(narrow_cert(v->root, &lo, &hi));
    ARCA_TRY(narrow_crl(v->col->root_crl, &lo, &hi));
    memset(&val, 0, sizeof val);
    val.tcb = tcb ? *tcb : NULL;
    val.qe = qe ? *qe : NULL;
    dcap_cache_store(v->opts->cache, key, &val, lo, hi);
    return 0;
}

/* Step 7: issuer chain and signature of a signed JSON document. */
static int check_signed_json_uncached(struct vctx *v, const struct arca_dcap_signed_json *s,
                                      const char *what)
{
    struct arca_key *k = NULL;
    const struct arca_x509 *untrusted[8];
    const struct arca_x509_crl *crls[1];
    size_t nun = 0, ncrl = 0;
    int rc;

    ARCA_ENSURE(s->chain_len >= 1, ARCA_ERR_NOT_FOUND, "collateral: %s has no issuer chain", what);
    for (size_t i = 1; i < s->chain_len && nun < 8; i++)
        if (i + 1 < s->chain_len) /* skip the chain's own root: only the pinned one counts */
            untrusted[nun++] = s->chain[i];
    if (v->col->root_crl)
        crls[ncrl++] = v->col->root_crl;
    rc = arca_x509_verify_chain(s->chain[0], untrusted, nun, &v->root, 1, crls, ncrl, v->now, 0);
    if (rc < 0)
        return arca_err_wrap(rc, "%s issuer chain", what);
    ARCA_TRY(arca_x509_public_key(s->chain[0], &k));
    rc = arca_verify_ecdsa_raw(k, ARCA_SHA256, s->json, s->len, s->signature, s->signature + 32, 32,
                               false);
    arca_key_free(k);
    if (rc < 0)
        ARCA_BAIL(ARCA_ERR_SIGNATURE,
                  "%s signature does not verify with the TCB Signing key over its JSON bytes",
                  what);
    return 0;
}

static void hex6(const uint8_t *p, char *out)
{
    arca_hex_fmt(out, p, 6);
}

static int add_advisories(struct arca_claims *c, const struct arca_advisories *a)
{
    for (unsigned i = 0; i < a->n; i++) {
        bool dup = false;
        for (unsigned j = 0; j < c->advisory_count && !dup; j++)
            dup = strcmp(c->advisories[j], a->id[i]) == 0;
        if (dup)
            continue;
        ARCA_ENSURE(c->advisory_count < ARCA_CLAIMS_MAX_ADVISORIES, ARCA_ERR_TOO_LARGE,
                    "more than %d advisory IDs", ARCA_CLAIMS_MAX_ADVISORIES);
        memcpy(c->advisories[c->advisory_count++], a->id[i], sizeof a->id[i]);
    }
    return 0;
}

static int status_known(enum arca_tcb_status s, const char *text, const char *what)
{
    ARCA_ENSURE(s != ARCA_TCB_UNKNOWN, ARCA_ERR_UNSUPPORTED, "%s status \"%s\" is unknown", what,
                text);
    return 0;
}

/* Steps 7-8: TCB Info authentic, current, for this platform. */
static int check_tcb_info(struct vctx *v)
{
    const struct arca_dcap_signed_json *s = &v->col->tcb_info;
    bool tdx = v->q->body_type != ARCA_DCAP_BODY_SGX;
    char a[16], b[16];

    ARCA_ENSURE(s->json != NULL, ARCA_ERR_NOT_FOUND, "collateral: no TCB Info");
    ARCA_TRY(check_signed_doc(v, s, "TCB Info", &v->tcb, NULL));
    ARCA_TRY(window("TCB Info", v->tcb->issue_date, v->tcb->next_update, v->now));
    note_expiry(v, v->tcb->next_update);
    ARCA_ENSURE(v->tcb->tdx == tdx, ARCA_ERR_CONFLICT, "TCB Info id is %s but the quote is %s",
                v->tcb->tdx ? "TDX" : "SGX", tdx ? "TDX" : "SGX");
    hex6(v->tcb->fmspc, a);
    hex6(v->ext.fmspc, b);
    ARCA_ENSURE(memcmp(v->tcb->fmspc, v->ext.fmspc, 6) == 0, ARCA_ERR_CONFLICT,
                "TCB Info is for FMSPC %s, the PCK certificate says %s", a, b);
    ARCA_ENSURE(memcmp(v->tcb->pceid, v->ext.pceid, 2) == 0, ARCA_ERR_CONFLICT,
                "TCB Info is for PCE-ID %02x%02x, the PCK certificate says %02x%02x",
                v->tcb->pceid[0], v->tcb->pceid[1], v->ext.pceid[0], v->ext.pceid[1]);
    return 0;
}

/* Step 9: QE Identity authentic, current, and matching the QE report. */
static int check_qe_identity(struct vctx *v, enum arca_tcb_status *qe_status, struct arca_claims *c)
{
    const struct arca_dcap_signed_json *s = &v->col->qe_identity;
    const struct arca_sgx_report *r = &v->q->qe_report;
    bool tdx = v->q->body_type != ARCA_DCAP_BODY_SGX;
    const char *want = tdx ? "TD_QE" : "QE";

    *qe_status = ARCA_TCB_UNKNOWN;
    if (!s->json) {
        ARCA_ENSURE(v->opts->allow_missing_qe_identity, ARCA_ERR_NOT_FOUND,
                    "collateral: no QE Identity");
        return 0;
    }
    ARCA_TRY(check_signed_doc(v, s, "QE Identity", NULL, &v->qe));
    ARCA_TRY(window("QE Identity", v->qe->issue_date, v->qe->next_update, v->now));
    note_expiry(v, v->qe->next_update);
    ARCA_ENSURE(strcmp(v->qe->id, want) == 0, ARCA_ERR_CONFLICT,
                "QE Identity id is \"%s\", want \"%s\" for this quote", v->qe->id, want);
    ARCA_ENSURE(memcmp(r->mrsigner, v->qe->mrsigner, 32) == 0, ARCA_ERR_CONFLICT,
                "QE report MRSIGNER does not match the QE Identity");
    ARCA_ENSURE(r->isvprodid == v->qe->isvprodid, ARCA_ERR_CONFLICT,
                "QE report ISVPRODID %u does not match the QE Identity (%u)", r->isvprodid,
                v->qe->isvprodid);
    ARCA_ENSURE((r->miscselect & v->qe->miscselect_mask) == v->qe->miscselect, ARCA_ERR_CONFLICT,
                "QE report MISCSELECT does not match the QE Identity");
    for (int i = 0; i < 16; i++)
        ARCA_ENSURE((r->attributes[i] & v->qe->attributes_mask[i]) == v->qe->attributes[i],
                    ARCA_ERR_CONFLICT, "QE report ATTRIBUTES do not match the QE Identity");
    const struct arca_isv_level *l =
        arca_isv_level_select(v->qe->levels, v->qe->nlevels, r->isvsvn);
    ARCA_ENSURE(l != NULL, ARCA_ERR_NOT_FOUND,
                "QE TCB level not found: QE ISVSVN %u is below every QE Identity level", r->isvsvn);
    ARCA_TRY(status_known(l->status, l->status_text, "QE Identity level"));
    *qe_status = l->status;
    if (v->rep)
        v->rep->qe_identity_checked = true;
    return add_advisories(c, &l->adv);
}

/* Step 11: TDX module identity. */
static int check_tdx_module(struct vctx *v, enum arca_tcb_status *status, struct arca_claims *c)
{
    const struct arca_td_report *td = &v->q->td;
    const uint8_t *mrsigner = v->tcb->module_mrsigner, *attr = v->tcb->module_attributes,
                  *mask = v->tcb->module_attributes_mask;
    const char *which = "tdxModule";

    *status = ARCA_TCB_UNKNOWN;
    const struct arca_tdx_module_identity *m = NULL;
    if (td->tee_tcb_svn[1] > 0) {
        char id[16];
        snprintf(id, sizeof id, "TDX_%02X", td->tee_tcb_svn[1]);
        for (size_t i = 0; i < v->tcb->nmodules && !m; i++)
            if (strcmp(v->tcb->modules[i].id, id) == 0)
                m = &v->tcb->modules[i];
        ARCA_ENSURE(m != NULL, ARCA_ERR_NOT_FOUND,
                    "TDX module identity %s (TEE_TCB_SVN major version) not found in the TCB "
                    "Info",
                    id);
        mrsigner = m->mrsigner;
        attr = m->attributes;
        mask = m->attributes_mask;
        which = m->id;
        if (v->rep)
            snprintf(v->rep->module_id, sizeof v->rep->module_id, "%s", m->id);
    }
    ARCA_ENSURE(memcmp(td->mrsignerseam, mrsigner, 48) == 0, ARCA_ERR_CONFLICT,
                "TD report MRSIGNERSEAM does not match the TCB Info %s mrsigner", which);
    for (int i = 0; i < 8; i++)
        ARCA_ENSURE((td->seamattributes[i] & mask[i]) == attr[i], ARCA_ERR_CONFLICT,
                    "TD report SEAMATTRIBUTES do not match the TCB Info %s attributes", which);
    if (!m)
        return 0;
    const struct arca_isv_level *l =
        arca_isv_level_select(m->levels, m->nlevels, td->tee_tcb_svn[0]);
    ARCA_ENSURE(l != NULL, ARCA_ERR_NOT_FOUND,
                "TDX module TCB level not found: %s SVN %u is below every level", m->id,
                td->tee_tcb_svn[0]);
    ARCA_TRY(status_known(l->status, l->status_text, "TDX module level"));
    *status = l->status;
    return add_advisories(c, &l->adv);
}

void arca_dcap_quote_claims(const struct arca_dcap_quote *q, struct arca_claims *c)
{
    if (q->body_type == ARCA_DCAP_BODY_SGX) {
        const struct arca_sgx_report *r = &q->sgx;
        c->type = ARCA_EVIDENCE_SGX_DCAP;
        c->debug = (r->attributes[0] & 0x02) != 0;
        memcpy(c->report_data, r->reportdata, 64);
        memcpy(c->mrenclave, r->mrenclave, 32);
        memcpy(c->mrsigner, r->mrsigner, 32);
        c->isv_prod_id = r->isvprodid;
        c->isv_svn = r->isvsvn;
        memcpy(c->attributes, r->attributes, 16);
        memcpy(c->config_id, r->configid, 64);
        c->config_svn = r->configsvn;
    } else {
        const struct arca_td_report *t = &q->td;
        c->type = ARCA_EVIDENCE_TDX;
        c->debug = (t->tdattributes[0] & 0x01) != 0;
        memcpy(c->report_data, t->reportdata, 64);
        memcpy(c->mrtd, t->mrtd, 48);
        memcpy(c->rtmr, t->rtmr, sizeof c->rtmr);
        memcpy(c->mrconfigid, t->mrconfigid, 48);
        memcpy(c->mrowner, t->mrowner, 48);
        memcpy(c->mrownerconfig, t->mrownerconfig, 48);
        memcpy(c->tee_tcb_svn, t->tee_tcb_svn, 16);
        memcpy(c->td_attributes, t->tdattributes, 8);
        c->xfam = 0;
        for (int i = 7; i >= 0; i--)
            c->xfam = (c->xfam << 8) | t->xfam[i];
    }
}

static int run(struct vctx *v, struct arca_claims *c)
{
    const struct arca_dcap_quote *q = v->q;
    enum arca_tcb_status qe_status, mod_status = ARCA_TCB_UNKNOWN;

    ARCA_ENSURE(memcmp(q->qe_vendor_id, arca_dcap_intel_qe_vendor_id, 16) == 0,
                ARCA_ERR_UNSUPPORTED, "quote: QE vendor ID at offset 12 is not Intel's");
    ARCA_TRY(check_quote_signature(v));
    ARCA_TRY(check_qe_binding(v));
    ARCA_TRY(check_pck_chain(v));
    ARCA_TRY(check_qe_report_signature(v));
    ARCA_TRY(check_tcb_info(v));
    ARCA_TRY(check_qe_identity(v, &qe_status, c));

    const struct arca_tcb_level *l =
        arca_tcb_level_select(v->tcb, v->ext.comp_svn, v->ext.pcesvn,
                              q->body_type == ARCA_DCAP_BODY_SGX ? NULL : q->td.tee_tcb_svn);
    if (!l) {
        char fm[16];
        hex6(v->ext.fmspc, fm);
        ARCA_BAIL(ARCA_ERR_NOT_FOUND,
                  "platform TCB level not found (TCB not supported): no TCB Info level of FMSPC "
                  "%s is met by the PCK component SVNs, PCESVN %u%s",
                  fm, v->ext.pcesvn, q->body_type == ARCA_DCAP_BODY_SGX ? "" : " and TEE_TCB_SVN");
    }
    ARCA_TRY(status_known(l->status, l->status_text, "TCB level"));
    ARCA_TRY(add_advisories(c, &l->adv));
    enum arca_tcb_status st = l->status;
    if (q->body_type != ARCA_DCAP_BODY_SGX) {
        ARCA_TRY(check_tdx_module(v, &mod_status, c));
        if (mod_status != ARCA_TCB_UNKNOWN)
            st = arca_tcb_status_merge(st, mod_status);
    }
    if (qe_status != ARCA_TCB_UNKNOWN)
        st = arca_tcb_status_merge(st, qe_status);

    arca_dcap_quote_claims(q, c);
    memcpy(c->fmspc, v->ext.fmspc, 6);
    memcpy(c->platform_id, v->ext.fmspc, 6);
    c->platform_id_len = 6;
    c->tcb_status = st;
    c->collateral_expiry = v->expiry;
    if (v->rep) {
        v->rep->platform_status = l->status;
        v->rep->platform_tcb_date = l->date;
        v->rep->qe_status = qe_status;
        v->rep->module_status = mod_status;
        v->rep->pcesvn = v->ext.pcesvn;
        memcpy(v->rep->comp_svn, v->ext.comp_svn, 16);
        memcpy(v->rep->pceid, v->ext.pceid, 2);
        v->rep->qe_isvsvn = q->qe_report.isvsvn;
        v->rep->tcb_eval_number = v->tcb->eval_number;
    }
    return 0;
}

int arca_dcap_verify(const void *p, size_t n, const struct arca_dcap_collateral *col,
                     const struct arca_dcap_opts *opts, int64_t now, struct arca_claims *claims,
                     struct arca_dcap_report *report)
{
    static const struct arca_dcap_opts defaults;
    struct arca_dcap_quote q;
    struct arca_x509 *pinned = NULL;
    struct arca_claims c;
    struct arca_dcap_report rep;
    struct vctx v;
    int rc;

    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(col);
    ARCA_ENSURE_REF(claims);
    if (!opts)
        opts = &defaults;
    memset(claims, 0, sizeof *claims);
    if (report)
        memset(report, 0, sizeof *report);
    ARCA_TRY(arca_dcap_quote_parse(p, n, &q));

    memset(&c, 0, sizeof c);
    memset(&rep, 0, sizeof rep);
    memset(&v, 0, sizeof v);
    v.q = &q;
    v.col = col;
    v.opts = opts;
    v.now = now;
    v.rep = &rep;
    if (opts->root) {
        v.root = opts->root;
    } else {
        pthread_once(&pinned_once, pinned_init);
        if (pinned_root) {
            v.root = pinned_root;
        } else {
            ARCA_TRY(arca_intel_sgx_root_ca(&pinned));
            v.root = pinned;
        }
    }
    rc = 0;
    if (opts->cache) {
        rc = arca_x509_der_id(v.root, v.root_id);
        if (rc == 0 && col->root_crl)
            rc = arca_x509_crl_der_id(col->root_crl, v.root_crl_id);
        if (rc == 0 && col->pck_crl)
            rc = arca_x509_crl_der_id(col->pck_crl, v.pck_crl_id);
    }
    if (rc == 0)
        rc = run(&v, &c);
    if (rc == 0 && opts->cache && v.ak != NULL && !v.ak_from_cache) {
        struct dcap_cache_val val = {.pck_key = v.ak};
        dcap_cache_store(opts->cache, v.ak_id, &val, INT64_MIN, INT64_MAX);
    }
    arca_x509_list_free(v.pck, v.npck);
    arca_key_free(v.ak);
    arca_key_free(v.pck_key);
    arca_tcb_info_free(v.tcb);
    arca_qe_identity_free(v.qe);
    arca_x509_free(pinned);
    if (rc < 0)
        return rc;
    *claims = c;
    if (report)
        *report = rep;
    return 0;
}
