/* conn.h: one tracked TCP connection, as the flow table, the TCP tracker and
 * the script host see it. C owns it (flow table pool); scripts only hold a box
 * that points here until teardown. */
#ifndef LS_CONN_H
#define LS_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "decode.h"
#include "reasm.h"

enum ls_conn_state {
    LS_STATE_SYN_SENT = 0, /* client SYN seen */
    LS_STATE_SYN_RECEIVED, /* server SYN-ACK seen */
    LS_STATE_ESTABLISHED,  /* handshake done, or picked up mid-stream */
    LS_STATE_HALF_CLOSED,  /* one side has sent FIN */
    LS_STATE_CLOSING,      /* both sides have sent FIN */
    LS_STATE_CLOSED,       /* `closed` has been reported */
    LS_STATE__COUNT
};

/* Returns "syn_sent", "syn_received", "established", "half_closed", "closing" or "closed". */
const char *ls_conn_state_name(enum ls_conn_state st);

/* Connection flags. */
#define LS_CONN_IGNORED   0x01u /* no more data, gap or closed events */
#define LS_CONN_MIDSTREAM 0x02u /* the handshake was not seen */
#define LS_CONN_ANNOUNCED 0x04u /* the `connection` event has been delivered */
#define LS_CONN_DEAD      0x08u /* torn down; kept only to absorb stray packets */
#define LS_CONN_CLOSE_REQ 0x10u /* something asked for it to be closed at a safe point */
#define LS_CONN_RESET     0x20u /* an acceptable RST was seen; closes after a grace period */
#define LS_CONN_ASIDE     0x40u /* a SYN or SYN-ACK with a new ISN is kept aside (flow.c) */
#define LS_CONN_ALT_ISN   0x80u /* alt_isn is a SYN's other ISN, for the peer's ACK to pick */
/* The sender of direction d (LS_CONN_SUMS_OK << d) sent a segment with a
 * correct checksum: its checksums are to be believed (flow.c). */
#define LS_CONN_SUMS_OK 0x100u

/* Per-direction TCP state (the sender's side of one direction). */
struct ls_half {
    struct ls_reasm rs;
    uint32_t isn;      /* sequence number of stream offset LS_TCP_OFF0 */
    uint32_t win;      /* last window this side advertised (scaled when known) */
    uint32_t ack;      /* last ACK number this side sent */
    uint32_t syn_isn;  /* its SYN's sequence number + 1 (valid with syn_seen) */
    uint64_t max_end;  /* highest stream offset + 1 seen from this side */
    uint64_t fin_off;  /* stream offset of this side's FIN (valid with fin_seen); without
                        * it, non-zero: a FIN waiting for an ACK of exactly it */
    int8_t wscale;     /* window scale from this side's SYN, -1 unknown */
    uint8_t base_from; /* LS_BASE_*: what fixed `isn` */
    /* Bits, so that the timestamp fits: the half stays 104 bytes and the
     * connection six cache lines. */
    bool seq_known : 1; /* isn is meaningful */
    bool syn_seen : 1;
    bool fin_seen : 1;
    bool ack_seen : 1;        /* `ack` is meaningful */
    bool conflict_logged : 1; /* one log line per direction, the rest are counted */
    bool ts_offered : 1;      /* this side's SYN carried a timestamp (RFC 7323 3.2) */
    bool hole_cut : 1;        /* a hole starts where the capture cut a segment (snaplen) */
    uint8_t gap_wait;         /* packets a hole the peer ACKed past has waited, 0 none */
    uint32_t ts_recent;       /* this side's latest TSval in order, 0 none (RFC 7323 5.3) */
};

/* What fixed a direction's sequence base. */
enum { LS_BASE_NONE = 0, LS_BASE_SYN, LS_BASE_ACK, LS_BASE_DATA };

struct ls_keep;

struct ls_conn {
    /* --- owned by the flow table; first, so that a hash lookup reads one
     * cache line: the chain link, the hash and the endpoints --- */
    struct ls_conn *hash_next;
    uint32_t hash;

    /* --- read by scripts (through the box) --- */
    uint16_t client_port;
    uint16_t server_port;
    uint8_t af; /* 4 or 6 */
    uint8_t client_ip[16];
    uint8_t server_ip[16];
    uint8_t reset_dir; /* sender of the RST, with LS_CONN_RESET (TCP tracker's) */
    uint8_t alt_dir;   /* whose SYN alt_isn is, with LS_CONN_ALT_ISN (TCP tracker's) */
    unsigned flags;    /* LS_CONN_* */
    uint64_t id;       /* unique, increasing in creation order */
    enum ls_conn_state state;
    enum ls_close_reason close_reason;
    double start_time;    /* capture time of the first packet */
    double last_activity; /* capture time of the latest packet */

    /* --- owned by the script host --- */
    int lua_ref;           /* box id + 1 (lhost.h, struct ls_boxes), or <= 0 */
    uint32_t lua_handlers; /* bit per event with a conn:on handler */
    struct ls_keep *keep;  /* kept frames for carving (pcapw.h), or NULL */

    /* --- owned by the TCP tracker --- */
    struct ls_half half[2]; /* indexed by enum ls_dir: the sender of that direction */
    uint32_t busy;          /* >0 while a caller holds the connection: no release */
    uint32_t reset_seq;     /* sequence number of that RST, with LS_CONN_RESET */
    uint32_t alt_isn;       /* with LS_CONN_ALT_ISN: the ISN (+1) of alt_dir's SYN not used */

    /* --- owned by the flow table --- */
    struct ls_conn *age_prev, *age_next;     /* by last activity, oldest first */
    struct ls_conn *order_prev, *order_next; /* by creation */
    struct ls_conn *reset_prev, *reset_next; /* resetting, by deadline */
    double reset_deadline;
};

/* Bytes delivered so far in direction `d`. */
static inline uint64_t ls_conn_bytes(const struct ls_conn *c, enum ls_dir d)
{
    return c->half[d].rs.delivered;
}

/* Direction of `pkt` in `c`, or -1 when it belongs to another connection. */
static inline int ls_conn_packet_dir(const struct ls_conn *c, const struct ls_packet *pkt)
{
    if (c->af != pkt->af)
        return -1;
    if (c->client_port == pkt->sport && c->server_port == pkt->dport &&
        !memcmp(c->client_ip, pkt->src, 16) && !memcmp(c->server_ip, pkt->dst, 16))
        return LS_DIR_C2S;
    if (c->server_port == pkt->sport && c->client_port == pkt->dport &&
        !memcmp(c->server_ip, pkt->src, 16) && !memcmp(c->client_ip, pkt->dst, 16))
        return LS_DIR_S2C;
    return -1;
}

#endif
