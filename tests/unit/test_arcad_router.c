/* arcad's transport-independent request path: URI parsing, routing, auth gate, answers,
 * metrics; the access-policy evaluator used by the handlers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arcad_internal.h"
#include "base/err.h"

static void h_echo(struct arcad_request *req, void *arg)
{
    const char *q = arcad_request_query(req, "x");
    arcad_reply_json(req, 200,
                     json_pack("{s:s, s:s, s:s, s:s?}", "tag", (const char *)arg, "path",
                               arcad_request_path(req), "rest", arcad_request_path_rest(req), "x",
                               q));
}

static void h_json(struct arcad_request *req, void *arg)
{
    json_t *j = NULL;
    int rc = arcad_request_json(req, &j);
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return;
    }
    arcad_reply_json(req, 201, j);
}

static void h_silent(struct arcad_request *req, void *arg)
{
    (void)req;
}

static void h_peer(struct arcad_request *req, void *arg)
{
    uint8_t id[32];
    bool have = arcad_request_peer_key_id(req, id);
    arcad_reply_json(req, 200, json_pack("{s:b, s:i}", "peer", have, "first", have ? id[0] : -1));
}

static struct arcad_router *make_router(void)
{
    struct arcad_router *r = arcad_router_new();
    assert_non_null(r);
    assert_int_equal(
        arcad_router_add(r, "GET", "/v1/exact", ARCAD_ROUTE_EXACT, "exact", h_echo, "exact"), 0);
    assert_int_equal(
        arcad_router_add(r, "GET", "/v1/pre/", ARCAD_ROUTE_PREFIX, "pre", h_echo, "pre"), 0);
    assert_int_equal(
        arcad_router_add(r, "POST", "/v1/json", ARCAD_ROUTE_EXACT, "json", h_json, NULL), 0);
    assert_int_equal(arcad_router_add(r, "GET", "/open", ARCAD_ROUTE_NO_CERT, "open", h_peer, NULL),
                     0);
    assert_int_equal(
        arcad_router_add(r, "GET", "/silent", ARCAD_ROUTE_NO_CERT, "silent", h_silent, NULL), 0);
    return r;
}

static const uint8_t PEER[32] = {7};

static json_t *run(struct arcad_router *r, const char *method, const char *uri, const char *body,
                   const uint8_t *peer, int *status)
{
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(
        arcad_dispatch_raw(NULL, r, method, uri, body, body ? strlen(body) : 0, peer, status, &out),
        0);
    json_t *j = json_loadb((const char *)out.data, out.len, 0, NULL);
    arca_buf_free(&out);
    assert_non_null(j);
    return j;
}

static const char *msg0(json_t *j)
{
    return json_string_value(json_array_get(json_object_get(j, "msg"), 0));
}

static void test_routing(void **state)
{
    struct arcad_router *r = make_router();
    int st = 0;
    json_t *j = run(r, "GET", "/v1/exact?x=1%202&y=2", NULL, PEER, &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "x")), "1 2");
    json_decref(j);
    j = run(r, "GET", "/v1/pre/a/b%2Fc", NULL, PEER, &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "rest")), "a/b/c");
    json_decref(j);
    j = run(r, "GET", "/v1/exact/more", NULL, PEER, &st);
    assert_int_equal(st, 404);
    assert_non_null(strstr(msg0(j), "no such endpoint"));
    json_decref(j);
    j = run(r, "POST", "/v1/exact", NULL, PEER, &st);
    assert_int_equal(st, 405);
    json_decref(j);
    /* without a certificate: 401 unless the route allows it */
    j = run(r, "GET", "/v1/exact", NULL, NULL, &st);
    assert_int_equal(st, 401);
    assert_non_null(strstr(msg0(j), "client certificate"));
    json_decref(j);
    j = run(r, "GET", "/open", NULL, NULL, &st);
    assert_int_equal(st, 200);
    assert_false(json_is_true(json_object_get(j, "peer")));
    json_decref(j);
    j = run(r, "GET", "/open", NULL, PEER, &st);
    assert_true(json_is_true(json_object_get(j, "peer")));
    assert_int_equal(json_integer_value(json_object_get(j, "first")), 7);
    json_decref(j);
    /* a handler that forgets to answer gets a 500, not a hang */
    j = run(r, "GET", "/silent", NULL, NULL, &st);
    assert_int_equal(st, 500);
    json_decref(j);
    arcad_router_free(r);
}

static void test_bad_uris(void **state)
{
    struct arcad_router *r = make_router();
    static const char *const bad[] = {
        "/v1/pre/a/../b", "/v1/pre/./x", "/v1/pre//x", "/v1/pre/a%00b",
        "/v1/pre/a%0ab",  "v1/exact",    "",           "/v1/pre/x/..",
        "/v1/pre/%01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st = 0;
        json_t *j = run(r, "GET", bad[i], NULL, PEER, &st);
        assert_int_equal(st, 400);
        assert_non_null(msg0(j));
        json_decref(j);
    }
    arcad_router_free(r);
}

static void test_json_body(void **state)
{
    struct arcad_router *r = make_router();
    int st = 0;
    json_t *j = run(r, "POST", "/v1/json", "{\"a\": 1}", PEER, &st);
    assert_int_equal(st, 201);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);
    j = run(r, "POST", "/v1/json", "{\"a\": 1,\n \"a\": 2}", PEER, &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(msg0(j), "line 2"));
    json_decref(j);
    j = run(r, "POST", "/v1/json", "[1]", PEER, &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(msg0(j), "JSON object"));
    json_decref(j);
    j = run(r, "POST", "/v1/json", NULL, PEER, &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(msg0(j), "empty"));
    json_decref(j);
    arcad_router_free(r);
}

static void test_router_add_checks(void **state)
{
    struct arcad_router *r = arcad_router_new();
    assert_int_equal(arcad_router_add(r, "GET", "nope", 0, "x", h_echo, NULL),
                     ARCA_ERR_INVALID_ARG);
    assert_int_equal(arcad_router_add(r, "BREW", "/x", 0, "x", h_echo, NULL), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arcad_router_add(r, "GET", "/x", 0, "x", NULL, NULL), ARCA_ERR_INVALID_ARG);
    for (int i = 0; i < ARCAD_MAX_ROUTES; i++)
        assert_int_equal(arcad_router_add(r, "GET", "/x", 0, "x", h_echo, NULL), 0);
    assert_int_equal(arcad_router_add(r, "GET", "/x", 0, "x", h_echo, NULL), ARCA_ERR_LIMIT);
    arcad_router_free(r);
}

static void test_err_status(void **state)
{
    assert_int_equal(arcad_err_status(ARCA_ERR_FORMAT), 400);
    assert_int_equal(arcad_err_status(ARCA_ERR_UNAUTHENTICATED), 401);
    assert_int_equal(arcad_err_status(ARCA_ERR_DENIED), 403);
    assert_int_equal(arcad_err_status(ARCA_ERR_NOT_FOUND), 404);
    assert_int_equal(arcad_err_status(ARCA_ERR_CONFLICT), 409);
    assert_int_equal(arcad_err_status(ARCA_ERR_EXISTS), 409);
    assert_int_equal(arcad_err_status(ARCA_ERR_TOO_LARGE), 413);
    assert_int_equal(arcad_err_status(ARCA_ERR_TAMPERED), 500);
    assert_int_equal(arcad_err_status(ARCA_ERR_INTERNAL), 500);
}

static void test_metrics_render(void **state)
{
    struct arcad_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.metrics = arcad_metrics_new();
    ctx.client_router = make_router();
    int st = 0;
    json_decref(run(ctx.client_router, "GET", "/v1/exact", NULL, PEER, &st));
    json_decref(run(ctx.client_router, "GET", "/v1/exact", NULL, NULL, &st));
    json_decref(run(ctx.client_router, "GET", "/nothing", NULL, NULL, &st));
    arcad_metrics_attestation(ctx.metrics, "ok");
    arcad_metrics_attestation(ctx.metrics, "weird");
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(arcad_metrics_render(&ctx, &out), 0);
    const char *m = arca_buf_cstr(&out);
    assert_non_null(
        strstr(m, "arcad_requests_total{api=\"client\",route=\"exact\",status=\"200\"} 1"));
    assert_non_null(
        strstr(m, "arcad_requests_total{api=\"client\",route=\"exact\",status=\"401\"} 1"));
    assert_non_null(strstr(m, "route=\"unmatched\",status=\"404\"} 1"));
    assert_non_null(
        strstr(m, "arcad_request_duration_seconds_count{api=\"client\",route=\"exact\"} 2"));
    assert_non_null(strstr(m, "arcad_attestations_total{result=\"ok\"} 1"));
    assert_non_null(strstr(m, "arcad_attestations_total{result=\"error\"} 1"));
    arca_buf_free(&out);
    arcad_router_free(ctx.client_router);
    arcad_metrics_free(ctx.metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),    cmocka_unit_test(test_bad_uris),
        cmocka_unit_test(test_json_body),  cmocka_unit_test(test_router_add_checks),
        cmocka_unit_test(test_err_status), cmocka_unit_test(test_metrics_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
