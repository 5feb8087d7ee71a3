/* test_pcapng.c: unit tests for the fallback pcapng reader on files built in
 * memory: interfaces with different link types, snaplens and timestamp
 * resolutions, every packet block kind, and each kind of damage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pcapng.h"

struct file {
    uint8_t b[4096];
    size_t n;
};

static void le32(struct file *f, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        f->b[f->n++] = (uint8_t)(v >> (8 * i));
}

static void le16(struct file *f, uint16_t v)
{
    f->b[f->n++] = (uint8_t)v;
    f->b[f->n++] = (uint8_t)(v >> 8);
}

static void bytes(struct file *f, const void *p, size_t n)
{
    memcpy(f->b + f->n, p, n);
    f->n += n;
    while (f->n % 4)
        f->b[f->n++] = 0;
}

/* Starts a block; end_block() fills in both length fields. */
static size_t begin(struct file *f, uint32_t type)
{
    size_t at = f->n;
    le32(f, type);
    le32(f, 0);
    return at;
}

static void end_block(struct file *f, size_t at)
{
    le32(f, 0);
    uint32_t len = (uint32_t)(f->n - at);
    for (int i = 0; i < 4; i++) {
        f->b[at + 4 + i] = (uint8_t)(len >> (8 * i));
        f->b[f->n - 4 + i] = (uint8_t)(len >> (8 * i));
    }
}

static void shb(struct file *f)
{
    size_t at = begin(f, 0x0A0D0D0A);
    le32(f, 0x1A2B3C4D);
    le16(f, 1);
    le16(f, 0);
    le32(f, 0xffffffff);
    le32(f, 0xffffffff);
    end_block(f, at);
}

static void idb(struct file *f, uint16_t linktype, uint32_t snaplen, int tsresol)
{
    size_t at = begin(f, 1);
    le16(f, linktype);
    le16(f, 0);
    le32(f, snaplen);
    if (tsresol >= 0) {
        le16(f, 9);
        le16(f, 1);
        uint8_t v = (uint8_t)tsresol;
        bytes(f, &v, 1);
        le16(f, 0);
        le16(f, 0);
    }
    end_block(f, at);
}

static void epb(struct file *f, uint32_t ifn, uint64_t ts, const char *data, uint32_t wirelen)
{
    size_t at = begin(f, 6);
    le32(f, ifn);
    le32(f, (uint32_t)(ts >> 32));
    le32(f, (uint32_t)ts);
    le32(f, (uint32_t)strlen(data));
    le32(f, wirelen);
    bytes(f, data, strlen(data));
    end_block(f, at);
}

/* A section with two interfaces of different link types and snaplens (what
 * libpcap refuses), a custom block to skip, and three packets. */
static void sample(struct file *f)
{
    f->n = 0;
    shb(f);
    idb(f, 1, 65535, -1);             /* Ethernet, microseconds */
    idb(f, 101, 100, 9);              /* raw IP, nanoseconds */
    size_t at = begin(f, 0x00000BAD); /* custom block: skipped */
    le32(f, 42);
    end_block(f, at);
    epb(f, 0, 1700000000123456ULL, "ether-frame", 60);
    epb(f, 1, 1700000000123456789ULL, "raw", 3);
    at = begin(f, 3); /* simple packet: interface 0 */
    le32(f, 5);
    bytes(f, "hello", 5);
    end_block(f, at);
}

static struct ls_pcapng *open_mem(struct file *f, char *err)
{
    FILE *fp = fmemopen(f->b, f->n, "rb");
    assert_non_null(fp);
    assert_true(ls_pcapng_probe(fp));
    struct ls_pcapng *r = NULL;
    int rc = ls_pcapng_open(&r, fp, "mem.pcapng", err);
    assert_int_equal(rc, 0);
    return r;
}

static void test_interfaces_and_blocks(void **state)
{
    (void)state;
    struct file f;
    char err[LS_ERRBUF_SIZE] = "";
    struct ls_pcapng_rec rec;
    sample(&f);
    struct ls_pcapng *r = open_mem(&f, err);
    assert_int_equal(ls_pcapng_first_linktype(r), 1);

    assert_int_equal(ls_pcapng_next(r, &rec, err), 1);
    assert_int_equal(rec.linktype, 1);
    assert_int_equal(rec.iface, 0);
    assert_int_equal(rec.caplen, 11);
    assert_int_equal(rec.wirelen, 60);
    assert_memory_equal(rec.data, "ether-frame", 11);
    assert_true(rec.ts > 1700000000.123455 && rec.ts < 1700000000.123457);

    assert_int_equal(ls_pcapng_next(r, &rec, err), 1);
    assert_int_equal(rec.linktype, 101);
    assert_int_equal(rec.snaplen, 100);
    assert_int_equal(rec.caplen, 3);
    assert_true(rec.ts > 1700000000.123456 && rec.ts < 1700000000.123458);

    assert_int_equal(ls_pcapng_next(r, &rec, err), 1);
    assert_int_equal(rec.linktype, 1);
    assert_int_equal(rec.caplen, 5);
    assert_memory_equal(rec.data, "hello", 5);

    assert_int_equal(ls_pcapng_next(r, &rec, err), 0);
    ls_pcapng_close(r);
}

static void set_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Reads until the error and returns the packets read before it. */
static int until_error(struct file *f, char *err)
{
    struct ls_pcapng *r = open_mem(f, err);
    struct ls_pcapng_rec rec;
    int n = 0, rc;
    while ((rc = ls_pcapng_next(r, &rec, err)) == 1)
        n++;
    assert_int_equal(rc, LS_EIO);
    ls_pcapng_close(r);
    return n;
}

static void test_damage(void **state)
{
    (void)state;
    struct file f;
    char err[LS_ERRBUF_SIZE];
    size_t last;

    /* Cut in the middle of the last block. */
    sample(&f);
    f.n -= 6;
    assert_int_equal(until_error(&f, err), 2);
    assert_non_null(strstr(err, "mem.pcapng: cut short in the block at offset"));

    /* An absurd block length. */
    sample(&f);
    last = f.n - 24; /* the simple packet block: 8 + 4 + 8 + 4 */
    set_le32(f.b + last + 4, 0x7ffffff0);
    assert_int_equal(until_error(&f, err), 2);
    assert_non_null(strstr(err, "impossible length 2147483632"));
    char want[64];
    snprintf(want, sizeof want, "offset %zu (after packet 2)", last);
    assert_non_null(strstr(err, want));

    /* A captured length running past its block. */
    sample(&f);
    f.n = 0;
    shb(&f);
    idb(&f, 1, 65535, -1);
    epb(&f, 0, 1, "abcd", 4);
    set_le32(f.b + f.n - 16, 400); /* caplen: before wirelen, data, trailer */
    assert_int_equal(until_error(&f, err), 0);
    assert_non_null(strstr(err, "packet 1"));
    assert_non_null(strstr(err, "captured length runs past the block"));

    /* A packet on an interface never described. */
    f.n = 0;
    shb(&f);
    idb(&f, 1, 65535, -1);
    epb(&f, 0, 1, "ok", 2);
    epb(&f, 7, 1, "bad", 3);
    assert_int_equal(until_error(&f, err), 1);
    assert_non_null(strstr(err, "interface that was never described"));

    /* Trailing length disagreeing with the leading one. */
    sample(&f);
    f.b[f.n - 4] ^= 4;
    assert_int_equal(until_error(&f, err), 2);
    assert_non_null(strstr(err, "trailing length differs"));
}

static void test_not_pcapng(void **state)
{
    (void)state;
    static uint8_t junk[64] = "this is not a capture file at all";
    FILE *fp = fmemopen(junk, sizeof junk, "rb");
    assert_false(ls_pcapng_probe(fp));
    struct ls_pcapng *r;
    char err[LS_ERRBUF_SIZE];
    assert_int_equal(ls_pcapng_open(&r, fp, "junk", err), LS_ECAPTURE);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interfaces_and_blocks),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_not_pcapng),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
