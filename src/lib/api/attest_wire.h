/*
 * The enclave API's wire protocol (DESIGN §4, docs/internals/launch.md "Protocol"), defined once
 * for arcad (src/arcad/enclave_api.c, src/lib/attest/) and arca-run (src/arca-run/attest.c,
 * config.c). Every JSON key of the enclave API is written in attest_wire*.c only.
 *
 *   POST /v1/challenge  request {}          answer {"nonce": HEX(32 bytes), "expires_in": SECONDS}
 *   POST /v1/attest     request {"config_id": "SESSION/SERVICE[@OTP]", "nonce": HEX,
 *                                "evidence_type": "sim|sgx-dcap|tdx|snp", "evidence": BASE64,
 *                                "aux": BASE64 (optional: SEV-SNP certificate table),
 *                                "access_token": STRING (optional),
 *                                "host": {"argv": [STRING...], "env": {NAME: VALUE}} (optional)}
 *                       answer  {"argv": [STRING...]  (at least one, no NUL bytes),
 *                                "env": {NAME: VALUE}  (the program's whole environment),
 *                                "pwd": ABSOLUTE_PATH,
 *                                "files": [{"path": ABSOLUTE_PATH, "mode": 0..0o7777,
 *                                           "content": BASE64}, ...] (optional),
 *                                "volumes": [{"name": STRING, "path": ABSOLUTE_PATH,
 *                                             "key": HEX(32), "tag": HEX(16) (optional),
 *                                             "update_policy": "rollback_protected" |
 *                                             "ephemeral" | "no_rollback_protection"}, ...]
 *                                            (optional, docs/volumes.md "Unlocking"),
 *                                "volume_token": HEX(48) (with volumes),
 *                                "provide_token": HEX(48) (a provided_by service)}
 *   POST /v1/volumes/tag request {"config_id": "SESSION/SERVICE", "volume": NAME,
 *                                "token": HEX(48), "old_tag": HEX(16) (optional),
 *                                "tag": HEX(16)}
 *                       answer  {"seq": N}
 *
 * Decoders treat their input as untrusted: duplicate keys are refused (JSON_REJECT_DUPLICATES),
 * sizes are bounded, errors name the member. Values that may be secret (the access token, the
 * host environment, everything in the configuration) are kept in memory that is wiped when
 * freed, and never appear in an error detail.
 */
#ifndef ARCA_API_ATTEST_WIRE_H
#define ARCA_API_ATTEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "evidence/claims.h"

#define ARCA_LAUNCH_NONCE_LEN 32
#define ARCA_ATTEST_EVIDENCE_MAX ((size_t)256 << 10)
#define ARCA_ATTEST_HOST_MAX 4096 /* host.argv entries, host.env variables */

/* ---- POST /v1/challenge ------------------------------------------------------------------ */

struct arca_challenge_answer {
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    int64_t expires_in; /* seconds */
};

/* A new JSON object for a (json_decref); NULL when out of memory. */
json_t *arca_challenge_answer_encode(const struct arca_challenge_answer *a);
/* Parses the answer body; ARCA_ERR_FORMAT naming the member ("nonce: ..."). *out is zeroed on
 * failure. expires_in is optional (0 when absent). */
int arca_challenge_answer_decode(const void *p, size_t n, struct arca_challenge_answer *out);

/* ---- POST /v1/attest: the request --------------------------------------------------------- */

/*
 * Everything is owned by the struct: init with arca_attest_request_init, release with
 * arca_attest_request_free (wipes the access token and the host argv/env).
 */
struct arca_attest_request {
    char *config_id; /* "session/service[@OTP]", exactly as sent (it is bound in REPORTDATA) */
    enum arca_evidence_type evidence_type;
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    struct arca_buf evidence; /* decoded bytes, at most ARCA_ATTEST_EVIDENCE_MAX */
    struct arca_buf aux;      /* SEV-SNP certificate table; empty when absent */
    char *access_token;       /* NULL when absent; secret */
    /* The launcher's host: its argv (argv[0] = the program as invoked; @@N takes argv[N]) and
     * environment (\@\@NAME), both possibly secret. */
    char **host_argv;
    size_t host_argc;
    char **host_env_names;
    char **host_env_values;
    size_t host_n_env;
};

void arca_attest_request_init(struct arca_attest_request *r);
void arca_attest_request_free(struct arca_attest_request *r);

/*
 * Copies the host description into r (replacing any): argv[0..argc) and the "NAME=VALUE"
 * entries of the NULL-terminated envp (may be NULL); entries without '=' or with an empty name
 * are skipped. On encoding, variables whose value is not UTF-8 are left out (JSON cannot carry
 * them, and \@\@NAME could not use them), while an argument that is not UTF-8 is
 * ARCA_ERR_FORMAT ("host argument N").
 */
int arca_attest_request_set_host(struct arca_attest_request *r, char *const *argv, size_t argc,
                                 char *const *envp);

/* Appends the request's JSON to out (initialise it secret: it holds the token and the host
 * environment). out is unchanged on failure. */
int arca_attest_request_encode(const struct arca_attest_request *r, struct arca_buf *out);

/*
 * Fills r (initialised by the caller) from the request object body. Errors are
 * ARCA_ERR_FORMAT / ARCA_ERR_TOO_LARGE naming the member; the members are read in the order
 * config_id, evidence_type, evidence, aux, nonce, access_token, host, so that r->config_id is
 * set whenever config_id itself was well-formed (for the audit line of a refusal).
 */
int arca_attest_request_decode_json(const json_t *body, struct arca_attest_request *r);
/* As arca_attest_request_decode_json, from the bytes of the body (parsed with
 * JSON_REJECT_DUPLICATES; must be an object). */
int arca_attest_request_decode(const void *p, size_t n, struct arca_attest_request *r);

/* ---- POST /v1/attest: the answer (the launch configuration) -------------------------------- */

/* Limits on what a configuration may hold (a compromised or confused server cannot exhaust
 * the launcher). */
#define ARCA_LAUNCH_CONFIG_MAX_BYTES ((size_t)16 << 20)
#define ARCA_LAUNCH_CONFIG_MAX_ARGS 4096
#define ARCA_LAUNCH_CONFIG_MAX_ENV 4096
#define ARCA_LAUNCH_CONFIG_MAX_FILES 1024
#define ARCA_LAUNCH_CONFIG_MAX_PATH 4095
#define ARCA_LAUNCH_CONFIG_MAX_VOLUMES 64
#define ARCA_LAUNCH_VOLUME_NAME_MAX 256
#define ARCA_VOLUME_TOKEN_LEN 48

struct arca_launch_file {
    char *path;       /* absolute, normalised (no "." / ".." / "//", no trailing '/') */
    unsigned mode;    /* permission bits (0..07777) */
    uint8_t *content; /* secret: wiped on free */
    size_t len;
};

/* What happens to changes a program makes inside an unlocked volume (the policy's
 * fspf_update_policy / update_policy). */
enum arca_launch_volume_policy {
    ARCA_LAUNCH_VOLUME_ROLLBACK_PROTECTED = 0, /* new tags reported; older tags refused */
    ARCA_LAUNCH_VOLUME_EPHEMERAL,              /* changes are dropped at exit */
    ARCA_LAUNCH_VOLUME_NO_ROLLBACK_PROTECTION, /* any version the key opens */
};

/* "rollback_protected", ... (static); NULL for a value out of range. */
const char *arca_launch_volume_policy_name(enum arca_launch_volume_policy p);

/* A protected volume the program may use: the encrypted tree at path is shown decrypted at
 * path (docs/volumes.md). */
struct arca_launch_volume {
    char *name;      /* the policy's volume name, or "SERVICE.fspf" for a service's fspf_path */
    char *path;      /* absolute, normalised: where the encrypted tree lies */
    bool has_key;    /* false only while arcad builds it (a key it generates on first use) */
    uint8_t key[32]; /* secret: wiped on free */
    bool has_tag;    /* false: no tag known yet (no_rollback_protection / a new volume) */
    uint8_t tag[16];
    enum arca_launch_volume_policy policy;
};

/*
 * The configuration delivered to an attested program. Everything is owned and every value is
 * wiped when freed (arca_launch_config_free); a zeroed struct is empty.
 */
struct arca_launch_config {
    char **argv; /* NULL-terminated; argc entries; values may hold secrets */
    size_t argc;
    char **envp; /* NULL-terminated "NAME=VALUE"; envc entries; secret */
    size_t envc;
    char *pwd;
    struct arca_launch_file *files; /* nfiles entries (an array even when 0) */
    size_t nfiles;
    struct arca_launch_volume *volumes; /* nvolumes entries (NULL when 0) */
    size_t nvolumes;
    /* The credential for POST /v1/volumes/tag (secret; only with volumes): launch id (16) ||
     * HMAC-SHA-256 over session, service and launch id under arcad's report key. */
    bool has_volume_token;
    uint8_t volume_token[ARCA_VOLUME_TOKEN_LEN];
    /* The credential for POST /v1/provided (secret; only for a service that some secret names
     * in provided_by): the same shape under another label (attest/provided.c). */
    bool has_provide_token;
    uint8_t provide_token[ARCA_VOLUME_TOKEN_LEN];
};

void arca_launch_config_free(struct arca_launch_config *c);

/*
 * Appends the configuration's JSON to out, a secret buffer: the text is assembled by hand, so
 * no JSON library holds copies of the values we could not wipe. Strings must be UTF-8 as
 * jansson reads it (RFC 3629: no overlong forms, no UTF-16 surrogates, nothing above
 * U+10FFFF): anything else is ARCA_ERR_FORMAT naming the member. out is unchanged on failure.
 */
int arca_launch_config_encode(const struct arca_launch_config *c, struct arca_buf *out);

/*
 * Parses a configuration into *out (zeroed first). Strict: unknown members, missing members,
 * wrong types, NUL bytes in argv or environment, '=' or empty environment names, relative or
 * non-normal paths, duplicate file paths and out-of-range modes are ARCA_ERR_FORMAT naming the
 * member ("configuration: files[2].path: ..."). On failure *out is left empty. Run it with a
 * jansson allocator that wipes (the parse tree holds the values).
 */
int arca_launch_config_decode(const void *json, size_t len, struct arca_launch_config *out);

/* ---- POST /v1/volumes/tag (attest_wire_volume.c) ------------------------------------------ */

/* A new root tag of a volume, reported by arca-run after the program exited. Owned strings
 * (arca_volume_report_free wipes the token). */
struct arca_volume_report {
    char *config_id; /* "SESSION/SERVICE" (no one-time password) */
    char *volume;    /* the configuration's volume name */
    uint8_t token[ARCA_VOLUME_TOKEN_LEN];
    bool has_old_tag; /* the tag the changed version was unlocked at */
    uint8_t old_tag[16];
    uint8_t tag[16];
};

void arca_volume_report_free(struct arca_volume_report *r);
/* Appends the request's JSON to out (a secret buffer: it holds the token). */
int arca_volume_report_encode(const struct arca_volume_report *r, struct arca_buf *out);
/* Fills *r (zeroed first) from the request body; ARCA_ERR_FORMAT naming the member. On
 * failure *r is empty. */
int arca_volume_report_decode_json(const json_t *body, struct arca_volume_report *r);

/* ---- POST /v1/provided (attest_wire_provided.c) ------------------------------------------- */

/* Largest value a provided_by service may upload (text as the session language's `value`). */
#define ARCA_PROVIDED_VALUE_MAX 65536

/* The value of a provided_by secret, uploaded by an attested instance of that service. Owned
 * (arca_provided_upload_free wipes the token and the value). */
struct arca_provided_upload {
    char *config_id; /* "SESSION/SERVICE" (no one-time password) */
    char *secret;    /* the secret's name in the session */
    uint8_t token[ARCA_VOLUME_TOKEN_LEN];
    struct arca_buf value; /* secret buffer */
};

void arca_provided_upload_free(struct arca_provided_upload *u);
/* Appends the request's JSON to out (a secret buffer: token and value). The value must be
 * UTF-8 text without NUL (ARCA_ERR_INVALID_ARG otherwise). */
int arca_provided_upload_encode(const struct arca_provided_upload *u, struct arca_buf *out);
/* Fills *u (zeroed first) from the request body; ARCA_ERR_FORMAT naming the member, never the
 * value. On failure *u is empty. */
int arca_provided_upload_decode_json(const json_t *body, struct arca_provided_upload *u);

#endif
