/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the relay's IPFIX stream handling (src/export/ipfix_stream.c): what a
 * TLS/DTLS peer sends is framed, validated, applied to the template cache and re-emitted,
 * split to a small MTU. Byte 0 picks the chunk size used to feed the framer (1..256) and
 * whether withdrawals are stripped; the rest is the byte stream. Every emitted message must
 * itself pass the validator and fit the MTU.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/ipfix_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MTU 512

static int emit(void *ctx, const uint8_t *msg, size_t len)
{
    (void)ctx;
    if (len > MTU || fp_ipfix_msg_check(msg, len, NULL) != 0)
        abort(); /* the relay must never forward what it would itself reject */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static struct fp_ipfix_framer fr;
    fp_ipfix_framer_init(&fr);
    struct fp_ipfix_stream_params p = {
        .max_msg = MTU,
        .strip_withdrawals = data[0] & 1,
        .emit = emit,
    };
    struct fp_ipfix_stream *s = fp_ipfix_stream_create(&p);
    if (!s)
        return 0;
    size_t chunk = (size_t)(data[0] >> 1) + 1;
    size_t off = 1;
    int bad = 0;
    while (off < size && !bad) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t taken = fp_ipfix_framer_push(&fr, data + off, n);
        off += taken;
        const uint8_t *msg;
        size_t len;
        int r;
        while ((r = fp_ipfix_framer_next(&fr, &msg, &len)) == 1) {
            if (fp_ipfix_stream_process(s, msg, len) != 0) {
                bad = 1;
                break;
            }
        }
        if (r < 0)
            bad = 1;
        if (taken == 0 && r == 0)
            break; /* buffer full without a message: the framer would have failed */
    }
    (void)fp_ipfix_stream_resend_templates(s, 0);
    fp_ipfix_stream_destroy(s);
    return 0;
}
