/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ie_send: test driver for FlowPulse's enterprise elements. Pushes two flow records with known
 * classification, QoE and SPLT values through the real exporter (src/export) to collectors
 * given as URLs (udp://127.0.0.1:PORT, tcp://..., file:PATH; loopback only), then stops.
 *
 *   ie_send [-b] [-P PEN] [-p PAUSE_MS] URL...
 *     -b  biflow records (default: uniflow)   -P  export.pen   -p  pause before stopping
 *
 * The values are the inputs the integration test (tests/integration/test_ie_collectors.sh)
 * expects collectors to print; they are listed in its header and must stay in step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "export/export.h"

static void str(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s);
}

/* Record 0: IPv4 TCP video flow, every TCP/TLS/video metric set. */
static void make_tcp(struct fp_flow_record *r, uint64_t now_ns)
{
    static const uint16_t len[] = {0, 0, 0, 517, 1400};
    static const uint32_t iat[] = {0, 12345, 2400, 100, 50000};
    struct fp_qoe_result *q = &r->qoe;

    memset(r, 0, sizeof(*r));
    r->ip_version = 4;
    r->proto = 6;
    memcpy(r->src, (const uint8_t[]){10, 1, 0, 1}, 4);
    memcpy(r->dst, (const uint8_t[]){10, 2, 0, 2}, 4);
    r->sport = 40001;
    r->dport = 443;
    r->end_reason = 3;
    r->flow_id = 0x0100000000000001ull;
    r->dir[0] = (struct fp_flow_dir){.packets = 10, .bytes = 5000, .first_ns = now_ns - 2000000000,
                                     .last_ns = now_ns, .tcp_flags = 0x1b, .ttl_min = 64,
                                     .ttl_max = 64};
    r->dir[1] = (struct fp_flow_dir){.packets = 8, .bytes = 9000, .first_ns = now_ns - 1990000000,
                                     .last_ns = now_ns, .tcp_flags = 0x1b, .ttl_min = 50,
                                     .ttl_max = 52};
    r->app.app_id = 77;
    r->app.cls = FP_APP_CLASS_VIDEO;
    r->app.method = FP_APP_METHOD_SNI;
    r->app.confidence = 90;
    str(r->app.name, sizeof(r->app.name), "youtube");
    str(r->app.server_name, sizeof(r->app.server_name), "rr1.googlevideo.example");
    str(r->app.dns_name, sizeof(r->app.dns_name), "youtube.example");
    q->have = FP_QOE_HAVE_SND | FP_QOE_HAVE_CND | FP_QOE_HAVE_ART | FP_QOE_HAVE_RTT0 |
              FP_QOE_HAVE_RTT1 | FP_QOE_HAVE_TCP | FP_QOE_HAVE_TLS | FP_QOE_HAVE_VIDEO |
              FP_QOE_HAVE_SCORE;
    q->snd_us = 12345;
    q->cnd_us = 2345;
    q->art_us = 45678;
    q->srv_delay_us = 33333;
    q->tls_us = 56789;
    q->rtt_min_us[0] = 1000, q->rtt_mean_us[0] = 1500, q->rtt_max_us[0] = 2000;
    q->rtt_min_us[1] = 3000, q->rtt_mean_us[1] = 3500, q->rtt_max_us[1] = 4000;
    q->rtt_samples[0] = 5, q->rtt_samples[1] = 6;
    q->retx_pkts[0] = 3, q->retx_pkts[1] = 1;
    q->retx_bytes[0] = 4200, q->retx_bytes[1] = 1400;
    q->ooo_pkts[0] = 2;
    q->zw_events[1] = 1, q->zw_us[1] = 777;
    q->tcp_outcome = 4;
    q->video_mean_bps = 2500000, q->video_peak_bps = 8000000, q->video_bitrate_bps = 2400000;
    q->video_bursts = 4, q->video_burst_mean = 100000, q->video_burst_max = 250000;
    q->video_stall_bins = 1;
    q->score = 87;
    r->splt.n = 5;
    r->splt.dirs = 0x0a; /* packets 1 and 3 from the responder */
    memcpy(r->splt.len, len, sizeof(len));
    memcpy(r->splt.iat_us, iat, sizeof(iat));
}

/* Record 1: IPv6 UDP RTP conferencing flow (jitter, loss, MOS both ways) + DNS fields. */
static void make_rtp(struct fp_flow_record *r, uint64_t now_ns)
{
    struct fp_qoe_result *q = &r->qoe;

    memset(r, 0, sizeof(*r));
    r->ip_version = 6;
    r->proto = 17;
    static const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x11};
    static const uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x22};
    memcpy(r->src, a, 16);
    memcpy(r->dst, b, 16);
    r->sport = 50000;
    r->dport = 3478;
    r->end_reason = 1;
    r->flow_id = 0x0100000000000002ull;
    r->dir[0] = (struct fp_flow_dir){.packets = 1000, .bytes = 200000,
                                     .first_ns = now_ns - 20000000000ull, .last_ns = now_ns,
                                     .ttl_min = 60, .ttl_max = 60};
    r->dir[1] = (struct fp_flow_dir){.packets = 900, .bytes = 180000,
                                     .first_ns = now_ns - 19990000000ull, .last_ns = now_ns,
                                     .ttl_min = 55, .ttl_max = 57};
    r->app.app_id = 1234;
    r->app.cls = FP_APP_CLASS_CONFERENCING;
    r->app.method = FP_APP_METHOD_DPI;
    r->app.confidence = 100;
    str(r->app.name, sizeof(r->app.name), "zoom");
    str(r->app.dns_name, sizeof(r->app.dns_name), "zoom.example");
    q->have = FP_QOE_HAVE_RTP0 | FP_QOE_HAVE_RTP1 | FP_QOE_HAVE_SCORE | FP_QOE_HAVE_DNS;
    q->rtp_jitter_us[0] = 4321, q->rtp_jitter_us[1] = 1234;
    q->rtp_jitter_max_us[0] = 9000, q->rtp_jitter_max_us[1] = 3000;
    q->rtp_lost[0] = 7, q->rtp_lost[1] = -1;
    q->rtp_expected[0] = 1000, q->rtp_expected[1] = 900;
    q->rtp_reordered[0] = 2;
    q->rtp_mos_x100[0] = 410, q->rtp_mos_x100[1] = 395;
    q->rtp_r_x100[0] = 8800, q->rtp_r_x100[1] = 8500;
    q->dns_us = 23456, q->dns_rcode = 3, q->dns_answered = 1, q->dns_retries = 2;
    q->score = 72;
    r->splt.n = 2;
    r->splt.dirs = 0x2;
    r->splt.len[0] = 160, r->splt.len[1] = 172;
    r->splt.iat_us[0] = 0, r->splt.iat_us[1] = 20000;
}

int main(int argc, char **argv)
{
    struct fp_config cfg;
    char err[256];
    int opt, pause_ms = 0;
    bool biflow = false;

    fp_config_defaults(&cfg);
    cfg.stats_interval_s = 0;
    while ((opt = getopt(argc, argv, "bP:p:")) != -1) {
        switch (opt) {
        case 'b':
            biflow = true;
            break;
        case 'P':
            cfg.export_pen = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'p':
            pause_ms = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: ie_send [-b] [-P PEN] [-p PAUSE_MS] URL...\n");
            return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (fp_config_add_collector_url(&cfg, argv[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "ie_send: %s\n", err);
            return 2;
        }
        cfg.collectors[cfg.n_collectors - 1].biflow = biflow;
    }
    if (cfg.n_collectors == 0) {
        fprintf(stderr, "ie_send: no collector URL\n");
        return 2;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    struct fp_flow_record recs[2];
    make_tcp(&recs[0], now_ns);
    make_rtp(&recs[1], now_ns);

    struct rte_ring *ring = fp_export_ring_create("ie_send", 16);
    if (ring == NULL || fp_export_ring_put_burst(ring, recs, 2) != 2) {
        fprintf(stderr, "ie_send: ring\n");
        return 1;
    }
    struct fp_exporter_params p = {.cfg = &cfg, .rings = &ring, .n_rings = 1};
    struct fp_exporter *ex = fp_exporter_create(&p);
    if (ex == NULL) {
        perror("ie_send: exporter");
        fp_export_ring_free(ring);
        return 1;
    }
    int rc = fp_exporter_start(ex);
    if (pause_ms > 0)
        usleep((useconds_t)pause_ms * 1000u);
    if (rc == 0)
        rc = fp_exporter_stop(ex);
    struct fp_collector_stats st;
    int fail = rc != 0;
    for (unsigned i = 0; i < fp_exporter_collector_count(ex); i++) {
        fp_exporter_get_stats(ex, i, &st);
        printf("collector %u: records %llu not_sent %llu messages %llu%s%s\n", i,
               (unsigned long long)st.records, (unsigned long long)st.records_not_sent,
               (unsigned long long)st.messages, st.last_error[0] ? " error " : "", st.last_error);
        fail |= st.records == 0 || st.records_not_sent != 0;
    }
    fp_exporter_destroy(ex);
    fp_export_ring_free(ring);
    return fail ? 1 : 0;
}
