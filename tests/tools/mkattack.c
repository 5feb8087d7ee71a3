/* mkattack: writes hostile captures for the resource-limit tests, streamed
 * (constant memory, any size). Test tool only; never installed.
 *
 * Usage: mkattack MODE N OUT.pcap
 *   synflood   N SYNs to 10.0.0.2:80 from N spoofed sources (distinct
 *              address and port each), 10 us apart
 *   holes      64 connections, then N 100-byte segments spread over them,
 *              each 100 bytes past the previous one of its connection, so
 *              every other 100 bytes is a hole that never fills
 *   overlaps   one connection whose first byte never comes, then N 2-byte
 *              retransmissions overlapping each other (offsets 1, 2, 3, ...
 *              wrapping every 4096 bytes) with bytes that differ each lap
 *   frags      N IPv4 fragments of 8 bytes, each of a different datagram
 *              whose other fragments never come
 * Ethernet, IPv4, valid checksums. Exit 1 on I/O errors, 2 on usage. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
    FILE *f;
    double t;
};

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void be16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    be16(p, v >> 16);
    be16(p + 2, v & 0xffff);
}

static uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void record(struct out *o, const uint8_t *frame, size_t n)
{
    uint8_t h[16];
    long long us = (long long)(o->t * 1e6 + 0.5);
    le32(h, (uint32_t)(us / 1000000));
    le32(h + 4, (uint32_t)(us % 1000000));
    le32(h + 8, (uint32_t)n);
    le32(h + 12, (uint32_t)n);
    if (fwrite(h, 1, 16, o->f) != 16 || fwrite(frame, 1, n, o->f) != n) {
        perror("mkattack: write");
        exit(1);
    }
    o->t += 10e-6;
}

/* Ethernet + IPv4 header for `iplen` bytes of IP; returns the IP header. */
static uint8_t *ip4(uint8_t *f, uint32_t src, uint32_t dst, size_t iplen, uint16_t id,
                    uint16_t frag, uint8_t proto)
{
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    memcpy(f, macs, 12);
    be16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    be16(ip + 2, (unsigned)iplen);
    be16(ip + 4, id);
    be16(ip + 6, frag);
    ip[8] = 64;
    ip[9] = proto;
    be32(ip + 12, src);
    be32(ip + 16, dst);
    be16(ip + 10, fold(sum(0, ip, 20)));
    return ip;
}

static void tcp(struct out *o, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *data, size_t n)
{
    uint8_t f[14 + 20 + 20 + 1500];
    uint8_t *ip = ip4(f, src, dst, 40 + n, 1, 0x4000, 6);
    uint8_t *t = ip + 20, ph[12];
    memset(t, 0, 20);
    be16(t, sport);
    be16(t + 2, dport);
    be32(t + 4, seq);
    be32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    be16(t + 14, 65535);
    if (n > 0)
        memcpy(t + 20, data, n);
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    be16(ph + 10, (unsigned)(20 + n));
    be16(t + 16, fold(sum(sum(0, ph, 12), t, 20 + n)));
    record(o, f, 14 + 40 + n);
}

#define SYN    0x02
#define ACK    0x10
#define PSH    0x08
#define CLIENT 0x0a000001u
#define SERVER 0x0a000002u

static void handshake(struct out *o, uint16_t port, uint32_t cisn, uint32_t sisn)
{
    tcp(o, CLIENT, port, SERVER, 80, cisn, 0, SYN, NULL, 0);
    tcp(o, SERVER, 80, CLIENT, port, sisn, cisn + 1, SYN | ACK, NULL, 0);
    tcp(o, CLIENT, port, SERVER, 80, cisn + 1, sisn + 1, ACK, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mkattack synflood|holes|overlaps|frags N OUT.pcap\n");
        return 2;
    }
    const char *mode = argv[1];
    unsigned long n = strtoul(argv[2], NULL, 10);
    struct out o = {.f = fopen(argv[3], "wb"), .t = 1700000000.0};
    if (o.f == NULL) {
        perror(argv[3]);
        return 1;
    }
    uint8_t fh[24];
    le32(fh, 0xa1b2c3d4u);
    le32(fh + 4, 2u | 4u << 16);
    le32(fh + 8, 0);
    le32(fh + 12, 0);
    le32(fh + 16, 65535);
    le32(fh + 20, 1);
    fwrite(fh, 1, sizeof fh, o.f);

    uint8_t data[100];
    if (strcmp(mode, "synflood") == 0) {
        for (unsigned long i = 0; i < n; i++)
            tcp(&o, 0x0b000000u + (uint32_t)i, (uint16_t)(1024 + i % 60000), SERVER, 80,
                (uint32_t)(i * 2654435761u), 0, SYN, NULL, 0);
    } else if (strcmp(mode, "holes") == 0) {
        for (uint16_t c = 0; c < 64; c++)
            handshake(&o, (uint16_t)(20000 + c), 1000, 5000);
        for (unsigned long i = 0; i < n; i++) {
            uint16_t c = (uint16_t)(i % 64);
            uint32_t k = (uint32_t)(i / 64);
            memset(data, 'a' + (int)(k % 26), sizeof data);
            /* Offsets 100, 300, 500...: byte 1001..1100 never comes. */
            tcp(&o, CLIENT, (uint16_t)(20000 + c), SERVER, 80, 1001 + 100 + 200 * k, 5001,
                ACK | PSH, data, sizeof data);
        }
    } else if (strcmp(mode, "overlaps") == 0) {
        handshake(&o, 30000, 1000, 5000);
        for (unsigned long i = 0; i < n; i++) {
            uint32_t off = 1 + (uint32_t)(i % 4096);
            data[0] = data[1] = (uint8_t)('a' + (i / 4096) % 26);
            tcp(&o, CLIENT, 30000, SERVER, 80, 1001 + off, 5001, ACK | PSH, data, 2);
        }
    } else if (strcmp(mode, "frags") == 0) {
        uint8_t f[14 + 20 + 8];
        for (unsigned long i = 0; i < n; i++) {
            uint8_t *ip = ip4(f, CLIENT + (uint32_t)(i >> 16), SERVER, 28, (uint16_t)i, 0x2000, 6);
            memset(ip + 20, 'f', 8);
            record(&o, f, sizeof f);
        }
    } else {
        fprintf(stderr, "mkattack: unknown mode '%s'\n", mode);
        return 2;
    }
    if (fclose(o.f) != 0) {
        perror("mkattack: close");
        return 1;
    }
    return 0;
}
