/* Intel DCAP collateral loading (files only; collateral_fetch.c adds the network). */
#include "evidence/collateral.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "evidence/signed_json.h"

#define COLLATERAL_FILE_MAX ((size_t)4 << 20)

int arca_intel_sgx_root_ca(struct arca_x509 **out)
{
    return arca_x509_from_der(arca_intel_sgx_root_ca_der, arca_intel_sgx_root_ca_der_len, out);
}

static void signed_json_free(struct arca_dcap_signed_json *s)
{
    free(s->json);
    arca_x509_list_free(s->chain, s->chain_len);
    memset(s, 0, sizeof *s);
}

void arca_dcap_collateral_init(struct arca_dcap_collateral *c)
{
    if (c)
        memset(c, 0, sizeof *c);
}

void arca_dcap_collateral_free(struct arca_dcap_collateral *c)
{
    if (!c)
        return;
    signed_json_free(&c->tcb_info);
    signed_json_free(&c->qe_identity);
    arca_x509_crl_free(c->root_crl);
    arca_x509_crl_free(c->pck_crl);
    memset(c, 0, sizeof *c);
}

/* ---- pieces ----------------------------------------------------------------------------- */

static int sig_from_hex(const char *hex, uint8_t out[64], const char *what)
{
    int rc = arca_hex_decode_fixed(out, 64, hex, strlen(hex));
    if (rc < 0)
        return arca_err_wrap(ARCA_ERR_FORMAT, "%s signature (want 128 hex digits)", what);
    return 0;
}

static int chain_from_pem(const char *pem, size_t n, struct arca_x509 ***out, size_t *count,
                          const char *what)
{
    int rc = arca_x509_list_from_pem(pem, n, out, count);
    if (rc < 0)
        return arca_err_wrap(rc, "%s issuer chain", what);
    return 0;
}

/* Installs json/sig/chain into *dst (chain NULL keeps the old one). Takes ownership. */
static int install(struct arca_dcap_signed_json *dst, const char *json, size_t len,
                   const uint8_t sig[64], struct arca_x509 **chain, size_t chain_len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        arca_x509_list_free(chain, chain_len);
        return arca_err_set(ARCA_ERR_ALLOC, "collateral: out of memory");
    }
    memcpy(copy, json, len);
    copy[len] = 0;
    free(dst->json);
    dst->json = copy;
    dst->len = len;
    memcpy(dst->signature, sig, 64);
    if (chain) {
        arca_x509_list_free(dst->chain, dst->chain_len);
        dst->chain = chain;
        dst->chain_len = chain_len;
    }
    return 0;
}

static int load_pcs(struct arca_dcap_signed_json *dst, const char *body, size_t n,
                    const char *member, const char *what, const char *chain_pem, size_t chain_len)
{
    const char *raw;
    size_t rawlen;
    uint8_t sig[64];
    struct arca_x509 **chain = NULL;
    size_t nchain = 0;
    json_t *root = NULL;
    int rc;

    ARCA_TRY(arca_json_load_object(body, n, what, &root));
    json_t *s = json_object_get(root, "signature");
    if (!json_is_object(json_object_get(root, member)) || !json_is_string(s)) {
        json_decref(root);
        ARCA_BAIL(ARCA_ERR_FORMAT, "%s response: needs members \"%s\" (object) and \"signature\"",
                  what, member);
    }
    rc = sig_from_hex(json_string_value(s), sig, what);
    json_decref(root);
    ARCA_TRY(rc);
    ARCA_TRY(arca_json_raw_member(body, n, member, &raw, &rawlen));
    if (chain_pem)
        ARCA_TRY(chain_from_pem(chain_pem, chain_len, &chain, &nchain, what));
    return install(dst, raw, rawlen, sig, chain, nchain);
}

int arca_dcap_collateral_load_tcb_info(struct arca_dcap_collateral *c, const char *body, size_t n,
                                       const char *chain_pem, size_t chain_len)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(body);
    return load_pcs(&c->tcb_info, body, n, "tcbInfo", "TCB Info", chain_pem, chain_len);
}

int arca_dcap_collateral_load_qe_identity(struct arca_dcap_collateral *c, const char *body,
                                          size_t n, const char *chain_pem, size_t chain_len)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(body);
    return load_pcs(&c->qe_identity, body, n, "enclaveIdentity", "QE Identity", chain_pem,
                    chain_len);
}

int arca_dcap_collateral_load_signing_chain(struct arca_dcap_collateral *c, const char *pem,
                                            size_t n)
{
    struct arca_x509 **a = NULL, **b = NULL;
    size_t na = 0, nb = 0;
    ARCA_ENSURE_REF(c);
    ARCA_TRY(chain_from_pem(pem, n, &a, &na, "TCB signing"));
    int rc = chain_from_pem(pem, n, &b, &nb, "TCB signing");
    if (rc < 0) {
        arca_x509_list_free(a, na);
        return rc;
    }
    arca_x509_list_free(c->tcb_info.chain, c->tcb_info.chain_len);
    arca_x509_list_free(c->qe_identity.chain, c->qe_identity.chain_len);
    c->tcb_info.chain = a;
    c->tcb_info.chain_len = na;
    c->qe_identity.chain = b;
    c->qe_identity.chain_len = nb;
    return 0;
}

int arca_dcap_collateral_load_crl(struct arca_dcap_collateral *c, const void *p, size_t n)
{
    struct arca_x509_crl *crl = NULL;
    struct arca_x509 *root = NULL;
    struct arca_key *key = NULL;
    int rc;

    ARCA_ENSURE_REF(c);
    ARCA_TRY(arca_x509_crl_parse_any(p, n, &crl));
    ARCA_GUARD(rc, arca_intel_sgx_root_ca(&root), out);
    ARCA_GUARD(rc, arca_x509_public_key(root, &key), out);
    if (arca_x509_crl_verify_signature(crl, key) == 0) {
        arca_x509_crl_free(c->root_crl);
        c->root_crl = crl;
    } else {
        arca_x509_crl_free(c->pck_crl);
        c->pck_crl = crl;
    }
    crl = NULL;
    arca_err_clear();
    rc = 0;
out:
    arca_x509_crl_free(crl);
    arca_key_free(key);
    arca_x509_free(root);
    return rc;
}

/* A string member of the combined JSON, or NULL. */
static const char *str_member(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int combined_signed(json_t *root, struct arca_dcap_signed_json *dst, const char *key,
                           const char *sigkey, const char *chainkey, const char *what)
{
    json_t *v = json_object_get(root, key);
    const char *sighex = str_member(root, sigkey), *chain = str_member(root, chainkey);
    struct arca_x509 **list = NULL;
    size_t nlist = 0;
    uint8_t sig[64];

    if (!v)
        return 0;
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT,
                "collateral JSON: \"%s\" must be the signed JSON text as a string", key);
    ARCA_ENSURE(sighex != NULL, ARCA_ERR_FORMAT, "collateral JSON: \"%s\" without \"%s\"", key,
                sigkey);
    ARCA_TRY(sig_from_hex(sighex, sig, what));
    if (chain)
        ARCA_TRY(chain_from_pem(chain, strlen(chain), &list, &nlist, what));
    return install(dst, json_string_value(v), json_string_length(v), sig, list, nlist);
}

static int combined_crl(struct arca_dcap_collateral *c, json_t *root, const char *key)
{
    const char *v = str_member(root, key);
    if (!v)
        return 0;
    int rc = arca_dcap_collateral_load_crl(c, v, strlen(v));
    return rc < 0 ? arca_err_wrap(rc, "collateral JSON \"%s\"", key) : 0;
}

int arca_dcap_collateral_load_combined(struct arca_dcap_collateral *c, const char *json, size_t n)
{
    struct arca_dcap_collateral tmp;
    json_t *root = NULL;
    int rc;

    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(json);
    /* Load into a scratch struct first so that c is unchanged on failure. */
    arca_dcap_collateral_init(&tmp);
    ARCA_GUARD(rc, arca_json_load_object(json, n, "collateral JSON", &root), out);
    ARCA_GUARD(rc,
               combined_signed(root, &tmp.tcb_info, "tcb_info", "tcb_info_signature",
                               "tcb_info_issuer_chain", "TCB Info"),
               out);
    ARCA_GUARD(rc,
               combined_signed(root, &tmp.qe_identity, "qe_identity", "qe_identity_signature",
                               "qe_identity_issuer_chain", "QE Identity"),
               out);
    ARCA_GUARD(rc, combined_crl(&tmp, root, "root_ca_crl"), out);
    ARCA_GUARD(rc, combined_crl(&tmp, root, "pck_crl"), out);
    ARCA_GUARD_ENSURE(rc, tmp.tcb_info.json || tmp.qe_identity.json || tmp.root_crl || tmp.pck_crl,
                      out, ARCA_ERR_FORMAT,
                      "collateral JSON: none of tcb_info, qe_identity, root_ca_crl, pck_crl");
    /* Move each present piece over. */
    if (tmp.tcb_info.json) {
        signed_json_free(&c->tcb_info);
        c->tcb_info = tmp.tcb_info;
        memset(&tmp.tcb_info, 0, sizeof tmp.tcb_info);
    }
    if (tmp.qe_identity.json) {
        signed_json_free(&c->qe_identity);
        c->qe_identity = tmp.qe_identity;
        memset(&tmp.qe_identity, 0, sizeof tmp.qe_identity);
    }
    if (tmp.root_crl) {
        arca_x509_crl_free(c->root_crl);
        c->root_crl = tmp.root_crl;
        tmp.root_crl = NULL;
    }
    if (tmp.pck_crl) {
        arca_x509_crl_free(c->pck_crl);
        c->pck_crl = tmp.pck_crl;
        tmp.pck_crl = NULL;
    }
out:
    arca_dcap_collateral_free(&tmp);
    json_decref(root);
    return rc;
}

/* ---- files ------------------------------------------------------------------------------ */

static bool has(const void *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    const char *s = p;
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

static int load_pem_chain(struct arca_dcap_collateral *c, const void *p, size_t n)
{
    struct arca_x509 **list = NULL;
    size_t count = 0;
    struct arca_buf cn;
    int rc;

    ARCA_TRY(arca_x509_list_from_pem(p, n, &list, &count));
    arca_buf_init(&cn, 4096);
    rc = arca_x509_subject_cn(list[0], &cn);
    bool signing = rc == 0 && strcmp(arca_buf_cstr(&cn), "Intel SGX TCB Signing") == 0;
    arca_buf_free(&cn);
    arca_x509_list_free(list, count);
    if (!signing) {
        arca_err_clear();
        return 0; /* PCK CRL issuer chain etc.: the verifier takes the PCK CA from the quote */
    }
    return arca_dcap_collateral_load_signing_chain(c, p, n);
}

int arca_dcap_collateral_load_bytes(struct arca_dcap_collateral *c, const void *p, size_t n,
                                    const char *name)
{
    int rc;
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(p);
    if (!name)
        name = "collateral";
    if (has(p, n, "\"tcb_info\"") || has(p, n, "\"pck_crl\"") || has(p, n, "\"qe_identity\""))
        rc = arca_dcap_collateral_load_combined(c, p, n);
    else if (has(p, n, "\"tcbInfo\""))
        rc = arca_dcap_collateral_load_tcb_info(c, p, n, NULL, 0);
    else if (has(p, n, "\"enclaveIdentity\""))
        rc = arca_dcap_collateral_load_qe_identity(c, p, n, NULL, 0);
    else if (has(p, n, "-----BEGIN CERTIFICATE-----"))
        rc = load_pem_chain(c, p, n);
    else
        rc = arca_dcap_collateral_load_crl(c, p, n);
    if (rc < 0)
        return arca_err_wrap(rc, "%s", name);
    return 0;
}

static int load_file(struct arca_dcap_collateral *c, const char *path)
{
    struct arca_buf b;
    arca_buf_init(&b, COLLATERAL_FILE_MAX);
    int rc = arca_file_read(path, COLLATERAL_FILE_MAX, &b);
    if (rc == 0)
        rc = arca_dcap_collateral_load_bytes(c, b.data ? (const void *)b.data : "", b.len, path);
    arca_buf_free(&b);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int arca_dcap_collateral_load_path(struct arca_dcap_collateral *c, const char *path)
{
    struct stat st;
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE(stat(path, &st) == 0, ARCA_ERR_IO, "collateral %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return load_file(c, path);

    DIR *d = opendir(path);
    ARCA_ENSURE(d != NULL, ARCA_ERR_IO, "collateral %s: %s", path, strerror(errno));
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                rc = arca_err_set(ARCA_ERR_ALLOC, "collateral: out of memory");
                break;
            }
            names = nn;
            cap = ncap;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (!names[count]) {
            rc = arca_err_set(ARCA_ERR_ALLOC, "collateral: out of memory");
            break;
        }
        snprintf(names[count], len, "%s/%s", path, e->d_name);
        count++;
    }
    closedir(d);
    if (rc == 0 && count)
        qsort(names, count, sizeof *names, cmp_names);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = load_file(c, names[i]);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}
