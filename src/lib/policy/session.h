/*
 * The session language (DESIGN §2, reference §1): the typed model of one session description,
 * its strict YAML loader with validation, diagnostics, lookups and the canonical session hash.
 *
 * Ownership: arca_session_load() returns a struct arca_session that owns every pointer inside it
 * (strings, arrays, child nodes); release it with arca_session_free(), which wipes all strings
 * (explicit secret values live in the model). Consumers treat the model as read-only and
 * borrow from it; nothing inside may be freed or modified by them.
 *
 * Every value carries the position (1-based line and column) where it was written in the YAML,
 * so later stages (secret engine, governance, attestation) can report errors in the same
 * "FILE:LINE:COL: key.path: what is wrong" form as the loader.
 *
 * Strings: struct arca_str holds a malloc'ed NUL-terminated copy (s == NULL means "absent");
 * len excludes the NUL. The loader refuses NUL bytes in every string, so s is a C string.
 */
#ifndef ARCA_POLICY_SESSION_H
#define ARCA_POLICY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "crypto/crypto.h"
#include "policy/kinds.h"

/* ---- limits (the loader refuses larger input with a diagnostic) --------------------------- */

#define ARCA_SESSION_MAX_BYTES ((size_t)1 << 20) /* 1 MiB of YAML */
#define ARCA_SESSION_MAX_DEPTH 32                /* nesting of YAML collections */
#define ARCA_SESSION_MAX_NODES 100000            /* YAML nodes after fragment substitution */
#define ARCA_SESSION_NAME_MAX 512                /* a full (namespaced) session name */
#define ARCA_SESSION_COMPONENT_MAX 128           /* one name component, service/secret names */
#define ARCA_SESSION_MAX_DIAGS 200               /* further errors are counted, not stored */

/* ---- positions, strings, diagnostics ----------------------------------------------------- */

struct arca_pos {
    uint32_t line; /* 1-based; 0 = not from the YAML (a default) */
    uint32_t col;  /* 1-based */
};

struct arca_str {
    char *s; /* owned, NUL-terminated; NULL = absent */
    size_t len;
    struct arca_pos pos;
};

struct arca_diag_entry {
    char *file; /* owned */
    uint32_t line;
    uint32_t col;
    char *path; /* owned: the key path, e.g. "services[0].attestation[1].mrenclave[0]" */
    char *msg;  /* owned: what is wrong (never contains a secret value) */
};

/* A list of errors. Initialise with arca_diag_init (or zero it); free with arca_diag_free. */
struct arca_diag {
    struct arca_diag_entry *v; /* owned array */
    size_t n;
    size_t cap;
    size_t dropped; /* errors not stored beyond ARCA_SESSION_MAX_DIAGS */
};

void arca_diag_init(struct arca_diag *d);
/* Frees all entries and leaves d empty (reusable). NULL is fine. */
void arca_diag_free(struct arca_diag *d);
/* Appends one error (file/path may be NULL). 0, or ARCA_ERR_ALLOC. */
int arca_diag_add(struct arca_diag *d, const char *file, struct arca_pos pos, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends "FILE:LINE:COL: key.path: message\n" for every entry (and a line counting dropped
 * errors) to out. */
int arca_diag_format(const struct arca_diag *d, struct arca_buf *out);
/* Formats one entry the same way without newline into out. */
int arca_diag_entry_format(const struct arca_diag_entry *e, struct arca_buf *out);

/* ---- generic YAML tree (config-fragment values) ------------------------------------------- */

enum arca_ynode_type { ARCA_YNODE_SCALAR = 1, ARCA_YNODE_SEQ, ARCA_YNODE_MAP };

/*
 * A parsed YAML node. Maps keep their written order: items[2k] is a key (always a scalar),
 * items[2k+1] its value. Scalars keep their text and whether they were plain (unquoted), which
 * decides null/bool/int interpretation. Owned by the enclosing structure.
 */
struct arca_ynode {
    enum arca_ynode_type type;
    struct arca_pos pos;
    char *text; /* scalar text, NUL-terminated (owned); NULL for collections */
    size_t len;
    bool plain;               /* scalar was written without quotes or block style */
    struct arca_ynode *items; /* owned array: sequence items, or key/value pairs of a map */
    size_t n_items;
};

/* ---- services ----------------------------------------------------------------------------- */

struct arca_digest32 {
    uint8_t v[32];
    struct arca_pos pos;
};

/*
 * A 32-byte key given literally (hex) or as a placeholder naming a secret:
 * fspf_key: "$$SCONE::fs_key$$" (a binary secret of 32 bytes).
 */
struct arca_key32_ref {
    bool set;
    bool literal;           /* true: key holds the value; false: secret names the secret */
    uint8_t key[32];        /* literal value (wiped on free) */
    struct arca_str secret; /* secret name of the placeholder form */
    struct arca_str format; /* placeholder format after the name ("" if none) */
    struct arca_pos pos;
};

enum arca_fspf_policy {
    ARCA_FSPF_DEFAULT = 0, /* not written; means rollback_protected_reinitializable (services)
                              or rollback_protected (volumes) */
    ARCA_FSPF_ROLLBACK_PROTECTED_REINITIALIZABLE,
    ARCA_FSPF_ROLLBACK_PROTECTED,
    ARCA_FSPF_EPHEMERAL,
    ARCA_FSPF_NO_ROLLBACK_PROTECTION,
};
/* "rollback_protected" ... (static), "" for DEFAULT. */
const char *arca_fspf_policy_name(enum arca_fspf_policy p);

/* SGX signer factor: mrsigner + isvprodid, and an exact isvsvn or an inclusive range. */
struct arca_sgx_signer {
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    bool has_isvsvn;
    uint16_t isvsvn;
    bool has_isvsvn_min;
    uint16_t isvsvn_min;
    bool has_isvsvn_max;
    uint16_t isvsvn_max;
    struct arca_pos pos;
};

/* arca extension: TDX measurements (48 bytes each); mrtd mandatory, the rest optional. */
struct arca_tdx_factor {
    uint8_t mrtd[48];
    bool has_rtmr[4];
    uint8_t rtmr[4][48];
    bool has_mrconfigid;
    uint8_t mrconfigid[48];
    bool has_mrowner;
    uint8_t mrowner[48];
    struct arca_pos pos;
};

/* arca extension: SEV-SNP launch measurement (48 bytes), optional HOST_DATA (32) and a
 * minimum REPORTED_TCB (the 64-bit TCB_VERSION; min_tcb may be written as an integer, as
 * 16 hex digits, or as {bootloader, tee, snp, microcode}; each SPL must be >= the minimum's). */
struct arca_snp_factor {
    uint8_t measurement[48];
    bool has_host_data;
    uint8_t host_data[32];
    bool has_min_tcb;
    uint64_t min_tcb;
    struct arca_pos pos;
};

/*
 * One attestation variant: every factor present must hold (AND); a service is satisfied by any
 * one of its variants (OR). A variant may combine mrenclave with signer, but tdx, snp and
 * simulation variants stand alone. sim_measurement (arca's simulation TEE: SHA-256 of the
 * program file) is written as `simulation: {measurement: <64 hex>}`; a variant holding only
 * mrenclave also matches simulated evidence in mode simulation.
 */
struct arca_att_variant {
    struct arca_pos pos;
    struct arca_digest32 *mrenclave; /* owned array: any one may match */
    size_t n_mrenclave;
    bool has_signer;
    struct arca_sgx_signer signer;
    bool has_tdx;
    struct arca_tdx_factor tdx;
    bool has_snp;
    struct arca_snp_factor snp;
    bool has_sim;
    uint8_t sim_measurement[32];
};

/* A SCONE QE / platform public key: 32 bytes given in hex, or a placeholder. */
struct arca_platform_ref {
    bool literal;
    /* "INTEL_QE_ID:<32 hex>" (0.3.12): key[0..16) holds the Intel DCAP QE ID, not a QE key. */
    bool intel_qe_id;
    uint8_t key[32];
    struct arca_str secret; /* placeholder secret name when !literal */
    struct arca_pos pos;
};

struct arca_env {
    struct arca_str name;  /* as used by the program: "\@\@NAME" is stored as "NAME" */
    struct arca_str value; /* may hold placeholders; empty for from_host */
    bool from_host;        /* written "\@\@NAME": value comes from the host environment */
};

struct arca_service {
    struct arca_str name;
    struct arca_pos pos;
    /* command: the written string form (NULL when the list form was used) and the argv split
     * with shell-like quoting (single/double quotes keep spaces, backslash escapes in double
     * quotes and bare words). "@@N" arguments are kept verbatim for the runtime. */
    struct arca_str command;
    struct arca_str *argv; /* owned array */
    size_t argc;
    struct arca_env *env; /* owned array, in written order */
    size_t n_env;
    struct arca_str pwd;
    struct arca_str image_name;
    struct arca_str fspf_path;
    struct arca_key32_ref fspf_key;
    bool has_fspf_tag;
    uint8_t fspf_tag[16];
    enum arca_fspf_policy fspf_update_policy;
    struct arca_att_variant *variants; /* owned array */
    size_t n_variants;
    bool mrenclaves_deprecated;          /* variants came from the deprecated `mrenclaves:` list */
    struct arca_platform_ref *platforms; /* owned array; empty = any platform */
    size_t n_platforms;
    struct arca_str otp_secret; /* one_time_password_shared_secret (base32 or placeholder) */
};

/* ---- session references, secrets ---------------------------------------------------------- */

/*
 * A reference to another session: `session: name` (absolute "ns/name", or relative "../x",
 * "./child"), optional session_hash, optional remote CAS (cas_url + cas_key or
 * cas_software_key), or `namespace: ns` for exports. The URL short form
 * "host/cas_key=...,session=...[,session_hash=...]" is parsed into the same fields.
 */
struct arca_session_ref {
    struct arca_str session;
    struct arca_str namespace_; /* exports only; then session is absent */
    bool has_session_hash;
    uint8_t session_hash[32];
    struct arca_str cas_url;
    bool has_cas_key;
    uint8_t cas_key[32]; /* key hash (hex64 or Base58Check form) */
    bool has_cas_software_key;
    uint8_t cas_software_key[32];
    struct arca_pos pos;
};

enum arca_endpoint { ARCA_ENDPOINT_NONE = 0, ARCA_ENDPOINT_SERVER, ARCA_ENDPOINT_CLIENT };

/*
 * The Azure parts of a secret as the established CAS documents them: kind aad-token and
 * import_akv. Loaded and hashed; a create refuses them (they need Azure at run time).
 * Credentials (application_secret, private_key) are wiped on free.
 */
struct arca_azure_secret {
    struct arca_str tenant_id, client_id;
    struct arca_str application_secret; /* secret */
    struct arca_str private_key;        /* secret: inline PEM RSA key, or one placeholder */
    struct arca_str thumbprint;         /* certificate_thumbprint, 40 hex as written */
    bool has_import_akv;
    struct arca_pos akv_pos;
    struct arca_str akv_vault;  /* import_akv.vault: https URL */
    struct arca_str akv_secret; /* import_akv.secret_name (absent: the secret's own name) */
    struct arca_str akv_token;  /* import_akv.token: an aad-token secret's name (or absent) */
};

struct arca_secret {
    struct arca_str name;
    struct arca_pos pos;
    enum arca_secret_kind kind;
    bool has_size;
    uint32_t size;               /* ascii: chars, binary: bytes (default 20 when generated) */
    enum arca_key_type key_type; /* private-key: P-256 default (ARCA_KEY_P256 when absent) */
    struct arca_str private_key; /* x509 / x509-ca: name of a private-key secret */
    struct arca_str issuer; /* x509 / x509-ca: name of an x509-ca secret; absent = self-signed */
    struct arca_str common_name;
    enum arca_endpoint endpoint;
    struct arca_str *dns; /* owned array (deprecated since 0.3.10) */
    size_t n_dns;
    struct arca_str *san; /* owned array: "dns:name" or "ip:addr" as written */
    size_t n_san;
    bool has_valid_for;
    int64_t valid_for; /* seconds */
    struct arca_str valid_for_text;
    /* Explicit value: the text as written (ascii: the string; binary: hex; private-key, x509:
     * PEM). Wiped on free. For binary, value_bytes holds the decoded bytes. */
    struct arca_str value;
    uint8_t *value_bytes; /* owned (wiped on free); binary only */
    size_t value_bytes_len;
    struct arca_ynode *fragment;      /* config-fragment value (owned), NULL otherwise */
    struct arca_session_ref *exports; /* owned array */
    size_t n_exports;
    bool export_public;
    bool has_import;
    struct arca_session_ref import_from;
    struct arca_str import_secret;   /* name of the secret in the exporting session */
    bool migrate;                    /* private-key: keep the key across updates */
    struct arca_str provided_by;     /* arca extension: service that uploads the value */
    struct arca_azure_secret *azure; /* owned; aad-token fields / import_akv, else NULL */
    /* jwt (0.3.12) */
    struct arca_str signer;  /* name of the private-key secret that signs */
    struct arca_str jwt_alg; /* JOSE algorithm as written ("ES384") */
    int64_t jwt_valid_for;   /* validity: {for: ...} in seconds; 0 = absent */
    int64_t jwt_until;       /* validity: {until: ...} in Unix seconds; 0 = absent */
    struct arca_str *claims; /* owned array of name, value, name, value... (written order) */
    size_t n_claims;         /* entries in claims (twice the number of claims) */
};

/* ---- images and volumes ------------------------------------------------------------------- */

struct arca_volume_export {
    struct arca_session_ref to;
    enum arca_fspf_policy update_policy; /* cap for importers */
    struct arca_str volume_alias;
    struct arca_pos pos;
};

struct arca_volume {
    struct arca_str name;
    struct arca_pos pos;
    struct arca_key32_ref fspf_key; /* both key and tag absent: auto-initialised on first use */
    bool has_fspf_tag;
    uint8_t fspf_tag[16];
    struct arca_volume_export *exports; /* owned array */
    size_t n_exports;
    bool has_import;
    struct arca_session_ref import_from;
    struct arca_str import_volume; /* the exporter's volume name (or its alias) */
};

struct arca_image_volume {
    struct arca_str name; /* refers to volumes[] */
    struct arca_str path; /* mount point */
    enum arca_fspf_policy update_policy;
    struct arca_pos pos;
};

struct arca_injection_file {
    struct arca_str path;
    bool has_content;        /* false: short form, the file is read from the (shielded) FS */
    struct arca_str content; /* may hold placeholders */
    uint32_t mode;           /* `permission`, default 0700 */
    struct arca_pos pos;
};

struct arca_image {
    struct arca_str name;
    struct arca_pos pos;
    struct arca_image_volume *volumes; /* owned array */
    size_t n_volumes;
    struct arca_injection_file *files; /* owned array */
    size_t n_files;
};

/* ---- access policy ------------------------------------------------------------------------ */

enum arca_ap_kind {
    ARCA_AP_CREATOR = 1,
    ARCA_AP_ANY,
    ARCA_AP_NONE,
    ARCA_AP_CERT,    /* PEM certificate: only its public key counts (key_id) */
    ARCA_AP_KEYHASH, /* key hash: hex64 or 50-char Base58Check */
    ARCA_AP_SIGNER,  /* `signer:` session-signing key: SPKI PEM or Base58Check Ed25519 */
    ARCA_AP_SECRET,  /* $$SCONE::name$$: refused by the loader (not supported by arca yet) */
    ARCA_AP_ALL,     /* require-all: [...] */
    ARCA_AP_AT_LEAST /* require-at-least-N: [...] */
};

struct arca_ap_node {
    enum arca_ap_kind kind;
    struct arca_pos pos;
    /* CERT, KEYHASH, SIGNER: SHA-256 of the DER SPKI (arca_key_id). */
    uint8_t key_id[32];
    /* CERT: the PEM as written; SIGNER: the DER SPKI (owned) */
    struct arca_str cert_pem;
    uint8_t *spki_der;
    size_t spki_der_len;
    enum arca_key_type signer_type; /* SIGNER: ed25519 or p384 (others refused) */
    struct arca_str secret;         /* SECRET: secret name */
    uint32_t threshold;             /* AT_LEAST: N (ALL: n_children) */
    struct arca_ap_node *children;  /* owned array: ALL, AT_LEAST */
    size_t n_children;
};

/* One operation's rule: satisfied if any entry is (an implicit require-at-least-1). */
struct arca_ap_rule {
    bool written; /* false: filled from the default */
    struct arca_pos pos;
    /* Set when the rule (or an entry of it) is an imported config-fragment whose value arrives
     * only at use (struct arca_import_use): such a rule grants nothing until the session is
     * loaded again with the value (arca_session_load_imported). */
    struct arca_str import;
    struct arca_ap_node *entries; /* owned array */
    size_t n_entries;
};

/*
 * Defaults after loading: read and update [CREATOR] when absent, create_sessions a copy of
 * update, list_sessions a copy of read. require-* and signer never appear in read/list.
 */
struct arca_access_policy {
    struct arca_ap_rule read;
    struct arca_ap_rule update;
    struct arca_ap_rule create_sessions;
    struct arca_ap_rule list_sessions;
};

/* ---- security ------------------------------------------------------------------------------ */

enum arca_att_mode {
    ARCA_ATT_MODE_HARDWARE = 0, /* default */
    ARCA_ATT_MODE_SIMULATION,   /* arca extension: simulated evidence accepted (INSECURE) */
    ARCA_ATT_MODE_NONE,         /* no service authentication at all */
};

/* Tolerated TCB conditions (bit mask). */
enum arca_tolerate {
    ARCA_TOLERATE_DEBUG_MODE = 1u << 0,
    ARCA_TOLERATE_HYPERTHREADING = 1u << 1,
    ARCA_TOLERATE_INSECURE_IGPU = 1u << 2,
    ARCA_TOLERATE_SW_HARDENING_NEEDED = 1u << 3,
    ARCA_TOLERATE_AEPIC_LEAK = 1u << 4,
    ARCA_TOLERATE_INSECURE_CONFIGURATION = 1u << 5,
    ARCA_TOLERATE_OUTDATED_TCB = 1u << 6,
};

/* A tolerance and its name in the session language and the CLI ("debug-mode"). */
struct arca_tolerate_name {
    const char *name;
    uint32_t bit; /* one enum arca_tolerate value */
};
/* The one table of tolerance names, in documentation order; *count set to its length. Static. */
const struct arca_tolerate_name *arca_tolerate_table(size_t *count);
/* The tolerance bit named name (NUL-terminated, exact case), or 0 when it names none. */
uint32_t arca_tolerate_from_name(const char *name);
/* The name of one tolerance bit, or "?" when bit is not exactly one tolerance. Static. */
const char *arca_tolerate_name(uint32_t bit);

struct arca_security {
    struct arca_pos pos;
    enum arca_att_mode mode;
    struct arca_pos mode_pos;
    uint32_t tolerate;                  /* enum arca_tolerate bits */
    bool ignore_all_advisories;         /* "*" (only allowed with debug-mode tolerated) */
    struct arca_str *ignore_advisories; /* owned array: "INTEL-SA-00161" ... */
    size_t n_ignore_advisories;
    struct arca_platform_ref *trusted_qe_keys; /* trusted_scone_qe_pubkeys, owned array */
    size_t n_trusted_qe_keys;
    struct arca_str otp_secret; /* attestation.one_time_password_shared_secret */
    bool singleton_enclaves;
    struct arca_str service_access_token;
    /* attestation.url: an attestation provider. Only mode: maa uses it, and arca refuses that
     * mode; with mode: hardware it is accepted as the docs allow, and has no effect. */
    struct arca_str url;
    bool maa;             /* mode: maa was written (the load then fails: not supported) */
    bool maa_managed_tcb; /* tolerate: maa-managed-tcb */
};

/* ---- the session --------------------------------------------------------------------------- */

/*
 * `$$SCONE::x$$` standing for a whole node of access_policy, security or a service's
 * attestation, where x is imported (a config-fragment with `import`, or an import without a
 * kind): its value is in another session, so it is known only at use. The load accepts the
 * place and records it here; the node is left out of the model (a rule with an import grants
 * nothing, a service with one may have no variant yet). arca_session_load_imported loads the
 * session again with the values and validates them fully.
 */
struct arca_import_use {
    struct arca_str secret; /* the imported secret's name */
    struct arca_str field;  /* where it stands: "access_policy.update", "services[0].attestation" */
    struct arca_pos pos;
};

/* The value of an imported fragment, as YAML (or JSON) text; borrowed by the loader. */
struct arca_fragment_value {
    const char *name; /* the importing secret's name */
    const char *text;
    size_t len;
};

struct arca_session {
    char *filename; /* owned copy of the name given to the loader (for diagnostics) */
    struct arca_str name;
    struct arca_str version; /* as written: "0.3" or "0.3.N" */
    unsigned version_minor;  /* N of "0.3.N"; "0.3" counts as 11 (every 0.3.x feature) */
    bool has_predecessor;    /* a 64-hex value (not ~) was given */
    uint8_t predecessor[32];
    struct arca_service *services; /* owned arrays */
    size_t n_services;
    struct arca_secret *secrets;
    size_t n_secrets;
    struct arca_image *images;
    size_t n_images;
    struct arca_volume *volumes;
    size_t n_volumes;
    struct arca_access_policy access;
    struct arca_security security;
    bool has_salt; /* salt (0.3.12): 16 bytes that randomise the session hash */
    uint8_t salt[16];
    /* creator: as the established CAS writes it into read-back and signed sessions: a PEM
     * certificate (ARCA_AP_CERT) or {signer: PEM} (ARCA_AP_SIGNER). It must name the session's
     * actual creator (the uploader of the first version); key_id says who. */
    bool has_creator;
    struct arca_ap_node creator;
    /* Whole-position placeholders naming imported fragments, left for use time (owned array). */
    struct arca_import_use *import_uses;
    size_t n_import_uses;
};

/*
 * Parses and validates a session description (YAML text yaml[0..len)). filename is used in
 * diagnostics only (may be NULL: "<input>"). On success returns 0 and *out gets a new session
 * (caller frees with arca_session_free). On failure returns ARCA_ERR_FORMAT (invalid policy;
 * every error found is appended to diag, which the caller initialised and frees),
 * ARCA_ERR_UNSUPPORTED (only "not supported by arca" errors), ARCA_ERR_TOO_LARGE, or
 * ARCA_ERR_ALLOC; *out is left NULL. diag may be NULL (errors then only counted).
 * Anchors, aliases, tags, duplicate keys, unknown keys and NUL bytes are refused.
 */
int arca_session_load(const char *yaml, size_t len, const char *filename, struct arca_session **out,
                      struct arca_diag *diag);

/*
 * As arca_session_load, with the values of imported fragments (frags[0..n_frags), names of
 * importing secrets): each is substituted where its placeholder stands and validated as if
 * written there (positions in diagnostics are inside the fragment's text). Places whose import
 * has no value here stay recorded in import_uses. frags may be NULL when n_frags is 0.
 */
int arca_session_load_imported(const char *yaml, size_t len, const char *filename,
                               const struct arca_fragment_value *frags, size_t n_frags,
                               struct arca_session **out, struct arca_diag *diag);

/*
 * The JSON text of a config fragment's value (YAML reads it back as the same tree; plain null
 * scalars stay null). Appends to out; 0 or a negative code.
 */
int arca_ynode_to_json(const struct arca_ynode *n, struct arca_buf *out);

/* Reads path (at most ARCA_SESSION_MAX_BYTES) and loads it as above. I/O errors go to diag too. */
int arca_session_load_file(const char *path, struct arca_session **out, struct arca_diag *diag);

/*
 * As arca_session_load / _file, for `arca session hash` only: features that are checked for
 * shape but need Azure at run time (kind aad-token, import_akv, mode: maa) are not refused,
 * so such a session has a hash. Never use the result to create or run a session.
 */
int arca_session_load_for_hash(const char *yaml, size_t len, const char *filename,
                               struct arca_session **out, struct arca_diag *diag);
int arca_session_load_file_for_hash(const char *path, struct arca_session **out,
                                    struct arca_diag *diag);

/* Frees the session and everything it owns, wiping strings and key material. NULL is fine. */
void arca_session_free(struct arca_session *s);

/*
 * The canonical session hash (docs/canonical-hash.md): SHA-256 over
 * "arca-session-v1" framing of the parsed model (length-prefixed fields in a fixed order,
 * defaults filled in) followed by the creator's key id (SHA-256 of the creator's DER SPKI; all
 * zero when there is none yet, e.g. for `arca session hash`). Formatting, quoting, comments and
 * key order of the YAML do not change it; any semantic change does. 0 or a negative code.
 */
int arca_session_hash(const struct arca_session *s, const uint8_t creator_key_id[32],
                      uint8_t out[32]);

/* Appends the canonical encoding that arca_session_hash hashes (without the creator key id). */
int arca_session_encode_canonical(const struct arca_session *s, struct arca_buf *out);

/* ---- lookups (borrowed pointers into s; NULL when absent) ---------------------------------- */

const struct arca_service *arca_session_find_service(const struct arca_session *s,
                                                     const char *name);
const struct arca_secret *arca_session_find_secret(const struct arca_session *s, const char *name);
const struct arca_image *arca_session_find_image(const struct arca_session *s, const char *name);
const struct arca_volume *arca_session_find_volume(const struct arca_session *s, const char *name);

/* The parent namespace of the session name ("a/b/c" -> "a/b") as a malloc'ed string the caller
 * frees, or NULL (no parent, or out of memory: check s->name). */
char *arca_session_parent_name(const struct arca_session *s);

/* "ascii", "binary", "private-key", "x509", "x509-ca", "config-fragment", ... (static) */
const char *arca_secret_kind_name(enum arca_secret_kind k);

/*
 * Checks a session or namespace name: components of [A-Za-z0-9_\-.~]{1,128} separated by '/',
 * no empty component, total <= ARCA_SESSION_NAME_MAX. Returns 0 or ARCA_ERR_FORMAT with what is
 * wrong in the detail. allow_slash false: a single component (service, secret, image names).
 */
int arca_session_name_check(const char *name, size_t len, bool allow_slash);

/*
 * ignore_advisories: "*" is refused in production mode (hardware or maa appraisal without
 * debug-mode tolerated): 0, or ARCA_ERR_POLICY with the reason as detail. One rule for the
 * loader and for security sections that only arrive at use (imported fragments).
 */
int arca_security_wildcard_check(const struct arca_security *sec);

#endif
