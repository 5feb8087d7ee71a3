/* frag.c: IPv4 (RFC 791) and IPv6 (RFC 8200 4.5) fragment reassembly. A fixed
 * table of datagram slots found through a seeded hash, an age list for the
 * timeout and for eviction, and fragment copies in capped pool memory. The
 * whole datagram is rebuilt behind a minimal IP header and handed back to the
 * decoder, so a reassembled packet is decoded exactly like a whole one.
 *
 * Overlap policy, Linux's (inet_frag_queue_insert, for IPv4 and IPv6): a
 * fragment within bytes already held is a duplicate and changes nothing,
 * whatever it carries; one that overlaps held bytes only in part, or
 * disagrees on where the datagram ends, drops the whole datagram (counted
 * in `overlaps`; RFC 5722 with its erratum 3089 for IPv6). Accepting what
 * the host refused, or refusing what it accepted, would let a peer show us
 * other bytes than it delivered. */
#include "frag.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "common.h"
#include "hash.h"
#include "pool.h"

#define IP4_HLEN 20
#define IP6_HLEN 40
/* Largest payload of a rebuilt datagram: the 16-bit IPv4 total length less
 * our 20-byte header; the 16-bit IPv6 payload length. Anything past these is
 * the "ping of death" and is refused. */
#define IP4_MAX_PAYLOAD (65535 - IP4_HLEN)
#define IP6_MAX_PAYLOAD 65535
#define UNKNOWN         UINT32_MAX

/* One fragment's copy, at the start of its pool block; data follows. */
struct piece {
    struct piece *next; /* by offset */
    size_t got;         /* size of the pool block */
    uint32_t off;       /* where the data goes in the datagram payload */
    uint32_t wire;      /* bytes of the datagram this fragment carries */
    uint32_t cap;       /* of which were captured (a prefix) */
};

struct dgram {
    struct dgram *hnext;         /* hash chain, or free list */
    struct dgram *older, *newer; /* age list */
    uint64_t hash;
    double first; /* capture time of the first fragment */
    uint32_t id;
    uint32_t total; /* payload length once the last fragment came */
    uint32_t nfrags;
    uint8_t af, proto, ttl;
    uint8_t src[16], dst[16];
    struct piece *pieces;
};

struct ls_frag_table {
    struct ls_frag_config cfg;
    struct ls_pool pool;
    struct dgram *slots;
    struct dgram *free;
    struct dgram **buckets;
    size_t nbuckets; /* a power of two */
    struct dgram *oldest, *newest;
    uint64_t seed;
    struct ls_frag_stats st;
    uint8_t *out; /* the rebuilt datagram */
};

void ls_frag_config_default(struct ls_frag_config *cfg)
{
    cfg->max_datagrams = 4096;
    cfg->max_frags = 64;
    cfg->max_mem = (size_t)16 << 20;
    cfg->timeout = 30.0;
}

/* ---- table -------------------------------------------------------------- */

struct ls_frag_table *ls_frag_new(const struct ls_frag_config *cfg)
{
    struct ls_frag_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cfg = *cfg;
    if (t->cfg.max_datagrams == 0)
        t->cfg.max_datagrams = 1;
    t->nbuckets = 1;
    while (t->nbuckets < 2 * (size_t)t->cfg.max_datagrams)
        t->nbuckets <<= 1;
    t->slots = calloc(t->cfg.max_datagrams, sizeof *t->slots);
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    t->out = malloc(IP6_HLEN + IP6_MAX_PAYLOAD);
    if (t->slots == NULL || t->buckets == NULL || t->out == NULL) {
        ls_frag_free(t);
        return NULL;
    }
    for (uint32_t i = t->cfg.max_datagrams; i-- > 0;) {
        t->slots[i].hnext = t->free;
        t->free = &t->slots[i];
    }
    /* A secret seed keeps crafted identifications from sharing one chain. */
    if (getentropy(&t->seed, sizeof t->seed) != 0)
        t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL;
    ls_pool_init(&t->pool, t->cfg.max_mem);
    return t;
}

static void free_pieces(struct ls_frag_table *t, struct dgram *d)
{
    struct piece *p = d->pieces;
    while (p != NULL) {
        struct piece *next = p->next;
        ls_pool_free(&t->pool, p, p->got);
        p = next;
    }
    d->pieces = NULL;
    t->st.mem = t->pool.in_use;
}

void ls_frag_free(struct ls_frag_table *t)
{
    if (t == NULL)
        return;
    if (t->slots != NULL)
        for (uint32_t i = 0; i < t->cfg.max_datagrams; i++)
            free_pieces(t, &t->slots[i]);
    ls_pool_close(&t->pool);
    free(t->slots);
    free(t->buckets);
    free(t->out);
    free(t);
}

const struct ls_frag_stats *ls_frag_stats(const struct ls_frag_table *t)
{
    return &t->st;
}

/* IPv4 datagrams are identified by (src, dst, protocol, id) (RFC 791);
 * IPv6 ones by (src, dst, id) (RFC 8200 4.5), so for IPv6 `proto` is 0 here. */
static uint64_t key_hash(const struct ls_frag_table *t, const struct ls_packet *f, uint8_t proto)
{
    uint64_t h = ls_mix64(t->seed ^ ls_load64(f->src) ^ ((uint64_t)f->frag_id << 8 | proto));
    h = ls_mix64(h ^ ls_load64(f->src + 8) ^ f->af);
    h = ls_mix64(h ^ ls_load64(f->dst));
    return ls_mix64(h ^ ls_load64(f->dst + 8));
}

static uint8_t key_proto(const struct ls_packet *f)
{
    return f->af == 4 ? f->l4proto : 0;
}

static struct dgram *find(struct ls_frag_table *t, const struct ls_packet *f, uint64_t h)
{
    for (struct dgram *d = t->buckets[h & (t->nbuckets - 1)]; d != NULL; d = d->hnext)
        if (d->hash == h && d->af == f->af && d->id == f->frag_id &&
            (f->af == 6 || d->proto == f->l4proto) && memcmp(d->src, f->src, 16) == 0 &&
            memcmp(d->dst, f->dst, 16) == 0)
            return d;
    return NULL;
}

/* Forgets a datagram: its memory, its hash entry, its place in the age list. */
static void drop(struct ls_frag_table *t, struct dgram *d)
{
    struct dgram **b = &t->buckets[d->hash & (t->nbuckets - 1)];
    while (*b != d)
        b = &(*b)->hnext;
    *b = d->hnext;
    if (d->older != NULL)
        d->older->newer = d->newer;
    else
        t->oldest = d->newer;
    if (d->newer != NULL)
        d->newer->older = d->older;
    else
        t->newest = d->older;
    free_pieces(t, d);
    memset(d, 0, sizeof *d);
    d->hnext = t->free;
    t->free = d;
    t->st.datagrams--;
}

void ls_frag_expire(struct ls_frag_table *t, double now)
{
    while (t->oldest != NULL && now - t->oldest->first > t->cfg.timeout) {
        drop(t, t->oldest);
        t->st.timeouts++;
    }
}

static struct dgram *create(struct ls_frag_table *t, const struct ls_packet *f, uint64_t h,
                            double now)
{
    if (t->free == NULL) {
        drop(t, t->oldest);
        t->st.evicted++;
    }
    struct dgram *d = t->free;
    t->free = d->hnext;
    d->hash = h;
    d->first = now;
    d->id = f->frag_id;
    d->total = UNKNOWN;
    d->af = f->af;
    d->proto = key_proto(f);
    memcpy(d->src, f->src, 16);
    memcpy(d->dst, f->dst, 16);
    d->hnext = t->buckets[h & (t->nbuckets - 1)];
    t->buckets[h & (t->nbuckets - 1)] = d;
    d->older = t->newest;
    d->newer = NULL;
    if (t->newest != NULL)
        t->newest->newer = d;
    else
        t->oldest = d;
    t->newest = d;
    t->st.datagrams++;
    return d;
}

/* ---- one fragment ------------------------------------------------------- */

static const uint8_t *piece_data(const struct piece *p)
{
    return (const uint8_t *)(p + 1);
}

/* Checks `f` against the pieces held (see the overlap policy above). Returns
 * false when the datagram must be dropped; sets *dup when `f` lies within
 * bytes already held, which it then leaves as they are. */
static bool agrees(const struct dgram *d, const struct ls_packet *f, uint32_t end, bool *dup)
{
    *dup = false;
    if (d->total != UNKNOWN && (end > d->total || (!f->frag_more && end != d->total)))
        return false;
    bool overlaps = false;
    uint32_t run_lo = 0, run_hi = 0; /* the stretch of held bytes p extends */
    for (const struct piece *p = d->pieces; p != NULL; p = p->next) {
        uint32_t pend = p->off + p->wire;
        if (!f->frag_more && pend > end)
            return false;
        if (p == d->pieces || p->off > run_hi)
            run_lo = p->off;
        if (p == d->pieces || pend > run_hi)
            run_hi = pend;
        if (run_lo <= f->frag_offset && end <= run_hi)
            *dup = true;
        if (pend > f->frag_offset && p->off < end)
            overlaps = true;
    }
    return *dup || !overlaps;
}

/* Stores a copy of `f`, making room by dropping older datagrams (never `d`).
 * Returns false when even that cannot make room. */
static bool store(struct ls_frag_table *t, struct dgram *d, const struct ls_packet *f)
{
    size_t got = 0;
    struct piece *p;
    while ((p = ls_pool_alloc(&t->pool, sizeof *p + f->payload_len, &got)) == NULL) {
        if (t->oldest == d && d->newer == NULL)
            return false;
        drop(t, t->oldest != d ? t->oldest : d->newer);
        t->st.evicted++;
    }
    p->got = got;
    p->off = f->frag_offset;
    p->wire = f->payload_len + f->payload_missing;
    p->cap = f->payload_len;
    if (f->payload_len > 0)
        memcpy(p + 1, f->payload, f->payload_len);
    struct piece **at = &d->pieces;
    while (*at != NULL && (*at)->off <= p->off)
        at = &(*at)->next;
    p->next = *at;
    *at = p;
    d->nfrags++;
    t->st.mem = t->pool.in_use;
    if (t->pool.peak > t->st.peak_mem)
        t->st.peak_mem = t->pool.peak;
    return true;
}

/* Returns the length of the captured prefix when the pieces cover the whole
 * datagram, UNKNOWN otherwise. */
static uint32_t complete(const struct dgram *d)
{
    uint32_t end = 0, capend = 0;
    if (d->total == UNKNOWN)
        return UNKNOWN;
    for (const struct piece *p = d->pieces; p != NULL; p = p->next) {
        if (p->off > end)
            return UNKNOWN;
        if (p->off + p->wire > end)
            end = p->off + p->wire;
        if (p->off <= capend && p->off + p->cap > capend)
            capend = p->off + p->cap;
    }
    return end >= d->total ? capend : UNKNOWN;
}

/* RFC 1071 checksum of an IPv4 header we write. */
static uint16_t ip_checksum(const uint8_t *h, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += ls_load_be16(h + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Rebuilds the datagram behind a minimal header (options and extension
 * headers before the fragment header do not matter past this point) and
 * decodes it. Bytes past the captured prefix stay out of the buffer. */
static enum ls_decode_status rebuild(struct ls_frag_table *t, const struct dgram *d,
                                     uint32_t capend, struct ls_packet *out)
{
    uint8_t *h = t->out;
    size_t hlen = d->af == 4 ? IP4_HLEN : IP6_HLEN;
    memset(h, 0, hlen);
    for (const struct piece *p = d->pieces; p != NULL; p = p->next) {
        if (p->off >= capend)
            break;
        uint32_t n = p->off + p->cap > capend ? capend - p->off : p->cap;
        memcpy(h + hlen + p->off, piece_data(p), n);
    }
    if (d->af == 4) {
        h[0] = 0x45;
        put16(h + 2, IP4_HLEN + d->total);
        put16(h + 4, d->id);
        h[8] = d->ttl;
        h[9] = d->proto;
        memcpy(h + 12, d->src, 4);
        memcpy(h + 16, d->dst, 4);
        put16(h + 10, ip_checksum(h, IP4_HLEN));
    } else {
        h[0] = 0x60;
        put16(h + 4, d->total);
        h[6] = d->proto;
        h[7] = d->ttl;
        memcpy(h + 8, d->src, 16);
        memcpy(h + 24, d->dst, 16);
    }
    return ls_decode_ip(h, hlen + capend, hlen + d->total, out);
}

enum ls_decode_status ls_frag_input(struct ls_frag_table *t, const struct ls_packet *frag,
                                    double now, struct ls_packet *out)
{
    uint32_t wire = frag->payload_len + frag->payload_missing;
    uint32_t max = frag->af == 4 ? IP4_MAX_PAYLOAD : IP6_MAX_PAYLOAD;
    struct ls_packet trimmed;
    bool dup;

    t->st.fragments++;
    ls_frag_expire(t, now);
    /* An IPv4 fragment that is not the last and whose size is not a
     * multiple of 8: Linux (ip_frag_queue) keeps the multiple of 8 and
     * drops the tail, and so do we, or a peer could pad every fragment to
     * hide from us a datagram the host accepts. IPv6 receivers refuse such
     * a fragment (RFC 8200 4.5), as we do below. */
    if (frag->af == 4 && frag->frag_more && wire % 8 != 0) {
        trimmed = *frag;
        wire -= wire % 8;
        if (trimmed.payload_len > wire)
            trimmed.payload_len = wire;
        trimmed.payload_missing = wire - trimmed.payload_len;
        frag = &trimmed;
    }
    /* RFC 791 and RFC 8200: every fragment but the last carries a multiple
     * of 8 bytes (IPv4 ones were trimmed above), and none is empty. */
    if ((frag->af != 4 && frag->af != 6) || wire == 0 || (frag->frag_more && wire % 8 != 0) ||
        frag->frag_offset > max || wire > max - frag->frag_offset) {
        t->st.invalid++;
        return LS_DECODE_FRAGMENT;
    }
    uint64_t h = key_hash(t, frag, key_proto(frag));
    struct dgram *d = find(t, frag, h);
    if (d == NULL)
        d = create(t, frag, h, now);
    uint32_t end = frag->frag_offset + wire;
    if (!agrees(d, frag, end, &dup)) {
        drop(t, d);
        t->st.overlaps++;
        return LS_DECODE_FRAGMENT;
    }
    if (dup && frag->frag_more)
        return LS_DECODE_FRAGMENT;
    if (!dup && d->nfrags >= t->cfg.max_frags) {
        drop(t, d);
        t->st.too_many++;
        return LS_DECODE_FRAGMENT;
    }
    if (!dup && !store(t, d, frag)) {
        drop(t, d);
        t->st.evicted++;
        return LS_DECODE_FRAGMENT;
    }
    /* The last fragment fixes the length, even when its bytes are a copy
     * of ones already held (it is then not stored again). */
    if (!frag->frag_more)
        d->total = end;
    if (frag->frag_offset == 0) {
        /* RFC 8200 4.5: the protocol is the first fragment's. */
        d->proto = frag->l4proto;
        d->ttl = frag->ttl;
    }
    uint32_t capend = complete(d);
    if (capend == UNKNOWN)
        return LS_DECODE_FRAGMENT;
    enum ls_decode_status st = rebuild(t, d, capend, out);
    out->vlan_depth = frag->vlan_depth;
    drop(t, d);
    t->st.reassembled++;
    return st;
}
