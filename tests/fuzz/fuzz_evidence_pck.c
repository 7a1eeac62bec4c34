/* Fuzz the PCK certificate SGX extension DER parser (our own minimal DER reader). */
#include <stddef.h>
#include <stdint.h>

#include "evidence/pck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_pck_ext e;
    (void)arca_pck_ext_parse(data, size, &e);
    return 0;
}
