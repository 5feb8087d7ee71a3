/* test_reasm.c: the per-direction reassembler on its own, with exact bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "reasm.h"

struct out {
    char text[4096]; /* delivered bytes, gaps shown as [gap N] */
    size_t len;
    int conflicts;
    int replaced;   /* conflicts resolved for the new copy */
    double last_ts; /* time passed with the latest data */
};

static void o_data(void *ud, uint64_t off, const uint8_t *p, size_t n, double ts)
{
    struct out *o = ud;
    (void)off;
    o->last_ts = ts;
    if (o->len + n >= sizeof o->text)
        return; /* large tests check the counters instead */
    memcpy(o->text + o->len, p, n);
    o->len += n;
    o->text[o->len] = 0;
}

static void o_gap(void *ud, uint64_t off, uint64_t n)
{
    struct out *o = ud;
    (void)off;
    if (o->len + 32 >= sizeof o->text)
        return;
    o->len += (size_t)snprintf(o->text + o->len, sizeof o->text - o->len, "[gap %llu]",
                               (unsigned long long)n);
}

static void o_conflict(void *ud, uint64_t off, size_t n, bool replaced)
{
    struct out *o = ud;
    (void)off;
    (void)n;
    o->replaced += replaced;
    o->conflicts++;
}

static const struct ls_reasm_ops ops = {o_data, o_gap, o_conflict, NULL};

struct fx {
    struct ls_pool pool;
    struct ls_reasm_ctx ctx;
    struct ls_reasm r;
    struct out o;
};

static void setup(struct fx *f, uint64_t limit, enum ls_overlap ov, size_t max_held,
                  size_t pool_cap)
{
    memset(f, 0, sizeof *f);
    ls_pool_init(&f->pool, pool_cap);
    f->ctx.pool = &f->pool;
    f->ctx.ops = &ops;
    f->ctx.overlap = ov;
    f->ctx.max_held = max_held;
    ls_reasm_init(&f->r, 100, limit);
}

static void add(struct fx *f, uint64_t off, const char *s)
{
    ls_reasm_add(&f->r, &f->ctx, &f->o, off, (const uint8_t *)s, strlen(s));
}

static void teardown_fx(struct fx *f)
{
    ls_reasm_discard(&f->r, &f->ctx);
    assert_int_equal(f->pool.in_use, 0);
    ls_pool_close(&f->pool);
}

static void in_order_is_zero_copy(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, UINT64_MAX, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
    add(&f, 100, "abc");
    add(&f, 103, "def");
    assert_string_equal(f.o.text, "abcdef");
    assert_int_equal(f.pool.peak, 0); /* never buffered */
    assert_int_equal(f.r.delivered, 6);
    teardown_fx(&f);
}

static void out_of_order_and_every_permutation(void **state)
{
    (void)state;
    const char *parts[4] = {"ab", "cde", "f", "ghij"};
    const uint64_t offs[4] = {100, 102, 105, 106};
    int perm[24][4], np = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int d = 0; d < 4; d++)
                    if (a != b && a != c && a != d && b != c && b != d && c != d) {
                        perm[np][0] = a, perm[np][1] = b, perm[np][2] = c, perm[np][3] = d;
                        np++;
                    }
    for (int i = 0; i < np; i++) {
        struct fx f;
        setup(&f, UINT64_MAX, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
        for (int k = 0; k < 4; k++)
            add(&f, offs[perm[i][k]], parts[perm[i][k]]);
        assert_string_equal(f.o.text, "abcdefghij");
        teardown_fx(&f);
    }
}

static void overlap_policies(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, 100, LS_OVERLAP_FIRST, 1 << 20, 1 << 20); /* nothing deliverable yet */
    add(&f, 102, "CDEF");
    add(&f, 100, "abcdXYgh"); /* overlaps "CDEF" with different bytes */
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 108);
    assert_string_equal(f.o.text, "abCDEFgh");
    assert_int_equal(f.o.conflicts, 1);
    teardown_fx(&f);

    setup(&f, 100, LS_OVERLAP_LAST, 1 << 20, 1 << 20);
    add(&f, 102, "CDEF");
    add(&f, 100, "abcdXYgh");
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 108);
    assert_string_equal(f.o.text, "abcdXYgh");
    assert_int_equal(f.o.conflicts, 1);
    teardown_fx(&f);
}

/* One geometry under --overlap linux: `held` at `held_off`, then `copy`
 * at `copy_off`, the holes filled from "abcdefgh", delivered from 100 up to
 * 108 once the ACK allows it. */
static void linux_case(uint64_t held_off, const char *held, uint64_t copy_off, const char *copy,
                       const char *expect, int replaced)
{
    struct fx f;
    setup(&f, 100, LS_OVERLAP_LINUX, 1 << 20, 1 << 20);
    add(&f, held_off, held);
    add(&f, copy_off, copy);
    /* Fill each hole left in 100..108 with the bytes of "abcdefgh" there. */
    for (uint64_t o = 100; o < 108; o++) {
        bool covered = (o >= held_off && o < held_off + strlen(held)) ||
                       (o >= copy_off && o < copy_off + strlen(copy));
        if (!covered)
            ls_reasm_add(&f.r, &f.ctx, &f.o, o, (const uint8_t *)"abcdefgh" + (o - 100), 1);
    }
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 108);
    assert_string_equal(f.o.text, expect);
    assert_int_equal(f.o.replaced, replaced);
    teardown_fx(&f);
}

static void overlap_linux(void **state)
{
    (void)state;
    /* Out of order, the copy that starts lower wins... */
    linux_case(102, "CDEF", 100, "abcdXYgh", "abcdXYgh", 1);
    linux_case(102, "CDEF", 104, "xyGH", "abCDEFGH", 0);
    linux_case(102, "CDEF", 101, "BcXY", "aBcXYFgh", 1);
    /* ... at the same start the longer one, and the first of equals. */
    linux_case(102, "CD", 102, "xyEF", "abxyEFgh", 1);
    linux_case(102, "CDEF", 102, "xy", "abCDEFgh", 0);
    linux_case(102, "CDEF", 102, "xyzw", "abCDEFgh", 0);
    /* In order, bytes are final even while they wait for their ACK. */
    linux_case(100, "ABCD", 100, "abXYef", "ABCDefgh", 0);
    linux_case(100, "ABCD", 99, "zabXYe", "ABCDefgh", 0);
}

static void old_bytes_are_final(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, UINT64_MAX, LS_OVERLAP_LAST, 1 << 20, 1 << 20);
    add(&f, 100, "hello");
    add(&f, 98, "xxHELLOworld"); /* below next: trimmed, even under "last" */
    assert_string_equal(f.o.text, "helloworld");
    teardown_fx(&f);
}

static void limit_gates_delivery(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, 100, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
    f.ctx.now = 7.5;
    add(&f, 100, "abcdef");
    f.ctx.now = 9.0;
    assert_int_equal(f.o.len, 0);
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 103);
    assert_string_equal(f.o.text, "abc");
    assert_true(f.o.last_ts == 7.5);             /* when the bytes came, not when released */
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 101); /* never lowers */
    add(&f, 106, "g");
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 107);
    assert_string_equal(f.o.text, "abcdefg");
    teardown_fx(&f);
}

/* In-order bytes waiting for their ACK get blocks sized by what the stream
 * has carried so far: a short stream does not hold a full 8 KiB block, a
 * long one ends up in full blocks, and the bytes come out whole. */
static void in_order_blocks_grow_with_the_stream(void **state)
{
    (void)state;
    struct fx f;
    char piece[1001];
    setup(&f, 100, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
    memset(piece, 'a', 100);
    piece[100] = 0;
    add(&f, 100, piece);
    assert_int_equal(f.r.held, 100);
    assert_true(f.r.held_mem <= 256); /* one small block, not 8 KiB */
    uint64_t off = 200;
    for (int i = 0; i < 3; i++, off += 1000) {
        memset(piece, 'b' + i, 1000);
        piece[1000] = 0;
        add(&f, off, piece);
    }
    assert_int_equal(f.r.held, 3100);
    assert_true(f.r.held_mem <= 2 * 3100 + 1024); /* at most about twice what is held */
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, off);
    assert_int_equal(f.o.len, 3100);
    assert_int_equal(f.o.text[99], 'a');
    assert_int_equal(f.o.text[100], 'b');
    assert_int_equal(f.o.text[3099], 'd');
    assert_int_equal(f.r.held_mem, 0);
    teardown_fx(&f);
}

static void skip_and_flush_report_gaps(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, UINT64_MAX, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
    add(&f, 100, "ab");
    add(&f, 105, "fg");
    add(&f, 110, "kl");
    assert_int_equal(ls_reasm_contig_end(&f.r), 102);
    assert_int_equal(ls_reasm_held_end(&f.r), 112);
    ls_reasm_skip_to(&f.r, &f.ctx, &f.o, 106); /* hole 102-104, then 'f' and held 'g' */
    assert_string_equal(f.o.text, "ab[gap 3]fg");
    ls_reasm_flush(&f.r, &f.ctx, &f.o);
    assert_string_equal(f.o.text, "ab[gap 3]fg[gap 3]kl");
    assert_int_equal(f.r.gap_bytes, 6);
    assert_int_equal(f.r.delivered, 6);
    teardown_fx(&f);
}

static void per_direction_cap_forces_out(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, UINT64_MAX, LS_OVERLAP_FIRST, 10, 1 << 20);
    for (int i = 0; i < 100; i++) {
        char b[2] = {(char)('a' + i % 26), 0};
        add(&f, 102 + (uint64_t)i * 2, b); /* a hole before every byte */
        assert_true(f.r.held <= 10);
    }
    ls_reasm_flush(&f.r, &f.ctx, &f.o);
    assert_int_equal(f.r.delivered, 100);
    assert_int_equal(f.r.gap_bytes, 2 + 99); /* 100-101, then one before each byte */
    teardown_fx(&f);
}

static void pool_cap_bounds_memory(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, 100, LS_OVERLAP_FIRST, (size_t)1 << 30, 64 * 1024);
    static uint8_t chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 1000; i++) {
        ls_reasm_add(&f.r, &f.ctx, &f.o, 100 + (uint64_t)i * 1000, chunk, sizeof chunk);
        assert_true(f.pool.in_use <= 64 * 1024);
    }
    assert_true(f.ctx.forced > 0);
    ls_reasm_flush(&f.r, &f.ctx, &f.o);
    assert_int_equal(f.r.delivered + f.r.gap_bytes, 1000 * 1000);
    teardown_fx(&f);
}

static void rebase_before_delivery(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, 100, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
    add(&f, 100, "def");
    ls_reasm_rebase(&f.r, 97, false);
    add(&f, 97, "abc");
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 103);
    assert_string_equal(f.o.text, "abcdef");
    ls_reasm_rebase(&f.r, 50, false); /* too late: bytes were delivered */
    assert_int_equal(f.r.next, 103);
    teardown_fx(&f);
}

static void large_segment_spans_blocks(void **state)
{
    (void)state;
    struct fx f;
    setup(&f, 100, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
    static uint8_t big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)('A' + (i * 7 + i / 251) % 26);
    ls_reasm_add(&f.r, &f.ctx, &f.o, 100, big, sizeof big); /* more than one pool block */
    assert_int_equal(f.r.held, sizeof big);
    ls_reasm_set_limit(&f.r, &f.ctx, &f.o, 100 + 2000);
    assert_int_equal(f.o.len, 2000);
    assert_memory_equal(f.o.text, big, 2000);
    assert_int_equal(f.r.held, sizeof big - 2000);
    teardown_fx(&f);
}

/* Checks every delivery against the stream's byte at each offset, and that
 * data and gaps cover each offset once, in order. */
struct chk {
    uint64_t next; /* offset the next delivery or gap must start at */
    uint64_t data, gaps;
    int bad;
};

static uint8_t byte_at(uint64_t off)
{
    return (uint8_t)('a' + off % 26);
}

static void c_data(void *ud, uint64_t off, const uint8_t *p, size_t n, double ts)
{
    struct chk *c = ud;
    (void)ts;
    if (off != c->next)
        c->bad++;
    for (size_t i = 0; i < n; i++)
        if (p[i] != byte_at(off + i))
            c->bad++;
    c->next = off + n;
    c->data += n;
}

static void c_gap(void *ud, uint64_t off, uint64_t n)
{
    struct chk *c = ud;
    if (off != c->next)
        c->bad++;
    c->next = off + n;
    c->gaps += n;
}

static const struct ls_reasm_ops chk_ops = {c_data, c_gap, NULL, NULL};

static void add_byte(struct fx *f, struct chk *c, uint64_t off)
{
    uint8_t b = byte_at(off);
    ls_reasm_add(&f->r, &f->ctx, c, off, &b, 1);
}

/* One-byte segments sent backwards (the stream start last): each takes a
 * 64-byte block, and the blocks, not the payload, are held against
 * max_held, as is the segment cap. At either, adjacent pieces are merged
 * into larger blocks; only when that is not enough (a small max_held) do
 * the oldest bytes go out, every offset accounted for as data (the right
 * bytes) or gap. */
static void reverse_tiny_segments_stay_within_limits(void **state)
{
    (void)state;
    const size_t caps[2] = {4096, (size_t)1 << 20}; /* 64 blocks; past LS_REASM_MAX_SEGS */
    const uint64_t n = 5000;
    for (int k = 0; k < 2; k++) {
        struct fx f;
        struct chk c = {.next = 100};
        setup(&f, UINT64_MAX, LS_OVERLAP_FIRST, caps[k], (size_t)1 << 30);
        f.ctx.ops = &chk_ops;
        for (uint64_t off = 100 + n - 1; off > 100; off--) {
            add_byte(&f, &c, off);
            assert_true(f.r.held_mem <= caps[k]);
            assert_true(f.pool.in_use <= caps[k]);
            assert_true(f.r.nsegs <= LS_REASM_MAX_SEGS);
        }
        add_byte(&f, &c, 100);
        ls_reasm_flush(&f.r, &f.ctx, &c);
        assert_int_equal(c.bad, 0);
        assert_int_equal(c.next, 100 + n);
        assert_int_equal(c.data + c.gaps, n);
        assert_int_equal(f.r.delivered, c.data);
        assert_int_equal(f.r.gap_bytes, c.gaps);
        if (k == 0) {
            /* 4096 bytes of blocks cannot hold 5000 bytes: some go out, but
             * far more are held than 64 one-byte blocks. */
            assert_true(f.ctx.forced > 0);
            assert_true(c.data > 1000);
        } else {
            /* Within 1 MiB and the segment cap once merged: nothing lost. */
            assert_int_equal(c.data, n);
            assert_int_equal(f.ctx.forced, 0);
        }
        teardown_fx(&f);
    }
}

/* Many disjoint pieces: the segment cap holds however large max_held is,
 * forcing out the oldest, so an insertion never walks more than it. */
static void held_segments_are_capped(void **state)
{
    (void)state;
    struct fx f;
    struct chk c = {.next = 100};
    setup(&f, UINT64_MAX, LS_OVERLAP_FIRST, (size_t)1 << 30, (size_t)1 << 30);
    f.ctx.ops = &chk_ops;
    for (uint64_t i = 0; i < 3 * LS_REASM_MAX_SEGS; i++) {
        add_byte(&f, &c, 102 + i * 2); /* a hole before every byte */
        assert_true(f.r.nsegs <= LS_REASM_MAX_SEGS);
    }
    assert_int_equal(f.r.nsegs, LS_REASM_MAX_SEGS);
    assert_int_equal(f.ctx.forced, 2 * LS_REASM_MAX_SEGS);
    ls_reasm_flush(&f.r, &f.ctx, &c);
    assert_int_equal(f.r.nsegs, 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.data, 3 * LS_REASM_MAX_SEGS);
    assert_int_equal(c.gaps, 2 + 3 * LS_REASM_MAX_SEGS - 1);
    teardown_fx(&f);
}

/* In-order bytes waiting for their ACK go into a block's spare room, which
 * is charged already: that fits however close to max_held the direction
 * is. A new block past it forces the oldest bytes out. */
static void spare_room_is_free_new_blocks_are_not(void **state)
{
    (void)state;
    struct fx f;
    char piece[101];
    setup(&f, 100, LS_OVERLAP_FIRST, 256, 1 << 20);
    memset(piece, 'a', 100);
    piece[100] = 0;
    add(&f, 100, piece); /* a 256-byte block: room for about 200 bytes */
    assert_int_equal(f.r.held_mem, 256);
    add(&f, 200, piece);
    assert_int_equal(f.r.held, 200);
    assert_int_equal(f.r.held_mem, 256);
    assert_int_equal(f.ctx.forced, 0);
    piece[50] = 0;
    add(&f, 300, piece); /* needs a second block: the first goes out early */
    assert_int_equal(f.ctx.forced, 1);
    assert_int_equal(f.o.len, 200);
    assert_int_equal(f.r.held, 50);
    assert_true(f.r.held_mem <= 256);
    teardown_fx(&f);
}

/* Pieces landing alternately near the head and near the tail of a long
 * list end up in order, whichever end the insertion searched from. */
static void inserts_at_both_ends(void **state)
{
    (void)state;
    struct fx f;
    char want[401], two[3] = {0};
    setup(&f, UINT64_MAX, LS_OVERLAP_FIRST, 1 << 20, 1 << 20);
    for (int i = 0; i < 400; i++)
        want[i] = (char)byte_at(100 + (uint64_t)i);
    want[400] = 0;
    for (int k = 1; k < 200; k++) {
        int i = k % 2 ? 200 - (k + 1) / 2 : k / 2; /* 199, 1, 198, 2, ... */
        memcpy(two, want + 2 * i, 2);
        add(&f, 100 + 2 * (uint64_t)i, two);
    }
    add(&f, 101, want + 1); /* the rest, overlapping everything held */
    assert_int_equal(f.o.len, 0);
    memcpy(two, want, 2);
    add(&f, 100, two);
    assert_string_equal(f.o.text, want);
    assert_int_equal(f.o.conflicts, 0);
    assert_int_equal(f.r.nsegs, 0);
    teardown_fx(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_is_zero_copy),
        cmocka_unit_test(out_of_order_and_every_permutation),
        cmocka_unit_test(overlap_policies),
        cmocka_unit_test(overlap_linux),
        cmocka_unit_test(old_bytes_are_final),
        cmocka_unit_test(limit_gates_delivery),
        cmocka_unit_test(in_order_blocks_grow_with_the_stream),
        cmocka_unit_test(skip_and_flush_report_gaps),
        cmocka_unit_test(per_direction_cap_forces_out),
        cmocka_unit_test(pool_cap_bounds_memory),
        cmocka_unit_test(rebase_before_delivery),
        cmocka_unit_test(large_segment_spans_blocks),
        cmocka_unit_test(reverse_tiny_segments_stay_within_limits),
        cmocka_unit_test(held_segments_are_capped),
        cmocka_unit_test(spare_room_is_free_new_blocks_are_not),
        cmocka_unit_test(inserts_at_both_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
