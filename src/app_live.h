/* app_live.h: the live interfaces of a run on the libuv loop (internal to
 * the ls_io library: app.c is its only user). Opens the interfaces, polls
 * their descriptors, ticks the wall clock while the link is quiet, and keeps
 * libpcap's counters. Frames themselves go through app.c's hooks. */
#ifndef LS_APP_LIVE_H
#define LS_APP_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "capture.h"
#include "common.h"

struct ls_log;
struct ls_live;
struct uv_loop_s;

struct ls_live_hooks {
    void *ud;
    /* `cap` may have frames waiting: read some. Returns 0, or a negative
     * LS_E* when the source failed for good (it is then no longer polled). */
    int (*readable)(void *ud, struct ls_capture *cap);
    /* The wall clock reads `now` (seconds since the epoch) and every source
     * has just been read. Returns the milliseconds wanted until the next tick
     * (clamped to the module's range). */
    int (*tick)(void *ud, double now);
    /* Every source has failed: nothing more will be read. */
    void (*ended)(void *ud);
};

/* Opens and activates each of the `n` interfaces (names borrowed) with
 * `opt`; activation warnings are logged to `lg`. Needs capture privileges,
 * which may be dropped afterwards. Returns 0 with *out set, or LS_ECAPTURE /
 * LS_ENOMEM with one line in errbuf, nothing left open. */
int ls_live_open(struct ls_live **out, const char *const *ifaces, size_t n,
                 const struct ls_live_options *opt, const struct ls_log *lg,
                 char errbuf[LS_ERRBUF_SIZE]);

/* Installs `filter` (borrowed; may be NULL) on every interface, compiled for
 * each one's link type, and, when `path` is set, writes what passes to that
 * pcap file (*dump, owned by the caller, is created on the first interface).
 * Returns 0, LS_EINVAL for a filter libpcap rejects, or LS_ECAPTURE. */
int ls_live_prepare(struct ls_live *l, const char *filter, const char *path, struct ls_dump **dump,
                    char errbuf[LS_ERRBUF_SIZE]);

/* Starts polling on `loop` and ticking the wall clock; SIGHUP is caught
 * (see docs/live.md: a reload is not supported). `hooks` is copied.
 * Returns 0, or LS_ECAPTURE with errbuf set. */
int ls_live_start(struct ls_live *l, struct uv_loop_s *loop, const struct ls_live_hooks *hooks,
                  char errbuf[LS_ERRBUF_SIZE]);

/* Stops reading: no hook runs afterwards. Keeps the last counters of every
 * interface. Safe from inside a hook; the handles are closed by the app's
 * uv_walk. */
void ls_live_stop(struct ls_live *l);

/* Fills `out` with the counters of interface `i` (fresh while capturing,
 * the last ones after ls_live_stop). Returns false past the last one. */
bool ls_live_stats(struct ls_live *l, size_t i, struct ls_iface_stats *out);

/* Prints one line of counters per interface on stderr (unless -q), as
 * tcpdump does at exit. */
void ls_live_report(struct ls_live *l, const struct ls_log *lg);

/* Closes the interfaces and frees `l` (NULL does nothing). Call after the
 * loop has closed every handle. */
void ls_live_free(struct ls_live *l);

#endif
