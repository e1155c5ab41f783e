/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Compiler helpers shared by every module: branch hints, alignment, static asserts.
 * Header-only; usable from any thread.
 */
#ifndef FP_COMPILER_H
#define FP_COMPILER_H

#include <assert.h>
#include <stddef.h>

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define FP_CACHE_LINE 64
#define FP_CACHE_ALIGNED __attribute__((aligned(FP_CACHE_LINE)))
#define FP_STATIC_ASSERT(cond, msg) _Static_assert((cond), msg)
#define FP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FP_UNUSED __attribute__((unused))
#define FP_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define FP_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#define FP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FP_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* FP_COMPILER_H */
