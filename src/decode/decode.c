/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Packet decoder: one captured frame → struct fp_pkt_meta, following the metering rules of
 * src/decode/README.md. Called per packet by worker lcores; stateless, no allocation, no
 * locks, no logging. Every byte is read through struct fp_cursor (decode_internal.h), which
 * copies headers into locals, so reads never leave [frame, frame + caplen).
 *
 * Layout: link layer → IP (+ extension headers) → transport, one straight pass with static
 * inline helpers; tunnels are detected while parsing the transport and handled in a separate
 * cold loop so the plain TCP/UDP path stays short.
 */
#include <errno.h>
#include <string.h>

#include "decode/decode.h"
#include "decode/decode_internal.h"

/* EtherTypes, IP protocols and link-layer constants used below. */
#define ET_IPV4 0x0800
#define ET_IPV6 0x86dd
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8
#define ET_QINQ_OLD 0x9100
#define ET_MPLS_UC 0x8847
#define ET_MPLS_MC 0x8848
#define ET_PPPOE_SESS 0x8864
#define ET_TEB 0x6558
#define ET_PPP 0x880b
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define IPP_HOPOPT 0
#define IPP_ICMP 1
#define IPP_IPIP 4
#define IPP_TCP 6
#define IPP_UDP 17
#define IPP_DCCP 33
#define IPP_IPV6 41
#define IPP_ROUTING 43
#define IPP_FRAGMENT 44
#define IPP_GRE 47
#define IPP_AH 51
#define IPP_ICMPV6 58
#define IPP_DSTOPTS 60
#define IPP_SCTP 132
#define IPP_MOBILITY 135
#define IPP_HIP 139
#define IPP_SHIM6 140
#define IPP_UDPLITE 136

#define MPLS_MAX_LABELS 8
#define IP6_MAX_EXT 8
#define TUNNEL_MAX_DEPTH 4

/* What follows the current header (link layer result, tunnel payload). */
enum layer_kind {
    K_NONE,  /* nothing to decapsulate */
    K_BAD,   /* tunnel header present but malformed/truncated */
    K_ETHER, /* Ethernet frame (VXLAN, GRE TEB) */
    K_IP4,
    K_IP6,
    K_IPANY, /* IPv4 or IPv6, chosen by the first nibble */
};

/* A tunnel found while parsing a packet: where its payload starts and what it is. */
struct tunnel_next {
    struct fp_cursor in; /* payload window, bounded by the outer IP length and the capture */
    uint8_t kind;        /* enum layer_kind */
    uint8_t type;        /* enum fp_tunnel */
    uint32_t vni;
};

const char *const fp_decode_result_names[FP_DECODE_RESULT_MAX] = {
#define FP_X_NAME(name, desc) [FP_DECODE_##name] = #name,
    FP_DECODE_RESULTS(FP_X_NAME)
#undef FP_X_NAME
};

const char *const fp_decode_result_descs[FP_DECODE_RESULT_MAX] = {
#define FP_X_DESC(name, desc) [FP_DECODE_##name] = desc,
    FP_DECODE_RESULTS(FP_X_DESC)
#undef FP_X_DESC
};

const char *const fp_decode_note_names[FP_DECODE_NOTE_COUNT] = {
#define FP_X_NAME(name, bit, desc) [bit] = #name,
    FP_DECODE_NOTES(FP_X_NAME)
#undef FP_X_NAME
};

const char *const fp_decode_note_descs[FP_DECODE_NOTE_COUNT] = {
#define FP_X_DESC(name, bit, desc) [bit] = desc,
    FP_DECODE_NOTES(FP_X_DESC)
#undef FP_X_DESC
};

/* Every note bit must fit the table and the 16-bit notes field. */
#define FP_X_CHECK(name, bit, desc)                                                         \
    FP_STATIC_ASSERT((bit) < FP_DECODE_NOTE_COUNT && (bit) < 16, "note bit " #name);
FP_DECODE_NOTES(FP_X_CHECK)
#undef FP_X_CHECK

void fp_decode_params_default(struct fp_decode_params *p)
{
    p->link = FP_LINK_ETHER;
    p->decap = true;
    p->vxlan_port = 4789;
    p->gtpu_port = 2152;
}

int fp_decode_linktype_from_dlt(int dlt, enum fp_linktype *out)
{
    switch (dlt) {
    case 1: /* DLT_EN10MB */
        *out = FP_LINK_ETHER;
        return 0;
    case 12:  /* DLT_RAW (most systems) */
    case 14:  /* DLT_RAW (OpenBSD) */
    case 101: /* LINKTYPE_RAW */
    case 228: /* LINKTYPE_IPV4 */
    case 229: /* LINKTYPE_IPV6 */
        *out = FP_LINK_RAW;
        return 0;
    case 113: /* DLT_LINUX_SLL */
        *out = FP_LINK_SLL;
        return 0;
    case 276: /* DLT_LINUX_SLL2 */
        *out = FP_LINK_SLL2;
        return 0;
    case 0:   /* DLT_NULL */
    case 108: /* DLT_LOOP */
        *out = FP_LINK_NULL;
        return 0;
    default:
        return -ENOTSUP;
    }
}

static inline uint16_t off16(const uint8_t *frame, const uint8_t *p)
{
    return (uint16_t)(p - frame);
}

/* MPLS label stack (at most MPLS_MAX_LABELS), then IPv4/IPv6 by the first nibble. */
static inline enum fp_decode_result l2_mpls(struct fp_cursor *c, unsigned *kind)
{
    uint8_t b[4];

    for (unsigned i = 0; i < MPLS_MAX_LABELS; i++) {
        if (!fp_cursor_pull(c, b, 4))
            return FP_DECODE_L2_TRUNC;
        if (b[2] & 1) { /* bottom of stack */
            if (!fp_cursor_peek(c, b, 1))
                return FP_DECODE_IP_TRUNC;
            if ((b[0] >> 4) == 4)
                *kind = K_IP4;
            else if ((b[0] >> 4) == 6)
                *kind = K_IP6;
            else
                return FP_DECODE_NOT_IP;
            return FP_DECODE_OK;
        }
    }
    return FP_DECODE_NOT_IP;
}

/* PPPoE session header (6 bytes) + PPP protocol (2 bytes). */
static inline enum fp_decode_result l2_pppoe(struct fp_cursor *c, unsigned *kind)
{
    uint8_t b[8];

    if (!fp_cursor_pull(c, b, 8))
        return FP_DECODE_L2_TRUNC;
    uint16_t proto = fp_be16(b + 6);
    if (proto == PPP_IPV4)
        *kind = K_IP4;
    else if (proto == PPP_IPV6)
        *kind = K_IP6;
    else
        return FP_DECODE_NOT_IP;
    return FP_DECODE_OK;
}

/*
 * Dispatch on an EtherType: VLAN tags (first two recorded in vlan[]), MPLS, PPPoE, IP.
 * The cursor is just past the EtherType field.
 */
static inline enum fp_decode_result l2_ethertype(struct fp_cursor *c, uint16_t et, uint16_t *vlan,
                                                 uint8_t *n_vlan, unsigned *kind)
{
    uint8_t b[4];

    while (et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD) {
        if (!fp_cursor_pull(c, b, 4))
            return FP_DECODE_L2_TRUNC;
        if (*n_vlan < 2)
            vlan[(*n_vlan)++] = fp_be16(b) & 0x0fff;
        et = fp_be16(b + 2);
    }
    if (likely(et == ET_IPV4)) {
        *kind = K_IP4;
        return FP_DECODE_OK;
    }
    if (et == ET_IPV6) {
        *kind = K_IP6;
        return FP_DECODE_OK;
    }
    if (et == ET_MPLS_UC || et == ET_MPLS_MC)
        return l2_mpls(c, kind);
    if (et == ET_PPPOE_SESS)
        return l2_pppoe(c, kind);
    return FP_DECODE_NOT_IP;
}

static inline enum fp_decode_result l2_ether(struct fp_cursor *c, uint16_t *vlan, uint8_t *n_vlan,
                                             unsigned *kind)
{
    uint8_t h[14];

    if (!fp_cursor_pull(c, h, sizeof(h)))
        return FP_DECODE_L2_TRUNC;
    return l2_ethertype(c, fp_be16(h + 12), vlan, n_vlan, kind);
}

/* Link layer of the port → cursor at the network header and its kind. */
static inline enum fp_decode_result decode_link(struct fp_cursor *c, enum fp_linktype link,
                                                struct fp_pkt_meta *m, unsigned *kind)
{
    uint8_t h[20];

    switch (link) {
    case FP_LINK_ETHER:
        return l2_ether(c, m->vlan, &m->n_vlan, kind);
    case FP_LINK_RAW:
        *kind = K_IPANY;
        return FP_DECODE_OK;
    case FP_LINK_SLL:
        if (!fp_cursor_pull(c, h, 16))
            return FP_DECODE_L2_TRUNC;
        return l2_ethertype(c, fp_be16(h + 14), m->vlan, &m->n_vlan, kind);
    case FP_LINK_SLL2:
        if (!fp_cursor_pull(c, h, 20))
            return FP_DECODE_L2_TRUNC;
        return l2_ethertype(c, fp_be16(h), m->vlan, &m->n_vlan, kind);
    case FP_LINK_NULL: {
        if (!fp_cursor_pull(c, h, 4))
            return FP_DECODE_L2_TRUNC;
        /* Family in the writer's byte order (DLT_NULL) or network order (DLT_LOOP). */
        uint32_t fam = fp_le32(h);
        if (fam > 0xffff)
            fam = __builtin_bswap32(fam);
        if (fam == 2)
            *kind = K_IP4;
        else if (fam == 24 || fam == 28 || fam == 30)
            *kind = K_IP6;
        else
            return FP_DECODE_NOT_IP;
        return FP_DECODE_OK;
    }
    }
    return FP_DECODE_NOT_IP;
}

/* GRE (RFC 2784/2890 version 0, RFC 2637 version 1). @p c is at the GRE header. */
static void tunnel_gre(struct fp_cursor c, struct tunnel_next *t)
{
    uint8_t g[4];

    if (!fp_cursor_pull(&c, g, 4))
        goto bad;
    uint16_t proto = fp_be16(g + 2);
    unsigned kind;
    switch (g[1] & 7) {
    case 0:
        if (g[0] & 0x40) /* routing present: not decapsulated */
            return;
        if (proto == ET_IPV4)
            kind = K_IP4;
        else if (proto == ET_IPV6)
            kind = K_IP6;
        else if (proto == ET_TEB)
            kind = K_ETHER;
        else
            return;
        /* C, K, S: 4 bytes each. */
        if (!fp_cursor_skip(&c, 4u * (((g[0] >> 7) & 1) + ((g[0] >> 5) & 1) + ((g[0] >> 4) & 1))))
            goto bad;
        break;
    case 1: {
        uint8_t b[2];
        if (proto != ET_PPP)
            return;
        /* payload length + call id, then S (seq) and A (ack) numbers when flagged */
        if (!fp_cursor_skip(&c, 4u + 4u * ((g[0] >> 4) & 1) + 4u * (g[1] >> 7)))
            goto bad;
        if (fp_cursor_left(&c) == 0) /* acknowledgement only */
            return;
        if (!fp_cursor_peek(&c, b, 2))
            goto bad;
        if (b[0] == 0xff && b[1] == 0x03) { /* address + control */
            c.ptr += 2;
            if (!fp_cursor_peek(&c, b, 1))
                goto bad;
        }
        uint16_t pp;
        if (b[0] & 1) { /* protocol field compression: one byte */
            pp = b[0];
            c.ptr += 1;
        } else {
            if (!fp_cursor_pull(&c, b, 2))
                goto bad;
            pp = fp_be16(b);
        }
        if (pp == PPP_IPV4)
            kind = K_IP4;
        else if (pp == PPP_IPV6)
            kind = K_IP6;
        else
            return;
        break;
    }
    default:
        return;
    }
    t->in = c;
    t->kind = (uint8_t)kind;
    t->type = FP_TUNNEL_GRE;
    return;
bad:
    t->kind = K_BAD;
}

/* VXLAN (RFC 7348). @p c is just past the UDP header. */
static void tunnel_vxlan(struct fp_cursor c, struct tunnel_next *t)
{
    uint8_t v[8];

    if (!fp_cursor_pull(&c, v, 8)) {
        t->kind = K_BAD;
        return;
    }
    if (!(v[0] & 0x08)) /* I flag: VNI valid */
        return;
    t->in = c;
    t->kind = K_ETHER;
    t->type = FP_TUNNEL_VXLAN;
    t->vni = fp_be32(v + 4) >> 8;
}

/* GTP-U (3GPP TS 29.281) G-PDU. @p c is just past the UDP header. */
static void tunnel_gtpu(struct fp_cursor c, struct tunnel_next *t)
{
    uint8_t g[12];

    if (!fp_cursor_pull(&c, g, 8))
        goto bad;
    if ((g[0] >> 5) != 1 || g[1] != 255) /* version 1, G-PDU */
        return;
    if (g[0] & 0x07) { /* E, S or PN: sequence, N-PDU number, next extension type */
        if (!fp_cursor_pull(&c, g + 8, 4))
            goto bad;
        uint8_t next = (g[0] & 0x04) ? g[11] : 0;
        while (next != 0) {
            uint8_t b[1];
            /* length in 4-octet units, including itself and the next-type octet */
            if (!fp_cursor_peek(&c, b, 1) || b[0] == 0)
                goto bad;
            if (!fp_cursor_skip(&c, 4u * b[0] - 1u) || !fp_cursor_pull(&c, b, 1))
                goto bad;
            next = b[0];
        }
    }
    t->in = c;
    t->kind = K_IPANY;
    t->type = FP_TUNNEL_GTPU;
    return;
bad:
    t->kind = K_BAD;
}

/*
 * Transport header at @p c (window bounded by the IP length and the capture).
 * Sets ports, flags, ICMP type/code, offsets; detects tunnels when @p p->decap.
 */
static inline void decode_l4(const uint8_t *frame, struct fp_cursor *c,
                             const struct fp_decode_params *p, struct fp_pkt_meta *m,
                             struct tunnel_next *t)
{
    uint8_t h[20];
    size_t left = fp_cursor_left(c);
    size_t l4 = (size_t)(c->ptr - frame);
    size_t hl;

    /* Offsets are 16-bit in the meta: a header that starts beyond that is not parsed. */
    if (unlikely(l4 > 0xffff - 64)) {
        c->end = c->ptr;
        left = 0;
    }
    switch (m->proto) {
    case IPP_TCP: {
        if (!fp_cursor_peek(c, h, 20))
            goto trunc;
        m->sport = fp_be16(h);
        m->dport = fp_be16(h + 2);
        m->tcp_seq = fp_be32(h + 4);
        m->tcp_ack = fp_be32(h + 8);
        m->tcp_win = fp_be16(h + 14);
        m->l4_off = (uint16_t)l4;
        hl = (size_t)(h[12] >> 4) * 4;
        if (unlikely(hl < 20)) {
            m->notes |= FP_NOTE_L4_HDR_BAD;
            return;
        }
        m->tcp_flags = (uint16_t)(((h[12] & 1u) << 8) | h[13]);
        if (likely(hl <= left))
            goto payload;
        return;
    }
    case IPP_UDP:
    case IPP_UDPLITE:
        if (!fp_cursor_peek(c, h, 8))
            goto trunc;
        m->sport = fp_be16(h);
        m->dport = fp_be16(h + 2);
        m->l4_off = (uint16_t)l4;
        hl = 8;
        if (p->decap && m->proto == IPP_UDP) {
            struct fp_cursor in = {c->ptr + 8, c->end};
            if (m->dport == p->vxlan_port)
                tunnel_vxlan(in, t);
            else if (m->dport == p->gtpu_port || m->sport == p->gtpu_port)
                tunnel_gtpu(in, t);
        }
        goto payload;
    case IPP_SCTP:
    case IPP_DCCP:
        if (!fp_cursor_peek(c, h, 12))
            goto trunc;
        m->sport = fp_be16(h);
        m->dport = fp_be16(h + 2);
        m->l4_off = (uint16_t)l4;
        hl = 12;
        if (m->proto == IPP_DCCP) {
            hl = (size_t)h[4] * 4; /* data offset, 32-bit words */
            if (hl < 12 || hl > left)
                return;
        }
        goto payload;
    case IPP_ICMP:
    case IPP_ICMPV6:
        if (!fp_cursor_peek(c, h, 8))
            goto trunc;
        m->icmp_type_code = fp_be16(h);
        m->l4_off = (uint16_t)l4;
        hl = 8;
        goto payload;
    case IPP_IPIP:
    case IPP_IPV6:
        if (p->decap) {
            t->in = *c;
            t->kind = m->proto == IPP_IPIP ? K_IP4 : K_IP6;
            t->type = FP_TUNNEL_IPIP;
        }
        return;
    case IPP_GRE:
        if (p->decap)
            tunnel_gre(*c, t);
        return;
    default:
        return;
    }
payload:
    if (unlikely(l4 + hl > 0xffff))
        return;
    m->payload_off = (uint16_t)(l4 + hl);
    m->payload_len = (uint16_t)FP_MIN(left - hl, (size_t)0xffff);
    return;
trunc:
    m->notes |= FP_NOTE_L4_TRUNC;
}

static inline bool ip6_is_ext(unsigned nh)
{
    /* 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options */
    const uint64_t lo = (1ull << IPP_HOPOPT) | (1ull << IPP_ROUTING) | (1ull << IPP_FRAGMENT) |
                        (1ull << IPP_AH) | (1ull << IPP_DSTOPTS);
    if (nh < 64)
        return (lo >> nh) & 1;
    return nh == IPP_MOBILITY || nh == IPP_HIP || nh == IPP_SHIM6;
}

/*
 * One IP layer (and its transport) at @p c. On OK, @p c is bounded by the IP length and
 * @p t says whether a tunnel payload follows.
 */
static inline enum fp_decode_result decode_ip(const uint8_t *frame, struct fp_cursor *c,
                                              unsigned kind, const struct fp_decode_params *p,
                                              struct fp_pkt_meta *m, struct tunnel_next *t)
{
    uint8_t h[40];
    size_t left = fp_cursor_left(c);

    if (unlikely(kind == K_IPANY)) {
        if (!fp_cursor_peek(c, h, 1))
            return FP_DECODE_IP_TRUNC;
        if ((h[0] >> 4) == 4)
            kind = K_IP4;
        else if ((h[0] >> 4) == 6)
            kind = K_IP6;
        else
            return FP_DECODE_IP_HDR_BAD;
    }
    if (unlikely(c->ptr - frame > 0xffff - 40))
        return FP_DECODE_IP_TRUNC; /* header offsets must fit the 16-bit meta fields */
    m->l3_off = off16(frame, c->ptr);

    if (likely(kind == K_IP4)) {
        if (!fp_cursor_peek(c, h, 20))
            return FP_DECODE_IP_TRUNC;
        size_t hl = (size_t)(h[0] & 15) * 4;
        size_t tot = fp_be16(h + 2);
        if (unlikely((h[0] >> 4) != 4 || hl < 20 || tot < hl))
            return FP_DECODE_IP_HDR_BAD;
        if (unlikely(left < hl))
            return FP_DECODE_IP_TRUNC;
        memcpy(m->src, h + 12, 4);
        memcpy(m->dst, h + 16, 4);
        m->ip_version = 4;
        m->tos = h[1];
        m->ttl = h[8];
        m->proto = h[9];
        m->ip_bytes = (uint32_t)tot;
        uint16_t fo = fp_be16(h + 6);
        if (unlikely(fo & 0x3fff)) {
            m->frag = (fo & 0x1fff) ? FP_FRAG_LATER : FP_FRAG_FIRST;
            m->frag_id = fp_be16(h + 4);
        }
        if (unlikely(tot > left))
            m->notes |= FP_NOTE_IP_SNAPLEN;
        else
            c->end = c->ptr + tot; /* drop Ethernet padding */
        c->ptr += hl;
    } else {
        if (!fp_cursor_peek(c, h, 40))
            return FP_DECODE_IP_TRUNC;
        size_t plen = fp_be16(h + 4);
        if (unlikely((h[0] >> 4) != 6 || plen == 0))
            return FP_DECODE_IP_HDR_BAD;
        memcpy(m->src, h + 8, 16);
        memcpy(m->dst, h + 24, 16);
        m->ip_version = 6;
        m->tos = (uint8_t)(fp_be16(h) >> 4);
        m->ttl = h[7];
        m->ip_bytes = (uint32_t)(40 + plen);
        if (unlikely(40 + plen > left))
            m->notes |= FP_NOTE_IP_SNAPLEN;
        else
            c->end = c->ptr + 40 + plen;
        c->ptr += 40;

        unsigned nh = h[6];
        for (unsigned n = 0; unlikely(ip6_is_ext(nh)); n++) {
            uint8_t e[8];
            if (n == IP6_MAX_EXT || !fp_cursor_peek(c, e, 2))
                return FP_DECODE_IP6_EXT_BAD;
            size_t len = (size_t)(e[1] + 1) * 8;
            if (nh == IPP_AH) {
                len = (size_t)(e[1] + 2) * 4;
            } else if (nh == IPP_FRAGMENT) {
                len = 8;
                if (!fp_cursor_peek(c, e, 8))
                    return FP_DECODE_IP6_EXT_BAD;
                uint16_t fo = fp_be16(e + 2);
                m->frag = (fo & 0xfff8) ? FP_FRAG_LATER : (fo & 1) ? FP_FRAG_FIRST : FP_FRAG_NONE;
                m->frag_id = m->frag != FP_FRAG_NONE ? fp_be32(e + 4) : 0;
            }
            if (!fp_cursor_skip(c, len))
                return FP_DECODE_IP6_EXT_BAD;
            nh = e[0];
            if (m->frag == FP_FRAG_LATER)
                break;
        }
        m->proto = (uint8_t)nh;
    }
    if (likely(m->frag != FP_FRAG_LATER))
        decode_l4(frame, c, p, m, t);
    return FP_DECODE_OK;
}

/* Cold path: decapsulate tunnel payloads up to TUNNEL_MAX_DEPTH. */
static __attribute__((noinline)) void decap(const uint8_t *frame, const struct fp_decode_params *p,
                                            struct fp_pkt_meta *m, struct tunnel_next *t)
{
    struct fp_pkt_meta in;
    uint16_t vlan_inner[2];

    for (unsigned depth = 0; t->kind != K_NONE; depth++) {
        if (t->kind == K_BAD) {
            m->notes |= FP_NOTE_TUNNEL_INNER_BAD;
            return;
        }
        if (depth == TUNNEL_MAX_DEPTH) {
            m->notes |= FP_NOTE_TUNNEL_DEPTH;
            return;
        }
        struct fp_cursor c = t->in;
        unsigned kind = t->kind;
        uint8_t n_inner = 0;
        enum fp_decode_result r = FP_DECODE_OK;
        memset(&in, 0, sizeof(in));
        if (kind == K_ETHER) /* inner VLAN tags are skipped: the key keeps the outer ones */
            r = l2_ether(&c, vlan_inner, &n_inner, &kind);
        struct tunnel_next t2 = {.kind = K_NONE};
        if (r == FP_DECODE_OK)
            r = decode_ip(frame, &c, kind, p, &in, &t2);
        if (r != FP_DECODE_OK) {
            m->notes |= FP_NOTE_TUNNEL_INNER_BAD;
            return;
        }
        memcpy(in.vlan, m->vlan, sizeof(in.vlan));
        in.n_vlan = m->n_vlan;
        in.tunnel = depth == 0 ? t->type : m->tunnel;
        in.vni = m->vni != 0 ? m->vni : t->vni;
        in.tunnel_depth = (uint8_t)(depth + 1);
        *m = in;
        *t = t2;
    }
}

enum fp_decode_result fp_decode_packet(const uint8_t *frame, uint32_t caplen,
                                       const struct fp_decode_params *p, struct fp_pkt_meta *m)
{
    struct fp_cursor c = {frame, frame + caplen};
    struct tunnel_next t = {.kind = K_NONE};
    unsigned kind = K_NONE;

    static const struct fp_pkt_meta zero;

    *m = zero; /* a struct copy: gcc turns memset of this size into a slow rep stos */
    enum fp_decode_result r = decode_link(&c, p->link, m, &kind);
    if (unlikely(r != FP_DECODE_OK))
        return r;
    r = decode_ip(frame, &c, kind, p, m, &t);
    if (unlikely(r != FP_DECODE_OK))
        return r;
    if (unlikely(t.kind != K_NONE))
        decap(frame, p, m, &t);
    return FP_DECODE_OK;
}
