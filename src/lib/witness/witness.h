/*
 * Freshness witnesses (DESIGN §7, docs/state-protection.md, docs/internals/witness.md).
 *
 * The sealed store detects every change to its database and key-store except one: both put
 * back together from an older, consistent copy (and the audit log with them). A witness is a
 * monotonic counter outside the data directory that the host cannot roll back: arcad records
 * every commit number in it, and refuses to serve a state whose commit number is below the
 * witness's value.
 *
 * One interface, several kinds (each a struct arca_witness_backend):
 *  - "file:PATH"  a counter in a plain file (tests and benchmarks only: the host can roll it
 *                 back like the data directory; arcad says so when it starts);
 *  - "tpm[:TCTI]" a TPM 2.0 NV counter (tpm.c), defined on first use with an authorisation
 *                 value derived from arcad's sealing key;
 *  - "arcad://HOST:PORT" another arcad of the same measurement holds our counter (peer.c,
 *                 served by its held.c), over the attested peer channel.
 * A witness set (struct arca_witness) holds one or more of them and needs a majority: a commit
 * is witnessed once more than half of them recorded it, and the value read at start is the
 * highest value of a majority that answered, which includes the newest commit because any two
 * majorities intersect.
 *
 * Record semantics: a backend's record(E) advances a witness below E to E; a witness at E
 * answers ARCA_ERR_EXISTS and one above E ARCA_ERR_TAMPERED (detail: both numbers). For a
 * fresh commit the set treats both as a refusal: another copy of this state committed E first
 * (a fork from a copied data directory) or the state was rolled back. A witness that is down:
 * ARCA_ERR_NETWORK (or ARCA_ERR_IO), naming it.
 */
#ifndef ARCA_WITNESS_WITNESS_H
#define ARCA_WITNESS_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARCA_WITNESS_KEY_LEN 32
#define ARCA_WITNESS_MAX 9 /* witnesses in one set */

/*
 * One witness. All functions return 0 or a negative arca_err with a detail naming the
 * witness (label). read: ARCA_ERR_NOT_FOUND when the witness holds no counter for this state
 * yet (never recorded). record: see above. free: releases impl (NULL-safe).
 */
struct arca_witness_backend {
    char label[160]; /* "tpm:device:/dev/tpmrm0", "file:/x/w" (for messages; no secrets) */
    int (*read)(void *impl, uint64_t *value);
    int (*record)(void *impl, uint64_t epoch);
    void (*free)(void *impl);
    void *impl;
};

/* A set of witnesses with majority rule. Opaque; freed with arca_witness_free. */
struct arca_witness;

/*
 * Opens the witnesses named by specs[0..n) ("file:PATH", "tpm", "tpm:TCTI"). key is a secret
 * that only this arcad can derive (arcad: its sealing key for purpose "arca-witness"); the
 * TPM witness derives its NV authorisation value from it. It is copied and wiped on free.
 * Nothing is contacted yet. ARCA_ERR_INVALID_ARG names a spec that is not understood.
 * *out is freed with arca_witness_free.
 */
int arca_witness_open(const char *const *specs, size_t n, const uint8_t key[ARCA_WITNESS_KEY_LEN],
                      struct arca_witness **out);

/* What the arcad://HOST:PORT kind needs (witness/peer.c); borrowed, must outlive the set. */
struct arca_peer_self;
struct arca_witness_peers {
    const struct arca_peer_self *self; /* our side of the attested channel */
    const uint8_t *measurement;        /* 32 bytes: the peers must run this code */
};
/* arca_witness_open that also opens "arcad://HOST:PORT" over peers (NULL: that kind is
 * ARCA_ERR_UNSUPPORTED). */
int arca_witness_open_peers(const char *const *specs, size_t n,
                            const uint8_t key[ARCA_WITNESS_KEY_LEN],
                            const struct arca_witness_peers *peers, struct arca_witness **out);

/* Adds a backend the caller built (tests; the set frees it). At most ARCA_WITNESS_MAX. */
int arca_witness_add(struct arca_witness *w, const struct arca_witness_backend *b);

void arca_witness_free(struct arca_witness *w);

/* How many witnesses the set has and how many must answer (n / 2 + 1). */
size_t arca_witness_count(const struct arca_witness *w);
size_t arca_witness_quorum(const struct arca_witness *w);
/* The label of witness i ("" if out of range). */
const char *arca_witness_label(const struct arca_witness *w, size_t i);

/*
 * Records commit epoch with every witness; 0 once a majority did. ARCA_ERR_TAMPERED if any
 * witness is already at or beyond epoch (detail: which witness, its value, the epoch);
 * ARCA_ERR_NETWORK if fewer than a majority could be reached (detail: how many, and the first
 * failure). Thread-safe (one record or read at a time).
 */
int arca_witness_record(struct arca_witness *w, uint64_t epoch);

/*
 * The start-up (and periodic) check of a state at commit state against the witnesses.
 *  - a majority must answer (else ARCA_ERR_NETWORK);
 *  - if the highest value a witness holds is above state: ARCA_ERR_TAMPERED, "state rolled
 *    back: witness W is at commit N but the state is at commit S";
 *  - witnesses that hold nothing yet are fine only while allow_fresh is true (the state has
 *    never been witnessed by this set); otherwise ARCA_ERR_TAMPERED "witness lost";
 *  - if the highest value is below state (a crash between a commit and its witness, or a
 *    fresh witness), the witnesses are advanced to state.
 * *value (may be NULL) gets the highest value read (0 if none held one).
 */
int arca_witness_check(struct arca_witness *w, uint64_t state, bool allow_fresh, uint64_t *value);

/* ---- kinds (each file one kind) --------------------------------------------------------- */

/* file:PATH. The file holds "arca-witness-file v1 VALUE\n"; record rewrites it atomically. */
int arca_witness_file_new(const char *path, struct arca_witness_backend *out);

/* tpm[:TCTI]: TCTI is a tpm2-tss TCTI string ("device:/dev/tpmrm0", the default, or
 * "swtpm:host=127.0.0.1,port=2321"); a bare path "/dev/X" means "device:/dev/X". */
int arca_witness_tpm_new(const char *tcti, const uint8_t key[ARCA_WITNESS_KEY_LEN],
                         struct arca_witness_backend *out);

/* arcad://HOST:PORT: another arcad holds our counter (peer.c), over the attested channel of
 * self (borrowed: must outlive the backend); the peer must run measurement. */
#define ARCA_WITNESS_PEER_ROUTE "/v1/peer/witness"
int arca_witness_peer_new(const char *addr, const struct arca_peer_self *self,
                          const uint8_t measurement[32], struct arca_witness_backend *out);

/* ---- the serving side of the peer witness (held.c) ---------------------------------------- */

/*
 * The counters this arcad holds for other arcads, one per caller CAS key (SHA-256 of its TLS
 * key's SPKI), in a sealed file at path (AEAD under key, which only this arcad derives). A
 * missing file holds nothing; one that does not open is ARCA_ERR_TAMPERED. Thread-safe.
 * *out is freed with arca_witness_held_free (which wipes the key).
 */
struct arca_witness_held;
int arca_witness_held_open(const char *path, const uint8_t key[ARCA_WITNESS_KEY_LEN],
                           struct arca_witness_held **out);
void arca_witness_held_free(struct arca_witness_held *h);
/* The caller's counter; ARCA_ERR_NOT_FOUND if none is held. */
int arca_witness_held_read(struct arca_witness_held *h, const uint8_t caller[32], uint64_t *value);
/*
 * Advances the caller's counter to epoch, durably before it returns 0. At epoch already:
 * ARCA_ERR_EXISTS; above it: ARCA_ERR_TAMPERED naming both numbers (a lower value is never
 * stored). *held (may be NULL) gets the counter after the call.
 */
int arca_witness_held_record(struct arca_witness_held *h, const uint8_t caller[32], uint64_t epoch,
                             uint64_t *held);

#endif
