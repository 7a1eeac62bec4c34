/* Fuzzes the owner configuration parser: any input either parses or is refused with at least one
 * located error and a zeroed output. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "owner/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct arca_owner_config zero;
    struct arca_owner_config c;
    struct arca_diag diag;
    arca_diag_init(&diag);
    int rc = arca_owner_config_parse((const char *)data, size, "fuzz.yaml", &c, &diag);
    if (rc < 0 && (diag.n == 0 || memcmp(&c, &zero, sizeof(c)) != 0))
        abort();
    if (rc == 0 &&
        (c.n_upgrades > ARCA_OWNER_MAX_SUCCESSORS || c.n_backups > ARCA_OWNER_MAX_SUCCESSORS ||
         c.n_witnesses > ARCA_OWNER_MAX_WITNESSES || c.board_require > c.n_board ||
         c.n_board > ARCA_OWNER_MAX_BOARD || (c.n_board > 0) != (c.board_require > 0)))
        abort();
    struct arca_buf out;
    arca_buf_init(&out, 0);
    (void)arca_diag_format(&diag, &out);
    arca_buf_free(&out);
    arca_diag_free(&diag);
    return 0;
}
