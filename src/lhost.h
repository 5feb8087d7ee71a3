/* lhost.h: internals shared by the three Lua binding files (script.c: state
 * and dispatch, lconn.c: connection boxes, llib.c: the `sniff` module and
 * timers). Not a public header: nothing outside those files includes it. */
#ifndef LS_LHOST_H
#define LS_LHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "lalloc.h"
#include "script.h"

#if LUA_VERSION_NUM != 504
#error "luasniff needs Lua 5.4"
#endif

struct ls_conn;
struct ls_packet;

/* Metatable names, visible to scripts through __name. */
#define LS_CONN_MT  "luasniff.conn"
#define LS_TIMER_MT "luasniff.timer"

/* A pending sniff.after/every timer. It lives in a Lua userdata (the handle
 * the script gets), kept alive by `self` while it is pending; its function
 * is the userdata's user value 1. Lua's collector never moves objects, so
 * the heap may point at it. */
struct ls_timer {
    double deadline; /* capture time; relative delay while s->unanchored */
    double interval; /* > 0 for sniff.every, 0 for sniff.after */
    uint64_t seq;    /* scheduling order: FIFO among equal deadlines */
    size_t pos;      /* index in s->heap, or LS_TIMER_IDLE */
    int self;        /* registry ref of the handle while pending */
};

#define LS_TIMER_IDLE ((size_t)-1)

/* Connection boxes are anchored in slab tables of LS_BOX_SLAB slots, not in
 * the registry itself. Storing a new box makes the collector traverse its
 * table again at its next steps; new boxes fill one slab at a time (the
 * active one, then a slab at least half empty), so that only a few small
 * tables are traversed instead of one holding every live box. A box's id
 * (c->lua_ref - 1) is slab * LS_BOX_SLAB + slot. */
enum { LS_BOX_SLAB = 64 };
struct ls_boxes {
    int *slab;       /* registry refs of the slab tables */
    uint64_t *empty; /* per slab: bit i set when slot i holds no box */
    size_t nslab;
    size_t active; /* the slab new boxes go to (nslab: none) */
    size_t *half;  /* slabs that became at least half empty, a stack */
    size_t nhalf;
};

struct ls_script {
    lua_State *L;
    struct ls_flow_table *ft; /* borrowed */
    const struct ls_log *lg;  /* borrowed */
    struct ls_script_config cfg;
    int ref[LS_H__COUNT]; /* registry refs of the global handlers, or LUA_NOREF */
    char *filter;         /* sniff.filter(), malloc'd */
    size_t mem, mem_peak; /* bytes held by the Lua state */
    int depth;            /* dispatches in progress: 0 or 1 */
    bool loading;         /* the script's main chunk is running */
    bool loaded;          /* ls_script_load finished */
    bool stop;            /* sniff.stop() or a --strict failure */
    bool failed;          /* a handler failed under --strict */
    bool warn_on;         /* Lua warnings are logged ("@on"/"@off") */
    size_t warn_len;
    char warn[256]; /* a warning being assembled from pieces */
    /* timers: binary min-heap on (deadline, seq) */
    struct ls_timer **heap;
    size_t nheap, capheap;
    uint64_t timer_seq;
    bool unanchored;              /* deadlines are relative: the clock has not started */
    ls_script_ifstats_fn ifstats; /* live interfaces' counters, or NULL */
    void *ifstats_ud;
    size_t keep_default; /* sniff.keep_packets(): frame budget of new connections */
    /* the block cache behind the state's allocator, freed after lua_close */
    struct ls_lalloc alloc;
    struct ls_boxes boxes; /* where connection boxes are anchored (lconn.c) */
};

/* One C -> Lua call, described on the caller's stack and read by the
 * trampoline under protection. */
struct ls_call {
    struct ls_script *s;
    enum ls_handler h; /* event (ignored for timers) */
    struct ls_conn *c; /* connection argument, or NULL */
    const char *str;   /* data bytes, direction, reason or message */
    size_t len;        /* length of str */
    const char *str2;  /* log level name */
    uint64_t num;      /* gap size */
    bool timer;        /* fire the timer whose handle is `tref` instead */
    int tref;          /* registry ref of that handle */
    const struct ls_packet *pkt;
    double ts;
    bool ret; /* `connection`: false when the script returned false */
};

/* The single entry point from C into Lua (script.c): runs `a` under
 * lua_pcall with the traceback message handler and applies the error
 * policy. Returns 0, or LS_ESCRIPT when the handler raised. */
int ls_script_dispatch(struct ls_script *s, struct ls_call *a);

/* Handler names, indexed by enum ls_handler, NULL-terminated (script.c). */
extern const char *const ls_handler_names[LS_H__COUNT + 1];

/* lconn.c. Creates the "luasniff.conn" metatable. Raises on memory error. */
void ls_lconn_init(lua_State *L);

/* Pushes the box of `c`, creating it (and c->lua_ref) on first use. Raises
 * on memory error: call protected. */
void ls_lconn_push(lua_State *L, struct ls_script *s, struct ls_conn *c);

/* For a connection that has a box: pushes the slab table holding it and
 * returns true (false, pushing nothing, when there is no box). Then
 * ls_lconn_push_in_slab, given that table's stack index, pushes the box:
 * two lookups and no stack shuffling, for the per-chunk path. */
bool ls_lconn_push_slab(lua_State *L, const struct ls_script *s, const struct ls_conn *c);
void ls_lconn_push_in_slab(lua_State *L, int idx, const struct ls_conn *c);

/* Pushes c's own handler for `h` (set with conn:on) and returns true, or
 * pushes nothing and returns false. */
bool ls_lconn_handler(lua_State *L, const struct ls_script *s, struct ls_conn *c,
                      enum ls_handler h);

/* Detaches c's box (snapshot, box->c = NULL, slot emptied). Allocates
 * nothing, so it is safe unprotected. */
void ls_lconn_detach(lua_State *L, struct ls_script *s, struct ls_conn *c);

/* Frees the C side of the box slabs (after lua_close). */
void ls_lconn_free(struct ls_script *s);

/* Returns the live connection of the box at `idx`; raises "connection is
 * torn down" (or a type error) otherwise. */
struct ls_conn *ls_lconn_check(lua_State *L, int idx);

/* lpcapw.c. Creates the pcap writer metatable and adds pcap_writer and
 * keep_packets to the table on top of the stack (the `sniff` table). Raises
 * on memory error. */
void ls_lpcapw_open(lua_State *L, struct ls_script *s);

/* conn:keep_packets(bytes) and conn:kept() (lua_CFunctions, in lconn's
 * method table). */
int ls_lpcapw_conn_keep(lua_State *L);
int ls_lpcapw_conn_kept(lua_State *L);

/* A new connection: gives it the sniff.keep_packets budget (before the
 * `connection` handler runs). Calls no Lua. */
void ls_lpcapw_conn_open(struct ls_script *s, struct ls_conn *c);

/* At teardown: frees c's kept frames and lets go of the writer it follows.
 * Allocates nothing. */
void ls_lpcapw_conn_release(lua_State *L, struct ls_conn *c);

/* llib.c. Creates the `sniff` table (and the timer metatable) and leaves it
 * on the stack. Raises on memory error. */
void ls_llib_open(lua_State *L, struct ls_script *s);

/* Pushes the sniff.stats() table. Raises on memory error. */
void ls_llib_push_stats(lua_State *L, struct ls_script *s);

/* Pushes the table given to the `packet` handler. Raises on memory error. */
void ls_llib_push_packet(lua_State *L, const struct ls_packet *pkt, double ts);

/* True when the value at `idx` can be called (function, or __call). */
bool ls_llib_callable(lua_State *L, int idx);

/* Starts the timers' clock at `now` if it has not started yet. */
void ls_llib_anchor(struct ls_script *s, double now);

/* Drops every pending timer (at ls_script_free). */
void ls_llib_timers_free(struct ls_script *s);

#endif
