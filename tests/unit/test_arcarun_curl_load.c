/* arca-run's background loading of libcurl (curl_load.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "curl_load.h"

/* A table that really is libcurl's: a handle can be made, set up and freed. */
static void check_usable(const struct arcarun_curl *api)
{
    assert_non_null(api);
    CURL *c = api->easy_init();
    assert_non_null(c);
    assert_int_equal(api->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https"), CURLE_OK);
    assert_non_null(api->easy_strerror(CURLE_SSL_PINNEDPUBKEYNOTMATCH));
    struct curl_slist *h = api->slist_append(NULL, "Expect:");
    assert_non_null(h);
    api->slist_free_all(h);
    api->easy_cleanup(c);
}

static void test_preload_then_get(void **state)
{
    (void)state;
    struct arcarun_curl_loader l = {0};
    arcarun_curl_preload(&l);
    arcarun_curl_preload(&l); /* a second call starts no second thread */
    const struct arcarun_curl *api = NULL;
    assert_int_equal(arcarun_curl_get(&l, &api), 0);
    check_usable(api);
    /* Waiting again returns the same table at once. */
    const struct arcarun_curl *again = NULL;
    assert_int_equal(arcarun_curl_get(&l, &again), 0);
    assert_ptr_equal(again, api);
    arcarun_curl_done(&l);
    /* After done, the next user initialises libcurl again (arca-run's volume report). */
    assert_int_equal(arcarun_curl_get(&l, &api), 0);
    check_usable(api);
    arcarun_curl_done(&l);
    arcarun_curl_done(&l);
}

static void test_get_without_preload(void **state)
{
    (void)state;
    struct arcarun_curl_loader l = {0};
    const struct arcarun_curl *api = NULL;
    assert_int_equal(arcarun_curl_get(&l, &api), 0);
    check_usable(api);
    arcarun_curl_done(&l);
}

static void test_done_without_get(void **state)
{
    (void)state;
    /* An early failure in arca-run: the thread is waited for, nothing else happens. */
    struct arcarun_curl_loader l = {0};
    arcarun_curl_preload(&l);
    arcarun_curl_done(&l);
    assert_false(l.started);
    assert_false(l.loaded);
    arcarun_curl_done(NULL);
    assert_int_equal(arcarun_curl_get(NULL, NULL), ARCA_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preload_then_get),
        cmocka_unit_test(test_get_without_preload),
        cmocka_unit_test(test_done_without_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
