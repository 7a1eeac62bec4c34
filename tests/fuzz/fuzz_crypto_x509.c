/*
 * Fuzzes the crypto module's parsers of untrusted input. The first byte selects the parser
 * (certificate DER/PEM/bundle, CRL any-format, key DER/PEM, PKCS#12, generic PEM,
 * Base58Check); on success every read accessor runs over the parsed object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"

static void exercise_cert(const struct arca_x509 *c)
{
    struct arca_buf b;
    arca_buf_init(&b, 1 << 20);
    int64_t nb, na;
    uint8_t id[32];
    (void)arca_x509_subject_cn(c, &b);
    (void)arca_x509_subject_text(c, &b);
    (void)arca_x509_issuer_text(c, &b);
    (void)arca_x509_validity(c, &nb, &na);
    (void)arca_x509_serial(c, &b);
    (void)arca_x509_is_ca(c);
    (void)arca_x509_extension(c, "2.5.29.17", &b);
    (void)arca_x509_extension(c, "1.2.840.113741.1.13.1", &b);
    (void)arca_x509_san(c, &b);
    (void)arca_x509_key_id(c, id);
    (void)arca_x509_to_pem(c, &b);
    (void)arca_x509_to_der(c, &b);
    struct arca_key *k = NULL;
    if (arca_x509_public_key(c, &k) == 0) {
        (void)arca_x509_verify_signature(c, k); /* self-signed check */
        (void)arca_key_public_raw(k, &b);
        arca_key_free(k);
    }
    arca_buf_free(&b);
}

static void exercise_key(const struct arca_key *k)
{
    struct arca_buf b;
    arca_buf_init_secret(&b, 1 << 20);
    uint8_t id[32];
    (void)arca_key_type(k);
    (void)arca_key_bits(k);
    (void)arca_key_id(k, id);
    (void)arca_key_spki_der(k, &b);
    (void)arca_key_public_raw(k, &b);
    (void)arca_verify(k, ARCA_SHA256, "m", 1, "sig", 3);
    arca_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t sel = data[0] % 9;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct arca_x509 *c = NULL;
    struct arca_x509_crl *crl = NULL;
    struct arca_key *k = NULL;
    struct arca_buf b;
    arca_buf_init_secret(&b, 1 << 20);
    switch (sel) {
    case 0:
        if (arca_x509_from_der(p, n, &c) == 0)
            exercise_cert(c);
        break;
    case 1:
        if (arca_x509_from_pem(p, n, &c) == 0)
            exercise_cert(c);
        break;
    case 2: {
        struct arca_x509 **list = NULL;
        size_t count = 0;
        if (arca_x509_list_from_pem(p, n, &list, &count) == 0) {
            for (size_t i = 0; i < count; i++)
                exercise_cert(list[i]);
            if (count >= 2) {
                const struct arca_x509 *u[] = {list[1]};
                const struct arca_x509 *r[] = {list[count - 1]};
                (void)arca_x509_verify_chain(list[0], u, 1, r, 1, NULL, 0, 1751328000, 0);
            }
            arca_x509_list_free(list, count);
        }
        break;
    }
    case 3:
        if (arca_x509_crl_parse_any(p, n, &crl) == 0) {
            int64_t a, z;
            (void)arca_x509_crl_validity(crl, &a, &z);
        }
        break;
    case 4:
        if (arca_key_from_der(p, n, &k) == 0)
            exercise_key(k);
        break;
    case 5:
        if (arca_key_from_pem(p, n, &k) == 0)
            exercise_key(k);
        break;
    case 6: {
        if (arca_pkcs12_parse(p, n, "", &k, &c) == 0) {
            exercise_key(k);
            exercise_cert(c);
        }
        break;
    }
    case 7:
        (void)arca_pem_to_der(p, n, "CERTIFICATE", &b);
        break;
    default: {
        uint8_t ver;
        if (arca_base58check_decode(&b, &ver, (const char *)p, n) == 0) {
            struct arca_buf e;
            arca_buf_init(&e, 1 << 20);
            /* Canonical: re-encoding gives the same text. */
            if (arca_base58check_encode(&e, ver, b.data, b.len) != 0 || e.len != n ||
                memcmp(e.data, p, n) != 0)
                abort();
            arca_buf_free(&e);
        }
        break;
    }
    }
    arca_x509_free(c);
    arca_x509_crl_free(crl);
    arca_key_free(k);
    arca_buf_free(&b);
    arca_err_clear();
    return 0;
}
