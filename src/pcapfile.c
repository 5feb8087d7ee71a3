/* pcapfile.c: classic pcap files read through a read-only private mapping.
 * Two cursors walk the records: `off` for ls_pcapfile_next and `ahead_off`
 * for the look-ahead. As `off` advances, the pages ahead are mapped in
 * large steps and those well behind are dropped from the process (they stay
 * in the page cache), so the resident size does not grow with the file. */
#include "pcapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_HDR 24
#define REC_HDR  16
/* Pages are mapped in ahead of the reader, and dropped behind it, this
 * many bytes at a time. */
#define WINDOW ((size_t)1 << 20)
/* Records are prefetched into the cache this many records ahead of the
 * furthest cursor, going by the file's average record size so far, within
 * these bounds: waiting for memory where a record is first touched costs
 * more than the prefetches, but lines fetched too early are evicted again
 * before their turn (measured: 16 KiB is too near for 900-byte records,
 * 32 KiB too far for 100-byte ones). */
#define PREFETCH_RECORDS 24
#define PREFETCH_MIN     ((size_t)4 << 10)
#define PREFETCH_MAX     ((size_t)32 << 10)

struct ls_pcapfile {
    const uint8_t *base;
    size_t size;
    bool mapped; /* base is our mapping (not ls_pcapfile_open_mem's) */
    bool swapped;
    bool nsec;
    int linktype;
    uint32_t snaplen;
    size_t off;        /* next record for ls_pcapfile_next */
    size_t ahead_off;  /* next record for ls_pcapfile_ahead */
    uint64_t records;  /* returned so far */
    size_t populated;  /* pages below this are mapped in (a hint) */
    size_t released;   /* pages below this were dropped */
    size_t prefetched; /* bytes below this were prefetched */
    size_t prefetch_distance;
    bool populate_ok;
    size_t page;
    int fd;           /* kept open to notice the file shrinking; -1 in memory */
    bool cut;         /* the file was found shorter than when it was mapped */
    size_t valid_end; /* where the file's data ends (size, unless cut) */
    bool failed;      /* an error was reported: the end */
    char *name;
};

/* ---- the file shrinking under the mapping --------------------------------
 * Pages past the end of a file that was truncated while mapped fault with
 * SIGBUS. The handler maps zeros over the rest of the mapping and raises a
 * flag; the reader checks it after touching each record and reports the
 * damage. A signal handler gets no context pointer, hence these statics;
 * capture.c reads files one at a time, so one guarded mapping suffices (a
 * second one opened meanwhile simply goes unguarded). */
static const uint8_t *volatile guard_base;
static volatile size_t guard_size;
static volatile sig_atomic_t guard_shrunk;
static struct sigaction guard_old;
static size_t guard_page;

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
    uintptr_t a = (uintptr_t)si->si_addr, b = (uintptr_t)guard_base;

    (void)uctx;
    if (b != 0 && a >= b && a < b + guard_size) {
        uintptr_t page = a & ~(uintptr_t)(guard_page - 1);
        if (mmap((void *)page, b + guard_size - page, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
            guard_shrunk = 1;
            return;
        }
    }
    /* Not ours: with the previous disposition back, the fault repeats and
     * takes its usual course. */
    sigaction(sig, &guard_old, NULL);
}

static void guard_on(const uint8_t *base, size_t size)
{
    struct sigaction sa;

    if (guard_base != NULL)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    guard_page = (size_t)sysconf(_SC_PAGESIZE);
    guard_size = size;
    guard_shrunk = 0;
    guard_base = base;
    if (sigaction(SIGBUS, &sa, &guard_old) != 0)
        guard_base = NULL;
}

static void guard_off(const uint8_t *base)
{
    if (base == NULL || guard_base != base)
        return;
    sigaction(SIGBUS, &guard_old, NULL);
    guard_base = NULL;
    guard_size = 0;
}

/* The guard caught a fault in this reader's mapping. */
static bool faulted(const struct ls_pcapfile *f)
{
    return f->mapped && guard_base == f->base && guard_shrunk;
}

/* Whether the file is now shorter than when it was mapped, and where its
 * data ends. A file cut to a size that is not a page multiple faults only
 * past the page of its new end (the bytes before that read as zeros), so
 * the size is checked as the window moves as well as after a fault. */
static void check_size(struct ls_pcapfile *f)
{
    struct stat st;

    if (f->fd >= 0 && fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < f->valid_end) {
        f->cut = true;
        f->valid_end = (size_t)st.st_size;
    }
}

/* ---- header -------------------------------------------------------------- */

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

    if (f->size < FILE_HDR)
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
    f->prefetch_distance = PREFETCH_MIN;
    return true;
}

static struct ls_pcapfile *new_reader(const uint8_t *base, size_t size, const char *name)
{
    struct ls_pcapfile *f = calloc(1, sizeof *f);

    if (f == NULL || (f->name = strdup(name)) == NULL) {
        free(f);
        return NULL;
    }
    f->base = base;
    f->size = f->valid_end = size;
    f->fd = -1;
    return f;
}

int ls_pcapfile_open_mem(struct ls_pcapfile **out, const uint8_t *base, size_t size,
                         const char *name)
{
    struct ls_pcapfile *f = new_reader(base, size, name);

    *out = NULL;
    if (f == NULL)
        return LS_ENOMEM;
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
    void *base;
    int fd;

    *out = NULL;
    /* Only regular files: opening a FIFO here would block for a writer, or
     * take data meant for libpcap's open. */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return LS_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return LS_EINVAL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < FILE_HDR ||
        (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return LS_EINVAL;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
        close(fd);
        return LS_EINVAL;
    }
    f = new_reader(base, (size_t)st.st_size, name);
    if (f == NULL) {
        munmap(base, (size_t)st.st_size);
        close(fd);
        return LS_ENOMEM;
    }
    f->fd = fd;
    f->mapped = true;
    f->populate_ok = true;
    f->page = (size_t)sysconf(_SC_PAGESIZE);
    guard_on(f->base, f->size);
    /* The header is read under the guard: the file may already be shrinking. */
    if (!parse_header(f) || faulted(f)) {
        ls_pcapfile_close(f);
        return LS_EINVAL;
    }
    madvise(base, f->size, MADV_SEQUENTIAL);
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

/* Keeps the mapped pages a window ahead of `off` and drops those more than a
 * window behind it: one system call per window instead of a page fault every
 * few records, and a resident size that stays flat. */
static void slide_window(struct ls_pcapfile *f)
{
    if (!f->mapped)
        return;
    if (f->off + WINDOW / 2 > f->populated && f->populated < f->size)
        check_size(f);
    if (f->populate_ok && f->off + WINDOW / 2 > f->populated && f->populated < f->size) {
        size_t from = f->populated & ~(f->page - 1);
        size_t len = f->size - from < WINDOW ? f->size - from : WINDOW;
#ifdef MADV_POPULATE_READ
        if (madvise((void *)(uintptr_t)(f->base + from), len, MADV_POPULATE_READ) != 0)
            f->populate_ok = false; /* older kernel, or the file shrank: faults do it */
#else
        f->populate_ok = false;
#endif
        f->populated = from + len;
    }
    if (f->off > f->released + 2 * WINDOW) {
        size_t upto = (f->off - WINDOW) & ~(f->page - 1);
        /* A private read-only mapping: dropped pages read back from the
         * file if touched again, so nothing handed out is invalidated. */
        madvise((void *)(uintptr_t)(f->base + f->released), upto - f->released, MADV_DONTNEED);
        f->released = upto;
    }
}

/* Prefetches the file up to prefetch_distance past `pos`, continuing
 * where the last call stopped. */
static void prefetch_from(struct ls_pcapfile *f, size_t pos)
{
    size_t end = pos + f->prefetch_distance < f->size ? pos + f->prefetch_distance : f->size;

    if (f->prefetched < pos)
        f->prefetched = pos;
    for (; f->prefetched < end; f->prefetched += 64)
        __builtin_prefetch(f->base + f->prefetched);
}

/* The record at `off`: its header fields, or a reason it is bad (NULL when
 * the file simply ends there). */
static const char *record_at(const struct ls_pcapfile *f, size_t off, struct ls_pcapfile_rec *rec,
                             uint32_t *stored, char *why, size_t whysize)
{
    size_t left = f->size - off;
    const uint8_t *h = f->base + off;
    uint32_t caplen;

    if (left < REC_HDR) {
        snprintf(why, whysize, "truncated dump file; tried to read %d header bytes, only got %zu",
                 REC_HDR, left);
        return why;
    }
    rec->sec = (int32_t)load32(f, h);
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
    if (caplen > left - REC_HDR) {
        /* Above the snapshot length libpcap reads that much first, and
         * names it when even that is not there. */
        uint32_t want = caplen > f->snaplen && left - REC_HDR < f->snaplen ? f->snaplen : caplen;
        snprintf(why, whysize, "truncated dump file; tried to read %u captured bytes, only got %zu",
                 want, left - REC_HDR);
        return why;
    }
    *stored = caplen;
    /* Longer than the snapshot length but within the limit: libpcap keeps
     * the first snaplen bytes and skips the rest. */
    rec->caplen = caplen > f->snaplen ? f->snaplen : caplen;
    rec->data = h + REC_HDR;
    return NULL;
}

int ls_pcapfile_next(struct ls_pcapfile *f, struct ls_pcapfile_rec *rec,
                     char errbuf[LS_ERRBUF_SIZE])
{
    char why[160];
    uint32_t stored = 0;
    const char *bad;

    if (f->failed || f->off >= f->size)
        return 0;
    slide_window(f);
    prefetch_from(f, f->off);
    bad = record_at(f, f->off, rec, &stored, why, sizeof why);
    if (bad == NULL && stored > 0)
        (void)*(const volatile uint8_t *)(rec->data + stored - 1); /* faults now, if at all */
    /* A header of zeros is what a cut inside a page reads as: worth a
     * look at the size (real captures never have one). */
    if (faulted(f) ||
        (bad == NULL && rec->sec == 0 && rec->usec == 0 && stored == 0 && rec->wirelen == 0))
        check_size(f);
    /* Past a cut, what the record says is zeros, not the file. A fault
     * with the size intact (an I/O error under the mapping) ends it too. */
    if ((f->cut && f->off + REC_HDR + (bad == NULL ? stored : 0) > f->valid_end) ||
        (faulted(f) && !f->cut))
        bad = "the file shrank while being read";
    if (bad != NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE,
                 "%s: read error after record %llu: %s (at byte offset %zu)", f->name,
                 (unsigned long long)f->records, bad, f->off);
        f->failed = true;
        f->off = f->size;
        return LS_EIO;
    }
    f->off += REC_HDR + (size_t)stored;
    f->records++;
    if ((f->records & 1023) == 0) {
        size_t d = (f->off - FILE_HDR) / f->records * PREFETCH_RECORDS;
        f->prefetch_distance = d < PREFETCH_MIN   ? PREFETCH_MIN
                               : d > PREFETCH_MAX ? PREFETCH_MAX
                                                  : d;
    }
    return 1;
}

bool ls_pcapfile_ahead(struct ls_pcapfile *f, const uint8_t **data, uint32_t *caplen,
                       uint32_t *wirelen)
{
    struct ls_pcapfile_rec rec;
    char why[160];
    uint32_t stored;

    if (f->ahead_off < f->off)
        f->ahead_off = f->off;
    if (f->ahead_off >= f->size || faulted(f) || f->cut ||
        record_at(f, f->ahead_off, &rec, &stored, why, sizeof why) != NULL)
        return false;
    f->ahead_off += REC_HDR + (size_t)stored;
    prefetch_from(f, f->ahead_off);
    *data = rec.data;
    *caplen = rec.caplen;
    *wirelen = rec.wirelen;
    return true;
}

void ls_pcapfile_position(const struct ls_pcapfile *f, uint64_t *done, uint64_t *total)
{
    *done = f->off;
    *total = f->size;
}

void ls_pcapfile_close(struct ls_pcapfile *f)
{
    if (f == NULL)
        return;
    if (f->mapped) {
        guard_off(f->base);
        munmap((void *)(uintptr_t)f->base, f->size);
    }
    if (f->fd >= 0)
        close(f->fd);
    free(f->name);
    free(f);
}
