/*
 * Write transactions and group commit (engine.h arca_store_tx_*; docs/internals/store.md
 * "Writes and durability").
 *
 * Leader/follower, no writer thread and no timer: a transaction runs its statements holding
 * wmu as before; when it commits, it releases its writes into the open batch (the backend
 * transaction stays open) and, if other transactions are already waiting in tx_begin, hands the
 * writer to them and sleeps until the batch ends. The member that finds nobody waiting (or the
 * batch full) commits the batch for all: one backend COMMIT, one key-store rewrite and one
 * witness round, then wakes every member with the result. A lone transaction thus commits at
 * once, exactly as without batching.
 *
 * Every member of a batch shares one commit number (its journal entries carry s->commit + 1),
 * so the commit counter still counts backend commits and a crash between the COMMIT and the
 * key-store rewrite leaves the database exactly one commit ahead of the key-store, which open()
 * already tolerates. The first member runs directly in the backend transaction (its abort rolls
 * that back: nobody else is in it yet); later members each run inside a backend savepoint, so
 * that an abort or a failed statement undoes only their own writes.
 *
 * Pipelined durability: the leader gives wmu back right after the COMMIT and rewrites the
 * key-store and runs the witness round holding only ksmu, so the next batch runs its statements
 * meanwhile. The next batch's COMMIT takes ksmu first: it waits for that rewrite (and fails if
 * it failed or the witness refused), so the database is never more than one commit ahead of the
 * key-store. Members sleep on dmu, which nobody holds across I/O, and are woken only once their
 * own batch is durable (and witnessed).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "store/engine.h"
#include "store/keystore.h"

/* Members per batch at most: bounds a member's wait by the work of the others before it. */
#define BATCH_MAX 64

/* A member waiting for its batch (on its own stack, linked from s->gwait under wmu). It sleeps
 * on its own semaphore, posted once by whoever ends its batch: waking a batch wakes its members
 * only (not the next batch's, already asleep) and they need no shared mutex to return. */
struct arca_store_gwait {
    struct arca_store_gwait *next;
    bool done; /* under dmu (read by a member waiting for a rewrite's end) */
    int rc;
    char detail[ARCA_ERR_DETAIL_MAX];
    sem_t wake;
};

/* Under wmu and ksmu: repeats the freshness hook for the current commit. */
static int hook_retry(struct arca_store *s)
{
    if (s->hook.committed == NULL)
        return 0;
    int rc = s->hook.committed(s->hook.ctx, s->commit, true);
    if (rc < 0)
        return arca_err_wrap(rc,
                             "store: commit %llu is not witnessed; writes are refused until "
                             "it is",
                             (unsigned long long)s->commit);
    s->unwitnessed = false;
    return 0;
}

int arca_store_recheck(struct arca_store *s)
{
    ARCA_ENSURE_REF(s);
    pthread_mutex_lock(&s->wmu);
    pthread_mutex_lock(&s->ksmu);
    int rc = hook_retry(s);
    if (rc < 0)
        s->unwitnessed = s->hook.committed != NULL;
    pthread_mutex_unlock(&s->ksmu);
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/*
 * Shared backend, under wmu inside the backend transaction: locks the head row (so every other
 * process's writer waits for this transaction) and catches up with the commits other arcads
 * made since this one last wrote. Their head is accepted only with this store's MAC, and never
 * behind what this process already saw.
 */
static int head_sync(struct arca_store *s)
{
    struct arca_store_headrow h;
    ARCA_TRY(s->ops->head(s->be, true, &h));
    if (h.commit == s->commit && h.seq == s->seq && arca_memeq(h.head, s->head, 32))
        return 0;
    if (h.commit <= s->commit)
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: the database's head is at commit %llu but this arcad saw "
                            "commit %llu: the database was rolled back or modified",
                            (unsigned long long)h.commit, (unsigned long long)s->commit);
    ARCA_TRY(arca_store_head_verify(s, &h));
    s->commit = h.commit;
    s->seq = h.seq;
    memcpy(s->head, h.head, 32);
    return 0;
}

/* Shared backend, inside the write transaction: the head row names the chain after it. */
static int head_put(struct arca_store *s, uint64_t commit, uint64_t seq, const uint8_t head[32])
{
    struct arca_store_headrow h;
    memset(&h, 0, sizeof(h));
    h.commit = commit;
    h.seq = seq;
    memcpy(h.head, head, 32);
    h.has_mac = true;
    ARCA_TRY(arca_store_head_mac(s, &h, h.mac));
    return s->ops->head_put(s->be, &h);
}

/*
 * Hands rc (and this thread's detail) to every member of list and wakes them. A member returns
 * (its record is on its stack) once its semaphore is posted, so a record is not touched after
 * its post. gdone wakes only the members waiting for a rewrite's end (tx_commit), few.
 */
static void members_end(struct arca_store *s, struct arca_store_gwait *list, int rc, bool flushed)
{
    pthread_mutex_lock(&s->dmu);
    if (flushed)
        s->gflushing = false;
    for (struct arca_store_gwait *w = list; w != NULL; w = w->next) {
        w->rc = rc;
        if (rc < 0)
            snprintf(w->detail, sizeof(w->detail), "%s", arca_err_detail());
        w->done = true;
    }
    pthread_mutex_unlock(&s->dmu);
    pthread_cond_broadcast(&s->gdone); /* gdone lives in s: fine after the unlock */
    while (list != NULL) {
        struct arca_store_gwait *next = list->next;
        sem_post(&list->wake);
        list = next;
    }
}

/* Under wmu, once the batch's backend transaction ended (committed or rolled back): takes its
 * members out of the store for the caller to answer. */
static struct arca_store_gwait *batch_detach(struct arca_store *s, bool committed)
{
    struct arca_store_gwait *list = s->gwait;
    s->gwait = NULL;
    s->gmembers = 0;
    s->gopen = false;
    s->gbatch++;
    /* every backend transaction of the store ends here (commit or rollback): reads may fill
     * the record cache again, and a committed batch's records are in it already (cache.h) */
    arca_store_cache_tx_end(s->cache, committed);
    return list;
}

/* Under wmu: the transaction is rolled back and every member released into it fails with rc
 * (0: there was none). */
static void batch_end(struct arca_store *s, int rc)
{
    members_end(s, batch_detach(s, false), rc, false);
}

/* Under wmu and ksmu, before a COMMIT: the previous batch's key-store rewrite and witness round
 * have ended (ksmu); a failure of either stops this batch from landing, so the database never
 * runs more than one commit ahead of the key-store, nor past an unwitnessed commit. */
static int previous_durable(struct arca_store *s)
{
    if (s->broken)
        return arca_err_set(ARCA_ERR_IO, "store: a previous commit could not update the "
                                         "key-store; restart to recover");
    return s->unwitnessed ? hook_retry(s) : 0;
}

/* Holding ksmu, not wmu: makes commit ks->commit durable in the key-store and witnessed. */
static int batch_durable(struct arca_store *s, const struct arca_keystore *ks)
{
    int rc = arca_keystore_write(s->ks_path, s->seal, ks);
    if (rc < 0) {
        /* The database is one commit ahead of the key-store, which open() tolerates; a second
         * commit would not be, so stop writing until a restart re-seals. */
        s->broken = true;
        return arca_err_wrap(rc, "store: commit %llu landed but the key-store was not updated",
                             (unsigned long long)ks->commit);
    }
    if (s->hook.committed == NULL)
        return 0;
    /* Durable but not witnessed: the members hear it failed, and no further write lands until
     * the witness holds this commit (hook_retry). */
    rc = s->hook.committed(s->hook.ctx, ks->commit, false);
    if (rc < 0) {
        s->unwitnessed = true;
        return arca_err_wrap(rc, "store: commit %llu is durable but not witnessed",
                             (unsigned long long)ks->commit);
    }
    return 0;
}

/*
 * Under wmu with a batch open; returns with wmu released. Commits the batch (shared: head row
 * first) once the previous batch is durable, advances the in-memory chain, then, with wmu given
 * back to the next batch, rewrites the key-store and runs the witness hook once for the batch;
 * every member gets the result. With no member left (all aborted) the transaction is rolled
 * back instead.
 */
static int batch_commit(struct arca_store *s)
{
    if (s->gmembers == 0) {
        s->ops->rollback(s->be);
        batch_end(s, 0);
        pthread_mutex_unlock(&s->wmu);
        return 0;
    }
    pthread_mutex_lock(&s->ksmu);
    uint64_t commit = s->commit + 1;
    int rc = previous_durable(s);
    if (rc == 0 && s->ops->shared)
        rc = head_put(s, commit, s->gseq, s->ghead);
    if (rc == 0)
        rc = s->ops->commit(s->be);
    arca_store_rotation_end(s, rc == 0);
    if (rc < 0) {
        s->ops->rollback(s->be);
        pthread_mutex_unlock(&s->ksmu);
        batch_end(s, rc);
        pthread_mutex_unlock(&s->wmu);
        return rc;
    }
    s->commit = commit;
    s->seq = s->gseq;
    memcpy(s->head, s->ghead, 32);
    struct arca_keystore ks;
    memset(&ks, 0, sizeof(ks));
    memcpy(ks.dbkey, s->dbkey, sizeof(ks.dbkey));
    memcpy(ks.idxroot, s->idxroot, sizeof(ks.idxroot));
    ks.commit = s->commit;
    memcpy(ks.head, s->head, sizeof(ks.head));
    struct arca_store_gwait *list = batch_detach(s, true);
    pthread_mutex_lock(&s->dmu);
    s->gflushing = true;
    pthread_mutex_unlock(&s->dmu);
    pthread_mutex_unlock(&s->wmu);
    rc = batch_durable(s, &ks);
    arca_wipe(&ks, sizeof(ks));
    pthread_mutex_unlock(&s->ksmu);
    members_end(s, list, rc, true);
    return rc;
}

/* Under wmu, when a member's undo failed: the batch's transaction is in an unknown state, so
 * all of it goes, and every member released into it fails with rc. */
static void batch_fail(struct arca_store *s, int rc)
{
    s->ops->rollback(s->be);
    arca_store_rotation_end(s, false);
    batch_end(s, rc);
}

/* Releases wmu; an open batch is committed first unless a transaction waiting for wmu will
 * join it (that one, or the last member after it, commits). */
static void writer_release(struct arca_store *s)
{
    if (s->gopen && atomic_load(&s->gwaiting) == 0)
        (void)batch_commit(s); /* releases wmu */
    else
        pthread_mutex_unlock(&s->wmu);
}

/* Under wmu, returns with it held: commits any open batch (its members hear the result) and
 * waits for the last batch's key-store rewrite, so that the key-store on disk names s->commit
 * and no rewrite runs until wmu is released. */
static void writer_settle(struct arca_store *s)
{
    while (s->gopen) {
        (void)batch_commit(s);
        pthread_mutex_lock(&s->wmu);
    }
    pthread_mutex_lock(&s->ksmu);
    pthread_mutex_unlock(&s->ksmu);
}

void arca_store_writer_lock(struct arca_store *s)
{
    pthread_mutex_lock(&s->wmu);
    writer_settle(s);
}

static int tx_begin(struct arca_store *s, struct arca_store_tx *tx, bool alone)
{
    atomic_fetch_add(&s->gwaiting, 1);
    pthread_mutex_lock(&s->wmu);
    atomic_fetch_sub(&s->gwaiting, 1);
    if (alone)
        writer_settle(s);
    int rc = 0;
    if (s->broken) {
        rc = arca_err_set(ARCA_ERR_IO, "store: a previous commit could not update the "
                                       "key-store; restart to recover");
    } else if (s->gopen) {
        rc = s->ops->savepoint(s->be);
    } else {
        if (s->unwitnessed) {
            pthread_mutex_lock(&s->ksmu);
            rc = s->unwitnessed ? hook_retry(s) : 0;
            pthread_mutex_unlock(&s->ksmu);
        }
        if (rc == 0)
            rc = s->ops->begin(s->be);
        if (rc == 0 && s->ops->shared) {
            rc = head_sync(s);
            if (rc < 0)
                s->ops->rollback(s->be);
        }
        if (rc == 0) {
            s->gopen = true;
            s->gmembers = 0;
            s->gseq = s->seq;
            memcpy(s->ghead, s->head, 32);
        }
    }
    if (rc < 0) {
        writer_release(s);
        return rc;
    }
    memset(tx, 0, sizeof(*tx));
    tx->s = s;
    tx->commit = s->commit + 1;
    tx->seq = s->gseq;
    memcpy(tx->head, s->ghead, 32);
    tx->nested = s->gmembers > 0;
    tx->alone = alone;
    tx->stage_mark = arca_store_cache_stage_mark(s->cache);
    return 0;
}

int arca_store_tx_begin(struct arca_store *s, struct arca_store_tx *tx)
{
    return tx_begin(s, tx, false);
}

int arca_store_tx_begin_alone(struct arca_store *s, struct arca_store_tx *tx)
{
    return tx_begin(s, tx, true);
}

/* Under wmu: undoes tx's own writes; the batch keeps the earlier members'. */
static void tx_undo(struct arca_store_tx *tx)
{
    struct arca_store *s = tx->s;
    if (!tx->nested) {
        /* the first member: the backend transaction holds nothing else */
        s->ops->rollback(s->be);
        arca_store_rotation_end(s, false);
        batch_end(s, 0);
        return;
    }
    int rc = s->ops->rollback_to(s->be);
    arca_store_cache_stage_drop(s->cache, tx->stage_mark);
    if (rc < 0)
        batch_fail(s, arca_err_wrap(rc, "store: undoing a transaction of a group commit "
                                        "failed, the whole group is rolled back"));
}

void arca_store_tx_abort(struct arca_store_tx *tx)
{
    tx_undo(tx);
    writer_release(tx->s);
}

int arca_store_tx_commit(struct arca_store_tx *tx)
{
    struct arca_store *s = tx->s;
    int rc = tx->nested ? s->ops->release(s->be) : 0;
    if (rc < 0) {
        char detail[ARCA_ERR_DETAIL_MAX];
        snprintf(detail, sizeof(detail), "%s", arca_err_detail());
        tx_undo(tx);
        writer_release(s);
        return arca_err_set(rc, "%s", detail);
    }
    s->gseq = tx->seq;
    memcpy(s->ghead, tx->head, 32);
    s->gmembers++;
    struct arca_store_gwait me;
    memset(&me, 0, sizeof(me));
    sem_init(&me.wake, 0, 0); /* cannot fail: not shared, initial value 0 */
    me.next = s->gwait;
    s->gwait = &me;
    bool led = false;
    for (;;) {
        if (tx->alone || s->gmembers >= BATCH_MAX ||
            (atomic_load(&s->gwaiting) == 0 && !s->gflushing)) {
            (void)batch_commit(s); /* releases wmu; the detail of a failure stays here */
            led = true;
            break;
        }
        if (atomic_load(&s->gwaiting) > 0) {
            pthread_mutex_unlock(&s->wmu); /* one of them joins and owns the batch */
            break;
        }
        /* Nobody is waiting, but the previous batch is still being made durable and this
         * COMMIT would wait for it anyway: let the writers that arrive meanwhile run their
         * statements and join, then come back unless one of them (or any other member that
         * came back first) committed the batch. Not counted in gwaiting: a member hands the
         * batch only to a thread that will join it, and this one may find it gone. */
        unsigned long batch = s->gbatch;
        pthread_mutex_unlock(&s->wmu);
        pthread_mutex_lock(&s->dmu);
        while (s->gflushing && !me.done)
            pthread_cond_wait(&s->gdone, &s->dmu);
        bool answered = me.done; /* committed by someone else and durable already */
        pthread_mutex_unlock(&s->dmu);
        if (answered)
            break;
        pthread_mutex_lock(&s->wmu);
        if (s->gbatch != batch) {
            pthread_mutex_unlock(&s->wmu);
            break;
        }
    }
    /* posted exactly once, after the result is in me (members_end) */
    while (sem_wait(&me.wake) != 0 && errno == EINTR)
        ;
    sem_destroy(&me.wake);
    if (me.rc < 0 && !led)
        return arca_err_set(me.rc, "%s", me.detail);
    return me.rc;
}
