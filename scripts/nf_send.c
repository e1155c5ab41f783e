/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nf_send: test driver for the NetFlow v9/v5 encoders (src/export/netflow.h).
 * Builds a deterministic set of biflow records (IPv4 and IPv6; TCP, UDP, ICMP; one-way flows;
 * counters over 2^32; flows starting hours before others, in a capture-like past), prints them
 * as text and sends them encoded over UDP to 127.0.0.1 (loopback only).
 *
 *   nf_send -V 9|5 -p PORT [-n RECORDS] [-s SEED] [-l LIST] [-m MTU] [-r REFRESH_PKTS]
 *           [-g GAP_US]
 *
 * LIST gets one line per biflow record:
 *   REC IPVER SRC DST SPORT DPORT PROTO  P0 B0 F0 L0 ICMP0  P1 B1 F1 L1 ICMP1
 * (direction 0 = SRC→DST, direction 1 = DST→SRC; times in ms since the epoch, packets 0 =
 * direction not seen). The encoder's counters go to stdout as "name value" lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fp_time.h"
#include "export/netflow.h"

struct sender {
    int fd;
    unsigned gap_us;
};

static int udp_send(void *arg, const uint8_t *pkt, size_t len)
{
    struct sender *s = arg;
    ssize_t n = send(s->fd, pkt, len, 0);
    if (s->gap_us)
        usleep(s->gap_us); /* let the collectors keep up */
    return n == (ssize_t)len ? 0 : -errno;
}

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

#define BASE_MS 1425168000000ull /* 2015-03-01 00:00:00 UTC: a capture from the past */

static void make_record(unsigned i, struct fp_flow_record *r)
{
    memset(r, 0, sizeof(*r));
    int v6 = i % 10 >= 7;
    unsigned kind = i % 3; /* 0 TCP, 1 UDP, 2 ICMP */
    r->ip_version = v6 ? 6 : 4;
    if (v6) {
        static const uint8_t pfx[4] = {0x20, 0x01, 0x0d, 0xb8};
        memcpy(r->src, pfx, 4);
        memcpy(r->dst, pfx, 4);
        r->src[5] = 1;
        r->src[14] = (uint8_t)(i >> 8);
        r->src[15] = (uint8_t)i;
        r->dst[5] = 2;
        r->dst[15] = (uint8_t)(1 + i % 7);
    } else {
        r->src[0] = 10;
        r->src[1] = 1;
        r->src[2] = (uint8_t)(i >> 8);
        r->src[3] = (uint8_t)i;
        r->dst[0] = 192;
        r->dst[1] = 0;
        r->dst[2] = 2;
        r->dst[3] = (uint8_t)(1 + i % 9);
    }
    r->proto = kind == 0 ? 6 : kind == 1 ? 17 : (v6 ? 58 : 1);
    if (kind != 2) {
        r->sport = (uint16_t)(1024 + i);
        r->dport = kind == 0 ? 443 : 53;
    }
    r->end_reason = (uint8_t)(1 + i % 5);
    r->port_id = (uint16_t)(i % 4);
    if (i % 11 == 0) {
        r->n_vlan = 1;
        r->vlan[0] = (uint16_t)(100 + i % 50);
    }
    r->flow_id = i;
    /* Mostly in order, every 37th flow starts 3 h earlier (long flow, or capture reorder). */
    uint64_t t0 = BASE_MS + (uint64_t)i * 250 + rng() % 200;
    if (i % 37 == 5)
        t0 -= 3 * 3600 * 1000ull;
    for (int d = 0; d < 2; d++) {
        struct fp_flow_dir *fd = &r->dir[d];
        if (d == 1 && (kind == 1 ? i % 4 == 1 : i % 6 == 2))
            continue; /* one-way flow */
        fd->packets = 1 + rng() % 40;
        fd->bytes = fd->packets * (40 + rng() % 1400);
        uint64_t f = t0 + (uint64_t)d * (1 + rng() % 30);
        uint64_t l = f + rng() % 20000;
        fd->first_ns = f * FP_NS_PER_MS + rng() % 1000000;
        fd->last_ns = l * FP_NS_PER_MS + rng() % 1000000;
        fd->tcp_flags = kind == 0 ? (uint16_t)(0x12 | (rng() & 0x19)) : 0;
        fd->icmp_type_code = kind == 2 ? (uint16_t)(d ? 0x0000 : 0x0800) : 0;
        if (kind == 2 && v6)
            fd->icmp_type_code = d ? 0x8100 : 0x8000;
        fd->ttl_min = (uint8_t)(30 + rng() % 30);
        fd->ttl_max = (uint8_t)(fd->ttl_min + rng() % 10);
        fd->tos = (uint8_t)(rng() % 4 * 8);
    }
    /* Big IPv4 flows (v5 must split them): > 2^32 octets; one also > 2^32 packets. */
    if (!v6 && i % 53 == 3) {
        r->dir[0].packets = 3000000 + i;
        r->dir[0].bytes = 5000000000ull + i;
    }
    if (!v6 && i == 109) {
        r->dir[0].packets = 4294967296ull + 12345;
        r->dir[0].bytes = 600000000000ull + 7;
    }
}

static void print_addr(FILE *f, const struct fp_flow_record *r, const uint8_t *a)
{
    char s[INET6_ADDRSTRLEN];
    inet_ntop(r->ip_version == 6 ? AF_INET6 : AF_INET, a, s, sizeof(s));
    fputs(s, f);
}

int main(int argc, char **argv)
{
    unsigned version = 9, n = 300, port = 0, mtu = 0, refresh = 0, gap_us = 1000, seed = 1;
    const char *list = NULL;
    int c;

    while ((c = getopt(argc, argv, "V:p:n:s:l:m:r:g:")) != -1) {
        switch (c) {
        case 'V':
            version = (unsigned)atoi(optarg);
            break;
        case 'p':
            port = (unsigned)atoi(optarg);
            break;
        case 'n':
            n = (unsigned)atoi(optarg);
            break;
        case 's':
            seed = (unsigned)atoi(optarg);
            break;
        case 'l':
            list = optarg;
            break;
        case 'm':
            mtu = (unsigned)atoi(optarg);
            break;
        case 'r':
            refresh = (unsigned)atoi(optarg);
            break;
        case 'g':
            gap_us = (unsigned)atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: nf_send -V 9|5 -p PORT [-n N] [-s SEED] [-l LIST] [-m MTU] "
                            "[-r REFRESH_PKTS] [-g GAP_US]\n");
            return 2;
        }
    }
    if (!port || port > 65535 || !n) {
        fprintf(stderr, "nf_send: -p PORT (1..65535) and -n N > 0 required\n");
        return 2;
    }
    rng_state = seed;

    struct fp_flow_record *recs = calloc(n, sizeof(*recs));
    if (!recs)
        return 1;
    for (unsigned i = 0; i < n; i++)
        make_record(i, &recs[i]);

    if (list) {
        FILE *f = fopen(list, "w");
        if (!f) {
            perror(list);
            return 1;
        }
        for (unsigned i = 0; i < n; i++) {
            const struct fp_flow_record *r = &recs[i];
            fprintf(f, "REC %u ", r->ip_version);
            print_addr(f, r, r->src);
            fputc(' ', f);
            print_addr(f, r, r->dst);
            fprintf(f, " %u %u %u", r->sport, r->dport, r->proto);
            for (int d = 0; d < 2; d++)
                fprintf(f, "  %llu %llu %llu %llu %u", (unsigned long long)r->dir[d].packets,
                        (unsigned long long)r->dir[d].bytes,
                        (unsigned long long)(r->dir[d].first_ns / FP_NS_PER_MS),
                        (unsigned long long)(r->dir[d].last_ns / FP_NS_PER_MS),
                        r->dir[d].icmp_type_code);
            fputc('\n', f);
        }
        fclose(f);
    }

    struct sender s = {.gap_us = gap_us};
    s.fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
    if (s.fd < 0 || connect(s.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("nf_send: socket");
        return 1;
    }

    static struct fp_nf_encoder enc; /* 9 KB buffer: keep it off the stack */
    struct fp_nf_params p = {
        .version = version,
        .source_id = 7,
        .engine_type = 1,
        .engine_id = 7,
        .mtu = mtu,
        .template_refresh_pkts = refresh,
        .active_timeout_s = 60,
        .inactive_timeout_s = 15,
        .send = udp_send,
        .send_arg = &s,
    };
    int rc = fp_nf_encoder_init(&enc, &p);
    if (rc) {
        fprintf(stderr, "nf_send: fp_nf_encoder_init: %s\n", strerror(-rc));
        return 2;
    }
    /* Capture-file style: record clock (now_ms = 0), records handed over in bursts of 32. */
    for (unsigned i = 0; i < n; i += 32)
        fp_nf_encode(&enc, recs + i, FP_MIN(32u, n - i), 0);
    fp_nf_flush(&enc, 0);

    const uint64_t *v = (const uint64_t *)&enc.stats;
    for (unsigned i = 0; i < fp_nf_counter_count; i++)
        printf("%s %llu\n", fp_nf_counter_names[i], (unsigned long long)v[i]);
    close(s.fd);
    free(recs);
    return enc.stats.send_errors ? 1 : 0;
}
