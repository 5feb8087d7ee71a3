/* decode.h: link layer to a TCP (or UDP) view of one captured packet.
 * A pure function over borrowed bytes: no allocation, no I/O, no state.
 * IP fragment reassembly is not done here (see frag.h); fragments are
 * reported as such, with what reassembly needs. */
#ifndef LS_DECODE_H
#define LS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link types the decoder understands, independent of libpcap's DLT numbers
 * (capture.c maps those). */
enum ls_linktype {
    LS_LINK_UNSUPPORTED = 0,
    LS_LINK_ETHERNET, /* DLT_EN10MB, with 802.1Q/802.1ad tags */
    LS_LINK_RAW,      /* DLT_RAW: bare IPv4 or IPv6, version from the first nibble */
    LS_LINK_IPV4,     /* LINKTYPE_IPV4 */
    LS_LINK_IPV6,     /* LINKTYPE_IPV6 */
    LS_LINK_NULL,     /* DLT_NULL: 4-byte host-order address family */
    LS_LINK_LOOP,     /* DLT_LOOP: 4-byte network-order address family */
    LS_LINK_SLL,      /* DLT_LINUX_SLL */
    LS_LINK_SLL2,     /* DLT_LINUX_SLL2 */
};

/* Outcome of decoding one packet. Only LS_DECODE_TCP fills the TCP fields.
 * UDP fills addresses, ports and payload. OTHER_L4 and FRAGMENT fill af,
 * addresses, ttl and l4proto (for an IPv6 fragment, the header that follows
 * the fragment header). Truncated means the wire had the bytes but the
 * capture cut them; malformed means a length field claims bytes the wire
 * never had, or a field is impossible. */
enum ls_decode_status {
    LS_DECODE_TCP = 0,   /* a TCP segment: every field of ls_packet is valid */
    LS_DECODE_UDP,       /* a UDP datagram: addresses, ports and payload valid */
    LS_DECODE_OTHER_L4,  /* IP but neither TCP nor UDP */
    LS_DECODE_NOT_IP,    /* a link-layer frame carrying something other than IP */
    LS_DECODE_FRAGMENT,  /* an IP fragment (reassembly is not done by decode) */
    LS_DECODE_TRUNCATED, /* the capture cut a header short (snaplen) */
    LS_DECODE_MALFORMED, /* a header contradicts itself (bad lengths, version, offsets) */
    LS_DECODE_UNSUPPORTED_LINK,
    LS_DECODE__COUNT
};

/* TCP flag bits as on the wire (RFC 9293, RFC 3168). */
#define LS_TCP_FIN 0x01
#define LS_TCP_SYN 0x02
#define LS_TCP_RST 0x04
#define LS_TCP_PSH 0x08
#define LS_TCP_ACK 0x10
#define LS_TCP_URG 0x20
#define LS_TCP_ECE 0x40
#define LS_TCP_CWR 0x80

/* A decoded packet: a view into the caller's bytes, valid only as long as
 * those bytes are. Addresses are stored in network order; IPv4 uses the
 * first 4 bytes of the 16. */
struct ls_packet {
    uint8_t af;      /* 4 or 6 */
    uint8_t l4proto; /* 6 = TCP, 17 = UDP */
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    /* TCP only */
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;   /* LS_TCP_* */
    uint16_t window; /* raw, unscaled */
    int8_t wscale;   /* window scale option on a SYN, -1 when absent; shifts
                      * above 14 read as 14 (RFC 7323 2.3) */
    uint16_t mss;    /* MSS option on a SYN, 0 when absent */
    bool has_ts;     /* a timestamp option (RFC 7323 3), on any segment */
    uint32_t tsval;  /* its TSval, with has_ts */
    /* Payload bytes present in the capture. Trailing link padding beyond the
     * IP length is never included. */
    const uint8_t *payload;
    uint32_t payload_len;
    /* Payload bytes the IP (or UDP) header claims but the capture cut
     * (snaplen): a gap for reassembly, never data. */
    uint32_t payload_missing;
    /* IP-level facts */
    uint16_t vlan_depth;
    uint8_t ttl; /* hop limit for IPv6 */
    /* Where the layers start, for checksum verification (csum.h): the IPv4
     * header (NULL for IPv6) and its length, and the transport header, of
     * which l4_len bytes were captured (the rest is payload_missing). */
    const uint8_t *l3;
    uint32_t l3_len;
    const uint8_t *l4;
    uint32_t l4_len;
    /* LS_DECODE_FRAGMENT only: the datagram's identification (16 bits for
     * IPv4, 32 for IPv6), where this fragment's data goes in the datagram
     * (bytes after the IP header, RFC 791 / RFC 8200 4.5), and whether more
     * fragments follow. payload, payload_len and payload_missing then
     * describe the fragment's data, and l4proto the datagram's protocol. */
    uint32_t frag_id;
    uint32_t frag_offset;
    bool frag_more;
};

/* Decodes `caplen` captured bytes of a frame whose original length was
 * `wirelen`, with link type `link`. Fills `pkt` (borrowing `data`) and
 * returns a status; never reads outside data[0..caplen). A wirelen below
 * caplen is taken as caplen; data may be NULL when caplen is 0. Link padding
 * past the IP length is dropped. Never calls into Lua. */
enum ls_decode_status ls_decode(enum ls_linktype link, const uint8_t *data, size_t caplen,
                                size_t wirelen, struct ls_packet *pkt);

/* Decodes from an IP header onward (version taken from the first nibble).
 * Used by ls_decode and by tests. */
enum ls_decode_status ls_decode_ip(const uint8_t *data, size_t caplen, size_t wirelen,
                                   struct ls_packet *pkt);

/* Returns a short name for a status ("tcp", "truncated", ...). */
const char *ls_decode_status_name(enum ls_decode_status st);

/* Formats an address of family `af` (4 or 6) into `buf` (at least 46 bytes),
 * IPv6 in RFC 5952 form. Returns buf. */
char *ls_addr_format(uint8_t af, const uint8_t addr[16], char *buf, size_t size);

#endif
