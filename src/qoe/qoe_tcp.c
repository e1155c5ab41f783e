/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * TCP QoE engine (handshake delays, outcome, RTT samples, ART, retransmissions,
 * out-of-order, zero window), TLS handshake time and DNS response time.
 * Worker lcore only; no allocation, no locks, no logging.
 */
#include <string.h>

#include "qoe/qoe.h"

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_ACK 0x10u

/* Per-direction flags (struct fp_qoe_tcp_dir.flags). */
#define D_SEQ 0x01u    /* snd_max valid */
#define D_TIMING 0x02u /* a segment is being timed (rtt_seq, rtt_t) */
#define D_ZW 0x04u     /* this side currently advertises a zero window */

/* Handshake states (struct fp_qoe_tcp.hs). */
enum {
    HS_NONE,
    HS_SYN,
    HS_SYNACK,
    HS_DONE,
    HS_OTHER, /* midstream, refused or abandoned: t_mark free for ART */
};

/* Out-of-order window when no RTT is known yet (Wireshark's default, standards.md §8). */
#define OOO_DEFAULT_US 3000u

static inline uint32_t sat_add32(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

static inline uint16_t sat_inc16(uint16_t a)
{
    return a == UINT16_MAX ? a : (uint16_t)(a + 1);
}

static void rtt_add(struct fp_qoe_tcp_dir *d, uint32_t us)
{
    if (d->rtt_n == 0 || us < d->rtt_min)
        d->rtt_min = us;
    if (us > d->rtt_max)
        d->rtt_max = us;
    if (d->rtt_n == UINT16_MAX || d->rtt_sum > UINT32_MAX - us) {
        /* Keep the mean, halve the weight: mean stays sum / n. */
        uint16_t n2 = (uint16_t)(d->rtt_n >> 1);
        d->rtt_sum = n2 ? (uint32_t)((uint64_t)d->rtt_sum * n2 / d->rtt_n) : 0;
        d->rtt_n = n2;
    }
    d->rtt_sum += us;
    d->rtt_n++;
}

/* Time within which a segment filling a hole counts as reordered rather than retransmitted:
 * one full RTT at the probe (sum of both directions' minimum data RTT, else the handshake
 * RTT, else 3 ms). A retransmission needs at least one RTT to be triggered. */
static uint32_t ooo_window(const struct fp_qoe_tcp *s)
{
    if (s->d[0].rtt_n && s->d[1].rtt_n)
        return s->d[0].rtt_min + s->d[1].rtt_min;
    if ((s->flags & (FP_QOE_TCP_HAVE_SND | FP_QOE_TCP_HAVE_CND)) ==
        (FP_QOE_TCP_HAVE_SND | FP_QOE_TCP_HAVE_CND))
        return s->snd_us + s->cnd_us;
    return OOO_DEFAULT_US;
}

static void handshake(struct fp_qoe_tcp *s, unsigned dir, const struct fp_pkt_meta *m,
                      uint32_t t)
{
    uint16_t fl = m->tcp_flags;

    if (s->hs == HS_NONE && !(fl & TCP_SYN)) {
        s->hs = HS_OTHER; /* midstream: outcome stays FP_QOE_TCP_NO_SYN */
        return;
    }
    if (fl & TCP_RST) {
        if (dir == 1 && s->hs == HS_SYN) {
            s->outcome = FP_QOE_TCP_REFUSED;
            s->hs = HS_OTHER;
        }
        return;
    }
    if ((fl & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
        if (dir != 0)
            return; /* simultaneous open or reversed orientation: not measured */
        if (s->hs == HS_NONE) {
            s->hs = HS_SYN;
            s->t_mark = t;
            s->outcome = FP_QOE_TCP_UNANSWERED;
        } else if (s->hs == HS_SYN) {
            s->retx_hs |= 1; /* Karn: SND becomes ambiguous */
            s->t_mark = t;
        }
        return;
    }
    if (fl & TCP_SYN) { /* SYN/ACK */
        if (dir != 1)
            return;
        if (s->hs == HS_SYN) {
            if (!(s->retx_hs & 1)) {
                s->snd_us = t - s->t_mark;
                s->flags |= FP_QOE_TCP_HAVE_SND;
            }
            s->hs = HS_SYNACK;
            s->t_mark = t;
            s->outcome = FP_QOE_TCP_INCOMPLETE;
        } else if (s->hs == HS_SYNACK) {
            s->retx_hs |= 2; /* Karn: CND becomes ambiguous */
            s->t_mark = t;
        }
        return;
    }
    if (dir == 0 && (fl & TCP_ACK) && s->hs == HS_SYNACK && m->tcp_ack == s->d[1].snd_max &&
        (s->d[1].flags & D_SEQ)) {
        if (!(s->retx_hs & 2)) {
            s->cnd_us = t - s->t_mark;
            s->flags |= FP_QOE_TCP_HAVE_CND;
        }
        s->hs = HS_DONE;
        s->outcome = FP_QOE_TCP_ESTABLISHED;
    }
}

static void zero_window(struct fp_qoe_tcp_dir *d, uint16_t win, uint32_t t)
{
    if (win == 0) {
        if (!(d->flags & D_ZW)) {
            d->flags |= D_ZW;
            d->zw_t = t;
            d->zw_events = sat_inc16(d->zw_events);
        }
    } else if (d->flags & D_ZW) {
        d->flags &= (uint8_t)~D_ZW;
        d->zw_us = sat_add32(d->zw_us, t - d->zw_t);
    }
}

/* Does this client segment start with TLS records one of which is application data (0x17)?
 * Reads only 5-byte record headers inside the captured payload. */
static bool tls_has_appdata(const uint8_t *p, uint32_t n)
{
    uint32_t off = 0;
    for (unsigned k = 0; k < 8 && off + 5 <= n; k++) {
        uint8_t type = p[off];
        if (type < 0x14 || type > 0x18 || p[off + 1] != 0x03)
            return false;
        if (type == 0x17)
            return true;
        off += 5u + ((uint32_t)p[off + 3] << 8 | p[off + 4]);
    }
    return false;
}

static bool tls_is_client_hello(const uint8_t *p, uint32_t n)
{
    return n >= 6 && p[0] == 0x16 && p[1] == 0x03 && p[5] == 0x01;
}

/* Sequence tracking of direction dir. @return true if the segment was a retransmission. */
static bool track_seq(struct fp_qoe_tcp *s, unsigned dir, const struct fp_pkt_meta *m,
                      uint32_t len, uint32_t t)
{
    struct fp_qoe_tcp_dir *d = &s->d[dir];
    const struct fp_qoe_tcp_dir *o = &s->d[dir ^ 1];
    uint16_t fl = m->tcp_flags;
    uint32_t ctl = ((fl & TCP_SYN) ? 1u : 0u) + ((fl & TCP_FIN) ? 1u : 0u);
    uint32_t seqlen = len + ctl;
    uint32_t seq = m->tcp_seq, end = seq + seqlen;

    if (!(d->flags & D_SEQ)) {
        d->flags |= D_SEQ;
        d->snd_max = end;
        if (len) {
            d->rtt_seq = end;
            d->rtt_t = t;
            d->flags |= D_TIMING;
        }
        return false;
    }
    if (seqlen == 0)
        return false; /* pure ACK */

    if (fp_qoe_seq_lt(d->snd_max, end)) {
        /* Window probe: one byte at snd_max while the peer advertises window 0. Not new data
         * (the sender will send that byte again), not a retransmission. */
        if (len == 1 && ctl == 0 && seq == d->snd_max && (o->flags & D_ZW))
            return false;
        if (fp_qoe_seq_lt(d->snd_max, seq)) { /* gap: remember one hole */
            uint32_t gap = seq - d->snd_max;
            if (gap <= UINT16_MAX &&
                (d->hole_len == 0 || (uint32_t)(t - d->hole_t) >= ooo_window(s))) {
                d->hole_lo = d->snd_max;
                d->hole_len = (uint16_t)gap;
                d->hole_t = t;
            }
        }
        if (len && !(d->flags & D_TIMING)) {
            d->rtt_seq = end;
            d->rtt_t = t;
            d->flags |= D_TIMING;
        }
        d->snd_max = end;
        return false;
    }

    /* Entirely below snd_max: keep-alive, reordered, or retransmitted. */
    if (ctl == 0 && len <= 1 && seq == d->snd_max - 1)
        return false; /* keep-alive */
    if (d->hole_len && fp_qoe_seq_leq(d->hole_lo, seq) &&
        fp_qoe_seq_leq(end, d->hole_lo + d->hole_len) &&
        (uint32_t)(t - d->hole_t) < ooo_window(s)) {
        d->ooo_pkts = sat_inc16(d->ooo_pkts);
        if (seq == d->hole_lo) {
            d->hole_lo = end;
            d->hole_len = (uint16_t)(d->hole_len - seqlen);
        } else if (end == d->hole_lo + d->hole_len) {
            d->hole_len = (uint16_t)(d->hole_len - seqlen);
        }
        return false;
    }
    d->retx_pkts = sat_add32(d->retx_pkts, 1);
    d->retx_bytes = sat_add32(d->retx_bytes, len);
    if ((d->flags & D_TIMING) && fp_qoe_seq_lt(seq, d->rtt_seq))
        d->flags &= (uint8_t)~D_TIMING; /* Karn: the timed segment was resent */
    return true;
}

void fp_qoe_tcp_update(struct fp_qoe_tcp *s, unsigned dir, const struct fp_pkt_meta *m,
                       const uint8_t *frame, uint64_t t_ns)
{
    uint32_t t = fp_qoe_us(t_ns);
    uint16_t fl = m->tcp_flags;
    uint32_t len = fp_qoe_l4_len(m);

    dir &= 1;
    handshake(s, dir, m, t);
    if (fl & TCP_RST)
        return;

    struct fp_qoe_tcp_dir *d = &s->d[dir];
    struct fp_qoe_tcp_dir *o = &s->d[dir ^ 1];

    /* ACK of the other direction's timed segment → one RTT sample (probe ↔ this side). */
    if ((fl & TCP_ACK) && (o->flags & D_TIMING) && fp_qoe_seq_leq(o->rtt_seq, m->tcp_ack)) {
        rtt_add(o, t - o->rtt_t);
        o->flags &= (uint8_t)~D_TIMING;
    }
    if (!(fl & TCP_SYN))
        zero_window(d, m->tcp_win, t);

    bool retx = track_seq(s, dir, m, len, t);
    if (len == 0 || retx || (fl & TCP_SYN))
        return;

    /* Data flowed although the handshake was not seen completing (asymmetric path, lost
     * ACK at the probe): the connection is established; t_mark is now free for ART. */
    if (s->hs == HS_SYN || s->hs == HS_SYNACK) {
        s->hs = HS_OTHER;
        s->outcome = FP_QOE_TCP_ESTABLISHED;
    }
    const uint8_t *p = frame ? frame + m->payload_off : NULL;
    uint32_t cap = p ? m->payload_len : 0;
    if (dir == 0) {
        if (!(s->flags & FP_QOE_TCP_REQ_SEEN)) {
            s->flags |= FP_QOE_TCP_REQ_SEEN;
            s->t_mark = t;
            if (p && tls_is_client_hello(p, cap))
                s->flags |= FP_QOE_TCP_TLS_CH;
        } else if ((s->flags & (FP_QOE_TCP_TLS_CH | FP_QOE_TCP_HAVE_TLS)) == FP_QOE_TCP_TLS_CH &&
                   p && tls_has_appdata(p, cap)) {
            s->tls_us = t - s->t_mark;
            s->flags |= FP_QOE_TCP_HAVE_TLS;
        }
    } else if ((s->flags & (FP_QOE_TCP_REQ_SEEN | FP_QOE_TCP_HAVE_ART)) == FP_QOE_TCP_REQ_SEEN) {
        s->art_us = t - s->t_mark;
        s->flags |= FP_QOE_TCP_HAVE_ART;
    }
}

void fp_qoe_tcp_result(const struct fp_qoe_tcp *s, uint64_t t_end_ns, struct fp_qoe_result *r)
{
    uint32_t t_end = fp_qoe_us(t_end_ns);

    r->have |= FP_QOE_HAVE_TCP;
    r->tcp_outcome = s->outcome;
    if (s->flags & FP_QOE_TCP_HAVE_SND) {
        r->have |= FP_QOE_HAVE_SND;
        r->snd_us = s->snd_us;
    }
    if (s->flags & FP_QOE_TCP_HAVE_CND) {
        r->have |= FP_QOE_HAVE_CND;
        r->cnd_us = s->cnd_us;
    }
    if (s->flags & FP_QOE_TCP_HAVE_ART) {
        r->have |= FP_QOE_HAVE_ART;
        r->art_us = s->art_us;
        if (s->flags & FP_QOE_TCP_HAVE_SND)
            r->srv_delay_us = s->art_us > s->snd_us ? s->art_us - s->snd_us : 0;
    }
    if (s->flags & FP_QOE_TCP_HAVE_TLS) {
        r->have |= FP_QOE_HAVE_TLS;
        r->tls_us = s->tls_us;
    }
    for (unsigned i = 0; i < 2; i++) {
        const struct fp_qoe_tcp_dir *d = &s->d[i];
        if (d->rtt_n) {
            r->have |= i ? FP_QOE_HAVE_RTT1 : FP_QOE_HAVE_RTT0;
            r->rtt_min_us[i] = d->rtt_min;
            r->rtt_max_us[i] = d->rtt_max;
            r->rtt_mean_us[i] = (uint32_t)(((uint64_t)d->rtt_sum + d->rtt_n / 2) / d->rtt_n);
            r->rtt_samples[i] = d->rtt_n;
        }
        r->retx_pkts[i] = d->retx_pkts;
        r->retx_bytes[i] = d->retx_bytes;
        r->ooo_pkts[i] = d->ooo_pkts;
        r->zw_events[i] = d->zw_events;
        r->zw_us[i] = d->zw_us;
        if ((d->flags & D_ZW) && fp_qoe_seq_leq(d->zw_t, t_end))
            r->zw_us[i] = sat_add32(d->zw_us, t_end - d->zw_t);
    }
}

/* ---------------------------------- DNS ------------------------------------------ */

void fp_qoe_dns_update(struct fp_qoe_dns *s, unsigned dir, const struct fp_pkt_meta *m,
                       const uint8_t *frame, uint64_t t_ns)
{
    if (!frame || m->payload_off == 0 || m->payload_len < 12)
        return; /* not a complete DNS header */
    const uint8_t *p = frame + m->payload_off;
    uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
    bool qr = p[2] & 0x80;
    uint32_t t = fp_qoe_us(t_ns);

    if ((dir & 1) == 0 && !qr) {
        if (s->queries != UINT8_MAX)
            s->queries++;
        if (!(s->flags & FP_QOE_DNS_QUERY)) {
            s->flags |= FP_QOE_DNS_QUERY;
            s->id = id;
            s->t_query = t;
        } else if (id == s->id && !(s->flags & FP_QOE_DNS_ANSWERED) && s->retries != UINT8_MAX) {
            s->retries++;
        }
    } else if ((dir & 1) == 1 && qr && (s->flags & FP_QOE_DNS_QUERY) &&
               !(s->flags & FP_QOE_DNS_ANSWERED) && id == s->id) {
        s->resp_us = t - s->t_query;
        s->rcode = p[3] & 0x0f;
        s->flags |= FP_QOE_DNS_ANSWERED;
    }
}

void fp_qoe_dns_result(const struct fp_qoe_dns *s, struct fp_qoe_result *r)
{
    if (!(s->flags & FP_QOE_DNS_QUERY))
        return;
    r->have |= FP_QOE_HAVE_DNS;
    r->dns_answered = (s->flags & FP_QOE_DNS_ANSWERED) ? 1 : 0;
    r->dns_rcode = s->rcode;
    r->dns_retries = s->retries;
    r->dns_us = s->resp_us;
}
