/* Fuzzes the join messages (peer/join.h): the member's parse of a request body and the
 * joiner's open of a member's answer. Any input is parsed or refused with a zeroed output; a
 * reason that parses is printable; a box opens only if made for the fixed key and id. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "peer/join.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct arca_key *key;
    if (key == NULL) {
        uint8_t raw[32];
        memset(raw, 7, sizeof(raw));
        if (arca_x25519_from_private(raw, &key) < 0)
            abort();
    }
    json_t *j = NULL;
    if (arca_json_parse_object(data, size, "fuzz", &j) < 0)
        return 0;
    struct arca_peer_join_req q;
    int rc = arca_peer_join_req_parse(j, &q);
    if (rc < 0 && !all_zero(&q, sizeof(q)))
        abort();
    if (rc == 0) {
        if (q.op != ARCA_PEER_JOIN_KEY && q.op != ARCA_PEER_JOIN_RESULT)
            abort();
        for (const char *c = q.reason; *c != '\0'; c++)
            if (*c < 0x20 || *c >= 0x7f)
                abort();
    }
    uint8_t me[32];
    memset(me, 0xaa, sizeof(me));
    struct arca_store_share sh;
    rc = arca_peer_join_open(j, key, me, &sh);
    if (rc < 0 && !all_zero(&sh, sizeof(sh)))
        abort();
    arca_wipe(&sh, sizeof(sh));
    json_decref(j);
    return 0;
}
