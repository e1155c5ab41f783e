/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Bounds-checked read cursor used by src/decode/ (and by tests/fuzz/ or other parsers that
 * want the same discipline, e.g. src/classify/). Include only from .c files of those modules.
 *
 * A cursor is a half-open window [ptr, end) inside one captured frame. Every read checks the
 * remaining length first and copies bytes into caller-owned locals with memcpy, so no packet
 * pointer is ever cast to a struct and no unaligned access happens. Header-only, no state:
 * usable from any thread.
 */
#ifndef FP_DECODE_INTERNAL_H
#define FP_DECODE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/fp_compiler.h"

/** Read window [ptr, end) into a captured frame; the frame is owned by the caller. */
struct fp_cursor {
    const uint8_t *ptr; /**< next byte to read */
    const uint8_t *end; /**< one past the last readable byte */
};

/** Bytes left in the window. */
static inline size_t fp_cursor_left(const struct fp_cursor *c)
{
    return (size_t)(c->end - c->ptr);
}

/** True when at least @p n bytes are left. */
static inline bool fp_cursor_has(const struct fp_cursor *c, size_t n)
{
    return fp_cursor_left(c) >= n;
}

/**
 * Copy @p n bytes into @p dst without advancing.
 * @return true on success, false (nothing copied) when fewer than @p n bytes are left.
 */
static inline bool fp_cursor_peek(const struct fp_cursor *c, void *dst, size_t n)
{
    if (!fp_cursor_has(c, n))
        return false;
    memcpy(dst, c->ptr, n);
    return true;
}

/** Copy @p n bytes into @p dst and advance. @return false (no change) when short. */
static inline bool fp_cursor_pull(struct fp_cursor *c, void *dst, size_t n)
{
    if (!fp_cursor_peek(c, dst, n))
        return false;
    c->ptr += n;
    return true;
}

/** Advance by @p n bytes. @return false (no change) when fewer than @p n are left. */
static inline bool fp_cursor_skip(struct fp_cursor *c, size_t n)
{
    if (!fp_cursor_has(c, n))
        return false;
    c->ptr += n;
    return true;
}

/** Shrink the window so that at most @p n bytes remain (never grows it). */
static inline void fp_cursor_limit(struct fp_cursor *c, size_t n)
{
    if (fp_cursor_left(c) > n)
        c->end = c->ptr + n;
}

/* Big-endian loads from a local copy (a header already pulled through the cursor). */
static inline uint16_t fp_be16(const uint8_t *b)
{
    uint16_t v;
    memcpy(&v, b, sizeof(v));
    return __builtin_bswap16(v);
}

static inline uint32_t fp_be32(const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, sizeof(v));
    return __builtin_bswap32(v);
}

static inline uint32_t fp_le32(const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, sizeof(v));
    return v;
}

FP_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "fp_be16/fp_le32 assume little endian");

#endif /* FP_DECODE_INTERNAL_H */
