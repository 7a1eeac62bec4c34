/*
 * Fuzzes the SEV-SNP report parser, the certificate loaders and the verifier.
 * The first input byte selects the entry point:
 *   0: arca_snp_report_load + arca_snp_report_parse on the rest (raw or hex report);
 *   1: arca_snp_certs_load_chain on the rest, then chain verification and product lookup;
 *   2: the rest is a 1184-byte report followed by a VCEK/VLEK certificate (DER or PEM):
 *      arca_snp_verify at a fixed time with the embedded AMD roots.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "evidence/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    /* 2024-06-01T00:00:00Z: inside every vector's validity window except the VLEK's. */
    const int64_t now = 1717200000;
    switch (mode % 3) {
    case 0: {
        struct arca_buf raw;
        struct arca_snp_report r;
        arca_buf_init(&raw, 1 << 16);
        if (arca_snp_report_load(data, size, &raw) == 0)
            (void)arca_snp_report_parse(raw.data, raw.len, &r);
        (void)arca_snp_report_parse(data, size, &r);
        arca_buf_free(&raw);
        break;
    }
    case 1: {
        struct arca_snp_certs c;
        memset(&c, 0, sizeof(c));
        if (arca_snp_certs_load_chain(&c, data, size) == 0) {
            enum arca_snp_product p;
            (void)arca_snp_chain_verify(&c, now, &p);
            (void)arca_snp_certs_product(&c);
        }
        arca_snp_certs_clear(&c);
        break;
    }
    default: {
        if (size < ARCA_SNP_REPORT_LEN)
            return 0;
        struct arca_snp_certs c;
        struct arca_claims cl;
        memset(&c, 0, sizeof(c));
        if (arca_snp_certs_load_key(&c, data + ARCA_SNP_REPORT_LEN, size - ARCA_SNP_REPORT_LEN) ==
            0)
            (void)arca_snp_verify(data, ARCA_SNP_REPORT_LEN, &c, now, &cl);
        arca_snp_certs_clear(&c);
        break;
    }
    }
    return 0;
}
