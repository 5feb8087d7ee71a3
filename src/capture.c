/* capture.c: packet sources through libpcap (capture files, stdin and live
 * interfaces) and the -w writer. The only file that includes pcap.h. Reads
 * records and hands frames on with their capture time; does no decoding and
 * knows nothing of the event loop (it only exposes a live handle's fd). */
#include "capture.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <pcap/pcap.h>

#include "pcapfile.h"
#include "pcapng.h"

/* Distinct link types whose filter the pcapng fallback compiles; a file
 * with more gets the rest unfiltered-out (dropped) rather than unfiltered. */
#define NG_FILTERS 8

/* -w: a pcap file being written (see ls_capture_dump_attach). */
struct ls_dump {
    pcap_dumper_t *d;
    char *path;
    int dlt;
    uint64_t skipped; /* frames of another link type (pcapng), not written */
};

struct ls_capture {
    pcap_t *p;
    char *name;              /* for messages: the path, or "stdin" */
    struct bpf_program prog; /* the filter, applied here (see on_record) */
    bool filtered;
    bool eof;
    enum ls_linktype link;
    int dlt;
    char dlt_name[32];
    uint64_t records; /* records read so far, filtered or not */
    /* The callback of the dispatch in progress. */
    ls_capture_fn fn;
    void *ud;
    bool live;            /* an interface: no end, filter in the kernel */
    struct ls_dump *dump; /* -w: frames that pass the filter, or NULL */
    /* Files libpcap refuses but our pcapng reader takes (see open_pcapng);
     * then p is NULL, the filter is compiled per link type, and `link`
     * follows the interface of the frame being delivered. */
    struct ls_pcapng *ng;
    bool pcapng;      /* a pcapng file, whatever reads it */
    bool frame_named; /* dlt_name names the frame's interface type */
    char *filter;
    bool brk;
    char *path; /* the file opened, NULL for stdin */
    struct {
        int linktype;
        bool ok;
        struct bpf_program prog;
    } ngf[NG_FILTERS];
    int nngf;
    /* A classic pcap file we read ourselves (see open_own); then p is a
     * dead handle that only compiles the filter and opens -w files. */
    struct ls_pcapfile *pf;
    ls_capture_ahead_fn ahead_fn;
    void *ahead_ud;
    uint64_t ahead_next; /* number of the next record to show ahead_fn */
    int ahead_dist;
};

/* libpcap's DLT values to ours. A table rather than a switch because DLT_RAW
 * and DLT_LOOP have platform-dependent values that can collide with the
 * literal LINKTYPE numbers; the first match wins, so the macros come first. */
static const struct {
    int dlt;
    enum ls_linktype link;
} links[] = {
    {DLT_NULL, LS_LINK_NULL}, {DLT_EN10MB, LS_LINK_ETHERNET},
    {DLT_RAW, LS_LINK_RAW},   {DLT_LOOP, LS_LINK_LOOP},
    {12, LS_LINK_RAW},   /* DLT_RAW on most systems */
    {14, LS_LINK_RAW},   /* DLT_RAW on OpenBSD */
    {101, LS_LINK_RAW},  /* LINKTYPE_RAW, should libpcap not map it */
    {108, LS_LINK_LOOP}, /* LINKTYPE_LOOP */
    {113, LS_LINK_SLL},  /* DLT_LINUX_SLL */
    {228, LS_LINK_IPV4}, /* DLT_IPV4 */
    {229, LS_LINK_IPV6}, /* DLT_IPV6 */
    {276, LS_LINK_SLL2}, /* DLT_LINUX_SLL2 */
};

static enum ls_linktype map_dlt(int dlt)
{
    for (size_t i = 0; i < LS_ARRAY_SIZE(links); i++)
        if (links[i].dlt == dlt)
            return links[i].link;
    return LS_LINK_UNSUPPORTED;
}

/* Records a source's link type and libpcap's name for it. */
static void set_dlt(struct ls_capture *cap, int dlt)
{
    const char *dname = pcap_datalink_val_to_name(dlt);
    cap->dlt = dlt;
    cap->link = map_dlt(dlt);
    if (dname != NULL)
        snprintf(cap->dlt_name, sizeof cap->dlt_name, "%s", dname);
    else
        snprintf(cap->dlt_name, sizeof cap->dlt_name, "DLT %d", dlt);
}

/* libpcap often starts its open errors with the path already ("x.pcap: No
 * such file or directory"); drop it so that our "FILE: " prefix is not doubled. */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);

    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/* ---- pcapng files libpcap refuses --------------------------------------- */

/* pcapng stores LINKTYPE_ values; only two differ from this platform's DLT_. */
static int linktype_dlt(int linktype)
{
    if (linktype == 101)
        return DLT_RAW;
    if (linktype == 108)
        return DLT_LOOP;
    return linktype;
}

/* libpcap 1.10 reads pcapng only when every interface has the first one's
 * link type and snaplen. When it refuses a pcapng file, our reader takes it.
 * Returns 0; LS_ECAPTURE when the file is not pcapng (the caller reports
 * libpcap's reason); LS_EIO with errbuf when our reader fails too. */
static int open_pcapng(struct ls_capture *cap, const char *path, const char *filter,
                       char errbuf[LS_ERRBUF_SIZE])
{
    /* Only a regular file can be opened a second time and probed: a pipe
     * would wait for another writer. */
    struct stat st;
    FILE *f =
        path == NULL || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ? NULL : fopen(path, "rb");
    int lt;

    if (f == NULL || !ls_pcapng_probe(f)) {
        if (f != NULL)
            fclose(f);
        return LS_ECAPTURE;
    }
    if (ls_pcapng_open(&cap->ng, f, cap->name, errbuf) != 0)
        return LS_EIO;
    if (filter != NULL && *filter != '\0' && cap->filter == NULL &&
        (cap->filter = strdup(filter)) == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", cap->name);
        return LS_ENOMEM;
    }
    lt = ls_pcapng_first_linktype(cap->ng);
    cap->dlt = lt >= 0 ? linktype_dlt(lt) : -1;
    cap->link = map_dlt(cap->dlt);
    snprintf(cap->dlt_name, sizeof cap->dlt_name, "%s, per interface",
             lt >= 0 && pcap_datalink_val_to_name(cap->dlt) ? pcap_datalink_val_to_name(cap->dlt)
                                                            : "none");
    return 0;
}

/* The filter compiled for `linktype`, compiled on first use; NULL when it
 * does not apply to that link type or too many link types were seen. */
static const struct bpf_program *ng_filter(struct ls_capture *cap, int linktype, uint32_t snap)
{
    for (int i = 0; i < cap->nngf; i++)
        if (cap->ngf[i].linktype == linktype)
            return cap->ngf[i].ok ? &cap->ngf[i].prog : NULL;
    if (cap->nngf == NG_FILTERS)
        return NULL;
    int i = cap->nngf++;
    cap->ngf[i].linktype = linktype;
    pcap_t *dead = pcap_open_dead(linktype_dlt(linktype), snap ? (int)snap : 262144);
    cap->ngf[i].ok = dead != NULL && pcap_compile(dead, &cap->ngf[i].prog, cap->filter, 1,
                                                  PCAP_NETMASK_UNKNOWN) == 0;
    if (dead != NULL)
        pcap_close(dead);
    return cap->ngf[i].ok ? &cap->ngf[i].prog : NULL;
}

/* How a dispatch through our own readers ends, from the reader's last
 * result `rc` (1 more, 0 end, < 0 error) and the `n` records read. */
static int dispatch_end(struct ls_capture *cap, int rc, int n)
{
    if (rc < 0) {
        cap->eof = true;
        return LS_EIO;
    }
    if (rc == 0 && !cap->brk)
        cap->eof = true;
    return n;
}

/* -w from our pcapng reader: a pcap file has one link type, so frames of
 * interfaces of another type are counted instead (see ls_capture_dump_close). */
static void ng_dump(struct ls_dump *d, int dlt, const struct ls_pcapng_rec *rec)
{
    if (dlt != d->dlt) {
        d->skipped++;
        return;
    }
    uint32_t sec, usec;
    ls_ts_split(rec->ts, &sec, &usec);
    struct pcap_pkthdr h = {.ts = {.tv_sec = (time_t)sec, .tv_usec = (suseconds_t)usec},
                            .caplen = rec->caplen,
                            .len = rec->wirelen};
    pcap_dump((u_char *)d->d, &h, rec->data);
}

static int ng_dispatch(struct ls_capture *cap, int max, char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_pcapng_rec rec;
    int n = 0, rc = 0;

    cap->brk = false;
    while (n < max && !cap->brk && (rc = ls_pcapng_next(cap->ng, &rec, errbuf)) > 0) {
        n++;
        cap->records++;
        if (cap->filter != NULL) {
            const struct bpf_program *prog = ng_filter(cap, rec.linktype, rec.snaplen);
            struct pcap_pkthdr h = {.caplen = rec.caplen, .len = rec.wirelen};
            /* A filter that cannot apply to this link type matches nothing. */
            if (prog == NULL || pcap_offline_filter(prog, &h, rec.data) == 0)
                continue;
        }
        int dlt = linktype_dlt(rec.linktype);
        if (dlt != cap->dlt || !cap->frame_named) { /* name the frame's link type */
            cap->frame_named = true;
            set_dlt(cap, dlt);
        }
        if (cap->dump != NULL)
            ng_dump(cap->dump, dlt, &rec);
        cap->fn(cap->ud, rec.ts, rec.data, rec.caplen, rec.wirelen);
    }
    return dispatch_end(cap, rc, n);
}

/* Reads past the first `n` records of a file our reader has just opened
 * again (libpcap handed them out before it gave up on the file). */
static int ng_skip(struct ls_capture *cap, uint64_t n, char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_pcapng_rec rec;
    for (uint64_t i = 0; i < n; i++)
        if (ls_pcapng_next(cap->ng, &rec, errbuf) <= 0)
            return LS_EIO;
    return 0;
}

/* ---- classic pcap files we read ---------------------------------------- */

/* A regular classic pcap file: our reader takes it (see pcapfile.h), and a
 * dead libpcap handle with its link type and snapshot length compiles the
 * filter and writes -w. Returns false, having changed nothing, for files to
 * leave to libpcap. */
static bool open_own(struct ls_capture *cap, const char *path)
{
    if (ls_pcapfile_open(&cap->pf, path, cap->name) != 0)
        return false;
    cap->p = pcap_open_dead_with_tstamp_precision(linktype_dlt(ls_pcapfile_linktype(cap->pf)),
                                                  (int)ls_pcapfile_snaplen(cap->pf),
                                                  PCAP_TSTAMP_PRECISION_MICRO);
    if (cap->p == NULL) {
        ls_pcapfile_close(cap->pf);
        cap->pf = NULL;
        return false;
    }
    return true;
}

/* Shows ahead_fn the records up to ahead_dist past the next one to read
 * (number cap->records), as far as the reader can. */
static void look_ahead(struct ls_capture *cap)
{
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint64_t index;

    if (cap->ahead_next < cap->records)
        cap->ahead_next = cap->records;
    while (cap->ahead_next <= cap->records + (uint64_t)cap->ahead_dist &&
           ls_pcapfile_ahead(cap->pf, &data, &caplen, &wirelen, &index)) {
        cap->ahead_fn(cap->ahead_ud, index, data, caplen, wirelen);
        cap->ahead_next = index + 1;
    }
}

static int pf_dispatch(struct ls_capture *cap, int max, char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_pcapfile_rec rec;
    int n = 0, rc = 0;

    cap->brk = false;
    while (n < max && !cap->brk) {
        if (cap->ahead_fn != NULL)
            look_ahead(cap);
        if ((rc = ls_pcapfile_next(cap->pf, &rec, errbuf)) <= 0)
            break;
        struct pcap_pkthdr h = {.ts = {.tv_sec = (time_t)rec.sec, .tv_usec = (suseconds_t)rec.usec},
                                .caplen = rec.caplen,
                                .len = rec.wirelen};
        n++;
        cap->records++;
        if (cap->filtered && pcap_offline_filter(&cap->prog, &h, rec.data) == 0)
            continue;
        if (cap->dump != NULL)
            pcap_dump((u_char *)cap->dump->d, &h, rec.data);
        cap->fn(cap->ud, (double)rec.sec + (double)rec.usec / 1e6, rec.data, rec.caplen,
                rec.wirelen);
    }
    return dispatch_end(cap, rc, n);
}

bool ls_capture_set_ahead(struct ls_capture *cap, ls_capture_ahead_fn fn, void *ud, int distance)
{
    if (cap->pf == NULL || distance <= 0)
        return false;
    cap->ahead_fn = fn;
    cap->ahead_ud = ud;
    cap->ahead_dist = distance;
    cap->ahead_next = cap->records;
    return true;
}

uint64_t ls_capture_record_index(const struct ls_capture *cap)
{
    return cap->records > 0 ? cap->records - 1 : 0;
}

/* ---- files libpcap reads ------------------------------------------------ */

/* pcap_open_offline, but a file gets a 1 MiB stdio buffer: libpcap reads
 * each record with fread, and the default 4 KiB buffer costs a read(2)
 * every few packets. stdin is left as libpcap opens it. */
static pcap_t *open_offline(const char *path, char *pcerr, bool *pcapng)
{
    *pcapng = false;
    if (strcmp(path, "-") == 0)
        return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, pcerr);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(pcerr, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, (size_t)1 << 20);
    *pcapng = ls_pcapng_probe(f);
    rewind(f);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, pcerr);
    if (p == NULL)
        fclose(f); /* on failure the FILE stays ours */
    return p;
}

int ls_capture_open_file(struct ls_capture **out, const char *path, const char *filter,
                         char errbuf[LS_ERRBUF_SIZE])
{
    char pcerr[PCAP_ERRBUF_SIZE] = "";
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    struct ls_capture *cap;

    *out = NULL;
    cap = calloc(1, sizeof *cap);
    if (cap == NULL || (cap->name = strdup(name)) == NULL ||
        (strcmp(path, "-") != 0 && (cap->path = strdup(path)) == NULL)) {
        if (cap != NULL)
            free(cap->name);
        free(cap);
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", name);
        return LS_ENOMEM;
    }
    /* Microseconds are what every tool prints; asking for them explicitly
     * also makes nanosecond files come out in the same unit. */
    if (cap->path == NULL || !open_own(cap, cap->path))
        cap->p = open_offline(path, pcerr, &cap->pcapng);
    if (cap->p == NULL) {
        int rc = open_pcapng(cap, cap->path, filter, errbuf);
        if (rc == 0) {
            *out = cap;
            return 0;
        }
        if (rc == LS_ECAPTURE)
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: %s", name, strip_path(pcerr, path));
        ls_capture_close(cap);
        return rc == LS_EIO ? LS_ECAPTURE : rc;
    }
    set_dlt(cap, pcap_datalink(cap->p));

    if (filter != NULL && *filter != '\0') {
        if (pcap_compile(cap->p, &cap->prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: filter '%s': %s", name, filter,
                     pcap_geterr(cap->p));
            ls_capture_close(cap);
            return LS_EINVAL;
        }
        cap->filtered = true;
    }
    cap->filter = filter != NULL && *filter != '\0' ? strdup(filter) : NULL;
    if (filter != NULL && *filter != '\0' && cap->filter == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", name);
        ls_capture_close(cap);
        return LS_ENOMEM;
    }
    *out = cap;
    return 0;
}

/* Runs for every record, including those the filter rejects, so that the
 * record count in a read error names the record's place in the file. (With
 * pcap_setfilter, libpcap would hide rejected records from us.) */
static void on_record(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct ls_capture *cap = (struct ls_capture *)(void *)user;
    double ts;

    cap->records++;
    if (cap->filtered && pcap_offline_filter(&cap->prog, h, data) == 0)
        return;
    /* Written before the frame is handled, one for one with `fn` calls, so
     * that -c and sniff.stop() end the file where the run ended. */
    if (cap->dump != NULL)
        pcap_dump((u_char *)cap->dump->d, h, data);
    /* A classic pcap file's seconds are unsigned 32 bits, which libpcap
     * reads signed (times after 2038 would go negative); pcapng's and an
     * interface's are wider. */
    ts = (cap->live || h->ts.tv_sec >= 0 ? (double)h->ts.tv_sec : (double)(uint32_t)h->ts.tv_sec) +
         (double)h->ts.tv_usec / 1e6;
    cap->fn(cap->ud, ts, data, h->caplen, h->len);
}

int ls_capture_dispatch(struct ls_capture *cap, int max, ls_capture_fn fn, void *ud,
                        char errbuf[LS_ERRBUF_SIZE])
{
    int n;

    if (cap->eof)
        return 0;
    cap->fn = fn;
    cap->ud = ud;
    if (cap->ng != NULL || cap->pf != NULL) {
        n = cap->pf != NULL ? pf_dispatch(cap, max, errbuf) : ng_dispatch(cap, max, errbuf);
        cap->fn = NULL;
        cap->ud = NULL;
        return n;
    }
    n = pcap_dispatch(cap->p, max, on_record, (u_char *)cap);
    cap->fn = NULL;
    cap->ud = NULL;
    if (n == PCAP_ERROR_BREAK)
        return 0;
    /* libpcap checks pcapng interfaces lazily: a file it opened may still
     * be refused at its first record, or later (an interface described
     * after packets, a section in the other byte order). Our reader then
     * starts it over, past the records already handed out. */
    if (n < 0 && cap->records > 0 && cap->pcapng) {
        uint64_t done = cap->records;
        char ngerr[LS_ERRBUF_SIZE];
        if (open_pcapng(cap, cap->path, cap->filter, ngerr) == 0 &&
            ng_skip(cap, done, ngerr) == 0) {
            pcap_close(cap->p);
            cap->p = NULL;
            return ls_capture_dispatch(cap, max, fn, ud, errbuf);
        }
        ls_pcapng_close(cap->ng); /* libpcap's reason is reported below */
        cap->ng = NULL;
    }
    if (n < 0 && cap->records == 0) {
        int rc = open_pcapng(cap, cap->path, cap->filter, errbuf);
        if (rc == 0) {
            pcap_close(cap->p);
            cap->p = NULL;
            return ls_capture_dispatch(cap, max, fn, ud, errbuf);
        }
        if (rc != LS_ECAPTURE) { /* pcapng, but damaged: our reader says where */
            cap->eof = true;
            return LS_EIO;
        }
    }
    if (n < 0) {
        cap->eof = true;
        if (cap->live)
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: capture error: %s", cap->name,
                     pcap_geterr(cap->p));
        else if (cap->records == 0)
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: read error before the first record: %s",
                     cap->name, pcap_geterr(cap->p));
        else
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: read error after record %llu: %s", cap->name,
                     (unsigned long long)cap->records, pcap_geterr(cap->p));
        return LS_EIO;
    }
    /* On an interface 0 only means nothing is waiting. */
    if (n == 0 && !cap->live)
        cap->eof = true;
    return n;
}

void ls_capture_break(struct ls_capture *cap)
{
    cap->brk = true;
    if (cap->p != NULL)
        pcap_breakloop(cap->p);
}

int ls_capture_check_filter(const char *filter, char errbuf[LS_ERRBUF_SIZE])
{
    struct bpf_program prog;
    pcap_t *p;
    int err = 0;

    /* A dead handle compiles without touching any file or device; 262144 is
     * libpcap's default snapshot length. */
    p = pcap_open_dead(DLT_EN10MB, 262144);
    if (p == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "filter '%s': out of memory", filter);
        return LS_ENOMEM;
    }
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "filter '%s': %s", filter, pcap_geterr(p));
        err = LS_EINVAL;
    } else {
        pcap_freecode(&prog);
    }
    pcap_close(p);
    return err;
}

bool ls_capture_eof(const struct ls_capture *cap)
{
    return cap->eof;
}

enum ls_linktype ls_capture_linktype(const struct ls_capture *cap)
{
    return cap->link;
}

bool ls_capture_per_interface(const struct ls_capture *cap)
{
    return cap->ng != NULL || cap->pcapng;
}

const char *ls_capture_linktype_name(const struct ls_capture *cap)
{
    return cap->dlt_name;
}

const char *ls_capture_name(const struct ls_capture *cap)
{
    return cap->name;
}

bool ls_capture_position(const struct ls_capture *cap, uint64_t *done, uint64_t *total)
{
    FILE *f;
    struct stat st;
    off_t off;

    if (cap->pf != NULL) {
        ls_pcapfile_position(cap->pf, done, total);
        return true;
    }
    if (cap->p == NULL || (f = pcap_file(cap->p)) == NULL)
        return false;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    off = ftello(f); /* includes stdio's read-ahead: close enough */
    if (off < 0)
        return false;
    *done = (uint64_t)off;
    *total = (uint64_t)st.st_size;
    return true;
}

void ls_capture_close(struct ls_capture *cap)
{
    if (cap == NULL)
        return;
    if (cap->filtered)
        pcap_freecode(&cap->prog);
    if (cap->p != NULL)
        pcap_close(cap->p);
    for (int i = 0; i < cap->nngf; i++)
        if (cap->ngf[i].ok)
            pcap_freecode(&cap->ngf[i].prog);
    ls_pcapng_close(cap->ng);
    ls_pcapfile_close(cap->pf);
    free(cap->filter);
    free(cap->path);
    free(cap->name);
    free(cap);
}

/* ---- live interfaces ---------------------------------------------------- */

/* pcap_activate's failure codes that deserve their own words: tcpdump's
 * experience is that libpcap's text alone ("socket: Operation not
 * permitted") leaves users guessing what to do. */
static const char *activate_hint(int status)
{
    switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE: return "no such interface";
    case PCAP_ERROR_PERM_DENIED:
        return "permission denied (run as root, or give the binary "
               "cap_net_raw,cap_net_admin: see docs/live.md)";
    case PCAP_ERROR_PROMISC_PERM_DENIED: return "not allowed to set promiscuous mode (try -p)";
    case PCAP_ERROR_IFACE_NOT_UP: return "interface is down";
    case PCAP_ERROR_RFMON_NOTSUP: return "monitor mode not supported";
    default: return NULL;
    }
}

int ls_capture_open_live(struct ls_capture **out, const char *iface,
                         const struct ls_live_options *opt, char errbuf[LS_ERRBUF_SIZE],
                         char warnbuf[LS_ERRBUF_SIZE])
{
    char pcerr[PCAP_ERRBUF_SIZE] = "";
    struct ls_capture *cap;
    const char *hint;
    int status;

    *out = NULL;
    warnbuf[0] = '\0';
    cap = calloc(1, sizeof *cap);
    if (cap == NULL || (cap->name = strdup(iface)) == NULL) {
        free(cap);
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", iface);
        return LS_ENOMEM;
    }
    cap->live = true;
    cap->p = pcap_create(iface, pcerr);
    if (cap->p == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: %s", iface, pcerr);
        ls_capture_close(cap);
        return LS_ECAPTURE;
    }
    /* These only fail on an activated handle, which this is not. */
    pcap_set_snaplen(cap->p, opt->snaplen);
    pcap_set_promisc(cap->p, opt->promisc);
    pcap_set_immediate_mode(cap->p, opt->immediate);
    /* Without immediate mode the kernel hands packets over in blocks, at the
     * latest after this long; the app's clock lag covers it. */
    pcap_set_timeout(cap->p, LS_LIVE_BUFFER_TIMEOUT_MS);
    if (opt->buffer_size > 0)
        pcap_set_buffer_size(cap->p, opt->buffer_size);
    status = pcap_activate(cap->p);
    if (status < 0) {
        hint = activate_hint(status);
        if (hint != NULL && status != PCAP_ERROR)
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: %s", iface, hint);
        else
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: %s", iface,
                     status == PCAP_ERROR ? pcap_geterr(cap->p) : pcap_statustostr(status));
        ls_capture_close(cap);
        return LS_ECAPTURE;
    }
    if (status > 0)
        snprintf(warnbuf, LS_ERRBUF_SIZE, "%s: %s%s%s", iface, pcap_statustostr(status),
                 status == PCAP_WARNING ? ": " : "",
                 status == PCAP_WARNING ? pcap_geterr(cap->p) : "");
    set_dlt(cap, pcap_datalink(cap->p));
    if (pcap_setnonblock(cap->p, 1, pcerr) != 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: cannot make non-blocking: %s", iface, pcerr);
        ls_capture_close(cap);
        return LS_ECAPTURE;
    }
    *out = cap;
    return 0;
}

int ls_capture_set_filter(struct ls_capture *cap, const char *filter, char errbuf[LS_ERRBUF_SIZE])
{
    struct bpf_program prog;
    int rc = 0;

    if (filter == NULL || *filter == '\0')
        return 0;
    /* Compiled for this handle's link type: "ether host" means nothing on
     * -i any, and libpcap says so here. */
    if (pcap_compile(cap->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: filter '%s': %s", cap->name, filter,
                 pcap_geterr(cap->p));
        return LS_EINVAL;
    }
    /* In the kernel when it can; libpcap also discards what the ring held
     * from before the filter, so no unfiltered packet reaches us. */
    if (pcap_setfilter(cap->p, &prog) != 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: cannot set filter: %s", cap->name,
                 pcap_geterr(cap->p));
        rc = LS_ECAPTURE;
    }
    pcap_freecode(&prog);
    return rc;
}

int ls_capture_fd(const struct ls_capture *cap)
{
    return pcap_get_selectable_fd(cap->p);
}

int ls_capture_poll_timeout_ms(const struct ls_capture *cap)
{
    const struct timeval *tv = pcap_get_required_select_timeout(cap->p);

    if (tv == NULL)
        return -1;
    return (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
}

bool ls_capture_is_live(const struct ls_capture *cap)
{
    return cap->live;
}

int ls_capture_stats(const struct ls_capture *cap, struct ls_iface_stats *out)
{
    struct pcap_stat ps;

    out->name = cap->name;
    if (!cap->live || pcap_stats(cap->p, &ps) != 0)
        return LS_ECAPTURE;
    out->received = ps.ps_recv;
    out->dropped = ps.ps_drop;
    out->if_dropped = ps.ps_ifdrop;
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

int ls_capture_dump_attach(struct ls_capture *cap, struct ls_dump **dp, const char *path,
                           char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_dump *d = *dp;

    if (d == NULL) {
        d = calloc(1, sizeof *d);
        if (d == NULL || (d->path = strdup(path)) == NULL) {
            free(d);
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", path);
            return LS_ENOMEM;
        }
        /* The file takes this source's link type and snapshot length; a
         * pcapng file our reader took has no libpcap handle, and maybe no
         * interface yet (then Ethernet, the commonest). */
        d->dlt = cap->dlt >= 0 ? cap->dlt : DLT_EN10MB;
        pcap_t *p = cap->p != NULL ? cap->p : pcap_open_dead(d->dlt, 262144);
        d->d = p != NULL ? pcap_dump_open(p, path) : NULL;
        if (d->d == NULL) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "-w %s: %s", path,
                     p != NULL ? strip_path(pcap_geterr(p), path) : "out of memory");
            if (p != NULL && p != cap->p)
                pcap_close(p);
            free(d->path);
            free(d);
            return LS_ECAPTURE;
        }
        if (p != cap->p)
            pcap_close(p);
        *dp = d;
    } else if (d->dlt != cap->dlt) {
        /* A pcap file has one link type; pcapng could mix them, but libpcap
         * cannot write pcapng. */
        snprintf(errbuf, LS_ERRBUF_SIZE,
                 "%s: link type %s differs from the one %s is written "
                 "with",
                 cap->name, cap->dlt_name, d->path);
        return LS_EINVAL;
    }
    cap->dump = d;
    return 0;
}

void ls_capture_dump_flush(struct ls_dump *d)
{
    if (d != NULL)
        pcap_dump_flush(d->d);
}

int ls_capture_dump_close(struct ls_dump *d, char errbuf[LS_ERRBUF_SIZE])
{
    int rc = 0;

    if (d == NULL)
        return 0;
    if (pcap_dump_flush(d->d) != 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "-w %s: write error", d->path);
        rc = LS_EIO;
    } else if (d->skipped > 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE,
                 "-w %s: %" PRIu64 " frames of interfaces of another link type not written "
                 "(a pcap file has one)",
                 d->path, d->skipped);
        rc = LS_EINVAL;
    }
    pcap_dump_close(d->d);
    free(d->path);
    free(d);
    return rc;
}
