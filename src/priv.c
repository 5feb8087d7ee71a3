/* priv.c: -Z USER. Drops root for good after the capture handles are open:
 * groups first (they need root), then the gid, then the uid, and proves the
 * result, because a half-done drop must stop the run rather than let a
 * script run as root. */
#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(char errbuf[LS_ERRBUF_SIZE], const char *user, const char *what, int err)
{
    snprintf(errbuf, LS_ERRBUF_SIZE, "-Z %s: %s: %s", user, what, strerror(err));
    return LS_ECAPTURE;
}

int ls_priv_drop(const char *user, char errbuf[LS_ERRBUF_SIZE])
{
    struct passwd *pw;
    uid_t uid;
    gid_t gid;
    char *end;

    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL) {
        /* A number names a uid even when /etc/passwd has no entry for it
         * (containers); it then keeps the gid of the same number. */
        unsigned long n = strtoul(user, &end, 10);
        if (*user == '\0' || *end != '\0' || n == 0 || n > 0x7fffffffUL) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "-Z %s: no such user", user);
            return LS_ECAPTURE;
        }
        uid = (uid_t)n;
        gid = (gid_t)n;
        if (setgroups(0, NULL) != 0)
            return fail(errbuf, user, "setgroups", errno);
    } else {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        if (initgroups(pw->pw_name, gid) != 0)
            return fail(errbuf, user, "initgroups", errno);
    }
    if (uid == 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "-Z %s: refusing to switch to a root account", user);
        return LS_ECAPTURE;
    }
    /* setgid before setuid: once the uid is gone, the gid cannot change. */
    if (setgid(gid) != 0)
        return fail(errbuf, user, "setgid", errno);
    if (setuid(uid) != 0)
        return fail(errbuf, user, "setuid", errno);
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "-Z %s: ids did not change as asked", user);
        return LS_ECAPTURE;
    }
    /* With saved ids left behind this would succeed; it must not. */
    if (setuid(0) == 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "-Z %s: root could be regained", user);
        return LS_ECAPTURE;
    }
    return 0;
}
