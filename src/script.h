/* script.h: the Lua 5.4 host. Creates the state, loads the user's script (or
 * the built-in summary), keeps handler references, and turns flow-table
 * events into handler calls through one protected entry point. No libuv or
 * libpcap here; the capture clock and counters come from the flow table. */
#ifndef LS_SCRIPT_H
#define LS_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "flow.h"

struct ls_log;
struct ls_packet;

/* The events a script can handle; the names are part of the Lua API
 * (sniff.on(name, fn)). X-macro so the enum and the name table agree. */
#define LS_HANDLER_MAP(XX)             \
    XX(CONNECTION, "connection")       \
    XX(SENT_DATA, "sent_data")         \
    XX(RECEIVED_DATA, "received_data") \
    XX(GAP, "gap")                     \
    XX(CLOSED, "closed")               \
    XX(TEARDOWN, "teardown")           \
    XX(LOG, "log")                     \
    XX(PACKET, "packet")               \
    XX(DONE, "done")

enum ls_handler {
#define XX(name, s) LS_H_##name,
    LS_HANDLER_MAP(XX)
#undef XX
        LS_H__COUNT
};

/* Returns the Lua-visible name of an event ("sent_data", ...). */
const char *ls_script_handler_name(enum ls_handler h);

struct ls_script_config {
    const char *path;          /* script file, "-" for stdin; NULL: only chunks or the built-in */
    const char *const *chunks; /* -e chunks, run in order before the script */
    size_t nchunks;
    char *const *args; /* script arguments: arg[1..nargs] */
    int nargs;
    const char *lua_dir; /* directory of the bundled modules (lua/) */
    bool strict;         /* a handler error stops the run (exit 1) */
    size_t max_memory;   /* bytes the Lua state may hold; 0: no limit */
};

struct ls_script;

/* Creates a Lua state with the `sniff` module bound to `ft` and `lg`
 * (both borrowed, must outlive the script). Returns NULL and fills errbuf on
 * failure. */
struct ls_script *ls_script_new(const struct ls_script_config *cfg, struct ls_flow_table *ft,
                                const struct ls_log *lg, char errbuf[LS_ERRBUF_SIZE]);

/* Runs the -e chunks and the script (or, with neither, the built-in
 * per-connection summary). Returns 0, or LS_ESCRIPT with the error and its
 * traceback in errbuf. */
int ls_script_load(struct ls_script *s, char errbuf[LS_ERRBUF_SIZE]);

/* Runs `len` bytes of Lua source as the script, with chunk name `name`
 * ("@file.lua" to report errors as file.lua:LINE). Same protection, error
 * reporting and return values as ls_script_load; used by ls_script_load for
 * the built-in script, and by tests. Calls into Lua. */
int ls_script_load_buffer(struct ls_script *s, const char *code, size_t len, const char *name,
                          char errbuf[LS_ERRBUF_SIZE]);

/* Fills `hooks` (ud = s) so that flow-table events reach the script's
 * handlers. The hooks call into Lua, may call ls_flow_ignore and
 * ls_flow_request_close on the connection they are given, and expect
 * `teardown` for every connection whose `open` hook ran (even when it
 * returned false): that is where the script's box is detached. */
void ls_script_hooks(struct ls_script *s, struct ls_flow_hooks *hooks);

/* True when the script registered a `packet` handler (the app can skip
 * ls_script_packet otherwise). */
bool ls_script_wants_packets(const struct ls_script *s);

/* Calls the `packet` handler, if any, with a table describing `pkt`
 * (borrowed) captured at `ts`. Calls into Lua. */
void ls_script_packet(struct ls_script *s, const struct ls_packet *pkt, double ts);

/* Fills `out` with the counters of live interface `i` (from 0), or returns
 * false past the last one. */
typedef bool (*ls_script_ifstats_fn)(void *ud, size_t i, struct ls_iface_stats *out);

/* Where sniff.stats() and `done` find the live interfaces' counters (the
 * `interfaces` list and `drops`); without it both are empty. `ud` is
 * borrowed. */
void ls_script_set_ifstats(struct ls_script *s, ls_script_ifstats_fn fn, void *ud);

/* Capture filter set by sniff.filter() while loading, or NULL (borrowed). */
const char *ls_script_filter(const struct ls_script *s);

/* Capture time of the earliest pending sniff.after/every timer, or a
 * negative value when none is pending or the clock has not started (timers
 * made while loading count from the first packet's time, which is fixed on
 * the first call here, to a hook or to ls_script_packet that sees a non-zero
 * clock). */
double ls_script_next_timer(struct ls_script *s);

/* The earliest pending deadline later than `after`, or a negative value:
 * where the clock steps next when the timers due at `after` were re-armed
 * there by their callbacks (they fire at that next step). */
double ls_script_next_timer_after(struct ls_script *s, double after);

/* Fires, in deadline order, every timer due at or before `now` (a capture
 * time). The clock is heading for `upto` (>= now): a periodic timer is
 * rescheduled to its first period after it, so a jump over several periods
 * fires it once. Timers created or rescheduled by these callbacks fire at a
 * later call at the earliest, so one call never loops. Calls into Lua. */
void ls_script_run_timers(struct ls_script *s, double now, double upto);

/* Calls the `done` handler with the final stats (after every teardown).
 * Calls into Lua. */
void ls_script_done(struct ls_script *s);

/* True once sniff.stop() was called, or a handler failed under --strict. */
bool ls_script_stop_requested(const struct ls_script *s);

/* True when a handler failed under --strict (the run must exit 1). */
bool ls_script_failed(const struct ls_script *s);

/* Bytes currently allocated by the Lua state. */
size_t ls_script_memory(const struct ls_script *s);

/* Number of values on the Lua stack between calls; always 0 unless the host
 * is broken (exposed for tests). */
int ls_script_stack_top(const struct ls_script *s);

/* Closes the Lua state. Connections must have been torn down before. */
void ls_script_free(struct ls_script *s);

#endif
