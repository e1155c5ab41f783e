/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/qoe: synthetic packet sequences with exact timestamps and known truth. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qoe/qoe.h"
#include "tests/unit/fp_test.h"

#define MS 1000000ull /* ns */
#define US 1000ull
#define T0 (1700000000ull * 1000000000ull)

#define SYN 0x02
#define RST 0x04
#define ACK 0x10
#define FIN 0x01
#define PSH 0x08

/* One synthetic packet: Ethernet(14) + IPv4(20) + TCP(20)/UDP(8) + payload. The frame holds
 * only the first CAPLEN payload bytes (like a snaplen); lengths come from ip_bytes. */
#define CAPLEN 512
struct pkt {
    struct fp_pkt_meta m;
    uint8_t frame[64 + CAPLEN];
};

static void mk_tcp(struct pkt *p, uint16_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                   uint32_t len, const uint8_t *payload, uint32_t plen)
{
    memset(p, 0, sizeof(*p));
    p->m.ip_version = 4;
    p->m.proto = 6;
    p->m.sport = 40000;
    p->m.dport = 443;
    p->m.l3_off = 14;
    p->m.l4_off = 34;
    p->m.tcp_flags = flags;
    p->m.tcp_seq = seq;
    p->m.tcp_ack = ack;
    p->m.tcp_win = win;
    p->m.ip_bytes = 40 + len;
    if (len) {
        p->m.payload_off = 54;
        p->m.payload_len = (uint16_t)(len < CAPLEN ? len : CAPLEN);
        if (payload)
            memcpy(p->frame + 54, payload, plen < CAPLEN ? plen : CAPLEN);
    }
}

static void mk_udp(struct pkt *p, uint16_t sport, uint16_t dport, uint32_t len,
                   const uint8_t *payload, uint32_t plen)
{
    memset(p, 0, sizeof(*p));
    p->m.ip_version = 4;
    p->m.proto = 17;
    p->m.sport = sport;
    p->m.dport = dport;
    p->m.l3_off = 14;
    p->m.l4_off = 34;
    p->m.ip_bytes = 28 + len;
    if (len) {
        p->m.payload_off = 42;
        p->m.payload_len = (uint16_t)(len < CAPLEN ? len : CAPLEN);
        if (payload)
            memcpy(p->frame + 42, payload, plen < CAPLEN ? plen : CAPLEN);
    }
}

/* TCP helper: feed one segment to the engine. */
static void tcp(struct fp_qoe_tcp *s, unsigned dir, uint64_t t, uint16_t flags, uint32_t seq,
                uint32_t ack, uint16_t win, uint32_t len)
{
    struct pkt p;
    mk_tcp(&p, flags, seq, ack, win, len, NULL, 0);
    fp_qoe_tcp_update(s, dir, &p.m, p.frame, t);
}

static void tcp_data(struct fp_qoe_tcp *s, unsigned dir, uint64_t t, uint32_t seq, uint32_t ack,
                     const uint8_t *data, uint32_t len)
{
    struct pkt p;
    mk_tcp(&p, ACK | PSH, seq, ack, 65535, len, data, len);
    fp_qoe_tcp_update(s, dir, &p.m, p.frame, t);
}

static void tcp_res(const struct fp_qoe_tcp *s, uint64_t t_end, struct fp_qoe_result *r)
{
    memset(r, 0, sizeof(*r));
    fp_qoe_tcp_result(s, t_end, r);
}

/* Handshake with set delays, server think time, data RTT samples. */
static void test_tcp_delays(void)
{
    struct fp_qoe_tcp s;
    struct fp_qoe_result r;
    memset(&s, 0, sizeof(s));
    const uint32_t c = 1000, sv = 5000;

    tcp(&s, 0, T0, SYN, c, 0, 65535, 0);
    tcp(&s, 1, T0 + 30 * MS, SYN | ACK, sv, c + 1, 65535, 0);       /* SND 30 ms */
    tcp(&s, 0, T0 + 35 * MS, ACK, c + 1, sv + 1, 65535, 0);          /* CND 5 ms */
    tcp(&s, 0, T0 + 36 * MS, ACK | PSH, c + 1, sv + 1, 65535, 100);  /* request */
    tcp(&s, 1, T0 + 66 * MS, ACK, sv + 1, c + 101, 65535, 0);        /* RTT dir0 30 ms */
    tcp(&s, 1, T0 + 116 * MS, ACK | PSH, sv + 1, c + 101, 65535, 1000); /* think 50 ms */
    tcp(&s, 0, T0 + 121 * MS, ACK, c + 101, sv + 1001, 65535, 0);    /* RTT dir1 5 ms */
    tcp(&s, 1, T0 + 122 * MS, ACK | PSH, sv + 1001, c + 101, 65535, 1000);
    tcp(&s, 0, T0 + 129 * MS, ACK, c + 101, sv + 2001, 65535, 0);    /* RTT dir1 7 ms */
    tcp(&s, 0, T0 + 130 * MS, FIN | ACK, c + 101, sv + 2001, 65535, 0);
    tcp(&s, 1, T0 + 160 * MS, FIN | ACK, sv + 2001, c + 102, 65535, 0);
    tcp(&s, 0, T0 + 165 * MS, ACK, c + 102, sv + 2002, 65535, 0);
    tcp_res(&s, T0 + 165 * MS, &r);

    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_ESTABLISHED);
    CU_ASSERT(r.have & FP_QOE_HAVE_SND);
    CU_ASSERT(r.have & FP_QOE_HAVE_CND);
    CU_ASSERT_EQUAL(r.snd_us, 30000);
    CU_ASSERT_EQUAL(r.cnd_us, 5000);
    CU_ASSERT(r.have & FP_QOE_HAVE_ART);
    CU_ASSERT_EQUAL(r.art_us, 80000);       /* 36 ms → 116 ms */
    CU_ASSERT_EQUAL(r.srv_delay_us, 50000); /* Cisco AD = ART − SND = think time */
    CU_ASSERT(r.have & FP_QOE_HAVE_RTT0);
    CU_ASSERT(r.have & FP_QOE_HAVE_RTT1);
    CU_ASSERT_EQUAL(r.rtt_min_us[0], 30000);
    CU_ASSERT_EQUAL(r.rtt_max_us[0], 30000);
    CU_ASSERT_EQUAL(r.rtt_samples[0], 1);
    CU_ASSERT_EQUAL(r.rtt_min_us[1], 5000);
    CU_ASSERT_EQUAL(r.rtt_max_us[1], 7000);
    CU_ASSERT_EQUAL(r.rtt_mean_us[1], 6000);
    CU_ASSERT_EQUAL(r.rtt_samples[1], 2);
    for (unsigned i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(r.retx_pkts[i], 0);
        CU_ASSERT_EQUAL(r.ooo_pkts[i], 0);
        CU_ASSERT_EQUAL(r.zw_events[i], 0);
    }
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_TLS);
}

/* Retransmissions, reordering, keep-alives, window probes, zero window; sequence numbers wrap
 * through 2^32 on the server side. */
static void test_tcp_retx_ooo_zw(void)
{
    struct fp_qoe_tcp s;
    struct fp_qoe_result r;
    memset(&s, 0, sizeof(s));
    const uint32_t c = 77, sv = 0xfffff000u; /* server sequence wraps after ~4 KB */
    uint64_t t = T0;

    tcp(&s, 0, t, SYN, c, 0, 65535, 0);
    tcp(&s, 1, t + 10 * MS, SYN | ACK, sv, c + 1, 65535, 0);
    tcp(&s, 0, t + 20 * MS, ACK, c + 1, sv + 1, 65535, 0);
    tcp(&s, 0, t + 21 * MS, ACK | PSH, c + 1, sv + 1, 65535, 200);
    uint32_t ca = c + 201; /* client's next sequence */
    uint32_t s0 = sv + 1;
    t += 40 * MS;
    /* Server segments 0..9 of 1000 bytes, 1 ms apart, except: seg 3 arrives after seg 4
     * (0.5 ms later: reordering), seg 6 is missing and arrives 200 ms later (lost upstream →
     * retransmission), seg 8 is sent twice (second copy 300 ms later → retransmission). */
    for (unsigned i = 0; i < 10; i++) {
        if (i == 3 || i == 6)
            continue;
        tcp(&s, 1, t + i * MS, ACK | PSH, s0 + i * 1000, ca, 65535, 1000);
        if (i == 4)
            tcp(&s, 1, t + i * MS + 500 * US, ACK | PSH, s0 + 3000, ca, 65535, 1000);
    }
    tcp(&s, 0, t + 15 * MS, ACK, ca, s0 + 6000, 65535, 0); /* dup ACK for the hole */
    tcp(&s, 1, t + 200 * MS, ACK | PSH, s0 + 6000, ca, 65535, 1000);
    tcp(&s, 1, t + 300 * MS, ACK | PSH, s0 + 8000, ca, 65535, 1000);
    tcp(&s, 0, t + 305 * MS, ACK, ca, s0 + 10000, 65535, 0);
    uint32_t snext = s0 + 10000;

    /* Keep-alives from both sides: seq = next − 1, length 0 and 1. Not retransmissions. */
    tcp(&s, 1, t + 400 * MS, ACK, snext - 1, ca, 65535, 0);
    tcp(&s, 1, t + 401 * MS, ACK, snext - 1, ca, 65535, 1);
    tcp(&s, 0, t + 402 * MS, ACK, ca - 1, snext, 65535, 1);

    /* Client advertises a zero window for 500 ms; the server sends window probes (1 byte at
     * snext, twice), then the window opens and data resumes at snext. */
    tcp(&s, 0, t + 500 * MS, ACK, ca, snext, 0, 0);
    tcp(&s, 1, t + 700 * MS, ACK, snext, ca, 65535, 1);
    tcp(&s, 0, t + 701 * MS, ACK, ca, snext, 0, 0);
    tcp(&s, 1, t + 900 * MS, ACK, snext, ca, 65535, 1);
    tcp(&s, 0, t + 1000 * MS, ACK, ca, snext, 8192, 0);
    tcp(&s, 1, t + 1001 * MS, ACK | PSH, snext, ca, 65535, 1000);
    tcp(&s, 0, t + 1011 * MS, ACK, ca, snext + 1000, 8192, 0);
    /* Client retransmits its request tail once (retransmission in direction 0). */
    tcp(&s, 0, t + 1100 * MS, ACK | PSH, ca - 100, snext + 1000, 8192, 100);
    tcp_res(&s, t + 1200 * MS, &r);

    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_ESTABLISHED);
    CU_ASSERT_EQUAL(r.snd_us, 10000);
    CU_ASSERT_EQUAL(r.cnd_us, 10000);
    CU_ASSERT_EQUAL(r.ooo_pkts[1], 1);
    CU_ASSERT_EQUAL(r.retx_pkts[1], 2);
    CU_ASSERT_EQUAL(r.retx_bytes[1], 2000);
    CU_ASSERT_EQUAL(r.ooo_pkts[0], 0);
    CU_ASSERT_EQUAL(r.retx_pkts[0], 1);
    CU_ASSERT_EQUAL(r.retx_bytes[0], 100);
    CU_ASSERT_EQUAL(r.zw_events[0], 1);
    CU_ASSERT_EQUAL(r.zw_us[0], 500000);
    CU_ASSERT_EQUAL(r.zw_events[1], 0);
    CU_ASSERT_EQUAL(r.zw_us[1], 0);
}

/* Out-of-order vs retransmission: a hole filled within one RTT at the probe is reordering,
 * later it is a retransmission. RTT = 3 ms without any measurement (midstream), else the
 * handshake RTT SND + CND. Also Karn's rule for data RTT samples. */
static void test_tcp_ooo_window(void)
{
    struct fp_qoe_tcp s;
    struct fp_qoe_result r;
    const uint32_t b = 5000;

    memset(&s, 0, sizeof(s)); /* midstream: 3 ms window */
    tcp(&s, 1, T0, ACK, b, 1, 65535, 100);
    tcp(&s, 1, T0 + 1 * MS, ACK, b + 200, 1, 65535, 100);         /* hole [100, 200) */
    tcp(&s, 1, T0 + 2 * MS + 900 * US, ACK, b + 100, 1, 65535, 100); /* 1.9 ms: reordered */
    tcp(&s, 1, T0 + 3 * MS, ACK, b + 400, 1, 65535, 100);         /* hole [300, 400) */
    tcp(&s, 1, T0 + 6 * MS + 100 * US, ACK, b + 300, 1, 65535, 100); /* 3.1 ms: retx */
    tcp_res(&s, T0 + 7 * MS, &r);
    CU_ASSERT_EQUAL(r.ooo_pkts[1], 1);
    CU_ASSERT_EQUAL(r.retx_pkts[1], 1);
    CU_ASSERT_EQUAL(r.retx_bytes[1], 100);

    /* A two-segment hole: both fills are reordering, a copy of the first fill is not. */
    memset(&s, 0, sizeof(s));
    tcp(&s, 1, T0, ACK, b, 1, 65535, 100);
    tcp(&s, 1, T0 + 100 * US, ACK, b + 300, 1, 65535, 100);
    tcp(&s, 1, T0 + 500 * US, ACK, b + 100, 1, 65535, 100);
    tcp(&s, 1, T0 + 600 * US, ACK, b + 100, 1, 65535, 100);
    tcp(&s, 1, T0 + 700 * US, ACK, b + 200, 1, 65535, 100);
    tcp_res(&s, T0 + 1 * MS, &r);
    CU_ASSERT_EQUAL(r.ooo_pkts[1], 2);
    CU_ASSERT_EQUAL(r.retx_pkts[1], 1);

    memset(&s, 0, sizeof(s)); /* handshake RTT 12 + 8 = 20 ms, no data RTT sample */
    tcp(&s, 0, T0, SYN, 1, 0, 65535, 0);
    tcp(&s, 1, T0 + 12 * MS, SYN | ACK, b - 1, 2, 65535, 0);
    tcp(&s, 0, T0 + 20 * MS, ACK, 2, b, 65535, 0);
    uint64_t t = T0 + 30 * MS;
    tcp(&s, 1, t, ACK, b, 2, 65535, 100);
    tcp(&s, 1, t + 1 * MS, ACK, b + 200, 2, 65535, 100);
    tcp(&s, 1, t + 16 * MS, ACK, b + 100, 2, 65535, 100); /* 15 ms < 20: reordered */
    tcp(&s, 1, t + 17 * MS, ACK, b + 400, 2, 65535, 100);
    tcp(&s, 1, t + 42 * MS, ACK, b + 300, 2, 65535, 100); /* 25 ms > 20: retransmission */
    tcp_res(&s, t + 50 * MS, &r);
    CU_ASSERT_EQUAL(r.ooo_pkts[1], 1);
    CU_ASSERT_EQUAL(r.retx_pkts[1], 1);
    CU_ASSERT_FALSE(r.have & (FP_QOE_HAVE_RTT0 | FP_QOE_HAVE_RTT1));

    /* Karn: the timed request is retransmitted; the ACK after it gives no sample. */
    memset(&s, 0, sizeof(s));
    tcp(&s, 0, T0, ACK | PSH, 100, 900, 65535, 50);
    tcp(&s, 0, T0 + 200 * MS, ACK | PSH, 100, 900, 65535, 50);
    tcp(&s, 1, T0 + 205 * MS, ACK, 900, 150, 65535, 0);
    tcp(&s, 0, T0 + 300 * MS, ACK | PSH, 150, 900, 65535, 50);
    tcp(&s, 1, T0 + 330 * MS, ACK, 900, 200, 65535, 0);
    tcp_res(&s, T0 + 330 * MS, &r);
    CU_ASSERT_EQUAL(r.retx_pkts[0], 1);
    CU_ASSERT_EQUAL(r.rtt_samples[0], 1);
    CU_ASSERT_EQUAL(r.rtt_min_us[0], 30000);
    CU_ASSERT_EQUAL(r.rtt_max_us[0], 30000);
}

/* A zero window still open at flow end counts until the end time. */
static void test_tcp_zw_open(void)
{
    struct fp_qoe_tcp s;
    struct fp_qoe_result r;
    memset(&s, 0, sizeof(s));
    tcp(&s, 0, T0, ACK, 100, 200, 1000, 0); /* midstream */
    tcp(&s, 1, T0 + 1 * MS, ACK, 200, 100, 0, 0);
    tcp(&s, 1, T0 + 2 * MS, ACK, 200, 100, 0, 0);
    tcp_res(&s, T0 + 251 * MS, &r);
    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_NO_SYN);
    CU_ASSERT_FALSE(r.have & (FP_QOE_HAVE_SND | FP_QOE_HAVE_CND));
    CU_ASSERT_EQUAL(r.zw_events[1], 1);
    CU_ASSERT_EQUAL(r.zw_us[1], 250000);
}

static void test_tcp_outcomes(void)
{
    struct fp_qoe_tcp s;
    struct fp_qoe_result r;

    /* Refused: SYN answered by RST/ACK. */
    memset(&s, 0, sizeof(s));
    tcp(&s, 0, T0, SYN, 1, 0, 65535, 0);
    tcp(&s, 1, T0 + 2 * MS, RST | ACK, 0, 2, 0, 0);
    tcp_res(&s, T0 + 2 * MS, &r);
    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_REFUSED);
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_SND);
    CU_ASSERT_EQUAL(r.zw_events[1], 0); /* window 0 in a RST is not a zero window */

    /* Unanswered: SYN and two retransmissions (counted as retransmitted packets). */
    memset(&s, 0, sizeof(s));
    tcp(&s, 0, T0, SYN, 1, 0, 65535, 0);
    tcp(&s, 0, T0 + 1000 * MS, SYN, 1, 0, 65535, 0);
    tcp(&s, 0, T0 + 3000 * MS, SYN, 1, 0, 65535, 0);
    tcp_res(&s, T0 + 3000 * MS, &r);
    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_UNANSWERED);
    CU_ASSERT_EQUAL(r.retx_pkts[0], 2);
    CU_ASSERT_EQUAL(r.retx_bytes[0], 0);
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_SND);

    /* Karn: retransmitted SYN → no SND; CND still measured. */
    memset(&s, 0, sizeof(s));
    tcp(&s, 0, T0, SYN, 1, 0, 65535, 0);
    tcp(&s, 0, T0 + 1000 * MS, SYN, 1, 0, 65535, 0);
    tcp(&s, 1, T0 + 1020 * MS, SYN | ACK, 9, 2, 65535, 0);
    tcp(&s, 0, T0 + 1023 * MS, ACK, 2, 10, 65535, 0);
    tcp_res(&s, T0 + 1023 * MS, &r);
    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_ESTABLISHED);
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_SND);
    CU_ASSERT(r.have & FP_QOE_HAVE_CND);
    CU_ASSERT_EQUAL(r.cnd_us, 3000);

    /* Karn: retransmitted SYN/ACK → no CND; SND from the first SYN/ACK. */
    memset(&s, 0, sizeof(s));
    tcp(&s, 0, T0, SYN, 1, 0, 65535, 0);
    tcp(&s, 1, T0 + 20 * MS, SYN | ACK, 9, 2, 65535, 0);
    tcp(&s, 1, T0 + 1020 * MS, SYN | ACK, 9, 2, 65535, 0);
    tcp(&s, 0, T0 + 1023 * MS, ACK, 2, 10, 65535, 0);
    tcp_res(&s, T0 + 1023 * MS, &r);
    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_ESTABLISHED);
    CU_ASSERT(r.have & FP_QOE_HAVE_SND);
    CU_ASSERT_EQUAL(r.snd_us, 20000);
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_CND);
    CU_ASSERT_EQUAL(r.retx_pkts[1], 1);

    /* Incomplete: SYN, SYN/ACK, nothing else. */
    memset(&s, 0, sizeof(s));
    tcp(&s, 0, T0, SYN, 1, 0, 65535, 0);
    tcp(&s, 1, T0 + 20 * MS, SYN | ACK, 9, 2, 65535, 0);
    tcp_res(&s, T0 + 20 * MS, &r);
    CU_ASSERT_EQUAL(r.tcp_outcome, FP_QOE_TCP_INCOMPLETE);
}

/* TLS 1.3: ClientHello → server flight → client CCS + encrypted Finished (0x17). */
static void test_tls(void)
{
    struct fp_qoe_tcp s;
    struct fp_qoe_result r;
    memset(&s, 0, sizeof(s));
    uint8_t ch[300] = {0x16, 0x03, 0x01, 0x01, 0x27, 0x01, 0x00, 0x01, 0x23};
    uint8_t sh[100] = {0x16, 0x03, 0x03, 0x00, 0x5f, 0x02};
    uint8_t fin[80] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x35};
    uint8_t app[60] = {0x17, 0x03, 0x03, 0x00, 0x37};

    tcp(&s, 0, T0, SYN, 10, 0, 65535, 0);
    tcp(&s, 1, T0 + 15 * MS, SYN | ACK, 90, 11, 65535, 0);
    tcp(&s, 0, T0 + 30 * MS, ACK, 11, 91, 65535, 0);
    tcp_data(&s, 0, T0 + 31 * MS, 11, 91, ch, sizeof(ch));
    tcp_data(&s, 1, T0 + 71 * MS, 91, 311, sh, sizeof(sh));
    tcp_data(&s, 0, T0 + 116 * MS, 311, 191, fin, sizeof(fin));
    tcp_data(&s, 0, T0 + 117 * MS, 391, 191, app, sizeof(app));
    tcp_res(&s, T0 + 117 * MS, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_TLS);
    CU_ASSERT_EQUAL(r.tls_us, 85000);
    CU_ASSERT_EQUAL(r.art_us, 40000);

    /* TLS 1.2: the client's CCS + Finished (0x16) carry no 0x17; the first 0x17 comes next. */
    memset(&s, 0, sizeof(s));
    uint8_t fin12[80] = {0x16, 0x03, 0x03, 0x00, 0x25, 0x10, 0, 0, 0x21};
    fin12[42] = 0x14; /* record 2 at offset 5 + 0x25 = 42 */
    fin12[43] = 0x03;
    fin12[44] = 0x03;
    fin12[46] = 0x01;
    fin12[48] = 0x16; /* record 3 at 42 + 6 = 48 */
    fin12[49] = 0x03;
    fin12[50] = 0x03;
    fin12[52] = 0x1c;
    tcp_data(&s, 0, T0, 11, 91, ch, sizeof(ch));
    tcp_data(&s, 1, T0 + 40 * MS, 91, 311, sh, sizeof(sh));
    tcp_data(&s, 0, T0 + 80 * MS, 311, 191, fin12, sizeof(fin12));
    CU_ASSERT_FALSE(s.flags & FP_QOE_TCP_HAVE_TLS);
    tcp_data(&s, 0, T0 + 125 * MS, 391, 191, app, sizeof(app));
    tcp_res(&s, T0 + 125 * MS, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_TLS);
    CU_ASSERT_EQUAL(r.tls_us, 125000);

    /* Not TLS: plain HTTP request → no TLS time. */
    memset(&s, 0, sizeof(s));
    const uint8_t get[] = "GET / HTTP/1.1\r\n\r\n";
    tcp_data(&s, 0, T0, 11, 91, get, sizeof(get) - 1);
    tcp_data(&s, 1, T0 + 40 * MS, 91, 29, app, sizeof(app));
    tcp_data(&s, 0, T0 + 80 * MS, 29, 151, app, sizeof(app));
    tcp_res(&s, T0 + 80 * MS, &r);
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_TLS);
    CU_ASSERT_EQUAL(r.art_us, 40000);
}

static void dns_pkt(struct fp_qoe_dns *s, unsigned dir, uint64_t t, uint16_t id, int qr,
                    uint8_t rcode)
{
    uint8_t h[40] = {(uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(qr ? 0x81 : 0x01),
                     (uint8_t)(qr ? 0x80 | rcode : 0), 0, 1};
    struct pkt p;
    if (dir == 0)
        mk_udp(&p, 5353, 53, sizeof(h), h, sizeof(h));
    else
        mk_udp(&p, 53, 5353, sizeof(h), h, sizeof(h));
    fp_qoe_dns_update(s, dir, &p.m, p.frame, t);
}

static void test_dns(void)
{
    struct fp_qoe_dns s;
    struct fp_qoe_result r;

    memset(&s, 0, sizeof(s));
    dns_pkt(&s, 0, T0, 0x1234, 0, 0);
    dns_pkt(&s, 1, T0 + 23 * MS + 456 * US, 0x1234, 1, 0);
    memset(&r, 0, sizeof(r));
    fp_qoe_dns_result(&s, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_DNS);
    CU_ASSERT_EQUAL(r.dns_us, 23456);
    CU_ASSERT_EQUAL(r.dns_rcode, 0);
    CU_ASSERT_EQUAL(r.dns_answered, 1);
    CU_ASSERT_EQUAL(r.dns_retries, 0);

    /* Retry after 1 s, response with another ID ignored, then NXDOMAIN. */
    memset(&s, 0, sizeof(s));
    dns_pkt(&s, 0, T0, 0xbeef, 0, 0);
    dns_pkt(&s, 0, T0 + 1000 * MS, 0xbeef, 0, 0);
    dns_pkt(&s, 1, T0 + 1100 * MS, 0xbeee, 1, 2);
    dns_pkt(&s, 1, T0 + 1200 * MS, 0xbeef, 1, 3);
    memset(&r, 0, sizeof(r));
    fp_qoe_dns_result(&s, &r);
    CU_ASSERT_EQUAL(r.dns_us, 1200000);
    CU_ASSERT_EQUAL(r.dns_rcode, 3);
    CU_ASSERT_EQUAL(r.dns_retries, 1);

    /* Unanswered. */
    memset(&s, 0, sizeof(s));
    dns_pkt(&s, 0, T0, 7, 0, 0);
    memset(&r, 0, sizeof(r));
    fp_qoe_dns_result(&s, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_DNS);
    CU_ASSERT_EQUAL(r.dns_answered, 0);
}

/* ------------------------------------ RTP ----------------------------------------- */

struct rtp_send {
    uint16_t seq;
    uint32_t ts;
    uint64_t t;
};

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return (*x >> 8) & 0xffffff;
}

/* Independent reference: RFC 3550 A.8 in floating point over all packets, arrival order. */
static double ref_jitter(const struct rtp_send *a, unsigned n, double clock)
{
    double j = 0, prev = 0;
    for (unsigned i = 0; i < n; i++) {
        double arrival = (double)(a[i].t - T0) * 1e-9 * clock;
        double transit = arrival - (double)a[i].ts;
        if (i > 0) {
            double d = fabs(transit - prev);
            j += (d - j) / 16.0;
        }
        prev = transit;
    }
    return j;
}

static void rtp_feed(struct fp_qoe_rtp *s, unsigned dir, const struct rtp_send *a, unsigned n,
                     uint8_t pt, uint32_t ssrc, bool chan)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t b[176] = {0};
        uint8_t *h = chan ? b + 4 : b;
        uint32_t len = 172;
        if (chan) {
            b[0] = 0x40;
            b[1] = 0x01;
            b[2] = (uint8_t)(len >> 8);
            b[3] = (uint8_t)len;
        }
        h[0] = 0x80;
        h[1] = pt;
        h[2] = (uint8_t)(a[i].seq >> 8);
        h[3] = (uint8_t)a[i].seq;
        h[4] = (uint8_t)(a[i].ts >> 24);
        h[5] = (uint8_t)(a[i].ts >> 16);
        h[6] = (uint8_t)(a[i].ts >> 8);
        h[7] = (uint8_t)a[i].ts;
        h[8] = (uint8_t)(ssrc >> 24);
        h[9] = (uint8_t)(ssrc >> 16);
        h[10] = (uint8_t)(ssrc >> 8);
        h[11] = (uint8_t)ssrc;
        struct pkt p;
        mk_udp(&p, 50000, 50002, chan ? len + 4 : len, b, chan ? len + 4 : len);
        fp_qoe_rtp_update(s, dir, &p.m, p.frame, a[i].t);
    }
}

/* Build a stream: n packets, ptime 20 ms, random network delay in [0, max_delay_ms), the
 * packets in `drop` missing, adjacent pairs starting at `swap` exchanged in arrival order. */
static unsigned rtp_build(struct rtp_send *a, unsigned n, uint16_t seq0, uint32_t ts_step,
                          unsigned max_delay_ms, const unsigned *drop, unsigned ndrop,
                          const unsigned *swap, unsigned nswap, uint32_t seed)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        bool skip = false;
        for (unsigned d = 0; d < ndrop; d++)
            skip |= drop[d] == i;
        uint32_t delay_us = max_delay_ms ? lcg(&seed) % (max_delay_ms * 1000) : 0;
        if (skip)
            continue;
        a[k].seq = (uint16_t)(seq0 + i);
        a[k].ts = 0x12340000u + i * ts_step;
        a[k].t = T0 + i * 20 * MS + delay_us * US;
        k++;
    }
    for (unsigned w = 0; w < nswap; w++) {
        for (unsigned i = 0; i + 1 < k; i++) {
            if (a[i].seq == (uint16_t)(seq0 + swap[w])) {
                struct rtp_send x = a[i];
                a[i] = a[i + 1];
                a[i + 1] = x;
                /* arrival times stay in order: the later-sent packet arrives first */
                uint64_t tt = a[i].t;
                a[i].t = a[i + 1].t;
                a[i + 1].t = tt;
                break;
            }
        }
    }
    return k;
}

static void test_rtp_jitter_loss_reorder(void)
{
    static struct rtp_send a[1000], b[1000];
    const unsigned drop[] = {10, 11, 57, 300, 301, 302, 777};
    const unsigned swap[] = {20, 100, 400, 401 + 3, 900};
    struct fp_qoe_rtp s;
    struct fp_qoe_params p;
    struct fp_qoe_result r;

    fp_qoe_params_default(&p);
    memset(&s, 0, sizeof(s));
    /* Direction 0: PCMU (8000 Hz, 160 ticks per 20 ms), sequence wraps through 65535. */
    unsigned na = rtp_build(a, 1000, 65000, 160, 30, drop, 7, swap, 5, 42);
    rtp_feed(&s, 0, a, na, 0, 0xcafe0001u, false);
    /* Direction 1: dynamic PT 111 (48000 Hz), behind TURN ChannelData, no loss. */
    unsigned nb = rtp_build(b, 1000, 7, 960, 8, NULL, 0, NULL, 0, 7);
    rtp_feed(&s, 1, b, nb, 111, 0xbeef0002u, true);

    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, &p, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_RTP0);
    CU_ASSERT(r.have & FP_QOE_HAVE_RTP1);
    CU_ASSERT_EQUAL(r.rtp_ssrc[0], 0xcafe0001u);
    CU_ASSERT_EQUAL(r.rtp_pt[1], 111);
    /* First packet is in probation (RFC 3550 A.1): base = the second one. */
    CU_ASSERT_EQUAL(r.rtp_expected[0], 999);
    CU_ASSERT_EQUAL(r.rtp_lost[0], 7);
    CU_ASSERT_EQUAL(r.rtp_received[0], 999 - 7);
    CU_ASSERT_EQUAL(r.rtp_reordered[0], 5);
    CU_ASSERT_EQUAL(r.rtp_dups[0], 0);
    CU_ASSERT_EQUAL(r.rtp_lost[1], 0);
    CU_ASSERT_EQUAL(r.rtp_expected[1], 999);
    CU_ASSERT_EQUAL(r.rtp_reordered[1], 0);

    double j0 = ref_jitter(a, na, 8000) * 1e6 / 8000;  /* µs */
    double j1 = ref_jitter(b, nb, 48000) * 1e6 / 48000;
    CU_ASSERT(j0 > 3000); /* the stream really has jitter */
    CU_ASSERT(fabs(r.rtp_jitter_us[0] - j0) <= 0.01 * j0);
    CU_ASSERT(fabs(r.rtp_jitter_us[1] - j1) <= 0.01 * j1);
    double jts = ref_jitter(a, na, 8000);
    CU_ASSERT(fabs(r.rtp_jitter_ts[0] - jts) <= 0.01 * jts + 1);
    CU_ASSERT(r.rtp_jitter_max_us[0] >= r.rtp_jitter_us[0]);

    /* MOS from the E-model with the measured values (cross-check of the plumbing). */
    uint32_t ppm = (uint32_t)(7ull * 1000000 / 999);
    CU_ASSERT_EQUAL(r.rtp_mos_x100[0], fp_qoe_emodel_mos(0, r.rtp_jitter_us[0], ppm, NULL));
    CU_ASSERT(r.rtp_mos_x100[1] > r.rtp_mos_x100[0]);
}

static void test_rtp_dups_and_detect(void)
{
    static struct rtp_send a[210];
    struct fp_qoe_rtp s;
    struct fp_qoe_result r;
    struct fp_qoe_params p;
    fp_qoe_params_default(&p);

    /* Constant delay: jitter 0. Three packets duplicated (one at max_seq, two late). */
    memset(&s, 0, sizeof(s));
    unsigned n = rtp_build(a, 200, 1000, 160, 0, NULL, 0, NULL, 0, 1);
    a[n] = a[50];
    a[n].t = a[50].t + 1 * MS;
    struct rtp_send tmp[3] = {a[50], a[100], a[101]};
    rtp_feed(&s, 0, a, 51, 8, 1, false);
    rtp_feed(&s, 0, &tmp[0], 1, 8, 1, false);     /* duplicate of max_seq */
    rtp_feed(&s, 0, a + 51, 52, 8, 1, false);     /* up to seq 1102 */
    rtp_feed(&s, 0, &tmp[1], 2, 8, 1, false);     /* late duplicates of 1100, 1101 */
    rtp_feed(&s, 0, a + 103, 97, 8, 1, false);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, &p, &r);
    CU_ASSERT_EQUAL(r.rtp_dups[0], 3);
    CU_ASSERT_EQUAL(r.rtp_lost[0], 0);
    CU_ASSERT_EQUAL(r.rtp_expected[0], 199);
    CU_ASSERT_EQUAL(r.rtp_jitter_us[0], 0);
    CU_ASSERT_EQUAL(r.rtp_mos_x100[0], 440); /* E-model at 0 latency, 0 jitter, 0 loss */

    /* Alternating SSRCs never leave probation; random bytes and RTCP are not RTP. */
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < 20; i++)
        rtp_feed(&s, 0, a + i, 1, 0, i & 1 ? 5 : 6, false);
    struct pkt pk;
    uint8_t junk[64];
    uint32_t x = 3;
    for (unsigned i = 0; i < 50; i++) {
        for (unsigned k = 0; k < sizeof(junk); k++)
            junk[k] = (uint8_t)lcg(&x);
        junk[0] = 0xc3; /* QUIC long header: version bits 11 */
        mk_udp(&pk, 1, 2, sizeof(junk), junk, sizeof(junk));
        fp_qoe_rtp_update(&s, 1, &pk.m, pk.frame, T0 + i * MS);
    }
    for (unsigned i = 0; i < 10; i++) {
        uint8_t rtcp[28] = {0x80, 200, 0, 6, 0, 0, 0, 9, 0, 0, (uint8_t)i, 0};
        mk_udp(&pk, 1, 2, sizeof(rtcp), rtcp, sizeof(rtcp));
        fp_qoe_rtp_update(&s, 1, &pk.m, pk.frame, T0 + i * MS);
    }
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, &p, &r);
    CU_ASSERT_FALSE(r.have & (FP_QOE_HAVE_RTP0 | FP_QOE_HAVE_RTP1));

    /* A well-formed sequence with an unassigned payload type (50) is not RTP. */
    memset(&s, 0, sizeof(s));
    rtp_feed(&s, 0, a, 50, 50, 9, false);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, &p, &r);
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_RTP0);

    /* A late (reordered) packet that then arrives again: 1 reordered, 1 duplicate. */
    memset(&s, 0, sizeof(s));
    n = rtp_build(a, 100, 3, 160, 0, NULL, 0, NULL, 0, 1);
    rtp_feed(&s, 0, a, 40, 0, 4, false);
    rtp_feed(&s, 0, a + 41, 5, 0, 4, false);
    rtp_feed(&s, 0, a + 40, 1, 0, 4, false); /* late */
    rtp_feed(&s, 0, a + 40, 1, 0, 4, false); /* late duplicate */
    rtp_feed(&s, 0, a + 46, 54, 0, 4, false);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, &p, &r);
    CU_ASSERT_EQUAL(r.rtp_reordered[0], 1);
    CU_ASSERT_EQUAL(r.rtp_dups[0], 1);
    CU_ASSERT_EQUAL(r.rtp_lost[0], 0);
}

/* E-model values computed by hand from standards.md §8. */
static void test_emodel(void)
{
    int32_t rx;
    /* EL = 10 → R = 93.2 − 0.25 = 92.95; MOS = 1 + 0.035·R + 7e-6·92.95·32.95·7.05 = 4.4044 */
    CU_ASSERT_EQUAL(fp_qoe_emodel_mos(0, 0, 0, &rx), 440);
    CU_ASSERT_EQUAL(rx, 9295);
    /* EL = 100 + 40 + 10 = 150 → R = 89.45 − 2.5·2 = 84.45; MOS = 4.1805 */
    CU_ASSERT_EQUAL(fp_qoe_emodel_mos(100000, 20000, 20000, &rx), 418);
    CU_ASSERT_EQUAL(rx, 8445);
    /* EL = 200 + 20 + 10 = 230 ≥ 160 → R = 93.2 − 11 = 82.2; MOS = 4.1044 */
    CU_ASSERT_EQUAL(fp_qoe_emodel_mos(200000, 10000, 0, &rx), 410);
    CU_ASSERT_EQUAL(rx, 8220);
    /* 40% loss → R = 92.95 − 100 = −7.05 → MOS 1.0 */
    CU_ASSERT_EQUAL(fp_qoe_emodel_mos(0, 0, 400000, &rx), 100);
    CU_ASSERT_EQUAL(rx, -705);
    CU_ASSERT_EQUAL(fp_qoe_r_to_mos_x100(100.0), 450);
    CU_ASSERT_EQUAL(fp_qoe_r_to_mos_x100(120.0), 450);
    CU_ASSERT_EQUAL(fp_qoe_r_to_mos_x100(0.0), 100);
    /* R = 50: 1 + 1.75 + 7e-6·50·(−10)·50 = 2.575 */
    CU_ASSERT_EQUAL(fp_qoe_r_to_mos_x100(50.0), 258);
}

/* ------------------------------------ Video --------------------------------------- */

static void video_pkt(struct fp_qoe_video *v, const struct fp_qoe_params *p, unsigned dir,
                      uint64_t t, uint32_t len)
{
    struct pkt pk;
    mk_tcp(&pk, ACK, 1, 1, 65535, len, NULL, 0);
    fp_qoe_video_update(v, p, dir, &pk.m, t);
}

static void test_video(void)
{
    struct fp_qoe_video v;
    struct fp_qoe_params p;
    struct fp_qoe_result r;
    fp_qoe_params_default(&p);
    memset(&v, 0, sizeof(v));

    /* Burst A: bin 0 = 10 × 5000 B (100 ms apart), bin 1 = 20 × 5000 B (50 ms apart). */
    for (unsigned i = 0; i < 10; i++)
        video_pkt(&v, &p, 1, T0 + i * 100 * MS, 5000);
    for (unsigned j = 0; j < 20; j++)
        video_pkt(&v, &p, 1, T0 + 1000 * MS + j * 50 * MS, 5000);
    /* Client requests do not count. */
    video_pkt(&v, &p, 0, T0 + 2500 * MS, 400);
    /* Burst B after 3.05 s of silence: bin 5 = 5 × 20000 B. */
    for (unsigned i = 0; i < 5; i++)
        video_pkt(&v, &p, 1, T0 + 5000 * MS + i * 100 * MS, 20000);
    /* Burst C after 1 s: 100 B every 150 ms from 6.4 s to 8.35 s (bins 6, 7, 8). Bin 7 lies
     * wholly inside the burst at 5.6 kbit/s: one stall bin. Bins 6 and 8 do not. */
    for (unsigned i = 0; i < 14; i++)
        video_pkt(&v, &p, 1, T0 + 6400 * MS + i * 150 * MS, 100);

    memset(&r, 0, sizeof(r));
    fp_qoe_video_result(&v, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_VIDEO);
    /* total 251400 B over 9 bins */
    CU_ASSERT_EQUAL(r.video_mean_bps, 251400ull * 8 / 9);
    CU_ASSERT_EQUAL(r.video_peak_bps, 800000);
    CU_ASSERT_EQUAL(r.video_bursts, 3);
    CU_ASSERT_EQUAL(r.video_burst_max, 150000);
    CU_ASSERT_EQUAL(r.video_burst_mean, 251400 / 3);
    CU_ASSERT_EQUAL(r.video_stall_bins, 1);
    /* first byte at 0 s, last at 8.35 s */
    CU_ASSERT_EQUAL(r.video_bitrate_bps, 251400ull * 8 * 1000 / 8350);

    /* A slow burst that ends inside its bin (silence > burst gap across the boundary) is not
     * a stall: the player stopped fetching. */
    memset(&v, 0, sizeof(v));
    for (unsigned i = 0; i < 10; i++)
        video_pkt(&v, &p, 1, T0 + i * 100 * MS, 100);
    video_pkt(&v, &p, 1, T0 + 1300 * MS, 100);
    memset(&r, 0, sizeof(r));
    fp_qoe_video_result(&v, &r);
    CU_ASSERT_EQUAL(r.video_stall_bins, 0);
    CU_ASSERT_EQUAL(r.video_bursts, 2);
    /* Bin 1 began in silence (not a stall); bin 2 lies wholly inside the burst: a stall. */
    video_pkt(&v, &p, 1, T0 + 1400 * MS, 100);
    for (unsigned i = 0; i < 17; i++)
        video_pkt(&v, &p, 1, T0 + 1500 * MS + i * 100 * MS, 100);
    memset(&r, 0, sizeof(r));
    fp_qoe_video_result(&v, &r);
    CU_ASSERT_EQUAL(r.video_stall_bins, 1);
}

/* ------------------------------------ Gaming -------------------------------------- */

static void test_game(void)
{
    struct fp_qoe_game g;
    struct fp_qoe_params p;
    struct fp_qoe_result r;
    struct pkt pk;
    fp_qoe_params_default(&p);

    /* Request/response latencies 20, 30, 200, 40 ms; one over the 150 ms spike threshold. */
    memset(&g, 0, sizeof(g));
    const unsigned lat[] = {20, 30, 200, 40};
    for (unsigned i = 0; i < 4; i++) {
        uint64_t t = T0 + i * 1000 * MS;
        mk_udp(&pk, 1, 2, 60, NULL, 0);
        fp_qoe_game_update(&g, &p, 0, &pk.m, t);
        fp_qoe_game_update(&g, &p, 0, &pk.m, t + 5 * MS); /* second request: same sample */
        mk_udp(&pk, 2, 1, 80, NULL, 0);
        fp_qoe_game_update(&g, &p, 1, &pk.m, t + lat[i] * MS);
    }
    memset(&r, 0, sizeof(r));
    fp_qoe_game_result(&g, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_GAME_LAT);
    CU_ASSERT_EQUAL(r.game_lat_min_us, 20000);
    CU_ASSERT_EQUAL(r.game_lat_max_us, 200000);
    CU_ASSERT_EQUAL(r.game_lat_mean_us, 72500);
    CU_ASSERT_EQUAL(r.game_spikes, 1);
    CU_ASSERT_EQUAL(r.game_gaps, 4 - 1); /* 1 s between responses > 250 ms */

    /* Server ticks every 50 ms, alternately 10 ms late: IAT 60, 40, 60, ... → |ΔIAT| = 20 ms. */
    memset(&g, 0, sizeof(g));
    mk_udp(&pk, 2, 1, 100, NULL, 0);
    for (unsigned k = 0; k < 300; k++)
        fp_qoe_game_update(&g, &p, 1, &pk.m, T0 + k * 50 * MS + (k & 1) * 10 * MS);
    memset(&r, 0, sizeof(r));
    fp_qoe_game_result(&g, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_GAME);
    CU_ASSERT(abs((int)r.game_jitter_us - 20000) <= 200);
    CU_ASSERT_EQUAL(r.game_gaps, 0);
    CU_ASSERT_FALSE(r.have & FP_QOE_HAVE_GAME_LAT);
}

/* ------------------------------------ SPLT ---------------------------------------- */

static void test_splt(void)
{
    struct fp_qoe_splt s;
    struct pkt pk;
    const uint32_t lens[] = {0, 517, 1460, 3000, 1, 2047, 2048, 99};
    const uint32_t iats[] = {0, 5, 255, 256, 1000, 123456, 9000000, 20000000};
    uint64_t t = T0;

    CU_ASSERT_EQUAL(fp_qoe_splt_iat_decode(fp_qoe_splt_iat_encode(255)), 255);
    CU_ASSERT_EQUAL(fp_qoe_splt_iat_encode(UINT32_MAX), 0xfff);

    memset(&s, 0, sizeof(s));
    fp_qoe_splt_init(&s, 20);
    for (unsigned i = 0; i < 25; i++) {
        t += iats[i % 8] * US;
        mk_tcp(&pk, ACK, 1, 1, 1, lens[i % 8], NULL, 0);
        fp_qoe_splt_update(&s, i % 3 == 0, &pk.m, t);
    }
    CU_ASSERT_EQUAL(s.n, 20);
    for (unsigned i = 0; i < 20; i++) {
        unsigned dir;
        uint32_t len, iat;
        fp_qoe_splt_get(&s, i, &dir, &len, &iat);
        CU_ASSERT_EQUAL(dir, i % 3 == 0);
        CU_ASSERT_EQUAL(len, FP_MIN(lens[i % 8], FP_QOE_SPLT_LEN_MAX));
        uint32_t want = i == 0 ? 0 : FP_MIN(iats[i % 8], FP_QOE_SPLT_IAT_MAX);
        if (want < 256) {
            CU_ASSERT_EQUAL(iat, want);
        } else {
            CU_ASSERT(iat <= want && (double)(want - iat) < want / 128.0);
        }
    }
    fp_qoe_splt_init(&s, 200);
    CU_ASSERT_EQUAL(s.cap, FP_QOE_SPLT_CAP);
}

/* ------------------------------------ Score --------------------------------------- */

static void test_score(void)
{
    struct fp_qoe_params p;
    int64_t v[FP_QOE_METRIC_MAX];
    fp_qoe_params_default(&p);

    memset(v, 0, sizeof(v));
    CU_ASSERT_EQUAL(fp_qoe_score(FP_QOE_CLASS_WEB, &p, v, 0), -ENODATA);
    CU_ASSERT_EQUAL(fp_qoe_score(FP_QOE_CLASS_MAX, &p, v, 0), -EINVAL);

    for (unsigned c = 0; c < FP_QOE_CLASS_MAX; c++) {
        uint32_t present = 0;
        for (unsigned m = 0; m < FP_QOE_METRIC_MAX; m++) {
            if (p.thr[c][m].weight) {
                present |= 1u << m;
                v[m] = p.thr[c][m].good;
            }
        }
        CU_ASSERT_EQUAL_FATAL(present != 0, 1);
        CU_ASSERT_EQUAL(fp_qoe_score(c, &p, v, present), 100);
        /* Worsen each metric in 20 steps from good to beyond bad: the score never rises,
         * falls strictly at least once, and the all-bad flow scores 0. */
        int prev = 100;
        for (unsigned m = 0; m < FP_QOE_METRIC_MAX; m++) {
            const struct fp_qoe_threshold *t = &p.thr[c][m];
            if (!t->weight)
                continue;
            int before = prev;
            for (int k = 1; k <= 22; k++) {
                v[m] = t->good + (t->bad - t->good) * k / 20;
                int sc = fp_qoe_score(c, &p, v, present);
                CU_ASSERT(sc >= 0 && sc <= prev);
                prev = sc;
            }
            CU_ASSERT(prev < before);
        }
        CU_ASSERT_EQUAL(prev, 0);
    }

    /* Hand-computed: web, RTT halfway (225 ms, w2 → 50), ART good (w3 → 100),
     * retx 27.5‰ (w2 → 50), TLS bad (w1 → 0): (100 + 300 + 100 + 0) / 8 = 62.5 → 63. */
    memset(v, 0, sizeof(v));
    v[FP_QOE_METRIC_RTT_US] = 225000;
    v[FP_QOE_METRIC_ART_US] = 100000;
    v[FP_QOE_METRIC_RETX_PERMILLE] = 27; /* 27 → (50−27)/45 = 51.1 */
    v[FP_QOE_METRIC_TLS_HS_US] = 5000000;
    uint32_t pr = 1u << FP_QOE_METRIC_RTT_US | 1u << FP_QOE_METRIC_ART_US |
                  1u << FP_QOE_METRIC_RETX_PERMILLE | 1u << FP_QOE_METRIC_TLS_HS_US;
    /* (2·50 + 3·100 + 2·51.11 + 0) / 8 = 62.78 → 63 */
    CU_ASSERT_EQUAL(fp_qoe_score(FP_QOE_CLASS_WEB, &p, v, pr), 63);
}

/* ------------------------------- Aggregate flow ----------------------------------- */

static void flow_tcp(struct fp_qoe_flow *q, const struct fp_qoe_params *p, unsigned dir,
                     uint64_t t, uint16_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
    struct pkt pk;
    mk_tcp(&pk, flags, seq, ack, 65535, len, NULL, 0);
    fp_qoe_flow_update(q, p, dir, &pk.m, pk.frame, t);
}

static void test_flow(void)
{
    struct fp_qoe_params p;
    struct fp_qoe_flow q;
    struct fp_qoe_result r;
    fp_qoe_params_default(&p);

    CU_ASSERT(sizeof(struct fp_qoe_flow) <= 256);

    /* TCP video flow: engines dispatch, class engine starts on set_class. */
    memset(&q, 0, sizeof(q));
    flow_tcp(&q, &p, 0, T0, SYN, 1, 0, 0);
    flow_tcp(&q, &p, 1, T0 + 20 * MS, SYN | ACK, 100, 2, 0);
    flow_tcp(&q, &p, 0, T0 + 25 * MS, ACK, 2, 101, 0);
    fp_qoe_flow_set_class(&q, FP_QOE_CLASS_VIDEO);
    flow_tcp(&q, &p, 0, T0 + 26 * MS, ACK | PSH, 2, 101, 300);
    for (unsigned i = 0; i < 50; i++)
        flow_tcp(&q, &p, 1, T0 + 60 * MS + i * MS, ACK, 101 + i * 1400, 302, 1400);
    const uint64_t pk[2] = {4, 52};
    fp_qoe_flow_result(&q, &p, pk, T0 + 200 * MS, &r);
    CU_ASSERT(q.engines & FP_QOE_ENG_TCP);
    CU_ASSERT(q.engines & FP_QOE_ENG_VIDEO);
    CU_ASSERT_EQUAL(r.snd_us, 20000);
    CU_ASSERT_EQUAL(r.cnd_us, 5000);
    CU_ASSERT_EQUAL(r.art_us, 34000);
    CU_ASSERT(r.have & FP_QOE_HAVE_VIDEO);
    CU_ASSERT_EQUAL(r.video_bursts, 1);
    CU_ASSERT_EQUAL(r.video_burst_max, 70000);
    CU_ASSERT(r.have & FP_QOE_HAVE_SCORE);
    CU_ASSERT_EQUAL(q.splt.n, 20);
    unsigned dir;
    uint32_t len, iat;
    fp_qoe_splt_get(&q.splt, 1, &dir, &len, &iat);
    CU_ASSERT(dir == 1 && len == 0);
    CU_ASSERT(iat <= 20000 && iat > 20000 - 20000 / 128); /* 12-bit IAT code */

    /* DNS on UDP port 53 through the aggregate, class DNS, scored from response time. */
    memset(&q, 0, sizeof(q));
    fp_qoe_flow_set_class(&q, FP_QOE_CLASS_DNS);
    uint8_t h[32] = {0xab, 0xcd, 0x01, 0x00, 0, 1};
    struct pkt u;
    mk_udp(&u, 3333, 53, sizeof(h), h, sizeof(h));
    fp_qoe_flow_update(&q, &p, 0, &u.m, u.frame, T0);
    h[2] = 0x81;
    h[3] = 0x80;
    mk_udp(&u, 53, 3333, sizeof(h), h, sizeof(h));
    fp_qoe_flow_update(&q, &p, 1, &u.m, u.frame, T0 + 20 * MS);
    fp_qoe_flow_result(&q, &p, NULL, T0 + 20 * MS, &r);
    CU_ASSERT(q.engines & FP_QOE_ENG_DNS);
    CU_ASSERT_EQUAL(r.dns_us, 20000);
    CU_ASSERT(r.have & FP_QOE_HAVE_SCORE);
    CU_ASSERT_EQUAL(r.score, 100);
    /* Slower answer → lower score. */
    struct fp_qoe_flow q2;
    memset(&q2, 0, sizeof(q2));
    fp_qoe_flow_set_class(&q2, FP_QOE_CLASS_DNS);
    h[2] = 0x01;
    h[3] = 0;
    mk_udp(&u, 3333, 53, sizeof(h), h, sizeof(h));
    fp_qoe_flow_update(&q2, &p, 0, &u.m, u.frame, T0);
    h[2] = 0x81;
    h[3] = 0x80;
    mk_udp(&u, 53, 3333, sizeof(h), h, sizeof(h));
    fp_qoe_flow_update(&q2, &p, 1, &u.m, u.frame, T0 + 260 * MS);
    struct fp_qoe_result r2;
    fp_qoe_flow_result(&q2, &p, NULL, T0 + 260 * MS, &r2);
    CU_ASSERT(r2.score < r.score);
    /* (2 · 100·(500−260)/480 + 3 · 100) / 5 = 80 */
    CU_ASSERT_EQUAL(r2.score, 80);

    /* SERVFAIL: DNS_FAIL bad → (2 · 100 + 3 · 0) / 5 = 40. Unanswered: only DNS_FAIL → 0. */
    memset(&q2, 0, sizeof(q2));
    fp_qoe_flow_set_class(&q2, FP_QOE_CLASS_DNS);
    h[2] = 0x01;
    h[3] = 0;
    mk_udp(&u, 3333, 53, sizeof(h), h, sizeof(h));
    fp_qoe_flow_update(&q2, &p, 0, &u.m, u.frame, T0);
    struct fp_qoe_flow q3 = q2;
    h[2] = 0x81;
    h[3] = 0x82;
    mk_udp(&u, 53, 3333, sizeof(h), h, sizeof(h));
    fp_qoe_flow_update(&q2, &p, 1, &u.m, u.frame, T0 + 10 * MS);
    fp_qoe_flow_result(&q2, &p, NULL, T0 + 10 * MS, &r2);
    CU_ASSERT_EQUAL(r2.dns_rcode, 2);
    CU_ASSERT_EQUAL(r2.score, 40);
    fp_qoe_flow_result(&q3, &p, NULL, T0 + 10 * MS, &r2);
    CU_ASSERT(r2.have & FP_QOE_HAVE_SCORE);
    CU_ASSERT_EQUAL(r2.score, 0);
}

void fp_test_register_qoe(void);
void fp_test_register_qoe(void)
{
    static CU_TestInfo tests[] = {
        {"tcp_delays", test_tcp_delays},
        {"tcp_retx_ooo_zw", test_tcp_retx_ooo_zw},
        {"tcp_zw_open", test_tcp_zw_open},
        {"tcp_ooo_window", test_tcp_ooo_window},
        {"tcp_outcomes", test_tcp_outcomes},
        {"tls", test_tls},
        {"dns", test_dns},
        {"rtp_jitter_loss_reorder", test_rtp_jitter_loss_reorder},
        {"rtp_dups_and_detect", test_rtp_dups_and_detect},
        {"emodel", test_emodel},
        {"video", test_video},
        {"game", test_game},
        {"splt", test_splt},
        {"score", test_score},
        {"flow", test_flow},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("qoe", tests);
}
