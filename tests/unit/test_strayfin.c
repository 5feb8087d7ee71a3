/* test_strayfin.c: bare FINs kept for a connection opened mid-stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common.h"
#include "conn.h"
#include "strayfin.h"

static struct ls_packet seg(uint8_t a, uint16_t ap, uint8_t b, uint16_t bp, uint8_t flags,
                            uint32_t seq)
{
    struct ls_packet p;
    memset(&p, 0, sizeof p);
    p.af = 4;
    p.l4proto = 6;
    p.src[0] = 10;
    p.src[3] = a;
    p.dst[0] = 10;
    p.dst[3] = b;
    p.sport = ap;
    p.dport = bp;
    p.flags = flags;
    p.seq = seq;
    return p;
}

/* Takes a kept FIN for the connection that `p`, a packet from its client,
 * opens under `hash`. */
static bool take(struct ls_strayfins *k, const struct ls_packet *p, uint32_t hash, double now,
                 struct ls_packet *fin)
{
    struct ls_conn c;
    memset(&c, 0, sizeof c);
    c.af = p->af;
    c.hash = hash;
    memcpy(c.client_ip, p->src, 16);
    memcpy(c.server_ip, p->dst, 16);
    c.client_port = p->sport;
    c.server_port = p->dport;
    return ls_strayfin_take(k, &c, now, fin);
}

static void test_taken_once_either_direction(void **state)
{
    (void)state;
    struct ls_strayfins k;
    ls_strayfin_init(&k);
    static const uint8_t hdr[20];
    struct ls_packet fin = seg(2, 80, 1, 40000, LS_TCP_FIN | LS_TCP_ACK, 9001);
    fin.l4 = hdr;
    fin.l4_len = sizeof hdr;
    ls_strayfin_keep(&k, &fin, 5.0, 77, false);
    struct ls_packet data = seg(1, 40000, 2, 80, LS_TCP_ACK, 2001), got;
    data.payload_len = 10;
    assert_false(take(&k, &data, 78, 5.1, &got)); /* another hash */
    assert_true(take(&k, &data, 77, 5.1, &got));
    assert_int_equal(got.seq, 9001);
    assert_int_equal(got.flags, LS_TCP_FIN | LS_TCP_ACK);
    assert_int_equal(got.sport, 80);
    assert_null(got.l4); /* header only */
    assert_int_equal(got.l4_len, 0);
    assert_false(take(&k, &data, 77, 5.1, &got));
    /* The same direction as the FIN's sender matches too. */
    ls_strayfin_keep(&k, &fin, 5.0, 77, false);
    struct ls_packet more = seg(2, 80, 1, 40000, LS_TCP_ACK, 8000);
    assert_true(take(&k, &more, 77, 5.2, &got));
}

static void test_other_endpoints_same_hash(void **state)
{
    (void)state;
    struct ls_strayfins k;
    ls_strayfin_init(&k);
    struct ls_packet fin = seg(2, 80, 1, 40000, LS_TCP_FIN | LS_TCP_ACK, 9001), got;
    ls_strayfin_keep(&k, &fin, 1.0, 5, false);
    struct ls_packet other = seg(1, 40001, 2, 80, LS_TCP_ACK, 1);
    assert_false(take(&k, &other, 5, 1.0, &got));
    other = seg(3, 40000, 2, 80, LS_TCP_ACK, 1);
    assert_false(take(&k, &other, 5, 1.0, &got));
    other = seg(1, 40000, 2, 80, LS_TCP_ACK, 1);
    other.af = 6;
    assert_false(take(&k, &other, 5, 1.0, &got));
    other.af = 4;
    assert_true(take(&k, &other, 5, 1.0, &got));
}

static void test_waits_one_second(void **state)
{
    (void)state;
    struct ls_strayfins k;
    ls_strayfin_init(&k);
    struct ls_packet fin = seg(2, 80, 1, 40000, LS_TCP_FIN, 1), data = seg(1, 40000, 2, 80, 0, 1);
    struct ls_packet got;
    ls_strayfin_keep(&k, &fin, 10.0, 1, false);
    assert_false(take(&k, &data, 1, 10.0 + LS_STRAYFIN_WAIT + 0.001, &got));
    assert_true(take(&k, &data, 1, 10.0 + LS_STRAYFIN_WAIT, &got));
}

static void test_only_bare_fins(void **state)
{
    (void)state;
    static const uint8_t flags[] = {LS_TCP_ACK, LS_TCP_FIN | LS_TCP_RST, LS_TCP_FIN | LS_TCP_SYN,
                                    LS_TCP_RST | LS_TCP_ACK};
    struct ls_packet data = seg(1, 40000, 2, 80, LS_TCP_ACK, 1), got;
    for (size_t i = 0; i < sizeof flags; i++) {
        struct ls_strayfins k;
        ls_strayfin_init(&k);
        struct ls_packet p = seg(2, 80, 1, 40000, flags[i], 1);
        ls_strayfin_keep(&k, &p, 0.0, 1, false);
        assert_false(take(&k, &data, 1, 0.0, &got));
    }
    /* A FIN with bytes, or bytes the capture cut, is not bare. */
    for (int cut = 0; cut < 2; cut++) {
        struct ls_strayfins k;
        ls_strayfin_init(&k);
        struct ls_packet p = seg(2, 80, 1, 40000, LS_TCP_FIN | LS_TCP_ACK, 1);
        if (cut)
            p.payload_missing = 3;
        else
            p.payload_len = 3;
        ls_strayfin_keep(&k, &p, 0.0, 1, false);
        assert_false(take(&k, &data, 1, 0.0, &got));
    }
}

static void test_oldest_replaced(void **state)
{
    (void)state;
    struct ls_strayfins k;
    ls_strayfin_init(&k);
    size_t n = LS_ARRAY_SIZE(k.kept);
    for (uint8_t i = 0; i <= n; i++) {
        struct ls_packet fin = seg(2, 80, 1, (uint16_t)(40000 + i), LS_TCP_FIN, i);
        ls_strayfin_keep(&k, &fin, 0.0, i, false);
    }
    struct ls_packet got;
    for (uint8_t i = 0; i <= n; i++) {
        struct ls_packet data = seg(1, (uint16_t)(40000 + i), 2, 80, LS_TCP_ACK, 1);
        assert_int_equal(take(&k, &data, i, 0.0, &got), i > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taken_once_either_direction),
        cmocka_unit_test(test_other_endpoints_same_hash),
        cmocka_unit_test(test_waits_one_second),
        cmocka_unit_test(test_only_bare_fins),
        cmocka_unit_test(test_oldest_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
