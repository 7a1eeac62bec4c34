/*
 * Remote imports over the peer channel (docs/internals/peer.md): the importing arcad's side
 * of `import: {session, secret, cas_url, cas_key | cas_software_key}`. An importer is the
 * attest pipeline's struct arca_attest_remote; it keeps the encoded values it fetched in a
 * small cache so that attestations within ttl seconds of a fetch do not ask again.
 *
 * Cache and expiry: an entry (per remote CAS, exporting session, secret, importing session
 * and its version hash) is used without asking for ttl seconds after it was fetched; after
 * that every attestation asks the exporter again, and a refusal or an unreachable exporter
 * fails the attestation (the cached value is dropped, never used past its ttl). ttl 0: no cache.
 * A withdrawn export or a changed value is thus seen at most ttl seconds late.
 */
#ifndef ARCA_PEER_IMPORT_H
#define ARCA_PEER_IMPORT_H

#include "attest/attest.h"
#include "peer/peer.h"

/* The route the exporting arcad serves remote imports on. */
#define ARCA_PEER_EXPORT_ROUTE "/v1/peer/export"
#define ARCA_PEER_IMPORT_TTL_DEFAULT 30 /* seconds */
#define ARCA_PEER_IMPORT_CACHE_MAX 256  /* entries; the oldest is replaced beyond */

struct arca_peer_importer;

/* A new importer over self (borrowed; must outlive it); ttl in seconds (< 0: the default).
 * arca_peer_importer_remote gives the hook to put into struct arca_attest_ctx. */
int arca_peer_importer_new(const struct arca_peer_self *self, int ttl,
                           struct arca_peer_importer **out);
const struct arca_attest_remote *arca_peer_importer_remote(const struct arca_peer_importer *imp);
/* Wipes the cached values and frees; NULL is fine. */
void arca_peer_importer_free(struct arca_peer_importer *imp);

/* The exporter's side of the route: the request's members into a struct (pointers borrowed
 * from body) and the answer around an encoded value. */
struct arca_cas_export_req;
int arca_peer_export_req_parse(const json_t *body, struct arca_cas_export_req *q, uint8_t hash[32]);
json_t *arca_peer_export_answer(const struct arca_buf *encoded);

#endif
