/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NetFlow suite: the v9 and v5 encoders (src/export/netflow.c). Packets are captured by the
 * send callback and parsed back here by a straightforward parser written from RFC 3954 and
 * the v5 layout (not from the encoder's code): header fields, Count, sequence numbers,
 * FlowSet lengths and padding, templates (looked up by ID), data records decoded by their
 * template's field list, packet sizes, v5 splits and time reconstruction the way collectors
 * do it (absolute = UNIX time − (sysUpTime − FIRST)).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp_time.h"
#include "export/netflow.h"
#include "tests/unit/fp_test.h"

/* ------------------------------------------------------------------ capture */

#define CAP_MAX 600
#define CAP_LEN 1500

static struct {
    uint8_t pkt[CAP_MAX][CAP_LEN];
    size_t len[CAP_MAX];
    unsigned n;
    int fail_rc; /* returned by the callback when non-zero */
} cap;

static int cap_send(void *arg, const uint8_t *pkt, size_t len)
{
    (void)arg;
    CU_ASSERT_FATAL(cap.n < CAP_MAX);
    CU_ASSERT_FATAL(len <= CAP_LEN);
    memcpy(cap.pkt[cap.n], pkt, len);
    cap.len[cap.n++] = len;
    return cap.fail_rc;
}

static void cap_reset(void)
{
    cap.n = 0;
    cap.fail_rc = 0;
}

static struct fp_nf_encoder enc; /* 9 KB: not on the stack */

static void params(struct fp_nf_params *p, unsigned version)
{
    memset(p, 0, sizeof(*p));
    p->version = version;
    p->source_id = 0x01020304;
    p->engine_type = 3;
    p->engine_id = 9;
    p->send = cap_send;
    p->active_timeout_s = 60;
    p->inactive_timeout_s = 15;
}

/* ------------------------------------------------------------------ independent parser */

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p)
{
    return rd16(p) << 16 | rd16(p + 2);
}

static uint64_t rdn(const uint8_t *p, unsigned len)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v = v << 8 | p[i];
    return v;
}

/* One decoded flow record (either version). */
struct rec {
    unsigned tid; /* v9 template ID, 0 for v5 */
    unsigned ipver;
    uint8_t src[16], dst[16];
    uint64_t bytes, pkts;
    uint32_t first, last;         /* sysUpTime ms */
    uint64_t abs_first, abs_last; /* ms since epoch, computed like a collector */
    unsigned sport, dport, proto, tos, flags, input, icmp, vlan, dirn, ttl_min, ttl_max, reason;
    int has_icmp;
};

struct tmpl {
    unsigned n;
    unsigned type[32], len[32];
    unsigned scope_n; /* options templates: scope fields come first */
    int options;
};

struct pkt_info {
    unsigned version, count, sysup, secs, nsecs, seq, source;
    unsigned templates, opt_templates, opt_records, data_records, sets;
    int has_templates;
};

static struct tmpl tmpls[1024];
static struct rec recs_out[4000];
static unsigned n_recs_out;
static uint64_t opt_values[8];

static void parse_reset(void)
{
    memset(tmpls, 0, sizeof(tmpls));
    n_recs_out = 0;
}

static void decode_field(struct rec *r, unsigned type, const uint8_t *p, unsigned len)
{
    uint64_t v = rdn(p, len);
    switch (type) {
    case 1:
        r->bytes = v;
        break;
    case 2:
        r->pkts = v;
        break;
    case 4:
        r->proto = (unsigned)v;
        break;
    case 5:
        r->tos = (unsigned)v;
        break;
    case 6:
        r->flags = (unsigned)v;
        break;
    case 7:
        r->sport = (unsigned)v;
        break;
    case 8:
        memcpy(r->src, p, 4);
        r->ipver = 4;
        break;
    case 10:
        r->input = (unsigned)v;
        break;
    case 11:
        r->dport = (unsigned)v;
        break;
    case 12:
        memcpy(r->dst, p, 4);
        break;
    case 21:
        r->last = (uint32_t)v;
        break;
    case 22:
        r->first = (uint32_t)v;
        break;
    case 27:
        memcpy(r->src, p, 16);
        r->ipver = 6;
        break;
    case 28:
        memcpy(r->dst, p, 16);
        break;
    case 32:
        r->icmp = (unsigned)v;
        r->has_icmp = 1;
        break;
    case 52:
        r->ttl_min = (unsigned)v;
        break;
    case 53:
        r->ttl_max = (unsigned)v;
        break;
    case 58:
        r->vlan = (unsigned)v;
        break;
    case 60:
        CU_ASSERT(v == r->ipver);
        break;
    case 61:
        r->dirn = (unsigned)v;
        break;
    case 136:
        r->reason = (unsigned)v;
        break;
    default:
        break;
    }
}

/* Parse one v9 packet; appends data records to recs_out. Asserts structural rules. */
static void parse_v9(const uint8_t *b, size_t len, struct pkt_info *pi)
{
    memset(pi, 0, sizeof(*pi));
    CU_ASSERT_FATAL(len >= 20);
    pi->version = rd16(b);
    pi->count = rd16(b + 2);
    pi->sysup = rd32(b + 4);
    pi->secs = rd32(b + 8);
    pi->seq = rd32(b + 12);
    pi->source = rd32(b + 16);
    CU_ASSERT(pi->version == 9);
    size_t off = 20;
    while (off < len) {
        CU_ASSERT_FATAL(len - off >= 4);
        unsigned id = rd16(b + off), slen = rd16(b + off + 2);
        CU_ASSERT_FATAL(slen >= 4 && off + slen <= len);
        CU_ASSERT(slen % 4 == 0); /* padded to 4 octets */
        const uint8_t *s = b + off + 4, *end = b + off + slen;
        pi->sets++;
        if (id == 0) {
            while (end - s >= 4) {
                unsigned tid = rd16(s), nf = rd16(s + 2);
                CU_ASSERT_FATAL(tid >= 256 && tid < 1024 && nf <= 32);
                CU_ASSERT_FATAL(end - s >= 4 + 4 * (long)nf);
                struct tmpl *t = &tmpls[tid];
                memset(t, 0, sizeof(*t));
                t->n = nf;
                for (unsigned i = 0; i < nf; i++) {
                    t->type[i] = rd16(s + 4 + 4 * i);
                    t->len[i] = rd16(s + 6 + 4 * i);
                }
                s += 4 + 4 * nf;
                pi->templates++;
            }
            pi->has_templates = 1;
        } else if (id == 1) {
            unsigned tid = rd16(s), sl = rd16(s + 2), ol = rd16(s + 4);
            CU_ASSERT_FATAL(tid >= 256 && tid < 1024 && sl % 4 == 0 && ol % 4 == 0);
            CU_ASSERT_FATAL(6 + sl + ol <= (unsigned)(end - s));
            struct tmpl *t = &tmpls[tid];
            memset(t, 0, sizeof(*t));
            t->options = 1;
            t->scope_n = sl / 4;
            t->n = (sl + ol) / 4;
            for (unsigned i = 0; i < t->n; i++) {
                t->type[i] = rd16(s + 6 + 4 * i);
                t->len[i] = rd16(s + 8 + 4 * i);
            }
            /* the rest is padding, zero and shorter than 4 */
            for (const uint8_t *q = s + 6 + sl + ol; q < end; q++)
                CU_ASSERT(*q == 0);
            CU_ASSERT(end - (s + 6 + sl + ol) < 4);
            pi->opt_templates++;
        } else {
            CU_ASSERT_FATAL(id >= 256 && id < 1024);
            struct tmpl *t = &tmpls[id];
            CU_ASSERT_FATAL(t->n > 0); /* template known before its data */
            unsigned rl = 0;
            for (unsigned i = 0; i < t->n; i++)
                rl += t->len[i];
            while (end - s >= (long)rl) {
                if (t->options) {
                    const uint8_t *q = s;
                    for (unsigned i = 0; i < t->n && i < 8; i++) {
                        opt_values[i] = rdn(q, t->len[i]);
                        q += t->len[i];
                    }
                    pi->opt_records++;
                } else {
                    CU_ASSERT_FATAL(n_recs_out < FP_ARRAY_SIZE(recs_out));
                    struct rec *r = &recs_out[n_recs_out++];
                    memset(r, 0, sizeof(*r));
                    r->tid = id;
                    const uint8_t *q = s;
                    for (unsigned i = 0; i < t->n; i++) {
                        decode_field(r, t->type[i], q, t->len[i]);
                        q += t->len[i];
                    }
                    /* nfcapd/nfacctd: boot = UNIX secs × 1000 − sysUpTime */
                    uint64_t boot = (uint64_t)pi->secs * 1000 - pi->sysup;
                    r->abs_first = boot + r->first;
                    r->abs_last = boot + r->last;
                    pi->data_records++;
                }
                s += rl;
            }
            for (; s < end; s++)
                CU_ASSERT(*s == 0); /* padding */
        }
        off += slen;
    }
    CU_ASSERT(off == len);
    CU_ASSERT(pi->count == pi->templates + pi->opt_templates + pi->opt_records + pi->data_records);
}

static void parse_v5(const uint8_t *b, size_t len, struct pkt_info *pi)
{
    memset(pi, 0, sizeof(*pi));
    CU_ASSERT_FATAL(len >= 24);
    pi->version = rd16(b);
    pi->count = rd16(b + 2);
    pi->sysup = rd32(b + 4);
    pi->secs = rd32(b + 8);
    pi->nsecs = rd32(b + 12);
    pi->seq = rd32(b + 16);
    pi->source = rd16(b + 20); /* engine type, engine id */
    CU_ASSERT(pi->version == 5);
    CU_ASSERT(pi->count >= 1 && pi->count <= 30);
    CU_ASSERT_FATAL(len == 24 + 48 * (size_t)pi->count);
    CU_ASSERT(rd16(b + 22) == 0);
    CU_ASSERT(pi->nsecs < 1000000000u);
    uint64_t boot = (uint64_t)pi->secs * 1000 + pi->nsecs / 1000000 - pi->sysup;
    for (unsigned i = 0; i < pi->count; i++) {
        const uint8_t *p = b + 24 + 48 * i;
        CU_ASSERT_FATAL(n_recs_out < FP_ARRAY_SIZE(recs_out));
        struct rec *r = &recs_out[n_recs_out++];
        memset(r, 0, sizeof(*r));
        r->ipver = 4;
        memcpy(r->src, p, 4);
        memcpy(r->dst, p + 4, 4);
        CU_ASSERT(rd32(p + 8) == 0); /* nexthop */
        r->input = rd16(p + 12);
        CU_ASSERT(rd16(p + 14) == 0);
        r->pkts = rd32(p + 16);
        r->bytes = rd32(p + 20);
        r->first = rd32(p + 24);
        r->last = rd32(p + 28);
        r->sport = rd16(p + 32);
        r->dport = rd16(p + 34);
        CU_ASSERT(p[36] == 0);
        r->flags = p[37];
        r->proto = p[38];
        r->tos = p[39];
        CU_ASSERT(rd32(p + 40) == 0 && rd32(p + 44) == 0); /* AS, masks, pad */
        r->abs_first = boot + r->first;
        r->abs_last = boot + r->last;
        pi->data_records++;
    }
}

/* ------------------------------------------------------------------ test records */

#define T0_MS 1700000000000ull /* 2023-11-14 */

static void set_v4(uint8_t *a, uint8_t x, uint8_t y)
{
    memset(a, 0, 16);
    a[0] = 10;
    a[1] = x;
    a[2] = 0;
    a[3] = y;
}

static void set_v6(uint8_t *a, uint8_t x, uint8_t y)
{
    memset(a, 0, 16);
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[7] = x;
    a[15] = y;
}

static void dir_set(struct fp_flow_dir *d, uint64_t pk, uint64_t by, uint64_t f_ms, uint64_t l_ms)
{
    d->packets = pk;
    d->bytes = by;
    d->first_ns = f_ms * FP_NS_PER_MS + 123456; /* sub-ms part is dropped */
    d->last_ns = l_ms * FP_NS_PER_MS + 999999;
    d->tcp_flags = 0x11b; /* NS bit set: only the low 8 bits go out */
    d->ttl_min = 10;
    d->ttl_max = 64;
    d->tos = 0x28;
}

/* kind: 0 TCP v4, 1 UDP v6, 2 ICMP v4 one-way, 3 ICMPv6, 4 UDP v4 one-way */
static void make(struct fp_flow_record *r, unsigned kind, unsigned i, uint64_t t_ms)
{
    memset(r, 0, sizeof(*r));
    int v6 = kind == 1 || kind == 3;
    r->ip_version = v6 ? 6 : 4;
    if (v6) {
        set_v6(r->src, 1, (uint8_t)i);
        set_v6(r->dst, 2, (uint8_t)(i >> 8));
    } else {
        set_v4(r->src, 1, (uint8_t)i);
        set_v4(r->dst, 2, (uint8_t)(i >> 8));
    }
    r->proto = kind == 0 ? 6 : (kind == 1 || kind == 4) ? 17 : kind == 2 ? 1 : 58;
    if (kind < 2 || kind == 4) {
        r->sport = (uint16_t)(40000 + i);
        r->dport = kind == 0 ? 443 : 53;
    }
    r->end_reason = 2;
    r->port_id = 2;
    r->n_vlan = 1;
    r->vlan[0] = 0x2000 | 321; /* PCP bits must be masked off */
    dir_set(&r->dir[0], 10 + i, 1000 + i, t_ms, t_ms + 500);
    if (kind == 2)
        r->dir[0].icmp_type_code = 0x0800;
    if (kind == 3)
        r->dir[0].icmp_type_code = 0x8000;
    if (kind != 2 && kind != 4) {
        dir_set(&r->dir[1], 5 + i, 700 + i, t_ms + 3, t_ms + 450);
        if (kind == 3)
            r->dir[1].icmp_type_code = 0x8100;
    }
}

/* ------------------------------------------------------------------ v9 tests */

static void test_init_errors(void)
{
    struct fp_nf_params p;
    params(&p, 7);
    CU_ASSERT(fp_nf_encoder_init(&enc, &p) == -EINVAL);
    params(&p, 9);
    p.send = NULL;
    CU_ASSERT(fp_nf_encoder_init(&enc, &p) == -EINVAL);
    params(&p, 9);
    p.mtu = 100;
    CU_ASSERT(fp_nf_encoder_init(&enc, &p) == -EINVAL);
    p.mtu = FP_NF_MAX_PKT + 1;
    CU_ASSERT(fp_nf_encoder_init(&enc, &p) == -EINVAL);
    p.mtu = 0;
    CU_ASSERT(fp_nf_encoder_init(&enc, &p) == 0);
    CU_ASSERT(enc.p.mtu == 1400);
    params(&p, 5);
    CU_ASSERT(fp_nf_encoder_init(&enc, &p) == 0);
}

static const struct rec *find_rec(unsigned proto, unsigned ipver, int reverse)
{
    for (unsigned i = 0; i < n_recs_out; i++) {
        const struct rec *r = &recs_out[i];
        int rev = ipver == 4 ? r->src[1] == 2 : r->src[7] == 2;
        if (r->proto == proto && r->ipver == ipver && rev == reverse)
            return r;
    }
    return NULL;
}

static void test_v9_fields(void)
{
    struct fp_nf_params p;
    struct fp_flow_record r[5];
    struct pkt_info pi;
    const uint64_t boot = T0_MS - 5000, now = T0_MS + 60789;

    cap_reset();
    parse_reset();
    params(&p, 9);
    p.boot_ms = boot;
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    for (unsigned k = 0; k < 5; k++)
        make(&r[k], k, k, T0_MS + 1000 * k);
    /* 2 + 2 + 1 + 2 + 1 uniflows */
    CU_ASSERT(fp_nf_encode(&enc, r, 5, now) == 8);
    CU_ASSERT(cap.n == 0); /* partial packet stays open */
    CU_ASSERT(fp_nf_flush(&enc, now) == 1);
    CU_ASSERT_FATAL(cap.n == 1);
    CU_ASSERT(fp_nf_flush(&enc, now) == 0);

    parse_v9(cap.pkt[0], cap.len[0], &pi);
    CU_ASSERT(pi.count == 2 + 1 + 1 + 8);
    CU_ASSERT(pi.templates == 2 && pi.opt_templates == 1 && pi.opt_records == 1);
    CU_ASSERT(pi.data_records == 8);
    CU_ASSERT(pi.seq == 0);
    CU_ASSERT(pi.source == 0x01020304);
    CU_ASSERT(pi.secs == now / 1000);
    CU_ASSERT(pi.sysup == now / 1000 * 1000 - boot);
    CU_ASSERT(cap.len[0] <= 1400);

    /* templates: the fields the brief requires, with their lengths */
    static const unsigned want4[][2] = {{1, 8},  {2, 8},  {4, 1},  {5, 1},  {6, 1},  {7, 2},
                                        {8, 4},  {10, 4}, {11, 2}, {12, 4}, {21, 4}, {22, 4},
                                        {32, 2}, {58, 2}, {60, 1}, {61, 1}, {52, 1}, {53, 1}};
    for (unsigned w = 0; w < FP_ARRAY_SIZE(want4); w++) {
        int found4 = 0, found6 = 0;
        unsigned ty = want4[w][0], ln = want4[w][1];
        unsigned ty6 = ty == 8 ? 27 : ty == 12 ? 28 : ty, ln6 = (ty == 8 || ty == 12) ? 16 : ln;
        for (unsigned i = 0; i < tmpls[256].n; i++)
            found4 |= tmpls[256].type[i] == ty && tmpls[256].len[i] == ln;
        for (unsigned i = 0; i < tmpls[257].n; i++)
            found6 |= tmpls[257].type[i] == ty6 && tmpls[257].len[i] == ln6;
        CU_ASSERT(found4);
        CU_ASSERT(found6);
    }
    /* options: scope System, sampling interval 1, algorithm 1, timeouts */
    CU_ASSERT(tmpls[258].options && tmpls[258].scope_n == 1 && tmpls[258].type[0] == 1);
    CU_ASSERT(tmpls[258].type[1] == 34 && opt_values[1] == 1);
    CU_ASSERT(tmpls[258].type[2] == 35 && opt_values[2] == 1);
    CU_ASSERT(tmpls[258].type[3] == 36 && opt_values[3] == 60);
    CU_ASSERT(tmpls[258].type[4] == 37 && opt_values[4] == 15);
    CU_ASSERT(opt_values[0] == 0x01020304);

    /* TCP v4 forward and reverse */
    const struct rec *a = find_rec(6, 4, 0), *b = find_rec(6, 4, 1);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT(a->tid == 256 && a->bytes == 1000 && a->pkts == 10);
    CU_ASSERT(a->sport == 40000 && a->dport == 443 && b->sport == 443 && b->dport == 40000);
    CU_ASSERT(memcmp(a->src, r[0].src, 4) == 0 && memcmp(a->dst, r[0].dst, 4) == 0);
    CU_ASSERT(memcmp(b->src, r[0].dst, 4) == 0 && memcmp(b->dst, r[0].src, 4) == 0);
    CU_ASSERT(b->bytes == 700 && b->pkts == 5);
    CU_ASSERT(a->first == T0_MS - boot && a->last == T0_MS + 500 - boot);
    CU_ASSERT(a->abs_first == T0_MS && a->abs_last == T0_MS + 500);
    CU_ASSERT(b->abs_first == T0_MS + 3 && b->abs_last == T0_MS + 450);
    CU_ASSERT(a->input == 3 && a->flags == 0x1b && a->tos == 0x28 && a->vlan == 321);
    CU_ASSERT(a->ttl_min == 10 && a->ttl_max == 64 && a->reason == 2 && a->dirn == 0);
    CU_ASSERT(a->has_icmp && a->icmp == 0);
    /* UDP v6 */
    a = find_rec(17, 6, 0);
    b = find_rec(17, 6, 1);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT(a->tid == 257 && memcmp(a->src, r[1].src, 16) == 0);
    CU_ASSERT(memcmp(b->src, r[1].dst, 16) == 0 && b->sport == 53 && b->dport == 40001);
    CU_ASSERT(a->abs_first == T0_MS + 1000 && a->bytes == 1001 && b->bytes == 701);
    /* ICMP v4 one-way: type 8 code 0; ICMPv6 request and reply both in field 32 */
    a = find_rec(1, 4, 0);
    CU_ASSERT(a && a->icmp == 0x0800 && a->sport == 0 && a->dport == 0);
    CU_ASSERT(find_rec(1, 4, 1) == NULL);
    a = find_rec(58, 6, 0);
    b = find_rec(58, 6, 1);
    CU_ASSERT(a && b && a->icmp == 0x8000 && b->icmp == 0x8100);

    CU_ASSERT(enc.stats.dirs_empty == 2);
    CU_ASSERT(enc.stats.records == 8 && enc.stats.packets == 1 && enc.stats.flows_in == 5);
    CU_ASSERT(enc.stats.template_packets == 1);
    CU_ASSERT(enc.stats.octets == cap.len[0]);
}

/* Encode @p n records of alternating families; returns uniflows made. */
static unsigned encode_many(unsigned n, uint64_t t_ms, uint64_t now)
{
    static struct fp_flow_record r[256];
    CU_ASSERT_FATAL(n <= 256);
    for (unsigned i = 0; i < n; i++)
        make(&r[i], i % 2, i, t_ms + i);
    return fp_nf_encode(&enc, r, n, now);
}

static void test_v9_packets_sequence_size(void)
{
    struct fp_nf_params p;
    struct pkt_info pi;
    unsigned tot = 0;
    uint64_t sum_pk = 0, want_pk = 0;

    cap_reset();
    parse_reset();
    params(&p, 9);
    p.mtu = 512;
    p.boot_ms = T0_MS - 1000;
    p.template_refresh_pkts = UINT32_MAX;
    p.template_refresh_ms = UINT32_MAX;
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    unsigned made = encode_many(200, T0_MS, T0_MS + 30000);
    CU_ASSERT(made == 400);
    fp_nf_flush(&enc, T0_MS + 30000);
    CU_ASSERT(cap.n > 10);
    for (unsigned i = 0; i < cap.n; i++) {
        parse_v9(cap.pkt[i], cap.len[i], &pi);
        CU_ASSERT(cap.len[i] <= 512);
        CU_ASSERT(pi.seq == i);                  /* packets sent before this one */
        CU_ASSERT(pi.has_templates == (i == 0)); /* refresh off: only the first */
        /* a packet is only cut when the next record does not fit */
        if (i + 1 < cap.n)
            CU_ASSERT(cap.len[i] + 4 + FP_NF_V9_REC6_LEN > 512);
        tot += pi.data_records;
    }
    CU_ASSERT(tot == 400 && n_recs_out == 400);
    for (unsigned i = 0; i < n_recs_out; i++)
        sum_pk += recs_out[i].pkts;
    for (unsigned i = 0; i < 200; i++)
        want_pk += (10 + i) + (5 + i);
    CU_ASSERT(sum_pk == want_pk);
    CU_ASSERT(enc.stats.packets == cap.n && enc.stats.records == 400);
}

static void test_v9_refresh_packets(void)
{
    struct fp_nf_params p;
    struct pkt_info pi;

    cap_reset();
    parse_reset();
    params(&p, 9);
    p.mtu = 512;
    p.template_refresh_pkts = 3;
    p.template_refresh_ms = UINT32_MAX;
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    encode_many(120, T0_MS, T0_MS + 1000);
    fp_nf_flush(&enc, T0_MS + 1000);
    CU_ASSERT(cap.n >= 10);
    for (unsigned i = 0; i < cap.n; i++) {
        parse_v9(cap.pkt[i], cap.len[i], &pi);
        CU_ASSERT(pi.has_templates == (i % 3 == 0));
        CU_ASSERT(pi.count == pi.data_records + (pi.has_templates ? 4 : 0));
    }
    CU_ASSERT(enc.stats.template_packets == (cap.n + 2) / 3);
}

static void test_v9_refresh_time(void)
{
    struct fp_nf_params p;
    struct pkt_info pi;
    struct fp_flow_record r;

    cap_reset();
    parse_reset();
    params(&p, 9);
    p.template_refresh_pkts = UINT32_MAX;
    p.template_refresh_ms = 10000;
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    /* one packet every 4 s: templates at 0, 12, 24 s (first packet ≥ 10 s after the last) */
    for (unsigned k = 0; k < 8; k++) {
        uint64_t now = T0_MS + 4000ull * k;
        make(&r, 0, k, now - 100);
        fp_nf_encode(&enc, &r, 1, now);
        fp_nf_flush(&enc, now);
    }
    CU_ASSERT_FATAL(cap.n == 8);
    for (unsigned k = 0; k < 8; k++) {
        parse_v9(cap.pkt[k], cap.len[k], &pi);
        CU_ASSERT(pi.has_templates == (k == 0 || k == 3 || k == 6));
        CU_ASSERT(pi.seq == k);
    }
    /* idle: no record pending; before the timer nothing, after it a template-only packet */
    CU_ASSERT(fp_nf_flush(&enc, T0_MS + 4000 * 7 + 5000) == 0);
    CU_ASSERT(fp_nf_flush(&enc, T0_MS + 4000 * 6 + 10000) == 1);
    CU_ASSERT_FATAL(cap.n == 9);
    parse_v9(cap.pkt[8], cap.len[8], &pi);
    CU_ASSERT(pi.has_templates && pi.data_records == 0 && pi.count == 4 && pi.seq == 8);
    /* explicit resend request */
    fp_nf_templates_resend(&enc);
    make(&r, 1, 1, T0_MS + 35000);
    fp_nf_encode(&enc, &r, 1, T0_MS + 35000);
    fp_nf_flush(&enc, T0_MS + 35000);
    CU_ASSERT_FATAL(cap.n == 10);
    parse_v9(cap.pkt[9], cap.len[9], &pi);
    CU_ASSERT(pi.has_templates && pi.data_records == 2);
}

static void test_v9_send_error(void)
{
    struct fp_nf_params p;
    struct pkt_info pi;
    struct fp_flow_record r;

    cap_reset();
    parse_reset();
    params(&p, 9);
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    make(&r, 0, 1, T0_MS);
    cap.fail_rc = -EAGAIN;
    fp_nf_encode(&enc, &r, 1, T0_MS);
    fp_nf_flush(&enc, T0_MS);
    cap.fail_rc = 0;
    fp_nf_encode(&enc, &r, 1, T0_MS);
    fp_nf_flush(&enc, T0_MS);
    CU_ASSERT_FATAL(cap.n == 2);
    CU_ASSERT(enc.stats.send_errors == 1 && enc.stats.records_not_sent == 2);
    CU_ASSERT(enc.stats.packets == 1);
    parse_v9(cap.pkt[1], cap.len[1], &pi);
    CU_ASSERT(pi.seq == 1);      /* the lost packet still took its sequence number */
    CU_ASSERT(pi.has_templates); /* the lost packet carried them: sent again */
}

/* ------------------------------------------------------------------ time base */

/* Every record's absolute times, recomputed from its packet header, equal the input. */
static void check_times(unsigned version, const struct fp_flow_record *r, unsigned n)
{
    struct pkt_info pi;
    parse_reset();
    for (unsigned i = 0; i < cap.n; i++) {
        if (version == 9)
            parse_v9(cap.pkt[i], cap.len[i], &pi);
        else
            parse_v5(cap.pkt[i], cap.len[i], &pi);
    }
    unsigned matched = 0;
    for (unsigned i = 0; i < n_recs_out; i++) {
        const struct rec *o = &recs_out[i];
        for (unsigned k = 0; k < n; k++) {
            if (memcmp(o->src, r[k].src, 4) == 0 && memcmp(o->dst, r[k].dst, 4) == 0) {
                CU_ASSERT(o->abs_first == r[k].dir[0].first_ns / FP_NS_PER_MS);
                CU_ASSERT(o->abs_last == r[k].dir[0].last_ns / FP_NS_PER_MS);
                matched++;
            }
        }
    }
    CU_ASSERT(matched == n);
}

static void test_time_capture_from_the_past(void)
{
    static const uint64_t year2001 = 1000000000000ull;
    struct fp_flow_record r[6];
    struct fp_nf_params p;

    for (unsigned version = 5; version <= 9; version += 4) {
        cap_reset();
        params(&p, version);
        p.mtu = 512;
        CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
        /* record clock; the 4th record starts 5 h before the 1st, the 6th 30 days before */
        for (unsigned k = 0; k < 6; k++) {
            make(&r[k], 4, k, year2001 + 1000 * k);
            r[k].src[2] = (uint8_t)k; /* unique keys */
        }
        dir_set(&r[3].dir[0], 5, 500, year2001 - 5 * 3600000ull, year2001 + 2000);
        dir_set(&r[5].dir[0], 5, 500, year2001 - 30 * 86400000ull, year2001 + 9000);
        for (unsigned k = 0; k < 6; k++)
            fp_nf_encode(&enc, &r[k], 1, 0);
        fp_nf_flush(&enc, 0);
        CU_ASSERT(enc.stats.rebases == 2);
        CU_ASSERT(enc.stats.time_clamped == 0);
        CU_ASSERT(cap.n == 3); /* each backward rebase ends a packet */
        check_times(version, r, 6);
    }
}

static void test_time_forward_rebase(void)
{
    struct fp_nf_params p;
    struct fp_flow_record r;
    struct pkt_info pi;

    /* live mode: the probe started 30 days ago, sysUpTime would be 2.6e9 ms > 2^31 */
    cap_reset();
    params(&p, 9);
    p.boot_ms = T0_MS - 30 * 86400000ull;
    p.template_refresh_pkts = UINT32_MAX;
    p.template_refresh_ms = UINT32_MAX;
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    make(&r, 4, 1, T0_MS - 2 * 86400000ull); /* first packet: uptime 28 days → rebase */
    fp_nf_encode(&enc, &r, 1, T0_MS - 2 * 86400000ull);
    fp_nf_flush(&enc, 0);
    make(&r, 4, 2, T0_MS);
    fp_nf_encode(&enc, &r, 1, T0_MS);
    fp_nf_flush(&enc, 0);
    CU_ASSERT_FATAL(cap.n == 2);
    CU_ASSERT(enc.stats.rebases == 1);
    parse_reset();
    parse_v9(cap.pkt[0], cap.len[0], &pi);
    CU_ASSERT(pi.sysup < (1u << 31));
    CU_ASSERT(recs_out[0].abs_first == T0_MS - 2 * 86400000ull);
    parse_v9(cap.pkt[1], cap.len[1], &pi);
    CU_ASSERT(recs_out[1].abs_first == T0_MS && recs_out[1].abs_last == T0_MS + 500);
}

/* ------------------------------------------------------------------ v5 */

static void test_v5_fields_and_ipv6(void)
{
    struct fp_nf_params p;
    struct fp_flow_record r[5];
    struct pkt_info pi;
    const uint64_t now = T0_MS + 9876;

    cap_reset();
    parse_reset();
    params(&p, 5);
    p.boot_ms = T0_MS - 4321;
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    for (unsigned k = 0; k < 5; k++)
        make(&r[k], k, k, T0_MS + 100 * k);
    CU_ASSERT(fp_nf_encode(&enc, r, 5, now) == 4); /* TCP ×2, ICMP, UDP one-way */
    fp_nf_flush(&enc, now);
    CU_ASSERT_FATAL(cap.n == 1);
    parse_v5(cap.pkt[0], cap.len[0], &pi);
    CU_ASSERT(pi.count == 4 && pi.seq == 0 && pi.source == (3u << 8 | 9));
    CU_ASSERT(pi.secs == now / 1000 && pi.nsecs == now % 1000 * 1000000);
    CU_ASSERT(pi.sysup == now - (T0_MS - 4321));
    CU_ASSERT(enc.stats.v5_skipped_ipv6 == 4); /* UDP v6 ×2, ICMPv6 ×2 */
    CU_ASSERT(enc.stats.dirs_empty == 2);
    const struct rec *a = find_rec(6, 4, 0), *b = find_rec(6, 4, 1), *c = find_rec(1, 4, 0);
    CU_ASSERT_FATAL(a && b && c);
    CU_ASSERT(a->pkts == 10 && a->bytes == 1000 && a->sport == 40000 && a->dport == 443);
    CU_ASSERT(b->pkts == 5 && b->bytes == 700 && b->sport == 443 && b->dport == 40000);
    CU_ASSERT(a->input == 3 && a->flags == 0x1b && a->tos == 0x28 && a->proto == 6);
    CU_ASSERT(a->abs_first == T0_MS && a->abs_last == T0_MS + 500);
    CU_ASSERT(a->first == 4321);
    CU_ASSERT(c->sport == 0 && c->dport == 0x0800); /* ICMP type·256+code in dstport */
}

static void test_v5_max_records_and_sequence(void)
{
    struct fp_nf_params p;
    struct pkt_info pi;
    unsigned expect_seq = 0;

    cap_reset();
    parse_reset();
    params(&p, 5);
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    static struct fp_flow_record r[100];
    for (unsigned i = 0; i < 100; i++)
        make(&r[i], i % 2 ? 0 : 4, i, T0_MS + i); /* 150 IPv4 uniflows */
    CU_ASSERT(fp_nf_encode(&enc, r, 100, T0_MS + 1000) == 150);
    fp_nf_flush(&enc, T0_MS + 1000);
    CU_ASSERT(cap.n == 5);
    for (unsigned i = 0; i < cap.n; i++) {
        parse_v5(cap.pkt[i], cap.len[i], &pi);
        CU_ASSERT(pi.count == 30);
        CU_ASSERT(cap.len[i] == FP_NF_V5_MAX_PKT);
        CU_ASSERT(pi.seq == expect_seq); /* flows exported before this packet */
        expect_seq += pi.count;
    }
    CU_ASSERT(n_recs_out == 150);
}

static void test_v5_split(void)
{
    struct fp_nf_params p;
    struct pkt_info pi;
    struct fp_flow_record r[2];
    const uint64_t M = 0xffffffffull;

    cap_reset();
    parse_reset();
    params(&p, 5);
    CU_ASSERT_FATAL(fp_nf_encoder_init(&enc, &p) == 0);
    make(&r[0], 4, 1, T0_MS);
    make(&r[1], 4, 2, T0_MS);
    r[0].dir[0].packets = (1ull << 32) + 5; /* 2 records by packets */
    r[0].dir[0].bytes = 3 * M + 1000;       /* 4 records by bytes: k = 4 */
    r[1].dir[0].packets = 7;
    r[1].dir[0].bytes = M; /* exactly fits: no split */
    CU_ASSERT(fp_nf_encode(&enc, r, 2, T0_MS + 1000) == 5);
    fp_nf_flush(&enc, T0_MS + 1000);
    CU_ASSERT_FATAL(cap.n == 1);
    parse_v5(cap.pkt[0], cap.len[0], &pi);
    CU_ASSERT(pi.count == 5);
    uint64_t pk[2] = {0, 0}, by[2] = {0, 0};
    unsigned parts[2] = {0, 0};
    for (unsigned i = 0; i < n_recs_out; i++) {
        unsigned w = recs_out[i].src[3] == 2;
        pk[w] += recs_out[i].pkts;
        by[w] += recs_out[i].bytes;
        parts[w]++;
        CU_ASSERT(recs_out[i].abs_first == T0_MS);
    }
    CU_ASSERT(parts[0] == 4 && parts[1] == 1);
    CU_ASSERT(pk[0] == (1ull << 32) + 5 && by[0] == 3 * M + 1000);
    CU_ASSERT(pk[1] == 7 && by[1] == M);
    CU_ASSERT(enc.stats.v5_splits == 3);
    CU_ASSERT(enc.stats.flow_packets == (1ull << 32) + 12);
}

void fp_test_register_netflow(void);
void fp_test_register_netflow(void)
{
    static const CU_TestInfo tests[] = {
        {"init_errors", test_init_errors},
        {"v9_fields", test_v9_fields},
        {"v9_packets_sequence_size", test_v9_packets_sequence_size},
        {"v9_refresh_packets", test_v9_refresh_packets},
        {"v9_refresh_time", test_v9_refresh_time},
        {"v9_send_error", test_v9_send_error},
        {"time_capture_from_the_past", test_time_capture_from_the_past},
        {"time_forward_rebase", test_time_forward_rebase},
        {"v5_fields_and_ipv6", test_v5_fields_and_ipv6},
        {"v5_max_records_and_sequence", test_v5_max_records_and_sequence},
        {"v5_split", test_v5_split},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("netflow", tests);
}
