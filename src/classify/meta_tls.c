/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * TLS ClientHello / ServerHello metadata (RFC 8446 §4.1.2-4.1.3, RFC 6066 §3 server_name,
 * RFC 7301 ALPN, supported_versions, ECH). Worker context; no allocation.
 */
#include <string.h>

#include "classify/classify.h"
#include "classify/classify_internal.h"

#define TLS_CT_HANDSHAKE 22
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_SERVER_HELLO 2
#define TLS_RECORD_MAX (16384 + 2048) /* TLSCiphertext limit; plaintext is ≤ 16384 */

#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43
#define EXT_QUIC_TP 57
#define EXT_QUIC_TP_DRAFT 0xffa5
#define EXT_ECH 0xfe0d

/* RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ..., 0xfafa. */
static bool is_grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static enum fp_classify_result ext_server_name(struct cur e, struct fp_classify_tls *out)
{
    uint16_t list_len;

    if (cur_left(&e) == 0)
        return FP_CLASSIFY_OK; /* ServerHello/EE acknowledgement: empty */
    if (!cur_u16(&e, &list_len) || list_len != cur_left(&e))
        return FP_CLASSIFY_BAD_LENGTH;
    while (cur_left(&e) > 0) {
        uint8_t type;
        uint16_t nlen;
        struct cur name;

        if (!cur_u8(&e, &type) || !cur_u16(&e, &nlen) || !cur_sub(&e, nlen, &name))
            return FP_CLASSIFY_BAD_LENGTH;
        if (type != 0 || out->has_sni || nlen == 0)
            continue;
        if (nlen >= FP_CLASSIFY_NAME_MAX) {
            out->sni_too_long = true;
            continue;
        }
        out->sni_len = (uint16_t)str_store(out->sni, sizeof(out->sni), name.p, nlen, true,
                                           &out->n_replaced);
        out->has_sni = true;
    }
    return FP_CLASSIFY_OK;
}

static enum fp_classify_result ext_alpn(struct cur e, struct fp_classify_tls *out)
{
    uint16_t list_len;
    size_t used = 0;

    if (!cur_u16(&e, &list_len) || list_len != cur_left(&e) || list_len == 0)
        return FP_CLASSIFY_BAD_LENGTH;
    while (cur_left(&e) > 0) {
        uint8_t plen;
        struct cur proto;

        if (!cur_u8(&e, &plen) || !cur_sub(&e, plen, &proto))
            return FP_CLASSIFY_BAD_LENGTH;
        if (plen == 0)
            return FP_CLASSIFY_MALFORMED; /* RFC 7301: ProtocolName<1..2^8-1> */
        if (!out->has_alpn) {
            out->alpn_truncated = plen >= sizeof(out->alpn);
            out->alpn_len = (uint16_t)str_store(out->alpn, sizeof(out->alpn), proto.p, plen,
                                                false, &out->n_replaced);
            out->has_alpn = true;
        }
        /* Append whole entries only; the list stays NUL-terminated. */
        size_t need = plen + (used ? 1u : 0u);
        if (out->alpn_list_truncated || used + need >= sizeof(out->alpn_list)) {
            out->alpn_list_truncated = true;
            continue;
        }
        if (used)
            out->alpn_list[used++] = ',';
        memcpy(out->alpn_list + used, proto.p, plen);
        used += plen;
        out->alpn_list[used] = '\0';
    }
    out->n_replaced = (uint16_t)(out->n_replaced + fp_classify_utf8_sanitize(out->alpn_list, used));
    return FP_CLASSIFY_OK;
}

static enum fp_classify_result ext_supported_versions(struct cur e, struct fp_classify_tls *out)
{
    uint16_t v;

    out->has_supported_versions = true;
    if (out->hs_type == TLS_HS_SERVER_HELLO) {
        if (!cur_u16(&e, &v) || cur_left(&e) != 0)
            return FP_CLASSIFY_BAD_LENGTH;
        out->version = v;
        return FP_CLASSIFY_OK;
    }
    uint8_t n;
    if (!cur_u8(&e, &n) || n != cur_left(&e) || n == 0 || (n & 1))
        return FP_CLASSIFY_BAD_LENGTH;
    uint16_t best = 0;
    while (cur_u16(&e, &v))
        if (!is_grease(v) && v > best)
            best = v;
    if (best)
        out->version = best;
    return FP_CLASSIFY_OK;
}

enum fp_classify_result fp_classify_tls_hello_parse(const uint8_t *hs, size_t len,
                                                    struct fp_classify_tls *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 1)
        return FP_CLASSIFY_NEED_MORE;
    if (hs[0] != TLS_HS_CLIENT_HELLO && hs[0] != TLS_HS_SERVER_HELLO)
        return FP_CLASSIFY_NOT_PROTO;
    if (len < 4)
        return FP_CLASSIFY_NEED_MORE;
    uint32_t body_len = (uint32_t)hs[1] << 16 | (uint32_t)hs[2] << 8 | hs[3];
    if (len - 4 < body_len)
        return FP_CLASSIFY_NEED_MORE;

    /* From here on the whole message is present: any overrun means a length lies. */
    struct cur c = cur_make(hs + 4, body_len);
    uint8_t sid_len;

    out->hs_type = hs[0];
    if (!cur_u16(&c, &out->legacy_version) || !cur_skip(&c, 32))
        return FP_CLASSIFY_BAD_LENGTH;
    if ((out->legacy_version >> 8) != 3)
        return FP_CLASSIFY_NOT_PROTO;
    out->version = out->legacy_version;
    if (!cur_u8(&c, &sid_len))
        return FP_CLASSIFY_BAD_LENGTH;
    if (sid_len > 32)
        return FP_CLASSIFY_MALFORMED;
    if (!cur_skip(&c, sid_len))
        return FP_CLASSIFY_BAD_LENGTH;
    if (out->hs_type == TLS_HS_CLIENT_HELLO) {
        uint16_t cs_len;
        uint8_t comp_len;
        if (!cur_u16(&c, &cs_len))
            return FP_CLASSIFY_BAD_LENGTH;
        if (cs_len == 0 || (cs_len & 1))
            return FP_CLASSIFY_MALFORMED;
        if (!cur_skip(&c, cs_len) || !cur_u8(&c, &comp_len))
            return FP_CLASSIFY_BAD_LENGTH;
        if (comp_len == 0)
            return FP_CLASSIFY_MALFORMED;
        if (!cur_skip(&c, comp_len))
            return FP_CLASSIFY_BAD_LENGTH;
    } else {
        if (!cur_u16(&c, &out->cipher_suite) || !cur_skip(&c, 1))
            return FP_CLASSIFY_BAD_LENGTH;
    }
    if (cur_left(&c) == 0)
        return FP_CLASSIFY_OK; /* no extensions (pre-TLS 1.2 style) */

    uint16_t ext_len;
    if (!cur_u16(&c, &ext_len) || ext_len != cur_left(&c))
        return FP_CLASSIFY_BAD_LENGTH;
    while (cur_left(&c) > 0) {
        uint16_t type, elen;
        struct cur e;
        enum fp_classify_result r = FP_CLASSIFY_OK;

        if (!cur_u16(&c, &type) || !cur_u16(&c, &elen) || !cur_sub(&c, elen, &e))
            return FP_CLASSIFY_BAD_LENGTH;
        out->n_ext++;
        switch (type) {
        case EXT_SERVER_NAME:
            r = ext_server_name(e, out);
            break;
        case EXT_ALPN:
            if (!out->has_alpn)
                r = ext_alpn(e, out);
            break;
        case EXT_SUPPORTED_VERSIONS:
            if (!out->has_supported_versions)
                r = ext_supported_versions(e, out);
            break;
        case EXT_ECH:
            out->has_ech = true;
            break;
        case EXT_QUIC_TP:
        case EXT_QUIC_TP_DRAFT:
            out->has_quic_tp = true;
            break;
        default:
            break;
        }
        if (r != FP_CLASSIFY_OK)
            return r;
    }
    return FP_CLASSIFY_OK;
}

/* Check a record header at p (5 bytes available). @return OK or the reason. */
static enum fp_classify_result record_check(const uint8_t *p, uint16_t *rlen)
{
    if (p[0] != TLS_CT_HANDSHAKE || p[1] != 3 || p[2] > 4)
        return FP_CLASSIFY_NOT_PROTO;
    *rlen = (uint16_t)(p[3] << 8 | p[4]);
    if (*rlen == 0 || *rlen > TLS_RECORD_MAX)
        return FP_CLASSIFY_BAD_LENGTH;
    return FP_CLASSIFY_OK;
}

/* Quick rejection of a record prefix shorter than 5 bytes. */
static enum fp_classify_result record_prefix_check(const uint8_t *p, size_t len)
{
    if (len >= 1 && p[0] != TLS_CT_HANDSHAKE)
        return FP_CLASSIFY_NOT_PROTO;
    if (len >= 2 && p[1] != 3)
        return FP_CLASSIFY_NOT_PROTO;
    if (len >= 3 && p[2] > 4)
        return FP_CLASSIFY_NOT_PROTO;
    return FP_CLASSIFY_NEED_MORE;
}

enum fp_classify_result fp_classify_tls_parse(const uint8_t *p, size_t len,
                                              struct fp_classify_tls *out)
{
    uint16_t rlen;
    enum fp_classify_result r;

    memset(out, 0, sizeof(*out));
    if (len < 5)
        return record_prefix_check(p, len);
    r = record_check(p, &rlen);
    if (r != FP_CLASSIFY_OK)
        return r;
    const uint8_t *frag = p + 5;
    size_t avail = FP_MIN(len - 5, (size_t)rlen);
    if (avail >= 1 && frag[0] != TLS_HS_CLIENT_HELLO && frag[0] != TLS_HS_SERVER_HELLO)
        return FP_CLASSIFY_NOT_PROTO;
    if (avail < 4)
        return FP_CLASSIFY_NEED_MORE; /* includes a header split across records */
    uint32_t hs_len = (uint32_t)frag[1] << 16 | (uint32_t)frag[2] << 8 | frag[3];
    if (4 + (size_t)hs_len > rlen)
        return FP_CLASSIFY_NEED_MORE; /* spans records: use the stream parser */
    return fp_classify_tls_hello_parse(frag, avail, out);
}

enum fp_classify_result fp_classify_tls_stream_parse(struct fp_classify_reasm *r,
                                                     struct fp_classify_tls *out)
{
    uint8_t *b = r->buf;
    size_t have = r->contig;
    size_t pos = 0;          /* raw offset of the current record header */
    size_t got = 0;          /* handshake bytes in records before the current one */
    size_t need = 0;         /* 4 + handshake length, once known */
    uint8_t hdr[4];
    unsigned hdr_n = 0;
    unsigned n_rec = 0;

    if (r->frozen) /* joined earlier: the message sits at buf + 5 */
        return fp_classify_tls_hello_parse(b + 5, have - 5, out);
    memset(out, 0, sizeof(*out));
    for (;;) {
        uint16_t rlen;
        enum fp_classify_result rc;

        if (pos + 5 > have) {
            if (pos + 5 > r->cap)
                return FP_CLASSIFY_OVERFLOW;
            rc = record_prefix_check(b + pos, have - pos);
            return (n_rec > 0 && rc == FP_CLASSIFY_NOT_PROTO) ? FP_CLASSIFY_MALFORMED : rc;
        }
        rc = record_check(b + pos, &rlen);
        if (rc != FP_CLASSIFY_OK)
            return (n_rec > 0 && rc == FP_CLASSIFY_NOT_PROTO) ? FP_CLASSIFY_MALFORMED : rc;
        n_rec++;
        size_t avail = FP_MIN(have - (pos + 5), (size_t)rlen);
        for (size_t i = 0; hdr_n < 4 && i < avail; i++)
            hdr[hdr_n++] = b[pos + 5 + i];
        if (hdr_n >= 1 && hdr[0] != TLS_HS_CLIENT_HELLO && hdr[0] != TLS_HS_SERVER_HELLO)
            return FP_CLASSIFY_NOT_PROTO;
        if (hdr_n == 4 && need == 0)
            need = 4 + ((size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3]);
        if (need != 0 && got + rlen >= need) {
            size_t raw_end = pos + 5 + (need - got);
            if (raw_end > r->cap)
                return FP_CLASSIFY_OVERFLOW;
            if (raw_end > have)
                return FP_CLASSIFY_NEED_MORE;
            if (n_rec == 1)
                return fp_classify_tls_hello_parse(b + 5, need, out);
            break; /* complete across records: join below */
        }
        if (avail < rlen) {
            if (pos + 5 + rlen > r->cap)
                return FP_CLASSIFY_OVERFLOW;
            return FP_CLASSIFY_NEED_MORE;
        }
        got += rlen;
        pos += 5 + (size_t)rlen;
    }

    /* Join the fragments in place: the message starts right after the first header. */
    size_t dst = 5, src = 0, done = 0;
    while (done < need) {
        uint16_t rlen = (uint16_t)(b[src + 3] << 8 | b[src + 4]);
        size_t take = FP_MIN((size_t)rlen, need - done);
        if (dst != src + 5)
            memmove(b + dst, b + src + 5, take);
        dst += take;
        done += take;
        src += 5 + (size_t)rlen;
    }
    r->frozen = true;
    r->contig = (uint32_t)(5 + need);
    return fp_classify_tls_hello_parse(b + 5, need, out);
}
