/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Shared parts of the classification extractors: result names, the UTF-8 sanitizer and
 * the fixed-buffer stream reassembly. Worker context; no allocation.
 */
#include <errno.h>
#include <string.h>

#include "classify/classify.h"
#include "classify/classify_internal.h"

const char *const fp_classify_result_names[FP_CLASSIFY_RESULT_MAX] = {
    [FP_CLASSIFY_OK] = "ok",
    [FP_CLASSIFY_NEED_MORE] = "need_more",
    [FP_CLASSIFY_NOT_PROTO] = "not_proto",
    [FP_CLASSIFY_TRUNCATED] = "truncated",
    [FP_CLASSIFY_BAD_LENGTH] = "bad_length",
    [FP_CLASSIFY_MALFORMED] = "malformed",
    [FP_CLASSIFY_OVERFLOW] = "overflow",
    [FP_CLASSIFY_UNSUPPORTED] = "unsupported",
    [FP_CLASSIFY_GQUIC] = "gquic",
    [FP_CLASSIFY_NOT_INITIAL] = "not_initial",
    [FP_CLASSIFY_DECRYPT_FAIL] = "decrypt_fail",
    [FP_CLASSIFY_CRYPTO_ERROR] = "crypto_error",
};

/* Length of the well-formed UTF-8 sequence at s[0..left), 0 when ill-formed (RFC 3629 §4). */
static size_t utf8_seq_len(const uint8_t *s, size_t left)
{
    uint8_t c = s[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (c < 0x80)
        return (c < 0x20 || c == 0x7f) ? 0 : 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

size_t fp_classify_utf8_sanitize(char *s, size_t len)
{
    uint8_t *u = (uint8_t *)s;
    size_t i = 0, replaced = 0;

    while (i < len) {
        size_t n = utf8_seq_len(u + i, len - i);
        if (n == 0) {
            u[i++] = '?';
            replaced++;
        } else {
            i += n;
        }
    }
    return replaced;
}

void fp_classify_reasm_init(struct fp_classify_reasm *r, uint8_t *buf, uint32_t cap)
{
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->cap = cap;
}

/* Absorb ranges that now touch the contiguous prefix. */
static void reasm_absorb(struct fp_classify_reasm *r)
{
    bool again = true;

    while (again) {
        again = false;
        for (unsigned i = 0; i < r->n_ranges; i++) {
            if (r->ranges[i].start <= r->contig) {
                if (r->ranges[i].end > r->contig)
                    r->contig = r->ranges[i].end;
                r->ranges[i] = r->ranges[--r->n_ranges];
                again = true;
                break;
            }
        }
    }
}

/* Record [start, end) (start > contig) as held, merging overlapping or adjacent ranges. */
static int reasm_range_insert(struct fp_classify_reasm *r, uint32_t start, uint32_t end)
{
    bool merged = true;

    while (merged) {
        merged = false;
        for (unsigned i = 0; i < r->n_ranges; i++) {
            if (r->ranges[i].start <= end && start <= r->ranges[i].end) {
                start = min_u32(start, r->ranges[i].start);
                end = max_u32(end, r->ranges[i].end);
                r->ranges[i] = r->ranges[--r->n_ranges];
                merged = true;
                break;
            }
        }
    }
    if (r->n_ranges == FP_CLASSIFY_REASM_RANGES)
        return -ENOBUFS;
    r->ranges[r->n_ranges].start = start;
    r->ranges[r->n_ranges].end = end;
    r->n_ranges++;
    return 0;
}

int fp_classify_reasm_add(struct fp_classify_reasm *r, uint64_t off, const uint8_t *data,
                          size_t len)
{
    int rc = 0;

    if (r->frozen)
        return -EPERM;
    if (len == 0)
        return 0;
    if (off >= r->cap) {
        r->n_overflow++;
        return -ENOSPC;
    }
    if (len > r->cap - off) {
        len = (size_t)(r->cap - off);
        r->n_overflow++;
        rc = -ENOSPC;
    }
    uint32_t start = (uint32_t)off, end = (uint32_t)(off + len);

    if (end <= r->contig)
        return rc; /* duplicate of bytes already held */
    if (start <= r->contig) {
        memcpy(r->buf + start, data, len);
        r->contig = end;
        reasm_absorb(r);
        return rc;
    }
    if (reasm_range_insert(r, start, end) != 0) {
        r->n_no_range++;
        return -ENOBUFS;
    }
    memcpy(r->buf + start, data, len);
    return rc;
}

int fp_classify_reasm_tcp_add(struct fp_classify_reasm *r, uint32_t seq, const uint8_t *data,
                              size_t len)
{
    if (!r->base_set) {
        r->base_seq = seq;
        r->base_set = true;
    }
    int32_t rel = (int32_t)(seq - r->base_seq);
    if (rel < 0) {
        /* Starts before offset 0 (retransmission of older data): keep the tail only. */
        uint32_t skip = (uint32_t)(-(int64_t)rel);
        if (len <= skip)
            return 0;
        return fp_classify_reasm_add(r, 0, data + skip, len - skip);
    }
    return fp_classify_reasm_add(r, (uint64_t)(uint32_t)rel, data, len);
}
