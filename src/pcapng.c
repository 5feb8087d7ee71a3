/* pcapng.c: the fallback pcapng reader (see pcapng.h). Reads one block at a
 * time into a buffer that grows to the largest block seen (so steady-state
 * reading does not allocate), checks every length against the block before
 * using it, and reports damage with the byte offset of the block. */
#include "pcapng.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"

/* Block types and fields (draft-ietf-opsawg-pcapng sections 4 and 5). */
#define BT_SHB       0x0A0D0D0Au
#define BT_IDB       0x00000001u
#define BT_OPB       0x00000002u /* obsolete packet block, still written by old tools */
#define BT_SPB       0x00000003u
#define BT_EPB       0x00000006u
#define BOM          0x1A2B3C4Du
#define BLOCK_MIN    12 /* type, length, trailing length */
#define SHB_BODY_MIN 16 /* byte-order magic, version, section length */
#define IDB_BODY_MIN 8  /* link type, reserved, snaplen */
#define EPB_BODY_MIN 20 /* interface, ts high, ts low, caplen, origlen */
#define OPB_BODY_MIN 20 /* interface[2], drops[2], ts high, ts low, caplen, len */
#define SPB_BODY_MIN 4  /* origlen */
#define OPT_END      0
#define OPT_TSRESOL  9
#define OPT_TSOFFSET 14
#define MAX_IFACES   65536 /* far above any real capture; bounds the table */

struct iface {
    uint16_t linktype;
    uint32_t snaplen;
    double units;  /* timestamp units per second */
    double offset; /* seconds added to every timestamp */
};

struct ls_pcapng {
    FILE *f;
    char *name;
    bool swap;        /* the section is little-endian */
    uint64_t off;     /* file offset of the next block */
    uint64_t packets; /* packets returned so far */
    uint8_t *buf;     /* the current block */
    size_t cap;
    struct iface *ifaces; /* of the current section */
    uint32_t nifaces, ifcap;
    int first_linktype;
    bool pending; /* buf holds a block read ahead by open */
    uint32_t ptype, plen;
};

/* ---- byte order of the section ------------------------------------------ */

static uint16_t u16(const struct ls_pcapng *r, const uint8_t *p)
{
    return r->swap ? (uint16_t)(p[0] | p[1] << 8) : ls_load_be16(p);
}

static uint32_t u32(const struct ls_pcapng *r, const uint8_t *p)
{
    return r->swap ? ls_load_le32(p) : ls_load_be32(p);
}

/* ---- blocks ------------------------------------------------------------- */

/* Reads the block at r->off into r->buf: *type, *len (the whole block).
 * Returns 1, 0 at a clean end of file, or LS_EIO with errbuf. */
static int read_block(struct ls_pcapng *r, uint32_t *type, uint32_t *len, char *errbuf)
{
    uint8_t hdr[8];
    size_t got = fread(hdr, 1, sizeof hdr, r->f);
    if (got == 0 && feof(r->f))
        return 0;
    if (got != sizeof hdr) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: cut short in the block at offset %llu", r->name,
                 (unsigned long long)r->off);
        return LS_EIO;
    }
    if (ls_load_be32(hdr) == BT_SHB) {
        /* A new section may change the byte order: read it from its magic. */
        uint8_t bom[4];
        if (fread(bom, 1, 4, r->f) != 4) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: cut short in the section header at offset %llu",
                     r->name, (unsigned long long)r->off);
            return LS_EIO;
        }
        if (ls_load_be32(bom) != BOM && ls_load_le32(bom) != BOM) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: bad byte-order magic at offset %llu", r->name,
                     (unsigned long long)r->off);
            return LS_EIO;
        }
        r->swap = ls_load_le32(bom) == BOM;
        if (fseek(r->f, -4, SEEK_CUR) != 0) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: cannot seek", r->name);
            return LS_EIO;
        }
    }
    *type = u32(r, hdr);
    *len = u32(r, hdr + 4);
    if (*len < BLOCK_MIN || *len % 4 != 0 || *len > LS_PCAPNG_MAX_BLOCK) {
        snprintf(errbuf, LS_ERRBUF_SIZE,
                 "%s: block at offset %llu (after packet %llu) has an "
                 "impossible length %lu",
                 r->name, (unsigned long long)r->off, (unsigned long long)r->packets,
                 (unsigned long)*len);
        return LS_EIO;
    }
    if (*len > r->cap) {
        uint8_t *nb = realloc(r->buf, *len);
        if (nb == NULL) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", r->name);
            return LS_EIO;
        }
        r->buf = nb;
        r->cap = *len;
    }
    memcpy(r->buf, hdr, sizeof hdr);
    if (fread(r->buf + 8, 1, *len - 8, r->f) != *len - 8) {
        snprintf(errbuf, LS_ERRBUF_SIZE,
                 "%s: cut short in the block at offset %llu (after "
                 "packet %llu)",
                 r->name, (unsigned long long)r->off, (unsigned long long)r->packets);
        return LS_EIO;
    }
    if (u32(r, r->buf + *len - 4) != *len) {
        snprintf(errbuf, LS_ERRBUF_SIZE,
                 "%s: block at offset %llu (after packet %llu): "
                 "trailing length differs",
                 r->name, (unsigned long long)r->off, (unsigned long long)r->packets);
        return LS_EIO;
    }
    r->off += *len;
    return 1;
}

/* Reads the options of an interface description (section 4.2). A malformed
 * option list ends the walk: the defaults stay. */
static void idb_options(const struct ls_pcapng *r, struct ls_cursor *c, struct iface *ifc)
{
    while (ls_cursor_has(c, 4)) {
        uint16_t code = u16(r, c->p), len = u16(r, c->p + 2);
        ls_cursor_skip(c, 4);
        size_t padded = ((size_t)len + 3) & ~(size_t)3;
        if (code == OPT_END || !ls_cursor_has(c, padded))
            return;
        if (code == OPT_TSRESOL && len >= 1) {
            uint8_t v = c->p[0];
            unsigned exp = v & 0x7f;
            /* High bit: a power of two, else of ten. Beyond 2^-63 or 10^-19
             * the file is damaged; keep microseconds. */
            if ((v & 0x80) ? exp <= 63 : exp <= 19) {
                double u = 1.0;
                for (unsigned i = 0; i < exp; i++)
                    u *= (v & 0x80) ? 2.0 : 10.0;
                ifc->units = u;
            }
        } else if (code == OPT_TSOFFSET && len >= 8) {
            uint64_t hi = u32(r, c->p), lo = u32(r, c->p + 4);
            int64_t s = (int64_t)(r->swap ? (lo << 32 | hi) : (hi << 32 | lo));
            ifc->offset = (double)s;
        }
        ls_cursor_skip(c, padded);
    }
}

static int add_iface(struct ls_pcapng *r, const uint8_t *body, size_t n, char *errbuf)
{
    if (n < IDB_BODY_MIN || r->nifaces >= MAX_IFACES) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: bad interface description at offset %llu", r->name,
                 (unsigned long long)(r->off - n - BLOCK_MIN));
        return LS_EIO;
    }
    if (r->nifaces == r->ifcap) {
        uint32_t ncap = r->ifcap ? 2 * r->ifcap : 8;
        struct iface *ni = realloc(r->ifaces, ncap * sizeof *ni);
        if (ni == NULL) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", r->name);
            return LS_EIO;
        }
        r->ifaces = ni;
        r->ifcap = ncap;
    }
    struct iface *ifc = &r->ifaces[r->nifaces++];
    ifc->linktype = u16(r, body);
    ifc->snaplen = u32(r, body + 4);
    ifc->units = 1e6;
    ifc->offset = 0;
    struct ls_cursor c;
    ls_cursor_init(&c, body + IDB_BODY_MIN, n - IDB_BODY_MIN);
    idb_options(r, &c, ifc);
    if (r->first_linktype < 0)
        r->first_linktype = ifc->linktype;
    return 0;
}

/* Fills *rec from a packet block; returns 1 or LS_EIO. */
static int packet(struct ls_pcapng *r, uint32_t type, const uint8_t *body, size_t n,
                  struct ls_pcapng_rec *rec, char *errbuf)
{
    uint32_t ifn, caplen, wirelen, hdr;
    uint64_t ts = 0;
    const char *why = NULL;

    if (type == BT_SPB) {
        /* Simple packet: interface 0, no timestamp, captured bytes are the
         * lesser of the original length, the snaplen and the block. */
        hdr = SPB_BODY_MIN;
        ifn = 0;
        wirelen = n >= hdr ? u32(r, body) : 0;
        caplen = wirelen;
        if (r->nifaces > 0 && r->ifaces[0].snaplen != 0 && caplen > r->ifaces[0].snaplen)
            caplen = r->ifaces[0].snaplen;
        if (n >= hdr && caplen > n - hdr)
            caplen = (uint32_t)(n - hdr);
    } else {
        hdr = type == BT_EPB ? EPB_BODY_MIN : OPB_BODY_MIN;
        if (n < hdr) {
            why = "too short";
            goto bad;
        }
        ifn = type == BT_EPB ? u32(r, body) : u16(r, body);
        ts = (uint64_t)u32(r, body + 4) << 32 | u32(r, body + 8);
        caplen = u32(r, body + 12);
        wirelen = u32(r, body + 16);
    }
    if (n < hdr)
        why = "too short";
    else if (ifn >= r->nifaces)
        why = "names an interface that was never described";
    else if (caplen > n - hdr)
        why = "captured length runs past the block";
    if (why != NULL)
        goto bad;
    const struct iface *ifc = &r->ifaces[ifn];
    rec->ts = (double)ts / ifc->units + ifc->offset;
    rec->data = body + hdr;
    rec->caplen = caplen;
    rec->wirelen = wirelen < caplen ? caplen : wirelen;
    rec->iface = ifn;
    rec->linktype = ifc->linktype;
    rec->snaplen = ifc->snaplen;
    r->packets++;
    return 1;
bad:
    snprintf(errbuf, LS_ERRBUF_SIZE, "%s: packet %llu (block at offset %llu): %s", r->name,
             (unsigned long long)r->packets + 1, (unsigned long long)(r->off - n - BLOCK_MIN), why);
    return LS_EIO;
}

/* ---- public ------------------------------------------------------------- */

bool ls_pcapng_probe(FILE *f)
{
    uint8_t m[4];
    long at = ftell(f);
    bool yes = at >= 0 && fread(m, 1, 4, f) == 4 && ls_load_be32(m) == BT_SHB;
    if (at >= 0)
        fseek(f, at, SEEK_SET);
    return yes;
}

int ls_pcapng_next(struct ls_pcapng *r, struct ls_pcapng_rec *rec, char errbuf[LS_ERRBUF_SIZE])
{
    for (;;) {
        uint32_t type, len;
        int rc;
        if (r->pending) {
            r->pending = false;
            type = r->ptype;
            len = r->plen;
        } else if ((rc = read_block(r, &type, &len, errbuf)) <= 0) {
            return rc;
        }
        const uint8_t *body = r->buf + 8;
        size_t n = len - BLOCK_MIN;
        switch (type) {
        case BT_SHB:
            if (n < SHB_BODY_MIN) {
                snprintf(errbuf, LS_ERRBUF_SIZE, "%s: bad section header at offset %llu", r->name,
                         (unsigned long long)(r->off - len));
                return LS_EIO;
            }
            r->nifaces = 0; /* interfaces are per section */
            break;
        case BT_IDB:
            if (add_iface(r, body, n, errbuf) != 0)
                return LS_EIO;
            break;
        case BT_EPB:
        case BT_SPB:
        case BT_OPB: return packet(r, type, body, n, rec, errbuf);
        default: break; /* statistics, name resolution, custom blocks... */
        }
    }
}

int ls_pcapng_open(struct ls_pcapng **out, FILE *f, const char *name, char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_pcapng *r = calloc(1, sizeof *r);
    *out = NULL;
    if (r == NULL || (r->name = strdup(name)) == NULL) {
        free(r);
        fclose(f);
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: out of memory", name);
        return LS_ENOMEM;
    }
    r->f = f;
    r->first_linktype = -1;
    uint32_t type = 0, len = 0;
    int rc = read_block(r, &type, &len, errbuf);
    if (rc == 0 || (rc > 0 && (type != BT_SHB || len - BLOCK_MIN < SHB_BODY_MIN))) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s: not a pcapng file (no section header)", name);
        rc = LS_EIO;
    }
    /* Interfaces come before the packets that use them: read up to the
     * first one, so that the caller knows a link type from the start. */
    while (rc > 0 && r->first_linktype < 0) {
        rc = read_block(r, &type, &len, errbuf);
        if (rc <= 0)
            break;
        if (type == BT_IDB) {
            if (add_iface(r, r->buf + 8, len - BLOCK_MIN, errbuf) != 0)
                rc = LS_EIO;
        } else if (type == BT_EPB || type == BT_SPB || type == BT_OPB || type == BT_SHB) {
            r->pending = true; /* let ls_pcapng_next report or handle it */
            r->ptype = type;
            r->plen = len;
            break;
        }
    }
    if (rc < 0) {
        ls_pcapng_close(r);
        return LS_ECAPTURE;
    }
    *out = r;
    return 0;
}

int ls_pcapng_first_linktype(const struct ls_pcapng *r)
{
    return r->first_linktype;
}

void ls_pcapng_close(struct ls_pcapng *r)
{
    if (r == NULL)
        return;
    if (r->f != NULL)
        fclose(r->f);
    free(r->buf);
    free(r->ifaces);
    free(r->name);
    free(r);
}
