/*
 * Connection admission (src/arcad/conns.c): caps per worker and per peer close the oldest
 * pending connection, never a newer one; --max-connections counts pending and active ones;
 * handshake and request deadlines are absolute; kept-alive connections get a request deadline;
 * the fd-exhaustion path gives back the oldest pending connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conns.h"

#define MAXC 64

struct closer {
    struct arcad_conn *closed[MAXC];
    size_t n;
};

static void on_close(struct arcad_conn *c, void *arg)
{
    struct closer *k = arg;
    assert_true(k->n < MAXC);
    assert_int_equal(c->phase, ARCAD_CONN_CLOSING);
    k->closed[k->n++] = c;
}

/* The transport frees what was closed (as libevent does, a loop turn later). */
static void reap(struct arcad_conns *t, struct closer *k)
{
    for (size_t i = 0; i < k->n; i++)
        arcad_conns_gone(t, k->closed[i]);
    k->n = 0;
}

static void peer(uint8_t out[ARCAD_PEER_LEN], uint8_t last)
{
    memset(out, 0, ARCAD_PEER_LEN);
    out[0] = 4;
    out[1] = 127;
    out[4] = last;
}

static struct arcad_conn *accept_from(struct arcad_conns *t, uint8_t who, int64_t now)
{
    uint8_t p[ARCAD_PEER_LEN];
    peer(p, who);
    struct arcad_conn *c = arcad_conns_open(t, NULL, now);
    assert_non_null(c);
    assert_ptr_equal(arcad_conns_fresh(t), c);
    arcad_conns_admit(t, c, p);
    assert_null(arcad_conns_fresh(t));
    return c;
}

static const struct arcad_conn_limits lim = {.max_conns = 10,
                                             .max_pending = 6,
                                             .max_pending_per_peer = 3,
                                             .handshake_ms = 10000,
                                             .request_ms = 20000};

static void test_peer_cap_closes_that_peers_oldest(void **state)
{
    (void)state;
    struct closer k = {0};
    struct arcad_conns t;
    arcad_conns_init(&t, &lim, on_close, &k);
    struct arcad_conn *other = accept_from(&t, 9, 0);
    struct arcad_conn *a[5];
    for (int i = 0; i < 3; i++)
        a[i] = accept_from(&t, 1, i + 1);
    assert_int_equal(k.n, 0);
    assert_int_equal(t.npending, 4);
    /* The 4th from the same peer pushes out that peer's oldest, not the other peer's older one. */
    a[3] = accept_from(&t, 1, 10);
    assert_int_equal(k.n, 1);
    assert_ptr_equal(k.closed[0], a[0]);
    assert_int_equal(t.closed[ARCAD_CLOSE_PEER_CAP], 1);
    assert_int_equal(t.npending, 4);
    assert_int_equal(other->phase, ARCAD_CONN_HANDSHAKE);
    a[4] = accept_from(&t, 1, 11);
    assert_ptr_equal(k.closed[1], a[1]);
    reap(&t, &k);
    assert_int_equal(t.npending, 4);
    /* A peer that finished its request no longer counts. */
    arcad_conns_handshake_done(&t, a[2], 12);
    assert_true(arcad_conns_request(&t, a[2]));
    accept_from(&t, 1, 13);
    assert_int_equal(k.n, 0);
    while (t.pending.head != NULL)
        arcad_conns_evict_oldest(&t, ARCAD_CLOSE_FD_LIMIT);
    reap(&t, &k);
    arcad_conns_gone(&t, a[2]);
    assert_int_equal(t.npending + t.nactive, 0);
}

static void test_pending_and_total_caps(void **state)
{
    (void)state;
    struct closer k = {0};
    struct arcad_conns t;
    arcad_conns_init(&t, &lim, on_close, &k);
    struct arcad_conn *c[20];
    for (int i = 0; i < 6; i++)
        c[i] = accept_from(&t, (uint8_t)i, i);
    assert_int_equal(k.n, 0);
    c[6] = accept_from(&t, 50, 6); /* 7th pending: the worker's oldest goes */
    assert_int_equal(k.n, 1);
    assert_ptr_equal(k.closed[0], c[0]);
    assert_int_equal(t.closed[ARCAD_CLOSE_PENDING_CAP], 1);
    reap(&t, &k);
    /* Five of them send requests: active 5, pending 1 (c[6]). */
    for (int i = 1; i <= 5; i++) {
        arcad_conns_handshake_done(&t, c[i], 7);
        assert_true(arcad_conns_request(&t, c[i]));
    }
    assert_int_equal(t.nactive, 5);
    assert_int_equal(t.npending, 1);
    /* --max-connections 10 counts both: the 10th fits, the 11th pushes out the oldest pending. */
    for (int i = 7; i <= 10; i++)
        c[i] = accept_from(&t, (uint8_t)(60 + i), 8);
    assert_int_equal(k.n, 0);
    c[11] = accept_from(&t, 99, 9);
    assert_int_equal(k.n, 1);
    assert_ptr_equal(k.closed[0], c[6]);
    reap(&t, &k);
    assert_int_equal(t.npending + t.nactive, 10);
    /* Requests beyond --max-connections active ones are refused (503), the rest admitted. */
    for (int i = 7; i <= 11; i++)
        assert_true(arcad_conns_request(&t, c[i]));
    assert_int_equal(t.nactive, 10);
    struct arcad_conn *late = accept_from(&t, 100, 10); /* all taken: still admitted... */
    assert_int_equal(k.n, 0);
    assert_false(arcad_conns_request(&t, late)); /* ...to be told 503 */
    assert_int_equal(late->phase, ARCAD_CONN_REFUSED);
    assert_int_equal(t.nactive, 10);
    arcad_conns_gone(&t, late);
    for (int i = 1; i <= 5; i++)
        arcad_conns_gone(&t, c[i]);
    for (int i = 7; i <= 11; i++)
        arcad_conns_gone(&t, c[i]);
    assert_int_equal(t.npending + t.nactive, 0);
}

static void test_deadlines_are_absolute(void **state)
{
    (void)state;
    struct closer k = {0};
    struct arcad_conns t;
    arcad_conns_init(&t, &lim, on_close, &k);
    struct arcad_conn *slow = accept_from(&t, 1, 1000);  /* never finishes its handshake */
    struct arcad_conn *quick = accept_from(&t, 2, 1000); /* handshake, then trickles a head */
    struct arcad_conn *kept = accept_from(&t, 3, 1000);  /* one request, then kept alive */
    assert_int_equal(arcad_conns_expire(&t, 1000), 11000);
    arcad_conns_handshake_done(&t, quick, 2000);
    assert_int_equal(quick->deadline_ms, 22000);
    arcad_conns_handshake_done(&t, kept, 2000);
    assert_true(arcad_conns_request(&t, kept));
    arcad_conns_answered(&t, kept, 3000);
    assert_int_equal(kept->phase, ARCAD_CONN_IDLE);
    assert_int_equal(kept->deadline_ms, 23000);
    /* Nothing a peer sends moves a deadline: only the clock matters. */
    assert_int_equal(arcad_conns_expire(&t, 10999), 11000);
    assert_int_equal(k.n, 0);
    assert_int_equal(arcad_conns_expire(&t, 11000), 22000);
    assert_int_equal(k.n, 1);
    assert_ptr_equal(k.closed[0], slow);
    assert_int_equal(t.closed[ARCAD_CLOSE_HANDSHAKE_DEADLINE], 1);
    assert_int_equal(arcad_conns_expire(&t, 22000), 23000);
    assert_ptr_equal(k.closed[1], quick);
    assert_int_equal(arcad_conns_expire(&t, 23000), -1);
    assert_ptr_equal(k.closed[2], kept);
    assert_int_equal(t.closed[ARCAD_CLOSE_REQUEST_DEADLINE], 2);
    assert_int_equal(t.nactive, 0);
    reap(&t, &k);
    /* A kept-alive connection that sends its next request in time has no deadline while it
     * is answered. */
    struct arcad_conn *c = accept_from(&t, 4, 30000);
    arcad_conns_handshake_done(&t, c, 30001);
    assert_true(arcad_conns_request(&t, c));
    arcad_conns_answered(&t, c, 30002);
    assert_true(arcad_conns_request(&t, c));
    assert_int_equal(arcad_conns_expire(&t, 99999), -1);
    assert_int_equal(k.n, 0);
    arcad_conns_gone(&t, c);
    /* A connection the table closed is not served if a request still gets through. */
    c = accept_from(&t, 5, 100000);
    arcad_conns_expire(&t, 200000);
    assert_int_equal(k.n, 1);
    assert_false(arcad_conns_request(&t, c));
    reap(&t, &k);
}

static void test_fd_limit_eviction(void **state)
{
    (void)state;
    struct closer k = {0};
    struct arcad_conns t;
    arcad_conns_init(&t, &lim, on_close, &k);
    assert_false(arcad_conns_evict_oldest(&t, ARCAD_CLOSE_FD_LIMIT));
    struct arcad_conn *a = accept_from(&t, 1, 0);
    struct arcad_conn *b = accept_from(&t, 2, 1);
    arcad_conns_handshake_done(&t, b, 2);
    assert_true(arcad_conns_request(&t, b)); /* active: never evicted for descriptors */
    assert_true(arcad_conns_evict_oldest(&t, ARCAD_CLOSE_FD_LIMIT));
    assert_ptr_equal(k.closed[0], a);
    assert_false(arcad_conns_evict_oldest(&t, ARCAD_CLOSE_FD_LIMIT));
    assert_int_equal(t.closed[ARCAD_CLOSE_FD_LIMIT], 1);
    reap(&t, &k);
    arcad_conns_gone(&t, b);
    /* A connection freed before admission (evhttp failed to set it up) just goes. */
    struct arcad_conn *n = arcad_conns_open(&t, NULL, 5);
    arcad_conns_gone(&t, n);
    assert_null(arcad_conns_fresh(&t));
    assert_string_equal(arcad_close_reason_name(ARCAD_CLOSE_PEER_CAP), "peer_cap");
    assert_string_equal(arcad_close_reason_name(ARCAD_CLOSE_REASONS), "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_cap_closes_that_peers_oldest),
        cmocka_unit_test(test_pending_and_total_caps),
        cmocka_unit_test(test_deadlines_are_absolute),
        cmocka_unit_test(test_fd_limit_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
