/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the HTTP/1.x request extractor (src/classify/meta_http.c).
 * Byte 0 even: data[1..] is the payload. Byte 0 odd: a built-in request patched by the
 * (offset, value) pairs in data[1..]. The payload is copied to a buffer of exactly its size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base[] = "GET http://u@h.example:8/x HTTP/1.1\r\nHost: [::1]:8080\r\n"
                           "User-Agent: fuzz/1.0\r\nX: y\r\n  fold\r\n\r\n";

static void check_str(const char *s, size_t cap)
{
    char copy[FP_CLASSIFY_UA_MAX > FP_CLASSIFY_NAME_MAX ? FP_CLASSIFY_UA_MAX
                                                        : FP_CLASSIFY_NAME_MAX];
    size_t n = strnlen(s, cap);
    if (n >= cap)
        abort();
    memcpy(copy, s, n);
    if (fp_classify_utf8_sanitize(copy, n) != 0)
        abort();
}

static void run(const uint8_t *p, size_t n)
{
    struct fp_classify_http h;
    uint8_t *copy = malloc(n ? n : 1);

    if (copy == NULL)
        abort();
    memcpy(copy, p, n);
    enum fp_classify_result r = fp_classify_http_parse(copy, n, &h);
    if (r >= FP_CLASSIFY_RESULT_MAX)
        abort();
    if (r == FP_CLASSIFY_OK) {
        check_str(h.host, sizeof(h.host));
        check_str(h.user_agent, sizeof(h.user_agent));
        if (strnlen(h.method, sizeof(h.method)) == 0 || h.has_host != (h.host[0] != '\0'))
            abort();
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        run(data + 1, size - 1);
    } else {
        uint8_t m[sizeof(base) - 1];
        memcpy(m, base, sizeof(m));
        for (size_t i = 1; i + 1 < size; i += 2)
            m[data[i] % sizeof(m)] = data[i + 1];
        run(m, sizeof(m));
    }
    return 0;
}
