/* Fuzz the Intel DCAP quote parser (SGX v3/v4, TDX v4/v5) and claims extraction. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "evidence/claims.h"
#include "evidence/dcap_quote.h"
#include "evidence/dcap_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_dcap_quote q;
    struct arca_claims c;
    if (arca_dcap_quote_parse(data, size, &q) != 0)
        return 0;
    /* Every borrowed region must lie inside the input. */
    const uint8_t *end = data + size;
    if (q.quote_len > size || q.signed_len > q.quote_len || q.cert_data + q.cert_len > end ||
        q.qe_auth_data + q.qe_auth_len > end || q.qe_report_raw + ARCA_SGX_REPORT_LEN > end)
        __builtin_trap();
    memset(&c, 0, sizeof c);
    arca_dcap_quote_claims(&q, &c);
    return 0;
}
