/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * QUIC Initial → ClientHello (RFC 9000 §17.2.2, RFC 9001 §5, RFC 9369 for v2).
 * The worker's struct fp_quic_ctx holds OpenSSL objects fetched once at init and a
 * scratch packet buffer; per packet nothing is allocated: the two cipher contexts are
 * re-keyed in place. Keys are derived once per flow (HKDF over the worker's HMAC context;
 * OpenSSL still makes a few small allocations per HMAC key setup) and cached in
 * struct fp_classify_quic_flow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "classify/classify.h"
#include "classify/classify_internal.h"

#define QUIC_SCRATCH 65536 /* largest UDP payload */
#define QUIC_TAG_LEN 16
#define QUIC_SAMPLE_LEN 16
#define QUIC_MIN_CLIENT_DCID 8 /* RFC 9000 §7.2 */

struct fp_quic_ctx {
    EVP_MAC *hmac;
    EVP_MAC_CTX *mac;         /* HMAC-SHA256, the digest set once */
    EVP_CIPHER *ecb;
    EVP_CIPHER *gcm;
    EVP_CIPHER_CTX *hp_ctx;   /* AES-128-ECB, re-keyed per flow */
    EVP_CIPHER_CTX *aead_ctx; /* AES-128-GCM, re-keyed per packet */
    uint8_t pkt[QUIC_SCRATCH]; /* copy of the packet, unprotected and decrypted in place */
};

struct quic_version {
    uint32_t version;
    const uint8_t *salt;
    bool v2;              /* "quicv2 " labels and v2 packet type numbers */
};

static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                    0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
static const uint8_t salt_d29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                     0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};

static const struct quic_version quic_versions[] = {
    {FP_QUIC_V1, salt_v1, false},
    {FP_QUIC_V2, salt_v2, true},
    {0xff00001d, salt_d29, false}, /* draft-29 */
    {0xff00001e, salt_d29, false}, /* draft-30 */
    {0xff00001f, salt_d29, false}, /* draft-31 */
    {0xff000020, salt_d29, false}, /* draft-32 */
};

static const struct quic_version *version_lookup(uint32_t v)
{
    for (size_t i = 0; i < FP_ARRAY_SIZE(quic_versions); i++)
        if (quic_versions[i].version == v)
            return &quic_versions[i];
    return NULL;
}

static bool is_digit(uint8_t ch)
{
    return ch >= '0' && ch <= '9';
}

/* Google QUIC version tags: "Q0xx" (Q024..Q050) and "T0xx" (T050/T051). */
static bool is_gquic_tag(const uint8_t *t)
{
    return (t[0] == 'Q' || t[0] == 'T') && is_digit(t[1]) && is_digit(t[2]) && is_digit(t[3]);
}

static char digest_name[] = "SHA256";

struct fp_quic_ctx *fp_classify_quic_ctx_create(void)
{
    struct fp_quic_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    ctx->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ctx->mac = ctx->hmac ? EVP_MAC_CTX_new(ctx->hmac) : NULL;
    ctx->ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    ctx->gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    ctx->hp_ctx = EVP_CIPHER_CTX_new();
    ctx->aead_ctx = EVP_CIPHER_CTX_new();
    if (ctx->mac == NULL || ctx->ecb == NULL || ctx->gcm == NULL || ctx->hp_ctx == NULL ||
        ctx->aead_ctx == NULL)
        goto fail;
    /* The digest is set once (fetching it by name per derivation costs hundreds of heap
     * allocations). Each cipher context is bound to its cipher once; later inits pass only
     * the key, so the provider context is reused. */
    OSSL_PARAM digest[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(ctx->mac, digest) ||
        !EVP_EncryptInit_ex2(ctx->hp_ctx, ctx->ecb, NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_set_padding(ctx->hp_ctx, 0) ||
        !EVP_DecryptInit_ex2(ctx->aead_ctx, ctx->gcm, NULL, NULL, NULL))
        goto fail;
    return ctx;
fail:
    fp_classify_quic_ctx_destroy(ctx);
    errno = EIO;
    return NULL;
}

void fp_classify_quic_ctx_destroy(struct fp_quic_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_CIPHER_CTX_free(ctx->aead_ctx);
    EVP_CIPHER_CTX_free(ctx->hp_ctx);
    EVP_CIPHER_free(ctx->gcm);
    EVP_CIPHER_free(ctx->ecb);
    EVP_MAC_CTX_free(ctx->mac);
    EVP_MAC_free(ctx->hmac);
    free(ctx);
}

/* HMAC-SHA256(key, m1 || m2) with the worker's MAC context. */
static int hmac_sha256(struct fp_quic_ctx *ctx, const uint8_t *key, size_t key_len,
                       const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2,
                       uint8_t out[32])
{
    size_t n = 0;

    if (!EVP_MAC_init(ctx->mac, key, key_len, NULL) || !EVP_MAC_update(ctx->mac, m1, l1) ||
        (l2 && !EVP_MAC_update(ctx->mac, m2, l2)) || !EVP_MAC_final(ctx->mac, out, &n, 32) ||
        n != 32)
        return -EIO;
    return 0;
}

/* HKDF-Extract (RFC 5869 §2.2): PRK = HMAC(salt, IKM). */
static int hkdf_extract(struct fp_quic_ctx *ctx, const uint8_t *salt, const uint8_t *ikm,
                        size_t ikm_len, uint8_t out[32])
{
    return hmac_sha256(ctx, salt, 20, ikm, ikm_len, NULL, 0, out);
}

/*
 * HKDF-Expand-Label(secret, label, "", len) of TLS 1.3 (RFC 8446 §7.1), len ≤ 32: HKDF-Expand
 * (RFC 5869 §2.3) then needs one block, T(1) = HMAC(secret, HkdfLabel || 0x01).
 */
static int hkdf_expand_label(struct fp_quic_ctx *ctx, const uint8_t secret[32],
                             const char *label, uint8_t *out, size_t len)
{
    static const char prefix[] = "tls13 ";
    static const uint8_t one = 1;
    uint8_t info[2 + 1 + 32 + 1], t[32];
    size_t llen = strlen(label), n = 0;

    info[n++] = (uint8_t)(len >> 8);
    info[n++] = (uint8_t)len;
    info[n++] = (uint8_t)(sizeof(prefix) - 1 + llen);
    memcpy(info + n, prefix, sizeof(prefix) - 1);
    n += sizeof(prefix) - 1;
    memcpy(info + n, label, llen);
    n += llen;
    info[n++] = 0; /* empty context */
    if (hmac_sha256(ctx, secret, 32, info, n, &one, 1, t) != 0)
        return -EIO;
    memcpy(out, t, len);
    return 0;
}

int fp_classify_quic_keys_derive(struct fp_quic_ctx *ctx, uint32_t version,
                                 const uint8_t *dcid, size_t dcid_len,
                                 struct fp_classify_quic_keys *out)
{
    const struct quic_version *v = version_lookup(version);
    uint8_t initial[32];

    if (v == NULL)
        return -ENOTSUP;
    if (dcid_len > FP_QUIC_DCID_MAX)
        return -EINVAL;
    if (hkdf_extract(ctx, v->salt, dcid, dcid_len, initial) != 0 ||
        hkdf_expand_label(ctx, initial, "client in", out->secret, 32) != 0 ||
        hkdf_expand_label(ctx, out->secret, v->v2 ? "quicv2 key" : "quic key", out->key, 16) ||
        hkdf_expand_label(ctx, out->secret, v->v2 ? "quicv2 iv" : "quic iv", out->iv, 12) ||
        hkdf_expand_label(ctx, out->secret, v->v2 ? "quicv2 hp" : "quic hp", out->hp, 16))
        return -EIO;
    return 0;
}

void fp_classify_quic_flow_init(struct fp_classify_quic_flow *f, uint8_t *buf, uint32_t cap)
{
    memset(f, 0, sizeof(*f));
    fp_classify_reasm_init(&f->crypto, buf, cap);
    f->largest_pn = -1;
}

/* RFC 9000 Appendix A.3. */
static uint64_t pn_decode(int64_t largest, uint64_t truncated, unsigned nbits)
{
    uint64_t expected = (uint64_t)(largest + 1);
    uint64_t win = (uint64_t)1 << nbits, hwin = win / 2, mask = win - 1;
    uint64_t candidate = (expected & ~mask) | truncated;

    if (candidate + hwin <= expected && candidate < ((uint64_t)1 << 62) - win)
        return candidate + win;
    if (candidate > expected + hwin && candidate >= win)
        return candidate - win;
    return candidate;
}

/* Walk the frames of a decrypted Initial payload, feeding CRYPTO data to the stream. */
static enum fp_classify_result quic_frames(struct fp_classify_quic_flow *f, const uint8_t *pt,
                                           size_t len)
{
    struct cur c = cur_make(pt, len);

    while (cur_left(&c) > 0) {
        uint64_t type, a, b, n;

        if (!cur_varint(&c, &type))
            return FP_CLASSIFY_MALFORMED;
        switch (type) {
        case 0x00: /* PADDING: skip the run */
            while (cur_left(&c) > 0 && c.p[0] == 0)
                c.p++;
            break;
        case 0x01: /* PING */
            break;
        case 0x02: /* ACK */
        case 0x03: /* ACK with ECN counts */
            if (!cur_varint(&c, &a) || !cur_varint(&c, &b) || !cur_varint(&c, &n) ||
                !cur_varint(&c, &a))
                return FP_CLASSIFY_MALFORMED;
            /* Each range consumes ≥ 2 bytes, so a lying count ends at the buffer end. */
            for (uint64_t i = 0; i < n; i++)
                if (!cur_varint(&c, &a) || !cur_varint(&c, &b))
                    return FP_CLASSIFY_MALFORMED;
            if (type == 0x03 &&
                (!cur_varint(&c, &a) || !cur_varint(&c, &a) || !cur_varint(&c, &a)))
                return FP_CLASSIFY_MALFORMED;
            break;
        case 0x06: { /* CRYPTO */
            struct cur data;
            if (!cur_varint(&c, &a) || !cur_varint(&c, &b) || b > cur_left(&c) ||
                !cur_sub(&c, (size_t)b, &data))
                return FP_CLASSIFY_MALFORMED;
            (void)fp_classify_reasm_add(&f->crypto, a, data.p, (size_t)b); /* counted there */
            break;
        }
        case 0x1c: /* CONNECTION_CLOSE (transport) */
            if (!cur_varint(&c, &a) || !cur_varint(&c, &a) || !cur_varint(&c, &b) ||
                b > cur_left(&c) || !cur_skip(&c, (size_t)b))
                return FP_CLASSIFY_MALFORMED;
            break;
        default: /* not allowed in an Initial packet (RFC 9000 §12.4) */
            return FP_CLASSIFY_MALFORMED;
        }
    }
    return FP_CLASSIFY_OK;
}

/* Unprotect and decrypt one long-header packet at p; *consumed = its length. */
static enum fp_classify_result quic_packet(struct fp_quic_ctx *ctx,
                                           struct fp_classify_quic_flow *f, const uint8_t *p,
                                           size_t left, size_t *consumed)
{
    struct cur c = cur_make(p, left);
    uint8_t b0, dcid_len, scid_len;
    uint32_t version;
    uint64_t token_len, length;
    const uint8_t *dcid;

    if (!cur_u8(&c, &b0) || !cur_u32(&c, &version))
        return FP_CLASSIFY_TRUNCATED;
    if (version == 0)
        return FP_CLASSIFY_NOT_INITIAL; /* Version Negotiation */
    const struct quic_version *v = version_lookup(version);
    if (v == NULL) {
        uint8_t tag[4] = {(uint8_t)(version >> 24), (uint8_t)(version >> 16),
                          (uint8_t)(version >> 8), (uint8_t)version};
        return is_gquic_tag(tag) ? FP_CLASSIFY_GQUIC : FP_CLASSIFY_UNSUPPORTED;
    }
    if (((b0 >> 4) & 3) != (v->v2 ? 1 : 0))
        return FP_CLASSIFY_NOT_INITIAL;
    if (!cur_u8(&c, &dcid_len))
        return FP_CLASSIFY_TRUNCATED;
    if (dcid_len > FP_QUIC_DCID_MAX)
        return FP_CLASSIFY_MALFORMED;
    dcid = c.p;
    if (!cur_skip(&c, dcid_len) || !cur_u8(&c, &scid_len))
        return FP_CLASSIFY_TRUNCATED;
    if (scid_len > FP_QUIC_DCID_MAX)
        return FP_CLASSIFY_MALFORMED;
    if (!cur_skip(&c, scid_len) || !cur_varint(&c, &token_len))
        return FP_CLASSIFY_TRUNCATED;
    if (token_len > cur_left(&c))
        return FP_CLASSIFY_BAD_LENGTH;
    c.p += token_len;
    if (!cur_varint(&c, &length))
        return FP_CLASSIFY_TRUNCATED;
    if (length > cur_left(&c))
        return FP_CLASSIFY_BAD_LENGTH;
    /* Room for a 4-byte PN window and the sample, plus at least one payload byte. */
    if (length < 4 + QUIC_SAMPLE_LEN + 1)
        return FP_CLASSIFY_MALFORMED;
    size_t pn_off = (size_t)(c.p - p);
    size_t pkt_len = pn_off + (size_t)length;
    *consumed = pkt_len;
    if (pkt_len > sizeof(ctx->pkt))
        return FP_CLASSIFY_BAD_LENGTH;

    /* Keys: cached per flow; a new DCID (after Retry) or version derives new ones, which
     * are committed only if the packet authenticates. */
    struct fp_classify_quic_keys fresh;
    const struct fp_classify_quic_keys *k = &f->keys;
    bool is_new = !f->keys_valid || f->version != version || f->dcid_len != dcid_len ||
                  memcmp(f->dcid, dcid, dcid_len) != 0;
    if (is_new) {
        if (dcid_len < QUIC_MIN_CLIENT_DCID)
            return FP_CLASSIFY_MALFORMED; /* not a client's first Initial */
        if (fp_classify_quic_keys_derive(ctx, version, dcid, dcid_len, &fresh) != 0)
            return FP_CLASSIFY_CRYPTO_ERROR;
        k = &fresh;
    }

    uint8_t *pkt = ctx->pkt;
    uint8_t mask[16];
    int n = 0;

    memcpy(pkt, p, pkt_len);
    if (!EVP_EncryptInit_ex2(ctx->hp_ctx, NULL, k->hp, NULL, NULL) ||
        !EVP_EncryptUpdate(ctx->hp_ctx, mask, &n, pkt + pn_off + 4, QUIC_SAMPLE_LEN) ||
        n != QUIC_SAMPLE_LEN)
        return FP_CLASSIFY_CRYPTO_ERROR;
    pkt[0] ^= mask[0] & 0x0f;
    unsigned pn_len = (pkt[0] & 3) + 1u;
    uint64_t truncated = 0;
    for (unsigned i = 0; i < pn_len; i++) {
        pkt[pn_off + i] ^= mask[1 + i];
        truncated = truncated << 8 | pkt[pn_off + i];
    }
    uint64_t pn = pn_decode(is_new ? -1 : f->largest_pn, truncated, pn_len * 8);

    uint8_t nonce[12];
    memcpy(nonce, k->iv, sizeof(nonce));
    for (unsigned i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    size_t hdr_len = pn_off + pn_len;
    size_t ct_len = (size_t)length - pn_len - QUIC_TAG_LEN;
    uint8_t *ct = pkt + hdr_len;
    int outl = 0, finl = 0;

    if (!EVP_DecryptInit_ex2(ctx->aead_ctx, NULL, k->key, nonce, NULL) ||
        !EVP_DecryptUpdate(ctx->aead_ctx, NULL, &outl, pkt, (int)hdr_len) ||
        !EVP_DecryptUpdate(ctx->aead_ctx, ct, &outl, ct, (int)ct_len) ||
        !EVP_CIPHER_CTX_ctrl(ctx->aead_ctx, EVP_CTRL_AEAD_SET_TAG, QUIC_TAG_LEN, ct + ct_len))
        return FP_CLASSIFY_CRYPTO_ERROR;
    if (EVP_DecryptFinal_ex(ctx->aead_ctx, ct + outl, &finl) <= 0) {
        f->n_decrypt_fail++;
        return FP_CLASSIFY_DECRYPT_FAIL;
    }
    if (is_new) {
        f->keys = fresh;
        f->keys_valid = true;
        f->version = version;
        f->dcid_len = dcid_len;
        memcpy(f->dcid, dcid, dcid_len);
        f->largest_pn = -1;
    }
    if ((int64_t)pn > f->largest_pn)
        f->largest_pn = (int64_t)pn;
    f->n_initials++;
    return quic_frames(f, ct, ct_len);
}

enum fp_classify_result fp_classify_quic_parse(struct fp_quic_ctx *ctx,
                                               struct fp_classify_quic_flow *f,
                                               const uint8_t *p, size_t len,
                                               struct fp_classify_tls *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 1)
        return FP_CLASSIFY_NOT_PROTO;
    if (!(p[0] & 0x80)) {
        /* gQUIC public header: flag 0x01 = version present, 0x08 = 8-byte connection ID. */
        size_t tag_off = (p[0] & 0x08) ? 9 : 1;
        if ((p[0] & 0x01) && len >= tag_off + 4 && is_gquic_tag(p + tag_off))
            return FP_CLASSIFY_GQUIC;
        return FP_CLASSIFY_NOT_INITIAL; /* short header */
    }

    /* Coalesced packets: the Initial comes first; stop at the first other packet. */
    size_t pos = 0;
    bool first = true;
    while (pos < len && (p[pos] & 0x80)) {
        size_t consumed = 0;
        enum fp_classify_result r = quic_packet(ctx, f, p + pos, len - pos, &consumed);
        if (r != FP_CLASSIFY_OK) {
            if (first)
                return r;
            break;
        }
        first = false;
        pos += consumed;
    }

    const struct fp_classify_reasm *s = &f->crypto;
    if (s->contig < 4)
        return FP_CLASSIFY_NEED_MORE;
    if (s->buf[0] != 1)
        return FP_CLASSIFY_MALFORMED; /* a client's Initial CRYPTO stream is a ClientHello */
    size_t need = 4 + ((size_t)s->buf[1] << 16 | (size_t)s->buf[2] << 8 | s->buf[3]);
    if (need > s->cap)
        return FP_CLASSIFY_OVERFLOW;
    if (s->contig < need)
        return FP_CLASSIFY_NEED_MORE;
    return fp_classify_tls_hello_parse(s->buf, s->contig, out);
}
