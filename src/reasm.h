/* reasm.h: one direction of a TCP byte stream put back in order.
 * Works on 64-bit stream offsets (tcp.c maps sequence numbers to them); holds
 * out-of-order and not-yet-deliverable bytes in pool memory; trims overlaps by
 * policy; reports delivered bytes and gaps through callbacks. Knows nothing of
 * TCP flags, Lua or libpcap. */
#ifndef LS_REASM_H
#define LS_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ls_pool;
struct ls_seg;

/* Which copy of a byte wins when two segments carry different data for it:
 * the one held, the new one, or as Linux (and the BSDs) receive: bytes in
 * order are final, and of two out-of-order copies the segment that starts
 * lower wins (at the same start, the longer one). */
enum ls_overlap { LS_OVERLAP_FIRST = 0, LS_OVERLAP_LAST, LS_OVERLAP_LINUX };

/* Callbacks through which bytes leave the reassembler. `ud` is the value
 * given to each ls_reasm_* call. They may invoke scripts, but must not touch
 * this ls_reasm. */
struct ls_reasm_ops {
    /* `n` in-order bytes starting at stream offset `off` (borrowed); `ts`
     * is the capture time of the segment that brought the first of them. */
    void (*data)(void *ud, uint64_t off, const uint8_t *p, size_t n, double ts);
    /* `n` bytes at offset `off` will never be delivered. */
    void (*gap)(void *ud, uint64_t off, uint64_t n);
    /* A retransmission carried `n` bytes at `off` that differ from the copy
     * held; the policy kept the new copy when `replaced`, else the held one. */
    void (*conflict)(void *ud, uint64_t off, size_t n, bool replaced);
    /* Where the receiver's ACK of the stream stands (0: unknown): held
     * bytes below it are in its queue, so LS_OVERLAP_LINUX keeps them. May
     * be NULL. Asked only when copies conflict. */
    uint64_t (*acked)(void *ud);
};

/* Most segments one direction holds; a new one past it forces out the oldest,
 * as memory pressure does. It bounds the list walk each insertion makes (a
 * flood of tiny out-of-order segments would otherwise cost quadratic time)
 * and, with blocks of at most LS_POOL_MAX_BLOCK, keeps held_mem (and so
 * `held`) far below 4 GiB. */
#define LS_REASM_MAX_SEGS 1024

struct ls_reasm {
    uint64_t next;       /* offset of the next byte to deliver; all below is done */
    uint64_t limit;      /* bytes below this offset may be delivered (ACK gating) */
    struct ls_seg *head; /* held segments, sorted by offset, never overlapping */
    struct ls_seg *tail;
    size_t held_mem;    /* pool bytes behind them: what max_held limits */
    uint32_t held;      /* payload bytes held in segments (<= held_mem) */
    uint32_t nsegs;     /* segments held, at most LS_REASM_MAX_SEGS (read-only) */
    uint64_t delivered; /* bytes handed to ops->data */
    uint64_t gap_bytes; /* bytes reported through ops->gap */
};

/* Shared settings and memory of all reassemblers of a table. */
struct ls_reasm_ctx {
    struct ls_pool *pool;
    const struct ls_reasm_ops *ops;
    enum ls_overlap overlap;
    size_t max_held;    /* per direction, in pool block bytes: past it the oldest
                         * held bytes are forced out */
    double now;         /* capture time of the packet being processed */
    uint64_t conflicts; /* segments whose overlap differed */
    uint64_t forced;    /* times max_held or the pool cap forced bytes out */
};

/* Starts a stream whose first byte has offset `start`; delivery limited to
 * offsets below `limit` (UINT64_MAX delivers as soon as bytes are in order). */
void ls_reasm_init(struct ls_reasm *r, uint64_t start, uint64_t limit);

/* Adds `n` bytes (borrowed) at offset `off`. Bytes below r->next are
 * dropped, bytes already held are resolved by the overlap policy, and
 * whatever becomes deliverable is delivered before returning (straight from
 * `p` when nothing is held). When memory (in pool blocks: ctx->max_held or
 * the pool cap) or LS_REASM_MAX_SEGS is short the oldest held bytes are
 * delivered, with the holes before them reported as gaps. */
void ls_reasm_add(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t off,
                  const uint8_t *p, size_t n);

/* Raises the delivery limit to `limit` (never lowers it) and delivers what it allows. */
void ls_reasm_set_limit(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t limit);

/* Declares that nothing below `upto` will arrive any more: holes below it
 * become gaps and held bytes below it are delivered, limit or not. */
void ls_reasm_skip_to(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t upto);

/* Delivers everything held, reporting each hole as a gap (close, timeout, end). */
void ls_reasm_flush(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud);

/* Offset one past the contiguous bytes from r->next (delivered or held). */
uint64_t ls_reasm_contig_end(const struct ls_reasm *r);

/* A hint before a packet whose ACK may release this direction's bytes:
 * prefetches the held bytes that continue the stream (up to one in-order
 * block), which delivery is about to copy. Changes nothing. */
void ls_reasm_prefetch(const struct ls_reasm *r);

/* A hint before `n` in-order bytes arrive: prefetches, for writing, where
 * they will be appended when the last held block has room for them. */
void ls_reasm_prefetch_append(const struct ls_reasm *r, size_t n);

/* Offset one past the highest byte held, or r->next when nothing is held. */
uint64_t ls_reasm_held_end(const struct ls_reasm *r);

/* Frees every held segment without delivering it (connection ignored). */
void ls_reasm_discard(struct ls_reasm *r, struct ls_reasm_ctx *ctx);

/* Moves the start of a stream that has delivered nothing yet back to
 * `start` (a segment older than the first one seen, on a mid-stream pickup).
 * With `hold`, a delivery limit still at the old start moves with it (the
 * older bytes wait for their ACK too); without, they count as acknowledged
 * (the old start came from an ACK). */
void ls_reasm_rebase(struct ls_reasm *r, uint64_t start, bool hold);

#endif
