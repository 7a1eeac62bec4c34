/*
 * The enclave API (DESIGN §4: challenge, attest, configuration delivery), served on arcad's
 * second listener (--enclave-listen). Implemented by src/arcad/enclave_api.c.
 */
#ifndef ARCAD_ENCLAVE_API_H
#define ARCAD_ENCLAVE_API_H

#include "server.h"

/*
 * Registers the enclave API's routes on r (the enclave listener's router) before the workers
 * start. May set ctx->enclave_state (and ctx->enclave_state_free, called once at shutdown after
 * the workers stopped). Returns 0 or a negative arca_err.
 */
int enclave_api_register(struct arcad_router *r, struct arcad_ctx *ctx);

/* Registers POST /v1/volumes/tag (api_volume.c) on the enclave router. */
int arcad_volume_api_register(struct arcad_router *r, struct arcad_ctx *ctx);
/* Registers POST /v1/provided (api_provided.c) on the enclave router. */
int arcad_provided_api_register(struct arcad_router *r, struct arcad_ctx *ctx);

#endif
