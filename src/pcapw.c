/* pcapw.c: classic pcap writing and per-connection frame keeping for
 * carving (see pcapw.h). The file format: a 24-byte global header (magic
 * a1b2c3d4 in host order, version 2.4, snaplen, link type), then for each
 * frame a 16-byte record header (seconds, microseconds, captured length,
 * wire length) and the captured bytes. */
#include "pcapw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MAGIC   0xa1b2c3d4u
#define PCAP_SNAPLEN 262144u

struct ls_pcapw {
    FILE *f;
    int linktype; /* LINKTYPE_* of the file, -1 before the first frame */
    uint64_t count;
    bool failed; /* a write failed: the file is incomplete */
};

int ls_pcapw_linktype(enum ls_linktype link)
{
    switch (link) {
    case LS_LINK_ETHERNET: return 1;
    case LS_LINK_NULL: return 0;
    case LS_LINK_RAW: return 101;
    case LS_LINK_LOOP: return 108;
    case LS_LINK_SLL: return 113;
    case LS_LINK_IPV4: return 228;
    case LS_LINK_IPV6: return 229;
    case LS_LINK_SLL2: return 276;
    case LS_LINK_UNSUPPORTED: break;
    }
    return -1;
}

int ls_pcapw_open(struct ls_pcapw **out, const char *path, char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_pcapw *w = calloc(1, sizeof *w);

    *out = NULL;
    if (w == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", path);
        return LS_ENOMEM;
    }
    w->f = fopen(path, "wb");
    if (w->f == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
        free(w);
        return LS_EIO;
    }
    w->linktype = -1;
    *out = w;
    return 0;
}

static bool put(struct ls_pcapw *w, const void *p, size_t n)
{
    if (!w->failed && fwrite(p, 1, n, w->f) != n)
        w->failed = true;
    return !w->failed;
}

static bool header(struct ls_pcapw *w, int linktype)
{
    /* Host byte order, as libpcap writes: readers tell by the magic. */
    const uint32_t h32[] = {PCAP_MAGIC};
    const uint16_t ver[] = {2, 4};
    const uint32_t rest[] = {0, 0, PCAP_SNAPLEN, (uint32_t)linktype};

    w->linktype = linktype;
    return put(w, h32, sizeof h32) && put(w, ver, sizeof ver) && put(w, rest, sizeof rest);
}

int ls_pcapw_write(struct ls_pcapw *w, const struct ls_frame *f)
{
    int lt = ls_pcapw_linktype(f->link);
    uint32_t rec[4];

    if (w->f == NULL)
        return LS_ESTOP;
    if (lt < 0 || (w->linktype >= 0 && lt != w->linktype))
        return LS_EINVAL;
    if (w->linktype < 0 && !header(w, lt))
        return LS_EIO;
    ls_ts_split(f->ts, &rec[0], &rec[1]);
    rec[2] = f->caplen;
    rec[3] = f->wirelen;
    if (!put(w, rec, sizeof rec) || !put(w, f->data, f->caplen))
        return LS_EIO;
    w->count++;
    return 0;
}

uint64_t ls_pcapw_count(const struct ls_pcapw *w)
{
    return w->count;
}

bool ls_pcapw_is_open(const struct ls_pcapw *w)
{
    return w->f != NULL;
}

int ls_pcapw_close(struct ls_pcapw *w)
{
    bool ok;

    if (w->f == NULL)
        return 0;
    if (w->linktype < 0)
        header(w, 1);
    ok = !w->failed;
    if (fclose(w->f) != 0)
        ok = false;
    w->f = NULL;
    return ok ? 0 : LS_EIO;
}

void ls_pcapw_free(struct ls_pcapw *w)
{
    if (w == NULL)
        return;
    ls_pcapw_close(w);
    free(w);
}

/* ---- kept frames --------------------------------------------------------- */

/* The header before each kept frame's bytes; copied in and out with memcpy
 * because records are packed without alignment. */
struct ls_keep_rec {
    double ts;
    uint32_t caplen;
    uint32_t wirelen;
    uint32_t link;
};

struct ls_keep *ls_keep_new(size_t max)
{
    struct ls_keep *k = calloc(1, sizeof *k);
    if (k != NULL) {
        k->max = max;
        k->follow_ref = -1;
    }
    return k;
}

void ls_keep_set_max(struct ls_keep *k, size_t max)
{
    k->max = max;
    if (max == 0) {
        free(k->buf);
        k->buf = NULL;
        k->len = k->cap = 0;
        k->frames = 0;
    }
}

static bool reserve(struct ls_keep *k, size_t need)
{
    size_t cap;
    uint8_t *nb;

    if (k->cap - k->len >= need)
        return true;
    cap = k->cap ? k->cap : 4096;
    while (cap - k->len < need)
        cap *= 2;
    if (cap > k->max)
        cap = k->max; /* need fits in max - len: checked by the caller */
    nb = realloc(k->buf, cap);
    if (nb == NULL)
        return false;
    k->buf = nb;
    k->cap = cap;
    return true;
}

void ls_keep_frame(struct ls_keep *k, const struct ls_frame *f)
{
    struct ls_keep_rec r;
    size_t need = sizeof r + f->caplen;

    if (k->follow != NULL)
        ls_pcapw_write(k->follow, f); /* errors are sticky in the writer */
    if (k->max == 0)
        return;
    if (k->len > k->max || k->max - k->len < need || !reserve(k, need)) {
        k->dropped++;
        return;
    }
    r.ts = f->ts;
    r.caplen = f->caplen;
    r.wirelen = f->wirelen;
    r.link = (uint32_t)f->link;
    memcpy(k->buf + k->len, &r, sizeof r);
    memcpy(k->buf + k->len + sizeof r, f->data, f->caplen);
    k->len += need;
    k->frames++;
}

int64_t ls_keep_write(const struct ls_keep *k, struct ls_pcapw *w)
{
    struct ls_keep_rec r;
    struct ls_frame f;
    int64_t n = 0;
    size_t off = 0;
    int rc;

    while (off < k->len) {
        memcpy(&r, k->buf + off, sizeof r);
        f.ts = r.ts;
        f.caplen = r.caplen;
        f.wirelen = r.wirelen;
        f.link = (enum ls_linktype)r.link;
        f.data = k->buf + off + sizeof r;
        off += sizeof r + r.caplen;
        rc = ls_pcapw_write(w, &f);
        if (rc == LS_EINVAL)
            continue;
        if (rc != 0)
            return rc;
        n++;
    }
    return n;
}

size_t ls_keep_bytes(const struct ls_keep *k)
{
    return k->len;
}

void ls_keep_free(struct ls_keep *k)
{
    if (k == NULL)
        return;
    free(k->buf);
    free(k);
}
