/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * NetFlow v9 (RFC 3954) and NetFlow v5 encoders for legacy collectors. **Internal header of
 * the export module**: included by the src/export sources, tests/unit/test_netflow.c and
 * scripts/nf_send.c only.
 *
 * Pipeline place: flow → export (exporter thread) → **NetFlow encoder** → per-collector send.
 *
 * Threads and ownership: one struct fp_nf_encoder per collector, a plain struct embedded in
 * the exporter's per-collector state and used only by the exporter thread (no lock, no
 * allocation after fp_nf_encoder_init; the packet is built in the struct's own buffer and
 * handed to the send callback, which must copy or send it before returning).
 *
 * Records: each struct fp_flow_record (a biflow) becomes up to two uniflow records:
 * direction 0 (src→dst, sport→dport) and direction 1 (dst→src, dport→sport); a direction with
 * 0 packets is not exported (counted in dirs_empty).
 *
 * ## NetFlow v9 (version 9)
 * Template 256 (IPv4, 52-octet records) and 257 (IPv6, 76-octet records), fields in this order:
 * IN_BYTES(1) 8, IN_PKTS(2) 8, FIRST_SWITCHED(22) 4, LAST_SWITCHED(21) 4, IPV4_SRC_ADDR(8) 4 /
 * IPV6_SRC_ADDR(27) 16, IPV4_DST_ADDR(12) 4 / IPV6_DST_ADDR(28) 16, INPUT_SNMP(10) 4
 * (= port_id + 1), L4_SRC_PORT(7) 2, L4_DST_PORT(11) 2, ICMP_TYPE(32) 2 (type × 256 + code,
 * also for ICMPv6 because nfcapd ignores field 139; 0 for other protocols), SRC_VLAN(58) 2
 * (outer VLAN ID, 0 if none), PROTOCOL(4) 1, SRC_TOS(5) 1, TCP_FLAGS(6) 1 (low 8 bits),
 * IP_PROTOCOL_VERSION(60) 1, DIRECTION(61) 1 (= 0 ingress), MIN_TTL(52) 1, MAX_TTL(53) 1,
 * flowEndReason(136) 1. Field 136 is an IPFIX IE (RFC 5102), not in RFC 3954: nfcapd and
 * nfacctd skip it by its length, tshark decodes it (all checked by tests/integration/
 * test_netflow.sh).
 * Options template 258, scope System(1) 4 (value = source id); options SAMPLING_INTERVAL(34) 4
 * = 1, SAMPLING_ALGORITHM(35) 1 = 1 (deterministic 1-out-of-1, i.e. unsampled: v9 has no
 * "unsampled" code), FLOW_ACTIVE_TIMEOUT(36) 2 s, FLOW_INACTIVE_TIMEOUT(37) 2 s.
 * Every packet that carries templates carries, in this order: the Template FlowSet (256, 257),
 * the Options Template FlowSet (258) and one options data record (FlowSet 258). Templates go
 * in the first packet, then whenever template_refresh_pkts packets were sent since the last
 * template packet or template_refresh_ms elapsed (RFC 3954 §7 MUST: both configurable), and
 * after a forward sysUpTime rebase (§7 SHOULD after clock changes) and after a failed send of
 * a packet that carried them. fp_nf_flush() also sends
 * a template-only packet when the timer is due and no record is pending, so an idle exporter
 * keeps refreshing a restarted collector.
 * Header Count = template records + options template records + data records (flow and
 * options) in the packet (RFC 3954 §5.1; nfacctd and tshark stop reading at Count).
 * Sequence Number = packets sent before this one (first packet 0), per encoder (one source
 * id). Every FlowSet is zero-padded to 4 octets (only the options FlowSets need it). Packets
 * never exceed params.mtu (default 1400 octets, UDP payload).
 *
 * ## NetFlow v5 (version 5)
 * 24-octet header, 48-octet records, at most 30 per packet (1464 octets). IPv4 only: an IPv6
 * direction is counted in v5_skipped_ipv6 and not sent; other versions in skipped_other.
 * flow_sequence = records sent before this packet. input = port_id + 1 clamped to 65535,
 * output/nexthop/AS/masks 0, tcp_flags = low 8 bits, tos = first packet's TOS. ICMP: dstport
 * = type × 256 + code and srcport = 0 (Cisco convention; collectors print it as type.code).
 * dPkts and dOctets are 32-bit: a direction with more than 2^32-1 packets or octets is split
 * into k = max(ceil(P/(2^32-1)), ceil(B/(2^32-1))) records with the same key and times; record
 * i gets P/k (+1 for the first P mod k records) packets and the same for octets, so the sums
 * are exact and no record overflows (v5_splits counts the k-1 extra records). sampling_interval
 * = 0 (unsampled); engine_type/engine_id from the params.
 *
 * ## Time: sysUpTime, UNIX secs and FIRST/LAST
 * The encoder keeps a virtual boot time boot_ms (absolute ms since the UNIX epoch) and a
 * monotonic export clock clock_ms. For every packet:
 *  - v9: UNIX Secs = floor(clock_ms / 1000), sysUpTime = UNIX Secs × 1000 − boot_ms (the export
 *    time is truncated to the second because the v9 header has no sub-second field);
 *  - v5: unix_secs = clock_ms / 1000, unix_nsecs = (clock_ms mod 1000) × 10^6,
 *    sys_uptime = clock_ms − boot_ms;
 *  - FIRST/LAST (First/Last) = flow time in ms (first_ns / 10^6, last_ns / 10^6, floor) −
 *    boot_ms.
 * So a collector that computes, per packet, absolute = unix_secs × 1000 (+ unix_nsecs / 10^6)
 * − (sysUpTime − FIRST) (nfcapd, nfacctd, tshark) recovers the flow times to the millisecond.
 * Invariants kept per packet: boot_ms ≤ every FIRST/LAST time in it, and sysUpTime < 2^32.
 * - boot_ms starts at params.boot_ms (the probe start); when 0 (capture files, whose flows
 *   can be from any date) it is set from the first record: its first time − 1 h.
 * - A record that starts before boot_ms (an old capture, or a long flow exported after short
 *   ones) ends the current packet and moves boot_ms back to its first time − 1 h (counted in
 *   rebases). sysUpTime then grows, which collectors do not take as a restart.
 * - When clock_ms − boot_ms would exceed 2^31 ms (24.8 days, half the 32-bit range), the next
 *   packet moves boot_ms forward to clock_ms − 1 h and carries the templates again.
 * - A time that still does not fit (a record more than ~37 days older than the export clock)
 *   is clamped into [boot_ms, boot_ms + 2^32 − 1] and counted in time_clamped.
 * - The export clock: now_ms passed by the caller (wall clock in live mode), or, when now_ms is
 *   0, the largest last time of the records encoded so far ("record clock", for capture files:
 *   the header then says the packet left when the capture's clock reached that time). The
 *   clock never goes backwards (an earlier now_ms is ignored). The template timer uses the
 *   same clock.
 */
#ifndef FP_EXPORT_NETFLOW_H
#define FP_EXPORT_NETFLOW_H

#include <stddef.h>
#include <stdint.h>

#include "common/fp_compiler.h"
#include "flow/flow.h"

/** Largest packet the encoder builds (v9 params.mtu upper bound; jumbo frames). */
#define FP_NF_MAX_PKT 9000u
/** Smallest v9 params.mtu: templates + options + one IPv6 record always fit. */
#define FP_NF_MIN_MTU 512u
#define FP_NF_V9_DEFAULT_MTU 1400u
#define FP_NF_V5_HDR_LEN 24u
#define FP_NF_V5_REC_LEN 48u
#define FP_NF_V5_MAX_RECS 30u
#define FP_NF_V5_MAX_PKT (FP_NF_V5_HDR_LEN + FP_NF_V5_MAX_RECS * FP_NF_V5_REC_LEN)
#define FP_NF_V9_HDR_LEN 20u
#define FP_NF_V9_TID_IPV4 256u
#define FP_NF_V9_TID_IPV6 257u
#define FP_NF_V9_TID_OPTIONS 258u
#define FP_NF_V9_REC4_LEN 52u
#define FP_NF_V9_REC6_LEN 76u
#define FP_NF_V9_OPT_REC_LEN 13u
/** Default template refresh: every 20 packets and every 60 s. */
#define FP_NF_DEFAULT_REFRESH_PKTS 20u
#define FP_NF_DEFAULT_REFRESH_MS 60000u
/** How far before a record's first time boot_ms is placed on a rebase (1 h). */
#define FP_NF_REBASE_MARGIN_MS 3600000ull

FP_STATIC_ASSERT(FP_NF_V5_MAX_PKT == 1464, "v5 packet size");
FP_STATIC_ASSERT(FP_NF_V5_MAX_PKT <= FP_NF_MAX_PKT, "v5 packet fits the buffer");

/**
 * Encoder counters (single writer: the exporter thread; totals since init).
 * X(name, description).
 */
#define FP_NF_COUNTERS(X)                                                                          \
    X(packets, "export packets sent (send callback called)")                                       \
    X(octets, "export packet octets sent")                                                         \
    X(send_errors, "packets the send callback reported as not sent")                               \
    X(records, "flow data records encoded (uniflows, v5 split parts included)")                    \
    X(records_not_sent, "flow data records in packets whose send failed")                          \
    X(flow_packets, "packets counted in the encoded flow records")                                 \
    X(flow_octets, "octets counted in the encoded flow records")                                   \
    X(template_packets, "v9 packets sent carrying the templates and options")                      \
    X(flows_in, "biflow records given to fp_nf_encode")                                            \
    X(dirs_empty, "directions not exported because they have 0 packets")                           \
    X(v5_skipped_ipv6, "IPv6 directions not exported (v5 is IPv4 only)")                           \
    X(skipped_other, "directions not exported: IP version neither 4 nor 6")                        \
    X(v5_splits, "extra v5 records made by splitting counters over 2^32-1")                        \
    X(time_clamped, "FIRST/LAST times clamped into the 32-bit sysUpTime range")                    \
    X(rebases, "sysUpTime base (virtual boot time) changes")

struct fp_nf_stats {
#define FP_NF_X_FIELD(name, desc) uint64_t name;
    FP_NF_COUNTERS(FP_NF_X_FIELD)
#undef FP_NF_X_FIELD
};

/** Counter names and descriptions, in FP_NF_COUNTERS order (fp_nf_counter_count entries). */
extern const char *const fp_nf_counter_names[];
extern const char *const fp_nf_counter_descs[];
extern const unsigned fp_nf_counter_count;

/**
 * Send one finished packet. Called on the exporter thread from fp_nf_encode/fp_nf_flush;
 * @p pkt is valid only during the call.
 * @return 0 if sent, or a negative errno (counted in send_errors and records_not_sent; the
 *         sequence number still advances, so collectors see the loss).
 */
typedef int (*fp_nf_send_fn)(void *arg, const uint8_t *pkt, size_t len);

/** Encoder parameters (copied by fp_nf_encoder_init; 0 selects the default). */
struct fp_nf_params {
    unsigned version;               /**< 5 or 9 (required) */
    uint32_t source_id;             /**< v9 Source ID (observation domain) */
    uint8_t engine_type;            /**< v5 engine_type */
    uint8_t engine_id;              /**< v5 engine_id */
    uint64_t boot_ms;               /**< sysUpTime origin, ms since epoch (0 = from records) */
    uint32_t mtu;                   /**< v9 max packet octets (default 1400, 512..9000); v5
                                         ignores it (always ≤ 1464) */
    uint32_t template_refresh_pkts; /**< v9: templates at least every N packets (default 20;
                                         UINT32_MAX = never by count) */
    uint32_t template_refresh_ms;   /**< v9: templates at least every N ms (default 60000;
                                         UINT32_MAX = never by time) */
    uint16_t active_timeout_s;      /**< v9 options FLOW_ACTIVE_TIMEOUT value */
    uint16_t inactive_timeout_s;    /**< v9 options FLOW_INACTIVE_TIMEOUT value */
    fp_nf_send_fn send;             /**< required */
    void *send_arg;
};

/** Encoder state: embed it in the per-collector state; all fields are private except stats. */
struct fp_nf_encoder {
    struct fp_nf_params p;
    struct fp_nf_stats stats; /**< read by the owner thread (or tolerate torn reads) */
    uint64_t boot_ms;         /**< virtual boot time, ms since epoch (valid if boot_set) */
    uint64_t clock_ms;        /**< export clock, ms since epoch, monotonic */
    uint64_t tmpl_time_ms;    /**< clock_ms of the last template packet */
    uint32_t seq;             /**< v9: packets sent; v5: records sent (mod 2^32) */
    uint32_t pkts_since_tmpl; /**< packets sent since the last template packet */
    uint8_t boot_set;
    uint8_t tmpl_sent;  /**< templates were sent at least once */
    uint8_t force_tmpl; /**< send templates in the next packet */
    uint8_t open;       /**< a packet is being built in buf */
    uint8_t has_tmpl;   /**< the open packet carries the templates */
    uint16_t count;     /**< records in the open packet (header Count) */
    uint16_t data_recs; /**< flow data records in the open packet */
    uint32_t len;       /**< octets used in buf */
    uint32_t set_off;   /**< offset of the open data FlowSet header (0: none) */
    uint16_t set_id;    /**< template ID of the open data FlowSet */
    uint8_t buf[FP_NF_MAX_PKT];
};

/**
 * Initialise an encoder (no allocation; the struct may be on the stack or embedded).
 * @return 0, or -EINVAL (version not 5/9, send NULL, mtu outside 512..9000)
 * Thread: exporter (or main before the exporter starts).
 */
int fp_nf_encoder_init(struct fp_nf_encoder *e, const struct fp_nf_params *p);

/**
 * Encode @p n biflow records; every packet that fills up is sent through the callback.
 * The last, partial packet stays open until more records fill it or fp_nf_flush().
 * @param now_ms export time, ms since epoch, in the clock of the flow times; 0 = record clock
 *               (see the @file notes on time)
 * @return the number of uniflow records encoded (v5 split parts included).
 * Thread: exporter only.
 */
unsigned fp_nf_encode(struct fp_nf_encoder *e, const struct fp_flow_record *recs, unsigned n,
                      uint64_t now_ms);

/**
 * Send the open packet if it holds any record (call on a timer and at stop). For v9, when no
 * record is pending but the template timer is due, send a template-only packet.
 * @param now_ms as for fp_nf_encode
 * @return the number of packets sent (0 or 1).
 * Thread: exporter only.
 */
unsigned fp_nf_flush(struct fp_nf_encoder *e, uint64_t now_ms);

/** Force the templates into the next v9 packet (e.g. after a collector restart). */
void fp_nf_templates_resend(struct fp_nf_encoder *e);

#endif /* FP_EXPORT_NETFLOW_H */
