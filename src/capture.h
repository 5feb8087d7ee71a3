/* capture.h: packet sources through libpcap (files, stdin, live
 * interfaces) and the -w writer. Delivers raw frames with their capture time;
 * knows nothing of decoding or libuv. */
#ifndef LS_CAPTURE_H
#define LS_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "decode.h"

struct ls_capture;
struct ls_dump;

/* How a live interface is opened (tcpdump's -s, -p, -B and immediate mode). */
struct ls_live_options {
    int snaplen; /* bytes kept per packet */
    bool promisc;
    bool immediate;  /* hand each packet over as it arrives */
    int buffer_size; /* kernel ring in bytes; 0: libpcap's default */
};

/* Longest a packet waits in the kernel without immediate mode. */
#define LS_LIVE_BUFFER_TIMEOUT_MS 200

/* Called for every frame read; `data` is borrowed for the call only. */
typedef void (*ls_capture_fn)(void *ud, double ts, const uint8_t *data, uint32_t caplen,
                              uint32_t wirelen);

/* Called with records past the one being delivered (ls_capture_set_ahead):
 * record number `index` (see ls_capture_record_index). Must not call back
 * into the source. */
typedef void (*ls_capture_ahead_fn)(void *ud, uint64_t index, const uint8_t *data, uint32_t caplen,
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

/* For a source read by our own reader (a classic pcap file): shows `fn`
 * the records up to `distance` past the one being read, each once and in
 * order, filtered or not, so that the caller can decode a record and
 * prefetch what it will touch before its turn. Normally, before the frame
 * callback for record i, `fn` has seen records up to i+distance; it falls
 * behind while those do not fit the reader's buffer (very large frames) and
 * catches up later, skipping records already delivered. `data` is valid
 * during the `fn` call only: the buffer may move before the record's frame
 * callback, which then gets it at another address. So reuse what was derived
 * from a record only when both its number (ls_capture_record_index) and its
 * address match. Returns false, doing nothing, for other sources. */
bool ls_capture_set_ahead(struct ls_capture *cap, ls_capture_ahead_fn fn, void *ud, int distance);

/* The number of the record being delivered (counting from 0, filtered
 * records included), during a frame callback. */
uint64_t ls_capture_record_index(const struct ls_capture *cap);

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

/* libpcap's name of the source's link type ("EN10MB", ...); for a pcapng
 * file read by the fallback reader, that of the frame being delivered. */
const char *ls_capture_linktype_name(const struct ls_capture *cap);

/* True for a pcapng file: its interfaces may have different link types,
 * and once the fallback reader takes over, ls_capture_linktype follows the
 * frame delivered. Such files are judged frame by frame, not at open. */
bool ls_capture_per_interface(const struct ls_capture *cap);

/* The path or interface name (borrowed; "stdin" for "-"). */
const char *ls_capture_name(const struct ls_capture *cap);

/* Opens and activates interface `iface` ("any" for all) for capture in
 * non-blocking mode, without a filter yet (see ls_capture_set_filter); needs
 * the capture privileges. On success *out owns the source and warnbuf holds
 * pcap_activate's warning, or "". Returns 0, or LS_ECAPTURE / LS_ENOMEM with
 * one line in errbuf naming the interface ("eth9: no such interface",
 * "eth0: permission denied (...)"). */
int ls_capture_open_live(struct ls_capture **out, const char *iface,
                         const struct ls_live_options *opt, char errbuf[LS_ERRBUF_SIZE],
                         char warnbuf[LS_ERRBUF_SIZE]);

/* Compiles `filter` (borrowed; NULL or "" does nothing) for the link type of
 * live source `cap` and installs it, in the kernel where possible. Needs no
 * privilege. Returns 0, LS_EINVAL with libpcap's message, or LS_ECAPTURE. */
int ls_capture_set_filter(struct ls_capture *cap, const char *filter, char errbuf[LS_ERRBUF_SIZE]);

/* The descriptor to poll for readability, or -1 when the platform has none
 * (then poll every ls_capture_poll_timeout_ms). */
int ls_capture_fd(const struct ls_capture *cap);

/* Milliseconds between reads when ls_capture_fd is -1, or -1 for none. */
int ls_capture_poll_timeout_ms(const struct ls_capture *cap);

/* True for a live interface. */
bool ls_capture_is_live(const struct ls_capture *cap);

/* Fills `out` with libpcap's counters for a live source (out->name borrows
 * the source's name). Returns 0, or LS_ECAPTURE for files and failures. */
int ls_capture_stats(const struct ls_capture *cap, struct ls_iface_stats *out);

/* -w: from now on writes every frame of `cap` that passes its filter to the
 * pcap file *dp, first opening `path` (borrowed; "-" is stdout) with cap's
 * link type when *dp is NULL. The writer outlives the sources: close it with
 * ls_capture_dump_close after the last one. Returns 0; LS_ECAPTURE or
 * LS_ENOMEM when the file cannot be created; LS_EINVAL when cap's link type
 * differs from the file's (a pcap file has only one). */
int ls_capture_dump_attach(struct ls_capture *cap, struct ls_dump **dp, const char *path,
                           char errbuf[LS_ERRBUF_SIZE]);

/* Pushes buffered records to the file (NULL does nothing). */
void ls_capture_dump_flush(struct ls_dump *d);

/* Flushes and closes the writer (NULL does nothing). Returns 0; LS_EIO
 * when the last writes failed; LS_EINVAL when frames of a pcapng interface
 * of another link type than the file's could not be written. */
int ls_capture_dump_close(struct ls_dump *d, char errbuf[LS_ERRBUF_SIZE]);
/* For a progress display: bytes of the file read so far and its size.
 * Returns false when unknown (stdin or another non-regular file). */
bool ls_capture_position(const struct ls_capture *cap, uint64_t *done, uint64_t *total);

/* Closes the source. */
void ls_capture_close(struct ls_capture *cap);

#endif
