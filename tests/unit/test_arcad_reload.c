/* SIGHUP's collateral sources (reload.c): the PCS / KDS URLs and SNP certificates a reload
 * publishes reach every tracked source, a bad URL keeps the one in use, and verifications that
 * copy their sources while reloads run always see a consistent, live set (threads copying
 * under the swap lock while the main thread reloads; ASan builds catch a freed set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "base/log.h"
#include "evidence/collateral_select.h"
#include "reload.h"

#define URL_A "http://127.0.0.1:1/a"
#define URL_B "https://pccs.example/b"

struct reader {
    struct arca_evidence_sources *src;
    atomic_bool *stop;
    atomic_long copies;
    long bad;
};

/* A copy is consistent when fetching is on exactly when a URL is set, and the URL is one that
 * some reload published (its bytes still readable). */
static void *read_loop(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(r->stop)) {
        struct arca_evidence_sources c;
        arca_evidence_sources_snapshot(r->src, &c);
        bool ok =
            c.pcs_fetch == (c.pcs_url != NULL) &&
            (c.pcs_url == NULL || strcmp(c.pcs_url, URL_A) == 0 || strcmp(c.pcs_url, URL_B) == 0) &&
            (c.n_snp_paths == 0 || strcmp(c.snp_paths[0], "/") == 0);
        r->bad += !ok;
        atomic_fetch_add(&r->copies, 1);
    }
    return NULL;
}

static void test_reload_publishes_and_keeps(void **state)
{
    (void)state;
    arca_log_set_level(ARCA_LOG_OFF); /* a line per change: hundreds */
    struct arcad_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(arcad_reload_new(&ctx.reloader), 0);
    struct arca_evidence_sources fetcher, peer;
    memset(&fetcher, 0, sizeof(fetcher));
    memset(&peer, 0, sizeof(peer));
    arcad_sources_track(ctx.reloader, &fetcher, true);
    arcad_sources_track(ctx.reloader, &peer, false);
    assert_non_null(fetcher.swap_lock);

    atomic_bool stop = false;
    struct reader rd[2] = {{&fetcher, &stop, 0, 0}, {&fetcher, &stop, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, read_loop, &rd[i]), 0);

    const struct arcad_sources a = {NULL, URL_A, NULL, "/"}, b = {NULL, URL_B, URL_B, NULL},
                               bad = {NULL, "ftp://x", "no url", NULL}, none = {0};
    for (int round = 0; round < 200; round++) {
        arcad_sources_reload(&ctx, &a);
        arcad_sources_reload(&ctx, &b);
    }
    /* the last values published */
    assert_true(fetcher.pcs_fetch && strcmp(fetcher.pcs_url, URL_B) == 0);
    assert_true(fetcher.kds_fetch && strcmp(fetcher.kds_url, URL_B) == 0);
    assert_int_equal(fetcher.n_snp_paths, 0);
    /* bad URLs keep the ones in use */
    arcad_sources_reload(&ctx, &bad);
    assert_string_equal(fetcher.pcs_url, URL_B);
    assert_string_equal(fetcher.kds_url, URL_B);
    /* a peer's sources get the SNP certificates but never fetch */
    arcad_sources_reload(&ctx, &a);
    assert_false(peer.pcs_fetch);
    assert_null(peer.pcs_url);
    assert_int_equal(peer.n_snp_paths, 1);
    assert_string_equal(peer.snp_paths[0], "/");
    arcad_sources_reload(&ctx, &none);
    assert_false(fetcher.pcs_fetch || fetcher.kds_fetch);
    assert_int_equal(peer.n_snp_paths, 0);

    for (int i = 0; i < 2; i++) /* each reader copied at least once, however busy the machine */
        while (atomic_load(&rd[i].copies) == 0)
            sched_yield();
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(rd[i].bad, 0);
    }
    arcad_reload_free(ctx.reloader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_publishes_and_keeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
