/*
 * What arcad does on the signals an operator sends besides SIGHUP's flag reload (main.c):
 * SIGUSR1 rotates the audit log (`arca audit rotate`, docs/operations.md); SIGHUP reloads the
 * collateral (--collateral) besides the flags.
 */
#ifndef ARCAD_RELOAD_H
#define ARCAD_RELOAD_H

#include "server.h"

struct arcad_reload;
struct arca_dcap_collateral;

/* A new reloader for ctx (ctx->reloader); the collateral main loaded stays owned by ctx. */
int arcad_reload_new(struct arcad_reload **out);
/* Frees the reloader and every collateral a reload replaced (after the workers stopped). */
void arcad_reload_free(struct arcad_reload *r);
/* Registers a pointer that must follow ctx->collateral on reload (the API states' copies in
 * their evidence sources). r NULL (unit tests): nothing to do. At most 8 slots. */
void arcad_collateral_track(struct arcad_reload *r, const struct arca_dcap_collateral **slot);
/*
 * SIGHUP: loads the collateral of path (NULL: none) afresh and, when it loads, publishes it to
 * ctx->collateral and every tracked slot (atomic pointer stores; the one it replaces is kept
 * until arcad_reload_free, as requests in flight may still read it). Logs what changed; a path
 * that does not load keeps the previous collateral and logs the error naming the path.
 */
void arcad_collateral_reload(struct arcad_ctx *ctx, const char *path);

/* SIGUSR1: rotates ctx->audit (audit.h arca_audit_rotate) and logs the archived file's name,
 * or why it could not (the log then goes on in the old file). */
void arcad_audit_rotate(struct arcad_ctx *ctx);

#endif
