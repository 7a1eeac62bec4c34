/*
 * arca-run internals (docs/internals/launch.md): one file per concern.
 *
 *   provider*.c  evidence providers behind one interface (sim, gramine, tsm)
 *   attest.c     the enclave API client: key pair K, TLS pinned to ARCA_CAS_KEY, challenge, attest
 *   config.c     parser of the delivered configuration (untrusted input: bounded and strict)
 *   apply.c      private mount namespace, private tmpfs, bind mounts of injected files
 *   program.c    the program's sealed copy: found, sealed, placed at its real path
 *   exec.c       working directory, exec of the sealed copy that was measured
 *
 * Every function returns 0 or a negative enum arca_err with arca_err_detail() saying what is
 * wrong and where; none of them logs or prints a secret value.
 */
#ifndef ARCARUN_H
#define ARCARUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/attest_wire.h"
#include "base/buf.h"
#include "evidence/claims.h"
#include "curl_load.h"
#include "timing.h"

/* ---- evidence providers ----------------------------------------------------------------- */

#define ARCARUN_GRAMINE_DIR "/dev/attestation"
#define ARCARUN_TSM_DIR "/sys/kernel/config/tsm/report"
#define ARCARUN_MAX_EVIDENCE ((size_t)64 << 10) /* configfs-tsm caps outblob at 32 KiB */

/* Where the providers look (borrowed strings; NULL = the defaults above / sim.h's default). */
struct arcarun_provider_opts {
    const char *sim_dir;
    const char *gramine_dir;
    const char *tsm_dir;
    const uint8_t *measurement; /* 32 bytes: SHA-256 of the program (used by sim only) */
};

/* Evidence produced by a provider: owned by the caller, free with arcarun_evidence_free. */
struct arcarun_evidence {
    enum arca_evidence_type type;
    struct arca_buf ev;  /* quote / report / simulated evidence */
    struct arca_buf aux; /* SNP certificate table from configfs-tsm auxblob (may be empty) */
};

void arcarun_evidence_init(struct arcarun_evidence *e);
void arcarun_evidence_free(struct arcarun_evidence *e);

struct arcarun_provider {
    const char *name; /* "sim", "gramine", "tsm" */
    /* Produces evidence whose REPORTDATA is report_data; fills out (initialised by caller). */
    int (*evidence)(const struct arcarun_provider_opts *opts, const uint8_t report_data[64],
                    struct arcarun_evidence *out);
};

/*
 * Chooses the provider for ARCA_TEE's value tee ("sim", "gramine", "tsm", "auto"; NULL or ""
 * = "auto"). auto picks gramine if <gramine_dir>/quote exists, else tsm if tsm_dir exists,
 * and never the INSECURE simulation. *out points to static storage.
 */
int arcarun_provider_select(const char *tee, const struct arcarun_provider_opts *opts,
                            const struct arcarun_provider **out);

int arcarun_provider_sim_evidence(const struct arcarun_provider_opts *opts,
                                  const uint8_t report_data[64], struct arcarun_evidence *out);
int arcarun_provider_gramine_evidence(const struct arcarun_provider_opts *opts,
                                      const uint8_t report_data[64], struct arcarun_evidence *out);
int arcarun_provider_tsm_evidence(const struct arcarun_provider_opts *opts,
                                  const uint8_t report_data[64], struct arcarun_evidence *out);
/*
 * The configfs-tsm exchange on an already created report directory (open fd): writes inblob,
 * reads generation, provider, outblob, auxblob (optional), generation again; ARCA_ERR_CONFLICT
 * if another writer raced us. Split out so tests can drive it on a fake directory.
 */
int arcarun_tsm_request(int reqfd, const char *reqpath, const uint8_t report_data[64],
                        struct arcarun_evidence *out);

/* Reads a whole small file at dirfd/name into out (bounded by out's max). */
int arcarun_read_file_at(int dirfd, const char *dirpath, const char *name, struct arca_buf *out);

/* ---- the delivered configuration --------------------------------------------------------- */

/* The delivered configuration is the wire protocol's struct (api/attest_wire.h: argv, envp,
 * pwd, files with path / mode / content / len, every value wiped on free); these are its
 * names in arca-run (apply.c, exec.c). */
#define arcarun_config arca_launch_config
#define arcarun_file arca_launch_file

/* Limits on what arcad may send: the wire protocol's (api/attest_wire.h). */
#define ARCARUN_CONFIG_MAX_BYTES ARCA_LAUNCH_CONFIG_MAX_BYTES
#define ARCARUN_CONFIG_MAX_ARGS ARCA_LAUNCH_CONFIG_MAX_ARGS

/*
 * Parses the configuration answer of POST /v1/attest into *out (zeroed first) with the wire
 * decoder, arca_launch_config_decode (api/attest_wire.h: strict, bounded, errors name the
 * member). On failure *out is left empty. Free with arcarun_config_free (wipes every value).
 */
int arcarun_config_parse(const void *json, size_t len, struct arcarun_config *out);
void arcarun_config_free(struct arcarun_config *c);

/* ---- the protocol client ----------------------------------------------------------------- */

struct arcarun_attest_params {
    const char *cas_addr;      /* HOST:PORT of arcad's enclave API */
    const uint8_t *cas_key_id; /* 32 bytes: SHA-256 of arcad's SPKI (ARCA_CAS_KEY) */
    const char *config_id;     /* session/service[@OTP] */
    const char *access_token;  /* service access token or NULL (secret) */
    const struct arcarun_provider *provider;
    const struct arcarun_provider_opts *popts;
    char *const *host_argv; /* the launcher's own arguments for @@N (host_argv[0] = program) */
    size_t host_argc;
    char *const *host_envp;        /* the host environment for \@\@NAME (NULL-terminated) */
    long timeout_ms;               /* whole exchange; 0 = 30 s */
    struct arcarun_timing *timing; /* --timing: phases of the exchange are marked here; or NULL */
    struct arcarun_curl_loader *curl; /* libcurl (curl_load.h), waited for at the first request */
};

/*
 * Runs the enclave API exchange (DESIGN §4): fresh P-256 key pair K and self-signed certificate,
 * TLS to cas_addr pinned to cas_key_id, POST /v1/challenge, evidence with REPORTDATA =
 * arca_launch_binding(SPKI(K), nonce, config id), POST /v1/attest. On success *answer (a secret
 * buffer the caller initialised) holds the configuration JSON. On refusal the error is
 * ARCA_ERR_POLICY / ARCA_ERR_DENIED / ... with arcad's message in the detail.
 */
int arcarun_attest(const struct arcarun_attest_params *p, struct arca_buf *answer);

/*
 * POST /v1/volumes/tag: reports r (a new root tag, with the configuration's volume token) to
 * arcad at p->cas_addr over TLS pinned to p->cas_key_id. arcad's refusal (an older version,
 * another writer first, ephemeral) comes back as the error with its reason.
 */
int arcarun_report_volume(const struct arcarun_attest_params *p,
                          const struct arca_volume_report *r);

/* POST /v1/provided: uploads u (a provided_by value with the configuration's provide token) as
 * arcarun_report_volume does; arcad's refusal comes back as the error with its reason. */
int arcarun_upload_provided(const struct arcarun_attest_params *p,
                            const struct arca_provided_upload *u);

/* ---- provided_by uploads (provide.c, docs/arca-run.md "Providing a secret") ---------------- */

/* With c->provide_token: appends ARCA_CAS_ADDR, ARCA_CAS_KEY, ARCA_CONFIG_ID (no one-time
 * password) and ARCA_PROVIDE_TOKEN to c's environment (owned by c, wiped with it). */
int arcarun_provide_env(struct arcarun_config *c, const char *addr, const uint8_t key_id[32],
                        const char *config_id);
/* arca-run --provide SECRET=FILE|-: uploads the value with the credentials of the environment
 * arcarun_provide_env set. 0 or a negative arca_err with the reason in the detail. */
int arcarun_cmd_provide(const char *arg);

/* ---- applying and executing ---------------------------------------------------------------- */

/*
 * Enters a private mount namespace (as root; otherwise through a new user namespace mapping
 * our own uid/gid) and places every file of c at its path: content on a private tmpfs, each
 * bind-mounted over its exact path. A missing path is made on a tmpfs copy of the nearest
 * existing directory whose other entries are bind-mounted back, so nothing is written to disk
 * and the directory's other files stay visible. With no files nothing happens. ARCA_ERR_DENIED
 * with a clear message if no mount namespace can be had: we never fall back to disk.
 * staging_parent: where the short-lived staging mount point is made (NULL = "/tmp").
 */
int arcarun_apply_files(const struct arcarun_config *c, const char *staging_parent);

/* Enters the namespaces only (used by apply; exposed for tests). */
int arcarun_enter_mount_ns(void);

/*
 * chdir(c->pwd) and fexecve(fd, c->argv, c->envp): the fallback without a mount namespace. If
 * fd holds a script its close-on-exec flag is cleared (the interpreter reads /dev/fd/N). Only
 * returns on failure.
 */
int arcarun_exec(int fd, const struct arcarun_config *c);

/*
 * Runs the sealed copy fd (from arcarun_program_open) at its real path (absolute): in the
 * private mount namespace the copy is placed read-only over path (program.h); a binary is
 * executed through a descriptor opened at path, a script by path (its $0 is path). Without a
 * mount namespace, arcarun_exec(fd, c). Only returns on failure.
 */
int arcarun_exec_at(int fd, const char *path, const struct arcarun_config *c);

/* arcarun_exec_at that prints t's breakdown (timing.h) with its last phase "exec" right before
 * the exec itself; t may be NULL. */
int arcarun_exec_at_timed(int fd, const char *path, const struct arcarun_config *c,
                          struct arcarun_timing *t);

/*
 * Runs the program as arcarun_exec_at does, but in a child, staying its parent: the signals a
 * terminal or service manager sends (HUP, INT, QUIT, TERM, USR1, USR2, WINCH) are forwarded to
 * it, and *status is its exit status (128 + N if signal N ended it). Used when volumes keep
 * changes that must be saved after the program exits.
 */
int arcarun_run_supervised(int fd, const char *path, const struct arcarun_config *c, int *status);

/*
 * Opens the program: a name without '/' is searched in PATH. The executable regular file is
 * read once into a sealed memfd (program.h): *fd is that copy (close-on-exec), which is what
 * is measured and executed; *resolved (malloc'ed, caller frees) the absolute path it came from.
 */
int arcarun_program_open(const char *program, int *fd, char **resolved);

#endif
