/* pcap2seeds: turns classic pcap files (the e2e captures, ../shared) into
 * seed corpora for the fuzz targets. Test tool only.
 *
 * Usage: pcap2seeds DECODE_DIR STREAM_DIR FILE.pcap...
 * DECODE_DIR gets one file per frame (a link-type byte, then the frame), as
 * fuzz_decode reads them; STREAM_DIR one file per capture, its first
 * connection's TCP segments in fuzz_stream's record format. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

static uint32_t rd32(const uint8_t *p, int swap)
{
    return swap ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int link_byte(uint32_t lt)
{
    switch (lt) {
    case 0: return LS_LINK_NULL;
    case 1: return LS_LINK_ETHERNET;
    case 101: return LS_LINK_RAW;
    case 108: return LS_LINK_LOOP;
    case 113: return LS_LINK_SLL;
    case 228: return LS_LINK_IPV4;
    case 229: return LS_LINK_IPV6;
    case 276: return LS_LINK_SLL2;
    default: return -1;
    }
}

int main(int argc, char **argv)
{
    static uint8_t frame[262144 + 1];
    static uint8_t stream[1 << 20];
    unsigned seq_no = 0;
    if (argc < 4) {
        fprintf(stderr, "usage: pcap2seeds DECODE_DIR STREAM_DIR FILE.pcap...\n");
        return 2;
    }
    for (int a = 3; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        uint8_t fh[24], rh[16];
        if (f == NULL || fread(fh, 1, 24, f) != 24) {
            if (f)
                fclose(f);
            continue;
        }
        int swap = fh[0] == 0xd4 || fh[0] == 0x4d;
        int lb = link_byte(rd32(fh + 20, swap));
        size_t sn = 0;
        int have = 0;
        uint8_t client[16];
        uint32_t isn[2] = {0, 0};
        int seen[2] = {0, 0};
        while (lb >= 0 && fread(rh, 1, 16, f) == 16) {
            uint32_t caplen = rd32(rh + 8, swap), len = rd32(rh + 12, swap);
            if (caplen > 262144 || fread(frame + 1, 1, caplen, f) != caplen)
                break;
            frame[0] = (uint8_t)lb;
            char path[4096];
            snprintf(path, sizeof path, "%s/%06u", argv[1], seq_no++);
            FILE *o = fopen(path, "wb");
            if (o) {
                fwrite(frame, 1, caplen + 1, o);
                fclose(o);
            }
            struct ls_packet p;
            if (ls_decode((enum ls_linktype)lb, frame + 1, caplen, len, &p) != LS_DECODE_TCP)
                continue;
            if (!have) {
                memcpy(client, p.src, 16);
                have = 1;
            }
            int dir = memcmp(p.src, client, 16) != 0;
            if (!seen[dir]) {
                isn[dir] = p.seq; /* the harness adds its own ISNs */
                seen[dir] = 1;
            }
            uint32_t so = p.seq - isn[dir];
            uint32_t ao = seen[!dir] ? p.ack - isn[!dir] : 0;
            size_t pl = p.payload_len > 255 ? 255 : p.payload_len;
            if (sn + 11 + pl > sizeof stream)
                break;
            uint8_t *r = stream + sn;
            r[0] = (uint8_t)(dir | 1 << 3);
            r[1] = p.flags;
            for (int k = 0; k < 4; k++) {
                r[2 + k] = (uint8_t)(so >> (24 - 8 * k));
                r[6 + k] = (uint8_t)(ao >> (24 - 8 * k));
            }
            r[10] = (uint8_t)pl;
            memcpy(r + 11, p.payload, pl);
            sn += 11 + pl;
        }
        fclose(f);
        if (sn > 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/stream%03d", argv[2], a);
            FILE *o = fopen(path, "wb");
            if (o) {
                fwrite(stream, 1, sn, o);
                fclose(o);
            }
        }
    }
    return 0;
}
