/* pcapng.h: a small bounds-checked pcapng reader (draft-ietf-opsawg-pcapng),
 * used by capture.c for files libpcap refuses, such as those whose interfaces
 * have different link types or snapshot lengths. Reads section headers,
 * interface descriptions (link type, snaplen, if_tsresol, if_tsoffset) and
 * enhanced, simple and obsolete packet blocks; skips every other block.
 * Knows nothing of libpcap, decoding or the event loop. */
#ifndef LS_PCAPNG_H
#define LS_PCAPNG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

/* Largest block accepted; a length field above it is damage, not data
 * (libpcap's own ceiling for a packet is 256 KiB, we allow 16 MiB blocks). */
#define LS_PCAPNG_MAX_BLOCK ((uint32_t)16 << 20)

/* One packet, valid until the next call on the reader. */
struct ls_pcapng_rec {
    double ts;           /* seconds, with the interface's resolution and offset */
    const uint8_t *data; /* caplen bytes, borrowed */
    uint32_t caplen;
    uint32_t wirelen;  /* original length, never below caplen */
    uint32_t iface;    /* interface index within its section */
    uint16_t linktype; /* the interface's LINKTYPE_ value */
    uint32_t snaplen;  /* the interface's snapshot length (0: none) */
};

struct ls_pcapng;

/* True when the first four bytes of `f` are a pcapng section header; the
 * stream is left where it was (needs a seekable stream). */
bool ls_pcapng_probe(FILE *f);

/* Starts reading the pcapng stream `f` (ownership passes to the reader,
 * which fcloses it) named `name` (copied) for messages. Reads the section
 * header and the blocks up to the first interface description. Returns 0,
 * LS_ENOMEM, or LS_ECAPTURE with errbuf naming the file and the offset. */
int ls_pcapng_open(struct ls_pcapng **out, FILE *f, const char *name, char errbuf[LS_ERRBUF_SIZE]);

/* Reads the next packet into *rec. Returns 1, 0 at the end of the file, or
 * LS_EIO with errbuf naming the file, the packet number and the byte offset
 * of the bad block (every packet before it was returned). */
int ls_pcapng_next(struct ls_pcapng *r, struct ls_pcapng_rec *rec, char errbuf[LS_ERRBUF_SIZE]);

/* The LINKTYPE_ of the first interface of the first section, or -1 if none. */
int ls_pcapng_first_linktype(const struct ls_pcapng *r);

/* Closes the file and frees the reader. NULL is ignored. */
void ls_pcapng_close(struct ls_pcapng *r);

#endif
