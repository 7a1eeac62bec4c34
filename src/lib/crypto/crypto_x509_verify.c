/*
 * Certificate chain verification with OpenSSL's X509_verify_cert at a caller-given time.
 */
#include "crypto/crypto_internal.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* Accepts a missing CRL (the API checks CRLs only where one is given) and nothing else. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL)
        return 1;
    return ok;
}

static int map_verify_error(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_REVOKED:
        return ARCA_ERR_REVOKED;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
        return ARCA_ERR_EXPIRED;
    default:
        return ARCA_ERR_CERT;
    }
}

/* Records the failure naming the certificate (its RFC 2253 subject) and OpenSSL's reason. */
static int verify_fail(X509_STORE_CTX *sctx)
{
    int err = X509_STORE_CTX_get_error(sctx);
    int depth = X509_STORE_CTX_get_error_depth(sctx);
    X509 *cur = X509_STORE_CTX_get_current_cert(sctx);
    struct arca_buf subj;
    arca_buf_init(&subj, 1024);
    if (cur == NULL || arca_x509_name_text(X509_get_subject_name(cur), &subj) < 0) {
        arca_buf_reset(&subj);
        arca_buf_put_str(&subj, "?");
    }
    int code = map_verify_error(err);
    arca_err_set(code, "certificate chain: '%s' (depth %d): %s", arca_buf_cstr(&subj), depth,
                 X509_verify_cert_error_string(err));
    arca_buf_free(&subj);
    ERR_clear_error();
    return code;
}

int arca_x509_verify_chain(const struct arca_x509 *leaf, const struct arca_x509 *const *untrusted,
                           size_t untrusted_count, const struct arca_x509 *const *roots,
                           size_t root_count, const struct arca_x509_crl *const *crls,
                           size_t crl_count, int64_t at, int purpose_eku)
{
    ARCA_ENSURE_REF(leaf);
    ARCA_ENSURE(root_count > 0 && roots != NULL, ARCA_ERR_INVALID_ARG,
                "certificate chain: no trusted root given");
    ARCA_ENSURE(untrusted_count == 0 || untrusted != NULL, ARCA_ERR_INVALID_ARG,
                "certificate chain: untrusted is NULL");
    ARCA_ENSURE(crl_count == 0 || crls != NULL, ARCA_ERR_INVALID_ARG,
                "certificate chain: crls is NULL");
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    int rc = 0;
    if (store == NULL || chain == NULL || sctx == NULL) {
        rc = arca_ossl_err(ARCA_ERR_ALLOC, "certificate chain: out of memory");
        goto out;
    }
    for (size_t i = 0; i < root_count; i++) {
        if (roots[i] == NULL || X509_STORE_add_cert(store, roots[i]->x509) != 1) {
            rc = arca_ossl_err(ARCA_ERR_INVALID_ARG, "certificate chain: cannot add a root");
            goto out;
        }
    }
    for (size_t i = 0; i < crl_count; i++) {
        if (crls[i] == NULL || X509_STORE_add_crl(store, crls[i]->crl) != 1) {
            rc = arca_ossl_err(ARCA_ERR_INVALID_ARG, "certificate chain: cannot add a CRL");
            goto out;
        }
    }
    for (size_t i = 0; i < untrusted_count; i++) {
        if (untrusted[i] == NULL || !sk_X509_push(chain, untrusted[i]->x509)) {
            rc = arca_ossl_err(ARCA_ERR_INVALID_ARG,
                               "certificate chain: cannot add an intermediate");
            goto out;
        }
    }
    if (X509_STORE_CTX_init(sctx, store, leaf->x509, chain) != 1) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "certificate chain: X509_STORE_CTX_init");
        goto out;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
    /* set_time also sets X509_V_FLAG_USE_CHECK_TIME: the wall clock is never consulted. */
    X509_VERIFY_PARAM_set_time(param, (time_t)at);
    if (crl_count > 0)
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    X509_STORE_CTX_set_verify_cb(sctx, verify_cb);
    if (X509_verify_cert(sctx) != 1) {
        rc = verify_fail(sctx);
        goto out;
    }
    if (purpose_eku != 0) {
        uint32_t flags = X509_get_extension_flags(leaf->x509);
        uint32_t xku = X509_get_extended_key_usage(leaf->x509);
        bool has = (flags & EXFLAG_XKUSAGE) != 0;
        if ((purpose_eku & ARCA_EKU_SERVER) && !(has && (xku & XKU_SSL_SERVER)))
            rc = arca_err_set(ARCA_ERR_CERT,
                              "certificate chain: leaf lacks the serverAuth extended key usage");
        else if ((purpose_eku & ARCA_EKU_CLIENT) && !(has && (xku & XKU_SSL_CLIENT)))
            rc = arca_err_set(ARCA_ERR_CERT,
                              "certificate chain: leaf lacks the clientAuth extended key usage");
    }
out:
    X509_STORE_CTX_free(sctx);
    sk_X509_free(chain);
    X509_STORE_free(store);
    return rc;
}
