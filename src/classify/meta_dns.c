/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * DNS message metadata (RFC 1035 §4.1): header, first question, A/AAAA/CNAME answers.
 * Hostile input is expected: every read is bounds-checked and name decompression is
 * bounded (backward-only pointers with strictly decreasing targets, ≤ 32 jumps, ≤ 255
 * octets on the wire). Worker context; no allocation.
 */
#include <string.h>

#include "classify/classify.h"
#include "classify/classify_internal.h"

#define DNS_HDR_LEN 12
#define DNS_MAX_JUMPS 32
#define DNS_NAME_WIRE_MAX 255
#define DNS_CLASS_IN 1

/**
 * Decode the name at m[off] into out (FP_CLASSIFY_NAME_MAX bytes, may be NULL).
 * *next receives the offset just after the name where it started (after the first
 * pointer when compressed).
 */
static enum fp_classify_result dns_name(const uint8_t *m, size_t mlen, size_t off, char *out,
                                        uint16_t *out_len, size_t *next, uint16_t *n_replaced)
{
    size_t pos = off, limit = SIZE_MAX, n = 0, wire = 1;
    unsigned jumps = 0;
    bool jumped = false;

    for (;;) {
        if (pos >= mlen)
            return FP_CLASSIFY_TRUNCATED;
        uint8_t l = m[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= mlen)
                return FP_CLASSIFY_TRUNCATED;
            size_t target = (size_t)(l & 0x3f) << 8 | m[pos + 1];
            if (!jumped) {
                *next = pos + 2;
                jumped = true;
            }
            /* Strictly backwards, below every earlier target: no loop is possible. */
            if (target >= FP_MIN(limit, pos) || target < DNS_HDR_LEN || ++jumps > DNS_MAX_JUMPS)
                return FP_CLASSIFY_MALFORMED;
            limit = target;
            pos = target;
            continue;
        }
        if (l & 0xc0)
            return FP_CLASSIFY_MALFORMED; /* 0x40/0x80: extended/obsolete label types */
        if (l == 0) {
            if (!jumped)
                *next = pos + 1;
            break;
        }
        wire += 1u + l;
        if (wire > DNS_NAME_WIRE_MAX)
            return FP_CLASSIFY_MALFORMED;
        if (l > mlen - pos - 1)
            return FP_CLASSIFY_TRUNCATED;
        if (out != NULL) {
            if (n)
                out[n++] = '.';
            for (unsigned i = 0; i < l; i++)
                out[n++] = (char)ascii_lower(m[pos + 1 + i]);
        }
        pos += 1u + l;
    }
    if (out != NULL) {
        out[n] = '\0'; /* n ≤ 253 since wire ≤ 255 */
        *n_replaced = (uint16_t)(*n_replaced + fp_classify_utf8_sanitize(out, n));
        if (out_len)
            *out_len = (uint16_t)n;
    }
    return FP_CLASSIFY_OK;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

enum fp_classify_result fp_classify_dns_parse(const uint8_t *p, size_t len, bool tcp,
                                              struct fp_classify_dns *out,
                                              struct fp_classify_dns_answer *ans,
                                              unsigned max_ans)
{
    const uint8_t *m = p;
    size_t mlen = len, off = DNS_HDR_LEN;
    enum fp_classify_result r;

    memset(out, 0, sizeof(*out));
    if (ans == NULL)
        max_ans = 0;
    if (tcp) {
        if (len < 2)
            return FP_CLASSIFY_NEED_MORE;
        mlen = be16(p);
        m = p + 2;
        if (mlen > len - 2)
            return FP_CLASSIFY_NEED_MORE;
    }
    if (mlen < DNS_HDR_LEN)
        return FP_CLASSIFY_NOT_PROTO;
    out->id = be16(m);
    out->qr = m[2] >> 7;
    out->opcode = (m[2] >> 3) & 0x0f;
    out->aa = (m[2] >> 2) & 1;
    out->tc = (m[2] >> 1) & 1;
    out->rd = m[2] & 1;
    out->ra = m[3] >> 7;
    out->rcode = m[3] & 0x0f;
    out->qdcount = be16(m + 4);
    out->ancount = be16(m + 6);
    out->nscount = be16(m + 8);
    out->arcount = be16(m + 10);
    if (out->qdcount == 0 && out->ancount == 0)
        return FP_CLASSIFY_NOT_PROTO;

    /* Questions: the first is kept; the rest are walked (each takes ≥ 5 bytes). */
    for (unsigned q = 0; q < out->qdcount; q++) {
        size_t next = 0;
        r = dns_name(m, mlen, off, q == 0 ? out->qname : NULL, &out->qname_len, &next,
                     &out->n_replaced);
        if (r != FP_CLASSIFY_OK)
            return r;
        if (next + 4 > mlen)
            return FP_CLASSIFY_TRUNCATED;
        if (q == 0) {
            out->qtype = be16(m + next);
            out->qclass = be16(m + next + 2);
            out->has_question = true;
        }
        off = next + 4;
    }

    /* Answer section (each record takes ≥ 11 bytes, so a lying count ends at the end). */
    for (unsigned a = 0; a < out->ancount; a++) {
        struct fp_classify_dns_answer *slot = out->n_answers < max_ans ? &ans[out->n_answers]
                                                                        : NULL;
        size_t next = 0;
        uint16_t scratch_len;

        r = dns_name(m, mlen, off, slot ? slot->name : NULL, &scratch_len, &next,
                     &out->n_replaced);
        if (r != FP_CLASSIFY_OK)
            return r;
        if (next + 10 > mlen)
            return FP_CLASSIFY_TRUNCATED;
        uint16_t type = be16(m + next), klass = be16(m + next + 2), rdlen = be16(m + next + 8);
        uint32_t ttl = (uint32_t)be16(m + next + 4) << 16 | be16(m + next + 6);
        size_t rdata = next + 10;
        if (rdlen > mlen - rdata)
            return FP_CLASSIFY_TRUNCATED;
        off = rdata + rdlen;

        bool wanted = (klass & 0x7fff) == DNS_CLASS_IN && /* mDNS sets the top bit */
                      (type == FP_DNS_TYPE_A || type == FP_DNS_TYPE_AAAA ||
                       type == FP_DNS_TYPE_CNAME);
        if (!wanted) {
            out->n_answers_other++;
            continue;
        }
        if ((type == FP_DNS_TYPE_A && rdlen != 4) || (type == FP_DNS_TYPE_AAAA && rdlen != 16))
            return FP_CLASSIFY_MALFORMED;
        if (type == FP_DNS_TYPE_CNAME) {
            size_t cnext = 0;
            /* The target may point anywhere earlier but must end exactly at rdata's end. */
            r = dns_name(m, rdata + rdlen, rdata, slot ? slot->cname : NULL, NULL, &cnext,
                         &out->n_replaced);
            if (r != FP_CLASSIFY_OK)
                return r == FP_CLASSIFY_TRUNCATED ? FP_CLASSIFY_MALFORMED : r;
            if (cnext != rdata + rdlen)
                return FP_CLASSIFY_MALFORMED;
        }
        if (slot == NULL) {
            out->n_answers_dropped++;
            continue;
        }
        slot->type = type;
        slot->ttl = ttl;
        memset(slot->addr, 0, sizeof(slot->addr));
        if (type != FP_DNS_TYPE_CNAME) { /* a CNAME's target was written above */
            slot->cname[0] = '\0';
            memcpy(slot->addr, m + rdata, rdlen);
        }
        out->n_answers++;
    }
    return FP_CLASSIFY_OK;
}
