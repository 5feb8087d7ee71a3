/* lalloc.c: size-class block cache for the Lua state. Lua tells the allocator
 * the size of every block it frees or resizes, so a block's class is known
 * from that size alone and blocks carry no header; a cached block's first
 * word links it into its class's free list. */
#include "lalloc.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

struct ls_lalloc_free {
    struct ls_lalloc_free *next;
};

/* Block size of each class: 16-byte steps up to 256 (where most of Lua's
 * objects fall), then four steps per doubling, so at most 25% of a block is
 * slack. Kept in sync with size_class() by the unit test. */
static const size_t class_sizes[LS_LALLOC_CLASSES] = {
    16,   32,   48,   64,   80,   96,   112,  128,  144,   160,   176,   192,   208,  224,
    240,  256,  320,  384,  448,  512,  640,  768,  896,   1024,  1280,  1536,  1792, 2048,
    2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
};

/* Index of the smallest class holding `n` bytes, 1 <= n <= LS_LALLOC_MAX. */
static unsigned size_class(size_t n)
{
    if (n <= 256)
        return (unsigned)((n + 15) >> 4) - 1;
    /* n - 1 lies in [2^b, 2^(b+1)): the two bits below the top pick the step. */
    unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
    return 16 + (b - 8) * 4 + (unsigned)(((n - 1) >> (b - 2)) & 3);
}

size_t ls_lalloc_class_size(size_t size)
{
    return class_sizes[size_class(size)];
}

void ls_lalloc_init(struct ls_lalloc *a, size_t cache_limit)
{
    *a = (struct ls_lalloc){0};
    a->cache_limit = cache_limit;
}

void ls_lalloc_close(struct ls_lalloc *a)
{
    for (unsigned c = 0; c < LS_LALLOC_CLASSES; c++) {
        struct ls_lalloc_free *f = a->free[c];
        while (f != NULL) {
            struct ls_lalloc_free *next = f->next;
            free(f);
            f = next;
        }
        a->free[c] = NULL;
    }
    a->cached = 0;
    free(a->spare);
    a->spare = NULL;
}

bool ls_lalloc_spare(struct ls_lalloc *a)
{
    if (a->spare == NULL)
        a->spare = malloc(LS_LALLOC_MAX);
    return a->spare != NULL;
}

/* A new block of n <= LS_LALLOC_MAX bytes: malloc's, else the spare's. */
static void *fresh(struct ls_lalloc *a, size_t n)
{
    void *p = malloc(n);
    if (ls_unlikely(p == NULL)) {
        p = a->spare;
        a->spare = NULL;
    }
    return p;
}

/* A block of class c: the most recently cached one, or a new one. */
static void *take(struct ls_lalloc *a, unsigned c)
{
    struct ls_lalloc_free *f = a->free[c];
    if (f == NULL)
        return fresh(a, class_sizes[c]);
    a->free[c] = f->next;
    a->cached -= class_sizes[c];
    return f;
}

/* Gives back a block last requested with `size` bytes: cached while the
 * bound allows, otherwise (or when it is too big for a class) freed. */
static void give(struct ls_lalloc *a, void *p, size_t size)
{
    if (size > LS_LALLOC_MAX) {
        free(p);
        return;
    }
    unsigned c = size_class(size);
    if (a->cached + class_sizes[c] > a->cache_limit) {
        free(p);
        return;
    }
    struct ls_lalloc_free *f = p;
    f->next = a->free[c];
    a->free[c] = f;
    a->cached += class_sizes[c];
}

void *ls_lalloc_realloc(struct ls_lalloc *a, void *ptr, size_t osize, size_t nsize)
{
    if (a->cache_limit == 0) {
        if (nsize == 0) {
            free(ptr);
            return NULL;
        }
        if (ptr == NULL && nsize <= LS_LALLOC_MAX)
            return fresh(a, nsize);
        return realloc(ptr, nsize);
    }
    if (nsize == 0) {
        if (ptr != NULL)
            give(a, ptr, osize);
        return NULL;
    }
    if (ptr == NULL)
        return nsize > LS_LALLOC_MAX ? malloc(nsize) : take(a, size_class(nsize));

    void *p;
    if (nsize > LS_LALLOC_MAX) {
        if (osize > LS_LALLOC_MAX)
            return realloc(ptr, nsize);
        p = malloc(nsize);
    } else {
        unsigned c = size_class(nsize);
        if (osize <= LS_LALLOC_MAX && size_class(osize) == c)
            return ptr;
        p = take(a, c);
    }
    if (ls_unlikely(p == NULL))
        /* Shrinking keeps the old, bigger block: it serves the new size and
         * later goes back to the new size's class as one of its blocks. */
        return nsize < osize ? ptr : NULL;
    memcpy(p, ptr, osize < nsize ? osize : nsize);
    give(a, ptr, osize);
    return p;
}
