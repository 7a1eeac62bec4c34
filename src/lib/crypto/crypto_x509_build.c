/*
 * Certificate building (arca's own CA, server and client certificates, and test chains).
 */
#include "crypto/crypto_internal.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

/* The signing digest for a key: SHA-256 for P-256 and RSA, SHA-384 for P-384, none for
 * Ed25519. *md is set; returns 0 or an error for keys that cannot sign certificates. */
int arca_cert_sign_md(const EVP_PKEY *pkey, const EVP_MD **md)
{
    switch (arca_pkey_type(pkey)) {
    case ARCA_KEY_P256:
    case ARCA_KEY_RSA2048:
    case ARCA_KEY_RSA3072:
    case ARCA_KEY_RSA4096:
    case ARCA_KEY_RSA_OTHER:
        *md = EVP_sha256();
        return 0;
    case ARCA_KEY_P384:
        *md = EVP_sha384();
        return 0;
    case ARCA_KEY_ED25519:
        *md = NULL;
        return 0;
    default:
        return arca_err_set(ARCA_ERR_INVALID_ARG, "this key type cannot sign certificates");
    }
}

static int add_ext_conf(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (ext == NULL)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: cannot make an extension");
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (ok != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: cannot add an extension");
    return 0;
}

/* Checks a DNS name for the characters a hostname may contain (and '*' for wildcards). */
static bool dns_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*' || c == '_'))
            return false;
    }
    return true;
}

static int add_san(X509 *x, const char *const *san, size_t count)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    if (gens == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "certificate build: SAN");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *e = san[i];
        GENERAL_NAME *g = NULL;
        if (e != NULL && strncmp(e, "dns:", 4) == 0 && dns_name_ok(e + 4)) {
            ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
            if (ia5 == NULL || ASN1_STRING_set(ia5, e + 4, (int)strlen(e + 4)) != 1) {
                ASN1_IA5STRING_free(ia5);
                rc = arca_ossl_err(ARCA_ERR_ALLOC, "certificate build: SAN");
                break;
            }
            g = GENERAL_NAME_new();
            if (g == NULL) {
                ASN1_IA5STRING_free(ia5);
            } else {
                GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
            }
        } else if (e != NULL && strncmp(e, "ip:", 3) == 0) {
            ASN1_OCTET_STRING *ip = a2i_IPADDRESS(e + 3);
            if (ip == NULL) {
                ERR_clear_error();
                rc = arca_err_set(ARCA_ERR_INVALID_ARG,
                                  "certificate build: SAN entry %zu: '%s' is not an IP address", i,
                                  e + 3);
                break;
            }
            g = GENERAL_NAME_new();
            if (g == NULL)
                ASN1_OCTET_STRING_free(ip);
            else
                GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
        } else {
            rc = arca_err_set(ARCA_ERR_INVALID_ARG,
                              "certificate build: SAN entry %zu must be 'dns:NAME' or 'ip:ADDR' "
                              "with a valid name",
                              i);
            break;
        }
        if (g == NULL || sk_GENERAL_NAME_push(gens, g) <= 0) {
            GENERAL_NAME_free(g);
            rc = arca_ossl_err(ARCA_ERR_ALLOC, "certificate build: SAN");
        }
    }
    if (rc == 0 && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: cannot add SAN");
    GENERAL_NAMES_free(gens);
    return rc;
}

static int set_name(X509_NAME *name, const struct arca_x509_params *params)
{
    if (params->organization != NULL &&
        X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
                                   (const unsigned char *)params->organization, -1, -1, 0) != 1)
        return arca_ossl_err(ARCA_ERR_INVALID_ARG, "certificate build: bad organization");
    if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                   (const unsigned char *)params->common_name, -1, -1, 0) != 1)
        return arca_ossl_err(ARCA_ERR_INVALID_ARG, "certificate build: bad common name");
    return 0;
}

/* A positive, non-zero 16-byte serial (RFC 5280 §4.1.2.2 allows at most 20 octets). */
static int set_serial(X509 *x)
{
    uint8_t raw[16];
    ARCA_TRY(arca_random(raw, sizeof(raw)));
    raw[0] &= 0x7f;
    raw[0] |= 0x01;
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    if (!ok)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: serial number");
    return 0;
}

static int build(X509 *x, const struct arca_x509_params *params, const struct arca_key *subject_key,
                 const struct arca_x509 *issuer_cert, const struct arca_key *signer)
{
    const EVP_MD *md = NULL;
    ARCA_TRY(arca_cert_sign_md(signer->pkey, &md));
    if (X509_set_version(x, 2) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: version");
    ARCA_TRY(set_serial(x));
    ARCA_TRY(set_name(X509_get_subject_name(x), params));
    if (X509_set_issuer_name(x, issuer_cert ? X509_get_subject_name(issuer_cert->x509)
                                            : X509_get_subject_name(x)) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: issuer name");
    if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)params->not_before) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), (time_t)params->not_after) == NULL)
        return arca_ossl_err(ARCA_ERR_INVALID_ARG, "certificate build: validity out of range");
    if (X509_set_pubkey(x, subject_key->pkey) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: public key");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_cert ? issuer_cert->x509 : x, x, NULL, NULL, 0);
    char bc[64];
    if (params->is_ca && params->path_len >= 0)
        snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", params->path_len);
    else
        snprintf(bc, sizeof(bc), "critical,%s", params->is_ca ? "CA:TRUE" : "CA:FALSE");
    ARCA_TRY(add_ext_conf(x, &ctx, NID_basic_constraints, bc));
    const char *ku = "critical,keyCertSign,cRLSign";
    if (!params->is_ca) {
        int id = EVP_PKEY_get_base_id(subject_key->pkey);
        ku = id == EVP_PKEY_RSA      ? "critical,digitalSignature,keyEncipherment"
             : id == EVP_PKEY_X25519 ? "critical,keyAgreement"
                                     : "critical,digitalSignature";
    }
    ARCA_TRY(add_ext_conf(x, &ctx, NID_key_usage, ku));
    ARCA_TRY(add_ext_conf(x, &ctx, NID_subject_key_identifier, "hash"));
    /* For a self-signed certificate the issuer is x itself, whose SKI was just added. */
    ARCA_TRY(add_ext_conf(x, &ctx, NID_authority_key_identifier, "keyid:always"));
    if (params->san_count > 0)
        ARCA_TRY(add_san(x, params->san, params->san_count));
    if (params->eku & (ARCA_EKU_SERVER | ARCA_EKU_CLIENT)) {
        const char *eku = (params->eku & ARCA_EKU_SERVER) && (params->eku & ARCA_EKU_CLIENT)
                              ? "serverAuth,clientAuth"
                          : (params->eku & ARCA_EKU_SERVER) ? "serverAuth"
                                                            : "clientAuth";
        ARCA_TRY(add_ext_conf(x, &ctx, NID_ext_key_usage, eku));
    }
    if (X509_sign(x, signer->pkey, md) <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate build: signing failed");
    return 0;
}

int arca_x509_build(const struct arca_x509_params *params, const struct arca_key *subject_key,
                    const struct arca_x509 *issuer_cert, const struct arca_key *issuer_key,
                    struct arca_x509 **out)
{
    ARCA_ENSURE_REF(params);
    ARCA_ENSURE_REF(subject_key);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(params->common_name != NULL && params->common_name[0] != '\0', ARCA_ERR_INVALID_ARG,
                "certificate build: common_name is required");
    ARCA_ENSURE(params->san_count == 0 || params->san != NULL, ARCA_ERR_INVALID_ARG,
                "certificate build: san is NULL but san_count is %zu", params->san_count);
    ARCA_ENSURE(params->not_after > params->not_before, ARCA_ERR_INVALID_ARG,
                "certificate build: not_after must be later than not_before");
    ARCA_ENSURE((issuer_cert == NULL) == (issuer_key == NULL), ARCA_ERR_INVALID_ARG,
                "certificate build: give both issuer_cert and issuer_key, or neither");
    const struct arca_key *signer = issuer_key ? issuer_key : subject_key;
    ARCA_ENSURE(signer->priv, ARCA_ERR_INVALID_ARG,
                "certificate build: the signing key has no private part");
    if (issuer_cert != NULL && X509_check_private_key(issuer_cert->x509, issuer_key->pkey) != 1) {
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_INVALID_ARG,
                            "certificate build: issuer_key does not match issuer_cert");
    }
    X509 *x = X509_new();
    if (x == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "certificate build: X509_new");
    int rc = build(x, params, subject_key, issuer_cert, signer);
    if (rc < 0) {
        X509_free(x);
        return rc;
    }
    struct arca_x509 *c = arca_x509_wrap(x);
    if (c == NULL)
        return ARCA_ERR_ALLOC;
    *out = c;
    return 0;
}
