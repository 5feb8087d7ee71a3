/* test_pool.c: the capped block allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pool.h"

static void classes_and_accounting(void **state)
{
    (void)state;
    struct ls_pool p;
    ls_pool_init(&p, 1 << 20);
    size_t got;
    void *a = ls_pool_alloc(&p, 1, &got);
    assert_non_null(a);
    assert_int_equal(got, 64);
    void *b = ls_pool_alloc(&p, 1500, &got);
    assert_int_equal(got, 2048);
    assert_int_equal(p.in_use, 64 + 2048);
    assert_null(ls_pool_alloc(&p, LS_POOL_MAX_BLOCK + 1, &got));
    assert_null(ls_pool_alloc(&p, 0, &got));
    ls_pool_free(&p, a, 64);
    ls_pool_free(&p, b, 2048);
    assert_int_equal(p.in_use, 0);
    assert_int_equal(p.peak, 64 + 2048);
    ls_pool_close(&p);
}

static void cap_refuses(void **state)
{
    (void)state;
    struct ls_pool p;
    ls_pool_init(&p, 4096);
    size_t g1, g2, g3;
    void *a = ls_pool_alloc(&p, 2048, &g1);
    void *b = ls_pool_alloc(&p, 2048, &g2);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(ls_pool_alloc(&p, 1, &g3));
    assert_int_equal(p.refused, 1);
    ls_pool_free(&p, a, g1);
    ls_pool_free(&p, b, g2);
    ls_pool_close(&p);
}

static void freed_blocks_are_reused(void **state)
{
    (void)state;
    struct ls_pool p;
    ls_pool_init(&p, 1 << 20);
    size_t got;
    void *a = ls_pool_alloc(&p, 1000, &got);
    ls_pool_free(&p, a, got);
    assert_int_equal(p.cached, 1024);
    void *b = ls_pool_alloc(&p, 900, &got);
    assert_ptr_equal(a, b); /* no malloc in steady state */
    assert_int_equal(p.cached, 0);
    ls_pool_free(&p, b, got);
    ls_pool_close(&p);
    assert_int_equal(p.cached, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classes_and_accounting),
        cmocka_unit_test(cap_refuses),
        cmocka_unit_test(freed_blocks_are_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
