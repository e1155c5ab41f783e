/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the TLS ClientHello/ServerHello extractor (src/classify/meta_tls.c).
 * Byte 0 picks the mode (modulo 4):
 *   0  data[1..] is one TCP payload: fast path and handshake parser
 *   1  data[2..] is a TCP stream cut into segments of 1 + data[1] bytes, fed in order
 *   2  the same segments fed in reverse order
 *   3  the RFC 9001 A.2 ClientHello in records of 1 + data[1] bytes, patched by the
 *      (offset hi, offset lo, value) triples in data[2..]: deep coverage without a corpus
 * Every OK result is checked for the output invariants (bounded, NUL-terminated, UTF-8).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 9001 Appendix A.2: the ClientHello (handshake message) of the client Initial. */
static const uint8_t a2_hello[] = {
    0x01, 0x00, 0x00, 0xed, 0x03, 0x03, 0xeb, 0xf8, 0xfa, 0x56, 0xf1, 0x29, 0x39, 0xb9, 0x58,
    0x4a, 0x38, 0x96, 0x47, 0x2e, 0xc4, 0x0b, 0xb8, 0x63, 0xcf, 0xd3, 0xe8, 0x68, 0x04, 0xfe,
    0x3a, 0x47, 0xf0, 0x6a, 0x2b, 0x69, 0x48, 0x4c, 0x00, 0x00, 0x04, 0x13, 0x01, 0x13, 0x02,
    0x01, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00,
    0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x10, 0x00, 0x07,
    0x00, 0x05, 0x04, 0x61, 0x6c, 0x70, 0x6e, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x93, 0x70, 0xb2, 0xc9,
    0xca, 0xa4, 0x7f, 0xba, 0xba, 0xf4, 0x55, 0x9f, 0xed, 0xba, 0x75, 0x3d, 0xe1, 0x71, 0xfa,
    0x71, 0xf5, 0x0f, 0x1c, 0xe1, 0x5d, 0x43, 0xe9, 0x94, 0xec, 0x74, 0xd7, 0x48, 0x00, 0x2b,
    0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x0d, 0x00, 0x10, 0x00, 0x0e, 0x04, 0x03, 0x05, 0x03,
    0x06, 0x03, 0x02, 0x03, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x00, 0x2d, 0x00, 0x02, 0x01,
    0x01, 0x00, 0x1c, 0x00, 0x02, 0x40, 0x01, 0x00, 0x39, 0x00, 0x32, 0x04, 0x08, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x04, 0x80, 0x00, 0xff, 0xff, 0x07, 0x04, 0x80,
    0x00, 0xff, 0xff, 0x08, 0x01, 0x10, 0x01, 0x04, 0x80, 0x00, 0x75, 0x30, 0x09, 0x01, 0x10,
    0x0f, 0x08, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08, 0x06, 0x04, 0x80, 0x00, 0xff,
    0xff,
};

static void check_str(const char *s, size_t cap)
{
    char copy[FP_CLASSIFY_NAME_MAX];
    size_t n = strnlen(s, cap);
    if (n >= cap || n >= sizeof(copy))
        abort();
    memcpy(copy, s, n);
    if (fp_classify_utf8_sanitize(copy, n) != 0)
        abort();
}

static void check(enum fp_classify_result r, const struct fp_classify_tls *t)
{
    if (r >= FP_CLASSIFY_RESULT_MAX)
        abort();
    if (r != FP_CLASSIFY_OK)
        return;
    check_str(t->sni, sizeof(t->sni));
    check_str(t->alpn, sizeof(t->alpn));
    check_str(t->alpn_list, sizeof(t->alpn_list));
    if (strlen(t->sni) != t->sni_len || strlen(t->alpn) != t->alpn_len)
        abort();
    if (t->has_sni != (t->sni_len > 0) || (t->hs_type != 1 && t->hs_type != 2))
        abort();
}

static void stream(const uint8_t *p, size_t n, size_t seg, int reverse)
{
    static uint8_t buf[4096];
    struct fp_classify_reasm r;
    struct fp_classify_tls t;
    size_t nseg = (n + seg - 1) / seg;

    fp_classify_reasm_init(&r, buf, sizeof(buf));
    r.base_seq = 1000;
    r.base_set = 1;
    for (size_t i = 0; i < nseg; i++) {
        size_t k = reverse ? nseg - 1 - i : i;
        size_t off = k * seg, len = n - off < seg ? n - off : seg;
        fp_classify_reasm_tcp_add(&r, (uint32_t)(1000 + off), p + off, len);
        enum fp_classify_result res = fp_classify_tls_stream_parse(&r, &t);
        check(res, &t);
        if (res != FP_CLASSIFY_NEED_MORE)
            break;
    }
    if (r.contig > r.cap)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fp_classify_tls t;

    if (size < 2)
        return 0;
    switch (data[0] % 4) {
    case 0:
        check(fp_classify_tls_parse(data + 1, size - 1, &t), &t);
        check(fp_classify_tls_hello_parse(data + 1, size - 1, &t), &t);
        break;
    case 1:
    case 2:
        stream(data + 2, size - 2, 1 + (size_t)data[1], data[0] % 4 == 2);
        break;
    default: {
        static uint8_t hs[sizeof(a2_hello)], rec[4096];
        size_t frag = 1 + (size_t)data[1], n = 0;
        memcpy(hs, a2_hello, sizeof(hs));
        for (size_t i = 2; i + 2 < size; i += 3)
            hs[((size_t)data[i] << 8 | data[i + 1]) % sizeof(hs)] = data[i + 2];
        for (size_t off = 0; off < sizeof(hs); off += frag) {
            size_t len = sizeof(hs) - off < frag ? sizeof(hs) - off : frag;
            rec[n++] = 22;
            rec[n++] = 3;
            rec[n++] = 1;
            rec[n++] = (uint8_t)(len >> 8);
            rec[n++] = (uint8_t)len;
            memcpy(rec + n, hs + off, len);
            n += len;
        }
        check(fp_classify_tls_hello_parse(hs, sizeof(hs), &t), &t);
        check(fp_classify_tls_parse(rec, n, &t), &t);
        stream(rec, n, 1 + (size_t)(data[1] * 7 % 700), 0);
        break;
    }
    }
    return 0;
}
