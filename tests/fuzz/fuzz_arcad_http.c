/*
 * Fuzz target for arcad's request handling path without a network: URI parsing (path
 * decoding, dot segments, query strings), route matching with prefix routes, the auth gate,
 * JSON body decoding and answer encoding, plus the session-YAML redactor that every session
 * read runs over stored YAML.
 *
 * Input: byte 0 selects method and whether a client key is present; the URI runs to the first
 * '\n'; the rest is the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/redact.h"
#include "arcad_internal.h"

static void h_any(struct arcad_request *req, void *arg)
{
    const char *q = arcad_request_query(req, "hash");
    const char *n = arcad_request_query(req, "nonce");
    json_t *j = NULL;
    if ((uintptr_t)arg == 1) {
        int rc = arcad_request_json(req, &j);
        if (rc < 0) {
            arcad_reply_err(req, rc);
            return;
        }
    }
    arcad_reply_json(req, 200,
                     json_pack("{s:s, s:s?, s:s?, s:o?}", "rest", arcad_request_path_rest(req),
                               "hash", q, "nonce", n, "body", j));
}

static struct arcad_router *router;

static void init(void)
{
    router = arcad_router_new();
    arcad_router_add(router, "POST", "/v1/sessions", ARCAD_ROUTE_EXACT, "up", h_any, (void *)1);
    arcad_router_add(router, "GET", "/v1/sessions", ARCAD_ROUTE_EXACT, "list", h_any, NULL);
    arcad_router_add(router, "GET", "/v1/sessions/", ARCAD_ROUTE_PREFIX, "read", h_any, NULL);
    arcad_router_add(router, "GET", "/v1/values/", ARCAD_ROUTE_PREFIX | ARCAD_ROUTE_NO_CERT,
                     "values", h_any, NULL);
    arcad_router_add(router, "POST", "/v1/attest", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT,
                     "attest", h_any, (void *)1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    static const uint8_t peer[32] = {1, 2, 3};
    if (router == NULL)
        init();
    if (size < 1)
        return 0;
    const char *method = methods[data[0] & 3];
    const uint8_t *pid = (data[0] & 4) ? peer : NULL;
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ulen = nl != NULL ? (size_t)(nl - data) : size;
    char *uri = malloc(ulen + 1);
    if (uri == NULL)
        return 0;
    memcpy(uri, data, ulen);
    uri[ulen] = '\0';
    const uint8_t *body = nl != NULL ? nl + 1 : data + size;
    size_t blen = (size_t)(data + size - body);
    int status = 0;
    struct arca_buf out;
    arca_buf_init(&out, 0);
    arcad_dispatch_raw(NULL, router, method, uri, body, blen, pid, &status, &out);
    if (status < 200 || status > 599)
        abort();
    arca_buf_reset(&out);
    arca_session_redact((const char *)body, blen, &out);
    arca_buf_free(&out);
    free(uri);
    return 0;
}
