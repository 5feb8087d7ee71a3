/* common.c: the string tables behind common.h. */
#include "common.h"

const char *ls_strerror(int err)
{
    switch (err) {
    case 0: return "success";
#define XX(name, msg) \
    case LS_##name: return msg;
        LS_ERRNO_MAP(XX)
#undef XX
    default: return "unknown error";
    }
}

const char *ls_close_reason_name(enum ls_close_reason r)
{
    static const char *const names[] = {
#define XX(name, s) s,
        LS_CLOSE_MAP(XX)
#undef XX
    };
    return (unsigned)r < LS_ARRAY_SIZE(names) ? names[r] : "none";
}

const char *ls_log_level_name(enum ls_log_level l)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    return (unsigned)l < LS_ARRAY_SIZE(names) ? names[l] : "info";
}
