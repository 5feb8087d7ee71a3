/* flow.c: the connection table.
 *
 * Connections come from a pool of slabs (no malloc per connection once
 * warm), are found through a seeded chained hash on the unordered 4-tuple,
 * and sit on three intrusive lists: creation order (for end-of-input and
 * deterministic iteration), activity age (idle expiry and eviction pick the
 * head), and the dead list of torn-down connections kept a while to absorb
 * stray packets (final ACKs, retransmitted FINs) without inventing new
 * connections. Nothing is freed while a caller holds it (`busy`). */
#include "flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csum.h"
#include "decode.h"
#include "hash.h"
#include "strayfin.h"
#include "tcp.h"

#define SLAB_CONNS  256
#define MIN_BUCKETS 1024
/* How long a torn-down connection absorbs stray packets: the last ACK, a FIN
 * retransmitted after a few backed-off timeouts (Zeek's tcp_close_delay is
 * the same 5 s); shortened by a shorter idle timeout. */
#define DEAD_LINGER 5.0
/* At most this many torn-down connections, or as many as live ones if that
 * is more: under heavy churn the oldest go first, so they never outweigh
 * the live set in memory and cache. */
#define MIN_DEAD_KEPT 4096
/* How long after an RST the other side's segments still in flight are
 * delivered before the connection closes (a generous round trip). */
#define RST_GRACE 1.0

struct slab {
    struct slab *next;
    struct ls_conn conns[SLAB_CONNS];
};

struct list {
    struct ls_conn *head, *tail;
};

struct ls_flow_table {
    struct ls_flow_config cfg;
    struct ls_flow_hooks hooks;
    struct ls_stats stats;
    struct ls_pool pool;
    struct ls_tcp_ctx tcp;
    double now;
    uint64_t next_id;
    uint64_t seed;
    struct ls_conn **buckets;
    uint32_t nbuckets; /* power of two */
    uint32_t count;    /* connections in the hash: live and dead */
    uint32_t ndead;
    uint32_t pending; /* close requests not yet acted on */
    struct slab *slabs;
    struct ls_conn *free_conns; /* linked through hash_next */
    uint32_t allocated;
    struct list order;     /* live, by creation */
    struct list age;       /* live, least recently active first */
    struct list dead;      /* dead, oldest first (linked through age_*) */
    struct list resetting; /* RST seen, by deadline (linked through reset_*) */
    /* Handshake segments with a new ISN on established connections, kept
     * until something proves that a new connection began on the same
     * endpoints (see keep_aside); when full, the oldest is replaced. */
    struct aside {
        const struct ls_conn *c;
        uint64_t id; /* c's, so a recycled connection never matches */
        double ts;
        struct ls_packet pkt; /* a SYN or SYN-ACK; header only */
    } aside[8];
    uint32_t aside_next;
    struct ls_strayfins stray_fins;
    bool replaying; /* a kept FIN goes in: its frame is gone */
};

/* ---- intrusive lists ---- */

#define LIST_PUSH(l, c, prev, next) \
    do {                            \
        (c)->prev = (l)->tail;      \
        (c)->next = NULL;           \
        if ((l)->tail)              \
            (l)->tail->next = (c);  \
        else                        \
            (l)->head = (c);        \
        (l)->tail = (c);            \
    } while (0)

#define LIST_REMOVE(l, c, prev, next)    \
    do {                                 \
        if ((c)->prev)                   \
            (c)->prev->next = (c)->next; \
        else                             \
            (l)->head = (c)->next;       \
        if ((c)->next)                   \
            (c)->next->prev = (c)->prev; \
        else                             \
            (l)->tail = (c)->prev;       \
        (c)->prev = (c)->next = NULL;    \
    } while (0)

/* ---- config ---- */

void ls_flow_config_default(struct ls_flow_config *cfg)
{
    cfg->max_connections = 1000000;
    cfg->idle_timeout = 300.0;
    cfg->max_conn_buffer = (size_t)1 << 20;
    cfg->max_buffer = (size_t)256 << 20;
    cfg->deliver = LS_DELIVER_ACK;
    cfg->overlap = LS_OVERLAP_LINUX;
    cfg->check_senders = true;
}

const char *ls_conn_state_name(enum ls_conn_state st)
{
    static const char *const names[] = {"syn_sent",    "syn_received", "established",
                                        "half_closed", "closing",      "closed"};
    return (unsigned)st < LS_ARRAY_SIZE(names) ? names[st] : "unknown";
}

/* ---- hashing ---- */

/* Hash of one endpoint; the two are combined symmetrically so that both
 * directions of a connection land in the same bucket. */
static uint64_t endpoint_hash(uint64_t seed, const uint8_t ip[16], uint16_t port)
{
    return ls_mix64(seed ^ ls_load64(ip) ^ ls_mix64(ls_load64(ip + 8) + port));
}

static uint32_t packet_hash(const struct ls_flow_table *ft, const struct ls_packet *pkt)
{
    uint64_t a = endpoint_hash(ft->seed, pkt->src, pkt->sport);
    uint64_t b = endpoint_hash(ft->seed, pkt->dst, pkt->dport);
    return (uint32_t)ls_mix64((a + b) ^ (uint64_t)pkt->af);
}

static struct ls_conn *find(struct ls_flow_table *ft, const struct ls_packet *pkt, uint32_t hash,
                            int *dir)
{
    for (struct ls_conn *c = ft->buckets[hash & (ft->nbuckets - 1)]; c; c = c->hash_next) {
        if (c->hash == hash && (*dir = ls_conn_packet_dir(c, pkt)) >= 0)
            return c;
    }
    return NULL;
}

static void hash_insert(struct ls_flow_table *ft, struct ls_conn *c)
{
    struct ls_conn **b = &ft->buckets[c->hash & (ft->nbuckets - 1)];
    c->hash_next = *b;
    *b = c;
    ft->count++;
}

static void hash_remove(struct ls_flow_table *ft, struct ls_conn *c)
{
    struct ls_conn **p = &ft->buckets[c->hash & (ft->nbuckets - 1)];
    while (*p != c)
        p = &(*p)->hash_next;
    *p = c->hash_next;
    ft->count--;
}

/* Doubles the bucket array when the table is fuller than one per bucket.
 * Failure is harmless: chains just grow longer. */
static void maybe_grow(struct ls_flow_table *ft)
{
    if (ft->count < ft->nbuckets)
        return;
    uint32_t n = ft->nbuckets * 2;
    struct ls_conn **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (uint32_t i = 0; i < ft->nbuckets; i++) {
        struct ls_conn *c = ft->buckets[i];
        while (c) {
            struct ls_conn *next = c->hash_next;
            c->hash_next = b[c->hash & (n - 1)];
            b[c->hash & (n - 1)] = c;
            c = next;
        }
    }
    free(ft->buckets);
    ft->buckets = b;
    ft->nbuckets = n;
}

/* ---- table ---- */

struct ls_flow_table *ls_flow_new(const struct ls_flow_config *cfg,
                                  const struct ls_flow_hooks *hooks)
{
    struct ls_flow_table *ft = calloc(1, sizeof *ft);
    if (!ft)
        return NULL;
    ft->cfg = *cfg;
    if (ft->cfg.max_connections == 0)
        ft->cfg.max_connections = 1;
    ft->hooks = *hooks;
    ft->nbuckets = MIN_BUCKETS;
    ft->buckets = calloc(ft->nbuckets, sizeof *ft->buckets);
    if (!ft->buckets) {
        free(ft);
        return NULL;
    }
    /* A secret seed keeps crafted 4-tuples from piling into one chain;
     * iteration never follows the hash, so output stays deterministic. */
    if (getentropy(&ft->seed, sizeof ft->seed) != 0)
        ft->seed = (uint64_t)(uintptr_t)ft ^ 0x9e3779b97f4a7c15ULL;
    ls_strayfin_init(&ft->stray_fins);
    ls_pool_init(&ft->pool, cfg->max_buffer);
    ls_tcp_ctx_init(&ft->tcp, &ft->pool, cfg->overlap, cfg->max_conn_buffer,
                    cfg->deliver == LS_DELIVER_ACK, &ft->hooks, &ft->stats);
    return ft;
}

void ls_flow_free(struct ls_flow_table *ft)
{
    if (!ft)
        return;
    for (struct slab *s = ft->slabs; s;) {
        for (int i = 0; i < SLAB_CONNS; i++)
            ls_tcp_discard(&ft->tcp, &s->conns[i]);
        struct slab *next = s->next;
        free(s);
        s = next;
    }
    ls_pool_close(&ft->pool);
    free(ft->buckets);
    free(ft);
}

double ls_flow_now(const struct ls_flow_table *ft)
{
    return ft->now;
}

struct ls_stats *ls_flow_stats(struct ls_flow_table *ft)
{
    ft->stats.buffered = ft->pool.in_use;
    ft->stats.peak_buffered = ft->pool.peak;
    ft->stats.forced_out = ft->tcp.rctx.forced;
    return &ft->stats;
}

const struct ls_flow_config *ls_flow_config(const struct ls_flow_table *ft)
{
    return &ft->cfg;
}

void ls_flow_foreach(struct ls_flow_table *ft, void (*fn)(void *ud, struct ls_conn *c), void *ud)
{
    for (struct ls_conn *c = ft->order.head; c; c = c->order_next)
        fn(ud, c);
}

void ls_flow_ignore(struct ls_flow_table *ft, struct ls_conn *c)
{
    if (c->flags & (LS_CONN_IGNORED | LS_CONN_DEAD))
        return;
    c->flags |= LS_CONN_IGNORED;
    ft->stats.ignored++;
}

void ls_flow_request_close(struct ls_flow_table *ft, struct ls_conn *c)
{
    if (c->flags & (LS_CONN_CLOSE_REQ | LS_CONN_DEAD))
        return;
    c->flags |= LS_CONN_CLOSE_REQ;
    ft->pending++;
}

/* ---- lifecycle ---- */

static void release(struct ls_flow_table *ft, struct ls_conn *c)
{
    LIST_REMOVE(&ft->dead, c, age_prev, age_next);
    hash_remove(ft, c);
    ft->ndead--;
    ls_tcp_discard(&ft->tcp, c);
    c->hash_next = ft->free_conns;
    ft->free_conns = c;
}

/* Ends a live connection: flush, `closed`, `teardown`, then it lingers dead. */
static void close_conn(struct ls_flow_table *ft, struct ls_conn *c, enum ls_close_reason why)
{
    if (c->flags & LS_CONN_RESET) {
        LIST_REMOVE(&ft->resetting, c, reset_prev, reset_next);
        if (why != LS_CLOSE_EVICTED)
            why = LS_CLOSE_RST; /* it ended with the reset, whatever came after */
    }
    c->busy++;
    ft->tcp.rctx.now = ft->now;
    ls_tcp_flush(&ft->tcp, c); /* with LS_CONN_RESET still set: where the stream ended */
    c->flags &= ~LS_CONN_RESET;
    c->state = LS_STATE_CLOSED;
    c->close_reason = why;
    ft->stats.closed[why]++;
    if (!(c->flags & LS_CONN_IGNORED))
        ft->hooks.closed(ft->hooks.ud, c, why);
    if (c->flags & LS_CONN_ANNOUNCED)
        ft->hooks.teardown(ft->hooks.ud, c);
    c->busy--;
    if (c->flags & LS_CONN_CLOSE_REQ)
        ft->pending--;
    c->flags = (c->flags | LS_CONN_DEAD) & ~LS_CONN_CLOSE_REQ;
    ls_tcp_discard(&ft->tcp, c);
    LIST_REMOVE(&ft->order, c, order_prev, order_next);
    LIST_REMOVE(&ft->age, c, age_prev, age_next);
    LIST_PUSH(&ft->dead, c, age_prev, age_next);
    c->last_activity = c->last_activity > ft->now ? c->last_activity : ft->now;
    ft->ndead++;
    ft->stats.active--;
    uint32_t keep = ft->stats.active > MIN_DEAD_KEPT ? (uint32_t)ft->stats.active : MIN_DEAD_KEPT;
    while (ft->ndead > keep)
        release(ft, ft->dead.head);
}

static void run_pending_closes(struct ls_flow_table *ft)
{
    for (struct ls_conn *c = ft->order.head; c && ft->pending;) {
        struct ls_conn *next = c->order_next;
        if ((c->flags & LS_CONN_CLOSE_REQ) && c->busy == 0)
            close_conn(ft, c, LS_CLOSE_END);
        c = next;
    }
}

/* Takes a connection from the pool, making room when the table is full:
 * first by dropping the oldest dead one, then by evicting the idlest live one. */
static struct ls_conn *take_conn(struct ls_flow_table *ft)
{
    uint32_t live = ft->count - ft->ndead;
    if (ft->count >= ft->cfg.max_connections && ft->dead.head)
        release(ft, ft->dead.head);
    else if (live >= ft->cfg.max_connections) {
        struct ls_conn *victim = ft->age.head;
        while (victim && victim->busy)
            victim = victim->age_next;
        if (!victim)
            return NULL;
        close_conn(ft, victim, LS_CLOSE_EVICTED);
        release(ft, victim);
    }
    if (!ft->free_conns) {
        struct slab *s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        s->next = ft->slabs;
        ft->slabs = s;
        for (int i = SLAB_CONNS - 1; i >= 0; i--) {
            s->conns[i].hash_next = ft->free_conns;
            ft->free_conns = &s->conns[i];
        }
    }
    struct ls_conn *c = ft->free_conns;
    ft->free_conns = c->hash_next;
    return c;
}

/* Picks the client side of a connection whose first packet is `pkt`: the
 * SYN's sender; the SYN-ACK's receiver; else the side on an ephemeral or
 * unprivileged port, the server being the well-known one (README documents
 * the order). Returns true when the packet's source is the client. */
static bool source_is_client(const struct ls_packet *pkt)
{
    if (pkt->flags & LS_TCP_SYN)
        return !(pkt->flags & LS_TCP_ACK);
    uint16_t s = pkt->sport, d = pkt->dport;
    if ((s < 1024) != (d < 1024))
        return d < 1024;
    if ((s >= 32768) != (d >= 32768))
        return s >= 32768;
    if (s != d)
        return s > d;
    return true;
}

static struct ls_conn *create(struct ls_flow_table *ft, const struct ls_packet *pkt, uint32_t hash,
                              double ts)
{
    struct ls_conn *c = take_conn(ft);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->id = ++ft->next_id;
    c->af = pkt->af;
    c->hash = hash;
    c->lua_ref = -1;
    if (source_is_client(pkt)) {
        memcpy(c->client_ip, pkt->src, 16);
        memcpy(c->server_ip, pkt->dst, 16);
        c->client_port = pkt->sport;
        c->server_port = pkt->dport;
    } else {
        memcpy(c->client_ip, pkt->dst, 16);
        memcpy(c->server_ip, pkt->src, 16);
        c->client_port = pkt->dport;
        c->server_port = pkt->sport;
    }
    if (!(pkt->flags & LS_TCP_SYN))
        c->flags |= LS_CONN_MIDSTREAM;
    c->start_time = c->last_activity = ts;
    ls_tcp_init(&ft->tcp, c);
    c->state = LS_STATE_SYN_SENT;
    hash_insert(ft, c);
    maybe_grow(ft);
    LIST_PUSH(&ft->order, c, order_prev, order_next);
    LIST_PUSH(&ft->age, c, age_prev, age_next);
    ft->stats.connections++;
    ft->stats.active++;
    if (ft->stats.active > ft->stats.peak_active)
        ft->stats.peak_active = ft->stats.active;

    c->flags |= LS_CONN_ANNOUNCED;
    c->busy++;
    bool keep = ft->hooks.open(ft->hooks.ud, c);
    c->busy--;
    if (!keep)
        ls_flow_ignore(ft, c);
    return c;
}

void ls_flow_advance(struct ls_flow_table *ft, double ts)
{
    if (ts <= ft->now) {
        /* Nothing can expire while the clock stands still. */
        if (ft->pending)
            run_pending_closes(ft);
        return;
    }
    ft->now = ts;
    double idle = ft->cfg.idle_timeout;
    struct ls_conn *c;
    while ((c = ft->age.head) && c->last_activity + idle < ft->now && c->busy == 0)
        close_conn(ft, c, LS_CLOSE_TIMEOUT);
    while ((c = ft->resetting.head) && c->reset_deadline <= ft->now && c->busy == 0)
        close_conn(ft, c, LS_CLOSE_RST);
    double linger = idle < DEAD_LINGER ? idle : DEAD_LINGER;
    while ((c = ft->dead.head) && c->last_activity + linger < ft->now)
        release(ft, c);
    if (ft->pending)
        run_pending_closes(ft);
}

uint32_t ls_flow_hash(const struct ls_flow_table *ft, const struct ls_packet *pkt)
{
    return packet_hash(ft, pkt);
}

void ls_flow_prefetch(const struct ls_flow_table *ft, const struct ls_packet *pkt, uint32_t hash,
                      int stage)
{
    struct ls_conn *const *b = &ft->buckets[hash & (ft->nbuckets - 1)];
    const struct ls_conn *c;

    if (stage == 0) {
        __builtin_prefetch(b);
        return;
    }
    if (stage == 1) {
        /* The whole connection: the lookup reads its first line, the
         * tracker most of the rest. */
        if ((c = *b) != NULL)
            for (size_t off = 0; off < sizeof *c; off += 64)
                __builtin_prefetch((const char *)c + off);
        return;
    }
    /* A prefetch needs no certainty: the first connection with the full
     * hash, and its direction from the source port and address, are right
     * but for a 32-bit collision, which only costs a useless prefetch. */
    for (c = *b; c != NULL && c->hash != hash; c = c->hash_next)
        ;
    if (c == NULL)
        return;
    if (stage == 2) {
        /* What handling the packet will reach through the connection: the
         * held segments that delivery and appending start from, and the
         * neighbours that moving it to the end of the age list rewrites.
         * NULL is skipped: a prefetch of an unmapped page costs a walk. */
        const void *next[6] = {c->half[0].rs.head, c->half[0].rs.tail, c->half[1].rs.head,
                               c->half[1].rs.tail, c->age_prev,        c->age_next};
        for (size_t i = 0; i < LS_ARRAY_SIZE(next); i++)
            if (next[i] != NULL)
                __builtin_prefetch(next[i]);
        return;
    }
    int dir = c->client_port == pkt->sport && ls_load64(c->client_ip) == ls_load64(pkt->src)
                  ? LS_DIR_C2S
                  : LS_DIR_S2C;
    /* The bytes this packet's ACK may release (the peer's held data), and
     * where its own bytes go if they are held. */
    if (pkt->flags & LS_TCP_ACK)
        ls_reasm_prefetch(&c->half[!dir].rs);
    if (pkt->payload_len > 0)
        ls_reasm_prefetch_append(&c->half[dir].rs, pkt->payload_len);
}

void ls_flow_input(struct ls_flow_table *ft, const struct ls_packet *pkt, double ts)
{
    ls_flow_input_hashed(ft, pkt, ts, packet_hash(ft, pkt));
}

/* How far past a kept SYN's number the segments and ACKs that prove it
 * may lie: a window's worth of a new connection's first bytes. */
#define PROOF_SPAN ((uint32_t)1 << 20)

/* A connection that a SYN or SYN-ACK with a new ISN alone does not end:
 * established, used by both sides, neither has begun to close. A stack
 * answers such a SYN with a challenge ACK (RFC 5961 4), so a forged one
 * must not end the connection; a real new connection proves itself. */
static bool guards_handshake(const struct ls_conn *c)
{
    return c->state == LS_STATE_ESTABLISHED && !(c->flags & (LS_CONN_RESET | LS_CONN_DEAD)) &&
           c->half[0].ack_seen && c->half[1].ack_seen;
}

/* The segment kept aside for `c` with these SYN/ACK flags, or NULL. */
static struct aside *aside_find(struct ls_flow_table *ft, const struct ls_conn *c, uint8_t flags)
{
    for (size_t i = 0; i < LS_ARRAY_SIZE(ft->aside); i++) {
        struct aside *w = &ft->aside[i];
        if (w->c == c && w->id == c->id && (w->pkt.flags & (LS_TCP_SYN | LS_TCP_ACK)) == flags)
            return w;
    }
    return NULL;
}

/* Keeps the header of SYN or SYN-ACK `pkt` aside for `c`, replacing the
 * one of its kind kept before. */
static void keep_aside(struct ls_flow_table *ft, struct ls_conn *c, const struct ls_packet *pkt,
                       double ts)
{
    struct aside *w = aside_find(ft, c, pkt->flags & (LS_TCP_SYN | LS_TCP_ACK));
    if (w == NULL)
        w = &ft->aside[ft->aside_next++ % LS_ARRAY_SIZE(ft->aside)];
    *w = (struct aside){.c = c, .id = c->id, .ts = ts, .pkt = *pkt};
    w->pkt.payload = NULL;
    w->pkt.payload_len = w->pkt.payload_missing = 0;
    w->pkt.l3 = w->pkt.l4 = NULL;
    w->pkt.l3_len = 0;
    c->flags |= LS_CONN_ASIDE;
}

/* Whether `pkt`, from `dir` of `c`, proves that the SYN kept aside for it
 * began a new connection: a SYN-ACK acknowledging it; or, when that was
 * not captured, its sender going on from its number, or the other side
 * acknowledging bytes after it, at numbers the old streams cannot have. */
static bool proves_syn(const struct ls_conn *c, const struct aside *w, const struct ls_packet *pkt,
                       int dir)
{
    int syn_dir = ls_conn_packet_dir(c, &w->pkt);
    uint32_t next = w->pkt.seq + 1;
    uint8_t fl = pkt->flags & (LS_TCP_SYN | LS_TCP_ACK | LS_TCP_RST);
    if (dir != syn_dir && fl == (LS_TCP_SYN | LS_TCP_ACK))
        return pkt->ack == next;
    if (fl != LS_TCP_ACK)
        return false;
    uint32_t at = dir == syn_dir ? pkt->seq : pkt->ack;
    return at - next < PROOF_SPAN && !ls_tcp_seq_in_stream(c, (enum ls_dir)syn_dir, at);
}

/* Ends `c` as reused and hands its endpoints to a new connection, which
 * starts with `first` (and `then`, when not NULL), packets already counted
 * when they came. */
static void reuse_with(struct ls_flow_table *ft, struct ls_conn *c, uint32_t hash,
                       const struct ls_packet *first, double first_ts, const struct ls_packet *then,
                       double then_ts)
{
    ft->stats.tcp_packets -= then ? 2 : 1;
    close_conn(ft, c, LS_CLOSE_REUSED);
    release(ft, c);
    ls_flow_input_hashed(ft, first, first_ts, hash);
    if (then)
        ls_flow_input_hashed(ft, then, then_ts, hash);
}

/* Handles a SYN with a new ISN on `c`; returns false when `c` should be
 * closed as reused at once. */
static bool new_syn_on(struct ls_flow_table *ft, struct ls_conn *c, const struct ls_packet *pkt,
                       double ts, uint32_t hash)
{
    if (!guards_handshake(c))
        return false;
    struct aside *sa = aside_find(ft, c, LS_TCP_SYN | LS_TCP_ACK);
    if (sa && sa->pkt.ack == pkt->seq + 1) {
        /* Its SYN-ACK was captured first (mirror ports reorder them). */
        struct ls_packet synack = sa->pkt;
        sa->c = NULL;
        ft->stats.out_of_window--; /* the SYN-ACK was not dropped after all */
        reuse_with(ft, c, hash, pkt, ts, &synack, ts);
        return true;
    }
    keep_aside(ft, c, pkt, ts);
    ft->stats.out_of_window++;
    return true;
}

enum aside_verdict {
    ASIDE_NONE,   /* `pkt` goes on to `c` */
    ASIDE_PROVEN, /* it proved a kept SYN: `c` is gone, a new connection began */
    ASIDE_KEPT    /* a SYN-ACK with a new ISN, kept aside for its SYN */
};

/* Looks at `pkt` on `c`, which has segments kept aside or is a SYN-ACK. */
static enum aside_verdict check_aside(struct ls_flow_table *ft, struct ls_conn *c,
                                      const struct ls_packet *pkt, int dir, uint32_t hash)
{
    struct aside *w = NULL;
    if (c->flags & LS_CONN_ASIDE) {
        w = aside_find(ft, c, LS_TCP_SYN);
        /* Both kept segments replaced by others' since: stop looking. */
        if (w == NULL && aside_find(ft, c, LS_TCP_SYN | LS_TCP_ACK) == NULL)
            c->flags &= ~LS_CONN_ASIDE;
    }
    if (w && guards_handshake(c) && proves_syn(c, w, pkt, dir)) {
        struct ls_packet syn = w->pkt;
        double syn_ts = w->ts;
        w->c = NULL;
        ft->stats.out_of_window--; /* it was not dropped after all */
        reuse_with(ft, c, hash, &syn, syn_ts, NULL, 0);
        return ASIDE_PROVEN;
    }
    /* Another SYN-ACK than the one seen: the connection would ignore it
     * (tcp.c, handle_syn), so it waits for its SYN instead. (One whose side
     * showed no SYN-ACK yet may still fix that side's start: it goes on.) */
    const struct ls_half *h = &c->half[dir];
    if ((pkt->flags & (LS_TCP_SYN | LS_TCP_ACK | LS_TCP_RST)) == (LS_TCP_SYN | LS_TCP_ACK) &&
        guards_handshake(c) && h->syn_seen && h->syn_isn != pkt->seq + 1) {
        keep_aside(ft, c, pkt, ft->now);
        ft->stats.out_of_window++;
        return ASIDE_KEPT;
    }
    return ASIDE_NONE;
}

/* After the packet that opened `c` mid-stream: a bare FIN kept on its
 * endpoints (strayfin.h), as if captured just after it. `c` may have closed
 * meanwhile, but is not released: the dead list keeps thousands. */
static void bring_stray_fin(struct ls_flow_table *ft, const struct ls_conn *c)
{
    struct ls_packet fin;
    if (!ls_strayfin_take(&ft->stray_fins, c, ft->now, &fin))
        return;
    ft->stats.stray--; /* counted again if it still finds no connection */
    ft->stats.tcp_packets--;
    ft->replaying = true;
    ls_flow_input_hashed(ft, &fin, ft->now, c->hash);
    ft->replaying = false;
}

/* The most TCP bytes (header and payload) one 1500-byte Ethernet frame
 * carries; a longer segment is an offload's merged super-packet. */
#define FRAME_TCP_MAX 1480

/* --checksums auto: a receiver drops a segment whose checksum is wrong
 * (RFC 9293 3.10.7.4), and so does the table, once the sender has shown that
 * its checksums are finished before capture: one segment of its with a
 * correct checksum. Until then nothing is dropped, since a capturing host
 * with checksum offload sends every segment unfinished (and anonymized
 * traces have every checksum wrong). Segments with the pseudo-header's sum
 * in the field, or longer than a frame, are offload's work on that host
 * (TSO, GRO) and kept. What is dropped is damage, or chaff made to be seen
 * by a monitor and not by the receiver. Returns false to drop `pkt`. */
static bool checksum_accepted(struct ls_flow_table *ft, struct ls_conn *c, int dir,
                              const struct ls_packet *pkt)
{
    unsigned shown = LS_CONN_SUMS_OK << dir;
    if (!(c->flags & shown)) {
        if (ls_csum_check(pkt) == LS_CSUM_OK)
            c->flags |= shown;
        return true;
    }
    if (pkt->l4_len > FRAME_TCP_MAX || ls_csum_check(pkt) != LS_CSUM_BAD ||
        ls_csum_offload_artifact(pkt))
        return true;
    ft->stats.bad_checksums++;
    return false;
}

void ls_flow_input_hashed(struct ls_flow_table *ft, const struct ls_packet *pkt, double ts,
                          uint32_t hash)
{
    ls_flow_advance(ft, ts);
    ft->stats.tcp_packets++;
    /* SYN with FIN: every stack drops it, listening or connected (Linux
     * discards it in LISTEN; a SYN on a connection gets a challenge ACK). */
    if ((pkt->flags & (LS_TCP_SYN | LS_TCP_FIN)) == (LS_TCP_SYN | LS_TCP_FIN)) {
        ft->stats.out_of_window++;
        return;
    }

    int dir = LS_DIR_C2S;
    bool picked_up = false; /* c opened mid-stream by pkt */
    struct ls_conn *c = find(ft, pkt, hash, &dir);

    if (c && ft->cfg.check_senders && !(c->flags & LS_CONN_DEAD) &&
        !checksum_accepted(ft, c, dir, pkt))
        return;
    if (c && (c->flags & LS_CONN_DEAD)) {
        /* A new connection may start over on the same 4-tuple; anything
         * else is a straggler of the old one. */
        if (!ls_tcp_starts_anew(c, (enum ls_dir)dir, pkt)) {
            ft->stats.stray++;
            return;
        }
        release(ft, c);
        c = NULL;
    } else if (c && ls_tcp_is_new_syn(c, (enum ls_dir)dir, pkt)) {
        if (new_syn_on(ft, c, pkt, ts, hash))
            return;
        close_conn(ft, c, LS_CLOSE_REUSED);
        release(ft, c);
        c = NULL;
    } else if (c && ((c->flags & LS_CONN_ASIDE) || (pkt->flags & LS_TCP_SYN))) {
        enum aside_verdict v = check_aside(ft, c, pkt, dir, hash);
        if (v == ASIDE_KEPT)
            return;
        if (v == ASIDE_PROVEN)
            c = find(ft, pkt, hash, &dir);
    }
    if (!c) {
        bool opens = (pkt->flags & LS_TCP_SYN) || pkt->payload_len || pkt->payload_missing;
        if (!opens || (pkt->flags & LS_TCP_RST)) {
            ft->stats.stray++;
            ls_strayfin_keep(&ft->stray_fins, pkt, ts, hash, ft->cfg.check_senders);
            return;
        }
        c = create(ft, pkt, hash, ts);
        if (!c) {
            ft->stats.stray++;
            return;
        }
        dir = ls_conn_packet_dir(c, pkt);
        if (ft->cfg.check_senders)
            checksum_accepted(ft, c, dir, pkt); /* a new sender: nothing to drop yet */
        picked_up = !(pkt->flags & LS_TCP_SYN);
    }

    c->last_activity = ts > c->last_activity ? ts : c->last_activity;
    LIST_REMOVE(&ft->age, c, age_prev, age_next);
    LIST_PUSH(&ft->age, c, age_prev, age_next);

    if (ft->hooks.packet && !ft->replaying)
        ft->hooks.packet(ft->hooks.ud, c, (enum ls_dir)dir);
    bool was_reset = (c->flags & LS_CONN_RESET) != 0;
    c->busy++;
    ft->tcp.rctx.now = ts;
    enum ls_tcp_verdict v = ls_tcp_input(&ft->tcp, c, (enum ls_dir)dir, pkt);
    c->busy--;
    /* The tracker may cancel a reset and close in the same segment (the
     * resetting side goes on with a FIN that ends the connection): the
     * verdict is then CLOSE, so leave the reset list on the flag's word. */
    if (was_reset && !(c->flags & LS_CONN_RESET))
        LIST_REMOVE(&ft->resetting, c, reset_prev, reset_next);
    if (v == LS_TCP_CLOSE) {
        close_conn(ft, c, c->close_reason);
    } else if (v == LS_TCP_RESET) {
        c->reset_deadline = ft->now + RST_GRACE;
        LIST_PUSH(&ft->resetting, c, reset_prev, reset_next);
    } else if ((c->flags & LS_CONN_IGNORED) && (c->half[0].rs.head || c->half[1].rs.head))
        ls_tcp_discard(&ft->tcp, c);
    if (ft->pending)
        run_pending_closes(ft);
    if (picked_up)
        bring_stray_fin(ft, c);
}

void ls_flow_finish(struct ls_flow_table *ft, enum ls_close_reason why)
{
    struct ls_conn *c;
    while ((c = ft->order.head))
        close_conn(ft, c, why);
}
