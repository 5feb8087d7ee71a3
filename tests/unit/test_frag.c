/* test_frag.c: unit tests for frag.c: IPv4 and IPv6 reassembly in every
 * order, the overlap policy, each limit (fragments, datagrams, memory,
 * timeout), snaplen-cut fragments and invalid ones. Fragments are cut from
 * whole packets built by pktgen and go through the real decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "decode.h"
#include "frag.h"
#include "pktgen.h"

#define BUFSZ 70000

/* 100 payload bytes: with the 20-byte TCP header, a 120-byte datagram
 * payload, cut below into fragments of 40 or 48 bytes. */
static uint8_t PAYLOAD[100];

struct whole {
    uint8_t ip[BUFSZ];
    size_t len;
};

/* A whole raw IP packet carrying PAYLOAD (or `n` bytes of it). */
static void make_whole(struct whole *w, uint8_t af, size_t n)
{
    for (size_t i = 0; i < sizeof PAYLOAD; i++)
        PAYLOAD[i] = (uint8_t)('a' + i % 26);
    struct ls_pktgen_tcp_spec s = {
        .link = LS_LINK_RAW,
        .af = af,
        .sport = 40000,
        .dport = 80,
        .seq = 1000,
        .ack = 2000,
        .flags = LS_TCP_ACK | LS_TCP_PSH,
        .window = 512,
        .payload = PAYLOAD,
        .payload_len = n,
    };
    w->len = ls_pktgen_tcp(w->ip, sizeof w->ip, &s);
    assert_true(w->len > 0);
}

/* Offers bytes [off, off+len) of the whole packet's payload as a fragment,
 * captured up to `caplen` bytes of the fragment (0: all). */
/* `w` and `other` both carry the test datagram (family `af`), except for
 * its payload bytes [from, to), which differ in `other`. */
static void make_differing(struct whole *w, struct whole *other, uint8_t af, size_t from, size_t to)
{
    make_whole(w, af, sizeof PAYLOAD);
    make_whole(other, af, sizeof PAYLOAD);
    size_t ip_hlen = af == 4 ? 20 : 40;
    for (size_t i = from; i < to; i++)
        other->ip[ip_hlen + i] ^= 0x5a;
}

static enum ls_decode_status offer_cut(struct ls_frag_table *t, const struct whole *w, size_t off,
                                       size_t len, bool more, uint32_t id, double now,
                                       size_t caplen, struct ls_packet *out)
{
    static uint8_t buf[BUFSZ];
    struct ls_packet f;
    size_t n = ls_pktgen_fragment(buf, sizeof buf, w->ip, w->len, off, len, more, id);
    assert_true(n > 0);
    assert_int_equal(ls_decode(LS_LINK_RAW, buf, caplen ? caplen : n, n, &f), LS_DECODE_FRAGMENT);
    assert_int_equal(f.frag_offset, off);
    assert_int_equal(f.frag_more, more);
    assert_int_equal(f.frag_id, id);
    return ls_frag_input(t, &f, now, out);
}

static enum ls_decode_status offer(struct ls_frag_table *t, const struct whole *w, size_t off,
                                   size_t len, bool more, uint32_t id, double now,
                                   struct ls_packet *out)
{
    return offer_cut(t, w, off, len, more, id, now, 0, out);
}

static struct ls_frag_table *table(uint32_t datagrams, uint32_t frags, size_t mem, double timeout)
{
    struct ls_frag_config cfg;
    ls_frag_config_default(&cfg);
    if (datagrams)
        cfg.max_datagrams = datagrams;
    if (frags)
        cfg.max_frags = frags;
    if (mem)
        cfg.max_mem = mem;
    if (timeout > 0)
        cfg.timeout = timeout;
    struct ls_frag_table *t = ls_frag_new(&cfg);
    assert_non_null(t);
    return t;
}

static void assert_whole(const struct ls_packet *p, uint8_t af)
{
    char a[64];
    assert_int_equal(p->af, af);
    assert_int_equal(p->sport, 40000);
    assert_int_equal(p->dport, 80);
    assert_int_equal(p->seq, 1000);
    assert_int_equal(p->flags, LS_TCP_ACK | LS_TCP_PSH);
    assert_int_equal(p->payload_len, sizeof PAYLOAD);
    assert_int_equal(p->payload_missing, 0);
    assert_memory_equal(p->payload, PAYLOAD, sizeof PAYLOAD);
    assert_string_equal(ls_addr_format(af, p->src, a, sizeof a),
                        af == 4 ? "10.0.0.1" : "2001:db8::1");
}

/* ------------------------------------------------------------------------ */

static void test_ipv4_in_order(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    assert_int_equal(offer(t, &w, 0, 40, true, 7, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->datagrams, 1);
    assert_true(ls_frag_stats(t)->mem > 0);
    assert_int_equal(offer(t, &w, 40, 40, true, 7, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 80, 40, false, 7, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    assert_int_equal(p.ttl, 64);
    const struct ls_frag_stats *st = ls_frag_stats(t);
    assert_int_equal(st->fragments, 3);
    assert_int_equal(st->reassembled, 1);
    assert_int_equal(st->datagrams, 0);
    assert_int_equal(st->mem, 0);
    assert_true(st->peak_mem >= 3 * 40);
    ls_frag_free(t);
}

static void test_ipv4_reverse_and_mixed(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    /* Last first: the datagram's end is known before its start. */
    assert_int_equal(offer(t, &w, 80, 40, false, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 40, 40, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 0, 40, true, 1, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    /* Two datagrams interleaved, told apart by their id. */
    assert_int_equal(offer(t, &w, 0, 40, true, 2, 2.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 0, 64, true, 3, 2.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 64, 56, false, 3, 2.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    assert_int_equal(offer(t, &w, 40, 80, false, 2, 2.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    assert_int_equal(ls_frag_stats(t)->reassembled, 3);
    ls_frag_free(t);
}

static void test_ipv6(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 6, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    assert_int_equal(offer(t, &w, 48, 48, true, 0x12345678, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 96, 24, false, 0x12345678, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 0, 48, true, 0x12345678, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 6);
    assert_int_equal(ls_frag_stats(t)->reassembled, 1);
    ls_frag_free(t);
}

static void test_duplicates_and_partial_overlap(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    assert_int_equal(offer(t, &w, 0, 48, true, 9, 1.0, &p), LS_DECODE_FRAGMENT);
    size_t mem = ls_frag_stats(t)->mem;
    /* An exact copy and a piece inside it bring nothing: not stored. */
    assert_int_equal(offer(t, &w, 0, 48, true, 9, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 8, 16, true, 9, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->mem, mem);
    assert_int_equal(offer(t, &w, 48, 72, false, 9, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    assert_int_equal(ls_frag_stats(t)->overlaps, 0);
    /* A partial overlap drops the datagram even with the same bytes, as
     * Linux does: the host never saw it. */
    assert_int_equal(offer(t, &w, 0, 48, true, 11, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 40, 40, true, 11, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->overlaps, 1);
    assert_int_equal(offer(t, &w, 80, 40, false, 11, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->reassembled, 1);
    ls_frag_free(t);
}

/* A fragment within bytes held, across two pieces, is ignored even when
 * its bytes differ: the datagram completes with the first copies. */
static void test_duplicate_keeps_held_bytes(void **state)
{
    (void)state;
    struct whole w, other;
    struct ls_packet p;
    make_differing(&w, &other, 6, 40, 56);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    assert_int_equal(offer(t, &w, 0, 48, true, 3, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 48, 24, true, 3, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &other, 40, 16, true, 3, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 72, 48, false, 3, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 6);
    assert_int_equal(ls_frag_stats(t)->overlaps, 0);
    ls_frag_free(t);
}

/* The last fragment (MF=0) fixes the datagram's length even when its bytes
 * are all held already: it completes the datagram (in either order). */
static void test_last_fragment_inside_held_one(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    for (uint8_t af = 4; af <= 6; af += 2) {
        make_whole(&w, af, sizeof PAYLOAD); /* 120 bytes: TCP header + PAYLOAD */
        struct ls_frag_table *t = table(0, 0, 0, 0);
        assert_int_equal(offer(t, &w, 0, 120, true, 5, 1.0, &p), LS_DECODE_FRAGMENT);
        assert_int_equal(offer(t, &w, 112, 8, false, 5, 1.0, &p), LS_DECODE_TCP);
        assert_whole(&p, af);
        assert_int_equal(ls_frag_stats(t)->datagrams, 0);
        ls_frag_free(t);
    }
}

static void test_conflicting_overlap_drops(void **state)
{
    (void)state;
    struct whole w, other;
    struct ls_packet p;
    make_differing(&w, &other, 4, 60, 61);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    assert_int_equal(offer(t, &w, 0, 64, true, 5, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &other, 56, 64, false, 5, 1.0, &p), LS_DECODE_FRAGMENT);
    const struct ls_frag_stats *st = ls_frag_stats(t);
    assert_int_equal(st->overlaps, 1);
    assert_int_equal(st->datagrams, 0);
    assert_int_equal(st->mem, 0);
    /* What follows starts afresh and cannot complete without the start. */
    assert_int_equal(offer(t, &w, 64, 56, false, 5, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(st->reassembled, 0);

    /* Disagreeing ends: a second "last" fragment ending elsewhere. */
    assert_int_equal(offer(t, &w, 0, 40, true, 6, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 40, 80, false, 6, 1.0, &p), LS_DECODE_TCP);
    assert_int_equal(offer(t, &w, 40, 40, false, 8, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 40, 80, false, 8, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(st->overlaps, 2);
    /* A fragment past a known end. */
    assert_int_equal(offer(t, &w, 80, 16, false, 10, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 88, 16, true, 10, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(st->overlaps, 3);
    ls_frag_free(t);
}

static void test_max_frags(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 4, 0, 0);
    for (size_t off = 0; off < 32; off += 8)
        assert_int_equal(offer(t, &w, off, 8, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->datagrams, 1);
    assert_int_equal(offer(t, &w, 32, 8, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->too_many, 1);
    assert_int_equal(ls_frag_stats(t)->datagrams, 0);
    assert_int_equal(ls_frag_stats(t)->mem, 0);
    /* Four pieces are enough for a whole datagram. */
    assert_int_equal(offer(t, &w, 0, 32, true, 2, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 32, 32, true, 2, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 64, 32, true, 2, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 96, 24, false, 2, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    ls_frag_free(t);
}

static void test_timeout(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 0, 0, 10.0);
    assert_int_equal(offer(t, &w, 0, 40, true, 1, 100.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 40, 80, false, 1, 110.0, &p), LS_DECODE_TCP);
    assert_int_equal(offer(t, &w, 0, 40, true, 2, 200.0, &p), LS_DECODE_FRAGMENT);
    ls_frag_expire(t, 210.0);
    assert_int_equal(ls_frag_stats(t)->datagrams, 1);
    ls_frag_expire(t, 210.5);
    assert_int_equal(ls_frag_stats(t)->datagrams, 0);
    assert_int_equal(ls_frag_stats(t)->timeouts, 1);
    assert_int_equal(ls_frag_stats(t)->mem, 0);
    /* The rest arrives too late: it starts a datagram of its own. */
    assert_int_equal(offer(t, &w, 40, 80, false, 2, 211.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->reassembled, 1);
    ls_frag_free(t);
}

static void test_max_datagrams_evicts_oldest(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(2, 0, 0, 0);
    assert_int_equal(offer(t, &w, 0, 40, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 0, 40, true, 2, 2.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 0, 40, true, 3, 3.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->evicted, 1);
    assert_int_equal(ls_frag_stats(t)->datagrams, 2);
    assert_int_equal(offer(t, &w, 40, 80, false, 1, 4.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 40, 80, false, 3, 4.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    ls_frag_free(t);
}

static void test_memory_cap(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    /* Each 40-byte fragment takes a 128-byte block (header + data). */
    struct ls_frag_table *t = table(0, 0, 1024, 0);
    for (uint32_t id = 0; id < 100; id++) {
        assert_int_equal(offer(t, &w, 0, 40, true, id, 1.0, &p), LS_DECODE_FRAGMENT);
        assert_true(ls_frag_stats(t)->mem <= 1024);
    }
    assert_int_equal(ls_frag_stats(t)->datagrams, 8);
    assert_int_equal(ls_frag_stats(t)->evicted, 92);
    assert_int_equal(ls_frag_stats(t)->peak_mem, 1024);
    /* The newest are the ones kept. */
    assert_int_equal(offer(t, &w, 40, 80, false, 99, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    /* A fragment too big for the whole cap is refused outright. */
    struct ls_frag_table *tiny = table(0, 0, 64, 0);
    assert_int_equal(offer(tiny, &w, 0, 40, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(tiny)->datagrams, 0);
    assert_int_equal(ls_frag_stats(tiny)->evicted, 1);
    ls_frag_free(tiny);
    ls_frag_free(t);
}

static void test_snaplen_cut_fragment(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    /* The middle fragment keeps 10 of its 40 bytes: the datagram is whole
     * on the wire, but captured only up to byte 50 of its payload (30 of
     * the TCP payload); the other 70 are missing, never garbage. */
    assert_int_equal(offer(t, &w, 0, 40, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer_cut(t, &w, 40, 40, true, 1, 1.0, 20 + 10, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 80, 40, false, 1, 1.0, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, 30);
    assert_int_equal(p.payload_missing, 70);
    assert_memory_equal(p.payload, PAYLOAD, 30);
    /* A cut first fragment loses the TCP header: truncated. */
    assert_int_equal(offer_cut(t, &w, 0, 40, true, 2, 1.0, 20 + 10, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &w, 40, 80, false, 2, 1.0, &p), LS_DECODE_TRUNCATED);
    ls_frag_free(t);
}

static void test_invalid_fragments(void **state)
{
    (void)state;
    struct whole w;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    struct ls_frag_table *t = table(0, 0, 0, 0);
    /* IPv4, not a multiple of 8 but more follow: the tail past the last
     * multiple of 8 is dropped, as Linux does, and the rest is kept. */
    assert_int_equal(offer(t, &w, 0, 47, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->invalid, 0);
    assert_int_equal(offer(t, &w, 40, 80, false, 1, 1.0, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, sizeof PAYLOAD);
    assert_memory_equal(p.payload, PAYLOAD, sizeof PAYLOAD);
    /* Fewer than 8 bytes with more to follow leave nothing. */
    assert_int_equal(offer(t, &w, 0, 7, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->invalid, 1);
    assert_int_equal(ls_frag_stats(t)->datagrams, 0);

    /* Ping of death: the last fragment ends past 65535. */
    static struct whole big;
    make_whole(&big, 4, sizeof PAYLOAD);
    static uint8_t buf[BUFSZ];
    size_t n = ls_pktgen_fragment(buf, sizeof buf, big.ip, big.len, 0, 40, false, 3);
    buf[6] = 0x1f; /* offset 8191 * 8 = 65528, + 40 bytes */
    buf[7] = 0xff;
    struct ls_packet f;
    assert_int_equal(ls_decode(LS_LINK_RAW, buf, n, n, &f), LS_DECODE_FRAGMENT);
    assert_int_equal(f.frag_offset, 65528);
    assert_int_equal(ls_frag_input(t, &f, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->invalid, 2);
    assert_int_equal(ls_frag_stats(t)->datagrams, 0);
    ls_frag_free(t);

    /* IPv6 receivers refuse a fragment that is not a multiple of 8 but
     * has more to follow (RFC 8200 4.5). */
    make_whole(&w, 6, sizeof PAYLOAD);
    t = table(0, 0, 0, 0);
    assert_int_equal(offer(t, &w, 0, 41, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->invalid, 1);
    assert_int_equal(ls_frag_stats(t)->datagrams, 0);
    ls_frag_free(t);
}

static void test_ipv4_protocol_in_key(void **state)
{
    (void)state;
    struct whole w, u;
    struct ls_packet p;
    make_whole(&w, 4, sizeof PAYLOAD);
    make_whole(&u, 4, sizeof PAYLOAD);
    u.ip[9] = 17; /* same addresses and id, UDP: another datagram (RFC 791) */
    u.ip[10] = u.ip[11] = 0;
    struct ls_frag_table *t = table(0, 0, 0, 0);
    assert_int_equal(offer(t, &w, 0, 40, true, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(offer(t, &u, 40, 80, false, 1, 1.0, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(ls_frag_stats(t)->datagrams, 2);
    assert_int_equal(offer(t, &w, 40, 80, false, 1, 1.0, &p), LS_DECODE_TCP);
    assert_whole(&p, 4);
    ls_frag_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_in_order),
        cmocka_unit_test(test_ipv4_reverse_and_mixed),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_last_fragment_inside_held_one),
        cmocka_unit_test(test_duplicates_and_partial_overlap),
        cmocka_unit_test(test_duplicate_keeps_held_bytes),
        cmocka_unit_test(test_conflicting_overlap_drops),
        cmocka_unit_test(test_max_frags),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_max_datagrams_evicts_oldest),
        cmocka_unit_test(test_memory_cap),
        cmocka_unit_test(test_snaplen_cut_fragment),
        cmocka_unit_test(test_invalid_fragments),
        cmocka_unit_test(test_ipv4_protocol_in_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
