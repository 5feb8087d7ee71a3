/* reasm.c: one direction of a stream put back in order.
 *
 * Held bytes live in segments from the pool, kept sorted and non-overlapping,
 * all at or above r->next. A new segment only fills the holes between held
 * ones; where it overlaps held bytes the two copies are compared, and the
 * overlap policy says which stays. Bytes below r->next are final: they have
 * been delivered (or declared lost) and later copies are dropped. */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"

struct ls_seg {
    struct ls_seg *prev, *next;
    uint64_t off;   /* stream offset of data[start] */
    uint32_t start; /* bytes of data[] already consumed */
    uint32_t len;   /* live bytes from data[start] */
    uint32_t cap;   /* size of data[] */
    uint32_t mem;   /* size of the pool block */
    double ts;      /* capture time of the segment that brought data[start] */
    uint8_t data[];
};

#define SEG_HDR offsetof(struct ls_seg, data)
/* Most payload one pool block carries. */
#define MAX_CHUNK (LS_POOL_MAX_BLOCK - SEG_HDR)
/* Block size for bytes that continue the stream in order (see insert_piece). */
#define IN_ORDER_BLOCK 8192

/* Most pool bytes a direction can hold, however large max_held is: r->held
 * is 32-bit (struct ls_reasm stays 64 bytes), and the segment cap keeps it
 * so. */
#define MOST_HELD ((uint64_t)LS_REASM_MAX_SEGS * LS_POOL_MAX_BLOCK)
_Static_assert(MOST_HELD <= UINT32_MAX, "held bytes must fit r->held");

static inline uint64_t seg_end(const struct ls_seg *s)
{
    return s->off + s->len;
}

static inline uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Bytes that can be appended to `s` without a new block. */
static inline size_t spare(const struct ls_seg *s)
{
    return s->cap - s->start - s->len;
}

void ls_reasm_init(struct ls_reasm *r, uint64_t start, uint64_t limit)
{
    *r = (struct ls_reasm){0};
    r->next = start;
    r->limit = limit;
}

void ls_reasm_rebase(struct ls_reasm *r, uint64_t start, bool hold)
{
    if (r->delivered == 0 && r->gap_bytes == 0 && start < r->next) {
        if (hold && r->limit == r->next)
            r->limit = start;
        r->next = start;
    }
}

uint64_t ls_reasm_contig_end(const struct ls_reasm *r)
{
    uint64_t end = r->next;
    for (const struct ls_seg *s = r->head; s && s->off == end; s = s->next)
        end = seg_end(s);
    return end;
}

void ls_reasm_prefetch(const struct ls_reasm *r)
{
    const struct ls_seg *s = r->head;

    if (s == NULL || s->off != r->next)
        return;
    size_t n = s->len < IN_ORDER_BLOCK ? s->len : IN_ORDER_BLOCK;
    for (size_t i = 0; i < n; i += 64)
        __builtin_prefetch(s->data + s->start + i);
}

void ls_reasm_prefetch_append(const struct ls_reasm *r, size_t n)
{
    const struct ls_seg *t = r->tail;

    if (t == NULL || spare(t) < n)
        return;
    const uint8_t *p = t->data + t->start + t->len;
    for (size_t i = 0; i < n; i += 64)
        __builtin_prefetch(p + i, 1);
}

uint64_t ls_reasm_held_end(const struct ls_reasm *r)
{
    return r->tail ? seg_end(r->tail) : r->next;
}

/* ---- segment list ---- */

static void unlink_seg(struct ls_reasm *r, struct ls_seg *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        r->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        r->tail = s->prev;
}

static void free_seg(struct ls_reasm *r, struct ls_reasm_ctx *ctx, struct ls_seg *s)
{
    unlink_seg(r, s);
    r->nsegs--;
    r->held -= s->len;
    r->held_mem -= s->mem;
    ls_pool_free(ctx->pool, s, s->mem);
}

/* The first held segment that ends after `off`, or NULL. The walk starts at
 * whichever end of the list is nearer `off`: in-order data lands at the
 * tail, but a stream sent backwards lands at the head every time. */
static struct ls_seg *find_pos(const struct ls_reasm *r, uint64_t off)
{
    struct ls_seg *s = r->tail;
    if (!s || seg_end(s) <= off)
        return NULL;
    if (off <= r->head->off || off - r->head->off < seg_end(s) - off) {
        for (s = r->head; seg_end(s) <= off; s = s->next)
            ;
        return s;
    }
    while (s->prev && seg_end(s->prev) > off)
        s = s->prev;
    return s;
}

/* ---- what holding bytes costs ---- */

/* Pool bytes and segments that holding new bytes takes. */
struct cost {
    size_t mem;
    size_t segs;
};

/* Adds what insert_piece takes for `n` bytes at `off` after `last` (NULL:
 * nothing before them): nothing when they fit in last's spare room, which
 * is already charged, else a block per chunk. Spare room for in-order bytes
 * to come is left out: insert_piece adds it only when the budget allows. */
static void piece_cost(const struct ls_seg *last, uint64_t off, size_t n, struct cost *c)
{
    if (last && seg_end(last) == off && spare(last) >= n)
        return;
    while (n > 0) {
        size_t chunk = n < MAX_CHUNK ? n : MAX_CHUNK;
        c->mem += ls_pool_block_size(SEG_HDR + chunk);
        c->segs++;
        n -= chunk;
    }
}

/* What holding [off, off + n) takes: the holes between held segments it
 * fills, walked from `cur` (find_pos) as ls_reasm_add fills them. Bytes
 * that overlap held ones cost nothing. */
static struct cost hold_cost(const struct ls_reasm *r, const struct ls_seg *cur, uint64_t off,
                             size_t n)
{
    struct cost c = {0, 0};
    const struct ls_seg *last = cur ? cur->prev : r->tail;
    uint64_t end = off + n;
    while (off < end) {
        if (!cur || cur->off >= end) {
            piece_cost(last, off, (size_t)(end - off), &c);
            break;
        }
        if (cur->off > off)
            piece_cost(last, off, (size_t)(cur->off - off), &c);
        off = min64(end, seg_end(cur));
        last = cur;
        cur = cur->next;
    }
    return c;
}

/* Whether this direction can take on `c` within max_held and
 * LS_REASM_MAX_SEGS, and the pool within its cap. */
static bool has_room(const struct ls_reasm *r, const struct ls_reasm_ctx *ctx, struct cost c)
{
    return r->held_mem + c.mem <= ctx->max_held && r->nsegs + c.segs <= LS_REASM_MAX_SEGS &&
           ctx->pool->in_use + c.mem <= ctx->pool->limit;
}

/* Inserts a copy of p[0..n) at `off` before `before` (NULL: at the tail).
 * ls_reasm_add has made room for it (hold_cost). Returns false when memory
 * is refused; the bytes are then simply not held. */
static bool insert_piece(struct ls_reasm *r, struct ls_reasm_ctx *ctx, struct ls_seg *before,
                         uint64_t off, const uint8_t *p, size_t n)
{
    /* Appending to the tail's spare room saves a block per segment on the
     * common in-order path, and costs nothing: the room is charged already. */
    struct ls_seg *last = before ? before->prev : r->tail;
    if (last && seg_end(last) == off && spare(last) >= n) {
        memcpy(last->data + last->start + last->len, p, n);
        last->len += (uint32_t)n;
        r->held += (uint32_t)n;
        return true;
    }
    while (n > 0) {
        size_t chunk = n < MAX_CHUNK ? n : MAX_CHUNK;
        size_t got;
        /* Room was made for this; the check keeps the limits hard anyway. */
        if (!has_room(r, ctx, (struct cost){ls_pool_block_size(SEG_HDR + chunk), 1}))
            return false;
        /* A piece that continues the stream in order is usually followed
         * by more: give it room for several segments, so they are appended
         * to one block and an ACK releases them in one delivery. How many
         * grows with what the stream has carried so far (as much again, up
         * to a full block; the size class rounds up), because most streams
         * are short and a block is held until its bytes are acknowledged.
         * Pieces past a hole get just what they need. The spare room is
         * charged against the limits too, so near them there is none. Only the
         * last piece of an insertion can continue the stream, so the room
         * never takes what a later piece of it was counted on. */
        size_t room = chunk;
        if (off == ls_reasm_held_end(r)) {
            uint64_t carried = r->delivered + r->held + chunk;
            size_t target =
                carried < IN_ORDER_BLOCK - SEG_HDR ? (size_t)carried : IN_ORDER_BLOCK - SEG_HDR;
            if (room < target &&
                has_room(r, ctx, (struct cost){ls_pool_block_size(SEG_HDR + target), 1}))
                room = target;
        }
        size_t want = SEG_HDR + room;
        struct ls_seg *s = ls_pool_alloc(ctx->pool, want, &got);
        if (!s)
            s = ls_pool_alloc(ctx->pool, SEG_HDR + chunk, &got);
        if (!s)
            return false;
        s->off = off;
        s->ts = ctx->now;
        s->start = 0;
        s->len = (uint32_t)chunk;
        s->cap = (uint32_t)(got - SEG_HDR);
        s->mem = (uint32_t)got;
        memcpy(s->data, p, chunk);
        s->next = before;
        s->prev = before ? before->prev : r->tail;
        if (s->prev)
            s->prev->next = s;
        else
            r->head = s;
        if (before)
            before->prev = s;
        else
            r->tail = s;
        r->nsegs++;
        r->held += (uint32_t)chunk;
        r->held_mem += got;
        off += chunk;
        p += chunk;
        n -= chunk;
    }
    return true;
}

/* Merges runs of adjacent held segments into one block each, where the
 * block costs no more than the blocks it replaces. Pieces that touch but
 * were not appended to one another (one-byte segments sent backwards, or
 * tiny ones in random order) each hold a block: without this they reach
 * LS_REASM_MAX_SEGS or max_held long before the bytes do, and bytes would
 * be forced out with a gap though nothing is missing. Returns whether
 * anything was merged. */
static bool compact(struct ls_reasm *r, struct ls_reasm_ctx *ctx)
{
    bool merged = false;
    struct ls_seg *s = r->head;
    while (s) {
        struct ls_seg *last = s;
        size_t len = s->len, mem = s->mem;
        while (last->next && seg_end(last) == last->next->off &&
               len + last->next->len <= MAX_CHUNK &&
               ls_pool_block_size(SEG_HDR + len + last->next->len) <= mem + last->next->mem) {
            last = last->next;
            len += last->len;
            mem += last->mem;
        }
        struct ls_seg *after = last->next;
        size_t got;
        struct ls_seg *m = last != s ? ls_pool_alloc(ctx->pool, SEG_HDR + len, &got) : NULL;
        if (m) {
            m->off = s->off;
            m->ts = s->ts;
            m->start = 0;
            m->len = 0;
            m->cap = (uint32_t)(got - SEG_HDR);
            m->mem = (uint32_t)got;
            m->prev = s->prev;
            m->next = s;
            if (s->prev)
                s->prev->next = m;
            else
                r->head = m;
            s->prev = m;
            r->nsegs++;
            r->held_mem += got;
            for (struct ls_seg *p = s, *pn; p != after; p = pn) {
                pn = p->next;
                memcpy(m->data + m->len, p->data + p->start, p->len);
                m->len += p->len;
                r->held += p->len; /* free_seg takes it off again */
                free_seg(r, ctx, p);
            }
            merged = true;
        }
        s = after;
    }
    return merged;
}

/* ---- delivery ---- */

static void emit(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, const uint8_t *p, size_t n,
                 double ts)
{
    uint64_t off = r->next;
    r->next += n;
    r->delivered += n;
    ctx->ops->data(ud, off, p, n, ts);
}

static void emit_gap(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t n)
{
    uint64_t off = r->next;
    r->next += n;
    r->gap_bytes += n;
    ctx->ops->gap(ud, off, n);
}

/* Delivers up to `upto` the held bytes that start exactly at r->next. */
static void deliver_held(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t upto)
{
    struct ls_seg *s;
    while ((s = r->head) && s->off == r->next && r->next < upto) {
        size_t n = (size_t)min64(s->len, upto - r->next);
        const uint8_t *p = s->data + s->start;
        s->start += (uint32_t)n;
        s->len -= (uint32_t)n;
        s->off += n;
        r->held -= (uint32_t)n;
        /* The block stays allocated across the callback; it is freed after. */
        emit(r, ctx, ud, p, n, s->ts);
        if (s->len == 0)
            free_seg(r, ctx, s);
    }
}

/* Frees memory by delivering the oldest held segment (there is one), the
 * hole before it becoming a gap. */
static void force_front(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud)
{
    struct ls_seg *s = r->head;
    ctx->forced++;
    if (s->off > r->next)
        emit_gap(r, ctx, ud, s->off - r->next);
    deliver_held(r, ctx, ud, seg_end(s));
}

/* Whether new bytes [start, end) replace held segment `s` where they
 * differ. `contig` is where the bytes in order from r->next ended before
 * they came. */
static bool new_copy_wins(const struct ls_reasm_ctx *ctx, void *ud, const struct ls_seg *s,
                          uint64_t start, uint64_t end, uint64_t contig)
{
    switch (ctx->overlap) {
    case LS_OVERLAP_LAST: return true;
    case LS_OVERLAP_LINUX:
        /* Bytes in order, or below the receiver's ACK (the capture may have
         * lost what came before them), are in its queue already; out of
         * order, Linux trims the later-starting copy (tcp_ofo_queue) and
         * replaces a segment that one at its start covers
         * (tcp_data_queue_ofo). */
        if (!(start < s->off || (start == s->off && end > seg_end(s))))
            return false;
        return s->off >= contig && !(ctx->ops->acked && s->off < ctx->ops->acked(ud));
    case LS_OVERLAP_FIRST: break;
    }
    return false;
}

/* Compares the overlap [off, off + n) of new bytes [start, end) with held
 * segment `s`, and where they differ applies the overlap policy. */
static void resolve_overlap(struct ls_reasm_ctx *ctx, void *ud, struct ls_seg *s, uint64_t off,
                            const uint8_t *p, size_t n, uint64_t start, uint64_t end,
                            uint64_t contig)
{
    uint8_t *held = s->data + s->start + (off - s->off);
    if (memcmp(held, p, n) == 0)
        return;
    bool replace = new_copy_wins(ctx, ud, s, start, end, contig);
    ctx->conflicts++;
    if (ctx->ops->conflict)
        ctx->ops->conflict(ud, off, n, replace);
    if (replace)
        memcpy(held, p, n);
}

/* Drops the part of [off, off+n) below r->next (final bytes). Returns false
 * when nothing is left. */
static bool trim_final(const struct ls_reasm *r, uint64_t *off, const uint8_t **p, size_t *n)
{
    if (*n == 0 || *off + *n <= r->next)
        return false;
    if (*off < r->next) {
        size_t cut = (size_t)(r->next - *off);
        *p += cut;
        *n -= cut;
        *off = r->next;
    }
    return true;
}

void ls_reasm_add(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t off,
                  const uint8_t *p, size_t n)
{
    if (!trim_final(r, &off, &p, &n))
        return;

    /* Fast path: in order, nothing held, allowed now: straight from the packet. */
    if (!r->head && off == r->next && r->limit > off) {
        size_t now = (size_t)min64(n, r->limit - off);
        emit(r, ctx, ud, p, now, ctx->now);
        p += now;
        n -= now;
        off += now;
        if (n == 0)
            return;
    }

    /* Force out the oldest held bytes until holding the new ones fits the
     * limits (forcing may deliver past them, leaving nothing to hold). */
    struct ls_seg *cur;
    bool compacted = false;
    for (;;) {
        cur = find_pos(r, off);
        if (has_room(r, ctx, hold_cost(r, cur, off, n)))
            break;
        if (!compacted) {
            compacted = true;
            if (compact(r, ctx))
                continue;
        }
        if (!r->head || off < r->head->off) {
            /* The new bytes begin before everything held, or nothing of
             * ours is held and memory is still short: they are the oldest,
             * so they go out first, any hole before them lost (the hole
             * they fill in front of held bytes is no gap). */
            size_t now = r->head ? (size_t)min64(n, r->head->off - off) : n;
            ctx->forced++;
            if (off > r->next)
                emit_gap(r, ctx, ud, off - r->next);
            emit(r, ctx, ud, p, now, ctx->now);
            p += now;
            n -= now;
            off += now;
            if (n == 0) {
                deliver_held(r, ctx, ud, r->limit);
                return;
            }
            continue;
        }
        force_front(r, ctx, ud);
        if (!trim_final(r, &off, &p, &n))
            return;
    }

    uint64_t start = off, end = off + n;
    /* Where the bytes in order end, before these fill anything: the Linux
     * policy's line, needed only when they overlap held ones. */
    uint64_t contig = ctx->overlap == LS_OVERLAP_LINUX && cur && cur->off < end
                          ? ls_reasm_contig_end(r)
                          : r->next;
    while (off < end) {
        if (!cur || cur->off >= end) {
            insert_piece(r, ctx, cur, off, p, (size_t)(end - off));
            break;
        }
        if (cur->off > off) {
            size_t piece = (size_t)(cur->off - off);
            insert_piece(r, ctx, cur, off, p, piece);
            p += piece;
            off += piece;
        }
        uint64_t ov_end = min64(end, seg_end(cur));
        resolve_overlap(ctx, ud, cur, off, p, (size_t)(ov_end - off), start, end, contig);
        p += ov_end - off;
        off = ov_end;
        cur = cur->next;
    }
    deliver_held(r, ctx, ud, r->limit);
}

void ls_reasm_set_limit(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t limit)
{
    if (limit > r->limit)
        r->limit = limit;
    deliver_held(r, ctx, ud, r->limit);
}

void ls_reasm_skip_to(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud, uint64_t upto)
{
    while (r->next < upto) {
        struct ls_seg *s = r->head;
        if (s && s->off == r->next) {
            deliver_held(r, ctx, ud, upto);
            continue;
        }
        uint64_t hole_end = s ? min64(s->off, upto) : upto;
        emit_gap(r, ctx, ud, hole_end - r->next);
    }
    deliver_held(r, ctx, ud, r->limit);
}

void ls_reasm_flush(struct ls_reasm *r, struct ls_reasm_ctx *ctx, void *ud)
{
    if (r->tail)
        ls_reasm_skip_to(r, ctx, ud, seg_end(r->tail));
}

void ls_reasm_discard(struct ls_reasm *r, struct ls_reasm_ctx *ctx)
{
    while (r->head)
        free_seg(r, ctx, r->head);
}
