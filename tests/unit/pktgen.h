/* pktgen.h: builds whole link-layer frames (Ethernet, SLL, raw, NULL...) carrying
 * IPv4/IPv6 and TCP/UDP in memory, so unit tests need no binary fixtures.
 * Test-only code: no validation beyond "does it fit in the buffer". */
#ifndef LS_PKTGEN_H
#define LS_PKTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

#define LS_PKTGEN_MAX_VLAN  8
#define LS_PKTGEN_MAX_MPLS  8
#define LS_PKTGEN_MAX_EXT   16
#define LS_PKTGEN_MAX_FRAME 65600 /* enough for any frame pktgen can build */

/* What to build. Every field may be left zero (designated initializers):
 * the zero value means the documented default, so
 *     struct ls_pktgen_tcp_spec s = {.sport = 1234, .dport = 80, .flags = LS_TCP_SYN};
 * is an Ethernet/IPv4/TCP SYN from 10.0.0.1 to 10.0.0.2. */
struct ls_pktgen_tcp_spec {
    /* Link layer. LS_LINK_UNSUPPORTED (0) means LS_LINK_ETHERNET. */
    enum ls_linktype link;
    uint16_t vlan[LS_PKTGEN_MAX_VLAN];      /* VLAN ids (TCI), outermost first */
    uint16_t vlan_tpid[LS_PKTGEN_MAX_VLAN]; /* per tag; 0 means 0x8100 */
    size_t nvlan;                           /* number of tags (Ethernet only) */
    uint32_t mpls[LS_PKTGEN_MAX_MPLS];      /* MPLS labels (Ethernet only); S bit set on last */
    size_t nmpls;
    uint16_t ethertype;   /* 0: derived (IPv4/IPv6/MPLS); else forced (for SLL/SLL2 too) */
    bool null_be;         /* NULL link: write the family big-endian (default little) */
    uint32_t null_family; /* NULL/LOOP family; 0: 2 for IPv4, 30 for IPv6 */

    /* IP. af 0 means 4. Addresses are text for inet_pton; NULL means
     * 10.0.0.1 -> 10.0.0.2, or 2001:db8::1 -> 2001:db8::2. */
    uint8_t af;
    const char *src;
    const char *dst;
    uint8_t ttl;                    /* 0 means 64 (hop limit for IPv6) */
    uint16_t ip_id;                 /* IPv4 id, also the IPv6 fragment id */
    const uint8_t *ip_opts;         /* IPv4 options, zero-padded to 4 bytes */
    size_t ip_opts_len;             /* at most 40 */
    uint16_t frag_offset;           /* in 8-byte units (IPv4 header, or IPv6 header 44) */
    bool more_frags;                /* MF (IPv4) or M (IPv6 fragment header) */
    bool dont_frag;                 /* IPv4 DF */
    uint8_t ext[LS_PKTGEN_MAX_EXT]; /* IPv6 extension headers in order: 0, 43, 60,
                                     * 44 (uses frag_*), 51 (16-byte AH) */
    size_t next;
    uint8_t proto; /* 0 or 6: TCP; 17: UDP; other: the payload follows the IP header */

    /* TCP (ports are used by UDP too). */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags; /* LS_TCP_* */
    uint16_t window;
    uint16_t mss;    /* 0: no MSS option */
    bool has_wscale; /* add a window scale option with `wscale` */
    uint8_t wscale;
    const uint8_t *tcp_opts; /* raw options appended after MSS/wscale */
    size_t tcp_opts_len;     /* all options are EOL-padded to 4 bytes, max 40 */

    const uint8_t *payload;
    size_t payload_len;
    size_t pad; /* zero bytes appended after the IP packet (link padding) */
};

/* Byte offsets of each layer within a built frame, for tests that corrupt
 * a specific field. */
struct ls_pktgen_layout {
    size_t l3_off;      /* IP header */
    size_t l4_off;      /* TCP/UDP header (after IPv6 extension headers) */
    size_t payload_off; /* first payload byte */
    size_t ip_len;      /* IPv4 total length or IPv6 40 + payload length */
    size_t len;         /* whole frame, padding included */
};

/* Builds the frame described by `spec` into buf[0..cap). Returns the frame
 * length (its wire length), or 0 when it does not fit or an address does not
 * parse. IPv4 header, TCP and UDP checksums are computed. */
size_t ls_pktgen_tcp(uint8_t *buf, size_t cap, const struct ls_pktgen_tcp_spec *spec);

/* Same as ls_pktgen_tcp, and also fills `lay` when it is not NULL. */
size_t ls_pktgen_build(uint8_t *buf, size_t cap, const struct ls_pktgen_tcp_spec *spec,
                       struct ls_pktgen_layout *lay);

/* Cuts a fragment out of a whole IP packet `ip` (IPv4 with a 20-byte header,
 * or IPv6 with no extension headers) of `iplen` bytes: bytes [off, off+len)
 * of its payload, as a raw IP packet (IPv4 header with MF and the offset, or
 * IPv6 header plus a fragment header) with identification `id`. `off` must be
 * a multiple of 8. Returns the length written to buf, or 0 if it does not fit. */
size_t ls_pktgen_fragment(uint8_t *buf, size_t cap, const uint8_t *ip, size_t iplen, size_t off,
                          size_t len, bool more, uint32_t id);

#endif
