/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for src/decode/. Input byte 0 picks the parameters: bits 0-2 the link type
 * (modulo the number of link types), bit 3 clears decapsulation, bit 4 moves the VXLAN and
 * GTP-U ports to values that random data hits more often. The rest is the captured frame,
 * copied to a buffer of exactly its size so any over-read trips ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fp_decode_params p;
    struct fp_pkt_meta m;

    if (size < 1)
        return 0;
    fp_decode_params_default(&p);
    p.link = (enum fp_linktype)((data[0] & 7) % 5);
    p.decap = !(data[0] & 0x08);
    if (data[0] & 0x10) {
        p.vxlan_port = 0x0101;
        p.gtpu_port = 0x0202;
    }
    size_t n = size - 1;
    uint8_t *frame = malloc(n ? n : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 1, n);
    enum fp_decode_result r = fp_decode_packet(frame, (uint32_t)n, &p, &m);
    if (r >= FP_DECODE_RESULT_MAX)
        abort();
    if (r == FP_DECODE_OK) {
        /* invariants every consumer relies on */
        if (m.l3_off >= n || (m.l4_off != 0 && m.l4_off >= n) ||
            (size_t)m.payload_off + m.payload_len > n || (m.ip_version != 4 && m.ip_version != 6) ||
            m.tunnel_depth > 4 || m.n_vlan > 2 || m.frag > FP_FRAG_LATER ||
            (m.notes >> FP_DECODE_NOTE_COUNT) != 0 || (m.tunnel_depth == 0) != (m.tunnel == 0))
            abort();
        if (m.payload_off != 0 && m.payload_off < m.l4_off)
            abort();
    }
    free(frame);
    return 0;
}
