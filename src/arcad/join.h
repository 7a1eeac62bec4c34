/*
 * arcad --join HOST:PORT (docs/high-availability.md): the first start of a new member of a
 * shared (PostgreSQL) store. Its side of the exchange; the member's is api_peer.c's
 * POST /v1/peer/join, the messages src/lib/peer/join.h.
 */
#ifndef ARCAD_JOIN_H
#define ARCAD_JOIN_H

struct arcad_ctx;
struct arca_store_options;

/*
 * Before the store opens, with ctx's identity and peer state ready (arcad_peer_new):
 *  - a data dir with a key-store is a member already: --join is ignored with a notice (the
 *    store's own open then refuses a key-store of another store, by name);
 *  - otherwise: attests to member over the peer channel (any attested member: what it hands
 *    over must open sopt's store, which is the check that matters), asks for the store's key,
 *    seals it in a new key-store at sopt->keystore_path and opens the store once to check it,
 *    and tells the member the outcome (its audit log records both).
 * On failure no key-store is left behind (the next start tries again) and the detail names
 * why: member unreachable, evidence invalid, the member's refusal (measurement not admitted),
 * or store key mismatch. Nothing secret in any detail or log line.
 */
int arcad_join(struct arcad_ctx *ctx, const char *member, const struct arca_store_options *sopt);

#endif
