/*
 * The simulation TEE - INSECURE, for development without TEE hardware (DESIGN §4).
 *
 * INSECURE: anyone with access to the host's simulation platform directory can forge
 * evidence for any measurement. arcad accepts simulated evidence only with --allow-simulation
 * and a session that says `security.attestation.mode: simulation`.
 *
 * A simulation platform lives in a directory (ARCA_SIM_DIR, default $XDG_DATA_HOME/arca-sim or
 * ~/.local/share/arca-sim; mode 0700) holding a P-256 platform key ("platform-key.pem", 0600)
 * and a 32-byte platform secret ("platform-secret", 0600), both created on first use. The
 * platform id is SHA-256 of the platform key's DER SubjectPublicKeyInfo.
 *
 * Evidence (docs/simulation-tee.md), all integers big-endian:
 *   "ARCASIM1" (8) | version u16 (= 1) | measurement (32) | report data (64) |
 *   spki_len u16 | platform key SPKI DER (spki_len) | sig_len u16 |
 *   ECDSA P-256 SHA-256 DER signature (sig_len) over every byte before sig_len.
 * Nothing may follow the signature.
 */
#ifndef ARCA_EVIDENCE_SIM_H
#define ARCA_EVIDENCE_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "evidence/claims.h"

#define ARCA_SIM_MAGIC "ARCASIM1"
#define ARCA_SIM_VERSION 1
#define ARCA_SIM_MAX_EVIDENCE 4096

struct arca_sim_platform; /* opaque; holds the key pair and the (secret) platform secret */

/*
 * INSECURE simulation TEE. Opens (creating on first use) the simulation platform in dir
 * (NULL = ARCA_SIM_DIR, else $XDG_DATA_HOME/arca-sim, else $HOME/.local/share/arca-sim).
 * Creates the directory 0700 and the files 0600; refuses (ARCA_ERR_INSECURE, naming the path)
 * an existing directory or file that group or others may access, or that another user owns.
 * *out is freed by the caller with arca_sim_platform_free.
 */
int arca_sim_platform_open(const char *dir, struct arca_sim_platform **out);
/* INSECURE simulation TEE: frees p, wiping its secret and private key. NULL is fine. */
void arca_sim_platform_free(struct arca_sim_platform *p);
/* INSECURE simulation TEE: the directory the platform lives in (borrowed from p). */
const char *arca_sim_platform_dir(const struct arca_sim_platform *p);

/* INSECURE simulation TEE: SHA-256 of the platform key's DER SPKI, the platform id. */
int arca_sim_platform_id(const struct arca_sim_platform *p, uint8_t out[32]);

/* INSECURE simulation TEE measurement: SHA-256 of every byte of the file, read with pread from offset 0 to EOF: the file offset of
 * fd is not moved, so the same fd can then be fexecve'd. fd must be a regular file. */
int arca_sim_measure_fd(int fd, uint8_t out[32]);
/* INSECURE simulation TEE: as arca_sim_measure_fd for a path (opened O_RDONLY|O_CLOEXEC). */
int arca_sim_measure_path(const char *path, uint8_t out[32]);

/* INSECURE: makes simulated evidence for measurement and report_data signed by the platform
 * key; appends it to ev (unchanged on failure). */
int arca_sim_evidence_make(const struct arca_sim_platform *p, const uint8_t measurement[32],
                           const uint8_t report_data[64], struct arca_buf *ev);

/*
 * INSECURE: verifies simulated evidence (format, exact length, signature with the embedded
 * platform key) and fills *claims: type ARCA_EVIDENCE_SIM, mrenclave = measurement,
 * report_data, platform_id = the platform key id (32 bytes), tcb_status UpToDate, debug false.
 * The platform key is self-asserted: whether a platform id is trusted is the policy's
 * decision (`platforms`). ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED for malformed input,
 * ARCA_ERR_SIGNATURE for a bad signature. *claims is untouched on failure.
 */
int arca_sim_evidence_verify(const void *ev, size_t n, struct arca_claims *claims);
/* The same, with the platform key parsed once per exact key bytes and kept in keys (borrowed,
 * crypto.h arca_key_cache; NULL: parsed each time). The result and errors are the same. */
struct arca_key_cache;
int arca_sim_evidence_verify_cached(struct arca_key_cache *keys, const void *ev, size_t n,
                                    struct arca_claims *claims);

/*
 * INSECURE: a 32-byte sealing key = HKDF-SHA-256(ikm = platform secret, salt =
 * "arca-sim-seal-v1", info = measurement || purpose). Stable for a platform, measurement and
 * purpose; used by arcad to seal its key store in simulation. out is secret: wipe it.
 */
int arca_sim_seal_key(const struct arca_sim_platform *p, const uint8_t measurement[32],
                      const char *purpose, uint8_t out[32]);

#endif
