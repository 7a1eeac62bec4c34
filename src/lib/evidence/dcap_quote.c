/* Intel DCAP quote parser: structure only, every read bounded through arca_cur. */
#include "evidence/dcap_quote.h"

#include <string.h>

#include "base/buf.h"
#include "base/err.h"

const uint8_t arca_dcap_intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                  0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* Wraps a cursor failure with the field name and the absolute offset. */
static int get(struct arca_cur *c, void *out, size_t n, const char *what)
{
    if (arca_cur_get(c, out, n) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "quote: %s at offset %zu needs %zu bytes, %zu left",
                            what, c->off, n, arca_cur_left(c));
    return 0;
}

static int get_ptr(struct arca_cur *c, const uint8_t **p, size_t n, const char *what)
{
    if (arca_cur_get_ptr(c, p, n) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "quote: %s at offset %zu needs %zu bytes, %zu left",
                            what, c->off, n, arca_cur_left(c));
    return 0;
}

static int get_u16(struct arca_cur *c, uint16_t *v, const char *what)
{
    if (arca_cur_get_u16le(c, v) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "quote: %s at offset %zu: input ends", what,
                            c->off);
    return 0;
}

static int get_u32(struct arca_cur *c, uint32_t *v, const char *what)
{
    if (arca_cur_get_u32le(c, v) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED, "quote: %s at offset %zu: input ends", what,
                            c->off);
    return 0;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int arca_sgx_report_parse(const uint8_t raw[ARCA_SGX_REPORT_LEN], struct arca_sgx_report *r)
{
    ARCA_ENSURE_REF(raw);
    ARCA_ENSURE_REF(r);
    /* Fixed layout (sgx_report_body_t); offsets from the Intel spec table. */
    memset(r, 0, sizeof *r);
    memcpy(r->cpusvn, raw + 0, 16);
    r->miscselect = le32(raw + 16);
    memcpy(r->isvextprodid, raw + 32, 16);
    memcpy(r->attributes, raw + 48, 16);
    memcpy(r->mrenclave, raw + 64, 32);
    memcpy(r->mrsigner, raw + 128, 32);
    memcpy(r->configid, raw + 192, 64);
    r->isvprodid = le16(raw + 256);
    r->isvsvn = le16(raw + 258);
    r->configsvn = le16(raw + 260);
    memcpy(r->isvfamilyid, raw + 304, 16);
    memcpy(r->reportdata, raw + 320, 64);
    return 0;
}

static void td_report_parse(const uint8_t *raw, size_t len, struct arca_td_report *t)
{
    memset(t, 0, sizeof *t);
    memcpy(t->tee_tcb_svn, raw + 0, 16);
    memcpy(t->mrseam, raw + 16, 48);
    memcpy(t->mrsignerseam, raw + 64, 48);
    memcpy(t->seamattributes, raw + 112, 8);
    memcpy(t->tdattributes, raw + 120, 8);
    memcpy(t->xfam, raw + 128, 8);
    memcpy(t->mrtd, raw + 136, 48);
    memcpy(t->mrconfigid, raw + 184, 48);
    memcpy(t->mrowner, raw + 232, 48);
    memcpy(t->mrownerconfig, raw + 280, 48);
    for (int i = 0; i < 4; i++)
        memcpy(t->rtmr[i], raw + 328 + 48 * i, 48);
    memcpy(t->reportdata, raw + 520, 64);
    if (len >= ARCA_TD15_REPORT_LEN) {
        memcpy(t->tee_tcb_svn2, raw + 584, 16);
        memcpy(t->mrservicetd, raw + 600, 48);
    }
}

/* QE report, its signature, QE auth data and the nested certification data. */
static int parse_qe_part(struct arca_cur *c, struct arca_dcap_quote *q)
{
    uint16_t auth_len, ctype;
    uint32_t clen;

    ARCA_TRY(get_ptr(c, &q->qe_report_raw, ARCA_SGX_REPORT_LEN, "QE report"));
    ARCA_TRY(arca_sgx_report_parse(q->qe_report_raw, &q->qe_report));
    ARCA_TRY(get_ptr(c, &q->qe_report_signature, 64, "QE report signature"));
    ARCA_TRY(get_u16(c, &auth_len, "QE authentication data size"));
    ARCA_TRY(get_ptr(c, &q->qe_auth_data, auth_len, "QE authentication data"));
    q->qe_auth_len = auth_len;
    ARCA_TRY(get_u16(c, &ctype, "certification data type"));
    ARCA_TRY(get_u32(c, &clen, "certification data size"));
    ARCA_ENSURE(ctype == ARCA_DCAP_CERT_PCK_CHAIN, ARCA_ERR_UNSUPPORTED,
                "quote: certification data type %u at offset %zu is not supported (only 5, the "
                "PCK certificate chain, makes a quote self-contained)",
                ctype, c->off - 6);
    ARCA_TRY(get_ptr(c, &q->cert_data, clen, "certification data"));
    q->cert_type = ctype;
    q->cert_len = clen;
    return 0;
}

static int parse(struct arca_cur *c, struct arca_dcap_quote *q)
{
    uint32_t body_len = 0, sig_len;
    size_t body_off;
    const uint8_t *body;

    ARCA_TRY(get_u16(c, &q->version, "header version"));
    ARCA_ENSURE(q->version >= 3 && q->version <= 5, ARCA_ERR_UNSUPPORTED,
                "quote: header version %u at offset 0 is not supported (3, 4 or 5)", q->version);
    ARCA_TRY(get_u16(c, &q->att_key_type, "attestation key type"));
    ARCA_ENSURE(q->att_key_type == ARCA_DCAP_ATT_KEY_P256, ARCA_ERR_UNSUPPORTED,
                "quote: attestation key type %u at offset 2 is not supported (2 = ECDSA P-256)",
                q->att_key_type);
    ARCA_TRY(get_u32(c, &q->tee_type, "TEE type"));
    ARCA_TRY(get_u16(c, &q->qe_svn, "QE SVN"));
    ARCA_TRY(get_u16(c, &q->pce_svn, "PCE SVN"));
    ARCA_TRY(get(c, q->qe_vendor_id, 16, "QE vendor ID"));
    ARCA_TRY(get(c, q->user_data, 20, "user data"));

    if (q->version == 3) {
        /* v3 predates TDX: the TEE type word is reserved and the body is always SGX. */
        q->body_type = ARCA_DCAP_BODY_SGX;
        body_len = ARCA_SGX_REPORT_LEN;
    } else if (q->version == 4) {
        if (q->tee_type == ARCA_TEE_TYPE_SGX) {
            q->body_type = ARCA_DCAP_BODY_SGX;
            body_len = ARCA_SGX_REPORT_LEN;
        } else if (q->tee_type == ARCA_TEE_TYPE_TDX) {
            q->body_type = ARCA_DCAP_BODY_TD10;
            body_len = ARCA_TD10_REPORT_LEN;
        } else {
            ARCA_BAIL(ARCA_ERR_UNSUPPORTED, "quote: TEE type 0x%08x at offset 4 is unknown",
                      q->tee_type);
        }
    } else {
        uint16_t type;
        ARCA_TRY(get_u16(c, &type, "v5 body type"));
        ARCA_TRY(get_u32(c, &body_len, "v5 body size"));
        ARCA_ENSURE(type >= ARCA_DCAP_BODY_SGX && type <= ARCA_DCAP_BODY_TD15, ARCA_ERR_UNSUPPORTED,
                    "quote: v5 body type %u at offset 48 is unknown", type);
        static const uint32_t want[4] = {0, ARCA_SGX_REPORT_LEN, ARCA_TD10_REPORT_LEN,
                                         ARCA_TD15_REPORT_LEN};
        ARCA_ENSURE(body_len == want[type], ARCA_ERR_FORMAT,
                    "quote: v5 body size %u at offset 50 does not match body type %u (%u)",
                    body_len, type, want[type]);
        q->body_type = (enum arca_dcap_body)type;
    }
    bool tdx_body = q->body_type != ARCA_DCAP_BODY_SGX;
    ARCA_ENSURE(!(q->version >= 4 && tdx_body != (q->tee_type == ARCA_TEE_TYPE_TDX)),
                ARCA_ERR_FORMAT, "quote: TEE type 0x%08x at offset 4 does not match the body",
                q->tee_type);

    body_off = c->off;
    ARCA_TRY(get_ptr(c, &body, body_len,
                     q->body_type == ARCA_DCAP_BODY_SGX ? "SGX report body" : "TD report body"));
    if (q->body_type == ARCA_DCAP_BODY_SGX)
        ARCA_TRY(arca_sgx_report_parse(body, &q->sgx));
    else
        td_report_parse(body, body_len, &q->td);
    q->signed_len = body_off + body_len;

    ARCA_TRY(get_u32(c, &sig_len, "signature data length"));
    struct arca_cur sig;
    if (arca_cur_get_sub(c, &sig, sig_len) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED,
                  "quote: signature data length %u at offset %zu overruns the input (%zu left)",
                  sig_len, c->off - 4, arca_cur_left(c));
    q->quote_len = c->off;
    size_t sig_base = c->off - sig_len;

    ARCA_TRY(get_ptr(&sig, &q->signature, 64, "quote signature"));
    ARCA_TRY(get_ptr(&sig, &q->attestation_key, 64, "attestation key"));
    if (q->version == 3) {
        ARCA_TRY(parse_qe_part(&sig, q));
    } else {
        uint16_t ctype;
        uint32_t clen;
        struct arca_cur inner;
        ARCA_TRY(get_u16(&sig, &ctype, "certification data type"));
        ARCA_TRY(get_u32(&sig, &clen, "certification data size"));
        ARCA_ENSURE(ctype == ARCA_DCAP_CERT_QE_REPORT, ARCA_ERR_UNSUPPORTED,
                    "quote: outer certification data type %u at offset %zu is not supported "
                    "(6 = QE report certification data)",
                    ctype, sig_base + sig.off - 6);
        if (arca_cur_get_sub(&sig, &inner, clen) < 0)
            ARCA_BAIL(ARCA_ERR_TRUNCATED,
                      "quote: certification data size %u at offset %zu overruns the signature "
                      "data",
                      clen, sig_base + sig.off - 4);
        ARCA_TRY(parse_qe_part(&inner, q));
        ARCA_ENSURE(arca_cur_done(&inner), ARCA_ERR_FORMAT,
                    "quote: %zu unexpected bytes after the PCK chain in the QE report "
                    "certification data",
                    arca_cur_left(&inner));
    }
    ARCA_ENSURE(arca_cur_done(&sig), ARCA_ERR_FORMAT,
                "quote: %zu unexpected bytes at the end of the signature data",
                arca_cur_left(&sig));
    return 0;
}

int arca_dcap_quote_parse(const void *p, size_t n, struct arca_dcap_quote *q)
{
    struct arca_cur c;
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(q);
    memset(q, 0, sizeof *q);
    arca_cur_init(&c, p, n);
    int rc = parse(&c, q);
    if (rc < 0) {
        memset(q, 0, sizeof *q);
        return rc;
    }
    q->signed_data = p;
    return 0;
}
