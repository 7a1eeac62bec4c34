/*
 * Governance: the time to verify the approvals of one update and judge it (arca_approval_verify
 * + arca_approval_explain of a require-at-least-(F+1) rule over a board of N signers, every
 * member signing), for N = 3, 10, 50 and Ed25519 / ECDSA P-256 / P-384 keys. Prints updates/s
 * and the per-signature verify rate, to set beside `openssl speed` (bench/govern.sh). "cold"
 * parses every signer key each time (arca_approval_verify); "cached" keeps parsed keys between
 * updates (arca_approval_verify_cached), as a long-running verifier would. Storing
 * the version is the store's cost (bench_store), not counted here.
 * Usage: bench_govern [SECONDS per case]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "bench_util.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "policy/session.h"

#define PROG "bench_govern"

static void run(enum arca_key_type t, size_t n, double secs, bool cached)
{
    struct arca_key **k = calloc(n, sizeof(*k));
    struct arca_buf *pub = calloc(n, sizeof(*pub)), *sig = calloc(n, sizeof(*sig));
    struct arca_approval_sig *s = calloc(n, sizeof(*s));
    struct arca_ap_node *leaves = calloc(n, sizeof(*leaves));
    if (k == NULL || pub == NULL || sig == NULL || s == NULL || leaves == NULL)
        bench_die(PROG, "out of memory");
    uint8_t msg[32];
    memset(msg, 0x5a, sizeof(msg));
    for (size_t i = 0; i < n; i++) {
        arca_buf_init(&pub[i], 0);
        arca_buf_init(&sig[i], 0);
        if (arca_key_generate(t, &k[i]) < 0 || arca_key_spki_der(k[i], &pub[i]) < 0 ||
            arca_approval_sign(k[i], msg, &sig[i]) < 0 || arca_key_id(k[i], leaves[i].key_id) < 0)
            bench_die(PROG, "keys");
        leaves[i].kind = ARCA_AP_SIGNER;
        s[i] = (struct arca_approval_sig){pub[i].data, pub[i].len, sig[i].data, sig[i].len};
    }
    struct arca_ap_node board = {.kind = ARCA_AP_AT_LEAST,
                                 .threshold = (uint32_t)(n / 2 + 1),
                                 .children = leaves,
                                 .n_children = n};
    struct arca_ap_rule rule = {.written = true, .entries = &board, .n_entries = 1};
    struct arca_approval_cache *cache = NULL;
    if (cached && arca_approval_cache_new(1024, &cache) < 0)
        bench_die(PROG, "cache");
    size_t iters = 0;
    double t0 = bench_now_s(), t1 = t0;
    while (t1 - t0 < secs) {
        struct arca_approvers ap;
        struct arca_buf why;
        bool ok = false;
        arca_buf_init(&why, 0);
        if (arca_approval_verify_cached(cache, msg, s, n, &ap) < 0)
            bench_die(PROG, "verify");
        struct arca_access_subject subj = {.approvers = (const uint8_t(*)[32])ap.ids,
                                           .approver_count = ap.count};
        if (arca_approval_explain(&rule, &subj, "update", &ok, &why) < 0 || !ok)
            bench_die(PROG, "judge");
        arca_approvers_clear(&ap);
        arca_buf_free(&why);
        iters++;
        t1 = bench_now_s();
    }
    double per = (t1 - t0) / (double)iters;
    arca_approval_cache_free(cache);
    printf("%-8s N=%-3zu %-6s %10.1f updates/s  %8.3f ms/update  %10.0f signature verifies/s\n",
           arca_key_type_name(t), n, cached ? "cached" : "cold", 1.0 / per, per * 1e3,
           (double)n / per);
    for (size_t i = 0; i < n; i++) {
        arca_key_free(k[i]);
        arca_buf_free(&pub[i]);
        arca_buf_free(&sig[i]);
    }
    free(k);
    free(pub);
    free(sig);
    free(s);
    free(leaves);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0)
        secs = 1.0;
    static const enum arca_key_type types[] = {ARCA_KEY_ED25519, ARCA_KEY_P256, ARCA_KEY_P384};
    static const size_t sizes[] = {3, 10, 50};
    for (size_t a = 0; a < 3; a++)
        for (size_t i = 0; i < 3; i++)
            for (int c = 0; c < 2; c++)
                run(types[a], sizes[i], secs, c == 1);
    return 0;
}
