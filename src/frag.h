/* frag.h: IPv4 and IPv6 fragment reassembly in a bounded table. Collects the
 * fragments that ls_decode reports, and when a datagram is whole, rebuilds it
 * and decodes it like any packet. Every resource is capped: datagrams in
 * flight, fragments per datagram, bytes held, and time on the capture clock.
 * Knows nothing of TCP, Lua or libpcap. */
#ifndef LS_FRAG_H
#define LS_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

struct ls_frag_config {
    uint32_t max_datagrams; /* reassemblies in flight; past it the oldest is dropped */
    uint32_t max_frags;     /* fragments held per datagram; one more drops it */
    size_t max_mem;         /* bytes held by all datagrams together */
    double timeout;         /* seconds of capture time from a datagram's first fragment */
};

/* Counters; monotonic except the ones marked "now". */
struct ls_frag_stats {
    uint64_t fragments;   /* fragments offered */
    uint64_t reassembled; /* datagrams completed and decoded */
    uint64_t timeouts;    /* datagrams dropped incomplete after the timeout */
    uint64_t evicted;     /* datagrams dropped for room (table full or memory cap) */
    uint64_t overlaps;    /* datagrams dropped because fragments disagreed */
    uint64_t too_many;    /* datagrams dropped past max_frags */
    uint64_t invalid;     /* fragments that cannot belong to any datagram */
    uint64_t datagrams;   /* now: reassemblies in flight */
    size_t mem;           /* now: bytes held (pool blocks) */
    size_t peak_mem;
};

/* Fills `cfg` with the defaults: 4096 datagrams, 64 fragments each, 16 MiB,
 * 30 s (the Linux defaults' order of magnitude). */
void ls_frag_config_default(struct ls_frag_config *cfg);

struct ls_frag_table;

/* Creates a table; `cfg` is copied. Returns NULL on ENOMEM. */
struct ls_frag_table *ls_frag_new(const struct ls_frag_config *cfg);

/* Frees the table and every fragment it holds. NULL is ignored. */
void ls_frag_free(struct ls_frag_table *t);

/* Offers one fragment (`frag` as filled by ls_decode with status
 * LS_DECODE_FRAGMENT; its bytes are borrowed for the call and copied) seen
 * at capture time `now`. Datagrams older than the timeout are dropped first.
 * Returns LS_DECODE_FRAGMENT while the datagram is incomplete or was
 * dropped; once it is whole, decodes it into `out` and returns that status
 * (LS_DECODE_TCP, ...). `out` then points into the table's own buffer and
 * stays valid until the next call on the table. Payload bytes that some
 * fragment lacked in the capture (snaplen) end the captured part of the
 * datagram: everything from the first such byte on is reported as
 * payload_missing, never as data. Never calls into Lua. */
enum ls_decode_status ls_frag_input(struct ls_frag_table *t, const struct ls_packet *frag,
                                    double now, struct ls_packet *out);

/* Drops datagrams whose first fragment is older than the timeout at `now`. */
void ls_frag_expire(struct ls_frag_table *t, double now);

/* Counters, live. */
const struct ls_frag_stats *ls_frag_stats(const struct ls_frag_table *t);

#endif
