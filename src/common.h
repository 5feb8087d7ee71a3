/* common.h: shared macros, error codes and small enums used by every module.
 * Holds no state and pulls in no third-party header. */
#ifndef LS_COMMON_H
#define LS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define LS_UNUSED(x)                       ((void)(x))
#define LS_ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define LS_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#if defined(__GNUC__)
#define ls_likely(x)    __builtin_expect(!!(x), 1)
#define ls_unlikely(x)  __builtin_expect(!!(x), 0)
#define LS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ls_likely(x)   (x)
#define ls_unlikely(x) (x)
#define LS_PRINTF(f, a)
#endif

/* Size of the error buffers that setup functions fill (libpcap's style). */
#define LS_ERRBUF_SIZE 512

/* Error codes: functions return 0 or a negative LS_E* value. */
#define LS_ERRNO_MAP(XX)           \
    XX(ENOMEM, "out of memory")    \
    XX(EINVAL, "invalid argument") \
    XX(ECAPTURE, "capture error")  \
    XX(ESCRIPT, "script error")    \
    XX(EFULL, "limit reached")     \
    XX(EIO, "input/output error")  \
    XX(ESTOP, "stopped")

enum ls_errno {
    LS_OK = 0,
#define XX(name, msg) LS_##name,
    LS__EDUMMY = -64, /* keeps the codes negative and distinct */
    LS_ERRNO_MAP(XX)
#undef XX
};

/* Returns a static description of an LS_E* code. */
const char *ls_strerror(int err);

/* Direction of bytes within a connection: the client is the side that sent
 * the SYN (or the heuristic's choice when no SYN was seen). */
enum ls_dir { LS_DIR_C2S = 0, LS_DIR_S2C = 1 };

/* Why a connection ended; the names are part of the Lua API. */
#define LS_CLOSE_MAP(XX)   \
    XX(NONE, "none")       \
    XX(FIN, "fin")         \
    XX(RST, "rst")         \
    XX(TIMEOUT, "timeout") \
    XX(EVICTED, "evicted") \
    XX(END, "end")         \
    XX(REUSED, "reused")

enum ls_close_reason {
#define XX(name, s) LS_CLOSE_##name,
    LS_CLOSE_MAP(XX)
#undef XX
        LS_CLOSE__COUNT
};

/* Returns the Lua-visible name of a close reason ("fin", "rst", ...). */
const char *ls_close_reason_name(enum ls_close_reason r);

/* libpcap's counters for one live interface (capture fills it, the app
 * keeps the last one, the script shows it in sniff.stats().interfaces). */
struct ls_iface_stats {
    const char *name;    /* borrowed from the capture */
    uint64_t received;   /* packets that passed the filter (pcap ps_recv) */
    uint64_t dropped;    /* dropped for lack of buffer space (ps_drop) */
    uint64_t if_dropped; /* dropped by the interface or driver (ps_ifdrop) */
};

/* Log levels, most severe first; the names are part of the Lua API. */
enum ls_log_level { LS_LOG_ERROR = 0, LS_LOG_WARN, LS_LOG_INFO, LS_LOG_DEBUG };

/* Returns "error", "warn", "info" or "debug". */
const char *ls_log_level_name(enum ls_log_level l);

/* A capture time as a pcap record holds it: unsigned 32-bit seconds and
 * microseconds, rounded to the microsecond (a double holds that exactly
 * enough); times outside 1970-2106 are clamped to those bounds. */
static inline void ls_ts_split(double ts, uint32_t *sec, uint32_t *usec)
{
    if (!(ts > 0)) { /* negative, or NaN */
        *sec = *usec = 0;
        return;
    }
    if (ts >= 4294967295.0) {
        *sec = UINT32_MAX;
        *usec = 0;
        return;
    }
    uint32_t s = (uint32_t)ts, u = (uint32_t)((ts - (double)s) * 1e6 + 0.5);
    if (u >= 1000000u) {
        if (s == UINT32_MAX) {
            u = 999999u;
        } else {
            s++;
            u -= 1000000u;
        }
    }
    *sec = s;
    *usec = u;
}

#endif
