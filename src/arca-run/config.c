/*
 * The configuration answer of POST /v1/attest. It comes from arcad over a pinned TLS
 * connection, but arca-run still treats it as untrusted input: the wire decoder
 * (api/attest_wire.h, arca_launch_config_decode) is strict and bounded, and keeps every value
 * in memory wiped on free.
 */
#include "arcarun.h"

#include "api/attest_wire.h"

int arcarun_config_parse(const void *json, size_t len, struct arcarun_config *out)
{
    return arca_launch_config_decode(json, len, out);
}

void arcarun_config_free(struct arcarun_config *c)
{
    arca_launch_config_free(c);
}
