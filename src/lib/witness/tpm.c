/*
 * The TPM 2.0 witness (witness.h, "tpm[:TCTI]"): an NV counter, through tpm2-tss ESAPI.
 *
 * Two NV indices in the owner range, chosen from the witness key (so several arcads can share
 * a TPM): C, a counter (TPM2_NT_COUNTER: it only ever goes up, by TPM2_NV_Increment, and a
 * counter defined anew starts at the highest value any counter of this TPM ever had), and
 * C + 1, an 8-byte ordinary index holding a base B. The witness value is C - B (mod 2^64), so a
 * state that already has N commits when the witness is added starts at N without N
 * increments. Both indices are defined with an authorisation value derived from the witness
 * key (only this arcad can derive it), AUTHREAD | AUTHWRITE and NO_DA, and every use is an
 * HMAC session: an index the host defined or re-defined does not answer to our HMAC, so the
 * host can neither advance nor rewrite ours, nor present one of its own as ours.
 *
 * What a host can do (docs/internals/witness.md): undefine the indices or clear the TPM (arcad
 * then refuses: "witness lost"), withhold the TPM (writes stop), watch the TPM bus at the one
 * moment the indices are defined (TPM2_NV_DefineSpace carries the auth value in clear: use a
 * TPM the host cannot watch, e.g. a vTPM inside the confidential VM) and, for a software TPM
 * it runs itself (swtpm outside the TEE), roll back the TPM's own state files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "witness/witness.h"

#define TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define TPM_MAX_STEPS 65536 /* increments one record may take (a far-behind witness) */

/* The handles an operation uses: the NV indices and an HMAC session. */
struct op {
    ESYS_TR sess, ctr, base;
    bool have_ctr, have_base;
};

struct tpm_witness {
    char *tcti_conf;
    char label[160];
    TPM2B_AUTH auth;
    TPM2_HANDLE counter, base; /* NV index handles */
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    /* Kept after a fully successful operation (both indices exist, the base is read), so that
     * a commit costs two TPM commands (read the counter, increment) instead of about nine;
     * dropped on any failure, when the next call looks the indices up again. */
    bool cached;
    struct op o;
    uint64_t base_val;
};

static int tss_fail(struct tpm_witness *t, const char *what, TSS2_RC rc)
{
    return arca_err_set(ARCA_ERR_NETWORK, "witness %s: %s: %s", t->label, what, Tss2_RC_Decode(rc));
}

/* Whether rc is the TPM's response code code, ignoring which handle, session or parameter a
 * format-one code names. */
static bool tpm_rc_is(TSS2_RC rc, TSS2_RC code)
{
    if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
        return false;
    rc &= 0xFFF;
    if (rc & TPM2_RC_FMT1)
        rc &= TPM2_RC_FMT1 | 0x3F;
    return rc == code;
}

static void disconnect(struct tpm_witness *t)
{
    t->cached = false; /* the ESYS handles die with the context */
    if (t->esys != NULL)
        Esys_Finalize(&t->esys);
    if (t->tcti != NULL)
        Tss2_TctiLdr_Finalize(&t->tcti);
    t->esys = NULL;
    t->tcti = NULL;
}

/* Connects lazily; a TPM that went away is reconnected at the next call. */
static int connect_tpm(struct tpm_witness *t)
{
    if (t->esys != NULL)
        return 0;
    TSS2_RC rc = Tss2_TctiLdr_Initialize(t->tcti_conf, &t->tcti);
    if (rc != TSS2_RC_SUCCESS) {
        t->tcti = NULL;
        return tss_fail(t, "cannot reach the TPM", rc);
    }
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        t->esys = NULL;
        disconnect(t);
        return tss_fail(t, "ESAPI", rc);
    }
    return 0;
}

/* Whether NV index h is defined. */
static int nv_exists(struct tpm_witness *t, TPM2_HANDLE h, bool *exists)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    TSS2_RC rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_HANDLES, h, 1, &more, &cap);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(t, "list NV indices", rc);
    *exists = cap->data.handles.count > 0 && cap->data.handles.handle[0] == h;
    Esys_Free(cap);
    return 0;
}

static int nv_tr(struct tpm_witness *t, TPM2_HANDLE h, ESYS_TR *tr)
{
    TSS2_RC rc = Esys_TR_FromTPMPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(t, "open NV index", rc);
    rc = Esys_TR_SetAuth(t->esys, *tr, &t->auth);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_TR_Close(t->esys, tr);
        return tss_fail(t, "NV auth", rc);
    }
    return 0;
}

static int nv_define(struct tpm_witness *t, TPM2_HANDLE h, TPM2_NT type, ESYS_TR *tr)
{
    TPM2B_NV_PUBLIC pub;
    memset(&pub, 0, sizeof(pub));
    pub.nvPublic.nvIndex = h;
    pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
    pub.nvPublic.attributes = ((TPMA_NV)type << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |
                              TPMA_NV_AUTHREAD | TPMA_NV_NO_DA;
    pub.nvPublic.dataSize = 8;
    TSS2_RC rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &t->auth, &pub, tr);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(t, "define NV index (owner authorisation must be empty)", rc);
    rc = Esys_TR_SetAuth(t->esys, *tr, &t->auth);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_TR_Close(t->esys, tr);
        return tss_fail(t, "NV auth", rc);
    }
    return 0;
}

/* An unsalted HMAC session: the HMAC key is our auth value, which never crosses the bus. */
static int hmac_session(struct tpm_witness *t, ESYS_TR *s)
{
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
    TSS2_RC rc =
        Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, s);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(t, "start HMAC session", rc);
    rc = Esys_TRSess_SetAttributes(t->esys, *s, TPMA_SESSION_CONTINUESESSION,
                                   TPMA_SESSION_CONTINUESESSION);
    return rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, "HMAC session attributes", rc);
}

/* Reads the 8-byte big-endian value of an index; ARCA_ERR_NOT_FOUND if never written. */
static int nv_read_u64(struct tpm_witness *t, ESYS_TR tr, ESYS_TR sess, uint64_t *v)
{
    TPM2B_MAX_NV_BUFFER *data = NULL;
    TSS2_RC rc = Esys_NV_Read(t->esys, tr, tr, sess, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &data);
    if (tpm_rc_is(rc, TPM2_RC_NV_UNINITIALIZED))
        return ARCA_ERR_NOT_FOUND;
    if (tpm_rc_is(rc, TPM2_RC_AUTH_FAIL) || tpm_rc_is(rc, TPM2_RC_BAD_AUTH) ||
        tpm_rc_is(rc, TPM2_RC_NV_AUTHORIZATION))
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "witness %s: the NV index does not accept this arcad's "
                            "authorisation: it was re-defined by someone else",
                            t->label);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(t, "read NV index", rc);
    uint64_t x = 0;
    for (int i = 0; i < 8 && i < data->size; i++)
        x = (x << 8) | data->buffer[i];
    Esys_Free(data);
    *v = x;
    return 0;
}

static void op_end(struct tpm_witness *t, struct op *o)
{
    if (t->esys == NULL)
        return;
    if (o->sess != ESYS_TR_NONE)
        Esys_FlushContext(t->esys, o->sess);
    if (o->ctr != ESYS_TR_NONE)
        Esys_TR_Close(t->esys, &o->ctr);
    if (o->base != ESYS_TR_NONE)
        Esys_TR_Close(t->esys, &o->base);
}

static int op_begin(struct tpm_witness *t, struct op *o)
{
    o->sess = o->ctr = o->base = ESYS_TR_NONE;
    o->have_ctr = o->have_base = false;
    ARCA_TRY(connect_tpm(t));
    int rc = nv_exists(t, t->counter, &o->have_ctr);
    if (rc == 0)
        rc = nv_exists(t, t->base, &o->have_base);
    if (rc == 0 && o->have_ctr)
        rc = nv_tr(t, t->counter, &o->ctr);
    if (rc == 0 && o->have_base)
        rc = nv_tr(t, t->base, &o->base);
    if (rc == 0)
        rc = hmac_session(t, &o->sess);
    if (rc < 0) {
        op_end(t, o);
        if (rc == ARCA_ERR_NETWORK)
            disconnect(t);
    }
    return rc;
}

/* value = counter - base; ARCA_ERR_NOT_FOUND if either is missing or unwritten. */
static int op_value(struct tpm_witness *t, struct op *o, uint64_t *value, uint64_t *raw)
{
    if (!o->have_ctr || !o->have_base)
        return ARCA_ERR_NOT_FOUND;
    uint64_t c = 0, b = t->base_val;
    if (!t->cached)
        ARCA_TRY(nv_read_u64(t, o->base, o->sess, &b));
    ARCA_TRY(nv_read_u64(t, o->ctr, o->sess, &c));
    t->base_val = b;
    *value = c - b;
    if (raw != NULL)
        *raw = c;
    return 0;
}

/* Ends an operation: keeps its handles after success, drops them (and on a transport error
 * the connection) otherwise. */
static int op_finish(struct tpm_witness *t, int rc)
{
    if (rc == 0 && t->o.have_ctr && t->o.have_base) {
        t->cached = true;
        return 0;
    }
    op_end(t, &t->o);
    t->cached = false;
    if (rc == ARCA_ERR_NETWORK)
        disconnect(t);
    return rc;
}

static int tpm_read(void *impl, uint64_t *value)
{
    struct tpm_witness *t = impl;
    if (!t->cached)
        ARCA_TRY(op_begin(t, &t->o));
    return op_finish(t, op_value(t, &t->o, value, NULL));
}

static int increment(struct tpm_witness *t, struct op *o)
{
    TSS2_RC rc = Esys_NV_Increment(t->esys, o->ctr, o->ctr, o->sess, ESYS_TR_NONE, ESYS_TR_NONE);
    if (tpm_rc_is(rc, TPM2_RC_AUTH_FAIL) || tpm_rc_is(rc, TPM2_RC_BAD_AUTH))
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "witness %s: the NV counter does not accept this arcad's "
                            "authorisation: it was re-defined by someone else",
                            t->label);
    return rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, "increment NV counter", rc);
}

/* First use: define what is missing, start the counter and set the base so the value is
 * epoch. Each step can be repeated after a crash (an unwritten index reads as fresh). */
static int initialise(struct tpm_witness *t, struct op *o, uint64_t epoch)
{
    if (!o->have_base) {
        ARCA_TRY(nv_define(t, t->base, TPM2_NT_ORDINARY, &o->base));
        o->have_base = true;
    }
    if (!o->have_ctr) {
        ARCA_TRY(nv_define(t, t->counter, TPM2_NT_COUNTER, &o->ctr));
        o->have_ctr = true;
    }
    ARCA_TRY(increment(t, o)); /* a counter reads only after its first increment */
    uint64_t c = 0;
    ARCA_TRY(nv_read_u64(t, o->ctr, o->sess, &c));
    uint64_t b = c - epoch;
    TPM2B_MAX_NV_BUFFER buf = {.size = 8};
    for (int i = 0; i < 8; i++)
        buf.buffer[i] = (uint8_t)(b >> (56 - 8 * i));
    TSS2_RC rc =
        Esys_NV_Write(t->esys, o->base, o->base, o->sess, ESYS_TR_NONE, ESYS_TR_NONE, &buf, 0);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(t, "write NV base", rc);
    t->base_val = b;
    return 0;
}

static int record_op(struct tpm_witness *t, struct op *o, uint64_t epoch)
{
    uint64_t v = 0;
    int rc = op_value(t, o, &v, NULL);
    if (rc == ARCA_ERR_NOT_FOUND)
        return initialise(t, o, epoch);
    ARCA_TRY(rc);
    ARCA_ENSURE(v != epoch, ARCA_ERR_EXISTS, "witness %s is at commit %llu already", t->label,
                (unsigned long long)v);
    ARCA_ENSURE(v < epoch, ARCA_ERR_TAMPERED, "witness %s is at commit %llu, ahead of commit %llu",
                t->label, (unsigned long long)v, (unsigned long long)epoch);
    ARCA_ENSURE(epoch - v <= TPM_MAX_STEPS, ARCA_ERR_LIMIT,
                "witness %s is at commit %llu, %llu commits behind: more than %d increments",
                t->label, (unsigned long long)v, (unsigned long long)(epoch - v), TPM_MAX_STEPS);
    for (uint64_t i = v; i < epoch; i++)
        ARCA_TRY(increment(t, o));
    return 0;
}

static int tpm_record(void *impl, uint64_t epoch)
{
    struct tpm_witness *t = impl;
    if (!t->cached)
        ARCA_TRY(op_begin(t, &t->o));
    return op_finish(t, record_op(t, &t->o, epoch));
}

static void tpm_free(void *impl)
{
    struct tpm_witness *t = impl;
    if (t == NULL)
        return;
    if (t->cached)
        op_end(t, &t->o);
    disconnect(t);
    free(t->tcti_conf);
    arca_wipe(t, sizeof(*t));
    free(t);
}

int arca_witness_tpm_new(const char *tcti, const uint8_t key[ARCA_WITNESS_KEY_LEN],
                         struct arca_witness_backend *out)
{
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(out);
    /* tpm2-tss logs every failed connection to stderr itself; arca reports them (once, with
     * context) through its own error detail. An operator's TSS2_LOG still wins. */
    setenv("TSS2_LOG", "all+NONE", 0);
    struct tpm_witness *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "witness tpm");
    int rc = 0;
    if (tcti == NULL || tcti[0] == '\0')
        tcti = TPM_DEFAULT_TCTI;
    if (tcti[0] == '/')
        rc = asprintf(&t->tcti_conf, "device:%s", tcti) < 0 ? ARCA_ERR_ALLOC : 0;
    else if ((t->tcti_conf = strdup(tcti)) == NULL)
        rc = ARCA_ERR_ALLOC;
    if (rc < 0) {
        t->tcti_conf = NULL;
        tpm_free(t);
        return arca_err_set(ARCA_ERR_ALLOC, "witness tpm");
    }
    static const char salt[] = "arca-witness-tpm-v1";
    uint8_t d[34];
    rc = arca_hkdf(ARCA_SHA256, salt, sizeof(salt) - 1, key, ARCA_WITNESS_KEY_LEN,
                   "nv auth and index", 17, d, sizeof(d));
    if (rc < 0) {
        tpm_free(t);
        return rc;
    }
    t->auth.size = 32;
    memcpy(t->auth.buffer, d, 32);
    /* owner NV range 0x01000000..0x013FFFFF; an even handle for the counter, +1 the base */
    t->counter = 0x01000000u | ((((uint32_t)d[32] << 8 | d[33]) << 4) & 0x3FFFFEu);
    t->base = t->counter + 1;
    arca_wipe(d, sizeof(d));
    memset(out, 0, sizeof(*out));
    snprintf(out->label, sizeof(out->label), "tpm:%.120s (NV 0x%08x)", t->tcti_conf,
             (unsigned)t->counter);
    snprintf(t->label, sizeof(t->label), "%s", out->label);
    out->read = tpm_read;
    out->record = tpm_record;
    out->free = tpm_free;
    out->impl = t;
    return 0;
}
