/* script.c: the Lua state (counting allocator, panic, warnings), script
 * loading, and the single protected entry point from C into Lua with its
 * error policy. The connection box lives in lconn.c, the `sniff` module and
 * timers in llib.c. */
#include "script.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "conn.h"
#include "flow.h"
#include "lhost.h"
#include "log.h"

/* ------------------------------------------------------------------------
 * Handler names
 * ------------------------------------------------------------------------ */

const char *const ls_handler_names[LS_H__COUNT + 1] = {
#define XX(name, str) str,
    LS_HANDLER_MAP(XX)
#undef XX
        NULL,
};

const char *ls_script_handler_name(enum ls_handler h)
{
    return (unsigned)h < LS_H__COUNT ? ls_handler_names[h] : "?";
}

/* The built-in script used when neither a script nor -e chunks are given:
 * one line per connection when it closes. `print` is looked up at call time
 * so that tests (and -e users) can redirect it. The format is documented in
 * docs/lua-api.md; keep both in sync. */
static const char builtin_summary[] =
    "local fmt = string.format\n"
    "local function ep(ip, port)\n"
    "  if ip:find(':', 1, true) then return fmt('[%s]:%d', ip, port) end\n"
    "  return fmt('%s:%d', ip, port)\n"
    "end\n"
    "sniff.on('closed', function(c, why)\n"
    "  print(fmt('%d %s -> %s start=%.6f duration=%.3f sent=%d received=%d close=%s',\n"
    "    c.id, ep(c.client_ip, c.client_port), ep(c.server_ip, c.server_port),\n"
    "    c.start_time, c.last_activity - c.start_time, c.client_bytes, c.server_bytes,\n"
    "    why))\n"
    "end)\n";

/* ------------------------------------------------------------------------
 * State: allocator, panic, warnings
 * ------------------------------------------------------------------------ */

/* Counts the bytes Lua holds and enforces cfg.max_memory. Refusing an
 * allocation makes Lua raise a memory error, which the protected call
 * around every handler turns into an ordinary script error. The count is of
 * the bytes Lua asked for; the block cache (lalloc.c) rounds up behind it. */
static void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct ls_script *s = ud;
    if (ptr == NULL)
        osize = 0; /* osize then encodes the object type, not a size */
    if (nsize == 0) {
        ls_lalloc_realloc(&s->alloc, ptr, osize, 0);
        s->mem -= osize;
        return NULL;
    }
    if (s->cfg.max_memory && nsize > osize && s->mem - osize + nsize > s->cfg.max_memory)
        return NULL;
    void *p = ls_lalloc_realloc(&s->alloc, ptr, osize, nsize);
    if (p == NULL)
        return NULL;
    s->mem = s->mem - osize + nsize;
    if (s->mem > s->mem_peak)
        s->mem_peak = s->mem;
    return p;
}

/* Reached only if an error escapes every protected call, which the single
 * dispatch point is designed to prevent: report and abort (there is no safe
 * way to continue after an unprotected error). */
static int panic(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    struct ls_script *s = ud;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    ls_log(s->lg, LS_LOG_ERROR, "unprotected Lua error (bug): %s", msg);
    abort();
    return 0;
}

/* Lua 5.4 warnings (warn(), errors in finalizers) arrive in pieces; they are
 * assembled and logged as one message. "@on"/"@off" switch them, on by
 * default so that finalizer errors are never silent. */
static void warnf(void *ud, const char *msg, int tocont)
{
    struct ls_script *s = ud;
    if (!tocont && s->warn_len == 0 && msg[0] == '@') {
        if (strcmp(msg, "@on") == 0)
            s->warn_on = true;
        else if (strcmp(msg, "@off") == 0)
            s->warn_on = false;
        return;
    }
    size_t n = strlen(msg), room = sizeof s->warn - 1 - s->warn_len;
    if (n > room)
        n = room;
    memcpy(s->warn + s->warn_len, msg, n);
    s->warn_len += n;
    s->warn[s->warn_len] = '\0';
    if (!tocont) {
        if (s->warn_on)
            ls_log(s->lg, LS_LOG_WARN, "Lua warning: %s", s->warn);
        s->warn_len = 0;
    }
}

/* lua.c's message handler: a string (or __tostring) error gets a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1); /* lua.c stops here; a traceback helps more */
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Length of `msg` without the trailing "[C]: in ?" frames, which are our
 * trampolines and tell a script author nothing. */
static size_t trimmed(const char *msg)
{
    static const char tail[] = "\n\t[C]: in ?";
    size_t n = strlen(msg), t = sizeof tail - 1;
    while (n >= t && memcmp(msg + n - t, tail, t) == 0)
        n -= t;
    return n;
}

/* Copies an error message into errbuf; when it does not fit, cuts at a line
 * boundary so the first line (file:line: message) always survives whole. */
static void seterr(char errbuf[LS_ERRBUF_SIZE], const char *msg)
{
    size_t n = trimmed(msg);
    if (n >= LS_ERRBUF_SIZE) {
        n = LS_ERRBUF_SIZE - 1;
        const char *nl = memchr(msg, '\n', n);
        if (nl != NULL) {
            while (msg[n] != '\n')
                n--;
        }
    }
    memcpy(errbuf, msg, n);
    errbuf[n] = '\0';
}

/* ------------------------------------------------------------------------
 * Dispatch: the one place where C calls Lua at run time
 * ------------------------------------------------------------------------ */

static bool wanted(const struct ls_script *s, const struct ls_conn *c, enum ls_handler h)
{
    return s->ref[h] != LUA_NOREF || (c != NULL && (c->lua_handlers & (1u << h)));
}

/* Pushes the function that handles `a`: the connection's own (conn:on),
 * else the global one. Allocates nothing. */
static void push_handler(lua_State *L, const struct ls_script *s, const struct ls_call *a)
{
    if (a->c == NULL || !ls_lconn_handler(L, s, a->c, a->h))
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref[a->h]);
}

/* Runs protected: everything that allocates (the box, the data string, the
 * stats table) happens here, so a memory error is an ordinary error. */
static int trampoline(lua_State *L)
{
    struct ls_call *a = lua_touserdata(L, 1);
    struct ls_script *s = a->s;
    int nargs = 1;

    if (a->timer) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, a->tref); /* the handle */
        lua_getiuservalue(L, -1, 1);                /* its function */
        lua_insert(L, -2);
        lua_call(L, 1, 0);
        return 0;
    }
    push_handler(L, s, a);
    switch (a->h) {
    case LS_H_CONNECTION:
    case LS_H_TEARDOWN: ls_lconn_push(L, s, a->c); break;
    case LS_H_SENT_DATA:
    case LS_H_RECEIVED_DATA:
        ls_lconn_push(L, s, a->c);
        lua_pushlstring(L, a->str, a->len);
        lua_pushnumber(L, a->ts);
        nargs = 3;
        break;
    case LS_H_GAP:
        ls_lconn_push(L, s, a->c);
        lua_pushstring(L, a->str);
        lua_pushinteger(L, (lua_Integer)a->num);
        nargs = 3;
        break;
    case LS_H_CLOSED:
        ls_lconn_push(L, s, a->c);
        lua_pushstring(L, a->str);
        nargs = 2;
        break;
    case LS_H_LOG:
        lua_pushstring(L, a->str);
        lua_pushstring(L, a->str2);
        nargs = 2;
        break;
    case LS_H_PACKET: ls_llib_push_packet(L, a->pkt, a->ts); break;
    case LS_H_DONE: ls_llib_push_stats(L, s); break;
    case LS_H__COUNT: return luaL_error(L, "bad handler");
    }
    if (a->h == LS_H_CONNECTION) {
        lua_call(L, nargs, 1);
        /* Only an explicit false ignores: a handler that returns nothing keeps it. */
        a->ret = !(lua_isboolean(L, -1) && !lua_toboolean(L, -1));
    } else {
        lua_call(L, nargs, 0);
    }
    return 0;
}

/* The error policy: log the error with its traceback, count it, and either
 * stop the run (--strict) or stop listening to the connection at fault. */
static void handler_failed(struct ls_script *s, struct ls_call *a, const char *msg)
{
    int n = (int)trimmed(msg);
    if (a->timer)
        ls_log(s->lg, LS_LOG_ERROR, "timer: %.*s", n, msg);
    else if (a->c != NULL)
        ls_log(s->lg, LS_LOG_ERROR, "handler '%s' (conn #%" PRIu64 "): %.*s",
               ls_handler_names[a->h], a->c->id, n, msg);
    else
        ls_log(s->lg, LS_LOG_ERROR, "handler '%s': %.*s", ls_handler_names[a->h], n, msg);
    ls_flow_stats(s->ft)->script_errors++;
    if (a->h == LS_H_CONNECTION && !a->timer)
        a->ret = false; /* the flow table ignores it: no ls_flow_ignore mid-open */
    if (s->cfg.strict) {
        s->failed = true;
        s->stop = true;
        return;
    }
    if (a->timer || a->c == NULL || (a->c->flags & LS_CONN_IGNORED))
        return;
    if (a->h == LS_H_SENT_DATA || a->h == LS_H_RECEIVED_DATA || a->h == LS_H_GAP)
        ls_flow_ignore(s->ft, a->c);
}

/* The data events' fast path: pushes the handler and its arguments straight
 * onto the stack (no trampoline frame) when nothing but the data string can
 * allocate (the box exists, the stack has room) and that allocation cannot
 * fail (it fits under max_memory and the allocator holds a spare block).
 * Returns the number of arguments pushed, or -1 when `a` must go through
 * the trampoline. */
static int push_direct(struct ls_script *s, struct ls_call *a)
{
    lua_State *L = s->L;
    if ((a->h != LS_H_SENT_DATA && a->h != LS_H_RECEIVED_DATA) || a->c->lua_ref <= 0)
        return -1;
    /* Lua adds a header of a few dozen bytes to the string's bytes. */
    size_t need = a->len + 64;
    if (need > LS_LALLOC_MAX || (s->cfg.max_memory && s->mem + need > s->cfg.max_memory))
        return -1;
    if (!lua_checkstack(L, 5) || !ls_lalloc_spare(&s->alloc))
        return -1;
    /* The box's slab stays below the handler, out of the call; the
     * dispatcher's settop removes it. */
    ls_lconn_push_slab(L, s, a->c);
    int slab = lua_gettop(L);
    push_handler(L, s, a);
    ls_lconn_push_in_slab(L, slab, a->c);
    lua_pushlstring(L, a->str, a->len);
    lua_pushnumber(L, a->ts);
    return 3;
}

int ls_script_dispatch(struct ls_script *s, struct ls_call *a)
{
    lua_State *L = s->L;
    if (s->failed)
        return 0; /* --strict: nothing runs after the first error */
    if (s->depth > 0) {
        /* Hooks must not run Lua from inside Lua: a flow-table bug. */
        ls_log(s->lg, LS_LOG_ERROR, "bug: nested call of %s '%s' refused",
               a->timer ? "timer" : "handler", a->timer ? "" : ls_handler_names[a->h]);
        return LS_ESCRIPT;
    }
    int top = lua_gettop(L);
    int rc = 0;
    s->depth++;
    if (a->c != NULL)
        a->c->busy++;
    lua_pushcfunction(L, msghandler);
    int nargs = a->timer || a->c == NULL ? -1 : push_direct(s, a);
    if (nargs < 0) {
        lua_pushcfunction(L, trampoline);
        lua_pushlightuserdata(L, a);
        nargs = 1;
    }
    if (lua_pcall(L, nargs, 0, top + 1) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        handler_failed(s, a, msg != NULL ? msg : "(error object is not a string)");
        rc = LS_ESCRIPT;
    }
    lua_settop(L, top);
    if (a->c != NULL)
        a->c->busy--;
    s->depth--;
    assert(lua_gettop(L) == top);
    return rc;
}

/* ------------------------------------------------------------------------
 * Flow-table hooks
 * ------------------------------------------------------------------------ */

static bool h_open(void *ud, struct ls_conn *c)
{
    struct ls_script *s = ud;
    /* These fields are ours; a recycled pool entry must not keep stale ones. */
    c->lua_ref = LUA_NOREF;
    c->lua_handlers = 0;
    ls_lpcapw_conn_open(s, c);
    ls_llib_anchor(s, ls_flow_now(s->ft));
    if (s->ref[LS_H_CONNECTION] == LUA_NOREF)
        return true;
    struct ls_call a = {.s = s, .h = LS_H_CONNECTION, .c = c, .ret = true};
    ls_script_dispatch(s, &a);
    return a.ret;
}

static void h_data(void *ud, struct ls_conn *c, enum ls_dir d, const uint8_t *p, size_t n,
                   double ts)
{
    struct ls_script *s = ud;
    enum ls_handler h = d == LS_DIR_C2S ? LS_H_SENT_DATA : LS_H_RECEIVED_DATA;
    if (!wanted(s, c, h))
        return;
    struct ls_call a = {.s = s, .h = h, .c = c, .str = (const char *)p, .len = n, .ts = ts};
    ls_script_dispatch(s, &a);
}

static void h_gap(void *ud, struct ls_conn *c, enum ls_dir d, uint64_t n)
{
    struct ls_script *s = ud;
    if (!wanted(s, c, LS_H_GAP))
        return;
    struct ls_call a = {
        .s = s, .h = LS_H_GAP, .c = c, .num = n, .str = d == LS_DIR_C2S ? "sent" : "received"};
    ls_script_dispatch(s, &a);
}

static void h_closed(void *ud, struct ls_conn *c, enum ls_close_reason why)
{
    struct ls_script *s = ud;
    if (!wanted(s, c, LS_H_CLOSED))
        return;
    struct ls_call a = {.s = s, .h = LS_H_CLOSED, .c = c, .str = ls_close_reason_name(why)};
    ls_script_dispatch(s, &a);
}

static void h_teardown(void *ud, struct ls_conn *c)
{
    struct ls_script *s = ud;
    if (wanted(s, c, LS_H_TEARDOWN)) {
        struct ls_call a = {.s = s, .h = LS_H_TEARDOWN, .c = c};
        ls_script_dispatch(s, &a);
    }
    ls_lconn_detach(s->L, s, c);
    ls_lpcapw_conn_release(s->L, c);
}

static void h_log(void *ud, enum ls_log_level level, struct ls_conn *c, const char *msg)
{
    struct ls_script *s = ud;
    LS_UNUSED(c);
    if (!ls_log_enabled(s->lg, level))
        return;
    /* Inside a handler (a flow call made by conn:ignore(), say) the script
     * cannot be re-entered: such messages go straight to the log. */
    if (s->ref[LS_H_LOG] == LUA_NOREF || s->depth > 0 || s->failed) {
        ls_log(s->lg, level, "%s", msg);
        return;
    }
    struct ls_call a = {.s = s, .h = LS_H_LOG, .str = msg, .str2 = ls_log_level_name(level)};
    ls_script_dispatch(s, &a);
}

void ls_script_hooks(struct ls_script *s, struct ls_flow_hooks *hooks)
{
    hooks->ud = s;
    hooks->open = h_open;
    hooks->data = h_data;
    hooks->gap = h_gap;
    hooks->closed = h_closed;
    hooks->teardown = h_teardown;
    hooks->log = h_log;
}

bool ls_script_wants_packets(const struct ls_script *s)
{
    return s->ref[LS_H_PACKET] != LUA_NOREF;
}

void ls_script_packet(struct ls_script *s, const struct ls_packet *pkt, double ts)
{
    ls_llib_anchor(s, ts);
    if (s->ref[LS_H_PACKET] == LUA_NOREF)
        return;
    struct ls_call a = {.s = s, .h = LS_H_PACKET, .pkt = pkt, .ts = ts};
    ls_script_dispatch(s, &a);
}

void ls_script_done(struct ls_script *s)
{
    if (s->ref[LS_H_DONE] == LUA_NOREF)
        return;
    struct ls_call a = {.s = s, .h = LS_H_DONE};
    ls_script_dispatch(s, &a);
}

/* ------------------------------------------------------------------------
 * Creation and loading
 * ------------------------------------------------------------------------ */

/* Builds the environment under protection: a memory error while opening the
 * libraries becomes an errbuf message, not a panic. */
static int pinit(lua_State *L)
{
    struct ls_script *s = lua_touserdata(L, 1);
    const struct ls_script_config *cfg = &s->cfg;

    /* Most garbage is data strings that die right after their handler
     * returns: the generational collector reclaims them without re-marking
     * the whole heap each cycle (about 15% fewer instructions per chunk). */
    lua_gc(L, LUA_GCGEN, 0, 0);
    luaL_openlibs(L);
    ls_lconn_init(L);
    ls_llib_open(L, s);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "sniff");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "sniff"); /* require "sniff" returns the same table */
    lua_pop(L, 2);

    if (cfg->lua_dir != NULL && cfg->lua_dir[0] != '\0') {
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "path");
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", cfg->lua_dir, cfg->lua_dir,
                        lua_tostring(L, -1));
        lua_setfield(L, -3, "path");
        lua_pop(L, 2);
    }

    /* arg, as lua(1) builds it: arg[0] is the script, arg[1..n] its arguments. */
    lua_createtable(L, cfg->nargs > 0 ? cfg->nargs : 0, 1);
    lua_pushstring(L, cfg->path != NULL ? cfg->path : "luasniff");
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < cfg->nargs; i++) {
        lua_pushstring(L, cfg->args[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    return 0;
}

struct ls_script *ls_script_new(const struct ls_script_config *cfg, struct ls_flow_table *ft,
                                const struct ls_log *lg, char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_script *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "cannot create the Lua state: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->ft = ft;
    s->lg = lg;
    s->warn_on = true;
    s->unanchored = true;
    for (int i = 0; i < LS_H__COUNT; i++)
        s->ref[i] = LUA_NOREF;
    ls_lalloc_init(&s->alloc, LS_LALLOC_CACHE_DEFAULT);
    s->L = lua_newstate(lalloc, s);
    if (s->L == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "cannot create the Lua state: out of memory%s",
                 cfg->max_memory ? " (--max-lua-memory too small)" : "");
        ls_lalloc_close(&s->alloc);
        free(s);
        return NULL;
    }
    lua_atpanic(s->L, panic);
    lua_setwarnf(s->L, warnf, s);
    lua_pushcfunction(s->L, msghandler);
    lua_pushcfunction(s->L, pinit);
    lua_pushlightuserdata(s->L, s);
    if (lua_pcall(s->L, 1, 0, 1) != LUA_OK) {
        const char *msg = lua_tostring(s->L, -1);
        snprintf(errbuf, LS_ERRBUF_SIZE, "cannot set up Lua: %s%s", msg ? msg : "?",
                 cfg->max_memory ? " (--max-lua-memory too small?)" : "");
        ls_script_free(s);
        return NULL;
    }
    lua_settop(s->L, 0);
    return s;
}

/* One chunk to load and run: a buffer (code != NULL) or a file (path, NULL
 * for stdin). */
struct lload {
    struct ls_script *s;
    const char *code;
    size_t len;
    const char *name;
    const char *path;
    bool with_args;   /* pass the script arguments as `...` */
    bool load_failed; /* the chunk did not compile: no traceback wanted */
};

static int pload(lua_State *L)
{
    struct lload *ld = lua_touserdata(L, 1);
    const struct ls_script_config *cfg = &ld->s->cfg;
    int st = ld->code != NULL ? luaL_loadbufferx(L, ld->code, ld->len, ld->name, "t")
                              : luaL_loadfilex(L, ld->path, "t");
    if (st != LUA_OK) {
        ld->load_failed = true;
        /* Some load errors (a binary chunk) do not name the file. */
        const char *msg = lua_tostring(L, -1);
        const char *name = ld->path != NULL ? ld->path : "stdin";
        if (ld->code == NULL && msg != NULL && strstr(msg, name) == NULL)
            lua_pushfstring(L, "%s: %s", name, msg);
        return 1; /* the message, as the result */
    }
    int n = 0;
    if (ld->with_args) {
        luaL_checkstack(L, cfg->nargs, "too many script arguments");
        for (n = 0; n < cfg->nargs; n++)
            lua_pushstring(L, cfg->args[n]);
    }
    lua_call(L, n, 0);
    return 0;
}

static int run(struct ls_script *s, struct lload *ld, char errbuf[LS_ERRBUF_SIZE])
{
    lua_State *L = s->L;
    int top = lua_gettop(L);
    int rc = 0;
    ld->s = s;
    s->loading = true;
    lua_pushcfunction(L, msghandler);
    lua_pushcfunction(L, pload);
    lua_pushlightuserdata(L, ld);
    int st = lua_pcall(L, 1, 1, top + 1);
    s->loading = false;
    if (st != LUA_OK || ld->load_failed) {
        const char *msg = lua_tostring(L, -1);
        seterr(errbuf, msg != NULL ? msg : "(error object is not a string)");
        rc = LS_ESCRIPT;
    }
    lua_settop(L, top);
    return rc;
}

int ls_script_load_buffer(struct ls_script *s, const char *code, size_t len, const char *name,
                          char errbuf[LS_ERRBUF_SIZE])
{
    struct lload ld = {.code = code, .len = len, .name = name, .with_args = true};
    return run(s, &ld, errbuf);
}

int ls_script_load(struct ls_script *s, char errbuf[LS_ERRBUF_SIZE])
{
    const struct ls_script_config *cfg = &s->cfg;
    for (size_t i = 0; i < cfg->nchunks; i++) {
        struct lload ld = {
            .code = cfg->chunks[i], .len = strlen(cfg->chunks[i]), .name = "=(command line)"};
        int rc = run(s, &ld, errbuf);
        if (rc != 0)
            return rc;
    }
    if (cfg->path != NULL) {
        bool in = strcmp(cfg->path, "-") == 0;
        struct lload ld = {.path = in ? NULL : cfg->path, .with_args = true};
        return run(s, &ld, errbuf);
    }
    if (cfg->nchunks == 0)
        return ls_script_load_buffer(s, builtin_summary, sizeof builtin_summary - 1, "=(default)",
                                     errbuf);
    return 0;
}

/* ------------------------------------------------------------------------
 * Queries and teardown
 * ------------------------------------------------------------------------ */

void ls_script_set_ifstats(struct ls_script *s, ls_script_ifstats_fn fn, void *ud)
{
    s->ifstats = fn;
    s->ifstats_ud = ud;
}

const char *ls_script_filter(const struct ls_script *s)
{
    return s->filter;
}

bool ls_script_stop_requested(const struct ls_script *s)
{
    return s->stop;
}

bool ls_script_failed(const struct ls_script *s)
{
    return s->failed;
}

size_t ls_script_memory(const struct ls_script *s)
{
    return s->mem;
}

int ls_script_stack_top(const struct ls_script *s)
{
    return lua_gettop(s->L);
}

void ls_script_free(struct ls_script *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < LS_H__COUNT; i++) {
        luaL_unref(s->L, LUA_REGISTRYINDEX, s->ref[i]);
        s->ref[i] = LUA_NOREF;
    }
    ls_llib_timers_free(s);
    lua_close(s->L); /* finalizers run; their warnings reach the log */
    ls_lconn_free(s);
    ls_lalloc_close(&s->alloc);
    free(s->heap); /* again: a finalizer may have scheduled a timer */
    free(s->filter);
    free(s);
}
