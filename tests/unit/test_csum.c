/* test_csum.c: unit tests for csum.c: good, damaged and unknowable checksums
 * of TCP and UDP over IPv4 and IPv6, on frames built by pktgen. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "csum.h"
#include "decode.h"
#include "pktgen.h"

#define BUFSZ 2048

static const uint8_t DATA[] = "hello, odd-length payload";

static size_t build(uint8_t *buf, uint8_t af, uint8_t proto, struct ls_pktgen_layout *lay)
{
    struct ls_pktgen_tcp_spec s = {
        .af = af,
        .proto = proto,
        .sport = 1234,
        .dport = 80,
        .seq = 7,
        .flags = LS_TCP_ACK,
        .payload = DATA,
        .payload_len = sizeof DATA - 1,
    };
    size_t n = ls_pktgen_build(buf, BUFSZ, &s, lay);
    assert_true(n > 0);
    return n;
}

static enum ls_csum_result check(const uint8_t *buf, size_t caplen, size_t n)
{
    struct ls_packet p;
    enum ls_decode_status st = ls_decode(LS_LINK_ETHERNET, buf, caplen, n, &p);
    assert_true(st == LS_DECODE_TCP || st == LS_DECODE_UDP);
    return ls_csum_check(&p);
}

static void test_good_and_bad(void **state)
{
    (void)state;
    const uint8_t afs[] = {4, 6}, protos[] = {6, 17};
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            uint8_t buf[BUFSZ];
            struct ls_pktgen_layout lay;
            size_t n = build(buf, afs[i], protos[j], &lay);
            assert_int_equal(check(buf, n, n), LS_CSUM_OK);
            /* One payload bit flipped. */
            buf[lay.payload_off + 3] ^= 0x10;
            assert_int_equal(check(buf, n, n), LS_CSUM_BAD);
            buf[lay.payload_off + 3] ^= 0x10;
            /* The last (odd) byte counts too. */
            buf[n - 1] ^= 0x01;
            assert_int_equal(check(buf, n, n), LS_CSUM_BAD);
            buf[n - 1] ^= 0x01;
            /* Cut by snaplen: cannot tell. */
            assert_int_equal(check(buf, n - 4, n), LS_CSUM_UNKNOWN);
        }
    }
}

static void test_ipv4_header(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    size_t n = build(buf, 4, 6, &lay);
    buf[lay.l3_off + 8] ^= 1; /* TTL: only the header checksum covers it */
    assert_int_equal(check(buf, n, n), LS_CSUM_BAD);
}

static void test_udp_zero_checksum(void **state)
{
    (void)state;
    uint8_t buf[BUFSZ];
    struct ls_pktgen_layout lay;
    size_t n = build(buf, 4, 17, &lay);
    buf[lay.l4_off + 6] = buf[lay.l4_off + 7] = 0; /* "no checksum" (RFC 768) */
    assert_int_equal(check(buf, n, n), LS_CSUM_OK);
    n = build(buf, 6, 17, &lay);
    buf[lay.l4_off + 6] = buf[lay.l4_off + 7] = 0; /* mandatory over IPv6 */
    assert_int_equal(check(buf, n, n), LS_CSUM_BAD);
}

/* Every payload length from 0 to 1400 (each alignment of the word loop's
 * tail), with bytes that carry often (0xff runs) and varied ones: pktgen's
 * byte-by-byte checksum is accepted, and a flip of any one byte, whatever
 * its place, is caught. */
static void test_every_length(void **state)
{
    (void)state;
    static uint8_t payload[1400];
    uint32_t x = 12345;
    for (size_t len = 0; len <= sizeof payload; len++) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            payload[i] = (len & 1) ? 0xff : (uint8_t)(x >> 16);
        }
        for (size_t k = 0; k < 2; k++) {
            uint8_t af = k ? 6 : 4, buf[BUFSZ];
            struct ls_pktgen_tcp_spec s = {.af = af,
                                           .proto = 6,
                                           .sport = 1,
                                           .dport = 2,
                                           .seq = (uint32_t)len,
                                           .flags = LS_TCP_ACK,
                                           .payload = payload,
                                           .payload_len = len};
            struct ls_pktgen_layout lay;
            size_t n = ls_pktgen_build(buf, BUFSZ, &s, &lay);
            assert_true(n > 0);
            assert_int_equal(check(buf, n, n), LS_CSUM_OK);
            if (len == 0)
                continue;
            size_t at = lay.payload_off + (x >> 8) % len;
            buf[at] ^= 0x5a;
            assert_int_equal(check(buf, n, n), LS_CSUM_BAD);
            buf[at] ^= 0x5a;
            buf[n - 1] ^= 0x80;
            assert_int_equal(check(buf, n, n), LS_CSUM_BAD);
        }
    }
}

static void test_not_transport(void **state)
{
    (void)state;
    struct ls_packet p;
    memset(&p, 0, sizeof p);
    assert_int_equal(ls_csum_check(&p), LS_CSUM_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_and_bad),      cmocka_unit_test(test_ipv4_header),
        cmocka_unit_test(test_udp_zero_checksum), cmocka_unit_test(test_every_length),
        cmocka_unit_test(test_not_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
