/* mkpcap: turns a text description of TCP packets into a classic pcap file
 * (microsecond timestamps), or a pcapng file, so that e2e cases are readable
 * and reviewable text instead of binary fixtures. Test tool only; never
 * installed.
 *
 * Usage: mkpcap IN.txt OUT.pcap      ("-" for stdin / stdout)
 *
 * Input, one item per line; '#' starts a comment, blank lines are skipped.
 * Directives (format, link, snaplen and base before the first packet):
 *   format pcap|pcapng   output format (default pcap)
 *   link ether|raw|sll   link type of the file (default ether)
 *   snaplen N            file snaplen; longer packets are cut to N bytes
 *   iface LINK [snaplen=N]
 *                        pcapng only (after `format pcapng`): declares the
 *                        next interface (0, 1, ...). LINK is ether, raw, sll
 *                        or a number, a LINKTYPE_ value (105: IEEE 802.11);
 *                        snaplen defaults to 262144, 0 means none. An iface
 *                        line after packets writes its block there (an
 *                        interface described mid-file). Without
 *                        iface lines a pcapng file has one interface, made of
 *                        `link` and `snaplen`, which cannot be mixed with iface.
 *   base SECONDS         added to every packet time (default 1700000000)
 *   cut N                drop the last N bytes of the finished file (a capture
 *                        cut mid-record)
 *   badlen N             the last record claims N captured bytes (an absurd
 *                        record length); its real bytes follow
 *   badmagic             the file header starts with garbage, not a pcap magic
 *                        (pcapng: the section's byte-order magic is garbage)
 * Packets:
 *   TIME SRC > DST FLAGS [option...] [payload...]
 *   TIME raw [if=N] PAYLOAD   the link-layer frame, verbatim (the only form
 *                        for an interface whose LINK is a number)
 * TIME is seconds relative to `base`. SRC/DST are 10.0.0.1:80 or [2001:db8::1]:80.
 * FLAGS is a word of S A F R P U E C letters (or "." for none).
 * Options: seq=N ack=N win=N (default 65535) mss=N wscale=N sackok ts=N (a
 *   timestamp option, TSval N, TSecr 0) ttl=N
 *   id=N vlan=N (repeatable, outermost first) pad=N (N zero bytes after the IP
 *   packet, like Ethernet padding) trunc=N (capture only the first N bytes)
 *   badsum (a wrong TCP checksum) offloadsum (the pseudo-header's sum in the
 *   TCP checksum field, as checksum offload leaves it) iplen0 (IP total or payload length 0, as
 *   captured from a sender's segmentation offload) frag=N (send the IP packet as fragments of
 *   N data bytes, N a multiple of 8; IPv6 gets a fragment header; the id is
 *   id=) fragrev (send those fragments last first) fragdrop=K (leave out
 *   fragment K, counting from 0) if=N (pcapng: the interface, default 0).
 * Payload pieces are concatenated: "C string with \r\n \x41 \0 escapes",
 *   x:68656c6c6f (hex), rep:N:"A" or rep:N:x:41 (repeated N times).
 * Checksums are valid unless badsum. Errors name the input line; exit 1.
 *
 * Both formats are written little-endian. pcapng: a Section Header Block, one
 * Interface Description Block per interface (no options: microsecond
 * timestamps), then one Enhanced Packet Block per packet. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXPKT    262144
#define MAXIFACES 16

/* pcapng block types and the byte-order magic. */
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_BOM 0x1A2B3C4Du

static const char *g_file = "-";
static int g_line;

_Noreturn static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mkpcap: %s:%d: ", g_file, g_line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Growable byte buffer for payloads, frames and the file being built. */
struct buf {
    uint8_t *p;
    size_t n, cap;
};

/* Appends without a size limit (the file as a whole may be large). */
static void append(struct buf *b, const void *src, size_t n)
{
    if (n > SIZE_MAX / 2 - b->n)
        die("out of memory");
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np)
            die("out of memory");
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* Appends to a packet or frame, which stays within MAXPKT bytes. */
static void put(struct buf *b, const void *src, size_t n)
{
    if (b->n + n > MAXPKT)
        die("packet longer than %d bytes", MAXPKT);
    append(b, src, n);
}

static void put8(struct buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void put16(struct buf *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put32(struct buf *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

/* Little-endian, for the file format (packets are big-endian: put16/put32). */
static void le16(struct buf *b, unsigned v)
{
    uint8_t c[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    append(b, c, 2);
}

static void le32(struct buf *b, uint32_t v)
{
    uint8_t c[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    append(b, c, 4);
}

static void set_le32(struct buf *b, size_t at, uint32_t v)
{
    if (at > b->n || b->n - at < 4)
        die("internal error: patch past the end");
    for (int j = 0; j < 4; j++)
        b->p[at + j] = (uint8_t)(v >> (8 * j));
}

static unsigned long long num(const char *s, unsigned long long max, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        die("bad %s '%s'", what, s);
    return v;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parses a payload piece starting at *sp into `out`; advances *sp. */
static void payload_piece(const char **sp, struct buf *out)
{
    const char *s = *sp;
    if (*s == '"') {
        for (s++; *s != '"'; s++) {
            if (!*s)
                die("unterminated string");
            if (*s != '\\') {
                put8(out, (uint8_t)*s);
                continue;
            }
            s++;
            switch (*s) {
            case 'n': put8(out, '\n'); break;
            case 'r': put8(out, '\r'); break;
            case 't': put8(out, '\t'); break;
            case '0': put8(out, 0); break;
            case '\\': put8(out, '\\'); break;
            case '"': put8(out, '"'); break;
            case 'x': {
                int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);
                if (l < 0)
                    die("bad \\x escape");
                put8(out, (unsigned)(h * 16 + l));
                s += 2;
                break;
            }
            default: die("unknown escape \\%c", *s ? *s : '0');
            }
        }
        *sp = s + 1;
    } else if (!strncmp(s, "x:", 2)) {
        for (s += 2; *s && !isspace((unsigned char)*s); s += 2) {
            int h = hexval(s[0]), l = h < 0 ? -1 : hexval(s[1]);
            if (l < 0)
                die("bad hex payload");
            put8(out, (unsigned)(h * 16 + l));
        }
        *sp = s;
    } else if (!strncmp(s, "rep:", 4)) {
        char *end;
        unsigned long n = strtoul(s + 4, &end, 10);
        if (end == s + 4 || *end != ':' || n > MAXPKT)
            die("bad rep: count");
        s = end + 1;
        struct buf unit = {0};
        payload_piece(&s, &unit);
        if (unit.n == 0 && n)
            die("empty rep: unit");
        for (unsigned long i = 0; i < n; i++)
            put(out, unit.p, unit.n);
        free(unit.p);
        *sp = s;
    } else {
        die("unknown word '%s'", s);
    }
}

struct addr {
    int af; /* 4 or 6 */
    uint8_t ip[16];
    uint16_t port;
};

static void parse_addr(const char *s, struct addr *a)
{
    char tmp[128];
    const char *colon;
    if (strlen(s) >= sizeof tmp)
        die("address too long");
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            die("bad address '%s' (want [v6]:port)", s);
        memcpy(tmp, s + 1, (size_t)(rb - s - 1));
        tmp[rb - s - 1] = 0;
        if (inet_pton(AF_INET6, tmp, a->ip) != 1)
            die("bad IPv6 address '%s'", tmp);
        a->af = 6;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            die("bad address '%s' (want ip:port)", s);
        memcpy(tmp, s, (size_t)(colon - s));
        tmp[colon - s] = 0;
        if (inet_pton(AF_INET, tmp, a->ip) != 1)
            die("bad IPv4 address '%s'", tmp);
        a->af = 4;
    }
    a->port = (uint16_t)num(colon + 1, 65535, "port");
}

/* Internet checksum over `n` bytes, continuing `sum`. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Splits a line into words; quoted strings (with escapes) stay one word. */
static int split(char *s, char **w, int max)
{
    int n = 0;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            return n;
        if (n == max)
            die("too many words");
        w[n++] = s;
        int q = 0;
        for (; *s && (q || !isspace((unsigned char)*s)); s++) {
            if (q && *s == '\\' && s[1])
                s++;
            else if (*s == '"')
                q = !q;
        }
        if (q)
            die("unterminated string");
        if (*s)
            *s++ = 0;
    }
}

struct opts {
    uint32_t seq, ack;
    unsigned win, ttl, id;
    int mss, wscale, sackok, badsum, offloadsum, fragrev, iplen0;
    int has_ts;
    uint32_t tsval;
    unsigned frag;
    long fragdrop;
    unsigned vlan[4];
    int nvlan;
    long pad, trunc;
    int ifn; /* pcapng interface */
};

static unsigned parse_flags(const char *f)
{
    static const char letters[] = "FSRPAUEC"; /* bit order of the TCP header */
    unsigned v = 0;
    if (!strcmp(f, "."))
        return 0;
    for (; *f; f++) {
        const char *p = strchr(letters, *f);
        if (!p || !*f)
            die("bad flag '%c' (use S A F R P U E C or .)", *f);
        v |= 1u << (p - letters);
    }
    return v;
}

/* Builds IP + TCP for one packet into `ip`. */
static void build_tcp(struct buf *ip, const struct addr *src, const struct addr *dst,
                      unsigned flags, const struct opts *o, const struct buf *pl)
{
    struct buf tcp = {0};
    struct buf topt = {0};
    if (o->mss >= 0) {
        put8(&topt, 2);
        put8(&topt, 4);
        put16(&topt, (unsigned)o->mss);
    }
    if (o->sackok) {
        put8(&topt, 4);
        put8(&topt, 2);
    }
    if (o->wscale >= 0) {
        put8(&topt, 3);
        put8(&topt, 3);
        put8(&topt, (unsigned)o->wscale);
    }
    if (o->has_ts) {
        /* As stacks lay it out: NOP NOP TS (RFC 7323 appendix A). */
        while (topt.n % 4 != 2)
            put8(&topt, 1);
        put8(&topt, 8);
        put8(&topt, 10);
        put32(&topt, o->tsval);
        put32(&topt, 0);
    }
    while (topt.n % 4)
        put8(&topt, 1); /* NOP padding */
    put16(&tcp, src->port);
    put16(&tcp, dst->port);
    put32(&tcp, o->seq);
    put32(&tcp, o->ack);
    put16(&tcp, (unsigned)((20 + topt.n) / 4) << 12 | flags);
    put16(&tcp, o->win);
    put16(&tcp, 0); /* checksum, below */
    put16(&tcp, 0); /* urgent pointer */
    if (topt.n)
        put(&tcp, topt.p, topt.n);
    if (pl->n)
        put(&tcp, pl->p, pl->n);

    /* Pseudo-header, then the segment. */
    uint32_t sum = 0;
    size_t alen = src->af == 4 ? 4 : 16;
    uint8_t ph[8] = {0};
    sum = csum_add(sum, src->ip, alen);
    sum = csum_add(sum, dst->ip, alen);
    ph[0] = (uint8_t)(tcp.n >> 24);
    ph[1] = (uint8_t)(tcp.n >> 16);
    ph[2] = (uint8_t)(tcp.n >> 8);
    ph[3] = (uint8_t)tcp.n;
    ph[7] = 6;
    sum = csum_add(sum, ph, 8);
    uint16_t partial = (uint16_t)~csum_fold(sum);
    sum = csum_add(sum, tcp.p, tcp.n);
    uint16_t ck = o->offloadsum ? partial : csum_fold(sum);
    if (o->badsum)
        ck ^= 0x5a5a;
    tcp.p[16] = (uint8_t)(ck >> 8);
    tcp.p[17] = (uint8_t)ck;

    if (src->af == 4) {
        size_t start = ip->n;
        put8(ip, 0x45);
        put8(ip, 0);
        put16(ip, o->iplen0 ? 0 : (unsigned)(20 + tcp.n));
        put16(ip, o->id);
        put16(ip, 0x4000); /* DF */
        put8(ip, o->ttl);
        put8(ip, 6);
        put16(ip, 0);
        put(ip, src->ip, 4);
        put(ip, dst->ip, 4);
        uint16_t ick = csum_fold(csum_add(0, ip->p + start, 20));
        ip->p[start + 10] = (uint8_t)(ick >> 8);
        ip->p[start + 11] = (uint8_t)ick;
    } else {
        put32(ip, 0x60000000u);
        put16(ip, o->iplen0 ? 0 : (unsigned)tcp.n);
        put8(ip, 6);
        put8(ip, o->ttl);
        put(ip, src->ip, 16);
        put(ip, dst->ip, 16);
    }
    put(ip, tcp.p, tcp.n);
    free(tcp.p);
    free(topt.p);
}

/* Writes the link-layer header of a frame carrying `src` -> `dst`. */
static void link_header(struct buf *frame, unsigned linktype, const struct addr *src,
                        const struct addr *dst, const struct opts *o)
{
    unsigned ethertype = src->af == 4 ? 0x0800 : 0x86dd;
    if (linktype == 1) {
        static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 1}, mac_b[6] = {2, 0, 0, 0, 0, 2};
        /* Lower address:port gets mac_a, so each side keeps its MAC. */
        int lower = memcmp(src->ip, dst->ip, 16) < 0 ||
                    (!memcmp(src->ip, dst->ip, 16) && src->port < dst->port);
        put(frame, lower ? mac_b : mac_a, 6);
        put(frame, lower ? mac_a : mac_b, 6);
        for (int i = 0; i < o->nvlan; i++) {
            put16(frame, 0x8100);
            put16(frame, o->vlan[i]);
        }
        put16(frame, ethertype);
    } else if (linktype == 113) {
        static const uint8_t mac[8] = {2, 0, 0, 0, 0, 1, 0, 0};
        put16(frame, 0); /* to us */
        put16(frame, 1); /* ARPHRD_ETHER */
        put16(frame, 6);
        put(frame, mac, 8);
        put16(frame, ethertype);
    }
}

/* Splits the IP packet `ip` (IPv4 with a 20-byte header, or IPv6 with none
 * of its own extension headers) into fragments of `size` data bytes (0: one
 * whole packet). Fills out[] with new buffers; returns their number. */
static int fragment(const struct buf *ip, unsigned size, unsigned id, struct buf *out, int max)
{
    int v4 = ip->p[0] >> 4 == 4;
    size_t hlen = v4 ? 20 : 40, len = ip->n - hlen;
    int n = 0;
    if (size == 0) {
        out[0] = (struct buf){0};
        put(&out[0], ip->p, ip->n);
        return 1;
    }
    for (size_t off = 0; off < len; off += size) {
        size_t part = len - off < size ? len - off : size;
        int more = off + part < len;
        struct buf *b = &out[n];
        if (n == max)
            die("more than %d fragments", max);
        *b = (struct buf){0};
        if (v4) {
            put(b, ip->p, 20);
            b->p[2] = (uint8_t)((20 + part) >> 8);
            b->p[3] = (uint8_t)(20 + part);
            b->p[6] = (uint8_t)((more ? 0x20 : 0) | (off / 8) >> 8);
            b->p[7] = (uint8_t)(off / 8);
            b->p[10] = b->p[11] = 0;
            uint16_t ck = csum_fold(csum_add(0, b->p, 20));
            b->p[10] = (uint8_t)(ck >> 8);
            b->p[11] = (uint8_t)ck;
        } else {
            put(b, ip->p, 40);
            b->p[4] = (uint8_t)((8 + part) >> 8);
            b->p[5] = (uint8_t)(8 + part);
            b->p[6] = 44;
            put8(b, ip->p[6]);
            put8(b, 0);
            put16(b, (unsigned)off | (unsigned)more);
            put32(b, id);
        }
        put(b, ip->p + hlen + off, part);
        n++;
    }
    return n;
}

/* The file being built. A classic pcap file has exactly one interface. */
struct iface {
    unsigned linktype;     /* a LINKTYPE_ value */
    unsigned long snaplen; /* pcapng: 0 means none */
};

struct out {
    int pcapng;
    struct iface ifaces[MAXIFACES];
    int nifaces;
    int nifaces_first;  /* described in the file header, before any packet */
    struct buf recs;    /* pcap records or pcapng packet blocks */
    size_t last_caplen; /* offset in recs of the last record's caplen field */
    unsigned long nrecs;
};

/* A link type word: ether, raw, sll or, when `numeric`, a LINKTYPE_ number. */
static unsigned parse_link(const char *w, int numeric)
{
    if (!strcmp(w, "ether"))
        return 1;
    if (!strcmp(w, "raw"))
        return 101;
    if (!strcmp(w, "sll"))
        return 113;
    if (numeric && isdigit((unsigned char)w[0]))
        return (unsigned)num(w, 65535, "link type");
    die("unknown link type '%s' (ether, raw, sll%s)", w, numeric ? " or a number" : "");
}

/* Link types whose header link_header() writes, so TCP packet lines work. */
static int link_known(unsigned linktype)
{
    return linktype == 1 || linktype == 101 || linktype == 113;
}

/* The interface of an `if=` option. */
static int parse_ifn(const char *v, const struct out *o)
{
    int ifn = (int)num(v, MAXIFACES - 1, "if");
    if (ifn >= o->nifaces)
        die("if=%d: no such interface (%d declared)", ifn, o->nifaces);
    return ifn;
}

/* Appends one record of `frame` at time `when` on interface `ifn`, captured
 * up to `trunc` bytes (-1: all) and the interface's snaplen. */
static void add_record(struct out *o, double when, int ifn, const struct buf *frame, long trunc)
{
    const struct iface *ifc = &o->ifaces[ifn];
    struct buf *r = &o->recs;
    uint32_t len = (uint32_t)frame->n, caplen = len;
    if (trunc >= 0 && (uint32_t)trunc < caplen)
        caplen = (uint32_t)trunc;
    if ((ifc->snaplen || !o->pcapng) && caplen > ifc->snaplen)
        caplen = (uint32_t)ifc->snaplen;
    /* Round to whole microseconds to avoid 0.3 -> 299999 us. */
    uint64_t us = (uint64_t)(when * 1e6 + 0.5);
    if (!o->pcapng) {
        /* Record header: seconds, microseconds, caplen, length. */
        le32(r, (uint32_t)(us / 1000000));
        le32(r, (uint32_t)(us % 1000000));
        o->last_caplen = r->n;
        le32(r, caplen);
        le32(r, len);
        append(r, frame->p, caplen);
    } else {
        /* Enhanced packet block: type, length, interface, timestamp (high,
         * low) in microseconds, caplen, length, the bytes padded to 32 bits,
         * no options, length again. */
        static const uint8_t zeros[3];
        size_t pad = (4 - caplen % 4) % 4;
        uint32_t total = (uint32_t)(32 + caplen + pad);
        le32(r, PCAPNG_EPB);
        le32(r, total);
        le32(r, (uint32_t)ifn);
        le32(r, (uint32_t)(us >> 32));
        le32(r, (uint32_t)us);
        o->last_caplen = r->n;
        le32(r, caplen);
        le32(r, len);
        append(r, frame->p, caplen);
        append(r, zeros, pad);
        le32(r, total);
    }
    o->nrecs++;
}

/* An interface description block: type, length, link type, reserved,
 * snaplen, no options (so microseconds), length again. */
static void idb(struct buf *b, const struct iface *ifc)
{
    le32(b, PCAPNG_IDB);
    le32(b, 20);
    le16(b, ifc->linktype);
    le16(b, 0);
    le32(b, (uint32_t)ifc->snaplen);
    le32(b, 20);
}

/* Everything before the records: the pcap file header, or the pcapng
 * section header and interface descriptions. */
static void file_header(const struct out *o, int badmagic, struct buf *h)
{
    if (!o->pcapng) {
        /* Magic, version 2.4, thiszone, sigfigs, snaplen, link type. */
        le32(h, badmagic ? 0x0badf00du : 0xa1b2c3d4u);
        le16(h, 2);
        le16(h, 4);
        le32(h, 0);
        le32(h, 0);
        le32(h, (uint32_t)o->ifaces[0].snaplen);
        le32(h, o->ifaces[0].linktype);
        return;
    }
    /* Section header: type, length, byte-order magic, version 1.0, section
     * length -1 (not given), no options, length again. */
    le32(h, PCAPNG_SHB);
    le32(h, 28);
    le32(h, badmagic ? 0x0badf00du : PCAPNG_BOM);
    le16(h, 1);
    le16(h, 0);
    le32(h, 0xffffffffu);
    le32(h, 0xffffffffu);
    le32(h, 28);
    for (int i = 0; i < o->nifaces_first; i++)
        idb(h, &o->ifaces[i]);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mkpcap IN.txt OUT.pcap   (- for stdin/stdout)\n");
        return 2;
    }
    g_file = argv[1];
    FILE *in = strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
    if (!in) {
        fprintf(stderr, "mkpcap: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    /* The whole file is built in memory so that `link`/`snaplen` may come
     * anywhere before the first packet and `cut` can act at the end. */
    struct out out = {0};
    unsigned linktype = 1;
    unsigned long snaplen = 262144, cut = 0, badlen = 0;
    int badmagic = 0, link_set = 0;
    double base = 1700000000.0;
    int seen_packet = 0;
    uint16_t next_id = 1;
    char *line = NULL;
    size_t linecap = 0;
    while (getline(&line, &linecap, in) >= 0) {
        char *w[256];
        g_line++;
        int n = split(line, w, 256);
        if (n == 0)
            continue;
        if (!strcmp(w[0], "link") || !strcmp(w[0], "snaplen") || !strcmp(w[0], "base") ||
            !strcmp(w[0], "format")) {
            if (n != 2)
                die("%s takes one argument", w[0]);
            if (seen_packet)
                die("%s must come before the first packet", w[0]);
            if (!strcmp(w[0], "base")) {
                base = strtod(w[1], NULL);
            } else if (!strcmp(w[0], "format")) {
                if (out.nifaces)
                    die("format must come before the iface lines");
                if (!strcmp(w[1], "pcap"))
                    out.pcapng = 0;
                else if (!strcmp(w[1], "pcapng"))
                    out.pcapng = 1;
                else
                    die("unknown format '%s' (pcap, pcapng)", w[1]);
            } else {
                if (out.nifaces)
                    die("%s cannot be mixed with iface lines (iface LINK snaplen=N)", w[0]);
                link_set = 1;
                if (!strcmp(w[0], "snaplen"))
                    snaplen = (unsigned long)num(w[1], MAXPKT, "snaplen");
                else
                    linktype = parse_link(w[1], 0);
            }
            continue;
        }
        if (!strcmp(w[0], "iface")) {
            if (n < 2 || n > 3)
                die("want: iface LINK [snaplen=N]");
            if (!out.pcapng)
                die("iface needs `format pcapng` first");
            if (link_set)
                die("iface cannot be mixed with link or snaplen lines");
            if (out.nifaces == MAXIFACES)
                die("at most %d interfaces", MAXIFACES);
            struct iface *ifc = &out.ifaces[out.nifaces];
            ifc->linktype = parse_link(w[1], 1);
            ifc->snaplen = MAXPKT;
            if (n == 3) {
                if (strncmp(w[2], "snaplen=", 8))
                    die("unknown iface option '%s' (snaplen=N)", w[2]);
                ifc->snaplen = (unsigned long)num(w[2] + 8, UINT32_MAX, "snaplen");
            }
            if (seen_packet) /* described after packets: the block goes here */
                idb(&out.recs, ifc);
            out.nifaces++;
            continue;
        }
        if (!strcmp(w[0], "badmagic")) {
            badmagic = 1;
            continue;
        }
        if (!strcmp(w[0], "badlen")) {
            if (n != 2)
                die("badlen takes one argument");
            badlen = (unsigned long)num(w[1], UINT32_MAX, "badlen");
            continue;
        }
        if (!strcmp(w[0], "cut")) {
            if (n != 2)
                die("cut takes one argument");
            cut = (unsigned long)num(w[1], 1ul << 30, "cut");
            continue;
        }

        /* A packet. The interfaces are settled at the first one. */
        if (!seen_packet && out.nifaces == 0)
            out.ifaces[out.nifaces++] = (struct iface){linktype, snaplen};
        if (!seen_packet)
            out.nifaces_first = out.nifaces;
        seen_packet = 1;
        char *end;
        double t = strtod(w[0], &end);
        if (end == w[0] || *end || t < 0)
            die("bad time '%s' (or unknown directive)", w[0]);
        struct buf frame = {0}, pl = {0}, ip = {0};
        if (n >= 2 && !strcmp(w[1], "raw")) {
            int ifn = 0;
            for (int i = 2; i < n; i++) {
                const char *s = w[i];
                if (!strncmp(s, "if=", 3)) {
                    ifn = parse_ifn(s + 3, &out);
                    continue;
                }
                payload_piece(&s, &frame);
                if (*s)
                    die("junk after payload '%s'", s);
            }
            add_record(&out, base + t, ifn, &frame, -1);
        } else {
            if (n < 5 || strcmp(w[2], ">"))
                die("want: TIME SRC > DST FLAGS [options] [payload]");
            struct addr src, dst;
            parse_addr(w[1], &src);
            parse_addr(w[3], &dst);
            if (src.af != dst.af)
                die("mixed IPv4 and IPv6 addresses");
            unsigned flags = parse_flags(w[4]);
            struct opts o = {.win = 65535,
                             .ttl = 64,
                             .id = next_id++,
                             .mss = -1,
                             .wscale = -1,
                             .pad = 0,
                             .trunc = -1,
                             .fragdrop = -1};
            for (int i = 5; i < n; i++) {
                char *eq = strchr(w[i], '=');
                if (w[i][0] == '"' || !strncmp(w[i], "x:", 2) || !strncmp(w[i], "rep:", 4)) {
                    const char *s = w[i];
                    payload_piece(&s, &pl);
                    if (*s)
                        die("junk after payload '%s'", s);
                } else if (!strcmp(w[i], "sackok")) {
                    o.sackok = 1;
                } else if (!strcmp(w[i], "badsum")) {
                    o.badsum = 1;
                } else if (!strcmp(w[i], "offloadsum")) {
                    o.offloadsum = 1;
                } else if (!strcmp(w[i], "iplen0")) {
                    o.iplen0 = 1;
                } else if (!strcmp(w[i], "fragrev")) {
                    o.fragrev = 1;
                } else if (!eq) {
                    die("unknown word '%s'", w[i]);
                } else {
                    *eq = 0;
                    const char *k = w[i], *v = eq + 1;
                    if (!strcmp(k, "seq"))
                        o.seq = (uint32_t)num(v, UINT32_MAX, k);
                    else if (!strcmp(k, "ack"))
                        o.ack = (uint32_t)num(v, UINT32_MAX, k);
                    else if (!strcmp(k, "win"))
                        o.win = (unsigned)num(v, 65535, k);
                    else if (!strcmp(k, "mss"))
                        o.mss = (int)num(v, 65535, k);
                    else if (!strcmp(k, "wscale"))
                        o.wscale = (int)num(v, 14, k);
                    else if (!strcmp(k, "ttl"))
                        o.ttl = (unsigned)num(v, 255, k);
                    else if (!strcmp(k, "ts")) {
                        o.has_ts = 1;
                        o.tsval = (uint32_t)num(v, UINT32_MAX, k);
                    } else if (!strcmp(k, "id"))
                        o.id = (unsigned)num(v, 65535, k);
                    else if (!strcmp(k, "pad"))
                        o.pad = (long)num(v, 1500, k);
                    else if (!strcmp(k, "trunc"))
                        o.trunc = (long)num(v, MAXPKT, k);
                    else if (!strcmp(k, "frag"))
                        o.frag = (unsigned)num(v, 65528, k);
                    else if (!strcmp(k, "fragdrop"))
                        o.fragdrop = (long)num(v, 63, k);
                    else if (!strcmp(k, "if"))
                        o.ifn = parse_ifn(v, &out);
                    else if (!strcmp(k, "vlan")) {
                        if (o.nvlan == 4)
                            die("at most 4 vlan tags");
                        o.vlan[o.nvlan++] = (unsigned)num(v, 4095, k);
                    } else
                        die("unknown option '%s'", k);
                }
            }
            unsigned lt = out.ifaces[o.ifn].linktype;
            if (!link_known(lt))
                die("interface %d has link type %u: write its frames as `TIME raw if=%d ...`",
                    o.ifn, lt, o.ifn);
            if (o.nvlan && lt != 1)
                die("vlan= needs link ether");
            build_tcp(&ip, &src, &dst, flags, &o, &pl);
            if (o.frag % 8)
                die("frag= takes a multiple of 8");
            struct buf frags[64];
            int nfrags = fragment(&ip, o.frag, o.id, frags, 64);
            for (int k = 0; k < nfrags; k++) {
                int idx = o.fragrev ? nfrags - 1 - k : k;
                struct buf *fp = &frags[idx];
                if (idx == o.fragdrop) {
                    free(fp->p);
                    continue;
                }
                frame.n = 0;
                link_header(&frame, lt, &src, &dst, &o);
                put(&frame, fp->p, fp->n);
                for (long i = 0; i < o.pad; i++)
                    put8(&frame, 0);
                add_record(&out, base + t, o.ifn, &frame, o.trunc);
                free(fp->p);
            }
        }
        free(frame.p);
        free(pl.p);
        free(ip.p);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    if (out.nifaces == 0) /* no packets */
        out.ifaces[out.nifaces++] = (struct iface){linktype, snaplen};
    if (!seen_packet)
        out.nifaces_first = out.nifaces;

    FILE *f = strcmp(argv[2], "-") ? fopen(argv[2], "wb") : stdout;
    if (!f) {
        fprintf(stderr, "mkpcap: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    struct buf head = {0};
    file_header(&out, badmagic, &head);
    if (badlen && out.nrecs)
        set_le32(&out.recs, out.last_caplen, (uint32_t)badlen);
    size_t total = head.n + out.recs.n;
    if (cut > total)
        cut = total;
    size_t keep = total - cut;
    size_t keep_head = keep < head.n ? keep : head.n, keep_recs = keep - keep_head;
    if (fwrite(head.p, 1, keep_head, f) != keep_head ||
        (keep_recs && fwrite(out.recs.p, 1, keep_recs, f) != keep_recs) || fclose(f)) {
        fprintf(stderr, "mkpcap: %s: write failed\n", argv[2]);
        return 1;
    }
    free(head.p);
    free(out.recs.p);
    return 0;
}
