/*
 * Session loader: attestation variants of a service (mrenclave, signer, tdx, snp, simulation),
 * digest lists and platform / QE key lists (also used by security.attestation).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/load_internal.h"

/* One digest of a list into d (its position set when valid). */
static bool digest_item(struct ld *L, const struct arca_ynode *it, const char *what,
                        struct arca_digest32 *d)
{
    if (ld_unsubstituted_fragment(L, it))
        return false;
    if (!ld_get_hex_fixed(L, it, what, d->v, 32))
        return false;
    d->pos = it->pos;
    return true;
}

void ld_parse_digest_list(struct ld *L, const struct arca_ynode *n, const char *what,
                          struct arca_digest32 **out, size_t *count)
{
    if (n->type == ARCA_YNODE_SCALAR) {
        *out = calloc(1, sizeof(**out));
        if (*out == NULL) {
            L->oom = true;
            return;
        }
        (*out)[0].pos = n->pos;
        if (ld_get_hex_fixed(L, n, what, (*out)[0].v, 32))
            *count = 1;
        else {
            /* An empty list is freed by nobody (callers count entries): do not keep it. */
            free(*out);
            *out = NULL;
        }
        return;
    }
    char empty[96];
    snprintf(empty, sizeof(empty), "%s list is empty", what);
    *out = ld_seq_alloc(L, n, "a hex string or a list of hex strings", empty, sizeof(**out));
    if (*out == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        bool ok = false;
        LD_AT_INDEX(L, i, ok = digest_item(L, &n->items[i], what, &(*out)[*count]));
        if (ok)
            (*count)++;
    }
    if (*count == 0) {
        free(*out);
        *out = NULL;
    }
}

static void parse_signer(struct ld *L, const struct arca_ynode *n, struct arca_sgx_signer *sg)
{
    static const char *const keys[] = {"mrsigner",   "isvprodid",  "isvsvn",
                                       "isvsvn_min", "isvsvn_max", NULL};
    if (!ld_check_keys(L, n, "signer", keys, NULL))
        return;
    sg->pos = n->pos;
    ld_field_hex(L, n, "mrsigner", sg->mrsigner, 32, NULL, true);
    bool has_prod = false;
    sg->isvprodid = ld_field_u16(L, n, "isvprodid", &has_prod);
    if (arca_ynode_get(n, "isvprodid") == NULL)
        ld_err(L, n->pos, "missing mandatory key 'isvprodid'");
    sg->isvsvn = ld_field_u16(L, n, "isvsvn", &sg->has_isvsvn);
    sg->isvsvn_min = ld_field_u16(L, n, "isvsvn_min", &sg->has_isvsvn_min);
    sg->isvsvn_max = ld_field_u16(L, n, "isvsvn_max", &sg->has_isvsvn_max);
    if (arca_ynode_get(n, "isvsvn") != NULL &&
        (arca_ynode_get(n, "isvsvn_min") != NULL || arca_ynode_get(n, "isvsvn_max") != NULL))
        ld_err(L, n->pos, "isvsvn and isvsvn_min/isvsvn_max are mutually exclusive");
    if (sg->has_isvsvn_min && sg->has_isvsvn_max && sg->isvsvn_min > sg->isvsvn_max)
        ld_err(L, n->pos, "isvsvn_min (%u) is greater than isvsvn_max (%u)", sg->isvsvn_min,
               sg->isvsvn_max);
}

static void parse_tdx(struct ld *L, const struct arca_ynode *n, struct arca_tdx_factor *t)
{
    static const char *const keys[] = {"mrtd",  "rtmr0",      "rtmr1",   "rtmr2",
                                       "rtmr3", "mrconfigid", "mrowner", NULL};
    if (!ld_check_keys(L, n, "tdx", keys, NULL))
        return;
    t->pos = n->pos;
    ld_field_hex(L, n, "mrtd", t->mrtd, 48, NULL, true);
    static const char *const rt[] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    for (int i = 0; i < 4; i++)
        ld_field_hex(L, n, rt[i], t->rtmr[i], 48, &t->has_rtmr[i], false);
    ld_field_hex(L, n, "mrconfigid", t->mrconfigid, 48, &t->has_mrconfigid, false);
    ld_field_hex(L, n, "mrowner", t->mrowner, 48, &t->has_mrowner, false);
}

static void parse_min_tcb(struct ld *L, const struct arca_ynode *n, struct arca_snp_factor *sn)
{
    if (n->type == ARCA_YNODE_MAP) {
        static const char *const keys[] = {"bootloader", "tee", "snp", "microcode", NULL};
        if (!ld_check_keys(L, n, "min_tcb", keys, NULL))
            return;
        static const unsigned shift[] = {0, 8, 48, 56};
        uint64_t v = 0;
        for (int i = 0; i < 4; i++) {
            const struct arca_ynode *x = arca_ynode_get(n, keys[i]);
            uint64_t spl = 0;
            bool ok = false;
            if (x == NULL)
                continue;
            LD_AT_KEY(L, keys[i], ok = ld_get_uint(L, x, 255, false, &spl));
            if (ok)
                v |= spl << shift[i];
        }
        sn->min_tcb = v;
        sn->has_min_tcb = true;
        return;
    }
    uint64_t v;
    if (n->type == ARCA_YNODE_SCALAR && n->len == 16 && ld_is_hex_digit(n->text[0]) &&
        strncmp(n->text, "0x", 2) != 0) {
        uint8_t b[8];
        if (!ld_decode_hex_fixed(L, "min_tcb", n->text, n->len, n->pos, b, 8))
            return;
        v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | b[i];
    } else if (!ld_get_uint(L, n, UINT64_MAX, false, &v)) {
        return;
    }
    sn->min_tcb = v;
    sn->has_min_tcb = true;
}

static void parse_snp(struct ld *L, const struct arca_ynode *n, struct arca_snp_factor *sn)
{
    static const char *const keys[] = {"measurement", "host_data", "min_tcb", NULL};
    if (!ld_check_keys(L, n, "snp", keys, NULL))
        return;
    sn->pos = n->pos;
    ld_field_hex(L, n, "measurement", sn->measurement, 48, NULL, true);
    ld_field_hex(L, n, "host_data", sn->host_data, 32, &sn->has_host_data, false);
    const struct arca_ynode *mt = arca_ynode_get(n, "min_tcb");
    if (mt != NULL)
        LD_AT_KEY(L, "min_tcb", parse_min_tcb(L, mt, sn));
}

static void parse_sim(struct ld *L, const struct arca_ynode *x, struct arca_att_variant *v)
{
    static const char *const sk[] = {"measurement", NULL};
    if (ld_check_keys(L, x, "simulation", sk, NULL))
        ld_field_hex(L, x, "measurement", v->sim_measurement, 32, NULL, true);
}

static void parse_variant(struct ld *L, const struct arca_ynode *n, struct arca_att_variant *v)
{
    static const char *const keys[] = {"mrenclave", "signer", "tdx", "snp", "simulation", NULL};
    static const char *const uns[] = {"must_be_sgx_local", NULL};
    v->pos = n->pos;
    if (ld_unsubstituted_fragment(L, n))
        return;
    if (!ld_check_keys(L, n, "an attestation variant", keys, uns))
        return;
    const struct arca_ynode *x;
    if ((x = arca_ynode_get(n, "mrenclave")) != NULL)
        LD_AT_KEY(L, "mrenclave",
                  ld_parse_digest_list(L, x, "mrenclave", &v->mrenclave, &v->n_mrenclave));
    if ((x = arca_ynode_get(n, "signer")) != NULL) {
        v->has_signer = true;
        LD_AT_KEY(L, "signer", parse_signer(L, x, &v->signer));
    }
    if ((x = arca_ynode_get(n, "tdx")) != NULL) {
        v->has_tdx = true;
        LD_AT_KEY(L, "tdx", parse_tdx(L, x, &v->tdx));
    }
    if ((x = arca_ynode_get(n, "snp")) != NULL) {
        v->has_snp = true;
        LD_AT_KEY(L, "snp", parse_snp(L, x, &v->snp));
    }
    if ((x = arca_ynode_get(n, "simulation")) != NULL) {
        v->has_sim = true;
        LD_AT_KEY(L, "simulation", parse_sim(L, x, v));
    }
    size_t sgx = (arca_ynode_get(n, "mrenclave") || arca_ynode_get(n, "signer")) ? 1 : 0;
    size_t kinds = sgx + v->has_tdx + v->has_snp + v->has_sim;
    if (n->n_items == 0)
        ld_err(L, n->pos,
               "an attestation variant needs one of mrenclave, signer, tdx, snp, "
               "simulation");
    else if (kinds > 1)
        ld_err(L, n->pos,
               "tdx, snp and simulation stand alone in a variant (use a list of "
               "variants to allow several TEEs)");
}

static bool variant_has_import(struct ld *L, size_t index);

static void variant_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i, void *ctx)
{
    (void)ctx;
    if (!variant_has_import(L, SIZE_MAX)) /* else dropped by drop_pending */
        parse_variant(L, it, (struct arca_att_variant *)base + i);
}

/* The variant at the key path (the current one when index is SIZE_MAX, else its [index] item)
 * has an imported fragment in it — a sub-field such as `mrenclave: $$SCONE::x$$` or an entry
 * of its digest list: known only at use. */
static bool variant_has_import(struct ld *L, size_t index)
{
    if (index == SIZE_MAX)
        return ld_import_under(L, L->path) != NULL;
    char path[LD_PATH_MAX + 24];
    snprintf(path, sizeof(path), "%s[%zu]", L->path, index);
    return ld_import_under(L, path) != NULL;
}

/*
 * Drops the variants that stand for imported fragments or hold one deeper inside (pending:
 * known only at use; variant_fn did not parse them). A variant must not stay with an
 * imported factor left out: it would ask for less than the policy says.
 */
static void drop_pending(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    if (svc->variants == NULL || svc->n_variants != n->n_items)
        return;
    size_t w = 0;
    for (size_t i = 0; i < n->n_items; i++) {
        if (ld_is_pending(L, &n->items[i]) || variant_has_import(L, i))
            continue;
        svc->variants[w++] = svc->variants[i];
    }
    svc->n_variants = w;
}

void ld_parse_attestation(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    if (ld_is_pending(L, n))
        return; /* the whole attestation is an imported fragment: resolved at use */
    if (n->type == ARCA_YNODE_MAP) {
        if (variant_has_import(L, SIZE_MAX))
            return; /* a sub-field is an imported fragment: the variant is known only at use */
        svc->variants = calloc(1, sizeof(*svc->variants));
        if (svc->variants == NULL) {
            L->oom = true;
            return;
        }
        svc->n_variants = 1;
        parse_variant(L, n, &svc->variants[0]);
        return;
    }
    /* An empty list is reported as "no attestation variant" by the cross checks. */
    svc->variants = ld_parse_seq(L, n, "an attestation variant or a list of variants",
                                 sizeof(*svc->variants), &svc->n_variants, variant_fn, NULL);
    drop_pending(L, n, svc);
}

/* One platform key: 64 hex, or a whole placeholder naming the secret that holds it. */
static bool platform_item(struct ld *L, const struct arca_ynode *it, const char *what,
                          struct arca_platform_ref *p)
{
    const char *name, *fmt;
    size_t nlen, flen;
    p->pos = it->pos;
    if (it->type == ARCA_YNODE_SCALAR &&
        ld_whole_placeholder(it->text, it->len, &name, &nlen, &fmt, &flen))
        return ld_set_str(L, &p->secret, name, nlen, it->pos);
    static const char qe[] = "INTEL_QE_ID:";
    if (it->type == ARCA_YNODE_SCALAR && strncmp(it->text, qe, sizeof(qe) - 1) == 0) {
        /* 0.3.12: an Intel DCAP QE ID (16 bytes) names the platform instead of a QE key. */
        if (!ld_decode_hex_fixed(L, "INTEL_QE_ID", it->text + sizeof(qe) - 1,
                                 it->len - (sizeof(qe) - 1), it->pos, p->key, 16))
            return false;
        p->literal = true;
        p->intel_qe_id = true;
        return true;
    }
    if (!ld_get_hex_fixed(L, it, what, p->key, 32))
        return false;
    p->literal = true;
    return true;
}

void ld_parse_platform_list(struct ld *L, const struct arca_ynode *n, const char *what,
                            struct arca_platform_ref **out, size_t *count)
{
    *out = ld_seq_alloc(L, n, "a list of 64-hex-character keys", NULL, sizeof(**out));
    if (*out == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        bool ok = false;
        LD_AT_INDEX(L, i, ok = platform_item(L, &n->items[i], what, &(*out)[*count]));
        if (ok)
            (*count)++;
    }
}
