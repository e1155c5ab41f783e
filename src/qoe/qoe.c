/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * QoE per-flow aggregate (engine dispatch), results, parameters and the per-class score.
 * fp_qoe_flow_update runs on worker lcores; the rest runs wherever the record is built.
 */
#include <errno.h>
#include <string.h>

#include "qoe/qoe.h"

const char *const fp_qoe_class_names[FP_QOE_CLASS_MAX] = {
#define FP_X_NAME(name, desc) desc,
    FP_QOE_CLASSES(FP_X_NAME)
#undef FP_X_NAME
};

const char *const fp_qoe_metric_names[FP_QOE_METRIC_MAX] = {
#define FP_X_NAME(name, desc) #name,
    FP_QOE_METRICS(FP_X_NAME)
#undef FP_X_NAME
};

static void thr(struct fp_qoe_params *p, enum fp_qoe_class c, enum fp_qoe_metric m, int64_t good,
                int64_t bad, uint32_t weight)
{
    p->thr[c][m].good = good;
    p->thr[c][m].bad = bad;
    p->thr[c][m].weight = weight;
}

void fp_qoe_params_default(struct fp_qoe_params *p)
{
    memset(p, 0, sizeof(*p));
    p->splt_n = FP_MIN(20, FP_QOE_SPLT_CAP);
    p->video_burst_gap_us = 200000;
    p->video_stall_bps = 300000;
    p->game_spike_us = 150000;
    p->game_gap_us = 250000;
    p->rtp_latency_us = 0;

    /* Thresholds: (good, bad, weight). See README "QoE score". */
    thr(p, FP_QOE_CLASS_UNKNOWN, FP_QOE_METRIC_RTT_US, 100000, 600000, 1);
    thr(p, FP_QOE_CLASS_UNKNOWN, FP_QOE_METRIC_RETX_PERMILLE, 10, 100, 1);
    thr(p, FP_QOE_CLASS_UNKNOWN, FP_QOE_METRIC_MOS_X100, 420, 250, 1);
    thr(p, FP_QOE_CLASS_UNKNOWN, FP_QOE_METRIC_DNS_FAIL, 0, 1, 1);

    thr(p, FP_QOE_CLASS_WEB, FP_QOE_METRIC_RTT_US, 50000, 400000, 2);
    thr(p, FP_QOE_CLASS_WEB, FP_QOE_METRIC_ART_US, 200000, 3000000, 3);
    thr(p, FP_QOE_CLASS_WEB, FP_QOE_METRIC_RETX_PERMILLE, 5, 50, 2);
    thr(p, FP_QOE_CLASS_WEB, FP_QOE_METRIC_TLS_HS_US, 150000, 2000000, 1);

    thr(p, FP_QOE_CLASS_VIDEO, FP_QOE_METRIC_VIDEO_STALL_BINS, 0, 5, 4);
    thr(p, FP_QOE_CLASS_VIDEO, FP_QOE_METRIC_VIDEO_KBPS, 5000, 500, 2);
    thr(p, FP_QOE_CLASS_VIDEO, FP_QOE_METRIC_RTT_US, 50000, 400000, 1);
    thr(p, FP_QOE_CLASS_VIDEO, FP_QOE_METRIC_RETX_PERMILLE, 5, 50, 1);

    thr(p, FP_QOE_CLASS_CONF, FP_QOE_METRIC_MOS_X100, 420, 250, 4);
    thr(p, FP_QOE_CLASS_CONF, FP_QOE_METRIC_RTP_LOSS_PERMILLE, 10, 100, 1);
    thr(p, FP_QOE_CLASS_CONF, FP_QOE_METRIC_RTP_JITTER_US, 10000, 60000, 1);
    thr(p, FP_QOE_CLASS_CONF, FP_QOE_METRIC_RTT_US, 100000, 600000, 1);

    thr(p, FP_QOE_CLASS_GAMING, FP_QOE_METRIC_GAME_LAT_US, 30000, 150000, 3);
    thr(p, FP_QOE_CLASS_GAMING, FP_QOE_METRIC_GAME_JITTER_US, 5000, 40000, 2);
    thr(p, FP_QOE_CLASS_GAMING, FP_QOE_METRIC_GAME_SPIKES, 0, 10, 2);
    thr(p, FP_QOE_CLASS_GAMING, FP_QOE_METRIC_RETX_PERMILLE, 5, 50, 1);

    thr(p, FP_QOE_CLASS_DNS, FP_QOE_METRIC_DNS_US, 20000, 500000, 2);
    thr(p, FP_QOE_CLASS_DNS, FP_QOE_METRIC_DNS_FAIL, 0, 1, 3);

    thr(p, FP_QOE_CLASS_BULK, FP_QOE_METRIC_RETX_PERMILLE, 5, 50, 2);
    thr(p, FP_QOE_CLASS_BULK, FP_QOE_METRIC_RTT_US, 100000, 800000, 1);
}

void fp_qoe_flow_set_class(struct fp_qoe_flow *q, enum fp_qoe_class cls)
{
    if ((unsigned)cls >= FP_QOE_CLASS_MAX)
        return;
    q->cls = (uint8_t)cls;
    if (q->engines & (FP_QOE_ENG_VIDEO | FP_QOE_ENG_GAME))
        return; /* the class engine is chosen once per flow */
    if (cls == FP_QOE_CLASS_VIDEO) {
        memset(&q->app.video, 0, sizeof(q->app.video));
        q->engines |= FP_QOE_ENG_VIDEO;
    } else if (cls == FP_QOE_CLASS_GAMING) {
        memset(&q->app.game, 0, sizeof(q->app.game));
        q->engines |= FP_QOE_ENG_GAME;
    }
}

void fp_qoe_flow_update(struct fp_qoe_flow *q, const struct fp_qoe_params *p, unsigned dir,
                        const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t t_ns)
{
    if (unlikely(!(q->engines & FP_QOE_ENG_INIT))) {
        q->engines |= FP_QOE_ENG_INIT;
        if (m->proto == 6)
            q->engines |= FP_QOE_ENG_TCP;
        else if (m->proto == 17 && (m->sport == 53 || m->dport == 53))
            q->engines |= FP_QOE_ENG_DNS;
        else if (m->proto == 17)
            q->engines |= FP_QOE_ENG_RTP;
        fp_qoe_splt_init(&q->splt, p->splt_n);
    }
    fp_qoe_splt_update(&q->splt, dir, m, t_ns);

    /* Transport engines need a parsed, complete L4 header (not a later fragment). */
    bool l4 = m->l4_off != 0 && m->frag != FP_FRAG_LATER &&
              !(m->notes & (FP_NOTE_L4_TRUNC | FP_NOTE_L4_HDR_BAD));
    if (l4) {
        if ((q->engines & FP_QOE_ENG_TCP) && m->proto == 6)
            fp_qoe_tcp_update(&q->l4.tcp, dir, m, frame, t_ns);
        else if ((q->engines & FP_QOE_ENG_RTP) && m->proto == 17)
            fp_qoe_rtp_update(&q->l4.rtp, dir, m, frame, t_ns);
        else if ((q->engines & FP_QOE_ENG_DNS) && m->proto == 17)
            fp_qoe_dns_update(&q->l4.dns, dir, m, frame, t_ns);
    }
    if (q->engines & FP_QOE_ENG_VIDEO)
        fp_qoe_video_update(&q->app.video, p, dir, m, t_ns);
    else if (q->engines & FP_QOE_ENG_GAME)
        fp_qoe_game_update(&q->app.game, p, dir, m, t_ns);
}

void fp_qoe_flow_result(const struct fp_qoe_flow *q, const struct fp_qoe_params *p,
                        const uint64_t packets[2], uint64_t t_end_ns, struct fp_qoe_result *r)
{
    memset(r, 0, sizeof(*r));
    if (q->engines & FP_QOE_ENG_TCP)
        fp_qoe_tcp_result(&q->l4.tcp, t_end_ns, r);
    else if (q->engines & FP_QOE_ENG_RTP)
        fp_qoe_rtp_result(&q->l4.rtp, p, r);
    else if (q->engines & FP_QOE_ENG_DNS)
        fp_qoe_dns_result(&q->l4.dns, r);
    if (q->engines & FP_QOE_ENG_VIDEO)
        fp_qoe_video_result(&q->app.video, r);
    else if (q->engines & FP_QOE_ENG_GAME)
        fp_qoe_game_result(&q->app.game, r);

    int64_t v[FP_QOE_METRIC_MAX];
    uint32_t present = fp_qoe_result_metrics(r, packets, v);
    int score = fp_qoe_score((enum fp_qoe_class)q->cls, p, v, present);
    if (score >= 0) {
        r->have |= FP_QOE_HAVE_SCORE;
        r->score = (uint8_t)score;
    }
}

#define SET(m, val)                                                                          \
    do {                                                                                     \
        v[FP_QOE_METRIC_##m] = (val);                                                        \
        present |= 1u << FP_QOE_METRIC_##m;                                                  \
    } while (0)

uint32_t fp_qoe_result_metrics(const struct fp_qoe_result *r, const uint64_t packets[2],
                               int64_t v[FP_QOE_METRIC_MAX])
{
    uint32_t present = 0;
    uint32_t h = r->have;

    memset(v, 0, sizeof(int64_t) * FP_QOE_METRIC_MAX);
    if ((h & FP_QOE_HAVE_SND) && (h & FP_QOE_HAVE_CND))
        SET(RTT_US, (int64_t)r->snd_us + r->cnd_us);
    else if ((h & FP_QOE_HAVE_RTT0) && (h & FP_QOE_HAVE_RTT1))
        SET(RTT_US, (int64_t)r->rtt_mean_us[0] + r->rtt_mean_us[1]);
    if (h & FP_QOE_HAVE_ART)
        SET(ART_US, r->art_us);
    if ((h & FP_QOE_HAVE_TCP) && packets && packets[0] + packets[1] > 0)
        SET(RETX_PERMILLE,
            (int64_t)(((uint64_t)r->retx_pkts[0] + r->retx_pkts[1]) * 1000 /
                      (packets[0] + packets[1])));
    if (h & FP_QOE_HAVE_TLS)
        SET(TLS_HS_US, r->tls_us);
    if (h & FP_QOE_HAVE_DNS) {
        if (r->dns_answered)
            SET(DNS_US, r->dns_us);
        SET(DNS_FAIL, !r->dns_answered || (r->dns_rcode != 0 && r->dns_rcode != 3));
    }
    for (unsigned i = 0; i < 2; i++) {
        if (!(h & (i ? FP_QOE_HAVE_RTP1 : FP_QOE_HAVE_RTP0)))
            continue;
        bool first = !(present & (1u << FP_QOE_METRIC_MOS_X100));
        int64_t loss = r->rtp_expected[i] && r->rtp_lost[i] > 0
                           ? (int64_t)r->rtp_lost[i] * 1000 / r->rtp_expected[i]
                           : 0;
        if (first || r->rtp_mos_x100[i] < v[FP_QOE_METRIC_MOS_X100])
            SET(MOS_X100, r->rtp_mos_x100[i]);
        if (first || loss > v[FP_QOE_METRIC_RTP_LOSS_PERMILLE])
            SET(RTP_LOSS_PERMILLE, loss);
        if (first || r->rtp_jitter_us[i] > v[FP_QOE_METRIC_RTP_JITTER_US])
            SET(RTP_JITTER_US, r->rtp_jitter_us[i]);
    }
    if (h & FP_QOE_HAVE_VIDEO) {
        SET(VIDEO_KBPS, (int64_t)(r->video_mean_bps / 1000));
        SET(VIDEO_STALL_BINS, r->video_stall_bins);
    }
    if (h & FP_QOE_HAVE_GAME) {
        SET(GAME_JITTER_US, r->game_jitter_us);
        SET(GAME_SPIKES, r->game_spikes);
    }
    if (h & FP_QOE_HAVE_GAME_LAT)
        SET(GAME_LAT_US, r->game_lat_mean_us);
    else if (present & (1u << FP_QOE_METRIC_RTT_US))
        SET(GAME_LAT_US, v[FP_QOE_METRIC_RTT_US]); /* TCP games: network RTT */
    return present;
}

int fp_qoe_score(enum fp_qoe_class cls, const struct fp_qoe_params *p,
                 const int64_t v[FP_QOE_METRIC_MAX], uint32_t present)
{
    if ((unsigned)cls >= FP_QOE_CLASS_MAX)
        return -EINVAL;
    uint64_t wsum = 0;
    double acc = 0;
    for (unsigned m = 0; m < FP_QOE_METRIC_MAX; m++) {
        const struct fp_qoe_threshold *t = &p->thr[cls][m];
        if (t->weight == 0 || !(present & (1u << m)) || t->good == t->bad)
            continue;
        double x = (double)(v[m] - t->good) / (double)(t->bad - t->good);
        if (x < 0)
            x = 0;
        if (x > 1)
            x = 1;
        acc += t->weight * 100.0 * (1.0 - x);
        wsum += t->weight;
    }
    if (wsum == 0)
        return -ENODATA;
    return (int)(acc / (double)wsum + 0.5);
}
