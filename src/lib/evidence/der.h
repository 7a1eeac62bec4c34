/*
 * A minimal DER reader (only what the PCK certificate's SGX extension needs): definite lengths,
 * single-byte tags, borrowed contents. Every read goes through arca_cur; nothing is allocated.
 */
#ifndef ARCA_EVIDENCE_DER_H
#define ARCA_EVIDENCE_DER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define ARCA_DER_INTEGER 0x02
#define ARCA_DER_OCTET_STRING 0x04
#define ARCA_DER_OID 0x06
#define ARCA_DER_ENUMERATED 0x0a
#define ARCA_DER_SEQUENCE 0x30
#define ARCA_DER_BOOLEAN 0x01

/* Reads one TLV: *tag and a sub-cursor over its contents (borrowing c's bytes). Rejects
 * indefinite and non-minimal lengths, multi-byte tags and lengths over 2^24. ARCA_ERR_FORMAT /
 * ARCA_ERR_TRUNCATED, c unchanged on failure. */
int arca_der_get(struct arca_cur *c, uint8_t *tag, struct arca_cur *content);
/* As arca_der_get, and fails with ARCA_ERR_FORMAT unless the tag is want. */
int arca_der_expect(struct arca_cur *c, uint8_t want, struct arca_cur *content, const char *what);
/* Decodes the contents of a non-negative INTEGER / ENUMERATED that fits max. */
int arca_der_uint(const struct arca_cur *content, uint64_t max, uint64_t *out);

#endif
