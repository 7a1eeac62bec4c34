/*
 * A set of freshness witnesses with majority rule (witness.h).
 *
 * Why a majority and not "all": one witness that is down must not stop a quorum of peers from
 * serving, and two majorities always share a member, so the highest value a majority reports
 * is at least the newest epoch any earlier majority recorded.
 */
#include "witness/witness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

struct arca_witness {
    pthread_mutex_t mu; /* one record/read at a time: backends are not thread-safe */
    size_t n;
    struct arca_witness_backend b[ARCA_WITNESS_MAX];
    uint8_t key[ARCA_WITNESS_KEY_LEN];
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
    for (size_t i = 0; i < w->n; i++)
        if (w->b[i].free != NULL)
            w->b[i].free(w->b[i].impl);
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

/* Records epoch everywhere (w->mu held). A witness ahead is a refusal at once: the state
 * forked or was rolled back, and that does not get better by asking the others. */
static int record_locked(struct arca_witness *w, uint64_t epoch, bool catch_up)
{
    size_t ok = 0;
    char first[ARCA_ERR_DETAIL_MAX] = "", down[256] = "";
    for (size_t i = 0; i < w->n; i++) {
        int rc = w->b[i].record(w->b[i].impl, epoch);
        if (rc == ARCA_ERR_EXISTS && catch_up) {
            ok++; /* already there: it saw this commit before a crash or a restart */
        } else if (rc == ARCA_ERR_EXISTS) {
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "state forked: witness %s already holds commit %llu, which this "
                                "arcad has just made (another copy of this data directory is "
                                "serving, or it was rolled back)",
                                w->b[i].label, (unsigned long long)epoch);
        } else if (rc == 0) {
            ok++;
        } else if (rc == ARCA_ERR_TAMPERED) {
            return rc;
        } else {
            note_down(down, sizeof(down), w->b[i].label);
            if (first[0] == '\0')
                snprintf(first, sizeof(first), "%s", arca_err_detail());
        }
    }
    ARCA_ENSURE(ok >= arca_witness_quorum(w), ARCA_ERR_NETWORK,
                "witness: only %zu of %zu witnesses recorded commit %llu (%zu needed; no answer "
                "from %s): %s",
                ok, w->n, (unsigned long long)epoch, arca_witness_quorum(w), down, first);
    return 0;
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

static int check_locked(struct arca_witness *w, uint64_t state, bool allow_fresh, uint64_t *value)
{
    size_t answered = 0, fresh = 0, behind = 0, top = SIZE_MAX;
    uint64_t max = 0;
    char first[ARCA_ERR_DETAIL_MAX] = "", down[256] = "";
    for (size_t i = 0; i < w->n; i++) {
        uint64_t v = 0;
        int rc = w->b[i].read(w->b[i].impl, &v);
        if (rc == ARCA_ERR_NOT_FOUND) {
            answered++;
            fresh++;
            continue;
        }
        if (rc < 0) {
            note_down(down, sizeof(down), w->b[i].label);
            if (first[0] == '\0')
                snprintf(first, sizeof(first), "%s", arca_err_detail());
            continue;
        }
        answered++;
        behind += v < state;
        if (top == SIZE_MAX || v > max) {
            max = v;
            top = i;
        }
    }
    ARCA_ENSURE(answered >= arca_witness_quorum(w), ARCA_ERR_NETWORK,
                "witness: only %zu of %zu witnesses answered (%zu needed; no answer from %s): %s",
                answered, w->n, arca_witness_quorum(w), down, first);
    ARCA_ENSURE(top == SIZE_MAX || max <= state, ARCA_ERR_TAMPERED,
                "state rolled back: witness %s is at commit %llu but the state is at commit %llu "
                "(the data directory was replaced by an older copy)",
                w->b[top].label, (unsigned long long)max, (unsigned long long)state);
    /* A witness that lost its counter while the state says it had one was reset or replaced
     * by the host: re-initialising it at an old state is exactly the rollback it guards
     * against. Replacing a lost witness is an owner operation. */
    ARCA_ENSURE(fresh == 0 || allow_fresh, ARCA_ERR_TAMPERED,
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
