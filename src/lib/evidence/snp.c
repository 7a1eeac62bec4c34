/*
 * AMD SEV-SNP attestation report parser and verifier (snp.h).
 *
 * One file of about 900 lines on purpose: the parser, the chain and the TCB checks share the
 * report's field table and are reviewed as one verifier, top to bottom in the order below
 * (the certificate table and the KDS fetch live in their own files).
 *
 * Order of checks in arca_snp_verify (each failure names its reason):
 *   parse -> key certificate kind (VCEK/VLEK) matches KEY_INFO -> chain ARK -> ASK/ASVK ->
 *   VCEK/VLEK with validity at "now" -> VCEK extensions vs REPORTED_TCB and CHIP_ID ->
 *   report signature.
 * The TCB and hwID comparisons come before the signature so that a VCEK that belongs to
 * another chip or another TCB is reported as such rather than as a bare signature failure.
 */
#include "evidence/snp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/snp_internal.h"

#define SNP_OID_ARC "1.3.6.1.4.1.3704.1"
#define SNP_OID_PRODUCT SNP_OID_ARC ".2"
#define SNP_OID_BL SNP_OID_ARC ".3.1"
#define SNP_OID_TEE SNP_OID_ARC ".3.2"
#define SNP_OID_SNP SNP_OID_ARC ".3.3"
#define SNP_OID_UCODE SNP_OID_ARC ".3.8"
#define SNP_OID_FMC SNP_OID_ARC ".3.9"
#define SNP_OID_HWID SNP_OID_ARC ".4"

#define SNP_CERT_FILE_MAX ((size_t)1 << 20)

/* ---- products and TCB ------------------------------------------------------------------- */

const char *arca_snp_product_name(enum arca_snp_product p)
{
    switch (p) {
    case ARCA_SNP_PRODUCT_MILAN:
        return "Milan";
    case ARCA_SNP_PRODUCT_GENOA:
        return "Genoa";
    case ARCA_SNP_PRODUCT_TURIN:
        return "Turin";
    default:
        return "unknown";
    }
}

enum arca_snp_product arca_snp_product_parse(const char *s)
{
    static const struct {
        const char *name;
        enum arca_snp_product p;
    } names[] = {{"milan", ARCA_SNP_PRODUCT_MILAN},
                 {"genoa", ARCA_SNP_PRODUCT_GENOA},
                 {"turin", ARCA_SNP_PRODUCT_TURIN}};
    if (s == NULL)
        return ARCA_SNP_PRODUCT_UNKNOWN;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t l = strlen(names[i].name);
        /* KDS productName carries the stepping: "Milan-B0". */
        if (strncasecmp(s, names[i].name, l) == 0 && (s[l] == '\0' || s[l] == '-'))
            return names[i].p;
    }
    return ARCA_SNP_PRODUCT_UNKNOWN;
}

void arca_snp_tcb_decode(uint64_t raw, enum arca_snp_product product, struct arca_snp_tcb *out)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(raw >> (8 * i));
    memset(out, 0, sizeof(*out));
    if (product == ARCA_SNP_PRODUCT_TURIN) {
        out->fmc = b[0];
        out->bootloader = b[1];
        out->tee = b[2];
        out->snp = b[3];
    } else {
        out->bootloader = b[0];
        out->tee = b[1];
        out->snp = b[6];
    }
    out->microcode = b[7];
}

enum arca_snp_product arca_snp_report_product(const struct arca_snp_report *r)
{
    if (r == NULL || r->version < 3)
        return ARCA_SNP_PRODUCT_UNKNOWN;
    uint8_t fam = r->cpuid_fam_id, model = r->cpuid_mod_id;
    if (fam == 0x19 && model < 0x10)
        return ARCA_SNP_PRODUCT_MILAN;
    if (fam == 0x19 && ((model >= 0x10 && model < 0x20) || (model >= 0xA0 && model < 0xB0)))
        return ARCA_SNP_PRODUCT_GENOA; /* Genoa, and Bergamo/Siena which share its keys */
    if (fam == 0x1A)
        return ARCA_SNP_PRODUCT_TURIN;
    return ARCA_SNP_PRODUCT_UNKNOWN;
}

/* ---- report parsing --------------------------------------------------------------------- */

int arca_snp_report_parse(const void *p, size_t n, struct arca_snp_report *out)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n == ARCA_SNP_REPORT_LEN, ARCA_ERR_FORMAT,
                "snp report: length %zu bytes, expected %d (ATTESTATION_REPORT)", n,
                ARCA_SNP_REPORT_LEN);

    struct arca_snp_report r;
    struct arca_cur c;
    memset(&r, 0, sizeof(r));
    arca_cur_init(&c, p, n);
    /* The length is fixed and checked above, so the getters below cannot run short; the
     * ARCA_TRY keeps that true if the layout is ever edited. */
    ARCA_TRY(arca_cur_get_u32le(&c, &r.version));
    ARCA_TRY(arca_cur_get_u32le(&c, &r.guest_svn));
    ARCA_TRY(arca_cur_get_u64le(&c, &r.policy));
    ARCA_TRY(arca_cur_get(&c, r.family_id, sizeof(r.family_id)));
    ARCA_TRY(arca_cur_get(&c, r.image_id, sizeof(r.image_id)));
    ARCA_TRY(arca_cur_get_u32le(&c, &r.vmpl));
    ARCA_TRY(arca_cur_get_u32le(&c, &r.signature_algo));
    ARCA_TRY(arca_cur_get_u64le(&c, &r.current_tcb));
    ARCA_TRY(arca_cur_get_u64le(&c, &r.platform_info));
    ARCA_TRY(arca_cur_get_u32le(&c, &r.key_info));
    ARCA_TRY(arca_cur_skip(&c, 4)); /* 0x04C reserved */
    ARCA_TRY(arca_cur_get(&c, r.report_data, sizeof(r.report_data)));
    ARCA_TRY(arca_cur_get(&c, r.measurement, sizeof(r.measurement)));
    ARCA_TRY(arca_cur_get(&c, r.host_data, sizeof(r.host_data)));
    ARCA_TRY(arca_cur_get(&c, r.id_key_digest, sizeof(r.id_key_digest)));
    ARCA_TRY(arca_cur_get(&c, r.author_key_digest, sizeof(r.author_key_digest)));
    ARCA_TRY(arca_cur_get(&c, r.report_id, sizeof(r.report_id)));
    ARCA_TRY(arca_cur_get(&c, r.report_id_ma, sizeof(r.report_id_ma)));
    ARCA_TRY(arca_cur_get_u64le(&c, &r.reported_tcb));
    uint8_t cpuid[3];
    ARCA_TRY(arca_cur_get(&c, cpuid, sizeof(cpuid)));
    ARCA_TRY(arca_cur_skip(&c, 0x1A0 - 0x18B)); /* reserved */
    ARCA_TRY(arca_cur_get(&c, r.chip_id, sizeof(r.chip_id)));
    ARCA_TRY(arca_cur_get_u64le(&c, &r.committed_tcb));
    ARCA_TRY(arca_cur_get_u8(&c, &r.current_build));
    ARCA_TRY(arca_cur_get_u8(&c, &r.current_minor));
    ARCA_TRY(arca_cur_get_u8(&c, &r.current_major));
    ARCA_TRY(arca_cur_skip(&c, 1));
    ARCA_TRY(arca_cur_get_u8(&c, &r.committed_build));
    ARCA_TRY(arca_cur_get_u8(&c, &r.committed_minor));
    ARCA_TRY(arca_cur_get_u8(&c, &r.committed_major));
    ARCA_TRY(arca_cur_skip(&c, 1));
    ARCA_TRY(arca_cur_get_u64le(&c, &r.launch_tcb));
    ARCA_TRY(arca_cur_skip(&c, ARCA_SNP_SIGNED_LEN - 0x1F8)); /* reserved / v5 mitigations */
    ARCA_TRY(arca_cur_get(&c, r.sig_r, sizeof(r.sig_r)));
    ARCA_TRY(arca_cur_get(&c, r.sig_s, sizeof(r.sig_s)));

    ARCA_ENSURE(r.version >= 2 && r.version <= 5, ARCA_ERR_UNSUPPORTED,
                "snp report: VERSION %u at offset 0x000 (arca reads versions 2 to 5)", r.version);
    ARCA_ENSURE(r.signature_algo == 1, ARCA_ERR_UNSUPPORTED,
                "snp report: SIGNATURE_ALGO %u at offset 0x034 (only 1 = ECDSA P-384 SHA-384)",
                r.signature_algo);
    unsigned sk = (r.key_info >> 2) & 7;
    ARCA_ENSURE(sk == ARCA_SNP_KEY_VCEK || sk == ARCA_SNP_KEY_VLEK, ARCA_ERR_UNSUPPORTED,
                "snp report: KEY_INFO 0x%x at offset 0x048 names signing key %u (%s); only a "
                "VCEK (0) or VLEK (1) signed report can be verified",
                r.key_info, sk, sk == ARCA_SNP_KEY_NONE ? "unsigned" : "reserved");
    if (r.version >= 3) {
        r.cpuid_fam_id = cpuid[0];
        r.cpuid_mod_id = cpuid[1];
        r.cpuid_step = cpuid[2];
    }
    *out = r;
    return 0;
}

static bool is_hex_or_space(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
              ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t'))
            return false;
    }
    return true;
}

int arca_snp_report_load(const void *p, size_t n, struct arca_buf *out)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(out);
    const uint8_t *b = p;
    if (n == ARCA_SNP_REPORT_LEN)
        return arca_buf_put(out, p, n);
    ARCA_ENSURE(n <= 4 * ARCA_SNP_REPORT_LEN && is_hex_or_space(b, n), ARCA_ERR_FORMAT,
                "snp report: %zu bytes is neither a raw %d-byte report nor its hex form", n,
                ARCA_SNP_REPORT_LEN);
    char hex[2 * ARCA_SNP_REPORT_LEN + 1];
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')
            continue;
        ARCA_ENSURE(h < 2 * ARCA_SNP_REPORT_LEN, ARCA_ERR_FORMAT,
                    "snp report: hex form longer than %d hex digits", 2 * ARCA_SNP_REPORT_LEN);
        hex[h++] = (char)b[i];
    }
    ARCA_ENSURE(h == 2 * ARCA_SNP_REPORT_LEN, ARCA_ERR_FORMAT,
                "snp report: hex form has %zu hex digits, expected %d", h, 2 * ARCA_SNP_REPORT_LEN);
    uint8_t raw[ARCA_SNP_REPORT_LEN];
    ARCA_TRY(arca_hex_decode_fixed(raw, sizeof(raw), hex, h));
    return arca_buf_put(out, raw, sizeof(raw));
}

/* ---- certificates ------------------------------------------------------------------------ */

void arca_snp_certs_clear(struct arca_snp_certs *c)
{
    if (c == NULL)
        return;
    arca_x509_free(c->key);
    arca_x509_free(c->intermediate);
    arca_x509_free(c->ark);
    memset(c, 0, sizeof(*c));
}

/* The certificate's role, from its names: AMD's self-signed roots are "ARK-<product>", the
 * key certificates "SEV-VCEK" / "SEV-VLEK", everything else in a KDS chain is an ASK/ASVK. */
enum cert_role { ROLE_ARK, ROLE_INTERMEDIATE, ROLE_KEY };

static int cert_role(const struct arca_x509 *x, enum cert_role *role)
{
    struct arca_buf subj, iss, cn;
    int rc;
    arca_buf_init(&subj, 4096);
    arca_buf_init(&iss, 4096);
    arca_buf_init(&cn, 1024);
    ARCA_GUARD(rc, arca_x509_subject_text(x, &subj), out);
    ARCA_GUARD(rc, arca_x509_issuer_text(x, &iss), out);
    rc = arca_x509_subject_cn(x, &cn);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
        goto out;
    rc = 0;
    if (subj.len == iss.len && memcmp(arca_buf_cstr(&subj), arca_buf_cstr(&iss), subj.len) == 0)
        *role = ROLE_ARK;
    else if (strcmp(arca_buf_cstr(&cn), "SEV-VCEK") == 0 ||
             strcmp(arca_buf_cstr(&cn), "SEV-VLEK") == 0)
        *role = ROLE_KEY;
    else
        *role = ROLE_INTERMEDIATE;
out:
    arca_buf_free(&subj);
    arca_buf_free(&iss);
    arca_buf_free(&cn);
    return rc;
}

static bool looks_pem(const void *p, size_t n)
{
    return n >= 10 && memmem(p, n, "-----BEGIN", 10) != NULL;
}

/* Parses every certificate in p (a PEM bundle or one DER certificate). */
static int certs_parse_all(const void *p, size_t n, struct arca_x509 ***list, size_t *count)
{
    if (looks_pem(p, n))
        return arca_x509_list_from_pem(p, n, list, count);
    struct arca_x509 *one = NULL;
    ARCA_TRY(arca_x509_from_der(p, n, &one));
    struct arca_x509 **l = malloc(sizeof(*l));
    if (l == NULL) {
        arca_x509_free(one);
        ARCA_BAIL(ARCA_ERR_ALLOC, "snp certs: out of memory");
    }
    l[0] = one;
    *list = l;
    *count = 1;
    return 0;
}

/* Moves every filled slot of next over the same slot of certs (freeing what was there);
 * next is left empty. */
static void certs_merge(struct arca_snp_certs *certs, struct arca_snp_certs *next)
{
    struct arca_x509 **dst[3] = {&certs->key, &certs->intermediate, &certs->ark};
    struct arca_x509 **src[3] = {&next->key, &next->intermediate, &next->ark};
    for (int i = 0; i < 3; i++) {
        if (*src[i] != NULL) {
            arca_x509_free(*dst[i]);
            *dst[i] = *src[i];
            *src[i] = NULL;
        }
    }
}

/* Places each certificate of p into the slot its role says; only_key restricts to a key
 * certificate. On failure certs is unchanged. */
static int certs_load(struct arca_snp_certs *certs, const void *p, size_t n, bool only_key,
                      const char *what)
{
    ARCA_ENSURE_REF(certs);
    ARCA_ENSURE_REF(p);
    struct arca_x509 **list = NULL;
    size_t count = 0;
    int rc = certs_parse_all(p, n, &list, &count);
    if (rc < 0)
        return arca_err_wrap(rc, "snp: %s", what);
    struct arca_snp_certs next = {0};
    for (size_t i = 0; i < count; i++) {
        enum cert_role role;
        ARCA_GUARD(rc, cert_role(list[i], &role), fail);
        if (only_key)
            role = ROLE_KEY;
        struct arca_x509 **slot = role == ROLE_ARK            ? &next.ark
                                  : role == ROLE_INTERMEDIATE ? &next.intermediate
                                                              : &next.key;
        ARCA_GUARD_ENSURE(rc, *slot == NULL, fail, ARCA_ERR_FORMAT,
                          "snp: %s: certificate %zu is a second %s", what, i + 1,
                          role == ROLE_ARK   ? "ARK"
                          : role == ROLE_KEY ? "VCEK/VLEK"
                                             : "ASK/ASVK");
        *slot = arca_x509_ref(list[i]);
    }
    certs_merge(certs, &next);
    arca_x509_list_free(list, count);
    return 0;
fail:
    arca_snp_certs_clear(&next);
    arca_x509_list_free(list, count);
    return rc;
}

int arca_snp_certs_load_key(struct arca_snp_certs *certs, const void *p, size_t n)
{
    return certs_load(certs, p, n, true, "VCEK/VLEK certificate");
}

int arca_snp_certs_load_chain(struct arca_snp_certs *certs, const void *p, size_t n)
{
    return certs_load(certs, p, n, false, "certificate chain");
}

int arca_snp_certs_load_file(struct arca_snp_certs *certs, const char *path)
{
    ARCA_ENSURE_REF(certs);
    ARCA_ENSURE_REF(path);
    struct arca_buf b;
    arca_buf_init(&b, SNP_CERT_FILE_MAX);
    int rc = arca_file_read(path, 0, &b);
    if (rc == 0) {
        rc = certs_load(certs, b.data, b.len, false, path);
    }
    arca_buf_free(&b);
    return rc;
}

int arca_snp_certs_load_dir(struct arca_snp_certs *certs, const char *dir)
{
    static const char *const names[] = {
        "cert_chain", "cert_chain.pem", "ark.pem",  "ark.der",  "ask.pem",  "ask.der",  "asvk.pem",
        "asvk.der",   "vcek.der",       "vcek.pem", "vcek.crt", "vlek.der", "vlek.pem", "vlek.crt",
    };
    ARCA_ENSURE_REF(certs);
    ARCA_ENSURE_REF(dir);
    struct arca_snp_certs next = {0};
    int rc = 0;
    char path[4096];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ARCA_GUARD_ENSURE(
            rc, (size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < sizeof(path), fail,
            ARCA_ERR_INVALID_ARG, "snp: collateral path too long: %s", dir);
        if (access(path, F_OK) != 0)
            continue;
        ARCA_GUARD(rc, arca_snp_certs_load_file(&next, path), fail);
    }
    ARCA_GUARD_ENSURE(rc, next.key != NULL || certs->key != NULL, fail, ARCA_ERR_NOT_FOUND,
                      "snp: collateral directory %s has no VCEK/VLEK (vcek.der, vcek.pem, "
                      "vlek.der, vlek.pem)",
                      dir);
    certs_merge(certs, &next);
    return 0;
fail:
    arca_snp_certs_clear(&next);
    return rc;
}

/* ---- embedded roots ------------------------------------------------------------------------ */

static bool buf_eq(const struct arca_buf *a, const struct arca_buf *b);

/* The embedded certificates parsed once: [product][0 ARK, 1 ASK, 2 ASVK]. They are public and
 * immutable, so one process-wide copy is shared by every verification. */
static struct arca_x509 *embedded[4][3];
static struct arca_buf embedded_der[4][3]; /* their DER, to recognise a caller's copy */
static int embedded_rc;
static pthread_once_t embedded_once = PTHREAD_ONCE_INIT;

static void embedded_load(void)
{
    for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++) {
        const char *pem[3] = {arca_snp_ark_pem(p), arca_snp_intermediate_pem(p, false),
                              arca_snp_intermediate_pem(p, true)};
        for (int i = 0; i < 3; i++) {
            int rc = arca_x509_from_pem(pem[i], strlen(pem[i]), &embedded[p][i]);
            if (rc < 0) {
                embedded_rc = arca_err_wrap(rc, "snp: embedded %s certificate %d",
                                            arca_snp_product_name(p), i);
                return;
            }
        }
        uint8_t id[ARCA_SHA256_LEN];
        int rc = arca_x509_key_id(embedded[p][0], id);
        if (rc < 0 || memcmp(id, arca_snp_ark_spki_sha256(p), sizeof(id)) != 0) {
            embedded_rc = arca_err_set(ARCA_ERR_INTERNAL,
                                       "snp: embedded ARK-%s does not match its pinned key hash",
                                       arca_snp_product_name(p));
            return;
        }
        /* The signatures among the embedded certificates never change: check them once here
         * (ARK self-signature, ASK and ASVK by the ARK) rather than on every verification.
         * Names and validity at "now" are still checked per verification. */
        struct arca_key *ark_key = NULL;
        rc = arca_x509_public_key(embedded[p][0], &ark_key);
        for (int i = 0; rc == 0 && i < 3; i++)
            rc = arca_x509_verify_signature(embedded[p][i], ark_key);
        arca_key_free(ark_key);
        for (int i = 0; rc == 0 && i < 3; i++) {
            arca_buf_init(&embedded_der[p][i], 1 << 16);
            rc = arca_x509_to_der(embedded[p][i], &embedded_der[p][i]);
        }
        if (rc < 0) {
            embedded_rc = arca_err_wrap(ARCA_ERR_INTERNAL, "snp: embedded %s certificates",
                                        arca_snp_product_name(p));
            return;
        }
    }
}

static bool is_embedded(const struct arca_x509 *x)
{
    for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++)
        for (int i = 0; i < 3; i++)
            if (x == embedded[p][i])
                return true;
    return false;
}

/* The embedded copy of x if x is byte-identical to an embedded certificate, else x. */
static const struct arca_x509 *embedded_twin(const struct arca_x509 *x, struct arca_buf *tmp)
{
    arca_buf_reset(tmp);
    if (arca_x509_to_der(x, tmp) < 0)
        return x;
    for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++)
        for (int i = 1; i < 3; i++)
            if (buf_eq(tmp, &embedded_der[p][i]))
                return embedded[p][i];
    return x;
}

static int embedded_get(void)
{
    pthread_once(&embedded_once, embedded_load);
    if (embedded_rc < 0)
        return arca_err_set(embedded_rc, "snp: embedded AMD roots unusable");
    return 0;
}

static int text_of(int (*fn)(const struct arca_x509 *, struct arca_buf *),
                   const struct arca_x509 *x, struct arca_buf *out)
{
    arca_buf_reset(out);
    return fn(x, out);
}

static bool buf_eq(const struct arca_buf *a, const struct arca_buf *b)
{
    /* Not constant time: only public certificates are compared. */
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* A certificate's CN for messages (into a caller's buffer; "?" when absent). */
static const char *cn_of(const struct arca_x509 *x, struct arca_buf *b)
{
    arca_buf_reset(b);
    if (x == NULL || arca_x509_subject_cn(x, b) < 0 || b->len == 0) {
        arca_buf_reset(b);
        if (arca_buf_put_str(b, "?") < 0)
            return "?";
    }
    return arca_buf_cstr(b);
}

/* The resolved chain for a verification: borrowed pointers. */
struct snp_chain {
    const struct arca_x509 *key;
    const struct arca_x509 *intermediate;
    const struct arca_x509 *ark;
    enum arca_snp_product product;
    bool vlek; /* the key certificate is a VLEK */
};

/* Finds the ASK/ASVK and ARK (embedded where not given) and the product whose pinned ARK
 * key is the root. Does not verify signatures. */
static int chain_resolve(const struct arca_snp_certs *certs, struct snp_chain *ch)
{
    struct arca_buf a, b, cn;
    int rc;
    arca_buf_init(&a, 4096);
    arca_buf_init(&b, 4096);
    arca_buf_init(&cn, 256);
    memset(ch, 0, sizeof(*ch));
    ARCA_GUARD(rc, embedded_get(), out);
    ch->key = certs->key;
    ch->intermediate = certs->intermediate;
    if (ch->intermediate != NULL) {
        arca_buf_init(&a, 1 << 16);
        ch->intermediate = embedded_twin(ch->intermediate, &a);
        arca_buf_free(&a);
        arca_buf_init(&a, 4096);
    }
    ARCA_GUARD_ENSURE(rc, ch->key != NULL || ch->intermediate != NULL, out, ARCA_ERR_INVALID_ARG,
                      "snp: neither a VCEK/VLEK nor an ASK/ASVK certificate given");
    if (ch->key != NULL) {
        ARCA_GUARD(rc, arca_x509_subject_cn(ch->key, &cn), out);
        ch->vlek = strcmp(arca_buf_cstr(&cn), "SEV-VLEK") == 0;
        ARCA_GUARD_ENSURE(rc, ch->vlek || strcmp(arca_buf_cstr(&cn), "SEV-VCEK") == 0, out,
                          ARCA_ERR_CERT,
                          "snp: the key certificate's subject CN is '%s', not SEV-VCEK or SEV-VLEK",
                          arca_buf_cstr(&cn));
    } else {
        /* Chain only: an ASVK is "SEV-VLEK-<product>". */
        ch->vlek = strncmp(cn_of(ch->intermediate, &cn), "SEV-VLEK-", 9) == 0;
    }

    /* Intermediate: the caller's, or the embedded ASK/ASVK named by the key's issuer. */
    if (ch->intermediate == NULL) {
        ARCA_GUARD(rc, text_of(arca_x509_issuer_text, certs->key, &a), out);
        for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++) {
            for (int i = 1; i <= 2; i++) {
                ARCA_GUARD(rc, text_of(arca_x509_subject_text, embedded[p][i], &b), out);
                if (buf_eq(&a, &b))
                    ch->intermediate = embedded[p][i];
            }
        }
        ARCA_GUARD_ENSURE(rc, ch->intermediate != NULL, out, ARCA_ERR_CERT,
                          "snp: no embedded AMD ASK/ASVK matches the key certificate's issuer "
                          "'%s'; pass the cert_chain",
                          arca_buf_cstr(&a));
    }

    /* Root: the caller's only if its key is a pinned ARK key; else the embedded ARK named by
     * the intermediate's issuer. */
    if (certs->ark != NULL) {
        uint8_t id[ARCA_SHA256_LEN];
        ARCA_GUARD(rc, arca_x509_key_id(certs->ark, id), out);
        for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++)
            if (arca_memeq(id, arca_snp_ark_spki_sha256(p), sizeof(id)))
                ch->product = p;
        if (ch->product == ARCA_SNP_PRODUCT_UNKNOWN) {
            char hex[2 * ARCA_SHA256_LEN + 1];
            arca_hex_fmt(hex, id, sizeof(id));
            ARCA_GUARD_ENSURE(rc, false, out, ARCA_ERR_CERT,
                              "snp: the ARK given ('%s', key sha256 %s) is not a pinned AMD root "
                              "(Milan, Genoa, Turin)",
                              cn_of(certs->ark, &cn), hex);
        }
        /* Use arca's own copy: the pinned key is what counts, and its validity period is the
         * one AMD published. */
        ch->ark = embedded[ch->product][0];
    } else {
        ARCA_GUARD(rc, text_of(arca_x509_issuer_text, ch->intermediate, &a), out);
        for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++) {
            ARCA_GUARD(rc, text_of(arca_x509_subject_text, embedded[p][0], &b), out);
            if (buf_eq(&a, &b)) {
                ch->ark = embedded[p][0];
                ch->product = p;
            }
        }
        ARCA_GUARD_ENSURE(rc, ch->ark != NULL, out, ARCA_ERR_CERT,
                          "snp: the intermediate '%s' is issued by '%s', which is not a pinned "
                          "AMD root (ARK-Milan, ARK-Genoa, ARK-Turin)",
                          cn_of(ch->intermediate, &cn), arca_buf_cstr(&a));
    }
    rc = 0;
out:
    arca_buf_free(&a);
    arca_buf_free(&b);
    arca_buf_free(&cn);
    return rc;
}

enum arca_snp_product arca_snp_certs_product(const struct arca_snp_certs *certs)
{
    struct snp_chain ch;
    if (certs == NULL || chain_resolve(certs, &ch) < 0)
        return ARCA_SNP_PRODUCT_UNKNOWN;
    return ch.product;
}

/* Checks that child is signed by parent (RSA-PSS SHA-384 for every AMD certificate) unless
 * sig_checked (both embedded: verified once at load), that the issuer name matches, and that
 * child is valid at now; *not_after gets its notAfter. */
static int chain_link_ex(const struct arca_x509 *child, const char *child_role,
                         const struct arca_x509 *parent, int64_t now, int64_t *not_after,
                         bool sig_checked)
{
    struct arca_buf cn, pcn, a, b;
    struct arca_key *pk = NULL;
    int rc;
    arca_buf_init(&cn, 256);
    arca_buf_init(&pcn, 256);
    arca_buf_init(&a, 4096);
    arca_buf_init(&b, 4096);
    const char *ccn = cn_of(child, &cn);
    const char *pname = cn_of(parent, &pcn);

    ARCA_GUARD(rc, text_of(arca_x509_issuer_text, child, &a), out);
    ARCA_GUARD(rc, text_of(arca_x509_subject_text, parent, &b), out);
    ARCA_GUARD_ENSURE(rc, buf_eq(&a, &b), out, ARCA_ERR_CERT,
                      "snp: %s '%s' is issued by '%s', not by '%s'", child_role, ccn,
                      arca_buf_cstr(&a), pname);
    if (!sig_checked) {
        ARCA_GUARD(rc, arca_x509_public_key(parent, &pk), out);
        rc = arca_x509_verify_signature(child, pk);
    }
    if (rc < 0) {
        rc = arca_err_set(ARCA_ERR_CERT, "snp: %s '%s' is not signed by '%s' (RSA-PSS SHA-384)",
                          child_role, ccn, pname);
        goto out;
    }
    int64_t nb, na;
    ARCA_GUARD(rc, arca_x509_validity(child, &nb, &na), out);
    if (now < nb || now > na) {
        char t[ARCA_TIME_RFC3339_LEN], t1[ARCA_TIME_RFC3339_LEN], t2[ARCA_TIME_RFC3339_LEN];
        arca_time_format_rfc3339(now, t);
        arca_time_format_rfc3339(nb, t1);
        arca_time_format_rfc3339(na, t2);
        rc = arca_err_set(ARCA_ERR_EXPIRED, "snp: %s '%s' is not valid at %s (valid %s .. %s)",
                          child_role, ccn, t, t1, t2);
        goto out;
    }
    *not_after = na;
    rc = 0;
out:
    arca_key_free(pk);
    arca_buf_free(&cn);
    arca_buf_free(&pcn);
    arca_buf_free(&a);
    arca_buf_free(&b);
    return rc;
}

static int chain_link(const struct arca_x509 *child, const char *child_role,
                      const struct arca_x509 *parent, int64_t now, int64_t *not_after)
{
    return chain_link_ex(child, child_role, parent, now, not_after,
                         is_embedded(child) && is_embedded(parent));
}

/* Verifies the resolved chain root first; *expiry gets the earliest notAfter. */
static int chain_verify(const struct snp_chain *ch, int64_t now, int64_t *expiry)
{
    int64_t na_ark, na_int, na_key;
    ARCA_TRY(chain_link(ch->ark, "ARK", ch->ark, now, &na_ark));
    ARCA_TRY(chain_link(ch->intermediate, ch->vlek ? "ASVK" : "ASK", ch->ark, now, &na_int));
    int64_t exp = na_ark < na_int ? na_ark : na_int;
    if (ch->key != NULL) {
        ARCA_TRY(chain_link(ch->key, ch->vlek ? "VLEK" : "VCEK", ch->intermediate, now, &na_key));
        if (na_key < exp)
            exp = na_key;
    }
    *expiry = exp;
    return 0;
}

int arca_snp_chain_verify(const struct arca_snp_certs *certs, int64_t now,
                          enum arca_snp_product *product)
{
    ARCA_ENSURE_REF(certs);
    struct snp_chain ch;
    int64_t exp;
    ARCA_TRY(chain_resolve(certs, &ch));
    ARCA_TRY(chain_verify(&ch, now, &exp));
    if (product != NULL)
        *product = ch.product;
    return 0;
}

/* Reads a small non-negative DER INTEGER extension value (an SPL: 0..255). */
static int ext_spl(const struct arca_x509 *x, const char *oid, const char *name, const char *role,
                   int *out)
{
    struct arca_buf v;
    arca_buf_init(&v, 64);
    int rc = arca_x509_extension(x, oid, &v);
    if (rc == ARCA_ERR_NOT_FOUND) {
        rc =
            arca_err_set(ARCA_ERR_CERT, "snp: the %s lacks the %s extension (%s)", role, name, oid);
        goto out;
    }
    if (rc < 0)
        goto out;
    struct arca_cur c;
    uint8_t tag, len;
    arca_cur_init(&c, v.data, v.len);
    rc = arca_cur_get_u8(&c, &tag);
    if (rc == 0)
        rc = arca_cur_get_u8(&c, &len);
    ARCA_GUARD_ENSURE(
        rc, rc == 0 && tag == 0x02 && len >= 1 && len <= 2 && arca_cur_left(&c) == len, out,
        ARCA_ERR_CERT, "snp: the %s's %s extension (%s) is not a small INTEGER", role, name, oid);
    uint8_t b0 = c.p[c.off], b1 = len == 2 ? c.p[c.off + 1] : 0;
    /* DER: two bytes only as 00 xx with xx >= 0x80; a negative value is never an SPL. */
    if (len == 1) {
        ARCA_GUARD_ENSURE(rc, b0 < 0x80, out, ARCA_ERR_CERT,
                          "snp: the %s's %s extension (%s) is negative", role, name, oid);
        *out = b0;
    } else {
        ARCA_GUARD_ENSURE(rc, b0 == 0 && b1 >= 0x80, out, ARCA_ERR_CERT,
                          "snp: the %s's %s extension (%s) is out of range", role, name, oid);
        *out = b1;
    }
    rc = 0;
out:
    arca_buf_free(&v);
    return rc;
}

static int check_tcb(const struct snp_chain *ch, const struct arca_snp_report *r)
{
    const char *role = ch->vlek ? "VLEK" : "VCEK";
    struct arca_snp_tcb t;
    arca_snp_tcb_decode(r->reported_tcb, ch->product, &t);
    struct {
        const char *oid, *name;
        int want;
    } spl[] = {
        {SNP_OID_BL, "blSPL", t.bootloader}, {SNP_OID_TEE, "teeSPL", t.tee},
        {SNP_OID_SNP, "snpSPL", t.snp},      {SNP_OID_UCODE, "ucodeSPL", t.microcode},
        {SNP_OID_FMC, "fmcSPL", t.fmc},
    };
    size_t count = ch->product == ARCA_SNP_PRODUCT_TURIN ? 5 : 4;
    for (size_t i = 0; i < count; i++) {
        int have = -1;
        ARCA_TRY(ext_spl(ch->key, spl[i].oid, spl[i].name, role, &have));
        ARCA_ENSURE(have == spl[i].want, ARCA_ERR_POLICY,
                    "snp: TCB mismatch: REPORTED_TCB 0x%016llx has %s %d but the %s was issued "
                    "for %s %d (a %s of another TCB)",
                    (unsigned long long)r->reported_tcb, spl[i].name, spl[i].want, role,
                    spl[i].name, have, role);
    }
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int check_hwid(const struct snp_chain *ch, const struct arca_snp_report *r)
{
    if (ch->vlek)
        return 0; /* a VLEK is per provider, not per chip; CHIP_ID is zero */
    if (all_zero(r->chip_id, sizeof(r->chip_id))) {
        /* MASK_CHIP_ID: the guest hid CHIP_ID. The VCEK is still chip-unique and the
         * signature below binds the report to it. */
        arca_debug("snp", "CHIP_ID masked: hwID not compared");
        return 0;
    }
    struct arca_buf v;
    arca_buf_init(&v, 256);
    int rc = arca_x509_extension(ch->key, SNP_OID_HWID, &v);
    if (rc == ARCA_ERR_NOT_FOUND) {
        rc = arca_err_set(ARCA_ERR_CERT, "snp: the VCEK lacks the hwID extension (%s)",
                          SNP_OID_HWID);
        goto out;
    }
    if (rc < 0)
        goto out;
    /* Turin VCEKs carry the first 8 bytes of CHIP_ID; earlier products all 64. */
    size_t want = ch->product == ARCA_SNP_PRODUCT_TURIN ? 8 : 64;
    const uint8_t *hw = v.data;
    size_t hwlen = v.len;
    if (hwlen == want + 2 && hw[0] == 0x04 && hw[1] == want) { /* tolerate a wrapped form */
        hw += 2;
        hwlen -= 2;
    }
    ARCA_GUARD_ENSURE(rc, hwlen == want, out, ARCA_ERR_CERT,
                      "snp: the VCEK's hwID extension is %zu bytes, expected %zu for %s", hwlen,
                      want, arca_snp_product_name(ch->product));
    if (memcmp(hw, r->chip_id, want) != 0) {
        char a[17], b[17];
        arca_hex_fmt(a, hw, 8);
        arca_hex_fmt(b, r->chip_id, 8);
        rc = arca_err_set(ARCA_ERR_POLICY,
                          "snp: hwID mismatch: the VCEK belongs to chip %s..., the report's "
                          "CHIP_ID is %s... (a VCEK of another chip)",
                          a, b);
        goto out;
    }
    rc = 0;
out:
    arca_buf_free(&v);
    return rc;
}

static int check_signature(const struct snp_chain *ch, const uint8_t *raw,
                           const struct arca_snp_report *r)
{
    const char *role = ch->vlek ? "VLEK" : "VCEK";
    /* r and s are P-384 scalars in 72-byte fields: the high 24 bytes must be zero, and so
     * must the rest of the signature area; otherwise the unsigned bytes could vary freely. */
    ARCA_ENSURE(all_zero(r->sig_r + 48, 24) && all_zero(r->sig_s + 48, 24), ARCA_ERR_SIGNATURE,
                "snp: report signature r or s (offset 0x2A0) exceeds 384 bits");
    ARCA_ENSURE(
        all_zero(raw + ARCA_SNP_SIGNED_LEN + 144, ARCA_SNP_REPORT_LEN - ARCA_SNP_SIGNED_LEN - 144),
        ARCA_ERR_FORMAT,
        "snp report: reserved bytes after the signature (offset 0x%x) "
        "are not zero",
        ARCA_SNP_SIGNED_LEN + 144);
    struct arca_key *k = NULL;
    ARCA_TRY(arca_x509_public_key(ch->key, &k));
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, arca_key_type(k) == ARCA_KEY_P384, out, ARCA_ERR_CERT,
                      "snp: the %s's key is %s, not P-384", role,
                      arca_key_type_name(arca_key_type(k)));
    rc = arca_verify_ecdsa_raw(k, ARCA_SHA384, raw, ARCA_SNP_SIGNED_LEN, r->sig_r, r->sig_s, 72,
                               true);
    if (rc < 0)
        rc = arca_err_set(ARCA_ERR_SIGNATURE,
                          "snp: report signature (ECDSA P-384, offset 0x2A0) does not verify "
                          "with the %s over bytes 0x000..0x29F",
                          role);
out:
    arca_key_free(k);
    return rc;
}

int arca_snp_verify(const void *report, size_t n, const struct arca_snp_certs *certs, int64_t now,
                    struct arca_claims *claims)
{
    ARCA_ENSURE_REF(report);
    struct arca_snp_report r;
    ARCA_TRY(arca_snp_report_parse(report, n, &r));
    ARCA_ENSURE(certs != NULL && certs->key != NULL, ARCA_ERR_INVALID_ARG,
                "snp: no VCEK/VLEK certificate given (a report does not carry it: fetch it from "
                "AMD KDS or pass it as collateral)");

    struct snp_chain ch;
    ARCA_TRY(chain_resolve(certs, &ch));
    enum arca_snp_signing_key sk = arca_snp_report_signing_key(&r);
    ARCA_ENSURE((sk == ARCA_SNP_KEY_VLEK) == ch.vlek, ARCA_ERR_CERT,
                "snp: KEY_INFO says the report is signed by a %s but the key certificate is a %s",
                sk == ARCA_SNP_KEY_VLEK ? "VLEK" : "VCEK", ch.vlek ? "VLEK" : "VCEK");

    int64_t expiry;
    ARCA_TRY(chain_verify(&ch, now, &expiry));

    ARCA_TRY(check_hwid(&ch, &r));
    ARCA_TRY(check_tcb(&ch, &r));
    ARCA_TRY(check_signature(&ch, report, &r));

    if (claims != NULL) {
        struct arca_claims c;
        memset(&c, 0, sizeof(c));
        c.type = ARCA_EVIDENCE_SNP;
        c.debug = (r.policy & ARCA_SNP_POLICY_DEBUG) != 0;
        memcpy(c.report_data, r.report_data, sizeof(c.report_data));
        c.tcb_status = ARCA_TCB_UP_TO_DATE;
        if (!ch.vlek) {
            memcpy(c.platform_id, r.chip_id, sizeof(r.chip_id));
            c.platform_id_len = sizeof(r.chip_id);
        }
        c.collateral_expiry = expiry;
        memcpy(c.measurement, r.measurement, sizeof(c.measurement));
        memcpy(c.host_data, r.host_data, sizeof(c.host_data));
        memcpy(c.chip_id, r.chip_id, sizeof(c.chip_id));
        c.snp_policy = r.policy;
        c.vmpl = r.vmpl;
        c.reported_tcb = r.reported_tcb;
        c.snp_report_version = r.version;
        *claims = c;
    }
    return 0;
}

int arca_snp_check_policy(const struct arca_claims *claims, const struct arca_snp_policy *pol)
{
    ARCA_ENSURE_REF(claims);
    ARCA_ENSURE_REF(pol);
    ARCA_ENSURE(claims->type == ARCA_EVIDENCE_SNP, ARCA_ERR_INVALID_ARG,
                "snp: claims are not from an SNP report");
    ARCA_ENSURE(pol->allow_debug || (claims->snp_policy & ARCA_SNP_POLICY_DEBUG) == 0,
                ARCA_ERR_POLICY,
                "snp: guest POLICY 0x%llx has the DEBUG bit (19) set: the hypervisor can read "
                "and change guest memory; refused unless debug-mode is tolerated",
                (unsigned long long)claims->snp_policy);
    ARCA_ENSURE(pol->required_vmpl < 0 || claims->vmpl == (uint32_t)pol->required_vmpl,
                ARCA_ERR_POLICY, "snp: report VMPL %u, required %d", claims->vmpl,
                pol->required_vmpl);
    return 0;
}
