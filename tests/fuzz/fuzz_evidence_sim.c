/*
 * Fuzzes the INSECURE simulation TEE evidence parser and verifier (arca_sim_evidence_verify).
 */
#include <stddef.h>
#include <stdint.h>

#include "evidence/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_claims cl;
    (void)arca_sim_evidence_verify(data, size, &cl);
    return 0;
}
