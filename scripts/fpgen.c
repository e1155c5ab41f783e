/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * @brief fpgen: deterministic synthetic traffic generator writing classic pcap or pcapng.
 *
 * Test tool, not part of the data path. Profiles:
 *  - mix:       a small realistic mix (TCP with handshakes and FIN/RST/open ends, DNS, ICMP
 *               echo, IPv6 TCP/UDP/ICMPv6, 802.1Q and QinQ, IPv4 fragments, GRE, VXLAN, ARP).
 *  - bench64:   minimum-size frames (64 bytes on the wire incl. FCS), ~5M packets over
 *               ~1M uniflows, 10% IPv6, 80% TCP, timestamps at --pps (default 1 Mpps).
 *  - benchimix: IMIX 7:4:1 of 64/576/1500-byte frames (wire sizes incl. FCS), ~4.2M
 *               packets over ~100k uniflows.
 * The same arguments always give the same bytes. Frames are built from the innermost
 * payload outwards (prepend buffer) with correct lengths and checksums. The file is
 * written directly (no libpcap, and nothing of FlowPulse's decoder is used).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX 4096  /* prepend area: frames grow downwards from here */
#define FRAME_TAIL 128  /* room after the frame for Ethernet padding */
#define MIN_FRAME 60    /* captured minimum Ethernet frame (64 on the wire with FCS) */
#define SNAPLEN 65535
#define OUTBUF_SIZE (8u << 20)
#define BENCH_ACTIVE 8192 /* connections active at once in the bench profiles */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* ---------------------------------------------------------------------------------------- */
/* Deterministic random numbers (splitmix64).                                               */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (inclusive). */
static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(rng_next(r) % ((uint64_t)hi - lo + 1));
}

/* ---------------------------------------------------------------------------------------- */
/* Byte helpers and the Internet checksum.                                                  */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void putle16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void putle32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* One's-complement sum of n bytes (starting at an even offset), folded to 16 bits. */
static uint32_t csum_partial(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    while (n >= 2) {
        s += (uint32_t)p[0] << 8 | p[1];
        p += 2;
        n -= 2;
    }
    if (n)
        s += (uint32_t)p[0] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* ---------------------------------------------------------------------------------------- */
/* Addresses and the prepend packet builder.                                                */

struct addr {
    uint8_t ver; /* 4 or 6 */
    uint8_t a[16];
};

static struct addr addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct addr x = {.ver = 4, .a = {a, b, c, d}};
    return x;
}

/* 2001:db8:<net>::<host> */
static struct addr addr6(uint16_t net, uint32_t host)
{
    struct addr x = {.ver = 6};
    put16(x.a, 0x2001);
    put16(x.a + 2, 0x0db8);
    put16(x.a + 4, net);
    put32(x.a + 12, host);
    return x;
}

static uint32_t pseudo_sum(const struct addr *s, const struct addr *d, uint8_t proto, uint32_t len)
{
    uint8_t ph[40];
    size_t alen = s->ver == 4 ? 4 : 16;
    uint32_t sum = csum_partial(s->a, alen) + csum_partial(d->a, alen);
    put32(ph, len);
    ph[4] = 0;
    ph[5] = 0;
    ph[6] = 0;
    ph[7] = proto;
    return sum + csum_partial(ph, 8);
}

struct pb {
    uint8_t buf[FRAME_MAX + FRAME_TAIL];
    size_t head; /* first byte of the frame */
};

static void pb_init(struct pb *b)
{
    b->head = FRAME_MAX;
}

static uint8_t *pb_push(struct pb *b, size_t n)
{
    if (n > b->head) {
        fprintf(stderr, "fpgen: frame too large\n");
        exit(2);
    }
    b->head -= n;
    return b->buf + b->head;
}

static size_t pb_len(const struct pb *b)
{
    return FRAME_MAX - b->head;
}

/* Payload of n bytes; zero-filled when pattern is 0. @return its checksum partial sum */
static uint32_t pb_payload(struct pb *b, size_t n, uint8_t pattern)
{
    uint8_t *p = pb_push(b, n);
    if (!pattern) {
        memset(p, 0, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(pattern + i * 7u);
    return csum_partial(p, n);
}

static void pb_tcp(struct pb *b, const struct addr *s, const struct addr *d, uint16_t sp,
                   uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t psum)
{
    size_t plen = pb_len(b);
    uint8_t *h = pb_push(b, 20);
    put16(h, sp);
    put16(h + 2, dp);
    put32(h + 4, seq);
    put32(h + 8, (flags & TCP_ACK) ? ack : 0);
    h[12] = 5 << 4;
    h[13] = flags;
    put16(h + 14, 64240);
    put16(h + 16, 0);
    put16(h + 18, 0);
    uint32_t sum = pseudo_sum(s, d, 6, (uint32_t)(20 + plen)) + csum_partial(h, 20) + psum;
    put16(h + 16, csum_fold(sum));
}

static void pb_udp(struct pb *b, const struct addr *s, const struct addr *d, uint16_t sp,
                   uint16_t dp, uint32_t psum, bool no_csum)
{
    size_t len = pb_len(b) + 8;
    uint8_t *h = pb_push(b, 8);
    put16(h, sp);
    put16(h + 2, dp);
    put16(h + 4, (uint16_t)len);
    put16(h + 6, 0);
    if (no_csum && s->ver == 4)
        return;
    uint16_t c = csum_fold(pseudo_sum(s, d, 17, (uint32_t)len) + csum_partial(h, 8) + psum);
    put16(h + 6, c ? c : 0xffff);
}

/* ICMP (v4) or ICMPv6 echo-style header: type, code, id, seq. */
static void pb_icmp(struct pb *b, const struct addr *s, const struct addr *d, uint8_t type,
                    uint8_t code, uint16_t id, uint16_t seq, uint32_t psum)
{
    size_t len = pb_len(b) + 8;
    uint8_t *h = pb_push(b, 8);
    h[0] = type;
    h[1] = code;
    put16(h + 2, 0);
    put16(h + 4, id);
    put16(h + 6, seq);
    uint32_t sum = csum_partial(h, 8) + psum;
    if (s->ver == 6)
        sum += pseudo_sum(s, d, 58, (uint32_t)len);
    put16(h + 2, csum_fold(sum));
}

/* IPv4 header (frag = flags|offset field) or IPv6 fixed header over the current bytes. */
static void pb_ip(struct pb *b, const struct addr *s, const struct addr *d, uint8_t proto,
                  uint16_t id, uint16_t frag, uint8_t ttl)
{
    size_t len = pb_len(b);
    if (s->ver == 4) {
        uint8_t *h = pb_push(b, 20);
        h[0] = 0x45;
        h[1] = 0;
        put16(h + 2, (uint16_t)(len + 20));
        put16(h + 4, id);
        put16(h + 6, frag);
        h[8] = ttl;
        h[9] = proto;
        put16(h + 10, 0);
        memcpy(h + 12, s->a, 4);
        memcpy(h + 16, d->a, 4);
        put16(h + 10, csum_fold(csum_partial(h, 20)));
    } else {
        uint8_t *h = pb_push(b, 40);
        put32(h, 0x60000000u | ((uint32_t)id & 0xfffff));
        put16(h + 4, (uint16_t)len);
        h[6] = proto;
        h[7] = ttl;
        memcpy(h + 8, s->a, 16);
        memcpy(h + 24, d->a, 16);
    }
}

struct l2 {
    uint8_t src[6];
    uint8_t dst[6];
    uint8_t n_vlan;
    uint16_t tpid[2];
    uint16_t vid[2];
};

static void pb_eth(struct pb *b, const struct l2 *l, uint16_t type)
{
    put16(pb_push(b, 2), type);
    for (int i = l->n_vlan - 1; i >= 0; i--) {
        uint8_t *t = pb_push(b, 4);
        put16(t, l->tpid[i]);
        put16(t + 2, l->vid[i]);
    }
    uint8_t *m = pb_push(b, 12);
    memcpy(m, l->dst, 6);
    memcpy(m + 6, l->src, 6);
}

/* Pad to the Ethernet minimum. @return captured length */
static size_t pb_finish(struct pb *b)
{
    size_t len = pb_len(b);
    if (len < MIN_FRAME) {
        memset(b->buf + FRAME_MAX, 0, MIN_FRAME - len);
        len = MIN_FRAME;
    }
    return len;
}

static const uint8_t *pb_data(const struct pb *b)
{
    return b->buf + b->head;
}

/* ---------------------------------------------------------------------------------------- */
/* Output: classic pcap (us or ns) or pcapng, through one large buffer.                     */

struct out {
    FILE *f;
    bool pcapng;
    bool nsec;
    uint8_t *buf;
    size_t used;
    uint64_t packets;
    uint64_t last_ns;
};

static void out_flush(struct out *o)
{
    if (o->used && fwrite(o->buf, 1, o->used, o->f) != o->used) {
        fprintf(stderr, "fpgen: write failed: %s\n", strerror(errno));
        exit(1);
    }
    o->used = 0;
}

static uint8_t *out_reserve(struct out *o, size_t n)
{
    if (o->used + n > OUTBUF_SIZE)
        out_flush(o);
    uint8_t *p = o->buf + o->used;
    o->used += n;
    return p;
}

static void out_header(struct out *o)
{
    if (!o->pcapng) {
        uint8_t *h = out_reserve(o, 24);
        putle32(h, o->nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
        putle16(h + 4, 2);
        putle16(h + 6, 4);
        putle32(h + 8, 0);
        putle32(h + 12, 0);
        putle32(h + 16, SNAPLEN);
        putle32(h + 20, 1); /* LINKTYPE_ETHERNET */
        return;
    }
    /* Section Header Block */
    uint8_t *s = out_reserve(o, 28);
    putle32(s, 0x0a0d0d0a);
    putle32(s + 4, 28);
    putle32(s + 8, 0x1a2b3c4d);
    putle16(s + 12, 1);
    putle16(s + 14, 0);
    putle32(s + 16, 0xffffffffu);
    putle32(s + 20, 0xffffffffu);
    putle32(s + 24, 28);
    /* Interface Description Block with if_tsresol (9) when nanoseconds */
    size_t len = o->nsec ? 32 : 20;
    uint8_t *i = out_reserve(o, len);
    putle32(i, 1);
    putle32(i + 4, (uint32_t)len);
    putle16(i + 8, 1);
    putle16(i + 10, 0);
    putle32(i + 12, SNAPLEN);
    if (o->nsec) {
        putle16(i + 16, 9);
        putle16(i + 18, 1);
        i[20] = 9;
        memset(i + 21, 0, 3);
        putle32(i + 24, 0); /* opt_endofopt */
        putle32(i + 28, (uint32_t)len);
    } else {
        putle32(i + 16, (uint32_t)len);
    }
}

static void out_packet(struct out *o, uint64_t ts_ns, const uint8_t *frame, size_t len)
{
    uint64_t t = o->nsec ? ts_ns : ts_ns / 1000;
    if (!o->pcapng) {
        uint8_t *h = out_reserve(o, 16 + len);
        putle32(h, (uint32_t)(t / (o->nsec ? 1000000000u : 1000000u)));
        putle32(h + 4, (uint32_t)(t % (o->nsec ? 1000000000u : 1000000u)));
        putle32(h + 8, (uint32_t)len);
        putle32(h + 12, (uint32_t)len);
        memcpy(h + 16, frame, len);
    } else {
        size_t padded = (len + 3) & ~(size_t)3;
        size_t blen = 32 + padded;
        uint8_t *e = out_reserve(o, blen);
        putle32(e, 6);
        putle32(e + 4, (uint32_t)blen);
        putle32(e + 8, 0);
        putle32(e + 12, (uint32_t)(t >> 32));
        putle32(e + 16, (uint32_t)t);
        putle32(e + 20, (uint32_t)len);
        putle32(e + 24, (uint32_t)len);
        memcpy(e + 28, frame, len);
        memset(e + 28 + len, 0, padded - len);
        putle32(e + 28 + padded, (uint32_t)blen);
    }
    o->packets++;
    o->last_ns = ts_ns;
}

/* ---------------------------------------------------------------------------------------- */
/* Profile "mix": conversations collected, then sorted by time.                             */

struct rec {
    uint64_t ts_ns;
    uint32_t order;
    uint32_t len;
    uint8_t *data;
};

struct mix {
    struct rec *v;
    size_t n;
    size_t cap;
    uint32_t order;
    struct rng rng;
    uint64_t start_ns;
    unsigned convs;
};

enum encap {
    ENC_NONE,
    ENC_GRE,
    ENC_VXLAN,
};

/* One conversation: client (direction 0) and server (direction 1). */
struct conv {
    struct l2 l2;              /* client → server MACs and VLAN tags */
    enum encap encap;
    struct addr osrc, odst;    /* tunnel endpoints (client side, server side) */
    uint32_t vni;
    struct addr cli, srv;
    uint16_t cport, sport;
    uint64_t t;                /* time of the next packet, ns */
    uint32_t seq[2];
    uint16_t ipid[2];
    uint8_t ttl[2];
};

static void mix_add(struct mix *m, uint64_t ts, const uint8_t *data, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->v = realloc(m->v, m->cap * sizeof(*m->v));
        if (!m->v) {
            fprintf(stderr, "fpgen: out of memory\n");
            exit(1);
        }
    }
    struct rec *r = &m->v[m->n++];
    r->ts_ns = ts;
    r->order = m->order++;
    r->len = (uint32_t)len;
    r->data = malloc(len);
    if (!r->data) {
        fprintf(stderr, "fpgen: out of memory\n");
        exit(1);
    }
    memcpy(r->data, data, len);
}

static void l2_reverse(const struct l2 *in, struct l2 *out)
{
    *out = *in;
    memcpy(out->src, in->dst, 6);
    memcpy(out->dst, in->src, 6);
}

/* Wrap the IP packet in the builder (inner type ethertype) per the conversation's path. */
static void conv_wrap(struct conv *c, struct pb *b, int dir, uint16_t ethertype)
{
    struct l2 l;
    if (dir)
        l2_reverse(&c->l2, &l);
    else
        l = c->l2;
    const struct addr *os = dir ? &c->odst : &c->osrc;
    const struct addr *od = dir ? &c->osrc : &c->odst;
    uint16_t otype = c->osrc.ver == 4 ? 0x0800 : 0x86dd;
    switch (c->encap) {
    case ENC_NONE:
        pb_eth(b, &l, ethertype);
        break;
    case ENC_GRE: {
        uint8_t *g = pb_push(b, 4);
        put16(g, 0);
        put16(g + 2, ethertype);
        pb_ip(b, os, od, 47, c->ipid[dir]++, 0, c->ttl[dir]);
        pb_eth(b, &l, otype);
        break;
    }
    case ENC_VXLAN: {
        struct l2 inner = {.n_vlan = 0};
        memcpy(inner.src, dir ? "\x02\x00\x5e\x10\x00\x02" : "\x02\x00\x5e\x10\x00\x01", 6);
        memcpy(inner.dst, dir ? "\x02\x00\x5e\x10\x00\x01" : "\x02\x00\x5e\x10\x00\x02", 6);
        pb_eth(b, &inner, ethertype);
        uint8_t *v = pb_push(b, 8);
        put32(v, 0x08000000u);
        put32(v + 4, c->vni << 8);
        /* source port from a flow hash as real VTEPs do; outer UDP checksum 0 */
        pb_udp(b, os, od, (uint16_t)(49152 + ((c->cport ^ c->sport) & 0x3fff)), 4789, 0, true);
        pb_ip(b, os, od, 17, c->ipid[dir]++, 0x4000, c->ttl[dir]);
        pb_eth(b, &l, otype);
        break;
    }
    }
}

static void conv_emit(struct mix *m, struct conv *c, struct pb *b)
{
    size_t len = pb_finish(b);
    mix_add(m, c->t, pb_data(b), len);
}

/* Advance the conversation clock by a random gap in [lo_us, hi_us]. */
static void conv_wait(struct mix *m, struct conv *c, uint32_t lo_us, uint32_t hi_us)
{
    c->t += (uint64_t)rng_range(&m->rng, lo_us, hi_us) * 1000u;
}

static void conv_tcp(struct mix *m, struct conv *c, int dir, uint8_t flags, size_t plen)
{
    struct pb b;
    pb_init(&b);
    const struct addr *s = dir ? &c->srv : &c->cli;
    const struct addr *d = dir ? &c->cli : &c->srv;
    uint32_t psum = pb_payload(&b, plen, (uint8_t)(0x41 + dir));
    pb_tcp(&b, s, d, dir ? c->sport : c->cport, dir ? c->cport : c->sport, c->seq[dir],
           c->seq[!dir], flags, psum);
    pb_ip(&b, s, d, 6, c->ipid[dir]++, s->ver == 4 ? 0x4000 : 0, c->ttl[dir]);
    conv_wrap(c, &b, dir, s->ver == 4 ? 0x0800 : 0x86dd);
    conv_emit(m, c, &b);
    c->seq[dir] += (uint32_t)plen + ((flags & (TCP_SYN | TCP_FIN)) ? 1u : 0u);
}

static void conv_udp(struct mix *m, struct conv *c, int dir, size_t plen)
{
    struct pb b;
    pb_init(&b);
    const struct addr *s = dir ? &c->srv : &c->cli;
    const struct addr *d = dir ? &c->cli : &c->srv;
    uint32_t psum = pb_payload(&b, plen, (uint8_t)(0x61 + dir));
    pb_udp(&b, s, d, dir ? c->sport : c->cport, dir ? c->cport : c->sport, psum, false);
    pb_ip(&b, s, d, 17, c->ipid[dir]++, 0, c->ttl[dir]);
    conv_wrap(c, &b, dir, s->ver == 4 ? 0x0800 : 0x86dd);
    conv_emit(m, c, &b);
}

static void conv_icmp_echo(struct mix *m, struct conv *c, int dir, uint16_t id, uint16_t seq)
{
    struct pb b;
    pb_init(&b);
    const struct addr *s = dir ? &c->srv : &c->cli;
    const struct addr *d = dir ? &c->cli : &c->srv;
    uint32_t psum = pb_payload(&b, 56, 0x30);
    uint8_t type = s->ver == 4 ? (dir ? 0 : 8) : (dir ? 129 : 128);
    pb_icmp(&b, s, d, type, 0, id, seq, psum);
    pb_ip(&b, s, d, s->ver == 4 ? 1 : 58, c->ipid[dir]++, 0, c->ttl[dir]);
    conv_wrap(c, &b, dir, s->ver == 4 ? 0x0800 : 0x86dd);
    conv_emit(m, c, &b);
}

/* Fresh conversation between the given endpoints, starting at a random time in the first
 * second of the capture. */
static void conv_init(struct mix *m, struct conv *c, const struct addr *cli,
                      const struct addr *srv, uint16_t cport, uint16_t sport)
{
    memset(c, 0, sizeof(*c));
    c->cli = *cli;
    c->srv = *srv;
    c->cport = cport;
    c->sport = sport;
    c->t = m->start_ns + (uint64_t)rng_range(&m->rng, 0, 999999) * 1000u;
    c->seq[0] = (uint32_t)rng_next(&m->rng);
    c->seq[1] = (uint32_t)rng_next(&m->rng);
    c->ipid[0] = (uint16_t)rng_next(&m->rng);
    c->ipid[1] = (uint16_t)rng_next(&m->rng);
    c->ttl[0] = 64;
    c->ttl[1] = (uint8_t)rng_range(&m->rng, 44, 120);
    memcpy(c->l2.src, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(c->l2.dst, "\x02\x00\x00\x00\x00\xfe", 6);
    c->l2.src[4] = (uint8_t)(m->convs >> 8);
    c->l2.src[5] = (uint8_t)m->convs;
    m->convs++;
}

enum tcp_end {
    TCP_END_FIN,
    TCP_END_RST,
    TCP_END_OPEN,
};

/* A TCP connection: handshake, n request/response exchanges, then the chosen ending. */
static void mix_tcp_session(struct mix *m, struct conv *c, unsigned n_req, enum tcp_end end)
{
    uint32_t rtt = rng_range(&m->rng, 300, 30000);
    size_t mss = c->cli.ver == 4 ? 1460 : 1440;
    if (c->encap != ENC_NONE)
        mss -= 60;
    conv_tcp(m, c, 0, TCP_SYN, 0);
    conv_wait(m, c, rtt / 2, rtt / 2 + 100);
    conv_tcp(m, c, 1, TCP_SYN | TCP_ACK, 0);
    conv_wait(m, c, rtt / 2, rtt / 2 + 100);
    conv_tcp(m, c, 0, TCP_ACK, 0);
    for (unsigned i = 0; i < n_req; i++) {
        conv_wait(m, c, 10, 2000);
        conv_tcp(m, c, 0, TCP_PSH | TCP_ACK, rng_range(&m->rng, 60, 700));
        conv_wait(m, c, rtt / 2, rtt + 500);
        unsigned segs = rng_range(&m->rng, 1, 4);
        for (unsigned s = 0; s < segs; s++) {
            size_t len = s + 1 < segs ? mss : rng_range(&m->rng, 1, (uint32_t)mss);
            conv_tcp(m, c, 1, (uint8_t)(TCP_ACK | (s + 1 == segs ? TCP_PSH : 0)), len);
            conv_wait(m, c, 5, 300);
        }
        conv_wait(m, c, rtt / 2, rtt / 2 + 100);
        conv_tcp(m, c, 0, TCP_ACK, 0);
    }
    conv_wait(m, c, 100, 50000);
    switch (end) {
    case TCP_END_FIN:
        conv_tcp(m, c, 0, TCP_FIN | TCP_ACK, 0);
        conv_wait(m, c, rtt / 2, rtt / 2 + 100);
        conv_tcp(m, c, 1, TCP_FIN | TCP_ACK, 0);
        conv_wait(m, c, rtt / 2, rtt / 2 + 100);
        conv_tcp(m, c, 0, TCP_ACK, 0);
        break;
    case TCP_END_RST:
        conv_tcp(m, c, (int)(rng_next(&m->rng) & 1), TCP_RST | TCP_ACK, 0);
        break;
    case TCP_END_OPEN:
        break;
    }
}

static void mix_udp_exchange(struct mix *m, struct conv *c, unsigned n, size_t qlen, size_t rlen)
{
    for (unsigned i = 0; i < n; i++) {
        conv_udp(m, c, 0, qlen);
        conv_wait(m, c, 200, 20000);
        conv_udp(m, c, 1, rlen);
        conv_wait(m, c, 1000, 100000);
    }
}

static void mix_icmp_session(struct mix *m, struct conv *c, unsigned n)
{
    uint16_t id = (uint16_t)rng_next(&m->rng);
    for (unsigned i = 0; i < n; i++) {
        conv_icmp_echo(m, c, 0, id, (uint16_t)(i + 1));
        conv_wait(m, c, 200, 20000);
        conv_icmp_echo(m, c, 1, id, (uint16_t)(i + 1));
        conv_wait(m, c, 50000, 200000);
    }
}

/* One IPv4 UDP datagram of plen payload bytes sent as fragments of up to 1480 bytes.
 * skip_first drops the first fragment (an orphan later fragment for the receiver). */
static void mix_udp_fragmented(struct mix *m, struct conv *c, int dir, size_t plen,
                               bool skip_first)
{
    static uint8_t dgram[FRAME_MAX];
    struct pb b;
    pb_init(&b);
    const struct addr *s = dir ? &c->srv : &c->cli;
    const struct addr *d = dir ? &c->cli : &c->srv;
    uint32_t psum = pb_payload(&b, plen, 0x21);
    pb_udp(&b, s, d, dir ? c->sport : c->cport, dir ? c->cport : c->sport, psum, false);
    size_t total = pb_len(&b);
    memcpy(dgram, pb_data(&b), total);
    uint16_t id = c->ipid[dir]++;
    for (size_t off = 0; off < total; off += 1480) {
        size_t chunk = total - off > 1480 ? 1480 : total - off;
        bool more = off + chunk < total;
        if (off == 0 && skip_first)
            continue;
        pb_init(&b);
        memcpy(pb_push(&b, chunk), dgram + off, chunk);
        pb_ip(&b, s, d, 17, id, (uint16_t)((more ? 0x2000 : 0) | (off / 8)), c->ttl[dir]);
        conv_wrap(c, &b, dir, 0x0800);
        conv_emit(m, c, &b);
        conv_wait(m, c, 5, 50);
    }
}

static void mix_arp(struct mix *m, uint8_t host)
{
    struct pb b;
    pb_init(&b);
    uint8_t *a = pb_push(&b, 28);
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1);
    memcpy(a + 8, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(a + 14, (uint8_t[4]){198, 18, 0, 1}, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, (uint8_t[4]){198, 18, 0, host}, 4);
    struct l2 l = {.n_vlan = 0};
    memcpy(l.src, "\x02\x00\x00\x00\x00\x01", 6);
    memset(l.dst, 0xff, 6);
    pb_eth(&b, &l, 0x0806);
    size_t len = pb_finish(&b);
    mix_add(m, m->start_ns + (uint64_t)rng_range(&m->rng, 0, 999999) * 1000u, pb_data(&b), len);
}

static unsigned scaled(unsigned base, unsigned flows)
{
    unsigned v = (unsigned)(((uint64_t)base * flows + 199) / 200);
    return v ? v : 1;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->ts_ns != y->ts_ns)
        return x->ts_ns < y->ts_ns ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

static struct addr cli4(unsigned i)
{
    return addr4(198, 18, (uint8_t)(i >> 8), (uint8_t)(1 + (i & 0xff) % 254));
}

static void gen_mix(struct out *o, unsigned flows, uint64_t seed, uint64_t start_ns,
                    uint64_t pps)
{
    struct mix m = {.rng = {seed}, .start_ns = start_ns};
    struct conv c;
    unsigned ci = 0;

    /* IPv4 TCP: most end with FIN, some with RST, some stay open. */
    unsigned n = scaled(40, flows);
    for (unsigned i = 0; i < n; i++, ci++) {
        struct addr cl = cli4(ci), sv = addr4(203, 0, 113, (uint8_t)(10 + i % 20));
        static const uint16_t sports[] = {80, 443, 22, 8080, 25};
        conv_init(&m, &c, &cl, &sv, (uint16_t)rng_range(&m.rng, 32768, 60999),
                  sports[i % 5]);
        enum tcp_end end = i % 8 == 5 ? TCP_END_RST : i % 8 == 7 ? TCP_END_OPEN : TCP_END_FIN;
        mix_tcp_session(&m, &c, rng_range(&m.rng, 1, 4), end);
    }
    /* DNS over UDP/IPv4 */
    n = scaled(20, flows);
    for (unsigned i = 0; i < n; i++, ci++) {
        struct addr cl = cli4(ci), sv = addr4(192, 0, 2, 53);
        conv_init(&m, &c, &cl, &sv, (uint16_t)rng_range(&m.rng, 1024, 65535), 53);
        mix_udp_exchange(&m, &c, 1, rng_range(&m.rng, 28, 60), rng_range(&m.rng, 44, 300));
    }
    /* ICMP echo */
    n = scaled(4, flows);
    for (unsigned i = 0; i < n; i++, ci++) {
        struct addr cl = cli4(ci), sv = addr4(198, 51, 100, (uint8_t)(1 + i));
        conv_init(&m, &c, &cl, &sv, 0, 0);
        mix_icmp_session(&m, &c, rng_range(&m.rng, 2, 5));
    }
    /* IPv6 TCP, UDP, ICMPv6 */
    n = scaled(10, flows);
    for (unsigned i = 0; i < n; i++, ci++) {
        struct addr cl = addr6(1, 0x100 + ci), sv = addr6(2, 0x80 + i % 5);
        conv_init(&m, &c, &cl, &sv, (uint16_t)rng_range(&m.rng, 32768, 60999),
                  i % 2 ? 443 : 80);
        mix_tcp_session(&m, &c, rng_range(&m.rng, 1, 3), i % 5 == 4 ? TCP_END_OPEN
                                                                    : TCP_END_FIN);
    }
    n = scaled(8, flows);
    for (unsigned i = 0; i < n; i++, ci++) {
        struct addr cl = addr6(1, 0x100 + ci), sv = addr6(2, 0x53);
        conv_init(&m, &c, &cl, &sv, (uint16_t)rng_range(&m.rng, 1024, 65535),
                  i % 2 ? 53 : 123);
        mix_udp_exchange(&m, &c, rng_range(&m.rng, 1, 3), 48, 48 + 40 * (i % 3));
    }
    n = scaled(2, flows);
    for (unsigned i = 0; i < n; i++, ci++) {
        struct addr cl = addr6(1, 0x100 + ci), sv = addr6(3, 1 + i);
        conv_init(&m, &c, &cl, &sv, 0, 0);
        mix_icmp_session(&m, &c, 3);
    }
    /* 802.1Q-tagged TCP and UDP; one QinQ (0x88a8 outer, 0x8100 inner) */
    n = scaled(8, flows);
    for (unsigned i = 0; i < n; i++, ci++) {
        struct addr cl = addr4(198, 18, 200, (uint8_t)(1 + i % 250)),
                    sv = addr4(203, 0, 113, 200);
        conv_init(&m, &c, &cl, &sv, (uint16_t)rng_range(&m.rng, 32768, 60999),
                  i % 4 == 3 ? 514 : 443);
        c.l2.n_vlan = i == 0 ? 2 : 1;
        c.l2.tpid[0] = i == 0 ? 0x88a8 : 0x8100;
        c.l2.vid[0] = (uint16_t)(100 + i);
        c.l2.tpid[1] = 0x8100;
        c.l2.vid[1] = 7;
        if (i % 4 == 3)
            mix_udp_exchange(&m, &c, 2, 120, 30);
        else
            mix_tcp_session(&m, &c, 2, TCP_END_FIN);
    }
    /* IPv4 fragments: two fragmented datagrams with a small reply, and one orphan later
     * fragment whose first fragment was never captured. */
    for (unsigned i = 0; i < 3; i++, ci++) {
        struct addr cl = cli4(ci), sv = addr4(192, 0, 2, 99);
        conv_init(&m, &c, &cl, &sv, (uint16_t)rng_range(&m.rng, 1024, 65535), 5001);
        mix_udp_fragmented(&m, &c, 0, i == 0 ? 2500 : 4000, i == 2);
        if (i < 2) {
            conv_wait(&m, &c, 500, 5000);
            conv_udp(&m, &c, 1, 16);
        }
    }
    /* GRE (IPv4 in GRE over IPv4) carrying a TCP connection */
    {
        struct addr cl = addr4(198, 18, 250, 1), sv = addr4(198, 18, 251, 1);
        conv_init(&m, &c, &cl, &sv, 40000, 80);
        c.encap = ENC_GRE;
        c.osrc = addr4(192, 0, 2, 1);
        c.odst = addr4(192, 0, 2, 2);
        mix_tcp_session(&m, &c, 2, TCP_END_FIN);
        ci++;
    }
    /* VXLAN (VNI 4242) carrying a TCP connection */
    {
        struct addr cl = addr4(198, 18, 252, 1), sv = addr4(198, 18, 253, 1);
        conv_init(&m, &c, &cl, &sv, 41000, 8443);
        c.encap = ENC_VXLAN;
        c.vni = 4242;
        c.osrc = addr4(192, 0, 2, 11);
        c.odst = addr4(192, 0, 2, 12);
        mix_tcp_session(&m, &c, 2, TCP_END_FIN);
        ci++;
    }
    mix_arp(&m, 2);
    mix_arp(&m, 3);

    qsort(m.v, m.n, sizeof(*m.v), rec_cmp);
    uint64_t step = pps ? 1000000000u / pps : 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < m.n; i++) {
        uint64_t ts = step ? start_ns + i * step : m.v[i].ts_ns;
        /* strictly increasing at the file's resolution */
        uint64_t res = o->nsec ? 1 : 1000;
        ts -= ts % res;
        if (i && ts <= prev)
            ts = prev + res;
        out_packet(o, ts, m.v[i].data, m.v[i].len);
        prev = ts;
        free(m.v[i].data);
    }
    free(m.v);
    fprintf(stderr, "fpgen: mix: %" PRIu64 " packets, %u conversations\n", o->packets, m.convs);
}

/* ---------------------------------------------------------------------------------------- */
/* Bench profiles: streaming, many interleaved connections, fixed packets per connection.  */

struct bconn {
    struct addr cli, srv;
    uint16_t cport, sport;
    uint8_t tcp;
    uint32_t n;    /* packets this connection sends in total */
    uint32_t sent;
    uint32_t seq[2];
};

static void bconn_make(struct bconn *b, struct rng *r, uint64_t idx, uint32_t n)
{
    bool v6 = rng_next(r) % 10 == 0;
    b->tcp = rng_next(r) % 5 != 0;
    b->n = n;
    b->sent = 0;
    /* unique client per index: 10.0.0.0/8-sized space mapped into 198.18.0.0/15 + port */
    uint32_t host = (uint32_t)(idx % 131070) + 1;
    if (v6) {
        b->cli = addr6(0x100, (uint32_t)idx + 1);
        b->srv = addr6(0x200, 1 + (uint32_t)(rng_next(r) % 4096));
    } else {
        b->cli = addr4(198, (uint8_t)(18 + (host >> 16)), (uint8_t)(host >> 8), (uint8_t)host);
        b->srv = addr4(203, 0, 113, (uint8_t)(1 + rng_next(r) % 254));
    }
    b->cport = (uint16_t)(1024 + (idx / 131070) % 64000);
    static const uint16_t tcp_ports[] = {80, 443, 443, 443, 8080, 22, 25, 993};
    static const uint16_t udp_ports[] = {53, 443, 123, 5060, 4500, 3478};
    b->sport = b->tcp ? tcp_ports[rng_next(r) % 8] : udp_ports[rng_next(r) % 6];
    b->seq[0] = (uint32_t)rng_next(r);
    b->seq[1] = (uint32_t)rng_next(r);
}

/* Wire frame size (incl. FCS) for a data packet. */
static size_t bench_frame_size(struct rng *r, bool imix)
{
    if (!imix)
        return 64;
    uint64_t x = rng_next(r) % 12;
    return x < 7 ? 64 : x < 11 ? 576 : 1500;
}

static void bench_packet(struct out *o, struct rng *r, struct bconn *b, bool imix,
                         uint64_t ts, const struct l2 *l2)
{
    struct pb pkt;
    pb_init(&pkt);
    uint32_t k = b->sent++;
    int dir;
    uint8_t flags = 0;
    bool data = true;
    if (b->tcp) {
        if (k == 0) {
            dir = 0, flags = TCP_SYN, data = false;
        } else if (k == 1) {
            dir = 1, flags = TCP_SYN | TCP_ACK, data = false;
        } else if (k == 2) {
            dir = 0, flags = TCP_ACK, data = false;
        } else if (b->n >= 6 && k >= b->n - 2) {
            dir = (int)(k - (b->n - 2)), flags = TCP_FIN | TCP_ACK, data = false;
        } else {
            dir = (int)(k & 1), flags = TCP_ACK | TCP_PSH;
        }
    } else {
        dir = (int)(k & 1);
    }
    const struct addr *s = dir ? &b->srv : &b->cli;
    const struct addr *d = dir ? &b->cli : &b->srv;
    size_t hdr = 14 + (s->ver == 4 ? 20 : 40) + (b->tcp ? 20 : 8);
    size_t want = data ? bench_frame_size(r, imix) - 4 : MIN_FRAME;
    size_t plen = want > hdr ? want - hdr : 0;
    if (b->tcp && !data)
        plen = 0;
    pb_payload(&pkt, plen, 0);
    if (b->tcp)
        pb_tcp(&pkt, s, d, dir ? b->sport : b->cport, dir ? b->cport : b->sport, b->seq[dir],
               b->seq[!dir], flags, 0);
    else
        pb_udp(&pkt, s, d, dir ? b->sport : b->cport, dir ? b->cport : b->sport, 0, false);
    b->seq[dir] += (uint32_t)plen + ((flags & (TCP_SYN | TCP_FIN)) ? 1u : 0u);
    pb_ip(&pkt, s, d, b->tcp ? 6 : 17, (uint16_t)(k + dir * 1000), 0, 64);
    struct l2 l;
    if (dir)
        l2_reverse(l2, &l);
    else
        l = *l2;
    pb_eth(&pkt, &l, s->ver == 4 ? 0x0800 : 0x86dd);
    size_t len = pb_finish(&pkt);
    out_packet(o, ts, pb_data(&pkt), len);
}

static void gen_bench(struct out *o, bool imix, uint64_t flows, uint64_t packets,
                      uint64_t seed, uint64_t start_ns, uint64_t pps)
{
    struct rng r = {seed};
    uint64_t conns = flows / 2 ? flows / 2 : 1;
    uint64_t base = packets / conns, extra = packets % conns;
    if (base < 2) {
        fprintf(stderr, "fpgen: --packets must be at least twice the connections\n");
        exit(2);
    }
    size_t active = conns < BENCH_ACTIVE ? (size_t)conns : BENCH_ACTIVE;
    struct bconn *slot = calloc(active, sizeof(*slot));
    if (!slot) {
        fprintf(stderr, "fpgen: out of memory\n");
        exit(1);
    }
    uint64_t next = 0;
    for (size_t i = 0; i < active; i++, next++)
        bconn_make(&slot[i], &r, next, (uint32_t)(base + (next < extra)));
    struct l2 l2 = {.n_vlan = 0};
    memcpy(l2.src, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(l2.dst, "\x02\x00\x00\x00\x00\x02", 6);
    uint64_t step_ps = 1000000000000ull / (pps ? pps : 1000000);
    uint64_t res = o->nsec ? 1 : 1000, prev = 0;
    for (uint64_t i = 0; active; i++) {
        size_t s = (size_t)(rng_next(&r) % active);
        uint64_t ts = start_ns + (i * step_ps) / 1000;
        ts -= ts % res;
        if (i && ts <= prev)
            ts = prev + res;
        prev = ts;
        bench_packet(o, &r, &slot[s], imix, ts, &l2);
        if (slot[s].sent == slot[s].n) {
            if (next < conns) {
                bconn_make(&slot[s], &r, next, (uint32_t)(base + (next < extra)));
                next++;
            } else {
                slot[s] = slot[--active];
            }
        }
    }
    free(slot);
    fprintf(stderr, "fpgen: %s: %" PRIu64 " packets, %" PRIu64 " connections (%" PRIu64
            " uniflows)\n", imix ? "benchimix" : "bench64", o->packets, conns, conns * 2);
}

/* ---------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fpgen --profile mix|bench64|benchimix [--flows N] [--packets N] [--seed S]\n"
            "             [--pps RATE] [--start EPOCH] [--pcapng] -o FILE\n"
            "  --flows    uniflows (mix: scales the ~200-flow mix; bench64 1000000,\n"
            "             benchimix 100000)\n"
            "  --packets  bench profiles: total packets (bench64 5000000, benchimix 4200000)\n"
            "  --seed     RNG seed (default 1); same arguments give the same file\n"
            "  --pps      timestamp rate (bench default 1000000; mix: natural timing unless\n"
            "             given); above 1 Mpps the file uses nanosecond timestamps\n"
            "  --start    first timestamp, UNIX seconds (default 1700000000)\n"
            "  --pcapng   write pcapng instead of classic pcap\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-')
        return -EINVAL;
    *v = x;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"profile", required_argument, NULL, 'P'}, {"flows", required_argument, NULL, 'f'},
        {"packets", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"pps", required_argument, NULL, 'p'},     {"start", required_argument, NULL, 't'},
        {"pcapng", no_argument, NULL, 'g'},        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *profile = NULL, *path = NULL;
    uint64_t flows = 0, packets = 0, seed = 1, pps = 0, start = 1700000000;
    bool pcapng = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 'P': profile = optarg; break;
        case 'f': rc = parse_u64(optarg, &flows); break;
        case 'n': rc = parse_u64(optarg, &packets); break;
        case 's': rc = parse_u64(optarg, &seed); break;
        case 'p': rc = parse_u64(optarg, &pps); break;
        case 't': rc = parse_u64(optarg, &start); break;
        case 'g': pcapng = true; break;
        case 'o': path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc) {
            fprintf(stderr, "fpgen: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (!profile || !path || optind != argc) {
        usage(stderr);
        return 2;
    }
    int kind = !strcmp(profile, "mix") ? 0 : !strcmp(profile, "bench64") ? 1
             : !strcmp(profile, "benchimix") ? 2 : -1;
    if (kind < 0) {
        fprintf(stderr, "fpgen: unknown profile '%s'\n", profile);
        return 2;
    }
    if (pps > 1000000000u) {
        fprintf(stderr, "fpgen: --pps too large\n");
        return 2;
    }
    struct out o = {.pcapng = pcapng, .nsec = pps > 1000000};
    o.f = strcmp(path, "-") ? fopen(path, "wb") : stdout;
    o.buf = malloc(OUTBUF_SIZE);
    if (!o.f || !o.buf) {
        fprintf(stderr, "fpgen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    out_header(&o);
    uint64_t start_ns = start * 1000000000ull;
    if (kind == 0)
        gen_mix(&o, flows ? (unsigned)flows : 200, seed, start_ns, pps);
    else if (kind == 1)
        gen_bench(&o, false, flows ? flows : 1000000, packets ? packets : 5000000, seed,
                  start_ns, pps);
    else
        gen_bench(&o, true, flows ? flows : 100000, packets ? packets : 4200000, seed,
                  start_ns, pps);
    out_flush(&o);
    if (o.f != stdout && fclose(o.f)) {
        fprintf(stderr, "fpgen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    free(o.buf);
    return 0;
}
