/*
 * arcad's side of the attested arcad-to-arcad channel (src/lib/peer/, docs/internals/peer.md):
 * POST /v1/peer/hello and POST /v1/peer/export on the enclave listener, and the importer the
 * attestation pipeline fetches remote imports with (ctx->remote_import).
 */
#ifndef ARCAD_API_PEER_H
#define ARCAD_API_PEER_H

#include "server.h"

/*
 * Registers the peer routes on r (the enclave router) and sets ctx->peer_state,
 * ctx->peer_state_free and ctx->remote_import; call before enclave_api_register, which hands
 * ctx->remote_import to the pipeline. The remote-import cache lifetime is
 * $ARCA_IMPORT_CACHE_TTL seconds (default 30, 0 disables it; docs/arcad.md).
 */
int arcad_peer_register(struct arcad_router *r, struct arcad_ctx *ctx);

#endif
