/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for src/decode/: packets are assembled byte by byte here, and every expected
 * meta field comes from what the builder wrote (never from the decoder's own output).
 * Each decode runs on a heap copy of exactly caplen bytes, so an over-read fails under ASan.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "tests/unit/fp_test.h"

/* ---------------------------------------------------------------- packet builder */

enum fix_kind {
    FIX_IP4,
    FIX_IP6,
    FIX_UDP,
};

struct pb {
    uint8_t b[4096];
    size_t len;
    struct {
        size_t off;
        enum fix_kind kind;
    } fix[32];
    unsigned nfix;
};

static size_t pb_u8(struct pb *p, uint8_t v)
{
    p->b[p->len] = v;
    return p->len++;
}

static size_t pb_u16(struct pb *p, uint16_t v)
{
    size_t o = pb_u8(p, (uint8_t)(v >> 8));
    pb_u8(p, (uint8_t)v);
    return o;
}

static size_t pb_u32(struct pb *p, uint32_t v)
{
    size_t o = pb_u16(p, (uint16_t)(v >> 16));
    pb_u16(p, (uint16_t)v);
    return o;
}

static size_t pb_bytes(struct pb *p, const uint8_t *d, size_t n)
{
    size_t o = p->len;
    memcpy(p->b + p->len, d, n);
    p->len += n;
    return o;
}

static size_t pb_fill(struct pb *p, uint8_t v, size_t n)
{
    size_t o = p->len;
    memset(p->b + p->len, v, n);
    p->len += n;
    return o;
}

static void pb_fixup(struct pb *p, size_t off, enum fix_kind k)
{
    p->fix[p->nfix].off = off;
    p->fix[p->nfix].kind = k;
    p->nfix++;
}

/* Set every recorded length field: each header extends to the end of the packet. */
static void pb_finish(struct pb *p)
{
    for (unsigned i = 0; i < p->nfix; i++) {
        size_t o = p->fix[i].off;
        size_t v = p->len - o;
        if (p->fix[i].kind == FIX_IP4) {
            p->b[o + 2] = (uint8_t)(v >> 8);
            p->b[o + 3] = (uint8_t)v;
        } else if (p->fix[i].kind == FIX_IP6) {
            v -= 40;
            p->b[o + 4] = (uint8_t)(v >> 8);
            p->b[o + 5] = (uint8_t)v;
        } else {
            p->b[o + 4] = (uint8_t)(v >> 8);
            p->b[o + 5] = (uint8_t)v;
        }
    }
}

/* Ethernet header: MACs then the EtherType. */
static size_t pb_eth(struct pb *p, uint16_t et)
{
    static const uint8_t macs[12] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                     0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    size_t o = pb_bytes(p, macs, sizeof(macs));
    pb_u16(p, et);
    return o;
}

/* VLAN tag body (TCI + next EtherType); the TPID is the previous EtherType. */
static size_t pb_vlan(struct pb *p, uint16_t tci, uint16_t next_et)
{
    size_t o = pb_u16(p, tci);
    pb_u16(p, next_et);
    return o;
}

static size_t pb_mpls(struct pb *p, uint32_t label, int bos)
{
    return pb_u32(p, (label << 12) | (bos ? 0x100u : 0) | 64u);
}

/* IPv4 header with @p optlen option bytes (multiple of 4); total length set by pb_finish. */
static size_t pb_ip4(struct pb *p, uint8_t proto, const uint8_t src[4], const uint8_t dst[4],
                     uint8_t tos, uint8_t ttl, uint16_t id, uint16_t frag, size_t optlen)
{
    size_t o = pb_u8(p, (uint8_t)(0x40 | ((20 + optlen) / 4)));
    pb_u8(p, tos);
    pb_u16(p, 0);
    pb_u16(p, id);
    pb_u16(p, frag);
    pb_u8(p, ttl);
    pb_u8(p, proto);
    pb_u16(p, 0xbeef); /* checksum: not checked by decode */
    pb_bytes(p, src, 4);
    pb_bytes(p, dst, 4);
    if (optlen) {
        pb_fill(p, 0x01, optlen - 1); /* NOPs then EOL */
        pb_u8(p, 0);
    }
    pb_fixup(p, o, FIX_IP4);
    return o;
}

static size_t pb_ip6(struct pb *p, uint8_t nh, const uint8_t src[16], const uint8_t dst[16],
                     uint8_t tc, uint8_t hlim)
{
    size_t o = pb_u32(p, 0x60000000u | ((uint32_t)tc << 20) | 0x12345u);
    pb_u16(p, 0);
    pb_u8(p, nh);
    pb_u8(p, hlim);
    pb_bytes(p, src, 16);
    pb_bytes(p, dst, 16);
    pb_fixup(p, o, FIX_IP6);
    return o;
}

/* Generic IPv6 extension header of (hlen + 1) * 8 bytes. */
static size_t pb_ext6(struct pb *p, uint8_t nh, uint8_t hlen)
{
    size_t o = pb_u8(p, nh);
    pb_u8(p, hlen);
    pb_fill(p, 0, (hlen + 1u) * 8 - 2);
    return o;
}

/* AH: length field in 4-octet units minus 2. */
static size_t pb_ah(struct pb *p, uint8_t nh, uint8_t plen)
{
    size_t o = pb_u8(p, nh);
    pb_u8(p, plen);
    pb_fill(p, 0xa5, (plen + 2u) * 4 - 2);
    return o;
}

static size_t pb_frag6(struct pb *p, uint8_t nh, uint16_t offset8, int more, uint32_t id)
{
    size_t o = pb_u8(p, nh);
    pb_u8(p, 0);
    pb_u16(p, (uint16_t)((offset8 << 3) | (more ? 1 : 0)));
    pb_u32(p, id);
    return o;
}

static size_t pb_tcp(struct pb *p, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                     uint16_t flags, uint16_t win, size_t optlen)
{
    size_t o = pb_u16(p, sport);
    pb_u16(p, dport);
    pb_u32(p, seq);
    pb_u32(p, ack);
    pb_u8(p, (uint8_t)((((20 + optlen) / 4) << 4) | ((flags >> 8) & 1)));
    pb_u8(p, (uint8_t)flags);
    pb_u16(p, win);
    pb_u16(p, 0);
    pb_u16(p, 0);
    pb_fill(p, 0x01, optlen);
    return o;
}

static size_t pb_udp(struct pb *p, uint16_t sport, uint16_t dport)
{
    size_t o = pb_u16(p, sport);
    pb_u16(p, dport);
    pb_u16(p, 0);
    pb_u16(p, 0);
    pb_fixup(p, o, FIX_UDP);
    return o;
}

static size_t pb_icmp(struct pb *p, uint8_t type, uint8_t code)
{
    size_t o = pb_u8(p, type);
    pb_u8(p, code);
    pb_u16(p, 0);
    pb_u32(p, 0x00010002);
    return o;
}

static size_t pb_vxlan(struct pb *p, uint32_t vni)
{
    size_t o = pb_u32(p, 0x08000000u);
    pb_u32(p, vni << 8);
    return o;
}

/* ---------------------------------------------------------------- fixtures */

static const uint8_t A4[4] = {192, 0, 2, 1};
static const uint8_t B4[4] = {198, 51, 100, 7};
static const uint8_t C4[4] = {10, 1, 2, 3};
static const uint8_t D4[4] = {10, 9, 8, 7};
static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42, 2};
static const uint8_t C6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc, 3};
static const uint8_t D6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xd, 4};

static struct fp_decode_params params(enum fp_linktype link, bool decap)
{
    struct fp_decode_params p;
    fp_decode_params_default(&p);
    p.link = link;
    p.decap = decap;
    return p;
}

/* Decode the first @p n bytes from a heap buffer of exactly @p n bytes. */
static enum fp_decode_result decode_n(const uint8_t *b, size_t n, const struct fp_decode_params *p,
                                      struct fp_pkt_meta *m)
{
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, b, n);
    enum fp_decode_result r = fp_decode_packet(copy, (uint32_t)n, p, m);
    free(copy);
    return r;
}

static enum fp_decode_result decode_pb(const struct pb *pk, enum fp_linktype link, bool decap,
                                       struct fp_pkt_meta *m)
{
    struct fp_decode_params p = params(link, decap);
    return decode_n(pk->b, pk->len, &p, m);
}

static void exp_v4(struct fp_pkt_meta *e, const uint8_t s[4], const uint8_t d[4])
{
    memset(e->src, 0, 16);
    memset(e->dst, 0, 16);
    memcpy(e->src, s, 4);
    memcpy(e->dst, d, 4);
    e->ip_version = 4;
}

static void exp_v6(struct fp_pkt_meta *e, const uint8_t s[16], const uint8_t d[16])
{
    memcpy(e->src, s, 16);
    memcpy(e->dst, d, 16);
    e->ip_version = 6;
}

/* Compare every field; print the differing ones so a failure says what and where. */
static bool meta_eq_at(const struct fp_pkt_meta *g, const struct fp_pkt_meta *e, int line)
{
    bool ok = true;
#define CMP(f)                                                                              \
    do {                                                                                   \
        if (g->f != e->f) {                                                                \
            fprintf(stderr, "\n  line %d: " #f " = %lu, expected %lu", line,               \
                    (unsigned long)g->f, (unsigned long)e->f);                             \
            ok = false;                                                                    \
        }                                                                                  \
    } while (0)
    if (memcmp(g->src, e->src, 16) != 0 || memcmp(g->dst, e->dst, 16) != 0) {
        fprintf(stderr, "\n  line %d: addresses differ", line);
        ok = false;
    }
    CMP(sport);
    CMP(dport);
    CMP(ip_version);
    CMP(proto);
    CMP(tos);
    CMP(ttl);
    CMP(tcp_flags);
    CMP(icmp_type_code);
    CMP(ip_bytes);
    CMP(n_vlan);
    CMP(vlan[0]);
    CMP(vlan[1]);
    CMP(frag);
    CMP(tunnel);
    CMP(tunnel_depth);
    CMP(vni);
    CMP(frag_id);
    CMP(notes);
    CMP(l3_off);
    CMP(l4_off);
    CMP(payload_off);
    CMP(payload_len);
    CMP(tcp_win);
    CMP(tcp_seq);
    CMP(tcp_ack);
#undef CMP
    return ok;
}
#define META_EQ(g, e) CU_ASSERT_TRUE(meta_eq_at((g), (e), __LINE__))

/* ---------------------------------------------------------------- basic headers */

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(fp_decode_result_names[FP_DECODE_OK], "OK");
    CU_ASSERT_STRING_EQUAL(fp_decode_result_names[FP_DECODE_IP6_EXT_BAD], "IP6_EXT_BAD");
    CU_ASSERT_STRING_EQUAL(fp_decode_result_descs[FP_DECODE_OK], "metered");
    CU_ASSERT_STRING_EQUAL(fp_decode_note_names[0], "L4_TRUNC");
    CU_ASSERT_STRING_EQUAL(fp_decode_note_names[4], "IP_SNAPLEN");
    CU_ASSERT_EQUAL(FP_NOTE_IP_SNAPLEN, 1u << 4);
    for (unsigned i = 0; i < FP_DECODE_RESULT_MAX; i++)
        CU_ASSERT_PTR_NOT_NULL(fp_decode_result_names[i]);
    for (unsigned i = 0; i < FP_DECODE_NOTE_COUNT; i++)
        CU_ASSERT_PTR_NOT_NULL(fp_decode_note_names[i]);
}

static void test_params_dlt(void)
{
    struct fp_decode_params p;
    enum fp_linktype l = FP_LINK_NULL;

    memset(&p, 0xff, sizeof(p));
    fp_decode_params_default(&p);
    CU_ASSERT_EQUAL(p.link, FP_LINK_ETHER);
    CU_ASSERT_TRUE(p.decap);
    CU_ASSERT_EQUAL(p.vxlan_port, 4789);
    CU_ASSERT_EQUAL(p.gtpu_port, 2152);

    static const struct {
        int dlt;
        enum fp_linktype link;
    } map[] = {{1, FP_LINK_ETHER},  {12, FP_LINK_RAW},   {101, FP_LINK_RAW},
               {113, FP_LINK_SLL},  {276, FP_LINK_SLL2}, {0, FP_LINK_NULL},
               {108, FP_LINK_NULL}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        l = (enum fp_linktype)99;
        CU_ASSERT_EQUAL(fp_decode_linktype_from_dlt(map[i].dlt, &l), 0);
        CU_ASSERT_EQUAL(l, map[i].link);
    }
    CU_ASSERT_EQUAL(fp_decode_linktype_from_dlt(105 /* 802.11 */, &l), -ENOTSUP);
    CU_ASSERT_EQUAL(fp_decode_linktype_from_dlt(-1, &l), -ENOTSUP);
}

static void test_ipv4_tcp(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m, e = {.tos = 0};

    pb_eth(&pk, 0x0800);
    size_t l3 = pb_ip4(&pk, 6, A4, B4, 0xb8, 61, 0x1234, 0x4000 /* DF */, 0);
    size_t l4 = pb_tcp(&pk, 40000, 443, 0x01020304, 0xa0b0c0d0, 0x1d2 /* NS|ACK|SYN.. */, 0xfe10,
                       12);
    size_t pl = pb_fill(&pk, 'x', 33);
    pb_finish(&pk);

    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v4(&e, A4, B4);
    e.proto = 6;
    e.tos = 0xb8;
    e.ttl = 61;
    e.sport = 40000;
    e.dport = 443;
    e.tcp_flags = 0x1d2;
    e.ip_bytes = 20 + 32 + 33;
    e.l3_off = (uint16_t)l3;
    e.l4_off = (uint16_t)l4;
    e.payload_off = (uint16_t)pl;
    e.payload_len = 33;
    e.tcp_seq = 0x01020304;
    e.tcp_ack = 0xa0b0c0d0;
    e.tcp_win = 0xfe10;
    META_EQ(&m, &e);

    /* Ethernet padding after the IP packet is not payload. */
    pb_fill(&pk, 0, 6);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    META_EQ(&m, &e);
}

static void test_ipv4_options_udp(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m, e = {.tos = 0};

    pb_eth(&pk, 0x0800);
    size_t l3 = pb_ip4(&pk, 17, C4, D4, 0, 1, 7, 0, 16); /* IHL 9 */
    size_t l4 = pb_udp(&pk, 5353, 53);
    pb_fill(&pk, 0, 5);
    pb_finish(&pk);
    CU_ASSERT_EQUAL(pk.b[l3] & 15, 9);

    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v4(&e, C4, D4);
    e.proto = 17;
    e.ttl = 1;
    e.sport = 5353;
    e.dport = 53;
    e.ip_bytes = 36 + 8 + 5;
    e.l3_off = 14;
    e.l4_off = (uint16_t)l4;
    CU_ASSERT_EQUAL(l4, 14 + 36);
    e.payload_off = (uint16_t)(l4 + 8);
    e.payload_len = 5;
    META_EQ(&m, &e);
}

/* UDP-Lite, SCTP, DCCP (ports), ESP and an unknown protocol (no ports). */
static void test_other_l4(void)
{
    static const struct {
        uint8_t proto;
        size_t hlen; /* header bytes the decoder needs */
        bool ports;
    } cases[] = {{136, 8, true}, {132, 12, true}, {33, 12, true}, {50, 8, false}, {253, 8, false}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pb pk = {.len = 0};
        struct fp_pkt_meta m, e = {.tos = 0};
        pb_eth(&pk, 0x0800);
        pb_ip4(&pk, cases[i].proto, A4, B4, 0, 64, 1, 0, 0);
        size_t l4 = pb_u16(&pk, 1111);
        pb_u16(&pk, 2222);
        pb_u8(&pk, 3); /* DCCP data offset: 3 words (12-byte header) */
        pb_fill(&pk, 0, 7 + 10);
        pb_finish(&pk);
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
        exp_v4(&e, A4, B4);
        e.proto = cases[i].proto;
        e.ttl = 64;
        e.ip_bytes = (uint32_t)(pk.len - 14);
        e.l3_off = 14;
        if (cases[i].ports) {
            e.sport = 1111;
            e.dport = 2222;
            e.l4_off = (uint16_t)l4;
            e.payload_off = (uint16_t)(l4 + cases[i].hlen);
            e.payload_len = (uint16_t)(pk.len - l4 - cases[i].hlen);
        }
        META_EQ(&m, &e);
    }
}

static void test_icmp(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m, e = {.tos = 0};

    pb_eth(&pk, 0x0800);
    pb_ip4(&pk, 1, A4, B4, 0, 64, 9, 0, 0);
    size_t l4 = pb_icmp(&pk, 3, 13);
    pb_fill(&pk, 0, 28);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v4(&e, A4, B4);
    e.proto = 1;
    e.ttl = 64;
    e.icmp_type_code = 3 * 256 + 13;
    e.ip_bytes = 20 + 8 + 28;
    e.l3_off = 14;
    e.l4_off = (uint16_t)l4;
    e.payload_off = (uint16_t)(l4 + 8);
    e.payload_len = 28;
    META_EQ(&m, &e);

    struct pb p6 = {.len = 0};
    struct fp_pkt_meta e6 = {.tos = 0};
    pb_eth(&p6, 0x86dd);
    pb_ip6(&p6, 58, A6, B6, 0, 255);
    l4 = pb_icmp(&p6, 135, 0);
    pb_fill(&p6, 0, 16);
    pb_finish(&p6);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&p6, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v6(&e6, A6, B6);
    e6.proto = 58;
    e6.ttl = 255;
    e6.icmp_type_code = 135 * 256;
    e6.ip_bytes = 40 + 8 + 16;
    e6.l3_off = 14;
    e6.l4_off = (uint16_t)l4;
    e6.payload_off = (uint16_t)(l4 + 8);
    e6.payload_len = 16;
    META_EQ(&m, &e6);
}

static void test_ipv6_tcp(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m, e = {.tos = 0};

    pb_eth(&pk, 0x86dd);
    pb_ip6(&pk, 6, A6, B6, 0x2e, 57);
    size_t l4 = pb_tcp(&pk, 80, 61000, 7, 8, 0x011 /* FIN|ACK */, 512, 0);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v6(&e, A6, B6);
    e.proto = 6;
    e.tos = 0x2e;
    e.ttl = 57;
    e.sport = 80;
    e.dport = 61000;
    e.tcp_flags = 0x011;
    e.ip_bytes = 60;
    e.l3_off = 14;
    e.l4_off = (uint16_t)l4;
    e.payload_off = (uint16_t)(l4 + 20);
    e.payload_len = 0;
    e.tcp_seq = 7;
    e.tcp_ack = 8;
    e.tcp_win = 512;
    META_EQ(&m, &e);
}

/* HBH → routing → destination options → AH → fragment (first) → shim6 → UDP. */
static void test_ipv6_ext_chain(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m, e = {.tos = 0};

    pb_eth(&pk, 0x86dd);
    pb_ip6(&pk, 0, A6, B6, 0, 64);
    pb_ext6(&pk, 43, 0);
    pb_ext6(&pk, 60, 2);
    pb_ext6(&pk, 51, 1);
    pb_ah(&pk, 44, 4);
    pb_frag6(&pk, 140, 0, 1, 0xdeadbeef);
    pb_ext6(&pk, 17, 0); /* shim6 (140) */
    size_t l4 = pb_udp(&pk, 4000, 4001);
    pb_fill(&pk, 0, 11);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v6(&e, A6, B6);
    e.proto = 17;
    e.ttl = 64;
    e.sport = 4000;
    e.dport = 4001;
    e.ip_bytes = (uint32_t)(pk.len - 14);
    e.frag = FP_FRAG_FIRST;
    e.frag_id = 0xdeadbeef;
    e.l3_off = 14;
    e.l4_off = (uint16_t)l4;
    CU_ASSERT_EQUAL(l4, 14 + 40 + 8 + 24 + 16 + 24 + 8 + 8);
    e.payload_off = (uint16_t)(l4 + 8);
    e.payload_len = 11;
    META_EQ(&m, &e);

    /* Later fragment: no L4, protocol from the fragment header. */
    struct pb pl = {.len = 0};
    struct fp_pkt_meta el = {.tos = 0};
    pb_eth(&pl, 0x86dd);
    pb_ip6(&pl, 60, A6, B6, 0, 64);
    pb_ext6(&pl, 44, 0);
    pb_frag6(&pl, 6, 1, 1, 77); /* offset 8 bytes */
    pb_fill(&pl, 0x33, 40); /* looks like a TCP header but is not one */
    pb_finish(&pl);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pl, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v6(&el, A6, B6);
    el.proto = 6;
    el.ttl = 64;
    el.ip_bytes = 40 + 8 + 8 + 40;
    el.frag = FP_FRAG_LATER;
    el.frag_id = 77;
    el.l3_off = 14;
    META_EQ(&m, &el);

    /* Atomic fragment (offset 0, M clear) is not a fragment. */
    struct pb pa = {.len = 0};
    pb_eth(&pa, 0x86dd);
    pb_ip6(&pa, 44, A6, B6, 0, 64);
    pb_frag6(&pa, 17, 0, 0, 99);
    pb_udp(&pa, 1, 2);
    pb_finish(&pa);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pa, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.frag, FP_FRAG_NONE);
    CU_ASSERT_EQUAL(m.frag_id, 0);
    CU_ASSERT_EQUAL(m.sport, 1);
    CU_ASSERT_EQUAL(m.dport, 2);
}

static void test_ipv4_fragments(void)
{
    struct pb pf = {.len = 0}, pl = {.len = 0};
    struct fp_pkt_meta m, e = {.tos = 0};

    pb_eth(&pf, 0x0800);
    pb_ip4(&pf, 17, A4, B4, 0, 64, 0x4242, 0x2000 /* MF, offset 0 */, 0);
    size_t l4 = pb_udp(&pf, 53, 33333);
    pb_fill(&pf, 0, 24);
    pb_finish(&pf);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pf, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v4(&e, A4, B4);
    e.proto = 17;
    e.ttl = 64;
    e.sport = 53;
    e.dport = 33333;
    e.ip_bytes = 20 + 8 + 24;
    e.frag = FP_FRAG_FIRST;
    e.frag_id = 0x4242;
    e.l3_off = 14;
    e.l4_off = (uint16_t)l4;
    e.payload_off = (uint16_t)(l4 + 8);
    e.payload_len = 24;
    META_EQ(&m, &e);

    pb_eth(&pl, 0x0800);
    pb_ip4(&pl, 17, A4, B4, 0, 64, 0x4242, 4 /* offset 32 bytes, last */, 0);
    pb_fill(&pl, 0x11, 30);
    pb_finish(&pl);
    struct fp_pkt_meta el = {.tos = 0};
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pl, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    exp_v4(&el, A4, B4);
    el.proto = 17;
    el.ttl = 64;
    el.ip_bytes = 50;
    el.frag = FP_FRAG_LATER;
    el.frag_id = 0x4242;
    el.l3_off = 14;
    META_EQ(&m, &el);
}

/* ---------------------------------------------------------------- link layers */

static void test_vlan_qinq(void)
{
    static const struct {
        uint16_t tpids[3];
        unsigned n;
    } cases[] = {{{0x8100}, 1}, {{0x88a8, 0x8100}, 2}, {{0x9100, 0x8100}, 2},
                 {{0x88a8, 0x8100, 0x8100}, 3}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pb pk = {.len = 0};
        struct fp_pkt_meta m, e = {.tos = 0};
        pb_eth(&pk, cases[i].tpids[0]);
        for (unsigned t = 0; t < cases[i].n; t++)
            pb_vlan(&pk, (uint16_t)(0xe000 | (100 + t)),
                    t + 1 < cases[i].n ? cases[i].tpids[t + 1] : 0x0800);
        size_t l3 = pb_ip4(&pk, 6, A4, B4, 0, 64, 1, 0, 0);
        size_t l4 = pb_tcp(&pk, 1, 2, 3, 4, 0x002, 5, 0);
        pb_finish(&pk);
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
        exp_v4(&e, A4, B4);
        e.n_vlan = (uint8_t)(cases[i].n > 2 ? 2 : cases[i].n);
        e.vlan[0] = 100;
        e.vlan[1] = cases[i].n > 1 ? 101 : 0;
        e.proto = 6;
        e.ttl = 64;
        e.sport = 1;
        e.dport = 2;
        e.tcp_flags = 2;
        e.tcp_seq = 3;
        e.tcp_ack = 4;
        e.tcp_win = 5;
        e.ip_bytes = 40;
        e.l3_off = (uint16_t)l3;
        CU_ASSERT_EQUAL(l3, 14 + 4 * cases[i].n);
        e.l4_off = (uint16_t)l4;
        e.payload_off = (uint16_t)(l4 + 20);
        META_EQ(&m, &e);
    }
}

static void test_mpls(void)
{
    struct fp_pkt_meta m;

    /* 3 labels → IPv4, via a VLAN tag and multicast MPLS */
    struct pb pk = {.len = 0};
    pb_eth(&pk, 0x8100);
    pb_vlan(&pk, 7, 0x8848);
    pb_mpls(&pk, 100, 0);
    pb_mpls(&pk, 200, 0);
    pb_mpls(&pk, 300, 1);
    size_t l3 = pb_ip4(&pk, 17, A4, B4, 0, 9, 1, 0, 0);
    pb_udp(&pk, 10, 20);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.l3_off, l3);
    CU_ASSERT_EQUAL(m.l3_off, 14 + 4 + 12);
    CU_ASSERT_EQUAL(m.vlan[0], 7);
    CU_ASSERT_EQUAL(m.n_vlan, 1);
    CU_ASSERT_EQUAL(m.sport, 10);
    CU_ASSERT_EQUAL(m.ttl, 9);

    /* 1 label → IPv6 */
    struct pb p6 = {.len = 0};
    pb_eth(&p6, 0x8847);
    pb_mpls(&p6, 16, 1);
    pb_ip6(&p6, 17, A6, B6, 0, 3);
    pb_udp(&p6, 11, 22);
    pb_finish(&p6);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&p6, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.ip_version, 6);
    CU_ASSERT_EQUAL(m.l3_off, 18);
    CU_ASSERT_EQUAL(m.dport, 22);

    /* 8 labels is the limit; 9 is NOT_IP */
    for (unsigned n = 8; n <= 9; n++) {
        struct pb pm = {.len = 0};
        pb_eth(&pm, 0x8847);
        for (unsigned i = 0; i < n; i++)
            pb_mpls(&pm, i, i + 1 == n);
        pb_ip4(&pm, 17, A4, B4, 0, 9, 1, 0, 0);
        pb_udp(&pm, 10, 20);
        pb_finish(&pm);
        CU_ASSERT_EQUAL(decode_pb(&pm, FP_LINK_ETHER, true, &m),
                        n == 8 ? FP_DECODE_OK : FP_DECODE_NOT_IP);
    }

    /* Pseudowire control word (first nibble 0): NOT_IP */
    struct pb pw = {.len = 0};
    pb_eth(&pw, 0x8847);
    pb_mpls(&pw, 16, 1);
    pb_u32(&pw, 0);
    pb_eth(&pw, 0x0800);
    pb_finish(&pw);
    CU_ASSERT_EQUAL(decode_pb(&pw, FP_LINK_ETHER, true, &m), FP_DECODE_NOT_IP);
}

static void test_pppoe_and_not_ip(void)
{
    struct fp_pkt_meta m;
    static const uint16_t ppp[] = {0x0021, 0x0057, 0xc021};

    for (size_t i = 0; i < 3; i++) {
        struct pb pk = {.len = 0};
        pb_eth(&pk, 0x8864);
        pb_u8(&pk, 0x11);
        pb_u8(&pk, 0);
        pb_u16(&pk, 0x0042);
        pb_u16(&pk, 0); /* PPPoE length: not used */
        pb_u16(&pk, ppp[i]);
        size_t l3 = i == 1 ? pb_ip6(&pk, 6, A6, B6, 0, 64) : pb_ip4(&pk, 6, A4, B4, 0, 64, 1, 0, 0);
        pb_tcp(&pk, 99, 100, 0, 0, 0x10, 0, 0);
        pb_finish(&pk);
        enum fp_decode_result r = decode_pb(&pk, FP_LINK_ETHER, true, &m);
        if (i == 2) {
            CU_ASSERT_EQUAL(r, FP_DECODE_NOT_IP);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(r, FP_DECODE_OK);
        CU_ASSERT_EQUAL(m.l3_off, l3);
        CU_ASSERT_EQUAL(m.l3_off, 22);
        CU_ASSERT_EQUAL(m.ip_version, i == 1 ? 6 : 4);
        CU_ASSERT_EQUAL(m.sport, 99);
        CU_ASSERT_EQUAL(m.tcp_flags, 0x10);
    }

    /* ARP, LLDP, 802.3 length field */
    static const uint16_t ets[] = {0x0806, 0x88cc, 0x0040};
    for (size_t i = 0; i < 3; i++) {
        struct pb pk = {.len = 0};
        pb_eth(&pk, ets[i]);
        pb_fill(&pk, 0x45, 46);
        CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_NOT_IP);
    }
}

/* The same UDP/IPv4 and TCP/IPv6 packets behind every link type. */
static void test_link_types(void)
{
    struct fp_pkt_meta m;

    for (int v6 = 0; v6 <= 1; v6++) {
        struct pb ip = {.len = 0};
        if (v6)
            pb_ip6(&ip, 17, A6, B6, 0, 64);
        else
            pb_ip4(&ip, 17, A4, B4, 0, 64, 1, 0, 0);
        pb_udp(&ip, 1234, 5678);
        pb_fill(&ip, 0, 3);
        pb_finish(&ip);

        struct {
            enum fp_linktype link;
            uint8_t hdr[20];
            size_t hlen;
        } l[8];
        unsigned n = 0;
        uint16_t et = v6 ? 0x86dd : 0x0800;

        l[n].link = FP_LINK_RAW;
        l[n++].hlen = 0;
        l[n].link = FP_LINK_SLL;
        memset(l[n].hdr, 0, 20);
        l[n].hdr[14] = (uint8_t)(et >> 8);
        l[n].hdr[15] = (uint8_t)et;
        l[n++].hlen = 16;
        l[n].link = FP_LINK_SLL2;
        memset(l[n].hdr, 0, 20);
        l[n].hdr[0] = (uint8_t)(et >> 8);
        l[n].hdr[1] = (uint8_t)et;
        l[n].hdr[7] = 1; /* ARPHRD_ETHER in the ha-type field */
        l[n++].hlen = 20;
        /* DLT_NULL little-endian writer, DLT_NULL big-endian writer / DLT_LOOP */
        uint32_t fams[] = {v6 ? 30u : 2u, v6 ? 24u : 2u, v6 ? 28u : 2u};
        for (unsigned f = 0; f < 3; f++) {
            l[n].link = FP_LINK_NULL;
            memset(l[n].hdr, 0, 20);
            if (f == 1) {
                l[n].hdr[3] = (uint8_t)fams[f];
            } else {
                l[n].hdr[0] = (uint8_t)fams[f];
            }
            l[n++].hlen = 4;
        }
        for (unsigned i = 0; i < n; i++) {
            uint8_t f[256];
            memcpy(f, l[i].hdr, l[i].hlen);
            memcpy(f + l[i].hlen, ip.b, ip.len);
            struct fp_decode_params p = params(l[i].link, true);
            CU_ASSERT_EQUAL_FATAL(decode_n(f, l[i].hlen + ip.len, &p, &m), FP_DECODE_OK);
            CU_ASSERT_EQUAL(m.ip_version, v6 ? 6 : 4);
            CU_ASSERT_EQUAL(m.l3_off, l[i].hlen);
            CU_ASSERT_EQUAL(m.l4_off, l[i].hlen + (v6 ? 40 : 20));
            CU_ASSERT_EQUAL(m.sport, 1234);
            CU_ASSERT_EQUAL(m.dport, 5678);
            CU_ASSERT_EQUAL(m.payload_len, 3);
            CU_ASSERT_EQUAL(memcmp(m.src, v6 ? A6 : A4, v6 ? 16 : 4), 0);
            /* short link header */
            if (l[i].hlen)
                CU_ASSERT_EQUAL(decode_n(f, l[i].hlen - 1, &p, &m), FP_DECODE_L2_TRUNC);
        }
    }

    /* NULL family 7 (not IP), SLL protocol ARP, RAW version 5. */
    uint8_t f[64] = {7, 0, 0, 0, 0x45};
    struct fp_decode_params p = params(FP_LINK_NULL, true);
    CU_ASSERT_EQUAL(decode_n(f, 40, &p, &m), FP_DECODE_NOT_IP);
    memset(f, 0, sizeof(f));
    f[14] = 0x08;
    f[15] = 0x06;
    p = params(FP_LINK_SLL, true);
    CU_ASSERT_EQUAL(decode_n(f, 60, &p, &m), FP_DECODE_NOT_IP);
    f[0] = 0x55;
    p = params(FP_LINK_RAW, true);
    CU_ASSERT_EQUAL(decode_n(f, 60, &p, &m), FP_DECODE_IP_HDR_BAD);
    CU_ASSERT_EQUAL(decode_n(f, 0, &p, &m), FP_DECODE_IP_TRUNC);
}

/* ---------------------------------------------------------------- malformed */

static void test_malformed(void)
{
    struct fp_pkt_meta m;
    struct pb base = {.len = 0};

    pb_eth(&base, 0x0800);
    pb_ip4(&base, 6, A4, B4, 0, 64, 1, 0, 0);
    pb_tcp(&base, 1000, 2000, 1, 2, 0x18, 3, 0);
    pb_fill(&base, 0, 10);
    pb_finish(&base);

    struct pb pk = base;
    pk.b[14] = 0x44; /* IHL 4 */
    CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_IP_HDR_BAD);
    pk = base;
    pk.b[16] = 0;
    pk.b[17] = 19; /* total length < IHL*4 */
    CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_IP_HDR_BAD);
    pk = base;
    pk.b[14] = 0x55; /* version 5 */
    CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_IP_HDR_BAD);
    pk = base;
    pk.b[14] = 0x65; /* IPv6 version behind EtherType IPv4 */
    CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_IP_HDR_BAD);
    pk = base;
    pk.b[14] = 0x4f; /* IHL 15 = 60 bytes > captured IP */
    pk.b[16] = 0;
    pk.b[17] = 60;
    CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_IP_TRUNC);

    /* TCP data offset < 5: still metered with ports, flags 0, note L4_HDR_BAD */
    pk = base;
    pk.b[14 + 20 + 12] = 0x40;
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.notes, FP_NOTE_L4_HDR_BAD);
    CU_ASSERT_EQUAL(m.sport, 1000);
    CU_ASSERT_EQUAL(m.dport, 2000);
    CU_ASSERT_EQUAL(m.tcp_flags, 0);
    CU_ASSERT_EQUAL(m.payload_off, 0);
    CU_ASSERT_EQUAL(m.payload_len, 0);

    /* TCP data offset beyond the IP packet: ports and flags, no payload */
    pk = base;
    pk.b[14 + 20 + 12] = 0xf0;
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.notes, 0);
    CU_ASSERT_EQUAL(m.tcp_flags, 0x18);
    CU_ASSERT_EQUAL(m.payload_off, 0);

    /* IP total length beyond the capture: snaplen note, bytes = total length */
    pk = base;
    pk.b[16] = 0x05;
    pk.b[17] = 0xdc;
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.notes, FP_NOTE_IP_SNAPLEN);
    CU_ASSERT_EQUAL(m.ip_bytes, 1500);
    CU_ASSERT_EQUAL(m.payload_len, 10);

    /* IPv6 payload length 0 (jumbogram), bad version */
    struct pb p6 = {.len = 0};
    pb_eth(&p6, 0x86dd);
    pb_ip6(&p6, 17, A6, B6, 0, 64);
    pb_udp(&p6, 1, 2);
    pb_finish(&p6);
    pk = p6;
    pk.b[18] = 0;
    pk.b[19] = 0;
    CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_IP_HDR_BAD);
    pk = p6;
    pk.b[14] = 0x40;
    CU_ASSERT_EQUAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_IP_HDR_BAD);

    /* Extension chain: 8 headers are walked, 9 is too long */
    for (unsigned n = 8; n <= 9; n++) {
        struct pb pe = {.len = 0};
        pb_eth(&pe, 0x86dd);
        pb_ip6(&pe, 60, A6, B6, 0, 64);
        for (unsigned i = 0; i < n; i++)
            pb_ext6(&pe, i + 1 == n ? 17 : 60, 0);
        pb_udp(&pe, 7, 8);
        pb_finish(&pe);
        enum fp_decode_result r = decode_pb(&pe, FP_LINK_ETHER, true, &m);
        CU_ASSERT_EQUAL(r, n == 8 ? FP_DECODE_OK : FP_DECODE_IP6_EXT_BAD);
        if (n == 8)
            CU_ASSERT_EQUAL(m.dport, 8);
    }
    /* Extension header longer than the IPv6 payload length (capture has more bytes) */
    struct pb pe = {.len = 0};
    pb_eth(&pe, 0x86dd);
    size_t l3 = pb_ip6(&pe, 0, A6, B6, 0, 64);
    pb_ext6(&pe, 17, 3);
    pb_finish(&pe);
    pe.b[l3 + 5] = 16; /* payload length 16 < 32-byte header */
    CU_ASSERT_EQUAL(decode_pb(&pe, FP_LINK_ETHER, true, &m), FP_DECODE_IP6_EXT_BAD);
}

/* ---------------------------------------------------------------- tunnels */

/* Inner packet for tunnel tests: TCP C4→D4 or C6→D6 with 5 payload bytes. */
static size_t put_inner(struct pb *pk, int v6, size_t *l4)
{
    size_t l3 = v6 ? pb_ip6(pk, 6, C6, D6, 0x10, 33) : pb_ip4(pk, 6, C4, D4, 0x10, 33, 5, 0, 0);
    *l4 = pb_tcp(pk, 3333, 4444, 100, 200, 0x018, 1000, 0);
    pb_fill(pk, 'i', 5);
    return l3;
}

static void exp_inner(struct fp_pkt_meta *e, int v6, size_t l3, size_t l4)
{
    memset(e, 0, sizeof(*e));
    if (v6)
        exp_v6(e, C6, D6);
    else
        exp_v4(e, C4, D4);
    e->proto = 6;
    e->tos = 0x10;
    e->ttl = 33;
    e->sport = 3333;
    e->dport = 4444;
    e->tcp_flags = 0x18;
    e->tcp_seq = 100;
    e->tcp_ack = 200;
    e->tcp_win = 1000;
    e->ip_bytes = (v6 ? 40u : 20u) + 20 + 5;
    e->l3_off = (uint16_t)l3;
    e->l4_off = (uint16_t)l4;
    e->payload_off = (uint16_t)(l4 + 20);
    e->payload_len = 5;
}

/* Outer packet (as metered with decap=false): addresses A/B, given protocol. */
static void exp_outer(struct fp_pkt_meta *e, int v6, uint8_t proto, size_t l3, size_t total)
{
    memset(e, 0, sizeof(*e));
    if (v6)
        exp_v6(e, A6, B6);
    else
        exp_v4(e, A4, B4);
    e->proto = proto;
    e->ttl = 64;
    e->l3_off = (uint16_t)l3;
    e->ip_bytes = (uint32_t)(total - l3);
}

/* Rarely hit edges: cut small headers, odd versions, headers beyond the 16-bit offsets. */
static void test_edges(void)
{
    struct fp_pkt_meta m;

    /* PPPoE header cut */
    struct pb pp = {.len = 0};
    pb_eth(&pp, 0x8864);
    pb_u32(&pp, 0x11000042);
    CU_ASSERT_EQUAL(decode_pb(&pp, FP_LINK_ETHER, true, &m), FP_DECODE_L2_TRUNC);

    /* ICMP with 7 bytes, SCTP with 11: cut transport */
    static const uint8_t protos[] = {1, 132, 33};
    static const size_t have[] = {7, 11, 11};
    for (size_t i = 0; i < 3; i++) {
        struct pb pk = {.len = 0};
        pb_ip4(&pk, protos[i], A4, B4, 0, 64, 1, 0, 0);
        pb_fill(&pk, 0x08, have[i]);
        pb_finish(&pk);
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, true, &m), FP_DECODE_OK);
        CU_ASSERT_EQUAL(m.notes, FP_NOTE_L4_TRUNC);
        CU_ASSERT_EQUAL(m.l4_off, 0);
        CU_ASSERT_EQUAL(m.icmp_type_code, 0);
        CU_ASSERT_EQUAL(m.sport, 0);
    }

    /* DCCP data offset 2 words (< 12 bytes): ports, no payload */
    struct pb pd = {.len = 0};
    pb_ip4(&pd, 33, A4, B4, 0, 64, 1, 0, 0);
    pb_u16(&pd, 5004);
    pb_u16(&pd, 5005);
    pb_u8(&pd, 2);
    pb_fill(&pd, 0, 20);
    pb_finish(&pd);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pd, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.sport, 5004);
    CU_ASSERT_EQUAL(m.dport, 5005);
    CU_ASSERT_EQUAL(m.l4_off, 20);
    CU_ASSERT_EQUAL(m.payload_off, 0);
    CU_ASSERT_EQUAL(m.payload_len, 0);
    CU_ASSERT_EQUAL(m.notes, 0);

    /* GRE version 2: not a tunnel */
    struct pb pg = {.len = 0};
    size_t l4;
    pb_ip4(&pg, 47, A4, B4, 0, 64, 1, 0, 0);
    pb_u16(&pg, 0x0002);
    pb_u16(&pg, 0x0800);
    put_inner(&pg, 0, &l4);
    pb_finish(&pg);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pg, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.tunnel, FP_TUNNEL_NONE);
    CU_ASSERT_EQUAL(m.proto, 47);
    CU_ASSERT_EQUAL(m.notes, 0);

    /* IP header after 16,400 VLAN tags (offset > 65495): not parsed */
    size_t ntags = 16400, len = 14 + 4 * ntags + 40;
    uint8_t *big = calloc(1, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    big[12] = 0x81;
    for (size_t i = 0; i < ntags; i++) {
        big[14 + 4 * i + 2] = i + 1 < ntags ? 0x81 : 0x08;
    }
    big[14 + 4 * ntags] = 0x45;
    big[14 + 4 * ntags + 3] = 40;
    big[14 + 4 * ntags + 9] = 17;
    struct fp_decode_params p = params(FP_LINK_ETHER, true);
    CU_ASSERT_EQUAL(fp_decode_packet(big, (uint32_t)len, &p, &m), FP_DECODE_IP_TRUNC);
    /* ... and an L4 header beyond it: IP parsed, L4 cut (16,370 tags put L3 at 65494) */
    ntags = 16370;
    len = 14 + 4 * ntags + 40;
    memset(big, 0, len);
    big[12] = 0x81;
    for (size_t i = 0; i < ntags; i++)
        big[14 + 4 * i + 2] = i + 1 < ntags ? 0x81 : 0x08;
    big[14 + 4 * ntags] = 0x45;
    big[14 + 4 * ntags + 3] = 40;
    big[14 + 4 * ntags + 9] = 17;
    CU_ASSERT_EQUAL(fp_decode_packet(big, (uint32_t)len, &p, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.l3_off, 14 + 4 * ntags);
    CU_ASSERT_EQUAL(m.notes, FP_NOTE_L4_TRUNC);
    CU_ASSERT_EQUAL(m.n_vlan, 2);
    free(big);
}

static void test_ipip(void)
{
    for (int ov6 = 0; ov6 <= 1; ov6++) {
        for (int iv6 = 0; iv6 <= 1; iv6++) {
            struct pb pk = {.len = 0};
            struct fp_pkt_meta m, e;
            size_t l4;
            uint8_t proto = iv6 ? 41 : 4;
            pb_eth(&pk, 0x8100);
            pb_vlan(&pk, 42, ov6 ? 0x86dd : 0x0800);
            size_t o3 = ov6 ? pb_ip6(&pk, proto, A6, B6, 0, 64)
                            : pb_ip4(&pk, proto, A4, B4, 0, 64, 1, 0, 0);
            size_t l3 = put_inner(&pk, iv6, &l4);
            pb_finish(&pk);

            CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
            exp_inner(&e, iv6, l3, l4);
            e.tunnel = FP_TUNNEL_IPIP;
            e.tunnel_depth = 1;
            e.n_vlan = 1;
            e.vlan[0] = 42;
            META_EQ(&m, &e);

            CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, false, &m), FP_DECODE_OK);
            exp_outer(&e, ov6, proto, o3, pk.len);
            e.n_vlan = 1;
            e.vlan[0] = 42;
            META_EQ(&m, &e);
        }
    }
}

/* GRE version 0 with every C/K/S combination and each payload protocol. */
static void test_gre_v0(void)
{
    for (unsigned flags = 0; flags < 8; flags++) {
        for (int kind = 0; kind < 3; kind++) { /* IPv4, IPv6, TEB */
            struct pb pk = {.len = 0};
            struct fp_pkt_meta m, e;
            size_t l4;
            size_t o3 = pb_ip4(&pk, 47, A4, B4, 0, 64, 1, 0, 0);
            uint8_t f0 = (uint8_t)(((flags & 1) << 7) | ((flags & 2) << 4) | ((flags & 4) << 2));
            pb_u8(&pk, f0);
            pb_u8(&pk, 0);
            pb_u16(&pk, kind == 0 ? 0x0800 : kind == 1 ? 0x86dd : 0x6558);
            for (unsigned b = 0; b < 3; b++)
                if (flags & (1u << b))
                    pb_u32(&pk, 0x11111111u * (b + 1));
            if (kind == 2) {
                pb_eth(&pk, 0x8100);
                pb_vlan(&pk, 999, 0x0800); /* inner VLAN: skipped, not recorded */
            }
            size_t l3 = put_inner(&pk, kind == 1, &l4);
            pb_finish(&pk);

            CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, true, &m), FP_DECODE_OK);
            exp_inner(&e, kind == 1, l3, l4);
            e.tunnel = FP_TUNNEL_GRE;
            e.tunnel_depth = 1;
            META_EQ(&m, &e);

            CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, false, &m), FP_DECODE_OK);
            exp_outer(&e, 0, 47, o3, pk.len);
            META_EQ(&m, &e);
        }
    }

    /* Routing bit, or an unknown protocol: metered as the outer packet, no note. */
    for (int i = 0; i < 2; i++) {
        struct pb pk = {.len = 0};
        struct fp_pkt_meta m, e;
        size_t l4;
        size_t o3 = pb_ip4(&pk, 47, A4, B4, 0, 64, 1, 0, 0);
        pb_u8(&pk, i == 0 ? 0x40 : 0);
        pb_u8(&pk, 0);
        pb_u16(&pk, i == 0 ? 0x0800 : 0x880b);
        put_inner(&pk, 0, &l4);
        pb_finish(&pk);
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, true, &m), FP_DECODE_OK);
        exp_outer(&e, 0, 47, o3, pk.len);
        META_EQ(&m, &e);
    }

    /* Key flag set but the key is cut off: inner bad, metered as outer. */
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m, e;
    size_t o3 = pb_ip4(&pk, 47, A4, B4, 0, 64, 1, 0, 0);
    pb_u8(&pk, 0x20);
    pb_u8(&pk, 0);
    pb_u16(&pk, 0x0800);
    pb_u16(&pk, 0);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    exp_outer(&e, 0, 47, o3, pk.len);
    e.notes = FP_NOTE_TUNNEL_INNER_BAD;
    META_EQ(&m, &e);
}

/* GRE version 1 (PPTP) with PPP: with/without address+control, S and A numbers, PFC. */
static void test_gre_v1(void)
{
    for (unsigned v = 0; v < 8; v++) {
        struct pb pk = {.len = 0};
        struct fp_pkt_meta m, e;
        size_t l4;
        int seq = v & 1, ackn = (v >> 1) & 1, ac = (v >> 2) & 1;
        int v6 = v == 5;
        size_t o3 = pb_ip6(&pk, 47, A6, B6, 0, 64);
        pb_u8(&pk, (uint8_t)(0x20 | (seq ? 0x10 : 0)));
        pb_u8(&pk, (uint8_t)(0x01 | (ackn ? 0x80 : 0)));
        pb_u16(&pk, 0x880b);
        pb_u16(&pk, 0); /* payload length */
        pb_u16(&pk, 0x1234); /* call id */
        if (seq)
            pb_u32(&pk, 5);
        if (ackn)
            pb_u32(&pk, 4);
        if (ac) {
            pb_u8(&pk, 0xff);
            pb_u8(&pk, 0x03);
        }
        if (v == 6)
            pb_u8(&pk, 0x21); /* protocol field compression */
        else
            pb_u16(&pk, v6 ? 0x0057 : 0x0021);
        size_t l3 = put_inner(&pk, v6, &l4);
        pb_finish(&pk);
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, true, &m), FP_DECODE_OK);
        exp_inner(&e, v6, l3, l4);
        e.tunnel = FP_TUNNEL_GRE;
        e.tunnel_depth = 1;
        META_EQ(&m, &e);
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, false, &m), FP_DECODE_OK);
        exp_outer(&e, 1, 47, o3, pk.len);
        META_EQ(&m, &e);
    }
    /* PPP LCP: not decapsulated */
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m;
    pb_ip4(&pk, 47, A4, B4, 0, 64, 1, 0, 0);
    pb_u16(&pk, 0x3001);
    pb_u16(&pk, 0x880b);
    pb_u32(&pk, 0x00100001);
    pb_u32(&pk, 1);
    pb_u16(&pk, 0xc021);
    pb_fill(&pk, 0, 10);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.tunnel, FP_TUNNEL_NONE);
    CU_ASSERT_EQUAL(m.proto, 47);
    CU_ASSERT_EQUAL(m.notes, 0);
}

static size_t put_vxlan_outer(struct pb *pk, uint32_t vni, size_t *o3)
{
    pb_eth(pk, 0x8100);
    pb_vlan(pk, 300, 0x0800);
    *o3 = pb_ip4(pk, 17, A4, B4, 0, 64, 1, 0, 0);
    size_t l4 = pb_udp(pk, 51000, 4789);
    pb_vxlan(pk, vni);
    return l4;
}

static void test_vxlan(void)
{
    for (int v6 = 0; v6 <= 1; v6++) {
        struct pb pk = {.len = 0};
        struct fp_pkt_meta m, e;
        size_t l4, o3;
        size_t ol4 = put_vxlan_outer(&pk, 0xabcdef, &o3);
        pb_eth(&pk, v6 ? 0x86dd : 0x0800);
        size_t l3 = put_inner(&pk, v6, &l4);
        pb_finish(&pk);

        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
        exp_inner(&e, v6, l3, l4);
        e.tunnel = FP_TUNNEL_VXLAN;
        e.tunnel_depth = 1;
        e.vni = 0xabcdef;
        e.n_vlan = 1;
        e.vlan[0] = 300;
        META_EQ(&m, &e);

        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, false, &m), FP_DECODE_OK);
        exp_outer(&e, 0, 17, o3, pk.len);
        e.sport = 51000;
        e.dport = 4789;
        e.n_vlan = 1;
        e.vlan[0] = 300;
        e.l4_off = (uint16_t)ol4;
        e.payload_off = (uint16_t)(ol4 + 8);
        e.payload_len = (uint16_t)(pk.len - ol4 - 8);
        META_EQ(&m, &e);

        /* other VXLAN port configured: plain UDP */
        struct fp_decode_params p = params(FP_LINK_ETHER, true);
        p.vxlan_port = 8472;
        CU_ASSERT_EQUAL_FATAL(decode_n(pk.b, pk.len, &p, &m), FP_DECODE_OK);
        META_EQ(&m, &e);

        /* I flag clear: not decapsulated, no note */
        pk.b[ol4 + 8] = 0;
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
        META_EQ(&m, &e);
    }

    /* Inner ARP: metered as outer with TUNNEL_INNER_BAD */
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m;
    size_t o3;
    put_vxlan_outer(&pk, 5, &o3);
    pb_eth(&pk, 0x0806);
    pb_fill(&pk, 0, 28);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    CU_ASSERT_EQUAL(m.notes, FP_NOTE_TUNNEL_INNER_BAD);
    CU_ASSERT_EQUAL(m.tunnel, FP_TUNNEL_NONE);
    CU_ASSERT_EQUAL(m.vni, 0);
    CU_ASSERT_EQUAL(m.dport, 4789);
    CU_ASSERT_EQUAL(m.l3_off, o3);
}

/* GTP-U header: flags (version 1, PT), type 255, length, TEID, optional fields/extensions. */
static size_t put_gtpu(struct pb *pk, int seq, int nexth)
{
    size_t o = pb_u8(pk, (uint8_t)(0x30 | (seq ? 0x02 : 0) | (nexth ? 0x04 : 0)));
    pb_u8(pk, 255);
    pb_u16(pk, 0); /* length: not used by decode */
    pb_u32(pk, 0x0badcafe);
    if (seq || nexth) {
        pb_u16(pk, 17);
        pb_u8(pk, 0);
        pb_u8(pk, nexth ? 0x85 : 0);
    }
    if (nexth) {
        /* PDU session container (1 unit) then a 2-unit extension, then none */
        pb_u8(pk, 1);
        pb_u8(pk, 0x09);
        pb_u8(pk, 0x40);
        pb_u8(pk, 0x32);
        pb_u8(pk, 2);
        pb_fill(pk, 0xee, 6);
        pb_u8(pk, 0);
    }
    return o;
}

static void test_gtpu(void)
{
    for (unsigned v = 0; v < 6; v++) {
        int seq = v & 1, nexth = (v >> 1) & 1, v6 = v >= 2;
        int reverse = v == 5; /* GTP port as the source port */
        struct pb pk = {.len = 0};
        struct fp_pkt_meta m, e;
        size_t l4, o3;
        pb_eth(&pk, 0x86dd);
        o3 = pb_ip6(&pk, 17, A6, B6, 0, 64);
        size_t ol4 = pb_udp(&pk, reverse ? 2152 : 40000, reverse ? 40000 : 2152);
        put_gtpu(&pk, seq, nexth);
        size_t l3 = put_inner(&pk, v6, &l4);
        pb_finish(&pk);

        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
        exp_inner(&e, v6, l3, l4);
        e.tunnel = FP_TUNNEL_GTPU;
        e.tunnel_depth = 1;
        META_EQ(&m, &e);

        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, false, &m), FP_DECODE_OK);
        exp_outer(&e, 1, 17, o3, pk.len);
        e.sport = reverse ? 2152 : 40000;
        e.dport = reverse ? 40000 : 2152;
        e.l4_off = (uint16_t)ol4;
        e.payload_off = (uint16_t)(ol4 + 8);
        e.payload_len = (uint16_t)(pk.len - ol4 - 8);
        META_EQ(&m, &e);

        /* Echo request (type 1): not a G-PDU, metered as outer, no note */
        pk.b[ol4 + 9] = 1;
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
        META_EQ(&m, &e);
        /* Extension header length 0: malformed */
        if (nexth) {
            pk.b[ol4 + 9] = 255;
            pk.b[ol4 + 8 + 12] = 0;
            CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
            e.notes = FP_NOTE_TUNNEL_INNER_BAD;
            META_EQ(&m, &e);
        }
    }
}

/* GRE(outer) → VXLAN → IPIP ...: tunnel type is the outermost, VNI from the VXLAN layer. */
static void test_nesting(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m, e;
    size_t l4;

    pb_ip4(&pk, 47, A4, B4, 0, 64, 1, 0, 0);
    pb_u32(&pk, 0x00000800);
    pb_ip4(&pk, 17, B4, A4, 0, 64, 1, 0, 0);
    pb_udp(&pk, 1, 4789);
    pb_vxlan(&pk, 77);
    pb_eth(&pk, 0x0800);
    pb_ip4(&pk, 4, A4, C4, 0, 64, 1, 0, 0);
    size_t l3 = put_inner(&pk, 0, &l4);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    exp_inner(&e, 0, l3, l4);
    e.tunnel = FP_TUNNEL_GRE;
    e.tunnel_depth = 3;
    e.vni = 77;
    META_EQ(&m, &e);

    /* 4 IPIP levels decapsulated; the 5th is left and noted */
    for (unsigned levels = 4; levels <= 5; levels++) {
        struct pb pn = {.len = 0};
        size_t lvl3[8];
        for (unsigned i = 0; i < levels; i++)
            lvl3[i] = pb_ip4(&pn, 4, A4, B4, 0, (uint8_t)(64 - i), 1, 0, 0);
        lvl3[levels] = put_inner(&pn, 0, &l4);
        pb_finish(&pn);
        CU_ASSERT_EQUAL_FATAL(decode_pb(&pn, FP_LINK_RAW, true, &m), FP_DECODE_OK);
        CU_ASSERT_EQUAL(m.tunnel, FP_TUNNEL_IPIP);
        CU_ASSERT_EQUAL(m.tunnel_depth, 4);
        if (levels == 4) {
            exp_inner(&e, 0, lvl3[4], l4);
            e.tunnel = FP_TUNNEL_IPIP;
            e.tunnel_depth = 4;
            META_EQ(&m, &e);
        } else {
            CU_ASSERT_EQUAL(m.notes, FP_NOTE_TUNNEL_DEPTH);
            CU_ASSERT_EQUAL(m.l3_off, lvl3[4]);
            CU_ASSERT_EQUAL(m.proto, 4);
            CU_ASSERT_EQUAL(m.ttl, 60);
        }
    }

    /* Inner malformed (IHL 3) in IPIP: outer metered with the note */
    struct pb pb2 = {.len = 0};
    size_t o3 = pb_ip4(&pb2, 4, A4, B4, 0, 64, 1, 0, 0);
    size_t i3 = put_inner(&pb2, 0, &l4);
    pb_finish(&pb2);
    pb2.b[i3] = 0x43;
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pb2, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    exp_outer(&e, 0, 4, o3, pb2.len);
    e.notes = FP_NOTE_TUNNEL_INNER_BAD;
    META_EQ(&m, &e);

    /* Outer later fragment carrying protocol 4: never decapsulated */
    struct pb pf = {.len = 0};
    o3 = pb_ip4(&pf, 4, A4, B4, 0, 64, 0x77, 100, 0);
    put_inner(&pf, 0, &l4);
    pb_finish(&pf);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pf, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    exp_outer(&e, 0, 4, o3, pf.len);
    e.frag = FP_FRAG_LATER;
    e.frag_id = 0x77;
    META_EQ(&m, &e);
}

/* ---------------------------------------------------------------- truncation */

/* Expected outcome for prefixes shorter than @c upto (segments in increasing order). */
struct seg {
    size_t upto;
    enum fp_decode_result r;
    uint16_t notes;
    uint8_t depth;
};

static void check_prefixes(const struct pb *pk, enum fp_linktype link, const struct seg *s,
                           size_t nseg, const struct fp_pkt_meta *full)
{
    struct fp_decode_params p = params(link, true);
    size_t k = 0;
    unsigned bad = 0;

    for (size_t n = 0; n <= pk->len; n++) {
        struct fp_pkt_meta m;
        while (k < nseg && n >= s[k].upto)
            k++;
        enum fp_decode_result r = decode_n(pk->b, n, &p, &m);
        if (k == nseg) { /* the whole packet */
            CU_ASSERT_EQUAL(r, FP_DECODE_OK);
            META_EQ(&m, full);
            continue;
        }
        if (r != s[k].r || (r == FP_DECODE_OK &&
                            (m.notes != s[k].notes || m.tunnel_depth != s[k].depth))) {
            fprintf(stderr, "\n  prefix %zu: result %d notes %#x depth %u, expected %d %#x %u", n,
                    r, r == FP_DECODE_OK ? m.notes : 0, m.tunnel_depth, s[k].r, s[k].notes,
                    s[k].depth);
            bad++;
        }
        /* whatever the prefix, offsets stay inside it */
        if (r == FP_DECODE_OK) {
            CU_ASSERT_TRUE(m.l3_off < n);
            CU_ASSERT_TRUE(m.l4_off < n || m.l4_off == 0);
            CU_ASSERT_TRUE((size_t)m.payload_off + m.payload_len <= n);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
}

#define SNAP FP_NOTE_IP_SNAPLEN
#define L4T FP_NOTE_L4_TRUNC
#define INB FP_NOTE_TUNNEL_INNER_BAD

static void test_truncation_tcp4(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m;
    pb_eth(&pk, 0x0800);
    pb_ip4(&pk, 6, A4, B4, 0, 64, 1, 0, 8);
    pb_tcp(&pk, 1, 2, 3, 4, 0x10, 6, 12);
    pb_fill(&pk, 0, 10);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    /* 14 eth | 28 ip | 32 tcp | 10 payload */
    const struct seg s[] = {{14, FP_DECODE_L2_TRUNC, 0, 0},
                            {14 + 20, FP_DECODE_IP_TRUNC, 0, 0},
                            {14 + 28, FP_DECODE_IP_TRUNC, 0, 0},
                            {14 + 28 + 20, FP_DECODE_OK, SNAP | L4T, 0},
                            {pk.len, FP_DECODE_OK, SNAP, 0}};
    check_prefixes(&pk, FP_LINK_ETHER, s, 5, &m);
}

static void test_truncation_ip6_ext(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m;
    pb_eth(&pk, 0x88a8);
    pb_vlan(&pk, 1, 0x8100);
    pb_vlan(&pk, 2, 0x86dd);
    pb_ip6(&pk, 0, A6, B6, 0, 64);
    pb_ext6(&pk, 44, 1);
    pb_frag6(&pk, 17, 0, 1, 5);
    pb_udp(&pk, 1, 2);
    pb_fill(&pk, 0, 4);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    /* 22 l2 | 40 ip6 | 16 hbh | 8 frag | 8 udp | 4 */
    const struct seg s[] = {{22, FP_DECODE_L2_TRUNC, 0, 0},
                            {62, FP_DECODE_IP_TRUNC, 0, 0},
                            {86, FP_DECODE_IP6_EXT_BAD, 0, 0},
                            {94, FP_DECODE_OK, SNAP | L4T, 0},
                            {pk.len, FP_DECODE_OK, SNAP, 0}};
    check_prefixes(&pk, FP_LINK_ETHER, s, 5, &m);
}

static void test_truncation_vxlan(void)
{
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m;
    size_t o3, l4;
    put_vxlan_outer(&pk, 9, &o3);
    pb_eth(&pk, 0x0800);
    put_inner(&pk, 0, &l4);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    /* 18 l2 | 20 ip | 8 udp | 8 vxlan | 14 eth | 20 ip | 20 tcp | 5 */
    const struct seg s[] = {{18, FP_DECODE_L2_TRUNC, 0, 0},   {38, FP_DECODE_IP_TRUNC, 0, 0},
                            {46, FP_DECODE_OK, SNAP | L4T, 0}, {54, FP_DECODE_OK, SNAP | INB, 0},
                            {68, FP_DECODE_OK, SNAP | INB, 0}, {88, FP_DECODE_OK, SNAP | INB, 0},
                            {108, FP_DECODE_OK, SNAP | L4T, 1}, {pk.len, FP_DECODE_OK, SNAP, 1}};
    check_prefixes(&pk, FP_LINK_ETHER, s, 8, &m);
}

static void test_truncation_gtp_gre_mpls(void)
{
    /* MPLS → IPv4 → UDP → GTP-U (with extension) → IPv6 → TCP */
    struct pb pk = {.len = 0};
    struct fp_pkt_meta m;
    size_t l4;
    pb_eth(&pk, 0x8847);
    pb_mpls(&pk, 1, 0);
    pb_mpls(&pk, 2, 1);
    pb_ip4(&pk, 17, A4, B4, 0, 64, 1, 0, 0);
    pb_udp(&pk, 2152, 2152);
    put_gtpu(&pk, 0, 1);
    put_inner(&pk, 1, &l4);
    pb_finish(&pk);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pk, FP_LINK_ETHER, true, &m), FP_DECODE_OK);
    /* 14 eth | 8 mpls | 20 ip | 8 udp | 12 gtp + 4 + 8 ext | 40 ip6 | 20 tcp | 5 */
    const struct seg s[] = {{22, FP_DECODE_L2_TRUNC, 0, 0},   {42, FP_DECODE_IP_TRUNC, 0, 0},
                            {50, FP_DECODE_OK, SNAP | L4T, 0}, {74, FP_DECODE_OK, SNAP | INB, 0},
                            {114, FP_DECODE_OK, SNAP | INB, 0},
                            {134, FP_DECODE_OK, SNAP | L4T, 1}, {pk.len, FP_DECODE_OK, SNAP, 1}};
    check_prefixes(&pk, FP_LINK_ETHER, s, 7, &m);

    /* GRE v1 → PPP → IPv4 → TCP, raw link */
    struct pb pg = {.len = 0};
    pb_ip4(&pg, 47, A4, B4, 0, 64, 1, 0, 0);
    pb_u16(&pg, 0x3081);
    pb_u16(&pg, 0x880b);
    pb_u32(&pg, 0);
    pb_u32(&pg, 1);
    pb_u32(&pg, 2);
    pb_u8(&pg, 0xff);
    pb_u8(&pg, 0x03);
    pb_u16(&pg, 0x0021);
    put_inner(&pg, 0, &l4);
    pb_finish(&pg);
    CU_ASSERT_EQUAL_FATAL(decode_pb(&pg, FP_LINK_RAW, true, &m), FP_DECODE_OK);
    /* 20 ip | 16 gre | 4 ppp | 20 ip | 20 tcp | 5 */
    /* exactly the GRE header with no PPP byte is an acknowledgement-only packet: no note */
    const struct seg sg[] = {{20, FP_DECODE_IP_TRUNC, 0, 0},    {36, FP_DECODE_OK, SNAP | INB, 0},
                             {37, FP_DECODE_OK, SNAP, 0},       {40, FP_DECODE_OK, SNAP | INB, 0},
                             {60, FP_DECODE_OK, SNAP | INB, 0}, {80, FP_DECODE_OK, SNAP | L4T, 1},
                             {pg.len, FP_DECODE_OK, SNAP, 1}};
    check_prefixes(&pg, FP_LINK_RAW, sg, 7, &m);
}

/* ---------------------------------------------------------------- shared captures */

struct cap_stats {
    unsigned long pkts, res[FP_DECODE_RESULT_MAX];
};

static int run_capture(const char *path, bool decap,
                       void (*fn)(unsigned long idx, enum fp_decode_result r,
                                  const struct fp_pkt_meta *m, void *arg),
                       void *arg, struct cap_stats *st)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc)
        return -ENOENT;
    struct fp_decode_params p = params(FP_LINK_ETHER, decap);
    if (fp_decode_linktype_from_dlt(pcap_datalink(pc), &p.link) != 0) {
        pcap_close(pc);
        return -ENOTSUP;
    }
    memset(st, 0, sizeof(*st));
    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct fp_pkt_meta m;
        enum fp_decode_result r = decode_n(data, h->caplen, &p, &m);
        CU_ASSERT_TRUE(r < FP_DECODE_RESULT_MAX);
        st->res[r]++;
        if (fn)
            fn(st->pkts, r, &m, arg);
        st->pkts++;
    }
    pcap_close(pc);
    return 0;
}

static const char *pcap_dir(void)
{
    DIR *d = opendir("../shared/pcaps");
    if (!d)
        return NULL;
    closedir(d);
    return "../shared/pcaps";
}

static bool addr4_is(const uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
    const uint8_t v[16] = {x, y, z, w};
    return memcmp(a, v, 16) == 0;
}

static bool addr6_is(const uint8_t a[16], const char *s)
{
    uint8_t v[16];
    return inet_pton(AF_INET6, s, v) == 1 && memcmp(a, v, 16) == 0;
}

/* Facts below were read with tshark 4.x from the same files (not from this decoder). */
static void cb_4in4(unsigned long i, enum fp_decode_result r, const struct fp_pkt_meta *m,
                    void *arg)
{
    (void)i;
    (void)arg;
    CU_ASSERT_EQUAL(r, FP_DECODE_OK);
    CU_ASSERT_EQUAL(m->tunnel, FP_TUNNEL_IPIP);
    CU_ASSERT_EQUAL(m->tunnel_depth, 1);
    CU_ASSERT_EQUAL(m->n_vlan, 2);
    CU_ASSERT_EQUAL(m->vlan[0], 1624);
    CU_ASSERT_EQUAL(m->vlan[1], 505);
    CU_ASSERT_TRUE(addr4_is(m->src, 10, 10, 100, 25));
    CU_ASSERT_TRUE(addr4_is(m->dst, 10, 10, 101, 2));
    CU_ASSERT_EQUAL(m->proto, 17);
    CU_ASSERT_EQUAL(m->sport, 62367);
    CU_ASSERT_EQUAL(m->dport, 17000);
    CU_ASSERT_EQUAL(m->ip_bytes, 128);
}

struct vx_count {
    unsigned long to_dns, from_dns, to_fb, from_fb, tcp, udp, other;
};

static void cb_vxlan(unsigned long i, enum fp_decode_result r, const struct fp_pkt_meta *m,
                     void *arg)
{
    struct vx_count *c = arg;
    (void)i;
    CU_ASSERT_EQUAL(r, FP_DECODE_OK);
    CU_ASSERT_EQUAL(m->tunnel, FP_TUNNEL_VXLAN);
    CU_ASSERT_EQUAL(m->vni, 1111);
    if (addr4_is(m->dst, 8, 8, 8, 8) && addr4_is(m->src, 10, 10, 20, 4) && m->dport == 53)
        c->to_dns++;
    else if (addr4_is(m->src, 8, 8, 8, 8) && addr4_is(m->dst, 10, 10, 20, 4) && m->sport == 53)
        c->from_dns++;
    else if (addr4_is(m->dst, 157, 240, 224, 35) && addr4_is(m->src, 10, 10, 20, 4))
        c->to_fb++;
    else if (addr4_is(m->src, 157, 240, 224, 35) && addr4_is(m->dst, 10, 10, 20, 4))
        c->from_fb++;
    else
        c->other++;
    if (m->proto == 6)
        c->tcp++;
    else if (m->proto == 17)
        c->udp++;
}

static void cb_vxlan_outer(unsigned long i, enum fp_decode_result r, const struct fp_pkt_meta *m,
                           void *arg)
{
    (void)i;
    (void)arg;
    CU_ASSERT_EQUAL(r, FP_DECODE_OK);
    CU_ASSERT_EQUAL(m->tunnel, FP_TUNNEL_NONE);
    CU_ASSERT_EQUAL(m->proto, 17);
    CU_ASSERT_EQUAL(m->dport, 4789);
    CU_ASSERT_TRUE(addr4_is(m->src, 192, 168, 22, 4) || addr4_is(m->src, 192, 168, 22, 5));
}

static void cb_gtp(unsigned long i, enum fp_decode_result r, const struct fp_pkt_meta *m,
                   void *arg)
{
    (void)arg;
    CU_ASSERT_EQUAL(r, FP_DECODE_OK);
    CU_ASSERT_EQUAL(m->tunnel, FP_TUNNEL_GTPU);
    CU_ASSERT_EQUAL(m->ip_version, 6);
    if (i == 0) {
        CU_ASSERT_TRUE(addr6_is(m->src, "2607:fc20:4052:39e:490a:ea4d:17fe:e09c"));
        CU_ASSERT_TRUE(addr6_is(m->dst, "fd00:976a:bc67:193e::7"));
        CU_ASSERT_EQUAL(m->proto, 17);
        CU_ASSERT_EQUAL(m->sport, 49120);
        CU_ASSERT_EQUAL(m->dport, 25658);
        CU_ASSERT_EQUAL(m->ip_bytes, 40 + 52);
    } else {
        CU_ASSERT_TRUE(addr6_is(m->src, "2a01:4c8:c014:144e:1:2:945b:6761"));
        CU_ASSERT_TRUE(addr6_is(m->dst, "2a01:4c8:f000:f49::4"));
        CU_ASSERT_EQUAL(m->proto, 50);
        CU_ASSERT_EQUAL(m->ip_bytes, 40 + 68);
    }
}

static void cb_gre(unsigned long i, enum fp_decode_result r, const struct fp_pkt_meta *m,
                   void *arg)
{
    (void)i;
    (void)arg;
    CU_ASSERT_EQUAL(r, FP_DECODE_OK);
    CU_ASSERT_EQUAL(m->tunnel, FP_TUNNEL_GRE);
    CU_ASSERT_TRUE(addr4_is(m->src, 192, 168, 10, 210));
    CU_ASSERT_TRUE(addr4_is(m->dst, 192, 168, 103, 40));
    CU_ASSERT_EQUAL(m->sport, 5060);
    CU_ASSERT_EQUAL(m->dport, 5060);
    CU_ASSERT_EQUAL(m->ip_bytes, 326);
}

static void cb_4in6(unsigned long i, enum fp_decode_result r, const struct fp_pkt_meta *m,
                    void *arg)
{
    (void)arg;
    CU_ASSERT_EQUAL(r, FP_DECODE_OK);
    CU_ASSERT_EQUAL(m->tunnel, FP_TUNNEL_IPIP);
    CU_ASSERT_EQUAL(m->ip_version, 4);
    bool fwd = (i % 2) == 0;
    CU_ASSERT_TRUE(addr4_is(fwd ? m->src : m->dst, 192, 168, 0, 1));
    CU_ASSERT_TRUE(addr4_is(fwd ? m->dst : m->src, 10, 10, 10, 1));
    CU_ASSERT_EQUAL(fwd ? m->sport : m->dport, 64455);
    CU_ASSERT_EQUAL(fwd ? m->dport : m->sport, 443);
    if (i == 0) {
        CU_ASSERT_EQUAL(m->tcp_flags, 0x002);
        CU_ASSERT_EQUAL(m->tcp_seq, 3756080770u);
    }
    if (i == 1) {
        CU_ASSERT_EQUAL(m->tcp_flags, 0x012);
        CU_ASSERT_EQUAL(m->tcp_seq, 51169934u);
    }
}

struct proto_count {
    unsigned long tcp, udp, icmp6, v6, ipip;
};

static void cb_6in4(unsigned long i, enum fp_decode_result r, const struct fp_pkt_meta *m,
                    void *arg)
{
    struct proto_count *c = arg;
    (void)i;
    CU_ASSERT_EQUAL(r, FP_DECODE_OK);
    c->tcp += m->proto == 6;
    c->udp += m->proto == 17;
    c->icmp6 += m->proto == 58;
    c->v6 += m->ip_version == 6;
    c->ipip += m->tunnel == FP_TUNNEL_IPIP;
}

static void test_captures(void)
{
    const char *dir = pcap_dir();
    char path[512];
    struct cap_stats st;

    if (!dir) {
        printf("\n  [decode] ../shared/pcaps not found: capture checks skipped\n");
        return;
    }
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    unsigned files = 0;
    unsigned long total = 0, ok = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t l = strlen(de->d_name);
        if (!((l > 5 && strcmp(de->d_name + l - 5, ".pcap") == 0) ||
              (l > 7 && strcmp(de->d_name + l - 7, ".pcapng") == 0)))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        for (int decap = 0; decap <= 1; decap++) {
            int rc = run_capture(path, decap, NULL, NULL, &st);
            CU_ASSERT_EQUAL(rc, 0);
            if (rc != 0) {
                fprintf(stderr, "\n  %s: %d", path, rc);
                continue;
            }
            unsigned long sum = 0;
            for (unsigned k = 0; k < FP_DECODE_RESULT_MAX; k++)
                sum += st.res[k];
            CU_ASSERT_EQUAL(sum, st.pkts);
            total += st.pkts;
            ok += st.res[FP_DECODE_OK];
        }
        files++;
    }
    closedir(d);
    CU_ASSERT_TRUE(files >= 50);
    CU_ASSERT_TRUE(ok > total / 2);

#define CAP(name) (snprintf(path, sizeof(path), "%s/%s", dir, (name)), path)
    CU_ASSERT_EQUAL(run_capture(CAP("4in4tunnel.pcap"), true, cb_4in4, NULL, &st), 0);
    CU_ASSERT_EQUAL(st.pkts, 5);

    struct vx_count vx = {0};
    CU_ASSERT_EQUAL(run_capture(CAP("vxlan.pcap"), true, cb_vxlan, &vx, &st), 0);
    CU_ASSERT_EQUAL(st.pkts, 127);
    CU_ASSERT_EQUAL(vx.to_dns, 4);
    CU_ASSERT_EQUAL(vx.from_dns, 4);
    CU_ASSERT_EQUAL(vx.to_fb, 50);
    CU_ASSERT_EQUAL(vx.from_fb, 69);
    CU_ASSERT_EQUAL(vx.other, 0);
    CU_ASSERT_EQUAL(vx.tcp, 119);
    CU_ASSERT_EQUAL(vx.udp, 8);
    CU_ASSERT_EQUAL(run_capture(CAP("vxlan.pcap"), false, cb_vxlan_outer, NULL, &st), 0);

    CU_ASSERT_EQUAL(run_capture(CAP("ipv6_in_gtp.pcap"), true, cb_gtp, NULL, &st), 0);
    CU_ASSERT_EQUAL(st.pkts, 2);
    CU_ASSERT_EQUAL(run_capture(CAP("gre.pcapng"), true, cb_gre, NULL, &st), 0);
    CU_ASSERT_EQUAL(st.pkts, 1);
    CU_ASSERT_EQUAL(run_capture(CAP("4in6tunnel.pcap"), true, cb_4in6, NULL, &st), 0);
    CU_ASSERT_EQUAL(st.pkts, 4);

    struct proto_count pc = {0};
    CU_ASSERT_EQUAL(run_capture(CAP("6in4tunnel.pcap"), true, cb_6in4, &pc, &st), 0);
    CU_ASSERT_EQUAL(st.pkts, 127);
    CU_ASSERT_EQUAL(pc.icmp6, 48);
    CU_ASSERT_EQUAL(pc.tcp, 75);
    CU_ASSERT_EQUAL(pc.udp, 4);
    CU_ASSERT_EQUAL(pc.v6, 127);
    CU_ASSERT_EQUAL(pc.ipip, 127);
#undef CAP
}

void fp_test_register_decode(void);

void fp_test_register_decode(void)
{
    static CU_TestInfo tests[] = {
        {"names", test_names},
        {"params_dlt", test_params_dlt},
        {"ipv4_tcp", test_ipv4_tcp},
        {"ipv4_options_udp", test_ipv4_options_udp},
        {"other_l4", test_other_l4},
        {"icmp", test_icmp},
        {"ipv6_tcp", test_ipv6_tcp},
        {"ipv6_ext_chain", test_ipv6_ext_chain},
        {"ipv4_fragments", test_ipv4_fragments},
        {"vlan_qinq", test_vlan_qinq},
        {"mpls", test_mpls},
        {"pppoe_not_ip", test_pppoe_and_not_ip},
        {"link_types", test_link_types},
        {"malformed", test_malformed},
        {"edges", test_edges},
        {"ipip", test_ipip},
        {"gre_v0", test_gre_v0},
        {"gre_v1", test_gre_v1},
        {"vxlan", test_vxlan},
        {"gtpu", test_gtpu},
        {"nesting", test_nesting},
        {"truncation_tcp4", test_truncation_tcp4},
        {"truncation_ip6_ext", test_truncation_ip6_ext},
        {"truncation_vxlan", test_truncation_vxlan},
        {"truncation_gtp_gre_mpls", test_truncation_gtp_gre_mpls},
        {"captures", test_captures},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("decode", tests);
}
