/*
 * arca evidence verify FILE [--type sgx|tdx|snp] [--collateral FILE|DIR]... [--at RFC3339]
 *                           [--tolerate LIST] [--ignore-advisories LIST|*]
 *                           [--allow-missing-crls] [--allow-missing-qe-identity]
 *                           [--pcs URL] [--kds URL] [--cache DIR] [-o json]
 *
 * Verifies SGX / TDX quotes and SEV-SNP reports offline against collateral files (or, without
 * --collateral, collateral fetched through an on-disk cache: Intel quotes from Intel PCS / a
 * PCCS, SNP reports' VCEK and chain from AMD KDS / a mirror), prints the claims and the status, and exits 0 only when the evidence is genuine and
 * within tolerance (default: UpToDate and not DEBUG).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "cli.h"
#include "client.h"
#include "crypto/crypto.h"
#include "evidence/appraise.h"
#include "evidence/claims.h"
#include "evidence/collateral_select.h"
#include "evidence/dcap_verify.h"
#include "evidence/snp.h"

#define EVIDENCE_MAX ((size_t)1 << 20)
#define MAX_COLLATERAL 16

struct opts {
    const char *file;
    int type; /* enum arca_evidence_type, 0 = detect */
    const char *collateral[MAX_COLLATERAL];
    size_t ncollateral;
    int64_t at;
    struct arca_security sec;
    struct arca_str adv[ARCA_CLAIMS_MAX_ADVISORIES];
    struct arca_dcap_opts dcap;
    const char *pcs_url;
    const char *kds_url;
    const char *cache_dir;
};

static void usage(FILE *f)
{
    fprintf(
        f, "usage: arca evidence verify FILE [--type sgx|tdx|snp] [--collateral FILE|DIR]...\n"
           "                            [--at RFC3339] [--tolerate LIST]\n"
           "                            [--ignore-advisories LIST|*] [--allow-missing-crls]\n"
           "                            [--allow-missing-qe-identity] [--pcs URL] [--kds URL]\n"
           "                            [--cache DIR] [-o json]\n\n"
           "Verifies an SGX/TDX DCAP quote or an SEV-SNP report and prints its claims.\n"
           "  --type          evidence type (default: detected from the bytes)\n"
           "  --collateral    Intel: PCS TCB Info / QE Identity responses, CRLs, the TCB signing\n"
           "                  chain, or a combined collateral JSON (files or a directory; may be\n"
           "                  repeated). SNP: the VCEK/VLEK and optionally ASK/ASVK/ARK.\n"
           "  --at            verification time (default: now)\n"
           "  --tolerate      comma list: debug-mode, outdated-tcb, software-hardening-needed,\n"
           "                  insecure-configuration, hyperthreading, insecure-igpu, aepic-leak\n"
           "  --ignore-advisories  comma list of INTEL-SA-NNNNN, or *\n"
           "  --pcs URL       Intel PCS/PCCS base URL when no --collateral is given\n"
           "                  (default https://api.trustedservices.intel.com)\n"
           "  --kds URL       AMD KDS base URL (or a mirror, file:// too) for SNP reports when no\n"
           "                  --collateral is given (default https://kdsintf.amd.com)\n"
           "  --cache DIR     collateral cache directory (default $XDG_CACHE_HOME/arca/pcs for\n"
           "                  Intel, $XDG_CACHE_HOME/arca/kds for AMD; ~/.cache without XDG)\n"
           "Exit codes: 0 genuine and tolerated, 1 not verified or not tolerated, 2 usage.\n");
}

static int parse_tolerate(struct opts *o, char *list)
{
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint32_t bit = arca_tolerate_from_name(t);
        o->sec.tolerate |= bit;
        if (bit == 0)
            return cli_fail(ARCA_EXIT_USAGE, "evidence verify: --tolerate: unknown category '%s'",
                            t);
    }
    return 0;
}

static int parse_advisories(struct opts *o, char *list)
{
    if (strcmp(list, "*") == 0) {
        o->sec.ignore_all_advisories = true;
        return 0;
    }
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->sec.n_ignore_advisories >= ARCA_CLAIMS_MAX_ADVISORIES)
            return cli_fail(ARCA_EXIT_USAGE, "evidence verify: too many advisories");
        o->adv[o->sec.n_ignore_advisories].s = t;
        o->adv[o->sec.n_ignore_advisories].len = strlen(t);
        o->sec.n_ignore_advisories++;
    }
    o->sec.ignore_advisories = o->adv;
    return 0;
}

static int parse_args(struct opts *o, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--type") == 0 && has_val) {
            o->type = arca_evidence_type_parse(argv[++i]);
            if (o->type != ARCA_EVIDENCE_SGX_DCAP && o->type != ARCA_EVIDENCE_TDX &&
                o->type != ARCA_EVIDENCE_SNP)
                return cli_fail(ARCA_EXIT_USAGE,
                                "evidence verify: --type must be sgx, tdx or snp, not '%s'",
                                argv[i]);
        } else if (strcmp(a, "--collateral") == 0 && has_val) {
            if (o->ncollateral == MAX_COLLATERAL)
                return cli_fail(ARCA_EXIT_USAGE, "evidence verify: too many --collateral");
            o->collateral[o->ncollateral++] = argv[++i];
        } else if (strcmp(a, "--at") == 0 && has_val) {
            if (arca_time_parse_rfc3339(argv[++i], &o->at) < 0)
                return cli_fail(ARCA_EXIT_USAGE,
                                "evidence verify: --at '%s' is not an RFC 3339 time "
                                "(e.g. 2025-07-01T00:00:00Z)",
                                argv[i]);
        } else if (strcmp(a, "--tolerate") == 0 && has_val) {
            if (parse_tolerate(o, argv[++i]))
                return ARCA_EXIT_USAGE;
        } else if (strcmp(a, "--ignore-advisories") == 0 && has_val) {
            if (parse_advisories(o, argv[++i]))
                return ARCA_EXIT_USAGE;
        } else if (strcmp(a, "--allow-missing-crls") == 0) {
            o->dcap.allow_missing_crls = true;
        } else if (strcmp(a, "--allow-missing-qe-identity") == 0) {
            o->dcap.allow_missing_qe_identity = true;
        } else if (strcmp(a, "--pcs") == 0 && has_val) {
            o->pcs_url = argv[++i];
        } else if (strcmp(a, "--kds") == 0 && has_val) {
            o->kds_url = argv[++i];
        } else if (strcmp(a, "--cache") == 0 && has_val) {
            o->cache_dir = argv[++i];
        } else if (a[0] == '-') {
            return cli_fail(ARCA_EXIT_USAGE,
                            "unknown option %s for 'arca evidence verify' (or its value is "
                            "missing)",
                            a);
        } else if (!o->file) {
            o->file = a;
        } else {
            return cli_fail(ARCA_EXIT_USAGE, "evidence verify: unexpected argument '%s'", a);
        }
    }
    if (!o->file)
        return cli_fail(ARCA_EXIT_USAGE, "evidence verify: which FILE? (see --help)");
    return 0;
}

/* Intel quotes carry attestation key type 2 at offset 2; SNP reports a zero high half of the
 * u32 version. */
static int detect(const struct arca_buf *b)
{
    if (b->len >= 8 && b->data[2] == 2 && b->data[3] == 0)
        return (b->data[4] == 0x81 && b->data[0] >= 4) ? ARCA_EVIDENCE_TDX : ARCA_EVIDENCE_SGX_DCAP;
    if (b->len >= 4 && b->data[2] == 0 && b->data[3] == 0)
        return ARCA_EVIDENCE_SNP;
    return 0;
}

/* The default cache directory for kind ("pcs", "kds"): $XDG_CACHE_HOME/arca/KIND, else
 * ~/.cache/arca/KIND, else ./.arca-KIND-cache. */
static const char *cache_dir(const struct opts *o, const char *kind, char *buf, size_t len)
{
    if (o->cache_dir)
        return o->cache_dir;
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (x && *x)
        snprintf(buf, len, "%s/arca/%s", x, kind);
    else if (h && *h)
        snprintf(buf, len, "%s/.cache/arca/%s", h, kind);
    else
        snprintf(buf, len, ".arca-%s-cache", kind);
    return buf;
}

/* The CLI's sources for the one collateral selection (evidence/collateral_select.h): the
 * --collateral files and directories; without any, the vendor's service through the cache. */
static void sources(const struct opts *o, struct arca_evidence_sources *src, char *pcs_cache,
                    char *kds_cache, size_t len)
{
    memset(src, 0, sizeof(*src));
    src->collateral_paths = o->collateral;
    src->n_collateral_paths = o->ncollateral;
    src->snp_paths = o->collateral;
    src->n_snp_paths = o->ncollateral;
    src->dcap = o->dcap;
    src->pcs_fetch = src->kds_fetch = o->ncollateral == 0;
    src->pcs_url = o->pcs_url;
    src->kds_url = o->kds_url;
    src->pcs_cache_dir = cache_dir(o, "pcs", pcs_cache, len);
    src->kds_cache_dir = cache_dir(o, "kds", kds_cache, len);
}

static int snp_run(const struct opts *o, const struct arca_evidence_sources *src,
                   const struct arca_buf *b, struct arca_claims *c)
{
    struct arca_snp_certs certs;
    struct arca_buf raw;
    memset(&certs, 0, sizeof certs);
    arca_buf_init(&raw, 4096);
    int rc = arca_snp_report_load(b->data, b->len, &raw);
    if (rc == 0)
        rc = arca_evidence_verify_snp(src, raw.data, raw.len, &certs, o->at, c);
    arca_buf_free(&raw);
    arca_snp_certs_clear(&certs);
    return rc;
}

static void hexstr(char *out, const uint8_t *p, size_t n)
{
    arca_hex_fmt(out, p, n);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Adds name -> hex(p) to a JSON object and prints "name: hex" in text mode. */
static void field_hex(json_t *j, const char *name, const uint8_t *p, size_t n)
{
    char h[2 * 64 + 1];
    hexstr(h, p, n);
    if (j)
        json_object_set_new(j, name, json_string(h));
    else
        printf("%-18s %s\n", name, h);
}

static void field_int(json_t *j, const char *name, long long v)
{
    if (j)
        json_object_set_new(j, name, json_integer(v));
    else
        printf("%-18s %lld\n", name, v);
}

static void field_str(json_t *j, const char *name, const char *v)
{
    if (j)
        json_object_set_new(j, name, json_string(v));
    else
        printf("%-18s %s\n", name, v);
}

static void print_claims(json_t *j, const struct arca_claims *c, const struct arca_dcap_report *r)
{
    field_str(j, "type", arca_evidence_type_name(c->type));
    field_str(j, "status", arca_tcb_status_name(c->tcb_status));
    if (j) {
        json_t *a = json_array();
        for (unsigned i = 0; i < c->advisory_count; i++)
            json_array_append_new(a, json_string(c->advisories[i]));
        json_object_set_new(j, "advisories", a);
        json_object_set_new(j, "debug", json_boolean(c->debug));
    } else {
        printf("%-18s ", "advisories");
        for (unsigned i = 0; i < c->advisory_count; i++)
            printf("%s%s", i ? ", " : "", c->advisories[i]);
        printf("%s\n", c->advisory_count ? "" : "-");
        printf("%-18s %s\n", "debug", c->debug ? "true" : "false");
    }
    if (c->type == ARCA_EVIDENCE_SGX_DCAP) {
        field_hex(j, "mrenclave", c->mrenclave, 32);
        field_hex(j, "mrsigner", c->mrsigner, 32);
        field_int(j, "isvprodid", c->isv_prod_id);
        field_int(j, "isvsvn", c->isv_svn);
        field_hex(j, "attributes", c->attributes, 16);
        if (!all_zero(c->config_id, 64))
            field_hex(j, "configid", c->config_id, 64);
    } else if (c->type == ARCA_EVIDENCE_TDX) {
        field_hex(j, "mrtd", c->mrtd, 48);
        static const char *const rn[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
        for (int i = 0; i < 4; i++)
            field_hex(j, rn[i], c->rtmr[i], 48);
        field_hex(j, "mrconfigid", c->mrconfigid, 48);
        field_hex(j, "mrowner", c->mrowner, 48);
        field_hex(j, "mrownerconfig", c->mrownerconfig, 48);
        field_hex(j, "tee_tcb_svn", c->tee_tcb_svn, 16);
        field_hex(j, "td_attributes", c->td_attributes, 8);
    } else if (c->type == ARCA_EVIDENCE_SNP) {
        field_hex(j, "measurement", c->measurement, 48);
        field_hex(j, "host_data", c->host_data, 32);
        field_hex(j, "chip_id", c->chip_id, 64);
        field_int(j, "policy", (long long)c->snp_policy);
        field_int(j, "vmpl", c->vmpl);
        field_int(j, "reported_tcb", (long long)c->reported_tcb);
        field_int(j, "report_version", c->snp_report_version);
    }
    field_hex(j, "report_data", c->report_data, 64);
    if (c->type == ARCA_EVIDENCE_SGX_DCAP || c->type == ARCA_EVIDENCE_TDX) {
        field_hex(j, "fmspc", c->fmspc, 6);
        field_str(j, "platform_status", arca_tcb_status_name(r->platform_status));
        field_str(j, "qe_status",
                  r->qe_identity_checked ? arca_tcb_status_name(r->qe_status) : "not checked");
        if (r->module_id[0]) {
            field_str(j, "tdx_module", r->module_id);
            field_str(j, "tdx_module_status", arca_tcb_status_name(r->module_status));
        }
        field_str(j, "crls", r->crls_checked ? "checked" : "not checked");
        field_int(j, "tcb_eval_number", r->tcb_eval_number);
    }
    if (c->collateral_expiry) {
        char t[ARCA_TIME_RFC3339_LEN];
        arca_time_format_rfc3339(c->collateral_expiry, t);
        field_str(j, "collateral_expiry", t);
    }
}

static int verify(struct arca_cli *cli, struct opts *o)
{
    struct arca_buf b;
    struct arca_claims c;
    struct arca_dcap_report r;
    int rc;

    memset(&c, 0, sizeof c);
    memset(&r, 0, sizeof r);
    arca_buf_init(&b, EVIDENCE_MAX);
    if (arca_file_read(o->file, EVIDENCE_MAX, &b) < 0) {
        arca_buf_free(&b);
        return cli_fail(ARCA_EXIT_FAIL, "evidence verify: %s", arca_err_detail());
    }
    if (!o->type)
        o->type = detect(&b);
    if (!o->type) {
        arca_buf_free(&b);
        return cli_fail(ARCA_EXIT_FAIL,
                        "evidence verify: %s is neither a DCAP quote nor an SNP report (give "
                        "--type)",
                        o->file);
    }
    struct arca_evidence_sources src;
    char pcs_cache[1024], kds_cache[1024];
    sources(o, &src, pcs_cache, kds_cache, sizeof pcs_cache);
    if (o->type == ARCA_EVIDENCE_SNP) {
        rc = snp_run(o, &src, &b, &c);
    } else {
        rc = arca_evidence_verify_dcap(&src, b.data, b.len, o->at, &c, &r);
        if (rc == 0 && (int)c.type != o->type)
            rc = arca_err_set(ARCA_ERR_CONFLICT, "the file is a %s quote, not %s",
                              arca_evidence_type_name(c.type),
                              arca_evidence_type_name((enum arca_evidence_type)o->type));
    }
    arca_buf_free(&b);
    if (rc < 0) {
        if (cli->output == ARCA_OUTPUT_JSON) {
            json_t *j = json_pack("{s:b,s:s,s:s}", "verified", 0, "error", arca_strerror(rc),
                                  "reason", arca_err_detail());
            cli_print_json(j);
            json_decref(j);
        }
        return cli_fail(ARCA_EXIT_FAIL, "evidence verify %s: not verified: %s", o->file,
                        arca_err_detail());
    }

    int arc = arca_appraise_tcb(&c, &o->sec);
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    snprintf(reason, sizeof reason, "%s", arc < 0 ? arca_err_detail() : "");
    json_t *j = cli->output == ARCA_OUTPUT_JSON ? json_object() : NULL;
    if (j) {
        json_object_set_new(j, "verified", json_true());
        json_object_set_new(j, "tolerated", json_boolean(arc == 0));
        if (arc < 0)
            json_object_set_new(j, "reason", json_string(reason));
    }
    print_claims(j, &c, &r);
    if (j) {
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("%-18s %s\n", "verdict", arc == 0 ? "genuine and tolerated" : "not tolerated");
    }
    if (arc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "evidence verify %s: genuine but not tolerated: %s",
                        o->file, reason);
    return ARCA_EXIT_OK;
}

int cmd_evidence(struct arca_cli *cli, int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof o);
    argc = cli_take_output_flag(cli, argc, argv);
    if (argc < 0)
        return ARCA_EXIT_USAGE;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ARCA_EXIT_USAGE : ARCA_EXIT_OK;
    }
    if (strcmp(argv[1], "verify") != 0)
        return cli_fail(ARCA_EXIT_USAGE, "evidence: unknown subcommand '%s' (try verify)", argv[1]);
    o.at = arca_time_now(); /* a program may read the clock; the verifiers never do */
    int rc = parse_args(&o, argc, argv);
    if (rc == 1)
        return ARCA_EXIT_OK; /* --help */
    if (rc)
        return rc;
    return verify(cli, &o);
}
