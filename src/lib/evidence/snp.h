/*
 * AMD SEV-SNP attestation reports: parser and verifier (DESIGN §4; AMD SEV-SNP Firmware ABI
 * spec 56860 "ATTESTATION_REPORT", VCEK certificate spec 57230).
 *
 * A report is 1184 bytes; its ECDSA P-384/SHA-384 signature (r, s little-endian, 72 bytes
 * each) covers bytes [0, 0x2A0). It is signed by a VCEK (per chip and TCB) or a VLEK (per cloud
 * provider), certified by an ASK (VCEK) or ASVK (VLEK), certified by the AMD Root Key (ARK) of
 * the product (Milan, Genoa, Turin) - all RSA-PSS SHA-384. arca pins the three ARKs
 * (snp_roots.c); a caller-supplied ARK is accepted only if its public key equals a pinned one.
 *
 * Verifiers never read the clock: "now" is a parameter.
 */
#ifndef ARCA_EVIDENCE_SNP_H
#define ARCA_EVIDENCE_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "evidence/claims.h"

struct arca_x509;

#define ARCA_SNP_REPORT_LEN 1184  /* 0x4A0 */
#define ARCA_SNP_SIGNED_LEN 0x2A0 /* bytes covered by the signature */
#define ARCA_SNP_POLICY_DEBUG (UINT64_C(1) << 19)
#define ARCA_SNP_POLICY_SMT (UINT64_C(1) << 16)
#define ARCA_SNP_POLICY_MIGRATE_MA (UINT64_C(1) << 18)
#define ARCA_SNP_POLICY_SINGLE_SOCKET (UINT64_C(1) << 20)

/* KEY_INFO bits 2-4. */
enum arca_snp_signing_key {
    ARCA_SNP_KEY_VCEK = 0,
    ARCA_SNP_KEY_VLEK = 1,
    ARCA_SNP_KEY_NONE = 7,
};

/* Product generations with a pinned ARK. */
enum arca_snp_product {
    ARCA_SNP_PRODUCT_UNKNOWN = 0,
    ARCA_SNP_PRODUCT_MILAN,
    ARCA_SNP_PRODUCT_GENOA,
    ARCA_SNP_PRODUCT_TURIN,
};
/* "Milan", "Genoa", "Turin" (as AMD KDS spells them; static), or "unknown". */
const char *arca_snp_product_name(enum arca_snp_product p);
/* Case-insensitive "milan"/"genoa"/"turin" (a KDS productName such as "Milan-B0" is accepted
 * too); ARCA_SNP_PRODUCT_UNKNOWN otherwise. */
enum arca_snp_product arca_snp_product_parse(const char *s);

/* A TCB_VERSION decoded. Milan/Genoa layout: byte 0 boot loader, 1 TEE, 6 SNP, 7 microcode.
 * Turin: byte 0 FMC, 1 boot loader, 2 TEE, 3 SNP, 7 microcode. */
struct arca_snp_tcb {
    uint8_t fmc; /* Turin only; 0 otherwise */
    uint8_t bootloader;
    uint8_t tee;
    uint8_t snp;
    uint8_t microcode;
};
/* Decodes raw for product (Turin has its own layout; every other value uses Milan's). */
void arca_snp_tcb_decode(uint64_t raw, enum arca_snp_product product, struct arca_snp_tcb *out);

/* The parsed report: plain values, no pointers; the signature is kept as its raw fields. */
struct arca_snp_report {
    uint32_t version;
    uint32_t guest_svn;
    uint64_t policy;
    uint8_t family_id[16];
    uint8_t image_id[16];
    uint32_t vmpl;
    uint32_t signature_algo;
    uint64_t current_tcb;
    uint64_t platform_info;
    uint32_t key_info;
    uint8_t report_data[64];
    uint8_t measurement[48];
    uint8_t host_data[32];
    uint8_t id_key_digest[48];
    uint8_t author_key_digest[48];
    uint8_t report_id[32];
    uint8_t report_id_ma[32];
    uint64_t reported_tcb;
    uint8_t cpuid_fam_id; /* version >= 3; 0 otherwise */
    uint8_t cpuid_mod_id;
    uint8_t cpuid_step;
    uint8_t chip_id[64];
    uint64_t committed_tcb;
    uint8_t current_build, current_minor, current_major;
    uint8_t committed_build, committed_minor, committed_major;
    uint64_t launch_tcb;
    uint8_t sig_r[72]; /* little-endian */
    uint8_t sig_s[72]; /* little-endian */
};

/* KEY_INFO bits 2-4. */
static inline enum arca_snp_signing_key arca_snp_report_signing_key(const struct arca_snp_report *r)
{
    return (enum arca_snp_signing_key)((r->key_info >> 2) & 7);
}

/*
 * Parses a raw 1184-byte report (versions 2 to 5) through arca_cur into *out. Refuses a wrong
 * length, an unknown version, a signature algorithm other than 1 (ECDSA P-384 SHA-384), and
 * an unknown signing key, each with ARCA_ERR_FORMAT / ARCA_ERR_UNSUPPORTED and a detail
 * naming the field and its offset. *out is untouched on failure. Nothing is allocated.
 */
int arca_snp_report_parse(const void *p, size_t n, struct arca_snp_report *out);

/*
 * Accepts a report as raw bytes or as a hex string (as virtee/sev stores it; whitespace
 * allowed), appending the 1184 raw bytes to out. ARCA_ERR_FORMAT if neither.
 */
int arca_snp_report_load(const void *p, size_t n, struct arca_buf *out);

/*
 * The certificates a verification uses. Every pointer is borrowed (the caller keeps ownership
 * and frees with arca_snp_certs_clear when it filled the struct with the loaders below).
 * - key: the VCEK or VLEK that signed the report (required: reports do not carry it);
 * - intermediate: the ASK (for a VCEK) or ASVK (for a VLEK); NULL = the embedded one of the
 *   product (arca embeds ASK and ASVK for Milan, Genoa, Turin);
 * - ark: the AMD Root Key; NULL = the pinned one. A non-NULL ark must have the same public key
 *   as a pinned ARK or verification fails with ARCA_ERR_CERT ("not a pinned AMD root").
 */
struct arca_snp_certs {
    struct arca_x509 *key;
    struct arca_x509 *intermediate;
    struct arca_x509 *ark;
};

/* Frees the three certificates (arca_x509_free) and zeroes the struct. NULL is fine. */
void arca_snp_certs_clear(struct arca_snp_certs *c);

/*
 * Loaders. Each parses PEM or DER (detected), fills the matching slot(s) of *certs with new
 * references the struct then owns (free with arca_snp_certs_clear), and replaces what was
 * there. On failure *certs is unchanged.
 * - arca_snp_certs_load_key: one VCEK/VLEK certificate (file bytes);
 * - arca_snp_certs_load_chain: a KDS cert_chain (PEM: ASK or ASVK, then ARK; a single ARK or
 *   a single ASK is accepted too: classified by self-signature);
 * - arca_snp_certs_load_file: a file holding either, by path;
 * - arca_snp_certs_load_dir: a collateral directory: "vcek.der|vcek.pem|vlek.der|vlek.pem"
 *   (also the KDS/snpguest names "vcek.crt", "vlek.crt"), "cert_chain", "cert_chain.pem",
 *   "ask.pem|asvk.pem", "ark.pem" (and .der) - every file present is loaded; a key
 *   certificate must be found there or already be in *certs (ARCA_ERR_NOT_FOUND naming the
 *   directory otherwise).
 * All loaders merge: slots they do not fill keep what they held, so several files and
 * directories can be combined.
 */
int arca_snp_certs_load_key(struct arca_snp_certs *certs, const void *p, size_t n);
int arca_snp_certs_load_chain(struct arca_snp_certs *certs, const void *p, size_t n);
int arca_snp_certs_load_file(struct arca_snp_certs *certs, const char *path);
int arca_snp_certs_load_dir(struct arca_snp_certs *certs, const char *dir);

/*
 * Verifies a raw report (1184 bytes):
 *  1. parses it (arca_snp_report_parse);
 *  2. certs->key must be a VCEK for KEY_INFO signing key 0, a VLEK for 1 (ASK vs ASVK chain);
 *  3. chain: ARK (pinned) -> ASK/ASVK -> VCEK/VLEK, RSA-PSS SHA-384, every certificate valid
 *     at now (ARCA_ERR_EXPIRED otherwise, ARCA_ERR_CERT for a bad signature or wrong root);
 *  4. VCEK/VLEK extensions blSPL/teeSPL/snpSPL/ucodeSPL (and fmcSPL on Turin) equal
 *     REPORTED_TCB (ARCA_ERR_POLICY "TCB mismatch"); a VCEK's hwID equals CHIP_ID
 *     (ARCA_ERR_POLICY "hwID"); Turin compares the first 8 bytes;
 *  5. the report signature (ARCA_ERR_SIGNATURE);
 *  6. fills *claims (if non-NULL): type SNP, measurement, host_data, report_data, chip_id,
 *     snp_policy, vmpl, reported_tcb, snp_report_version, debug = policy bit 19,
 *     platform_id = CHIP_ID, tcb_status UpToDate, collateral_expiry = earliest notAfter.
 * Policy decisions (DEBUG allowed, VMPL required) are the appraisal's: see
 * arca_snp_check_policy. *claims is untouched on failure.
 */
int arca_snp_verify(const void *report, size_t n, const struct arca_snp_certs *certs, int64_t now,
                    struct arca_claims *claims);

/*
 * Verifies only the certificate chain in certs (ARK pinned -> ASK/ASVK -> VCEK/VLEK when a key
 * certificate is given; key may be NULL to check an ASK/ASVK alone) at now, as
 * arca_snp_verify does; *product (may be NULL) gets the product of the root.
 */
int arca_snp_chain_verify(const struct arca_snp_certs *certs, int64_t now,
                          enum arca_snp_product *product);

/*
 * Which pinned product root certifies certs (the product of the chain); UNKNOWN if none.
 * Informational: arca_snp_verify checks it.
 */
enum arca_snp_product arca_snp_certs_product(const struct arca_snp_certs *certs);

/* Policy knobs checked by arca_snp_check_policy. */
struct arca_snp_policy {
    bool allow_debug;  /* accept POLICY bit 19 (DEBUG) */
    int required_vmpl; /* -1 = any; else VMPL must equal it */
};

/* Checks verified claims against the knobs: ARCA_ERR_POLICY "SNP policy DEBUG bit set" or
 * "VMPL N, required M". */
int arca_snp_check_policy(const struct arca_claims *claims, const struct arca_snp_policy *pol);

/* ---- embedded AMD certificates (snp_roots.c) ------------------------------------------ */

/* The embedded ARK of a product as PEM (static, public). NULL for UNKNOWN. */
const char *arca_snp_ark_pem(enum arca_snp_product p);
/* The embedded ASK (vlek false) or ASVK (vlek true) of a product as PEM (static). */
const char *arca_snp_intermediate_pem(enum arca_snp_product p, bool vlek);

/* ---- AMD KDS fetch (snp_fetch.c) -------------------------------------------------------- */

/*
 * Fetches certificates from AMD's Key Distribution Service (or a mirror) into an on-disk
 * cache. base_url NULL = "https://kdsintf.amd.com". cache_dir NULL = no cache. Cached files
 * are served first; a fetch failure falls back to a stale cached copy (ARCA_ERR_NETWORK only
 * when neither exists). VCEKs never change for a (chip, TCB) so they are cached forever;
 * cert chains are refreshed after refresh_secs (0 = a day).
 */
struct arca_snp_kds {
    const char *base_url;
    const char *cache_dir;
    long timeout_secs; /* 0 = 20 */
    int64_t refresh_secs;
};

/* The product a report names through its CPUID fields (version >= 3: family 19h models 0xh
 * Milan, 1xh/Axh Genoa; family 1Ah Turin); UNKNOWN for version 2 reports or other CPUs. */
enum arca_snp_product arca_snp_report_product(const struct arca_snp_report *r);

/*
 * Fills certs (merging, as the loaders do) with what KDS serves for a raw report: the VCEK and
 * the ASK+ARK chain for a VCEK-signed report, the ASVK+ARK chain for a VLEK-signed one (a VLEK
 * itself comes from the host, not KDS). product UNKNOWN = the report's CPUID product, else
 * Milan, Genoa, Turin in turn (version 2 reports do not name their product). On failure certs
 * is unchanged and the detail is the last fetch's.
 */
int arca_snp_certs_fetch(const struct arca_snp_kds *kds, const void *report, size_t n,
                         enum arca_snp_product product, int64_t now, struct arca_snp_certs *certs);

/* The VCEK for a parsed report (its CHIP_ID and REPORTED_TCB) of product; appends DER to out.
 * now decides the staleness of cached entries. */
int arca_snp_kds_fetch_vcek(const struct arca_snp_kds *kds, enum arca_snp_product product,
                            const struct arca_snp_report *r, int64_t now, struct arca_buf *out);
/* The ASK+ARK (vlek false) or ASVK+ARK (vlek true) PEM chain of product; appends to out. */
int arca_snp_kds_fetch_chain(const struct arca_snp_kds *kds, enum arca_snp_product product,
                             bool vlek, int64_t now, struct arca_buf *out);
/* The VCEK URL path for a report ("/vcek/v1/Milan/<hwid>?blSPL=..."), appended to out. Used by
 * the fetcher and the tests. */
int arca_snp_kds_vcek_path(enum arca_snp_product product, const struct arca_snp_report *r,
                           struct arca_buf *out);

#endif
