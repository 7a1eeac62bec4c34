/*
 * X.509 certificates: parsing, encoding and read accessors.
 */
#include "crypto/crypto_internal.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

int arca_x509_from_der(const void *der, size_t n, struct arca_x509 **out)
{
    ARCA_ENSURE_REF(der);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT,
                "certificate DER: empty or too large input");
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)n);
    if (x == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, "certificate DER: cannot parse");
    size_t used = (size_t)(p - (const unsigned char *)der);
    if (used != n) {
        X509_free(x);
        return arca_err_set(ARCA_ERR_FORMAT,
                            "certificate DER: %zu trailing bytes after the certificate at "
                            "offset %zu",
                            n - used, used);
    }
    ERR_clear_error();
    struct arca_x509 *c = arca_x509_wrap(x);
    if (c == NULL)
        return ARCA_ERR_ALLOC;
    *out = c;
    return 0;
}

int arca_x509_from_pem(const void *pem, size_t n, struct arca_x509 **out)
{
    ARCA_ENSURE_REF(pem);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT,
                "certificate PEM: empty or too large input");
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "certificate PEM: BIO_new_mem_buf");
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (x == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT,
                             "certificate PEM: no parsable '-----BEGIN CERTIFICATE-----' block");
    ERR_clear_error();
    struct arca_x509 *c = arca_x509_wrap(x);
    if (c == NULL)
        return ARCA_ERR_ALLOC;
    *out = c;
    return 0;
}

void arca_x509_list_free(struct arca_x509 **list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        arca_x509_free(list[i]);
    free(list);
}

int arca_x509_list_from_pem(const void *pem, size_t n, struct arca_x509 ***out, size_t *count)
{
    ARCA_ENSURE_REF(pem);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(count);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT,
                "certificate bundle: empty or too large input");
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "certificate bundle: BIO_new_mem_buf");
    struct arca_x509 **list = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (x == NULL) {
            unsigned long e = ERR_peek_last_error();
            /* End of input shows as "no start line"; anything else is a broken block. */
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                break;
            }
            rc = arca_ossl_err(ARCA_ERR_FORMAT, "certificate bundle: bad certificate block");
            arca_err_wrap(rc, "certificate bundle: entry %zu", cnt);
            break;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct arca_x509 **grown = realloc(list, ncap * sizeof(*list));
            if (grown == NULL) {
                X509_free(x);
                rc = arca_err_set(ARCA_ERR_ALLOC, "certificate bundle: out of memory");
                break;
            }
            list = grown;
            cap = ncap;
        }
        struct arca_x509 *c = arca_x509_wrap(x);
        if (c == NULL) {
            rc = ARCA_ERR_ALLOC;
            break;
        }
        list[cnt++] = c;
    }
    BIO_free(bio);
    if (rc == 0 && cnt == 0)
        rc = arca_err_set(ARCA_ERR_FORMAT, "certificate bundle: no certificate found");
    if (rc < 0) {
        arca_x509_list_free(list, cnt);
        return rc;
    }
    *out = list;
    *count = cnt;
    return 0;
}

void arca_x509_free(struct arca_x509 *c)
{
    if (c == NULL)
        return;
    if (--c->refs > 0)
        return;
    X509_free(c->x509);
    free(c);
}

struct arca_x509 *arca_x509_ref(struct arca_x509 *c)
{
    if (c == NULL) {
        arca_err_set(ARCA_ERR_INVALID_ARG, "certificate ref: certificate is NULL");
        return NULL;
    }
    c->refs++;
    return c;
}

int arca_x509_to_pem(const struct arca_x509 *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "certificate PEM: BIO_new");
    int rc = 0;
    if (PEM_write_bio_X509(bio, c->x509) != 1) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "certificate PEM: encoding failed");
    } else {
        char *p = NULL;
        long len = BIO_get_mem_data(bio, &p);
        rc = arca_buf_put(out, p, len > 0 ? (size_t)len : 0);
    }
    BIO_free(bio);
    return rc;
}

int arca_x509_to_der(const struct arca_x509 *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    unsigned char *der = NULL;
    int n = i2d_X509(c->x509, &der);
    if (n <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate DER: encoding failed");
    int rc = arca_buf_put(out, der, (size_t)n);
    OPENSSL_free(der);
    return rc;
}

int arca_x509_public_key(const struct arca_x509 *c, struct arca_key **out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    EVP_PKEY *pkey = X509_get_pubkey(c->x509);
    if (pkey == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, "certificate: unreadable public key");
    struct arca_key *k = arca_key_wrap(pkey, false);
    if (k == NULL)
        return ARCA_ERR_ALLOC;
    if (arca_key_type(k) == ARCA_KEY_NONE) {
        arca_key_free(k);
        return arca_err_set(ARCA_ERR_UNSUPPORTED, "certificate: unsupported public key type");
    }
    *out = k;
    return 0;
}

int arca_x509_subject_cn(const struct arca_x509 *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    const X509_NAME *name = X509_get_subject_name(c->x509);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0)
        return arca_err_set(ARCA_ERR_NOT_FOUND, "certificate: subject has no common name");
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0)
        return arca_ossl_err(ARCA_ERR_FORMAT, "certificate: unreadable common name");
    int rc = 0;
    if (memchr(utf8, 0, (size_t)n) != NULL)
        rc = arca_err_set(ARCA_ERR_FORMAT, "certificate: common name contains a NUL byte");
    else
        rc = arca_buf_put(out, utf8, (size_t)n);
    OPENSSL_free(utf8);
    return rc;
}

int arca_x509_subject_text(const struct arca_x509 *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    return arca_x509_name_text(X509_get_subject_name(c->x509), out);
}

int arca_x509_issuer_text(const struct arca_x509 *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    return arca_x509_name_text(X509_get_issuer_name(c->x509), out);
}

int arca_x509_validity(const struct arca_x509 *c, int64_t *not_before, int64_t *not_after)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(not_before);
    ARCA_ENSURE_REF(not_after);
    int64_t nb, na;
    ARCA_TRY(arca_asn1_time_to_unix(X509_get0_notBefore(c->x509), &nb));
    ARCA_TRY(arca_asn1_time_to_unix(X509_get0_notAfter(c->x509), &na));
    *not_before = nb;
    *not_after = na;
    return 0;
}

int arca_x509_serial(const struct arca_x509 *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->x509), NULL);
    if (bn == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, "certificate: unreadable serial number");
    uint8_t tmp[64];
    int n = BN_num_bytes(bn);
    int rc = 0;
    if (n > (int)sizeof(tmp)) {
        rc = arca_err_set(ARCA_ERR_FORMAT, "certificate: serial number of %d bytes", n);
    } else if (n == 0) {
        rc = arca_buf_put_u8(out, 0);
    } else {
        BN_bn2bin(bn, tmp);
        rc = arca_buf_put(out, tmp, (size_t)n);
    }
    BN_free(bn);
    return rc;
}

bool arca_x509_is_ca(const struct arca_x509 *c)
{
    if (c == NULL)
        return false;
    return (X509_get_extension_flags(c->x509) & EXFLAG_CA) != 0;
}

int arca_x509_extension(const struct arca_x509 *c, const char *oid, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(oid);
    ARCA_ENSURE_REF(out);
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (obj == NULL) {
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_INVALID_ARG,
                            "certificate extension: '%s' is not a dotted "
                            "OID",
                            oid);
    }
    int idx = X509_get_ext_by_OBJ(c->x509, obj, -1);
    ASN1_OBJECT_free(obj);
    if (idx < 0)
        return arca_err_set(ARCA_ERR_NOT_FOUND, "certificate: no extension %s", oid);
    const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_get_ext(c->x509, idx));
    return arca_buf_put(out, ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data));
}

int arca_x509_san(const struct arca_x509 *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    int crit = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(c->x509, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        ERR_clear_error();
        if (crit == -1)
            return 0; /* no SAN: nothing to append */
        return arca_err_set(ARCA_ERR_FORMAT, "certificate: unreadable subjectAltName");
    }
    struct arca_buf tmp;
    arca_buf_init(&tmp, 64 * 1024);
    int rc = 0;
    for (int i = 0; rc == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const char *prefix = NULL;
        char text[INET6_ADDRSTRLEN];
        const unsigned char *v = NULL;
        int vlen = 0;
        switch (g->type) {
        case GEN_DNS:
            prefix = "dns:";
            v = ASN1_STRING_get0_data(g->d.dNSName);
            vlen = ASN1_STRING_length(g->d.dNSName);
            break;
        case GEN_URI:
            prefix = "uri:";
            v = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
            vlen = ASN1_STRING_length(g->d.uniformResourceIdentifier);
            break;
        case GEN_EMAIL:
            prefix = "email:";
            v = ASN1_STRING_get0_data(g->d.rfc822Name);
            vlen = ASN1_STRING_length(g->d.rfc822Name);
            break;
        case GEN_IPADD: {
            int alen = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
            if ((alen == 4 && inet_ntop(AF_INET, a, text, sizeof(text)) != NULL) ||
                (alen == 16 && inet_ntop(AF_INET6, a, text, sizeof(text)) != NULL)) {
                prefix = "ip:";
                v = (const unsigned char *)text;
                vlen = (int)strlen(text);
            }
            break;
        }
        default:
            break; /* other name forms are not used by arca */
        }
        if (prefix == NULL)
            continue;
        /* Names go out one per line: refuse any that would forge a line. */
        for (int j = 0; j < vlen; j++)
            if (v[j] < 0x20 || v[j] == 0x7f) {
                rc =
                    arca_err_set(ARCA_ERR_FORMAT,
                                 "certificate: subjectAltName entry %d has a control character", i);
                break;
            }
        if (rc == 0 && tmp.len > 0)
            rc = arca_buf_put_u8(&tmp, '\n');
        if (rc == 0)
            rc = arca_buf_put_str(&tmp, prefix);
        if (rc == 0)
            rc = arca_buf_put(&tmp, v, (size_t)vlen);
    }
    GENERAL_NAMES_free(gens);
    if (rc == 0 && tmp.len > 0)
        rc = arca_buf_put(out, tmp.data, tmp.len);
    arca_buf_free(&tmp);
    return rc;
}

int arca_x509_verify_signature(const struct arca_x509 *c, const struct arca_key *issuer_key)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(issuer_key);
    if (X509_verify(c->x509, issuer_key->pkey) != 1) {
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_SIGNATURE,
                            "certificate signature does not verify with the issuer key");
    }
    return 0;
}

int arca_x509_key_id(const struct arca_x509 *c, uint8_t out[ARCA_SHA256_LEN])
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    EVP_PKEY *pkey = X509_get0_pubkey(c->x509);
    if (pkey == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, "certificate: unreadable public key");
    return arca_pkey_id(pkey, out);
}

int arca_x509_der_id(const struct arca_x509 *c, uint8_t out[ARCA_SHA256_LEN])
{
    unsigned int n = 0;
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    if (X509_digest(c->x509, EVP_sha256(), out, &n) != 1 || n != ARCA_SHA256_LEN)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate digest");
    return 0;
}
