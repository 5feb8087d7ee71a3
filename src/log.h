/* log.h: leveled diagnostics on stderr. The level is checked before any
 * formatting, so a silenced message costs one comparison. */
#ifndef LS_LOG_H
#define LS_LOG_H

#include <stdarg.h>

#include "common.h"

struct ls_log {
    enum ls_log_level level; /* messages above this level are dropped */
    const char *prog;        /* prefix, "luasniff" */
};

/* Sets `lg` up for program name `prog` (borrowed) and a -q/-v verbosity:
 * below 0 only errors, 0 errors and warnings, 1 adds info, 2 or more debug. */
void ls_log_init(struct ls_log *lg, const char *prog, int verbosity);

/* Writes "prog: level: message\n" to stderr when `level` is enabled. */
void ls_log(const struct ls_log *lg, enum ls_log_level level, const char *fmt, ...) LS_PRINTF(3, 4);

/* va_list form of ls_log. */
void ls_logv(const struct ls_log *lg, enum ls_log_level level, const char *fmt, va_list ap);

/* True when messages at `level` are written. */
static inline int ls_log_enabled(const struct ls_log *lg, enum ls_log_level level)
{
    return level <= lg->level;
}

#endif
