/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * FlowPulse enterprise Information Elements on the exporter thread: information model setup,
 * RFC 5610 type records (with descriptions, which libfixbuf's XML loader drops) and the
 * enterprise block of flow records (classification, QoE, SPLT basicLists).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export/export_ie.h"

const fbInfoElement_t fp_export_ie_defs[FP_IE_COUNT + 1] = {FP_IE_DEFS_INIT(FP_IE_PEN_DEFAULT)};

static const char *const class_names[] = {
#define FP_X_NAME(name, text) text,
    FP_APP_CLASSES(FP_X_NAME)
#undef FP_X_NAME
};

const char *fp_export_ie_class_name(unsigned cls)
{
    return cls < FP_ARRAY_SIZE(class_names) ? class_names[cls] : class_names[0];
}

uint32_t fp_export_ie_pen(const struct fp_config *cfg)
{
    return cfg->export_pen ? cfg->export_pen : FP_IE_PEN_DEFAULT;
}

int fp_export_ie_model_add(fbInfoModel_t *model, uint32_t pen)
{
    fbInfoElement_t ies[FP_IE_COUNT + 1];
    memcpy(ies, fp_export_ie_defs, sizeof(ies));
    for (unsigned i = 0; i < FP_IE_COUNT; i++)
        ies[i].ent = pen;
    fbInfoModelAddElementArray(model, ies); /* copies elements and names */
    return 0;
}

/* ------------------------------------------------------------------ RFC 5610 type records */

static unsigned n_reversible(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < FP_IE_COUNT; i++)
        n += (fp_export_ie_defs[i].flags & FB_IE_F_REVERSIBLE) != 0;
    return n;
}

unsigned fp_export_ie_type_count(bool biflow)
{
    return FP_IE_COUNT + (biflow ? n_reversible() : 0);
}

/* Encoded length of a variable-length field (RFC 7011 §7). */
static size_t varlen_size(size_t n)
{
    return (n < 255 ? 1 : 3) + n;
}

/* Longest prefix of s no longer than max bytes that ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((uint8_t)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

int fp_export_ie_type_fill(struct fp_ipfix_ie_type *out, unsigned i, bool biflow, uint32_t pen,
                           size_t max_len)
{
    static char rev_names[FP_IE_COUNT][64];
    static char rev_desc[] = "Reverse direction (RFC 5103) of the element without the "
                             "\"reverse\" prefix: value for packets from the record's "
                             "destination.";
    const fbInfoElement_t *ie = NULL;
    bool rev = false;

    memset(out, 0, sizeof(*out));
    if (i < FP_IE_COUNT) {
        ie = &fp_export_ie_defs[i];
    } else if (biflow) {
        unsigned k = i - FP_IE_COUNT;
        for (unsigned j = 0; j < FP_IE_COUNT; j++) {
            if (!(fp_export_ie_defs[j].flags & FB_IE_F_REVERSIBLE))
                continue;
            if (k-- == 0) {
                ie = &fp_export_ie_defs[j];
                rev = true;
                break;
            }
        }
    }
    if (ie == NULL)
        return -ENOENT;

    const char *name = ie->ref.name;
    const char *desc = ie->description ? ie->description : "";
    unsigned idx = (unsigned)(ie - fp_export_ie_defs);
    if (rev) {
        char *rn = rev_names[idx];
        if (rn[0] == 0) /* exporter thread only: filled once, then read */
            snprintf(rn, sizeof(rev_names[0]), "reverse%c%s", name[0] - 'a' + 'A', name + 1);
        name = rn;
        desc = rev_desc;
    }
    out->pen = pen;
    out->id = (uint16_t)(ie->num | (rev ? FP_IE_REVERSE_BIT : 0));
    out->type = ie->type;
    out->semantics = (uint8_t)FB_IE_SEMANTIC(ie->flags);
    out->units = (uint16_t)FB_IE_UNITS(ie->flags);
    out->range_begin = ie->min;
    out->range_end = ie->max;
    size_t nlen = strlen(name), dlen = strlen(desc);
    /* fixed part: pen, id, type, semantics, units, range begin/end */
    size_t fixed = 4 + 2 + 1 + 1 + 2 + 8 + 8 + varlen_size(nlen);
    if (fixed + varlen_size(dlen) > max_len)
        dlen = fixed + 1 >= max_len ? 0 : utf8_cut(desc, dlen, max_len - fixed - 1);
    if (dlen >= 255 && fixed + varlen_size(dlen) > max_len)
        dlen = utf8_cut(desc, dlen, 254);
    out->name.buf = (uint8_t *)(uintptr_t)name;
    out->name.len = nlen;
    out->description.buf = (uint8_t *)(uintptr_t)desc;
    out->description.len = dlen;
    return 0;
}

/* ------------------------------------------------------------------ flow records */

static void set_str(fbVarfield_t *v, const char *s, size_t max)
{
    v->buf = (uint8_t *)(uintptr_t)s; /* libfixbuf only reads it */
    v->len = strnlen(s, max);
}

/* fpQoeValid of a record whose forward direction is d: per-direction bits follow the record
 * (bit RTT0/RTP0 = forward fields); uniflows carry no reverse fields, so no reverse bits. */
static uint32_t valid_bits(uint32_t have, unsigned d, bool biflow)
{
    const uint32_t dirbits = FP_QOE_HAVE_RTT0 | FP_QOE_HAVE_RTT1 | FP_QOE_HAVE_RTP0 |
                             FP_QOE_HAVE_RTP1;
    uint32_t v = have & ~dirbits;
    bool rtt_f = have & (d ? FP_QOE_HAVE_RTT1 : FP_QOE_HAVE_RTT0);
    bool rtt_r = have & (d ? FP_QOE_HAVE_RTT0 : FP_QOE_HAVE_RTT1);
    bool rtp_f = have & (d ? FP_QOE_HAVE_RTP1 : FP_QOE_HAVE_RTP0);
    bool rtp_r = have & (d ? FP_QOE_HAVE_RTP0 : FP_QOE_HAVE_RTP1);
    v |= rtt_f ? FP_QOE_HAVE_RTT0 : 0;
    v |= rtp_f ? FP_QOE_HAVE_RTP0 : 0;
    if (biflow) {
        v |= rtt_r ? FP_QOE_HAVE_RTT1 : 0;
        v |= rtp_r ? FP_QOE_HAVE_RTP1 : 0;
    }
    return v;
}

#define FILL_DIR(o, q, d)                                                                  \
    do {                                                                                   \
        (o)->rtt_min_us = (q)->rtt_min_us[d];                                              \
        (o)->rtt_mean_us = (q)->rtt_mean_us[d];                                            \
        (o)->rtt_max_us = (q)->rtt_max_us[d];                                              \
        (o)->rtt_samples = (q)->rtt_samples[d];                                            \
        (o)->retx_pkts = (q)->retx_pkts[d];                                                \
        (o)->retx_bytes = (q)->retx_bytes[d];                                              \
        (o)->ooo_pkts = (q)->ooo_pkts[d];                                                  \
        (o)->zw_events = (q)->zw_events[d];                                                \
        (o)->zw_us = (q)->zw_us[d];                                                        \
        (o)->rtp_jitter_us = (q)->rtp_jitter_us[d];                                        \
        (o)->rtp_jitter_max_us = (q)->rtp_jitter_max_us[d];                                \
        (o)->rtp_lost = (q)->rtp_lost[d];                                                  \
        (o)->rtp_expected = (q)->rtp_expected[d];                                          \
        (o)->rtp_r_x100 = (q)->rtp_r_x100[d];                                              \
        (o)->rtp_reordered = (q)->rtp_reordered[d];                                        \
        (o)->rtp_mos_x100 = (uint16_t)FP_MIN((q)->rtp_mos_x100[d], 0xffffu);               \
    } while (0)

static void splt_fill(struct fp_ipfix_ent *e, const struct fp_flow_splt *s, fbInfoModel_t *m,
                      uint32_t pen)
{
    unsigned n = FP_MIN(s->n, FP_FLOW_SPLT_MAX);
    const fbInfoElement_t *ie_len = fbInfoModelGetElementByID(m, FP_IE_SPLT_PACKET_LENGTH, pen);
    const fbInfoElement_t *ie_dir = fbInfoModelGetElementByID(m, FP_IE_SPLT_DIRECTION, pen);
    const fbInfoElement_t *ie_iat = fbInfoModelGetElementByID(m, FP_IE_SPLT_INTER_ARRIVAL_US, pen);
    uint16_t *len = fbBasicListInit(&e->splt_len, FB_LIST_SEM_ORDERED, ie_len, (uint16_t)n);
    uint8_t *dir = fbBasicListInit(&e->splt_dir, FB_LIST_SEM_ORDERED, ie_dir, (uint16_t)n);
    uint32_t *iat = fbBasicListInit(&e->splt_iat, FB_LIST_SEM_ORDERED, ie_iat, (uint16_t)n);
    for (unsigned i = 0; i < n; i++) {
        if (len)
            len[i] = s->len[i];
        if (dir)
            dir[i] = (uint8_t)((s->dirs >> i) & 1u);
        if (iat)
            iat[i] = s->iat_us[i];
    }
}

void fp_export_ie_ent_fill(struct fp_ipfix_ent *e, struct fp_ipfix_ent_rev *rev,
                           const struct fp_flow_record *r, unsigned d, fbInfoModel_t *model,
                           uint32_t pen)
{
    const struct fp_flow_app *a = &r->app;
    const struct fp_qoe_result *q = &r->qoe;
    const char *cls = fp_export_ie_class_name(a->cls);

    memset(e, 0, sizeof(*e));
    set_str(&e->app_name, a->name, sizeof(a->name));
    set_str(&e->app_class, cls, 32);
    set_str(&e->server_name, a->server_name, sizeof(a->server_name));
    set_str(&e->dns_name, a->dns_name, sizeof(a->dns_name));
    e->std_app_name = e->app_name;
    e->std_category = e->app_class;
    e->app_id = a->app_id;
    e->class_id = a->cls < FP_APP_CLASS_MAX ? a->cls : FP_APP_CLASS_UNKNOWN;
    e->method = a->method;
    e->confidence = a->confidence;

    e->qoe_valid = valid_bits(q->have, d, rev != NULL);
    e->snd_us = q->snd_us;
    e->cnd_us = q->cnd_us;
    e->art_us = q->art_us;
    e->srv_delay_us = q->srv_delay_us;
    e->tls_us = q->tls_us;
    FILL_DIR(e, q, d);
    e->tcp_outcome = q->tcp_outcome;
    e->dns_us = q->dns_us;
    e->dns_rcode = q->dns_rcode;
    e->dns_answered = q->dns_answered;
    e->dns_retries = q->dns_retries;
    e->video_mean_bps = q->video_mean_bps;
    e->video_peak_bps = q->video_peak_bps;
    e->video_bitrate_bps = q->video_bitrate_bps;
    e->video_bursts = q->video_bursts;
    e->video_burst_mean = q->video_burst_mean;
    e->video_burst_max = q->video_burst_max;
    e->video_stall_bins = q->video_stall_bins;
    e->game_lat_min_us = q->game_lat_min_us;
    e->game_lat_mean_us = q->game_lat_mean_us;
    e->game_lat_max_us = q->game_lat_max_us;
    e->game_jitter_us = q->game_jitter_us;
    e->game_spikes = q->game_spikes;
    e->game_gaps = q->game_gaps;
    e->score = (q->have & FP_QOE_HAVE_SCORE) ? q->score : 0;
    if (rev) {
        memset(rev, 0, sizeof(*rev));
        FILL_DIR(rev, q, 1);
    }
    splt_fill(e, &r->splt, model, pen);
}

void fp_export_ie_ent_clear(struct fp_ipfix_ent *e)
{
    fbBasicListClear(&e->splt_len);
    fbBasicListClear(&e->splt_dir);
    fbBasicListClear(&e->splt_iat);
}
