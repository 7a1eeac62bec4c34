/* Internal to the Intel DCAP verifier (dcap_verify.c, dcap_cache.c). */
#ifndef ARCA_EVIDENCE_DCAP_INTERNAL_H
#define ARCA_EVIDENCE_DCAP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "evidence/dcap_verify.h"
#include "evidence/pck.h"
#include "evidence/tcb.h"

struct arca_key;

/* What a cached step proved. */
struct dcap_cache_val {
    int64_t crl_expiry; /* earliest CRL nextUpdate it relied on (0 = none) */
    bool crls_checked;
    struct arca_key *pck_key; /* PCK entries: the leaf key (a reference) */
    struct arca_pck_ext ext;
    struct arca_tcb_info *tcb;   /* TCB Info entries: the parsed document */
    struct arca_qe_identity *qe; /* QE Identity entries: the parsed document */
};

/* On a hit with lo <= now < hi copies the value into *out (out->pck_key a new reference, tcb
 * and qe fresh copies: the caller frees them) and returns true. */
bool dcap_cache_lookup(struct arca_dcap_cache *c, const uint8_t key[32], int64_t now,
                       struct dcap_cache_val *out);
/* Stores (or replaces) an entry valid for [lo, hi); takes a new reference to v->pck_key and
 * copies v->tcb / v->qe (the caller keeps its own). */
void dcap_cache_store(struct arca_dcap_cache *c, const uint8_t key[32],
                      const struct dcap_cache_val *v, int64_t lo, int64_t hi);

#endif
