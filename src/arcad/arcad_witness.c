/* arcad's freshness witnesses (arcad_witness.h). */
#include "arcad_witness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "witness/witness.h"

/* The store meta key that says "this state has been witnessed" (value: the witness labels). */
#define META_KEY "witness"
#define EVENT_REFUSED "witness_refused"

struct arcad_witness {
    struct arca_witness *set;
    struct arca_store_hook hook;
    bool mark;    /* the state was never witnessed: arcad_witness_start records that it is */
    bool peers;   /* an arcad:// witness is in the set */
    bool started; /* arcad_witness_start ran: arcad serves */
    bool refused; /* the open-time check failed */
    int refused_rc;
    char why[ARCA_ERR_DETAIL_MAX];
    struct arca_store *store;
    struct arca_audit *audit;
    unsigned interval_s;
    pthread_t thread;
    bool running, stop;
    pthread_mutex_t mu;
    pthread_cond_t cond;
};

static int on_opened(void *ctx, struct arca_store *s, uint64_t commit)
{
    struct arcad_witness *aw = ctx;
    struct arca_buf v;
    arca_buf_init(&v, 4096);
    int rc = arca_store_meta_get(s, META_KEY, &v);
    arca_buf_free(&v);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
        return rc;
    aw->mark = rc == ARCA_ERR_NOT_FOUND;
    aw->refused = false;
    uint64_t value = 0;
    rc = arca_witness_check(aw->set, commit, aw->mark, &value);
    if (rc < 0) {
        aw->refused = true;
        aw->refused_rc = rc;
        snprintf(aw->why, sizeof(aw->why), "%s", arca_err_detail());
        return rc;
    }
    arca_info("witness", "state at commit %llu, witnesses at %llu (%zu of %zu needed)",
              (unsigned long long)commit, (unsigned long long)value, arca_witness_quorum(aw->set),
              arca_witness_count(aw->set));
    return 0;
}

/* Commits made while arcad starts (audit log, owner record, the "witnessed" mark) may find
 * peer witnesses between their start-up server and their real one (a second or so without a
 * listener): retried this many times, a second apart, before the start fails. */
#define START_RECORD_TRIES 15

static int on_committed(void *ctx, uint64_t commit, bool retry)
{
    struct arcad_witness *aw = ctx;
    /* a retry may find some witnesses at commit already (they got it before the failure) */
    if (retry)
        return arca_witness_check(aw->set, commit, false, NULL);
    int rc = arca_witness_record(aw->set, commit);
    for (int i = 1; rc == ARCA_ERR_NETWORK && aw->peers && !aw->started && i <= START_RECORD_TRIES;
         i++) {
        arca_warn("witness", "start: commit %llu: %s; try %d of %d in 1 s",
                  (unsigned long long)commit, arca_err_detail(), i, START_RECORD_TRIES);
        sleep(1);
        rc = arca_witness_check(aw->set, commit, false, NULL);
    }
    return rc;
}

int arcad_witness_new(const char *const *specs, size_t n, const struct arca_store_sealer *sealer,
                      const uint8_t cas_key[32], const struct arca_witness_peers *peers,
                      struct arcad_witness **out)
{
    ARCA_ENSURE_REF(sealer);
    ARCA_ENSURE_REF(cas_key);
    ARCA_ENSURE_REF(out);
    struct arcad_witness *aw = calloc(1, sizeof(*aw));
    if (aw == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "witness");
    pthread_mutex_init(&aw->mu, NULL);
    pthread_cond_init(&aw->cond, NULL);
    uint8_t seal[ARCA_STORE_KEY_LEN], key[ARCA_WITNESS_KEY_LEN];
    int rc = sealer->get_key(sealer->ctx, "arca-witness", seal);
    if (rc == 0)
        rc = arca_hkdf(ARCA_SHA256, cas_key, 32, seal, sizeof(seal), "arca-witness-v1", 15, key,
                       sizeof(key));
    if (rc == 0)
        rc = arca_witness_open_peers(specs, n, key, peers, &aw->set);
    arca_wipe(seal, sizeof(seal));
    arca_wipe(key, sizeof(key));
    if (rc < 0) {
        arcad_witness_free(aw);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (strncmp(specs[i], "file:", 5) == 0)
            arca_warn("witness",
                      "%s: a file witness is for tests only; the host can roll it back with the "
                      "data directory",
                      specs[i]);
    aw->peers = arcad_witness_has_peers(aw);
    aw->hook.opened = on_opened;
    aw->hook.committed = on_committed;
    aw->hook.ctx = aw;
    *out = aw;
    return 0;
}

const struct arca_store_hook *arcad_witness_hook(struct arcad_witness *aw)
{
    return aw != NULL ? &aw->hook : NULL;
}

bool arcad_witness_has_peers(const struct arcad_witness *aw)
{
    for (size_t i = 0; aw != NULL && i < arca_witness_count(aw->set); i++)
        if (strncmp(arca_witness_label(aw->set, i), "arcad://", 8) == 0)
            return true;
    return false;
}

bool arcad_witness_waiting(const struct arcad_witness *aw)
{
    return aw != NULL && aw->refused && aw->refused_rc == ARCA_ERR_NETWORK;
}

const char *arcad_witness_why(const struct arcad_witness *aw)
{
    return aw != NULL && aw->refused ? aw->why : "";
}

bool arcad_witness_refused(const struct arcad_witness *aw, const char **why)
{
    if (aw == NULL || !aw->refused)
        return false;
    if (why != NULL)
        *why = aw->why;
    return true;
}

static void *watch(void *arg)
{
    struct arcad_witness *aw = arg;
    pthread_mutex_lock(&aw->mu);
    while (!aw->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += aw->interval_s;
        int w = 0;
        while (!aw->stop && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&aw->cond, &aw->mu, &until);
        if (aw->stop)
            break;
        pthread_mutex_unlock(&aw->mu);
        int rc = arca_store_recheck(aw->store);
        if (rc == ARCA_ERR_TAMPERED) {
            char why[ARCA_ERR_DETAIL_MAX];
            snprintf(why, sizeof(why), "%s", arca_err_detail());
            arca_error("witness", "%s; stopping", why);
            json_t *f = json_pack("{s:s}", "reason", why);
            (void)arca_audit_append(aw->audit, EVENT_REFUSED, f, NULL);
            json_decref(f);
            kill(getpid(), SIGTERM);
        } else if (rc < 0) {
            arca_warn("witness", "%s", arca_err_detail());
        }
        pthread_mutex_lock(&aw->mu);
    }
    pthread_mutex_unlock(&aw->mu);
    return NULL;
}

int arcad_witness_start(struct arcad_witness *aw, struct arca_store *store,
                        struct arca_audit *audit, unsigned interval_s)
{
    ARCA_ENSURE_REF(aw);
    ARCA_ENSURE_REF(store);
    aw->store = store;
    aw->audit = audit;
    aw->interval_s = interval_s > 0 ? interval_s : 30;
    if (aw->mark) {
        char labels[ARCA_WITNESS_MAX * 170] = "";
        size_t off = 0;
        for (size_t i = 0; i < arca_witness_count(aw->set) && off < sizeof(labels); i++)
            off += (size_t)snprintf(labels + off, sizeof(labels) - off, "%s%s", i ? " " : "",
                                    arca_witness_label(aw->set, i));
        ARCA_TRY(arca_store_meta_put(store, META_KEY, labels, strlen(labels)));
        aw->mark = false;
    }
    aw->started = true;
    /* The thread starts before arcad_serve blocks SIGTERM/SIGINT for its signal wait; with them
     * unblocked here, a stop request delivered to this thread would take the default action and
     * kill arcad instead of stopping it in order. So it never takes any asynchronous signal. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&aw->thread, NULL, watch, aw);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    ARCA_ENSURE(e == 0, ARCA_ERR_INTERNAL, "witness: thread: %s", strerror(e));
    aw->running = true;
    return 0;
}

void arcad_witness_stop(struct arcad_witness *aw)
{
    if (aw == NULL || !aw->running)
        return;
    pthread_mutex_lock(&aw->mu);
    aw->stop = true;
    pthread_cond_broadcast(&aw->cond);
    pthread_mutex_unlock(&aw->mu);
    pthread_join(aw->thread, NULL);
    aw->running = false;
}

void arcad_witness_free(struct arcad_witness *aw)
{
    if (aw == NULL)
        return;
    arcad_witness_stop(aw);
    arca_witness_free(aw->set);
    pthread_cond_destroy(&aw->cond);
    pthread_mutex_destroy(&aw->mu);
    free(aw);
}

int arcad_witness_held_open(const char *data_dir, const struct arca_store_sealer *sealer,
                            struct arca_witness_held **out)
{
    ARCA_ENSURE_REF(data_dir);
    ARCA_ENSURE_REF(sealer);
    ARCA_ENSURE_REF(out);
    char path[4096];
    int w = snprintf(path, sizeof(path), "%s/witness-peers", data_dir);
    ARCA_ENSURE(w > 0 && (size_t)w < sizeof(path), ARCA_ERR_TOO_LARGE, "--data-dir too long");
    uint8_t key[ARCA_STORE_KEY_LEN];
    *out = NULL;
    int rc = sealer->get_key(sealer->ctx, "arca-witness-held", key);
    if (rc < 0) {
        /* an arcad opened through a successor slot inherits only the older build's purposes:
         * it serves no peer witness until restarted on its own seal */
        arca_warn("witness", "not serving as a peer witness: %s", arca_err_detail());
        return 0;
    }
    rc = arca_witness_held_open(path, key, out);
    arca_wipe(key, sizeof(key));
    return rc;
}
