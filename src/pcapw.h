/* pcapw.h: carving. Writes classic pcap files (microsecond timestamps)
 * without libpcap, and keeps a bounded copy of one connection's frames so
 * that a script can save a connection after deciding it matters. Knows
 * nothing of Lua or libuv; the Lua binding is lpcapw.c. */
#ifndef LS_PCAPW_H
#define LS_PCAPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "decode.h"

/* One captured frame as read from a source; `data` is borrowed. */
struct ls_frame {
    double ts; /* capture time, seconds */
    const uint8_t *data;
    uint32_t caplen;  /* bytes in data */
    uint32_t wirelen; /* length on the wire */
    enum ls_linktype link;
};

/* A pcap file being written. Its link type is that of the first frame. */
struct ls_pcapw;

/* Creates (truncates) `path`. Returns 0 and *out, or LS_EIO with errbuf
 * naming the file and the system's reason. */
int ls_pcapw_open(struct ls_pcapw **out, const char *path, char errbuf[LS_ERRBUF_SIZE]);

/* Appends `f`. The first frame fixes the file's link type and writes the
 * file header. Returns 0; LS_EINVAL (nothing written) when f's link type
 * differs from the file's or has no pcap number; LS_EIO after a write error
 * (sticky); LS_ESTOP once closed. */
int ls_pcapw_write(struct ls_pcapw *w, const struct ls_frame *f);

/* Frames written so far. */
uint64_t ls_pcapw_count(const struct ls_pcapw *w);

/* True until ls_pcapw_close. */
bool ls_pcapw_is_open(const struct ls_pcapw *w);

/* Flushes and closes the file (a file that got no frame still gets a header,
 * link type Ethernet). Returns 0, or LS_EIO when a write or the close
 * failed. The object stays valid (writes return LS_ESTOP) until ls_pcapw_free. */
int ls_pcapw_close(struct ls_pcapw *w);

/* Closes if needed and frees. NULL is fine. */
void ls_pcapw_free(struct ls_pcapw *w);

/* The LINKTYPE_* number written to pcap files for `link`, or -1. */
int ls_pcapw_linktype(enum ls_linktype link);

/* Frames of one connection, kept in arrival order up to a byte budget; and
 * optionally a writer that gets every later frame as it arrives. */
struct ls_keep {
    uint8_t *buf; /* records: struct ls_keep_rec, then caplen bytes */
    size_t len, cap;
    size_t max;              /* budget for buf (records with their headers); 0: keep none */
    uint64_t frames;         /* frames kept */
    uint64_t dropped;        /* frames not kept: the budget was used up */
    struct ls_pcapw *follow; /* also write each new frame here, or NULL */
    int follow_ref;          /* owned by the Lua binding (keeps `follow` alive) */
};

/* A new keep with budget `max` bytes (0: keep nothing, e.g. only follow).
 * Returns NULL on ENOMEM. */
struct ls_keep *ls_keep_new(size_t max);

/* Changes the budget. Frames already kept stay, even past a smaller budget;
 * 0 also frees them. */
void ls_keep_set_max(struct ls_keep *k, size_t max);

/* Records `f`: kept while the budget allows (the first frames are kept,
 * later ones dropped and counted, so a carved connection always starts with
 * its handshake), and written to k->follow if set. Never fails; a failed
 * allocation counts as a drop. */
void ls_keep_frame(struct ls_keep *k, const struct ls_frame *f);

/* Writes every kept frame to `w`, in order. Returns the number written, or a
 * negative LS_E* from ls_pcapw_write (frames of another link type are
 * skipped and not counted). */
int64_t ls_keep_write(const struct ls_keep *k, struct ls_pcapw *w);

/* Bytes held by the kept frames (with their record headers). */
size_t ls_keep_bytes(const struct ls_keep *k);

/* Frees the kept frames and k (not k->follow). NULL is fine. */
void ls_keep_free(struct ls_keep *k);

#endif
