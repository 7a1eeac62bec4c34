/* The owner API of arcad (api_owner.c, docs/api.md "Owner"). */
#ifndef ARCAD_API_OWNER_H
#define ARCAD_API_OWNER_H

#include <stdbool.h>

#include "owner/slot.h"
#include "server.h"

/* Registers the /v1/owner routes on r; their handlers use ctx->owner (NULL: 503). */
int arcad_owner_api_register(struct arcad_router *r, struct arcad_ctx *ctx);

/*
 * Start-up on a backup machine (owner/backup.h): if data_dir holds backup-machine/identity/,
 * loads that identity with own (this platform's sealer), and unwraps the backup slot of its CAS
 * key into *keys (secret: the caller wipes it) and sets *adopted. Without that directory:
 * 0, *adopted false. No slot for this machine: ARCA_ERR_DENIED saying what the owner must do;
 * nothing is written either way.
 */
int arcad_owner_adopt_backup(const char *data_dir, const struct arca_store_sealer *own,
                             struct arca_seal_keys *keys, bool *adopted);

/*
 * Applies the stored owner configuration oc at start (docs/operator-lifecycle.md "What arcad
 * does with the owner configuration"): audit checkpoint-every into *checkpoint_every (unless
 * witnesses force 1) and collateral pcs-url/kds-url into ctx->cfg (they point into oc: keep it
 * alive as long as ctx). Required witnesses are the owner module's (arca_owner_unmet).
 */
struct arca_owner_config;
int arcad_owner_settings(struct arcad_ctx *ctx, const struct arca_owner_config *oc,
                         unsigned *checkpoint_every);

/*
 * The write gate (router.c, before a handler runs): while the owner configuration requires what
 * arcad runs without (arca_owner_unmet), answers a request that could change state with 503 and
 * that sentence and returns true. GET/HEAD, the owner routes (so that the owner can drop the
 * requirement), the peer routes and the enclave challenge pass (false, nothing answered).
 */
bool arcad_owner_gate(struct arcad_request *req, const char *method, const char *route);

#endif
