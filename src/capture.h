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
 * `filter` (may be NULL). Returns 0 or LS_ECAPTURE with errbuf naming the
 * file and libpcap's reason. */
int ls_capture_open_file(struct ls_capture **out, const char *path, const char *filter,
                         char errbuf[LS_ERRBUF_SIZE]);

/* Reads up to `max` frames, calling `fn` for each. Returns the number read
 * (0 at end of input, see ls_capture_eof), or LS_EIO with errbuf naming the
 * file and the record where reading failed; frames before it were delivered. */
int ls_capture_dispatch(struct ls_capture *cap, int max, ls_capture_fn fn, void *ud,
                        char errbuf[LS_ERRBUF_SIZE]);

/* True once the source is exhausted. */
bool ls_capture_eof(const struct ls_capture *cap);

/* The decoder's link type for this source (LS_LINK_UNSUPPORTED if unknown). */
enum ls_linktype ls_capture_linktype(const struct ls_capture *cap);

/* libpcap's name of the source's link type ("EN10MB", ...). */
const char *ls_capture_linktype_name(const struct ls_capture *cap);

/* The path or interface name (borrowed). */
const char *ls_capture_name(const struct ls_capture *cap);

/* Closes the source. */
void ls_capture_close(struct ls_capture *cap);

#endif
