/*
 * Fuzzes the store's record decoder (store/record.h): whatever it accepts must re-encode to
 * exactly the same bytes (the encoding is canonical), and nothing may crash or over-read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_store_record r;
    if (arca_store_record_decode(data, size, &r) != 0)
        return 0;
    struct arca_buf b;
    arca_buf_init(&b, 0);
    if (arca_store_record_encode(&r, &b) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    arca_buf_free(&b);
    return 0;
}
