/*
 * X.509: a generated CA -> intermediate -> leaf chain (SAN, EKU, validity read back) verified
 * at a pinned time, with negatives (expired, not yet valid, wrong root, missing intermediate,
 * revoked by a CRL we build, missing EKU); CRL parse/validity/signature; PKCS#12 round trip
 * with an empty password; PEM bundles; parser negatives; and real vendor chains: the Intel
 * PCK chain with both CRLs from dcap-qvl's collateral, the Intel TCB Info signature (raw r||s),
 * and the AMD ARK -> ASK -> VCEK RSA-PSS chains plus an SNP report signature (little-endian).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */
#define DAY 86400

static void read_file(const char *rel, struct arca_buf *out)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", ARCA_TESTVECTORS, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    arca_buf_init(out, 0);
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(arca_buf_put(out, chunk, n), 0);
    fclose(f);
}

struct pki {
    struct arca_key *root_key, *int_key, *leaf_key;
    struct arca_x509 *root, *inter, *leaf;
};

static void make_pki(struct pki *p, enum arca_key_type leaf_type)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(arca_key_generate(ARCA_KEY_P384, &p->root_key), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &p->int_key), 0);
    assert_int_equal(arca_key_generate(leaf_type, &p->leaf_key), 0);
    struct arca_x509_params rp = {.common_name = "arca test root",
                                  .organization = "arca",
                                  .is_ca = true,
                                  .path_len = -1,
                                  .not_before = T0 - DAY,
                                  .not_after = T0 + 3650 * DAY};
    assert_int_equal(arca_x509_build(&rp, p->root_key, NULL, NULL, &p->root), 0);
    struct arca_x509_params ip = {.common_name = "arca test intermediate",
                                  .is_ca = true,
                                  .path_len = 0,
                                  .not_before = T0 - DAY,
                                  .not_after = T0 + 365 * DAY};
    assert_int_equal(arca_x509_build(&ip, p->int_key, p->root, p->root_key, &p->inter), 0);
    static const char *const san[] = {"dns:arca.example", "dns:localhost", "ip:127.0.0.1",
                                      "ip:::1"};
    struct arca_x509_params lp = {.common_name = "arca leaf",
                                  .san = san,
                                  .san_count = 4,
                                  .eku = ARCA_EKU_SERVER | ARCA_EKU_CLIENT,
                                  .not_before = T0,
                                  .not_after = T0 + 30 * DAY};
    assert_int_equal(arca_x509_build(&lp, p->leaf_key, p->inter, p->int_key, &p->leaf), 0);
}

static void free_pki(struct pki *p)
{
    arca_x509_free(p->root);
    arca_x509_free(p->inter);
    arca_x509_free(p->leaf);
    arca_key_free(p->root_key);
    arca_key_free(p->int_key);
    arca_key_free(p->leaf_key);
}

static int verify_at(const struct pki *p, int64_t at, int eku)
{
    const struct arca_x509 *u[] = {p->inter};
    const struct arca_x509 *r[] = {p->root};
    return arca_x509_verify_chain(p->leaf, u, 1, r, 1, NULL, 0, at, eku);
}

static void test_generated_chain(void **state)
{
    (void)state;
    static const enum arca_key_type leaf_types[] = {ARCA_KEY_P256, ARCA_KEY_P384, ARCA_KEY_ED25519,
                                                    ARCA_KEY_RSA2048};
    for (size_t i = 0; i < 4; i++) {
        struct pki p;
        make_pki(&p, leaf_types[i]);
        assert_int_equal(verify_at(&p, T0 + DAY, 0), 0);
        assert_int_equal(verify_at(&p, T0 + DAY, ARCA_EKU_SERVER), 0);
        assert_int_equal(verify_at(&p, T0 + DAY, ARCA_EKU_CLIENT), 0);
        /* Expired later; not yet valid earlier: the detail names the leaf. */
        assert_int_equal(verify_at(&p, T0 + 31 * DAY, 0), ARCA_ERR_EXPIRED);
        assert_non_null(strstr(arca_err_detail(), "CN=arca leaf"));
        assert_non_null(strstr(arca_err_detail(), "expired"));
        assert_int_equal(verify_at(&p, T0 - 3600, 0), ARCA_ERR_EXPIRED);
        /* Signature checks by hand. */
        assert_int_equal(arca_x509_verify_signature(p.leaf, p.int_key), 0);
        assert_int_equal(arca_x509_verify_signature(p.inter, p.root_key), 0);
        assert_int_equal(arca_x509_verify_signature(p.root, p.root_key), 0);
        assert_int_equal(arca_x509_verify_signature(p.leaf, p.root_key), ARCA_ERR_SIGNATURE);
        free_pki(&p);
    }
}

/* A certificate's subject key reads back, after a DER round trip, as the same key: same key
 * id, and the self-signature verifies with it. */
static void test_subject_key_roundtrip(void **state)
{
    (void)state;
    static const enum arca_key_type types[] = {ARCA_KEY_P256, ARCA_KEY_P384, ARCA_KEY_ED25519};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct arca_key *k = NULL, *pk = NULL;
        struct arca_x509 *c = NULL, *back = NULL;
        struct arca_buf der;
        arca_buf_init(&der, 0);
        assert_int_equal(arca_key_generate(types[i], &k), 0);
        struct arca_x509_params xp = {
            .common_name = "rt", .not_before = 0, .not_after = 4000000000};
        assert_int_equal(arca_x509_build(&xp, k, NULL, NULL, &c), 0);
        assert_int_equal(arca_x509_to_der(c, &der), 0);
        assert_int_equal(arca_x509_from_der(der.data, der.len, &back), 0);
        uint8_t a[32], b[32];
        assert_int_equal(arca_key_id(k, a), 0);
        assert_int_equal(arca_x509_key_id(back, b), 0);
        assert_memory_equal(a, b, 32);
        assert_int_equal(arca_x509_public_key(back, &pk), 0);
        assert_int_equal(arca_x509_verify_signature(back, pk), 0);
        assert_int_equal(arca_x509_verify_signature(c, k), 0);
        arca_key_free(pk);
        arca_x509_free(back);
        arca_x509_free(c);
        arca_key_free(k);
        arca_buf_free(&der);
    }
}

static void test_readback(void **state)
{
    (void)state;
    struct pki p;
    make_pki(&p, ARCA_KEY_P256);
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_x509_san(p.leaf, &b), 0);
    assert_string_equal(arca_buf_cstr(&b), "dns:arca.example\ndns:localhost\nip:127.0.0.1\nip:::1");
    arca_buf_reset(&b);
    assert_int_equal(arca_x509_san(p.root, &b), 0); /* none: nothing appended */
    assert_int_equal(b.len, 0);
    assert_int_equal(arca_x509_subject_cn(p.leaf, &b), 0);
    assert_string_equal(arca_buf_cstr(&b), "arca leaf");
    arca_buf_reset(&b);
    assert_int_equal(arca_x509_subject_text(p.root, &b), 0);
    assert_string_equal(arca_buf_cstr(&b), "CN=arca test root,O=arca");
    arca_buf_reset(&b);
    assert_int_equal(arca_x509_issuer_text(p.leaf, &b), 0);
    assert_string_equal(arca_buf_cstr(&b), "CN=arca test intermediate");
    int64_t nb = 0, na = 0;
    assert_int_equal(arca_x509_validity(p.leaf, &nb, &na), 0);
    assert_int_equal(nb, T0);
    assert_int_equal(na, T0 + 30 * DAY);
    assert_true(arca_x509_is_ca(p.root));
    assert_true(arca_x509_is_ca(p.inter));
    assert_false(arca_x509_is_ca(p.leaf));
    /* Serial: 16 bytes, positive. */
    arca_buf_reset(&b);
    assert_int_equal(arca_x509_serial(p.leaf, &b), 0);
    assert_int_equal(b.len, 16);
    assert_true(b.data[0] < 0x80 && b.data[0] != 0);
    /* EKU extension (2.5.29.37) holds serverAuth and clientAuth OIDs. */
    arca_buf_reset(&b);
    assert_int_equal(arca_x509_extension(p.leaf, "2.5.29.37", &b), 0);
    static const uint8_t eku[] = {0x30, 0x14, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03,
                                  0x01, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
    assert_int_equal(b.len, sizeof(eku));
    assert_memory_equal(b.data, eku, sizeof(eku));
    arca_buf_reset(&b);
    assert_int_equal(arca_x509_extension(p.root, "2.5.29.37", &b), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_x509_extension(p.root, "not an oid", &b), ARCA_ERR_INVALID_ARG);
    /* Key ids: the certificate's equals its key's. */
    uint8_t a[32], c[32];
    assert_int_equal(arca_x509_key_id(p.leaf, a), 0);
    assert_int_equal(arca_key_id(p.leaf_key, c), 0);
    assert_memory_equal(a, c, 32);
    struct arca_key *pk = NULL;
    assert_int_equal(arca_x509_public_key(p.leaf, &pk), 0);
    assert_false(arca_key_has_private(pk));
    assert_int_equal(arca_key_id(pk, c), 0);
    assert_memory_equal(a, c, 32);
    arca_key_free(pk);
    /* PEM and DER round trips; a bundle of three. */
    struct arca_buf pem, der;
    arca_buf_init(&pem, 0);
    arca_buf_init(&der, 0);
    assert_int_equal(arca_x509_to_pem(p.leaf, &pem), 0);
    assert_int_equal(arca_x509_to_der(p.leaf, &der), 0);
    struct arca_x509 *x = NULL;
    assert_int_equal(arca_x509_from_pem(pem.data, pem.len, &x), 0);
    assert_int_equal(arca_x509_key_id(x, c), 0);
    assert_memory_equal(a, c, 32);
    arca_x509_free(x);
    assert_int_equal(arca_x509_from_der(der.data, der.len, &x), 0);
    /* DER ids (cache keys): SHA-256 of the exact encoding, the same after a re-parse, another
     * for another certificate. */
    uint8_t id[ARCA_SHA256_LEN], want[ARCA_SHA256_LEN];
    assert_int_equal(arca_x509_der_id(p.leaf, id), 0);
    assert_int_equal(arca_sha256(der.data, der.len, want), 0);
    assert_memory_equal(id, want, sizeof(id));
    assert_int_equal(arca_x509_der_id(x, want), 0);
    assert_memory_equal(id, want, sizeof(id));
    assert_int_equal(arca_x509_der_id(p.inter, want), 0);
    assert_memory_not_equal(id, want, sizeof(id));
    assert_int_equal(arca_x509_der_id(NULL, id), ARCA_ERR_INVALID_ARG);
    struct arca_x509 *y = arca_x509_ref(x);
    assert_ptr_equal(x, y);
    arca_x509_free(y);
    arca_x509_free(x);
    assert_int_equal(arca_x509_to_pem(p.inter, &pem), 0);
    assert_int_equal(arca_x509_to_pem(p.root, &pem), 0);
    struct arca_x509 **list = NULL;
    size_t count = 0;
    assert_int_equal(arca_x509_list_from_pem(pem.data, pem.len, &list, &count), 0);
    assert_int_equal(count, 3);
    assert_true(arca_x509_is_ca(list[2]));
    arca_x509_list_free(list, count);
    arca_buf_free(&pem);
    arca_buf_free(&der);
    arca_buf_free(&b);
    free_pki(&p);
}

static void test_chain_negative(void **state)
{
    (void)state;
    struct pki p, q;
    make_pki(&p, ARCA_KEY_P256);
    make_pki(&q, ARCA_KEY_P256);
    const struct arca_x509 *u[] = {p.inter};
    const struct arca_x509 *wrong[] = {q.root};
    /* Wrong root */
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, wrong, 1, NULL, 0, T0 + DAY, 0),
                     ARCA_ERR_CERT);
    assert_non_null(strstr(arca_err_detail(), "certificate chain"));
    /* Missing intermediate */
    const struct arca_x509 *r[] = {p.root};
    assert_int_equal(arca_x509_verify_chain(p.leaf, NULL, 0, r, 1, NULL, 0, T0 + DAY, 0),
                     ARCA_ERR_CERT);
    assert_non_null(strstr(arca_err_detail(), "CN=arca leaf"));
    /* The other PKI's intermediate does not chain. */
    const struct arca_x509 *qu[] = {q.inter};
    assert_int_equal(arca_x509_verify_chain(p.leaf, qu, 1, r, 1, NULL, 0, T0 + DAY, 0),
                     ARCA_ERR_CERT);
    /* No roots at all */
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, NULL, 0, NULL, 0, T0 + DAY, 0),
                     ARCA_ERR_INVALID_ARG);
    /* A leaf without EKU fails an EKU requirement. */
    struct arca_x509_params np = {
        .common_name = "no eku", .not_before = T0, .not_after = T0 + DAY * 10};
    struct arca_x509 *noeku = NULL;
    assert_int_equal(arca_x509_build(&np, p.leaf_key, p.inter, p.int_key, &noeku), 0);
    assert_int_equal(arca_x509_verify_chain(noeku, u, 1, r, 1, NULL, 0, T0 + DAY, 0), 0);
    assert_int_equal(arca_x509_verify_chain(noeku, u, 1, r, 1, NULL, 0, T0 + DAY, ARCA_EKU_SERVER),
                     ARCA_ERR_CERT);
    assert_non_null(strstr(arca_err_detail(), "serverAuth"));
    arca_x509_free(noeku);
    /* Build errors */
    struct arca_x509 *bad = NULL;
    struct arca_x509_params ep = {.common_name = "", .not_before = T0, .not_after = T0 + 1};
    assert_int_equal(arca_x509_build(&ep, p.leaf_key, NULL, NULL, &bad), ARCA_ERR_INVALID_ARG);
    static const char *const badsan[] = {"dns:bad name"};
    struct arca_x509_params sp = {
        .common_name = "x", .san = badsan, .san_count = 1, .not_before = T0, .not_after = T0 + 1};
    assert_int_equal(arca_x509_build(&sp, p.leaf_key, NULL, NULL, &bad), ARCA_ERR_INVALID_ARG);
    static const char *const badip[] = {"ip:300.1.1.1"};
    sp.san = badip;
    assert_int_equal(arca_x509_build(&sp, p.leaf_key, NULL, NULL, &bad), ARCA_ERR_INVALID_ARG);
    struct arca_x509_params tp = {.common_name = "x", .not_before = T0, .not_after = T0};
    assert_int_equal(arca_x509_build(&tp, p.leaf_key, NULL, NULL, &bad), ARCA_ERR_INVALID_ARG);
    tp.not_after = T0 + 1;
    /* issuer key that does not match the issuer certificate */
    assert_int_equal(arca_x509_build(&tp, p.leaf_key, p.inter, q.int_key, &bad),
                     ARCA_ERR_INVALID_ARG);
    assert_null(bad);
    free_pki(&p);
    free_pki(&q);
}

static void test_crl(void **state)
{
    (void)state;
    struct pki p;
    make_pki(&p, ARCA_KEY_P256);
    const struct arca_x509 *u[] = {p.inter};
    const struct arca_x509 *r[] = {p.root};
    /* A CRL of the intermediate revoking the leaf. */
    const struct arca_x509 *revoked[] = {p.leaf};
    struct arca_x509_crl *crl = NULL, *empty = NULL, *rootcrl = NULL;
    assert_int_equal(arca_x509_crl_build(p.inter, p.int_key, revoked, 1, T0, T0 + 7 * DAY, &crl),
                     0);
    assert_int_equal(arca_x509_crl_build(p.inter, p.int_key, NULL, 0, T0, T0 + 7 * DAY, &empty), 0);
    assert_int_equal(arca_x509_crl_build(p.root, p.root_key, NULL, 0, T0, T0 + 7 * DAY, &rootcrl),
                     0);
    int64_t tu = 0, nu = 0;
    assert_int_equal(arca_x509_crl_validity(crl, &tu, &nu), 0);
    assert_int_equal(tu, T0);
    assert_int_equal(nu, T0 + 7 * DAY);
    assert_int_equal(arca_x509_crl_verify_signature(crl, p.int_key), 0);
    assert_int_equal(arca_x509_crl_verify_signature(crl, p.root_key), ARCA_ERR_SIGNATURE);
    /* DER ids: stable for one CRL, another for another. */
    uint8_t id1[ARCA_SHA256_LEN], id2[ARCA_SHA256_LEN];
    assert_int_equal(arca_x509_crl_der_id(crl, id1), 0);
    assert_int_equal(arca_x509_crl_der_id(crl, id2), 0);
    assert_memory_equal(id1, id2, sizeof(id1));
    assert_int_equal(arca_x509_crl_der_id(empty, id2), 0);
    assert_memory_not_equal(id1, id2, sizeof(id1));
    assert_int_equal(arca_x509_crl_der_id(NULL, id1), ARCA_ERR_INVALID_ARG);

    const struct arca_x509_crl *c1[] = {crl, rootcrl};
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, r, 1, c1, 2, T0 + DAY, 0),
                     ARCA_ERR_REVOKED);
    assert_non_null(strstr(arca_err_detail(), "CN=arca leaf"));
    assert_non_null(strstr(arca_err_detail(), "revoked"));
    /* Only the leaf's issuer CRL given (the root's missing): still revoked. */
    const struct arca_x509_crl *c2[] = {crl};
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, r, 1, c2, 1, T0 + DAY, 0),
                     ARCA_ERR_REVOKED);
    /* A CRL that does not list the leaf: fine. A missing CRL: fine. */
    const struct arca_x509_crl *c3[] = {empty, rootcrl};
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, r, 1, c3, 2, T0 + DAY, 0), 0);
    const struct arca_x509_crl *c4[] = {rootcrl};
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, r, 1, c4, 1, T0 + DAY, 0), 0);
    /* A stale CRL is a validity failure. */
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, r, 1, c3, 2, T0 + 8 * DAY, 0),
                     ARCA_ERR_EXPIRED);

    /* The intermediate revoked by the root's CRL. */
    const struct arca_x509 *rev_int[] = {p.inter};
    struct arca_x509_crl *rootrev = NULL;
    assert_int_equal(
        arca_x509_crl_build(p.root, p.root_key, rev_int, 1, T0, T0 + 7 * DAY, &rootrev), 0);
    const struct arca_x509_crl *c5[] = {empty, rootrev};
    assert_int_equal(arca_x509_verify_chain(p.leaf, u, 1, r, 1, c5, 2, T0 + DAY, 0),
                     ARCA_ERR_REVOKED);
    assert_non_null(strstr(arca_err_detail(), "intermediate"));

    arca_x509_crl_free(crl);
    arca_x509_crl_free(empty);
    arca_x509_crl_free(rootcrl);
    arca_x509_crl_free(rootrev);
    free_pki(&p);
}

static void test_pkcs12(void **state)
{
    (void)state;
    struct pki p;
    make_pki(&p, ARCA_KEY_P256);
    const struct arca_x509 *chain[] = {p.inter, p.root};
    const char *pws[] = {"", "correct horse"};
    for (int i = 0; i < 2; i++) {
        struct arca_buf der;
        arca_buf_init_secret(&der, 0);
        assert_int_equal(arca_pkcs12_build(p.leaf_key, p.leaf, chain, 2, pws[i], &der), 0);
        struct arca_key *k = NULL;
        struct arca_x509 *c = NULL;
        assert_int_equal(arca_pkcs12_parse(der.data, der.len, pws[i], &k, &c), 0);
        assert_true(arca_key_has_private(k));
        uint8_t a[32], b[32];
        assert_int_equal(arca_key_id(k, a), 0);
        assert_int_equal(arca_x509_key_id(p.leaf, b), 0);
        assert_memory_equal(a, b, 32);
        assert_int_equal(arca_x509_key_id(c, b), 0);
        assert_memory_equal(a, b, 32);
        arca_key_free(k);
        arca_x509_free(c);
        k = NULL;
        c = NULL;
        assert_int_equal(arca_pkcs12_parse(der.data, der.len, "wrong", &k, &c), ARCA_ERR_SIGNATURE);
        assert_int_equal(arca_pkcs12_parse(der.data, der.len / 2, pws[i], &k, &c), ARCA_ERR_FORMAT);
        assert_null(k);
        assert_null(c);
        arca_buf_free(&der);
    }
    /* The key must match the certificate. */
    struct arca_buf der;
    arca_buf_init_secret(&der, 0);
    assert_int_equal(arca_pkcs12_build(p.int_key, p.leaf, NULL, 0, "", &der), ARCA_ERR_INVALID_ARG);
    assert_int_equal(der.len, 0);
    arca_buf_free(&der);
    free_pki(&p);
}

static void test_parse_negative(void **state)
{
    (void)state;
    struct pki p;
    make_pki(&p, ARCA_KEY_P256);
    struct arca_buf der;
    arca_buf_init(&der, 0);
    assert_int_equal(arca_x509_to_der(p.leaf, &der), 0);
    struct arca_x509 *x = NULL;
    for (size_t cut = 1; cut < der.len; cut += 13)
        assert_int_equal(arca_x509_from_der(der.data, der.len - cut, &x), ARCA_ERR_FORMAT);
    assert_int_equal(arca_buf_put_u8(&der, 0), 0);
    assert_int_equal(arca_x509_from_der(der.data, der.len, &x), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "trailing"));
    assert_null(x);
    const char *garbage = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert_int_equal(arca_x509_from_pem(garbage, strlen(garbage), &x), ARCA_ERR_FORMAT);
    assert_int_equal(arca_x509_from_pem("nothing", 7, &x), ARCA_ERR_FORMAT);
    struct arca_x509 **list = NULL;
    size_t count = 0;
    assert_int_equal(arca_x509_list_from_pem("nothing", 7, &list, &count), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "no certificate"));
    /* A good block followed by a broken one fails as a whole. */
    struct arca_buf pem;
    arca_buf_init(&pem, 0);
    assert_int_equal(arca_x509_to_pem(p.leaf, &pem), 0);
    assert_int_equal(arca_buf_put_str(&pem, garbage), 0);
    assert_int_equal(arca_x509_list_from_pem(pem.data, pem.len, &list, &count), ARCA_ERR_FORMAT);
    assert_null(list);
    struct arca_x509_crl *crl = NULL;
    assert_int_equal(arca_x509_crl_from_der(der.data, der.len, &crl), ARCA_ERR_FORMAT);
    assert_int_equal(arca_x509_crl_parse_any("zz", 2, &crl), ARCA_ERR_FORMAT);
    assert_int_equal(arca_x509_crl_parse_any("  \n", 3, &crl), ARCA_ERR_FORMAT);
    assert_int_equal(arca_x509_crl_parse_any("3082", 4, &crl), ARCA_ERR_FORMAT);
    assert_null(crl);
    arca_buf_free(&pem);
    arca_buf_free(&der);
    free_pki(&p);
}

/* Finds the JSON string member `key` in the collateral file (flat object of strings, with
 * \n escapes in PEM values) and appends its unescaped value to out. */
static void json_member(const struct arca_buf *json, const char *key, struct arca_buf *out)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(arca_buf_cstr(json), pat);
    assert_non_null(p);
    p = strchr(p + strlen(pat), '"');
    assert_non_null(p);
    p++;
    arca_buf_init(out, 0);
    while (*p != '"') {
        assert_true(*p != '\0');
        if (*p == '\\') {
            p++;
            assert_int_equal(arca_buf_put_u8(out, *p == 'n' ? '\n' : (uint8_t)*p), 0);
        } else {
            assert_int_equal(arca_buf_put_u8(out, (uint8_t)*p), 0);
        }
        p++;
    }
}

static void test_intel_pck_chain(void **state)
{
    (void)state;
    struct arca_buf quote, coll, rootder, chainpem, rootcrl_hex, pckcrl_hex;
    read_file("phala-dcap-qvl/sgx_quote", &quote);
    read_file("phala-dcap-qvl/sgx_quote_collateral.json", &coll);
    read_file("phala-dcap-qvl/TrustedRootCA.der", &rootder);
    json_member(&coll, "pck_crl_issuer_chain", &chainpem);
    json_member(&coll, "root_ca_crl", &rootcrl_hex);
    json_member(&coll, "pck_crl", &pckcrl_hex);
    /* The quote's certification data (type 5) is the PEM chain PCK -> Processor CA -> root. */
    const char *begin = NULL;
    for (size_t i = 0; i + 27 <= quote.len; i++)
        if (memcmp(quote.data + i, "-----BEGIN CERTIFICATE-----", 27) == 0) {
            begin = (const char *)quote.data + i;
            break;
        }
    assert_non_null(begin);
    struct arca_x509 **qchain = NULL;
    size_t qn = 0;
    assert_int_equal(arca_x509_list_from_pem(begin,
                                             quote.len - (size_t)(begin - (const char *)quote.data),
                                             &qchain, &qn),
                     0);
    assert_int_equal(qn, 3);
    struct arca_x509 *root = NULL;
    assert_int_equal(arca_x509_from_der(rootder.data, rootder.len, &root), 0);
    struct arca_buf cn;
    arca_buf_init(&cn, 0);
    assert_int_equal(arca_x509_subject_cn(root, &cn), 0);
    assert_string_equal(arca_buf_cstr(&cn), "Intel SGX Root CA");
    arca_buf_reset(&cn);
    assert_int_equal(arca_x509_subject_cn(qchain[0], &cn), 0);
    assert_string_equal(arca_buf_cstr(&cn), "Intel SGX PCK Certificate");
    /* The SGX extensions OID is readable. */
    struct arca_buf ext;
    arca_buf_init(&ext, 0);
    assert_int_equal(arca_x509_extension(qchain[0], "1.2.840.113741.1.13.1", &ext), 0);
    assert_true(ext.len > 100);

    struct arca_x509_crl *rootcrl = NULL, *pckcrl = NULL;
    assert_int_equal(arca_x509_crl_parse_any(rootcrl_hex.data, rootcrl_hex.len, &rootcrl), 0);
    assert_int_equal(arca_x509_crl_parse_any(pckcrl_hex.data, pckcrl_hex.len, &pckcrl), 0);
    const int64_t at = 1751328000; /* 2025-07-01T00:00:00Z */
    const struct arca_x509 *u[] = {qchain[1]};
    const struct arca_x509 *r[] = {root};
    const struct arca_x509_crl *crls[] = {rootcrl, pckcrl};
    assert_int_equal(arca_x509_verify_chain(qchain[0], u, 1, r, 1, crls, 2, at, 0), 0);
    assert_int_equal(arca_x509_verify_chain(qchain[0], u, 1, r, 1, NULL, 0, at, 0), 0);
    /* After the PCK CRL's nextUpdate (2025-07-19) the CRL is stale. */
    assert_int_equal(arca_x509_verify_chain(qchain[0], u, 1, r, 1, crls, 2, 1753000000, 0),
                     ARCA_ERR_EXPIRED);
    /* The collateral's issuer chain verifies too, and the CRLs' signatures check. */
    struct arca_x509 **ic = NULL;
    size_t icn = 0;
    assert_int_equal(arca_x509_list_from_pem(chainpem.data, chainpem.len, &ic, &icn), 0);
    assert_int_equal(icn, 2);
    struct arca_key *pca_key = NULL, *root_key = NULL;
    assert_int_equal(arca_x509_public_key(ic[0], &pca_key), 0);
    assert_int_equal(arca_x509_public_key(root, &root_key), 0);
    assert_int_equal(arca_key_type(root_key), ARCA_KEY_P256);
    assert_int_equal(arca_x509_crl_verify_signature(pckcrl, pca_key), 0);
    assert_int_equal(arca_x509_crl_verify_signature(rootcrl, root_key), 0);
    assert_int_equal(arca_x509_crl_verify_signature(pckcrl, root_key), ARCA_ERR_SIGNATURE);
    int64_t tu, nu;
    assert_int_equal(arca_x509_crl_validity(pckcrl, &tu, &nu), 0);
    assert_true(tu < at && at < nu);

    /* TCB Info signature: raw big-endian r||s, P-256/SHA-256, by the TCB signing key. */
    struct arca_buf tcbchain, tcbinfo, tcbsig_hex, tcbsig;
    json_member(&coll, "tcb_info_issuer_chain", &tcbchain);
    json_member(&coll, "tcb_info", &tcbinfo);
    json_member(&coll, "tcb_info_signature", &tcbsig_hex);
    arca_buf_init(&tcbsig, 0);
    assert_int_equal(arca_hex_decode(&tcbsig, arca_buf_cstr(&tcbsig_hex), tcbsig_hex.len), 0);
    assert_int_equal(tcbsig.len, 64);
    struct arca_x509 **tc = NULL;
    size_t tcn = 0;
    assert_int_equal(arca_x509_list_from_pem(tcbchain.data, tcbchain.len, &tc, &tcn), 0);
    struct arca_key *tcb_key = NULL;
    assert_int_equal(arca_x509_public_key(tc[0], &tcb_key), 0);
    assert_int_equal(arca_x509_verify_chain(tc[0], NULL, 0, r, 1, crls, 1, at, 0), 0);
    assert_int_equal(arca_verify_ecdsa_raw(tcb_key, ARCA_SHA256, tcbinfo.data, tcbinfo.len,
                                           tcbsig.data, tcbsig.data + 32, 32, false),
                     0);
    tcbinfo.data[10] ^= 1;
    assert_int_equal(arca_verify_ecdsa_raw(tcb_key, ARCA_SHA256, tcbinfo.data, tcbinfo.len,
                                           tcbsig.data, tcbsig.data + 32, 32, false),
                     ARCA_ERR_SIGNATURE);

    arca_key_free(tcb_key);
    arca_x509_list_free(tc, tcn);
    arca_buf_free(&tcbchain);
    arca_buf_free(&tcbinfo);
    arca_buf_free(&tcbsig_hex);
    arca_buf_free(&tcbsig);
    arca_key_free(pca_key);
    arca_key_free(root_key);
    arca_x509_list_free(ic, icn);
    arca_x509_crl_free(rootcrl);
    arca_x509_crl_free(pckcrl);
    arca_x509_free(root);
    arca_x509_list_free(qchain, qn);
    arca_buf_free(&ext);
    arca_buf_free(&cn);
    arca_buf_free(&quote);
    arca_buf_free(&coll);
    arca_buf_free(&rootder);
    arca_buf_free(&chainpem);
    arca_buf_free(&rootcrl_hex);
    arca_buf_free(&pckcrl_hex);
}

/* ARK -> ASK -> VCEK (RSA-PSS SHA-384 signatures) from a KDS cert_chain PEM (ASK, then ARK). */
static void amd_chain(const char *chain_file, const char *vcek_file, int64_t at,
                      struct arca_x509 **vcek_out)
{
    struct arca_buf chain, vder;
    read_file(chain_file, &chain);
    read_file(vcek_file, &vder);
    struct arca_x509 **ca = NULL;
    size_t n = 0;
    assert_int_equal(arca_x509_list_from_pem(chain.data, chain.len, &ca, &n), 0);
    assert_int_equal(n, 2);
    struct arca_x509 *vcek = NULL;
    assert_int_equal(arca_x509_from_der(vder.data, vder.len, &vcek), 0);
    const struct arca_x509 *u[] = {ca[0]};
    const struct arca_x509 *r[] = {ca[1]};
    assert_int_equal(arca_x509_verify_chain(vcek, u, 1, r, 1, NULL, 0, at, 0), 0);
    /* The ARK alone as the trust anchor, checked by hand too. */
    struct arca_key *ark = NULL, *ask = NULL;
    assert_int_equal(arca_x509_public_key(ca[1], &ark), 0);
    assert_int_equal(arca_x509_public_key(ca[0], &ask), 0);
    assert_int_equal(arca_key_type(ark), ARCA_KEY_RSA4096);
    assert_int_equal(arca_x509_verify_signature(ca[1], ark), 0);
    assert_int_equal(arca_x509_verify_signature(ca[0], ark), 0);
    assert_int_equal(arca_x509_verify_signature(vcek, ask), 0);
    assert_int_equal(arca_x509_verify_signature(vcek, ark), ARCA_ERR_SIGNATURE);
    /* Without the ASK there is no chain; long after expiry the VCEK has expired. */
    assert_int_equal(arca_x509_verify_chain(vcek, NULL, 0, r, 1, NULL, 0, at, 0), ARCA_ERR_CERT);
    assert_int_equal(arca_x509_verify_chain(vcek, u, 1, r, 1, NULL, 0, 4102444800, 0),
                     ARCA_ERR_EXPIRED); /* 2100 */
    arca_key_free(ark);
    arca_key_free(ask);
    arca_x509_list_free(ca, n);
    arca_buf_free(&chain);
    arca_buf_free(&vder);
    *vcek_out = vcek;
}

static void test_amd_chains(void **state)
{
    (void)state;
    const int64_t at = 1735689600; /* 2025-01-01 */
    struct arca_x509 *vcek = NULL;
    amd_chain("virtee-sev/cert_chain_milan", "virtee-sev/vcek_milan.der", at, &vcek);
    arca_x509_free(vcek);
    amd_chain("virtee-sev/cert_chain_turin", "virtee-sev/vcek_turin.der", at, &vcek);
    arca_x509_free(vcek);
    amd_chain("google-go-sev-guest/milan.testcer", "google-go-sev-guest/vcek.testcer", at, &vcek);

    /* The SNP report: bytes 0..0x2a0 signed, r and s little-endian in 72-byte fields. */
    struct arca_buf rep;
    read_file("google-go-sev-guest/attestation.bin", &rep);
    assert_int_equal(rep.len, 1184);
    struct arca_key *vk = NULL;
    assert_int_equal(arca_x509_public_key(vcek, &vk), 0);
    assert_int_equal(arca_key_type(vk), ARCA_KEY_P384);
    const uint8_t *sig = rep.data + 0x2a0;
    assert_int_equal(
        arca_verify_ecdsa_raw(vk, ARCA_SHA384, rep.data, 0x2a0, sig, sig + 72, 72, true), 0);
    rep.data[0x50] ^= 1; /* REPORT_DATA */
    assert_int_equal(
        arca_verify_ecdsa_raw(vk, ARCA_SHA384, rep.data, 0x2a0, sig, sig + 72, 72, true),
        ARCA_ERR_SIGNATURE);
    arca_key_free(vk);
    arca_buf_free(&rep);
    arca_x509_free(vcek);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_chain),
        cmocka_unit_test(test_subject_key_roundtrip),
        cmocka_unit_test(test_readback),
        cmocka_unit_test(test_chain_negative),
        cmocka_unit_test(test_crl),
        cmocka_unit_test(test_pkcs12),
        cmocka_unit_test(test_parse_negative),
        cmocka_unit_test(test_intel_pck_chain),
        cmocka_unit_test(test_amd_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
