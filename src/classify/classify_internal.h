/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Internal helpers of src/classify/: a bounds-checked read cursor and string helpers.
 * Included only by the .c files of src/classify/.
 */
#ifndef FP_CLASSIFY_INTERNAL_H
#define FP_CLASSIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "classify/classify.h"
#include "common/fp_compiler.h"

/** Read cursor over [p, end): every read checks the remaining length first. */
struct cur {
    const uint8_t *p;
    const uint8_t *end;
};

static inline struct cur cur_make(const uint8_t *p, size_t len)
{
    struct cur c = {p, p + len};
    return c;
}

static inline size_t cur_left(const struct cur *c)
{
    return (size_t)(c->end - c->p);
}

static inline bool cur_u8(struct cur *c, uint8_t *v)
{
    if (cur_left(c) < 1)
        return false;
    *v = c->p[0];
    c->p += 1;
    return true;
}

static inline bool cur_u16(struct cur *c, uint16_t *v)
{
    if (cur_left(c) < 2)
        return false;
    *v = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2;
    return true;
}

static inline bool cur_u24(struct cur *c, uint32_t *v)
{
    if (cur_left(c) < 3)
        return false;
    *v = (uint32_t)c->p[0] << 16 | (uint32_t)c->p[1] << 8 | c->p[2];
    c->p += 3;
    return true;
}

static inline bool cur_u32(struct cur *c, uint32_t *v)
{
    if (cur_left(c) < 4)
        return false;
    *v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
    c->p += 4;
    return true;
}

static inline bool cur_skip(struct cur *c, size_t n)
{
    if (cur_left(c) < n)
        return false;
    c->p += n;
    return true;
}

/** Split off the next n bytes as a sub-cursor. */
static inline bool cur_sub(struct cur *c, size_t n, struct cur *sub)
{
    if (cur_left(c) < n)
        return false;
    sub->p = c->p;
    sub->end = c->p + n;
    c->p += n;
    return true;
}

/** QUIC variable-length integer (RFC 9000 §16). */
static inline bool cur_varint(struct cur *c, uint64_t *v)
{
    if (cur_left(c) < 1)
        return false;
    size_t n = (size_t)1 << (c->p[0] >> 6);
    if (cur_left(c) < n)
        return false;
    uint64_t x = c->p[0] & 0x3f;
    for (size_t i = 1; i < n; i++)
        x = x << 8 | c->p[i];
    c->p += n;
    *v = x;
    return true;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static inline uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static inline uint8_t ascii_lower(uint8_t ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
}

/**
 * Copy len bytes into a buffer of cap bytes (cap ≥ 1), NUL-terminate, optionally
 * lower-case, sanitize. @return bytes copied (≤ cap - 1); *n_replaced is incremented.
 */
static inline size_t str_store(char *dst, size_t cap, const uint8_t *src, size_t len,
                               bool lower, uint16_t *n_replaced)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(lower ? ascii_lower(src[i]) : src[i]);
    dst[n] = '\0';
    size_t r = fp_classify_utf8_sanitize(dst, n);
    *n_replaced = (uint16_t)(*n_replaced + r);
    return n;
}

#endif /* FP_CLASSIFY_INTERNAL_H */
