/* Helpers shared by the files of the cas module; not an interface for other modules. */
#ifndef ARCA_CAS_INTERNAL_H
#define ARCA_CAS_INTERNAL_H

#include "cas/cas.h"
#include "store/store.h"

struct arca_session;

/* Loads the model of a stored version (its YAML was validated when it was committed); the
 * caller frees *out with arca_session_free. ARCA_ERR_INTERNAL if it no longer loads. */
int cas_load_model(const struct arca_store_session *rec, struct arca_session **out);

#endif
