/* decode.c: link layers, IPv4/IPv6 and TCP/UDP headers to a struct ls_packet view.
 * Pure and allocation-free; every read is bounds-checked against the captured
 * bytes, and every length field separately against the bytes on the wire. */
#include "decode.h"

#include <string.h>

#include "bytes.h"
#include "common.h"

/* Ethertypes (IEEE 802 / IANA registry). */
#define ET_IPV4     0x0800
#define ET_IPV6     0x86dd
#define ET_VLAN     0x8100 /* IEEE 802.1Q customer tag */
#define ET_QINQ     0x88a8 /* IEEE 802.1ad service tag */
#define ET_QINQ_OLD 0x9100 /* pre-standard QinQ, still seen in the wild */
#define ET_MPLS     0x8847 /* RFC 3032 unicast */
#define ET_MPLS_MC  0x8848 /* RFC 5332 multicast */

/* Header sizes and field offsets, named after their RFCs. */
#define ETH_HLEN       14 /* dst[6] src[6] type[2] */
#define VLAN_TAG_LEN   4  /* TCI[2] inner type[2] */
#define MPLS_ENTRY_LEN 4  /* label:20 TC:3 S:1 TTL:8 (RFC 3032 2.1) */
#define MPLS_S_BIT     0x100u
#define NULL_HLEN      4
#define SLL_HLEN       16 /* pkttype[2] hatype[2] halen[2] addr[8] protocol[2] */
#define SLL_PROTO_OFF  14
#define SLL2_HLEN      20 /* protocol[2] reserved[2] ifindex[4] hatype[2] ... addr[8] */

#define IP4_HLEN        20 /* RFC 791 3.1 */
#define IP4_TOTLEN_OFF  2
#define IP4_ID_OFF      4
#define IP4_FRAG_OFF    6
#define IP4_MF          0x2000
#define IP4_OFFSET_MASK 0x1fff
#define IP4_TTL_OFF     8
#define IP4_PROTO_OFF   9
#define IP4_SRC_OFF     12
#define IP4_DST_OFF     16

#define IP6_HLEN     40 /* RFC 8200 3 */
#define IP6_PLEN_OFF 4
#define IP6_NH_OFF   6
#define IP6_HLIM_OFF 7
#define IP6_SRC_OFF  8
#define IP6_DST_OFF  24

#define PROTO_HOPOPTS  0
#define PROTO_TCP      6
#define PROTO_UDP      17
#define PROTO_ROUTING  43
#define PROTO_FRAGMENT 44
#define PROTO_AH       51
#define PROTO_NONE     59
#define PROTO_DSTOPTS  60

#define TCP_HLEN       20 /* RFC 9293 3.1 */
#define TCP_SEQ_OFF    4
#define TCP_ACK_OFF    8
#define TCP_DOFF_OFF   12
#define TCP_FLAGS_OFF  13
#define TCP_WIN_OFF    14
#define TCP_MAX_WSCALE 14 /* RFC 7323 2.3: larger shifts are treated as 14 */

#define UDP_HLEN    8 /* RFC 768 */
#define UDP_LEN_OFF 4

/* Internal status meaning "the header fits, keep decoding"; never returned. */
#define GO LS_DECODE__COUNT

/* The rest of a packet from the header being decoded on: `c` covers the
 * captured bytes, `wire` counts the bytes the packet really had from the same
 * point (a link's wire length, then an IP header's claimed length). The
 * invariant ls_cursor_left(&c) <= wire always holds. */
struct span {
    struct ls_cursor c;
    size_t wire;
};

/* ------------------------------------------------------------------------ */
/* Span helpers                                                             */
/* ------------------------------------------------------------------------ */

/* Checks that a header of `n` bytes is there. A header longer than the wire
 * (or claimed) length is a lie: malformed. One that is on the wire but not in
 * the capture was cut by snaplen: truncated. */
static enum ls_decode_status need(const struct span *s, size_t n)
{
    if (ls_cursor_has(&s->c, n))
        return GO;
    return s->wire < n ? LS_DECODE_MALFORMED : LS_DECODE_TRUNCATED;
}

/* Consumes `n` bytes known to be present (after need()). */
static void skip(struct span *s, size_t n)
{
    ls_cursor_skip(&s->c, n);
    s->wire -= n;
}

/* Returns the span of an inner payload: starts `hlen` bytes in and ends at the
 * `claimed` length of the enclosing header, captured bytes clipped to what is
 * there. Bytes past `claimed` (link padding) are dropped here. Requires
 * hlen <= claimed <= s->wire and hlen bytes captured. */
static struct span inner(const struct span *s, size_t hlen, size_t claimed)
{
    struct span in = *s;
    size_t left = ls_cursor_left(&s->c);
    in.c.end = s->c.p + (left < claimed ? left : claimed);
    in.c.p = s->c.p + hlen;
    in.wire = claimed - hlen;
    return in;
}

/* ------------------------------------------------------------------------ */
/* Transport                                                                */
/* ------------------------------------------------------------------------ */

/* Reads the TCP options (RFC 9293 3.2, RFC 7323): the timestamp on any
 * segment, MSS and window scale on a SYN (where alone they mean something,
 * RFC 7323 2.2). A malformed option ends parsing quietly: options are
 * advisory to us and a bad one must not cost the segment's payload. */
static void tcp_options(const uint8_t *p, size_t n, struct ls_packet *pkt)
{
    struct ls_cursor c;
    uint8_t kind, len;
    bool syn = (pkt->flags & LS_TCP_SYN) != 0;
    /* Stacks send the timestamp first, after two NOPs (RFC 7323 appendix
     * A): read it straight off. */
    if (!syn && n >= 12 && ls_load_be32(p) == 0x0101080a) {
        pkt->has_ts = true;
        pkt->tsval = ls_load_be32(p + 4);
        return;
    }
    ls_cursor_init(&c, p, n);
    while (ls_cursor_u8(&c, &kind)) {
        if (kind == 0) /* end of option list */
            break;
        if (kind == 1) /* no-operation */
            continue;
        if (!ls_cursor_u8(&c, &len) || len < 2 || !ls_cursor_has(&c, (size_t)len - 2))
            break;
        if (kind == 8 && len == 10) {
            pkt->has_ts = true;
            pkt->tsval = ls_load_be32(c.p);
        } else if (syn && kind == 2 && len == 4) {
            pkt->mss = ls_load_be16(c.p);
        } else if (syn && kind == 3 && len == 3) {
            uint8_t shift = c.p[0];
            pkt->wscale = (int8_t)(shift > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : shift);
        }
        ls_cursor_skip(&c, (size_t)len - 2);
    }
}

static enum ls_decode_status tcp(struct span *s, struct ls_packet *pkt)
{
    enum ls_decode_status st = need(s, TCP_HLEN);
    if (st != GO)
        return st;
    const uint8_t *h = s->c.p;
    size_t doff = (size_t)(h[TCP_DOFF_OFF] >> 4) * 4;
    if (doff < TCP_HLEN || doff > s->wire)
        return LS_DECODE_MALFORMED;
    if ((st = need(s, doff)) != GO)
        return st;

    pkt->sport = ls_load_be16(h);
    pkt->dport = ls_load_be16(h + 2);
    pkt->seq = ls_load_be32(h + TCP_SEQ_OFF);
    pkt->ack = ls_load_be32(h + TCP_ACK_OFF);
    pkt->flags = h[TCP_FLAGS_OFF];
    pkt->window = ls_load_be16(h + TCP_WIN_OFF);
    if (doff > TCP_HLEN)
        tcp_options(h + TCP_HLEN, doff - TCP_HLEN, pkt);

    size_t left = ls_cursor_left(&s->c);
    pkt->l4 = h;
    pkt->l4_len = (uint32_t)left;
    pkt->payload = h + doff;
    pkt->payload_len = (uint32_t)(left - doff);
    pkt->payload_missing = (uint32_t)(s->wire - left);
    return LS_DECODE_TCP;
}

static enum ls_decode_status udp(struct span *s, struct ls_packet *pkt)
{
    enum ls_decode_status st = need(s, UDP_HLEN);
    if (st != GO)
        return st;
    const uint8_t *h = s->c.p;
    size_t ulen = ls_load_be16(h + UDP_LEN_OFF);
    if (ulen < UDP_HLEN || ulen > s->wire)
        return LS_DECODE_MALFORMED;

    struct span d = inner(s, UDP_HLEN, ulen);
    pkt->l4 = h;
    pkt->l4_len = (uint32_t)(UDP_HLEN + ls_cursor_left(&d.c));
    pkt->sport = ls_load_be16(h);
    pkt->dport = ls_load_be16(h + 2);
    pkt->payload = d.c.p;
    pkt->payload_len = (uint32_t)ls_cursor_left(&d.c);
    pkt->payload_missing = (uint32_t)(d.wire - ls_cursor_left(&d.c));
    return LS_DECODE_UDP;
}

static enum ls_decode_status transport(struct span *s, uint8_t proto, struct ls_packet *pkt)
{
    pkt->l4proto = proto;
    switch (proto) {
    case PROTO_TCP: return tcp(s, pkt);
    case PROTO_UDP: return udp(s, pkt);
    default: return LS_DECODE_OTHER_L4;
    }
}

/* ------------------------------------------------------------------------ */
/* IP                                                                       */
/* ------------------------------------------------------------------------ */

/* A fragment's data is everything after the headers that are repeated in
 * every fragment; the transport header is only in the first. */
static void fragment_data(const struct span *s, struct ls_packet *pkt)
{
    size_t left = ls_cursor_left(&s->c);
    pkt->payload = s->c.p;
    pkt->payload_len = (uint32_t)left;
    pkt->payload_missing = (uint32_t)(s->wire - left);
}

static enum ls_decode_status ipv4(struct span *s, struct ls_packet *pkt)
{
    enum ls_decode_status st = need(s, IP4_HLEN);
    if (st != GO)
        return st;
    const uint8_t *h = s->c.p;
    size_t ihl = (size_t)(h[0] & 0x0f) * 4;
    size_t total = ls_load_be16(h + IP4_TOTLEN_OFF);
    uint16_t fo = ls_load_be16(h + IP4_FRAG_OFF);
    /* A total of 0 on a whole packet longer than a total can say is what a
     * capture on the host sees of a segment its NIC cuts up or merged
     * (Linux BIG TCP, segmentation offload): the frame is the packet, as
     * Wireshark takes it. On a shorter frame it stays malformed. */
    if (total == 0 && s->wire > 0xffff && !(fo & (IP4_MF | IP4_OFFSET_MASK)))
        total = s->wire;
    /* RFC 791: IHL counts 32-bit words and is at least 5; the total length
     * covers the header. A total longer than the frame is a lie; one shorter
     * than the frame leaves link padding, which inner() drops. */
    if (ihl < IP4_HLEN || total < ihl || total > s->wire)
        return LS_DECODE_MALFORMED;
    if ((st = need(s, ihl)) != GO)
        return st;

    pkt->af = 4;
    pkt->ttl = h[IP4_TTL_OFF];
    pkt->l4proto = h[IP4_PROTO_OFF];
    memcpy(pkt->src, h + IP4_SRC_OFF, 4);
    memcpy(pkt->dst, h + IP4_DST_OFF, 4);
    pkt->l3 = h;
    pkt->l3_len = (uint32_t)ihl;
    struct span l4 = inner(s, ihl, total);
    if (fo & (IP4_MF | IP4_OFFSET_MASK)) {
        pkt->frag_id = ls_load_be16(h + IP4_ID_OFF);
        pkt->frag_offset = (uint32_t)(fo & IP4_OFFSET_MASK) * 8;
        pkt->frag_more = (fo & IP4_MF) != 0;
        fragment_data(&l4, pkt);
        return LS_DECODE_FRAGMENT;
    }
    return transport(&l4, pkt->l4proto, pkt);
}

/* Length of the IPv6 extension header `nh` whose first two bytes are at `h`,
 * or 0 when `nh` is not an extension header we walk. */
static size_t ext_len(uint8_t nh, const uint8_t *h)
{
    switch (nh) {
    case PROTO_HOPOPTS:
    case PROTO_ROUTING:
    case PROTO_DSTOPTS:
        return ((size_t)h[1] + 1) * 8;            /* RFC 8200 4.3: 8-octet units, minus the first */
    case PROTO_AH: return ((size_t)h[1] + 2) * 4; /* RFC 4302 2.2: 4-octet units, minus 2 */
    case PROTO_FRAGMENT: return 8;                /* RFC 8200 4.5: fixed */
    default: return 0;
    }
}

/* A packet that still has routing to do (segments left) is addressed to its
 * next hop; its final destination, the one its transport checksum covers
 * (RFC 8200 8.1) and its peer's replies come from, is in the routing header.
 * That is the address the connection is known by. Types 0 (RFC 2460,
 * deprecated) and 2 (RFC 6275) list it last, type 4 (segment routing, RFC
 * 8754) first; other types (3, RPL, compresses it) keep the header's.
 * `e` holds the whole routing header, `len` bytes (at least 8). */
static void routing_final_dst(const uint8_t *e, size_t len, struct ls_packet *pkt)
{
    uint8_t type = e[2], left = e[3];
    if (left == 0 || len < 8 + 16)
        return;
    if (type == 0 || type == 2)
        memcpy(pkt->dst, e + 8 + (len - 8) / 16 * 16 - 16, 16);
    else if (type == 4)
        memcpy(pkt->dst, e + 8, 16);
}

static enum ls_decode_status ipv6(struct span *s, struct ls_packet *pkt)
{
    enum ls_decode_status st = need(s, IP6_HLEN);
    if (st != GO)
        return st;
    const uint8_t *h = s->c.p;
    size_t plen = ls_load_be16(h + IP6_PLEN_OFF);
    uint8_t nh = h[IP6_NH_OFF];
    /* A zero payload length on a frame longer than the field can say
     * announces a jumbogram (RFC 2675, its length in a hop-by-hop option),
     * or is what a capture on the host sees of a segment its NIC cuts up or
     * merged (Linux BIG TCP): either way the frame is the packet, as
     * Wireshark takes it. */
    if (plen == 0 && nh != PROTO_NONE && s->wire > IP6_HLEN + 0xffff)
        plen = s->wire - IP6_HLEN;
    if ((plen == 0 && nh != PROTO_NONE) || IP6_HLEN + plen > s->wire)
        return LS_DECODE_MALFORMED;

    pkt->af = 6;
    pkt->ttl = h[IP6_HLIM_OFF];
    memcpy(pkt->src, h + IP6_SRC_OFF, 16);
    memcpy(pkt->dst, h + IP6_DST_OFF, 16);

    /* The chain needs no count limit: every header takes at least 8 bytes
     * of the payload length, which bounds the walk. Receivers take long
     * chains (Linux has no limit), so one must not hide a segment from us. */
    struct span p = inner(s, IP6_HLEN, IP6_HLEN + plen);
    for (bool first = true;; first = false) {
        if (nh != PROTO_HOPOPTS && nh != PROTO_ROUTING && nh != PROTO_DSTOPTS &&
            nh != PROTO_FRAGMENT && nh != PROTO_AH)
            break;
        /* Hop-by-hop must come first (RFC 8200 4.1). */
        if (nh == PROTO_HOPOPTS && !first)
            return LS_DECODE_MALFORMED;
        if ((st = need(&p, 2)) != GO)
            return st;
        size_t len = ext_len(nh, p.c.p);
        if ((st = need(&p, len)) != GO)
            return st;
        const uint8_t *e = p.c.p;
        uint8_t next = e[0];
        if (nh == PROTO_ROUTING)
            routing_final_dst(e, len, pkt);
        if (nh == PROTO_FRAGMENT) {
            /* An atomic fragment (offset 0, M clear, RFC 6946) is a whole
             * packet; anything else needs reassembly. */
            uint16_t fo = ls_load_be16(e + 2);
            if ((fo >> 3) != 0 || (fo & 1) != 0) {
                pkt->l4proto = next;
                pkt->frag_id = ls_load_be32(e + 4);
                pkt->frag_offset = (uint32_t)(fo >> 3) * 8;
                pkt->frag_more = (fo & 1) != 0;
                skip(&p, len);
                fragment_data(&p, pkt);
                return LS_DECODE_FRAGMENT;
            }
        }
        skip(&p, len);
        nh = next;
    }
    return transport(&p, nh, pkt);
}

/* Decodes an IP packet; `want` is the version the link layer announced, or 0
 * to take it from the first nibble. */
static enum ls_decode_status ip(struct span *s, int want, struct ls_packet *pkt)
{
    enum ls_decode_status st = need(s, 1);
    if (st != GO)
        return st;
    int version = s->c.p[0] >> 4;
    if (want != 0 && version != want)
        return LS_DECODE_MALFORMED;
    if (version == 4)
        return ipv4(s, pkt);
    if (version == 6)
        return ipv6(s, pkt);
    return LS_DECODE_MALFORMED;
}

/* ------------------------------------------------------------------------ */
/* Link layers                                                              */
/* ------------------------------------------------------------------------ */

/* MPLS (RFC 3032): skips the label stack, then guesses the payload from its
 * first nibble, as there is no protocol field. */
static enum ls_decode_status mpls(struct span *s, struct ls_packet *pkt)
{
    for (;;) {
        enum ls_decode_status st = need(s, MPLS_ENTRY_LEN);
        if (st != GO)
            return st;
        uint32_t entry = ls_load_be32(s->c.p);
        skip(s, MPLS_ENTRY_LEN);
        if (entry & MPLS_S_BIT)
            break;
    }
    enum ls_decode_status st = need(s, 1);
    if (st != GO)
        return st;
    int version = s->c.p[0] >> 4;
    return version == 4 || version == 6 ? ip(s, version, pkt) : LS_DECODE_NOT_IP;
}

/* Dispatches on an ethertype whose header has been consumed, peeling VLAN
 * tags of any depth: each costs 4 bytes, so the capture bounds the loop. */
static enum ls_decode_status ethertype(struct span *s, uint16_t type, struct ls_packet *pkt)
{
    for (;;) {
        switch (type) {
        case ET_VLAN:
        case ET_QINQ:
        case ET_QINQ_OLD: {
            enum ls_decode_status st = need(s, VLAN_TAG_LEN);
            if (st != GO)
                return st;
            type = ls_load_be16(s->c.p + 2);
            skip(s, VLAN_TAG_LEN);
            if (pkt->vlan_depth < UINT16_MAX)
                pkt->vlan_depth++;
            break;
        }
        case ET_IPV4: return ip(s, 4, pkt);
        case ET_IPV6: return ip(s, 6, pkt);
        case ET_MPLS:
        case ET_MPLS_MC: return mpls(s, pkt);
        default: return LS_DECODE_NOT_IP;
        }
    }
}

/* Maps a BSD/Linux address family number to an IP version, 0 if not IP.
 * AF_INET6 differs by OS: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin. */
static int family_version(uint32_t fam)
{
    switch (fam) {
    case 2: return 4;
    case 10:
    case 24:
    case 28:
    case 30: return 6;
    default: return 0;
    }
}

/* DLT_NULL stores the family in the capturing host's byte order, which need
 * not be ours, so both orders are tried; DLT_LOOP is always big-endian. */
static enum ls_decode_status null_loop(struct span *s, bool any_order, struct ls_packet *pkt)
{
    enum ls_decode_status st = need(s, NULL_HLEN);
    if (st != GO)
        return st;
    int version = family_version(ls_load_be32(s->c.p));
    if (version == 0 && any_order)
        version = family_version(ls_load_le32(s->c.p));
    if (version == 0)
        return LS_DECODE_NOT_IP;
    skip(s, NULL_HLEN);
    return ip(s, version, pkt);
}

static enum ls_decode_status link_layer(enum ls_linktype link, struct span *s,
                                        struct ls_packet *pkt)
{
    enum ls_decode_status st;
    uint16_t type;
    switch (link) {
    case LS_LINK_ETHERNET:
        if ((st = need(s, ETH_HLEN)) != GO)
            return st;
        type = ls_load_be16(s->c.p + ETH_HLEN - 2);
        skip(s, ETH_HLEN);
        return ethertype(s, type, pkt);
    case LS_LINK_SLL:
        if ((st = need(s, SLL_HLEN)) != GO)
            return st;
        type = ls_load_be16(s->c.p + SLL_PROTO_OFF);
        skip(s, SLL_HLEN);
        return ethertype(s, type, pkt);
    case LS_LINK_SLL2:
        if ((st = need(s, SLL2_HLEN)) != GO)
            return st;
        type = ls_load_be16(s->c.p);
        skip(s, SLL2_HLEN);
        return ethertype(s, type, pkt);
    case LS_LINK_RAW: return ip(s, 0, pkt);
    case LS_LINK_IPV4: return ip(s, 4, pkt);
    case LS_LINK_IPV6: return ip(s, 6, pkt);
    case LS_LINK_NULL: return null_loop(s, true, pkt);
    case LS_LINK_LOOP: return null_loop(s, false, pkt);
    case LS_LINK_UNSUPPORTED: break;
    }
    return LS_DECODE_UNSUPPORTED_LINK;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

static void start(struct span *s, struct ls_packet *pkt, const uint8_t *data, size_t caplen,
                  size_t wirelen)
{
    static const uint8_t none[1]; /* a valid base for an empty capture */
    memset(pkt, 0, sizeof *pkt);
    pkt->wscale = -1;
    ls_cursor_init(&s->c, data ? data : none, data ? caplen : 0);
    /* libpcap guarantees caplen <= len; a caller breaking that gets the
     * captured length as the wire length rather than an unsigned wrap. */
    s->wire = wirelen > caplen ? wirelen : caplen;
}

enum ls_decode_status ls_decode(enum ls_linktype link, const uint8_t *data, size_t caplen,
                                size_t wirelen, struct ls_packet *pkt)
{
    struct span s;
    start(&s, pkt, data, caplen, wirelen);
    return link_layer(link, &s, pkt);
}

enum ls_decode_status ls_decode_ip(const uint8_t *data, size_t caplen, size_t wirelen,
                                   struct ls_packet *pkt)
{
    struct span s;
    start(&s, pkt, data, caplen, wirelen);
    return ip(&s, 0, pkt);
}

const char *ls_decode_status_name(enum ls_decode_status st)
{
    static const char *const names[LS_DECODE__COUNT] = {
        [LS_DECODE_TCP] = "tcp",
        [LS_DECODE_UDP] = "udp",
        [LS_DECODE_OTHER_L4] = "other_l4",
        [LS_DECODE_NOT_IP] = "not_ip",
        [LS_DECODE_FRAGMENT] = "fragment",
        [LS_DECODE_TRUNCATED] = "truncated",
        [LS_DECODE_MALFORMED] = "malformed",
        [LS_DECODE_UNSUPPORTED_LINK] = "unsupported_link",
    };
    return (unsigned)st < LS_ARRAY_SIZE(names) ? names[st] : "unknown";
}

/* Addresses are formatted by hand: snprintf took 2,300 instructions for
 * an IPv4 address, which scripts read for every connection. */

static char *put_dec8(char *p, unsigned v)
{
    if (v >= 100) {
        *p++ = (char)('0' + v / 100);
        v %= 100;
        *p++ = (char)('0' + v / 10);
    } else if (v >= 10) {
        *p++ = (char)('0' + v / 10);
    }
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_dotted(char *p, const uint8_t a[4])
{
    for (int i = 0; i < 4; i++) {
        if (i)
            *p++ = '.';
        p = put_dec8(p, a[i]);
    }
    return p;
}

/* Lowercase hex without leading zeros. */
static char *put_hex16(char *p, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    int shift = 12;
    while (shift > 0 && (v >> shift) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        *p++ = digits[(v >> shift) & 0xf];
    return p;
}

/* RFC 5952: lowercase hex, no leading zeros, the longest run of two or more
 * zero groups (the first on ties) as "::", and IPv4-mapped addresses in
 * dotted form (section 5). Written here rather than with inet_ntop so that
 * output is identical on every libc. Writes at most 39 bytes at p. */
static char *put6(char *p, const uint8_t a[16])
{
    uint16_t w[8];
    int best = -1, bestlen = 0;
    for (int i = 0; i < 8; i++)
        w[i] = ls_load_be16(a + 2 * i);
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > bestlen && j - i >= 2) {
            best = i;
            bestlen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    if (best == 0 && bestlen == 5 && w[5] == 0xffff) {
        memcpy(p, "::ffff:", 7);
        return put_dotted(p + 7, a + 12);
    }
    for (int i = 0; i < 8;) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += bestlen;
            continue;
        }
        if (i > 0 && i != best + bestlen)
            *p++ = ':';
        p = put_hex16(p, w[i]);
        i++;
    }
    return p;
}

char *ls_addr_format(uint8_t af, const uint8_t addr[16], char *buf, size_t size)
{
    char tmp[48] = "?";
    char *end = tmp + 1;
    if (size == 0)
        return buf;
    if (af == 4)
        end = put_dotted(tmp, addr);
    else if (af == 6)
        end = put6(tmp, addr);
    size_t n = (size_t)(end - tmp);
    if (n >= size)
        n = size - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return buf;
}
