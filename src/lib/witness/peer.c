/*
 * The peer witness (witness.h, "arcad://HOST:PORT"): another arcad holds this arcad's counter
 * (its held.c, keyed by our CAS key), reached over the attested peer channel (peer/peer.h).
 * The peer must run the same measurement as we do: its answers are only as good as its code.
 *
 *   POST /v1/peer/witness {"op": "read"}               -> {"held": false} | {"held": true, "value": N}
 *   POST /v1/peer/witness {"op": "record", "epoch": E} -> {"result": "recorded"|"exists"|"ahead",
 *                                                          "value": N}
 * The channel is made on first use and kept (arca_peer_send): the peer's evidence is checked
 * once per connection, and each answer hands over the peer's nonce for the next request, so
 * a record is one round trip under our evidence. A dropped connection or a restarted peer
 * (its nonces unknown to the new process) is attested again before the request is resent;
 * any other failure drops the channel. Failures to reach the peer are ARCA_ERR_NETWORK naming
 * it. A hostile or broken peer costs at most the channel's timeout and PW_ANSWER_MAX bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "peer/peer.h"
#include "witness/witness.h"

/* A hello answer (evidence) or a witness answer; real quotes are a few KiB. */
#define PW_ANSWER_MAX ((size_t)64 * 1024)

struct peer_witness {
    char addr[140];
    const struct arca_peer_self *self;
    uint8_t measurement[32];
    struct arca_peer *p;
};

/* One call; *answer a new object; *resent as arca_peer_send's. The channel is kept only after
 * a success. */
static int pw_call(struct peer_witness *w, json_t *body, json_t **answer, bool *resent)
{
    int rc = 0;
    *resent = false;
    if (w->p == NULL) {
        struct arca_peer_expect ex = {.software_key = w->measurement};
        rc = arca_peer_connect(w->self, w->addr, &ex, &w->p);
        arca_peer_set_answer_max(w->p, PW_ANSWER_MAX);
    }
    if (rc == 0)
        rc = arca_peer_send(w->p, ARCA_WITNESS_PEER_ROUTE, body, answer, resent);
    json_decref(body);
    if (rc < 0) {
        arca_peer_close(w->p);
        w->p = NULL;
        /* a refusal by the channel (wrong measurement, evidence) is as good as no answer; the
         * detail is copied first: it is the buffer arca_err_set writes */
        char why[ARCA_ERR_DETAIL_MAX];
        snprintf(why, sizeof(why), "%s", arca_err_detail());
        return arca_err_set(ARCA_ERR_NETWORK, "witness arcad://%s: %s", w->addr, why);
    }
    return 0;
}

static int pw_value(struct peer_witness *w, const json_t *a, uint64_t *value)
{
    json_t *v = json_object_get(a, "value");
    ARCA_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, ARCA_ERR_FORMAT,
                "witness arcad://%s: answer without a value", w->addr);
    *value = (uint64_t)json_integer_value(v);
    return 0;
}

static int pw_read(void *impl, uint64_t *value)
{
    struct peer_witness *w = impl;
    json_t *a = NULL;
    bool resent = false;
    ARCA_TRY(pw_call(w, json_pack("{s:s}", "op", "read"), &a, &resent));
    int rc = json_is_true(json_object_get(a, "held")) ? pw_value(w, a, value) : ARCA_ERR_NOT_FOUND;
    json_decref(a);
    return rc;
}

static int pw_record(void *impl, uint64_t epoch)
{
    struct peer_witness *w = impl;
    ARCA_ENSURE(epoch <= (uint64_t)INT64_MAX, ARCA_ERR_INVALID_ARG, "witness: commit out of range");
    json_t *a = NULL;
    bool resent = false;
    ARCA_TRY(pw_call(w, json_pack("{s:s, s:I}", "op", "record", "epoch", (json_int_t)epoch), &a,
                     &resent));
    uint64_t v = 0;
    int rc = pw_value(w, a, &v);
    const char *r = json_string_value(json_object_get(a, "result"));
    if (rc < 0 || r == NULL)
        rc = arca_err_set(ARCA_ERR_FORMAT, "witness arcad://%s: answer without a result", w->addr);
    else if (strcmp(r, "exists") == 0 && resent && v == epoch)
        rc = 0; /* our first try got there before its connection dropped */
    else if (strcmp(r, "exists") == 0)
        rc = arca_err_set(ARCA_ERR_EXISTS, "witness arcad://%s is at commit %llu already", w->addr,
                          (unsigned long long)v);
    else if (strcmp(r, "ahead") == 0)
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "witness arcad://%s is at commit %llu, ahead of commit %llu", w->addr,
                          (unsigned long long)v, (unsigned long long)epoch);
    else if (strcmp(r, "recorded") != 0)
        rc = arca_err_set(ARCA_ERR_FORMAT, "witness arcad://%s: unknown result", w->addr);
    json_decref(a);
    return rc;
}

static void pw_free(void *impl)
{
    struct peer_witness *w = impl;
    if (w == NULL)
        return;
    arca_peer_close(w->p);
    free(w);
}

int arca_witness_peer_new(const char *addr, const struct arca_peer_self *self,
                          const uint8_t measurement[32], struct arca_witness_backend *out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(self);
    ARCA_ENSURE_REF(measurement);
    ARCA_ENSURE(addr != NULL && addr[0] != '\0' &&
                    strlen(addr) < sizeof(((struct peer_witness *)0)->addr),
                ARCA_ERR_INVALID_ARG, "witness arcad://: expected HOST:PORT");
    struct peer_witness *w = calloc(1, sizeof(*w));
    ARCA_ENSURE(w != NULL, ARCA_ERR_ALLOC, "witness arcad://%s", addr);
    snprintf(w->addr, sizeof(w->addr), "%s", addr);
    w->self = self;
    memcpy(w->measurement, measurement, 32);
    memset(out, 0, sizeof(*out));
    snprintf(out->label, sizeof(out->label), "arcad://%s", addr);
    out->read = pw_read;
    out->record = pw_record;
    out->free = pw_free;
    out->impl = w;
    return 0;
}
