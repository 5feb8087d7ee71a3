/* csum.h: Internet checksum verification (RFC 1071) of a decoded packet: the
 * IPv4 header checksum and the TCP or UDP checksum over the pseudo-header.
 * luasniff drops a packet for its checksum under --checksums (flow.c, app.c):
 * with checksum offload, packets sent by the capturing host carry checksums
 * the NIC fills in later, so not every wrong one is damage. */
#ifndef LS_CSUM_H
#define LS_CSUM_H

#include <stdbool.h>

#include "decode.h"

enum ls_csum_result {
    LS_CSUM_OK = 0,
    LS_CSUM_BAD,     /* a checksum is wrong: the packet was damaged */
    LS_CSUM_UNKNOWN, /* cannot tell: the capture cut the segment (snaplen) */
};

/* Verifies the checksums of `pkt`, as filled by ls_decode or ls_frag_input
 * with status LS_DECODE_TCP or LS_DECODE_UDP. An IPv4 fragment
 * (LS_DECODE_FRAGMENT) has only its IP header checked: BAD or UNKNOWN.
 * Other packets are UNKNOWN.
 * Reads only bytes the decoder bounded (pkt->l3, pkt->l4). A UDP checksum of
 * zero over IPv4 means "none" (RFC 768) and is OK. Never calls into Lua. */
enum ls_csum_result ls_csum_check(const struct ls_packet *pkt);

/* True when `pkt` is TCP and its checksum field holds the pseudo-header's
 * sum (or its complement): what a sender's checksum offload leaves for the
 * NIC to finish, and what Linux writes into segments that GRO merged on
 * receipt. Such a checksum is unfinished, not wrong. */
bool ls_csum_offload_artifact(const struct ls_packet *pkt);

#endif
