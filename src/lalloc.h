/* lalloc.h: the block cache behind the Lua state's allocator. Lua frees and
 * reallocates with the size it asked for, so blocks need no header: a request
 * is rounded up to a size class and freed blocks wait on that class's free
 * list (LIFO, bounded in total) for the next request. This keeps the
 * per-chunk strings of a data handler (1-8 KiB, above glibc's tcache) out of
 * malloc's slow bins. Requests above the largest class go to malloc. */
#ifndef LS_LALLOC_H
#define LS_LALLOC_H

#include <stdbool.h>
#include <stddef.h>

#define LS_LALLOC_CLASSES 40                /* 16..256 by 16, then 4 steps per doubling */
#define LS_LALLOC_MAX     ((size_t)16384)   /* largest cached request */
#define LS_LALLOC_CACHE   ((size_t)4 << 20) /* default bound on cached bytes */

/* Under AddressSanitizer the Lua state gets plain malloc and free (no cache)
 * so that a use after free or an overflow past the requested size in Lua's
 * blocks is still reported. The cache itself stays covered by its unit test. */
#if defined(__SANITIZE_ADDRESS__)
#define LS_LALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LS_LALLOC_ASAN 1
#endif
#endif
#ifdef LS_LALLOC_ASAN
#define LS_LALLOC_CACHE_DEFAULT ((size_t)0)
#else
#define LS_LALLOC_CACHE_DEFAULT LS_LALLOC_CACHE
#endif

struct ls_lalloc_free;

struct ls_lalloc {
    size_t cache_limit; /* most bytes kept on the free lists; 0: no cache */
    size_t cached;      /* bytes on the free lists now (class sizes) */
    struct ls_lalloc_free *free[LS_LALLOC_CLASSES];
    void *spare; /* LS_LALLOC_MAX bytes for when malloc fails, or NULL */
};

/* Sets up an empty cache keeping at most `cache_limit` bytes of freed blocks.
 * With 0 every call goes straight to realloc/free with the exact size. */
void ls_lalloc_init(struct ls_lalloc *a, size_t cache_limit);

/* Returns every cached block to the system. Blocks still in use stay valid
 * and must not be given back to this cache afterwards. */
void ls_lalloc_close(struct ls_lalloc *a);

/* lua_Alloc semantics with a real `osize`: the size of `ptr`'s last request,
 * 0 when ptr is NULL. nsize 0 frees and returns NULL; otherwise returns a
 * block of at least nsize bytes holding the first min(osize, nsize) bytes of
 * ptr, or NULL (ptr untouched) when memory runs out. A resize within one
 * class returns ptr itself; shrinking never fails. */
void *ls_lalloc_realloc(struct ls_lalloc *a, void *ptr, size_t osize, size_t nsize);

/* Makes sure a spare block is held back and returns true, or false when
 * there is none and malloc cannot make one. While a spare is held, the next
 * new block of up to LS_LALLOC_MAX bytes cannot fail: if malloc does, the
 * spare serves it (a bigger block serves any smaller request). This lets the
 * host push one value into Lua outside a protected call. */
bool ls_lalloc_spare(struct ls_lalloc *a);

/* The block size that a request of `size` bytes (1..LS_LALLOC_MAX) gets. */
size_t ls_lalloc_class_size(size_t size);

#endif
