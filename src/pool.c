/* pool.c: capped block allocator for buffered stream bytes. Freed blocks stay
 * on per-size-class lists (bounded by cache_limit) so that steady-state
 * buffering reuses memory instead of calling malloc and free per segment. */
#include "pool.h"

#include <stdlib.h>

struct ls_pool_free {
    struct ls_pool_free *next;
};

/* Index of the smallest class whose blocks hold `size` bytes. */
static unsigned size_class(size_t size)
{
    unsigned c = 0;
    size_t block = (size_t)1 << LS_POOL_MIN_SHIFT;
    while (block < size) {
        block <<= 1;
        c++;
    }
    return c;
}

size_t ls_pool_block_size(size_t size)
{
    return (size_t)1 << (size_class(size) + LS_POOL_MIN_SHIFT);
}

void ls_pool_init(struct ls_pool *pool, size_t limit)
{
    *pool = (struct ls_pool){0};
    pool->limit = limit;
    /* Keeping a quarter of the cap (at most 16 MiB) cached covers the usual
     * churn of in-flight segments without holding on to a burst's peak. */
    pool->cache_limit = limit / 4 < ((size_t)16 << 20) ? limit / 4 : ((size_t)16 << 20);
}

void ls_pool_close(struct ls_pool *pool)
{
    for (unsigned c = 0; c < LS_POOL_CLASSES; c++) {
        struct ls_pool_free *f = pool->free[c];
        while (f) {
            struct ls_pool_free *next = f->next;
            free(f);
            f = next;
        }
        pool->free[c] = NULL;
    }
    pool->cached = 0;
}

void *ls_pool_alloc(struct ls_pool *pool, size_t size, size_t *got)
{
    if (size == 0 || size > LS_POOL_MAX_BLOCK)
        return NULL;
    unsigned c = size_class(size);
    size_t block = (size_t)1 << (c + LS_POOL_MIN_SHIFT);
    if (pool->in_use + block > pool->limit) {
        pool->refused++;
        return NULL;
    }
    void *p = pool->free[c];
    if (p) {
        pool->free[c] = pool->free[c]->next;
        pool->cached -= block;
    } else {
        p = malloc(block);
        if (!p) {
            pool->refused++;
            return NULL;
        }
    }
    pool->in_use += block;
    if (pool->in_use > pool->peak)
        pool->peak = pool->in_use;
    *got = block;
    return p;
}

void ls_pool_free(struct ls_pool *pool, void *block, size_t got)
{
    if (!block)
        return;
    pool->in_use -= got;
    if (pool->cached + got > pool->cache_limit) {
        free(block);
        return;
    }
    unsigned c = size_class(got);
    struct ls_pool_free *f = block;
    f->next = pool->free[c];
    pool->free[c] = f;
    pool->cached += got;
}
