/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the QUIC Initial extractor (src/classify/meta_quic.c).
 * Byte 0 picks the mode (modulo 4):
 *   0  data[1..] is one UDP datagram (header parsing, gQUIC/version checks)
 *   1  data[2..] is two datagrams split at data[1], fed to the same flow
 *   2  data[2..] is Initial plaintext (frames): it is protected here with the client
 *      Initial keys (v1, or v2 when data[1] & 0x80) into two packets split at byte
 *      16 * (data[1] & 0x3f) (one packet when that is 0), fed coalesced in one datagram when
 *      data[1] & 0x40, else as two datagrams in reverse order; so the frame parser, CRYPTO
 *      reassembly and ClientHello parser see authenticated packets
 *   3  the RFC 9001 A.2 CRYPTO frame + PADDING, patched by (offset hi, lo, value) triples in
 *      data[2..], then protected as in mode 2 (split at 8 * (data[1] & 0x3f))
 * OK results are checked for the output invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "classify/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t a2_frame_head[] = {0x06, 0x00, 0x40, 0xf1}; /* CRYPTO off 0 len 241 */
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

static const uint8_t dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};

static struct fp_quic_ctx *ctx;
static EVP_CIPHER_CTX *seal_gcm, *seal_ecb;
static struct fp_classify_quic_keys keys_v1, keys_v2;

static void init_once(void)
{
    if (ctx != NULL)
        return;
    ctx = fp_classify_quic_ctx_create();
    seal_gcm = EVP_CIPHER_CTX_new();
    seal_ecb = EVP_CIPHER_CTX_new();
    if (ctx == NULL || seal_gcm == NULL || seal_ecb == NULL ||
        fp_classify_quic_keys_derive(ctx, FP_QUIC_V1, dcid, sizeof(dcid), &keys_v1) != 0 ||
        fp_classify_quic_keys_derive(ctx, FP_QUIC_V2, dcid, sizeof(dcid), &keys_v2) != 0)
        abort();
}

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

static void check(enum fp_classify_result r, const struct fp_classify_tls *t,
                  const struct fp_classify_quic_flow *f)
{
    if (r >= FP_CLASSIFY_RESULT_MAX || f->crypto.contig > f->crypto.cap)
        abort();
    if (r != FP_CLASSIFY_OK)
        return;
    check_str(t->sni, sizeof(t->sni));
    check_str(t->alpn, sizeof(t->alpn));
    check_str(t->alpn_list, sizeof(t->alpn_list));
    if (t->hs_type != 1 || !f->keys_valid)
        abort();
}

/* Protect plaintext pl[0..n) as a client Initial (2-byte PN); @return packet length. */
static size_t seal(uint32_t version, uint32_t pn, const uint8_t *pl, size_t n, uint8_t *out)
{
    const struct fp_classify_quic_keys *k = version == FP_QUIC_V2 ? &keys_v2 : &keys_v1;
    uint8_t nonce[12], mask[16], pad[24] = {0};
    size_t o = 0;
    int l;

    if (n < sizeof(pad)) { /* the sample needs ≥ 2 bytes; the parser ≥ 3: pad with PADDING */
        memcpy(pad, pl, n);
        pl = pad;
        n = sizeof(pad);
    }
    out[o++] = (uint8_t)(0xc1 | (version == FP_QUIC_V2 ? 0x10 : 0));
    for (int i = 3; i >= 0; i--)
        out[o++] = (uint8_t)(version >> (8 * i));
    out[o++] = sizeof(dcid);
    memcpy(out + o, dcid, sizeof(dcid));
    o += sizeof(dcid);
    out[o++] = 0;
    out[o++] = 0;
    size_t length = 2 + n + 16;
    out[o++] = (uint8_t)(0x40 | length >> 8);
    out[o++] = (uint8_t)length;
    size_t pn_off = o;
    out[o++] = (uint8_t)(pn >> 8);
    out[o++] = (uint8_t)pn;
    memcpy(nonce, k->iv, 12);
    nonce[10] ^= (uint8_t)(pn >> 8);
    nonce[11] ^= (uint8_t)pn;
    if (!EVP_EncryptInit_ex(seal_gcm, EVP_aes_128_gcm(), NULL, k->key, nonce) ||
        !EVP_EncryptUpdate(seal_gcm, NULL, &l, out, (int)o) ||
        !EVP_EncryptUpdate(seal_gcm, out + o, &l, pl, (int)n) ||
        !EVP_EncryptFinal_ex(seal_gcm, out + o + n, &l) ||
        !EVP_CIPHER_CTX_ctrl(seal_gcm, EVP_CTRL_AEAD_GET_TAG, 16, out + o + n))
        abort();
    o += n + 16;
    if (!EVP_EncryptInit_ex(seal_ecb, EVP_aes_128_ecb(), NULL, k->hp, NULL) ||
        !EVP_EncryptUpdate(seal_ecb, mask, &l, out + pn_off + 4, 16))
        abort();
    out[0] ^= mask[0] & 0x0f;
    out[pn_off] ^= mask[1];
    out[pn_off + 1] ^= mask[2];
    return o;
}

/* Protect two packets (split at cut) and parse them, coalesced or not. */
static void sealed(const uint8_t *pl, size_t n, size_t cut, uint32_t version, int coalesce)
{
    static uint8_t d[2 * 1500 + 200], cbuf[4096];
    struct fp_classify_quic_flow f;
    struct fp_classify_tls t;

    if (n > 2800)
        n = 2800;
    if (cut > n)
        cut = n;
    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    size_t a = seal(version, 0, pl, cut ? cut : n, d);
    if (cut == 0 || cut == n) {
        check(fp_classify_quic_parse(ctx, &f, d, a, &t), &t, &f);
        return;
    }
    size_t b = seal(version, 1, pl + cut, n - cut, d + a);
    if (coalesce) {
        check(fp_classify_quic_parse(ctx, &f, d, a + b, &t), &t, &f);
    } else {
        check(fp_classify_quic_parse(ctx, &f, d + a, b, &t), &t, &f);
        check(fp_classify_quic_parse(ctx, &f, d, a, &t), &t, &f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t cbuf[4096];
    struct fp_classify_quic_flow f;
    struct fp_classify_tls t;

    if (size < 2)
        return 0;
    init_once();
    switch (data[0] % 4) {
    case 0:
        fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
        check(fp_classify_quic_parse(ctx, &f, data + 1, size - 1, &t), &t, &f);
        break;
    case 1: {
        size_t cut = data[1] * (size - 2) / 255;
        fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
        check(fp_classify_quic_parse(ctx, &f, data + 2, cut, &t), &t, &f);
        check(fp_classify_quic_parse(ctx, &f, data + 2 + cut, size - 2 - cut, &t), &t, &f);
        break;
    }
    case 2:
        sealed(data + 2, size - 2, (size_t)(data[1] & 0x3f) * 16,
               (data[1] & 0x80) ? FP_QUIC_V2 : FP_QUIC_V1, data[1] & 0x40);
        break;
    default: {
        static uint8_t pl[4 + sizeof(a2_hello) + 900];
        memset(pl, 0, sizeof(pl));
        memcpy(pl, a2_frame_head, sizeof(a2_frame_head));
        memcpy(pl + sizeof(a2_frame_head), a2_hello, sizeof(a2_hello));
        for (size_t i = 2; i + 2 < size; i += 3)
            pl[((size_t)data[i] << 8 | data[i + 1]) % (4 + sizeof(a2_hello))] = data[i + 2];
        sealed(pl, sizeof(pl), (size_t)(data[1] & 0x3f) * 8,
               (data[1] & 0x80) ? FP_QUIC_V2 : FP_QUIC_V1, data[1] & 0x40);
        break;
    }
    }
    return 0;
}
