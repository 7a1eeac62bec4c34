/* Fuzz collateral loading: combined JSON, PCS responses, TCB Info / QE Identity documents, the
 * raw-member scanner (which must agree with jansson whenever both accept), and CRL sniffing. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "evidence/collateral.h"
#include "evidence/signed_json.h"
#include "evidence/tcb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_dcap_collateral c;
    struct arca_tcb_info *t = NULL;
    struct arca_qe_identity *q = NULL;
    const char *start;
    size_t len;

    arca_dcap_collateral_init(&c);
    (void)arca_dcap_collateral_load_bytes(&c, data, size, "fuzz");
    arca_dcap_collateral_free(&c);
    if (arca_json_raw_member((const char *)data, size, "tcbInfo", &start, &len) == 0 &&
        (start < (const char *)data || start + len > (const char *)data + size))
        __builtin_trap();
    json_t *root = NULL;
    if (arca_json_load_object((const char *)data, size, "fuzz", &root) == 0) {
        json_t *want = json_object_get(root, "tcbInfo");
        if (arca_json_raw_member((const char *)data, size, "tcbInfo", &start, &len) == 0) {
            /* The span the signature covers is the member jansson sees. */
            json_t *got = json_loadb(start, len, JSON_DECODE_ANY, NULL);
            if (want == NULL || got == NULL || !json_equal(want, got))
                __builtin_trap();
            json_decref(got);
        }
        json_decref(root);
    }
    if (arca_tcb_info_parse((const char *)data, size, &t) == 0) {
        static const uint8_t svn[16];
        (void)arca_tcb_level_select(t, svn, 0, svn);
    }
    arca_tcb_info_free(t);
    if (arca_qe_identity_parse((const char *)data, size, &q) == 0)
        (void)arca_isv_level_select(q->levels, q->nlevels, 0);
    arca_qe_identity_free(q);
    return 0;
}
