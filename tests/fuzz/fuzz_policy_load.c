/*
 * Fuzzes the session loader (YAML tree, fragment substitution, typed model, validation) and,
 * for inputs that load, the canonical hash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "policy/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    int rc = arca_session_load((const char *)data, size, "fuzz.yaml", &s, &diag);
    if (rc == 0) {
        uint8_t h[32];
        if (arca_session_hash(s, NULL, h) != 0)
            abort();
        arca_session_free(s);
    } else if (s != NULL) {
        abort(); /* no partial output on failure */
    }
    struct arca_buf out;
    arca_buf_init(&out, 0);
    (void)arca_diag_format(&diag, &out);
    arca_buf_free(&out);
    arca_diag_free(&diag);
    return 0;
}
