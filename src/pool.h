/* pool.h: memory for buffered stream bytes, with a hard cap and accounting.
 * Blocks come in power-of-two size classes; freed blocks are kept on per-class
 * free lists (up to a bound) so that steady-state buffering does not call malloc. */
#ifndef LS_POOL_H
#define LS_POOL_H

#include <stddef.h>
#include <stdint.h>

#define LS_POOL_MIN_SHIFT 6  /* 64-byte smallest block */
#define LS_POOL_MAX_SHIFT 17 /* 128 KiB largest block */
#define LS_POOL_CLASSES   (LS_POOL_MAX_SHIFT - LS_POOL_MIN_SHIFT + 1)

struct ls_pool_free;

struct ls_pool {
    size_t limit;  /* most bytes that may be handed out at once */
    size_t in_use; /* bytes handed out now (block sizes, not requests) */
    size_t peak;   /* highest in_use seen */
    size_t cached; /* bytes sitting on the free lists */
    size_t cache_limit;
    uint64_t refused; /* allocations refused because of `limit` */
    struct ls_pool_free *free[LS_POOL_CLASSES];
};

/* Sets up an empty pool that hands out at most `limit` bytes. */
void ls_pool_init(struct ls_pool *pool, size_t limit);

/* Returns every cached block to the system. Blocks still handed out must have
 * been freed first. */
void ls_pool_close(struct ls_pool *pool);

/* Returns a block of at least `size` bytes (size <= 1 << LS_POOL_MAX_SHIFT)
 * and stores its real size in *got, or NULL when the cap would be passed or
 * malloc fails. Ownership goes to the caller until ls_pool_free. */
void *ls_pool_alloc(struct ls_pool *pool, size_t size, size_t *got);

/* The real size ls_pool_alloc hands out for `size` bytes (its class). */
size_t ls_pool_block_size(size_t size);

/* Gives back a block of real size `got` obtained from ls_pool_alloc. */
void ls_pool_free(struct ls_pool *pool, void *block, size_t got);

/* Largest request ls_pool_alloc accepts. */
#define LS_POOL_MAX_BLOCK ((size_t)1 << LS_POOL_MAX_SHIFT)

#endif
