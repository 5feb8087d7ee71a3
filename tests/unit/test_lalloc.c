/* test_lalloc.c: the Lua state's block cache. Resizes keep contents, a
 * resize within a class keeps the block, freed blocks are reused up to the
 * cache bound and no further, and blocks above the largest class go straight
 * to malloc and free; when malloc fails, the spare block serves one request.
 * malloc, realloc and free are counted, and malloc can be made to fail (the
 * executable links with --wrap for each). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lalloc.h"

static long n_malloc, n_realloc, n_free;
static bool malloc_fails;

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
    n_malloc++;
    return malloc_fails ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    n_realloc++;
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    n_free += p != NULL;
    __real_free(p);
}

static void reset_counts(void)
{
    n_malloc = n_realloc = n_free = 0;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static void check(const uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(seed + i * 7))
            fail_msg("byte %zu of %zu differs", i, n);
}

static void classes_cover_requests(void **state)
{
    (void)state;
    size_t prev = 0;
    for (size_t n = 1; n <= LS_LALLOC_MAX; n++) {
        size_t c = ls_lalloc_class_size(n);
        assert_true(c >= n);
        assert_true(c >= prev);           /* classes grow with the request */
        assert_true(c <= n + n / 4 + 16); /* at most 25% slack past 256 */
        assert_int_equal(ls_lalloc_class_size(c), c);
        prev = c;
    }
    assert_int_equal(ls_lalloc_class_size(LS_LALLOC_MAX), LS_LALLOC_MAX);
    assert_int_equal(ls_lalloc_class_size(1), 16);
    assert_int_equal(ls_lalloc_class_size(257), 320);
    assert_int_equal(ls_lalloc_class_size(1033), 1280);
}

/* One block grown and shrunk through every kind of step: within a class,
 * across classes, small to large, large to large, large to small. */
static void resizes_keep_contents(void **state)
{
    (void)state;
    static const size_t sizes[] = {10,    100,   300,  5000, 16384, 20000,
                                   40000, 17000, 3000, 2900, 50,    1};
    struct ls_lalloc a;
    ls_lalloc_init(&a, LS_LALLOC_CACHE);
    uint8_t *p = ls_lalloc_realloc(&a, NULL, 0, sizes[0]);
    assert_non_null(p);
    fill(p, sizes[0], 3);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t o = sizes[i - 1], n = sizes[i];
        p = ls_lalloc_realloc(&a, p, o, n);
        assert_non_null(p);
        check(p, o < n ? o : n, 3);
        fill(p, n, 3); /* whole block writable at its new size */
        assert_true(a.cached <= a.cache_limit);
    }
    assert_null(ls_lalloc_realloc(&a, p, 1, 0));
    ls_lalloc_close(&a);
}

static void same_class_keeps_block(void **state)
{
    (void)state;
    struct ls_lalloc a;
    ls_lalloc_init(&a, LS_LALLOC_CACHE);
    uint8_t *p = ls_lalloc_realloc(&a, NULL, 0, 1000); /* class 1024 */
    fill(p, 1000, 9);
    reset_counts();
    assert_ptr_equal(ls_lalloc_realloc(&a, p, 1000, 900), p);
    assert_ptr_equal(ls_lalloc_realloc(&a, p, 900, 1024), p);
    assert_ptr_equal(ls_lalloc_realloc(&a, p, 1024, 897), p);
    assert_int_equal(n_malloc + n_realloc + n_free, 0);
    check(p, 897, 9);
    uint8_t *q = ls_lalloc_realloc(&a, p, 897, 1025); /* class 1280 */
    assert_ptr_not_equal(q, p);
    check(q, 897, 9);
    ls_lalloc_realloc(&a, q, 1025, 0);
    ls_lalloc_close(&a);
}

static void freed_blocks_are_reused(void **state)
{
    (void)state;
    struct ls_lalloc a;
    ls_lalloc_init(&a, LS_LALLOC_CACHE);
    void *p = ls_lalloc_realloc(&a, NULL, 0, 3000); /* class 3072 */
    void *q = ls_lalloc_realloc(&a, NULL, 0, 2600);
    reset_counts();
    ls_lalloc_realloc(&a, p, 3000, 0);
    ls_lalloc_realloc(&a, q, 2600, 0);
    assert_int_equal(a.cached, 2 * 3072);
    assert_ptr_equal(ls_lalloc_realloc(&a, NULL, 0, 2561), q); /* LIFO */
    assert_ptr_equal(ls_lalloc_realloc(&a, NULL, 0, 3072), p);
    assert_int_equal(a.cached, 0);
    assert_int_equal(n_malloc + n_realloc + n_free, 0);
    ls_lalloc_realloc(&a, p, 3072, 0);
    ls_lalloc_realloc(&a, q, 2561, 0);
    reset_counts();
    ls_lalloc_close(&a);
    assert_int_equal(n_free, 2);
    assert_int_equal(a.cached, 0);
}

static void cache_bound_holds(void **state)
{
    (void)state;
    enum { N = 400 };
    static void *blk[N];
    static size_t len[N];
    const size_t cap = 64 * 1024;
    struct ls_lalloc a;
    ls_lalloc_init(&a, cap);

    /* One class: exactly cap / 4096 blocks stay cached, the rest are freed. */
    for (int i = 0; i < 100; i++)
        blk[i] = ls_lalloc_realloc(&a, NULL, 0, 4000);
    reset_counts();
    for (int i = 0; i < 100; i++) {
        ls_lalloc_realloc(&a, blk[i], 4000, 0);
        assert_true(a.cached <= cap);
    }
    assert_int_equal(a.cached, cap);
    assert_int_equal(n_free, 100 - (long)(cap / 4096));

    /* Mixed classes, random churn: the bound holds after every step. */
    srand(7);
    memset(len, 0, sizeof len);
    for (int step = 0; step < 20000; step++) {
        int i = rand() % N;
        size_t n = (size_t)(rand() % 3) == 0 ? 0 : 1 + (size_t)rand() % LS_LALLOC_MAX;
        if (len[i] == 0 && n == 0)
            continue;
        uint8_t *q = ls_lalloc_realloc(&a, len[i] ? blk[i] : NULL, len[i], n);
        if (n != 0) {
            assert_non_null(q);
            size_t keep = len[i] < n ? len[i] : n;
            for (size_t k = 0; k < keep; k++)
                if (q[k] != (uint8_t)i)
                    fail_msg("block %d byte %zu lost in a resize", i, k);
            memset(q, i, n);
        }
        blk[i] = q;
        len[i] = n;
        assert_true(a.cached <= cap);
    }
    for (int i = 0; i < N; i++)
        if (len[i])
            ls_lalloc_realloc(&a, blk[i], len[i], 0);
    assert_true(a.cached <= cap);
    ls_lalloc_close(&a);
    assert_int_equal(a.cached, 0);
}

static void large_blocks_bypass(void **state)
{
    (void)state;
    struct ls_lalloc a;
    ls_lalloc_init(&a, (size_t)1 << 30); /* room enough: only the size can refuse */
    reset_counts();
    uint8_t *p = ls_lalloc_realloc(&a, NULL, 0, LS_LALLOC_MAX + 1);
    assert_int_equal(n_malloc, 1);
    fill(p, LS_LALLOC_MAX + 1, 5);
    p = ls_lalloc_realloc(&a, p, LS_LALLOC_MAX + 1, 100000);
    assert_int_equal(n_realloc, 1);
    check(p, LS_LALLOC_MAX + 1, 5);
    ls_lalloc_realloc(&a, p, 100000, 0);
    assert_int_equal(n_free, 1);
    assert_int_equal(a.cached, 0);
    ls_lalloc_close(&a);
}

/* A zero bound (the setting under AddressSanitizer) is plain realloc/free. */
static void zero_bound_is_plain_malloc(void **state)
{
    (void)state;
    struct ls_lalloc a;
    ls_lalloc_init(&a, 0);
    reset_counts();
    uint8_t *p = ls_lalloc_realloc(&a, NULL, 0, 100);
    fill(p, 100, 1);
    p = ls_lalloc_realloc(&a, p, 100, 110);
    check(p, 100, 1);
    ls_lalloc_realloc(&a, p, 110, 0);
    assert_int_equal(n_malloc, 1);
    assert_int_equal(n_realloc, 1);
    assert_int_equal(n_free, 1);
    assert_int_equal(a.cached, 0);
    ls_lalloc_close(&a);
}

/* With a spare held, one new block up to LS_LALLOC_MAX survives a failing
 * malloc, with or without the cache; the next one fails, and no new spare
 * can be made until malloc works again. */
static void spare_serves_one_failure(void **state)
{
    (void)state;
    for (size_t bound = 0; bound <= LS_LALLOC_CACHE; bound += LS_LALLOC_CACHE) {
        struct ls_lalloc a;
        ls_lalloc_init(&a, bound);
        assert_true(ls_lalloc_spare(&a));
        assert_true(ls_lalloc_spare(&a)); /* already held: no second block */
        reset_counts();
        malloc_fails = true;
        uint8_t *p = ls_lalloc_realloc(&a, NULL, 0, 3000);
        assert_non_null(p);
        fill(p, 3000, 9);
        assert_null(ls_lalloc_realloc(&a, NULL, 0, 3000));
        assert_false(ls_lalloc_spare(&a));
        malloc_fails = false;
        check(p, 3000, 9);
        ls_lalloc_realloc(&a, p, 3000, 0); /* the spare goes back like any block */
        assert_true(ls_lalloc_spare(&a));
        ls_lalloc_close(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classes_cover_requests),     cmocka_unit_test(resizes_keep_contents),
        cmocka_unit_test(same_class_keeps_block),     cmocka_unit_test(freed_blocks_are_reused),
        cmocka_unit_test(cache_bound_holds),          cmocka_unit_test(large_blocks_bypass),
        cmocka_unit_test(zero_bound_is_plain_malloc), cmocka_unit_test(spare_serves_one_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
