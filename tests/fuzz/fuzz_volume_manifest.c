/*
 * Fuzzes the volume manifest parser (volume/manifest.h), which reads volume.fspf from untrusted
 * storage: whatever it accepts must re-encode to exactly the same bytes (the encoding is
 * canonical), must authenticate or be refused cleanly, and nothing may crash or over-read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "volume/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_volume_manifest *m = NULL;
    if (arca_volume_manifest_parse(data, size, &m) != 0)
        return 0;
    struct arca_buf b;
    arca_buf_init(&b, 0);
    if (arca_volume_manifest_encode(m, &b) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    static const uint8_t key[32] = {0};
    int rc = arca_volume_manifest_authenticate(m, key);
    if (rc != 0 && rc != ARCA_ERR_SIGNATURE && rc != ARCA_ERR_TAMPERED)
        abort();
    for (size_t i = 0; i < m->count; i++)
        if (arca_volume_manifest_find(m, m->entries[i].path, m->entries[i].path_len) !=
            &m->entries[i])
            abort();
    arca_buf_free(&b);
    arca_volume_manifest_free(m);
    return 0;
}
