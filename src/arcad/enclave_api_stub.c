/*
 * Default enclave API until src/arcad/enclave_api.c exists: registers nothing, so the enclave
 * listener answers 404 to everything. The definition is weak and compiled only when
 * enclave_api.c is absent, so the real one always wins (even in a stale incremental build).
 */
#include "enclave_api.h"

#if !__has_include("enclave_api.c")
__attribute__((weak)) int enclave_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    (void)r;
    (void)ctx;
    return 0;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int arcad_enclave_api_stub_unused;
#endif
