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

struct ls_script_config {
    const char *path;          /* script file, "-" for stdin; NULL: only chunks or the built-in */
    const char *const *chunks; /* -e chunks, run in order before the script */
    size_t nchunks;
    char *const *args;         /* script arguments: arg[1..nargs] */
    int nargs;
    const char *lua_dir;       /* directory of the bundled modules (lua/) */
    bool strict;               /* a handler error stops the run (exit 1) */
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

/* Fills `hooks` so that flow-table events reach the script's handlers. */
void ls_script_hooks(struct ls_script *s, struct ls_flow_hooks *hooks);

/* Capture filter set by sniff.filter() while loading, or NULL (borrowed). */
const char *ls_script_filter(const struct ls_script *s);

/* Capture time of the earliest pending sniff.after/every timer, or a
 * negative value when none is pending. */
double ls_script_next_timer(const struct ls_script *s);

/* Fires, in deadline order, every timer due at or before `now`. */
void ls_script_run_timers(struct ls_script *s, double now);

/* Calls the `done` handler with the final stats. */
void ls_script_done(struct ls_script *s);

/* True once sniff.stop() was called, or a handler failed under --strict. */
bool ls_script_stop_requested(const struct ls_script *s);

/* True when a handler failed under --strict (the run must exit 1). */
bool ls_script_failed(const struct ls_script *s);

/* Closes the Lua state. Connections must have been torn down before. */
void ls_script_free(struct ls_script *s);

#endif
