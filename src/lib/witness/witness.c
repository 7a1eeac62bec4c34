/*
 * A set of freshness witnesses with majority rule (witness.h).
 *
 * Why a majority and not "all": one witness that is down must not stop a quorum of peers from
 * serving, and two majorities always share a member, so the highest value a majority reports
 * is at least the newest epoch any earlier majority recorded.
 *
 * Why a thread per witness (sets of two or more): a round asks all witnesses at once and a
 * record returns as soon as a majority recorded, so a write waits for the quorum's slowest
 * member, not for the sum of all nor for a slow or dead one (each backend bounds its own
 * call: the peer channel's timeout). A witness still answering an earlier round gets the new
 * request queued (one deep: a newer one replaces it), and the round waits for it only if the
 * majority needs it; what it answers late is kept, and a late refusal (ahead, forked) refuses
 * the next round. A witness that failed is skipped for a back-off (1 s,
 * doubling to 30 s) while the others can make a majority without it, so a dead peer costs
 * nothing per write; when they cannot, it is asked anyway. A refused round waits for every
 * witness it asked, so its message names each one that did not answer.
 */
#include "witness/witness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

enum job { JOB_NONE, JOB_READ, JOB_RECORD };

/* One witness's worker and what it last answered; guarded by arca_witness.jm. */
struct arca_witness;
struct slot {
    struct arca_witness *w;
    size_t i;
    pthread_cond_t go;
    pthread_t thread;
    bool started;
    enum job job; /* to do (JOB_NONE: idle or busy with a taken job) */
    bool busy;    /* a job is taken and not answered yet */
    uint64_t epoch;
    bool catch_up;
    unsigned round; /* of the job taken or to do */
    /* the answer of round `answered` */
    unsigned answered;
    int rc;
    uint64_t value;
    char detail[ARCA_ERR_DETAIL_MAX];
    /* back-off after a failure (0: none) */
    int64_t retry_at_ms;
    int64_t backoff_ms;
};

struct arca_witness {
    pthread_mutex_t mu; /* one round (record or check) at a time */
    size_t n;
    struct arca_witness_backend b[ARCA_WITNESS_MAX];
    uint8_t key[ARCA_WITNESS_KEY_LEN];
    /* workers (n >= 2) */
    pthread_mutex_t jm;
    pthread_cond_t done; /* a worker answered */
    struct slot s[ARCA_WITNESS_MAX];
    unsigned round;
    bool stop;
    /* a refusal answered after its round was over: the next round returns it */
    int late_rc;
    char late[ARCA_ERR_DETAIL_MAX];
};

static int open_one(const char *spec, const uint8_t key[ARCA_WITNESS_KEY_LEN],
                    const struct arca_witness_peers *peers, struct arca_witness_backend *b)
{
    ARCA_ENSURE(spec != NULL && spec[0] != '\0', ARCA_ERR_INVALID_ARG, "witness: empty spec");
    if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0')
        return arca_witness_file_new(spec + 5, b);
    if (strcmp(spec, "tpm") == 0)
        return arca_witness_tpm_new(NULL, key, b);
    if (strncmp(spec, "tpm:", 4) == 0 && spec[4] != '\0')
        return arca_witness_tpm_new(spec + 4, key, b);
    if (strncmp(spec, "arcad://", 8) == 0 && peers != NULL)
        return arca_witness_peer_new(spec + 8, peers->self, peers->measurement, b);
    if (strncmp(spec, "arcad://", 8) == 0)
        return arca_err_set(ARCA_ERR_UNSUPPORTED, "witness %s: needs arcad's peer channel", spec);
    return arca_err_set(ARCA_ERR_INVALID_ARG,
                        "witness '%s': expected tpm, tpm:TCTI, arcad://HOST:PORT or file:PATH",
                        spec);
}

int arca_witness_open(const char *const *specs, size_t n, const uint8_t key[ARCA_WITNESS_KEY_LEN],
                      struct arca_witness **out)
{
    return arca_witness_open_peers(specs, n, key, NULL, out);
}

int arca_witness_open_peers(const char *const *specs, size_t n,
                            const uint8_t key[ARCA_WITNESS_KEY_LEN],
                            const struct arca_witness_peers *peers, struct arca_witness **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE(n == 0 || specs != NULL, ARCA_ERR_INVALID_ARG, "witness: no specs");
    ARCA_ENSURE(n <= ARCA_WITNESS_MAX, ARCA_ERR_LIMIT, "witness: %zu witnesses (at most %d)", n,
                ARCA_WITNESS_MAX);
    struct arca_witness *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "witness");
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->jm, NULL);
    pthread_cond_init(&w->done, NULL);
    for (size_t i = 0; i < ARCA_WITNESS_MAX; i++)
        pthread_cond_init(&w->s[i].go, NULL);
    memcpy(w->key, key, sizeof(w->key));
    for (size_t i = 0; i < n; i++) {
        struct arca_witness_backend b;
        memset(&b, 0, sizeof(b));
        int rc = open_one(specs[i], w->key, peers, &b);
        if (rc == 0)
            rc = arca_witness_add(w, &b);
        if (rc < 0) {
            arca_witness_free(w);
            return rc;
        }
    }
    *out = w;
    return 0;
}

int arca_witness_add(struct arca_witness *w, const struct arca_witness_backend *b)
{
    ARCA_ENSURE_REF(w);
    ARCA_ENSURE(b != NULL && b->read != NULL && b->record != NULL, ARCA_ERR_INVALID_ARG,
                "witness: incomplete backend");
    if (w->n >= ARCA_WITNESS_MAX) {
        if (b->free != NULL)
            b->free(b->impl);
        return arca_err_set(ARCA_ERR_LIMIT, "witness: at most %d witnesses", ARCA_WITNESS_MAX);
    }
    w->b[w->n++] = *b;
    return 0;
}

void arca_witness_free(struct arca_witness *w)
{
    if (w == NULL)
        return;
    /* workers finish the call they are in (bounded by the backend's own timeout) */
    pthread_mutex_lock(&w->jm);
    w->stop = true;
    for (size_t i = 0; i < w->n; i++)
        pthread_cond_broadcast(&w->s[i].go);
    pthread_mutex_unlock(&w->jm);
    for (size_t i = 0; i < w->n; i++)
        if (w->s[i].started)
            pthread_join(w->s[i].thread, NULL);
    for (size_t i = 0; i < w->n; i++)
        if (w->b[i].free != NULL)
            w->b[i].free(w->b[i].impl);
    for (size_t i = 0; i < ARCA_WITNESS_MAX; i++)
        pthread_cond_destroy(&w->s[i].go);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->jm);
    pthread_mutex_destroy(&w->mu);
    arca_wipe(w, sizeof(*w));
    free(w);
}

size_t arca_witness_count(const struct arca_witness *w)
{
    return w != NULL ? w->n : 0;
}

size_t arca_witness_quorum(const struct arca_witness *w)
{
    return w != NULL ? w->n / 2 + 1 : 1;
}

const char *arca_witness_label(const struct arca_witness *w, size_t i)
{
    return w != NULL && i < w->n ? w->b[i].label : "";
}

/* Appends label to the list of witnesses that did not answer ("a, b"), truncating quietly. */
static void note_down(char *list, size_t n, const char *label)
{
    size_t len = strlen(list);
    if (len < n)
        snprintf(list + len, n - len, "%s%s", len > 0 ? ", " : "", label);
}

/* A record answer that refuses a fresh commit (witness ahead, or at it: forked). */
static bool refuses(int rc, bool catch_up)
{
    return rc == ARCA_ERR_TAMPERED || (rc == ARCA_ERR_EXISTS && !catch_up);
}

/* Sets the error of a refusing record answer of witness i (rc, detail). */
static int refusal(const struct arca_witness *w, size_t i, int rc, const char *detail,
                   uint64_t epoch)
{
    if (rc == ARCA_ERR_EXISTS)
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "state forked: witness %s already holds commit %llu, which this "
                            "arcad has just made (another copy of this data directory is "
                            "serving, or it was rolled back)",
                            w->b[i].label, (unsigned long long)epoch);
    return arca_err_set(rc, "%s", detail);
}

/* Runs witness i's job of round r (w->jm held; released during the backend's call) and keeps
 * its answer: in the slot, in the back-off, and as a late refusal when r is over. */
static void run_job(struct arca_witness *w, size_t i, enum job job, uint64_t epoch, bool catch_up,
                    unsigned r)
{
    struct slot *s = &w->s[i];
    struct arca_witness_backend *b = &w->b[i];
    s->busy = true;
    pthread_mutex_unlock(&w->jm);
    uint64_t v = 0;
    int rc = job == JOB_READ ? b->read(b->impl, &v) : b->record(b->impl, epoch);
    char why[ARCA_ERR_DETAIL_MAX] = "";
    if (rc < 0)
        snprintf(why, sizeof(why), "%s", arca_err_detail());
    pthread_mutex_lock(&w->jm);
    s->busy = false;
    s->answered = r;
    s->rc = rc;
    s->value = v;
    memcpy(s->detail, why, sizeof(why));
    bool down =
        rc < 0 && rc != ARCA_ERR_NOT_FOUND && rc != ARCA_ERR_EXISTS && rc != ARCA_ERR_TAMPERED;
    if (down) {
        s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_FIRST_MS : s->backoff_ms * 2;
        if (s->backoff_ms > BACKOFF_MAX_MS)
            s->backoff_ms = BACKOFF_MAX_MS;
        s->retry_at_ms = arca_time_mono_ms() + s->backoff_ms;
    } else {
        s->backoff_ms = 0;
        s->retry_at_ms = 0;
    }
    if (r != w->round && job == JOB_RECORD && refuses(rc, catch_up) && w->late_rc == 0) {
        w->late_rc = refusal(w, i, rc, why, epoch);
        snprintf(w->late, sizeof(w->late), "%s", arca_err_detail());
    }
    pthread_cond_broadcast(&w->done);
}

static void *worker(void *arg)
{
    struct slot *s = arg;
    struct arca_witness *w = s->w;
    pthread_mutex_lock(&w->jm);
    for (;;) {
        while (!w->stop && s->job == JOB_NONE)
            pthread_cond_wait(&s->go, &w->jm);
        if (w->stop)
            break;
        enum job job = s->job;
        s->job = JOB_NONE;
        run_job(w, s->i, job, s->epoch, s->catch_up, s->round);
    }
    pthread_mutex_unlock(&w->jm);
    return NULL;
}

/* Hands witness i its job of round w->round (w->jm held): to its worker, or (a set of one, or
 * no thread to be had) done here. */
static void ask(struct arca_witness *w, size_t i, enum job job, uint64_t epoch, bool catch_up)
{
    struct slot *s = &w->s[i];
    if (w->n > 1 && !s->started) {
        s->w = w;
        s->i = i;
        /* the worker takes no asynchronous signal: arcad waits for SIGTERM in its own thread */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        s->started = pthread_create(&s->thread, NULL, worker, s) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (!s->started) {
        run_job(w, i, job, epoch, catch_up, w->round);
        return;
    }
    s->job = job;
    s->epoch = epoch;
    s->catch_up = catch_up;
    s->round = w->round;
    pthread_cond_signal(&s->go);
}

/* Returns (and forgets) a refusal answered after its round (w->jm held); 0 if none. */
static int take_late(struct arca_witness *w)
{
    int rc = w->late_rc;
    if (rc < 0) {
        w->late_rc = 0;
        arca_err_set(rc, "%s", w->late);
    }
    return rc;
}

/* Records epoch with the witnesses (w->mu and w->jm held). A fresh commit returns once a
 * majority recorded it; a catch-up (the check's), a refusal and a round short of a majority
 * wait for every witness asked, so the laggards are brought up and the refusal names each
 * witness that did not answer. */
static int record_round(struct arca_witness *w, uint64_t epoch, bool catch_up)
{
    ARCA_TRY(take_late(w));
    unsigned r = ++w->round;
    size_t q = arca_witness_quorum(w);
    int64_t now = arca_time_mono_ms();
    size_t ready = 0;
    for (size_t i = 0; i < w->n; i++)
        ready += w->s[i].retry_at_ms <= now;
    /* witnesses in back-off only when the others cannot make a majority on their own */
    bool spare_down = ready >= q;
    enum { ASKED, RESTING } how[ARCA_WITNESS_MAX];
    for (size_t i = 0; i < w->n; i++) {
        if (spare_down && w->s[i].retry_at_ms > now)
            how[i] = RESTING;
        else
            how[i] = ASKED;
    }
    for (size_t i = 0; i < w->n; i++)
        if (how[i] == ASKED)
            ask(w, i, JOB_RECORD, epoch, catch_up);
    size_t ok, failed, pending, first_refusal;
    for (;;) {
        ok = failed = pending = 0;
        first_refusal = SIZE_MAX;
        for (size_t i = 0; i < w->n; i++) {
            const struct slot *s = &w->s[i];
            if (how[i] != ASKED)
                failed++;
            else if (s->answered != r || s->busy)
                pending++;
            else if (s->rc == 0 || (s->rc == ARCA_ERR_EXISTS && catch_up))
                ok++;
            else if (refuses(s->rc, catch_up) && first_refusal == SIZE_MAX)
                first_refusal = i;
            else
                failed++;
        }
        if (first_refusal == SIZE_MAX && ok + pending < q) {
            /* short of a majority without the resting ones after all: ask them now */
            size_t woken = 0;
            for (size_t i = 0; i < w->n; i++)
                if (how[i] == RESTING) {
                    how[i] = ASKED;
                    ask(w, i, JOB_RECORD, epoch, catch_up);
                    woken++;
                }
            if (woken > 0)
                continue;
        }
        if (pending == 0 || (ok >= q && !catch_up && first_refusal == SIZE_MAX))
            break;
        pthread_cond_wait(&w->done, &w->jm);
    }
    w->round++; /* round r is over: what it still answers is late */
    if (first_refusal != SIZE_MAX) {
        const struct slot *s = &w->s[first_refusal];
        return refusal(w, first_refusal, s->rc, s->detail, epoch);
    }
    if (ok >= q)
        return 0;
    char first[ARCA_ERR_DETAIL_MAX] = "", down[256] = "";
    for (size_t i = 0; i < w->n; i++) {
        const struct slot *s = &w->s[i];
        char why[ARCA_ERR_DETAIL_MAX] = "";
        if (how[i] == RESTING)
            snprintf(why, sizeof(why), "witness %s: down, next try in %lld ms (%s)", w->b[i].label,
                     (long long)(s->retry_at_ms - now), s->detail);
        else if (s->rc < 0)
            snprintf(why, sizeof(why), "%s", s->detail);
        else
            continue;
        note_down(down, sizeof(down), w->b[i].label);
        if (first[0] == '\0')
            snprintf(first, sizeof(first), "%s", why);
    }
    return arca_err_set(ARCA_ERR_NETWORK,
                        "witness: only %zu of %zu witnesses recorded commit %llu (%zu needed; no "
                        "answer from %s): %s",
                        ok, w->n, (unsigned long long)epoch, q, down, first);
}

static int record_locked(struct arca_witness *w, uint64_t epoch, bool catch_up)
{
    pthread_mutex_lock(&w->jm);
    int rc = record_round(w, epoch, catch_up);
    pthread_mutex_unlock(&w->jm);
    return rc;
}

int arca_witness_record(struct arca_witness *w, uint64_t epoch)
{
    ARCA_ENSURE_REF(w);
    ARCA_ENSURE(w->n > 0, ARCA_ERR_INVALID_ARG, "witness: empty set");
    pthread_mutex_lock(&w->mu);
    int rc = record_locked(w, epoch, false);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Reads every witness (w->jm held) and waits for all answers: the start-up and periodic check
 * wants each one's word. */
static void read_all(struct arca_witness *w)
{
    unsigned r = ++w->round;
    for (size_t i = 0; i < w->n; i++)
        ask(w, i, JOB_READ, 0, false);
    for (size_t i = 0; i < w->n; i++)
        while (w->s[i].answered != r || w->s[i].busy)
            pthread_cond_wait(&w->done, &w->jm);
    w->round++;
}

static int check_locked(struct arca_witness *w, uint64_t state, bool allow_fresh, uint64_t *value)
{
    size_t answered = 0, fresh = 0, behind = 0, top = SIZE_MAX;
    uint64_t max = 0;
    char first[ARCA_ERR_DETAIL_MAX] = "", down[256] = "";
    pthread_mutex_lock(&w->jm);
    int late = take_late(w);
    if (late == 0)
        read_all(w);
    for (size_t i = 0; late == 0 && i < w->n; i++) {
        const struct slot *s = &w->s[i];
        if (s->rc == ARCA_ERR_NOT_FOUND) {
            answered++;
            fresh++;
            continue;
        }
        if (s->rc < 0) {
            note_down(down, sizeof(down), w->b[i].label);
            if (first[0] == '\0')
                snprintf(first, sizeof(first), "%s", s->detail);
            continue;
        }
        answered++;
        behind += s->value < state;
        if (top == SIZE_MAX || s->value > max) {
            max = s->value;
            top = i;
        }
    }
    pthread_mutex_unlock(&w->jm);
    ARCA_TRY(late);
    ARCA_ENSURE(answered >= arca_witness_quorum(w), ARCA_ERR_NETWORK,
                "witness: only %zu of %zu witnesses answered (%zu needed; no answer from %s): %s",
                answered, w->n, arca_witness_quorum(w), down, first);
    ARCA_ENSURE(top == SIZE_MAX || max <= state, ARCA_ERR_TAMPERED,
                "state rolled back: witness %s is at commit %llu but the state is at commit %llu "
                "(the data directory was replaced by an older copy)",
                w->b[top].label, (unsigned long long)max, (unsigned long long)state);
    /* A witness that lost its counter while the state says it had one was reset or replaced
     * by the host: re-initialising it at an old state is exactly the rollback it guards
     * against. Replacing a lost witness is an owner operation. A witness may also hold no
     * counter because it never got one (down at every commit so far, or stopped while a
     * round that had its majority already still ran on it): that is tolerated when the
     * witnesses that do hold a counter are a quorum themselves, because every commit was
     * recorded by a quorum and two quorums share a witness, so the rollback check above has
     * seen at least one witness of the newest commit without the fresh ones. */
    ARCA_ENSURE(fresh == 0 || allow_fresh || answered - fresh >= arca_witness_quorum(w),
                ARCA_ERR_TAMPERED,
                "witness lost: %zu witness(es) hold no counter for this state although it was "
                "witnessed before (the witness was reset or replaced; its replacement is an "
                "owner operation, docs/state-protection.md)",
                fresh);
    if (value != NULL)
        *value = max;
    /* bring laggards (down during a commit, or behind after a crash before their record) to
     * the state, so the next commit finds a majority at state */
    if (behind > 0 || fresh > 0)
        return record_locked(w, state, true);
    return 0;
}

int arca_witness_check(struct arca_witness *w, uint64_t state, bool allow_fresh, uint64_t *value)
{
    ARCA_ENSURE_REF(w);
    ARCA_ENSURE(w->n > 0, ARCA_ERR_INVALID_ARG, "witness: empty set");
    pthread_mutex_lock(&w->mu);
    int rc = check_locked(w, state, allow_fresh, value);
    pthread_mutex_unlock(&w->mu);
    return rc;
}
