/* tcp.h: the TCP tracker of one connection: handshake, roles' sequence
 * spaces, ACK gating, gap detection, FIN/RST handling. It feeds the two
 * per-direction reassemblers and reports through the flow hooks; it never
 * creates, frees or looks up connections (flow.c does). */
#ifndef LS_TCP_H
#define LS_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "conn.h"
#include "reasm.h"

struct ls_packet;
struct ls_flow_hooks;
struct ls_stats;
struct ls_pool;

/* Stream offset of a direction's first data byte. Offsets start high so that
 * a mid-stream pickup can move its start back to an older segment. */
#define LS_TCP_OFF0 ((uint64_t)1 << 32)

/* Settings and shared state the tracker needs, owned by the flow table. */
struct ls_tcp_ctx {
    struct ls_reasm_ctx rctx;
    const struct ls_flow_hooks *hooks;
    struct ls_stats *stats;
    bool deliver_on_ack; /* --deliver ack */
};

/* What the flow table must do after a packet. */
enum ls_tcp_verdict {
    LS_TCP_CONTINUE = 0,
    LS_TCP_CLOSE,   /* the connection ended; reason in c->close_reason */
    LS_TCP_RESET,   /* an acceptable RST: close after the in-flight grace period */
    LS_TCP_UNRESET, /* the RST's sender went on talking: the RST was forged */
};

/* Fills a tracker context; the pointers are borrowed for its lifetime. */
void ls_tcp_ctx_init(struct ls_tcp_ctx *t, struct ls_pool *pool, enum ls_overlap overlap,
                     size_t max_held, bool deliver_on_ack, const struct ls_flow_hooks *hooks,
                     struct ls_stats *stats);

/* Sets up both directions of a new connection. */
void ls_tcp_init(struct ls_tcp_ctx *t, struct ls_conn *c);

/* Processes one segment sent in direction `dir`. May deliver data, gaps and
 * log messages through the hooks (and so run scripts). */
enum ls_tcp_verdict ls_tcp_input(struct ls_tcp_ctx *t, struct ls_conn *c, enum ls_dir dir,
                                 const struct ls_packet *pkt);

/* True when `pkt` (sent in `dir`) opens a new connection on the same
 * 4-tuple rather than continuing `c`: a SYN with a new ISN once `c` is past
 * its handshake. */
bool ls_tcp_is_new_syn(const struct ls_conn *c, enum ls_dir dir, const struct ls_packet *pkt);

/* Whether `seq`, as a sequence or acknowledgment number of direction
 * `dir`'s bytes, lies within a window of the bytes that direction has
 * carried: a segment or ACK so numbered can belong to the connection. */
bool ls_tcp_seq_in_stream(const struct ls_conn *c, enum ls_dir dir, uint32_t seq);

/* True when `pkt` (from `dir`) on an ended connection begins a new one on
 * the same endpoints rather than being a straggler: a new SYN, a SYN-ACK
 * with another ISN (its SYN not captured), or data far from where the old
 * stream was. */
bool ls_tcp_starts_anew(const struct ls_conn *c, enum ls_dir dir, const struct ls_packet *pkt);

/* Delivers everything held in both directions, holes reported as gaps
 * (close, timeout, end of input). May run scripts. */
void ls_tcp_flush(struct ls_tcp_ctx *t, struct ls_conn *c);

/* Frees held bytes without delivering them (ignored or dead connection). */
void ls_tcp_discard(struct ls_tcp_ctx *t, struct ls_conn *c);

#endif
