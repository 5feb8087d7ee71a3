/* hash.h: the integer mixer and unaligned load behind the seeded hash
 * tables (connections, IP fragments). */
#ifndef LS_HASH_H
#define LS_HASH_H

#include <stdint.h>
#include <string.h>

/* A 64-bit finalizer (xorshift-multiply): every input bit affects every
 * output bit, so low bits are fit for masking into a power-of-two table. */
static inline uint64_t ls_mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

/* Eight bytes at `p`, in host order, whatever the alignment. */
static inline uint64_t ls_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#endif
