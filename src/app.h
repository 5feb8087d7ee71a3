/* app.h: the run as a whole. Owns the libuv loop, the capture sources, the
 * flow table and the script host, wires them together, and orders shutdown.
 * struct ls_app stays private so that uv.h does not leak into main.c. */
#ifndef LS_APP_H
#define LS_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "flow.h"

struct ls_config {
    const char *const *files; /* -r, in order */
    size_t nfiles;
    const char *filter;       /* -f */
    uint64_t count;           /* -c, 0 = no limit */
    const char *script;       /* SCRIPT.lua, or NULL */
    const char *const *chunks; /* -e */
    size_t nchunks;
    char *const *args;        /* script arguments */
    int nargs;
    const char *lua_dir;      /* bundled modules */
    bool strict;
    int verbosity;            /* 0 normal, <0 quieter, >0 more */
    struct ls_flow_config flow;
};

/* Runs to completion. Returns 0; LS_ESCRIPT when the script failed to load;
 * LS_EIO/LS_ECAPTURE for a runtime failure (the message is in errbuf, and
 * everything before the failure was processed); LS_ESTOP when a --strict
 * script error stopped the run. */
int ls_app_run(const struct ls_config *cfg, char errbuf[LS_ERRBUF_SIZE]);

#endif
