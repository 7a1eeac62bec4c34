/*
 * Generic PEM <-> DER for one object of a given label.
 */
#include "crypto/crypto_internal.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

int arca_pem_to_der(const void *pem, size_t n, const char *label, struct arca_buf *out)
{
    ARCA_ENSURE_REF(pem);
    ARCA_ENSURE_REF(label);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT, "PEM: empty or too large input");
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "PEM: BIO_new_mem_buf");
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    int rc = 0;
    /* PEM_bytes_read_bio finds the first block with this label (skipping others) and checks
     * the base64 body; the data may be a private key, so it is cleansed when freed. */
    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
        rc = arca_ossl_err(ARCA_ERR_FORMAT, "PEM: no parsable '-----BEGIN ...-----' block");
    } else if (strcmp(name, label) != 0) {
        rc = arca_err_set(ARCA_ERR_FORMAT, "PEM: expected a '%s' block, found '%s'", label, name);
    } else if (header != NULL && header[0] != '\0') {
        rc = arca_err_set(ARCA_ERR_UNSUPPORTED,
                          "PEM: encrypted or annotated '%s' blocks are not "
                          "supported",
                          label);
    } else if (len <= 0) {
        rc = arca_err_set(ARCA_ERR_FORMAT, "PEM: '%s' block is empty", label);
    } else {
        rc = arca_buf_put(out, data, (size_t)len);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    if (data != NULL)
        OPENSSL_clear_free(data, len > 0 ? (size_t)len : 0);
    BIO_free(bio);
    return rc;
}

int arca_der_to_pem(const void *der, size_t n, const char *label, struct arca_buf *out)
{
    ARCA_ENSURE_REF(der);
    ARCA_ENSURE_REF(label);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_INVALID_ARG, "PEM: empty or too large input");
    ARCA_ENSURE(label[0] != '\0' && strchr(label, '-') == NULL && strchr(label, '\n') == NULL,
                ARCA_ERR_INVALID_ARG, "PEM: bad label");
    BIO *bio = BIO_new(strstr(label, "PRIVATE") ? BIO_s_secmem() : BIO_s_mem());
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "PEM: BIO_new");
    int rc = 0;
    if (PEM_write_bio(bio, label, "", der, (long)n) <= 0) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "PEM: encoding failed");
    } else {
        char *p = NULL;
        long len = BIO_get_mem_data(bio, &p);
        rc = arca_buf_put(out, p, len > 0 ? (size_t)len : 0);
    }
    BIO_free(bio);
    return rc;
}
