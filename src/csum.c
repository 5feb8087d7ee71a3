/* csum.c: RFC 1071 checksums of decoded packets (see csum.h). Works on the
 * bounded views the decoder recorded; never reads past them. */
#include "csum.h"

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

#define PROTO_TCP   6
#define PROTO_UDP   17
#define UDP_SUM_OFF 6

/* Ones' complement sum of `n` bytes, not yet folded; an odd last byte is
 * padded with zero (RFC 1071 4.1). */
static uint64_t sum(uint64_t acc, const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 1 < n; i += 2)
        acc += ls_load_be16(p + i);
    if (i < n)
        acc += (uint64_t)p[i] << 8;
    return acc;
}

static uint16_t fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

enum ls_csum_result ls_csum_check(const struct ls_packet *pkt)
{
    /* First the IPv4 header, which every fragment carries too: a receiver
     * drops a fragment whose header checksum is wrong before reassembly
     * (RFC 1122 3.2.1.2), so such a fragment must not join a datagram. */
    if (pkt->af == 4 && pkt->l3 != NULL && fold(sum(0, pkt->l3, pkt->l3_len)) != 0xffff)
        return LS_CSUM_BAD;
    if (pkt->l4 == NULL || (pkt->l4proto != PROTO_TCP && pkt->l4proto != PROTO_UDP))
        return LS_CSUM_UNKNOWN;
    if (pkt->payload_missing > 0)
        return LS_CSUM_UNKNOWN;
    if (pkt->l4proto == PROTO_UDP && pkt->af == 4 && pkt->l4_len >= 8 &&
        ls_load_be16(pkt->l4 + UDP_SUM_OFF) == 0)
        return LS_CSUM_OK;
    /* Pseudo-header: addresses, protocol, upper-layer length (RFC 9293
     * 3.1, RFC 8200 8.1). */
    size_t alen = pkt->af == 4 ? 4 : 16;
    uint64_t acc = sum(0, pkt->src, alen);
    acc = sum(acc, pkt->dst, alen);
    acc += pkt->l4proto;
    acc += pkt->l4_len & 0xffff;
    acc += pkt->l4_len >> 16;
    acc = sum(acc, pkt->l4, pkt->l4_len);
    return fold(acc) == 0xffff ? LS_CSUM_OK : LS_CSUM_BAD;
}
