/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Export IE suite: FlowPulse enterprise elements. Records with classification, QoE and SPLT
 * values go through the real exporter into a file; the file is decoded twice with libfixbuf's
 * collector API — with a model loaded from ie-defs/flowpulse.xml, and with a bare model that
 * learns the elements from the RFC 5610 type records — and every field is compared with the
 * input. A raw scan checks that the type records precede every data record, and the kit test
 * regenerates scripts/kits into a temporary directory and compares with the committed files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export_ie.h"
#include "tests/unit/fp_test.h"

#define T_XML "ie-defs/flowpulse.xml"
#define T_PEN 32473u
#define T_NS 1700000000000000000ull

/* ------------------------------------------------------------------ input vectors */

static void t_vec(struct fp_flow_record *r, unsigned i)
{
    struct fp_qoe_result *q = &r->qoe;
    memset(r, 0, sizeof(*r));
    r->ip_version = i % 2 ? 6 : 4;
    r->proto = i % 2 ? 17 : 6;
    r->src[0] = 10, r->src[3] = (uint8_t)(1 + i);
    r->dst[0] = 10, r->dst[3] = 200;
    if (r->ip_version == 6)
        r->src[0] = r->dst[0] = 0x20;
    r->sport = (uint16_t)(1000 + i);
    r->dport = 443;
    r->end_reason = 1;
    r->flow_id = 0x0100000000000000ull + i + 1;
    r->dir[0] = (struct fp_flow_dir){.packets = 10 + i, .bytes = 1000 + i, .first_ns = T_NS,
                                     .last_ns = T_NS + 5000000, .ttl_min = 1, .ttl_max = 2};
    r->dir[1] = (struct fp_flow_dir){.packets = 5 + i, .bytes = 700 + i, .first_ns = T_NS + 1,
                                     .last_ns = T_NS + 4000000, .ttl_min = 3, .ttl_max = 4};
    r->app.app_id = (uint16_t)(300 + i);
    r->app.cls = (uint8_t)(1 + i % (FP_APP_CLASS_MAX - 1));
    r->app.method = (uint8_t)(1 + i % 6);
    r->app.confidence = (uint8_t)(50 + i);
    snprintf(r->app.name, sizeof(r->app.name), "app-%u-é", i); /* UTF-8 passes through */
    snprintf(r->app.server_name, sizeof(r->app.server_name), "srv%u.example.org", i);
    if (i != 2)
        snprintf(r->app.dns_name, sizeof(r->app.dns_name), "dns%u.example.net", i);
    q->have = FP_QOE_HAVE_SND | FP_QOE_HAVE_RTT0 | FP_QOE_HAVE_RTP1 | FP_QOE_HAVE_SCORE;
    q->snd_us = 1001 + i, q->cnd_us = 1002 + i, q->art_us = 1003 + i, q->srv_delay_us = 1004;
    q->tls_us = 1005 + i;
    for (unsigned d = 0; d < 2; d++) {
        unsigned k = 100 * (d + 1) + i;
        q->rtt_min_us[d] = k + 1, q->rtt_mean_us[d] = k + 2, q->rtt_max_us[d] = k + 3;
        q->rtt_samples[d] = k + 4, q->retx_pkts[d] = k + 5, q->retx_bytes[d] = k + 6;
        q->ooo_pkts[d] = k + 7, q->zw_events[d] = k + 8, q->zw_us[d] = k + 9;
        q->rtp_jitter_us[d] = k + 10, q->rtp_jitter_max_us[d] = k + 11;
        q->rtp_lost[d] = d ? -(int32_t)k : (int32_t)k, q->rtp_expected[d] = k + 12;
        q->rtp_reordered[d] = (uint16_t)(k + 13), q->rtp_mos_x100[d] = 100 + k;
        q->rtp_r_x100[d] = -(int32_t)(k + 14);
    }
    q->tcp_outcome = 4, q->dns_rcode = 3, q->dns_answered = 1, q->dns_retries = 2;
    q->dns_us = 2001 + i;
    q->video_mean_bps = 0x100000001ull + i, q->video_peak_bps = 3000000000ull;
    q->video_bitrate_bps = 123456789, q->video_bursts = 11, q->video_burst_mean = 12;
    q->video_burst_max = 13, q->video_stall_bins = 14;
    q->game_lat_min_us = 21, q->game_lat_mean_us = 22, q->game_lat_max_us = 23;
    q->game_jitter_us = 24, q->game_spikes = 25, q->game_gaps = 26;
    q->score = (uint8_t)(60 + i);
    r->splt.n = (uint8_t)(i == 3 ? 0 : 3 + i * 5); /* 3, 8, 13, 0 (empty lists), 23 */
    for (unsigned k = 0; k < r->splt.n; k++) {
        r->splt.len[k] = (uint16_t)(40 + 10 * k + i);
        r->splt.iat_us[k] = k ? 1000u * k + i : 0;
    }
    r->splt.dirs = 0x5a5a5a5au & ((1u << r->splt.n) - 1);
}

/* ------------------------------------------------------------------ decoding */

/* Collection struct: only what we check, names as in ie-defs (libfixbuf matches by IE). */
struct t_rec {
    uint64_t flow_id;
    uint64_t video_mean, video_peak, video_bitrate;
    fbVarfield_t app_name, app_class, server, dns, std_name, std_cat;
    fbBasicList_t bl[3];
    uint32_t valid, snd, cnd, art, srv, tls;
    uint32_t fwd[14], rev[14]; /* rtt min/mean/max/samples, retx p/o, ooo, zw e/us, jit, jmax,
                                  lost, expected, r */
    uint32_t dns_us, vb, vbm, vbx, vstall, gmin, gmean, gmax, gjit, gsp, ggap;
    uint32_t src4;
    uint16_t app_id, fwd_reord, fwd_mos, rev_reord, rev_mos;
    uint8_t cls, method, conf, outcome, rcode, answered, retries, score;
    uint8_t pad[6];
};

#define R4(n) "reverse" n
static const char *const t_rec_ies[] = {
    "flowId", "fpVideoMeanBps", "fpVideoPeakBps", "fpVideoBitrateBps", "fpAppName",
    "fpAppClass", "fpServerName", "fpDnsName", "applicationName", "applicationCategoryName",
    "basicList", "basicList", "basicList", "fpQoeValid", "fpServerNwDelayUs",
    "fpClientNwDelayUs", "fpAppResponseTimeUs", "fpServerDelayUs", "fpTlsHandshakeUs",
    "fpRttMinUs", "fpRttMeanUs", "fpRttMaxUs", "fpRttSamples", "fpRetransPackets",
    "fpRetransOctets", "fpOutOfOrderPackets", "fpZeroWindowEvents", "fpZeroWindowUs",
    "fpRtpJitterUs", "fpRtpJitterMaxUs", "fpRtpLost", "fpRtpExpected", "fpRtpRFactorX100",
    R4("FpRttMinUs"), R4("FpRttMeanUs"), R4("FpRttMaxUs"), R4("FpRttSamples"),
    R4("FpRetransPackets"), R4("FpRetransOctets"), R4("FpOutOfOrderPackets"),
    R4("FpZeroWindowEvents"), R4("FpZeroWindowUs"), R4("FpRtpJitterUs"),
    R4("FpRtpJitterMaxUs"), R4("FpRtpLost"), R4("FpRtpExpected"), R4("FpRtpRFactorX100"),
    "fpDnsResponseUs", "fpVideoBursts", "fpVideoBurstMeanOctets", "fpVideoBurstMaxOctets",
    "fpVideoStallBins", "fpGameLatencyMinUs", "fpGameLatencyMeanUs", "fpGameLatencyMaxUs",
    "fpGameJitterUs", "fpGameSpikes", "fpGameGaps", "sourceIPv4Address", "fpAppId",
    "fpRtpReordered", "fpRtpMosX100", R4("FpRtpReordered"), R4("FpRtpMosX100"),
    "fpAppClassId", "fpAppMethod", "fpAppConfidence", "fpTcpOutcome", "fpDnsRcode",
    "fpDnsAnswered", "fpDnsRetries", "fpQoeScore", "paddingOctets", NULL,
};

struct t_out {
    struct t_rec rec[32];
    unsigned n;
    bool learnt_ok; /* bare model: names, types and descriptions learnt from RFC 5610 */
    /* Decoded strings and lists point into the collector's buffers: freed after the checks. */
    fBuf_t *fb;
    fbInfoModel_t *model;
};

static void t_out_free(struct t_out *o)
{
    if (o->fb)
        fBufFree(o->fb);
    if (o->model)
        fbInfoModelFree(o->model);
    o->fb = NULL;
    o->model = NULL;
}

static fbTemplate_t *t_tmpl(fbInfoModel_t *m)
{
    GError *err = NULL;
    fbTemplate_t *t = fbTemplateAlloc(m);
    for (unsigned i = 0; t_rec_ies[i]; i++) {
        const fbInfoElement_t *ie = fbInfoModelGetElementByName(m, t_rec_ies[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ie);
        char name[64];
        snprintf(name, sizeof(name), "%s", t_rec_ies[i]);
        fbInfoElementSpec_t spec = {name, strcmp(name, "paddingOctets") ? ie->len : 6, 0};
        CU_ASSERT_FATAL(fbTemplateAppendSpec(t, &spec, 0, &err));
    }
    CU_ASSERT_EQUAL(fbTemplateGetIELenOfMemBuffer(t), sizeof(struct t_rec));
    return t;
}

/*
 * Decode @p path. xml: model from ie-defs (else bare model + RFC 5610 learning).
 * @return 0 or a negative step number.
 */
static int t_decode(const char *path, bool xml, struct t_out *o)
{
    GError *err = NULL;
    memset(o, 0, sizeof(*o));
    fbInfoModel_t *m = fbInfoModelAlloc();
    if (xml && !fbInfoModelReadXMLFile(m, T_XML, &err)) {
        fprintf(stderr, "read %s: %s\n", T_XML, err ? err->message : "?");
        g_clear_error(&err);
        fbInfoModelFree(m);
        return -1;
    }
    fbSession_t *s = fbSessionAlloc(m);
    fbCollector_t *col = fbCollectorAllocFile(NULL, path, &err);
    if (col == NULL) {
        g_clear_error(&err);
        fbSessionFree(s);
        fbInfoModelFree(m);
        return -2;
    }
    fBuf_t *fb = fBufAllocForCollection(s, col);
    if (!xml)
        fBufSetAutomaticInsert(fb, &err); /* type records → model */
    bool have_tmpl = false;
    int rc = 0;
    {
        fbTemplate_t *t1 = fbTemplateAlloc(m);
        fbInfoElementSpec_t spec = {(char *)(uintptr_t) "flowId", 8, 0};
        fbTemplateAppendSpec(t1, &spec, 0, &err);
        fbSessionAddTemplate(s, TRUE, 0x9101, t1, &err);
    }
    for (;;) {
        uint16_t etid = 0;
        fbTemplate_t *t = fBufNextCollectionTemplate(fb, &etid, &err);
        if (t == NULL) {
            if (!g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOF))
                rc = -3;
            g_clear_error(&err);
            break;
        }
        if (etid < FP_TID_UNI4_IE || etid > FP_TID_BI6_IE) {
            uint64_t scratch = 0; /* options / type records: read through {flowId} */
            size_t len = sizeof(scratch);
            fBufSetInternalTemplate(fb, 0x9101, &err);
            if (!fBufNext(fb, (uint8_t *)&scratch, &len, &err)) {
                rc = -5;
                g_clear_error(&err);
                break;
            }
            continue;
        }
        if (!have_tmpl) {
            fbSessionAddTemplate(s, TRUE, 0x9100, t_tmpl(m), &err);
            have_tmpl = true;
        }
        struct t_rec *r = &o->rec[o->n < 31 ? o->n++ : 31];
        size_t len = sizeof(*r);
        memset(r, 0, sizeof(*r));
        fBufSetInternalTemplate(fb, 0x9100, &err);
        if (!fBufNext(fb, (uint8_t *)r, &len, &err)) {
            rc = -4;
            g_clear_error(&err);
            break;
        }
    }
    if (!xml) {
        const fbInfoElement_t *ie = fbInfoModelGetElementByName(m, "fpAppClass");
        const fbInfoElement_t *rv = fbInfoModelGetElementByName(m, "reverseFpRttMinUs");
        o->learnt_ok = ie && ie->ent == T_PEN && ie->num == FP_IE_APP_CLASS &&
                       ie->type == FB_STRING && rv && rv->num == (FP_IE_RTT_MIN_US | 0x4000);
    }
    o->fb = fb;
    o->model = m;
    return rc;
}

/* ------------------------------------------------------------------ raw scan */

struct t_raw {
    unsigned type_records;      /* data records of template 266 */
    unsigned type_before_data;  /* ... seen before the first flow data record */
    unsigned flow_sets;
    bool type_tmpl_scope2;
};

static uint16_t t_r16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static size_t t_read(const char *path, uint8_t **buf)
{
    FILE *f = fopen(path, "rb");
    *buf = NULL;
    if (f == NULL)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    size_t got = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    return got;
}

/* Count type records by walking them: each is 26 fixed octets + two variable-length strings. */
static void t_scan(const uint8_t *b, size_t len, struct t_raw *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t off = 0; off + 16 <= len;) {
        size_t mlen = t_r16(b + off + 2);
        CU_ASSERT_FATAL(mlen >= 16 && off + mlen <= len);
        for (size_t so = off + 16; so + 4 <= off + mlen;) {
            uint16_t sid = t_r16(b + so), slen = t_r16(b + so + 2);
            CU_ASSERT_FATAL(slen >= 4);
            if (sid == 3 && t_r16(b + so + 4) == FP_TID_IE_TYPE)
                o->type_tmpl_scope2 = t_r16(b + so + 8) == 2;
            if (sid == FP_TID_IE_TYPE) {
                size_t p = so + 4;
                while (p + 26 < so + slen) {
                    p += 26;
                    for (int k = 0; k < 2; k++) {
                        size_t l = b[p++];
                        if (l == 255) {
                            l = t_r16(b + p);
                            p += 2;
                        }
                        p += l;
                    }
                    o->type_records++;
                    if (o->flow_sets == 0)
                        o->type_before_data++;
                }
                CU_ASSERT_EQUAL(p, so + slen);
            }
            if (sid >= FP_TID_UNI4_IE && sid <= FP_TID_BI6_IE)
                o->flow_sets++;
            so += slen;
        }
        off += mlen;
    }
}

/* ------------------------------------------------------------------ checks */

static const char *const t_class_names[] = {
    "unknown", "video", "conferencing", "gaming", "software-update", "social-media",
    "file-storage", "messaging", "music", "web", "email", "vpn", "remote-access",
    "infrastructure",
};

static bool t_str(const fbVarfield_t *v, const char *want)
{
    if (v->len == 0)
        return want[0] == '\0'; /* an empty varfield may have a NULL buffer */
    return v->len == strlen(want) && memcmp(v->buf, want, v->len) == 0;
}

static void t_check(struct t_rec *g, const struct fp_flow_record *r, unsigned d, bool bi)
{
    const struct fp_qoe_result *q = &r->qoe;
    CU_ASSERT_EQUAL(g->flow_id, r->flow_id);
    if (r->ip_version == 4) {
        const uint8_t *s = d ? r->dst : r->src;
        CU_ASSERT_EQUAL(g->src4, (uint32_t)s[0] << 24 | s[3]);
    }
    CU_ASSERT(t_str(&g->app_name, r->app.name));
    CU_ASSERT(t_str(&g->std_name, r->app.name));
    CU_ASSERT(t_str(&g->app_class, t_class_names[r->app.cls]));
    CU_ASSERT(t_str(&g->std_cat, t_class_names[r->app.cls]));
    CU_ASSERT(t_str(&g->server, r->app.server_name));
    CU_ASSERT(t_str(&g->dns, r->app.dns_name));
    CU_ASSERT_EQUAL(g->app_id, r->app.app_id);
    CU_ASSERT_EQUAL(g->cls, r->app.cls);
    CU_ASSERT_EQUAL(g->method, r->app.method);
    CU_ASSERT_EQUAL(g->conf, r->app.confidence);
    /* have = SND | RTT0 | RTP1 | SCORE; bits follow the record's forward direction */
    uint32_t want = FP_QOE_HAVE_SND | FP_QOE_HAVE_SCORE;
    if (bi)
        want |= FP_QOE_HAVE_RTT0 | FP_QOE_HAVE_RTP1;
    else
        want |= d ? FP_QOE_HAVE_RTP0 : FP_QOE_HAVE_RTT0;
    CU_ASSERT_EQUAL(g->valid, want);
    CU_ASSERT_EQUAL(g->snd, q->snd_us);
    CU_ASSERT_EQUAL(g->cnd, q->cnd_us);
    CU_ASSERT_EQUAL(g->art, q->art_us);
    CU_ASSERT_EQUAL(g->srv, q->srv_delay_us);
    CU_ASSERT_EQUAL(g->tls, q->tls_us);
    for (unsigned k = 0; k < 2; k++) {
        unsigned dd = k == 0 ? d : 1;
        const uint32_t *got = k == 0 ? g->fwd : g->rev;
        uint32_t exp[14] = {
            q->rtt_min_us[dd], q->rtt_mean_us[dd], q->rtt_max_us[dd], q->rtt_samples[dd],
            q->retx_pkts[dd], q->retx_bytes[dd], q->ooo_pkts[dd], q->zw_events[dd],
            q->zw_us[dd], q->rtp_jitter_us[dd], q->rtp_jitter_max_us[dd],
            (uint32_t)q->rtp_lost[dd], q->rtp_expected[dd], (uint32_t)q->rtp_r_x100[dd],
        };
        if (k == 1 && !bi)
            memset(exp, 0, sizeof(exp)); /* uniflow templates carry no reverse elements */
        CU_ASSERT_EQUAL(memcmp(got, exp, sizeof(exp)), 0);
        uint16_t reord = k == 0 ? g->fwd_reord : g->rev_reord;
        uint16_t mos = k == 0 ? g->fwd_mos : g->rev_mos;
        CU_ASSERT_EQUAL(reord, k == 1 && !bi ? 0 : q->rtp_reordered[dd]);
        CU_ASSERT_EQUAL(mos, k == 1 && !bi ? 0 : q->rtp_mos_x100[dd]);
    }
    CU_ASSERT_EQUAL(g->outcome, q->tcp_outcome);
    CU_ASSERT_EQUAL(g->dns_us, q->dns_us);
    CU_ASSERT_EQUAL(g->rcode, q->dns_rcode);
    CU_ASSERT_EQUAL(g->answered, q->dns_answered);
    CU_ASSERT_EQUAL(g->retries, q->dns_retries);
    CU_ASSERT_EQUAL(g->video_mean, q->video_mean_bps);
    CU_ASSERT_EQUAL(g->video_peak, q->video_peak_bps);
    CU_ASSERT_EQUAL(g->video_bitrate, q->video_bitrate_bps);
    CU_ASSERT(g->vb == q->video_bursts && g->vbm == q->video_burst_mean &&
              g->vbx == q->video_burst_max && g->vstall == q->video_stall_bins);
    CU_ASSERT(g->gmin == q->game_lat_min_us && g->gmean == q->game_lat_mean_us &&
              g->gmax == q->game_lat_max_us && g->gjit == q->game_jitter_us &&
              g->gsp == q->game_spikes && g->ggap == q->game_gaps);
    CU_ASSERT_EQUAL(g->score, q->score);
    /* SPLT: three ordered basicLists of N elements each */
    static const unsigned ids[3] = {FP_IE_SPLT_PACKET_LENGTH, FP_IE_SPLT_DIRECTION,
                                    FP_IE_SPLT_INTER_ARRIVAL_US};
    for (unsigned k = 0; k < 3; k++) {
        fbBasicList_t *bl = &g->bl[k];
        CU_ASSERT_PTR_NOT_NULL_FATAL(bl->infoElement);
        CU_ASSERT_EQUAL(bl->infoElement->num, ids[k]);
        /* libfixbuf 2.4.1's collector leaves ent 0 in a list's element copy (ipfixDump
         * shows the PEN on the wire); check the element by id, size and units instead */
        CU_ASSERT_EQUAL(bl->infoElement->len, k == 0 ? 2 : k == 1 ? 1 : 4);
        CU_ASSERT_EQUAL(FB_IE_UNITS(bl->infoElement->flags), k == 0 ? 2 : k == 1 ? 0 : 7);
        CU_ASSERT_EQUAL(bl->semantic, FB_LIST_SEM_ORDERED);
        CU_ASSERT_EQUAL(bl->numElements, r->splt.n);
        for (unsigned e = 0; e < bl->numElements && e < r->splt.n; e++) {
            void *p = fbBasicListGetIndexedDataPtr(bl, e);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            if (k == 0)
                CU_ASSERT_EQUAL(*(uint16_t *)p, r->splt.len[e]);
            if (k == 1)
                CU_ASSERT_EQUAL(*(uint8_t *)p, (r->splt.dirs >> e) & 1);
            if (k == 2)
                CU_ASSERT_EQUAL(*(uint32_t *)p, r->splt.iat_us[e]);
        }
        fbBasicListClear(bl);
    }
}

/* ------------------------------------------------------------------ harness */

#define N_VEC 5

static void t_run(bool biflow, bool xml_model, const char *tag)
{
    char path[128];
    snprintf(path, sizeof(path), "/tmp/fp_test_export_ie_%d_%s.ipfix", (int)getpid(), tag);
    struct fp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.n_collectors = 1;
    cfg.observation_domain = 3;
    cfg.template_refresh_s = 600;
    cfg.export_enterprise = true;
    cfg.export_pen = 0; /* 0 = the XML's PEN */
    cfg.collectors[0].transport = FP_TRANSPORT_FILE;
    cfg.collectors[0].biflow = biflow;
    snprintf(cfg.collectors[0].path, sizeof(cfg.collectors[0].path), "%s", path);

    static struct fp_flow_record in[N_VEC];
    struct rte_ring *ring = fp_export_ring_create("ie", 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ring);
    for (unsigned i = 0; i < N_VEC; i++) {
        t_vec(&in[i], i);
        CU_ASSERT(fp_export_ring_put(ring, &in[i]));
    }
    struct fp_exporter_params p = {.cfg = &cfg, .rings = &ring, .n_rings = 1,
                                   .exporting_process_id = 99};
    struct fp_exporter *ex = fp_exporter_create(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
    CU_ASSERT_EQUAL(fp_exporter_start(ex), 0);
    CU_ASSERT_EQUAL(fp_exporter_stop(ex), 0);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_EQUAL(st.records, biflow ? N_VEC : 2 * N_VEC);
    CU_ASSERT_EQUAL(st.records_not_sent, 0);
    fp_exporter_destroy(ex);
    fp_export_ring_free(ring);

    uint8_t *buf;
    size_t len = t_read(path, &buf);
    CU_ASSERT(len > 0);
    struct t_raw raw;
    t_scan(buf, len, &raw);
    free(buf);
    CU_ASSERT(raw.type_tmpl_scope2);
    CU_ASSERT_EQUAL(raw.type_records, fp_export_ie_type_count(biflow));
    CU_ASSERT_EQUAL(raw.type_before_data, raw.type_records); /* all before any flow data */
    CU_ASSERT(raw.flow_sets >= 1);
    CU_ASSERT_EQUAL(fp_export_ie_type_count(false), FP_IE_COUNT);
    CU_ASSERT(fp_export_ie_type_count(true) > FP_IE_COUNT);

    static struct t_out out;
    CU_ASSERT_EQUAL(t_decode(path, xml_model, &out), 0);
    if (!xml_model)
        CU_ASSERT(out.learnt_ok);
    CU_ASSERT_EQUAL(out.n, biflow ? N_VEC : 2 * N_VEC);
    unsigned k = 0;
    for (unsigned i = 0; i < N_VEC && k < out.n; i++)
        for (unsigned d = 0; d < (biflow ? 1u : 2u) && k < out.n; d++)
            t_check(&out.rec[k++], &in[i], d, biflow);
    t_out_free(&out);
    unlink(path);
}

static void test_uniflow_xml_model(void)
{
    t_run(false, true, "uni");
}

static void test_biflow_rfc5610_model(void)
{
    t_run(true, false, "bi");
}

static void test_templates(void)
{
    fbInfoModel_t *m = fbInfoModelAlloc();
    fp_export_ie_model_add(m, T_PEN);
    static const uint16_t tids[] = {FP_TID_UNI4_IE, FP_TID_UNI6_IE, FP_TID_BI4_IE,
                                    FP_TID_BI6_IE, FP_TID_IE_TYPE};
    for (unsigned i = 0; i < FP_ARRAY_SIZE(tids); i++) {
        const struct fp_ipfix_template *t = fp_export_template_get(tids[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        int rc = -1;
        fbTemplate_t *it = fp_export_template_build(m, t, true, &rc);
        CU_ASSERT_EQUAL(rc, 0); /* checks the record size against the template */
        CU_ASSERT_PTR_NOT_NULL(it);
        if (it)
            fbTemplateFreeUnused(it);
    }
    /* every element of the generated list is in the model, with its PEN and reverse */
    const fbInfoElement_t *e = fbInfoModelGetElementByName(m, "reverseFpRtpMosX100");
    CU_ASSERT(e && e->ent == T_PEN && e->num == (FP_IE_RTP_MOS_X100 | FP_IE_REVERSE_BIT));
    fbInfoModelFree(m);
}

static void test_type_records(void)
{
    struct fp_ipfix_ie_type t;
    unsigned n = fp_export_ie_type_count(true);
    bool saw_rev = false;
    for (unsigned i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(fp_export_ie_type_fill(&t, i, true, 4242, 1400), 0);
        CU_ASSERT_EQUAL(t.pen, 4242);
        CU_ASSERT(t.name.len > 2 && t.description.len > 20); /* descriptions survive */
        if (t.id == (FP_IE_RTT_MIN_US | 0x4000)) {
            saw_rev = true;
            CU_ASSERT(t_str(&t.name, "reverseFpRttMinUs"));
            CU_ASSERT_EQUAL(t.units, 7); /* microseconds */
        }
        if (t.id == FP_IE_QOE_SCORE)
            CU_ASSERT(t.range_begin == 0 && t.range_end == 100 && t.type == 1);
    }
    CU_ASSERT(saw_rev);
    CU_ASSERT_EQUAL(fp_export_ie_type_fill(&t, n, true, 1, 1400), -ENOENT);
    CU_ASSERT_EQUAL(fp_export_ie_type_fill(&t, FP_IE_COUNT, false, 1, 1400), -ENOENT);
    /* small messages: the description is cut to fit, never the name */
    CU_ASSERT_EQUAL(fp_export_ie_type_fill(&t, 0, false, 1, 60), 0);
    CU_ASSERT(t_str(&t.name, "fpAppId"));
    CU_ASSERT(26 + 1 + t.name.len + 1 + t.description.len <= 60);
}

static void test_mtu_too_small(void)
{
    struct fp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.n_collectors = 1;
    cfg.export_enterprise = true;
    cfg.collectors[0].transport = FP_TRANSPORT_UDP;
    cfg.collectors[0].port = 9; /* nothing is sent: creation fails first */
    cfg.collectors[0].mtu = 512;
    cfg.collectors[0].biflow = true;
    snprintf(cfg.collectors[0].host, sizeof(cfg.collectors[0].host), "127.0.0.1");
    struct fp_exporter_params p = {.cfg = &cfg};
    errno = 0;
    CU_ASSERT_PTR_NULL(fp_exporter_create(&p));
    CU_ASSERT_EQUAL(errno, EMSGSIZE);
    cfg.export_enterprise = false; /* standard templates fit */
    struct fp_exporter *ex = fp_exporter_create(&p);
    CU_ASSERT_PTR_NOT_NULL(ex);
    fp_exporter_destroy(ex);
}

/* The committed collector kits equal what the generator makes from ie-defs today. */
static void test_kits_up_to_date(void)
{
    static const char *const files[] = {"pmacct/flowpulse_primitives",
                                        "ipfixdump/flowpulse.xml",
                                        "wireshark/flowpulse-fields.txt"};
    char dir[] = "/tmp/fp_kits_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "python3 scripts/gen-ie.py --xml %s --kits %s", T_XML, dir);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    for (unsigned i = 0; i < FP_ARRAY_SIZE(files); i++) {
        char a[256], b[256];
        snprintf(a, sizeof(a), "scripts/kits/%s", files[i]);
        snprintf(b, sizeof(b), "%s/%s", dir, files[i]);
        uint8_t *ba, *bb;
        size_t la = t_read(a, &ba), lb = t_read(b, &bb);
        CU_ASSERT(la > 0 && la == lb && memcmp(ba, bb, la) == 0);
        if (!(la > 0 && la == lb && memcmp(ba, bb, la) == 0))
            fprintf(stderr, "%s is stale: run `make kits`\n", a);
        free(ba);
        free(bb);
        unlink(b);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

void fp_test_register_export_ie(void);
void fp_test_register_export_ie(void)
{
    static CU_TestInfo tests[] = {
        {"templates match structs", test_templates},
        {"type records", test_type_records},
        {"file uniflow, model from ie-defs", test_uniflow_xml_model},
        {"file biflow, model learnt from RFC 5610", test_biflow_rfc5610_model},
        {"mtu too small for enterprise templates", test_mtu_too_small},
        {"kits up to date", test_kits_up_to_date},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("export_ie", tests);
}
