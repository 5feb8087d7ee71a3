/* fuzz_pcapfile.c: libFuzzer target for the classic pcap reader, over the
 * input in memory (ls_pcapfile_open_mem, the parser the file path uses).
 * Reads to the end or the first error, calling the look-ahead cursor 0 to 3
 * times before each record in a pattern taken from the header's thiszone
 * field (which the reader ignores), and sums every byte handed out. Aborts
 * if a record lies outside the input or above the snapshot length, if the
 * look-ahead shows anything but the records next then returns (in order,
 * same bytes and lengths), if next returns a record where the look-ahead
 * found none, or if the end or an error is not final. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QUEUE 64

struct seen {
    const uint8_t *data;
    uint32_t caplen, wirelen;
};

static volatile uint32_t sink;

static uint32_t touch(const uint8_t *lo, size_t n, const uint8_t *p, uint32_t len, uint32_t snaplen)
{
    uint32_t sum = 0;
    if (len > snaplen || len > LS_PCAPFILE_MAX_CAPLEN || p < lo || len > n ||
        (size_t)(p - lo) > n - len)
        abort();
    for (uint32_t i = 0; i < len; i++)
        sum += p[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_pcapfile *f = NULL;
    struct ls_pcapfile_rec rec;
    struct seen q[QUEUE];
    size_t qhead = 0, qn = 0;
    bool ahead_stopped = false;
    uint64_t records = 0, done, total;
    uint32_t sum = 0, pattern;
    char err[LS_ERRBUF_SIZE], want[64];
    int rc = ls_pcapfile_open_mem(&f, data, size, "fuzz.pcap");

    if (rc != 0) {
        if (rc != LS_EINVAL || f != NULL)
            abort();
        return 0;
    }
    uint32_t snaplen = ls_pcapfile_snaplen(f);
    if (snaplen == 0 || snaplen > INT32_MAX)
        abort();
    memcpy(&pattern, data + 8, 4);
    for (unsigned step = 0;; step++) {
        unsigned k = (pattern >> (2 * (step % 16))) & 3;
        for (unsigned j = 0; j < k && !ahead_stopped && qn < QUEUE; j++) {
            struct seen *s = &q[(qhead + qn) % QUEUE];
            uint64_t ix;
            if (!ls_pcapfile_ahead(f, &s->data, &s->caplen, &s->wirelen, &ix)) {
                ahead_stopped = true;
                break;
            }
            if (ix != records + qn) /* numbered as next will return them */
                abort();
            sum += touch(data, size, s->data, s->caplen, snaplen);
            qn++;
        }
        if (ahead_stopped && qn == 0) {
            /* Stopped where next now is: it stays stopped. */
            const uint8_t *d;
            uint32_t c, w;
            uint64_t ix;
            if (ls_pcapfile_ahead(f, &d, &c, &w, &ix))
                abort();
        }
        err[0] = '\0';
        rc = ls_pcapfile_next(f, &rec, err);
        if (rc != 1)
            break;
        records++;
        sum += touch(data, size, rec.data, rec.caplen, snaplen);
        if (qn > 0) {
            const struct seen *s = &q[qhead];
            if (s->data != rec.data || s->caplen != rec.caplen || s->wirelen != rec.wirelen)
                abort();
            qhead = (qhead + 1) % QUEUE;
            qn--;
        } else if (ahead_stopped) {
            abort(); /* the look-ahead found no record here */
        }
        ls_pcapfile_position(f, &done, &total);
        if (done > total || total != size)
            abort();
    }
    /* Nothing was shown ahead past the end or the damage. */
    if (qn != 0)
        abort();
    if (rc == 0) {
        ls_pcapfile_position(f, &done, &total);
        if (err[0] != '\0' || done != size)
            abort();
    } else if (rc == LS_EIO) {
        snprintf(want, sizeof want,
                 "fuzz.pcap: read error after record %llu: ", (unsigned long long)records);
        if (strncmp(err, want, strlen(want)) != 0 || strstr(err, " (at byte offset ") == NULL)
            abort();
    } else {
        abort();
    }
    /* The end, or the damage, is final. */
    const uint8_t *d;
    uint32_t c, w;
    uint64_t ix;
    if (ls_pcapfile_next(f, &rec, err) != 0 || ls_pcapfile_ahead(f, &d, &c, &w, &ix))
        abort();
    sink = sum;
    ls_pcapfile_close(f);
    return 0;
}
