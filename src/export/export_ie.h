/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Export internals for FlowPulse's enterprise Information Elements (ie-defs/flowpulse.xml →
 * $(BUILD)/gen/fp_ie_gen.h): template IDs, the enterprise blocks appended to the flow records,
 * the RFC 5610 type record, and the helpers that fill them. Included by the src/export sources and
 * the export unit tests only. Everything runs on the exporter thread.
 */
#ifndef FP_EXPORT_IE_H
#define FP_EXPORT_IE_H

#include "export/export_internal.h"
#include "fp_ie_gen.h"

/*
 * Template IDs of the enterprise variants (disjoint from 256..261, libfixbuf pitfall 4):
 * the standard IPv4/IPv6 × uniflow/biflow templates followed by the enterprise block
 * (+ the reverse block for biflows), and the RFC 5610 Information Element Type options
 * template. Internal IDs are external | 0x8000 as for the others.
 */
enum fp_ipfix_tid_ie {
    FP_TID_UNI4_IE = 262,
    FP_TID_UNI6_IE = 263,
    FP_TID_BI4_IE = 264,
    FP_TID_BI6_IE = 265,
    FP_TID_IE_TYPE = 266,
};

/**
 * Enterprise block appended to every flow record of the *_IE templates (forward values:
 * direction of the record for uniflows, direction 0 for biflows). QoE values are 0 when not
 * measured; fpQoeValid says which are. Strings point into the source struct fp_flow_record
 * (valid during the append). basicLists are initialised per record and cleared after it.
 */
struct fp_ipfix_ent {
    uint64_t video_mean_bps;
    uint64_t video_peak_bps;
    uint64_t video_bitrate_bps;
    fbVarfield_t app_name;      /**< fpAppName */
    fbVarfield_t app_class;     /**< fpAppClass */
    fbVarfield_t server_name;   /**< fpServerName */
    fbVarfield_t dns_name;      /**< fpDnsName */
    fbVarfield_t std_app_name;  /**< applicationName (96) */
    fbVarfield_t std_category;  /**< applicationCategoryName (372) */
    fbBasicList_t splt_len;     /**< basicList of fpSpltPacketLength */
    fbBasicList_t splt_dir;     /**< basicList of fpSpltDirection */
    fbBasicList_t splt_iat;     /**< basicList of fpSpltInterArrivalUs */
    uint32_t qoe_valid;
    uint32_t snd_us;
    uint32_t cnd_us;
    uint32_t art_us;
    uint32_t srv_delay_us;
    uint32_t tls_us;
    uint32_t rtt_min_us;
    uint32_t rtt_mean_us;
    uint32_t rtt_max_us;
    uint32_t rtt_samples;
    uint32_t retx_pkts;
    uint32_t retx_bytes;
    uint32_t ooo_pkts;
    uint32_t zw_events;
    uint32_t zw_us;
    uint32_t dns_us;
    uint32_t rtp_jitter_us;
    uint32_t rtp_jitter_max_us;
    int32_t rtp_lost;
    uint32_t rtp_expected;
    int32_t rtp_r_x100;
    uint32_t video_bursts;
    uint32_t video_burst_mean;
    uint32_t video_burst_max;
    uint32_t video_stall_bins;
    uint32_t game_lat_min_us;
    uint32_t game_lat_mean_us;
    uint32_t game_lat_max_us;
    uint32_t game_jitter_us;
    uint32_t game_spikes;
    uint32_t game_gaps;
    uint16_t app_id;
    uint16_t rtp_reordered;
    uint16_t rtp_mos_x100;
    uint8_t class_id;
    uint8_t method;
    uint8_t confidence;
    uint8_t tcp_outcome;
    uint8_t dns_rcode;
    uint8_t dns_answered;
    uint8_t dns_retries;
    uint8_t score;
    uint8_t pad[6];
};
FP_STATIC_ASSERT(sizeof(fbBasicList_t) == 24, "libfixbuf 2.4.1 basicList layout");
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_ent) == 24 + 6 * 16 + 3 * 24 + 31 * 4 + 6 + 8 + 6,
                 "enterprise block layout");
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_ent) % 8 == 0, "enterprise block alignment");

/** Reverse (direction 1) per-direction QoE values of biflow records (reverseFp* IEs). */
struct fp_ipfix_ent_rev {
    uint32_t rtt_min_us;
    uint32_t rtt_mean_us;
    uint32_t rtt_max_us;
    uint32_t rtt_samples;
    uint32_t retx_pkts;
    uint32_t retx_bytes;
    uint32_t ooo_pkts;
    uint32_t zw_events;
    uint32_t zw_us;
    uint32_t rtp_jitter_us;
    uint32_t rtp_jitter_max_us;
    int32_t rtp_lost;
    uint32_t rtp_expected;
    int32_t rtp_r_x100;
    uint16_t rtp_reordered;
    uint16_t rtp_mos_x100;
    uint8_t pad[4];
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_ent_rev) == 64, "reverse enterprise block layout");

struct fp_ipfix_uni4_ie {
    struct fp_ipfix_uni4 b;
    struct fp_ipfix_ent e;
};
struct fp_ipfix_uni6_ie {
    struct fp_ipfix_uni6 b;
    struct fp_ipfix_ent e;
};
struct fp_ipfix_bi4_ie {
    struct fp_ipfix_bi4 b;
    struct fp_ipfix_ent e;
    struct fp_ipfix_ent_rev r;
};
struct fp_ipfix_bi6_ie {
    struct fp_ipfix_bi6 b;
    struct fp_ipfix_ent e;
    struct fp_ipfix_ent_rev r;
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_uni4_ie) ==
                     sizeof(struct fp_ipfix_uni4) + sizeof(struct fp_ipfix_ent),
                 "no padding between blocks");
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_bi6_ie) == sizeof(struct fp_ipfix_bi6) +
                                                      sizeof(struct fp_ipfix_ent) +
                                                      sizeof(struct fp_ipfix_ent_rev),
                 "no padding between blocks");

/** RFC 5610 Information Element Type record (scope: privateEnterpriseNumber, elementId). */
struct fp_ipfix_ie_type {
    uint32_t pen;
    uint16_t id;
    uint8_t type;
    uint8_t semantics;
    uint16_t units;
    uint8_t pad[6];
    uint64_t range_begin;
    uint64_t range_end;
    fbVarfield_t name;
    fbVarfield_t description;
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_ie_type) == 64, "ie type layout");

/** FlowPulse's elements with descriptions (PEN FP_IE_PEN_DEFAULT), FB_IE_NULL-terminated. */
extern const fbInfoElement_t fp_export_ie_defs[FP_IE_COUNT + 1];

/**
 * Add FlowPulse's elements (and their reverse variants) to @p model under @p pen.
 * @return 0 (libfixbuf cannot report a failure here).
 */
int fp_export_ie_model_add(fbInfoModel_t *model, uint32_t pen);

/** PEN the exporter uses (configured export.pen, or the XML's default when 0). */
uint32_t fp_export_ie_pen(const struct fp_config *cfg);

/**
 * Number of RFC 5610 type records the exporter sends per template (re)send: every element
 * plus the reverse variant of every reversible one used in biflow templates.
 */
unsigned fp_export_ie_type_count(bool biflow);

/**
 * Fill type record @p i (0 .. fp_export_ie_type_count() - 1).
 * @param max_len  largest encoded record that fits a message; the description is shortened
 *                 (at a UTF-8 boundary) or dropped to fit
 * @return 0, or -ENOENT when @p i is out of range
 */
int fp_export_ie_type_fill(struct fp_ipfix_ie_type *out, unsigned i, bool biflow, uint32_t pen,
                           size_t max_len);

/**
 * Fill the enterprise block from a flow record. @p d = direction whose values are forward
 * (uniflow record of direction d; 0 for biflows). Initialises the three SPLT basicLists from
 * @p model (must hold FlowPulse's elements): call fp_export_ie_ent_clear() after the append.
 * @param rev  reverse block to fill (biflows), or NULL
 */
void fp_export_ie_ent_fill(struct fp_ipfix_ent *e, struct fp_ipfix_ent_rev *rev,
                           const struct fp_flow_record *r, unsigned d, fbInfoModel_t *model,
                           uint32_t pen);

/** Free the basicList buffers of an enterprise block (fbBasicListClear on each). */
void fp_export_ie_ent_clear(struct fp_ipfix_ent *e);

/** Class name of enum fp_app_class value @p cls ("unknown" when out of range). */
const char *fp_export_ie_class_name(unsigned cls);

#endif /* FP_EXPORT_IE_H */
