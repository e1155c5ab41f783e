/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "relay": the socket-free part of flowpulse-relay (src/export/ipfix_stream.c):
 * stream framing across arbitrary chunk boundaries, malformed input, splitting of large
 * messages for UDP, template cache add/withdraw/re-send. Output messages are checked by an
 * independent little IPFIX parser written here from RFC 7011.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/ipfix_stream.h"
#include "tests/unit/fp_test.h"

/* ---------------------------------------------------------------------------------------- */
/* Message builder */

struct mb {
    uint8_t buf[FP_IPFIX_MSG_MAX];
    size_t len;
    size_t set_off;
};

static void w16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
    w16(p, v >> 16);
    w16(p + 2, v & 0xffff);
}

static unsigned r16(const uint8_t *p)
{
    return (unsigned)(p[0] << 8 | p[1]);
}

static uint32_t r32(const uint8_t *p)
{
    return (uint32_t)r16(p) << 16 | r16(p + 2);
}

static void mb_begin(struct mb *m, uint32_t domain, uint32_t seq, uint32_t etime)
{
    memset(m->buf, 0, FP_IPFIX_HDR_LEN);
    w16(m->buf, 10);
    w32(m->buf + 4, etime);
    w32(m->buf + 8, seq);
    w32(m->buf + 12, domain);
    m->len = FP_IPFIX_HDR_LEN;
    m->set_off = 0;
}

static void mb_u16(struct mb *m, unsigned v)
{
    w16(m->buf + m->len, v);
    m->len += 2;
}

static void mb_u32(struct mb *m, uint32_t v)
{
    w32(m->buf + m->len, v);
    m->len += 4;
}

static void mb_set(struct mb *m, unsigned id)
{
    m->set_off = m->len;
    mb_u16(m, id);
    mb_u16(m, 0);
}

static void mb_set_end(struct mb *m)
{
    w16(m->buf + m->set_off + 2, (unsigned)(m->len - m->set_off));
}

static size_t mb_end(struct mb *m)
{
    w16(m->buf + 2, (unsigned)m->len);
    return m->len;
}

/* Template 256: src, dst (4), packets, octets (8), applicationName (variable). */
static void mb_tmpl256(struct mb *m)
{
    mb_u16(m, 256);
    mb_u16(m, 5);
    mb_u16(m, 8), mb_u16(m, 4);
    mb_u16(m, 12), mb_u16(m, 4);
    mb_u16(m, 2), mb_u16(m, 8);
    mb_u16(m, 1), mb_u16(m, 8);
    mb_u16(m, 96), mb_u16(m, 65535);
}

/* Template 257: src, dst, enterprise IE 32473/1 (4 octets). */
static void mb_tmpl257(struct mb *m)
{
    mb_u16(m, 257);
    mb_u16(m, 3);
    mb_u16(m, 8), mb_u16(m, 4);
    mb_u16(m, 12), mb_u16(m, 4);
    mb_u16(m, 0x8001), mb_u16(m, 4), mb_u32(m, 32473);
}

/* Options template 300: scope observationDomainId, exportedMessageTotalCount. */
static void mb_opt300(struct mb *m)
{
    mb_u16(m, 300);
    mb_u16(m, 2);
    mb_u16(m, 1);
    mb_u16(m, 149), mb_u16(m, 4);
    mb_u16(m, 41), mb_u16(m, 8);
}

/* Record i of template 256; name length varies (including the 3-octet length form). */
static size_t rec256(uint8_t *p, unsigned i)
{
    size_t n = 0;
    w32(p, 0x0a000000u + i), n += 4;
    w32(p + n, 0xc0a80000u + i), n += 4;
    w32(p + n, 0), w32(p + n + 4, i + 1), n += 8;
    w32(p + n, 0), w32(p + n + 4, 100 * i), n += 8;
    size_t nl = (i * 7) % 40;
    if (i % 50 == 49) {
        nl = 300;
        p[n++] = 255;
        w16(p + n, (unsigned)nl);
        n += 2;
    } else {
        p[n++] = (uint8_t)nl;
    }
    for (size_t k = 0; k < nl; k++)
        p[n++] = (uint8_t)('a' + (i + k) % 26);
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Output capture and the independent checker */

#define MAX_OUT 512

struct cap {
    unsigned n;
    size_t len[MAX_OUT];
    uint8_t *msg[MAX_OUT];
};

static int cap_emit(void *ctx, const uint8_t *msg, size_t len)
{
    struct cap *c = ctx;
    if (c->n >= MAX_OUT)
        return -ENOSPC;
    c->msg[c->n] = malloc(len);
    memcpy(c->msg[c->n], msg, len);
    c->len[c->n++] = len;
    return 0;
}

static void cap_free(struct cap *c)
{
    for (unsigned i = 0; i < c->n; i++)
        free(c->msg[i]);
    c->n = 0;
}

/* Checker state: templates seen so far (one domain), field lengths. */
struct chk_tmpl {
    bool known;
    unsigned nf;
    unsigned flen[32];
};

struct chk {
    struct chk_tmpl t[65536];
    uint8_t recs[1 << 20]; /* concatenated data records of template 256, in order */
    size_t recs_len;
    unsigned nrec_total;   /* data records seen (all templates) */
    unsigned nrec256;
    uint8_t inmsg[65536];  /* template defined in the message being checked */
    const char *err;
};

static long chk_rec_len(const struct chk_tmpl *t, const uint8_t *p, size_t avail)
{
    size_t off = 0;
    for (unsigned i = 0; i < t->nf; i++) {
        size_t fl = t->flen[i];
        if (fl == 65535) {
            if (off >= avail)
                return -1;
            fl = p[off++];
            if (fl == 255) {
                if (off + 2 > avail)
                    return -1;
                fl = r16(p + off);
                off += 2;
            }
        }
        off += fl;
    }
    return off <= avail ? (long)off : -1;
}

static size_t chk_min_len(const struct chk_tmpl *t)
{
    size_t m = 0;
    for (unsigned i = 0; i < t->nf; i++)
        m += t->flen[i] == 65535 ? 1 : t->flen[i];
    return m;
}

/*
 * Check one output message: header, Set walk, templates before data (known from earlier
 * messages or, with @p tmpl_in_msg, from this very message), every record intact, sequence
 * number = data records before it. Returns true if fine, else sets c->err.
 */
static bool chk_msg(struct chk *c, const uint8_t *m, size_t len, size_t max, uint32_t domain,
                    uint32_t etime, uint32_t seq0, bool tmpl_in_msg)
{
    memset(c->inmsg, 0, sizeof(c->inmsg));
    if (len < 16 || len > max || r16(m) != 10 || r16(m + 2) != len) {
        c->err = "bad header/length";
        return false;
    }
    if (r32(m + 4) != etime || r32(m + 12) != domain) {
        c->err = "export time or domain changed";
        return false;
    }
    if (r32(m + 8) != seq0 + c->nrec_total) {
        c->err = "sequence number is not the count of data records before";
        return false;
    }
    size_t off = 16;
    while (off < len) {
        if (len - off < 4) {
            c->err = "truncated set header";
            return false;
        }
        unsigned sid = r16(m + off), slen = r16(m + off + 2);
        if (slen <= 4 || off + slen > len) {
            c->err = "bad/empty set length";
            return false;
        }
        const uint8_t *s = m + off + 4, *e = m + off + slen;
        if (sid == 2 || sid == 3) {
            while (e - s >= 4) {
                unsigned tid = r16(s), nf = r16(s + 2), hl = sid == 3 ? 6 : 4;
                if (nf == 0) {
                    c->err = "withdrawal forwarded";
                    return false;
                }
                struct chk_tmpl *t = &c->t[tid];
                t->known = true;
                t->nf = nf;
                c->inmsg[tid] = 1;
                s += hl;
                for (unsigned i = 0; i < nf; i++) {
                    t->flen[i] = r16(s + 2);
                    s += (s[0] & 0x80) ? 8 : 4;
                }
            }
            if (s != e) {
                c->err = "template set not consumed exactly";
                return false;
            }
        } else {
            struct chk_tmpl *t = &c->t[sid];
            if (!t->known) {
                c->err = "data before its template";
                return false;
            }
            if (tmpl_in_msg && !c->inmsg[sid]) {
                c->err = "data after a split without its template in the same message";
                return false;
            }
            size_t minl = chk_min_len(t);
            while ((size_t)(e - s) >= minl && minl > 0) {
                long rl = chk_rec_len(t, s, (size_t)(e - s));
                if (rl <= 0) {
                    c->err = "record cut";
                    return false;
                }
                if (sid == 256) {
                    memcpy(c->recs + c->recs_len, s, (size_t)rl);
                    c->recs_len += (size_t)rl;
                    c->nrec256++;
                }
                c->nrec_total++;
                s += rl;
            }
            if (s != e) {
                c->err = "padding at the end of a split set";
                return false;
            }
        }
        off += slen;
    }
    return true;
}

/* Build the 8 KB message: templates 256 + options 300, ~8 KB of 256 data, an options record. */
static size_t build_big(struct mb *m, uint8_t *expect, size_t *expect_len, unsigned *nrec)
{
    mb_begin(m, 7, 1000, 1700000000);
    mb_set(m, 2);
    mb_tmpl256(m);
    mb_set_end(m);
    mb_set(m, 3);
    mb_opt300(m);
    mb_set_end(m);
    mb_set(m, 256);
    *expect_len = 0;
    *nrec = 0;
    while (m->len < 8200) {
        size_t n = rec256(m->buf + m->len, *nrec);
        memcpy(expect + *expect_len, m->buf + m->len, n);
        *expect_len += n;
        m->len += n;
        (*nrec)++;
    }
    m->buf[m->len++] = 0; /* one octet of padding */
    mb_set_end(m);
    mb_set(m, 300);
    mb_u32(m, 7);
    mb_u32(m, 0), mb_u32(m, 42);
    mb_set_end(m);
    return mb_end(m);
}

static struct fp_ipfix_stream *mk_stream(struct cap *c, uint32_t max, bool strip)
{
    struct fp_ipfix_stream_params p = {
        .max_msg = max, .strip_withdrawals = strip, .emit = cap_emit, .emit_ctx = c,
    };
    return fp_ipfix_stream_create(&p);
}

/* ---------------------------------------------------------------------------------------- */
/* Tests */

static struct mb g_mb;
static uint8_t g_stream[200000];

/* Concatenate a few messages of different sizes into g_stream; returns the total. */
static size_t build_stream(size_t *off, size_t *lens, unsigned nmsg)
{
    size_t total = 0;
    for (unsigned i = 0; i < nmsg; i++) {
        struct mb *m = &g_mb;
        mb_begin(m, i, i * 3, 1);
        mb_set(m, 2);
        mb_tmpl256(m);
        mb_set_end(m);
        mb_set(m, 256);
        for (unsigned r = 0; r < (i * 37) % 120; r++)
            m->len += rec256(m->buf + m->len, r);
        mb_set_end(m);
        mb_end(m);
        off[i] = total;
        lens[i] = m->len;
        memcpy(g_stream + total, m->buf, m->len);
        total += m->len;
    }
    return total;
}

/* Feed [0, total) in chunks given by next_chunk(); check every message comes out intact. */
static void feed_and_check(size_t total, const size_t *off, const size_t *lens, unsigned nmsg,
                           unsigned mode)
{
    static struct fp_ipfix_framer f;
    unsigned got = 0;
    size_t pos = 0;
    fp_ipfix_framer_init(&f);
    srand(12345);
    while (pos < total) {
        size_t chunk = mode == 0 ? 1 : 1 + (size_t)rand() % 5000;
        if (chunk > total - pos)
            chunk = total - pos;
        size_t took = fp_ipfix_framer_push(&f, g_stream + pos, chunk);
        CU_ASSERT_FATAL(took > 0);
        pos += took;
        const uint8_t *msg;
        size_t len;
        int rc;
        while ((rc = fp_ipfix_framer_next(&f, &msg, &len)) == 1) {
            CU_ASSERT_FATAL(got < nmsg);
            CU_ASSERT_EQUAL(len, lens[got]);
            CU_ASSERT(memcmp(msg, g_stream + off[got], len) == 0);
            CU_ASSERT_EQUAL(fp_ipfix_msg_check(msg, len, NULL), 0);
            got++;
        }
        CU_ASSERT_EQUAL(rc, 0);
    }
    CU_ASSERT_EQUAL(got, nmsg);
    CU_ASSERT_EQUAL(fp_ipfix_framer_buffered(&f), 0);
}

static void test_framing_chunks(void)
{
    size_t off[12], lens[12];
    size_t total = build_stream(off, lens, 12);
    CU_ASSERT(total > 20000);
    feed_and_check(total, off, lens, 12, 0); /* byte by byte */
    feed_and_check(total, off, lens, 12, 1); /* random chunks up to 5000 */
}

static void test_framing_malformed(void)
{
    static struct fp_ipfix_framer f;
    const uint8_t *msg;
    size_t len;
    uint8_t v9[4] = {0, 9, 0, 20};
    uint8_t short_len[4] = {0, 10, 0, 12};
    uint8_t partial[3] = {0, 10, 0};

    fp_ipfix_framer_init(&f);
    fp_ipfix_framer_push(&f, partial, sizeof(partial));
    CU_ASSERT_EQUAL(fp_ipfix_framer_next(&f, &msg, &len), 0);
    fp_ipfix_framer_init(&f);
    fp_ipfix_framer_push(&f, v9, sizeof(v9));
    CU_ASSERT_EQUAL(fp_ipfix_framer_next(&f, &msg, &len), -EBADMSG);
    fp_ipfix_framer_init(&f);
    fp_ipfix_framer_push(&f, v9, 1);
    CU_ASSERT_EQUAL(fp_ipfix_framer_next(&f, &msg, &len), 0);
    fp_ipfix_framer_push(&f, v9 + 1, 1);
    CU_ASSERT_EQUAL(fp_ipfix_framer_next(&f, &msg, &len), -EBADMSG);
    fp_ipfix_framer_init(&f);
    fp_ipfix_framer_push(&f, short_len, sizeof(short_len));
    CU_ASSERT_EQUAL(fp_ipfix_framer_next(&f, &msg, &len), -EBADMSG);

    /* Content checks. */
    struct mb *m = &g_mb;
    const char *why;
    mb_begin(m, 1, 0, 1);
    mb_set(m, 2);
    mb_tmpl256(m);
    mb_set_end(m);
    size_t good = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), 0);
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good - 1, &why), -EBADMSG); /* length mismatch */
    w16(m->buf + 16 + 2, 3); /* set length 3 */
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), -EBADMSG);
    w16(m->buf + 16 + 2, (unsigned)(good - 16 + 4)); /* set beyond message */
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), -EBADMSG);
    w16(m->buf + 16 + 2, (unsigned)(good - 16));
    w16(m->buf + 16, 1); /* Set ID 1 (NetFlow v9 legacy) */
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), -EBADMSG);
    CU_ASSERT_PTR_NOT_NULL(why);
    w16(m->buf + 16, 2);
    w16(m->buf + 20, 100); /* template ID 100 */
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), -EBADMSG);
    w16(m->buf + 20, 256);
    w16(m->buf + 22, 6); /* field count beyond the set */
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), -EBADMSG);
    w16(m->buf + 22, 5);
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), 0);

    /* Options template with scope count 0. */
    mb_begin(m, 1, 0, 1);
    mb_set(m, 3);
    mb_opt300(m);
    mb_set_end(m);
    good = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), 0);
    w16(m->buf + 16 + 4 + 4, 0);
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, &why), -EBADMSG);

    /* A data record overrunning its Set (variable length beyond the end) closes the stream. */
    struct cap c = {0};
    struct fp_ipfix_stream *s = mk_stream(&c, 1472, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    mb_begin(m, 1, 0, 1);
    mb_set(m, 2);
    mb_tmpl256(m);
    mb_set_end(m);
    mb_set(m, 256);
    size_t r = m->len;
    m->len += rec256(m->buf + m->len, 3);
    m->buf[r + 24] = 200; /* name length far beyond the set */
    mb_set_end(m);
    good = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(m->buf, good, NULL), 0);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, good), -EBADMSG);
    struct fp_ipfix_stream_stats st;
    fp_ipfix_stream_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.malformed, 1);
    fp_ipfix_stream_destroy(s);
    cap_free(&c);
}

static void test_split_8k(void)
{
    static struct chk c;
    static uint8_t expect[16384];
    size_t expect_len;
    unsigned nrec;
    struct mb *m = &g_mb;
    size_t len = build_big(m, expect, &expect_len, &nrec);
    CU_ASSERT(len > 8192);

    /* Unsplit (TCP): the message goes out byte for byte. */
    struct cap out = {0};
    struct fp_ipfix_stream *s = mk_stream(&out, 0, false);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL_FATAL(out.n, 1);
    CU_ASSERT_EQUAL(out.len[0], len);
    CU_ASSERT(memcmp(out.msg[0], m->buf, len) == 0);
    fp_ipfix_stream_destroy(s);
    cap_free(&out);

    /* UDP, 1472: several messages; the checker validates each. */
    s = mk_stream(&out, 1472, true);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT(out.n >= 6);
    memset(&c, 0, sizeof(c));
    for (unsigned i = 0; i < out.n; i++) {
        bool ok = chk_msg(&c, out.msg[i], out.len[i], 1472, 7, 1700000000, 1000, i > 0);
        CU_ASSERT(ok);
        if (!ok) {
            fprintf(stderr, "message %u: %s\n", i, c.err);
            break;
        }
    }
    CU_ASSERT_EQUAL(c.nrec256, nrec);
    CU_ASSERT_EQUAL(c.nrec_total, nrec + 1); /* + the options record */
    CU_ASSERT_EQUAL(c.recs_len, expect_len);
    CU_ASSERT(memcmp(c.recs, expect, expect_len) == 0);
    struct fp_ipfix_stream_stats st;
    fp_ipfix_stream_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.splits, 1);
    CU_ASSERT_EQUAL(st.oversize, 0);
    CU_ASSERT_EQUAL(st.msgs_out, out.n);
    CU_ASSERT_EQUAL(st.data_records, nrec + 1);
    unsigned n_first = out.n;

    /* The next message continues the numbering: seq = 1000 + records so far. */
    mb_begin(m, 7, 1000 + nrec + 1, 1700000000);
    mb_set(m, 256);
    m->len += rec256(m->buf + m->len, 1);
    mb_set_end(m);
    len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL_FATAL(out.n, n_first + 1);
    CU_ASSERT(chk_msg(&c, out.msg[n_first], out.len[n_first], 1472, 7, 1700000000, 1000, false));
    CU_ASSERT(memcmp(out.msg[n_first], m->buf, len) == 0); /* small message: unchanged */
    fp_ipfix_stream_destroy(s);
    cap_free(&out);

    /* A small maximum (256) still gives valid messages. */
    len = build_big(m, expect, &expect_len, &nrec);
    s = mk_stream(&out, 256, true);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    memset(&c, 0, sizeof(c));
    bool all_ok = true;
    unsigned big = 0;
    for (unsigned i = 0; i < out.n && all_ok; i++) {
        /* records with a 300-octet name cannot fit 256: they go alone, counted as oversize */
        size_t lim = out.len[i] > 256 ? FP_IPFIX_MSG_MAX : 256;
        big += out.len[i] > 256;
        all_ok = chk_msg(&c, out.msg[i], out.len[i], lim, 7, 1700000000, 1000, i > 0);
    }
    CU_ASSERT(all_ok);
    CU_ASSERT_EQUAL(c.nrec256, nrec);
    CU_ASSERT(memcmp(c.recs, expect, expect_len) == 0);
    fp_ipfix_stream_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.oversize, big);
    fp_ipfix_stream_destroy(s);
    cap_free(&out);
}

static void test_template_cache(void)
{
    struct cap out = {0};
    struct mb *m = &g_mb;
    struct fp_ipfix_stream_stats st;
    uint16_t sid;
    size_t rl;
    struct fp_ipfix_stream *s = mk_stream(&out, 1472, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    /* Domain 5: templates 256, 257, options 300; domain 6: 256 only. */
    mb_begin(m, 5, 0, 10);
    mb_set(m, 2);
    mb_tmpl256(m);
    mb_tmpl257(m);
    mb_set_end(m);
    mb_set(m, 3);
    mb_opt300(m);
    mb_set_end(m);
    mb_set(m, 256);
    m->len += rec256(m->buf + m->len, 0);
    m->len += rec256(m->buf + m->len, 1);
    mb_set_end(m);
    size_t len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL(fp_ipfix_stream_template_count(s, 5), 3);
    CU_ASSERT_EQUAL(fp_ipfix_stream_template_count(s, 6), 0);
    const uint8_t *t = fp_ipfix_stream_template_find(s, 5, 257, &sid, &rl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(sid, 2);
    CU_ASSERT_EQUAL(rl, 4 + 3 * 4 + 4);
    CU_ASSERT_EQUAL(r16(t), 257);
    t = fp_ipfix_stream_template_find(s, 5, 300, &sid, &rl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(sid, 3);
    CU_ASSERT_EQUAL(rl, 6 + 2 * 4);

    mb_begin(m, 6, 0, 10);
    mb_set(m, 2);
    mb_tmpl256(m);
    mb_set_end(m);
    len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL(fp_ipfix_stream_template_count(s, 6), 1);
    CU_ASSERT_PTR_NULL(fp_ipfix_stream_template_find(s, 6, 257, NULL, NULL));

    /* Re-send: one message per domain, templates then options templates, next sequence. */
    cap_free(&out);
    CU_ASSERT_EQUAL(fp_ipfix_stream_resend_templates(s, 99), 2);
    CU_ASSERT_EQUAL_FATAL(out.n, 2);
    const uint8_t *r = out.msg[0];
    CU_ASSERT_EQUAL(fp_ipfix_msg_check(r, out.len[0], NULL), 0);
    CU_ASSERT_EQUAL(r32(r + 4), 99);
    CU_ASSERT_EQUAL(r32(r + 8), 2); /* two data records were sent in domain 5 */
    CU_ASSERT_EQUAL(r32(r + 12), 5);
    CU_ASSERT_EQUAL(r16(r + 16), 2);
    size_t s1 = r16(r + 18);
    CU_ASSERT_EQUAL(s1, 4 + (4 + 5 * 4) + (4 + 3 * 4 + 4));
    CU_ASSERT_EQUAL(r16(r + 16 + s1), 3);
    CU_ASSERT_EQUAL(out.len[0], 16 + s1 + 4 + 14);
    CU_ASSERT_EQUAL(r32(out.msg[1] + 12), 6);
    CU_ASSERT_EQUAL(r32(out.msg[1] + 8), 0);
    cap_free(&out);

    /* Withdraw 257 (UDP output: the withdrawal is applied but not forwarded). */
    mb_begin(m, 5, 2, 11);
    mb_set(m, 2);
    mb_u16(m, 257);
    mb_u16(m, 0);
    mb_set_end(m);
    len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL(out.n, 0);
    CU_ASSERT_EQUAL(fp_ipfix_stream_template_count(s, 5), 2);
    CU_ASSERT_PTR_NULL(fp_ipfix_stream_template_find(s, 5, 257, NULL, NULL));
    fp_ipfix_stream_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.withdrawals_stripped, 1);
    CU_ASSERT_EQUAL(st.templates_withdrawn, 1);

    /* Redefine 256 with different fields: the cache holds the new record. */
    mb_begin(m, 5, 2, 12);
    mb_set(m, 2);
    mb_tmpl257(m);
    w16(m->buf + m->len - 20, 256); /* record is 20 octets */
    mb_set_end(m);
    len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    t = fp_ipfix_stream_template_find(s, 5, 256, NULL, &rl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(r16(t + 2), 3);
    CU_ASSERT_EQUAL(rl, 20);
    cap_free(&out);

    /* Withdraw all templates (ID 2): options template 300 stays. */
    mb_begin(m, 5, 2, 13);
    mb_set(m, 2);
    mb_u16(m, 2);
    mb_u16(m, 0);
    mb_set_end(m);
    len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL(fp_ipfix_stream_template_count(s, 5), 1);
    CU_ASSERT_PTR_NOT_NULL(fp_ipfix_stream_template_find(s, 5, 300, NULL, NULL));
    CU_ASSERT_EQUAL(fp_ipfix_stream_resend_templates(s, 100), 2);
    CU_ASSERT_EQUAL(r16(out.msg[0] + 16), 3);
    fp_ipfix_stream_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.template_resends, 4);
    fp_ipfix_stream_destroy(s);
    cap_free(&out);

    /* TCP output keeps withdrawals; restart_output numbers the next message from 0. */
    s = mk_stream(&out, 0, false);
    mb_begin(m, 5, 40, 11);
    mb_set(m, 2);
    mb_tmpl256(m);
    mb_set_end(m);
    mb_set(m, 256);
    m->len += rec256(m->buf + m->len, 0);
    mb_set_end(m);
    len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL(r32(out.msg[0] + 8), 40);
    fp_ipfix_stream_restart_output(s);
    CU_ASSERT_EQUAL(fp_ipfix_stream_resend_templates(s, 12), 1);
    CU_ASSERT_EQUAL(r32(out.msg[1] + 8), 0);
    mb_begin(m, 5, 41, 12);
    mb_set(m, 2);
    mb_u16(m, 256);
    mb_u16(m, 0);
    mb_set_end(m);
    len = mb_end(m);
    CU_ASSERT_EQUAL(fp_ipfix_stream_process(s, m->buf, len), 0);
    CU_ASSERT_EQUAL_FATAL(out.n, 3);
    CU_ASSERT_EQUAL(out.len[2], len);
    CU_ASSERT_EQUAL(r32(out.msg[2] + 8), 0);
    CU_ASSERT(memcmp(out.msg[2] + 12, m->buf + 12, len - 12) == 0);
    CU_ASSERT_EQUAL(fp_ipfix_stream_template_count(s, 5), 0);
    CU_ASSERT_EQUAL(fp_ipfix_stream_resend_templates(s, 13), 0);
    fp_ipfix_stream_destroy(s);
    fp_ipfix_stream_destroy(NULL);
    cap_free(&out);
}

void fp_test_register_relay(void);
void fp_test_register_relay(void)
{
    static const CU_TestInfo tests[] = {
        {"framing_chunks", test_framing_chunks},
        {"framing_malformed", test_framing_malformed},
        {"split_8k", test_split_8k},
        {"template_cache", test_template_cache},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("relay", tests);
}
