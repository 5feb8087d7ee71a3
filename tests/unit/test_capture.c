/* test_capture.c: the look-ahead contract of ls_capture_set_ahead on a
 * mapped classic pcap file: before the frame callback for record i, the
 * ahead callback has seen records 0..i+distance, once each, in order, with
 * the same bytes, across dispatch batches and with a filter rejecting some
 * records; and a file left to libpcap (pcap 2.3) refuses the look-ahead. */
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

#define NREC 20
#define DIST 3

struct seen {
    const uint8_t *ahead[NREC + 64];
    size_t nahead;
    size_t nulls;          /* ahead calls past the end */
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
static const char *write_file(uint16_t minor)
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
    put32(f, 65535);
    put32(f, 1);
    for (uint32_t i = 0; i < NREC; i++) {
        uint8_t frame[128] = {0};
        uint32_t len = 60 + i;
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

static void on_ahead(void *ud, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    struct seen *s = ud;
    (void)wirelen;
    if (data == NULL) {
        s->nulls++;
        return;
    }
    assert_int_equal(s->nulls, 0); /* nothing real after the end */
    assert_int_equal(caplen, 60 + data[0]);
    s->ahead[s->nahead++] = data;
}

static void on_frame(void *ud, double ts, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    struct seen *s = ud;
    (void)ts;
    (void)caplen;
    (void)wirelen;
    s->ahead_at[s->nframe] = s->nahead + s->nulls;
    s->first_byte[s->nframe] = data[0];
    s->frame[s->nframe++] = data;
}

static void run(const char *filter, int batch, struct seen *s)
{
    char err[LS_ERRBUF_SIZE];
    struct ls_capture *cap;
    const char *path = write_file(4);
    int n;

    memset(s, 0, sizeof *s);
    assert_int_equal(ls_capture_open_file(&cap, path, filter, err), 0);
    assert_true(ls_capture_set_ahead(cap, on_ahead, s, DIST));
    while ((n = ls_capture_dispatch(cap, batch, on_frame, s, err)) > 0)
        ;
    assert_int_equal(n, 0);
    assert_true(ls_capture_eof(cap));
    /* Frames must still be readable where the look-ahead saw them. */
    for (size_t i = 0; i < s->nframe; i++)
        assert_int_equal(s->frame[i][0], s->first_byte[i]);
    ls_capture_close(cap);
    unlink(path);
}

static void ahead_every_record(void **state)
{
    struct seen s;
    (void)state;
    for (int batch = 1; batch <= 7; batch += 3) {
        run(NULL, batch, &s);
        assert_int_equal(s.nframe, NREC);
        assert_int_equal(s.nahead, NREC);
        for (size_t i = 0; i < NREC; i++) {
            assert_ptr_equal(s.ahead[i], s.frame[i]);
            assert_int_equal(s.first_byte[i], i);
            /* records 0..i+DIST seen, the ones past the end as NULL */
            assert_int_equal(s.ahead_at[i], i + DIST + 1);
        }
    }
}

static void ahead_with_filter(void **state)
{
    struct seen s;
    (void)state;
    run("ip", 2, &s);
    assert_int_equal(s.nframe, NREC / 2);
    assert_int_equal(s.nahead, NREC); /* rejected records are shown too */
    for (size_t i = 0; i < s.nframe; i++) {
        size_t rec = 2 * i;
        assert_int_equal(s.first_byte[i], rec);
        assert_ptr_equal(s.ahead[rec], s.frame[i]);
        assert_int_equal(s.ahead_at[i], rec + DIST + 1);
    }
}

static void libpcap_source_has_no_ahead(void **state)
{
    char err[LS_ERRBUF_SIZE];
    struct ls_capture *cap;
    struct seen s;
    const char *path = write_file(3);
    (void)state;
    memset(&s, 0, sizeof s);
    assert_int_equal(ls_capture_open_file(&cap, path, NULL, err), 0);
    assert_false(ls_capture_set_ahead(cap, on_ahead, &s, DIST));
    while (ls_capture_dispatch(cap, 5, on_frame, &s, err) > 0)
        ;
    assert_int_equal(s.nframe, NREC);
    assert_int_equal(s.nahead + s.nulls, 0);
    for (size_t i = 0; i < NREC; i++)
        assert_int_equal(s.first_byte[i], i);
    ls_capture_close(cap);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ahead_every_record),
        cmocka_unit_test(ahead_with_filter),
        cmocka_unit_test(libpcap_source_has_no_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
