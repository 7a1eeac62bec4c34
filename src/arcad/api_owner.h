/* The owner API of arcad (api_owner.c, docs/api.md "Owner"). */
#ifndef ARCAD_API_OWNER_H
#define ARCAD_API_OWNER_H

#include "server.h"

/* Registers the /v1/owner routes on r; their handlers use ctx->owner (NULL: 503). */
int arcad_owner_api_register(struct arcad_router *r, struct arcad_ctx *ctx);

#endif
