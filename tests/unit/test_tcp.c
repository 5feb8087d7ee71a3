/* test_tcp.c: the flow table and TCP tracker driven packet by packet, with
 * every event recorded as text and compared exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flow.h"

/* ---- event recorder ---- */

struct rec {
    char buf[1 << 16];
    size_t len;
    size_t last_data; /* where the last data line starts, to merge runs */
    uint64_t last_id;
    int last_dir;
    int refuse_id; /* `open` returns false for this id */
    struct ls_flow_table *ft;
    int ignore_on_data; /* conn id to ignore from its first data event */
    double data_ts[8];  /* times passed with the first data events */
    int ndata;
};

static void put(struct rec *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof r->buf - r->len)
        r->len += (size_t)n;
}

static const char *dname(enum ls_dir d)
{
    return d == LS_DIR_C2S ? "c2s" : "s2c";
}

static bool h_open(void *ud, struct ls_conn *c)
{
    struct rec *r = ud;
    char a[64], b[64];
    ls_addr_format(c->af, c->client_ip, a, sizeof a);
    ls_addr_format(c->af, c->server_ip, b, sizeof b);
    put(r, "open %llu %s:%u>%s:%u\n", (unsigned long long)c->id, a, c->client_port, b,
        c->server_port);
    return (int)c->id != r->refuse_id;
}

/* Consecutive data events of one direction are one line: how bytes are cut
 * into calls is not part of the contract, their order and content are. */
static void h_data(void *ud, struct ls_conn *c, enum ls_dir d, const uint8_t *p, size_t n,
                   double ts)
{
    struct rec *r = ud;
    if (r->ndata < (int)LS_ARRAY_SIZE(r->data_ts))
        r->data_ts[r->ndata++] = ts;
    if (r->len && r->last_id == c->id && r->last_dir == (int)d && r->len == r->last_data) {
        r->len--; /* drop the newline and append */
        put(r, "%.*s\n", (int)n, (const char *)p);
    } else {
        put(r, "data %llu %s %.*s\n", (unsigned long long)c->id, dname(d), (int)n, (const char *)p);
    }
    r->last_data = r->len;
    r->last_id = c->id;
    r->last_dir = (int)d;
    if (r->ignore_on_data == (int)c->id)
        ls_flow_ignore(r->ft, c);
}

static void h_gap(void *ud, struct ls_conn *c, enum ls_dir d, uint64_t n)
{
    put(ud, "gap %llu %s %llu\n", (unsigned long long)c->id, dname(d), (unsigned long long)n);
}

static void h_closed(void *ud, struct ls_conn *c, enum ls_close_reason why)
{
    put(ud, "closed %llu %s\n", (unsigned long long)c->id, ls_close_reason_name(why));
}

static void h_teardown(void *ud, struct ls_conn *c)
{
    put(ud, "teardown %llu\n", (unsigned long long)c->id);
}

static void h_log(void *ud, enum ls_log_level level, struct ls_conn *c, const char *msg)
{
    LS_UNUSED(c);
    put(ud, "log %s %s\n", ls_log_level_name(level), msg);
}

/* ---- packets ---- */

struct env {
    struct rec rec;
    struct ls_flow_table *ft;
    double ts;
};

static struct env *env_new(struct ls_flow_config *cfg)
{
    struct env *e = calloc(1, sizeof *e);
    struct ls_flow_config def;
    if (!cfg) {
        ls_flow_config_default(&def);
        cfg = &def;
    }
    struct ls_flow_hooks hooks = {&e->rec,  h_open,     h_data, h_gap,
                                  h_closed, h_teardown, h_log,  NULL};
    e->ft = ls_flow_new(cfg, &hooks);
    e->rec.ft = e->ft;
    e->ts = 1000.0;
    assert_non_null(e->ft);
    return e;
}

static void env_free(struct env *e)
{
    ls_flow_free(e->ft);
    free(e);
}

static void parse_ep(const char *s, uint8_t *af, uint8_t ip[16], uint16_t *port)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    size_t n = (size_t)(colon - s);
    memcpy(host, s, n);
    host[n] = 0;
    memset(ip, 0, 16);
    if (host[0] == '[') {
        host[n - 1] = 0;
        assert_int_equal(inet_pton(AF_INET6, host + 1, ip), 1);
        *af = 6;
    } else {
        assert_int_equal(inet_pton(AF_INET, host, ip), 1);
        *af = 4;
    }
    *port = (uint16_t)atoi(colon + 1);
}

static uint8_t parse_flags(const char *f)
{
    uint8_t v = 0;
    for (; *f; f++) {
        switch (*f) {
        case 'S': v |= LS_TCP_SYN; break;
        case 'A': v |= LS_TCP_ACK; break;
        case 'F': v |= LS_TCP_FIN; break;
        case 'R': v |= LS_TCP_RST; break;
        case 'P': v |= LS_TCP_PSH; break;
        case 'E': v |= LS_TCP_ECE; break;
        case 'C': v |= LS_TCP_CWR; break;
        default: fail_msg("bad flag %c", *f);
        }
    }
    return v;
}

/* Feeds one segment "src > dst" with flags, seq, ack and payload. */
static void seg_at(struct env *e, double ts, const char *src, const char *dst, const char *flags,
                   uint32_t seq, uint32_t ack, const char *payload)
{
    struct ls_packet p = {0};
    parse_ep(src, &p.af, p.src, &p.sport);
    parse_ep(dst, &p.af, p.dst, &p.dport);
    p.l4proto = 6;
    p.flags = parse_flags(flags);
    p.seq = seq;
    p.ack = ack;
    p.window = 65535;
    p.wscale = -1;
    p.payload = (const uint8_t *)payload;
    p.payload_len = payload ? (uint32_t)strlen(payload) : 0;
    e->ts = ts;
    ls_flow_input(e->ft, &p, ts);
}

static void seg(struct env *e, const char *src, const char *dst, const char *flags, uint32_t seq,
                uint32_t ack, const char *payload)
{
    seg_at(e, e->ts + 0.001, src, dst, flags, seq, ack, payload);
}

#define C "10.0.0.1:40000"
#define S "10.0.0.2:80"

static void finish(struct env *e)
{
    ls_flow_finish(e->ft, LS_CLOSE_END);
}

#define EXPECT(e, text) assert_string_equal((e)->rec.buf, text)

static void handshake(struct env *e, uint32_t cisn, uint32_t sisn)
{
    seg(e, C, S, "S", cisn, 0, NULL);
    seg(e, S, C, "SA", sisn, cisn + 1, NULL);
    seg(e, C, S, "A", cisn + 1, sisn + 1, NULL);
}

static struct ls_flow_config cfg_with(enum ls_deliver d, enum ls_overlap o)
{
    struct ls_flow_config cfg;
    ls_flow_config_default(&cfg);
    cfg.deliver = d;
    cfg.overlap = o;
    return cfg;
}

/* ---- cases ---- */

static void in_order_exchange_fin(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "GET /");
    seg(e, S, C, "PA", 5001, 1006, "200 OK");
    seg(e, C, S, "FA", 1006, 5007, NULL);
    seg(e, S, C, "FA", 5007, 1007, NULL);
    seg(e, C, S, "A", 1007, 5008, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s GET /\n"
              "data 1 s2c 200 OK\n"
              "closed 1 fin\n"
              "teardown 1\n");
    const struct ls_stats *st = ls_flow_stats(e->ft);
    assert_int_equal(st->connections, 1);
    assert_int_equal(st->active, 0);
    assert_int_equal(st->stray, 1); /* the final ACK hits the dead connection */
    env_free(e);
}

static void ack_gating_holds_until_acked(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "abc");
    seg(e, C, S, "PA", 1004, 5001, "def");
    assert_null(strstr(e->rec.buf, "data")); /* nothing acknowledged yet */
    seg(e, S, C, "A", 5001, 1004, NULL);
    assert_non_null(strstr(e->rec.buf, "data 1 c2s abc\n"));
    assert_null(strstr(e->rec.buf, "def"));
    seg(e, S, C, "A", 5001, 1007, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s abcdef\n"
              "closed 1 end\n"
              "teardown 1\n");
    env_free(e);
}

static void data_carries_its_own_time(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    seg_at(e, 10.0, C, S, "S", 1000, 0, NULL);
    seg_at(e, 10.1, S, C, "SA", 5000, 1001, NULL);
    seg_at(e, 10.2, C, S, "PA", 1001, 5001, "abc");
    seg_at(e, 10.3, C, S, "PA", 1004, 5001, "def");
    seg_at(e, 15.0, S, C, "A", 5001, 1007, NULL); /* released five seconds later */
    seg_at(e, 16.0, S, C, "PA", 5001, 1007, "reply");
    seg_at(e, 16.5, C, S, "A", 1007, 5006, NULL);
    assert_int_equal(e->rec.ndata, 2);
    assert_true(e->rec.data_ts[0] == 10.2); /* the request's own time, not the ACK's */
    assert_true(e->rec.data_ts[1] == 16.0);
    assert_true(ls_flow_now(e->ft) == 16.5);
    finish(e);
    env_free(e);
}

static void arrival_delivers_at_once(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ARRIVAL, LS_OVERLAP_FIRST);
    struct env *e = env_new(&cfg);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "abc");
    assert_non_null(strstr(e->rec.buf, "data 1 c2s abc\n"));
    finish(e);
    env_free(e);
}

static void reversed_order(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1007, 5001, "ghi");
    seg(e, C, S, "PA", 1004, 5001, "def");
    seg(e, C, S, "PA", 1001, 5001, "abc");
    seg(e, S, C, "A", 5001, 1010, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s abcdefghi\n"
              "closed 1 end\n"
              "teardown 1\n");
    env_free(e);
}

static void retransmissions_and_partial_overlap(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ARRIVAL, LS_OVERLAP_FIRST);
    struct env *e = env_new(&cfg);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "abcd");
    seg(e, C, S, "PA", 1001, 5001, "abcd");  /* exact retransmission */
    seg(e, C, S, "PA", 1003, 5001, "cdefg"); /* partial: "cd" old, "efg" new */
    seg(e, C, S, "PA", 1010, 5001, "jk");    /* hole at 1008-1009 */
    seg(e, C, S, "PA", 1007, 5001, "ghij");  /* fills the hole, overlaps both sides */
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s abcdefghijk\n"
              "closed 1 end\n"
              "teardown 1\n");
    assert_int_equal(ls_flow_stats(e->ft)->overlaps_conflicting, 0);
    env_free(e);
}

static void conflicting_overlap(enum ls_overlap policy, const char *expect)
{
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ACK, policy);
    struct env *e = env_new(&cfg);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "hello");
    seg(e, C, S, "PA", 1002, 5001, "EL"); /* differs from "el" */
    seg(e, C, S, "PA", 1003, 5001, "lX"); /* differs from "Ll" as held after "EL" */
    seg(e, S, C, "A", 5001, 1006, NULL);
    finish(e);
    EXPECT(e, expect);
    assert_int_equal(ls_flow_stats(e->ft)->overlaps_conflicting, 2);
    env_free(e);
}

static void overlap_first(void **state)
{
    LS_UNUSED(state);
    conflicting_overlap(LS_OVERLAP_FIRST,
                        "open 1 10.0.0.1:40000>10.0.0.2:80\n"
                        "log warn conn #1: sent bytes 1-2 retransmitted with different content; "
                        "kept the first copy (further conflicts only counted)\n"
                        "data 1 c2s hello\n"
                        "closed 1 end\n"
                        "teardown 1\n");
}

static void overlap_last(void **state)
{
    LS_UNUSED(state);
    conflicting_overlap(LS_OVERLAP_LAST,
                        "open 1 10.0.0.1:40000>10.0.0.2:80\n"
                        "log warn conn #1: sent bytes 1-2 retransmitted with different content; "
                        "kept the last copy (further conflicts only counted)\n"
                        "data 1 c2s hElXo\n"
                        "closed 1 end\n"
                        "teardown 1\n");
}

static void sequence_wraparound(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    uint32_t isn = 0xfffffff8u;
    handshake(e, isn, 0xfffffffeu);
    seg(e, C, S, "PA", isn + 1, 0xffffffffu, "0123456"); /* ends at 0xffffffff+1 */
    seg(e, C, S, "PA", isn + 15, 0xffffffffu, "EFGH");   /* after the wrap, early */
    seg(e, C, S, "PA", isn + 8, 0xffffffffu, "789ABCD"); /* across the wrap */
    seg(e, S, C, "PA", 0xffffffffu, isn + 19, "xyz");    /* server data across wrap */
    seg(e, C, S, "FA", isn + 19, 2, NULL);
    seg(e, S, C, "FA", 2, isn + 20, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s 0123456789ABCDEFGH\n"
              "data 1 s2c xyz\n"
              "closed 1 fin\n"
              "teardown 1\n");
    env_free(e);
}

static void syn_retransmissions_and_ecn(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    seg(e, C, S, "SEC", 1000, 0, NULL);
    seg(e, C, S, "SEC", 1000, 0, NULL);
    seg(e, S, C, "SAE", 5000, 1001, NULL);
    seg(e, S, C, "SAE", 5000, 1001, NULL);
    seg(e, C, S, "A", 1001, 5001, NULL);
    seg(e, C, S, "PAE", 1001, 5001, "hi");
    seg(e, S, C, "AC", 5001, 1003, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s hi\n"
              "closed 1 end\n"
              "teardown 1\n");
    assert_int_equal(ls_flow_stats(e->ft)->connections, 1);
    env_free(e);
}

static void data_on_syn_and_synack(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    seg(e, C, S, "S", 1000, 0, "early");
    seg(e, S, C, "SA", 5000, 1006, "hello");
    seg(e, C, S, "A", 1006, 5006, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s early\n"
              "data 1 s2c hello\n"
              "closed 1 end\n"
              "teardown 1\n");
    env_free(e);
}

static void half_close(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "req");
    seg(e, C, S, "FA", 1004, 5001, NULL);
    seg(e, S, C, "A", 5001, 1005, NULL);
    seg(e, S, C, "PA", 5001, 1005, "part1");
    seg(e, C, S, "A", 1005, 5006, NULL);
    seg(e, S, C, "PA", 5006, 1005, "part2");
    seg(e, S, C, "FA", 5011, 1005, NULL);
    seg(e, C, S, "A", 1005, 5012, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s req\n"
              "data 1 s2c part1part2\n"
              "closed 1 fin\n"
              "teardown 1\n");
    env_free(e);
}

static void rst_in_window_and_spoofed(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "abc");
    seg(e, S, C, "R", 5001 + 0x40000000u, 0, NULL); /* far outside: ignored */
    seg(e, S, C, "PA", 5001, 1004, "xyz");
    assert_null(strstr(e->rec.buf, "closed"));
    seg(e, C, S, "PA", 1004, 5004, "more");
    seg(e, S, C, "R", 5004, 0, NULL);          /* in window: ends it, held bytes first */
    assert_null(strstr(e->rec.buf, "closed")); /* after the in-flight grace period */
    ls_flow_advance(e->ft, e->ts + 1.5);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s abc\n"
              "data 1 s2c xyz\n"
              "data 1 c2s more\n"
              "closed 1 rst\n"
              "teardown 1\n");
    assert_int_equal(ls_flow_stats(e->ft)->rst_ignored, 1);
    env_free(e);
}

static void refused_connection(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    seg(e, C, S, "S", 1000, 0, NULL);
    seg(e, S, C, "RA", 0, 1000, NULL); /* acks the ISN, not the SYN: not acceptable */
    seg(e, S, C, "RA", 0, 1001, NULL);
    ls_flow_advance(e->ft, e->ts + 1.5);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "closed 1 rst\n"
              "teardown 1\n");
    env_free(e);
}

static void rst_grace_and_forged_rst(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ARRIVAL, LS_OVERLAP_FIRST);
    struct env *e = env_new(&cfg);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "abc");
    seg(e, S, C, "RA", 5001, 1004, NULL); /* exact sequence number, but forged: */
    seg(e, S, C, "PA", 5001, 1004, "ok"); /* the server goes on talking */
    seg(e, C, S, "PA", 1004, 5003, "def");
    e->ts += 5;
    ls_flow_advance(e->ft, e->ts);
    assert_null(strstr(e->rec.buf, "closed"));
    assert_int_equal(ls_flow_stats(e->ft)->rst_ignored, 1);
    seg(e, S, C, "R", 5003, 0, NULL);      /* a real one this time */
    seg(e, C, S, "PA", 1007, 5003, "ghi"); /* already in flight: still delivered */
    seg(e, S, C, "R", 5003, 0, NULL);      /* the answer to it */
    seg_at(e, e->ts + 1.5, "10.0.0.3:1", S, "S", 1, 0, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s abc\n"
              "data 1 s2c ok\n"
              "data 1 c2s defghi\n"
              "closed 1 rst\n"
              "teardown 1\n"
              "open 2 10.0.0.3:1>10.0.0.2:80\n");
    finish(e);
    env_free(e);
}

static void retry_after_refusal(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    seg(e, C, S, "S", 1000, 0, NULL);
    seg(e, S, C, "RA", 0, 1001, NULL);
    seg(e, C, S, "S", 2000, 0, NULL); /* connect() tries again, within the grace */
    seg(e, S, C, "SA", 7000, 2001, NULL);
    seg(e, C, S, "PA", 2001, 7001, "hi");
    seg(e, S, C, "A", 7001, 2003, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "closed 1 rst\n"
              "teardown 1\n"
              "open 2 10.0.0.1:40000>10.0.0.2:80\n"
              "data 2 c2s hi\n"
              "closed 2 end\n"
              "teardown 2\n");
    env_free(e);
}

static void midstream_pickup(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    /* First packet goes from the well-known port: the other side is the client. */
    seg(e, S, C, "PA", 7000, 3000, "response");
    seg(e, C, S, "A", 3000, 7008, NULL);
    seg(e, C, S, "PA", 3000, 7008, "next");
    seg(e, S, C, "A", 7008, 3004, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 s2c response\n"
              "data 1 c2s next\n"
              "closed 1 end\n"
              "teardown 1\n");
    env_free(e);
}

static void midstream_heuristic_ports(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ARRIVAL, LS_OVERLAP_FIRST);
    struct env *e = env_new(&cfg);
    seg(e, "10.0.0.5:6379", "10.0.0.6:51000", "PA", 1, 1, "+OK"); /* ephemeral side is client */
    seg(e, "10.0.0.7:5000", "10.0.0.8:6000", "PA", 1, 1, "x");    /* else the higher port */
    finish(e);
    assert_non_null(strstr(e->rec.buf, "open 1 10.0.0.6:51000>10.0.0.5:6379\n"));
    assert_non_null(strstr(e->rec.buf, "open 2 10.0.0.8:6000>10.0.0.7:5000\n"));
    env_free(e);
}

static void port_reuse_new_connection(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "one");
    seg(e, C, S, "FA", 1004, 5001, NULL);
    seg(e, S, C, "FA", 5001, 1005, NULL);
    seg(e, C, S, "A", 1005, 5002, NULL);
    handshake(e, 90000, 70000);
    seg(e, C, S, "PA", 90001, 70001, "two");
    seg(e, S, C, "A", 70001, 90004, NULL);
    /* A new SYN while the second is still open replaces it too, once the
     * server answers it (alone, it could be forged: a challenge ACK). */
    seg(e, C, S, "S", 123456, 0, NULL);
    assert_null(strstr(e->rec.buf, "closed 2"));
    seg(e, S, C, "SA", 300000, 123457, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s one\n"
              "closed 1 fin\n"
              "teardown 1\n"
              "open 2 10.0.0.1:40000>10.0.0.2:80\n"
              "data 2 c2s two\n"
              "closed 2 reused\n"
              "teardown 2\n"
              "open 3 10.0.0.1:40000>10.0.0.2:80\n"
              "closed 3 end\n"
              "teardown 3\n");
    env_free(e);
}

static void keepalive_and_zero_window_probe(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "abc");
    seg(e, S, C, "A", 5001, 1004, NULL);
    seg(e, C, S, "A", 1003, 5001, "Z");  /* keep-alive: one garbage byte before next */
    seg(e, C, S, "A", 1003, 5001, NULL); /* keep-alive without data */
    seg(e, S, C, "A", 5001, 1004, NULL);
    seg(e, C, S, "A", 1004, 5001, "d");    /* zero-window probe: the real next byte */
    seg(e, S, C, "A", 5001, 1004, NULL);   /* window still shut: not acknowledged */
    seg(e, C, S, "PA", 1004, 5001, "def"); /* sent again with more */
    seg(e, S, C, "A", 5001, 1007, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s abcdef\n"
              "closed 1 end\n"
              "teardown 1\n");
    assert_int_equal(ls_flow_stats(e->ft)->overlaps_conflicting, 0);
    env_free(e);
}

static void capture_loss_is_a_gap(enum ls_deliver mode)
{
    struct ls_flow_config cfg = cfg_with(mode, LS_OVERLAP_FIRST);
    struct env *e = env_new(&cfg);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "aaaa");
    /* 1005-1009 never captured */
    seg(e, C, S, "PA", 1010, 5001, "cccc");
    seg(e, S, C, "A", 5001, 1014, NULL); /* the server got everything */
    /* Four packets of grace for late bytes: the fourth ends it. */
    seg(e, C, S, "PA", 1014, 5001, "dd");
    seg(e, S, C, "A", 5001, 1016, NULL);
    seg(e, C, S, "PA", 1016, 5001, "ee");
    assert_null(strstr(e->rec.buf, "gap"));
    seg(e, S, C, "A", 5001, 1018, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s aaaa\n"
              "gap 1 c2s 5\n"
              "data 1 c2s ccccddee\n");
    finish(e);
    assert_int_equal(ls_flow_stats(e->ft)->gap_bytes, 5);
    env_free(e);
}

static void gap_ack_mode(void **state)
{
    LS_UNUSED(state);
    capture_loss_is_a_gap(LS_DELIVER_ACK);
}

static void gap_arrival_mode(void **state)
{
    LS_UNUSED(state);
    capture_loss_is_a_gap(LS_DELIVER_ARRIVAL);
}

/* Bytes the capture has late (a mirror port's delay, one sender's segments
 * reordered) fill holes the receiver acknowledged past within the grace,
 * and a hole's grace starts afresh when the hole before it fills. */
static void late_bytes_fill_acked_holes(enum ls_deliver mode)
{
    struct ls_flow_config cfg = cfg_with(mode, LS_OVERLAP_FIRST);
    struct env *e = env_new(&cfg);
    handshake(e, 1000, 5000);
    seg(e, S, C, "A", 5001, 1021, NULL); /* everything acknowledged first */
    seg(e, C, S, "PA", 1005, 5001, "bbbb");
    seg(e, C, S, "PA", 1013, 5001, "dddd");
    seg(e, C, S, "PA", 1017, 5001, "eeee");
    seg(e, S, C, "A", 5001, 1021, NULL);
    seg(e, C, S, "PA", 1001, 5001, "aaaa"); /* the first hole, at the last packet */
    seg(e, S, C, "A", 5001, 1021, NULL);
    seg(e, S, C, "A", 5001, 1021, NULL);
    seg(e, S, C, "A", 5001, 1021, NULL);
    assert_non_null(strstr(e->rec.buf, "aaaabbbb\n"));
    seg(e, C, S, "PA", 1009, 5001, "cccc"); /* the second, as late */
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s aaaabbbbccccddddeeee\n");
    finish(e);
    assert_int_equal(ls_flow_stats(e->ft)->gap_bytes, 0);
    env_free(e);
}

static void late_bytes_ack_mode(void **state)
{
    LS_UNUSED(state);
    late_bytes_fill_acked_holes(LS_DELIVER_ACK);
}

static void late_bytes_arrival_mode(void **state)
{
    LS_UNUSED(state);
    late_bytes_fill_acked_holes(LS_DELIVER_ARRIVAL);
}

static void ack_before_data(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, S, C, "A", 5001, 1007, NULL); /* mirror port: the ACK comes first */
    seg(e, C, S, "PA", 1001, 5001, "abc");
    seg(e, C, S, "PA", 1004, 5001, "def");
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s abcdef\n");
    finish(e);
    env_free(e);
}

static void one_sided_delivered_at_end(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    seg(e, C, S, "S", 1000, 0, NULL);
    seg(e, C, S, "A", 1001, 5001, NULL);
    seg(e, C, S, "PA", 1001, 5001, "only");
    seg(e, C, S, "PA", 1005, 5001, " one side");
    assert_null(strstr(e->rec.buf, "data"));
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s only one side\n"
              "closed 1 end\n"
              "teardown 1\n");
    env_free(e);
}

static void idle_timeout(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ACK, LS_OVERLAP_FIRST);
    cfg.idle_timeout = 10;
    struct env *e = env_new(&cfg);
    seg_at(e, 100.0, C, S, "S", 1000, 0, NULL);
    seg_at(e, 100.5, C, S, "A", 1001, 5001, "held");
    seg_at(e, 109.0, "10.0.0.3:1234", S, "S", 1, 0, NULL);
    assert_null(strstr(e->rec.buf, "closed"));
    seg_at(e, 111.0, "10.0.0.3:1234", S, "A", 2, 1, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "open 2 10.0.0.3:1234>10.0.0.2:80\n"
              "data 1 c2s held\n"
              "closed 1 timeout\n"
              "teardown 1\n");
    finish(e);
    env_free(e);
}

static void ignored_connections(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ARRIVAL, LS_OVERLAP_FIRST);
    struct env *e = env_new(&cfg);
    e->rec.refuse_id = 1;
    e->rec.ignore_on_data = 2;
    seg(e, C, S, "S", 1000, 0, NULL);
    seg(e, "10.0.0.9:5555", S, "S", 1, 0, NULL);
    seg(e, C, S, "A", 1001, 1, "dropped");
    seg(e, "10.0.0.9:5555", S, "A", 2, 1, "first");
    seg(e, "10.0.0.9:5555", S, "A", 7, 1, "second");
    seg(e, "10.0.0.9:5555", S, "FA", 13, 1, NULL);
    seg(e, S, "10.0.0.9:5555", "FA", 1, 14, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "open 2 10.0.0.9:5555>10.0.0.2:80\n"
              "data 2 c2s first\n"
              "teardown 2\n"
              "teardown 1\n");
    assert_int_equal(ls_flow_stats(e->ft)->ignored, 2);
    env_free(e);
}

static void eviction_at_max_connections(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ARRIVAL, LS_OVERLAP_FIRST);
    cfg.max_connections = 2;
    struct env *e = env_new(&cfg);
    seg(e, "10.0.0.1:1001", S, "S", 1, 0, NULL);
    seg(e, "10.0.0.1:1002", S, "S", 1, 0, NULL);
    seg(e, "10.0.0.1:1001", S, "A", 2, 1, "a"); /* 1002 is now the idlest */
    seg(e, "10.0.0.1:1003", S, "S", 1, 0, NULL);
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:1001>10.0.0.2:80\n"
              "open 2 10.0.0.1:1002>10.0.0.2:80\n"
              "data 1 c2s a\n"
              "closed 2 evicted\n"
              "teardown 2\n"
              "open 3 10.0.0.1:1003>10.0.0.2:80\n"
              "closed 1 end\n"
              "teardown 1\n"
              "closed 3 end\n"
              "teardown 3\n");
    env_free(e);
}

static void buffer_cap_forces_oldest_hole(void **state)
{
    LS_UNUSED(state);
    struct ls_flow_config cfg = cfg_with(LS_DELIVER_ARRIVAL, LS_OVERLAP_FIRST);
    cfg.max_conn_buffer = 128; /* two 64-byte blocks */
    struct env *e = env_new(&cfg);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1003, 5001, "cc");   /* hole of 2 before it */
    seg(e, C, S, "PA", 1007, 5001, "gggg"); /* hole of 2 */
    seg(e, C, S, "PA", 1013, 5001, "mmmm"); /* a third block: the first hole goes */
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "gap 1 c2s 2\n"
              "data 1 c2s cc\n");
    finish(e);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "gap 1 c2s 2\n"
              "data 1 c2s cc\n"
              "gap 1 c2s 2\n"
              "data 1 c2s gggg\n"
              "gap 1 c2s 2\n"
              "data 1 c2s mmmm\n"
              "closed 1 end\n"
              "teardown 1\n");
    assert_true(ls_flow_stats(e->ft)->peak_buffered <= 4096);
    env_free(e);
}

static void fin_with_holes_closes_on_acks(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "PA", 1001, 5001, "ab");
    seg(e, C, S, "FPA", 1005, 5001, "ef"); /* 1003-1004 lost */
    seg(e, S, C, "FA", 5001, 1008, NULL);  /* acks everything incl. the FIN */
    seg(e, C, S, "A", 1008, 5002, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s ab\n"
              "gap 1 c2s 2\n"
              "data 1 c2s ef\n"
              "closed 1 fin\n"
              "teardown 1\n");
    env_free(e);
}

static void simultaneous_close(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    handshake(e, 1000, 5000);
    seg(e, C, S, "FPA", 1001, 5001, "bye");
    seg(e, S, C, "FPA", 5001, 1001, "ciao"); /* crossed: does not ack the FIN */
    seg(e, C, S, "A", 1005, 5006, NULL);
    seg(e, S, C, "A", 5006, 1005, NULL);
    EXPECT(e, "open 1 10.0.0.1:40000>10.0.0.2:80\n"
              "data 1 c2s bye\n"
              "data 1 s2c ciao\n"
              "closed 1 fin\n"
              "teardown 1\n");
    env_free(e);
}

static void ipv6_connection(void **state)
{
    LS_UNUSED(state);
    struct env *e = env_new(NULL);
    const char *c6 = "[2001:db8::1]:50000", *s6 = "[2001:db8::2]:443";
    seg(e, c6, s6, "S", 10, 0, NULL);
    seg(e, s6, c6, "SA", 20, 11, NULL);
    seg(e, c6, s6, "PA", 11, 21, "v6");
    seg(e, s6, c6, "A", 21, 13, NULL);
    finish(e);
    EXPECT(e, "open 1 2001:db8::1:50000>2001:db8::2:443\n"
              "data 1 c2s v6\n"
              "closed 1 end\n"
              "teardown 1\n");
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_exchange_fin),
        cmocka_unit_test(ack_gating_holds_until_acked),
        cmocka_unit_test(data_carries_its_own_time),
        cmocka_unit_test(arrival_delivers_at_once),
        cmocka_unit_test(reversed_order),
        cmocka_unit_test(retransmissions_and_partial_overlap),
        cmocka_unit_test(overlap_first),
        cmocka_unit_test(overlap_last),
        cmocka_unit_test(sequence_wraparound),
        cmocka_unit_test(syn_retransmissions_and_ecn),
        cmocka_unit_test(data_on_syn_and_synack),
        cmocka_unit_test(half_close),
        cmocka_unit_test(rst_in_window_and_spoofed),
        cmocka_unit_test(refused_connection),
        cmocka_unit_test(rst_grace_and_forged_rst),
        cmocka_unit_test(retry_after_refusal),
        cmocka_unit_test(midstream_pickup),
        cmocka_unit_test(midstream_heuristic_ports),
        cmocka_unit_test(port_reuse_new_connection),
        cmocka_unit_test(keepalive_and_zero_window_probe),
        cmocka_unit_test(gap_ack_mode),
        cmocka_unit_test(gap_arrival_mode),
        cmocka_unit_test(late_bytes_ack_mode),
        cmocka_unit_test(late_bytes_arrival_mode),
        cmocka_unit_test(ack_before_data),
        cmocka_unit_test(one_sided_delivered_at_end),
        cmocka_unit_test(idle_timeout),
        cmocka_unit_test(ignored_connections),
        cmocka_unit_test(eviction_at_max_connections),
        cmocka_unit_test(buffer_cap_forces_oldest_hole),
        cmocka_unit_test(fin_with_holes_closes_on_acks),
        cmocka_unit_test(simultaneous_close),
        cmocka_unit_test(ipv6_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
