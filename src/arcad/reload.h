/*
 * What arcad does on the signals an operator sends besides SIGHUP's flag reload (main.c):
 * SIGUSR1 rotates the audit log (`arca audit rotate`, docs/operations.md).
 */
#ifndef ARCAD_RELOAD_H
#define ARCAD_RELOAD_H

#include "server.h"

/* SIGUSR1: rotates ctx->audit (audit.h arca_audit_rotate) and logs the archived file's name,
 * or why it could not (the log then goes on in the old file). */
void arcad_audit_rotate(struct arcad_ctx *ctx);

#endif
