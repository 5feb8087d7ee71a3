/* capture.h: packet sources through libpcap (files, stdin). Delivers raw
 * frames with their capture time; knows nothing of decoding or libuv. */
#ifndef LS_CAPTURE_H
#define LS_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "decode.h"

struct ls_capture;

/* Called for every frame read; `data` is borrowed for the call only. */
typedef void (*ls_capture_fn)(void *ud, double ts, const uint8_t *data, uint32_t caplen,
                              uint32_t wirelen);

/* Opens a pcap or pcapng file ("-" reads stdin) with an optional BPF
 * `filter` (may be NULL; borrowed for the call). On success *out owns the
 * source (free with ls_capture_close). Returns 0, LS_ECAPTURE with errbuf
 * naming the file and libpcap's reason, or LS_EINVAL when libpcap rejects
 * the filter for this file's link type. */
int ls_capture_open_file(struct ls_capture **out, const char *path, const char *filter,
                         char errbuf[LS_ERRBUF_SIZE]);

/* Reads up to `max` records, calling `fn` for each frame that passes the
 * filter (`fn` may run script code, but must not close `cap`). Returns the
 * number of records read (0 at end of input or after ls_capture_break: tell
 * them apart with ls_capture_eof), or LS_EIO with errbuf naming the
 * file and the record where reading failed; frames before it were delivered. */
int ls_capture_dispatch(struct ls_capture *cap, int max, ls_capture_fn fn, void *ud,
                        char errbuf[LS_ERRBUF_SIZE]);

/* Makes a running ls_capture_dispatch return after the current frame; safe
 * to call from the frame callback. The source is not at its end afterwards. */
void ls_capture_break(struct ls_capture *cap);

/* Checks that libpcap can compile `filter` (for Ethernet), before any file
 * is opened. Returns 0, or LS_EINVAL with libpcap's message in errbuf. */
int ls_capture_check_filter(const char *filter, char errbuf[LS_ERRBUF_SIZE]);

/* True once the source is exhausted, or after a read error. */
bool ls_capture_eof(const struct ls_capture *cap);

/* The decoder's link type for this source (LS_LINK_UNSUPPORTED if unknown).
 * For a pcapng file read by our own reader, whose interfaces may differ,
 * that of the frame being delivered (of the first interface before any). */
enum ls_linktype ls_capture_linktype(const struct ls_capture *cap);

/* libpcap's name of the source's link type ("EN10MB", ...). */
const char *ls_capture_linktype_name(const struct ls_capture *cap);

/* The path or interface name (borrowed; "stdin" for "-"). */
const char *ls_capture_name(const struct ls_capture *cap);

/* Closes the source. */
void ls_capture_close(struct ls_capture *cap);

#endif
