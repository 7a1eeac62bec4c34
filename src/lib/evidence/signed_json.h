/*
 * Strict JSON for signed and untrusted documents (Intel's TCB Info and QE Identity, PCS answers,
 * the combined collateral JSON). Two readers look at the same bytes: jansson parses the fields,
 * and a raw-member scanner finds the exact bytes that Intel signed. Both refuse duplicate member
 * names, so they can never disagree about which copy of a member is meant.
 */
#ifndef ARCA_EVIDENCE_SIGNED_JSON_H
#define ARCA_EVIDENCE_SIGNED_JSON_H

#include <stddef.h>

struct json_t; /* jansson's json_t */

/*
 * Parses json[0..n) with JSON_REJECT_DUPLICATES and requires a top-level object. *root gets a new
 * reference the caller releases with json_decref; on failure it is left as it was and nothing
 * is held. ARCA_ERR_FORMAT naming `what` and the line for bad JSON or another top-level value.
 */
int arca_json_load_object(const char *json, size_t n, const char *what, struct json_t **root);

/* The most top-level members arca_json_raw_member accepts (Intel's answers have two). */
#define ARCA_JSON_RAW_MAX_MEMBERS 128

/*
 * Finds the raw bytes of member `key` of the top-level JSON object in json[0..n): *start and
 * *len delimit the value exactly as written (for an object from its '{' to the matching '}'),
 * pointing into json. The whole object is scanned: a member name that appears twice, a member
 * name with an escape sequence (it could spell another name once decoded), anything but
 * whitespace after the object or more than ARCA_JSON_RAW_MAX_MEMBERS members are ARCA_ERR_FORMAT
 * (ARCA_ERR_TOO_LARGE for the count). ARCA_ERR_NOT_FOUND if the member is absent. It checks the
 * structure only as far as it needs to find member boundaries: parse the same bytes with
 * arca_json_load_object as well.
 */
int arca_json_raw_member(const char *json, size_t n, const char *key, const char **start,
                         size_t *len);

#endif
