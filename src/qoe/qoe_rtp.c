/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * RTP QoE engine: RTP detection in UDP payloads (plain or behind a TURN ChannelData header),
 * RFC 3550 A.1 sequence/loss accounting, A.8 interarrival jitter (RFC 3551 static clock, or a
 * clock inferred from Δts/Δt for dynamic payload types), and the E-model MOS.
 * Worker lcore only for the update; the E-model helpers are pure functions.
 */
#include <math.h>
#include <string.h>

#include "qoe/qoe.h"

#define RTP_SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000u
#define MAX_MISORDER 100u
#define MIN_SEQUENTIAL 2u

enum {
    ST_NONE,
    ST_PROBATION,
    ST_DETECTED,
};

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t fp_qoe_rtp_clock(uint8_t pt)
{
    switch (pt) {
    case 0:  /* PCMU */
    case 3:  /* GSM */
    case 4:  /* G723 */
    case 5:  /* DVI4/8000 */
    case 7:  /* LPC */
    case 8:  /* PCMA */
    case 9:  /* G722: 8000 by RFC 3551 §4.5.2 although it samples at 16 kHz */
    case 12: /* QCELP */
    case 13: /* CN */
    case 15: /* G728 */
    case 18: /* G729 */
        return 8000;
    case 6:
        return 16000; /* DVI4/16000 */
    case 10:
    case 11:
        return 44100; /* L16 */
    case 16:
        return 11025; /* DVI4/11025 */
    case 17:
        return 22050; /* DVI4/22050 */
    case 14:
    case 25:
    case 26:
    case 28:
    case 31:
    case 32:
    case 33:
    case 34:
        return 90000; /* MPA and video payload types */
    default:
        return 0; /* dynamic (96-127), reserved (1, 2, 19), unassigned: inferred */
    }
}

uint32_t fp_qoe_rtp_clock_snap(uint64_t rate_hz)
{
    static const uint32_t std_clock[] = {8000, 12000, 16000, 24000, 32000, 44100, 48000, 90000};
    uint64_t best = 0, best_diff = 0;

    for (unsigned i = 0; i < sizeof(std_clock) / sizeof(std_clock[0]); i++) {
        uint64_t c = std_clock[i];
        uint64_t diff = rate_hz > c ? rate_hz - c : c - rate_hz;
        if (diff > c) /* also keeps the products below small */
            continue;
        /* within the tolerance, and relatively nearer: diff / c < best_diff / best */
        if (diff * 1000u <= c * FP_QOE_RTP_CLK_TOL_PERMILLE &&
            (!best || diff * best < best_diff * c)) {
            best = c;
            best_diff = diff;
        }
    }
    return (uint32_t)best;
}

uint32_t fp_qoe_rtp_clock_get(const struct fp_qoe_rtp *s, unsigned dir, unsigned *flags)
{
    const struct fp_qoe_rtp_dir *st = &s->d[dir & 1];
    if (flags)
        *flags = st->state == ST_DETECTED ? st->clk_flags : 0;
    return st->state == ST_DETECTED ? st->clock : 0;
}

/* Header plausibility: version 2, payload type not RTCP and not unassigned, CSRCs fit. */
static bool rtp_plausible(const uint8_t *p, uint32_t n)
{
    if (n < 12 || (p[0] >> 6) != 2)
        return false;
    uint8_t pt = p[1] & 0x7f;
    if (pt > 34 && pt < 96)
        return false; /* includes 72-76: RTCP SR/RR/SDES/BYE/APP with the marker bit */
    return 12u + 4u * (p[0] & 0x0fu) <= n;
}

/* Find the RTP header in a UDP payload. @return header or NULL; *chan = 1 behind ChannelData */
static const uint8_t *rtp_locate(const uint8_t *p, uint32_t n, uint32_t *hn, uint8_t *chan)
{
    if (rtp_plausible(p, n)) {
        *hn = n;
        *chan = 0;
        return p;
    }
    /* TURN ChannelData (RFC 8656 §12.4): channel 0x4000-0x4FFF, 16-bit length, data. */
    if (n >= 16 && (p[0] & 0xf0) == 0x40) {
        uint32_t len = be16(p + 2);
        if (len + 4 <= n && rtp_plausible(p + 4, len)) {
            *hn = len;
            *chan = 1;
            return p + 4;
        }
    }
    return NULL;
}

static void init_seq(struct fp_qoe_rtp_dir *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = RTP_SEQ_MOD + 1;
    s->cycles = 0;
    s->received = 0;
    s->seen = 1;
}

/* RFC 3550 A.1 update_seq() plus duplicate/reorder counting.
 * @return 1 accepted, 0 rejected (probation or bad jump), 2 accepted duplicate */
static int update_seq(struct fp_qoe_rtp_dir *s, uint16_t seq)
{
    uint16_t udelta = (uint16_t)(seq - s->max_seq);

    if (s->probation) {
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                init_seq(s, seq);
                s->received++;
                return 1;
            }
        } else {
            s->probation = MIN_SEQUENTIAL - 1;
            s->max_seq = seq;
        }
        return 0;
    }
    if (udelta < MAX_DROPOUT) {
        if (udelta == 0) {
            s->dups = s->dups == UINT16_MAX ? s->dups : (uint16_t)(s->dups + 1);
            s->received++;
            return 2;
        }
        if (seq < s->max_seq)
            s->cycles += RTP_SEQ_MOD;
        s->max_seq = seq;
        s->seen = udelta >= 64 ? 1 : (s->seen << udelta) | 1;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
        if (seq == s->bad_seq) {
            init_seq(s, seq); /* two sequential packets: the source restarted */
        } else {
            s->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
            return 0;
        }
    } else {
        /* Late packet (older than max_seq by at most MAX_MISORDER). */
        uint32_t back = RTP_SEQ_MOD - udelta;
        if (back < 64) {
            if (s->seen & (1ull << back)) {
                s->dups = s->dups == UINT16_MAX ? s->dups : (uint16_t)(s->dups + 1);
                s->received++;
                return 2;
            }
            s->seen |= 1ull << back;
        }
        s->reordered = s->reordered == UINT16_MAX ? s->reordered : (uint16_t)(s->reordered + 1);
    }
    s->received++;
    return 1;
}

/* Start (or restart) clock inference at this packet. */
static void clock_ref(struct fp_qoe_rtp_dir *st, uint32_t ts, uint64_t t_ns)
{
    st->ref_ts = ts;
    st->ref_us = (uint32_t)(t_ns / 1000u);
    st->clk_n = 0;
}

/* Dynamic payload type: once the window has passed, rate = Δts / Δt since the reference,
 * snapped to a standard clock (else the fallback). Fixing the clock starts the jitter. */
static void clock_infer(struct fp_qoe_rtp_dir *st, uint32_t ts, uint64_t t_ns)
{
    if (st->clk_n < UINT8_MAX)
        st->clk_n++;
    uint32_t dt_us = (uint32_t)(t_ns / 1000u) - st->ref_us;
    if (st->clk_n < FP_QOE_RTP_CLK_MIN_PKTS || dt_us < FP_QOE_RTP_CLK_MIN_US)
        return;
    int32_t dts = (int32_t)(ts - st->ref_ts);
    uint32_t clock = 0;
    if (dts > 0 && dt_us < (1u << 31))
        clock = fp_qoe_rtp_clock_snap((uint64_t)dts * 1000000u / dt_us);
    st->clk_flags = FP_QOE_RTP_CLK_INFERRED;
    if (!clock) {
        clock = FP_QOE_RTP_CLOCK_FALLBACK;
        st->clk_flags |= FP_QOE_RTP_CLK_FALLBACK;
    }
    st->clock = clock;
    st->jitter_q4 = 0; /* the reference fields become the jitter state */
    st->jitter_max_us = 0;
}

/* RFC 3550 A.8: D = (R_i − R_j) − (S_i − S_j), in µs instead of timestamp units. */
static void jitter_update(struct fp_qoe_rtp_dir *st, uint32_t ts, uint64_t t_ns)
{
    int64_t da = (int64_t)(t_ns - st->last_arr_ns);
    int64_t ds = (int64_t)(int32_t)(ts - st->last_ts) * 1000000000ll / st->clock;
    int64_t dn = da - ds;
    uint64_t d = (uint64_t)(dn < 0 ? -dn : dn);
    d = (d + 500) / 1000;
    if (d > (1u << 27))
        d = 1u << 27;
    uint64_t j = st->jitter_q4;
    j += d - ((j + 8) >> 4);
    st->jitter_q4 = (uint32_t)j;
    if ((st->jitter_q4 >> 4) > st->jitter_max_us)
        st->jitter_max_us = st->jitter_q4 >> 4;
}

void fp_qoe_rtp_update(struct fp_qoe_rtp *s, unsigned dir, const struct fp_pkt_meta *m,
                       const uint8_t *frame, uint64_t t_ns)
{
    if (!frame || m->payload_off == 0 || m->payload_len < 12)
        return;
    uint32_t hn;
    uint8_t chan;
    const uint8_t *h = rtp_locate(frame + m->payload_off, m->payload_len, &hn, &chan);
    if (!h)
        return;

    struct fp_qoe_rtp_dir *st = &s->d[dir & 1];
    uint32_t ssrc = be32(h + 8);
    uint16_t seq = be16(h + 2);
    uint32_t ts = be32(h + 4);

    if (st->state == ST_NONE || (st->state == ST_PROBATION && ssrc != st->ssrc)) {
        memset(st, 0, sizeof(*st));
        st->ssrc = ssrc;
        st->pt = h[1] & 0x7f;
        st->chan = chan;
        init_seq(st, seq);
        st->max_seq = (uint16_t)(seq - 1);
        st->probation = MIN_SEQUENTIAL;
        st->state = ST_PROBATION;
    } else if (ssrc != st->ssrc) {
        return; /* another source in the same direction: only the first one is metered */
    }

    int rc = update_seq(st, seq);
    if (rc == 0 || rc == 2)
        return; /* duplicates do not feed the jitter (their transit is not new information) */
    if (st->state != ST_DETECTED) {
        /* The packet that ends probation: static clock, or the reference for inference. */
        st->state = ST_DETECTED;
        st->clock = fp_qoe_rtp_clock(st->pt);
        if (!st->clock)
            clock_ref(st, ts, t_ns);
    } else if (!st->clock && st->received == 1) {
        clock_ref(st, ts, t_ns); /* the source restarted (A.1): its timestamps may too */
    } else {
        if (!st->clock)
            clock_infer(st, ts, t_ns);
        if (st->clock)
            jitter_update(st, ts, t_ns);
    }
    st->last_arr_ns = t_ns;
    st->last_ts = ts;
}

uint32_t fp_qoe_r_to_mos_x100(double r)
{
    double mos;
    if (r <= 0)
        mos = 1.0;
    else if (r >= 100)
        mos = 4.5;
    else
        mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
    if (mos < 1.0)
        mos = 1.0; /* the cubic dips just below 1 for R < 6.5 */
    return (uint32_t)lround(mos * 100);
}

uint32_t fp_qoe_emodel_mos(uint32_t latency_us, uint32_t jitter_us, uint32_t loss_ppm,
                           int32_t *r_x100)
{
    double el = latency_us / 1000.0 + 2.0 * jitter_us / 1000.0 + 10.0;
    double r = el < 160 ? 93.2 - el / 40.0 : 93.2 - (el - 120.0) / 10.0;
    r -= 2.5 * (loss_ppm / 10000.0); /* 2.5 per loss percent */
    if (r_x100)
        *r_x100 = (int32_t)lround(r * 100);
    return fp_qoe_r_to_mos_x100(r);
}

void fp_qoe_rtp_result(const struct fp_qoe_rtp *s, const struct fp_qoe_params *p,
                       struct fp_qoe_result *r)
{
    for (unsigned i = 0; i < 2; i++) {
        const struct fp_qoe_rtp_dir *st = &s->d[i];
        if (st->state != ST_DETECTED)
            continue;
        r->have |= i ? FP_QOE_HAVE_RTP1 : FP_QOE_HAVE_RTP0;
        uint32_t ext_max = st->cycles + st->max_seq;
        uint32_t expected = ext_max - st->base_seq + 1;
        uint32_t uniq = st->received - FP_MIN(st->received, st->dups);
        int64_t lost = (int64_t)expected - uniq;
        r->rtp_ssrc[i] = st->ssrc;
        r->rtp_pt[i] = st->pt;
        r->rtp_reordered[i] = st->reordered;
        if (st->clock) { /* else: dynamic clock not known yet, no jitter sample (0) */
            r->rtp_jitter_us[i] = (st->jitter_q4 + 8) >> 4;
            r->rtp_jitter_max_us[i] = st->jitter_max_us;
            r->rtp_jitter_ts[i] = (uint32_t)((uint64_t)st->jitter_q4 * st->clock / 16000000u);
        } else {
            r->rtp_jitter_us[i] = r->rtp_jitter_max_us[i] = r->rtp_jitter_ts[i] = 0;
        }
        r->rtp_expected[i] = expected;
        r->rtp_received[i] = st->received;
        r->rtp_dups[i] = st->dups;
        r->rtp_lost[i] = (int32_t)(lost > INT32_MAX ? INT32_MAX : lost);
        uint32_t loss_ppm = 0;
        if (lost > 0 && expected)
            loss_ppm = (uint32_t)FP_MIN((uint64_t)lost * 1000000u / expected, 1000000u);
        r->rtp_mos_x100[i] = fp_qoe_emodel_mos(p ? p->rtp_latency_us : 0, r->rtp_jitter_us[i],
                                               loss_ppm, &r->rtp_r_x100[i]);
    }
}
