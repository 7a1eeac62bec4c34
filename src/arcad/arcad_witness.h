/*
 * arcad's freshness witnesses (docs/state-protection.md, docs/internals/witness.md): the glue
 * between the witness set (witness/witness.h), the sealed store's hook and the audit log.
 *
 * Life cycle (main.c): arcad_witness_new before the store opens; the store's hook
 * (arcad_witness_hook) checks the state against the witnesses at open and records every commit;
 * arcad_witness_start once the audit log is open (marks the state as witnessed on its first
 * start and runs the periodic check); arcad_witness_free at exit.
 */
#ifndef ARCAD_WITNESS_H
#define ARCAD_WITNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "audit/audit.h"
#include "store/store.h"

struct arcad_witness;

/* Opens the witnesses of specs[0..n) (--witness values). Their key comes from sealer (purpose
 * "arca-witness"), so only this arcad build on this platform can use them, and from cas_key
 * (the CAS key hash), so each CAS identity (data directory) has its own counters: a new data
 * directory is a new CAS, not a rollback of the old one. *out freed with arcad_witness_free.
 * ARCA_ERR_INVALID_ARG names a bad spec. peers (borrowed, may be NULL: arcad:// refused) is
 * the channel arcad://HOST:PORT witnesses are called over. */
struct arca_witness_peers;
int arcad_witness_new(const char *const *specs, size_t n, const struct arca_store_sealer *sealer,
                      const uint8_t cas_key[32], const struct arca_witness_peers *peers,
                      struct arcad_witness **out);

/* Whether one of the witnesses is another arcad (arcad://): then arcad must answer its peers
 * while it waits for its own witnesses (main.c's start order). */
bool arcad_witness_has_peers(const struct arcad_witness *aw);

/* Whether the store's last open failed only because too few witnesses answered (worth a retry),
 * not because they refused the state. */
bool arcad_witness_waiting(const struct arcad_witness *aw);
/* Why the last open-time check failed ("" if it did not). */
const char *arcad_witness_why(const struct arcad_witness *aw);

/* The hook to pass in struct arca_store_options (borrowed from aw). */
const struct arca_store_hook *arcad_witness_hook(struct arcad_witness *aw);

/* Whether the store's open failed because of the witnesses (then *why holds the reason). */
bool arcad_witness_refused(const struct arcad_witness *aw, const char **why);

/*
 * After the store and the audit log are open: records that this state is witnessed (first start
 * with witnesses: one store write) and starts the periodic check every interval_s seconds,
 * which stops serving (SIGTERM to arcad itself, with an audit event) if the witnesses are ahead
 * of the state. store and audit are borrowed and must outlive aw.
 */
int arcad_witness_start(struct arcad_witness *aw, struct arca_store *store,
                        struct arca_audit *audit, unsigned interval_s);

/* Stops the periodic check (before the audit log and the store close). NULL is fine. */
void arcad_witness_stop(struct arcad_witness *aw);

/* Stops the periodic check and closes the witnesses (after the store closed). NULL is fine. */
void arcad_witness_free(struct arcad_witness *aw);

/* The counters this arcad holds for peers that name it as their witness (arcad://), in
 * DATA_DIR/witness-peers sealed with the sealer's key "arca-witness-held". *out is freed with
 * arca_witness_held_free. */
struct arca_witness_held;
int arcad_witness_held_open(const char *data_dir, const struct arca_store_sealer *sealer,
                            struct arca_witness_held **out);

#endif
