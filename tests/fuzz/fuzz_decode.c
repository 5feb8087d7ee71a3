/* fuzz_decode.c: libFuzzer target for the decoder, fragment reassembly and
 * checksum verification. The first byte picks the link type and how much of
 * the frame the "wire" had beyond the capture; the rest is the frame. A
 * small fragment table persists across inputs so that fragments of
 * different inputs meet, as on a real link. Checks that every view the
 * decoder returns lies inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "csum.h"
#include "decode.h"
#include "frag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *lo, size_t n, const uint8_t *p, size_t len)
{
    if (len > 0 && (p < lo || p + len > lo + n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ls_frag_table *ft; /* fuzzer state, not program state */
    static double now;
    if (ft == NULL) {
        struct ls_frag_config cfg;
        ls_frag_config_default(&cfg);
        cfg.max_datagrams = 16;
        cfg.max_frags = 8;
        cfg.max_mem = 64 << 10;
        cfg.timeout = 1.0;
        ft = ls_frag_new(&cfg);
        if (ft == NULL)
            abort();
    }
    if (size < 1)
        return 0;
    enum ls_linktype link = (enum ls_linktype)(data[0] % (LS_LINK_SLL2 + 1));
    size_t extra = (size_t)(data[0] >> 4) * 97;
    const uint8_t *frame = data + 1;
    size_t n = size - 1;
    struct ls_packet pkt, whole;
    enum ls_decode_status st = ls_decode(link, frame, n, n + extra, &pkt);
    if ((unsigned)st >= LS_DECODE__COUNT)
        abort();
    if (st == LS_DECODE_TCP || st == LS_DECODE_UDP || st == LS_DECODE_FRAGMENT)
        inside(frame, n, pkt.payload, pkt.payload_len);
    if (st == LS_DECODE_TCP || st == LS_DECODE_UDP) {
        inside(frame, n, pkt.l4, pkt.l4_len);
        (void)ls_csum_check(&pkt);
    }
    if (st == LS_DECODE_FRAGMENT) {
        now += 0.01;
        st = ls_frag_input(ft, &pkt, now, &whole);
        if (st == LS_DECODE_TCP || st == LS_DECODE_UDP)
            (void)ls_csum_check(&whole);
        if (ls_frag_stats(ft)->mem > (64 << 10))
            abort();
    }
    return 0;
}
