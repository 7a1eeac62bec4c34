/*
 * Fuzzes the audit log parser: the input as one line (arca_audit_line_parse) and as a whole
 * log (arca_audit_verify_buf, key taken from the log). Neither may crash; a parsed line's
 * content must lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *content = NULL;
    size_t clen = 0;
    uint64_t seq = 0;
    struct arca_buf sig;
    arca_buf_init(&sig, ARCA_STORE_SIG_MAX);
    size_t line = size;
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl != NULL)
        line = (size_t)(nl - data);
    if (arca_audit_line_parse((const char *)data, line, &content, &clen, &seq, &sig, NULL) == 0) {
        if (content != (const char *)data || clen >= line || seq == 0 || sig.len == 0)
            abort();
    }
    arca_buf_free(&sig);
    struct arca_audit_verify_opts vo = {0};
    struct arca_audit_verify_result res;
    if (arca_audit_verify_buf(data, size, &vo, &res) == 0 && res.ok && res.lines == 0)
        abort();
    return 0;
}
