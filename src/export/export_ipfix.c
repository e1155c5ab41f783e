/* SPDX-License-Identifier: BSD-3-Clause */
/* IPFIX templates (IE specs ↔ internal record structs) and message post-processing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export/export_ie.h"

#define PAD(n) {"paddingOctets", (n), 1}

/* Field order = struct member order. Length 0 = the IE's full size: never reduced-size
 * encoding (libfixbuf 2.4.1 truncates values that do not fit). */
#define FIELDS_HEAD                                                                        \
    {"flowStartMilliseconds", 0, 0}, {"flowEndMilliseconds", 0, 0},                        \
        {"octetDeltaCount", 0, 0}, {"packetDeltaCount", 0, 0}, {"flowId", 0, 0}
#define FIELDS_REV_COUNTERS                                                                \
    {"reverseFlowStartMilliseconds", 0, 0}, {"reverseFlowEndMilliseconds", 0, 0},          \
        {"reverseOctetDeltaCount", 0, 0}, {"reversePacketDeltaCount", 0, 0}
#define FIELDS_ADDR4 {"sourceIPv4Address", 0, 0}, {"destinationIPv4Address", 0, 0}
#define FIELDS_ADDR6 {"sourceIPv6Address", 0, 0}, {"destinationIPv6Address", 0, 0}
#define FIELDS_MID(icmp)                                                                   \
    {"ingressInterface", 0, 0}, {"sourceTransportPort", 0, 0},                             \
        {"destinationTransportPort", 0, 0}, {"tcpControlBits", 0, 0}, {icmp, 0, 0},        \
        {"vlanId", 0, 0}
#define FIELDS_TAIL                                                                        \
    {"protocolIdentifier", 0, 0}, {"ipClassOfService", 0, 0}, {"minimumTTL", 0, 0},        \
        {"maximumTTL", 0, 0}, {"flowEndReason", 0, 0}

static const struct fp_ipfix_field f_uni4[] = {
    FIELDS_HEAD, FIELDS_ADDR4, FIELDS_MID("icmpTypeCodeIPv4"), FIELDS_TAIL, PAD(5),
};
static const struct fp_ipfix_field f_uni6[] = {
    FIELDS_HEAD, FIELDS_ADDR6, FIELDS_MID("icmpTypeCodeIPv6"), FIELDS_TAIL, PAD(5),
};
static const struct fp_ipfix_field f_bi4[] = {
    FIELDS_HEAD, FIELDS_REV_COUNTERS, FIELDS_ADDR4, FIELDS_MID("icmpTypeCodeIPv4"),
    {"reverseTcpControlBits", 0, 0}, {"reverseIcmpTypeCodeIPv4", 0, 0}, FIELDS_TAIL,
    {"reverseIpClassOfService", 0, 0}, {"reverseMinimumTTL", 0, 0},
    {"reverseMaximumTTL", 0, 0}, {"biflowDirection", 0, 0}, PAD(5),
};
static const struct fp_ipfix_field f_bi6[] = {
    FIELDS_HEAD, FIELDS_REV_COUNTERS, FIELDS_ADDR6, FIELDS_MID("icmpTypeCodeIPv6"),
    {"reverseTcpControlBits", 0, 0}, {"reverseIcmpTypeCodeIPv6", 0, 0}, FIELDS_TAIL,
    {"reverseIpClassOfService", 0, 0}, {"reverseMinimumTTL", 0, 0},
    {"reverseMaximumTTL", 0, 0}, {"biflowDirection", 0, 0}, PAD(5),
};
static const struct fp_ipfix_field f_mp[] = {
    {"observationDomainId", 0, 0}, PAD(4),
    {"exportedMessageTotalCount", 0, 0}, {"exportedFlowRecordTotalCount", 0, 0},
    {"exportedOctetTotalCount", 0, 0}, {"ignoredPacketTotalCount", 0, 0},
    {"ignoredOctetTotalCount", 0, 0}, {"observationTimeMilliseconds", 0, 0},
    {"observationTimeMilliseconds", 0, 0},
};
static const struct fp_ipfix_field f_ep[] = {
    {"exportingProcessId", 0, 0}, PAD(4),
    {"notSentFlowTotalCount", 0, 0}, {"notSentPacketTotalCount", 0, 0},
    {"notSentOctetTotalCount", 0, 0}, {"observationTimeMilliseconds", 0, 0},
    {"observationTimeMilliseconds", 0, 0},
};

/* FlowPulse enterprise block (struct fp_ipfix_ent), explicit lengths everywhere. */
#define VL FB_IE_VARLEN
#define ENT(n, l) {FP_IE_NAME_##n, (l), 0}
#define FIELDS_ENT                                                                         \
    ENT(VIDEO_MEAN_BPS, 8), ENT(VIDEO_PEAK_BPS, 8), ENT(VIDEO_BITRATE_BPS, 8),             \
        ENT(APP_NAME, VL), ENT(APP_CLASS, VL), ENT(SERVER_NAME, VL), ENT(DNS_NAME, VL),    \
        {"applicationName", VL, 0}, {"applicationCategoryName", VL, 0},                    \
        {"basicList", VL, 0}, {"basicList", VL, 0}, {"basicList", VL, 0},                  \
        ENT(QOE_VALID, 4), ENT(SERVER_NW_DELAY_US, 4), ENT(CLIENT_NW_DELAY_US, 4),         \
        ENT(APP_RESPONSE_TIME_US, 4), ENT(SERVER_DELAY_US, 4), ENT(TLS_HANDSHAKE_US, 4),   \
        ENT(RTT_MIN_US, 4), ENT(RTT_MEAN_US, 4), ENT(RTT_MAX_US, 4), ENT(RTT_SAMPLES, 4),  \
        ENT(RETRANS_PACKETS, 4), ENT(RETRANS_OCTETS, 4), ENT(OUT_OF_ORDER_PACKETS, 4),     \
        ENT(ZERO_WINDOW_EVENTS, 4), ENT(ZERO_WINDOW_US, 4), ENT(DNS_RESPONSE_US, 4),       \
        ENT(RTP_JITTER_US, 4), ENT(RTP_JITTER_MAX_US, 4), ENT(RTP_LOST, 4),                \
        ENT(RTP_EXPECTED, 4), ENT(RTP_RFACTOR_X100, 4), ENT(VIDEO_BURSTS, 4),             \
        ENT(VIDEO_BURST_MEAN_OCTETS, 4), ENT(VIDEO_BURST_MAX_OCTETS, 4),                   \
        ENT(VIDEO_STALL_BINS, 4), ENT(GAME_LATENCY_MIN_US, 4),                             \
        ENT(GAME_LATENCY_MEAN_US, 4), ENT(GAME_LATENCY_MAX_US, 4), ENT(GAME_JITTER_US, 4), \
        ENT(GAME_SPIKES, 4), ENT(GAME_GAPS, 4), ENT(APP_ID, 2), ENT(RTP_REORDERED, 2),     \
        ENT(RTP_MOS_X100, 2),                                                              \
        ENT(APP_CLASS_ID, 1), ENT(APP_METHOD, 1), ENT(APP_CONFIDENCE, 1),                  \
        ENT(TCP_OUTCOME, 1), ENT(DNS_RCODE, 1), ENT(DNS_ANSWERED, 1), ENT(DNS_RETRIES, 1), \
        ENT(QOE_SCORE, 1), PAD(6)
/* struct fp_ipfix_ent_rev: reverse variants (libfixbuf names them reverseFp...). */
#define REV(n, l) {FP_IE_NAME_REVERSE_##n, (l), 0}
#define FIELDS_ENT_REV                                                                     \
    REV(RTT_MIN_US, 4), REV(RTT_MEAN_US, 4), REV(RTT_MAX_US, 4), REV(RTT_SAMPLES, 4),      \
        REV(RETRANS_PACKETS, 4), REV(RETRANS_OCTETS, 4), REV(OUT_OF_ORDER_PACKETS, 4),     \
        REV(ZERO_WINDOW_EVENTS, 4), REV(ZERO_WINDOW_US, 4), REV(RTP_JITTER_US, 4),         \
        REV(RTP_JITTER_MAX_US, 4), REV(RTP_LOST, 4), REV(RTP_EXPECTED, 4),                 \
        REV(RTP_RFACTOR_X100, 4), REV(RTP_REORDERED, 2), REV(RTP_MOS_X100, 2), PAD(4)

static const struct fp_ipfix_field f_uni4_ie[] = {
    FIELDS_HEAD, FIELDS_ADDR4, FIELDS_MID("icmpTypeCodeIPv4"), FIELDS_TAIL, PAD(5),
    FIELDS_ENT,
};
static const struct fp_ipfix_field f_uni6_ie[] = {
    FIELDS_HEAD, FIELDS_ADDR6, FIELDS_MID("icmpTypeCodeIPv6"), FIELDS_TAIL, PAD(5),
    FIELDS_ENT,
};
static const struct fp_ipfix_field f_bi4_ie[] = {
    FIELDS_HEAD, FIELDS_REV_COUNTERS, FIELDS_ADDR4, FIELDS_MID("icmpTypeCodeIPv4"),
    {"reverseTcpControlBits", 0, 0}, {"reverseIcmpTypeCodeIPv4", 0, 0}, FIELDS_TAIL,
    {"reverseIpClassOfService", 0, 0}, {"reverseMinimumTTL", 0, 0},
    {"reverseMaximumTTL", 0, 0}, {"biflowDirection", 0, 0}, PAD(5), FIELDS_ENT,
    FIELDS_ENT_REV,
};
static const struct fp_ipfix_field f_bi6_ie[] = {
    FIELDS_HEAD, FIELDS_REV_COUNTERS, FIELDS_ADDR6, FIELDS_MID("icmpTypeCodeIPv6"),
    {"reverseTcpControlBits", 0, 0}, {"reverseIcmpTypeCodeIPv6", 0, 0}, FIELDS_TAIL,
    {"reverseIpClassOfService", 0, 0}, {"reverseMinimumTTL", 0, 0},
    {"reverseMaximumTTL", 0, 0}, {"biflowDirection", 0, 0}, PAD(5), FIELDS_ENT,
    FIELDS_ENT_REV,
};
/* RFC 5610 Information Element Type options template (struct fp_ipfix_ie_type), scope 2. */
static const struct fp_ipfix_field f_ie_type[] = {
    {"privateEnterpriseNumber", 4, 0}, {"informationElementId", 2, 0},
    {"informationElementDataType", 1, 0}, {"informationElementSemantics", 1, 0},
    {"informationElementUnits", 2, 0}, PAD(6), {"informationElementRangeBegin", 8, 0},
    {"informationElementRangeEnd", 8, 0}, {"informationElementName", VL, 0},
    {"informationElementDescription", VL, 0},
};

#define TMPL(id, sc, f, rec, lbl) \
    {(id), (sc), (f), FP_ARRAY_SIZE(f), sizeof(struct rec), (lbl)}
static const struct fp_ipfix_template templates[] = {
    TMPL(FP_TID_UNI4, 0, f_uni4, fp_ipfix_uni4, "uniflow-ipv4"),
    TMPL(FP_TID_UNI6, 0, f_uni6, fp_ipfix_uni6, "uniflow-ipv6"),
    TMPL(FP_TID_BI4, 0, f_bi4, fp_ipfix_bi4, "biflow-ipv4"),
    TMPL(FP_TID_BI6, 0, f_bi6, fp_ipfix_bi6, "biflow-ipv6"),
    TMPL(FP_TID_MP_STATS, 1, f_mp, fp_ipfix_mp_stats, "metering-process-stats"),
    TMPL(FP_TID_EP_STATS, 1, f_ep, fp_ipfix_ep_stats, "exporting-process-reliability"),
    TMPL(FP_TID_UNI4_IE, 0, f_uni4_ie, fp_ipfix_uni4_ie, "uniflow-ipv4-flowpulse"),
    TMPL(FP_TID_UNI6_IE, 0, f_uni6_ie, fp_ipfix_uni6_ie, "uniflow-ipv6-flowpulse"),
    TMPL(FP_TID_BI4_IE, 0, f_bi4_ie, fp_ipfix_bi4_ie, "biflow-ipv4-flowpulse"),
    TMPL(FP_TID_BI6_IE, 0, f_bi6_ie, fp_ipfix_bi6_ie, "biflow-ipv6-flowpulse"),
    TMPL(FP_TID_IE_TYPE, 2, f_ie_type, fp_ipfix_ie_type, "rfc5610-ie-type"),
};

const struct fp_ipfix_template *fp_export_template_get(uint16_t tid)
{
    for (unsigned i = 0; i < FP_ARRAY_SIZE(templates); i++)
        if (templates[i].tid == tid)
            return &templates[i];
    return NULL;
}

fbTemplate_t *fp_export_template_build(fbInfoModel_t *model, const struct fp_ipfix_template *t,
                                       bool internal, int *err_out)
{
    GError *err = NULL;
    fbTemplate_t *tmpl = fbTemplateAlloc(model);
    if (tmpl == NULL) {
        *err_out = -ENOMEM;
        return NULL;
    }
    for (unsigned i = 0; i < t->n_fields; i++) {
        if (t->fields[i].internal_only && !internal)
            continue;
        /* libfixbuf's spec takes a non-const name it never writes. */
        union {
            const char *c;
            char *m;
        } name = {.c = t->fields[i].name};
        /* Explicit full lengths: libfixbuf aborts (g_error) on an internal template with
         * defaulted lengths, and a shorter length would be reduced-size encoding. */
        uint16_t len = t->fields[i].len;
        if (len == 0) {
            const fbInfoElement_t *ie = fbInfoModelGetElementByName(model, t->fields[i].name);
            len = ie ? ie->len : 0;
        }
        fbInfoElementSpec_t spec = {name.m, len, 0};
        if (!fbTemplateAppendSpec(tmpl, &spec, 0, &err)) {
            fprintf(stderr, "flowpulse: export: template %s: %s: %s\n", t->label,
                    t->fields[i].name, err ? err->message : "?");
            g_clear_error(&err);
            fbTemplateFreeUnused(tmpl);
            *err_out = -EINVAL;
            return NULL;
        }
    }
    if (t->scope)
        fbTemplateSetOptionsScope(tmpl, t->scope);
    if (internal && fbTemplateGetIELenOfMemBuffer(tmpl) != t->rec_size) {
        fprintf(stderr, "flowpulse: export: template %s: record is %zu bytes, template %u\n",
                t->label, t->rec_size, (unsigned)fbTemplateGetIELenOfMemBuffer(tmpl));
        fbTemplateFreeUnused(tmpl);
        *err_out = -EPROTO;
        return NULL;
    }
    *err_out = 0;
    return tmpl;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

size_t fp_export_strip_empty_sets(uint8_t *msg, size_t len, unsigned *removed)
{
    if (len < 16 || rd16(msg) != 10 || rd16(msg + 2) != len)
        return 0;
    size_t in = 16, out = 16;
    while (in < len) {
        if (len - in < 4)
            return 0;
        size_t slen = rd16(msg + in + 2);
        if (slen < 4 || slen > len - in)
            return 0;
        if (slen == 4) {
            (*removed)++;
        } else {
            if (out != in)
                memmove(msg + out, msg + in, slen);
            out += slen;
        }
        in += slen;
    }
    msg[2] = (uint8_t)(out >> 8);
    msg[3] = (uint8_t)out;
    return out;
}
