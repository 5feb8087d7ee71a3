/* csum.c: RFC 1071 checksums of decoded packets (see csum.h). Works on the
 * bounded views the decoder recorded; never reads past them. */
#include "csum.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"

#define PROTO_TCP   6
#define PROTO_UDP   17
#define UDP_SUM_OFF 6
#define TCP_SUM_OFF 16

#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SUM_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef SUM_CLONES
#define SUM_CLONES
#endif

/* The sums below add the bytes as native-order words: a ones' complement
 * sum does not depend on byte order but for a swap of its two folded bytes
 * (RFC 1071 2(B)), and a check compares the folded sum with 0xffff, which
 * a swap leaves alone. A payload of a thousand bytes then costs a few dozen
 * additions, not five hundred loads and swaps. */

/* Sum of `n` bytes as 16-bit words (an odd last byte padded with zero, RFC
 * 1071 4.1), not yet folded. Where the compiler can build the loop twice
 * and pick at load time, AVX2 machines run it at 32 bytes a step. */
SUM_CLONES static uint64_t sum(const uint8_t *p, size_t n)
{
    uint64_t a = 0, b = 0;
    for (; n >= 16; p += 16, n -= 16) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, p + 8, 8);
        a += (x & 0xffffffff) + (x >> 32);
        b += (y & 0xffffffff) + (y >> 32);
    }
    a += b;
    for (; n >= 4; p += 4, n -= 4) {
        uint32_t x;
        memcpy(&x, p, 4);
        a += x;
    }
    if (n >= 2) {
        uint16_t x;
        memcpy(&x, p, 2);
        a += x;
        p += 2;
        n -= 2;
    }
    if (n == 1) {
        const uint8_t last[2] = {p[0], 0};
        uint16_t x;
        memcpy(&x, last, 2);
        a += x;
    }
    return a;
}

static uint16_t fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* The native-order sum of a 4-byte field. */
static uint64_t word(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* The pseudo-header's sum (RFC 9293 3.1, RFC 8200 8.1): addresses, then
 * the protocol and the upper-layer length as their bytes go on the wire. */
static uint64_t pseudo_header(const struct ls_packet *pkt)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < (pkt->af == 4 ? 4u : 16u); i += 4)
        acc += word(pkt->src + i) + word(pkt->dst + i);
    uint32_t len = pkt->l4_len;
    const uint8_t tail[8] = {
        (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0,
        pkt->l4proto};
    return acc + word(tail) + word(tail + 4);
}

enum ls_csum_result ls_csum_check(const struct ls_packet *pkt)
{
    /* First the IPv4 header, which every fragment carries too: a receiver
     * drops a fragment whose header checksum is wrong before reassembly
     * (RFC 1122 3.2.1.2), so such a fragment must not join a datagram. */
    if (pkt->af == 4 && pkt->l3 != NULL && fold(sum(pkt->l3, pkt->l3_len)) != 0xffff)
        return LS_CSUM_BAD;
    if (pkt->l4 == NULL || (pkt->l4proto != PROTO_TCP && pkt->l4proto != PROTO_UDP))
        return LS_CSUM_UNKNOWN;
    if (pkt->payload_missing > 0)
        return LS_CSUM_UNKNOWN;
    if (pkt->l4proto == PROTO_UDP && pkt->af == 4 && pkt->l4_len >= 8 &&
        ls_load_be16(pkt->l4 + UDP_SUM_OFF) == 0)
        return LS_CSUM_OK;
    uint64_t acc = pseudo_header(pkt) + sum(pkt->l4, pkt->l4_len);
    return fold(acc) == 0xffff ? LS_CSUM_OK : LS_CSUM_BAD;
}

bool ls_csum_offload_artifact(const struct ls_packet *pkt)
{
    if (pkt->l4 == NULL || pkt->l4proto != PROTO_TCP || pkt->l4_len < TCP_SUM_OFF + 2)
        return false;
    /* Both in native order: the field as it lies, the sum folded. */
    uint16_t field;
    memcpy(&field, pkt->l4 + TCP_SUM_OFF, 2);
    uint16_t partial = fold(pseudo_header(pkt));
    uint16_t complement = (uint16_t)(0xffffu - partial);
    return field == partial || field == complement;
}
