/* test_decode.c: unit tests for decode.c on frames built by pktgen, plus
 * exhaustive truncation/corruption loops meant to run under ASan/UBSan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pktgen.h"

#define BUFSZ 4096

static const uint8_t HELLO[] = "GET / HTTP/1.1\r\n";
#define HELLO_LEN (sizeof HELLO - 1)

/* Builds a frame into buf and fails the test when pktgen refuses. */
static size_t build(uint8_t *buf, const struct ls_pktgen_tcp_spec *s, struct ls_pktgen_layout *lay)
{
    size_t n = ls_pktgen_build(buf, BUFSZ, s, lay);
    assert_true(n > 0);
    return n;
}

static enum ls_decode_status dec(enum ls_linktype link, const uint8_t *buf, size_t n,
                                 struct ls_packet *pkt)
{
    return ls_decode(link, buf, n, n, pkt);
}

static void assert_addrs(const struct ls_packet *pkt, const char *src, const char *dst)
{
    char a[64], b[64];
    assert_string_equal(ls_addr_format(pkt->af, pkt->src, a, sizeof a), src);
    assert_string_equal(ls_addr_format(pkt->af, pkt->dst, b, sizeof b), dst);
}

static void assert_hello(const struct ls_packet *pkt)
{
    assert_int_equal(pkt->payload_len, HELLO_LEN);
    assert_int_equal(pkt->payload_missing, 0);
    assert_memory_equal(pkt->payload, HELLO, HELLO_LEN);
}

/* A plain Ethernet/IPv4/TCP data segment carrying HELLO. */
static struct ls_pktgen_tcp_spec data_spec(void)
{
    return (struct ls_pktgen_tcp_spec){
        .sport = 40000,
        .dport = 80,
        .seq = 1000,
        .ack = 2000,
        .flags = LS_TCP_ACK | LS_TCP_PSH,
        .window = 512,
        .payload = HELLO,
        .payload_len = HELLO_LEN,
    };
}

/* ------------------------------------------------------------------------ */

static void test_eth_ipv4_tcp_options(void **state)
{
    (void)state;
    static const uint8_t extra[] = {4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0}; /* SACK-perm, TS */
    struct ls_pktgen_tcp_spec s = {
        .src = "192.0.2.1",
        .dst = "198.51.100.7",
        .ttl = 57,
        .sport = 51234,
        .dport = 443,
        .seq = 0x11223344,
        .ack = 0x55667788,
        .flags = LS_TCP_SYN | LS_TCP_ACK | LS_TCP_ECE,
        .window = 29200,
        .mss = 1460,
        .has_wscale = true,
        .wscale = 7,
        .tcp_opts = extra,
        .tcp_opts_len = sizeof extra,
        .payload = HELLO,
        .payload_len = HELLO_LEN,
    };
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    size_t n = build(buf, &s, &lay);
    assert_int_equal(n, 14 + 20 + 20 + 20 + HELLO_LEN);

    struct ls_packet p;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.af, 4);
    assert_int_equal(p.l4proto, 6);
    assert_addrs(&p, "192.0.2.1", "198.51.100.7");
    assert_int_equal(p.sport, 51234);
    assert_int_equal(p.dport, 443);
    assert_int_equal(p.seq, 0x11223344);
    assert_int_equal(p.ack, 0x55667788);
    assert_int_equal(p.flags, LS_TCP_SYN | LS_TCP_ACK | LS_TCP_ECE);
    assert_int_equal(p.window, 29200);
    assert_int_equal(p.mss, 1460);
    assert_int_equal(p.wscale, 7);
    assert_int_equal(p.ttl, 57);
    assert_int_equal(p.vlan_depth, 0);
    assert_ptr_equal(p.payload, buf + lay.payload_off);
    assert_hello(&p);
}

static void test_tcp_options_only_on_syn(void **state)
{
    (void)state;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.mss = 1400;
    s.has_wscale = true;
    s.wscale = 3;
    uint8_t buf[BUFSZ];
    size_t n = build(buf, &s, NULL);
    struct ls_packet p;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.mss, 0);
    assert_int_equal(p.wscale, -1);
    assert_hello(&p);
}

/* Builds `s` with the raw TCP options `opts` into `buf` and decodes it into
 * `p` (which then borrows `buf`): a TCP segment, whatever the options. */
static void decode_with_options(uint8_t *buf, struct ls_pktgen_tcp_spec *s, const uint8_t *opts,
                                size_t len, struct ls_packet *p)
{
    s->tcp_opts = opts;
    s->tcp_opts_len = len;
    size_t n = build(buf, s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, p), LS_DECODE_TCP);
}

/* The timestamp is read on every segment: in the layout stacks send (NOP
 * NOP TS first), anywhere else in the list, on a SYN among MSS and window
 * scale, and not when its length is wrong or it runs past the header. */
static void test_tcp_timestamp(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    static const uint8_t usual[] = {1, 1, 8, 10, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 9};
    decode_with_options(buf, &s, usual, sizeof usual, &p);
    assert_true(p.has_ts);
    assert_int_equal(p.tsval, 0x12345678);
    assert_hello(&p);

    /* After SACK blocks, as a stack sends them with a timestamp. */
    static const uint8_t later[] = {1, 1, 5, 10, 0,    0,    0,    1,    0, 0, 0, 2,
                                    1, 1, 8, 10, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0};
    decode_with_options(buf, &s, later, sizeof later, &p);
    assert_true(p.has_ts);
    assert_int_equal(p.tsval, 0xfffffffe);

    /* On a SYN, with MSS and window scale. */
    s.flags = LS_TCP_SYN;
    s.mss = 1400;
    s.has_wscale = true;
    s.wscale = 7;
    decode_with_options(buf, &s, usual, sizeof usual, &p);
    assert_true(p.has_ts);
    assert_int_equal(p.tsval, 0x12345678);
    assert_int_equal(p.mss, 1400);
    assert_int_equal(p.wscale, 7);

    /* A wrong length, and one past the header's end: no timestamp. */
    s = data_spec();
    static const uint8_t short_ts[] = {1, 1, 8, 6, 0, 0, 0, 5};
    decode_with_options(buf, &s, short_ts, sizeof short_ts, &p);
    assert_false(p.has_ts);
    static const uint8_t cut[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, 10};
    decode_with_options(buf, &s, cut, sizeof cut, &p);
    assert_false(p.has_ts);
    assert_hello(&p);
}

static void test_tcp_options_edge_cases(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = {.flags = LS_TCP_SYN, .payload = HELLO, .payload_len = HELLO_LEN};

    /* Shift above 14 is taken as 14 (RFC 7323 2.3). */
    s.has_wscale = true;
    s.wscale = 20;
    size_t n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.wscale, 14);

    /* A bad option length stops option parsing, not the packet. */
    static const uint8_t bad[] = {2, 4, 0x05, 0xb4, 8, 1, 3, 3, 5, 0, 0, 0};
    s.has_wscale = false;
    decode_with_options(buf, &s, bad, sizeof bad, &p);
    assert_int_equal(p.mss, 1460);
    assert_int_equal(p.wscale, -1);
    assert_hello(&p);

    /* An option running past the header. */
    static const uint8_t over[] = {1, 3, 3, 9, 2, 40, 0, 0};
    decode_with_options(buf, &s, over, sizeof over, &p);
    assert_int_equal(p.wscale, 9);
    assert_int_equal(p.mss, 0);
    assert_hello(&p);

    /* End of option list: what follows is not parsed. */
    static const uint8_t eol[] = {0, 3, 3, 5};
    decode_with_options(buf, &s, eol, sizeof eol, &p);
    assert_int_equal(p.wscale, -1);

    /* Wrong fixed lengths for MSS/wscale are ignored. */
    static const uint8_t odd[] = {2, 3, 9, 3, 4, 1, 1, 1};
    decode_with_options(buf, &s, odd, sizeof odd, &p);
    assert_int_equal(p.mss, 0);
    assert_int_equal(p.wscale, -1);
}

static void test_ipv4_options_skipped(void **state)
{
    (void)state;
    static const uint8_t ipo[] = {0x94, 0x04, 0, 0, 1, 1, 1}; /* router alert, NOPs */
    struct ls_pktgen_tcp_spec s = data_spec();
    s.ip_opts = ipo;
    s.ip_opts_len = sizeof ipo;
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    size_t n = build(buf, &s, &lay);
    assert_int_equal(lay.l4_off - lay.l3_off, 28);
    struct ls_packet p;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.sport, 40000);
    assert_int_equal(p.seq, 1000);
    assert_hello(&p);
}

static void test_ipv6_ext_chain(void **state)
{
    (void)state;
    /* Hop-by-hop, routing, destination options, AH, atomic fragment. */
    struct ls_pktgen_tcp_spec s = data_spec();
    s.af = 6;
    s.src = "2001:db8:0:0:1::1";
    s.dst = "fe80::1:2";
    s.ttl = 3;
    s.next = 5;
    memcpy(s.ext, (uint8_t[]){0, 43, 60, 51, 44}, 5);
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    size_t n = build(buf, &s, &lay);
    assert_int_equal(lay.l4_off - lay.l3_off, 40 + 8 + 8 + 8 + 16 + 8);
    struct ls_packet p;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.af, 6);
    assert_int_equal(p.l4proto, 6);
    assert_addrs(&p, "2001:db8::1:0:0:1", "fe80::1:2");
    assert_int_equal(p.ttl, 3);
    assert_int_equal(p.sport, 40000);
    assert_int_equal(p.dport, 80);
    assert_int_equal(p.seq, 1000);
    assert_int_equal(p.ack, 2000);
    assert_int_equal(p.flags, LS_TCP_ACK | LS_TCP_PSH);
    assert_int_equal(p.window, 512);
    assert_ptr_equal(p.payload, buf + lay.payload_off);
    assert_hello(&p);
}

static void test_ipv6_ext_errors(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.af = 6;

    /* Hop-by-hop anywhere but first. */
    s.next = 2;
    memcpy(s.ext, (uint8_t[]){60, 0}, 2);
    size_t n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);

    /* A long chain is walked to its end, as receivers do (no count limit). */
    s.next = LS_PKTGEN_MAX_EXT;
    memset(s.ext, 60, sizeof s.ext);
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_hello(&p);

    /* An extension header whose length runs past the payload length. */
    struct ls_pktgen_layout lay;
    s.next = 1;
    s.payload_len = 0;
    n = build(buf, &s, &lay);
    buf[lay.l3_off + 40 + 1] = 200;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);

    /* Zero payload length: jumbogram or offload, not decodable. */
    s = data_spec();
    s.af = 6;
    n = build(buf, &s, &lay);
    buf[lay.l3_off + 4] = 0;
    buf[lay.l3_off + 5] = 0;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);

    /* ...unless there is no next header at all. */
    s.proto = 59;
    s.payload_len = 0;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_OTHER_L4);
    assert_int_equal(p.l4proto, 59);
}

static void test_vlan_qinq(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();

    s.nvlan = 1;
    s.vlan[0] = 100;
    size_t n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.vlan_depth, 1);
    assert_int_equal(p.sport, 40000);
    assert_hello(&p);

    /* 802.1ad outer + 802.1Q inner, IPv6. */
    s.af = 6;
    s.nvlan = 2;
    s.vlan_tpid[0] = 0x88a8;
    s.vlan[1] = 200;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.vlan_depth, 2);
    assert_int_equal(p.af, 6);
    assert_addrs(&p, "2001:db8::1", "2001:db8::2");
    assert_hello(&p);

    /* Five tags, including the old 0x9100. */
    s.af = 4;
    s.nvlan = 5;
    s.vlan_tpid[2] = 0x9100;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.vlan_depth, 5);
    assert_addrs(&p, "10.0.0.1", "10.0.0.2");
    assert_hello(&p);

    /* VLAN carrying ARP. */
    s.ethertype = 0x0806;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_NOT_IP);
}

static void test_mpls(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.nmpls = 3;
    s.mpls[0] = 16;
    s.mpls[1] = 17;
    s.mpls[2] = 18;
    size_t n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.af, 4);
    assert_hello(&p);

    s.af = 6;
    s.nmpls = 1;
    s.nvlan = 1;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.af, 6);
    assert_int_equal(p.vlan_depth, 1);
    assert_hello(&p);
}

static void test_sll_sll2(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.link = LS_LINK_SLL;
    size_t n = build(buf, &s, NULL);
    assert_int_equal(n, 16 + 20 + 20 + HELLO_LEN);
    assert_int_equal(dec(LS_LINK_SLL, buf, n, &p), LS_DECODE_TCP);
    assert_addrs(&p, "10.0.0.1", "10.0.0.2");
    assert_int_equal(p.seq, 1000);
    assert_hello(&p);

    s.link = LS_LINK_SLL2;
    s.af = 6;
    n = build(buf, &s, NULL);
    assert_int_equal(n, 20 + 40 + 20 + HELLO_LEN);
    assert_int_equal(dec(LS_LINK_SLL2, buf, n, &p), LS_DECODE_TCP);
    assert_addrs(&p, "2001:db8::1", "2001:db8::2");
    assert_int_equal(p.dport, 80);
    assert_hello(&p);

    /* SLL carrying something else. */
    s.link = LS_LINK_SLL;
    s.ethertype = 0x0004; /* ETH_P_802_2 */
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_SLL, buf, n, &p), LS_DECODE_NOT_IP);
}

static void test_raw_links(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.link = LS_LINK_RAW;
    size_t n4 = build(buf, &s, NULL);
    assert_int_equal(n4, 20 + 20 + HELLO_LEN);
    assert_int_equal(dec(LS_LINK_RAW, buf, n4, &p), LS_DECODE_TCP);
    assert_int_equal(p.af, 4);
    assert_hello(&p);
    assert_int_equal(dec(LS_LINK_IPV4, buf, n4, &p), LS_DECODE_TCP);
    assert_hello(&p);
    assert_int_equal(ls_decode_ip(buf, n4, n4, &p), LS_DECODE_TCP);
    assert_hello(&p);
    assert_int_equal(dec(LS_LINK_IPV6, buf, n4, &p), LS_DECODE_MALFORMED);

    s.af = 6;
    size_t n6 = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_RAW, buf, n6, &p), LS_DECODE_TCP);
    assert_int_equal(p.af, 6);
    assert_hello(&p);
    assert_int_equal(dec(LS_LINK_IPV6, buf, n6, &p), LS_DECODE_TCP);
    assert_hello(&p);
    assert_int_equal(dec(LS_LINK_IPV4, buf, n6, &p), LS_DECODE_MALFORMED);

    buf[0] = 0x50; /* version 5 */
    assert_int_equal(dec(LS_LINK_RAW, buf, n6, &p), LS_DECODE_MALFORMED);
    assert_int_equal(ls_decode(LS_LINK_RAW, buf, 0, 0, &p), LS_DECODE_MALFORMED);
    assert_int_equal(ls_decode(LS_LINK_RAW, buf, 0, 60, &p), LS_DECODE_TRUNCATED);
    assert_int_equal(dec(LS_LINK_UNSUPPORTED, buf, n6, &p), LS_DECODE_UNSUPPORTED_LINK);
    assert_int_equal(dec((enum ls_linktype)99, buf, n6, &p), LS_DECODE_UNSUPPORTED_LINK);
}

static void test_null_loop(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.link = LS_LINK_NULL;

    /* Little-endian (x86 capture) and big-endian (e.g. old PowerPC) hosts. */
    for (int be = 0; be < 2; be++) {
        s.null_be = be;
        s.af = 4;
        s.null_family = 0;
        size_t n = build(buf, &s, NULL);
        assert_int_equal(dec(LS_LINK_NULL, buf, n, &p), LS_DECODE_TCP);
        assert_int_equal(p.af, 4);
        assert_hello(&p);
        static const uint32_t fam6[] = {10, 24, 28, 30};
        s.af = 6;
        for (size_t i = 0; i < 4; i++) {
            s.null_family = fam6[i];
            n = build(buf, &s, NULL);
            assert_int_equal(dec(LS_LINK_NULL, buf, n, &p), LS_DECODE_TCP);
            assert_int_equal(p.af, 6);
            assert_hello(&p);
        }
        s.null_family = 7;
        n = build(buf, &s, NULL);
        assert_int_equal(dec(LS_LINK_NULL, buf, n, &p), LS_DECODE_NOT_IP);
        /* Family says IPv4, packet is IPv6. */
        s.null_family = 2;
        n = build(buf, &s, NULL);
        assert_int_equal(dec(LS_LINK_NULL, buf, n, &p), LS_DECODE_MALFORMED);
    }

    s.link = LS_LINK_LOOP;
    s.af = 6;
    s.null_family = 0;
    size_t n = build(buf, &s, NULL);
    assert_int_equal(buf[3], 30);
    assert_int_equal(dec(LS_LINK_LOOP, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.af, 6);
    assert_hello(&p);
    /* LOOP is always network order: a little-endian family is not IP. */
    s.link = LS_LINK_NULL;
    s.null_be = false;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_LOOP, buf, n, &p), LS_DECODE_NOT_IP);
}

static void test_ethernet_padding_trimmed(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.payload_len = 2;
    s.pad = 60 - (14 + 20 + 20 + 2); /* minimum Ethernet frame */
    size_t n = build(buf, &s, NULL);
    assert_int_equal(n, 60);
    memset(buf + n - s.pad, 0xee, s.pad); /* padding that would look like data */
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, 2);
    assert_int_equal(p.payload_missing, 0);
    assert_memory_equal(p.payload, HELLO, 2);

    /* Pure ACK in a padded frame: no payload at all. */
    s.payload_len = 0;
    s.pad = 6;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.payload_missing, 0);

    /* IPv6 and UDP trim too. */
    s = data_spec();
    s.af = 6;
    s.pad = 9;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_hello(&p);
    s.proto = 17;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_UDP);
    assert_hello(&p);

    /* Snaplen cutting into the padding loses nothing. */
    s.proto = 0;
    n = build(buf, &s, NULL);
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, n - 4, n, &p), LS_DECODE_TCP);
    assert_hello(&p);
}

static void test_snaplen_truncated_payload(void **state)
{
    (void)state;
    uint8_t big[300];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 1);
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.payload = big;
    s.payload_len = sizeof big;
    s.pad = 0;
    size_t n = build(buf, &s, &lay);

    size_t cap = lay.payload_off + 100;
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, cap, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, 100);
    assert_int_equal(p.payload_missing, 200);
    assert_ptr_equal(p.payload, buf + lay.payload_off);
    assert_memory_equal(p.payload, big, 100);
    assert_int_equal(p.seq, 1000);

    /* Cut right after the TCP header: no payload, all of it missing. */
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.payload_off, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.payload_missing, 300);

    /* IPv6 and UDP the same way. */
    s.af = 6;
    n = build(buf, &s, &lay);
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.payload_off + 1, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, 1);
    assert_int_equal(p.payload_missing, 299);
    s.proto = 17;
    n = build(buf, &s, &lay);
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.payload_off + 10, n, &p), LS_DECODE_UDP);
    assert_int_equal(p.payload_len, 10);
    assert_int_equal(p.payload_missing, 290);
    assert_memory_equal(p.payload, big, 10);
}

static void test_truncated_headers(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.flags = LS_TCP_SYN;
    s.mss = 1460;
    size_t n = build(buf, &s, &lay);

    /* TCP fixed header cut. */
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.l4_off + 10, n, &p), LS_DECODE_TRUNCATED);
    /* TCP options cut. */
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.l4_off + 22, n, &p), LS_DECODE_TRUNCATED);
    /* IP header cut, Ethernet header cut. */
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.l3_off + 19, n, &p), LS_DECODE_TRUNCATED);
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, 13, n, &p), LS_DECODE_TRUNCATED);
    /* The same cuts with wire == captured mean the frame itself is short:
     * its headers claim bytes that never existed. */
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, lay.l4_off + 10, &p), LS_DECODE_MALFORMED);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, 13, &p), LS_DECODE_MALFORMED);

    /* IPv6 extension header cut by snaplen. */
    s.af = 6;
    s.next = 1;
    s.ext[0] = 0;
    n = build(buf, &s, &lay);
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.l3_off + 44, n, &p), LS_DECODE_TRUNCATED);
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.l4_off + 19, n, &p), LS_DECODE_TRUNCATED);
}

static void test_ipv4_bad_lengths(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    size_t n = build(buf, &s, &lay);
    uint8_t *ip = buf + lay.l3_off;

    /* IHL < 5. */
    for (uint8_t ihl = 0; ihl < 5; ihl++) {
        ip[0] = (uint8_t)(0x40 | ihl);
        assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
    }
    ip[0] = 0x45;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);

    /* Total length shorter than the header (here IHL 6 = 24 bytes). */
    ip[0] = 0x46;
    ip[2] = 0;
    ip[3] = 23;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
    ip[0] = 0x45;
    ip[3] = 0;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);

    /* Total length longer than the wire, whether or not snaplen cut. */
    size_t tot = lay.ip_len + 1;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, n - 5, n, &p), LS_DECODE_MALFORMED);

    /* Total length covering only part of the TCP header. */
    tot = 20 + 10;
    ip[2] = 0;
    ip[3] = (uint8_t)tot;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);

    /* Version 6 in an IPv4 ethertype. */
    n = build(buf, &s, &lay);
    buf[lay.l3_off] = 0x65;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
}

static void test_tcp_bad_data_offset(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.payload_len = 4; /* TCP segment is 24 bytes */
    size_t n = build(buf, &s, &lay);
    uint8_t *doff = buf + lay.l4_off + 12;

    for (uint8_t d = 0; d < 5; d++) {
        *doff = (uint8_t)(d << 4);
        assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
    }
    *doff = 6 << 4; /* 24 bytes: the whole segment is header */
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_int_equal(p.payload_len, 0);
    *doff = 7 << 4; /* 28 bytes > 24 */
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
    *doff = 15 << 4;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
    /* Also when snaplen cut the segment: the IP length is what bounds it. */
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, buf, lay.l4_off + 20, n, &p), LS_DECODE_MALFORMED);
}

static void test_ipv4_fragments(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.src = "192.0.2.9";

    s.more_frags = true;
    size_t n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(p.af, 4);
    assert_int_equal(p.l4proto, 6);
    assert_addrs(&p, "192.0.2.9", "10.0.0.2");

    s.more_frags = false;
    s.frag_offset = 185;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_FRAGMENT);

    /* DF alone is not a fragment. */
    s.frag_offset = 0;
    s.dont_frag = true;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_hello(&p);
}

static void test_ipv6_fragments(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.af = 6;
    s.next = 2;
    s.ext[0] = 0;
    s.ext[1] = 44;

    s.more_frags = true;
    size_t n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_FRAGMENT);
    assert_int_equal(p.af, 6);
    assert_int_equal(p.l4proto, 6);
    assert_addrs(&p, "2001:db8::1", "2001:db8::2");

    s.more_frags = false;
    s.frag_offset = 1;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_FRAGMENT);

    /* Atomic fragment (RFC 6946): a whole packet. */
    s.frag_offset = 0;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_TCP);
    assert_hello(&p);
}

static void test_not_ip(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    static const uint16_t types[] = {0x0806, 0x88cc, 0x8035, 0x0001, 0x05dc, 0xffff};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        s.ethertype = types[i];
        size_t n = build(buf, &s, NULL);
        assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_NOT_IP);
    }
    /* MPLS carrying neither IPv4 nor IPv6 (pseudowire control word). */
    s.ethertype = 0x8847;
    s.nmpls = 1;
    s.link = LS_LINK_ETHERNET;
    struct ls_pktgen_layout lay;
    size_t n = build(buf, &s, &lay);
    buf[lay.l3_off] = 0x00;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_NOT_IP);
}

static void test_udp_and_other(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    struct ls_packet p;
    struct ls_pktgen_tcp_spec s = data_spec();
    s.proto = 17;
    s.sport = 5353;
    s.dport = 53;
    size_t n = build(buf, &s, &lay);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_UDP);
    assert_int_equal(p.l4proto, 17);
    assert_int_equal(p.sport, 5353);
    assert_int_equal(p.dport, 53);
    assert_ptr_equal(p.payload, buf + lay.payload_off);
    assert_hello(&p);

    /* UDP length shorter than the IP payload trims; longer or < 8 is bad. */
    uint8_t *ulen = buf + lay.l4_off + 4;
    ulen[1] = 8 + 3;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_UDP);
    assert_int_equal(p.payload_len, 3);
    assert_int_equal(p.payload_missing, 0);
    ulen[1] = 7;
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);
    ulen[1] = (uint8_t)(8 + HELLO_LEN + 1);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_MALFORMED);

    /* ICMP (or anything else) is reported with its protocol number. */
    s.proto = 1;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_OTHER_L4);
    assert_int_equal(p.l4proto, 1);
    assert_int_equal(p.af, 4);
    s.af = 6;
    s.proto = 58;
    n = build(buf, &s, NULL);
    assert_int_equal(dec(LS_LINK_ETHERNET, buf, n, &p), LS_DECODE_OTHER_L4);
    assert_int_equal(p.l4proto, 58);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(ls_decode_status_name(LS_DECODE_TCP), "tcp");
    assert_string_equal(ls_decode_status_name(LS_DECODE_UDP), "udp");
    assert_string_equal(ls_decode_status_name(LS_DECODE_OTHER_L4), "other_l4");
    assert_string_equal(ls_decode_status_name(LS_DECODE_NOT_IP), "not_ip");
    assert_string_equal(ls_decode_status_name(LS_DECODE_FRAGMENT), "fragment");
    assert_string_equal(ls_decode_status_name(LS_DECODE_TRUNCATED), "truncated");
    assert_string_equal(ls_decode_status_name(LS_DECODE_MALFORMED), "malformed");
    assert_string_equal(ls_decode_status_name(LS_DECODE_UNSUPPORTED_LINK), "unsupported_link");
    assert_string_equal(ls_decode_status_name(LS_DECODE__COUNT), "unknown");
    assert_string_equal(ls_decode_status_name((enum ls_decode_status) - 1), "unknown");
}

static void check6(const char *in, const char *want)
{
    uint8_t a[16];
    char out[64];
    assert_int_equal(inet_pton(AF_INET6, in, a), 1);
    assert_string_equal(ls_addr_format(6, a, out, sizeof out), want);
}

static void test_addr_format(void **state)
{
    (void)state;
    char out[64];
    uint8_t a[16] = {192, 0, 2, 255};
    assert_string_equal(ls_addr_format(4, a, out, sizeof out), "192.0.2.255");
    memset(a, 0, 4);
    assert_string_equal(ls_addr_format(4, a, out, sizeof out), "0.0.0.0");
    /* Every octet value in every position, against printf's digits. */
    for (unsigned v = 0; v < 256; v++) {
        char want[32];
        uint8_t b[16] = {(uint8_t)v, (uint8_t)(255 - v), (uint8_t)(v * 7), (uint8_t)(v / 3)};
        snprintf(want, sizeof want, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        assert_string_equal(ls_addr_format(4, b, out, sizeof out), want);
    }

    check6("::", "::");
    check6("::1", "::1");
    check6("1::", "1::");
    check6("2001:DB8:0:0:0:0:0:1", "2001:db8::1");
    check6("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"); /* one zero group stays */
    check6("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");          /* longest run wins */
    check6("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");    /* first on ties */
    check6("2001:0db8:00ab:0000:0000:0000:0000:abcd", "2001:db8:ab::abcd");
    check6("fe80:0:0:0:0:0:0:0", "fe80::");
    check6("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8");
    check6("f:10:ab0:1000:fff:a0b:100:Abcd", "f:10:ab0:1000:fff:a0b:100:abcd");
    check6("::ffff:0.10.100.255", "::ffff:0.10.100.255");
    check6("0:0:1:0:0:0:1:0", "0:0:1::1:0");
    check6("::ffff:192.0.2.1", "::ffff:192.0.2.1");
    check6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

    /* Short buffers are NUL-terminated, never overrun. */
    char small[6];
    memset(a, 0, sizeof a);
    a[0] = 0x20;
    a[1] = 0x01;
    a[15] = 1;
    assert_string_equal(ls_addr_format(6, a, small, sizeof small), "2001:");
    assert_string_equal(ls_addr_format(9, a, out, sizeof out), "?");
}

/* ------------------------------------------------------------------------ */
/* Robustness: every prefix and every single-byte corruption                */
/* ------------------------------------------------------------------------ */

/* Decodes a heap copy of exactly `caplen` bytes so ASan sees any read past
 * the capture, and checks the invariants every status must keep. */
static void decode_exact(enum ls_linktype link, const uint8_t *frame, size_t caplen, size_t wirelen)
{
    uint8_t *copy = malloc(caplen ? caplen : 1);
    assert_non_null(copy);
    if (caplen > 0)
        memcpy(copy, frame, caplen);
    struct ls_packet p;
    enum ls_decode_status st = ls_decode(link, copy, caplen, wirelen, &p);
    assert_true((unsigned)st < LS_DECODE__COUNT);
    if (st == LS_DECODE_TCP || st == LS_DECODE_UDP) {
        assert_true(p.payload >= copy);
        assert_true(p.payload + p.payload_len <= copy + caplen);
        assert_true((size_t)p.payload_len + p.payload_missing <= wirelen);
        assert_true(p.af == 4 || p.af == 6);
    }
    if (st == LS_DECODE_TCP)
        assert_true(p.wscale >= -1 && p.wscale <= 14);
    free(copy);
}

static void hammer(enum ls_linktype link, const uint8_t *frame, size_t len)
{
    uint8_t mut[BUFSZ];
    for (size_t cap = 0; cap <= len; cap++) {
        decode_exact(link, frame, cap, len);
        decode_exact(link, frame, cap, cap);
    }
    memcpy(mut, frame, len);
    for (size_t i = 0; i < len; i++) {
        for (unsigned v = 0; v < 256; v++) {
            mut[i] = (uint8_t)v;
            decode_exact(link, mut, len, len);
            decode_exact(link, mut, len > 40 ? len - 7 : len, len);
        }
        mut[i] = frame[i];
    }
}

static void test_prefixes_and_corruptions(void **state)
{
    (void)state;
    static const uint8_t opts[] = {4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8};
    struct ls_pktgen_tcp_spec specs[] = {
        {.flags = LS_TCP_SYN,
         .mss = 1460,
         .has_wscale = true,
         .wscale = 7,
         .tcp_opts = opts,
         .tcp_opts_len = sizeof opts,
         .payload = HELLO,
         .payload_len = HELLO_LEN,
         .pad = 4},
        {.af = 6,
         .nvlan = 2,
         .vlan_tpid = {0x88a8},
         .next = 4,
         .ext = {0, 43, 51, 44},
         .flags = LS_TCP_ACK,
         .payload = HELLO,
         .payload_len = 5},
        {.link = LS_LINK_SLL, .af = 6, .proto = 17, .payload = HELLO, .payload_len = 3},
        {.link = LS_LINK_SLL2, .flags = LS_TCP_SYN, .mss = 536, .payload = HELLO, .payload_len = 2},
        {.link = LS_LINK_NULL, .null_be = true, .af = 6, .flags = LS_TCP_SYN, .has_wscale = true},
        {.link = LS_LINK_LOOP,
         .ip_opts = opts,
         .ip_opts_len = 8,
         .payload = HELLO,
         .payload_len = 4},
        {.nmpls = 2, .af = 6, .flags = LS_TCP_FIN, .payload = HELLO, .payload_len = 1},
        {.link = LS_LINK_RAW, .af = 4, .more_frags = true, .payload = HELLO, .payload_len = 1},
    };
    uint8_t buf[BUFSZ];
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        enum ls_linktype link = specs[i].link ? specs[i].link : LS_LINK_ETHERNET;
        size_t n = build(buf, &specs[i], NULL);
        struct ls_packet p;
        enum ls_decode_status st = dec(link, buf, n, &p);
        assert_true(st == LS_DECODE_TCP || st == LS_DECODE_UDP || st == LS_DECODE_FRAGMENT);
        hammer(link, buf, n);
        /* Every link type on every frame, too. */
        for (int l = LS_LINK_ETHERNET; l <= LS_LINK_SLL2; l++)
            decode_exact((enum ls_linktype)l, buf, n, n);
    }
}

/* Random bytes on every link type (fixed seed, reproducible). */
static void test_random_bytes(void **state)
{
    (void)state;
    uint8_t buf[256];
    uint32_t x = 0x12345678;
    for (int iter = 0; iter < 20000; iter++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        /* Make IP-looking frames likely so the inner layers get exercised. */
        size_t len = (x >> 8) % sizeof buf;
        buf[12] = 0x08;
        buf[13] = iter & 1 ? 0x00 : 0xdd;
        buf[14] = iter & 1 ? 0x45 : 0x60;
        for (int l = LS_LINK_ETHERNET; l <= LS_LINK_SLL2; l++)
            decode_exact((enum ls_linktype)l, buf, len, len + (x & 0x3f));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth_ipv4_tcp_options),
        cmocka_unit_test(test_tcp_options_only_on_syn),
        cmocka_unit_test(test_tcp_options_edge_cases),
        cmocka_unit_test(test_tcp_timestamp),
        cmocka_unit_test(test_ipv4_options_skipped),
        cmocka_unit_test(test_ipv6_ext_chain),
        cmocka_unit_test(test_ipv6_ext_errors),
        cmocka_unit_test(test_vlan_qinq),
        cmocka_unit_test(test_mpls),
        cmocka_unit_test(test_sll_sll2),
        cmocka_unit_test(test_raw_links),
        cmocka_unit_test(test_null_loop),
        cmocka_unit_test(test_ethernet_padding_trimmed),
        cmocka_unit_test(test_snaplen_truncated_payload),
        cmocka_unit_test(test_truncated_headers),
        cmocka_unit_test(test_ipv4_bad_lengths),
        cmocka_unit_test(test_tcp_bad_data_offset),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv6_fragments),
        cmocka_unit_test(test_not_ip),
        cmocka_unit_test(test_udp_and_other),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_addr_format),
        cmocka_unit_test(test_prefixes_and_corruptions),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
