/*
 * What arcad does on the signals an operator sends besides SIGHUP's flag reload (main.c):
 * SIGUSR1 rotates the audit log (`arca audit rotate`, docs/operations.md); SIGHUP reloads the
 * collateral sources (--collateral, --pcs-url, --kds-url, --snp-certs) besides the flags.
 */
#ifndef ARCAD_RELOAD_H
#define ARCAD_RELOAD_H

#include <stdbool.h>

#include "server.h"

struct arcad_reload;
struct arca_evidence_sources;

/* A new reloader for ctx (ctx->reloader); the collateral main loaded stays owned by ctx. */
int arcad_reload_new(struct arcad_reload **out);
/* Frees the reloader, every collateral and source set a reload replaced or published (after
 * the workers stopped). */
void arcad_reload_free(struct arcad_reload *r);
/*
 * Registers an API state's evidence sources, which a reload changes under the reloader's lock
 * (set as src->swap_lock: verifications copy their sources under it): the collateral and the
 * SEV-SNP certificates, and with fetch also the PCS and KDS URLs. r NULL (unit tests): nothing
 * to do. At most 8. src must outlive r's last reload.
 */
void arcad_sources_track(struct arcad_reload *r, struct arca_evidence_sources *src, bool fetch);

/* The operator's collateral sources after a SIGHUP (flags and --config; NULL = none). */
struct arcad_sources {
    const char *collateral, *pcs_url, *kds_url, *snp_certs;
};
/*
 * SIGHUP: applies op to the tracked sources. --collateral is loaded afresh (the collateral it
 * replaces is kept until arcad_reload_free). The PCS / KDS URLs of the owner configuration
 * stored now win over op's (as at start); an operator's URL that is not http(s):// or an SNP
 * path that does not exist keeps the previous value. Logs every change and every value not
 * applied, with the reason; verifications in flight keep the sources they started with.
 */
void arcad_sources_reload(struct arcad_ctx *ctx, const struct arcad_sources *op);

/* SIGUSR1: rotates ctx->audit (audit.h arca_audit_rotate) and logs the archived file's name,
 * or why it could not (the log then goes on in the old file). */
void arcad_audit_rotate(struct arcad_ctx *ctx);

#endif
