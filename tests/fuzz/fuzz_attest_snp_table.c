/*
 * The SEV-SNP certificate table a launcher sends with its report (configfs-tsm auxblob) is
 * untrusted input parsed by arcad before anything is verified.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest/verify.h"
#include "evidence/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_snp_certs certs;
    memset(&certs, 0, sizeof(certs));
    (void)arca_attest_snp_table_load(data, size, &certs);
    arca_snp_certs_clear(&certs);
    return 0;
}
