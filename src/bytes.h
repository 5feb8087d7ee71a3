/* bytes.h: big-endian loads and a bounds-checked cursor over packet bytes.
 * Every read of packet data goes through these; nothing casts bytes to structs. */
#ifndef LS_BYTES_H
#define LS_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint16_t ls_load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t ls_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t ls_load_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* A read cursor: `p` is the next unread byte, `end` one past the last byte
 * that may be read. Failed reads leave the cursor unchanged and return false. */
struct ls_cursor {
    const uint8_t *p;
    const uint8_t *end;
};

static inline void ls_cursor_init(struct ls_cursor *c, const uint8_t *p, size_t n)
{
    c->p = p;
    c->end = p + n;
}

static inline size_t ls_cursor_left(const struct ls_cursor *c)
{
    return (size_t)(c->end - c->p);
}

static inline bool ls_cursor_has(const struct ls_cursor *c, size_t n)
{
    return ls_cursor_left(c) >= n;
}

static inline bool ls_cursor_skip(struct ls_cursor *c, size_t n)
{
    if (!ls_cursor_has(c, n))
        return false;
    c->p += n;
    return true;
}

static inline bool ls_cursor_u8(struct ls_cursor *c, uint8_t *v)
{
    if (!ls_cursor_has(c, 1))
        return false;
    *v = c->p[0];
    c->p += 1;
    return true;
}

static inline bool ls_cursor_be16(struct ls_cursor *c, uint16_t *v)
{
    if (!ls_cursor_has(c, 2))
        return false;
    *v = ls_load_be16(c->p);
    c->p += 2;
    return true;
}

static inline bool ls_cursor_be32(struct ls_cursor *c, uint32_t *v)
{
    if (!ls_cursor_has(c, 4))
        return false;
    *v = ls_load_be32(c->p);
    c->p += 4;
    return true;
}

/* Reads `n` bytes into `dst`. */
static inline bool ls_cursor_copy(struct ls_cursor *c, void *dst, size_t n)
{
    if (!ls_cursor_has(c, n))
        return false;
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)dst)[i] = c->p[i];
    c->p += n;
    return true;
}

/* Narrows the readable range to the next `n` bytes (a header's own length
 * field); fails when fewer than `n` bytes remain. */
static inline bool ls_cursor_limit(struct ls_cursor *c, size_t n)
{
    if (!ls_cursor_has(c, n))
        return false;
    c->end = c->p + n;
    return true;
}

#endif
