/*
 * arca-run's parser of the configuration answer: arcad is authenticated, but a parser that
 * crashes or leaks on odd input is still a bug (and a confused or compromised CAS is in scope).
 */
#include <stddef.h>
#include <stdint.h>

#include "arcarun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arcarun_config c;
    if (arcarun_config_parse(data, size, &c) == 0)
        arcarun_config_free(&c);
    return 0;
}
