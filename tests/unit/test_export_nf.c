/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Exporter wiring of the NetFlow encoders (nfv9+udp://, nfv5+udp://) and live
 * reconfiguration (fp_exporter_reconfigure): real exporter thread, real ring, UDP sockets on
 * 127.0.0.1 opened here; the datagrams are decoded here from RFC 3954 / the v5 layout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "config/config.h"
#include "export/export.h"
#include "fp_test.h"

static int udp_open(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

/* Totals decoded from the datagrams of one socket. */
struct nf_seen {
    unsigned pkts, bad, v4_recs, v6_recs, v9_tmpl;
    uint64_t flow_pkts, flow_octs;
};

/* Read every datagram waiting (up to @p wait_ms for the first) and decode it. */
static void drain(int fd, unsigned version, struct nf_seen *s, int wait_ms)
{
    uint8_t b[9100];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, wait_ms) == 1) {
        wait_ms = 50;
        ssize_t n = recv(fd, b, sizeof(b), 0);
        if (n < 20)
            continue;
        s->pkts++;
        if (rd16(b) != version) {
            s->bad++;
            continue;
        }
        if (version == 5) {
            unsigned cnt = rd16(b + 2);
            if ((size_t)n != 24 + 48u * cnt) {
                s->bad++;
                continue;
            }
            for (unsigned i = 0; i < cnt; i++) {
                const uint8_t *r = b + 24 + 48 * i;
                s->v4_recs++;
                s->flow_pkts += rd32(r + 16);
                s->flow_octs += rd32(r + 20);
            }
            continue;
        }
        /* v9: FlowSets after the 20-octet header; data sets 256 (IPv4, 52) / 257 (IPv6, 76):
         * IN_BYTES 8, IN_PKTS 8 first */
        size_t off = 20;
        while (off + 4 <= (size_t)n) {
            unsigned id = rd16(b + off), len = rd16(b + off + 2);
            if (len < 4 || off + len > (size_t)n) {
                s->bad++;
                break;
            }
            if (id == 0)
                s->v9_tmpl++;
            unsigned rl = id == 256 ? 52 : id == 257 ? 76 : 0;
            for (size_t p = off + 4; rl && p + rl <= off + len; p += rl) {
                uint64_t oct = (uint64_t)rd32(b + p) << 32 | rd32(b + p + 4);
                uint64_t pk = (uint64_t)rd32(b + p + 8) << 32 | rd32(b + p + 12);
                s->flow_octs += oct;
                s->flow_pkts += pk;
                if (id == 256)
                    s->v4_recs++;
                else
                    s->v6_recs++;
            }
            off += len;
        }
    }
}

/* n biflow records: even ones IPv4, odd ones IPv6; direction 1 has packets on every third. */
static void make_recs(struct fp_flow_record *r, unsigned n, uint64_t *pk, uint64_t *pk4,
                      unsigned *dirs4, unsigned *dirs6)
{
    *pk = *pk4 = 0;
    *dirs4 = *dirs6 = 0;
    for (unsigned i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        bool v6 = i % 2;
        r[i].ip_version = v6 ? 6 : 4;
        if (v6) {
            r[i].src[0] = 0x20, r[i].src[1] = 0x01, r[i].src[15] = (uint8_t)i;
            r[i].dst[0] = 0x20, r[i].dst[1] = 0x01, r[i].dst[15] = 200;
        } else {
            r[i].src[0] = 10, r[i].src[3] = (uint8_t)i;
            r[i].dst[0] = 10, r[i].dst[3] = 200;
        }
        r[i].proto = 17;
        r[i].sport = (uint16_t)(1000 + i);
        r[i].dport = 53;
        r[i].flow_id = i + 1;
        r[i].end_reason = 1;
        unsigned nd = i % 3 == 0 ? 2 : 1;
        for (unsigned d = 0; d < nd; d++) {
            r[i].dir[d].packets = 1 + i + d;
            r[i].dir[d].bytes = 100 * (1 + i + d);
            r[i].dir[d].first_ns = 1700000000000000000ull + i * 1000000ull;
            r[i].dir[d].last_ns = r[i].dir[d].first_ns + 5000000ull;
            *pk += r[i].dir[d].packets;
            if (!v6)
                *pk4 += r[i].dir[d].packets;
            if (v6)
                (*dirs6)++;
            else
                (*dirs4)++;
        }
    }
}

static void base_cfg(struct fp_config *cfg)
{
    fp_config_defaults(cfg);
    snprintf(cfg->capture_file, sizeof(cfg->capture_file), "x.pcap"); /* record clock */
    cfg->stats_interval_s = 0;
}

static void add_url(struct fp_config *cfg, const char *url)
{
    char err[256];
    CU_ASSERT_EQUAL_FATAL(fp_config_add_collector_url(cfg, url, err, sizeof(err)), 0);
}

static void test_nf_v9_v5(void)
{
    uint16_t p9, p5;
    int s9 = udp_open(&p9), s5 = udp_open(&p5);
    CU_ASSERT_FATAL(s9 >= 0 && s5 >= 0);
    static struct fp_config cfg;
    char url[64];
    base_cfg(&cfg);
    snprintf(url, sizeof(url), "nfv9+udp://127.0.0.1:%u", p9);
    add_url(&cfg, url);
    snprintf(url, sizeof(url), "nfv5+udp://127.0.0.1:%u", p5);
    add_url(&cfg, url);
    CU_ASSERT_EQUAL(cfg.collectors[0].protocol, FP_EXPORT_PROTOCOL_NFV9);
    CU_ASSERT_EQUAL(cfg.collectors[1].protocol, FP_EXPORT_PROTOCOL_NFV5);
    struct rte_ring *ring = fp_export_ring_create("nf", 1024);
    CU_ASSERT_FATAL(ring != NULL);
    struct fp_exporter_params ep = {.cfg = &cfg, .rings = &ring, .n_rings = 1};
    struct fp_exporter *ex = fp_exporter_create(&ep);
    CU_ASSERT_FATAL(ex != NULL);
    CU_ASSERT_EQUAL(fp_exporter_start(ex), 0);
    static struct fp_flow_record recs[200];
    uint64_t pk, pk4;
    unsigned d4, d6;
    make_recs(recs, 200, &pk, &pk4, &d4, &d6);
    CU_ASSERT_EQUAL(fp_export_ring_put_burst(ring, recs, 200), 200);
    CU_ASSERT_EQUAL(fp_exporter_stop(ex), 0); /* drains, flushes the encoders */

    struct nf_seen a = {0}, b = {0};
    drain(s9, 9, &a, 500);
    drain(s5, 5, &b, 500);
    CU_ASSERT_EQUAL(a.bad, 0);
    CU_ASSERT_EQUAL(b.bad, 0);
    CU_ASSERT(a.v9_tmpl >= 1);
    CU_ASSERT_EQUAL(a.v4_recs, d4);
    CU_ASSERT_EQUAL(a.v6_recs, d6);
    CU_ASSERT_EQUAL(a.flow_pkts, pk);
    CU_ASSERT_EQUAL(b.v4_recs, d4); /* v5: IPv4 only */
    CU_ASSERT_EQUAL(b.flow_pkts, pk4);

    struct fp_collector_stats st9, st5;
    fp_exporter_get_stats(ex, 0, &st9);
    fp_exporter_get_stats(ex, 1, &st5);
    CU_ASSERT_EQUAL(st9.protocol, FP_EXPORT_PROTOCOL_NFV9);
    CU_ASSERT_EQUAL(st5.protocol, FP_EXPORT_PROTOCOL_NFV5);
    CU_ASSERT_EQUAL(st9.records, d4 + d6);
    CU_ASSERT_EQUAL(st9.messages, a.pkts);
    CU_ASSERT_EQUAL(st5.records, d4);
    CU_ASSERT_EQUAL(st5.messages, b.pkts);
    CU_ASSERT_EQUAL(st5.nf_skipped_ipv6, d6);
    CU_ASSERT_EQUAL(st9.nf_skipped_ipv6, 0);
    CU_ASSERT_EQUAL(st9.records_not_sent + st5.records_not_sent, 0);
    fp_exporter_destroy(ex);
    fp_export_ring_free(ring);
    close(s9);
    close(s5);
}

/* Reconfigure a running exporter: keep A (its encoder: sequence numbers continue), add B,
 * then remove A; records after each step reach exactly the collectors configured. */
static void test_reconfigure(void)
{
    uint16_t pa, pb;
    int sa = udp_open(&pa), sb = udp_open(&pb);
    CU_ASSERT_FATAL(sa >= 0 && sb >= 0);
    static struct fp_config c1, c2, c3, bad;
    char ua[64], ub[64], msg[512];
    snprintf(ua, sizeof(ua), "nfv9+udp://127.0.0.1:%u", pa);
    snprintf(ub, sizeof(ub), "nfv5+udp://127.0.0.1:%u", pb);
    base_cfg(&c1);
    add_url(&c1, ua);
    c2 = c1;
    add_url(&c2, ub);
    c2.observation_domain = 7; /* v9 templates/options re-sent with the new source id */
    base_cfg(&c3);
    c3.observation_domain = 7;
    add_url(&c3, ub);
    struct rte_ring *ring = fp_export_ring_create("rc", 1024);
    struct fp_exporter_params ep = {.cfg = &c1, .rings = &ring, .n_rings = 1};
    struct fp_exporter *ex = fp_exporter_create(&ep);
    CU_ASSERT_FATAL(ex != NULL);
    CU_ASSERT_EQUAL(fp_exporter_start(ex), 0);
    static struct fp_flow_record recs[60];
    uint64_t pk, pk4;
    unsigned d4, d6;
    make_recs(recs, 60, &pk, &pk4, &d4, &d6);

    /* step 1: A only */
    CU_ASSERT_EQUAL(fp_export_ring_put_burst(ring, recs, 20), 20);
    usleep(200000);
    CU_ASSERT_EQUAL(fp_exporter_reconfigure(ex, &c2, msg, sizeof(msg)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "1 collector(s) kept, 1 added"));
    CU_ASSERT_EQUAL(fp_exporter_collector_count(ex), 2);
    /* step 2: A and B */
    CU_ASSERT_EQUAL(fp_export_ring_put_burst(ring, recs + 20, 20), 20);
    usleep(200000);
    struct fp_collector_stats a_before;
    CU_ASSERT_EQUAL(fp_exporter_reconfigure(ex, &c3, msg, sizeof(msg)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "1 removed"));
    CU_ASSERT_EQUAL(fp_exporter_collector_count(ex), 1);
    fp_exporter_get_stats(ex, 0, &a_before);
    CU_ASSERT_EQUAL(a_before.protocol, FP_EXPORT_PROTOCOL_NFV5); /* index 0 is now B */
    /* an invalid request changes nothing */
    bad = c3;
    bad.n_collectors = FP_MAX_COLLECTORS + 1;
    CU_ASSERT_EQUAL(fp_exporter_reconfigure(ex, &bad, msg, sizeof(msg)), -EINVAL);
    CU_ASSERT_EQUAL(fp_exporter_collector_count(ex), 1);
    /* step 3: B only */
    CU_ASSERT_EQUAL(fp_export_ring_put_burst(ring, recs + 40, 20), 20);
    CU_ASSERT_EQUAL(fp_exporter_stop(ex), 0);

    /* expected: A = records 0..39 (all directions), B = IPv4 directions of 20..59 */
    uint64_t wa = 0, wb = 0;
    for (unsigned i = 0; i < 60; i++)
        for (unsigned d = 0; d < 2; d++) {
            if (i < 40)
                wa += recs[i].dir[d].packets;
            if (i >= 20 && recs[i].ip_version == 4)
                wb += recs[i].dir[d].packets;
        }
    struct nf_seen a = {0}, b = {0};
    drain(sa, 9, &a, 500);
    drain(sb, 5, &b, 500);
    CU_ASSERT_EQUAL(a.bad + b.bad, 0);
    CU_ASSERT_EQUAL(a.flow_pkts, wa);
    CU_ASSERT_EQUAL(b.flow_pkts, wb);
    CU_ASSERT(a.v9_tmpl >= 2); /* first packet, and again after the source id changed */
    fp_exporter_destroy(ex);
    fp_export_ring_free(ring);
    close(sa);
    close(sb);
}

void fp_test_register_export_nf(void);
void fp_test_register_export_nf(void)
{
    static CU_TestInfo tests[] = {
        {"nfv9_nfv5_collectors", test_nf_v9_v5},
        {"reconfigure_keep_add_remove", test_reconfigure},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("export_nf", tests);
}
