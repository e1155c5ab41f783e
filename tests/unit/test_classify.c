/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/classify/ metadata extractors: messages are built byte by byte here,
 * truncated at every offset and given lying lengths; RFC 9001/9369 vectors; real captures
 * from ../shared/pcaps (skipped with a message when absent).
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "classify/classify.h"
#include "common/fp_compiler.h"
#include "tests/unit/fp_test.h"

#define PCAP_DIR "../shared/pcaps/"

/* ---------------------------------------------------------------------------------- */
/* Byte builder                                                                       */
/* ---------------------------------------------------------------------------------- */

struct bb {
    uint8_t b[16384];
    size_t n;
};

static void put8(struct bb *b, unsigned v)
{
    b->b[b->n++] = (uint8_t)v;
}

static void put16(struct bb *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void putn(struct bb *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void puts_(struct bb *b, const char *s)
{
    putn(b, s, strlen(s));
}

/* Reserve a 1/2/3-byte length field; close() writes the bytes written since. */
static size_t open_len(struct bb *b, unsigned width)
{
    size_t at = b->n;
    for (unsigned i = 0; i < width; i++)
        put8(b, 0);
    return at;
}

static void close_len(struct bb *b, size_t at, unsigned width)
{
    size_t len = b->n - at - width;
    for (unsigned i = 0; i < width; i++)
        b->b[at + i] = (uint8_t)(len >> (8 * (width - 1 - i)));
}

static size_t hex2bin(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap)
                out[n] = (uint8_t)(hi << 4 | v);
            n++;
            hi = -1;
        }
    }
    return n;
}

/* ---------------------------------------------------------------------------------- */
/* TLS builders                                                                       */
/* ---------------------------------------------------------------------------------- */

struct hello_opts {
    const char *sni;           /* NULL: no server_name */
    size_t sni_len;            /* 0: strlen(sni) */
    const char *const *alpn;   /* NULL-terminated list, or NULL */
    const uint16_t *versions;  /* supported_versions, 0-terminated, or NULL */
    bool ech;
    bool quic_tp;
    size_t pad;                /* padding extension (21) of this many bytes */
};

/* ClientHello handshake message (type 1, no record header). */
static void build_client_hello(struct bb *b, const struct hello_opts *o)
{
    put8(b, 1);
    size_t hs = open_len(b, 3);
    put16(b, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(b, i);
    put8(b, 32); /* session id */
    for (int i = 0; i < 32; i++)
        put8(b, 0xa0 + i);
    put16(b, 6); /* cipher suites */
    put16(b, 0x1301);
    put16(b, 0x1302);
    put16(b, 0xc02f);
    put8(b, 1); /* compression */
    put8(b, 0);
    size_t exts = open_len(b, 2);
    put16(b, 0x0a0a); /* GREASE extension */
    put16(b, 0);
    if (o->sni) {
        size_t nl = o->sni_len ? o->sni_len : strlen(o->sni);
        put16(b, 0);
        size_t e = open_len(b, 2);
        size_t l = open_len(b, 2);
        put8(b, 0);
        put16(b, (unsigned)nl);
        putn(b, o->sni, nl);
        close_len(b, l, 2);
        close_len(b, e, 2);
    }
    put16(b, 10); /* supported_groups */
    put16(b, 4);
    put16(b, 2);
    put16(b, 0x001d);
    if (o->alpn) {
        put16(b, 16);
        size_t e = open_len(b, 2);
        size_t l = open_len(b, 2);
        for (const char *const *a = o->alpn; *a; a++) {
            put8(b, (unsigned)strlen(*a));
            puts_(b, *a);
        }
        close_len(b, l, 2);
        close_len(b, e, 2);
    }
    if (o->versions) {
        put16(b, 43);
        size_t e = open_len(b, 2);
        size_t l = open_len(b, 1);
        for (const uint16_t *v = o->versions; *v; v++)
            put16(b, *v);
        close_len(b, l, 1);
        close_len(b, e, 2);
    }
    if (o->quic_tp) {
        put16(b, 57);
        put16(b, 3);
        put8(b, 0x01); /* max_idle_timeout */
        put8(b, 1);
        put8(b, 30);
    }
    if (o->ech) {
        put16(b, 0xfe0d);
        put16(b, 4);
        put16(b, 0);
        put16(b, 0x0001);
    }
    if (o->pad) {
        put16(b, 21);
        put16(b, (unsigned)o->pad);
        for (size_t i = 0; i < o->pad; i++)
            put8(b, 0);
    }
    close_len(b, exts, 2);
    close_len(b, hs, 3);
}

/* Wrap a handshake message into TLS records of at most frag bytes each. */
static void wrap_records(struct bb *out, const uint8_t *hs, size_t len, size_t frag)
{
    for (size_t off = 0; off < len; off += frag) {
        size_t n = len - off < frag ? len - off : frag;
        put8(out, 22);
        put16(out, 0x0301);
        put16(out, (unsigned)n);
        putn(out, hs + off, n);
    }
}

static const char *const alpn_h2[] = {"h2", "http/1.1", NULL};
static const uint16_t versions_13[] = {0x1a1a, 0x0304, 0x0303, 0};

static void std_hello(struct bb *hs)
{
    struct hello_opts o = {.sni = "WWW.Example.COM", .alpn = alpn_h2,
                           .versions = versions_13, .ech = true};
    hs->n = 0;
    build_client_hello(hs, &o);
}

/* ---------------------------------------------------------------------------------- */
/* UTF-8                                                                              */
/* ---------------------------------------------------------------------------------- */

static size_t san(const char *in, size_t len, char *out)
{
    memcpy(out, in, len);
    out[len] = '\0';
    return fp_classify_utf8_sanitize(out, len);
}

static void test_utf8_sanitize(void)
{
    char s[64];

    CU_ASSERT_EQUAL(san("abc.example", 11, s), 0);
    CU_ASSERT_STRING_EQUAL(s, "abc.example");
    /* é (2 bytes), 日本 (3 bytes each), U+1F600 (4 bytes), U+10FFFF: valid */
    CU_ASSERT_EQUAL(san("\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 16, s),
                    0);
    CU_ASSERT_EQUAL(san("a\xc0\x80z", 4, s), 2); /* overlong NUL */
    CU_ASSERT_STRING_EQUAL(s, "a??z");
    CU_ASSERT_EQUAL(san("\xed\xa0\x80", 3, s), 3); /* surrogate U+D800 */
    CU_ASSERT_STRING_EQUAL(s, "???");
    CU_ASSERT_EQUAL(san("\xf4\x90\x80\x80", 4, s), 4); /* above U+10FFFF */
    CU_ASSERT_EQUAL(san("x\xe6\x97", 3, s), 2);          /* truncated sequence */
    CU_ASSERT_STRING_EQUAL(s, "x??");
    CU_ASSERT_EQUAL(san("a\x01\x7f\x00z", 5, s), 3); /* controls, DEL, NUL */
    CU_ASSERT_STRING_EQUAL(s, "a???z");
    CU_ASSERT_EQUAL(san("\xe0\x9f\xbf", 3, s), 3); /* overlong 3-byte */
    CU_ASSERT_EQUAL(san("\xf0\x8f\xbf\xbf", 4, s), 4); /* overlong 4-byte */
    CU_ASSERT_EQUAL(san("\xff\xfe", 2, s), 2);
    CU_ASSERT_EQUAL(san("\xc3\xa9\x80", 3, s), 1); /* stray continuation byte */
    CU_ASSERT_STRING_EQUAL(s, "\xc3\xa9?");
}

static void test_result_names(void)
{
    for (int i = 0; i < FP_CLASSIFY_RESULT_MAX; i++)
        CU_ASSERT_PTR_NOT_NULL(fp_classify_result_names[i]);
    CU_ASSERT_STRING_EQUAL(fp_classify_result_names[FP_CLASSIFY_DECRYPT_FAIL], "decrypt_fail");
}

/* ---------------------------------------------------------------------------------- */
/* Reassembly                                                                         */
/* ---------------------------------------------------------------------------------- */

static void test_reasm_basic(void)
{
    uint8_t buf[64];
    struct fp_classify_reasm r;
    const uint8_t data[] = "0123456789abcdefghij";

    fp_classify_reasm_init(&r, buf, sizeof(buf));
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 10, data + 10, 5), 0);
    CU_ASSERT_EQUAL(r.contig, 0);
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 0, data, 4), 0);
    CU_ASSERT_EQUAL(r.contig, 4);
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 3, data + 3, 8), 0); /* overlaps both */
    CU_ASSERT_EQUAL(r.contig, 15);
    CU_ASSERT_EQUAL(r.n_ranges, 0);
    CU_ASSERT_EQUAL(memcmp(buf, data, 15), 0);
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 2, data + 2, 3), 0); /* duplicate */
    CU_ASSERT_EQUAL(r.contig, 15);
    /* Beyond cap: clipped and counted. */
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 60, data, 10), -ENOSPC);
    CU_ASSERT_EQUAL(r.n_overflow, 1);
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 1000, data, 1), -ENOSPC);
    CU_ASSERT_EQUAL(r.n_overflow, 2);
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, (uint64_t)1 << 40, data, 1), -ENOSPC);
    /* Filling the hole [15, 60) absorbs the clipped tail [60, 64). */
    uint8_t fill[45];
    memset(fill, 'x', sizeof(fill));
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 15, fill, sizeof(fill)), 0);
    CU_ASSERT_EQUAL(r.contig, 64);
}

static void test_reasm_ranges_full(void)
{
    uint8_t buf[256];
    struct fp_classify_reasm r;
    uint8_t d[2] = {7, 7};

    fp_classify_reasm_init(&r, buf, sizeof(buf));
    for (unsigned i = 0; i < FP_CLASSIFY_REASM_RANGES; i++)
        CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 2 + 2 * i, d, 1), 0);
    CU_ASSERT_EQUAL(r.n_ranges, FP_CLASSIFY_REASM_RANGES);
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 200, d, 1), -ENOBUFS);
    CU_ASSERT_EQUAL(r.n_no_range, 1);
    /* Adjacent piece merges into an existing range: no new slot needed. */
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 3, d, 1), 0);
    CU_ASSERT_EQUAL(fp_classify_reasm_add(&r, 0, d, 2), 0);
    CU_ASSERT_EQUAL(r.contig, 5); /* [0,2) + merged [2,5); [6,7) still apart */
}

static void test_reasm_tcp(void)
{
    uint8_t buf[64];
    struct fp_classify_reasm r;

    fp_classify_reasm_init(&r, buf, sizeof(buf));
    CU_ASSERT_EQUAL(fp_classify_reasm_tcp_add(&r, 0xfffffffe, (const uint8_t *)"abcd", 4), 0);
    CU_ASSERT_EQUAL(fp_classify_reasm_tcp_add(&r, 2, (const uint8_t *)"efgh", 4), 0); /* wraps */
    CU_ASSERT_EQUAL(r.contig, 8);
    CU_ASSERT_EQUAL(memcmp(buf, "abcdefgh", 8), 0);
    /* Retransmission starting before base: only the new tail counts. */
    CU_ASSERT_EQUAL(
        fp_classify_reasm_tcp_add(&r, 0xfffffffd, (const uint8_t *)"Zabcdefghij", 11), 0);
    CU_ASSERT_EQUAL(r.contig, 10);
    CU_ASSERT_EQUAL(memcmp(buf, "abcdefghij", 10), 0);
    r.frozen = true;
    CU_ASSERT_EQUAL(fp_classify_reasm_tcp_add(&r, 8, (const uint8_t *)"x", 1), -EPERM);
}

/* ---------------------------------------------------------------------------------- */
/* TLS                                                                                */
/* ---------------------------------------------------------------------------------- */

static void test_tls_client_hello(void)
{
    static struct bb hs, rec;
    struct fp_classify_tls t;

    std_hello(&hs);
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 16384);
    CU_ASSERT_EQUAL_FATAL(fp_classify_tls_parse(rec.b, rec.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(t.hs_type, 1);
    CU_ASSERT(t.has_sni);
    CU_ASSERT_STRING_EQUAL(t.sni, "www.example.com");
    CU_ASSERT_EQUAL(t.sni_len, 15);
    CU_ASSERT(t.has_alpn);
    CU_ASSERT_STRING_EQUAL(t.alpn, "h2");
    CU_ASSERT_STRING_EQUAL(t.alpn_list, "h2,http/1.1");
    CU_ASSERT_EQUAL(t.legacy_version, 0x0303);
    CU_ASSERT_EQUAL(t.version, 0x0304); /* GREASE 0x1a1a ignored */
    CU_ASSERT(t.has_supported_versions);
    CU_ASSERT(t.has_ech);
    CU_ASSERT(!t.has_quic_tp);
    CU_ASSERT_EQUAL(t.n_ext, 6);
    CU_ASSERT_EQUAL(t.n_replaced, 0);

    /* The same message without record header. */
    CU_ASSERT_EQUAL(fp_classify_tls_hello_parse(hs.b, hs.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "www.example.com");

    /* No extensions at all: version = legacy_version. */
    static const uint8_t bare[] = {1, 0, 0, 41, 3, 1, [6 ... 37] = 0x11, 0, 0, 2, 0, 0x2f, 1, 0};
    CU_ASSERT_EQUAL(fp_classify_tls_hello_parse(bare, sizeof(bare), &t), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(t.version, 0x0301);
    CU_ASSERT(!t.has_sni);
}

static void test_tls_truncated_every_offset(void)
{
    static struct bb hs, rec;
    struct fp_classify_tls t;

    std_hello(&hs);
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 16384);
    for (size_t k = 0; k < rec.n; k++) {
        enum fp_classify_result r = fp_classify_tls_parse(rec.b, k, &t);
        if (r != FP_CLASSIFY_NEED_MORE) {
            CU_FAIL("truncated record not NEED_MORE");
            printf("offset %zu: %s\n", k, fp_classify_result_names[r]);
            break;
        }
    }
    for (size_t k = 0; k < hs.n; k++)
        if (fp_classify_tls_hello_parse(hs.b, k, &t) != FP_CLASSIFY_NEED_MORE) {
            CU_FAIL("truncated handshake not NEED_MORE");
            break;
        }
    /* Handshake length shrunk to every smaller value: the body runs short → never OK. */
    for (uint32_t l = 0; l + 4 < hs.n; l++) {
        static struct bb cut;
        memcpy(cut.b, hs.b, hs.n);
        cut.b[1] = (uint8_t)(l >> 16);
        cut.b[2] = (uint8_t)(l >> 8);
        cut.b[3] = (uint8_t)l;
        enum fp_classify_result r = fp_classify_tls_hello_parse(cut.b, hs.n, &t);
        if (l == 2 + 32 + 1 + 32 + 2 + 6 + 1 + 1) {
            CU_ASSERT_EQUAL(r, FP_CLASSIFY_OK); /* ends before the extensions: valid */
            continue;
        }
        if (r == FP_CLASSIFY_OK || r == FP_CLASSIFY_NEED_MORE) {
            CU_FAIL("short handshake length accepted");
            printf("len %u: %s\n", l, fp_classify_result_names[r]);
            break;
        }
    }
}

/* Find the offset of a 16-bit extension type inside a ClientHello built by std_hello. */
static size_t find_ext(const struct bb *hs, uint16_t type)
{
    size_t off = 4 + 2 + 32 + 1 + 32 + 2 + 6 + 1 + 1 + 2; /* first extension */
    while (off + 4 <= hs->n) {
        uint16_t t = (uint16_t)(hs->b[off] << 8 | hs->b[off + 1]);
        uint16_t l = (uint16_t)(hs->b[off + 2] << 8 | hs->b[off + 3]);
        if (t == type)
            return off;
        off += 4u + l;
    }
    return 0;
}

static enum fp_classify_result parse_mutated(const struct bb *hs, size_t at, uint8_t v)
{
    static struct bb m;
    struct fp_classify_tls t;
    memcpy(m.b, hs->b, hs->n);
    m.b[at] = v;
    return fp_classify_tls_hello_parse(m.b, hs->n, &t);
}

static void test_tls_lying_lengths(void)
{
    static struct bb hs;
    std_hello(&hs);
    size_t ext_block = 4 + 2 + 32 + 1 + 32 + 2 + 6 + 1 + 1; /* extensions length field */
    uint16_t el = (uint16_t)(hs.b[ext_block] << 8 | hs.b[ext_block + 1]);
    size_t sni = find_ext(&hs, 0), alpn = find_ext(&hs, 16), sv = find_ext(&hs, 43);

    CU_ASSERT_FATAL(sni && alpn && sv);
    CU_ASSERT_EQUAL(parse_mutated(&hs, ext_block + 1, (uint8_t)(el + 1)), FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, ext_block + 1, (uint8_t)(el - 1)), FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, 4 + 2 + 32, 33), FP_CLASSIFY_MALFORMED); /* session id */
    CU_ASSERT_EQUAL(parse_mutated(&hs, 4 + 2 + 32, 200), FP_CLASSIFY_MALFORMED);
    /* cipher_suites length odd */
    CU_ASSERT_EQUAL(parse_mutated(&hs, 4 + 2 + 32 + 1 + 32 + 1, 7), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(parse_mutated(&hs, 4 + 2 + 32 + 1 + 32 + 1, 0xf0), FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, 4 + 2 + 32 + 1 + 32 + 2 + 6, 0), FP_CLASSIFY_MALFORMED);
    /* server_name: extension length, list length, name length each one too long */
    CU_ASSERT_EQUAL(parse_mutated(&hs, sni + 3, (uint8_t)(hs.b[sni + 3] + 1)),
                    FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, sni + 5, (uint8_t)(hs.b[sni + 5] + 1)),
                    FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, sni + 8, (uint8_t)(hs.b[sni + 8] + 1)),
                    FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, sni + 7, 0xff), FP_CLASSIFY_BAD_LENGTH);
    /* ALPN: list length, protocol length 0 and too long */
    CU_ASSERT_EQUAL(parse_mutated(&hs, alpn + 5, (uint8_t)(hs.b[alpn + 5] - 1)),
                    FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, alpn + 6, 0), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(parse_mutated(&hs, alpn + 6, 50), FP_CLASSIFY_BAD_LENGTH);
    /* supported_versions: odd and lying list length */
    CU_ASSERT_EQUAL(parse_mutated(&hs, sv + 4, 5), FP_CLASSIFY_BAD_LENGTH);
    CU_ASSERT_EQUAL(parse_mutated(&hs, sv + 4, 8), FP_CLASSIFY_BAD_LENGTH);
    /* Not a ClientHello / not TLS 1.x */
    CU_ASSERT_EQUAL(parse_mutated(&hs, 0, 11), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(parse_mutated(&hs, 4, 0xfe), FP_CLASSIFY_NOT_PROTO);

    /* Every byte set to 0x00, 0xff and +1: never a crash; on OK strings stay bounded. */
    for (size_t i = 0; i < hs.n; i++) {
        const uint8_t vals[3] = {0, 0xff, (uint8_t)(hs.b[i] + 1)};
        for (int v = 0; v < 3; v++) {
            static struct bb m;
            struct fp_classify_tls t;
            memcpy(m.b, hs.b, hs.n);
            m.b[i] = vals[v];
            if (fp_classify_tls_hello_parse(m.b, hs.n, &t) == FP_CLASSIFY_OK) {
                CU_ASSERT(strlen(t.sni) == t.sni_len && t.sni_len < FP_CLASSIFY_NAME_MAX);
                CU_ASSERT(strlen(t.alpn) < FP_CLASSIFY_ALPN_MAX);
            }
        }
    }
}

static void test_tls_record_checks(void)
{
    static struct bb hs, rec;
    struct fp_classify_tls t;
    std_hello(&hs);
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 16384);

    static const uint8_t appdata[] = {23, 3, 3, 0, 5, 1, 2, 3, 4, 5};
    CU_ASSERT_EQUAL(fp_classify_tls_parse(appdata, sizeof(appdata), &t), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(fp_classify_tls_parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &t),
                    FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(fp_classify_tls_parse((const uint8_t *)"\x16\x02", 2, &t),
                    FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(fp_classify_tls_parse((const uint8_t *)"\x16\x03\x09", 3, &t),
                    FP_CLASSIFY_NOT_PROTO);
    rec.b[3] = 0;
    rec.b[4] = 0; /* zero-length record */
    CU_ASSERT_EQUAL(fp_classify_tls_parse(rec.b, rec.n, &t), FP_CLASSIFY_BAD_LENGTH);
    rec.b[3] = 0x50; /* 20480 > 2^14 + 2048 */
    CU_ASSERT_EQUAL(fp_classify_tls_parse(rec.b, rec.n, &t), FP_CLASSIFY_BAD_LENGTH);
    rec.b[3] = 0;
    rec.b[4] = 3; /* 3-byte record: handshake header continues in the next record */
    CU_ASSERT_EQUAL(fp_classify_tls_parse(rec.b, rec.n, &t), FP_CLASSIFY_NEED_MORE);
    rec.b[5] = 15; /* Finished in the first record: not a hello */
    CU_ASSERT_EQUAL(fp_classify_tls_parse(rec.b, rec.n, &t), FP_CLASSIFY_NOT_PROTO);
}

static void test_tls_sni_edge(void)
{
    static struct bb hs, rec;
    struct fp_classify_tls t;
    char long_name[300];

    memset(long_name, 'a', sizeof(long_name));
    struct hello_opts o = {.sni = long_name, .sni_len = 300};
    build_client_hello(&hs, &o);
    CU_ASSERT_EQUAL(fp_classify_tls_hello_parse(hs.b, hs.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT(!t.has_sni);
    CU_ASSERT(t.sni_too_long);

    /* 255 bytes is the longest kept. */
    hs.n = 0;
    o.sni_len = 255;
    build_client_hello(&hs, &o);
    CU_ASSERT_EQUAL(fp_classify_tls_hello_parse(hs.b, hs.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT(t.has_sni);
    CU_ASSERT_EQUAL(t.sni_len, 255);

    /* Invalid UTF-8 and a control character are replaced. */
    hs.n = 0;
    struct hello_opts o2 = {.sni = "bad\xff.ex\x01mple.com"};
    build_client_hello(&hs, &o2);
    CU_ASSERT_EQUAL(fp_classify_tls_hello_parse(hs.b, hs.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "bad?.ex?mple.com");
    CU_ASSERT_EQUAL(t.n_replaced, 2);

    /* ALPN list longer than its buffer: cut at an entry boundary; long first id cut. */
    static const char *const many[] = {"h2", "0123456789012345678901234567890123456789",
                                       "0123456789012345678901234567890123456789",
                                       "0123456789012345678901234567890123456789", "h3", NULL};
    hs.n = 0;
    struct hello_opts o3 = {.sni = "x.org", .alpn = many, .quic_tp = true, .pad = 100};
    build_client_hello(&hs, &o3);
    CU_ASSERT_EQUAL(fp_classify_tls_hello_parse(hs.b, hs.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.alpn, "h2");
    CU_ASSERT(t.alpn_list_truncated);
    CU_ASSERT(strlen(t.alpn_list) < FP_CLASSIFY_ALPN_LIST_MAX);
    CU_ASSERT_EQUAL(strncmp(t.alpn_list, "h2,0123", 7), 0);
    CU_ASSERT(t.has_quic_tp);
    CU_ASSERT_EQUAL(t.version, 0x0303);

    static const char *const longfirst[] = {
        "0123456789012345678901234567890123456789012345678901234567890123456789", NULL};
    hs.n = 0;
    struct hello_opts o4 = {.alpn = longfirst};
    build_client_hello(&hs, &o4);
    CU_ASSERT_EQUAL(fp_classify_tls_hello_parse(hs.b, hs.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT(t.alpn_truncated);
    CU_ASSERT_EQUAL(t.alpn_len, FP_CLASSIFY_ALPN_MAX - 1);
    rec.n = 0;
    (void)rec;
}

/* Split a record stream into TCP segments and feed them in the given order. */
static enum fp_classify_result feed_segments(const struct bb *rec, size_t seg,
                                             const unsigned *order, unsigned n_seg,
                                             uint8_t *buf, uint32_t cap,
                                             struct fp_classify_tls *t)
{
    struct fp_classify_reasm r;
    enum fp_classify_result res = FP_CLASSIFY_NEED_MORE;
    const uint32_t isn = 0x7ffffff0; /* crosses 2^31 */

    fp_classify_reasm_init(&r, buf, cap);
    r.base_seq = isn;
    r.base_set = true;
    for (unsigned i = 0; i < n_seg; i++) {
        size_t off = (size_t)order[i] * seg;
        size_t n = rec->n - off < seg ? rec->n - off : seg;
        fp_classify_reasm_tcp_add(&r, isn + (uint32_t)off, rec->b + off, n);
        res = fp_classify_tls_stream_parse(&r, t);
        if (i + 1 < n_seg && res != FP_CLASSIFY_NEED_MORE)
            return FP_CLASSIFY_RESULT_MAX; /* finished too early */
    }
    return res;
}

static void test_tls_multi_record_and_segments(void)
{
    static struct bb hs, rec;
    static uint8_t buf[8192];
    struct fp_classify_tls t;
    struct hello_opts o = {.sni = "split.example.net", .alpn = alpn_h2,
                           .versions = versions_13, .pad = 1500};

    build_client_hello(&hs, &o);
    CU_ASSERT(hs.n > 1600);
    /* Records of 100 bytes: the fast path asks for reassembly. */
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 100);
    CU_ASSERT_EQUAL(fp_classify_tls_parse(rec.b, rec.n, &t), FP_CLASSIFY_NEED_MORE);

    /* In-order segments of 333 bytes (record headers split across segments). */
    unsigned n_seg = (unsigned)((rec.n + 332) / 333), order[64];
    for (unsigned i = 0; i < n_seg; i++)
        order[i] = i;
    CU_ASSERT_EQUAL(feed_segments(&rec, 333, order, n_seg, buf, sizeof(buf), &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "split.example.net");
    CU_ASSERT_STRING_EQUAL(t.alpn_list, "h2,http/1.1");
    CU_ASSERT_EQUAL(t.version, 0x0304);

    /* Reverse order: complete only when the first segment arrives. */
    for (unsigned i = 0; i < n_seg; i++)
        order[i] = n_seg - 1 - i;
    memset(&t, 0, sizeof(t));
    CU_ASSERT_EQUAL(feed_segments(&rec, 333, order, n_seg, buf, sizeof(buf), &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "split.example.net");

    /* Every record size from 1 to 40 bytes, 1-byte TCP segments for the smallest. */
    for (size_t frag = 1; frag <= 40; frag++) {
        rec.n = 0;
        wrap_records(&rec, hs.b, hs.n, frag);
        if (rec.n > sizeof(buf))
            continue; /* record headers alone exceed the buffer: tested below */
        n_seg = (unsigned)((rec.n + 499) / 500);
        for (unsigned i = 0; i < n_seg; i++)
            order[i] = i;
        enum fp_classify_result r = feed_segments(&rec, 500, order, n_seg, buf, sizeof(buf), &t);
        if (r != FP_CLASSIFY_OK || strcmp(t.sni, "split.example.net") != 0) {
            CU_FAIL("multi-record reassembly");
            printf("frag %zu: %d\n", frag, r);
        }
    }

    /* Buffer too small for the message: OVERFLOW, counted. */
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 16384);
    struct fp_classify_reasm r;
    fp_classify_reasm_init(&r, buf, 1024);
    fp_classify_reasm_tcp_add(&r, 1, rec.b, rec.n);
    CU_ASSERT_EQUAL(fp_classify_tls_stream_parse(&r, &t), FP_CLASSIFY_OVERFLOW);
    CU_ASSERT_EQUAL(r.n_overflow, 1);
    /* Record headers push a message that alone fits past the cap: OVERFLOW too. */
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 10);
    CU_ASSERT(hs.n < 2000 && rec.n > 2000);
    fp_classify_reasm_init(&r, buf, 2000);
    fp_classify_reasm_tcp_add(&r, 1, rec.b, rec.n);
    CU_ASSERT_EQUAL(fp_classify_tls_stream_parse(&r, &t), FP_CLASSIFY_OVERFLOW);

    /* A non-handshake record in the middle: MALFORMED. */
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 1000);
    rec.b[1005] = 20; /* second record becomes ChangeCipherSpec */
    fp_classify_reasm_init(&r, buf, sizeof(buf));
    fp_classify_reasm_tcp_add(&r, 1, rec.b, rec.n);
    CU_ASSERT_EQUAL(fp_classify_tls_stream_parse(&r, &t), FP_CLASSIFY_MALFORMED);

    /* Stream parse is repeatable after the in-place join. */
    rec.n = 0;
    wrap_records(&rec, hs.b, hs.n, 700);
    fp_classify_reasm_init(&r, buf, sizeof(buf));
    fp_classify_reasm_tcp_add(&r, 1, rec.b, rec.n);
    CU_ASSERT_EQUAL(fp_classify_tls_stream_parse(&r, &t), FP_CLASSIFY_OK);
    CU_ASSERT(r.frozen);
    CU_ASSERT_EQUAL(fp_classify_tls_stream_parse(&r, &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "split.example.net");

    /* Truncated stream at every length: NEED_MORE, never anything else. */
    for (size_t k = 0; k < rec.n; k++) {
        fp_classify_reasm_init(&r, buf, sizeof(buf));
        fp_classify_reasm_tcp_add(&r, 1, rec.b, k);
        enum fp_classify_result res = fp_classify_tls_stream_parse(&r, &t);
        if (res != FP_CLASSIFY_NEED_MORE) {
            CU_FAIL("truncated stream");
            printf("k=%zu %s\n", k, fp_classify_result_names[res]);
            break;
        }
    }
}

static void test_tls_server_hello(void)
{
    static struct bb b;
    struct fp_classify_tls t;

    b.n = 0;
    put8(&b, 22);
    put16(&b, 0x0303);
    size_t rl = open_len(&b, 2);
    put8(&b, 2);
    size_t hl = open_len(&b, 3);
    put16(&b, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(&b, 0x55);
    put8(&b, 0);
    put16(&b, 0x1301);
    put8(&b, 0);
    size_t el = open_len(&b, 2);
    put16(&b, 43);
    put16(&b, 2);
    put16(&b, 0x0304);
    put16(&b, 16);
    put16(&b, 5);
    put16(&b, 3);
    put8(&b, 2);
    puts_(&b, "h2");
    close_len(&b, el, 2);
    close_len(&b, hl, 3);
    close_len(&b, rl, 2);
    CU_ASSERT_EQUAL_FATAL(fp_classify_tls_parse(b.b, b.n, &t), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(t.hs_type, 2);
    CU_ASSERT_EQUAL(t.version, 0x0304);
    CU_ASSERT_EQUAL(t.cipher_suite, 0x1301);
    CU_ASSERT_STRING_EQUAL(t.alpn, "h2");
    CU_ASSERT(!t.has_sni);
    b.b[b.n - 12] = 3; /* supported_versions length 3 in a ServerHello */
    CU_ASSERT_EQUAL(fp_classify_tls_parse(b.b, b.n, &t), FP_CLASSIFY_BAD_LENGTH);
}

/* ---------------------------------------------------------------------------------- */
/* QUIC                                                                               */
/* ---------------------------------------------------------------------------------- */

static const uint8_t rfc_dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};

static struct fp_quic_ctx *g_qctx;

static struct fp_quic_ctx *qctx(void)
{
    if (g_qctx == NULL)
        g_qctx = fp_classify_quic_ctx_create();
    return g_qctx;
}

static void assert_hex(const uint8_t *got, size_t n, const char *hex)
{
    uint8_t want[64];
    CU_ASSERT_FATAL(hex2bin(hex, want, sizeof(want)) == n);
    CU_ASSERT(memcmp(got, want, n) == 0);
}

/* RFC 9001 Appendix A.1 and RFC 9369 Appendix A.1: client Initial keys. */
static void test_quic_initial_keys(void)
{
    struct fp_quic_ctx *ctx = qctx();
    struct fp_classify_quic_keys k;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL_FATAL(fp_classify_quic_keys_derive(ctx, FP_QUIC_V1, rfc_dcid, 8, &k), 0);
    assert_hex(k.secret, 32, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
    assert_hex(k.key, 16, "1f369613dd76d5467730efcbe3b1a22d");
    assert_hex(k.iv, 12, "fa044b2f42a3fd3b46fb255c");
    assert_hex(k.hp, 16, "9f50449e04a0e810283a1e9933adedd2");

    CU_ASSERT_EQUAL_FATAL(fp_classify_quic_keys_derive(ctx, FP_QUIC_V2, rfc_dcid, 8, &k), 0);
    assert_hex(k.secret, 32, "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b");
    assert_hex(k.key, 16, "8b1a0bc121284290a29e0971b5cd045d");
    assert_hex(k.iv, 12, "91f73e2351d8fa91660e909f");
    assert_hex(k.hp, 16, "45b95e15235d6f45a6b19cbcb0294ba9");

    CU_ASSERT_EQUAL(fp_classify_quic_keys_derive(ctx, 0x1a2a3a4a, rfc_dcid, 8, &k), -ENOTSUP);
    CU_ASSERT_EQUAL(fp_classify_quic_keys_derive(ctx, FP_QUIC_V1, rfc_dcid, 21, &k), -EINVAL);
    fp_classify_quic_ctx_destroy(NULL);
}

/* RFC 9001 Appendix A.2: the client Initial, protected (1200 bytes). */
static const char rfc9001_a2_packet[] =
    "c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934";

/* Its CRYPTO frame payload (the ClientHello), from the same appendix. */
static const char rfc9001_a2_hello[] =
    "010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a 00080006001d00170018001000070005"
    "04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408 050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806 048000ffff";

static void test_quic_rfc9001_packet(void)
{
    static uint8_t pkt[1200], hello[256], cbuf[4096];
    struct fp_classify_quic_flow f;
    struct fp_classify_tls t;

    CU_ASSERT_EQUAL_FATAL(hex2bin(rfc9001_a2_packet, pkt, sizeof(pkt)), 1200);
    CU_ASSERT_EQUAL_FATAL(hex2bin(rfc9001_a2_hello, hello, sizeof(hello)), 241);
    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    CU_ASSERT_EQUAL_FATAL(fp_classify_quic_parse(qctx(), &f, pkt, sizeof(pkt), &t),
                          FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "example.com");
    CU_ASSERT_STRING_EQUAL(t.alpn, "alpn");
    CU_ASSERT_EQUAL(t.version, 0x0304);
    CU_ASSERT(t.has_quic_tp);
    CU_ASSERT_EQUAL(f.largest_pn, 2);
    CU_ASSERT_EQUAL(f.n_initials, 1);
    CU_ASSERT_EQUAL(f.version, FP_QUIC_V1);
    CU_ASSERT_EQUAL(f.crypto.contig, 241);
    CU_ASSERT(memcmp(cbuf, hello, 241) == 0);
    assert_hex(f.keys.hp, 16, "9f50449e04a0e810283a1e9933adedd2");
    /* The input is untouched (decryption works on the context's copy). */
    CU_ASSERT_EQUAL(pkt[0], 0xc0);

    /* Any flipped bit in ciphertext or tag fails authentication and keeps no keys. */
    const size_t flips[] = {30, 600, 1199};
    for (size_t i = 0; i < FP_ARRAY_SIZE(flips); i++) {
        pkt[flips[i]] ^= 0x10;
        fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
        CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, pkt, sizeof(pkt), &t),
                        FP_CLASSIFY_DECRYPT_FAIL);
        CU_ASSERT(!f.keys_valid);
        CU_ASSERT_EQUAL(f.n_decrypt_fail, 1);
        pkt[flips[i]] ^= 0x10;
    }
    /* Truncated at every length: never OK. */
    for (size_t k = 0; k < sizeof(pkt); k++) {
        fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
        enum fp_classify_result r = fp_classify_quic_parse(qctx(), &f, pkt, k, &t);
        if (r == FP_CLASSIFY_OK || r == FP_CLASSIFY_NEED_MORE) {
            CU_FAIL("truncated Initial accepted");
            printf("k=%zu %s\n", k, fp_classify_result_names[r]);
            break;
        }
    }
    /* Too small a CRYPTO buffer: OVERFLOW counted. */
    fp_classify_quic_flow_init(&f, cbuf, 100);
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, pkt, sizeof(pkt), &t),
                    FP_CLASSIFY_OVERFLOW);
    CU_ASSERT_EQUAL(f.crypto.n_overflow, 1);
}

static void put_varint(struct bb *b, uint64_t v)
{
    if (v < 64) {
        put8(b, (unsigned)v);
    } else if (v < 16384) {
        put16(b, 0x4000 | (unsigned)v);
    } else {
        put16(b, 0x8000 | (unsigned)(v >> 16));
        put16(b, (unsigned)v & 0xffff);
    }
}

static void crypto_frame(struct bb *b, uint64_t off, const uint8_t *d, size_t n)
{
    put8(b, 0x06);
    put_varint(b, off);
    put_varint(b, n);
    putn(b, d, n);
}

/* Protect an Initial with the test's own AES-GCM/ECB calls (2-byte packet number). */
static size_t quic_seal(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                        const uint8_t *key_dcid, uint32_t pn, const uint8_t *pl, size_t plen,
                        uint8_t *out)
{
    struct fp_classify_quic_keys k;
    size_t n = 0;
    int l = 0;

    if (fp_classify_quic_keys_derive(qctx(), version, key_dcid, dcid_len, &k) != 0)
        return 0;
    out[n++] = (uint8_t)(0xc0 | (version == FP_QUIC_V2 ? 1 : 0) << 4 | 0x01);
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(version >> (8 * i));
    out[n++] = (uint8_t)dcid_len;
    memcpy(out + n, dcid, dcid_len);
    n += dcid_len;
    out[n++] = 0; /* SCID */
    out[n++] = 0; /* token */
    size_t length = 2 + plen + 16;
    out[n++] = (uint8_t)(0x40 | length >> 8);
    out[n++] = (uint8_t)length;
    size_t pn_off = n;
    out[n++] = (uint8_t)(pn >> 8);
    out[n++] = (uint8_t)pn;
    uint8_t nonce[12], mask[16];
    memcpy(nonce, k.iv, 12);
    nonce[10] ^= (uint8_t)(pn >> 8);
    nonce[11] ^= (uint8_t)pn;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, k.key, nonce);
    EVP_EncryptUpdate(c, NULL, &l, out, (int)n);
    EVP_EncryptUpdate(c, out + n, &l, pl, (int)plen);
    EVP_EncryptFinal_ex(c, out + n + plen, &l);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + n + plen);
    EVP_CIPHER_CTX_free(c);
    n += plen + 16;
    c = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, k.hp, NULL);
    EVP_CIPHER_CTX_set_padding(c, 0);
    EVP_EncryptUpdate(c, mask, &l, out + pn_off + 4, 16);
    EVP_CIPHER_CTX_free(c);
    out[0] ^= mask[0] & 0x0f;
    out[pn_off] ^= mask[1];
    out[pn_off + 1] ^= mask[2];
    return n;
}

static void pad_to(struct bb *b, size_t n)
{
    while (b->n < n)
        put8(b, 0);
}

static const uint8_t test_dcid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* Chromium-style: a 2 KB ClientHello in 6 shuffled CRYPTO frames over two Initials. */
static void quic_split_case(uint32_t version)
{
    static struct bb hs, p1, p2;
    static uint8_t d1[1500], d2[1500], both[3000], cbuf[8192];
    static const char *const h3[] = {"h3", NULL};
    static const uint16_t v13[] = {0x0304, 0};
    struct hello_opts o = {.sni = "chromium.example", .alpn = h3, .versions = v13,
                           .quic_tp = true, .pad = 1800};
    struct fp_classify_quic_flow f;
    struct fp_classify_tls t;
    size_t cut[7];

    hs.n = p1.n = p2.n = 0;
    build_client_hello(&hs, &o);
    for (int i = 0; i <= 6; i++)
        cut[i] = hs.n * (size_t)i / 6;
#define CHUNK(dst, i) crypto_frame((dst), cut[i], hs.b + cut[i], cut[(i) + 1] - cut[i])
    put8(&p1, 0x01); /* PING */
    CHUNK(&p1, 2);
    put8(&p1, 0x00);
    put8(&p1, 0x00);
    CHUNK(&p1, 0);
    put8(&p1, 0x02); /* ACK largest 0, delay 0, 1 extra range, first 0, gap 0 len 0 */
    put8(&p1, 0);
    put8(&p1, 0);
    put8(&p1, 1);
    put8(&p1, 0);
    put8(&p1, 0);
    put8(&p1, 0);
    CHUNK(&p1, 4);
    pad_to(&p1, 1160);
    CHUNK(&p2, 5);
    CHUNK(&p2, 1);
    put8(&p2, 0x01);
    CHUNK(&p2, 3);
    pad_to(&p2, 1160);
#undef CHUNK
    size_t n1 = quic_seal(version, test_dcid, 12, test_dcid, 0, p1.b, p1.n, d1);
    size_t n2 = quic_seal(version, test_dcid, 12, test_dcid, 1, p2.b, p2.n, d2);
    CU_ASSERT_FATAL(n1 >= 1200 && n2 >= 1200);

    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, d1, n1, &t), FP_CLASSIFY_NEED_MORE);
    CU_ASSERT_EQUAL(f.crypto.contig, cut[1]);
    CU_ASSERT_EQUAL(f.n_initials, 1);
    CU_ASSERT_EQUAL_FATAL(fp_classify_quic_parse(qctx(), &f, d2, n2, &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "chromium.example");
    CU_ASSERT_STRING_EQUAL(t.alpn, "h3");
    CU_ASSERT(t.has_quic_tp);
    CU_ASSERT_EQUAL(f.largest_pn, 1);
    CU_ASSERT_EQUAL(f.version, version);

    /* Reverse order of the datagrams, and both coalesced in one datagram. */
    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, d2, n2, &t), FP_CLASSIFY_NEED_MORE);
    CU_ASSERT_EQUAL(f.crypto.contig, 0);
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, d1, n1, &t), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(t.sni, "chromium.example");
    memcpy(both, d1, n1);
    memcpy(both + n1, d2, n2);
    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, both, n1 + n2, &t), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(f.n_initials, 2);

    /* Truncate the second datagram at every length: first one's state survives. */
    for (size_t k = 0; k < n2; k += 7) {
        fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
        fp_classify_quic_parse(qctx(), &f, d1, n1, &t);
        enum fp_classify_result r = fp_classify_quic_parse(qctx(), &f, d2, k, &t);
        if (r == FP_CLASSIFY_OK) {
            CU_FAIL("truncated second Initial accepted");
            break;
        }
        CU_ASSERT_EQUAL(f.crypto.contig, cut[1]);
    }
}

static void test_quic_split_v1(void)
{
    quic_split_case(FP_QUIC_V1);
}

static void test_quic_split_v2_draft29(void)
{
    quic_split_case(FP_QUIC_V2);
    quic_split_case(0xff00001d);
}

static void test_quic_frames_and_keys(void)
{
    static struct bb pl;
    static uint8_t d[1500], cbuf[4096];
    struct fp_classify_quic_flow f;
    struct fp_classify_tls t;
    static const uint8_t other_dcid[12] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};

    /* Packet keyed from another DCID (e.g. a server Initial): DECRYPT_FAIL, no keys kept. */
    pl.n = 0;
    put8(&pl, 0x01);
    pad_to(&pl, 100);
    size_t n = quic_seal(FP_QUIC_V1, test_dcid, 12, other_dcid, 0, pl.b, pl.n, d);
    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, d, n, &t), FP_CLASSIFY_DECRYPT_FAIL);
    CU_ASSERT(!f.keys_valid);
    /* A correct packet then works and caches keys; PING-only gives NEED_MORE. */
    n = quic_seal(FP_QUIC_V1, test_dcid, 12, test_dcid, 0, pl.b, pl.n, d);
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, d, n, &t), FP_CLASSIFY_NEED_MORE);
    CU_ASSERT(f.keys_valid);
    CU_ASSERT_EQUAL(f.dcid_len, 12);

    /* Frames not allowed in Initial, lying lengths, endless ACK ranges; zero padding
     * follows each (24-byte payload). */
    static const struct {
        uint8_t b[8];
        size_t n;
        bool at_end; /* placed at the end of the payload instead of the start */
        enum fp_classify_result want;
    } cases[] = {
        {{0x08, 0x00, 0x01, 'x'}, 4, false, FP_CLASSIFY_MALFORMED},     /* STREAM */
        {{0x06, 0x00, 0x7f, 0xff, 'x'}, 5, false, FP_CLASSIFY_MALFORMED}, /* CRYPTO len 16383 */
        {{0x02, 0, 0, 0xbf, 0xff, 0xff, 0xff, 0}, 8, false, FP_CLASSIFY_MALFORMED}, /* ranges */
        {{0x03, 0, 0, 0, 0}, 5, false, FP_CLASSIFY_NEED_MORE}, /* ACK_ECN, counts = padding */
        {{0x1c, 0x00, 0x00, 0x3f}, 4, false, FP_CLASSIFY_MALFORMED}, /* reason 63 > left */
        {{0x40}, 1, true, FP_CLASSIFY_MALFORMED}, /* truncated 2-byte frame type */
        {{0x40, 0x00}, 2, true, FP_CLASSIFY_NEED_MORE}, /* PADDING in a 2-byte varint */
    };
    for (size_t i = 0; i < FP_ARRAY_SIZE(cases); i++) {
        pl.n = 0;
        if (cases[i].at_end)
            pad_to(&pl, 24 - cases[i].n);
        putn(&pl, cases[i].b, cases[i].n);
        pad_to(&pl, 24);
        n = quic_seal(FP_QUIC_V1, test_dcid, 12, test_dcid, 1, pl.b, pl.n, d);
        fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
        enum fp_classify_result r = fp_classify_quic_parse(qctx(), &f, d, n, &t);
        if (r != cases[i].want) {
            CU_FAIL("frame check");
            printf("case %zu: %s\n", i, fp_classify_result_names[r]);
        }
    }
    /* CRYPTO data that is not a ClientHello. */
    pl.n = 0;
    crypto_frame(&pl, 0, (const uint8_t *)"\x02\x00\x00\x01\x00", 5);
    pad_to(&pl, 40);
    n = quic_seal(FP_QUIC_V1, test_dcid, 12, test_dcid, 0, pl.b, pl.n, d);
    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    CU_ASSERT_EQUAL(fp_classify_quic_parse(qctx(), &f, d, n, &t), FP_CLASSIFY_MALFORMED);
}

static void test_quic_headers(void)
{
    static uint8_t cbuf[1024], d[1400];
    struct fp_classify_quic_flow f;
    struct fp_classify_tls t;
    struct fp_quic_ctx *ctx = qctx();

    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    /* gQUIC Q024 public header: flags 0x0d (version, 8-byte CID, 1-byte PN) */
    static const uint8_t q024[] = {0x0d, 1, 2, 3, 4, 5, 6, 7, 8, 'Q', '0', '2', '4', 1, 0xa0};
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, q024, sizeof(q024), &t), FP_CLASSIFY_GQUIC);
    /* gQUIC Q046 uses a long header. */
    static const uint8_t q046[] = {0xc3, 'Q', '0', '4', '6', 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 0};
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, q046, sizeof(q046), &t), FP_CLASSIFY_GQUIC);
    static const uint8_t unk[] = {0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0};
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, unk, sizeof(unk), &t),
                    FP_CLASSIFY_UNSUPPORTED);
    static const uint8_t vn[] = {0x80, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1};
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, vn, sizeof(vn), &t), FP_CLASSIFY_NOT_INITIAL);
    static const uint8_t shorth[] = {0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, shorth, sizeof(shorth), &t),
                    FP_CLASSIFY_NOT_INITIAL);
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, shorth, 0, &t), FP_CLASSIFY_NOT_PROTO);
    static const uint8_t handshake[] = {0xe0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0x40, 30};
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, handshake, sizeof(handshake), &t),
                    FP_CLASSIFY_NOT_INITIAL);
    static const uint8_t v2_type0[] = {0xc0, 0x6b, 0x33, 0x43, 0xcf, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, v2_type0, sizeof(v2_type0), &t),
                    FP_CLASSIFY_NOT_INITIAL); /* type 0 is Retry in v2 */

    /* Header field checks on a sealed packet: DCID too long, too short, lying lengths. */
    static struct bb pl;
    pl.n = 0;
    put8(&pl, 0x01);
    pad_to(&pl, 1100);
    size_t n = quic_seal(FP_QUIC_V1, test_dcid, 12, test_dcid, 0, pl.b, pl.n, d);
    d[5] = 21;
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, d, n, &t), FP_CLASSIFY_MALFORMED);
    d[5] = 12;
    d[18] = 0x10; /* SCID length 16: shifts parsing; token length then lies */
    enum fp_classify_result r = fp_classify_quic_parse(ctx, &f, d, n, &t);
    CU_ASSERT(r != FP_CLASSIFY_OK && r != FP_CLASSIFY_NEED_MORE);
    d[18] = 0;
    d[19] = 0x7f; /* token length 63 */
    d[20] = 0xff;
    d[19] = 0x50; /* token length 2-byte varint 0x10ff = 4351 > datagram */
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, d, n, &t), FP_CLASSIFY_BAD_LENGTH);
    d[19] = 0;
    d[20] = 0x7f; /* Length 0x3fxx > datagram */
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, d, n, &t), FP_CLASSIFY_BAD_LENGTH);
    d[20] = 0x40;
    d[21] = 10; /* Length 10: no room for the sample */
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, d, n, &t), FP_CLASSIFY_MALFORMED);
    /* DCID shorter than 8 for a new flow: not a client's first Initial. */
    static const uint8_t short_dcid[4] = {1, 2, 3, 4};
    n = quic_seal(FP_QUIC_V1, short_dcid, 4, short_dcid, 0, pl.b, pl.n, d);
    fp_classify_quic_flow_init(&f, cbuf, sizeof(cbuf));
    CU_ASSERT_EQUAL(fp_classify_quic_parse(ctx, &f, d, n, &t), FP_CLASSIFY_MALFORMED);
}

/* ---------------------------------------------------------------------------------- */
/* DNS                                                                                */
/* ---------------------------------------------------------------------------------- */

static void dns_hdr(struct bb *b, unsigned id, unsigned flags, unsigned qd, unsigned an)
{
    put16(b, id);
    put16(b, flags);
    put16(b, qd);
    put16(b, an);
    put16(b, 0);
    put16(b, 0);
}

static void dns_labels(struct bb *b, const char *dotted)
{
    while (*dotted) {
        const char *dot = strchr(dotted, '.');
        size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);
        put8(b, (unsigned)l);
        putn(b, dotted, l);
        dotted += l + (dot ? 1 : 0);
    }
}

static void dns_rr_head(struct bb *b, unsigned type, unsigned ttl)
{
    put16(b, type);
    put16(b, 1);
    put16(b, ttl >> 16);
    put16(b, ttl & 0xffff);
}

/* Response: www.Example.com CNAME cdn.example.net, A, AAAA, TXT. */
static void dns_response(struct bb *b, unsigned ancount)
{
    static const uint8_t v6[16] = {0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01,
                                   0x02, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46};
    b->n = 0;
    dns_hdr(b, 0xbeef, 0x8180, 1, ancount);
    dns_labels(b, "www.Example.com");
    put8(b, 0);
    put16(b, 1);
    put16(b, 1);
    put16(b, 0xc00c);
    dns_rr_head(b, FP_DNS_TYPE_CNAME, 300);
    size_t rl = open_len(b, 2);
    size_t cname_off = b->n;
    dns_labels(b, "cdn.example.net");
    put8(b, 0);
    close_len(b, rl, 2);
    put16(b, 0xc000 | (unsigned)cname_off);
    dns_rr_head(b, FP_DNS_TYPE_A, 60);
    put16(b, 4);
    putn(b, "\x5d\xb8\xd8\x22", 4);
    put16(b, 0xc000 | (unsigned)cname_off);
    dns_rr_head(b, FP_DNS_TYPE_AAAA, 60);
    put16(b, 16);
    putn(b, v6, 16);
    put16(b, 0xc00c);
    dns_rr_head(b, 16, 60);
    put16(b, 3);
    putn(b, "\x02hi", 3);
}

static void test_dns_query_response(void)
{
    static struct bb b;
    struct fp_classify_dns d;
    struct fp_classify_dns_answer a[4];

    b.n = 0;
    dns_hdr(&b, 0x1234, 0x0100, 1, 0);
    dns_labels(&b, "Mail.Example.ORG");
    put8(&b, 0);
    put16(&b, 28);
    put16(&b, 1);
    CU_ASSERT_EQUAL_FATAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(d.id, 0x1234);
    CU_ASSERT(!d.qr);
    CU_ASSERT(d.rd);
    CU_ASSERT_STRING_EQUAL(d.qname, "mail.example.org");
    CU_ASSERT_EQUAL(d.qname_len, 16);
    CU_ASSERT_EQUAL(d.qtype, 28);
    CU_ASSERT_EQUAL(d.n_answers, 0);

    dns_response(&b, 4);
    CU_ASSERT_EQUAL_FATAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_OK);
    CU_ASSERT(d.qr);
    CU_ASSERT(d.ra);
    CU_ASSERT_EQUAL(d.rcode, 0);
    CU_ASSERT_STRING_EQUAL(d.qname, "www.example.com");
    CU_ASSERT_EQUAL(d.n_answers, 3);
    CU_ASSERT_EQUAL(d.n_answers_other, 1);
    CU_ASSERT_EQUAL(a[0].type, FP_DNS_TYPE_CNAME);
    CU_ASSERT_STRING_EQUAL(a[0].name, "www.example.com");
    CU_ASSERT_STRING_EQUAL(a[0].cname, "cdn.example.net");
    CU_ASSERT_EQUAL(a[0].ttl, 300);
    CU_ASSERT_EQUAL(a[1].type, FP_DNS_TYPE_A);
    CU_ASSERT_STRING_EQUAL(a[1].name, "cdn.example.net");
    CU_ASSERT(memcmp(a[1].addr, "\x5d\xb8\xd8\x22", 4) == 0);
    CU_ASSERT_EQUAL(a[2].type, FP_DNS_TYPE_AAAA);
    CU_ASSERT_EQUAL(a[2].addr[0], 0x26);
    CU_ASSERT_EQUAL(a[2].addr[15], 0x46);
    CU_ASSERT_STRING_EQUAL(a[2].cname, "");

    /* Array smaller than the answers: the rest is counted as dropped. */
    CU_ASSERT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 2), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(d.n_answers, 2);
    CU_ASSERT_EQUAL(d.n_answers_dropped, 1);
    CU_ASSERT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, NULL, 0), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(d.n_answers_dropped, 3);

    /* Over TCP: 2-byte length prefix. */
    static struct bb t;
    t.n = 0;
    put16(&t, (unsigned)b.n);
    putn(&t, b.b, b.n);
    CU_ASSERT_EQUAL(fp_classify_dns_parse(t.b, t.n, true, &d, a, 4), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(d.n_answers, 3);
    CU_ASSERT_EQUAL(fp_classify_dns_parse(t.b, t.n - 1, true, &d, a, 4), FP_CLASSIFY_NEED_MORE);
    CU_ASSERT_EQUAL(fp_classify_dns_parse(t.b, 1, true, &d, a, 4), FP_CLASSIFY_NEED_MORE);
    t.b[0] = 0;
    t.b[1] = 11;
    CU_ASSERT_EQUAL(fp_classify_dns_parse(t.b, t.n, true, &d, a, 4), FP_CLASSIFY_NOT_PROTO);

    /* No question and no answer: not DNS. */
    static const uint8_t empty[12] = {0x12, 0x34, 0x01, 0x00};
    CU_ASSERT_EQUAL(fp_classify_dns_parse(empty, sizeof(empty), false, &d, a, 4),
                    FP_CLASSIFY_NOT_PROTO);
}

static void test_dns_truncated_and_lying(void)
{
    static struct bb b;
    struct fp_classify_dns d;
    struct fp_classify_dns_answer a[4];

    dns_response(&b, 4);
    for (size_t k = 0; k < b.n; k++) {
        enum fp_classify_result r = fp_classify_dns_parse(b.b, k, false, &d, a, 4);
        enum fp_classify_result want = k < 12 ? FP_CLASSIFY_NOT_PROTO : FP_CLASSIFY_TRUNCATED;
        if (r != want) {
            CU_FAIL("truncated DNS");
            printf("k=%zu %s\n", k, fp_classify_result_names[r]);
            break;
        }
        CU_ASSERT_EQUAL(d.has_question, k >= 12 + 17 + 4);
    }
    /* ancount lies (10 for 4): TRUNCATED, the 3 stored answers stay valid. */
    dns_response(&b, 10);
    CU_ASSERT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_TRUNCATED);
    CU_ASSERT_EQUAL(d.n_answers, 3);
    CU_ASSERT_STRING_EQUAL(a[1].name, "cdn.example.net");
    /* qdcount lies. */
    dns_response(&b, 4);
    b.b[5] = 9;
    CU_ASSERT_NOT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_OK);
    /* A record with rdlength 5 and 0xffff; CNAME rdlength shorter than its name. */
    dns_response(&b, 4);
    size_t a_rdlen = 12 + 17 + 4 + 12 + 17 + 2 + 8;
    CU_ASSERT_EQUAL(b.b[a_rdlen + 1], 4);
    b.b[a_rdlen + 1] = 5;
    CU_ASSERT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_MALFORMED);
    b.b[a_rdlen] = 0xff;
    b.b[a_rdlen + 1] = 0xff;
    CU_ASSERT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_TRUNCATED);
    dns_response(&b, 4);
    size_t c_rdlen = 12 + 17 + 4 + 2 + 8;
    CU_ASSERT_EQUAL(b.b[c_rdlen + 1], 17);
    b.b[c_rdlen + 1] = 10;
    CU_ASSERT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_MALFORMED);
    b.b[c_rdlen + 1] = 18; /* one byte after the name: MALFORMED too */
    CU_ASSERT_EQUAL(fp_classify_dns_parse(b.b, b.n, false, &d, a, 4), FP_CLASSIFY_MALFORMED);

    /* Every byte mutated: no crash, bounded output. */
    dns_response(&b, 4);
    for (size_t i = 0; i < b.n; i++) {
        for (unsigned v = 0; v < 256; v += 51) {
            static struct bb m;
            memcpy(m.b, b.b, b.n);
            m.b[i] = (uint8_t)v;
            if (fp_classify_dns_parse(m.b, b.n, false, &d, a, 4) == FP_CLASSIFY_OK) {
                CU_ASSERT(d.n_answers <= 4);
                CU_ASSERT(strlen(d.qname) == d.qname_len && d.qname_len <= 253);
            }
        }
    }
}

/* Header + question "a" at 12 (ends at 19), then one answer whose owner is given. */
static enum fp_classify_result dns_owner(const uint8_t *owner, size_t n,
                                         struct fp_classify_dns_answer *a)
{
    static struct bb b;
    struct fp_classify_dns d;

    b.n = 0;
    dns_hdr(&b, 1, 0x8180, 1, 1);
    dns_labels(&b, "a");
    put8(&b, 0);
    put16(&b, 1);
    put16(&b, 1);
    putn(&b, owner, n);
    dns_rr_head(&b, FP_DNS_TYPE_A, 1);
    put16(&b, 4);
    putn(&b, "\x01\x02\x03\x04", 4);
    return fp_classify_dns_parse(b.b, b.n, false, &d, a, 1);
}

static void test_dns_compression_hostile(void)
{
    struct fp_classify_dns_answer a[1];

    /* Sanity: a pointer back to the question name. */
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\x01x\xc0\x0c", 4, a), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(a[0].name, "x.a");
    /* Loop: label at 19 then a pointer back to 19. */
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\x01x\xc0\x13", 4, a), FP_CLASSIFY_MALFORMED);
    /* Pointer to itself, forward, into the header. */
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\xc0\x13", 2, a), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\xc0\x40", 2, a), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\xc0\x05", 2, a), FP_CLASSIFY_MALFORMED);
    /* Label types 0x40 and 0x80 (label length > 63). */
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\x40x\x00", 3, a), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\x80x\x00", 3, a), FP_CLASSIFY_MALFORMED);
    /* Uppercase and invalid UTF-8 in a label. */
    CU_ASSERT_EQUAL(dns_owner((const uint8_t *)"\x03" "B\xff" "D\x00", 5, a), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(a[0].name, "b?d");

    /* Names of 255 octets pass, 257 fail (4 labels of 63). */
    static struct bb o;
    char l63[64], l61[62];
    memset(l63, 'q', 63);
    l63[63] = '\0';
    memset(l61, 'r', 61);
    l61[61] = '\0';
    o.n = 0;
    for (int i = 0; i < 3; i++) {
        put8(&o, 63);
        puts_(&o, l63);
    }
    put8(&o, 61);
    puts_(&o, l61);
    put8(&o, 0);
    CU_ASSERT_EQUAL(o.n, 255);
    CU_ASSERT_EQUAL(dns_owner(o.b, o.n, a), FP_CLASSIFY_OK);
    CU_ASSERT_EQUAL(strlen(a[0].name), 253);
    o.n = 0;
    for (int i = 0; i < 4; i++) {
        put8(&o, 63);
        puts_(&o, l63);
    }
    put8(&o, 0);
    CU_ASSERT_EQUAL(dns_owner(o.b, o.n, a), FP_CLASSIFY_MALFORMED);
    /* Too long through a pointer: 3×63 + 2 labels of 30 + "a" (pointer to question). */
    o.n = 0;
    for (int i = 0; i < 3; i++) {
        put8(&o, 63);
        puts_(&o, l63);
    }
    put8(&o, 30);
    putn(&o, l63, 30);
    put8(&o, 30);
    putn(&o, l63, 30);
    put16(&o, 0xc00c);
    CU_ASSERT_EQUAL(dns_owner(o.b, o.n, a), FP_CLASSIFY_MALFORMED);
}

/* A chain of n backward pointers inside a TXT record, then an A record pointing at it. */
static enum fp_classify_result dns_chain(unsigned n)
{
    static struct bb b;
    struct fp_classify_dns d;
    struct fp_classify_dns_answer a[2];

    b.n = 0;
    dns_hdr(&b, 1, 0x8180, 1, 2);
    dns_labels(&b, "a");
    put8(&b, 0);
    put16(&b, 1);
    put16(&b, 1);
    put16(&b, 0xc00c);
    dns_rr_head(&b, 16, 1);
    put16(&b, 1 + 2 * n);
    size_t root = b.n;
    put8(&b, 0);
    for (unsigned i = 0; i < n; i++)
        put16(&b, 0xc000 | (unsigned)(i == 0 ? root : root + 1 + 2 * (i - 1)));
    put16(&b, 0xc000 | (unsigned)(root + 1 + 2 * (n - 1)));
    dns_rr_head(&b, FP_DNS_TYPE_A, 1);
    put16(&b, 4);
    putn(&b, "\x0a\x00\x00\x01", 4);
    enum fp_classify_result r = fp_classify_dns_parse(b.b, b.n, false, &d, a, 2);
    if (r == FP_CLASSIFY_OK)
        CU_ASSERT(d.n_answers == 1 && a[0].name[0] == '\0');
    return r;
}

static void test_dns_pointer_chain(void)
{
    CU_ASSERT_EQUAL(dns_chain(20), FP_CLASSIFY_OK);  /* 21 jumps */
    CU_ASSERT_EQUAL(dns_chain(31), FP_CLASSIFY_OK);  /* 32 jumps */
    CU_ASSERT_EQUAL(dns_chain(32), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(dns_chain(60), FP_CLASSIFY_MALFORMED);
}

/* ---------------------------------------------------------------------------------- */
/* HTTP                                                                               */
/* ---------------------------------------------------------------------------------- */

static enum fp_classify_result http(const char *s, struct fp_classify_http *h)
{
    return fp_classify_http_parse((const uint8_t *)s, strlen(s), h);
}

static void test_http_basic(void)
{
    struct fp_classify_http h;
    const char *req = "GET /index.html HTTP/1.1\r\nAccept: */*\r\nhOsT: \t Example.COM:8080 \r\n"
                      "User-Agent: curl/8.0.1\r\nX: y\r\n\r\nbody";

    CU_ASSERT_EQUAL_FATAL(http(req, &h), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(h.method, "GET");
    CU_ASSERT_STRING_EQUAL(h.host, "example.com");
    CU_ASSERT_EQUAL(h.port, 8080);
    CU_ASSERT_STRING_EQUAL(h.user_agent, "curl/8.0.1");
    CU_ASSERT_EQUAL(h.version_minor, 1);
    CU_ASSERT(h.headers_complete);
    CU_ASSERT(!h.host_dup);

    /* Truncated at every offset: NEED_MORE until the Host line ends, OK after. */
    size_t host_end = (size_t)(strstr(req, "8080 \r\n") - req) + 7;
    for (size_t k = 0; k < strlen(req); k++) {
        enum fp_classify_result r = fp_classify_http_parse((const uint8_t *)req, k, &h);
        enum fp_classify_result want = k < host_end ? FP_CLASSIFY_NEED_MORE : FP_CLASSIFY_OK;
        if (r != want) {
            CU_FAIL("truncated HTTP");
            printf("k=%zu %s\n", k, fp_classify_result_names[r]);
            break;
        }
    }

    CU_ASSERT_EQUAL(http("POST http://user:pw@WWW.foo.org:81/x?y HTTP/1.0\n\n", &h),
                    FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(h.method, "POST");
    CU_ASSERT_STRING_EQUAL(h.host, "www.foo.org");
    CU_ASSERT_EQUAL(h.port, 81);
    CU_ASSERT_EQUAL(h.version_minor, 0);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8443\r\n\r\n", &h), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(h.host, "2001:db8::1");
    CU_ASSERT_EQUAL(h.port, 8443);
    CU_ASSERT_EQUAL(http("CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n\r\n", &h), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(h.host, "a.b");
    /* HTTP/1.0 without Host: OK once the head is complete, no host. */
    CU_ASSERT_EQUAL(http("GET / HTTP/1.0\r\n\r\n", &h), FP_CLASSIFY_OK);
    CU_ASSERT(!h.has_host);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.0\r\nAccept: x\r\n", &h), FP_CLASSIFY_NEED_MORE);
}

static void test_http_hostile(void)
{
    struct fp_classify_http h;
    static char big[600];

    CU_ASSERT_EQUAL(http("SSH-2.0-OpenSSH_9.2\r\n", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("\x16\x03\x01\x02\x00\x01", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("get / HTTP/1.1\r\n", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("GET  / HTTP/1.1\r\n", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1 \r\n", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("ABCDEFGHIJKLMNOP", &h), FP_CLASSIFY_NOT_PROTO);
    CU_ASSERT_EQUAL(http("ABCDEFGHIJKLMNO", &h), FP_CLASSIFY_NEED_MORE);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nHost : evil\r\n\r\n", &h), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &h), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", &h), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", &h), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", &h), FP_CLASSIFY_MALFORMED);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nHost: first.org\r\nHOST: second.org\r\n\r\n", &h),
                    FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(h.host, "first.org");
    CU_ASSERT(h.host_dup);
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nHost: b\xc3\x28.org\r\n\r\n", &h), FP_CLASSIFY_OK);
    CU_ASSERT_STRING_EQUAL(h.host, "b?(.org");
    CU_ASSERT_EQUAL(h.n_replaced, 1);
    /* Folded header line is skipped; empty Host gives no host. */
    CU_ASSERT_EQUAL(http("GET / HTTP/1.1\r\nX: a\r\n  folded\r\nHost:\r\n\r\n", &h),
                    FP_CLASSIFY_OK);
    CU_ASSERT(!h.has_host);

    strcpy(big, "GET / HTTP/1.1\r\nHost: ");
    size_t n = strlen(big);
    memset(big + n, 'h', 300);
    strcpy(big + n + 300, "\r\n\r\n");
    CU_ASSERT_EQUAL(http(big, &h), FP_CLASSIFY_OK);
    CU_ASSERT(!h.has_host);
    CU_ASSERT(h.host_too_long);
    strcpy(big, "GET / HTTP/1.1\r\nUser-Agent: ");
    n = strlen(big);
    memset(big + n, 'u', 400);
    strcpy(big + n + 400, "\r\nHost: x\r\n\r\n");
    CU_ASSERT_EQUAL(http(big, &h), FP_CLASSIFY_OK);
    CU_ASSERT(h.ua_truncated);
    CU_ASSERT_EQUAL(strlen(h.user_agent), FP_CLASSIFY_UA_MAX - 1);
    CU_ASSERT_STRING_EQUAL(h.host, "x");
}

/* ---------------------------------------------------------------------------------- */
/* Real captures (../shared/pcaps, skipped when absent)                               */
/* ---------------------------------------------------------------------------------- */

/* A minimal L2/L3/L4 locator for the test captures (independent of src/decode). */
struct l4 {
    uint8_t proto;
    uint8_t key[36]; /* src addr, dst addr (16 each), sport, dport: one direction */
    uint16_t sport, dport;
    uint32_t seq;
    const uint8_t *pl;
    size_t plen;
};

static bool locate_l4(int dlt, const uint8_t *f, size_t cap, struct l4 *o)
{
    size_t off;
    unsigned et;

    memset(o, 0, sizeof(*o));
    if (dlt == DLT_EN10MB) {
        if (cap < 14)
            return false;
        et = (unsigned)(f[12] << 8 | f[13]);
        off = 14;
        while ((et == 0x8100 || et == 0x88a8) && off + 4 <= cap) {
            et = (unsigned)(f[off + 2] << 8 | f[off + 3]);
            off += 4;
        }
    } else if (dlt == DLT_LINUX_SLL) {
        if (cap < 16)
            return false;
        et = (unsigned)(f[14] << 8 | f[15]);
        off = 16;
    } else {
        return false;
    }
    size_t l4off, end;
    if (et == 0x0800) {
        if (off + 20 > cap || (f[off] >> 4) != 4)
            return false;
        size_t ihl = (size_t)(f[off] & 15) * 4;
        if ((((f[off + 6] << 8) | f[off + 7]) & 0x1fff) != 0)
            return false; /* later fragment */
        o->proto = f[off + 9];
        memcpy(o->key, f + off + 12, 4);
        memcpy(o->key + 16, f + off + 16, 4);
        l4off = off + ihl;
        end = off + (size_t)(f[off + 2] << 8 | f[off + 3]);
    } else if (et == 0x86dd) {
        if (off + 40 > cap)
            return false;
        o->proto = f[off + 6];
        memcpy(o->key, f + off + 8, 16);
        memcpy(o->key + 16, f + off + 24, 16);
        l4off = off + 40;
        end = l4off + (size_t)(f[off + 4] << 8 | f[off + 5]);
    } else {
        return false;
    }
    if (end > cap)
        end = cap;
    if (o->proto == 17) {
        if (l4off + 8 > end)
            return false;
        o->pl = f + l4off + 8;
        o->plen = end - l4off - 8;
    } else if (o->proto == 6) {
        if (l4off + 20 > end)
            return false;
        size_t doff = (size_t)(f[l4off + 12] >> 4) * 4;
        if (doff < 20 || l4off + doff > end)
            return false;
        o->seq = (uint32_t)f[l4off + 4] << 24 | (uint32_t)f[l4off + 5] << 16 |
                 (uint32_t)f[l4off + 6] << 8 | f[l4off + 7];
        o->pl = f + l4off + doff;
        o->plen = end - l4off - doff;
    } else {
        return false;
    }
    o->sport = (uint16_t)(f[l4off] << 8 | f[l4off + 1]);
    o->dport = (uint16_t)(f[l4off + 2] << 8 | f[l4off + 3]);
    memcpy(o->key + 32, f + l4off, 4);
    return true;
}

static pcap_t *open_pcap(const char *name, int *dlt)
{
    char path[256], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof(path), PCAP_DIR "%s", name);
    pcap_t *p = pcap_open_offline(path, err);
    if (p == NULL) {
        printf("\n  [classify] %s absent: real-capture check skipped\n", path);
        return NULL;
    }
    *dlt = pcap_datalink(p);
    return p;
}

#define MAX_FLOWS 128
#define MAX_NAMES 128

struct names {
    unsigned n;
    char v[MAX_NAMES][FP_CLASSIFY_NAME_MAX];
    unsigned n_gquic, n_ok, n_udp;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Feed every UDP datagram of a capture to per-direction QUIC flow states. */
static bool quic_names(const char *file, struct names *out)
{
    static struct {
        uint8_t key[36];
        struct fp_classify_quic_flow f;
        uint8_t buf[8192];
        bool done;
    } flows[MAX_FLOWS];
    unsigned n_flows = 0;
    int dlt;
    struct pcap_pkthdr *h;
    const u_char *d;

    memset(out, 0, sizeof(*out));
    pcap_t *p = open_pcap(file, &dlt);
    if (p == NULL)
        return false;
    while (pcap_next_ex(p, &h, &d) == 1) {
        struct l4 l;
        struct fp_classify_tls t;
        if (!locate_l4(dlt, d, h->caplen, &l) || l.proto != 17 || l.plen == 0)
            continue;
        out->n_udp++;
        unsigned i;
        for (i = 0; i < n_flows && memcmp(flows[i].key, l.key, 36) != 0; i++)
            ;
        if (i == n_flows) {
            if (n_flows == MAX_FLOWS)
                continue;
            memcpy(flows[i].key, l.key, 36);
            fp_classify_quic_flow_init(&flows[i].f, flows[i].buf, sizeof(flows[i].buf));
            flows[i].done = false;
            n_flows++;
        }
        if (flows[i].done)
            continue;
        enum fp_classify_result r = fp_classify_quic_parse(qctx(), &flows[i].f, l.pl, l.plen, &t);
        if (r == FP_CLASSIFY_GQUIC)
            out->n_gquic++;
        if (r == FP_CLASSIFY_OK) {
            out->n_ok++;
            flows[i].done = true;
            if (out->n < MAX_NAMES)
                strcpy(out->v[out->n++], t.sni);
        }
    }
    pcap_close(p);
    qsort(out->v, out->n, sizeof(out->v[0]), cmp_str);
    return true;
}

static void test_pcap_quic(void)
{
    static struct names n;

    if (quic_names("quic-29.pcap", &n)) {
        CU_ASSERT(n.n >= 1);
        for (unsigned i = 0; i < n.n; i++)
            CU_ASSERT_STRING_EQUAL(n.v[i], "localhost");
    }
    if (quic_names("quic-v2.pcapng", &n)) {
        CU_ASSERT_EQUAL(n.n, 1);
        CU_ASSERT_STRING_EQUAL(n.v[0], "test");
    }
    if (quic_names("google_meet.pcapng", &n)) {
        /* tshark decrypts one client Initial ClientHello there: meet.google.com */
        CU_ASSERT(n.n >= 1);
        for (unsigned i = 0; i < n.n; i++)
            CU_ASSERT_STRING_EQUAL(n.v[i], "meet.google.com");
    }
    /* gQUIC only (Q024, Q035): rejected as GQUIC, never a ClientHello. */
    if (quic_names("quic.pcap", &n)) {
        CU_ASSERT_EQUAL(n.n_ok, 0);
        CU_ASSERT(n.n_gquic > 0);
    }
    if (quic_names("youtube_quic.pcap", &n)) {
        CU_ASSERT_EQUAL(n.n_ok, 0);
        CU_ASSERT(n.n_gquic > 0);
    }
}

/* ClientHellos of every TCP flow: fast path, then reassembly when needed. */
static bool tls_names(const char *file, struct names *out, uint16_t *versions)
{
    static struct {
        uint8_t key[36];
        struct fp_classify_reasm r;
        uint8_t buf[8192];
        bool started, done;
    } flows[MAX_FLOWS];
    unsigned n_flows = 0;
    int dlt;
    struct pcap_pkthdr *h;
    const u_char *d;

    memset(out, 0, sizeof(*out));
    pcap_t *p = open_pcap(file, &dlt);
    if (p == NULL)
        return false;
    while (pcap_next_ex(p, &h, &d) == 1) {
        struct l4 l;
        struct fp_classify_tls t;
        enum fp_classify_result r = FP_CLASSIFY_NEED_MORE;
        if (!locate_l4(dlt, d, h->caplen, &l) || l.proto != 6 || l.plen == 0)
            continue;
        unsigned i;
        for (i = 0; i < n_flows && memcmp(flows[i].key, l.key, 36) != 0; i++)
            ;
        if (i == n_flows) {
            if (n_flows == MAX_FLOWS)
                continue;
            memcpy(flows[i].key, l.key, 36);
            flows[i].started = flows[i].done = false;
            n_flows++;
        }
        if (flows[i].done)
            continue;
        if (!flows[i].started) {
            r = fp_classify_tls_parse(l.pl, l.plen, &t);
            if (r == FP_CLASSIFY_NEED_MORE) {
                flows[i].started = true;
                fp_classify_reasm_init(&flows[i].r, flows[i].buf, sizeof(flows[i].buf));
            }
        }
        if (flows[i].started) {
            fp_classify_reasm_tcp_add(&flows[i].r, l.seq, l.pl, l.plen);
            r = fp_classify_tls_stream_parse(&flows[i].r, &t);
        }
        if (r == FP_CLASSIFY_NEED_MORE)
            continue;
        flows[i].done = true;
        if (r == FP_CLASSIFY_OK && t.hs_type == 1 && out->n < MAX_NAMES) {
            if (versions)
                versions[out->n] = t.version;
            strcpy(out->v[out->n++], t.sni);
        }
    }
    pcap_close(p);
    return true;
}

static void test_pcap_tls(void)
{
    static struct names n;
    /* tshark -r teams.pcap -Y 'tls.handshake.type==1 && tcp'
     *        -T fields -e tls.handshake.extensions_server_name | sort */
    static const char *const teams[] = {
        "52.114.250.152", "52.114.250.153", "api.flightproxy.teams.microsoft.com",
        "api.microsoftstream.com", "chatsvcagg.teams.microsoft.com",
        "config.teams.microsoft.com", "config.teams.microsoft.com", "dati.ntop.org",
        "dati.ntop.org", "emea.ng.msg.teams.microsoft.com", "eu-api.asm.skype.com",
        "eu-api.asm.skype.com", "eu-prod.asyncgw.teams.microsoft.com",
        "eu-prod.asyncgw.teams.microsoft.com", "euaz.tr.teams.microsoft.com",
        "euaz.tr.teams.microsoft.com", "euno-1.api.microsoftstream.com", "gate.hockeyapp.net",
        "gate.hockeyapp.net", "login.microsoftonline.com", "login.microsoftonline.com",
        "login.microsoftonline.com", "mobile.pipe.aria.microsoft.com",
        "mobile.pipe.aria.microsoft.com", "mobile.pipe.aria.microsoft.com",
        "mobile.pipe.aria.microsoft.com", "mobile.pipe.aria.microsoft.com",
        "mobile.pipe.aria.microsoft.com", "mobile.pipe.aria.microsoft.com",
        "mobile.pipe.aria.microsoft.com", "mobile.pipe.aria.microsoft.com",
        "northeurope.notifications.teams.microsoft.com", "presence.teams.microsoft.com",
        "substrate.office.com", "teams.microsoft.com", "teams.microsoft.com",
        "teams.microsoft.com", "trouter2-asse-a.trouter.teams.microsoft.com",
    };
    uint16_t versions[MAX_NAMES];

    if (tls_names("teams.pcap", &n, NULL)) {
        qsort(n.v, n.n, sizeof(n.v[0]), cmp_str);
        CU_ASSERT_EQUAL(n.n, FP_ARRAY_SIZE(teams));
        for (unsigned i = 0; i < n.n && i < FP_ARRAY_SIZE(teams); i++)
            CU_ASSERT_STRING_EQUAL(n.v[i], teams[i]);
    }
    /* tshark: 6 ClientHellos to www.iit.cnr.it offering TLS 1.3 (0x0304) after GREASE */
    if (tls_names("chrome.pcap", &n, versions)) {
        CU_ASSERT_EQUAL(n.n, 6);
        for (unsigned i = 0; i < n.n; i++) {
            CU_ASSERT_STRING_EQUAL(n.v[i], "www.iit.cnr.it");
            CU_ASSERT_EQUAL(versions[i], 0x0304);
        }
    }
}

static void test_pcap_dns_http(void)
{
    int dlt;
    struct pcap_pkthdr *h;
    const u_char *d;
    struct l4 l;
    struct fp_classify_dns m;
    struct fp_classify_dns_answer a[16];
    unsigned frame = 0;
    pcap_t *p;

    /* tshark: frame 1 response www.l.google.com AAAA; frame 5 e7.whatsapp.net, 8 A. */
    static const uint8_t wa[8][4] = {{169, 45, 219, 235}, {169, 47, 40, 142},
                                     {169, 45, 248, 121}, {108, 168, 176, 234},
                                     {169, 45, 248, 189}, {169, 45, 248, 180},
                                     {169, 53, 81, 79},   {169, 45, 219, 232}};
    if ((p = open_pcap("dns.pcap", &dlt)) != NULL) {
        while (pcap_next_ex(p, &h, &d) == 1) {
            frame++;
            if (!locate_l4(dlt, d, h->caplen, &l) || l.proto != 17)
                continue;
            enum fp_classify_result r = fp_classify_dns_parse(l.pl, l.plen, false, &m, a, 16);
            CU_ASSERT_EQUAL(r, FP_CLASSIFY_OK);
            if (frame == 1) {
                CU_ASSERT_STRING_EQUAL(m.qname, "www.l.google.com");
                CU_ASSERT_EQUAL(m.qtype, 28);
                CU_ASSERT(m.qr);
            }
            if (frame == 5) {
                CU_ASSERT_STRING_EQUAL(m.qname, "e7.whatsapp.net");
                CU_ASSERT_EQUAL_FATAL(m.n_answers, 8);
                for (unsigned i = 0; i < 8; i++) {
                    CU_ASSERT_EQUAL(a[i].type, FP_DNS_TYPE_A);
                    CU_ASSERT(memcmp(a[i].addr, wa[i], 4) == 0);
                    CU_ASSERT_STRING_EQUAL(a[i].name, "e7.whatsapp.net");
                }
            }
        }
        CU_ASSERT_EQUAL(frame, 5);
        pcap_close(p);
    }
    /* tshark: queries (frames 1, 4) fine; responses carry a "Name too long". */
    if ((p = open_pcap("malformed_dns.pcap", &dlt)) != NULL) {
        frame = 0;
        while (pcap_next_ex(p, &h, &d) == 1) {
            frame++;
            if (!locate_l4(dlt, d, h->caplen, &l) || l.proto != 17)
                continue;
            enum fp_classify_result r = fp_classify_dns_parse(l.pl, l.plen, false, &m, a, 16);
            if (frame == 1 || frame == 4) {
                CU_ASSERT_EQUAL(r, FP_CLASSIFY_OK);
                CU_ASSERT_STRING_EQUAL(m.qname, "www.xt.com");
            } else {
                CU_ASSERT_EQUAL(r, FP_CLASSIFY_MALFORMED);
                CU_ASSERT(m.has_question);
            }
        }
        pcap_close(p);
    }
    /* tshark: GET, Host 151.99.72.125, User-Agent Microsoft-Delivery-Optimization/10.0 */
    if ((p = open_pcap("windowsupdate_over_http.pcap", &dlt)) != NULL) {
        struct fp_classify_http hh;
        bool seen = false;
        while (!seen && pcap_next_ex(p, &h, &d) == 1) {
            if (!locate_l4(dlt, d, h->caplen, &l) || l.proto != 6 || l.plen == 0)
                continue;
            if (fp_classify_http_parse(l.pl, l.plen, &hh) != FP_CLASSIFY_OK)
                continue;
            seen = true;
            CU_ASSERT_STRING_EQUAL(hh.method, "GET");
            CU_ASSERT_STRING_EQUAL(hh.host, "151.99.72.125");
            CU_ASSERT_STRING_EQUAL(hh.user_agent, "Microsoft-Delivery-Optimization/10.0");
        }
        CU_ASSERT(seen);
        pcap_close(p);
    }
}

static int suite_cleanup(void)
{
    fp_classify_quic_ctx_destroy(g_qctx);
    g_qctx = NULL;
    return 0;
}

void fp_test_register_classify(void);

void fp_test_register_classify(void)
{
    static const CU_TestInfo tests[] = {
        {"utf8 sanitizer", test_utf8_sanitize},
        {"result names", test_result_names},
        {"reasm basic", test_reasm_basic},
        {"reasm ranges full", test_reasm_ranges_full},
        {"reasm tcp seq", test_reasm_tcp},
        {"tls client hello", test_tls_client_hello},
        {"tls truncated every offset", test_tls_truncated_every_offset},
        {"tls lying lengths", test_tls_lying_lengths},
        {"tls record checks", test_tls_record_checks},
        {"tls sni/alpn edges", test_tls_sni_edge},
        {"tls multi-record + segments", test_tls_multi_record_and_segments},
        {"tls server hello", test_tls_server_hello},
        {"quic rfc9001/9369 A.1 keys", test_quic_initial_keys},
        {"quic rfc9001 A.2 packet", test_quic_rfc9001_packet},
        {"quic split hello v1", test_quic_split_v1},
        {"quic split hello v2/draft29", test_quic_split_v2_draft29},
        {"quic frames and keys", test_quic_frames_and_keys},
        {"quic headers", test_quic_headers},
        {"dns query/response", test_dns_query_response},
        {"dns truncated and lying", test_dns_truncated_and_lying},
        {"dns compression hostile", test_dns_compression_hostile},
        {"dns pointer chain", test_dns_pointer_chain},
        {"http basic", test_http_basic},
        {"http hostile", test_http_hostile},
        {"pcap quic", test_pcap_quic},
        {"pcap tls", test_pcap_tls},
        {"pcap dns/http", test_pcap_dns_http},
        CU_TEST_INFO_NULL,
    };
    CU_pSuite s = CU_add_suite("classify", NULL, suite_cleanup);
    for (const CU_TestInfo *t = tests; s && t->pName; t++)
        CU_add_test(s, t->pName, t->pTestFunc);
}
