/* tcp.c: per-connection TCP tracking for a passive observer.
 *
 * Sequence numbers become 64-bit stream offsets relative to the delivery
 * point, so wraparound past 2^32 is invisible to the reassembler. The
 * observer cannot know what the endpoints received, so it trusts what they
 * say: an ACK releases bytes (--deliver ack), an ACK past a hole that stays
 * unfilled proves capture loss (a gap), and a FIN marks where a direction
 * ends. RSTs must fall inside the receiver's window to count (RFC 5961's
 * reasoning: blind resets guess sequence numbers badly). */
#include "tcp.h"

#include <stdio.h>
#include <string.h>

#include "decode.h"
#include "flow.h"

/* Segments or ACKs this far from the stream are not trusted (spoofed or from
 * another connection); real windows are far smaller. */
#define MAX_DISTANCE ((uint64_t)1 << 30)
/* How far back a picked-up stream may move its start for an older segment
 * seen before anything was delivered (about one large window). */
#define MAX_REBASE ((uint64_t)1 << 20)
/* The smallest receive window assumed where a segment or ACK is checked
 * against one (RST, FIN, ACK, a SYN of earlier data): the largest unscaled. */
#define MIN_WINDOW 65535u

struct emit_ud {
    struct ls_tcp_ctx *t;
    struct ls_conn *c;
    enum ls_dir dir;
};

/* ---- reassembler callbacks ---- */

static void on_data(void *ud, uint64_t off, const uint8_t *p, size_t n, double ts)
{
    struct emit_ud *u = ud;
    LS_UNUSED(off);
    if (u->c->flags & LS_CONN_IGNORED)
        return;
    u->t->stats->payload_bytes += n;
    u->t->hooks->data(u->t->hooks->ud, u->c, u->dir, p, n, ts);
}

static void on_gap(void *ud, uint64_t off, uint64_t n)
{
    struct emit_ud *u = ud;
    LS_UNUSED(off);
    if (u->c->flags & LS_CONN_IGNORED)
        return;
    u->t->stats->gaps++;
    u->t->stats->gap_bytes += n;
    u->t->hooks->gap(u->t->hooks->ud, u->c, u->dir, n);
}

static void on_conflict(void *ud, uint64_t off, size_t n, bool replaced)
{
    struct emit_ud *u = ud;
    struct ls_half *h = &u->c->half[u->dir];
    u->t->stats->overlaps_conflicting++;
    if (h->conflict_logged || (u->c->flags & LS_CONN_IGNORED))
        return;
    h->conflict_logged = true;
    /* Offsets count from the first byte of the direction, as scripts see it. */
    uint64_t start = h->rs.next - h->rs.delivered - h->rs.gap_bytes;
    char msg[200];
    snprintf(msg, sizeof msg,
             "conn #%llu: %s bytes %llu-%llu retransmitted with different content; "
             "kept the %s copy (further conflicts only counted)",
             (unsigned long long)u->c->id, u->dir == LS_DIR_C2S ? "sent" : "received",
             (unsigned long long)(off - start), (unsigned long long)(off - start + n - 1),
             replaced ? "last" : "first");
    u->t->hooks->log(u->t->hooks->ud, LS_LOG_WARN, u->c, msg);
}

/* ---- sequence space ---- */

/* Maps a sequence number of direction h to a stream offset, taking the one
 * nearest the delivery point (so any distance under 2^31 works). */
static uint64_t seq_off(const struct ls_half *h, uint32_t seq)
{
    uint64_t ref = h->rs.next;
    uint32_t ref_seq = h->isn + (uint32_t)(ref - LS_TCP_OFF0);
    return ref + (uint64_t)(int64_t)(int32_t)(seq - ref_seq);
}

static uint64_t initial_limit(const struct ls_tcp_ctx *t)
{
    return t->deliver_on_ack ? LS_TCP_OFF0 : UINT64_MAX;
}

/* A stream started by its own data may begin earlier: the capture can
 * have the first bytes, or the SYN, after them. With --deliver arrival its
 * bytes wait for one more packet of the connection (see ls_tcp_input). */
static void set_base(const struct ls_tcp_ctx *t, struct ls_half *h, uint32_t isn, uint8_t from)
{
    h->isn = isn;
    h->seq_known = true;
    h->base_from = from;
    h->max_end = LS_TCP_OFF0;
    h->fin_off = 0; /* no FIN candidate in the old numbering */
    ls_reasm_init(&h->rs, LS_TCP_OFF0,
                  from == LS_BASE_DATA && !t->deliver_on_ack ? LS_TCP_OFF0 : initial_limit(t));
}

/* With --deliver arrival, whether direction `d` still waits to see if its
 * stream starts before its first bytes. */
static bool start_pending(const struct ls_tcp_ctx *t, const struct ls_conn *c, int d)
{
    return !t->deliver_on_ack && c->half[d].seq_known && c->half[d].rs.limit != UINT64_MAX;
}

static void release_start(struct ls_tcp_ctx *t, struct ls_conn *c, int d)
{
    struct emit_ud u = {t, c, (enum ls_dir)d};
    ls_reasm_set_limit(&c->half[d].rs, &t->rctx, &u, UINT64_MAX);
}

/* The highest byte known to exist in direction h: data seen, or its FIN. */
static uint64_t seen_end(const struct ls_half *h)
{
    uint64_t e = h->max_end;
    if (h->fin_seen && h->fin_off > e)
        e = h->fin_off;
    return e;
}

static bool far(uint64_t a, uint64_t b)
{
    return a > b ? a - b > MAX_DISTANCE : b - a > MAX_DISTANCE;
}

/* A receive window `win`, or the floor those checks assume. */
static uint64_t window_at_least(uint32_t win)
{
    return win > MIN_WINDOW ? win : MIN_WINDOW;
}

/* Offset of h's data that the peer has acknowledged, or 0 when unknown. */
static uint64_t acked_off(const struct ls_half *h, const struct ls_half *peer)
{
    if (!h->seq_known || !peer->ack_seen)
        return 0;
    return seq_off(h, peer->ack);
}

static uint64_t on_acked(void *ud)
{
    const struct emit_ud *u = ud;
    return acked_off(&u->c->half[u->dir], &u->c->half[!u->dir]);
}

static const struct ls_reasm_ops reasm_ops = {on_data, on_gap, on_conflict, on_acked};

/* The highest ACK h's bytes allow: past every byte seen, and its FIN's
 * number. */
static uint64_t ack_end(const struct ls_half *h)
{
    return seen_end(h) + (h->fin_seen ? 1 : 0);
}

/* How far h may send: a window `win` (at least the floor) past both what
 * `peer` acknowledged of it and every byte seen from it. */
static uint64_t window_end(const struct ls_half *h, const struct ls_half *peer, uint32_t win)
{
    uint64_t from = acked_off(h, peer);
    if (seen_end(h) > from)
        from = seen_end(h);
    return from + window_at_least(win);
}

/* A connection to itself (same address and port at both ends, as a
 * socket that connects to its own port gets): every segment is sent and
 * received by the one socket, so there is one stream, C2S (flow.c finds
 * every packet in that direction), and each ACK acknowledges it. */
static bool self_conn(const struct ls_conn *c)
{
    return c->client_port == c->server_port && memcmp(c->client_ip, c->server_ip, 16) == 0;
}

/* ---- public ---- */

void ls_tcp_ctx_init(struct ls_tcp_ctx *t, struct ls_pool *pool, enum ls_overlap overlap,
                     size_t max_held, bool deliver_on_ack, const struct ls_flow_hooks *hooks,
                     struct ls_stats *stats)
{
    *t = (struct ls_tcp_ctx){0};
    t->rctx.pool = pool;
    t->rctx.ops = &reasm_ops;
    t->rctx.overlap = overlap;
    t->rctx.max_held = max_held;
    t->hooks = hooks;
    t->stats = stats;
    t->deliver_on_ack = deliver_on_ack;
}

void ls_tcp_init(struct ls_tcp_ctx *t, struct ls_conn *c)
{
    for (int d = 0; d < 2; d++) {
        struct ls_half *h = &c->half[d];
        *h = (struct ls_half){0};
        h->wscale = -1;
        ls_reasm_init(&h->rs, LS_TCP_OFF0, initial_limit(t));
    }
}

/* `isn` (a SYN's number plus one) is that of the SYN seen from h. The
 * stream may be numbered from data captured before that SYN, so this is
 * not h->isn. */
static bool same_isn(const struct ls_half *h, uint32_t isn)
{
    return h->syn_seen && h->syn_isn == isn;
}

bool ls_tcp_is_new_syn(const struct ls_conn *c, enum ls_dir dir, const struct ls_packet *pkt)
{
    if ((pkt->flags & (LS_TCP_SYN | LS_TCP_ACK | LS_TCP_RST)) != LS_TCP_SYN)
        return false;
    const struct ls_half *h = &c->half[dir];
    if (c->flags & (LS_CONN_RESET | LS_CONN_DEAD))
        return !same_isn(h, pkt->seq + 1); /* a retry after a refusal */
    if (c->state < LS_STATE_ESTABLISHED && dir == LS_DIR_C2S)
        return false; /* still connecting: a retry of the same attempt */
    if (c->state == LS_STATE_SYN_SENT && dir == LS_DIR_S2C && !h->syn_seen)
        return false; /* simultaneous open (RFC 9293 3.5): both sides send a SYN */
    if (dir == LS_DIR_C2S && same_isn(h, pkt->seq + 1))
        return false; /* a late copy of the original SYN */
    if (!h->syn_seen && h->seq_known && h->rs.gap_bytes == 0) {
        /* The SYN of data already seen (the capture had them out of
         * order): its next number is where that data starts, or at most a
         * window before it (segments lost in between). A new connection's
         * random ISN lands there once in 65536 tries. */
        uint64_t first = h->rs.next - h->rs.delivered;
        uint64_t at = seq_off(h, pkt->seq + 1);
        if (at <= first && first - at <= MIN_WINDOW)
            return false;
    }
    return true;
}

bool ls_tcp_seq_in_stream(const struct ls_conn *c, enum ls_dir dir, uint32_t seq)
{
    const struct ls_half *h = &c->half[dir];
    if (!h->seq_known)
        return false;
    uint64_t win = window_at_least(c->half[!dir].win);
    uint64_t off = seq_off(h, seq);
    return off + win >= h->rs.next && off <= ack_end(h) + win;
}

bool ls_tcp_starts_anew(const struct ls_conn *c, enum ls_dir dir, const struct ls_packet *pkt)
{
    if (pkt->flags & LS_TCP_RST)
        return false;
    if (ls_tcp_is_new_syn(c, dir, pkt))
        return true;
    const struct ls_half *h = &c->half[dir];
    bool payload = pkt->payload_len || pkt->payload_missing;
    /* A timeout is no end of TCP: new bytes the connection sends after it
     * are picked up mid-stream at once rather than lost as stragglers (a
     * keep-alive or a late copy of bytes seen is still a straggler). */
    if (c->close_reason == LS_CLOSE_TIMEOUT && payload && !(pkt->flags & LS_TCP_SYN) &&
        (!h->seq_known ||
         seq_off(h, pkt->seq) + pkt->payload_len + pkt->payload_missing > seen_end(h)))
        return true;
    if (!h->seq_known)
        return false; /* nothing to compare with: a straggler */
    if ((pkt->flags & (LS_TCP_SYN | LS_TCP_ACK)) == (LS_TCP_SYN | LS_TCP_ACK))
        /* A SYN-ACK opening another ISN: the new connection's SYN was not
         * captured. A copy of the old one repeats its ISN. */
        return h->syn_seen ? !same_isn(h, pkt->seq + 1) : far(seq_off(h, pkt->seq + 1), h->rs.next);
    /* Data past the old stream's end by more than the receiver's window,
     * or far from it, is no retransmission of it nor data it had in flight. */
    if (!payload)
        return false;
    uint64_t off = seq_off(h, pkt->seq), end = seen_end(h);
    return off > end + window_at_least(c->half[!dir].win) ||
           (far(off, h->rs.next) && far(off, end));
}

static bool rst_acceptable(const struct ls_conn *c, enum ls_dir dir, const struct ls_packet *pkt)
{
    const struct ls_half *h = &c->half[dir], *peer = &c->half[!dir];
    uint64_t win = window_at_least(peer->win);
    if (h->seq_known) {
        /* A receiver resets only on its next expected number (RFC 5961
         * 3.2, as Linux and the BSDs do; after the sender's FIN, also one
         * below it): never below its last ACK. Above, that number may lie
         * up to a window past the bytes seen, when the capture lost the
         * sender's last segments before its reset. Before any ACK it is
         * only known to lie within a window of the bytes seen. */
        uint64_t off = seq_off(h, pkt->seq);
        uint64_t acked = acked_off(h, peer);
        uint64_t hi = ack_end(h);
        if (acked > hi && !far(acked, hi))
            hi = acked;
        if (!acked || far(acked, hi))
            return off + win >= h->rs.next && off <= hi + win;
        uint64_t lo = acked - (h->fin_seen && acked > h->fin_off ? 1 : 0);
        return off >= lo && off <= hi + win;
    }
    /* A reset from a side that never sent anything (a refused SYN): it
     * must acknowledge what the other side sent. */
    if (!peer->seq_known)
        return true;
    if (pkt->flags & LS_TCP_ACK) {
        /* RFC 9293 3.10.7.3: in SYN-SENT an ACK at or below the ISN, or
         * past anything sent, is not acceptable. A FIN takes one number. */
        uint64_t a = seq_off(peer, pkt->ack);
        uint64_t lo = peer->syn_seen ? LS_TCP_OFF0 : peer->rs.next;
        return a >= lo && a <= ack_end(peer);
    }
    /* Without an ACK it cannot answer a SYN: SYN-SENT drops it. Once the
     * handshake is done (the capture saw only the other side of it), a
     * stack that lost the connection resets without an ACK (RFC 9293
     * 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>). */
    return !peer->syn_seen || c->state >= LS_STATE_ESTABLISHED;
}

/* Stream offset `off` from `dir` lies more than the receiver's window past
 * both its last ACK and every byte seen from `dir`, when the handshake told
 * us the window's scale: a receiver drops such a segment (RFC 9293
 * 3.10.7.4), so it proves nothing about the stream's end. (Bytes that
 * follow those seen pass even when the capture lost the ACKs.) */
static bool beyond_window(const struct ls_conn *c, enum ls_dir dir, uint64_t off)
{
    const struct ls_half *h = &c->half[dir], *peer = &c->half[!dir];
    if (!h->syn_seen || !peer->syn_seen || !peer->ack_seen)
        return false;
    return !far(acked_off(h, peer), off) && off > window_end(h, peer, peer->win);
}

/* Whether a FIN at stream offset `fo` from `dir` may end its stream: not
 * below bytes already seen from that side (no stack sends data past its own
 * FIN, RFC 9293 3.10.7.4), and within the receiver's window when the
 * handshake told us its scale (acceptability comes before the FIN is
 * processed). Below the receiver's last ACK minus one it waits (see
 * FIN_ACKED_PAST). The first FIN accepted is final once the stream
 * reaches it (before, bytes running over it drop it: handle_payload), so a
 * forged one must not get through. */
enum fin_verdict {
    FIN_REJECTED,
    FIN_ACCEPTED,
    FIN_ACKED_PAST /* only the receiver's ACK is past it: an ACK can be forged
                    * too, so the FIN waits for an ACK of exactly its number */
};

static enum fin_verdict fin_acceptable(const struct ls_conn *c, enum ls_dir dir, uint64_t fo)
{
    const struct ls_half *h = &c->half[dir], *peer = &c->half[!dir];
    if (fo < h->rs.next || fo < h->max_end || far(fo, h->rs.next) || beyond_window(c, dir, fo))
        return FIN_REJECTED;
    if (peer->ack_seen) {
        uint64_t acked = acked_off(h, peer);
        if (!far(acked, fo) && acked > fo + 1)
            return FIN_ACKED_PAST;
    }
    return FIN_ACCEPTED;
}

static void accept_fin(struct ls_half *h, uint64_t fo)
{
    h->fin_seen = true;
    h->fin_off = fo;
    if (fo > h->max_end)
        h->max_end = fo;
}

/* Packets of the connection that a hole the receiver has acknowledged past
 * waits for its bytes before it becomes a gap. The capture may have them
 * late: a mirror port merges the two directions with some delay between
 * them, and a multi-queue capture can reorder one sender's segments. */
#define GAP_GRACE 4

/* A hole below bytes already seen, which the receiver has acknowledged,
 * will never be filled: the capture lost it, or has its bytes late. It waits
 * GAP_GRACE packets, counted afresh when bytes arrive at it (the next hole's
 * late bytes may be behind those), then every hole acknowledged past goes. */
static void check_gap_held(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir, uint64_t seen)
{
    struct ls_half *h = &c->half[dir];
    uint64_t acked = acked_off(h, &c->half[!dir]);
    if (acked <= h->rs.next) {
        h->gap_wait = 0;
        return;
    }
    uint64_t upto = seen;
    if (acked < upto)
        upto = acked;
    if (ls_reasm_contig_end(&h->rs) >= upto) {
        h->gap_wait = 0;
        h->hole_cut = false;
        return;
    }
    /* Bytes the capture cut come from no late copy: no grace for them. */
    if (!h->hole_cut && h->gap_wait++ < GAP_GRACE)
        return;
    h->gap_wait = 0;
    h->hole_cut = false;
    struct emit_ud u = {t, c, dir};
    ls_reasm_skip_to(&h->rs, &t->rctx, &u, upto);
}

/* check_gap_held, after the common case inline: every byte seen is
 * delivered, so there is no hole (and no ACK arithmetic to do). */
static inline void check_gap(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir)
{
    struct ls_half *h = &c->half[dir];
    uint64_t seen = seen_end(h);
    if (seen <= h->rs.next) {
        h->gap_wait = 0;
        h->hole_cut = false;
    } else
        check_gap_held(t, c, dir, seen);
}

/* PAWS (RFC 7323 5): on a connection whose SYNs both carried timestamps,
 * a receiver drops a segment whose TSval is older than the last one it kept
 * from that side (Linux allows one tick back). A copy of a segment with an
 * old timestamp is what fragroute's `tcp_chaff paws` sends so that a
 * monitor takes its bytes and the receiver does not. Resets never come
 * here (Linux accepts a reset that fails PAWS), and bare ACKs pass: a copy
 * of an earlier one reordered by the capture changes nothing. */
static bool paws_rejects(const struct ls_conn *c, enum ls_dir dir, const struct ls_packet *pkt)
{
    const struct ls_half *h = &c->half[dir], *peer = &c->half[!dir];
    if (!pkt->has_ts || h->ts_recent == 0 || !h->ts_offered || !peer->ts_offered ||
        (pkt->flags & LS_TCP_SYN))
        return false;
    if (!pkt->payload_len && !pkt->payload_missing && !(pkt->flags & LS_TCP_FIN))
        return false;
    return (int32_t)(h->ts_recent - pkt->tsval) > 1;
}

static bool dir_done(const struct ls_half *h)
{
    return h->fin_seen && h->rs.next >= h->fin_off;
}

/* Both sides sent FIN: the connection ends once their bytes are all in, or
 * once each FIN is acknowledged (anything still missing is lost). */
static bool fin_complete(const struct ls_conn *c)
{
    const struct ls_half *a = &c->half[0], *b = &c->half[1];
    if (self_conn(c))
        /* One stream: its FIN ends what the socket sends and receives. */
        return a->fin_seen && (dir_done(a) || acked_off(a, b) > a->fin_off ||
                               ls_reasm_contig_end(&a->rs) >= a->fin_off);
    if (!a->fin_seen || !b->fin_seen)
        return false;
    if (dir_done(a) && dir_done(b))
        return true;
    if (acked_off(a, b) > a->fin_off && acked_off(b, a) > b->fin_off)
        return true;
    return ls_reasm_contig_end(&a->rs) >= a->fin_off && ls_reasm_contig_end(&b->rs) >= b->fin_off;
}

static void handle_syn(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir,
                       const struct ls_packet *pkt)
{
    struct ls_half *h = &c->half[dir], *peer = &c->half[!dir];
    uint32_t isn = pkt->seq + 1;
    /* Once this side has sent bytes after its SYN, or the peer has
     * acknowledged that SYN, a SYN with another ISN cannot restart its
     * numbering (RFC 9293 3.10.7.4, RFC 5961 4: a stack answers it with a
     * challenge ACK): it is forged or stale. */
    uint64_t acked = acked_off(h, peer);
    bool synced =
        h->syn_seen && (h->max_end > LS_TCP_OFF0 || h->fin_seen || h->rs.next > LS_TCP_OFF0 ||
                        (acked >= LS_TCP_OFF0 && !far(acked, LS_TCP_OFF0)));
    if (!same_isn(h, isn) && !synced) {
        if (h->seq_known && !h->syn_seen && h->rs.delivered == 0 && h->rs.gap_bytes == 0) {
            /* Data was captured before its SYN: keep it, start at the SYN. */
            uint64_t off = seq_off(h, isn);
            if (off < h->rs.next && !far(off, h->rs.next))
                ls_reasm_rebase(&h->rs, off, h->base_from == LS_BASE_DATA);
            h->base_from = LS_BASE_SYN;
        } else if (!h->seq_known || h->rs.delivered == 0) {
            if (h->syn_seen) {
                /* Another SYN (or SYN-ACK) of the same attempt, with a new
                 * ISN: a retry, or a forged or stale copy. Which one the
                 * endpoint kept, only the peer's ACK tells (pick_isn). */
                c->flags |= LS_CONN_ALT_ISN;
                c->alt_dir = (uint8_t)dir;
                c->alt_isn = h->syn_isn;
            }
            ls_reasm_discard(&h->rs, &t->rctx);
            set_base(t, h, isn, LS_BASE_SYN);
        }
        h->syn_seen = true;
        h->syn_isn = isn;
        h->wscale = pkt->wscale;
        h->ts_offered = pkt->has_ts;
        h->ts_recent = 0; /* the new numbering's clock starts at its SYN */
    }
    if (pkt->flags & LS_TCP_ACK) {
        if (!peer->seq_known && !self_conn(c))
            set_base(t, peer, pkt->ack, LS_BASE_ACK); /* the SYN was not captured */
        if (c->state < LS_STATE_SYN_RECEIVED)
            c->state = LS_STATE_SYN_RECEIVED;
    }
}

/* A side sent SYNs with two ISNs before the handshake completed (the
 * latest is in use, alt_isn the other). A stack keeps the first one it
 * receives and answers a later one with a challenge ACK (RFC 5961 4), and
 * the capture may show them in either order: the one the peer acknowledges
 * (`ack`, from `dir`) is the stream's start, as long as that side has sent
 * nothing in the numbering in use. */
static void pick_isn(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir, uint32_t ack)
{
    if (!(c->flags & LS_CONN_ALT_ISN) || c->alt_dir == dir)
        return;
    struct ls_half *h = &c->half[c->alt_dir];
    if (ack == h->syn_isn) {
        c->flags &= ~LS_CONN_ALT_ISN; /* the one in use */
        return;
    }
    if (ack != c->alt_isn)
        return;
    c->flags &= ~LS_CONN_ALT_ISN;
    if (h->max_end != LS_TCP_OFF0 || h->fin_seen || h->rs.head || h->rs.delivered ||
        h->rs.gap_bytes)
        return;
    set_base(t, h, ack, LS_BASE_SYN);
    h->syn_isn = ack;
}

/* `win` is the window this side offered before this packet. */
static void handle_ack(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir,
                       const struct ls_packet *pkt, uint32_t win)
{
    struct ls_half *h = &c->half[dir], *peer = &c->half[!dir];
    pick_isn(t, c, dir, pkt->ack);
    if (!peer->seq_known && !(pkt->flags & LS_TCP_SYN))
        set_base(t, peer, pkt->ack, LS_BASE_ACK);
    uint64_t a = seq_off(peer, pkt->ack);
    if (far(a, peer->rs.next) && far(a, seen_end(peer))) {
        t->stats->out_of_window++;
        return;
    }
    /* A FIN refused because an ACK had passed it counts once the receiver
     * acknowledges exactly it: that earlier ACK was the forged one. */
    if (!peer->fin_seen && peer->fin_off != 0 && a == peer->fin_off + 1 && a >= peer->max_end)
        accept_fin(peer, peer->fin_off);
    if (h->ack_seen && h->syn_seen && peer->syn_seen) {
        /* An ACK covers only bytes the peer sent, and the peer sends no
         * more than this side's window past its ACK: an ACK more than a
         * window beyond both that and every byte seen acknowledges
         * something never sent (RFC 9293 3.10.7.4 drops it). Lost bytes
         * stay provable by ACKs up to that bound. The scale must be known:
         * hence the handshake. */
        if (a > window_end(peer, h, win)) {
            t->stats->out_of_window++;
            return;
        }
    }
    if (h->ack_seen && a < seq_off(peer, h->ack))
        return; /* an older ACK arriving late never moves things back */
    h->ack = pkt->ack;
    h->ack_seen = true;
    if (t->deliver_on_ack) {
        struct emit_ud u = {t, c, !dir};
        if (peer->fin_seen && a > peer->fin_off)
            a = peer->fin_off;
        ls_reasm_set_limit(&peer->rs, &t->rctx, &u, a);
    }
}

static void handle_payload(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir,
                           const struct ls_packet *pkt, uint32_t dseq)
{
    struct ls_half *h = &c->half[dir];
    size_t n = pkt->payload_len;
    uint64_t off = seq_off(h, dseq);
    if (far(off, h->rs.next) && far(off, seen_end(h))) {
        t->stats->out_of_window++;
        return;
    }
    /* An older segment of a picked-up stream: its start was fixed by the
     * first data, or by the other side's ACK (then only a segment that
     * reaches that start, such as the request before a captured response;
     * older copies of acknowledged bytes would leave a hole). */
    if (off < h->rs.next && h->rs.next - off <= MAX_REBASE &&
        (h->base_from == LS_BASE_DATA ||
         (h->base_from == LS_BASE_ACK && off + n + pkt->payload_missing >= h->rs.next)))
        ls_reasm_rebase(&h->rs, off, h->base_from == LS_BASE_DATA);
    /* A keep-alive repeats the last byte sent, maybe as garbage: a byte
     * already seen (a byte never seen before a FIN is data). */
    if (n <= 1 && off + 1 == h->max_end && !(pkt->flags & (LS_TCP_SYN | LS_TCP_FIN)) &&
        (off < h->rs.next || off < ls_reasm_held_end(&h->rs)))
        return;
    uint64_t end = off + n + pkt->payload_missing;
    if (h->fin_seen && end > h->fin_off && off <= h->fin_off &&
        ls_reasm_contig_end(&h->rs) < h->fin_off) {
        /* Bytes that run over a FIN the stream has not reached: a receiver
         * drops such a FIN, waiting out of order (Linux: tcp_ofo_queue and
         * tcp_data_queue_ofo drop a segment that later bytes cover), so it
         * ends nothing. No stack sends data past its own FIN: it was forged. */
        h->fin_seen = false;
        h->fin_off = 0;
        if (c->state == LS_STATE_CLOSING)
            c->state = LS_STATE_HALF_CLOSED;
        else if (c->state == LS_STATE_HALF_CLOSED)
            c->state = LS_STATE_ESTABLISHED;
    }
    if (h->fin_seen && end > h->fin_off) {
        if (off >= h->fin_off)
            return;
        n = off + n > h->fin_off ? (size_t)(h->fin_off - off) : n;
        end = h->fin_off;
    }
    /* Bytes beyond the receiver's window are dropped, as the receiver
     * drops them (RFC 9293 3.10.7.4): a forged segment far ahead must
     * neither make the real FIN look early nor be delivered after a gap.
     * Only a segment past every byte seen can be beyond it. */
    if (end > h->max_end) {
        if (beyond_window(c, dir, off)) {
            t->stats->out_of_window++;
            return;
        }
        h->max_end = end;
    }
    if (c->flags & LS_CONN_IGNORED)
        return;
    struct emit_ud u = {t, c, dir};
    if (h->gap_wait == 0 && !h->hole_cut && !pkt->payload_missing) {
        ls_reasm_add(&h->rs, &t->rctx, &u, off, pkt->payload, n);
        return;
    }
    /* Bytes at the first hole: the next hole waits afresh, and is cut
     * only if this segment was cut where it starts. */
    uint64_t before = ls_reasm_contig_end(&h->rs);
    ls_reasm_add(&h->rs, &t->rctx, &u, off, pkt->payload, n);
    uint64_t after = ls_reasm_contig_end(&h->rs);
    if (after > before) {
        h->gap_wait = 0;
        h->hole_cut = false;
    }
    if (pkt->payload_missing && after == off + n)
        h->hole_cut = true;
}

static enum ls_tcp_verdict input(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir,
                                 const struct ls_packet *pkt);

/* A direction started by its data (--deliver arrival) is released by the
 * next packet: one from the other side first, so that events keep capture
 * order; one from its own side after it is handled, so that older bytes or
 * a SYN it brings move the start back first. */
enum ls_tcp_verdict ls_tcp_input(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir,
                                 const struct ls_packet *pkt)
{
    bool own_pending = start_pending(t, c, dir);
    if (start_pending(t, c, !dir))
        release_start(t, c, !dir);
    enum ls_tcp_verdict v = input(t, c, dir, pkt);
    if (own_pending && start_pending(t, c, dir))
        release_start(t, c, dir);
    return v;
}

static enum ls_tcp_verdict input(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir,
                                 const struct ls_packet *pkt)
{
    struct ls_half *h = &c->half[dir], *peer = &c->half[!dir];
    uint8_t fl = pkt->flags;
    /* Whose ACK the segment's is, and which stream it acknowledges:
     * the sender's and the peer's, except on a connection to itself. */
    enum ls_dir ack_dir = self_conn(c) ? LS_DIR_S2C : dir;
    struct ls_half *acker = &c->half[ack_dir], *acked = &c->half[!ack_dir];

    if ((c->flags & LS_CONN_IGNORED) && (h->rs.head || peer->rs.head))
        ls_tcp_discard(t, c);

    if (fl & LS_TCP_RST) {
        if (c->flags & LS_CONN_RESET)
            return LS_TCP_CONTINUE; /* a reset answering in-flight data */
        if (!rst_acceptable(c, dir, pkt)) {
            t->stats->rst_ignored++;
            return LS_TCP_CONTINUE;
        }
        /* Text on a reset is delivered, as tshark, tcpflow and Suricata
         * do: stacks that send it (RFC 1122 4.2.2.12: a diagnostic) mean it
         * to be read, though a Linux or BSD receiver drops it. */
        if (h->seq_known && pkt->payload_len)
            handle_payload(t, c, dir, pkt, pkt->seq);
        /* Where the sender's stream ended: counted at close, if the reset
         * stands (ls_tcp_flush); a reset found forged changes nothing. */
        c->flags |= LS_CONN_RESET;
        c->reset_dir = (uint8_t)dir;
        c->reset_seq = pkt->seq + pkt->payload_len;
        /* Its ACK acknowledges like any other, but only bytes seen: a
         * forged reset's ACK must not make later real ACKs look old. It
         * tells a copy of an earlier ACK from the sender going on. */
        if ((fl & LS_TCP_ACK) && h->seq_known && acked->seq_known &&
            seq_off(acked, pkt->ack) <= ack_end(acked))
            handle_ack(t, c, ack_dir, pkt, h->win);
        return LS_TCP_RESET;
    }

    /* A stack that sent a reset says nothing more on the connection: if
     * its side goes on, the reset was forged (same sequence numbers, but
     * not the endpoint's). A bare ACK that carries nothing new (no number
     * past the reset's, no ACK past the last) is a copy of one sent before
     * the reset, reordered behind it, and says nothing. So does a segment
     * whose bytes (and FIN) end exactly at the reset's number: the one its
     * sender sent last before the reset (a stack resets at its next
     * number), reordered behind it by the capture. The other side's
     * segments already in flight are still delivered during the grace
     * period. */
    /* Once a side has acknowledged, every segment it sends carries an ACK:
     * a receiver drops one without (RFC 9293 3.10.7.4), so it is forged. */
    if (!(fl & (LS_TCP_ACK | LS_TCP_SYN)) && acker->ack_seen) {
        t->stats->out_of_window++;
        return LS_TCP_CONTINUE;
    }

    if (paws_rejects(c, dir, pkt)) {
        t->stats->out_of_window++;
        return LS_TCP_CONTINUE;
    }

    enum ls_tcp_verdict verdict = LS_TCP_CONTINUE;
    bool says_nothing = (fl & (LS_TCP_SYN | LS_TCP_FIN | LS_TCP_ACK)) == LS_TCP_ACK &&
                        !pkt->payload_len && !pkt->payload_missing &&
                        (int32_t)(pkt->seq - c->reset_seq) <= 0 && acker->ack_seen &&
                        (int32_t)(pkt->ack - acker->ack) <= 0;
    uint32_t end_seq = pkt->seq + (uint32_t)(pkt->payload_len + pkt->payload_missing) +
                       ((fl & LS_TCP_FIN) ? 1u : 0u);
    bool sent_last = !(fl & LS_TCP_SYN) && (fl & LS_TCP_ACK) && end_seq == c->reset_seq &&
                     end_seq != pkt->seq && acker->ack_seen &&
                     (int32_t)(pkt->ack - acker->ack) <= 0;
    if ((c->flags & LS_CONN_RESET) && dir == c->reset_dir && !says_nothing && !sent_last) {
        c->flags &= ~LS_CONN_RESET;
        t->stats->rst_ignored++;
        verdict = LS_TCP_UNRESET;
    }

    if (fl & LS_TCP_SYN)
        handle_syn(t, c, dir, pkt);

    /* Window scaling applies only when both SYNs offered it (RFC 7323). */
    uint32_t win = pkt->window, offered = h->win;
    if (!(fl & LS_TCP_SYN) && h->wscale >= 0 && peer->wscale >= 0)
        win <<= (h->wscale > 14 ? 14 : h->wscale);
    h->win = win;

    if (fl & LS_TCP_ACK)
        handle_ack(t, c, ack_dir, pkt, offered > win ? offered : win);

    uint32_t dseq = pkt->seq + ((fl & LS_TCP_SYN) ? 1u : 0u);
    if ((pkt->payload_len || pkt->payload_missing || (fl & LS_TCP_FIN)) && !h->seq_known)
        set_base(t, h, dseq, LS_BASE_DATA);
    /* The receiver keeps the timestamp of a segment that starts where its
     * stream stands, not of one that jumps ahead (RFC 7323 5.3 R3, as
     * Linux: a segment reordered behind a later one must not look old),
     * nor of one wholly below what it has acknowledged (a receiver drops
     * that before looking at its timestamp, so a forged copy of old bytes
     * cannot make the real segments after it look stale). */
    if (pkt->has_ts && h->seq_known &&
        (h->ts_recent == 0 || (int32_t)(pkt->tsval - h->ts_recent) > 0)) {
        uint64_t start = seq_off(h, dseq);
        uint64_t end =
            start + pkt->payload_len + pkt->payload_missing + ((fl & LS_TCP_FIN) ? 1u : 0u);
        if (start <= seen_end(h) && end >= acked_off(h, peer))
            h->ts_recent = pkt->tsval;
    }
    if (pkt->payload_len || pkt->payload_missing)
        handle_payload(t, c, dir, pkt, dseq);

    if ((fl & LS_TCP_FIN) && !h->fin_seen) {
        uint64_t fo = seq_off(h, dseq) + pkt->payload_len + pkt->payload_missing;
        enum fin_verdict v = fin_acceptable(c, dir, fo);
        if (v == FIN_ACCEPTED)
            accept_fin(h, fo);
        else if (v == FIN_ACKED_PAST)
            h->fin_off = fo; /* a candidate, see handle_ack */
    }

    if (c->state < LS_STATE_ESTABLISHED && (c->flags & LS_CONN_MIDSTREAM))
        c->state = LS_STATE_ESTABLISHED;
    else if (c->state == LS_STATE_SYN_RECEIVED && dir == LS_DIR_C2S && (fl & LS_TCP_ACK) &&
             !(fl & LS_TCP_SYN))
        c->state = LS_STATE_ESTABLISHED;
    else if (c->state == LS_STATE_SYN_SENT && (fl & LS_TCP_ACK) && !(fl & LS_TCP_SYN) &&
             c->half[LS_DIR_C2S].syn_seen)
        /* A plain ACK after the SYN, from either side, means the SYN-ACK
         * was sent: the capture lost it. */
        c->state = LS_STATE_ESTABLISHED;
    if (h->fin_seen || peer->fin_seen) {
        bool both = h->fin_seen && peer->fin_seen;
        c->state = both ? LS_STATE_CLOSING : LS_STATE_HALF_CLOSED;
    }

    if (!(c->flags & LS_CONN_IGNORED)) {
        check_gap(t, c, LS_DIR_C2S);
        check_gap(t, c, LS_DIR_S2C);
    }
    if (fin_complete(c) || ((c->flags & LS_CONN_IGNORED) && h->fin_seen && peer->fin_seen)) {
        c->close_reason = LS_CLOSE_FIN;
        return LS_TCP_CLOSE;
    }
    return verdict;
}

void ls_tcp_flush(struct ls_tcp_ctx *t, struct ls_conn *c)
{
    for (int d = 0; d < 2; d++) {
        struct ls_half *h = &c->half[d];
        struct emit_ud u = {t, c, (enum ls_dir)d};
        if (c->flags & LS_CONN_IGNORED) {
            ls_reasm_discard(&h->rs, &t->rctx);
            continue;
        }
        /* Bytes known to exist but never seen (a FIN, an RST or an ACK past
         * them) are reported as a gap too, so the counts add up. (An ACK
         * covering a FIN the capture lost counts that FIN as one byte.) */
        uint64_t end = ls_reasm_held_end(&h->rs);
        if (h->max_end > end)
            end = h->max_end;
        if ((c->flags & LS_CONN_RESET) && c->reset_dir == d && h->seq_known) {
            /* The reset's sequence number is where the sender's stream
             * ended (its FIN, when it sent one, took one number): bytes
             * lost before it are a gap. */
            uint64_t at = seq_off(h, c->reset_seq);
            if (h->fin_seen && at > h->fin_off)
                at = h->fin_off;
            if (at > end && !far(at, end))
                end = at;
        }
        if (h->fin_seen) {
            end = h->fin_off; /* bytes held past it were out of the window */
        } else {
            uint64_t acked = acked_off(h, &c->half[!d]);
            if (acked > end && !far(acked, end))
                end = acked;
        }
        ls_reasm_skip_to(&h->rs, &t->rctx, &u, end);
    }
}

void ls_tcp_discard(struct ls_tcp_ctx *t, struct ls_conn *c)
{
    ls_reasm_discard(&c->half[0].rs, &t->rctx);
    ls_reasm_discard(&c->half[1].rs, &t->rctx);
}
