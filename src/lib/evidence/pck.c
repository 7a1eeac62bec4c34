/* PCK certificate SGX extension parser (Intel PCK certificate profile). */
#include "evidence/pck.h"

#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "evidence/der.h"

/* DER contents of OID 1.2.840.113741.1.13.1; sub-elements append one or two arcs. */
static const uint8_t sgx_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
#define SGX_OID_LEN sizeof sgx_oid

/* Returns the arcs after the SGX base OID (1 or 2 of them, each < 128), or -1. */
static int sub_arcs(const struct arca_cur *oid, unsigned *a, unsigned *b)
{
    size_t n = arca_cur_left(oid);
    const uint8_t *p = oid->p + oid->off;
    if (n < SGX_OID_LEN + 1 || n > SGX_OID_LEN + 2 || memcmp(p, sgx_oid, SGX_OID_LEN) != 0)
        return -1;
    if (p[SGX_OID_LEN] & 0x80)
        return -1;
    *a = p[SGX_OID_LEN];
    *b = 0;
    if (n == SGX_OID_LEN + 2) {
        if (p[SGX_OID_LEN + 1] & 0x80)
            return -1;
        *b = p[SGX_OID_LEN + 1];
    }
    return (int)(n - SGX_OID_LEN);
}

static int octets(struct arca_cur *v, uint8_t *out, size_t n, const char *what)
{
    struct arca_cur s;
    ARCA_TRY(arca_der_expect(v, ARCA_DER_OCTET_STRING, &s, what));
    ARCA_ENSURE(arca_cur_left(&s) == n, ARCA_ERR_FORMAT, "PCK extension: %s is %zu bytes, want %zu",
                what, arca_cur_left(&s), n);
    return arca_cur_get(&s, out, n);
}

static int parse_tcb(struct arca_cur *v, struct arca_pck_ext *e)
{
    struct arca_cur seq;
    unsigned seen = 0; /* bit i-1 for component i, bit 16 PCESVN, bit 17 CPUSVN */
    ARCA_TRY(arca_der_expect(v, ARCA_DER_SEQUENCE, &seq, "PCK extension TCB"));
    while (!arca_cur_done(&seq)) {
        struct arca_cur pair, oid;
        unsigned a, b;
        ARCA_TRY(arca_der_expect(&seq, ARCA_DER_SEQUENCE, &pair, "PCK extension TCB entry"));
        ARCA_TRY(arca_der_expect(&pair, ARCA_DER_OID, &oid, "PCK extension TCB entry OID"));
        if (sub_arcs(&oid, &a, &b) != 2 || a != 2 || b < 1 || b > 18)
            ARCA_BAIL(ARCA_ERR_FORMAT, "PCK extension: unexpected OID in the TCB sequence");
        ARCA_ENSURE(!(seen & (1u << (b - 1))), ARCA_ERR_FORMAT,
                    "PCK extension: TCB element %u appears twice", b);
        seen |= 1u << (b - 1);
        if (b == 18) {
            ARCA_TRY(octets(&pair, e->cpusvn, 16, "CPUSVN"));
        } else {
            struct arca_cur iv;
            uint64_t x = 0;
            ARCA_TRY(arca_der_expect(&pair, ARCA_DER_INTEGER, &iv, "TCB component SVN"));
            if (b == 17) {
                ARCA_TRY(arca_der_uint(&iv, UINT16_MAX, &x));
                e->pcesvn = (uint16_t)x;
            } else {
                ARCA_TRY(arca_der_uint(&iv, UINT8_MAX, &x));
                e->comp_svn[b - 1] = (uint8_t)x;
            }
        }
        ARCA_ENSURE(arca_cur_done(&pair), ARCA_ERR_FORMAT,
                    "PCK extension: trailing bytes in TCB element %u", b);
    }
    ARCA_ENSURE((seen & 0x1ffff) == 0x1ffff, ARCA_ERR_FORMAT,
                "PCK extension: TCB lacks components (have mask 0x%05x, need 16 SVNs and PCESVN)",
                seen);
    return 0;
}

int arca_pck_ext_parse(const void *der, size_t n, struct arca_pck_ext *out)
{
    struct arca_cur c, seq;
    struct arca_pck_ext e;
    unsigned seen = 0;

    ARCA_ENSURE_REF(der);
    ARCA_ENSURE_REF(out);
    memset(&e, 0, sizeof e);
    e.sgx_type = -1;
    arca_cur_init(&c, der, n);
    ARCA_TRY(arca_der_expect(&c, ARCA_DER_SEQUENCE, &seq, "PCK extension"));
    ARCA_ENSURE(arca_cur_done(&c), ARCA_ERR_FORMAT, "PCK extension: trailing bytes after it");
    while (!arca_cur_done(&seq)) {
        struct arca_cur pair, oid;
        unsigned a, b;
        ARCA_TRY(arca_der_expect(&seq, ARCA_DER_SEQUENCE, &pair, "PCK extension entry"));
        ARCA_TRY(arca_der_expect(&pair, ARCA_DER_OID, &oid, "PCK extension entry OID"));
        if (sub_arcs(&oid, &a, &b) != 1)
            continue; /* not ours; unknown entries are skipped (Intel adds new ones) */
        if (a >= 1 && a <= 5) {
            ARCA_ENSURE(!(seen & (1u << a)), ARCA_ERR_FORMAT,
                        "PCK extension: element %u appears twice", a);
            seen |= 1u << a;
        }
        switch (a) {
        case 1:
            ARCA_TRY(octets(&pair, e.ppid, 16, "PPID"));
            break;
        case 2:
            ARCA_TRY(parse_tcb(&pair, &e));
            break;
        case 3:
            ARCA_TRY(octets(&pair, e.pceid, 2, "PCE-ID"));
            break;
        case 4:
            ARCA_TRY(octets(&pair, e.fmspc, 6, "FMSPC"));
            break;
        case 5: {
            struct arca_cur ev;
            uint64_t x = 0;
            ARCA_TRY(arca_der_expect(&pair, ARCA_DER_ENUMERATED, &ev, "SGX type"));
            ARCA_TRY(arca_der_uint(&ev, 255, &x));
            e.sgx_type = (int)x;
            break;
        }
        default:
            continue; /* PlatformInstanceID, Configuration: not needed */
        }
        ARCA_ENSURE(arca_cur_done(&pair), ARCA_ERR_FORMAT,
                    "PCK extension: trailing bytes in element %u", a);
    }
    ARCA_ENSURE(seen & (1u << 2), ARCA_ERR_FORMAT, "PCK extension: TCB element missing");
    ARCA_ENSURE(seen & (1u << 3), ARCA_ERR_FORMAT, "PCK extension: PCE-ID missing");
    ARCA_ENSURE(seen & (1u << 4), ARCA_ERR_FORMAT, "PCK extension: FMSPC missing");
    *out = e;
    return 0;
}

int arca_pck_ext_from_cert(const struct arca_x509 *pck, struct arca_pck_ext *out)
{
    struct arca_buf b;
    int rc;
    ARCA_ENSURE_REF(pck);
    arca_buf_init(&b, 1 << 16);
    rc = arca_x509_extension(pck, ARCA_PCK_SGX_EXT_OID, &b);
    if (rc == 0)
        rc = arca_pck_ext_parse(b.data, b.len, out);
    arca_buf_free(&b);
    return rc == ARCA_ERR_NOT_FOUND
               ? arca_err_set(rc, "PCK certificate has no SGX extension (%s)", ARCA_PCK_SGX_EXT_OID)
               : rc;
}
