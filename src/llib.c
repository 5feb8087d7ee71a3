/* llib.c: the `sniff` module scripts call (on, now, after, every, filter,
 * stop, stats, log, version) and the capture-clock timers behind
 * sniff.after/every: a binary min-heap fired by ls_script_run_timers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "config.h"
#include "decode.h"
#include "flow.h"
#include "lhost.h"
#include "log.h"

static struct ls_script *getscript(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

bool ls_llib_callable(lua_State *L, int idx)
{
    if (lua_isfunction(L, idx))
        return true;
    if (luaL_getmetafield(L, idx, "__call") == LUA_TNIL)
        return false;
    lua_pop(L, 1);
    return true;
}

/* ------------------------------------------------------------------------
 * Timer heap, ordered by (deadline, seq)
 * ------------------------------------------------------------------------ */

static bool before(const struct ls_timer *a, const struct ls_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct ls_script *s, size_t i, struct ls_timer *t)
{
    s->heap[i] = t;
    t->pos = i;
}

static void siftup(struct ls_script *s, size_t i)
{
    struct ls_timer *t = s->heap[i];
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(t, s->heap[up]))
            break;
        place(s, i, s->heap[up]);
        i = up;
    }
    place(s, i, t);
}

static void siftdown(struct ls_script *s, size_t i)
{
    struct ls_timer *t = s->heap[i];
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= s->nheap)
            break;
        if (k + 1 < s->nheap && before(s->heap[k + 1], s->heap[k]))
            k++;
        if (!before(s->heap[k], t))
            break;
        place(s, i, s->heap[k]);
        i = k;
    }
    place(s, i, t);
}

/* Capacity must be there already (checked before anything was created). */
static void insert(struct ls_script *s, struct ls_timer *t)
{
    t->seq = s->timer_seq++;
    place(s, s->nheap++, t);
    siftup(s, t->pos);
}

static void unqueue(struct ls_script *s, struct ls_timer *t)
{
    size_t i = t->pos;
    struct ls_timer *last = s->heap[--s->nheap];
    t->pos = LS_TIMER_IDLE;
    if (i == s->nheap)
        return;
    place(s, i, last);
    siftdown(s, i);
    siftup(s, last->pos);
}

void ls_llib_anchor(struct ls_script *s, double now)
{
    if (!s->unanchored || now <= 0)
        return;
    /* Adding one constant to every key keeps the heap ordered. */
    for (size_t i = 0; i < s->nheap; i++)
        s->heap[i]->deadline += now;
    s->unanchored = false;
}

double ls_script_next_timer(struct ls_script *s)
{
    ls_llib_anchor(s, ls_flow_now(s->ft));
    if (s->nheap == 0 || s->unanchored)
        return -1.0;
    return s->heap[0]->deadline;
}

double ls_script_next_timer_after(struct ls_script *s, double after)
{
    double best = -1.0;
    if (ls_script_next_timer(s) < 0)
        return -1.0;
    for (size_t i = 0; i < s->nheap; i++) { /* rare: a scan is enough */
        double d = s->heap[i]->deadline;
        if (d > after && (best < 0 || d < best))
            best = d;
    }
    return best;
}

void ls_script_run_timers(struct ls_script *s, double now, double upto)
{
    double clock = ls_flow_now(s->ft);
    ls_llib_anchor(s, clock > 0 ? clock : now);
    if (s->unanchored)
        return;
    /* Timers (re)scheduled from here on get a seq >= limit and wait for a
     * later call: one call never loops, whatever the callbacks do. */
    uint64_t limit = s->timer_seq;
    while (s->nheap > 0 && !s->failed) {
        struct ls_timer *t = s->heap[0];
        if (t->deadline > now || t->seq >= limit)
            break;
        struct ls_call a = {.s = s, .timer = true, .tref = t->self};
        unqueue(s, t);
        if (t->interval > 0) {
            /* Rescheduled before the call, so t:cancel() inside works. When
             * the clock jumped several periods (a quiet stretch), the missed
             * ones are skipped instead of fired in a burst; the phase stays. */
            double next = t->deadline + t->interval;
            if (upto < now)
                upto = now;
            if (next <= upto) {
                double periods = (upto - t->deadline) / t->interval; /* >= 1 */
                if (periods < 1e18)
                    next = t->deadline + ((double)(uint64_t)periods + 1) * t->interval;
                if (next <= upto) /* rounding, or an absurd jump */
                    next = upto + t->interval;
            }
            t->deadline = next;
            insert(s, t); /* no growth: it just left the heap */
            ls_script_dispatch(s, &a);
        } else {
            t->self = LUA_NOREF; /* the ref now belongs to `a` */
            ls_script_dispatch(s, &a);
            luaL_unref(s->L, LUA_REGISTRYINDEX, a.tref);
        }
    }
}

void ls_llib_timers_free(struct ls_script *s)
{
    for (size_t i = 0; i < s->nheap; i++) {
        luaL_unref(s->L, LUA_REGISTRYINDEX, s->heap[i]->self);
        s->heap[i]->self = LUA_NOREF;
        s->heap[i]->pos = LS_TIMER_IDLE;
    }
    s->nheap = 0;
    free(s->heap);
    s->heap = NULL;
    s->capheap = 0;
}

static int newtimer(lua_State *L, bool every)
{
    struct ls_script *s = getscript(L);
    lua_Number sec = luaL_checknumber(L, 1);
    luaL_argcheck(L, isfinite(sec), 1, "finite number expected");
    if (every)
        luaL_argcheck(L, sec > 0, 1, "interval must be > 0");
    else
        luaL_argcheck(L, sec >= 0, 1, "delay must be >= 0");
    luaL_argexpected(L, ls_llib_callable(L, 2), 2, "function");
    if (s->nheap == s->capheap) {
        size_t cap = s->capheap ? 2 * s->capheap : 16;
        struct ls_timer **h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL)
            return luaL_error(L, "not enough memory");
        s->heap = h;
        s->capheap = cap;
    }
    struct ls_timer *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    t->pos = LS_TIMER_IDLE;
    t->self = LUA_NOREF;
    t->interval = every ? sec : 0;
    luaL_setmetatable(L, LS_TIMER_MT);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    t->self = luaL_ref(L, LUA_REGISTRYINDEX); /* last thing that may raise */
    double now = ls_flow_now(s->ft);
    ls_llib_anchor(s, now);
    t->deadline = (s->unanchored ? 0 : now) + sec;
    insert(s, t);
    return 1;
}

static int l_after(lua_State *L)
{
    return newtimer(L, false);
}

static int l_every(lua_State *L)
{
    return newtimer(L, true);
}

/* t:cancel() -> true if it was pending. */
static int timer_cancel(lua_State *L)
{
    struct ls_timer *t = luaL_checkudata(L, 1, LS_TIMER_MT);
    struct ls_script *s = getscript(L);
    if (t->pos == LS_TIMER_IDLE) {
        lua_pushboolean(L, 0);
        return 1;
    }
    unqueue(s, t);
    luaL_unref(L, LUA_REGISTRYINDEX, t->self);
    t->self = LUA_NOREF;
    lua_pushboolean(L, 1);
    return 1;
}

static int timer_tostring(lua_State *L)
{
    struct ls_timer *t = luaL_checkudata(L, 1, LS_TIMER_MT);
    if (t->pos == LS_TIMER_IDLE)
        lua_pushliteral(L, "timer (idle)");
    else
        lua_pushfstring(L, "timer (%s %f)", t->interval > 0 ? "every" : "after",
                        t->interval > 0 ? t->interval : t->deadline);
    return 1;
}

/* ------------------------------------------------------------------------
 * sniff.*
 * ------------------------------------------------------------------------ */

/* sniff.on(event, fn|nil) */
static int l_on(lua_State *L)
{
    struct ls_script *s = getscript(L);
    int h = luaL_checkoption(L, 1, NULL, ls_handler_names);
    luaL_checkany(L, 2);
    int ref = LUA_NOREF;
    if (!lua_isnil(L, 2)) {
        luaL_argexpected(L, ls_llib_callable(L, 2), 2, "function");
        lua_settop(L, 2);
        ref = luaL_ref(L, LUA_REGISTRYINDEX); /* may raise: before any change */
    }
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref[h]);
    s->ref[h] = ref;
    return 0;
}

/* sniff.handler(event) -> the global handler, or nil. Lets a library that
 * takes a connection's events with conn:on pass them on. */
static int l_handler(lua_State *L)
{
    struct ls_script *s = getscript(L);
    int h = luaL_checkoption(L, 1, NULL, ls_handler_names);
    if (s->ref[h] == LUA_NOREF)
        lua_pushnil(L);
    else
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref[h]);
    return 1;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, ls_flow_now(getscript(L)->ft));
    return 1;
}

static int l_stop(lua_State *L)
{
    getscript(L)->stop = true;
    return 0;
}

/* sniff.filter(expr): the BPF filter, ANDed by the app with -f. */
static int l_filter(lua_State *L)
{
    struct ls_script *s = getscript(L);
    size_t n;
    const char *e = luaL_checklstring(L, 1, &n);
    if (!s->loading)
        return luaL_error(L, "sniff.filter can only be called while the script loads");
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return luaL_error(L, "not enough memory");
    memcpy(copy, e, n + 1);
    free(s->filter);
    s->filter = copy;
    return 0;
}

/* sniff.log(msg [, level]) */
static int l_log(lua_State *L)
{
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    struct ls_script *s = getscript(L);
    const char *msg = luaL_checkstring(L, 1);
    int lv = luaL_checkoption(L, 2, "info", levels);
    ls_log(s->lg, (enum ls_log_level)lv, "%s", msg);
    return 0;
}

static void setint(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* stats.interfaces: libpcap's counters per live interface, in -i order
 * (empty when reading files); stats.drops: all their losses together. */
static void push_ifstats(lua_State *L, struct ls_script *s)
{
    struct ls_iface_stats is;
    uint64_t drops = 0;
    size_t i;

    lua_newtable(L);
    for (i = 0; s->ifstats != NULL && s->ifstats(s->ifstats_ud, i, &is); i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, is.name);
        lua_setfield(L, -2, "name");
        setint(L, "received", is.received);
        setint(L, "dropped", is.dropped);
        setint(L, "if_dropped", is.if_dropped);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
        drops += is.dropped + is.if_dropped;
    }
    lua_setfield(L, -2, "interfaces");
    setint(L, "drops", drops);
}

void ls_llib_push_stats(lua_State *L, struct ls_script *s)
{
    const struct ls_stats *st = ls_flow_stats(s->ft);
    lua_createtable(L, 0, 24);
#define F(name) setint(L, #name, st->name)
    F(packets);
    F(bytes);
    F(tcp_packets);
    F(connections);
    F(active);
    F(peak_active);
    F(ignored);
    F(payload_bytes);
    F(gaps);
    F(gap_bytes);
    F(overlaps_conflicting);
    F(forced_out);
    F(out_of_window);
    F(rst_ignored);
    F(stray);
    F(script_errors);
    F(buffered);
    F(peak_buffered);
#undef F
    setint(L, "bad_checksums", st->bad_checksums);
    setint(L, "evicted", st->closed[LS_CLOSE_EVICTED]);
    lua_createtable(L, 0, 10);
#define F(name) setint(L, #name, st->frag.name)
    F(fragments);
    F(reassembled);
    F(timeouts);
    F(evicted);
    F(overlaps);
    F(too_many);
    F(invalid);
    F(datagrams);
#undef F
    setint(L, "buffered", st->frag.mem);
    setint(L, "peak_buffered", st->frag.peak_mem);
    lua_setfield(L, -2, "frag");
    push_ifstats(L, s);
    setint(L, "lua_memory", s->mem);
    lua_createtable(L, 0, LS_CLOSE__COUNT);
    for (int r = LS_CLOSE_NONE + 1; r < LS_CLOSE__COUNT; r++)
        setint(L, ls_close_reason_name((enum ls_close_reason)r), st->closed[r]);
    lua_setfield(L, -2, "closed");
    lua_createtable(L, 0, LS_DECODE__COUNT);
    for (int d = 0; d < LS_DECODE__COUNT; d++)
        setint(L, ls_decode_status_name((enum ls_decode_status)d), st->decode[d]);
    lua_setfield(L, -2, "decode");
}

static int l_stats(lua_State *L)
{
    ls_llib_push_stats(L, getscript(L));
    return 1;
}

void ls_llib_push_packet(lua_State *L, const struct ls_packet *pkt, double ts)
{
    char a[64];
    lua_createtable(L, 0, 16);
    lua_pushnumber(L, ts);
    lua_setfield(L, -2, "time");
    setint(L, "family", pkt->af);
    lua_pushstring(L, pkt->l4proto == 6 ? "tcp" : pkt->l4proto == 17 ? "udp" : "other");
    lua_setfield(L, -2, "proto");
    lua_pushstring(L, ls_addr_format(pkt->af, pkt->src, a, sizeof a));
    lua_setfield(L, -2, "src");
    lua_pushstring(L, ls_addr_format(pkt->af, pkt->dst, a, sizeof a));
    lua_setfield(L, -2, "dst");
    setint(L, "sport", pkt->sport);
    setint(L, "dport", pkt->dport);
    if (pkt->l4proto == 6) {
        setint(L, "seq", pkt->seq);
        setint(L, "ack", pkt->ack);
        setint(L, "flags", pkt->flags);
        setint(L, "window", pkt->window);
    }
    setint(L, "ttl", pkt->ttl);
    setint(L, "missing", pkt->payload_missing);
    lua_pushlstring(L, pkt->payload != NULL ? (const char *)pkt->payload : "",
                    pkt->payload != NULL ? pkt->payload_len : 0);
    lua_setfield(L, -2, "payload");
}

void ls_llib_open(lua_State *L, struct ls_script *s)
{
    static const luaL_Reg funcs[] = {
        {"on", l_on},       {"handler", l_handler}, {"now", l_now},   {"after", l_after},
        {"every", l_every}, {"filter", l_filter},   {"stop", l_stop}, {"stats", l_stats},
        {"log", l_log},     {NULL, NULL},
    };
    static const luaL_Reg tmethods[] = {
        {"cancel", timer_cancel},
        {NULL, NULL},
    };

    luaL_newmetatable(L, LS_TIMER_MT);
    luaL_newlibtable(L, tmethods);
    lua_pushlightuserdata(L, s);
    luaL_setfuncs(L, tmethods, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, timer_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    luaL_newlibtable(L, funcs);
    lua_pushlightuserdata(L, s);
    luaL_setfuncs(L, funcs, 1);
    lua_pushliteral(L, LS_VERSION);
    lua_setfield(L, -2, "version");
    ls_lpcapw_open(L, s);
}
