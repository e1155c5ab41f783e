/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the DNS extractor (src/classify/meta_dns.c).
 * Byte 0 picks the mode (modulo 3):
 *   0  data[1..] is a UDP payload
 *   1  data[1..] is a TCP payload (2-byte length prefix)
 *   2  a built-in response (question, CNAME, A, AAAA with compression) patched by the
 *      (offset, value) pairs in data[2..] and cut to data[1] + 12 bytes when data[1] < 255
 * The answer array is allocated at exactly the size passed, so any overrun trips ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t base[] = {
    0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
    /* www.example.com A IN */
    0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
    0x00, 0x01, 0x00, 0x01,
    /* CNAME cdn.<ptr example.com> */
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x06,
    0x03, 'c', 'd', 'n', 0xc0, 0x10,
    /* A 93.184.216.34 */
    0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
    0x5d, 0xb8, 0xd8, 0x22,
    /* AAAA */
    0xc0, 0x2d, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x10,
    0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01, 0x02, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19,
    0x46,
};

static void check_name(const char *s)
{
    char copy[FP_CLASSIFY_NAME_MAX];
    size_t n = strnlen(s, FP_CLASSIFY_NAME_MAX);
    if (n > 253)
        abort();
    memcpy(copy, s, n);
    if (fp_classify_utf8_sanitize(copy, n) != 0)
        abort();
}

static void run(const uint8_t *p, size_t n, int tcp, unsigned max_ans)
{
    struct fp_classify_dns d;
    struct fp_classify_dns_answer *a = max_ans ? malloc(max_ans * sizeof(*a)) : NULL;
    uint8_t *copy = malloc(n ? n : 1);

    if ((max_ans && a == NULL) || copy == NULL)
        abort();
    memcpy(copy, p, n);
    enum fp_classify_result r = fp_classify_dns_parse(copy, n, tcp, &d, a, max_ans);
    if (r >= FP_CLASSIFY_RESULT_MAX || d.n_answers > max_ans)
        abort();
    if (d.has_question) {
        check_name(d.qname);
        if (strlen(d.qname) != d.qname_len)
            abort();
    }
    for (unsigned i = 0; i < d.n_answers; i++) {
        check_name(a[i].name);
        check_name(a[i].cname);
    }
    free(a);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        run(data + 1, size - 1, 0, data[0] >> 5);
        break;
    case 1:
        run(data + 1, size - 1, 1, 3);
        break;
    default: {
        uint8_t m[sizeof(base)];
        size_t n = sizeof(base);
        memcpy(m, base, sizeof(m));
        if (size >= 2 && data[1] < 255 && (size_t)data[1] + 12 < n)
            n = (size_t)data[1] + 12;
        for (size_t i = 2; i + 1 < size; i += 2)
            m[data[i] % sizeof(base)] = data[i + 1];
        run(m, n, 0, 2);
        break;
    }
    }
    return 0;
}
