/* lconn.c: the connection object scripts see. A userdata box pointing at the
 * C connection until teardown, then at a snapshot of its read-only fields
 * (liolib's closed-file pattern). C owns the connection; Lua owns the box.
 *
 * Scripts keep their state on the object (conn.n = conn.n + 1 for every
 * chunk), so that path must not go through C. A box starts with the shared
 * metatable, whose C __index serves built-in fields and methods. The first
 * script field gives the box its own metatable whose __index and __newindex
 * are a field table F, so script fields become plain table accesses; F's
 * shared metatable catches the rest (built-ins, methods, and assignments to
 * built-in names, which raise). F holds the box under a private key, and no
 * script can reach F itself. Boxes that never get a field stay one object. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "conn.h"
#include "decode.h"
#include "flow.h"
#include "lhost.h"

/* The read-only fields, as they were at teardown. */
struct lsnap {
    uint64_t id;
    uint64_t cbytes, sbytes;
    double start, last;
    enum ls_conn_state state;
    enum ls_close_reason why;
    unsigned flags;
    uint16_t cport, sport;
    uint8_t af;
    uint8_t cip[16], sip[16];
};

/* User value 1: conn:on handlers by event + 1, created on first use. */
struct lbox {
    struct ls_conn *c; /* NULL once torn down */
    struct ls_script *s;
    struct lsnap snap;
};

enum { UV_HANDLERS = 1 };

/* Private keys: the box in its field table, and the mark of a box's
 * metatable (boxes have one metatable each, so checkudata cannot tell). */
static const char boxkey, boxtag;

#define LS_CONN_FIELDS_MT "luasniff.conn.fields"

enum field {
    F_ID,
    F_CLIENT_IP,
    F_CLIENT_PORT,
    F_SERVER_IP,
    F_SERVER_PORT,
    F_STATE,
    F_START_TIME,
    F_LAST_ACTIVITY,
    F_CLIENT_BYTES,
    F_SERVER_BYTES,
    F_CLOSE_REASON,
    F_IGNORED,
    F_MIDSTREAM,
    F__COUNT
};

static const char *const fields[F__COUNT] = {
    "id",           "client_ip",  "client_port",   "server_ip",    "server_port",
    "state",        "start_time", "last_activity", "client_bytes", "server_bytes",
    "close_reason", "ignored",    "midstream",
};

static void take(struct lsnap *o, const struct ls_conn *c)
{
    o->id = c->id;
    o->cbytes = ls_conn_bytes(c, LS_DIR_C2S);
    o->sbytes = ls_conn_bytes(c, LS_DIR_S2C);
    o->start = c->start_time;
    o->last = c->last_activity;
    o->state = c->state;
    o->why = c->close_reason;
    o->flags = c->flags;
    o->cport = c->client_port;
    o->sport = c->server_port;
    o->af = c->af;
    memcpy(o->cip, c->client_ip, sizeof o->cip);
    memcpy(o->sip, c->server_ip, sizeof o->sip);
}

/* The fields to read: live while attached, the snapshot afterwards. */
static const struct lsnap *view(const struct lbox *b, struct lsnap *tmp)
{
    if (b->c == NULL)
        return &b->snap;
    take(tmp, b->c);
    return tmp;
}

static struct lbox *testbox(lua_State *L, int idx)
{
    struct lbox *b = lua_touserdata(L, idx);
    if (b == NULL || !lua_getmetatable(L, idx))
        return NULL;
    bool ok = lua_rawgetp(L, -1, &boxtag) == LUA_TBOOLEAN;
    lua_pop(L, 2);
    return ok ? b : NULL;
}

static struct lbox *checkbox(lua_State *L, int idx)
{
    struct lbox *b = testbox(L, idx);
    if (b == NULL)
        luaL_typeerror(L, idx, "connection");
    return b;
}

/* Acting methods need the live connection (liolib's tofile). */
static struct lbox *checkconn(lua_State *L, int idx)
{
    struct lbox *b = checkbox(L, idx);
    if (b->c == NULL)
        luaL_error(L, "connection is torn down");
    return b;
}

/* "a.b.c.d:port" or "[v6]:port" into buf. */
static void endpoint(char *buf, size_t size, uint8_t af, const uint8_t ip[16], uint16_t port)
{
    char a[64];
    ls_addr_format(af, ip, a, sizeof a);
    snprintf(buf, size, af == 6 ? "[%s]:%u" : "%s:%u", a, (unsigned)port);
}

static void puship(lua_State *L, uint8_t af, const uint8_t ip[16])
{
    char a[64];
    lua_pushstring(L, ls_addr_format(af, ip, a, sizeof a));
}

static void pushfield(lua_State *L, const struct lsnap *v, enum field f)
{
    switch (f) {
    case F_ID: lua_pushinteger(L, (lua_Integer)v->id); break;
    case F_CLIENT_IP: puship(L, v->af, v->cip); break;
    case F_CLIENT_PORT: lua_pushinteger(L, v->cport); break;
    case F_SERVER_IP: puship(L, v->af, v->sip); break;
    case F_SERVER_PORT: lua_pushinteger(L, v->sport); break;
    case F_STATE: lua_pushstring(L, ls_conn_state_name(v->state)); break;
    case F_START_TIME: lua_pushnumber(L, v->start); break;
    case F_LAST_ACTIVITY: lua_pushnumber(L, v->last); break;
    case F_CLIENT_BYTES: lua_pushinteger(L, (lua_Integer)v->cbytes); break;
    case F_SERVER_BYTES: lua_pushinteger(L, (lua_Integer)v->sbytes); break;
    case F_CLOSE_REASON:
        if (v->why == LS_CLOSE_NONE)
            lua_pushnil(L);
        else
            lua_pushstring(L, ls_close_reason_name(v->why));
        break;
    case F_IGNORED: lua_pushboolean(L, (v->flags & LS_CONN_IGNORED) != 0); break;
    case F_MIDSTREAM: lua_pushboolean(L, (v->flags & LS_CONN_MIDSTREAM) != 0); break;
    case F__COUNT: lua_pushnil(L); break;
    }
}

struct ls_conn *ls_lconn_check(lua_State *L, int idx)
{
    return checkconn(L, idx)->c;
}

/* ------------------------------------------------------------------------
 * Metamethods
 * ------------------------------------------------------------------------ */

/* F's __index: a name F does not hold. Upvalue 1 maps each built-in name
 * to its field number or its method; anything else is nil. */
static int fields_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    int t = lua_rawget(L, lua_upvalueindex(1));
    if (t != LUA_TNUMBER)
        return 1; /* a method, or nil */
    int f = (int)lua_tointeger(L, -1);
    lua_rawgetp(L, 1, &boxkey);
    struct lbox *b = lua_touserdata(L, -1);
    struct lsnap tmp;
    pushfield(L, view(b, &tmp), (enum field)f);
    return 1;
}

/* The shared __index of a box without script fields: built-ins and methods. */
static int box_index(lua_State *L)
{
    struct lbox *b = checkbox(L, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER) {
        struct lsnap tmp;
        pushfield(L, view(b, &tmp), (enum field)lua_tointeger(L, -1));
    }
    return 1;
}

/* The shared __newindex: the box's first script field. Gives the box its
 * own metatable with a field table (see the banner). */
static int box_newindex(lua_State *L)
{
    static const char *const shared[] = {"__name", "__tostring", "__metatable"};
    checkbox(L, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return luaL_error(L, "connection field '%s' is read-only", lua_tostring(L, 2));
    lua_pop(L, 1);
    lua_createtable(L, 0, 4); /* F */
    luaL_setmetatable(L, LS_CONN_FIELDS_MT);
    lua_pushvalue(L, 1);
    lua_rawsetp(L, -2, &boxkey);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);        /* raises on a nil or NaN key, before anything changed */
    lua_createtable(L, 0, 6); /* the box's own metatable */
    lua_getmetatable(L, 1);
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        lua_getfield(L, -1, shared[i]);
        lua_setfield(L, -3, shared[i]);
    }
    lua_rawgetp(L, -1, &boxtag);
    lua_rawsetp(L, -3, &boxtag);
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, 1);
    return 0;
}

/* F's __newindex: a new script field, unless it names a built-in. */
static int fields_newindex(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return luaL_error(L, "connection field '%s' is read-only", lua_tostring(L, 2));
    lua_pop(L, 1);
    lua_rawset(L, 1); /* raises on a nil or NaN key, as tables do */
    return 0;
}

static int conn_tostring(lua_State *L)
{
    struct lbox *b = checkbox(L, 1);
    struct lsnap tmp;
    const struct lsnap *v = view(b, &tmp);
    char cl[80], sv[80];
    endpoint(cl, sizeof cl, v->af, v->cip, v->cport);
    endpoint(sv, sizeof sv, v->af, v->sip, v->sport);
    lua_pushfstring(L, "conn#%I %s -> %s", (lua_Integer)v->id, cl, sv);
    return 1;
}

/* ------------------------------------------------------------------------
 * Methods
 * ------------------------------------------------------------------------ */

/* conn:on(event, fn|nil): this connection's own handler, in place of the
 * global one. Only events that concern one connection after it opened. */
static int conn_on(lua_State *L)
{
    struct lbox *b = checkconn(L, 1);
    int h = luaL_checkoption(L, 2, NULL, ls_handler_names);
    luaL_argcheck(L,
                  h == LS_H_SENT_DATA || h == LS_H_RECEIVED_DATA || h == LS_H_GAP ||
                      h == LS_H_CLOSED || h == LS_H_TEARDOWN,
                  2, "not a per-connection event");
    luaL_checkany(L, 3);
    bool set = !lua_isnil(L, 3);
    if (set)
        luaL_argexpected(L, ls_llib_callable(L, 3), 3, "function");
    if (lua_getiuservalue(L, 1, UV_HANDLERS) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, LS_H__COUNT, 0);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_HANDLERS);
    }
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, h + 1);
    /* The bit is the hot path's gate; set it only once the table holds fn. */
    if (set)
        b->c->lua_handlers |= 1u << h;
    else
        b->c->lua_handlers &= ~(1u << h);
    return 0;
}

static int conn_ignore(lua_State *L)
{
    struct lbox *b = checkconn(L, 1);
    ls_flow_ignore(b->s->ft, b->c);
    return 0;
}

static int conn_close(lua_State *L)
{
    struct lbox *b = checkconn(L, 1);
    ls_flow_request_close(b->s->ft, b->c);
    return 0;
}

/* ------------------------------------------------------------------------
 * Host side
 * ------------------------------------------------------------------------ */

void ls_lconn_init(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"on", conn_on},
        {"ignore", conn_ignore},
        {"close", conn_close},
        {"keep_packets", ls_lpcapw_conn_keep},
        {"kept", ls_lpcapw_conn_kept},
        {NULL, NULL},
    };
    /* The names table: methods, and built-in field names to numbers. */
    luaL_newmetatable(L, LS_CONN_FIELDS_MT);
    luaL_newlib(L, methods);
    for (int i = 0; i < F__COUNT; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, fields[i]);
    }
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, fields_index, 1);
    lua_setfield(L, -3, "__index");
    lua_pushcclosure(L, fields_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pop(L, 1);
    /* The shared metatable of boxes without script fields. */
    luaL_newmetatable(L, LS_CONN_MT);
    luaL_getmetatable(L, LS_CONN_FIELDS_MT);
    lua_getfield(L, -1, "__index");
    lua_getupvalue(L, -1, 1); /* the names table */
    lua_remove(L, -2);
    lua_remove(L, -2);
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, box_index, 1);
    lua_setfield(L, -3, "__index");
    lua_pushcclosure(L, box_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, conn_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "connection");
    lua_setfield(L, -2, "__metatable"); /* scripts cannot swap it */
    lua_pushboolean(L, 1);
    lua_rawsetp(L, -2, &boxtag);
    lua_pop(L, 1);
}

/* ---- anchoring (see struct ls_boxes) ---- */

/* Pushes the slab table holding box `id`. Allocates nothing. */
static void push_slab(lua_State *L, const struct ls_script *s, int id)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->boxes.slab[id / LS_BOX_SLAB]);
}

/* Pushes the box with id `id`. Allocates nothing. */
static void push_box(lua_State *L, const struct ls_script *s, int id)
{
    push_slab(L, s, id);
    lua_rawgeti(L, -1, id % LS_BOX_SLAB + 1);
    lua_replace(L, -2);
}

/* Makes a new, empty slab the active one. Raises on memory error before
 * changing anything the other functions read. */
static void add_slab(lua_State *L, struct ls_boxes *x)
{
    size_t n = x->nslab + 1;
    if (n > (size_t)(INT_MAX / LS_BOX_SLAB))
        luaL_error(L, "too many connection objects");
    /* Every array has room for every slab, so detaching never grows one. */
    int *slab = realloc(x->slab, n * sizeof *slab);
    if (slab != NULL)
        x->slab = slab;
    uint64_t *empty = realloc(x->empty, n * sizeof *empty);
    if (empty != NULL)
        x->empty = empty;
    size_t *half = realloc(x->half, n * sizeof *half);
    if (half != NULL)
        x->half = half;
    if (slab == NULL || empty == NULL || half == NULL)
        luaL_error(L, "not enough memory");
    lua_createtable(L, LS_BOX_SLAB, 0); /* every slot in the array part */
    x->slab[x->nslab] = luaL_ref(L, LUA_REGISTRYINDEX);
    x->empty[x->nslab] = ~(uint64_t)0;
    x->active = x->nslab++;
}

/* A slot for a new box, taken from the active slab. May raise. */
static int take_slot(lua_State *L, struct ls_boxes *x)
{
    if (x->active >= x->nslab || x->empty[x->active] == 0) {
        if (x->nhalf > 0)
            x->active = x->half[--x->nhalf];
        else
            add_slab(L, x);
    }
    return (int)x->active * LS_BOX_SLAB + __builtin_ctzll(x->empty[x->active]);
}

/* Slot `id` holds no box any more. */
static void free_slot(struct ls_boxes *x, int id)
{
    size_t k = (size_t)id / LS_BOX_SLAB;
    x->empty[k] |= (uint64_t)1 << (id % LS_BOX_SLAB);
    if (k != x->active && __builtin_popcountll(x->empty[k]) == LS_BOX_SLAB / 2)
        x->half[x->nhalf++] = k; /* at most once: it leaves only by becoming active */
}

bool ls_lconn_push_slab(lua_State *L, const struct ls_script *s, const struct ls_conn *c)
{
    if (c->lua_ref <= 0)
        return false;
    push_slab(L, s, c->lua_ref - 1);
    return true;
}

void ls_lconn_push_in_slab(lua_State *L, int idx, const struct ls_conn *c)
{
    lua_rawgeti(L, idx, (c->lua_ref - 1) % LS_BOX_SLAB + 1);
}

void ls_lconn_free(struct ls_script *s)
{
    free(s->boxes.slab);
    free(s->boxes.empty);
    free(s->boxes.half);
    s->boxes = (struct ls_boxes){0};
}

void ls_lconn_push(lua_State *L, struct ls_script *s, struct ls_conn *c)
{
    /* Box ids are >= 0 and stored + 1; a negative (or zeroed) lua_ref means
     * no box. */
    if (c->lua_ref > 0) {
        push_box(L, s, c->lua_ref - 1);
        return;
    }
    int id = take_slot(L, &s->boxes);
    push_slab(L, s, id);
    struct lbox *b = lua_newuserdatauv(L, sizeof *b, 1);
    memset(b, 0, sizeof *b);
    b->c = c;
    b->s = s;
    luaL_setmetatable(L, LS_CONN_MT);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, id % LS_BOX_SLAB + 1); /* an array slot: cannot raise */
    lua_replace(L, -2);
    s->boxes.empty[id / LS_BOX_SLAB] &= ~((uint64_t)1 << (id % LS_BOX_SLAB));
    c->lua_ref = id + 1;
}

bool ls_lconn_handler(lua_State *L, const struct ls_script *s, struct ls_conn *c, enum ls_handler h)
{
    if (!(c->lua_handlers & (1u << h)) || c->lua_ref <= 0)
        return false;
    push_box(L, s, c->lua_ref - 1);
    if (lua_getiuservalue(L, -1, UV_HANDLERS) != LUA_TTABLE) {
        lua_pop(L, 2);
        return false;
    }
    if (lua_rawgeti(L, -1, (lua_Integer)h + 1) == LUA_TNIL) {
        lua_pop(L, 3);
        return false;
    }
    lua_replace(L, -3); /* leaves just the function */
    lua_pop(L, 1);
    return true;
}

void ls_lconn_detach(lua_State *L, struct ls_script *s, struct ls_conn *c)
{
    /* Only stack reads, plain stores and a nil stored in an array slot:
     * nothing allocates, so nothing can raise. */
    if (c->lua_ref > 0) {
        int id = c->lua_ref - 1;
        push_slab(L, s, id);
        lua_rawgeti(L, -1, id % LS_BOX_SLAB + 1);
        struct lbox *b = lua_touserdata(L, -1);
        if (b != NULL) {
            take(&b->snap, c);
            b->c = NULL;
            lua_pushnil(L); /* let conn:on closures be collected */
            lua_setiuservalue(L, -2, UV_HANDLERS);
        }
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_rawseti(L, -2, id % LS_BOX_SLAB + 1);
        lua_pop(L, 1);
        free_slot(&s->boxes, id);
    }
    c->lua_ref = LUA_NOREF;
    c->lua_handlers = 0;
}
