/* lpcapw.c: carving from Lua. sniff.pcap_writer(path) and its writer
 * objects, sniff.keep_packets(bytes), conn:keep_packets(bytes) and
 * conn:kept(). The files and the kept frames themselves are pcapw.c's; this
 * file binds them, and ties a writer's lifetime to the connections it
 * follows (a registry ref per followed connection). */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "conn.h"
#include "lhost.h"
#include "pcapw.h"

#define LS_WRITER_MT "luasniff.pcap_writer"

/* The userdata: owns the writer, freed by __gc. */
struct lwriter {
    struct ls_pcapw *w; /* NULL only while being created */
};

static struct ls_script *getscript(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static struct lwriter *checkwriter(lua_State *L, int idx)
{
    struct lwriter *lw = luaL_checkudata(L, idx, LS_WRITER_MT);
    luaL_argcheck(L, lw->w != NULL && ls_pcapw_is_open(lw->w), idx, "pcap writer is closed");
    return lw;
}

/* sniff.pcap_writer(path) -> writer | nil, message */
static int l_pcap_writer(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[LS_ERRBUF_SIZE];
    /* The userdata first: once the file is open, nothing may raise before
     * it is owned by something __gc will find. */
    struct lwriter *lw = lua_newuserdatauv(L, sizeof *lw, 0);
    lw->w = NULL;
    luaL_setmetatable(L, LS_WRITER_MT);
    if (ls_pcapw_open(&lw->w, path, err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

/* writer:save(conn) -> frames written now. Writes conn's kept frames, then
 * every later frame of conn as it arrives, until its teardown. */
static int w_save(lua_State *L)
{
    struct lwriter *lw = checkwriter(L, 1);
    struct ls_conn *c = ls_lconn_check(L, 2);
    struct ls_keep *k = c->keep;
    int64_t n;
    int ref;

    if (k != NULL && k->follow == lw->w) {
        lua_pushinteger(L, 0);
        return 1;
    }
    if (k != NULL && k->follow != NULL)
        return luaL_error(L, "connection is already saved to another pcap writer");
    lua_pushvalue(L, 1);
    ref = luaL_ref(L, LUA_REGISTRYINDEX); /* may raise: before any change */
    if (k == NULL && (k = ls_keep_new(0)) == NULL) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return luaL_error(L, "not enough memory");
    }
    c->keep = k;
    k->follow = lw->w;
    k->follow_ref = ref;
    n = ls_keep_write(k, lw->w);
    ls_keep_set_max(k, 0); /* written: no need to hold them any more */
    if (n < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, ls_strerror((int)n));
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* writer:packets() -> frames written so far */
static int w_packets(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, LS_WRITER_MT);
    lua_pushinteger(L, lw->w != NULL ? (lua_Integer)ls_pcapw_count(lw->w) : 0);
    return 1;
}

/* writer:close() -> true | nil, message. Later frames of followed
 * connections are dropped. Closing twice is fine. */
static int w_close(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, LS_WRITER_MT);
    if (lw->w != NULL && ls_pcapw_close(lw->w) != 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "pcap writer: write error");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int w_gc(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, LS_WRITER_MT);
    ls_pcapw_free(lw->w);
    lw->w = NULL;
    return 0;
}

static int w_tostring(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, LS_WRITER_MT);
    if (lw->w == NULL || !ls_pcapw_is_open(lw->w))
        lua_pushliteral(L, "pcap writer (closed)");
    else
        lua_pushfstring(L, "pcap writer (%I packets)", (lua_Integer)ls_pcapw_count(lw->w));
    return 1;
}

static size_t checkbudget(lua_State *L, int idx)
{
    lua_Integer n = luaL_checkinteger(L, idx);
    luaL_argcheck(L, n >= 0, idx, "byte count must be >= 0");
    return (size_t)n;
}

/* sniff.keep_packets(bytes) -> previous value. Every connection created
 * from now on keeps its first `bytes` of frames (0: none). */
static int l_keep_packets(lua_State *L)
{
    struct ls_script *s = getscript(L);
    size_t n = checkbudget(L, 1);
    lua_pushinteger(L, (lua_Integer)s->keep_default);
    s->keep_default = n;
    return 1;
}

int ls_lpcapw_conn_keep(lua_State *L)
{
    struct ls_conn *c = ls_lconn_check(L, 1);
    size_t n = checkbudget(L, 2);
    if (c->keep == NULL) {
        if (n == 0)
            return 0;
        if ((c->keep = ls_keep_new(n)) == NULL)
            return luaL_error(L, "not enough memory");
        return 0;
    }
    ls_keep_set_max(c->keep, n);
    return 0;
}

int ls_lpcapw_conn_kept(lua_State *L)
{
    struct ls_conn *c = ls_lconn_check(L, 1);
    const struct ls_keep *k = c->keep;
    lua_pushinteger(L, k ? (lua_Integer)k->frames : 0);
    lua_pushinteger(L, k ? (lua_Integer)ls_keep_bytes(k) : 0);
    lua_pushinteger(L, k ? (lua_Integer)k->dropped : 0);
    return 3;
}

void ls_lpcapw_open(lua_State *L, struct ls_script *s)
{
    static const luaL_Reg methods[] = {
        {"save", w_save},
        {"packets", w_packets},
        {"close", w_close},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"pcap_writer", l_pcap_writer},
        {"keep_packets", l_keep_packets},
        {NULL, NULL},
    };

    luaL_newmetatable(L, LS_WRITER_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__gc");
    /* A to-be-closed writer closes its file, like writer:close(); freeing it
     * is __gc's, once no followed connection holds it. */
    lua_pushcfunction(L, w_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, w_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    lua_pushlightuserdata(L, s);
    luaL_setfuncs(L, funcs, 1);
}

void ls_lpcapw_conn_open(struct ls_script *s, struct ls_conn *c)
{
    c->keep = NULL;
    if (s->keep_default > 0)
        c->keep = ls_keep_new(s->keep_default); /* NULL: just not kept */
}

void ls_lpcapw_conn_release(lua_State *L, struct ls_conn *c)
{
    struct ls_keep *k = c->keep;
    if (k == NULL)
        return;
    c->keep = NULL;
    if (k->follow_ref != LUA_NOREF && k->follow_ref > 0)
        luaL_unref(L, LUA_REGISTRYINDEX, k->follow_ref);
    ls_keep_free(k);
}
