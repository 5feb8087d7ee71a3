/* flow.h: the connection table. Finds or creates the connection of each TCP
 * packet, hands the packet to the TCP tracker, expires idle connections on the
 * capture clock, caps their number, and releases them only at safe points.
 * Events leave through struct ls_flow_hooks; nothing here knows Lua or libpcap. */
#ifndef LS_FLOW_H
#define LS_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "conn.h"
#include "frag.h"
#include "pool.h"
#include "reasm.h"

struct ls_packet;

/* When reassembled bytes are handed to the hooks. */
enum ls_deliver { LS_DELIVER_ACK = 0, LS_DELIVER_ARRIVAL };

struct ls_flow_config {
    uint32_t max_connections; /* tracked at once; past it the idlest is evicted */
    double idle_timeout;      /* seconds of capture time without a packet */
    size_t max_conn_buffer;   /* bytes held per direction before forcing out */
    size_t max_buffer;        /* bytes held by all connections together */
    enum ls_deliver deliver;
    enum ls_overlap overlap;
    /* Drop a segment with a wrong checksum from a sender that has sent a
     * correct one (--checksums auto; see robustness.md). */
    bool check_senders;
};

/* Fills `cfg` with the defaults documented in README (300 s, ack, first, ...). */
void ls_flow_config_default(struct ls_flow_config *cfg);

/* Counters; all monotonic except the ones marked "now". */
struct ls_stats {
    uint64_t packets;     /* packets read from the sources (app) */
    uint64_t bytes;       /* captured bytes read (app) */
    uint64_t decode[16];  /* by enum ls_decode_status (app) */
    uint64_t tcp_packets; /* TCP segments handed to the table */
    uint64_t connections; /* connections created */
    uint64_t active;      /* now: connections being tracked (not dead) */
    uint64_t peak_active;
    uint64_t ignored;                 /* connections ignored by scripts */
    uint64_t closed[LS_CLOSE__COUNT]; /* by close reason */
    uint64_t payload_bytes;           /* bytes delivered to the hooks */
    uint64_t gaps;                    /* gap events */
    uint64_t gap_bytes;
    uint64_t overlaps_conflicting; /* retransmissions whose bytes differed */
    uint64_t forced_out;           /* times a buffer cap forced bytes out early */
    uint64_t out_of_window;        /* segments a receiver would drop (tcp.md) */
    uint64_t rst_ignored;          /* resets outside the window */
    uint64_t stray;                /* packets for no connection that created none */
    uint64_t script_errors;        /* handler errors (script host) */
    size_t buffered;               /* now: bytes held for reassembly */
    size_t peak_buffered;
    uint64_t bad_checksums;    /* packets dropped for a wrong checksum (app, table) */
    struct ls_frag_stats frag; /* IP fragment reassembly (app, copied from frag.c) */
};

/* Where the table's events go. Every callback may run script code; none may
 * free or release the connection it is given (ask with ls_flow_request_close
 * or ls_flow_ignore instead). */
struct ls_flow_hooks {
    void *ud;
    /* A new connection; returns false when the script ignores it. */
    bool (*open)(void *ud, struct ls_conn *c);
    /* In-order bytes (borrowed) of direction `d`; `ts` is the capture time
     * of the segment that brought the first of them (with --deliver ack,
     * earlier than the ACK that released them). */
    void (*data)(void *ud, struct ls_conn *c, enum ls_dir d, const uint8_t *p, size_t n, double ts);
    /* `n` bytes of direction `d` that will never arrive. */
    void (*gap)(void *ud, struct ls_conn *c, enum ls_dir d, uint64_t n);
    /* The connection ended; reported once, and not for ignored connections. */
    void (*closed)(void *ud, struct ls_conn *c, enum ls_close_reason why);
    /* Last call for every announced connection; the box must detach here. */
    void (*teardown)(void *ud, struct ls_conn *c);
    /* A diagnostic about `c` (may be NULL), already formatted. */
    void (*log)(void *ud, enum ls_log_level level, struct ls_conn *c, const char *msg);
    /* The packet being processed belongs to `c`, sent by the side of
     * direction `d`. Called for every packet of a live connection (ignored
     * ones included), after `open` and before the TCP tracker sees it, so
     * that carving can record the frame before any handler runs for it. May
     * be NULL. Must not call script code. */
    void (*packet)(void *ud, struct ls_conn *c, enum ls_dir d);
};

struct ls_flow_table;

/* Creates a table. `cfg` and `hooks` are copied. Returns NULL on ENOMEM. */
struct ls_flow_table *ls_flow_new(const struct ls_flow_config *cfg,
                                  const struct ls_flow_hooks *hooks);

/* Frees the table and every connection WITHOUT events; call ls_flow_finish first. */
void ls_flow_free(struct ls_flow_table *ft);

/* Processes one decoded TCP packet captured at `ts` (seconds). May call every
 * hook. Advances the clock (see ls_flow_advance) first. */
void ls_flow_input(struct ls_flow_table *ft, const struct ls_packet *pkt, double ts);

/* The same, for a packet whose ls_flow_hash is already known. */
void ls_flow_input_hashed(struct ls_flow_table *ft, const struct ls_packet *pkt, double ts,
                          uint32_t hash);

/* The table's hash of a TCP packet's connection (for ls_flow_prefetch). */
uint32_t ls_flow_hash(const struct ls_flow_table *ft, const struct ls_packet *pkt);

/* A hint for a TCP packet (of ls_flow_hash `hash`) that ls_flow_input
 * will see shortly, in four stages a few packets apart, each reading what
 * the one before fetched: 0 prefetches its hash bucket, 1 the connection
 * the bucket leads to, 2 the memory handling the packet will reach through
 * the connection, 3 the held bytes its ACK may release. Changes nothing. */
void ls_flow_prefetch(const struct ls_flow_table *ft, const struct ls_packet *pkt, uint32_t hash,
                      int stage);

/* Moves the capture clock to `ts` (never backwards) and closes connections
 * idle for longer than the timeout (reason "timeout"). May call hooks. */
void ls_flow_advance(struct ls_flow_table *ft, double ts);

/* Current capture clock: the highest timestamp seen, 0 before any. */
double ls_flow_now(const struct ls_flow_table *ft);

/* Closes every open connection with `why` (normally "end"), in creation
 * order: their held bytes are flushed, then closed and teardown fire. */
void ls_flow_finish(struct ls_flow_table *ft, enum ls_close_reason why);

/* Stops delivering events for `c` (except teardown) and frees its buffers at
 * the next safe point. Safe to call from any hook. */
void ls_flow_ignore(struct ls_flow_table *ft, struct ls_conn *c);

/* Asks for `c` to be closed (reason "end") at the next safe point. Safe
 * from any hook. */
void ls_flow_request_close(struct ls_flow_table *ft, struct ls_conn *c);

/* Counters, live. The app adds its own (packets, bytes, decode). */
struct ls_stats *ls_flow_stats(struct ls_flow_table *ft);

/* The configuration in force. */
const struct ls_flow_config *ls_flow_config(const struct ls_flow_table *ft);

/* Calls `fn` for each live (not dead) connection in creation order. `fn`
 * must not close connections. */
void ls_flow_foreach(struct ls_flow_table *ft, void (*fn)(void *ud, struct ls_conn *c), void *ud);

#endif
