/* pcapfile.h: a reader for classic pcap files (tcpdump's format, version
 * 2.4, micro- or nanosecond timestamps, either byte order) that reads the
 * file in large blocks into one buffer and hands frames out where they
 * lie in it, without copying each record as libpcap does. Records past the
 * current one can be looked at early, so the caller can prefetch what they
 * will touch. capture.c uses it for regular files and leaves everything else
 * (pcapng, stdin, pipes, older versions, unusual link types) to libpcap.
 * Every record is checked as libpcap checks it. Knows nothing of libpcap. */
#ifndef LS_PCAPFILE_H
#define LS_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* The most bytes a record may hold: libpcap's limit for every link type
 * this reader takes. */
#define LS_PCAPFILE_MAX_CAPLEN 262144u

/* One record. Its data stays valid until the next ls_pcapfile_next or
 * ls_pcapfile_ahead call (either may move the buffer), or, for a reader
 * over memory, as long as that memory. */
struct ls_pcapfile_rec {
    int64_t sec;   /* capture time: seconds (the file's unsigned 32 bits) */
    uint32_t usec; /* and microseconds (nanosecond files are truncated, as libpcap does) */
    const uint8_t *data;
    uint32_t caplen;  /* bytes in data; never above the file's snapshot length */
    uint32_t wirelen; /* original length as recorded */
};

struct ls_pcapfile;

/* Opens `path` when it is a regular file in a format this reader takes;
 * `name` (copied) names it in messages. Returns 0; LS_EINVAL when the file
 * is not one for this reader (missing, not regular, not classic pcap 2.4, a
 * link type outside the decoder's, FCS bits set): the caller should hand it
 * to libpcap, which says what is wrong; LS_ENOMEM. */
int ls_pcapfile_open(struct ls_pcapfile **out, const char *path, const char *name);

/* The same over `size` bytes at `base` (borrowed; must outlive the
 * reader), for tests and fuzzing. */
int ls_pcapfile_open_mem(struct ls_pcapfile **out, const uint8_t *base, size_t size,
                         const char *name);

/* The file header's LINKTYPE_ value and snapshot length (0 or above
 * INT32_MAX in the file: LS_PCAPFILE_MAX_CAPLEN; other values as stored,
 * even above the maximum, as libpcap reads them). */
int ls_pcapfile_linktype(const struct ls_pcapfile *f);
uint32_t ls_pcapfile_snaplen(const struct ls_pcapfile *f);

/* Reads the next record into *rec. Returns 1, 0 at the end of the file, or
 * LS_EIO with errbuf naming the file, the last good record and the byte
 * offset of the damage (every record before it was returned). A record
 * longer than the snapshot length (but within libpcap's limit) is cut to it. */
int ls_pcapfile_next(struct ls_pcapfile *f, struct ls_pcapfile_rec *rec,
                     char errbuf[LS_ERRBUF_SIZE]);

/* Looks ahead: the record after the last one looked at this way, starting
 * with the next one ls_pcapfile_next will return, and its number in *index
 * (counting from 0, as ls_pcapfile_next returns them). A hint only: returns
 * false past the end, at damage, and while the records from the next one to
 * this one do not fit the buffer (it may succeed later). *data is valid as
 * rec.data is; when ls_pcapfile_next returns the same record later, it is
 * at the same address unless the buffer moved in between (then at a lower
 * one). */
bool ls_pcapfile_ahead(struct ls_pcapfile *f, const uint8_t **data, uint32_t *caplen,
                       uint32_t *wirelen, uint64_t *index);

/* Bytes of the file consumed so far, and its size. */
void ls_pcapfile_position(const struct ls_pcapfile *f, uint64_t *done, uint64_t *total);

/* Closes the file and frees the reader. NULL is ignored. */
void ls_pcapfile_close(struct ls_pcapfile *f);

#endif
