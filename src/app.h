/* app.h: the run as a whole. Owns the libuv loop, the capture sources, the
 * flow table and the script host, wires them together, and orders shutdown.
 * struct ls_app stays private so that uv.h does not leak into main.c. */
#ifndef LS_APP_H
#define LS_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "capture.h"
#include "common.h"
#include "flow.h"
#include "frag.h"

/* --checksums: which packets with a wrong checksum are dropped. */
enum ls_checksums {
    LS_CHECKSUMS_AUTO = 0, /* a sender's, once it has sent a right one (robustness.md) */
    LS_CHECKSUMS_ALL,      /* every one (--verify-checksums) */
    LS_CHECKSUMS_NONE,     /* none */
};

struct ls_config {
    const char *const *files; /* -r, in order */
    size_t nfiles;
    const char *const *ifaces; /* -i, in order; not together with files */
    size_t nifaces;
    struct ls_live_options live; /* -s, -p, -B, --no-immediate-mode */
    const char *write_file;      /* -w, or NULL */
    const char *user;            /* -Z, or NULL */
    const char *filter;          /* -f */
    uint64_t count;              /* -c, 0 = no limit */
    const char *script;          /* SCRIPT.lua, or NULL */
    const char *const *chunks;   /* -e */
    size_t nchunks;
    char *const *args; /* script arguments */
    int nargs;
    const char *lua_dir; /* bundled modules */
    bool strict;
    size_t lua_memory; /* --max-lua-memory, 0 = no limit */
    int verbosity;     /* 0 normal, <0 quieter, >0 more */
    struct ls_flow_config flow;
    struct ls_frag_config frag;
    enum ls_checksums checksums; /* which packets with a bad checksum are dropped */
};

/* Runs to completion: reads cfg->files in order (connections carry on from
 * one file to the next), or captures on cfg->ifaces until -c, sniff.stop(),
 * SIGINT/SIGTERM or the failure of every interface; then closes every
 * connection with reason "end" and calls the script's `done`. Interfaces are
 * opened, and privileges dropped to cfg->user, before the script loads.
 * `cfg` is borrowed for the call.
 * Returns 0; LS_ESCRIPT when the script failed to load, or LS_EINVAL when
 * libpcap rejects the capture filter (both before any packet is read);
 * LS_EIO when a file could not be opened or read (each such failure is logged
 * as it happens and the file skipped; everything readable was processed) or
 * the -w file could not be written; LS_ECAPTURE when an interface cannot be
 * opened or -Z fails (before the script runs);
 * LS_ESTOP when a --strict script error stopped the run; LS_ENOMEM.
 * errbuf holds a message for the caller to print, or "" when the failure was
 * already logged. */
int ls_app_run(const struct ls_config *cfg, char errbuf[LS_ERRBUF_SIZE]);

#endif
