/* test_capture.c: the look-ahead contract of ls_capture_set_ahead on a
 * classic pcap file that our reader takes: before the frame callback for
 * record i, the ahead callback has seen records 0..i+distance, once each,
 * in order, numbered as ls_capture_record_index numbers them, with the same
 * bytes, across dispatch batches and with a filter rejecting some records;
 * with frames too large for the reader's buffer to hold that far ahead, it
 * falls behind but never shows a record twice or out of order; and a file
 * left to libpcap (pcap 2.3) refuses the look-ahead. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "pcapfile.h"

#define NREC 20
#define DIST 3

struct seen {
    struct ls_capture *cap;
    uint32_t len0; /* record i is len0 + i bytes */
    const uint8_t *ahead[NREC + 64];
    uint64_t ahead_index[NREC + 64];
    size_t nahead;
    size_t ahead_at[NREC]; /* nahead when the frame callback ran */
    const uint8_t *frame[NREC];
    uint8_t first_byte[NREC];
    size_t nframe;
};

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f); /* host order: the reader takes either */
}

/* Writes NREC Ethernet frames of 60 + i bytes whose first byte is i and
 * whose EtherType is IPv4 for even i and ARP for odd i (so "ip" keeps only
 * the even ones). Returns the path (static buffer). */
static const char *write_file(uint16_t minor, uint32_t len0)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ls-test-capture-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    put32(f, 0xa1b2c3d4);
    uint16_t v[2] = {2, minor};
    fwrite(v, 2, 2, f);
    put32(f, 0);
    put32(f, 0);
    put32(f, 262144);
    put32(f, 1);
    static uint8_t frame[LS_PCAPFILE_MAX_CAPLEN];
    for (uint32_t i = 0; i < NREC; i++) {
        uint32_t len = len0 + i;
        memset(frame, 0, len);
        frame[0] = (uint8_t)i;
        frame[12] = 0x08;
        frame[13] = i % 2 ? 0x06 : 0x00;
        put32(f, 1700000000 + i);
        put32(f, i);
        put32(f, len);
        put32(f, len);
        fwrite(frame, 1, len, f);
    }
    fclose(f);
    return path;
}

static void on_ahead(void *ud, uint64_t index, const uint8_t *data, uint32_t caplen,
                     uint32_t wirelen)
{
    struct seen *s = ud;
    (void)wirelen;
    /* each record at most once, in order */
    assert_true(s->nahead == 0 || index > s->ahead_index[s->nahead - 1]);
    assert_int_equal(data[0], index);
    s->ahead_index[s->nahead] = index;
    assert_int_equal(caplen, s->len0 + data[0]);
    s->ahead[s->nahead++] = data;
}

static void on_frame(void *ud, double ts, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    struct seen *s = ud;
    (void)ts;
    (void)caplen;
    (void)wirelen;
    s->ahead_at[s->nframe] = s->nahead;
    assert_int_equal(ls_capture_record_index(s->cap), data[0]);
    s->first_byte[s->nframe] = data[0];
    s->frame[s->nframe++] = data;
}

static void run(const char *filter, int batch, uint32_t len0, struct seen *s)
{
    char err[LS_ERRBUF_SIZE];
    struct ls_capture *cap;
    const char *path = write_file(4, len0);
    int n;

    memset(s, 0, sizeof *s);
    s->len0 = len0;
    assert_int_equal(ls_capture_open_file(&cap, path, filter, err), 0);
    s->cap = cap;
    assert_true(ls_capture_set_ahead(cap, on_ahead, s, DIST));
    while ((n = ls_capture_dispatch(cap, batch, on_frame, s, err)) > 0)
        ;
    assert_int_equal(n, 0);
    assert_true(ls_capture_eof(cap));
    /* A small file stays where it was read: frames still readable there. */
    for (size_t i = 0; len0 < 1000 && i < s->nframe; i++)
        assert_int_equal(s->frame[i][0], s->first_byte[i]);
    ls_capture_close(cap);
    unlink(path);
}

static void ahead_every_record(void **state)
{
    struct seen s;
    (void)state;
    for (int batch = 1; batch <= 7; batch += 3) {
        run(NULL, batch, 60, &s);
        assert_int_equal(s.nframe, NREC);
        assert_int_equal(s.nahead, NREC);
        for (size_t i = 0; i < NREC; i++) {
            assert_ptr_equal(s.ahead[i], s.frame[i]);
            assert_int_equal(s.first_byte[i], i);
            /* records 0..i+DIST seen, as far as there are records */
            assert_int_equal(s.ahead_at[i], i + DIST + 1 < NREC ? i + DIST + 1 : NREC);
        }
    }
}

static void ahead_with_filter(void **state)
{
    struct seen s;
    (void)state;
    run("ip", 2, 60, &s);
    assert_int_equal(s.nframe, NREC / 2);
    assert_int_equal(s.nahead, NREC); /* rejected records are shown too */
    for (size_t i = 0; i < s.nframe; i++) {
        size_t rec = 2 * i;
        assert_int_equal(s.first_byte[i], rec);
        assert_ptr_equal(s.ahead[rec], s.frame[i]);
        assert_int_equal(s.ahead_at[i], rec + DIST + 1 < NREC ? rec + DIST + 1 : NREC);
    }
}

static void libpcap_source_has_no_ahead(void **state)
{
    char err[LS_ERRBUF_SIZE];
    struct ls_capture *cap;
    struct seen s;
    const char *path = write_file(3, 60);
    (void)state;
    memset(&s, 0, sizeof s);
    s.len0 = 60;
    assert_int_equal(ls_capture_open_file(&cap, path, NULL, err), 0);
    s.cap = cap; /* libpcap numbers records the same way */
    assert_false(ls_capture_set_ahead(cap, on_ahead, &s, DIST));
    while (ls_capture_dispatch(cap, 5, on_frame, &s, err) > 0)
        ;
    assert_int_equal(s.nframe, NREC);
    assert_int_equal(s.nahead, 0);
    for (size_t i = 0; i < NREC; i++)
        assert_int_equal(s.first_byte[i], i);
    ls_capture_close(cap);
    unlink(path);
}

/* Frames of 200 KB: the reader's buffer cannot hold three records past
 * the next one, so the look-ahead falls behind; what it shows is still in
 * order, once, and correctly numbered (on_ahead checks), and every frame is
 * delivered intact. */
static void ahead_large_frames(void **state)
{
    struct seen s;
    (void)state;
    run(NULL, 3, 200000, &s);
    assert_int_equal(s.nframe, NREC);
    for (size_t i = 0; i < NREC; i++)
        assert_int_equal(s.first_byte[i], i);
    /* it fell behind: record 0's turn came with fewer than DIST + 1 shown */
    assert_true(s.ahead_at[0] >= 1 && s.ahead_at[0] < DIST + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ahead_every_record),
        cmocka_unit_test(ahead_with_filter),
        cmocka_unit_test(ahead_large_frames),
        cmocka_unit_test(libpcap_source_has_no_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
