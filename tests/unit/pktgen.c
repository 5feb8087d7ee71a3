/* pktgen.c: in-memory frame builder for unit tests (see pktgen.h).
 * Writes through a bounds-checked writer; lengths are computed up front so
 * that every length field and checksum is right on the first pass. */
#include "pktgen.h"

#include <arpa/inet.h>
#include <string.h>

/* A write cursor with a sticky overflow flag. */
struct wr {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool err;
};

static void put(struct wr *w, const void *p, size_t n)
{
    if (w->err || w->cap - w->len < n) {
        w->err = true;
        return;
    }
    if (n > 0)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put8(struct wr *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put16(struct wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put32(struct wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 4);
}

static void zeros(struct wr *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(w, 0);
}

/* Ones' complement sum (RFC 1071), not yet folded. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static size_t ext_len(uint8_t type)
{
    return type == 51 ? 16 : 8;
}

static void link_header(struct wr *w, const struct ls_pktgen_tcp_spec *s, uint8_t af)
{
    static const uint8_t mac_dst[6] = {0x02, 0, 0, 0, 0, 0x02};
    static const uint8_t mac_src[6] = {0x02, 0, 0, 0, 0, 0x01};
    uint16_t et = s->ethertype;
    if (et == 0)
        et = s->nmpls > 0 ? 0x8847 : af == 6 ? 0x86dd : 0x0800;
    uint32_t fam = s->null_family ? s->null_family : af == 6 ? 30 : 2;

    switch (s->link) {
    case LS_LINK_UNSUPPORTED:
    case LS_LINK_ETHERNET:
        put(w, mac_dst, 6);
        put(w, mac_src, 6);
        for (size_t i = 0; i < s->nvlan && i < LS_PKTGEN_MAX_VLAN; i++) {
            put16(w, s->vlan_tpid[i] ? s->vlan_tpid[i] : 0x8100);
            put16(w, s->vlan[i]);
        }
        put16(w, et);
        for (size_t i = 0; i < s->nmpls && i < LS_PKTGEN_MAX_MPLS; i++) {
            bool bottom = i + 1 == s->nmpls;
            put32(w, s->mpls[i] << 12 | (bottom ? 0x100u : 0) | 64);
        }
        break;
    case LS_LINK_SLL: /* pkttype, ARPHRD_ETHER, addr len, addr[8], protocol */
        put16(w, 0);
        put16(w, 1);
        put16(w, 6);
        put(w, mac_src, 6);
        zeros(w, 2);
        put16(w, et);
        break;
    case LS_LINK_SLL2: /* protocol, reserved, ifindex, ARPHRD_ETHER, pkttype, len, addr */
        put16(w, et);
        put16(w, 0);
        put32(w, 1);
        put16(w, 1);
        put8(w, 0);
        put8(w, 6);
        put(w, mac_src, 6);
        zeros(w, 2);
        break;
    case LS_LINK_NULL:
        if (s->null_be)
            put32(w, fam);
        else
            put32(w, (fam & 0xff) << 24 | (fam & 0xff00) << 8 | (fam >> 8 & 0xff00) | fam >> 24);
        break;
    case LS_LINK_LOOP: put32(w, fam); break;
    case LS_LINK_RAW:
    case LS_LINK_IPV4:
    case LS_LINK_IPV6: break;
    }
}

size_t ls_pktgen_tcp(uint8_t *buf, size_t cap, const struct ls_pktgen_tcp_spec *spec)
{
    return ls_pktgen_build(buf, cap, spec, NULL);
}

size_t ls_pktgen_build(uint8_t *buf, size_t cap, const struct ls_pktgen_tcp_spec *s,
                       struct ls_pktgen_layout *lay)
{
    uint8_t af = s->af == 6 ? 6 : 4;
    uint8_t proto = s->proto ? s->proto : 6;
    uint8_t ttl = s->ttl ? s->ttl : 64;
    uint8_t src[16] = {0}, dst[16] = {0};
    const char *srcs = s->src ? s->src : af == 6 ? "2001:db8::1" : "10.0.0.1";
    const char *dsts = s->dst ? s->dst : af == 6 ? "2001:db8::2" : "10.0.0.2";
    if (inet_pton(af == 6 ? AF_INET6 : AF_INET, srcs, src) != 1 ||
        inet_pton(af == 6 ? AF_INET6 : AF_INET, dsts, dst) != 1)
        return 0;
    size_t alen = af == 6 ? 16 : 4;

    /* TCP options first: their length feeds every length field. */
    uint8_t opts[40] = {0};
    struct wr ow = {opts, sizeof opts, 0, false};
    if (s->mss) {
        put8(&ow, 2);
        put8(&ow, 4);
        put16(&ow, s->mss);
    }
    if (s->has_wscale) {
        put8(&ow, 1);
        put8(&ow, 3);
        put8(&ow, 3);
        put8(&ow, s->wscale);
    }
    if (s->tcp_opts_len)
        put(&ow, s->tcp_opts, s->tcp_opts_len);
    size_t optlen = (ow.len + 3) & ~(size_t)3;
    if (ow.err || optlen > 40 || s->ip_opts_len > 40 || s->next > LS_PKTGEN_MAX_EXT)
        return 0;

    size_t l4hdr = proto == 6 ? 20 + optlen : proto == 17 ? 8 : 0;
    size_t l4len = l4hdr + s->payload_len;
    size_t iphlen = 20 + ((s->ip_opts_len + 3) & ~(size_t)3);
    size_t extlen = 0;
    for (size_t i = 0; af == 6 && i < s->next; i++)
        extlen += ext_len(s->ext[i]);
    size_t iplen = af == 6 ? 40 + extlen + l4len : iphlen + l4len;
    if (iplen - (af == 6 ? 40 : 0) > 0xffff)
        return 0;

    struct wr w = {buf, cap, 0, false};
    link_header(&w, s, af);
    size_t l3 = w.len;
    if (af == 4) {
        put8(&w, (uint8_t)(0x40 | iphlen / 4));
        put8(&w, 0);
        put16(&w, (uint16_t)iplen);
        put16(&w, s->ip_id);
        put16(&w, (uint16_t)((s->dont_frag ? 0x4000 : 0) | (s->more_frags ? 0x2000 : 0) |
                             (s->frag_offset & 0x1fff)));
        put8(&w, ttl);
        put8(&w, proto);
        put16(&w, 0);
        put(&w, src, 4);
        put(&w, dst, 4);
        put(&w, s->ip_opts, s->ip_opts_len);
        zeros(&w, iphlen - 20 - s->ip_opts_len);
        if (!w.err)
            set16(buf + l3 + 10, fold(sum16(0, buf + l3, iphlen)));
    } else {
        put32(&w, 0x60000000);
        put16(&w, (uint16_t)(iplen - 40));
        put8(&w, s->next ? s->ext[0] : proto);
        put8(&w, ttl);
        put(&w, src, 16);
        put(&w, dst, 16);
        for (size_t i = 0; i < s->next; i++) {
            uint8_t nh = i + 1 < s->next ? s->ext[i + 1] : proto;
            put8(&w, nh);
            switch (s->ext[i]) {
            case 44: /* RFC 8200 4.5: offset in 8-byte units, then M */
                put8(&w, 0);
                put16(&w, (uint16_t)(s->frag_offset << 3 | (s->more_frags ? 1 : 0)));
                put32(&w, s->ip_id);
                break;
            case 51: /* RFC 4302: length in 4-byte units minus 2 */
                put8(&w, 2);
                zeros(&w, 14);
                break;
            case 43: /* type 0 header with no segments left: 8 bytes */
                put8(&w, 0);
                zeros(&w, 6);
                break;
            default: /* hop-by-hop, destination options: one PadN option */
                put8(&w, 0);
                put8(&w, 1);
                put8(&w, 4);
                zeros(&w, 4);
                break;
            }
        }
    }

    size_t l4 = w.len;
    if (proto == 6) {
        put16(&w, s->sport);
        put16(&w, s->dport);
        put32(&w, s->seq);
        put32(&w, s->ack);
        put8(&w, (uint8_t)((20 + optlen) / 4 << 4));
        put8(&w, s->flags);
        put16(&w, s->window);
        put32(&w, 0); /* checksum, urgent pointer */
        put(&w, opts, optlen);
    } else if (proto == 17) {
        put16(&w, s->sport);
        put16(&w, s->dport);
        put16(&w, (uint16_t)l4len);
        put16(&w, 0);
    }
    size_t pay = w.len;
    put(&w, s->payload, s->payload_len);
    if (!w.err && (proto == 6 || proto == 17)) {
        /* Pseudo-header (RFC 9293 3.1, RFC 8200 8.1). */
        uint32_t sum = sum16(0, src, alen);
        sum = sum16(sum, dst, alen);
        sum += proto + (uint32_t)l4len;
        uint16_t c = fold(sum16(sum, buf + l4, l4len));
        if (proto == 17 && c == 0)
            c = 0xffff;
        set16(buf + l4 + (proto == 6 ? 16 : 6), c);
    }
    zeros(&w, s->pad);
    if (w.err)
        return 0;
    if (lay) {
        lay->l3_off = l3;
        lay->l4_off = l4;
        lay->payload_off = pay;
        lay->ip_len = iplen;
        lay->len = w.len;
    }
    return w.len;
}

size_t ls_pktgen_fragment(uint8_t *buf, size_t cap, const uint8_t *ip, size_t iplen, size_t off,
                          size_t len, bool more, uint32_t id)
{
    struct wr w = {.buf = buf, .cap = cap};
    bool v4 = (ip[0] >> 4) == 4;
    size_t hlen = v4 ? 20 : 40;

    if (iplen < hlen || off + len > iplen - hlen || off % 8 != 0)
        return 0;
    if (v4) {
        put(&w, ip, 4);
        put16(&w, (uint16_t)id);
        put16(&w, (uint16_t)((more ? 0x2000 : 0) | off / 8));
        put(&w, ip + 8, 12);
        if (w.err)
            return 0;
        set16(buf + 2, (uint16_t)(20 + len));
        set16(buf + 10, 0);
        set16(buf + 10, fold(sum16(0, buf, 20)));
    } else {
        put(&w, ip, 4);
        put16(&w, (uint16_t)(8 + len));
        put8(&w, 44);
        put(&w, ip + 7, 33);
        put8(&w, ip[6]);
        put8(&w, 0);
        put16(&w, (uint16_t)(off | (more ? 1 : 0)));
        put32(&w, id);
    }
    put(&w, ip + hlen + off, len);
    return w.err ? 0 : w.len;
}
