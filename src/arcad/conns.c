/* Connection admission for one arcad worker: see conns.h. */
#include "conns.h"

#include <stdlib.h>
#include <string.h>

static void list_push(struct arcad_conn_list *l, struct arcad_conn *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_unlink(struct arcad_conn_list *l, struct arcad_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

/* Takes c out of its phase's list and counts; it is then in no list and counted nowhere. */
static void detach(struct arcad_conns *t, struct arcad_conn *c)
{
    switch (c->phase) {
    case ARCAD_CONN_NEW:
        list_unlink(&t->fresh, c);
        break;
    case ARCAD_CONN_HANDSHAKE:
    case ARCAD_CONN_HEAD:
        list_unlink(&t->pending, c);
        t->npending--;
        break;
    case ARCAD_CONN_IDLE:
        list_unlink(&t->idle, c);
        t->nactive--;
        break;
    case ARCAD_CONN_ACTIVE:
        t->nactive--;
        break;
    case ARCAD_CONN_CLOSING:
    case ARCAD_CONN_REFUSED:
    default:
        break;
    }
}

static void give_up(struct arcad_conns *t, struct arcad_conn *c, enum arcad_close_reason why)
{
    detach(t, c);
    c->phase = ARCAD_CONN_CLOSING;
    t->closed[why]++;
    /* The transport may free c from here on (arcad_conns_gone): do not touch it after. */
    t->close(c, t->close_arg);
}

void arcad_conns_init(struct arcad_conns *t, const struct arcad_conn_limits *lim,
                      void (*close)(struct arcad_conn *c, void *arg), void *close_arg)
{
    memset(t, 0, sizeof(*t));
    t->lim = *lim;
    if (t->lim.max_pending < 1)
        t->lim.max_pending = 1;
    if (t->lim.max_pending > ARCAD_MAX_PENDING_LIMIT)
        t->lim.max_pending = ARCAD_MAX_PENDING_LIMIT;
    if (t->lim.max_pending_per_peer < 1)
        t->lim.max_pending_per_peer = 1;
    t->close = close;
    t->close_arg = close_arg;
}

struct arcad_conn *arcad_conns_open(struct arcad_conns *t, void *handle, int64_t now_ms)
{
    struct arcad_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->phase = ARCAD_CONN_NEW;
    c->table = t;
    c->opened_ms = now_ms;
    c->handle = handle;
    list_push(&t->fresh, c);
    return c;
}

struct arcad_conn *arcad_conns_fresh(struct arcad_conns *t)
{
    return t->fresh.head;
}

void arcad_conns_admit(struct arcad_conns *t, struct arcad_conn *c, const uint8_t *peer)
{
    if (c->phase != ARCAD_CONN_NEW)
        return;
    list_unlink(&t->fresh, c);
    memcpy(c->peer, peer, ARCAD_PEER_LEN);

    /* One pass: how many this peer holds, and its oldest. */
    size_t mine = 0;
    struct arcad_conn *oldest_mine = NULL;
    for (struct arcad_conn *p = t->pending.head; p != NULL; p = p->next) {
        if (memcmp(p->peer, peer, ARCAD_PEER_LEN) == 0) {
            if (oldest_mine == NULL)
                oldest_mine = p;
            mine++;
        }
    }
    if (oldest_mine != NULL && mine >= (size_t)t->lim.max_pending_per_peer)
        give_up(t, oldest_mine, ARCAD_CLOSE_PEER_CAP);
    if (t->npending >= (size_t)t->lim.max_pending)
        arcad_conns_evict_oldest(t, ARCAD_CLOSE_PENDING_CAP);
    /* Pending connections count in --max-connections. When all of it is taken by connections
     * with requests, c still gets its handshake so that it can be told 503. */
    if (t->npending + t->nactive >= (size_t)t->lim.max_conns)
        arcad_conns_evict_oldest(t, ARCAD_CLOSE_PENDING_CAP);

    c->phase = ARCAD_CONN_HANDSHAKE;
    c->deadline_ms = c->opened_ms + t->lim.handshake_ms;
    list_push(&t->pending, c);
    t->npending++;
}

void arcad_conns_handshake_done(struct arcad_conns *t, struct arcad_conn *c, int64_t now_ms)
{
    if (c->phase == ARCAD_CONN_HANDSHAKE) {
        c->phase = ARCAD_CONN_HEAD; /* stays in place: the pending list is in accept order */
        c->deadline_ms = now_ms + t->lim.request_ms;
    }
}

bool arcad_conns_request(struct arcad_conns *t, struct arcad_conn *c)
{
    switch (c->phase) {
    case ARCAD_CONN_ACTIVE:
        return true;
    case ARCAD_CONN_IDLE:
        list_unlink(&t->idle, c);
        c->phase = ARCAD_CONN_ACTIVE;
        return true;
    case ARCAD_CONN_NEW:
    case ARCAD_CONN_HANDSHAKE:
    case ARCAD_CONN_HEAD:
        detach(t, c);
        if (t->nactive >= (size_t)t->lim.max_conns) {
            c->phase = ARCAD_CONN_REFUSED;
            return false;
        }
        c->phase = ARCAD_CONN_ACTIVE;
        t->nactive++;
        return true;
    case ARCAD_CONN_CLOSING:
    case ARCAD_CONN_REFUSED:
    default:
        return false;
    }
}

void arcad_conns_answered(struct arcad_conns *t, struct arcad_conn *c, int64_t now_ms)
{
    if (c->phase != ARCAD_CONN_ACTIVE)
        return;
    c->phase = ARCAD_CONN_IDLE;
    c->deadline_ms = now_ms + t->lim.request_ms;
    list_push(&t->idle, c);
}

void arcad_conns_gone(struct arcad_conns *t, struct arcad_conn *c)
{
    if (c == NULL)
        return;
    detach(t, c);
    free(c);
}

int64_t arcad_conns_expire(struct arcad_conns *t, int64_t now_ms)
{
    int64_t next = -1;
    struct arcad_conn *p = t->pending.head;
    while (p != NULL) {
        struct arcad_conn *n = p->next;
        if (p->deadline_ms <= now_ms)
            give_up(t, p,
                    p->phase == ARCAD_CONN_HANDSHAKE ? ARCAD_CLOSE_HANDSHAKE_DEADLINE
                                                     : ARCAD_CLOSE_REQUEST_DEADLINE);
        else if (next < 0 || p->deadline_ms < next)
            next = p->deadline_ms;
        p = n;
    }
    /* Idle deadlines are in list order (same timeout from the answer). */
    while (t->idle.head != NULL && t->idle.head->deadline_ms <= now_ms)
        give_up(t, t->idle.head, ARCAD_CLOSE_REQUEST_DEADLINE);
    if (t->idle.head != NULL && (next < 0 || t->idle.head->deadline_ms < next))
        next = t->idle.head->deadline_ms;
    return next;
}

bool arcad_conns_evict_oldest(struct arcad_conns *t, enum arcad_close_reason reason)
{
    if (t->pending.head == NULL)
        return false;
    give_up(t, t->pending.head, reason);
    return true;
}

const char *arcad_close_reason_name(enum arcad_close_reason r)
{
    static const char *const names[ARCAD_CLOSE_REASONS] = {"handshake_deadline", "request_deadline",
                                                           "pending_cap", "peer_cap", "fd_limit"};
    return (unsigned)r < ARCAD_CLOSE_REASONS ? names[r] : "other";
}
