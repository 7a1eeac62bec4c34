/*
 * The client API's answers on the wire (docs/api.md): typed structs and their one JSON mapping,
 * used by arcad to encode (src/arcad/api.c) and by the CLI to decode (src/arca/). No other file
 * spells a JSON key of these answers. The error body is in api/json.h.
 *
 * Conventions: *_to_json returns a new reference (json_decref) or NULL when out of memory;
 * *_from_json reads a parsed answer (see arca_json_parse_object, which refuses duplicate keys)
 * and returns 0 or ARCA_ERR_FORMAT naming the field, leaving *out cleared on failure. Structs
 * own what they point to and are released with their *_clear function (which also zeroes
 * them, so clearing twice is fine).
 */
#ifndef ARCA_API_CLIENT_API_H
#define ARCA_API_CLIENT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"

#define ARCA_API_HASH_LEN 32

/* One session version as the client API shows it. */
struct arca_api_version {
    char *name; /* owned, NUL-terminated */
    uint8_t hash[ARCA_API_HASH_LEN];
    uint64_t version;
    uint8_t creator[ARCA_API_HASH_LEN]; /* key id of the creator */
    int64_t created_at;                 /* seconds since the epoch */
    bool has_predecessor;
    uint8_t predecessor[ARCA_API_HASH_LEN];
    char *session; /* read answer only: the redacted YAML (owned), NULL = JSON null */
    size_t session_len;
    bool active; /* read answer only: is this the active version */
};

/* Which fields of a version an answer carries. */
enum arca_api_version_form {
    ARCA_API_VERSION_UPLOADED, /* POST /v1/sessions: name, hash, version, creator */
    ARCA_API_VERSION_LISTED,   /* GET /v1/sessions entry: name, hash, version */
    ARCA_API_VERSION_HISTORY,  /* GET /v1/history entry: + creator, created_at, predecessor */
    ARCA_API_VERSION_READ,     /* GET /v1/sessions/NAME: + active, session */
};

json_t *arca_api_version_to_json(const struct arca_api_version *v, enum arca_api_version_form form);
int arca_api_version_from_json(const json_t *j, enum arca_api_version_form form,
                               struct arca_api_version *out);
void arca_api_version_clear(struct arca_api_version *v);

/* A list of versions: the list answer ({"sessions": [LISTED...]}) and the history answer
 * ({"name": NAME, "versions": [HISTORY...]}, newest first). */
struct arca_api_versions {
    char *name; /* history only: the session name (owned) */
    struct arca_api_version *v;
    size_t n, cap;
};

/* Appends *v, taking over what it owns (*v is zeroed). ARCA_ERR_ALLOC (v untouched). */
int arca_api_versions_add(struct arca_api_versions *l, struct arca_api_version *v);
void arca_api_versions_clear(struct arca_api_versions *l);
json_t *arca_api_list_to_json(const struct arca_api_versions *l);
int arca_api_list_from_json(const json_t *j, struct arca_api_versions *out);
json_t *arca_api_history_to_json(const struct arca_api_versions *l);
int arca_api_history_from_json(const json_t *j, struct arca_api_versions *out);

/* GET /v1/version: {"name": "arcad", "version", "cas_key", "simulation"}. */
struct arca_api_cas_version {
    char version[32];
    uint8_t cas_key[ARCA_API_HASH_LEN];
    bool simulation;
};
json_t *arca_api_cas_version_to_json(const struct arca_api_cas_version *v);
int arca_api_cas_version_from_json(const json_t *j, struct arca_api_cas_version *out);

/*
 * GET /v1/status (client certificate required): what `arca status` shows. Nothing in it is a
 * secret or names another client: the counts and the audit checkpoint are what an operator
 * checks for liveness and progress. enclave_address is arcad's --enclave-listen (for
 * ARCA_CAS_ADDR); audit_seq/audit_time are 0 when no checkpoint was written yet.
 */
struct arca_api_status {
    char version[32];
    bool provisioned;
    uint64_t store_commit;
    uint64_t sessions;
    uint64_t audit_seq;
    int64_t audit_time;
    uint64_t uptime_s;
    char enclave_address[256];
};
json_t *arca_api_status_to_json(const struct arca_api_status *s);
int arca_api_status_from_json(const json_t *j, struct arca_api_status *out);

/* GET /healthz: {"status": "ok", "commit": N} (N: the store's commit number). */
json_t *arca_api_health_to_json(uint64_t commit);

/*
 * GET /v1/attest?nonce= on the client port: arcad's own evidence, bound to the SPKI of its TLS
 * key and the client's nonce (docs/api.md). Decoding requires type, evidence, spki and cas_key
 * (the rest is informational and decoded when present).
 */
#define ARCA_API_EVIDENCE_SIM "sim" /* the INSECURE simulation TEE's evidence type */
struct arca_api_cas_evidence {
    char type[16];            /* evidence type, e.g. "sim" */
    bool insecure;            /* simulated evidence: no TEE protects this arcad */
    struct arca_buf evidence; /* the evidence bytes (base64 on the wire) */
    struct arca_buf spki;     /* DER SubjectPublicKeyInfo of the CAS key (base64 on the wire) */
    uint8_t cas_key[ARCA_API_HASH_LEN];
    char cas_key_b58[64];
    uint8_t nonce[32];
    bool has_measurement;
    uint8_t measurement[ARCA_API_HASH_LEN];
    struct arca_buf cert_chain; /* PEM: server certificate, then the CAS CA */
};
/* Initialises the buffers of *e (call before from_json or before filling it in). */
void arca_api_cas_evidence_init(struct arca_api_cas_evidence *e);
json_t *arca_api_cas_evidence_to_json(const struct arca_api_cas_evidence *e);
int arca_api_cas_evidence_from_json(const json_t *j, struct arca_api_cas_evidence *out);
void arca_api_cas_evidence_clear(struct arca_api_cas_evidence *e);

/* GET /v1/values/session=NAME[,secret=S]: public values ({"values": {NAME: VALUE...}}, or one
 * VALUE = {"kind", "value", "expires": null, "renew": null}). */
struct arca_api_value {
    char *name;           /* owned */
    const char *kind;     /* static: "string", "binary", "x509", "x509-ca", "public-key" */
    struct arca_buf text; /* the value as text (plain, hex or PEM) */
};
struct arca_api_values {
    struct arca_api_value *v;
    size_t n, cap;
};
/* Appends a value named name of kind (static string) whose text is taken over from *text
 * (left empty). ARCA_ERR_ALLOC. */
int arca_api_values_add(struct arca_api_values *l, const char *name, const char *kind,
                        struct arca_buf *text);
/* The value named name, or NULL. */
const struct arca_api_value *arca_api_values_find(const struct arca_api_values *l,
                                                  const char *name);
void arca_api_values_clear(struct arca_api_values *l);
json_t *arca_api_value_to_json(const struct arca_api_value *v);
json_t *arca_api_values_to_json(const struct arca_api_values *l);

#endif
