/* priv.h: giving up root after the interfaces are open (-Z USER), as
 * tcpdump does. No third-party headers; POSIX plus initgroups. */
#ifndef LS_PRIV_H
#define LS_PRIV_H

#include "common.h"

/* Switches the process for good to `user` (a name, or a number) with its
 * primary group and supplementary groups, and checks that root cannot be
 * regained. Returns 0, or LS_ECAPTURE with one line in errbuf ("-Z nobody:
 * no such user", "-Z bob: setuid: Operation not permitted", ...). After a
 * failure the process may still be root: the caller must not run scripts. */
int ls_priv_drop(const char *user, char errbuf[LS_ERRBUF_SIZE]);

#endif
