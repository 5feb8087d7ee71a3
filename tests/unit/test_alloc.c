/* test_alloc.c: the hot path does not allocate. Frames are decoded and fed
 * to the flow table for 10,000 in-order packets over 50 connections after a
 * warm-up, in both delivery modes, while malloc, calloc, realloc and free
 * are counted (the executable links with --wrap for each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "decode.h"
#include "flow.h"
#include "pktgen.h"

static long allocs;
static bool counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
    allocs += counting;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    allocs += counting;
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocs += counting;
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    allocs += counting && p;
    __real_free(p);
}

static uint64_t delivered;

static bool h_open(void *ud, struct ls_conn *c)
{
    (void)ud;
    (void)c;
    return true;
}
static void h_data(void *ud, struct ls_conn *c, enum ls_dir d, const uint8_t *p, size_t n,
                   double ts)
{
    (void)ud;
    (void)c;
    (void)d;
    (void)p;
    (void)ts;
    delivered += n;
}
static void h_gap(void *ud, struct ls_conn *c, enum ls_dir d, uint64_t n)
{
    (void)ud;
    (void)c;
    (void)d;
    (void)n;
}
static void h_closed(void *ud, struct ls_conn *c, enum ls_close_reason r)
{
    (void)ud;
    (void)c;
    (void)r;
}
static void h_teardown(void *ud, struct ls_conn *c)
{
    (void)ud;
    (void)c;
}
static void h_log(void *ud, enum ls_log_level l, struct ls_conn *c, const char *m)
{
    (void)ud;
    (void)l;
    (void)c;
    (void)m;
}

#define CONNS   50
#define PAYLOAD 1200

struct stream {
    uint32_t cseq, sseq;
};

static void feed(struct ls_flow_table *ft, uint16_t port, uint8_t flags, uint32_t seq, uint32_t ack,
                 size_t len, bool from_client, double ts)
{
    static uint8_t frame[LS_PKTGEN_MAX_FRAME];
    static uint8_t payload[PAYLOAD];
    struct ls_pktgen_tcp_spec spec = {0};
    spec.src = from_client ? "10.0.0.1" : "10.0.0.2";
    spec.dst = from_client ? "10.0.0.2" : "10.0.0.1";
    spec.sport = from_client ? port : 80;
    spec.dport = from_client ? 80 : port;
    spec.flags = flags;
    spec.seq = seq;
    spec.ack = ack;
    spec.window = 65535;
    spec.payload = payload;
    spec.payload_len = len;
    size_t n = ls_pktgen_tcp(frame, sizeof frame, &spec);
    assert_true(n > 0);
    struct ls_packet pkt;
    assert_int_equal(ls_decode(LS_LINK_ETHERNET, frame, n, n, &pkt), LS_DECODE_TCP);
    ls_flow_input(ft, &pkt, ts);
}

/* One round: every connection sends one data segment each way, and each
 * is acknowledged by the next segment of the other side. */
static void round_trip(struct ls_flow_table *ft, struct stream *st, double ts)
{
    for (uint16_t i = 0; i < CONNS; i++) {
        struct stream *s = &st[i];
        feed(ft, (uint16_t)(20000 + i), LS_TCP_ACK | LS_TCP_PSH, s->cseq, s->sseq, PAYLOAD, true,
             ts);
        s->cseq += PAYLOAD;
        feed(ft, (uint16_t)(20000 + i), LS_TCP_ACK | LS_TCP_PSH, s->sseq, s->cseq, PAYLOAD, false,
             ts);
        s->sseq += PAYLOAD;
    }
}

static void no_allocation(enum ls_deliver mode)
{
    struct ls_flow_config cfg;
    ls_flow_config_default(&cfg);
    cfg.deliver = mode;
    struct ls_flow_hooks hooks = {NULL, h_open, h_data, h_gap, h_closed, h_teardown, h_log, NULL};
    allocs = 0;
    counting = true;
    struct ls_flow_table *ft = ls_flow_new(&cfg, &hooks);
    counting = false;
    /* The control: the table's own allocations are seen, so the wrapping
     * is in effect (it is not in a link-time optimized link). */
    assert_true(allocs > 0);
    struct stream st[CONNS];
    double ts = 1000.0;
    for (uint16_t i = 0; i < CONNS; i++) {
        st[i].cseq = 1000u * i + 1;
        st[i].sseq = 7000u * i + 1;
        feed(ft, (uint16_t)(20000 + i), LS_TCP_SYN, st[i].cseq - 1, 0, 0, true, ts);
        feed(ft, (uint16_t)(20000 + i), LS_TCP_SYN | LS_TCP_ACK, st[i].sseq - 1, st[i].cseq, 0,
             false, ts);
    }
    for (int r = 0; r < 20; r++) /* warm-up: pool blocks and free lists fill */
        round_trip(ft, st, ts += 0.001);

    delivered = 0;
    allocs = 0;
    counting = true;
    for (int r = 0; r < 100; r++) /* 100 x 50 x 2 = 10,000 packets */
        round_trip(ft, st, ts += 0.001);
    counting = false;

    assert_int_equal(allocs, 0);
    /* In ack mode the last segment of each direction waits for its ACK. */
    uint64_t expect = (uint64_t)100 * CONNS * 2 * PAYLOAD, slack = (uint64_t)CONNS * 2 * PAYLOAD;
    assert_true(delivered >= expect - slack && delivered <= expect + slack);
    ls_flow_finish(ft, LS_CLOSE_END);
    ls_flow_free(ft);
}

static void no_allocation_ack(void **state)
{
    (void)state;
    no_allocation(LS_DELIVER_ACK);
}

static void no_allocation_arrival(void **state)
{
    (void)state;
    no_allocation(LS_DELIVER_ARRIVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_allocation_ack),
        cmocka_unit_test(no_allocation_arrival),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
