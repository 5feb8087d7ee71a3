/* test_script.c: the Lua host driven through its flow hooks with hand-made
 * connections. The few flow-table, decode and log functions the host calls
 * are faked here, so this test needs neither flow.c nor a capture. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "decode.h"
#include "flow.h"
#include "log.h"
#include "script.h"

/* ------------------------------------------------------------------------
 * Fakes
 * ------------------------------------------------------------------------ */

static double g_now;
static struct ls_stats g_stats;
static int g_ignores, g_closes;
static uint32_t g_busy_seen;
static char g_log[32768];
static struct ls_flow_hooks g_hooks;
static struct ls_conn *g_reenter; /* when set, ls_flow_ignore re-enters the hooks */
static int g_dummy_table;
#define FT ((struct ls_flow_table *)(void *)&g_dummy_table)

double ls_flow_now(const struct ls_flow_table *ft)
{
    LS_UNUSED(ft);
    return g_now;
}

struct ls_stats *ls_flow_stats(struct ls_flow_table *ft)
{
    LS_UNUSED(ft);
    return &g_stats;
}

void ls_flow_ignore(struct ls_flow_table *ft, struct ls_conn *c)
{
    LS_UNUSED(ft);
    c->flags |= LS_CONN_IGNORED;
    g_ignores++;
    g_busy_seen = c->busy;
    if (g_reenter != NULL)
        g_hooks.data(g_hooks.ud, g_reenter, LS_DIR_C2S, (const uint8_t *)"x", 1, 0.0);
}

void ls_flow_request_close(struct ls_flow_table *ft, struct ls_conn *c)
{
    LS_UNUSED(ft);
    c->flags |= LS_CONN_CLOSE_REQ;
    g_closes++;
    g_busy_seen = c->busy;
}

const char *ls_conn_state_name(enum ls_conn_state st)
{
    static const char *const names[] = {"syn_sent",    "syn_received", "established",
                                        "half_closed", "closing",      "closed"};
    return (unsigned)st < LS_ARRAY_SIZE(names) ? names[st] : "?";
}

char *ls_addr_format(uint8_t af, const uint8_t addr[16], char *buf, size_t size)
{
    inet_ntop(af == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)size);
    return buf;
}

const char *ls_decode_status_name(enum ls_decode_status st)
{
    static const char *const names[] = {"tcp",      "udp",       "other_l4",  "not_ip",
                                        "fragment", "truncated", "malformed", "unsupported_link"};
    return (unsigned)st < LS_ARRAY_SIZE(names) ? names[st] : "?";
}

void ls_logv(const struct ls_log *lg, enum ls_log_level level, const char *fmt, va_list ap)
{
    if (!ls_log_enabled(lg, level))
        return;
    size_t n = strlen(g_log);
    n += (size_t)snprintf(g_log + n, sizeof g_log - n, "%s: %s: ", lg->prog,
                          ls_log_level_name(level));
    if (n < sizeof g_log)
        n += (size_t)vsnprintf(g_log + n, sizeof g_log - n, fmt, ap);
    if (n < sizeof g_log - 1)
        strcat(g_log, "\n");
}

void ls_log(const struct ls_log *lg, enum ls_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ls_logv(lg, level, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * Harness
 * ------------------------------------------------------------------------ */

static const struct ls_log g_lg = {.level = LS_LOG_DEBUG, .prog = "luasniff"};

static struct ls_script *mk(const struct ls_script_config *cfg)
{
    static const struct ls_script_config none = {.lua_dir = "/nonexistent/lua"};
    char err[LS_ERRBUF_SIZE];
    g_now = 0;
    memset(&g_stats, 0, sizeof g_stats);
    g_ignores = g_closes = 0;
    g_busy_seen = 0;
    g_log[0] = '\0';
    g_reenter = NULL;
    struct ls_script *s = ls_script_new(cfg ? cfg : &none, FT, &g_lg, err);
    if (s == NULL)
        fail_msg("ls_script_new: %s", err);
    ls_script_hooks(s, &g_hooks);
    assert_ptr_equal(g_hooks.ud, s);
    return s;
}

/* Runs `code` as script.lua; fails the test with Lua's message otherwise. */
static void lua(struct ls_script *s, const char *code)
{
    char err[LS_ERRBUF_SIZE];
    if (ls_script_load_buffer(s, code, strlen(code), "@script.lua", err) != 0)
        fail_msg("Lua: %s", err);
    assert_int_equal(ls_script_stack_top(s), 0);
}

static void conn4(struct ls_conn *c, uint64_t id, const char *cip, uint16_t cport, const char *sip,
                  uint16_t sport)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->af = 4;
    inet_pton(AF_INET, cip, c->client_ip);
    inet_pton(AF_INET, sip, c->server_ip);
    c->client_port = cport;
    c->server_port = sport;
    c->state = LS_STATE_ESTABLISHED;
    c->start_time = 1700000000.0;
    c->last_activity = 1700000000.0;
    c->lua_ref = -2;
}

static void conn_default(struct ls_conn *c, uint64_t id)
{
    conn4(c, id, "10.0.0.1", 34567, "10.0.0.2", 80);
}

static bool ev_open(struct ls_script *s, struct ls_conn *c)
{
    bool r = g_hooks.open(g_hooks.ud, c);
    assert_int_equal(ls_script_stack_top(s), 0);
    assert_int_equal(c->busy, 0);
    return r;
}

static void ev_data(struct ls_script *s, struct ls_conn *c, enum ls_dir d, const char *p, size_t n)
{
    c->half[d].rs.delivered += n;
    g_hooks.data(g_hooks.ud, c, d, (const uint8_t *)p, n, 0.0);
    assert_int_equal(ls_script_stack_top(s), 0);
    assert_int_equal(c->busy, 0);
}

static void ev_closed(struct ls_script *s, struct ls_conn *c, enum ls_close_reason why)
{
    c->close_reason = why;
    c->state = LS_STATE_CLOSED;
    g_hooks.closed(g_hooks.ud, c, why);
    assert_int_equal(ls_script_stack_top(s), 0);
}

static void ev_teardown(struct ls_script *s, struct ls_conn *c)
{
    g_hooks.teardown(g_hooks.ud, c);
    assert_int_equal(ls_script_stack_top(s), 0);
    assert_true(c->lua_ref < 0);
    assert_int_equal(c->lua_handlers, 0);
}

static void has(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("'%s' not found in:\n%s", needle, hay);
}

/* ------------------------------------------------------------------------
 * Events
 * ------------------------------------------------------------------------ */

static void t_data_exact_bytes(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 1);
    lua(s, "got = {}\n"
           "sniff.on('sent_data', function(c, d) got[#got + 1] = 'S' .. d end)\n"
           "sniff.on('received_data', function(c, d) got[#got + 1] = 'R' .. d end)\n");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "a\0b", 3);
    ev_data(s, &c, LS_DIR_S2C, "xyz", 3);
    ev_data(s, &c, LS_DIR_C2S, "", 0);
    lua(s, "assert(#got == 3, #got)\n"
           "assert(got[1] == 'Sa\\0b' and #got[1] == 4)\n"
           "assert(got[2] == 'Rxyz' and got[3] == 'S')\n");
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_event_order_and_args(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 4);
    lua(s,
        "ev = {}\n"
        "local function add(x) ev[#ev + 1] = x end\n"
        "sniff.on('connection', function(c) add('connection#' .. c.id) end)\n"
        "sniff.on('sent_data', function(c, d) add('sent:' .. d) end)\n"
        "sniff.on('received_data', function(c, d) add('received:' .. d) end)\n"
        "sniff.on('gap', function(c, dir, n) add('gap:' .. dir .. ':' .. math.type(n) .. n) end)\n"
        "sniff.on('closed', function(c, why) add('closed:' .. why .. ':' .. c.close_reason) end)\n"
        "sniff.on('teardown', function(c) add('teardown:' .. c.state) end)\n");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "hi", 2);
    ev_data(s, &c, LS_DIR_S2C, "yo", 2);
    g_hooks.gap(g_hooks.ud, &c, LS_DIR_C2S, 5);
    g_hooks.gap(g_hooks.ud, &c, LS_DIR_S2C, 7);
    ev_closed(s, &c, LS_CLOSE_RST);
    ev_teardown(s, &c);
    lua(s, "local got = table.concat(ev, ',')\n"
           "assert(got == 'connection#4,sent:hi,received:yo,gap:sent:integer5,"
           "gap:received:integer7,closed:rst:rst,teardown:closed', got)\n");
    ls_script_free(s);
}

static void t_no_handlers_no_box(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 1);
    lua(s, "x = 1");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "abc", 3);
    ev_closed(s, &c, LS_CLOSE_FIN);
    assert_true(c.lua_ref < 0); /* the gate kept Lua out entirely */
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_connection_false_ignores(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn a, b, c;
    conn_default(&a, 1);
    conn_default(&b, 2);
    conn_default(&c, 3);
    lua(s, "sniff.on('connection', function(c)\n"
           "  if c.id == 2 then return false end\n"
           "  if c.id == 3 then return nil end\n"
           "  return true\n"
           "end)\n");
    assert_true(ev_open(s, &a));
    assert_false(ev_open(s, &b));
    assert_true(ev_open(s, &c));
    ev_teardown(s, &a);
    ev_teardown(s, &b);
    ev_teardown(s, &c);
    ls_script_free(s);
}

/* ------------------------------------------------------------------------
 * The connection object
 * ------------------------------------------------------------------------ */

static void t_fields_and_script_state(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 9);
    c.flags |= LS_CONN_MIDSTREAM;
    lua(s, "res = {}\n"
           "sniff.on('connection', function(c)\n"
           "  c.requests = 0\n"
           "  res.id, res.cip, res.cport = c.id, c.client_ip, c.client_port\n"
           "  res.sip, res.sport, res.state = c.server_ip, c.server_port, c.state\n"
           "  res.start, res.reason = c.start_time, c.close_reason\n"
           "  res.ign, res.mid = c.ignored, c.midstream\n"
           "  res.ro1 = select(2, pcall(function() c.client_port = 1 end))\n"
           "  res.ro2 = select(2, pcall(function() c.ignore = 1 end))\n"
           "  res.unknown = c.nothing_here\n"
           "  res.mt = getmetatable(c)\n"
           "  res.type = type(c)\n"
           "end)\n"
           "sniff.on('sent_data', function(c, d)\n"
           "  c.requests = c.requests + 1\n"
           "  res.same = res.same or c\n"
           "  res.identical = res.same == c\n"
           "  res.bytes = c.client_bytes\n"
           "end)\n");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "GET", 3);
    ev_data(s, &c, LS_DIR_C2S, " / ", 3);
    lua(s, "assert(res.id == 9 and math.type(res.id) == 'integer')\n"
           "assert(res.cip == '10.0.0.1' and res.cport == 34567)\n"
           "assert(res.sip == '10.0.0.2' and res.sport == 80)\n"
           "assert(res.state == 'established' and res.start == 1700000000.0)\n"
           "assert(res.reason == nil and res.ign == false and res.mid == true)\n"
           "assert(res.ro1:find('script.lua:8: connection field .client_port. is read%-only'),"
           " res.ro1)\n"
           "assert(res.ro2:find('read%-only'), res.ro2)\n"
           "assert(res.unknown == nil and res.mt == 'connection' and res.type == 'userdata')\n"
           "assert(res.identical and res.same.requests == 2 and res.bytes == 6)\n");
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_kept_after_teardown(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn *c = malloc(sizeof *c);
    assert_non_null(c);
    conn_default(c, 7);
    lua(s, "sniff.on('connection', function(c) kept = c; c.x = 1 end)\n"
           "sniff.on('sent_data', function(c) c.x = c.x + 1 end)\n"
           "sniff.on('closed', function(c) end)\n");
    assert_true(ev_open(s, c));
    ev_data(s, c, LS_DIR_C2S, "abc", 3);
    ev_data(s, c, LS_DIR_S2C, "hello", 5);
    ev_closed(s, c, LS_CLOSE_FIN);
    ev_teardown(s, c);
    memset(c, 0xa5, sizeof *c); /* the box must not look here any more */
    free(c);
    lua(s, "assert(kept.client_port == 34567 and kept.server_ip == '10.0.0.2')\n"
           "assert(kept.id == 7 and kept.x == 2 and kept.close_reason == 'fin')\n"
           "assert(kept.state == 'closed')\n"
           "assert(kept.client_bytes == 3 and kept.server_bytes == 5)\n"
           "assert(tostring(kept) == 'conn#7 10.0.0.1:34567 -> 10.0.0.2:80', tostring(kept))\n"
           "for _, m in ipairs({'ignore', 'close'}) do\n"
           "  local ok, e = pcall(kept[m], kept)\n"
           "  assert(not ok and e:find('connection is torn down'), e)\n"
           "end\n"
           "local ok, e = pcall(kept.on, kept, 'closed', print)\n"
           "assert(not ok and e:find('connection is torn down'), e)\n"
           "kept.y = 3; assert(kept.y == 3)\n"
           "kept = nil; collectgarbage()\n");
    ls_script_free(s);
}

/* Many connections at once, torn down in a scattered order and replaced:
 * each data event gets its own connection's object (boxes are anchored in
 * slabs whose slots are reused), objects kept past teardown keep their
 * snapshot, and the memory for anchoring does not grow over the rounds. */
static void t_boxes_many_and_reused(void **state)
{
    LS_UNUSED(state);
    enum { LIVE = 300, ROUNDS = 12 };
    struct ls_script *s = mk(NULL);
    struct ls_conn *c = calloc(LIVE, sizeof *c);
    assert_non_null(c);
    lua(s, "kept, n = {}, 0\n"
           "sniff.on('sent_data', function(c, d)\n"
           "  assert(tostring(c.id) == d, c.id .. ' got ' .. d)\n"
           "  n = n + 1\n"
           "  if c.id % 97 == 0 then kept[#kept + 1] = c end\n"
           "end)\n");
    uint64_t next_id = 1;
    size_t mem_round2 = 0, events = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < LIVE; i++) {
            if (c[i].id == 0) {
                conn_default(&c[i], next_id++);
                assert_true(ev_open(s, &c[i]));
            }
            char d[24];
            int n = snprintf(d, sizeof d, "%llu", (unsigned long long)c[i].id);
            ev_data(s, &c[i], LS_DIR_C2S, d, (size_t)n);
            events++;
        }
        /* Tear down about two in three, in an order unrelated to opening. */
        for (int k = 0; k < LIVE; k++) {
            int i = (k * 7 + r) % LIVE;
            if ((i + r) % 3 != 0) {
                ev_teardown(s, &c[i]);
                c[i].id = 0;
            }
        }
        lua(s, "collectgarbage()");
        if (r == 1)
            mem_round2 = ls_script_memory(s);
    }
    assert_int_equal(g_ignores, 0); /* no handler failed */
    char check[64];
    snprintf(check, sizeof check, "assert(n == %zu, n)", events);
    lua(s, check);
    lua(s, "for _, k in ipairs(kept) do assert(k.id % 97 == 0 and k.state) end\n"
           "assert(#kept > 20, #kept)\n"
           "kept = {}; collectgarbage()");
    /* Later rounds reuse the slabs of the first ones: the heap after the
     * last round is no bigger than after the second, give or take a slab
     * (LS_BOX_SLAB boxes, about 5 KiB). */
    size_t mem_last = ls_script_memory(s);
    if (mem_last > mem_round2 + 8192)
        fail_msg("Lua memory grew from %zu to %zu bytes over the rounds", mem_round2, mem_last);
    for (int i = 0; i < LIVE; i++)
        if (c[i].id != 0)
            ev_teardown(s, &c[i]);
    free(c);
    ls_script_free(s);
}

static void t_conn_methods(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 1);
    lua(s, "sniff.on('sent_data', function(c, d)\n"
           "  if d == 'close' then c:close() else c:ignore() end\n"
           "end)\n");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "close", 5);
    assert_int_equal(g_closes, 1);
    assert_int_equal(g_busy_seen, 1); /* pinned while the handler ran */
    assert_true(c.flags & LS_CONN_CLOSE_REQ);
    ev_data(s, &c, LS_DIR_C2S, "x", 1);
    assert_int_equal(g_ignores, 1);
    assert_true(c.flags & LS_CONN_IGNORED);
    assert_int_equal(g_stats.script_errors, 0);
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_conn_on_overrides(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn a, b;
    conn_default(&a, 1);
    conn_default(&b, 2);
    lua(s,
        "log = {}\n"
        "local function add(x) log[#log + 1] = x end\n"
        "sniff.on('connection', function(c)\n"
        "  if c.id ~= 1 then return end\n"
        "  c:on('sent_data', function(c, d) add('own' .. c.id .. d); c:on('sent_data', nil) end)\n"
        "  c:on('closed', function(c, why) add('closed' .. c.id .. why) end)\n"
        "  res = select(2, pcall(c.on, c, 'done', print))\n"
        "  res2 = select(2, pcall(c.on, c, 'sent_data', 42))\n"
        "end)\n"
        "sniff.on('sent_data', function(c, d) add('global' .. c.id .. d) end)\n");
    assert_true(ev_open(s, &a));
    assert_true(ev_open(s, &b));
    assert_int_not_equal(a.lua_handlers, 0);
    assert_int_equal(b.lua_handlers, 0);
    ev_data(s, &a, LS_DIR_C2S, "x", 1);
    ev_data(s, &b, LS_DIR_C2S, "y", 1);
    ev_data(s, &a, LS_DIR_C2S, "z", 1); /* its own handler removed itself */
    ev_closed(s, &a, LS_CLOSE_TIMEOUT); /* no global `closed`: only the per-conn one */
    ev_closed(s, &b, LS_CLOSE_TIMEOUT);
    lua(s, "local got = table.concat(log, ',')\n"
           "assert(got == 'own1x,global2y,global1z,closed1timeout', got)\n"
           "assert(res:find('not a per%-connection event'), res)\n"
           "assert(res2:find('function expected'), res2)\n");
    ev_teardown(s, &a);
    ev_teardown(s, &b);
    ls_script_free(s);
}

static void t_tostring_ipv6(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    memset(&c, 0, sizeof c);
    c.id = 12;
    c.af = 6;
    inet_pton(AF_INET6, "2001:db8::1", c.client_ip);
    inet_pton(AF_INET6, "::1", c.server_ip);
    c.client_port = 5000;
    c.server_port = 80;
    lua(s, "sniff.on('connection', function(c) str = tostring(c); ip = c.server_ip end)");
    assert_true(ev_open(s, &c));
    lua(s, "assert(str == 'conn#12 [2001:db8::1]:5000 -> [::1]:80', str)\n"
           "assert(ip == '::1')\n");
    ev_teardown(s, &c);
    ls_script_free(s);
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

static void t_handler_error_policy(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 3);
    lua(s, "local function inner(d)\n"
           "  error('boom ' .. d)\n"
           "end\n"
           "sniff.on('sent_data', function(c, d) inner(d) end)\n"
           "sniff.on('received_data', function(c, d) seen = d end)\n");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "x", 1);
    has(g_log, "luasniff: error: handler 'sent_data' (conn #3): script.lua:2: boom x\n");
    has(g_log, "stack traceback:");
    has(g_log, "script.lua:2: in ");
    has(g_log, "script.lua:4: in function <script.lua:4>");
    assert_null(strstr(g_log, "[C]: in ?\n")); /* the trampoline's frame is trimmed */
    assert_int_equal(g_stats.script_errors, 1);
    assert_int_equal(g_ignores, 1);
    assert_true(c.flags & LS_CONN_IGNORED);
    assert_false(ls_script_stop_requested(s));
    assert_false(ls_script_failed(s));
    /* The run goes on: other handlers still run. */
    ev_data(s, &c, LS_DIR_S2C, "ok", 2);
    lua(s, "assert(seen == 'ok')");
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_error_object_not_string(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 5);
    lua(s, "sniff.on('connection', function(c) error({}) end)\n"
           "sniff.on('closed', function(c) error(setmetatable({}, "
           "{__tostring = function() return 'custom' end})) end)\n");
    assert_false(ev_open(s, &c));   /* an error in `connection` ignores it */
    assert_int_equal(g_ignores, 0); /* by the return value, not mid-open */
    has(g_log, "handler 'connection' (conn #5): (error object is a table value)");
    ev_closed(s, &c, LS_CLOSE_END);
    has(g_log, "handler 'closed' (conn #5): custom\nstack traceback:");
    has(g_log, "script.lua:2: in function"); /* the traceback names the handler */
    assert_int_equal(g_stats.script_errors, 2);
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_strict_stops(void **state)
{
    LS_UNUSED(state);
    const struct ls_script_config cfg = {.strict = true};
    struct ls_script *s = mk(&cfg);
    struct ls_conn c;
    conn_default(&c, 1);
    lua(s, "n = 0\n"
           "sniff.on('sent_data', function(c, d) error('strict') end)\n"
           "sniff.on('received_data', function(c, d) n = n + 1 end)\n");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "x", 1);
    assert_true(ls_script_failed(s));
    assert_true(ls_script_stop_requested(s));
    assert_int_equal(g_stats.script_errors, 1);
    assert_int_equal(g_ignores, 0);
    ev_data(s, &c, LS_DIR_S2C, "y", 1); /* nothing runs after the failure */
    lua(s, "assert(n == 0)");
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_nested_dispatch_refused(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn a, b;
    conn_default(&a, 1);
    conn_default(&b, 2);
    lua(s, "n = 0\n"
           "sniff.on('sent_data', function(c, d) n = n + 1; if c.id == 1 then c:ignore() end end)\n"
           "sniff.on('log', function(m) logged = m end)\n");
    assert_true(ev_open(s, &a));
    assert_true(ev_open(s, &b));
    g_reenter = &b; /* a buggy flow table calling a hook from ls_flow_ignore */
    ev_data(s, &a, LS_DIR_C2S, "x", 1);
    g_reenter = NULL;
    has(g_log, "bug: nested call of handler 'sent_data' refused");
    /* A log hook from inside a handler goes straight to the log instead. */
    lua(s, "assert(n == 1 and logged == nil)");
    ev_teardown(s, &a);
    ev_teardown(s, &b);
    ls_script_free(s);
}

static void t_memory_limit(void **state)
{
    LS_UNUSED(state);
    const struct ls_script_config cfg = {.max_memory = 2u << 20};
    struct ls_script *s = mk(&cfg);
    char err[LS_ERRBUF_SIZE];
    const char *hog = "local t = {} for i = 1, 1e7 do t[i] = i end";
    assert_int_equal(ls_script_load_buffer(s, hog, strlen(hog), "@hog.lua", err), LS_ESCRIPT);
    has(err, "not enough memory");
    lua(s, "collectgarbage(); x = 1");
    assert_true(ls_script_memory(s) < cfg.max_memory);
    ls_script_free(s);
}

/* Data for a connection whose box exists skips the trampoline. That path
 * must report errors the same way, and must never push past the memory cap:
 * an allocation failing outside a protected call would abort the run. */
static void t_data_direct_path(void **state)
{
    LS_UNUSED(state);
    const struct ls_script_config cfg = {.max_memory = 1u << 20, .lua_dir = "/nonexistent/lua"};
    struct ls_script *s = mk(&cfg);
    struct ls_conn a, b, c;
    conn_default(&a, 1);
    conn_default(&b, 2);
    conn_default(&c, 3);
    lua(s, "n = 0\n"
           "sniff.on('sent_data', function(c, d)\n"
           "  n = n + #d; if d == 'boom' then error('bad ' .. c.id) end end)\n");
    assert_true(ev_open(s, &a));
    assert_true(ev_open(s, &b));
    assert_true(ev_open(s, &c));
    ev_data(s, &a, LS_DIR_C2S, "ab", 2); /* creates the box */
    ev_data(s, &a, LS_DIR_C2S, "cde", 3);
    ev_data(s, &a, LS_DIR_C2S, "boom", 4);
    has(g_log, "handler 'sent_data' (conn #1): script.lua:3: bad 1\n");
    has(g_log, "script.lua:3: in function <script.lua:2>");
    assert_int_equal(g_ignores, 1);
    lua(s, "assert(n == 9, n)");
    ev_data(s, &b, LS_DIR_C2S, "x", 1);
    ev_data(s, &c, LS_DIR_C2S, "y", 1);
    /* Leave about 8 KB under the cap (with no garbage a collection could
     * free): a 10 KB chunk no longer fits, 100 bytes still do. */
    lua(s, "local lim, h = 1024 * 1024 - 8000\n"
           "while collectgarbage('count') * 1024 < lim - 300 do\n"
           "  h = {h, n}; n = n + 1\n"
           "end\n"
           "hog, n = h, 11\n");
    static char big[10000];
    memset(big, 'z', sizeof big);
    g_log[0] = '\0';
    ev_data(s, &b, LS_DIR_C2S, big, sizeof big);
    has(g_log, "handler 'sent_data' (conn #2): not enough memory");
    assert_int_equal(g_ignores, 2);
    ev_data(s, &c, LS_DIR_C2S, big, 100);
    lua(s, "assert(n == 111, n); hog = nil; collectgarbage()");
    ev_teardown(s, &a);
    ev_teardown(s, &b);
    ev_teardown(s, &c);
    ls_script_free(s);
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

static char g_dir[64];

static const char *tmpfile_with(const char *name, const char *text)
{
    static char path[128];
    if (g_dir[0] == '\0') {
        strcpy(g_dir, "/tmp/ls_test_script.XXXXXX");
        assert_non_null(mkdtemp(g_dir));
    }
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void t_load_syntax_error(void **state)
{
    LS_UNUSED(state);
    const char *path = tmpfile_with("bad.lua", "local x = 1\nlocal y = 2\nlocal = 3\n");
    const struct ls_script_config cfg = {.path = path};
    struct ls_script *s = mk(&cfg);
    char err[LS_ERRBUF_SIZE];
    assert_int_equal(ls_script_load(s, err), LS_ESCRIPT);
    has(err, "bad.lua:3: ");
    assert_null(strstr(err, "traceback")); /* a syntax error has no stack */
    assert_null(strchr(err, '\n'));
    ls_script_free(s);
    unlink(path);
}

static void t_load_runtime_error(void **state)
{
    LS_UNUSED(state);
    const char *path = tmpfile_with("fail.lua", "local x = 1\nerror('nope')\n");
    const struct ls_script_config cfg = {.path = path};
    struct ls_script *s = mk(&cfg);
    char err[LS_ERRBUF_SIZE];
    assert_int_equal(ls_script_load(s, err), LS_ESCRIPT);
    assert_int_equal(strncmp(err, path, strlen(path)), 0);
    has(err, "fail.lua:2: nope\nstack traceback:");
    has(err, "in main chunk");
    ls_script_free(s);
    unlink(path);

    const struct ls_script_config missing = {.path = "/nonexistent/x.lua"};
    s = mk(&missing);
    assert_int_equal(ls_script_load(s, err), LS_ESCRIPT);
    has(err, "cannot open /nonexistent/x.lua");
    ls_script_free(s);

    const char *chunks[] = {"x = 1", "x = x +"};
    const struct ls_script_config cl = {.chunks = chunks, .nchunks = 2};
    s = mk(&cl);
    assert_int_equal(ls_script_load(s, err), LS_ESCRIPT);
    has(err, "(command line):1:");
    ls_script_free(s);
}

static void t_load_long_error_fits(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    char err[LS_ERRBUF_SIZE];
    const char *deep =
        "local function f(n) if n == 0 then error('deep') end return f(n - 1) + 1 end\n"
        "f(200)\n";
    assert_int_equal(ls_script_load_buffer(s, deep, strlen(deep), "@deep.lua", err), LS_ESCRIPT);
    assert_true(strlen(err) < LS_ERRBUF_SIZE);
    assert_int_equal(strncmp(err, "deep.lua:1: deep\n", 17), 0);
    ls_script_free(s);
}

static void t_chunks_args_require(void **state)
{
    LS_UNUSED(state);
    const char *path = tmpfile_with(
        "main.lua",
        "local a, b = ...\n"
        "assert(a == 'one' and b == 'two', tostring(a))\n"
        "assert(arg[0]:find('main.lua$') and arg[1] == 'one' and arg[2] == 'two' and #arg == 2)\n"
        "assert(y == 2)\n"
        "assert(require('sniff') == sniff)\n"
        "assert(package.path:find('/opt/ls/lua/?.lua;/opt/ls/lua/?/init.lua;', 1, true) == 1,"
        " package.path)\n"
        "assert(type(sniff.version) == 'string' and #sniff.version > 0)\n"
        "loaded = true\n");
    const char *chunks[] = {"x = 1", "y = x + 1"};
    char *args[] = {"one", "two"};
    const struct ls_script_config cfg = {.path = path,
                                         .chunks = chunks,
                                         .nchunks = 2,
                                         .args = args,
                                         .nargs = 2,
                                         .lua_dir = "/opt/ls/lua"};
    struct ls_script *s = mk(&cfg);
    char err[LS_ERRBUF_SIZE];
    if (ls_script_load(s, err) != 0)
        fail_msg("%s", err);
    lua(s, "assert(loaded)");
    ls_script_free(s);
    unlink(path);
}

static void t_default_summary(void **state)
{
    LS_UNUSED(state);
    const struct ls_script_config cfg = {0};
    struct ls_script *s = mk(&cfg);
    char err[LS_ERRBUF_SIZE];
    assert_int_equal(ls_script_load(s, err), 0);
    lua(s, "out = {}; print = function(l) out[#out + 1] = l end");
    struct ls_conn c;
    conn_default(&c, 1);
    assert_true(ev_open(s, &c));
    c.last_activity = 1700000000.25;
    ev_data(s, &c, LS_DIR_C2S, "x", 1);
    c.half[LS_DIR_C2S].rs.delivered = 120;
    c.half[LS_DIR_S2C].rs.delivered = 4000;
    ev_closed(s, &c, LS_CLOSE_FIN);
    ev_teardown(s, &c);
    memset(&c, 0, sizeof c);
    c.id = 2;
    c.af = 6;
    inet_pton(AF_INET6, "::1", c.client_ip);
    inet_pton(AF_INET6, "::1", c.server_ip);
    c.client_port = 40000;
    c.server_port = 443;
    c.start_time = c.last_activity = 5.5;
    assert_true(ev_open(s, &c));
    ev_closed(s, &c, LS_CLOSE_REUSED);
    ev_teardown(s, &c);
    lua(s, "assert(out[1] == '1 10.0.0.1:34567 -> 10.0.0.2:80 start=1700000000.000000 "
           "duration=0.250 sent=120 received=4000 close=fin', out[1])\n"
           "assert(out[2] == '2 [::1]:40000 -> [::1]:443 start=5.500000 duration=0.000 "
           "sent=0 received=0 close=reused', out[2])\n");
    ls_script_free(s);
}

/* ------------------------------------------------------------------------
 * The sniff module
 * ------------------------------------------------------------------------ */

static void t_on_validation(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 1);
    lua(s, "local ok, e = pcall(sniff.on, 'nope', print)\n"
           "assert(not ok and e:find(\"invalid option 'nope'\"), e)\n"
           "ok, e = pcall(sniff.on, 'sent_data', 42)\n"
           "assert(not ok and e:find('function expected'), e)\n"
           "ok, e = pcall(sniff.on, 'sent_data')\n"
           "assert(not ok, e)\n"
           "sniff.on('sent_data', setmetatable({}, {__call = function(self, c, d) got = d end}))\n"
           "sniff.on('received_data', function() error('removed') end)\n"
           "sniff.on('received_data', nil)\n");
    assert_true(ev_open(s, &c));
    ev_data(s, &c, LS_DIR_C2S, "callable", 8);
    ev_data(s, &c, LS_DIR_S2C, "nobody", 6);
    lua(s, "assert(got == 'callable')");
    assert_int_equal(g_stats.script_errors, 0);
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_stop_now_log_filter(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 1);
    lua(s, "sniff.filter('port 80')\n"
           "sniff.log('loaded', 'warn')\n"
           "sniff.log('plain')\n"
           "local ok, e = pcall(sniff.log, 'x', 'loud')\n"
           "assert(not ok and e:find('invalid option'))\n"
           "assert(sniff.now() == 0)\n"
           "sniff.on('sent_data', function(c, d)\n"
           "  t = sniff.now()\n"
           "  if d == 'stop' then sniff.stop() else sniff.filter('tcp') end\n"
           "end)\n");
    assert_string_equal(ls_script_filter(s), "port 80");
    has(g_log, "luasniff: warn: loaded\n");
    has(g_log, "luasniff: info: plain\n");
    assert_true(ev_open(s, &c));
    g_now = 42.5;
    ev_data(s, &c, LS_DIR_C2S, "stop", 4);
    assert_true(ls_script_stop_requested(s));
    assert_false(ls_script_failed(s));
    lua(s, "assert(t == 42.5)");
    ev_data(s, &c, LS_DIR_C2S, "filter", 6);
    has(g_log, "sniff.filter can only be called while the script loads");
    assert_string_equal(ls_script_filter(s), "port 80");
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_log_hook(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    g_hooks.log(g_hooks.ud, LS_LOG_WARN, NULL, "no handler");
    has(g_log, "luasniff: warn: no handler\n");
    lua(s, "sniff.on('log', function(m, l) got = l .. ':' .. m end)");
    g_log[0] = '\0';
    g_hooks.log(g_hooks.ud, LS_LOG_INFO, NULL, "to lua");
    assert_int_equal(ls_script_stack_top(s), 0);
    assert_string_equal(g_log, "");
    lua(s, "assert(got == 'info:to lua', got)");
    ls_script_free(s);
}

static void t_stats_and_done(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    lua(s, "sniff.on('done', function(st) got = st end)");
    g_stats.packets = 10;
    g_stats.connections = 3;
    g_stats.closed[LS_CLOSE_FIN] = 2;
    g_stats.closed[LS_CLOSE_REUSED] = 1;
    g_stats.gap_bytes = 77;
    g_stats.decode[LS_DECODE_TRUNCATED] = 4;
    ls_script_done(s);
    assert_int_equal(ls_script_stack_top(s), 0);
    lua(s, "assert(got.packets == 10 and got.connections == 3 and got.gap_bytes == 77)\n"
           "assert(got.closed.fin == 2 and got.closed.reused == 1 and got.closed.rst == 0)\n"
           "assert(got.closed.none == nil and got.drops == 0 and got.script_errors == 0)\n"
           "assert(got.decode.truncated == 4 and got.lua_memory > 0)\n"
           "assert(sniff.stats().packets == 10)\n");
    ls_script_free(s);
}

static void t_packet_event(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    assert_false(ls_script_wants_packets(s));
    lua(s, "sniff.on('packet', function(p) got = p end)");
    assert_true(ls_script_wants_packets(s));
    struct ls_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.af = 4;
    pkt.l4proto = 6;
    inet_pton(AF_INET, "192.168.1.1", pkt.src);
    inet_pton(AF_INET, "192.168.1.2", pkt.dst);
    pkt.sport = 1234;
    pkt.dport = 80;
    pkt.seq = 4000000000u;
    pkt.flags = LS_TCP_SYN | LS_TCP_ACK;
    pkt.payload = (const uint8_t *)"hi";
    pkt.payload_len = 2;
    ls_script_packet(s, &pkt, 12.25);
    assert_int_equal(ls_script_stack_top(s), 0);
    lua(s, "assert(got.time == 12.25 and got.src == '192.168.1.1' and got.dst == '192.168.1.2')\n"
           "assert(got.sport == 1234 and got.dport == 80 and got.seq == 4000000000)\n"
           "assert(got.flags == 0x12 and got.payload == 'hi' and got.proto == 'tcp')\n");
    ls_script_free(s);
}

/* ------------------------------------------------------------------------
 * Timers
 * ------------------------------------------------------------------------ */

/* Drives timers the way the app does: jump the clock to each deadline. */
static void advance_to(struct ls_script *s, double until)
{
    double t, prev = -1;
    for (;;) {
        t = ls_script_next_timer(s);
        if (t >= 0 && t <= prev)
            t = ls_script_next_timer_after(s, prev);
        if (t < 0 || t > until)
            break;
        g_now = t;
        ls_script_run_timers(s, t, until);
        assert_int_equal(ls_script_stack_top(s), 0);
        prev = t;
    }
    g_now = until;
}

static void t_timers_order(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    lua(s,
        "order = {}\n"
        "local function add(x) order[#order + 1] = x end\n"
        "sniff.after(5, function() add(string.format('a5@%g', sniff.now())) end)\n"
        "sniff.after(2, function() add('a2') end)\n"
        "sniff.after(2, function() add('b2') end)\n"
        "local n = 0\n"
        "sniff.every(3, function(t) n = n + 1; add('e' .. n); if n == 3 then t:cancel() end end)\n"
        "local c = sniff.after(4, function() add('never') end)\n"
        "assert(c:cancel() == true and c:cancel() == false)\n"
        "assert(not pcall(sniff.every, 0, print))\n"
        "assert(not pcall(sniff.after, -1, print))\n"
        "assert(not pcall(sniff.after, 1 / 0, print))\n"
        "assert(not pcall(sniff.after, 1, 'x'))\n");
    /* Before the first packet the clock is 0 and nothing is due. */
    assert_true(ls_script_next_timer(s) < 0);
    ls_script_run_timers(s, 0, 0);
    g_now = 100; /* the first packet: deadlines count from here */
    assert_true(ls_script_next_timer(s) == 102.0);
    for (double now = 100.5; now <= 120; now += 0.5) /* a packet every half second */
        advance_to(s, now);
    lua(s, "local got = table.concat(order, ',')\n"
           "assert(got == 'a2,b2,e1,a5@105,e2,e3', got)\n");
    assert_true(ls_script_next_timer(s) < 0);
    ls_script_free(s);
}

static void t_timers_after_start_and_skip(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    struct ls_conn c;
    conn_default(&c, 1);
    lua(s, "sniff.on('connection', function() end)");
    g_now = 1000;
    assert_true(ev_open(s, &c)); /* starts the timer clock */
    lua(s, "n = 0\n"
           "tm = sniff.every(1, function() n = n + 1 end)\n"
           "sniff.after(0.5, function() sniff.after(0, function() inner = sniff.now() end) end)\n");
    assert_true(ls_script_next_timer(s) == 1000.5);
    /* A quiet stretch, stepped deadline by deadline as the app does: the
     * periodic timer fires once and keeps the phase; the after(0) made by a
     * timer at 1000.5 fires at the next step (1001), not in a loop. */
    advance_to(s, 1010.25);
    lua(s, "assert(n == 1, n)");
    assert_true(ls_script_next_timer(s) == 1011.0);
    lua(s, "assert(inner == 1001, inner)\n"
           "assert(tostring(tm):find('every'))\n");
    ev_teardown(s, &c);
    ls_script_free(s);
}

static void t_timer_error(void **state)
{
    LS_UNUSED(state);
    struct ls_script *s = mk(NULL);
    lua(s, "sniff.after(1, function()\n"
           "  error('tick')\n"
           "end)\n"
           "sniff.after(2, function() ok = true end)\n");
    g_now = 10;
    advance_to(s, 20);
    has(g_log, "luasniff: error: timer: script.lua:2: tick\nstack traceback:");
    assert_int_equal(g_stats.script_errors, 1);
    assert_false(ls_script_stop_requested(s));
    lua(s, "assert(ok)");
    ls_script_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_data_exact_bytes),
        cmocka_unit_test(t_event_order_and_args),
        cmocka_unit_test(t_no_handlers_no_box),
        cmocka_unit_test(t_connection_false_ignores),
        cmocka_unit_test(t_fields_and_script_state),
        cmocka_unit_test(t_kept_after_teardown),
        cmocka_unit_test(t_boxes_many_and_reused),
        cmocka_unit_test(t_conn_methods),
        cmocka_unit_test(t_conn_on_overrides),
        cmocka_unit_test(t_tostring_ipv6),
        cmocka_unit_test(t_handler_error_policy),
        cmocka_unit_test(t_error_object_not_string),
        cmocka_unit_test(t_strict_stops),
        cmocka_unit_test(t_nested_dispatch_refused),
        cmocka_unit_test(t_memory_limit),
        cmocka_unit_test(t_data_direct_path),
        cmocka_unit_test(t_load_syntax_error),
        cmocka_unit_test(t_load_runtime_error),
        cmocka_unit_test(t_load_long_error_fits),
        cmocka_unit_test(t_chunks_args_require),
        cmocka_unit_test(t_default_summary),
        cmocka_unit_test(t_on_validation),
        cmocka_unit_test(t_stop_now_log_filter),
        cmocka_unit_test(t_log_hook),
        cmocka_unit_test(t_stats_and_done),
        cmocka_unit_test(t_packet_event),
        cmocka_unit_test(t_timers_order),
        cmocka_unit_test(t_timers_after_start_and_skip),
        cmocka_unit_test(t_timer_error),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (g_dir[0] != '\0')
        rmdir(g_dir);
    return rc;
}
