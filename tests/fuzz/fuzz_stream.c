/* fuzz_stream.c: libFuzzer target for the flow table, TCP tracking and
 * reassembly, fed a sequence of segments of a few connections. Each record
 * of the input is 11 bytes plus payload:
 *   [0] bit 0 direction, bits 1-2 client port, bits 3-7 time step (ms)
 *   [1] TCP flags   [2..5] seq offset from the side's ISN   [6..9] ack offset
 *   [10] payload length (taken from what follows, the rest if short)
 * Segments are built as IPv4 packets and decoded, so the decoder is on the
 * path too. Invariants checked through the hooks: bytes delivered never
 * exceed bytes sent, each announced connection gets at most one `closed`,
 * nothing follows teardown, and buffered memory stays under its cap. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXBUF (64 << 10)
#define CONNS  64 /* ids tracked; the fuzzer never makes more per input */

struct state {
    uint64_t sent[2]; /* payload bytes offered, per direction of the wire */
    uint64_t delivered;
    uint8_t closed[CONNS]; /* by connection id */
    uint8_t torn[CONNS];
    struct ls_flow_table *ft;
};

static struct state *check_id(struct state *s, const struct ls_conn *c)
{
    if (c->id >= CONNS || s->torn[c->id])
        abort();
    return s;
}

static bool on_open(void *ud, struct ls_conn *c)
{
    check_id(ud, c);
    return true;
}

static void on_data(void *ud, struct ls_conn *c, enum ls_dir d, const uint8_t *p, size_t n)
{
    struct state *s = check_id(ud, c);
    (void)d;
    if (n > 0 && p == NULL)
        abort();
    s->delivered += n;
    if (s->delivered > s->sent[0] + s->sent[1])
        abort();
}

static void on_gap(void *ud, struct ls_conn *c, enum ls_dir d, uint64_t n)
{
    (void)d;
    (void)n;
    check_id(ud, c);
}

static void on_closed(void *ud, struct ls_conn *c, enum ls_close_reason why)
{
    struct state *s = check_id(ud, c);
    if (s->closed[c->id]++ || why == LS_CLOSE_NONE)
        abort();
}

static void on_teardown(void *ud, struct ls_conn *c)
{
    struct state *s = check_id(ud, c);
    s->torn[c->id] = 1;
}

static void on_log(void *ud, enum ls_log_level level, struct ls_conn *c, const char *msg)
{
    (void)ud;
    (void)level;
    (void)c;
    (void)msg;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state s;
    memset(&s, 0, sizeof s);
    struct ls_flow_config cfg;
    ls_flow_config_default(&cfg);
    cfg.max_connections = 3;
    cfg.idle_timeout = 0.5;
    cfg.max_conn_buffer = 4096;
    cfg.max_buffer = MAXBUF;
    cfg.deliver = size > 0 && (data[size - 1] & 1) ? LS_DELIVER_ARRIVAL : LS_DELIVER_ACK;
    static const enum ls_overlap policies[4] = {LS_OVERLAP_LINUX, LS_OVERLAP_FIRST, LS_OVERLAP_LAST,
                                                LS_OVERLAP_LINUX};
    cfg.overlap = policies[size > 0 ? (data[size - 1] >> 1) & 3 : 0];
    const struct ls_flow_hooks hooks = {
        .ud = &s,
        .open = on_open,
        .data = on_data,
        .gap = on_gap,
        .closed = on_closed,
        .teardown = on_teardown,
        .log = on_log,
    };
    s.ft = ls_flow_new(&cfg, &hooks);
    if (s.ft == NULL)
        abort();

    static const uint32_t isn[2] = {1000, 0xfffff000u}; /* the server's wraps */
    uint8_t pkt[20 + 20 + 255];
    double t = 1.0;
    size_t i = 0;
    unsigned made = 0;
    while (size - i >= 11 && made < CONNS / 2) {
        const uint8_t *r = data + i;
        int dir = r[0] & 1;
        uint16_t cport = (uint16_t)(40000 + ((r[0] >> 1) & 3));
        size_t len = r[10];
        i += 11;
        if (len > size - i)
            len = size - i;
        t += (double)(r[0] >> 3) * 1e-3;
        memset(pkt, 0, 40);
        pkt[0] = 0x45;
        put16(pkt + 2, (uint32_t)(40 + len));
        pkt[8] = 64;
        pkt[9] = 6;
        put32(pkt + 12, dir ? 0x0a000002u : 0x0a000001u);
        put32(pkt + 16, dir ? 0x0a000001u : 0x0a000002u);
        put16(pkt + 20, dir ? 80 : cport);
        put16(pkt + 22, dir ? cport : 80);
        uint32_t seq = isn[dir] + ((uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 | r[4] << 8 | r[5]);
        uint32_t ack = isn[!dir] + ((uint32_t)r[6] << 24 | (uint32_t)r[7] << 16 | r[8] << 8 | r[9]);
        put32(pkt + 24, seq);
        put32(pkt + 28, ack);
        pkt[32] = 5 << 4;
        pkt[33] = r[1];
        put16(pkt + 34, 65535);
        memcpy(pkt + 40, data + i, len);
        i += len;
        struct ls_packet p;
        if (ls_decode_ip(pkt, 40 + len, 40 + len, &p) != LS_DECODE_TCP)
            abort();
        s.sent[dir] += len;
        ls_flow_input(s.ft, &p, t);
        if (ls_flow_stats(s.ft)->buffered > MAXBUF)
            abort();
        made = (unsigned)ls_flow_stats(s.ft)->connections;
    }
    ls_flow_finish(s.ft, LS_CLOSE_END);
    for (unsigned id = 0; id < CONNS; id++)
        if (s.closed[id] > 1)
            abort();
    ls_flow_free(s.ft);
    return 0;
}
