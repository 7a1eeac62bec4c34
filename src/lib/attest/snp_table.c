/*
 * The SEV-SNP extended-report certificate table a launcher sends as "aux" (verify.h).
 */
#include <stdbool.h>
#include <string.h>

#include "attest/verify.h"
#include "base/buf.h"
#include "base/err.h"
#include "evidence/snp.h"

/* GUIDs of the extended-report certificate table, in their textual (big-endian) order. */
static const struct {
    const char *name;
    uint8_t guid[16];
    bool key;
} snp_guids[] = {
    {"VCEK",
     {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac,
      0xcd},
     true},
    {"VLEK",
     {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8,
      0xa1},
     true},
    {"ASK",
     {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7,
      0x82},
     false},
    {"ARK",
     {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0,
      0xae},
     false},
};

/* A GUID as stored (little-endian first three fields, as UEFI does) or in textual order. */
static int snp_guid_index(const uint8_t g[16])
{
    for (size_t i = 0; i < sizeof(snp_guids) / sizeof(snp_guids[0]); i++) {
        const uint8_t *t = snp_guids[i].guid;
        uint8_t le[16] = {t[3], t[2], t[1], t[0], t[5], t[4], t[7], t[6]};
        memcpy(le + 8, t + 8, 8);
        if (memcmp(g, t, 16) == 0 || memcmp(g, le, 16) == 0)
            return (int)i;
    }
    return -1;
}

int arca_attest_snp_table_load(const void *aux, size_t n, struct arca_snp_certs *certs)
{
    ARCA_ENSURE_REF(certs);
    struct arca_cur c;
    arca_cur_init(&c, aux, n);
    for (unsigned entry = 0;; entry++) {
        ARCA_ENSURE(entry < 64, ARCA_ERR_FORMAT, "snp certificate table: more than 64 entries");
        const uint8_t *guid;
        uint32_t off = 0, len = 0;
        if (arca_cur_get_ptr(&c, &guid, 16) < 0 || arca_cur_get_u32le(&c, &off) < 0 ||
            arca_cur_get_u32le(&c, &len) < 0)
            ARCA_BAIL(ARCA_ERR_TRUNCATED, "snp certificate table: entry %u truncated", entry);
        static const uint8_t zero[16];
        if (memcmp(guid, zero, 16) == 0 && off == 0 && len == 0)
            return 0;
        ARCA_ENSURE(off <= n && len <= n - off && len > 0, ARCA_ERR_FORMAT,
                    "snp certificate table: entry %u points outside the table", entry);
        int which = snp_guid_index(guid);
        if (which < 0)
            continue; /* other certificates (e.g. CRLs) are not needed */
        const uint8_t *der = (const uint8_t *)aux + off;
        int rc = snp_guids[which].key ? arca_snp_certs_load_key(certs, der, len)
                                      : arca_snp_certs_load_chain(certs, der, len);
        if (rc < 0)
            return arca_err_wrap(rc, "snp certificate table: %s", snp_guids[which].name);
    }
}
