/* The router's two issue-9 gates: ARCAD_ROUTE_OFFLOAD (the request is moved into a job that
 * owns its path, query, peer key and a copy of the body, answers into a buffer and is sent by
 * arcad_offload_finish; a refused job leaves the request as it was) and
 * ARCAD_ROUTE_RATE_LIMITED (per peer address, 429 naming the flag, Retry-After). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arcad_internal.h"
#include "base/err.h"
#include "limits/limits.h"

static void h_echo(struct arcad_request *req, void *arg)
{
    (void)arg;
    const uint8_t *b;
    size_t n;
    arcad_request_body(req, &b, &n);
    uint8_t id[32];
    bool have = arcad_request_peer_key_id(req, id);
    arcad_reply_json(req, 200,
                     json_pack("{s:s, s:s, s:s?, s:s%, s:b}", "path", arcad_request_path(req),
                               "rest", arcad_request_path_rest(req), "x",
                               arcad_request_query(req, "x"), "body", (const char *)b, n, "peer",
                               have));
}

/* What the fake transport saw. */
struct transport {
    struct arcad_offload *job; /* queued job */
    int refuse;                /* < 0: the submit fails with this */
    int sent_status;
    int sends;
    char sent[512];
    int retry_after;
};

static struct transport *T;

static int fake_offload(struct arcad_offload *job)
{
    if (T->refuse < 0)
        return arca_err_set(T->refuse, "the server is busy (--max-queued-jobs)");
    T->job = job;
    return 0;
}

static void fake_send(struct arcad_request *req, int status, const char *ct, const void *p,
                      size_t n)
{
    (void)ct;
    T->sends++;
    T->sent_status = status;
    T->retry_after = req->retry_after_s;
    snprintf(T->sent, sizeof(T->sent), "%.*s", (int)n, (const char *)p);
}

static struct arcad_router *router(void)
{
    struct arcad_router *r = arcad_router_new();
    assert_non_null(r);
    assert_int_equal(arcad_router_add(r, "POST", "/v1/off/",
                                      ARCAD_ROUTE_PREFIX | ARCAD_ROUTE_OFFLOAD, "off", h_echo,
                                      NULL),
                     0);
    assert_int_equal(arcad_router_add(r, "GET", "/limited",
                                      ARCAD_ROUTE_NO_CERT | ARCAD_ROUTE_RATE_LIMITED, "limited",
                                      h_echo, NULL),
                     0);
    assert_int_equal(arcad_router_add(r, "GET", "/free", ARCAD_ROUTE_NO_CERT, "free", h_echo, NULL),
                     0);
    return r;
}

/* A request as http.c makes it: the body lives in the transport's buffer (here: body). */
static void request_init(struct arcad_request *req, struct arcad_ctx *ctx, const char *method,
                         const char *body, uint8_t peer_net0)
{
    memset(req, 0, sizeof(*req));
    req->ctx = ctx;
    req->method = method;
    req->body = (const uint8_t *)body;
    req->body_len = body != NULL ? strlen(body) : 0;
    req->send = fake_send;
    req->offload = fake_offload;
    req->have_peer = true;
    req->peer_id[0] = 9;
    req->peer_net[0] = 4;
    req->peer_net[1] = peer_net0;
    snprintf(req->peer_addr, sizeof(req->peer_addr), "test");
}

static void test_offload_runs_on_a_copy(void **state)
{
    (void)state;
    struct transport t = {0};
    T = &t;
    struct arcad_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    struct arcad_router *r = router();
    char body[] = "the body";
    struct arcad_request req;
    request_init(&req, &ctx, "POST", body, 1);
    arcad_dispatch(r, &req, "/v1/off/a/b?x=1&y=2");
    arcad_request_cleanup(&req);         /* the transport is done with its request object ... */
    memset(body, 'Z', sizeof(body) - 1); /* ... and its buffer */
    assert_non_null(t.job);
    assert_int_equal(t.sends, 0);
    arcad_offload_work(t.job); /* (a pool thread) */
    assert_int_equal(t.sends, 0);
    arcad_offload_finish(t.job, true); /* (the loop) */
    assert_int_equal(t.sends, 1);
    assert_int_equal(t.sent_status, 200);
    json_t *j = json_loads(t.sent, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/v1/off/a/b");
    assert_string_equal(json_string_value(json_object_get(j, "rest")), "a/b");
    assert_string_equal(json_string_value(json_object_get(j, "x")), "1");
    assert_string_equal(json_string_value(json_object_get(j, "body")), "the body");
    assert_true(json_is_true(json_object_get(j, "peer")));
    json_decref(j);
    /* Counted once, when it was answered. */
    assert_int_equal(r->routes[0].stats.by_status[0], 1);

    /* A client that left: nothing is sent, everything is freed (ASan/leak check). */
    t.job = NULL;
    request_init(&req, &ctx, "POST", body, 1);
    arcad_dispatch(r, &req, "/v1/off/c?x=2");
    arcad_request_cleanup(&req);
    arcad_offload_work(t.job);
    arcad_offload_finish(t.job, false);
    assert_int_equal(t.sends, 1);
    arcad_router_free(r);
}

static void test_offload_refused(void **state)
{
    (void)state;
    struct transport t = {.refuse = ARCA_ERR_LIMIT};
    T = &t;
    struct arcad_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    struct arcad_router *r = router();
    struct arcad_request req;
    request_init(&req, &ctx, "POST", "b", 1);
    arcad_dispatch(r, &req, "/v1/off/a?x=1");
    assert_null(t.job);
    assert_int_equal(t.sends, 1);
    assert_int_equal(t.sent_status, 503);
    assert_non_null(strstr(t.sent, "--max-queued-jobs"));
    /* The request is the caller's again, whole. */
    assert_string_equal(arcad_request_path(&req), "/v1/off/a");
    assert_string_equal(arcad_request_query(&req, "x"), "1");
    arcad_request_cleanup(&req);
    arcad_router_free(r);
}

static void test_offload_without_pool_runs_inline(void **state)
{
    (void)state;
    struct arcad_router *r = router();
    struct arca_buf out;
    arca_buf_init(&out, 0);
    int status = 0;
    static const uint8_t peer[32] = {1};
    assert_int_equal(arcad_dispatch_raw(NULL, r, "POST", "/v1/off/q", "x", 1, peer, &status, &out),
                     0);
    assert_int_equal(status, 200);
    arca_buf_free(&out);
    arcad_router_free(r);
}

static void test_rate_limited_per_peer(void **state)
{
    (void)state;
    struct transport t = {0};
    T = &t;
    struct arcad_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg.rate_per_peer = 0.001; /* no refill during the test */
    ctx.cfg.rate_burst_per_peer = 3;
    const struct arca_ratelimit_cfg rc = {.per_key_rate = ctx.cfg.rate_per_peer,
                                          .per_key_burst = ctx.cfg.rate_burst_per_peer,
                                          .capacity = 64};
    assert_int_equal(arca_ratelimit_new(&rc, &ctx.ratelimit), 0);
    struct arcad_router *r = router();
    struct arcad_request req;
    for (int i = 0; i < 4; i++) {
        request_init(&req, &ctx, "GET", NULL, 1);
        arcad_dispatch(r, &req, "/limited");
        assert_int_equal(t.sent_status, i < 3 ? 200 : 429);
        arcad_request_cleanup(&req);
    }
    assert_true(t.retry_after >= 1);
    assert_non_null(strstr(t.sent, "--rate-limit"));
    assert_non_null(strstr(t.sent, "/limited"));
    /* Another peer address has its own bucket; an unflagged route has none. */
    request_init(&req, &ctx, "GET", NULL, 2);
    arcad_dispatch(r, &req, "/limited");
    assert_int_equal(t.sent_status, 200);
    arcad_request_cleanup(&req);
    for (int i = 0; i < 10; i++) {
        request_init(&req, &ctx, "GET", NULL, 1);
        arcad_dispatch(r, &req, "/free");
        assert_int_equal(t.sent_status, 200);
        assert_int_equal(t.retry_after, 0);
        arcad_request_cleanup(&req);
    }
    arcad_router_free(r);
    arca_ratelimit_free(ctx.ratelimit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offload_runs_on_a_copy),
        cmocka_unit_test(test_offload_refused),
        cmocka_unit_test(test_offload_without_pool_runs_inline),
        cmocka_unit_test(test_rate_limited_per_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
