/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the RTP clock inference (src/qoe/qoe_rtp.c, README §3): synthetic streams
 * with a known clock, 20 ms packets and a deterministic arrival-delay pattern; the expected
 * jitter is computed here in floating point from the known send and arrival times. */
#include <math.h>
#include <string.h>

#include "qoe/qoe.h"
#include "tests/unit/fp_test.h"

#define MS 1000000ull /* ns */
#define US 1000ull
#define T0 (1700000000ull * 1000000000ull)
#define PTIME (20 * MS)
#define NPKT_MAX 200

struct clk_pkt {
    uint16_t seq;
    uint32_t ts;
    uint64_t t; /* arrival, ns */
};

/* One UDP datagram carrying a 12-byte RTP header + 160 bytes, fed to the engine. */
static void clk_feed(struct fp_qoe_rtp *s, unsigned dir, uint8_t pt, uint32_t ssrc,
                     const struct clk_pkt *p)
{
    uint8_t frame[42 + 172] = {0};
    uint8_t *h = frame + 42;
    struct fp_pkt_meta m;

    memset(&m, 0, sizeof(m));
    m.ip_version = 4;
    m.proto = 17;
    m.sport = 50000;
    m.dport = 50002;
    m.l3_off = 14;
    m.l4_off = 34;
    m.payload_off = 42;
    m.payload_len = 172;
    m.ip_bytes = 28 + 172;
    h[0] = 0x80;
    h[1] = pt;
    h[2] = (uint8_t)(p->seq >> 8);
    h[3] = (uint8_t)p->seq;
    h[4] = (uint8_t)(p->ts >> 24);
    h[5] = (uint8_t)(p->ts >> 16);
    h[6] = (uint8_t)(p->ts >> 8);
    h[7] = (uint8_t)p->ts;
    h[8] = (uint8_t)(ssrc >> 24);
    h[9] = (uint8_t)(ssrc >> 16);
    h[10] = (uint8_t)(ssrc >> 8);
    h[11] = (uint8_t)ssrc;
    fp_qoe_rtp_update(s, dir, &m, frame, p->t);
}

/* Extra network delay of packet i, µs: ±big_us during the first `big_n` packets, then a
 * repeating ±small_us pattern (0, +, 0, −, +, −). Every delay ≥ 0 (base 10 ms). */
static uint64_t clk_delay_us(unsigned i, unsigned big_n, int big_us, int small_us)
{
    static const int pat[6] = {0, 1, 0, -1, 1, -1};
    int amp = i < big_n ? big_us : small_us;
    return (uint64_t)(10000 + pat[i % 6] * amp);
}

/* n packets of a stream whose timestamps run at `rate` Hz (20 ms of media per packet). */
static void clk_build(struct clk_pkt *a, unsigned n, uint32_t rate, unsigned big_n, int big_us,
                      int small_us)
{
    for (unsigned i = 0; i < n; i++) {
        a[i].seq = (uint16_t)(60000u + i);
        a[i].ts = 0xfffff000u + i * (rate / 50u); /* wraps through 2^32 */
        a[i].t = T0 + i * PTIME + clk_delay_us(i, big_n, big_us, small_us) * US;
    }
}

/* Index of the packet that fixes the clock by the documented rule: the first packet at
 * least FP_QOE_RTP_CLK_MIN_PKTS packets and FP_QOE_RTP_CLK_MIN_US after the reference, the
 * reference being packet 1 (it ends RFC 3550 A.1 probation). n if the stream is too short. */
static unsigned clk_decision(const struct clk_pkt *a, unsigned n)
{
    for (unsigned k = 1 + FP_QOE_RTP_CLK_MIN_PKTS; k < n; k++)
        if (a[k].t - a[1].t >= FP_QOE_RTP_CLK_MIN_US * US)
            return k;
    return n;
}

/* RFC 3550 A.8 in floating point, µs, with the first sample D(first − 1, first):
 * (final J, max J). */
static void clk_ref_jitter(const struct clk_pkt *a, unsigned n, unsigned first, double clock,
                           double *j_out, double *jmax_out)
{
    double j = 0, jmax = 0;
    for (unsigned i = first; i < n; i++) {
        double da = (double)(a[i].t - a[i - 1].t) / 1e3;
        double ds = (double)(int32_t)(a[i].ts - a[i - 1].ts) * 1e6 / clock;
        j += (fabs(da - ds) - j) / 16.0;
        if (j > jmax)
            jmax = j;
    }
    *j_out = j;
    *jmax_out = jmax;
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 0.01 * want + 2.0; /* 1 % + rounding to whole µs */
}

/* One dynamic-PT stream at `rate`: the inferred clock is `rate` and the jitter is the A.8
 * value from the decision packet on, computed with the true clock. The first 0.5 s carry
 * ±8 ms of extra jitter that must not be in the estimate (a 60-packet stream still
 * remembers it: (15/16)^34 ≈ 0.11 of it), the rest ±1 ms. */
static void clk_check_rate(uint32_t rate, uint8_t pt)
{
    static struct clk_pkt a[NPKT_MAX];
    const unsigned n = 60;
    struct fp_qoe_rtp s;
    struct fp_qoe_params p;
    struct fp_qoe_result r;
    unsigned flags = 99;

    clk_build(a, n, rate, 25, 8000, 1000);
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < n; i++)
        clk_feed(&s, 0, pt, 0x5eed0000u + rate, &a[i]);
    fp_qoe_params_default(&p);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, &p, &r);

    unsigned k = clk_decision(a, n);
    CU_ASSERT(k > 20 && k < 40);
    double j, jmax, j_all, jmax_all;
    clk_ref_jitter(a, n, k, rate, &j, &jmax);
    clk_ref_jitter(a, n, 2, rate, &j_all, &jmax_all); /* had the start been metered */
    CU_ASSERT(j > 500 && j_all > 1.05 * j); /* the test can tell the two apart */

    CU_ASSERT(r.have & FP_QOE_HAVE_RTP0);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 0, &flags), rate);
    CU_ASSERT_EQUAL(flags, FP_QOE_RTP_CLK_INFERRED);
    CU_ASSERT(near(r.rtp_jitter_us[0], j));
    CU_ASSERT(near(r.rtp_jitter_max_us[0], jmax));
    CU_ASSERT(fabs(r.rtp_jitter_ts[0] - j * rate / 1e6) <= 0.01 * j * rate / 1e6 + 1);
    CU_ASSERT_EQUAL(r.rtp_lost[0], 0);
    CU_ASSERT_EQUAL(r.rtp_mos_x100[0], fp_qoe_emodel_mos(0, r.rtp_jitter_us[0], 0, NULL));
}

static void test_rtp_clock_8000(void)
{
    clk_check_rate(8000, 96);
}

static void test_rtp_clock_16000(void)
{
    clk_check_rate(16000, 120); /* WhatsApp-like */
}

static void test_rtp_clock_48000(void)
{
    clk_check_rate(48000, 111); /* Opus */
}

static void test_rtp_clock_90000(void)
{
    clk_check_rate(90000, 102); /* video */
}

/* A PT in the reserved static range (19) has no static clock either: inferred. */
static void test_rtp_clock_reserved_pt(void)
{
    clk_check_rate(16000, 19);
}

/* Δts/Δt = 64 kHz fits no standard clock (48000 + 20 % = 57600 < 64000 < 72000 = 90000 −
 * 20 %): 48000 is used, marked as a fallback, and the jitter starts at the decision packet
 * like any inferred clock (here it is the artefact of the wrong clock: 20 − 26.67 ms). */
static void test_rtp_clock_fallback(void)
{
    static struct clk_pkt a[NPKT_MAX];
    const unsigned n = 60;
    struct fp_qoe_rtp s;
    struct fp_qoe_result r;
    unsigned flags = 0;

    clk_build(a, n, 64000, 0, 0, 0);
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < n; i++)
        clk_feed(&s, 1, 97, 77, &a[i]);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, NULL, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_RTP1);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 1, &flags), FP_QOE_RTP_CLOCK_FALLBACK);
    CU_ASSERT_EQUAL(flags, FP_QOE_RTP_CLK_INFERRED | FP_QOE_RTP_CLK_FALLBACK);
    double j, jmax;
    unsigned k = clk_decision(a, n);
    clk_ref_jitter(a, n, k, 48000, &j, &jmax);
    CU_ASSERT(j > 5000 && j < 6667); /* converging towards |20 − 1280/48| ms */
    CU_ASSERT(near(r.rtp_jitter_us[1], j));

    /* Timestamps that do not advance (rate 0) fit nothing either. */
    for (unsigned i = 0; i < n; i++)
        a[i].ts = 1234;
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < n; i++)
        clk_feed(&s, 0, 100, 78, &a[i]);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 0, &flags), FP_QOE_RTP_CLOCK_FALLBACK);
    CU_ASSERT_EQUAL(flags, FP_QOE_RTP_CLK_INFERRED | FP_QOE_RTP_CLK_FALLBACK);
}

/* Snapping: nearest standard clock by relative distance, within ±20 % (worked by hand). */
static void test_rtp_clock_snap(void)
{
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(8000), 8000);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(6400), 8000);   /* exactly −20 % */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(6399), 0);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(16250), 16000); /* wa_voice: 2560 per ~157.5 ms */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(14000), 16000); /* 12.5 % vs 16.7 % to 12000 */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(13500), 12000); /* 12.5 % vs 15.6 % to 16000 */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(45000), 44100); /* 2.0 % vs 6.25 % */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(46000), 48000); /* 4.17 % vs 4.31 % to 44100 */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(88000), 90000);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(108000), 90000); /* exactly +20 % */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(108001), 0);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(64000), 0);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(0), 0);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_snap(UINT64_MAX), 0);
    /* Static table: G.722 keeps its 8000 RTP clock (RFC 3551), dynamic types have none. */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock(9), 8000);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock(0), 8000);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock(34), 90000);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock(96), 0);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock(127), 0);
}

/* A dynamic stream shorter than the inference window has no clock and no jitter sample
 * (a guessed clock would have produced ±8 ms of jitter here). */
static void test_rtp_clock_short(void)
{
    static struct clk_pkt a[NPKT_MAX];
    const unsigned n = 20; /* the last one 0.36 s after the reference */
    struct fp_qoe_rtp s;
    struct fp_qoe_result r;
    unsigned flags = 99;

    clk_build(a, n, 16000, n, 8000, 0);
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < n; i++)
        clk_feed(&s, 0, 120, 5, &a[i]);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, NULL, &r);
    CU_ASSERT(r.have & FP_QOE_HAVE_RTP0);
    CU_ASSERT_EQUAL(r.rtp_expected[0], n - 1);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 0, &flags), 0);
    CU_ASSERT_EQUAL(flags, 0);
    CU_ASSERT_EQUAL(r.rtp_jitter_us[0], 0);
    CU_ASSERT_EQUAL(r.rtp_jitter_max_us[0], 0);
    CU_ASSERT_EQUAL(r.rtp_jitter_ts[0], 0);

    /* 0.5 s is not enough with fewer than 8 packets after the reference (160 ms ptime). */
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < 9; i++) { /* packets 2..8: 7 after the reference, 1.12 s */
        struct clk_pkt q = {(uint16_t)i, i * 2560u, T0 + i * 160 * MS};
        clk_feed(&s, 0, 120, 6, &q);
    }
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 0, NULL), 0);
    struct clk_pkt q = {9, 9 * 2560u, T0 + 9 * 160 * MS};
    clk_feed(&s, 0, 120, 6, &q); /* the 8th after the reference (packet 1) */
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 0, NULL), 16000);
}

/* Static PT 0 (PCMU): the RFC 3551 clock from the first jitter sample on, never inferred,
 * even when the timestamps run at another rate (here 16 kHz: every D is 20 − 40 ms). */
static void test_rtp_clock_static(void)
{
    static struct clk_pkt a[NPKT_MAX];
    struct fp_qoe_rtp s;
    struct fp_qoe_result r;
    unsigned flags = 99;
    double j, jmax;

    /* A 6-packet stream (0.1 s): jitter from packet 2 on, as before this feature. */
    clk_build(a, 6, 8000, 6, 3000, 0);
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < 6; i++)
        clk_feed(&s, 0, 0, 9, &a[i]);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, NULL, &r);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 0, &flags), 8000);
    CU_ASSERT_EQUAL(flags, 0);
    clk_ref_jitter(a, 6, 2, 8000, &j, &jmax);
    CU_ASSERT(j > 500);
    CU_ASSERT(near(r.rtp_jitter_us[0], j));
    CU_ASSERT(near(r.rtp_jitter_max_us[0], jmax));

    /* Timestamps at 16 kHz under PT 0: still 8000 (the static clock is trusted). */
    clk_build(a, 60, 16000, 0, 0, 0);
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < 60; i++)
        clk_feed(&s, 1, 0, 10, &a[i]);
    memset(&r, 0, sizeof(r));
    fp_qoe_rtp_result(&s, NULL, &r);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 1, &flags), 8000);
    CU_ASSERT_EQUAL(flags, 0);
    clk_ref_jitter(a, 60, 2, 8000, &j, &jmax);
    CU_ASSERT(j > 15000);
    CU_ASSERT(near(r.rtp_jitter_us[1], j));
}

/* The source restarts (RFC 3550 A.1: a jump confirmed by the next packet) during the
 * inference window with new timestamps: inference restarts there instead of measuring
 * Δts across the jump. */
static void test_rtp_clock_restart(void)
{
    static struct clk_pkt a[NPKT_MAX];
    struct fp_qoe_rtp s;
    unsigned flags = 0;

    clk_build(a, 80, 16000, 0, 0, 0);
    for (unsigned i = 10; i < 80; i++) {
        a[i].seq = (uint16_t)(a[i].seq + 20000u);
        a[i].ts += 0x40000000u; /* would read as ~1 GHz if measured across the jump */
    }
    memset(&s, 0, sizeof(s));
    for (unsigned i = 0; i < 80; i++)
        clk_feed(&s, 0, 99, 11, &a[i]);
    CU_ASSERT_EQUAL(fp_qoe_rtp_clock_get(&s, 0, &flags), 16000);
    CU_ASSERT_EQUAL(flags, FP_QOE_RTP_CLK_INFERRED);
}

void fp_test_register_qoe_rtp_clock(void);
void fp_test_register_qoe_rtp_clock(void)
{
    static CU_TestInfo tests[] = {
        {"clock_8000", test_rtp_clock_8000},
        {"clock_16000", test_rtp_clock_16000},
        {"clock_48000", test_rtp_clock_48000},
        {"clock_90000", test_rtp_clock_90000},
        {"clock_reserved_pt", test_rtp_clock_reserved_pt},
        {"clock_fallback", test_rtp_clock_fallback},
        {"clock_snap", test_rtp_clock_snap},
        {"clock_short", test_rtp_clock_short},
        {"clock_static", test_rtp_clock_static},
        {"clock_restart", test_rtp_clock_restart},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("qoe_rtp_clock", tests);
}
