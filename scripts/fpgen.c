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
 * --apps (or the profile names mixapp, bench64app, benchimixapp) gives the connections real
 * application payloads: TLS 1.3 on TCP 443, QUIC v1 Initials on UDP 443, DNS on UDP 53
 * (answers name the servers of the capture), HTTP/1.1 on TCP 80/8080, NTP on UDP 123;
 * without it every profile is byte for byte what it was before the option existed.
 * The same arguments always give the same bytes. Frames are built from the innermost
 * payload outwards (prepend buffer) with correct lengths and checksums. The file is
 * written directly (no libpcap, and nothing of FlowPulse's decoder is used).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

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
/* Application payloads (--apps): TLS 1.3 over TCP, QUIC v1 Initials, DNS, HTTP/1.1, NTP.   */
/*                                                                                          */
/* A connection's payload is a byte stream per direction (TCP) or one message per datagram */
/* (UDP). The first message of each direction (ClientHello, ServerHello flight, request,   */
/* response header, QUIC Initial, every DNS/NTP message) always goes whole into one packet */
/* at its natural size; what follows fills the size the profile asks for.                  */

enum app_kind {
    APP_NONE,
    APP_TLS,  /* TCP 443 */
    APP_QUIC, /* UDP 443 */
    APP_DNS,  /* UDP 53 */
    APP_HTTP, /* TCP 80, 8080 */
    APP_NTP,  /* UDP 123 */
};

#define SVC_TLS 1u
#define SVC_QUIC 2u
#define SVC_HTTP 4u

/* Real-looking service names. A server address belongs to service (host % N_SERVICES): the
 * SNI, Host and DNS answers of the whole capture agree with that mapping. */
struct service {
    const char *name;  /* SNI, HTTP Host, DNS query name */
    const char *cname; /* DNS answers go through this CNAME first, or NULL */
    const char *path;  /* HTTP request target */
    unsigned protos;   /* what the mix profile's DNS-led sessions use after the lookup */
};

static const struct service services[] = {
    {"www.youtube.com", "youtube-ui.l.google.com", "/watch?v=aqz-KE-bpKQ", SVC_TLS | SVC_QUIC},
    {"rr4---sn-4g5e6nzz.googlevideo.com", NULL, "/videoplayback?itag=137&mime=video%2Fmp4",
     SVC_QUIC | SVC_TLS},
    {"www.netflix.com", NULL, "/browse", SVC_TLS},
    {"ipv4-c012-fra002-ix.1.oca.nflxvideo.net", NULL, "/range/0-65535?o=1", SVC_TLS},
    {"zoom.us", NULL, "/wc/join/81234567890", SVC_TLS},
    {"teams.microsoft.com", NULL, "/api/mt/emea/beta/users/tenants", SVC_TLS},
    {"cache8-fra1.steamcontent.com", NULL, "/depot/1085661/chunk/3f5c0e9a1d2b", SVC_HTTP},
    {"mmg.whatsapp.net", NULL, "/v/t62.7118-24/f1.enc", SVC_TLS},
    {"www.dropbox.com", "www-env.dropbox-dns.com", "/s/k2j3h4/report.pdf", SVC_TLS},
    {"download.windowsupdate.com", NULL,
     "/msdownload/update/v3/static/trustedr/en/authrootstl.cab", SVC_HTTP},
    {"www.facebook.com", "star-mini.c10r.facebook.com", "/", SVC_QUIC | SVC_TLS},
    {"scontent.cdninstagram.com", NULL, "/v/t51.2885-15/e35/p1080x1080.jpg", SVC_QUIC},
    {"open.spotify.com", NULL, "/track/4uLU6hMCjMI75M1A2tKUQC", SVC_TLS},
    {"www.twitch.tv", NULL, "/directory/all", SVC_TLS},
    {"discord.com", NULL, "/api/v9/gateway", SVC_TLS},
    {"www.google.com", NULL, "/search?q=ipfix", SVC_QUIC | SVC_TLS},
    {"www.reddit.com", NULL, "/r/networking/", SVC_TLS},
    {"www.linkedin.com", NULL, "/feed/", SVC_TLS},
    {"outlook.office365.com", NULL, "/owa/", SVC_TLS},
    {"www.example.com", NULL, "/index.html", SVC_HTTP | SVC_TLS},
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

static unsigned service_of(const struct addr *a)
{
    uint32_t h = a->ver == 4 ? a->a[3]
                             : (uint32_t)a->a[12] << 24 | (uint32_t)a->a[13] << 16 |
                                   (uint32_t)a->a[14] << 8 | a->a[15];
    return h % N_SERVICES;
}

/* Where DNS answers for a service point to: hosts h in [lo, hi] with h % N_SERVICES == svc,
 * IPv4 203.0.113.h and IPv6 2001:db8:<net6>::h. */
struct app_space {
    uint32_t v4_lo, v4_hi;
    uint16_t net6;
    uint32_t v6_lo, v6_hi;
};

#define APP_PEND 640 /* head of the current unit: a whole TCP ClientHello fits */
#define DNS_MAX_ANS 4

struct app_dir {
    uint8_t pend[APP_PEND];
    uint16_t pend_len, pend_pos;
    uint32_t body_left; /* pseudo-random bytes of the unit after pend */
    uint32_t units;     /* units begun in this direction */
};

struct app {
    uint8_t kind;
    uint8_t svc;
    const struct app_space *space;
    struct rng rng;
    struct app_dir d[2];
    uint8_t odcid[8];   /* QUIC: client's first DCID (keys come from it) */
    uint8_t cid[2][8];  /* QUIC: client's SCID, server's SCID */
    uint16_t dns_id, dns_qtype;
    uint8_t dns_svc, dns_pending;
    uint8_t n_force;    /* DNS: answer exactly these addresses (mix profile) */
    struct addr force[DNS_MAX_ANS];
};

static bool g_apps; /* --apps */

static void fill_random(struct rng *r, uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t x = rng_next(r);
        memcpy(p, &x, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t x = rng_next(r);
        memcpy(p, &x, n);
    }
}

/* Choose the application of a connection from its transport and server port. */
static void app_init(struct app *a, bool tcp, uint16_t sport, const struct addr *srv,
                     const struct app_space *space, uint64_t seed)
{
    memset(a, 0, offsetof(struct app, d));
    memset(a->d, 0, sizeof(a->d));
    a->n_force = 0;
    a->space = space;
    a->rng.s = seed;
    a->svc = (uint8_t)service_of(srv);
    if (tcp)
        a->kind = sport == 443 ? APP_TLS : (sport == 80 || sport == 8080) ? APP_HTTP : APP_NONE;
    else
        a->kind = sport == 443 ? APP_QUIC : sport == 53 ? APP_DNS : sport == 123 ? APP_NTP
                                                                             : APP_NONE;
    if (a->kind == APP_QUIC) {
        fill_random(&a->rng, a->odcid, 8);
        fill_random(&a->rng, a->cid[0], 8);
        fill_random(&a->rng, a->cid[1], 8);
    }
}

/* ---- TLS messages ---------------------------------------------------------------------- */

struct wbuf {
    uint8_t *p;
    size_t n, cap;
};

static uint8_t *wb_put(struct wbuf *w, size_t n)
{
    if (w->n + n > w->cap) {
        fprintf(stderr, "fpgen: application message too large\n");
        exit(2);
    }
    uint8_t *p = w->p + w->n;
    w->n += n;
    return p;
}

static void wb_u8(struct wbuf *w, uint8_t v) { *wb_put(w, 1) = v; }
static void wb_u16(struct wbuf *w, uint16_t v) { put16(wb_put(w, 2), v); }
static void wb_bytes(struct wbuf *w, const void *s, size_t n) { memcpy(wb_put(w, n), s, n); }
static void wb_str(struct wbuf *w, const char *s) { wb_bytes(w, s, strlen(s)); }

/* Length fields are written once their content is known: mark, then close. */
static size_t wb_open(struct wbuf *w, size_t width)
{
    wb_put(w, width);
    return w->n;
}

static void wb_close(struct wbuf *w, size_t mark, size_t width)
{
    size_t len = w->n - mark;
    uint8_t *f = w->p + mark - width;
    if (width == 3) {
        f[0] = (uint8_t)(len >> 16);
        put16(f + 1, (uint16_t)len);
    } else if (width == 2) {
        put16(f, (uint16_t)len);
    } else {
        f[0] = (uint8_t)len;
    }
}

static void wb_ext_begin(struct wbuf *w, uint16_t type, size_t *mark)
{
    wb_u16(w, type);
    *mark = wb_open(w, 2);
}

/* QUIC variable-length integer (RFC 9000 §16), 1/2/4-byte forms. */
static void wb_varint(struct wbuf *w, uint32_t v)
{
    if (v < 64) {
        wb_u8(w, (uint8_t)v);
    } else if (v < 16384) {
        wb_u16(w, (uint16_t)(0x4000 | v));
    } else {
        put32(wb_put(w, 4), 0x80000000u | v);
    }
}

/* A TLS 1.3 ClientHello handshake message (type 1 with its 3-byte length), shaped like a
 * current browser's: TCP with a legacy session id, point formats, ticket, status request,
 * SCT and padding to 512 bytes; QUIC with h3 and quic_transport_parameters. */
static void tls_client_hello(struct wbuf *w, struct rng *r, const char *sni, bool quic,
                             const uint8_t *scid)
{
    size_t hs, ext, e, l;
    wb_u8(w, 1);
    hs = wb_open(w, 3);
    wb_u16(w, 0x0303);
    fill_random(r, wb_put(w, 32), 32);
    if (quic) {
        wb_u8(w, 0);
    } else {
        wb_u8(w, 32);
        fill_random(r, wb_put(w, 32), 32);
    }
    static const uint16_t tcp_suites[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c,
                                          0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
                                          0x009d, 0x002f, 0x0035};
    size_t n_suites = quic ? 3 : sizeof(tcp_suites) / sizeof(tcp_suites[0]);
    wb_u16(w, (uint16_t)(2 * n_suites));
    for (size_t i = 0; i < n_suites; i++)
        wb_u16(w, tcp_suites[i]);
    wb_u8(w, 1);
    wb_u8(w, 0);
    ext = wb_open(w, 2);
    /* server_name */
    wb_ext_begin(w, 0, &e);
    l = wb_open(w, 2);
    wb_u8(w, 0);
    wb_u16(w, (uint16_t)strlen(sni));
    wb_str(w, sni);
    wb_close(w, l, 2);
    wb_close(w, e, 2);
    /* extended_master_secret, renegotiation_info */
    wb_ext_begin(w, 23, &e);
    wb_close(w, e, 2);
    if (!quic) {
        wb_ext_begin(w, 0xff01, &e);
        wb_u8(w, 0);
        wb_close(w, e, 2);
    }
    /* supported_groups: x25519, secp256r1, secp384r1 */
    wb_ext_begin(w, 10, &e);
    wb_u16(w, 6);
    wb_u16(w, 0x001d);
    wb_u16(w, 0x0017);
    wb_u16(w, 0x0018);
    wb_close(w, e, 2);
    if (!quic) {
        wb_ext_begin(w, 11, &e); /* ec_point_formats: uncompressed */
        wb_u8(w, 1);
        wb_u8(w, 0);
        wb_close(w, e, 2);
        wb_ext_begin(w, 35, &e); /* session_ticket */
        wb_close(w, e, 2);
    }
    /* application_layer_protocol_negotiation */
    wb_ext_begin(w, 16, &e);
    l = wb_open(w, 2);
    if (quic) {
        wb_u8(w, 2);
        wb_str(w, "h3");
    } else {
        wb_u8(w, 2);
        wb_str(w, "h2");
        wb_u8(w, 8);
        wb_str(w, "http/1.1");
    }
    wb_close(w, l, 2);
    wb_close(w, e, 2);
    if (!quic) {
        wb_ext_begin(w, 5, &e); /* status_request: OCSP */
        wb_u8(w, 1);
        wb_u16(w, 0);
        wb_u16(w, 0);
        wb_close(w, e, 2);
    }
    /* signature_algorithms */
    static const uint16_t sigs[] = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806,
                                    0x0601};
    wb_ext_begin(w, 13, &e);
    wb_u16(w, (uint16_t)sizeof(sigs));
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        wb_u16(w, sigs[i]);
    wb_close(w, e, 2);
    if (!quic) {
        wb_ext_begin(w, 18, &e); /* signed_certificate_timestamp */
        wb_close(w, e, 2);
    }
    /* key_share: one X25519 share */
    wb_ext_begin(w, 51, &e);
    wb_u16(w, 36);
    wb_u16(w, 0x001d);
    wb_u16(w, 32);
    fill_random(r, wb_put(w, 32), 32);
    wb_close(w, e, 2);
    /* psk_key_exchange_modes: psk_dhe_ke */
    wb_ext_begin(w, 45, &e);
    wb_u8(w, 1);
    wb_u8(w, 1);
    wb_close(w, e, 2);
    /* supported_versions */
    wb_ext_begin(w, 43, &e);
    if (quic) {
        wb_u8(w, 2);
        wb_u16(w, 0x0304);
    } else {
        wb_u8(w, 4);
        wb_u16(w, 0x0304);
        wb_u16(w, 0x0303);
    }
    wb_close(w, e, 2);
    /* compress_certificate: brotli */
    wb_ext_begin(w, 27, &e);
    wb_u8(w, 2);
    wb_u16(w, 2);
    wb_close(w, e, 2);
    if (quic) {
        /* quic_transport_parameters (RFC 9000 §18.2) */
        wb_ext_begin(w, 57, &e);
        wb_varint(w, 0x01); /* max_idle_timeout 30000 ms */
        wb_varint(w, 4);
        wb_varint(w, 30000);
        wb_varint(w, 0x04); /* initial_max_data 15 MB */
        wb_varint(w, 4);
        wb_varint(w, 15728640);
        wb_varint(w, 0x05); /* initial_max_stream_data_bidi_local 6 MB */
        wb_varint(w, 4);
        wb_varint(w, 6291456);
        wb_varint(w, 0x08); /* initial_max_streams_bidi 100 */
        wb_varint(w, 2);
        wb_varint(w, 100);
        wb_varint(w, 0x0f); /* initial_source_connection_id */
        wb_varint(w, 8);
        wb_bytes(w, scid, 8);
        wb_close(w, e, 2);
    } else {
        /* padding: a hello of 256..511 bytes is padded to 512, as browsers do */
        size_t len = w->n - (hs - 4) + 4;
        if (len < 512) {
            wb_ext_begin(w, 21, &e);
            memset(wb_put(w, 512 - len), 0, 512 - len);
            wb_close(w, e, 2);
        }
    }
    wb_close(w, ext, 2);
    wb_close(w, hs, 3);
}

/* A TLS 1.3 ServerHello handshake message choosing TLS_AES_128_GCM_SHA256 and X25519. */
static void tls_server_hello(struct wbuf *w, struct rng *r, bool quic)
{
    size_t hs, ext, e;
    wb_u8(w, 2);
    hs = wb_open(w, 3);
    wb_u16(w, 0x0303);
    fill_random(r, wb_put(w, 32), 32);
    if (quic) {
        wb_u8(w, 0);
    } else {
        wb_u8(w, 32);
        fill_random(r, wb_put(w, 32), 32);
    }
    wb_u16(w, 0x1301);
    wb_u8(w, 0);
    ext = wb_open(w, 2);
    wb_ext_begin(w, 51, &e);
    wb_u16(w, 0x001d);
    wb_u16(w, 32);
    fill_random(r, wb_put(w, 32), 32);
    wb_close(w, e, 2);
    wb_ext_begin(w, 43, &e);
    wb_u16(w, 0x0304);
    wb_close(w, e, 2);
    wb_close(w, ext, 2);
    wb_close(w, hs, 3);
}

static void tls_record_begin(struct wbuf *w, uint8_t type, uint16_t version, size_t *mark)
{
    wb_u8(w, type);
    wb_u16(w, version);
    *mark = wb_open(w, 2);
}

/* ---- QUIC v1 Initial protection (RFC 9001 §5) -------------------------------------------- */

static EVP_KDF *g_hkdf;
static EVP_CIPHER *g_gcm, *g_ecb;
static EVP_CIPHER_CTX *g_cctx;

static void crypto_die(const char *what)
{
    fprintf(stderr, "fpgen: OpenSSL %s failed\n", what);
    exit(1);
}

static void crypto_init(void)
{
    if (g_hkdf)
        return;
    g_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    g_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    g_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    g_cctx = EVP_CIPHER_CTX_new();
    if (!g_hkdf || !g_gcm || !g_ecb || !g_cctx)
        crypto_die("algorithm fetch");
}

static void crypto_fini(void)
{
    EVP_CIPHER_CTX_free(g_cctx);
    EVP_CIPHER_free(g_gcm);
    EVP_CIPHER_free(g_ecb);
    EVP_KDF_free(g_hkdf);
    g_hkdf = NULL;
}

/* HKDF-Extract (mode 1) or HKDF-Expand (mode 2) with SHA-256. */
static void hkdf(int mode, const uint8_t *key, size_t klen, const uint8_t *salt_or_info,
                 size_t slen, uint8_t *out, size_t olen)
{
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(g_hkdf);
    char digest[] = "SHA256";
    OSSL_PARAM p[5];
    p[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)key, klen);
    p[3] = OSSL_PARAM_construct_octet_string(
        mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO,
        (void *)(uintptr_t)salt_or_info, slen);
    p[4] = OSSL_PARAM_construct_end();
    if (!kc || EVP_KDF_derive(kc, out, olen, p) <= 0)
        crypto_die("HKDF");
    EVP_KDF_CTX_free(kc);
}

/* HKDF-Expand-Label (RFC 8446 §7.1) with an empty context. */
static void hkdf_expand_label(const uint8_t secret[32], const char *label, uint8_t *out,
                              size_t olen)
{
    uint8_t info[64];
    size_t ll = strlen(label);
    put16(info, (uint16_t)olen);
    info[2] = (uint8_t)(6 + ll);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, ll);
    info[9 + ll] = 0;
    hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, 32, info, 10 + ll, out, olen);
}

struct quic_keys {
    uint8_t key[16], iv[12], hp[16];
};

/* Initial keys of one side ("client in" / "server in") from the client's first DCID. */
static void quic_initial_keys(const uint8_t *dcid, size_t dlen, bool server, struct quic_keys *k)
{
    static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
    uint8_t initial[32], secret[32];
    hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, dcid, dlen, salt_v1, sizeof(salt_v1), initial, 32);
    hkdf_expand_label(initial, server ? "server in" : "client in", secret, 32);
    hkdf_expand_label(secret, "quic key", k->key, 16);
    hkdf_expand_label(secret, "quic iv", k->iv, 12);
    hkdf_expand_label(secret, "quic hp", k->hp, 16);
}

/* Protect an Initial in place: pkt[0, hdr_len) is the header ending with the packet number
 * (pn_len bytes, value pn), followed by the plaintext payload of pt_len bytes and room for
 * the 16-byte tag. */
static void quic_protect(const struct quic_keys *k, uint8_t *pkt, size_t hdr_len, size_t pn_len,
                         uint32_t pn, size_t pt_len)
{
    uint8_t nonce[12], mask[16];
    int n;
    memcpy(nonce, k->iv, 12);
    for (int i = 0; i < 4; i++)
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    uint8_t *pt = pkt + hdr_len;
    if (EVP_EncryptInit_ex2(g_cctx, g_gcm, k->key, nonce, NULL) <= 0 ||
        EVP_EncryptUpdate(g_cctx, NULL, &n, pkt, (int)hdr_len) <= 0 ||
        EVP_EncryptUpdate(g_cctx, pt, &n, pt, (int)pt_len) <= 0 ||
        EVP_EncryptFinal_ex(g_cctx, pt + n, &n) <= 0 ||
        EVP_CIPHER_CTX_ctrl(g_cctx, EVP_CTRL_AEAD_GET_TAG, 16, pt + pt_len) <= 0)
        crypto_die("AES-128-GCM");
    size_t pn_off = hdr_len - pn_len;
    if (EVP_EncryptInit_ex2(g_cctx, g_ecb, k->hp, NULL, NULL) <= 0 ||
        EVP_CIPHER_CTX_set_padding(g_cctx, 0) <= 0 ||
        EVP_EncryptUpdate(g_cctx, mask, &n, pkt + pn_off + 4, 16) <= 0)
        crypto_die("AES-128-ECB");
    pkt[0] ^= mask[0] & 0x0f;
    for (size_t i = 0; i < pn_len; i++)
        pkt[pn_off + i] ^= mask[1 + i];
}

#define QUIC_INITIAL_SIZE 1200 /* RFC 9000 §14.1: client Initial datagrams are padded to this */

/* A whole Initial datagram: the client's (CRYPTO ClientHello) or the server's (ACK of the
 * client's packet 0 + CRYPTO ServerHello), padded to 1200 bytes and protected. */
static size_t quic_initial(struct app *a, bool server, uint8_t *out)
{
    uint8_t hello[1024];
    struct wbuf h = {.p = hello, .cap = sizeof(hello)};
    if (server)
        tls_server_hello(&h, &a->rng, true);
    else
        tls_client_hello(&h, &a->rng, services[a->svc].name, true, a->cid[0]);
    struct wbuf w = {.p = out, .cap = QUIC_INITIAL_SIZE};
    const size_t pn_len = 2;
    wb_u8(&w, (uint8_t)(0xc0 | (pn_len - 1))); /* long header, Initial, PN length */
    put32(wb_put(&w, 4), 1);
    wb_u8(&w, 8);
    wb_bytes(&w, server ? a->cid[0] : a->odcid, 8);
    wb_u8(&w, 8);
    wb_bytes(&w, server ? a->cid[1] : a->cid[0], 8);
    wb_u8(&w, 0); /* token length */
    size_t len_at = w.n;
    wb_u16(&w, 0); /* Length, 2-byte varint, set below */
    wb_u16(&w, 0); /* packet number 0 */
    size_t hdr_len = w.n;
    size_t pt_len = QUIC_INITIAL_SIZE - hdr_len - 16;
    if (server) {
        wb_u8(&w, 0x02); /* ACK: largest 0, delay 0, 0 ranges, first range 0 */
        wb_u8(&w, 0);
        wb_u8(&w, 0);
        wb_u8(&w, 0);
        wb_u8(&w, 0);
    }
    wb_u8(&w, 0x06); /* CRYPTO offset 0 */
    wb_varint(&w, 0);
    wb_varint(&w, (uint32_t)h.n);
    wb_bytes(&w, hello, h.n);
    memset(wb_put(&w, hdr_len + pt_len - w.n), 0, hdr_len + pt_len - w.n); /* PADDING */
    put16(out + len_at, (uint16_t)(0x4000 | (pn_len + pt_len + 16)));
    struct quic_keys k;
    quic_initial_keys(a->odcid, 8, server, &k);
    quic_protect(&k, out, hdr_len, pn_len, 0, pt_len);
    return QUIC_INITIAL_SIZE;
}

/* ---- DNS ------------------------------------------------------------------------------------ */

static void dns_name(struct wbuf *w, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        wb_u8(w, (uint8_t)l);
        wb_bytes(w, name, l);
        name += l + (dot ? 1 : 0);
    }
    wb_u8(w, 0);
}

/* Addresses of service svc in the capture's server space (up to max, from a random start). */
static unsigned dns_pick(struct app *a, unsigned svc, bool v6, struct addr *out, unsigned max)
{
    const struct app_space *s = a->space;
    uint32_t lo = v6 ? s->v6_lo : s->v4_lo, hi = v6 ? s->v6_hi : s->v4_hi;
    uint32_t first = lo + (uint32_t)((svc + N_SERVICES - lo % N_SERVICES) % N_SERVICES);
    if (first > hi || (!v6 && lo > 254))
        return 0;
    uint32_t count = (hi - first) / N_SERVICES + 1;
    uint32_t k0 = (uint32_t)(rng_next(&a->rng) % count);
    unsigned n = 0;
    for (uint32_t i = 0; i < count && n < max; i++) {
        uint32_t h = first + ((k0 + i) % count) * N_SERVICES;
        if (!v6 && (h == 0 || h > 254))
            continue;
        out[n++] = v6 ? addr6(s->net6, h) : addr4(203, 0, 113, (uint8_t)h);
    }
    return n;
}

/* A query (client) or the response to the last query (server), natural size. */
static size_t dns_message(struct app *a, int dir, uint8_t *out, size_t cap)
{
    struct wbuf w = {.p = out, .cap = cap};
    if (dir == 0 || !a->dns_pending) {
        a->dns_id = (uint16_t)rng_next(&a->rng);
        if (!a->n_force) {
            a->dns_svc = (uint8_t)(rng_next(&a->rng) % N_SERVICES);
            a->dns_qtype = rng_next(&a->rng) % 4 == 0 ? 28 : 1;
        }
        a->dns_pending = 1;
    }
    const struct service *sv = &services[a->dns_svc];
    wb_u16(&w, a->dns_id);
    wb_u16(&w, dir ? 0x8180 : 0x0100);
    wb_u16(&w, 1);
    size_t ancount_at = w.n;
    wb_u16(&w, 0);
    wb_u16(&w, 0);
    wb_u16(&w, 0);
    dns_name(&w, sv->name);
    wb_u16(&w, a->dns_qtype);
    wb_u16(&w, 1);
    if (dir == 0)
        return w.n;
    a->dns_pending = 0;
    struct addr ans[DNS_MAX_ANS];
    bool v6 = a->dns_qtype == 28;
    unsigned n;
    if (a->n_force) {
        n = a->n_force;
        memcpy(ans, a->force, n * sizeof(ans[0]));
        a->n_force = 0;
    } else {
        n = dns_pick(a, a->dns_svc, v6, ans, v6 ? 2 : 1 + (unsigned)(rng_next(&a->rng) % 4));
    }
    uint16_t owner = 0xc00c, ancount = 0;
    uint32_t ttl = 60 + (uint32_t)(rng_next(&a->rng) % 3540);
    if (sv->cname && n) {
        wb_u16(&w, owner);
        wb_u16(&w, 5);
        wb_u16(&w, 1);
        put32(wb_put(&w, 4), ttl * 10);
        size_t rd = wb_open(&w, 2);
        owner = (uint16_t)(0xc000 | w.n);
        dns_name(&w, sv->cname);
        wb_close(&w, rd, 2);
        ancount++;
    }
    for (unsigned i = 0; i < n; i++) {
        wb_u16(&w, owner);
        wb_u16(&w, ans[i].ver == 6 ? 28 : 1);
        wb_u16(&w, 1);
        put32(wb_put(&w, 4), ttl);
        wb_u16(&w, ans[i].ver == 6 ? 16 : 4);
        wb_bytes(&w, ans[i].a, ans[i].ver == 6 ? 16 : 4);
        ancount++;
    }
    put16(out + ancount_at, ancount);
    return w.n;
}

/* ---- NTP (RFC 5905) -------------------------------------------------------------------------- */

static size_t ntp_message(struct app *a, int dir, uint8_t *out)
{
    memset(out, 0, 48);
    uint32_t secs = 1700000000u + 2208988800u + a->d[dir].units;
    out[0] = dir ? 0x24 : 0x23; /* LI 0, version 4, mode 4 (server) / 3 (client) */
    if (dir) {
        out[1] = 2;  /* stratum */
        out[2] = 6;
        out[3] = 0xe9;
        put32(out + 4, 0x00000219);
        put32(out + 8, 0x00000327);
        memcpy(out + 12, (uint8_t[4]){192, 0, 2, 123}, 4);
        put32(out + 16, secs - 64);
        put32(out + 24, secs);
        put32(out + 28, (uint32_t)rng_next(&a->rng));
        put32(out + 32, secs);
        put32(out + 36, (uint32_t)rng_next(&a->rng));
    } else {
        out[2] = 6;
        out[3] = 0xe9;
    }
    put32(out + 40, secs);
    put32(out + 44, (uint32_t)rng_next(&a->rng));
    a->d[dir].units++;
    return 48;
}

/* ---- stream units (TLS, HTTP) ------------------------------------------------------------- */

/* Start the next unit of a stream direction: its head into pend, its body into body_left. */
static void app_unit(struct app *a, int dir)
{
    struct app_dir *d = &a->d[dir];
    struct wbuf w = {.p = d->pend, .cap = APP_PEND};
    const struct service *sv = &services[a->svc];
    size_t rec;
    d->body_left = 0;
    if (a->kind == APP_TLS && d->units == 0) {
        tls_record_begin(&w, 22, dir ? 0x0303 : 0x0301, &rec);
        if (dir)
            tls_server_hello(&w, &a->rng, false);
        else
            tls_client_hello(&w, &a->rng, sv->name, false, NULL);
        wb_close(&w, rec, 2);
        if (dir) { /* middlebox-compatibility ChangeCipherSpec */
            tls_record_begin(&w, 20, 0x0303, &rec);
            wb_u8(&w, 1);
            wb_close(&w, rec, 2);
        }
    } else if (a->kind == APP_TLS) {
        uint32_t len = dir ? rng_range(&a->rng, 1000, 16384) : rng_range(&a->rng, 40, 1200);
        wb_u8(&w, 23);
        wb_u16(&w, 0x0303);
        wb_u16(&w, (uint16_t)len);
        d->body_left = len;
    } else if (a->kind == APP_HTTP && dir == 0) {
        char line[64];
        wb_str(&w, "GET ");
        wb_str(&w, sv->path);
        if (d->units) {
            snprintf(line, sizeof(line), "%s%u", strchr(sv->path, '?') ? "&n=" : "?n=",
                     d->units);
            wb_str(&w, line);
        }
        wb_str(&w, " HTTP/1.1\r\nHost: ");
        wb_str(&w, sv->name);
        wb_str(&w, "\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
                   "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
                   "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
                   "Connection: keep-alive\r\n\r\n");
    } else if (a->kind == APP_HTTP) {
        char line[64];
        uint32_t len = rng_range(&a->rng, 2000, 400000);
        wb_str(&w, "HTTP/1.1 200 OK\r\nServer: nginx\r\n"
                   "Content-Type: application/octet-stream\r\n");
        snprintf(line, sizeof(line), "Content-Length: %" PRIu32 "\r\n", len);
        wb_str(&w, line);
        wb_str(&w, "Cache-Control: max-age=86400\r\nConnection: keep-alive\r\n\r\n");
        d->body_left = len;
    }
    d->pend_len = (uint16_t)w.n;
    d->pend_pos = 0;
    d->units++;
}

/* Bytes of the direction's stream into out[0, n). */
static void app_stream_take(struct app *a, int dir, uint8_t *out, size_t n)
{
    struct app_dir *d = &a->d[dir];
    while (n) {
        if (d->pend_pos == d->pend_len && !d->body_left)
            app_unit(a, dir);
        size_t k = d->pend_len - d->pend_pos;
        if (k) {
            k = k < n ? k : n;
            memcpy(out, d->pend + d->pend_pos, k);
            d->pend_pos = (uint16_t)(d->pend_pos + k);
        } else {
            k = d->body_left < n ? d->body_left : n;
            fill_random(&a->rng, out, k);
            d->body_left -= (uint32_t)k;
        }
        out += k;
        n -= k;
    }
}

#define QUIC_SHORT_MIN 40 /* 1 + DCID 8 + PN + a frame + 16-byte tag: the smallest real one */

/* The payload of the next packet in direction dir, whose profile size would be `want`
 * bytes: first messages and datagram messages at their natural size, the rest at `want`
 * (QUIC short-header packets at least QUIC_SHORT_MIN). @return its length */
static size_t app_payload(struct app *a, int dir, size_t want, uint8_t *out, size_t cap)
{
    struct app_dir *d = &a->d[dir];
    switch (a->kind) {
    case APP_TLS:
    case APP_HTTP:
        if (d->units == 0) {
            app_unit(a, dir);
            want = d->pend_len;
        }
        if (want > cap)
            want = cap;
        app_stream_take(a, dir, out, want);
        return want;
    case APP_DNS:
        return dns_message(a, dir, out, cap);
    case APP_NTP:
        return ntp_message(a, dir, out);
    case APP_QUIC:
        if (d->units++ == 0 && (dir == 0 || a->d[0].units))
            return quic_initial(a, dir == 1, out);
        if (want < QUIC_SHORT_MIN)
            want = QUIC_SHORT_MIN;
        if (want > cap)
            want = cap;
        fill_random(&a->rng, out, want);
        out[0] = (uint8_t)(0x40 | (out[0] & 0x3f)); /* short header, fixed bit */
        memcpy(out + 1, a->cid[dir ? 0 : 1], 8);      /* the peer's connection ID */
        return want;
    default:
        return 0;
    }
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
    struct app app;            /* --apps: the application payload (kind APP_NONE: pattern) */
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

/* The payload of a conversation packet: the application's (--apps) or the pattern.
 * @return its checksum partial sum */
static uint32_t conv_payload(struct conv *c, struct pb *b, int dir, size_t plen, uint8_t pattern)
{
    if (c->app.kind == APP_NONE || (plen == 0 && c->app.kind != APP_QUIC &&
                                    c->app.kind != APP_DNS && c->app.kind != APP_NTP))
        return pb_payload(b, plen, pattern);
    static uint8_t tmp[2048];
    size_t n = app_payload(&c->app, dir, plen, tmp, sizeof(tmp));
    uint8_t *p = pb_push(b, n);
    memcpy(p, tmp, n);
    return csum_partial(p, n);
}

static void conv_tcp(struct mix *m, struct conv *c, int dir, uint8_t flags, size_t plen)
{
    struct pb b;
    pb_init(&b);
    const struct addr *s = dir ? &c->srv : &c->cli;
    const struct addr *d = dir ? &c->cli : &c->srv;
    uint32_t psum = conv_payload(c, &b, dir, plen, (uint8_t)(0x41 + dir));
    plen = pb_len(&b);
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
    uint32_t psum = conv_payload(c, &b, dir, plen, (uint8_t)(0x61 + dir));
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
/* Servers named by the mix profile's DNS answers: 203.0.113.40-239, 2001:db8:4::2000-2199. */
static const struct app_space mix_space = {40, 239, 4, 2000, 2199};

static void conv_app_auto(struct mix *m, struct conv *c, bool tcp)
{
    if (g_apps && c->app.kind == APP_NONE)
        app_init(&c->app, tcp, c->sport, &c->srv, &mix_space, rng_next(&m->rng));
}

static void mix_tcp_session(struct mix *m, struct conv *c, unsigned n_req, enum tcp_end end)
{
    conv_app_auto(m, c, true);
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
    conv_app_auto(m, c, false);
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

/* --apps: a client looks a service up (A, or AAAA from an IPv6 client) and then talks to
 * every address of the answer (TLS, QUIC or HTTP as the service does), after the answer. */
static void mix_app_session(struct mix *m, const struct addr *cl, const struct addr *dns_srv,
                            unsigned svc)
{
    struct conv d, c;
    bool v6 = cl->ver == 6;
    conv_init(m, &d, cl, dns_srv, (uint16_t)rng_range(&m->rng, 1024, 65535), 53);
    app_init(&d.app, false, 53, dns_srv, &mix_space, rng_next(&m->rng));
    d.app.dns_svc = (uint8_t)svc;
    d.app.dns_qtype = v6 ? 28 : 1;
    unsigned n = 1 + (unsigned)(rng_next(&m->rng) % 2);
    uint32_t k0 = (uint32_t)(rng_next(&m->rng) % 10);
    for (unsigned k = 0; k < n; k++) {
        uint32_t h = (v6 ? 2000 : 40) + svc + (uint32_t)N_SERVICES * ((k0 + k) % 10);
        d.app.force[k] = v6 ? addr6(mix_space.net6, h) : addr4(203, 0, 113, (uint8_t)h);
    }
    d.app.n_force = (uint8_t)n;
    conv_udp(m, &d, 0, 0);
    conv_wait(m, &d, 2000, 40000);
    conv_udp(m, &d, 1, 0);
    unsigned protos = services[svc].protos, n_kinds = 0;
    unsigned kinds[3];
    if (protos & SVC_TLS)
        kinds[n_kinds++] = SVC_TLS;
    if (protos & SVC_QUIC)
        kinds[n_kinds++] = SVC_QUIC;
    if (protos & SVC_HTTP)
        kinds[n_kinds++] = SVC_HTTP;
    for (unsigned k = 0; k < n; k++) {
        unsigned kind = kinds[rng_next(&m->rng) % n_kinds];
        uint16_t port = kind == SVC_HTTP ? 80 : 443;
        conv_init(m, &c, cl, &d.app.force[k], (uint16_t)rng_range(&m->rng, 32768, 60999), port);
        c.t = d.t + (uint64_t)rng_range(&m->rng, 200, 50000) * 1000u;
        if (kind != SVC_QUIC) {
            mix_tcp_session(m, &c, rng_range(&m->rng, 1, 3), TCP_END_FIN);
            continue;
        }
        app_init(&c.app, false, 443, &c.srv, &mix_space, rng_next(&m->rng));
        conv_udp(m, &c, 0, 0); /* Initials */
        conv_wait(m, &c, 5000, 40000);
        conv_udp(m, &c, 1, 0);
        unsigned rounds = rng_range(&m->rng, 2, 6);
        for (unsigned r = 0; r < rounds; r++) {
            conv_wait(m, &c, 100, 5000);
            conv_udp(m, &c, 0, rng_range(&m->rng, 40, 200));
            unsigned segs = rng_range(&m->rng, 1, 4);
            for (unsigned sg = 0; sg < segs; sg++) {
                conv_wait(m, &c, 50, 2000);
                conv_udp(m, &c, 1, rng_range(&m->rng, 1000, 1350));
            }
        }
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
        if (g_apps) {
            mix_app_session(&m, &cl, &sv, i % N_SERVICES);
            continue;
        }
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
        if (g_apps && i % 2) {
            mix_app_session(&m, &cl, &sv, (i * 7) % N_SERVICES);
            continue;
        }
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
    fprintf(stderr, "fpgen: %s: %" PRIu64 " packets, %u conversations\n",
            g_apps ? "mixapp" : "mix", o->packets, m.convs);
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
    struct app app; /* --apps */
};

/* Bench servers: 203.0.113.1-254 and 2001:db8:200::1-4096, as bconn_make draws them. */
static const struct app_space bench_space = {1, 254, 0x200, 1, 4096};
static uint64_t g_app_seed; /* --seed, for the per-connection application streams */

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
    b->app.kind = APP_NONE;
    if (g_apps) { /* its own random stream: the main one (and so every flow) is unchanged */
        struct rng ar = {g_app_seed ^ ((idx + 1) * 0xd1b54a32d192ed03ULL)};
        app_init(&b->app, b->tcp, b->sport, &b->srv, &bench_space, rng_next(&ar));
    }
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
            if (b->app.kind != APP_NONE) /* the client speaks first */
                dir = !dir;
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
    uint32_t psum = 0;
    if (data && b->app.kind != APP_NONE) {
        static uint8_t tmp[2048];
        plen = app_payload(&b->app, dir, plen, tmp, sizeof(tmp));
        uint8_t *p = pb_push(&pkt, plen);
        memcpy(p, tmp, plen);
        psum = csum_partial(p, plen);
    } else {
        pb_payload(&pkt, plen, 0);
    }
    if (b->tcp)
        pb_tcp(&pkt, s, d, dir ? b->sport : b->cport, dir ? b->cport : b->sport, b->seq[dir],
               b->seq[!dir], flags, psum);
    else
        pb_udp(&pkt, s, d, dir ? b->sport : b->cport, dir ? b->cport : b->sport, psum, false);
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
            " uniflows)\n", imix ? (g_apps ? "benchimixapp" : "benchimix")
                                : (g_apps ? "bench64app" : "bench64"), o->packets, conns,
            conns * 2);
}

/* ---------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fpgen --profile mix|bench64|benchimix [--apps] [--flows N] [--packets N]\n"
            "             [--seed S] [--pps RATE] [--start EPOCH] [--pcapng] -o FILE\n"
            "  --apps     application payloads: TLS 1.3 ClientHello/ServerHello on TCP 443,\n"
            "             QUIC v1 Initials (SNI) on UDP 443, DNS queries/answers on UDP 53,\n"
            "             HTTP/1.1 on TCP 80/8080, NTP on UDP 123 (profiles mixapp, bench64app,\n"
            "             benchimixapp are the same as the profile plus --apps)\n"
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
        {"help", no_argument, NULL, 'h'},          {"apps", no_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
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
        case 'A': g_apps = true; break;
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
    size_t plen = strlen(profile);
    if (plen > 3 && !strcmp(profile + plen - 3, "app")) {
        static char base[32];
        snprintf(base, sizeof(base), "%.*s", (int)(plen - 3), profile);
        profile = base;
        g_apps = true;
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
    g_app_seed = seed;
    if (g_apps)
        crypto_init();
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
    if (g_apps)
        crypto_fini();
    return 0;
}
