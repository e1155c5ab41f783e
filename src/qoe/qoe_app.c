/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Class engines: video (1 s throughput bins, bursts, bitrate estimate, stall indicator) and
 * gaming (inter-arrival jitter, request/response latency, lag spikes), plus SPLT.
 * Worker lcore only; no allocation, no locks, no logging.
 */
#include "qoe/qoe.h"

#define BIN_US 1000000u

#define V_INIT 0x01u
#define V_CONT 0x02u /* current bin has had no silence longer than the burst gap */

#define G_REQ 0x01u      /* a request is outstanding (req_t) */
#define G_LAST1 0x02u    /* last_t[1] valid */
#define G_IAT 0x04u      /* iat_prev valid */

static inline uint16_t sat_add16(uint16_t a, uint32_t b)
{
    return (uint32_t)a + b > UINT16_MAX ? UINT16_MAX : (uint16_t)(a + b);
}

void fp_qoe_video_update(struct fp_qoe_video *v, const struct fp_qoe_params *p, unsigned dir,
                         const struct fp_pkt_meta *m, uint64_t t_ns)
{
    uint32_t len = fp_qoe_l4_len(m);
    if ((dir & 1) != 1 || len == 0)
        return;
    uint32_t t = fp_qoe_us(t_ns);

    if (!(v->flags & V_INIT)) {
        v->flags = V_INIT | V_CONT;
        v->bin_start = t;
        v->last_t = t;
        v->bursts = 1;
    } else {
        bool cont = (uint32_t)(t - v->last_t) <= p->video_burst_gap_us;
        uint32_t el = t - v->bin_start;
        if (el >= BIN_US) {
            uint32_t k = el / BIN_US;
            /* The closing bin is a stall bin when it lay wholly inside one burst (no silence
             * longer than the burst gap, including across both edges) yet carried less than
             * the lowest playable rate: the player was fetching but starving. */
            if (k == 1 && cont && (v->flags & V_CONT) &&
                (uint64_t)v->bin_bytes * 8 < p->video_stall_bps)
                v->stall_bins = sat_add16(v->stall_bins, 1);
            if (v->bin_bytes > v->peak_bin)
                v->peak_bin = v->bin_bytes;
            v->nbins = sat_add16(v->nbins, k);
            v->bin_start += k * BIN_US;
            v->bin_bytes = 0;
            v->flags |= V_CONT;
        }
        if (!cont) {
            v->flags &= (uint8_t)~V_CONT;
            v->bursts = sat_add16(v->bursts, 1);
            v->burst_cur = 0;
        }
    }
    v->bytes += len;
    v->bin_bytes += len;
    v->burst_cur += len;
    if (v->burst_cur > v->burst_max)
        v->burst_max = v->burst_cur;
    v->last_t = t;
}

void fp_qoe_video_result(const struct fp_qoe_video *v, struct fp_qoe_result *r)
{
    if (!(v->flags & V_INIT))
        return;
    r->have |= FP_QOE_HAVE_VIDEO;
    uint64_t nb = (uint64_t)v->nbins + 1; /* the last, partial bin counts as one bin */
    r->video_mean_bps = v->bytes * 8 / nb;
    r->video_peak_bps = (uint64_t)FP_MAX(v->peak_bin, v->bin_bytes) * 8;
    uint64_t dur = (uint64_t)v->nbins * BIN_US + (uint32_t)(v->last_t - v->bin_start);
    r->video_bitrate_bps = dur ? v->bytes * 8 * 1000000u / dur : r->video_mean_bps;
    r->video_bursts = v->bursts;
    r->video_burst_mean = v->bursts ? (uint32_t)(v->bytes / v->bursts) : 0;
    r->video_burst_max = v->burst_max;
    r->video_stall_bins = v->stall_bins;
}

void fp_qoe_game_update(struct fp_qoe_game *g, const struct fp_qoe_params *p, unsigned dir,
                        const struct fp_pkt_meta *m, uint64_t t_ns)
{
    if (fp_qoe_l4_len(m) == 0)
        return;
    uint32_t t = fp_qoe_us(t_ns);

    if ((dir & 1) == 0) {
        if (!(g->flags & G_REQ)) {
            g->req_t = t;
            g->flags |= G_REQ;
        }
        g->last_t[0] = t;
        return;
    }
    if (g->flags & G_LAST1) {
        uint32_t iat = t - g->last_t[1];
        if (iat > p->game_gap_us)
            g->gaps = sat_add16(g->gaps, 1);
        if (g->flags & G_IAT) {
            uint32_t d = iat > g->iat_prev ? iat - g->iat_prev : g->iat_prev - iat;
            if (d > (1u << 27))
                d = 1u << 27;
            g->jitter_q4 += d - ((g->jitter_q4 + 8) >> 4);
        }
        g->iat_prev = iat;
        g->flags |= G_IAT;
    }
    g->last_t[1] = t;
    g->flags |= G_LAST1;
    if (g->flags & G_REQ) {
        uint32_t lat = t - g->req_t;
        g->flags &= (uint8_t)~G_REQ;
        if (g->lat_n == 0 || lat < g->lat_min)
            g->lat_min = lat;
        if (lat > g->lat_max)
            g->lat_max = lat;
        if (g->lat_n == UINT16_MAX || g->lat_sum > UINT32_MAX - lat) {
            uint16_t n2 = (uint16_t)(g->lat_n >> 1);
            g->lat_sum = n2 ? (uint32_t)((uint64_t)g->lat_sum * n2 / g->lat_n) : 0;
            g->lat_n = n2;
        }
        g->lat_sum += lat;
        g->lat_n++;
        if (lat > p->game_spike_us)
            g->spikes = sat_add16(g->spikes, 1);
    }
}

void fp_qoe_game_result(const struct fp_qoe_game *g, struct fp_qoe_result *r)
{
    if (g->flags & G_LAST1) {
        r->have |= FP_QOE_HAVE_GAME;
        r->game_jitter_us = (g->jitter_q4 + 8) >> 4;
        r->game_spikes = g->spikes;
        r->game_gaps = g->gaps;
    }
    if (g->lat_n) {
        r->have |= FP_QOE_HAVE_GAME_LAT;
        r->game_lat_min_us = g->lat_min;
        r->game_lat_max_us = g->lat_max;
        r->game_lat_mean_us = (uint32_t)(((uint64_t)g->lat_sum + g->lat_n / 2) / g->lat_n);
    }
}

/* ---------------------------------- SPLT ----------------------------------------- */

uint16_t fp_qoe_splt_iat_encode(uint32_t us)
{
    if (us < 256)
        return (uint16_t)us;
    unsigned e = (unsigned)(31 - __builtin_clz(us)) - 7; /* us >> e in [128, 255] */
    if (e > 15)
        return 0xfff;
    return (uint16_t)(e << 8 | (us >> e));
}

uint32_t fp_qoe_splt_iat_decode(uint16_t code)
{
    return (uint32_t)(code & 0xffu) << ((code >> 8) & 0xfu);
}

void fp_qoe_splt_init(struct fp_qoe_splt *s, unsigned n)
{
    s->n = 0;
    s->cap = (uint8_t)FP_MIN(n, (unsigned)FP_QOE_SPLT_CAP);
    s->last_t = 0;
}

void fp_qoe_splt_update(struct fp_qoe_splt *s, unsigned dir, const struct fp_pkt_meta *m,
                        uint64_t t_ns)
{
    if (s->n >= s->cap)
        return;
    uint32_t t = fp_qoe_us(t_ns);
    int32_t iat = s->n ? (int32_t)(t - s->last_t) : 0;
    uint32_t len = FP_MIN(fp_qoe_l4_len(m), FP_QOE_SPLT_LEN_MAX);
    uint32_t w = (dir & 1u) << 23 | len << 12 | fp_qoe_splt_iat_encode(iat > 0 ? (uint32_t)iat : 0);
    s->e[s->n][0] = (uint8_t)(w >> 16);
    s->e[s->n][1] = (uint8_t)(w >> 8);
    s->e[s->n][2] = (uint8_t)w;
    s->n++;
    s->last_t = t;
}

void fp_qoe_splt_get(const struct fp_qoe_splt *s, unsigned i, unsigned *dir, uint32_t *len,
                     uint32_t *iat_us)
{
    uint32_t w = (uint32_t)s->e[i][0] << 16 | (uint32_t)s->e[i][1] << 8 | s->e[i][2];
    *dir = (w >> 23) & 1u;
    *len = (w >> 12) & 0x7ffu;
    *iat_us = fp_qoe_splt_iat_decode((uint16_t)(w & 0xfffu));
}
