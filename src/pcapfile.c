/* pcapfile.c: classic pcap files read in large blocks into one buffer.
 * Two cursors walk the records: `off` for ls_pcapfile_next and `ahead_off`
 * for the look-ahead, both offsets into the buffer. When a cursor needs
 * bytes past what the buffer holds, what is still wanted (from `off` on)
 * moves to the front and the rest of the buffer is filled with one read(2).
 * The kernel's copy leaves each block in the cache just before its records
 * are handled.
 *
 * Mapping the file was tried: populating and dropping the pages cost more
 * in the kernel (0.24 s against 0.16-0.20 s for the 1.1 GB benchmark file
 * read and touched alone), the data then came from memory rather than the
 * cache, and a file cut while mapped needs a SIGBUS handler. */
#include "pcapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#define FILE_HDR 24
#define REC_HDR  16
/* Bytes asked of each read(2): enough to make system calls rare, few
 * enough that the kernel's copy does not flush the whole cache each time
 * (1 MiB blocks, the size of the L2 cache here, made small-record captures
 * 14% slower). */
#define READ_BLOCK ((size_t)256 << 10)
/* The buffer: a read block plus the largest record, so that a record that
 * starts anywhere in a block fits once moved to the front. */
#define BUF_SIZE (READ_BLOCK + REC_HDR + LS_PCAPFILE_MAX_CAPLEN)

struct ls_pcapfile {
    const uint8_t *base; /* the bytes: the buffer, or ls_pcapfile_open_mem's */
    size_t have;         /* bytes at base */
    uint8_t *buf;        /* read mode: owned, BUF_SIZE bytes */
    int fd;              /* read mode: the file; -1 in memory */
    bool end;            /* no more bytes will come (end of file, error, memory) */
    int read_errno;      /* the error that ended reading, or 0 */
    uint64_t base_pos;   /* file offset of base[0] */
    uint64_t file_size;  /* for ls_pcapfile_position */
    bool swapped;
    bool nsec;
    bool failed; /* an error was reported: the end */
    int linktype;
    uint32_t snaplen;
    size_t off;           /* next record for ls_pcapfile_next */
    size_t ahead_off;     /* next record for ls_pcapfile_ahead */
    uint64_t ahead_index; /* its number (counting from 0) */
    uint64_t records;     /* returned so far */
    char *name;
};

static uint32_t load32(const struct ls_pcapfile *f, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return f->swapped ? __builtin_bswap32(v) : v;
}

static uint16_t load16(const struct ls_pcapfile *f, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return f->swapped ? __builtin_bswap16(v) : v;
}

/* ---- the buffer ---------------------------------------------------------- */

/* Makes base[*pos .. *pos + n) available, reading more of the file when
 * needed; *pos is the cursor asking (off or ahead_off), kept pointing at the
 * same byte when the buffer's contents move. Returns false when the file
 * ends (or cannot be read) first, or when the bytes wanted from `off` on
 * would not fit the buffer (only the look-ahead asks that far). */
static bool ensure_slow(struct ls_pcapfile *f, size_t *pos, size_t n)
{
    while (f->have - *pos < n) {
        if (f->end || f->buf == NULL)
            return false;
        if (*pos + n - f->off > BUF_SIZE)
            return false;
        if (f->off > 0 && BUF_SIZE - f->have < READ_BLOCK) {
            /* Keep what is still wanted; records handed out before `off`
             * are done with (their callbacks have returned). */
            size_t keep = f->have - f->off, moved = f->off;
            memmove(f->buf, f->buf + moved, keep);
            f->have = keep;
            f->base_pos += moved;
            f->ahead_off -= f->ahead_off >= moved ? moved : f->ahead_off; /* lagging: see ahead */
            f->off = 0;
            if (pos != &f->off && pos != &f->ahead_off)
                *pos -= moved;
        }
        ssize_t got = read(f->fd, f->buf + f->have, BUF_SIZE - f->have);
        if (got > 0) {
            f->have += (size_t)got;
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else {
            f->end = true;
            f->read_errno = got < 0 ? errno : 0;
        }
    }
    return true;
}

/* ensure(), with the common case (the bytes are already there) inlined:
 * it runs for every record twice, once for the look-ahead and once for the
 * reader. */
static inline bool ensure(struct ls_pcapfile *f, size_t *pos, size_t n)
{
    if (ls_likely(f->have - *pos >= n))
        return true;
    return ensure_slow(f, pos, n);
}

/* ---- header -------------------------------------------------------------- */

/* LINKTYPE_ values of the decoder's link types, as files store them. Other
 * values (including platform DLT_RAW numbers) are left to libpcap. */
static bool linktype_taken(uint32_t lt)
{
    switch (lt) {
    case 0:   /* NULL */
    case 1:   /* ETHERNET */
    case 101: /* RAW */
    case 108: /* LOOP */
    case 113: /* LINUX_SLL */
    case 228: /* IPV4 */
    case 229: /* IPV6 */
    case 276: /* LINUX_SLL2 */ return true;
    default: return false;
    }
}

/* Reads the file header. False when the file is not one for this reader. */
static bool parse_header(struct ls_pcapfile *f)
{
    uint32_t magic, snaplen, linktype;
    size_t at = 0;

    if (!ensure(f, &at, FILE_HDR))
        return false;
    memcpy(&magic, f->base, 4);
    switch (magic) {
    case 0xa1b2c3d4: break;
    case 0xa1b23c4d: f->nsec = true; break;
    case 0xd4c3b2a1: f->swapped = true; break;
    case 0x4d3cb2a1: f->swapped = f->nsec = true; break;
    default: return false;
    }
    /* Versions before 2.4 stored the lengths the other way round at times,
     * and libpcap knows the details: they stay with it. */
    if (load16(f, f->base + 4) != 2 || load16(f, f->base + 6) != 4)
        return false;
    snaplen = load32(f, f->base + 16);
    linktype = load32(f, f->base + 20);
    if (!linktype_taken(linktype)) /* FCS bits in the upper half fail here too */
        return false;
    f->linktype = (int)linktype;
    /* As libpcap reads it: 0, or too large for an int, is the maximum; any
     * other value stays, even above the maximum (where it cuts nothing:
     * records above the maximum are errors anyway). */
    f->snaplen = snaplen == 0 || snaplen > INT32_MAX ? LS_PCAPFILE_MAX_CAPLEN : snaplen;
    f->off = f->ahead_off = FILE_HDR;
    return true;
}

static struct ls_pcapfile *new_reader(const char *name)
{
    struct ls_pcapfile *f = calloc(1, sizeof *f);

    if (f == NULL || (f->name = strdup(name)) == NULL) {
        free(f);
        return NULL;
    }
    f->fd = -1;
    return f;
}

int ls_pcapfile_open_mem(struct ls_pcapfile **out, const uint8_t *base, size_t size,
                         const char *name)
{
    struct ls_pcapfile *f = new_reader(name);

    *out = NULL;
    if (f == NULL)
        return LS_ENOMEM;
    f->base = base;
    f->have = size;
    f->end = true;
    f->file_size = size;
    if (!parse_header(f)) {
        ls_pcapfile_close(f);
        return LS_EINVAL;
    }
    *out = f;
    return 0;
}

int ls_pcapfile_open(struct ls_pcapfile **out, const char *path, const char *name)
{
    struct stat st;
    struct ls_pcapfile *f;

    *out = NULL;
    /* Only regular files: opening a FIFO here would block for a writer, or
     * take data meant for libpcap's open. */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return LS_EINVAL;
    if ((f = new_reader(name)) == NULL || (f->buf = malloc(BUF_SIZE)) == NULL) {
        ls_pcapfile_close(f);
        return LS_ENOMEM;
    }
    f->base = f->buf;
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f->fd < 0 || fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode) || !parse_header(f)) {
        ls_pcapfile_close(f);
        return LS_EINVAL;
    }
    f->file_size = (uint64_t)st.st_size;
    posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = f;
    return 0;
}

int ls_pcapfile_linktype(const struct ls_pcapfile *f)
{
    return f->linktype;
}

uint32_t ls_pcapfile_snaplen(const struct ls_pcapfile *f)
{
    return f->snaplen;
}

/* ---- records -------------------------------------------------------------- */

/* Reads the record at *pos (a cursor, see ensure): its header fields, or a
 * reason it is bad. *gone is set when the file simply ends at *pos. */
static const char *record_at(struct ls_pcapfile *f, size_t *pos, struct ls_pcapfile_rec *rec,
                             uint32_t *stored, bool *gone, char *why, size_t whysize)
{
    uint32_t caplen;

    *gone = false;
    if (!ensure(f, pos, REC_HDR)) {
        *gone = f->have == *pos;
        snprintf(why, whysize, "truncated dump file; tried to read %d header bytes, only got %zu",
                 REC_HDR, f->have - *pos);
        return why;
    }
    const uint8_t *h = f->base + *pos;
    rec->sec = load32(f, h); /* unsigned: the format runs to 2106 */
    rec->usec = load32(f, h + 4);
    if (f->nsec)
        rec->usec /= 1000;
    caplen = load32(f, h + 8);
    rec->wirelen = load32(f, h + 12);
    if (caplen > LS_PCAPFILE_MAX_CAPLEN) {
        if (caplen > f->snaplen)
            snprintf(why, whysize, "invalid packet capture length %u, bigger than snaplen of %u",
                     caplen, f->snaplen);
        else
            snprintf(why, whysize, "invalid packet capture length %u, bigger than maximum of %u",
                     caplen, LS_PCAPFILE_MAX_CAPLEN);
        return why;
    }
    if (!ensure(f, pos, REC_HDR + (size_t)caplen)) {
        size_t left = f->have - *pos - REC_HDR;
        /* Above the snapshot length libpcap reads that much first, and
         * names it when even that is not there. */
        uint32_t want = caplen > f->snaplen && left < f->snaplen ? f->snaplen : caplen;
        snprintf(why, whysize, "truncated dump file; tried to read %u captured bytes, only got %zu",
                 want, left);
        return why;
    }
    *stored = caplen;
    /* Longer than the snapshot length but within the limit: libpcap keeps
     * the first snaplen bytes and skips the rest. */
    rec->caplen = caplen > f->snaplen ? f->snaplen : caplen;
    rec->data = f->base + *pos + REC_HDR;
    return NULL;
}

int ls_pcapfile_next(struct ls_pcapfile *f, struct ls_pcapfile_rec *rec,
                     char errbuf[LS_ERRBUF_SIZE])
{
    char why[160];
    uint32_t stored = 0;
    bool gone;
    const char *bad;

    if (f->failed)
        return 0;
    bad = record_at(f, &f->off, rec, &stored, &gone, why, sizeof why);
    if (bad != NULL && gone && f->read_errno == 0)
        return 0; /* the end, between records */
    if (bad != NULL) {
        if (f->read_errno != 0)
            snprintf(why, sizeof why, "%s", strerror(f->read_errno));
        snprintf(errbuf, LS_ERRBUF_SIZE,
                 "%s: read error after record %llu: %s (at byte offset %llu)", f->name,
                 (unsigned long long)f->records, why, (unsigned long long)(f->base_pos + f->off));
        f->failed = true;
        return LS_EIO;
    }
    f->off += REC_HDR + (size_t)stored;
    f->records++;
    return 1;
}

bool ls_pcapfile_ahead(struct ls_pcapfile *f, const uint8_t **data, uint32_t *caplen,
                       uint32_t *wirelen, uint64_t *index)
{
    struct ls_pcapfile_rec rec;
    char why[160];
    uint32_t stored;
    bool gone;

    if (f->failed)
        return false;
    if (f->ahead_index < f->records) { /* the reader went past: start at it */
        f->ahead_off = f->off;
        f->ahead_index = f->records;
    }
    if (record_at(f, &f->ahead_off, &rec, &stored, &gone, why, sizeof why) != NULL)
        return false;
    f->ahead_off += REC_HDR + (size_t)stored;
    *data = rec.data;
    *caplen = rec.caplen;
    *wirelen = rec.wirelen;
    *index = f->ahead_index++;
    return true;
}

void ls_pcapfile_position(const struct ls_pcapfile *f, uint64_t *done, uint64_t *total)
{
    *done = f->base_pos + f->off;
    *total = f->file_size;
}

void ls_pcapfile_close(struct ls_pcapfile *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->buf);
    free(f->name);
    free(f);
}
