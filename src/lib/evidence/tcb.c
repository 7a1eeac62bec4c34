/* Intel TCB Info / Enclave Identity parsing and TCB level selection. */
#include "evidence/tcb.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "evidence/signed_json.h"

static const struct {
    const char *name;
    enum arca_tcb_status s;
} status_names[] = {
    {"UpToDate", ARCA_TCB_UP_TO_DATE},
    {"SWHardeningNeeded", ARCA_TCB_SW_HARDENING_NEEDED},
    {"ConfigurationNeeded", ARCA_TCB_CONFIGURATION_NEEDED},
    {"ConfigurationAndSWHardeningNeeded", ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED},
    {"OutOfDate", ARCA_TCB_OUT_OF_DATE},
    {"OutOfDateConfigurationNeeded", ARCA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED},
    {"Revoked", ARCA_TCB_REVOKED},
};

enum arca_tcb_status arca_tcb_status_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof status_names / sizeof status_names[0]; i++)
        if (strcmp(s, status_names[i].name) == 0)
            return status_names[i].s;
    return ARCA_TCB_UNKNOWN;
}

/* ---- JSON field helpers; `where` names the document and path for details ---------------- */

static int j_hex(json_t *o, const char *key, uint8_t *out, size_t n, const char *where)
{
    json_t *v = json_object_get(o, key);
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "%s: \"%s\" missing or not a string", where,
                key);
    if (arca_hex_decode_fixed(out, n, json_string_value(v), json_string_length(v)) < 0)
        ARCA_BAIL(ARCA_ERR_FORMAT, "%s: \"%s\" must be %zu bytes of hex", where, key, n);
    return 0;
}

static int j_uint(json_t *o, const char *key, uint64_t max, uint64_t *out, const char *where)
{
    json_t *v = json_object_get(o, key);
    ARCA_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0 &&
                    (uint64_t)json_integer_value(v) <= max,
                ARCA_ERR_FORMAT, "%s: \"%s\" missing or not an integer in 0..%llu", where, key,
                (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int j_time(json_t *o, const char *key, int64_t *out, const char *where)
{
    json_t *v = json_object_get(o, key);
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "%s: \"%s\" missing or not a string", where,
                key);
    if (arca_time_parse_rfc3339(json_string_value(v), out) < 0)
        ARCA_BAIL(ARCA_ERR_FORMAT, "%s: \"%s\" is not an RFC 3339 time", where, key);
    return 0;
}

static int j_status(json_t *o, enum arca_tcb_status *s, char *text, size_t textlen,
                    const char *where)
{
    json_t *v = json_object_get(o, "tcbStatus");
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "%s: \"tcbStatus\" missing", where);
    /* An unknown status is kept (ARCA_TCB_UNKNOWN): it only fails if that level is selected. */
    *s = arca_tcb_status_parse(json_string_value(v));
    snprintf(text, textlen, "%s", json_string_value(v));
    return 0;
}

static int j_advisories(json_t *o, struct arca_advisories *a, const char *where)
{
    json_t *v = json_object_get(o, "advisoryIDs");
    size_t i;
    json_t *e;
    memset(a, 0, sizeof *a);
    if (!v)
        return 0;
    ARCA_ENSURE(json_is_array(v), ARCA_ERR_FORMAT, "%s: \"advisoryIDs\" must be an array", where);
    ARCA_ENSURE(json_array_size(v) <= ARCA_CLAIMS_MAX_ADVISORIES, ARCA_ERR_TOO_LARGE,
                "%s: more than %d advisory IDs", where, ARCA_CLAIMS_MAX_ADVISORIES);
    json_array_foreach(v, i, e)
    {
        ARCA_ENSURE(json_is_string(e) && json_string_length(e) > 0 &&
                        json_string_length(e) < sizeof a->id[0],
                    ARCA_ERR_FORMAT, "%s: advisoryIDs[%zu] must be a short string", where, i);
        memcpy(a->id[a->n++], json_string_value(e), json_string_length(e) + 1);
    }
    return 0;
}

static int parse_isv_levels(json_t *arr, struct arca_isv_level **out, size_t *n, const char *where)
{
    char w[96];
    size_t i;
    json_t *e;
    ARCA_ENSURE(json_is_array(arr) && json_array_size(arr) > 0 && json_array_size(arr) < 1024,
                ARCA_ERR_FORMAT, "%s: \"tcbLevels\" must be a non-empty array", where);
    struct arca_isv_level *lv = calloc(json_array_size(arr), sizeof *lv);
    ARCA_ENSURE(lv != NULL, ARCA_ERR_ALLOC, "%s: out of memory", where);
    json_array_foreach(arr, i, e)
    {
        uint64_t svn = 0;
        int rc;
        snprintf(w, sizeof w, "%s tcbLevels[%zu]", where, i);
        json_t *tcb = json_object_get(e, "tcb");
        if ((rc = j_uint(tcb, "isvsvn", UINT16_MAX, &svn, w)) < 0 ||
            (rc = j_time(e, "tcbDate", &lv[i].date, w)) < 0 ||
            (rc = j_status(e, &lv[i].status, lv[i].status_text, sizeof lv[i].status_text, w)) < 0 ||
            (rc = j_advisories(e, &lv[i].adv, w)) < 0) {
            free(lv);
            return rc;
        }
        lv[i].isvsvn = (uint16_t)svn;
    }
    *out = lv;
    *n = json_array_size(arr);
    return 0;
}

static int comp_array(json_t *tcb, const char *key, uint8_t out[16], const char *where)
{
    json_t *arr = json_object_get(tcb, key);
    size_t i;
    json_t *e;
    ARCA_ENSURE(json_is_array(arr) && json_array_size(arr) == 16, ARCA_ERR_FORMAT,
                "%s: \"%s\" must be an array of 16 components", where, key);
    json_array_foreach(arr, i, e)
    {
        uint64_t svn = 0;
        char w[128];
        snprintf(w, sizeof w, "%s %s[%zu]", where, key, i);
        ARCA_TRY(j_uint(e, "svn", 255, &svn, w));
        out[i] = (uint8_t)svn;
    }
    return 0;
}

void arca_tcb_info_free(struct arca_tcb_info *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nmodules; i++)
        free(t->modules[i].levels);
    free(t->modules);
    free(t->levels);
    free(t);
}

static int tcb_info_fill(json_t *root, struct arca_tcb_info *t)
{
    const char *W = "TCB Info";
    uint64_t x = 0;
    json_t *id = json_object_get(root, "id");

    ARCA_TRY(j_uint(root, "version", 100, &x, W));
    t->version = (int)x;
    ARCA_ENSURE(t->version == 3, ARCA_ERR_UNSUPPORTED,
                "TCB Info: version %d is not supported (3; PCS v4 API)", t->version);
    ARCA_ENSURE(json_is_string(id), ARCA_ERR_FORMAT, "TCB Info: \"id\" missing");
    if (strcmp(json_string_value(id), "TDX") == 0)
        t->tdx = true;
    else
        ARCA_ENSURE(strcmp(json_string_value(id), "SGX") == 0, ARCA_ERR_FORMAT,
                    "TCB Info: id \"%s\" is neither SGX nor TDX", json_string_value(id));
    ARCA_TRY(j_time(root, "issueDate", &t->issue_date, W));
    ARCA_TRY(j_time(root, "nextUpdate", &t->next_update, W));
    ARCA_TRY(j_hex(root, "fmspc", t->fmspc, 6, W));
    ARCA_TRY(j_hex(root, "pceId", t->pceid, 2, W));
    ARCA_TRY(j_uint(root, "tcbType", 0, &x, W));
    ARCA_TRY(j_uint(root, "tcbEvaluationDataNumber", UINT32_MAX, &x, W));
    t->eval_number = (unsigned)x;

    json_t *mod = json_object_get(root, "tdxModule");
    if (t->tdx) {
        ARCA_ENSURE(json_is_object(mod), ARCA_ERR_FORMAT, "TCB Info: TDX without \"tdxModule\"");
        t->has_tdx_module = true;
        ARCA_TRY(j_hex(mod, "mrsigner", t->module_mrsigner, 48, "TCB Info tdxModule"));
        ARCA_TRY(j_hex(mod, "attributes", t->module_attributes, 8, "TCB Info tdxModule"));
        ARCA_TRY(j_hex(mod, "attributesMask", t->module_attributes_mask, 8, "TCB Info tdxModule"));
        json_t *ids = json_object_get(root, "tdxModuleIdentities");
        if (ids) {
            size_t i;
            json_t *e;
            ARCA_ENSURE(json_is_array(ids) && json_array_size(ids) < 256, ARCA_ERR_FORMAT,
                        "TCB Info: \"tdxModuleIdentities\" must be an array");
            t->modules = calloc(json_array_size(ids) + 1, sizeof *t->modules);
            ARCA_ENSURE(t->modules != NULL, ARCA_ERR_ALLOC, "TCB Info: out of memory");
            json_array_foreach(ids, i, e)
            {
                struct arca_tdx_module_identity *m = &t->modules[i];
                char w[64];
                json_t *mid = json_object_get(e, "id");
                snprintf(w, sizeof w, "TCB Info tdxModuleIdentities[%zu]", i);
                ARCA_ENSURE(json_is_string(mid) && json_string_length(mid) < sizeof m->id,
                            ARCA_ERR_FORMAT, "%s: \"id\" missing", w);
                memcpy(m->id, json_string_value(mid), json_string_length(mid) + 1);
                ARCA_TRY(j_hex(e, "mrsigner", m->mrsigner, 48, w));
                ARCA_TRY(j_hex(e, "attributes", m->attributes, 8, w));
                ARCA_TRY(j_hex(e, "attributesMask", m->attributes_mask, 8, w));
                ARCA_TRY(
                    parse_isv_levels(json_object_get(e, "tcbLevels"), &m->levels, &m->nlevels, w));
                t->nmodules = i + 1;
            }
        }
    }

    json_t *levels = json_object_get(root, "tcbLevels");
    size_t i;
    json_t *e;
    ARCA_ENSURE(json_is_array(levels) && json_array_size(levels) > 0 &&
                    json_array_size(levels) < 1024,
                ARCA_ERR_FORMAT, "TCB Info: \"tcbLevels\" must be a non-empty array");
    t->levels = calloc(json_array_size(levels), sizeof *t->levels);
    ARCA_ENSURE(t->levels != NULL, ARCA_ERR_ALLOC, "TCB Info: out of memory");
    json_array_foreach(levels, i, e)
    {
        struct arca_tcb_level *l = &t->levels[i];
        char w[64];
        snprintf(w, sizeof w, "TCB Info tcbLevels[%zu]", i);
        json_t *tcb = json_object_get(e, "tcb");
        ARCA_ENSURE(json_is_object(tcb), ARCA_ERR_FORMAT, "%s: \"tcb\" missing", w);
        ARCA_TRY(comp_array(tcb, "sgxtcbcomponents", l->sgx_svn, w));
        ARCA_TRY(j_uint(tcb, "pcesvn", UINT16_MAX, &x, w));
        l->pcesvn = (uint16_t)x;
        if (t->tdx)
            ARCA_TRY(comp_array(tcb, "tdxtcbcomponents", l->tdx_svn, w));
        ARCA_TRY(j_time(e, "tcbDate", &l->date, w));
        ARCA_TRY(j_status(e, &l->status, l->status_text, sizeof l->status_text, w));
        ARCA_TRY(j_advisories(e, &l->adv, w));
        t->nlevels = i + 1;
    }
    return 0;
}

int arca_tcb_info_parse(const char *json, size_t n, struct arca_tcb_info **out)
{
    json_t *root = NULL;
    struct arca_tcb_info *t = NULL;
    int rc;
    ARCA_ENSURE_REF(json);
    ARCA_ENSURE_REF(out);
    ARCA_GUARD(rc, arca_json_load_object(json, n, "TCB Info", &root), out);
    t = calloc(1, sizeof *t);
    ARCA_GUARD_ENSURE(rc, t != NULL, out, ARCA_ERR_ALLOC, "TCB Info: out of memory");
    ARCA_GUARD(rc, tcb_info_fill(root, t), out);
    *out = t;
    t = NULL;
out:
    arca_tcb_info_free(t);
    json_decref(root);
    return rc;
}

void arca_qe_identity_free(struct arca_qe_identity *q)
{
    if (!q)
        return;
    free(q->levels);
    free(q);
}

static int qe_fill(json_t *root, struct arca_qe_identity *q)
{
    const char *W = "QE Identity";
    uint64_t x = 0;
    uint8_t b4[4];
    json_t *id = json_object_get(root, "id");

    ARCA_ENSURE(json_is_string(id) && json_string_length(id) < sizeof q->id, ARCA_ERR_FORMAT,
                "QE Identity: \"id\" missing");
    memcpy(q->id, json_string_value(id), json_string_length(id) + 1);
    ARCA_TRY(j_uint(root, "version", 100, &x, W));
    q->version = (int)x;
    ARCA_ENSURE(q->version == 2, ARCA_ERR_UNSUPPORTED,
                "QE Identity: version %d is not supported (2)", q->version);
    ARCA_TRY(j_time(root, "issueDate", &q->issue_date, W));
    ARCA_TRY(j_time(root, "nextUpdate", &q->next_update, W));
    ARCA_TRY(j_uint(root, "tcbEvaluationDataNumber", UINT32_MAX, &x, W));
    q->eval_number = (unsigned)x;
    /* MISCSELECT is written as big-endian hex of the u32 value. */
    ARCA_TRY(j_hex(root, "miscselect", b4, 4, W));
    q->miscselect = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
    ARCA_TRY(j_hex(root, "miscselectMask", b4, 4, W));
    q->miscselect_mask =
        (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
    ARCA_TRY(j_hex(root, "attributes", q->attributes, 16, W));
    ARCA_TRY(j_hex(root, "attributesMask", q->attributes_mask, 16, W));
    ARCA_TRY(j_hex(root, "mrsigner", q->mrsigner, 32, W));
    ARCA_TRY(j_uint(root, "isvprodid", UINT16_MAX, &x, W));
    q->isvprodid = (uint16_t)x;
    return parse_isv_levels(json_object_get(root, "tcbLevels"), &q->levels, &q->nlevels, W);
}

int arca_qe_identity_parse(const char *json, size_t n, struct arca_qe_identity **out)
{
    json_t *root = NULL;
    struct arca_qe_identity *q = NULL;
    int rc;
    ARCA_ENSURE_REF(json);
    ARCA_ENSURE_REF(out);
    ARCA_GUARD(rc, arca_json_load_object(json, n, "QE Identity", &root), out);
    q = calloc(1, sizeof *q);
    ARCA_GUARD_ENSURE(rc, q != NULL, out, ARCA_ERR_ALLOC, "QE Identity: out of memory");
    ARCA_GUARD(rc, qe_fill(root, q), out);
    *out = q;
    q = NULL;
out:
    arca_qe_identity_free(q);
    json_decref(root);
    return rc;
}

const struct arca_tcb_level *arca_tcb_level_select(const struct arca_tcb_info *t,
                                                   const uint8_t comp_svn[16], uint16_t pcesvn,
                                                   const uint8_t *tee_tcb_svn)
{
    for (size_t i = 0; t && i < t->nlevels; i++) {
        const struct arca_tcb_level *l = &t->levels[i];
        bool ok = pcesvn >= l->pcesvn;
        for (int k = 0; ok && k < 16; k++)
            ok = comp_svn[k] >= l->sgx_svn[k];
        for (int k = 0; ok && tee_tcb_svn && k < 16; k++)
            ok = tee_tcb_svn[k] >= l->tdx_svn[k];
        if (ok)
            return l;
    }
    return NULL;
}

const struct arca_isv_level *arca_isv_level_select(const struct arca_isv_level *levels, size_t n,
                                                   uint16_t isvsvn)
{
    for (size_t i = 0; levels && i < n; i++)
        if (levels[i].isvsvn <= isvsvn)
            return &levels[i];
    return NULL;
}

enum arca_tcb_status arca_tcb_status_merge(enum arca_tcb_status platform,
                                           enum arca_tcb_status other)
{
    if (platform == ARCA_TCB_UNKNOWN || other == ARCA_TCB_UNKNOWN)
        return ARCA_TCB_UNKNOWN;
    if (platform == ARCA_TCB_REVOKED || other == ARCA_TCB_REVOKED)
        return ARCA_TCB_REVOKED;
    if (other == ARCA_TCB_OUT_OF_DATE || other == ARCA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED) {
        switch (platform) {
        case ARCA_TCB_UP_TO_DATE:
        case ARCA_TCB_SW_HARDENING_NEEDED:
            return ARCA_TCB_OUT_OF_DATE;
        case ARCA_TCB_CONFIGURATION_NEEDED:
        case ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
            return ARCA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
        default:
            return platform;
        }
    }
    return platform;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

struct arca_tcb_info *arca_tcb_info_dup(const struct arca_tcb_info *t)
{
    if (!t)
        return NULL;
    struct arca_tcb_info *d = dup_bytes(t, sizeof *t);
    if (!d)
        return NULL;
    d->levels = NULL;
    d->modules = NULL;
    d->nmodules = 0;
    d->levels = dup_bytes(t->levels, t->nlevels * sizeof *t->levels);
    d->modules = calloc(t->nmodules + 1, sizeof *d->modules);
    if (!d->levels || !d->modules) {
        arca_tcb_info_free(d);
        return NULL;
    }
    for (size_t i = 0; i < t->nmodules; i++) {
        d->modules[i] = t->modules[i];
        d->modules[i].levels =
            dup_bytes(t->modules[i].levels, t->modules[i].nlevels * sizeof *t->modules[i].levels);
        d->nmodules = i + 1;
        if (!d->modules[i].levels) {
            arca_tcb_info_free(d);
            return NULL;
        }
    }
    return d;
}

struct arca_qe_identity *arca_qe_identity_dup(const struct arca_qe_identity *q)
{
    if (!q)
        return NULL;
    struct arca_qe_identity *d = dup_bytes(q, sizeof *q);
    if (!d)
        return NULL;
    d->levels = dup_bytes(q->levels, q->nlevels * sizeof *q->levels);
    if (!d->levels) {
        free(d);
        return NULL;
    }
    return d;
}
