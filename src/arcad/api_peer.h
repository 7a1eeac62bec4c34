/*
 * arcad's side of the attested arcad-to-arcad channel (src/lib/peer/, docs/internals/peer.md):
 * POST /v1/peer/hello and POST /v1/peer/export on the enclave listener, and the importer the
 * attestation pipeline fetches remote imports with (ctx->remote_import).
 */
#ifndef ARCAD_API_PEER_H
#define ARCAD_API_PEER_H

#include <stdbool.h>

#include "server.h"

/*
 * Makes the peer state (our side of the channel, the nonces of callers' evidence) and sets
 * ctx->peer_state, ctx->peer_state_free and ctx->remote_import. Needs ctx->id, ctx->sim,
 * ctx->measurement and the verification sources, not the store: main.c calls it before the
 * store opens so that arcad:// witnesses can use the channel (arcad_peer_self). Again: no-op.
 */
int arcad_peer_new(struct arcad_ctx *ctx);
/* Our side of the channel (borrowed from ctx->peer_state; NULL before arcad_peer_new). */
struct arca_peer_self;
const struct arca_peer_self *arcad_peer_self(const struct arcad_ctx *ctx);
/*
 * Registers only POST /v1/peer/hello and POST /v1/peer/witness (if ctx->witness_held) on r:
 * the start-up server that answers peers while this arcad waits for its own witnesses. Refusals
 * are logged, not audited, while ctx->audit is NULL.
 */
int arcad_peer_register_witness(struct arcad_router *r, struct arcad_ctx *ctx);
/*
 * Registers the peer routes on r (the enclave router) and sets ctx->peer_state,
 * ctx->peer_state_free and ctx->remote_import (arcad_peer_new if not done yet); call before enclave_api_register, which hands
 * ctx->remote_import to the pipeline. The remote-import cache lifetime is
 * $ARCA_IMPORT_CACHE_TTL seconds (default 30, 0 disables it; docs/arcad.md).
 */
int arcad_peer_register(struct arcad_router *r, struct arcad_ctx *ctx);

/*
 * The start-up server (main.c's start order): while this arcad waits for its own witnesses, a
 * thread serves POST /v1/peer/hello and /v1/peer/witness on the enclave listener (so arcads
 * that witness one another can start together) and 503 "arcad is starting" on every other
 * route of both listeners. It prints no "arcad ready". ctx's identity, TLS contexts, limits,
 * witness_held and peer state (arcad_peer_new first) are borrowed and must not change until
 * arcad_peer_early_stop returned (ctx->store and ctx->audit may: the start-up server has its
 * own ctx without them). The caller blocks SIGTERM and SIGINT
 * before the start, so that only this server's signal wait takes them.
 */
struct arcad_peer_early;
int arcad_peer_early_start(struct arcad_ctx *ctx, struct arcad_peer_early **out);
/* Whether the server ended on its own (a signal or a failure; *why says which). */
bool arcad_peer_early_done(struct arcad_peer_early *e, const char **why);
/* Stops the server (if running), waits for it and frees e. NULL is fine. */
void arcad_peer_early_stop(struct arcad_peer_early *e);

#endif
