/*
 * Fuzz target for the CLI's side of the client API: strict JSON parsing of a CAS answer and
 * every decoder of src/lib/api/client_api.h over it (and re-encoding what decoded), plus the
 * error-body reader. Input: the answer body.
 */
#include <stdint.h>
#include <stdlib.h>

#include "api/client_api.h"
#include "api/json.h"

static void versions(const json_t *j)
{
    static const enum arca_api_version_form forms[] = {
        ARCA_API_VERSION_UPLOADED, ARCA_API_VERSION_LISTED, ARCA_API_VERSION_HISTORY,
        ARCA_API_VERSION_READ};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct arca_api_version v;
        if (arca_api_version_from_json(j, forms[i], &v) == 0)
            json_decref(arca_api_version_to_json(&v, forms[i]));
        arca_api_version_clear(&v);
    }
    struct arca_api_versions l;
    if (arca_api_list_from_json(j, &l) == 0)
        json_decref(arca_api_list_to_json(&l));
    arca_api_versions_clear(&l);
    if (arca_api_history_from_json(j, &l) == 0)
        json_decref(arca_api_history_to_json(&l));
    arca_api_versions_clear(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    if (arca_json_parse_object(data, size, "answer", &j) < 0)
        return 0;
    versions(j);
    struct arca_api_cas_version cv;
    if (arca_api_cas_version_from_json(j, &cv) == 0)
        json_decref(arca_api_cas_version_to_json(&cv));
    struct arca_api_cas_evidence e;
    arca_api_cas_evidence_init(&e);
    if (arca_api_cas_evidence_from_json(j, &e) == 0)
        json_decref(arca_api_cas_evidence_to_json(&e));
    arca_api_cas_evidence_clear(&e);
    struct arca_api_status st;
    if (arca_api_status_from_json(j, &st) == 0)
        json_decref(arca_api_status_to_json(&st));
    struct arca_buf msg;
    arca_buf_init(&msg, 1 << 16);
    arca_api_error_join(j, &msg);
    arca_buf_free(&msg);
    json_decref(j);
    return 0;
}
