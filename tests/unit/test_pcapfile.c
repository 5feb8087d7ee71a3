/* test_pcapfile.c: unit tests for the classic-pcap reader. Files are built
 * in memory (the four header forms, every link type it takes, the files it
 * leaves to libpcap, snapshot lengths, each kind of damage with libpcap's
 * wording, the look-ahead cursor) and then written out for the path that
 * reads real files: read back, cut while being read, and many times larger
 * than the read buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "pcapfile.h"

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du

/* A file under construction; fields go in big- or little-endian order. */
struct file {
    uint8_t *b;
    size_t n, cap;
    bool big;
};

static void put(struct file *f, const void *p, size_t n)
{
    if (f->n + n > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->n + n)
            cap *= 2;
        f->b = realloc(f->b, cap);
        assert_non_null(f->b);
        f->cap = cap;
    }
    if (n > 0)
        memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put32(struct file *f, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[f->big ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    put(f, b, 4);
}

static void put16(struct file *f, uint16_t v)
{
    uint8_t b[2];
    b[f->big ? 1 : 0] = (uint8_t)v;
    b[f->big ? 0 : 1] = (uint8_t)(v >> 8);
    put(f, b, 2);
}

/* Starts a file: the 24-byte header, magic included, in f->big's order. */
static void start(struct file *f, bool big, uint32_t magic, uint16_t major, uint16_t minor,
                  uint32_t snaplen, uint32_t linktype)
{
    f->n = 0;
    f->big = big;
    put32(f, magic);
    put16(f, major);
    put16(f, minor);
    put32(f, 0); /* thiszone */
    put32(f, 0); /* sigfigs */
    put32(f, snaplen);
    put32(f, linktype);
}

static void start_simple(struct file *f, uint32_t snaplen)
{
    start(f, false, MAGIC_USEC, 2, 4, snaplen, 1);
}

/* The bytes of record `seed`: distinct for every seed and position. */
static uint8_t pat(unsigned seed, size_t i)
{
    return (uint8_t)(seed * 131u + i * 7u + (i >> 8) + 1u);
}

static bool is_pat(const uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(seed, i))
            return false;
    return true;
}

/* Appends a record header and `present` bytes of pattern `seed` (fewer than
 * caplen to cut the file short). Returns the offset of the data. */
static size_t record_n(struct file *f, uint32_t sec, uint32_t frac, uint32_t caplen,
                       uint32_t wirelen, unsigned seed, size_t present)
{
    put32(f, sec);
    put32(f, frac);
    put32(f, caplen);
    put32(f, wirelen);
    size_t at = f->n;
    for (size_t i = 0; i < present; i++) {
        uint8_t b = pat(seed, i);
        put(f, &b, 1);
    }
    return at;
}

static size_t record(struct file *f, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
                     unsigned seed)
{
    return record_n(f, sec, frac, caplen, wirelen, seed, caplen);
}

static struct ls_pcapfile *open_mem(const struct file *f)
{
    struct ls_pcapfile *r = NULL;
    assert_int_equal(ls_pcapfile_open_mem(&r, f->b, f->n, "mem.pcap"), 0);
    assert_non_null(r);
    return r;
}

/* Reads one record and checks every field. */
static void expect_rec(struct ls_pcapfile *r, const uint8_t *data, uint32_t caplen,
                       uint32_t wirelen, int64_t sec, uint32_t usec, unsigned seed)
{
    struct ls_pcapfile_rec rec;
    char err[LS_ERRBUF_SIZE] = "";
    memset(&rec, 0xa5, sizeof rec);
    assert_int_equal(ls_pcapfile_next(r, &rec, err), 1);
    assert_ptr_equal(rec.data, data);
    assert_int_equal(rec.caplen, caplen);
    assert_int_equal(rec.wirelen, wirelen);
    assert_true(rec.sec == sec);
    assert_int_equal(rec.usec, usec);
    assert_true(is_pat(rec.data, rec.caplen, seed));
    assert_string_equal(err, "");
}

static void expect_end(struct ls_pcapfile *r)
{
    struct ls_pcapfile_rec rec;
    char err[LS_ERRBUF_SIZE] = "";
    assert_int_equal(ls_pcapfile_next(r, &rec, err), 0);
    assert_string_equal(err, "");
}

static void expect_error(struct ls_pcapfile *r, const char *want)
{
    struct ls_pcapfile_rec rec;
    char err[LS_ERRBUF_SIZE] = "";
    assert_int_equal(ls_pcapfile_next(r, &rec, err), LS_EIO);
    assert_string_equal(err, want);
    /* The damage ends the file: nothing more, and no second error. */
    expect_end(r);
}

/* The look-ahead's next record: where it lies, its lengths, and that its
 * number follows the one shown before (or restarts at the reader's). */
static void expect_ahead(struct ls_pcapfile *r, const uint8_t *data, uint32_t caplen,
                         uint32_t wirelen)
{
    const uint8_t *d = NULL;
    uint32_t c = 0, w = 0;
    uint64_t ix = 0;
    assert_true(ls_pcapfile_ahead(r, &d, &c, &w, &ix));
    assert_ptr_equal(d, data);
    assert_int_equal(c, caplen);
    assert_int_equal(w, wirelen);
}

static void expect_no_ahead(struct ls_pcapfile *r)
{
    const uint8_t *d = NULL;
    uint32_t c = 0, w = 0;
    uint64_t ix = 0;
    assert_false(ls_pcapfile_ahead(r, &d, &c, &w, &ix));
}

/* ---- files in memory ---------------------------------------------------- */

/* Three records in each of the four header forms. Seconds are the file's
 * unsigned 32 bits (times after 2038 stay positive, up to 2106);
 * nanoseconds are truncated to microseconds. */
static void test_four_forms(void **state)
{
    (void)state;
    static const struct {
        uint32_t magic;
        bool big;
    } forms[] = {
        {MAGIC_USEC, false},
        {MAGIC_USEC, true},
        {MAGIC_NSEC, false},
        {MAGIC_NSEC, true},
    };
    struct file f = {0};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        bool nsec = forms[i].magic == MAGIC_NSEC;
        start(&f, forms[i].big, forms[i].magic, 2, 4, 65535, 1);
        size_t d0 = record(&f, 1700000000, nsec ? 123456789 : 123456, 1, 60, 10);
        size_t d1 = record(&f, 0xffffffff, nsec ? 999999999 : 999999, 60, 60, 11);
        size_t d2 = record(&f, 0x80000000, nsec ? 1999 : 1, 1514, 1600, 12);
        assert_int_equal(f.n, 24 + 3 * 16 + 1 + 60 + 1514);

        struct ls_pcapfile *r = open_mem(&f);
        uint64_t done, total;
        assert_int_equal(ls_pcapfile_linktype(r), 1);
        assert_int_equal(ls_pcapfile_snaplen(r), 65535);
        ls_pcapfile_position(r, &done, &total);
        assert_int_equal(done, 24);
        assert_int_equal(total, f.n);

        expect_rec(r, f.b + d0, 1, 60, 1700000000, 123456, 10);
        ls_pcapfile_position(r, &done, &total);
        assert_int_equal(done, d0 + 1);
        expect_rec(r, f.b + d1, 60, 60, INT64_C(4294967295), 999999, 11);
        expect_rec(r, f.b + d2, 1514, 1600, INT64_C(2147483648), 1, 12);
        ls_pcapfile_position(r, &done, &total);
        assert_int_equal(done, f.n);
        expect_end(r);
        expect_end(r);
        expect_no_ahead(r);
        ls_pcapfile_close(r);
    }
    free(f.b);
}

static void test_linktypes(void **state)
{
    (void)state;
    static const uint32_t taken[] = {0, 1, 101, 108, 113, 228, 229, 276};
    struct file f = {0};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        start(&f, i % 2 == 1, MAGIC_USEC, 2, 4, 65535, taken[i]);
        size_t d = record(&f, 1, 2, 20, 20, (unsigned)i);
        struct ls_pcapfile *r = open_mem(&f);
        assert_int_equal(ls_pcapfile_linktype(r), (int)taken[i]);
        expect_rec(r, f.b + d, 20, 20, 1, 2, (unsigned)i);
        expect_end(r);
        ls_pcapfile_close(r);
    }
    free(f.b);
}

static void expect_not_taken(const uint8_t *b, size_t n)
{
    struct ls_pcapfile *r = (struct ls_pcapfile *)&r; /* must be cleared */
    assert_int_equal(ls_pcapfile_open_mem(&r, b, n, "mem.pcap"), LS_EINVAL);
    assert_null(r);
}

/* Files left to libpcap, which knows what is wrong with them. */
static void test_not_taken(void **state)
{
    (void)state;
    struct file f = {0};

    /* Shorter than the file header; exactly the header is taken (and empty). */
    start_simple(&f, 65535);
    expect_not_taken(f.b, 23);
    expect_not_taken(f.b, 0);
    struct ls_pcapfile *r = open_mem(&f);
    expect_no_ahead(r);
    expect_end(r);
    ls_pcapfile_close(r);

    /* A pcapng section header block. */
    start(&f, false, 0x0a0d0d0a, 0, 0, 0, 0);
    expect_not_taken(f.b, f.n);

    /* Versions other than 2.4 (older ones stay with libpcap). */
    static const uint16_t versions[][2] = {{2, 3}, {2, 2}, {2, 5}, {1, 4}, {3, 4}, {543, 0}};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        start(&f, i % 2 == 0, MAGIC_USEC, versions[i][0], versions[i][1], 65535, 1);
        record(&f, 1, 2, 4, 4, 1);
        expect_not_taken(f.b, f.n);
    }

    /* Link types outside the decoder's, and Ethernet with the FCS bits (or
     * other upper bits) set. */
    static const uint32_t links[] = {147,        105,        127,        2,         0x04000001,
                                     0x10000001, 0x14000001, 0xf0000001, 0x00010001};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        start(&f, i % 2 == 1, MAGIC_NSEC, 2, 4, 65535, links[i]);
        record(&f, 1, 2, 4, 4, 1);
        expect_not_taken(f.b, f.n);
    }

    /* Garbage and near-miss magics (the Kuznetzov a1b2cd34 included). */
    static const uint32_t magics[] = {0x12345678, 0, 0xa1b2cd34, 0xa1b2c3d5, 0xa1b23c4c};
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        start(&f, false, magics[i], 2, 4, 65535, 1);
        expect_not_taken(f.b, f.n);
        start(&f, true, magics[i], 2, 4, 65535, 1);
        expect_not_taken(f.b, f.n);
    }

    /* A little-endian magic with the other fields big-endian: version 512.1024. */
    start(&f, true, 0xd4c3b2a1, 2, 4, 65535, 1);
    expect_not_taken(f.b, f.n);
    free(f.b);
}

static void test_snaplen(void **state)
{
    (void)state;
    /* As libpcap reads it: 0 and values too large for an int are the
     * maximum; the rest stay, even above the maximum. */
    static const uint32_t in[] = {0,      1,      100,        65535,      262143,    262144,
                                  262145, 300000, 0x7fffffff, 0x80000000, 0xffffffff};
    static const uint32_t out[] = {262144, 1,      100,        65535,  262143, 262144,
                                   262145, 300000, 0x7fffffff, 262144, 262144};
    struct file f = {0};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        start(&f, i % 2 == 0, MAGIC_USEC, 2, 4, in[i], 1);
        struct ls_pcapfile *r = open_mem(&f);
        assert_int_equal(ls_pcapfile_snaplen(r), out[i]);
        ls_pcapfile_close(r);
    }

    /* Longer than the snapshot length, within the limit: the first snaplen
     * bytes, wirelen as recorded, and the rest skipped. */
    start_simple(&f, 100);
    size_t d0 = record(&f, 5, 6, 150, 200, 1);
    size_t d1 = record(&f, 7, 8, 40, 40, 2);
    size_t d2 = record(&f, 9, 10, 101, 101, 3);
    size_t d3 = record(&f, 11, 12, 100, 100, 4);
    struct ls_pcapfile *r = open_mem(&f);
    expect_ahead(r, f.b + d0, 100, 200);
    expect_ahead(r, f.b + d1, 40, 40);
    expect_ahead(r, f.b + d2, 100, 101);
    expect_rec(r, f.b + d0, 100, 200, 5, 6, 1);
    uint64_t done, total;
    ls_pcapfile_position(r, &done, &total);
    assert_int_equal(done, 24 + 16 + 150);
    expect_rec(r, f.b + d1, 40, 40, 7, 8, 2);
    expect_rec(r, f.b + d2, 100, 101, 9, 10, 3);
    expect_rec(r, f.b + d3, 100, 100, 11, 12, 4);
    expect_end(r);
    ls_pcapfile_close(r);

    /* The largest record there may be, whole with snaplen 0 and with one
     * above the maximum, cut with 65535. */
    for (int cut = 0; cut < 3; cut++) {
        start_simple(&f, cut == 1 ? 65535 : cut == 2 ? 300000 : 0);
        d0 = record(&f, 1, 2, 262144, 262144, 5);
        d1 = record(&f, 3, 4, 1, 1, 6);
        r = open_mem(&f);
        expect_rec(r, f.b + d0, cut == 1 ? 65535 : 262144, 262144, 1, 2, 5);
        expect_rec(r, f.b + d1, 1, 1, 3, 4, 6);
        expect_end(r);
        ls_pcapfile_close(r);
    }

    /* An empty record: caplen 0, data where its bytes would be (the end). */
    start_simple(&f, 0);
    d0 = record(&f, 1, 2, 0, 64, 0);
    r = open_mem(&f);
    expect_ahead(r, f.b + d0, 0, 64);
    expect_rec(r, f.b + d0, 0, 64, 1, 2, 0);
    expect_end(r);
    ls_pcapfile_close(r);
    free(f.b);
}

/* A caplen above libpcap's limit: an error naming the records before it,
 * which were all returned, and the offset of the bad record. */
static void test_caplen_too_big(void **state)
{
    (void)state;
    struct file f = {0};
    start_simple(&f, 65535);
    size_t d0 = record(&f, 1, 2, 10, 10, 1);
    size_t d1 = record(&f, 3, 4, 20, 30, 2);
    size_t bad = f.n;
    assert_int_equal(bad, 86);
    record_n(&f, 5, 6, 300000, 300000, 3, 64);
    struct ls_pcapfile *r = open_mem(&f);
    expect_rec(r, f.b + d0, 10, 10, 1, 2, 1);
    expect_rec(r, f.b + d1, 20, 30, 3, 4, 2);
    expect_error(r, "mem.pcap: read error after record 2: invalid packet capture length 300000, "
                    "bigger than snaplen of 65535 (at byte offset 86)");
    expect_no_ahead(r);
    ls_pcapfile_close(r);

    /* One past the limit as the first record, with snaplen 0 (the limit),
     * and the bytes all there: still an error. */
    start(&f, true, MAGIC_NSEC, 2, 4, 0, 101);
    record(&f, 1, 2, 262145, 262145, 4);
    r = open_mem(&f);
    expect_error(r, "mem.pcap: read error after record 0: invalid packet capture length 262145, "
                    "bigger than snaplen of 262144 (at byte offset 24)");
    ls_pcapfile_close(r);

    /* With a snapshot length above the limit, libpcap names the limit. */
    start(&f, false, MAGIC_USEC, 2, 4, 300000, 1);
    record_n(&f, 1, 2, 262145, 262145, 4, 10);
    r = open_mem(&f);
    expect_error(r, "mem.pcap: read error after record 0: invalid packet capture length 262145, "
                    "bigger than maximum of 262144 (at byte offset 24)");
    ls_pcapfile_close(r);
    free(f.b);
}

/* Files cut short, with libpcap's wording. */
static void test_truncated(void **state)
{
    (void)state;
    struct file f = {0};
    struct ls_pcapfile *r;

    /* Ten bytes into a record header. */
    start_simple(&f, 65535);
    size_t d0 = record(&f, 1, 2, 10, 10, 1);
    record(&f, 3, 4, 20, 20, 2);
    f.n = 24 + 26 + 10;
    r = open_mem(&f);
    expect_rec(r, f.b + d0, 10, 10, 1, 2, 1);
    expect_error(r, "mem.pcap: read error after record 1: truncated dump file; tried to read 16 "
                    "header bytes, only got 10 (at byte offset 50)");
    ls_pcapfile_close(r);

    /* A record header only, and one byte of one. */
    start_simple(&f, 65535);
    record(&f, 1, 2, 10, 10, 1);
    f.n = 24 + 1;
    r = open_mem(&f);
    expect_error(r, "mem.pcap: read error after record 0: truncated dump file; tried to read 16 "
                    "header bytes, only got 1 (at byte offset 24)");
    ls_pcapfile_close(r);
    f.n = 24 + 16;
    r = open_mem(&f);
    expect_error(r, "mem.pcap: read error after record 0: truncated dump file; tried to read 10 "
                    "captured bytes, only got 0 (at byte offset 24)");
    ls_pcapfile_close(r);

    /* 40 of 100 bytes of data. */
    start_simple(&f, 65535);
    d0 = record(&f, 1, 2, 10, 10, 1);
    record_n(&f, 3, 4, 100, 100, 2, 40);
    r = open_mem(&f);
    expect_rec(r, f.b + d0, 10, 10, 1, 2, 1);
    expect_error(r, "mem.pcap: read error after record 1: truncated dump file; tried to read 100 "
                    "captured bytes, only got 40 (at byte offset 50)");
    ls_pcapfile_close(r);

    /* Longer than the snapshot length and cut short past it: libpcap has
     * read the snapshot length and fails skipping the rest. */
    start_simple(&f, 100);
    record_n(&f, 3, 4, 150, 150, 2, 120);
    r = open_mem(&f);
    expect_error(r, "mem.pcap: read error after record 0: truncated dump file; tried to read 150 "
                    "captured bytes, only got 120 (at byte offset 24)");
    ls_pcapfile_close(r);

    /* ... and cut short before it: libpcap fails reading the snapshot
     * length, and names that. */
    start_simple(&f, 100);
    record_n(&f, 3, 4, 150, 150, 2, 60);
    r = open_mem(&f);
    expect_error(r, "mem.pcap: read error after record 0: truncated dump file; tried to read 100 "
                    "captured bytes, only got 60 (at byte offset 24)");
    ls_pcapfile_close(r);
    free(f.b);
}

/* The look-ahead cursor: from the next unread record, independent of
 * ls_pcapfile_next while ahead of it, restarting at the next unread record
 * once next has overtaken it; false at the end and at damage. */
static void test_ahead(void **state)
{
    (void)state;
    struct file f = {0};
    size_t d[4];
    static const uint32_t len[4] = {10, 300, 1, 77};
    start_simple(&f, 65535);
    for (unsigned i = 0; i < 4; i++)
        d[i] = record(&f, i, i, len[i], len[i] + 1, i);

    /* Ahead of next: next does not move it. */
    struct ls_pcapfile *r = open_mem(&f);
    expect_ahead(r, f.b + d[0], 10, 11);
    expect_ahead(r, f.b + d[1], 300, 301);
    expect_rec(r, f.b + d[0], 10, 11, 0, 0, 0);
    expect_ahead(r, f.b + d[2], 1, 2);
    expect_rec(r, f.b + d[1], 300, 301, 1, 1, 1);
    expect_rec(r, f.b + d[2], 1, 2, 2, 2, 2);
    /* Level with next: the record next returns next. */
    expect_ahead(r, f.b + d[3], 77, 78);
    expect_no_ahead(r);
    expect_no_ahead(r);
    expect_rec(r, f.b + d[3], 77, 78, 3, 3, 3);
    expect_no_ahead(r);
    expect_end(r);
    expect_no_ahead(r);
    ls_pcapfile_close(r);

    /* Behind next: records next has returned are not shown again. */
    r = open_mem(&f);
    expect_ahead(r, f.b + d[0], 10, 11);
    expect_rec(r, f.b + d[0], 10, 11, 0, 0, 0);
    expect_rec(r, f.b + d[1], 300, 301, 1, 1, 1);
    expect_rec(r, f.b + d[2], 1, 2, 2, 2, 2);
    expect_ahead(r, f.b + d[3], 77, 78);
    expect_no_ahead(r);
    expect_rec(r, f.b + d[3], 77, 78, 3, 3, 3);
    expect_end(r);
    ls_pcapfile_close(r);

    /* Never called until the middle: starts at the next unread record. */
    r = open_mem(&f);
    expect_rec(r, f.b + d[0], 10, 11, 0, 0, 0);
    expect_rec(r, f.b + d[1], 300, 301, 1, 1, 1);
    expect_ahead(r, f.b + d[2], 1, 2);
    ls_pcapfile_close(r);

    /* Damage: ahead stops before it, and stays stopped; next returns every
     * record before it, then the error; ahead stays false after it. */
    struct file g = {0};
    start_simple(&g, 65535);
    size_t e0 = record(&g, 1, 0, 10, 10, 1);
    size_t e1 = record(&g, 2, 0, 20, 20, 2);
    record(&g, 3, 0, 300000, 10, 3);
    r = open_mem(&g);
    expect_ahead(r, g.b + e0, 10, 10);
    expect_ahead(r, g.b + e1, 20, 20);
    expect_no_ahead(r);
    expect_no_ahead(r);
    expect_rec(r, g.b + e0, 10, 10, 1, 0, 1);
    expect_no_ahead(r);
    expect_rec(r, g.b + e1, 20, 20, 2, 0, 2);
    expect_no_ahead(r);
    expect_error(r, "mem.pcap: read error after record 2: invalid packet capture length 300000, "
                    "bigger than snaplen of 65535 (at byte offset 86)");
    expect_no_ahead(r);
    ls_pcapfile_close(r);

    /* A record cut short, and a header cut short, are damage too. */
    static const size_t cuts[] = {1, 20, 21, 35};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct ls_pcapfile_rec rec;
        char err[LS_ERRBUF_SIZE];
        start_simple(&g, 65535);
        e0 = record(&g, 1, 0, 10, 10, 1);
        record(&g, 2, 0, 20, 20, 2);
        g.n -= cuts[i];
        r = open_mem(&g);
        expect_ahead(r, g.b + e0, 10, 10);
        expect_no_ahead(r);
        expect_rec(r, g.b + e0, 10, 10, 1, 0, 1);
        expect_no_ahead(r);
        assert_int_equal(ls_pcapfile_next(r, &rec, err), LS_EIO);
        expect_no_ahead(r);
        ls_pcapfile_close(r);
    }
    free(g.b);
    free(f.b);
}

/* ---- files on disk ------------------------------------------------------ */

/* A temporary file (in $TMPDIR, else /tmp) holding f; returns its fd and
 * leaves its name in path. */
static int write_temp(const struct file *f, char *path, size_t pathsize)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, pathsize, "%s/test_pcapfile-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    for (size_t done = 0; done < f->n;) {
        ssize_t w = write(fd, f->b + done, f->n - done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    return fd;
}

static void test_file(void **state)
{
    (void)state;
    struct file f = {0};
    char path[4096];
    size_t d[3];
    start(&f, true, MAGIC_NSEC, 2, 4, 1000, 113);
    d[0] = record(&f, 100, 999, 42, 42, 1);
    d[1] = record(&f, 0xfffffffe, 5000, 1500, 1500, 2); /* cut to 1000 */
    d[2] = record(&f, 102, 123456789, 7, 9, 3);
    int fd = write_temp(&f, path, sizeof path);

    struct ls_pcapfile *r = NULL;
    struct ls_pcapfile_rec rec;
    char err[LS_ERRBUF_SIZE] = "";
    uint64_t done, total;
    assert_int_equal(ls_pcapfile_open(&r, path, "real.pcap"), 0);
    assert_int_equal(ls_pcapfile_linktype(r), 113);
    assert_int_equal(ls_pcapfile_snaplen(r), 1000);
    const uint8_t *a0 = NULL, *a1 = NULL;
    uint32_t c, w;
    uint64_t ix = 9;
    assert_true(ls_pcapfile_ahead(r, &a0, &c, &w, &ix));
    assert_int_equal(ix, 0);
    assert_true(ls_pcapfile_ahead(r, &a1, &c, &w, &ix));
    assert_int_equal(ix, 1);
    assert_int_equal(c, 1000);
    assert_int_equal(w, 1500);

    /* The buffer's address is unknown, but the records lie where the
     * file puts them relative to each other. */
    assert_int_equal(ls_pcapfile_next(r, &rec, err), 1);
    const uint8_t *base = rec.data - d[0];
    assert_ptr_equal(rec.data, a0);
    assert_int_equal(rec.caplen, 42);
    assert_int_equal(rec.wirelen, 42);
    assert_true(rec.sec == 100);
    assert_int_equal(rec.usec, 0);
    assert_true(is_pat(rec.data, 42, 1));
    assert_memory_equal(base, f.b, f.n);
    expect_rec(r, base + d[1], 1000, 1500, INT64_C(4294967294), 5, 2);
    assert_ptr_equal(a1, base + d[1]);
    expect_rec(r, base + d[2], 7, 9, 102, 123456, 3);
    ls_pcapfile_position(r, &done, &total);
    assert_int_equal(done, f.n);
    assert_int_equal(total, f.n);
    expect_end(r);
    ls_pcapfile_close(r);
    ls_pcapfile_close(NULL);

    /* What the mapped path leaves to libpcap: a missing file, a directory,
     * a device, a short file, a pcapng file. */
    r = (struct ls_pcapfile *)&r;
    assert_int_equal(ls_pcapfile_open(&r, "/nonexistent/x.pcap", "x"), LS_EINVAL);
    assert_null(r);
    assert_int_equal(ls_pcapfile_open(&r, "/", "x"), LS_EINVAL);
    assert_int_equal(ls_pcapfile_open(&r, "/dev/null", "x"), LS_EINVAL);
    assert_int_equal(ftruncate(fd, 23), 0);
    assert_int_equal(ls_pcapfile_open(&r, path, "x"), LS_EINVAL);
    assert_null(r);
    start(&f, false, 0x0a0d0d0a, 0, 0, 0, 0);
    assert_int_equal(pwrite(fd, f.b, f.n, 0), (ssize_t)f.n);
    assert_int_equal(ls_pcapfile_open(&r, path, "x"), LS_EINVAL);
    assert_null(r);
    close(fd);
    unlink(path);
    free(f.b);
}

/* A file cut while it is being read (by another program): reading goes
 * on to the new end, where the record that straddles it is reported as a
 * truncated file at its offset; every record before it comes back intact.
 * The file is larger than one read, so the cut lies in what is read later. */
static void test_shrink(void **state)
{
    (void)state;
    struct file f = {0};
    char path[4096];
    start_simple(&f, 65535);
    size_t d[3000];
    for (unsigned i = 0; i < 3000; i++)
        d[i] = record(&f, i, i, 1000, 1000, i);
    int fd = write_temp(&f, path, sizeof path);
    /* record k starts at 24 + 1016 k: the cut at 2,000,000 falls in 1968 */
    assert_int_equal(d[1968] - 16, 24 + 1016 * 1968);
    assert_true(d[1968] - 16 < 2000000 && d[1968] + 1000 > 2000000);

    struct ls_pcapfile *r = NULL;
    struct ls_pcapfile_rec rec;
    char err[LS_ERRBUF_SIZE] = "";
    assert_int_equal(ls_pcapfile_open(&r, path, "shrink.pcap"), 0);
    assert_int_equal(ls_pcapfile_next(r, &rec, err), 1);
    assert_int_equal(ftruncate(fd, 2000000), 0);
    for (unsigned i = 1; i < 1968; i++) {
        assert_int_equal(ls_pcapfile_next(r, &rec, err), 1);
        assert_int_equal(rec.caplen, 1000);
        assert_true(rec.sec == i);
        if (!is_pat(rec.data, 1000, i))
            fail_msg("record %u differs", i);
    }
    char want[200];
    snprintf(want, sizeof want,
             "shrink.pcap: read error after record 1968: truncated dump file; tried to read "
             "1000 captured bytes, only got %zu (at byte offset %zu)",
             (size_t)2000000 - d[1968], d[1968] - 16);
    expect_error(r, want);
    expect_end(r);
    ls_pcapfile_close(r);
    close(fd);
    unlink(path);
    free(f.b);
}

/* A file of 12 MiB, read through the buffer many times over: every record
 * exact, the look-ahead in step with the reader (the same records, though
 * not always at the same address: the buffer's contents move), and the
 * position at the end equal to the file size. */
static void test_large_file(void **state)
{
    (void)state;
    struct file f = {0};
    char path[4096];
    unsigned n = 0;
    start_simple(&f, 1600);
    while (f.n < (size_t)12 << 20) {
        uint32_t len = (n * 97u) % 1500u + 1u;
        record(&f, n, n % 1000000u, len, len + 4, n);
        n++;
    }
    int fd = write_temp(&f, path, sizeof path);
    size_t size = f.n;
    free(f.b);

    struct ls_pcapfile *r = NULL;
    struct ls_pcapfile_rec rec;
    char err[LS_ERRBUF_SIZE] = "";
    const uint8_t *queue[8];
    uint32_t qlen[8], c, w;
    uint64_t ix;
    assert_int_equal(ls_pcapfile_open(&r, path, "large.pcap"), 0);
    for (unsigned i = 0; i < 8; i++) {
        assert_true(ls_pcapfile_ahead(r, &queue[i], &qlen[i], &w, &ix));
        assert_int_equal(ix, i);
    }
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = (i * 97u) % 1500u + 1u;
        assert_int_equal(ls_pcapfile_next(r, &rec, err), 1);
        assert_int_equal(rec.caplen, qlen[i % 8]);
        assert_int_equal(rec.caplen, len);
        assert_int_equal(rec.wirelen, len + 4);
        assert_true(rec.sec == i);
        assert_int_equal(rec.usec, i % 1000000u);
        if (!is_pat(rec.data, len, i))
            fail_msg("record %u differs", i);
        if (i + 8 < n) {
            assert_true(ls_pcapfile_ahead(r, &queue[i % 8], &qlen[i % 8], &w, &ix));
            assert_int_equal(ix, i + 8);
            assert_int_equal(w, (((i + 8) * 97u) % 1500u + 1u) + 4);
        } else {
            assert_false(ls_pcapfile_ahead(r, &queue[i % 8], &c, &w, &ix));
        }
    }
    expect_end(r);
    uint64_t done, total;
    ls_pcapfile_position(r, &done, &total);
    assert_int_equal(done, size);
    assert_int_equal(total, size);
    ls_pcapfile_close(r);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_forms),     cmocka_unit_test(test_linktypes),
        cmocka_unit_test(test_not_taken),      cmocka_unit_test(test_snaplen),
        cmocka_unit_test(test_caplen_too_big), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_ahead),          cmocka_unit_test(test_file),
        cmocka_unit_test(test_shrink),         cmocka_unit_test(test_large_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
