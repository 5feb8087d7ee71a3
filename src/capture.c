/* capture.c: packet sources through libpcap (capture files and stdin). The
 * only file that includes pcap.h. Reads records and hands frames on with
 * their capture time; does no decoding and knows nothing of the event loop. */
#include "capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <pcap/pcap.h>

struct ls_capture {
    pcap_t *p;
    char *name;               /* for messages: the path, or "stdin" */
    struct bpf_program prog;  /* the filter, applied here (see on_record) */
    bool filtered;
    bool eof;
    enum ls_linktype link;
    int dlt;
    char dlt_name[32];
    uint64_t records;         /* records read so far, filtered or not */
    /* The callback of the dispatch in progress. */
    ls_capture_fn fn;
    void *ud;
};

/* libpcap's DLT values to ours. A table rather than a switch because DLT_RAW
 * and DLT_LOOP have platform-dependent values that can collide with the
 * literal LINKTYPE numbers; the first match wins, so the macros come first. */
static const struct {
    int dlt;
    enum ls_linktype link;
} links[] = {
    {DLT_NULL, LS_LINK_NULL},
    {DLT_EN10MB, LS_LINK_ETHERNET},
    {DLT_RAW, LS_LINK_RAW},
    {DLT_LOOP, LS_LINK_LOOP},
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

/* libpcap often starts its open errors with the path already ("x.pcap: No
 * such file or directory"); drop it so that our "FILE: " prefix is not doubled. */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);

    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

int ls_capture_open_file(struct ls_capture **out, const char *path, const char *filter,
                         char errbuf[LS_ERRBUF_SIZE])
{
    char pcerr[PCAP_ERRBUF_SIZE] = "";
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    struct ls_capture *cap;
    const char *dname;

    *out = NULL;
    cap = calloc(1, sizeof *cap);
    if (cap == NULL || (cap->name = strdup(name)) == NULL) {
        free(cap);
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", name);
        return LS_ENOMEM;
    }
    /* Microseconds are what every tool prints; asking for them explicitly
     * also makes nanosecond files come out in the same unit. */
    cap->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, pcerr);
    if (cap->p == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: %s", name, strip_path(pcerr, path));
        ls_capture_close(cap);
        return LS_ECAPTURE;
    }
    cap->dlt = pcap_datalink(cap->p);
    cap->link = map_dlt(cap->dlt);
    dname = pcap_datalink_val_to_name(cap->dlt);
    if (dname != NULL)
        snprintf(cap->dlt_name, sizeof cap->dlt_name, "%s", dname);
    else
        snprintf(cap->dlt_name, sizeof cap->dlt_name, "DLT %d", cap->dlt);

    if (filter != NULL && *filter != '\0') {
        if (pcap_compile(cap->p, &cap->prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: filter '%s': %s", name, filter,
                     pcap_geterr(cap->p));
            ls_capture_close(cap);
            return LS_EINVAL;
        }
        cap->filtered = true;
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
    ts = (double)h->ts.tv_sec + (double)h->ts.tv_usec / 1e6;
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
    n = pcap_dispatch(cap->p, max, on_record, (u_char *)cap);
    cap->fn = NULL;
    cap->ud = NULL;
    if (n == PCAP_ERROR_BREAK)
        return 0;
    if (n < 0) {
        cap->eof = true;
        if (cap->records == 0)
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: read error before the first record: %s",
                     cap->name, pcap_geterr(cap->p));
        else
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: read error after record %llu: %s", cap->name,
                     (unsigned long long)cap->records, pcap_geterr(cap->p));
        return LS_EIO;
    }
    if (n == 0)
        cap->eof = true;
    return n;
}

void ls_capture_break(struct ls_capture *cap)
{
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
    FILE *f = pcap_file(cap->p);
    struct stat st;
    off_t off;

    if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
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
    free(cap->name);
    free(cap);
}
