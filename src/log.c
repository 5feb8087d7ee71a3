/* log.c: leveled diagnostics on stderr. Formats one whole line before writing
 * it, so lines from different messages never interleave; no state but the
 * caller's struct ls_log. */
#include "log.h"

#include <stdio.h>

void ls_log_init(struct ls_log *lg, const char *prog, int verbosity)
{
    lg->prog = prog;
    if (verbosity < 0)
        lg->level = LS_LOG_ERROR;
    else if (verbosity == 0)
        lg->level = LS_LOG_WARN;
    else if (verbosity == 1)
        lg->level = LS_LOG_INFO;
    else
        lg->level = LS_LOG_DEBUG;
}

void ls_logv(const struct ls_log *lg, enum ls_log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    const char *prog;
    va_list copy;
    int head, n;

    if (!ls_log_enabled(lg, level))
        return;
    prog = lg->prog ? lg->prog : "luasniff";
    head = snprintf(line, sizeof line, "%s: %s: ", prog, ls_log_level_name(level));
    if (head < 0 || (size_t)head >= sizeof line)
        return;
    va_copy(copy, ap);
    n = vsnprintf(line + head, sizeof line - (size_t)head, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line - (size_t)head - 1) {
        /* The common case: one write for the whole line. */
        line[head + n] = '\n';
        fwrite(line, 1, (size_t)head + (size_t)n + 1, stderr);
    } else {
        /* Long messages (tracebacks) are not cut: write them in pieces. */
        fwrite(line, 1, (size_t)head, stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    fflush(stderr);
}

void ls_log(const struct ls_log *lg, enum ls_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (!ls_log_enabled(lg, level))
        return;
    va_start(ap, fmt);
    ls_logv(lg, level, fmt, ap);
    va_end(ap);
}
