/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * struct fp_snapshot: a plain-data copy of everything the management plane (SNMP subagent,
 * later the control socket) reports. Fixed-size arrays, no pointers, so it can be copied,
 * compared and kept without caring about the lifetime of worker or exporter memory.
 *
 * Who fills it: main.c, through the fill callback handed to fp_snmp_start(), on the SNMP
 * thread (at most every refresh_ms). The filler sums per-worker counters with relaxed loads;
 * nobody reads worker memory anywhere else. Counters are totals since start (never reset).
 * Strings are NUL-terminated and truncated to their array size.
 */
#ifndef FP_SNAPSHOT_H
#define FP_SNAPSHOT_H

#include <stdint.h>

#include "config/config.h"
#include "decode/decode.h"

#define FP_SNAP_VERSION_LEN 64
#define FP_SNAP_URL_LEN 256
#define FP_SNAP_ERROR_LEN 128
#define FP_SNAP_CLASS_NAME_LEN 32
#define FP_SNAP_MAX_TEMPLATES 16       /**< templates in use per collector */
#define FP_SNAP_MAX_TEMPLATE_FIELDS 128 /**< fields per template (FlowPulse biflow IPv6: 98) */
#define FP_SNAP_MAX_CLASSES 32
#define FP_SNAP_MAX_CLASSIFY_COUNTERS 64 /**< >= the FP_CLASSIFY_COUNTERS entries */

/** Export protocol of a collector (the IPFIX-MIB ipfixVersion values). */
enum fp_snap_protocol {
    FP_SNAP_PROTOCOL_V5 = 5,
    FP_SNAP_PROTOCOL_V9 = 9,
    FP_SNAP_PROTOCOL_IPFIX = 10,
};

/** Transport of a collector (FLOWPULSE-MIB fpCollectorTransport values). */
enum fp_snap_transport {
    FP_SNAP_TRANSPORT_UDP = 1,
    FP_SNAP_TRANSPORT_TCP = 2,
    FP_SNAP_TRANSPORT_TLS = 3,
    FP_SNAP_TRANSPORT_FILE = 4,
};

/** Collector state (FLOWPULSE-MIB fpCollectorState values). */
enum fp_snap_collector_state {
    FP_SNAP_COLLECTOR_DOWN = 1,
    FP_SNAP_COLLECTOR_CONNECTING = 2,
    FP_SNAP_COLLECTOR_UP = 3,
    FP_SNAP_COLLECTOR_CLOSED = 4,
};

/** Per-field flags of a template field (IPFIX-MIB ipfixTemplateDefinitionFlags). */
#define FP_SNAP_FIELD_SCOPE 0x1u
#define FP_SNAP_FIELD_FLOW_KEY 0x2u

struct fp_snap_port {
    uint64_t rx_packets; /**< rte_eth_stats.ipackets */
    uint64_t missed;     /**< imissed: dropped by the NIC, RX ring full */
    uint64_t errors;     /**< ierrors */
    uint64_t nombuf;     /**< rx_nombuf: no mbuf for a received packet */
};

struct fp_snap_worker {
    uint64_t packets;          /**< packets handled by the worker */
    uint64_t flows_active;     /**< flows in the cache now */
    uint64_t flows_created;
    uint64_t expired_idle;
    uint64_t expired_active;
    uint64_t expired_end;      /**< TCP FIN/RST */
    uint64_t expired_forced;   /**< shutdown, end of capture */
    uint64_t expired_resource; /**< evicted because the cache was full */
    uint32_t cache_capacity;   /**< flow entries */
};

struct fp_snap_template_field {
    uint16_t ie_id;  /**< without the enterprise bit */
    uint16_t length; /**< 65535 = variable length */
    uint32_t pen;    /**< 0 = IANA */
    uint8_t flags;   /**< FP_SNAP_FIELD_* */
};

struct fp_snap_template {
    uint16_t template_id;    /**< 256..65535 */
    uint16_t set_id;         /**< 2 template, 3 options template */
    uint32_t odid;           /**< observation domain id it is exported in */
    uint64_t last_sent_ms;   /**< Unix ms of the last (re)send, 0 = never */
    uint64_t data_records;   /**< data records sent with this template */
    uint32_t n_fields;
    struct fp_snap_template_field fields[FP_SNAP_MAX_TEMPLATE_FIELDS];
};

struct fp_snap_collector {
    char url[FP_SNAP_URL_LEN];
    uint8_t protocol;        /**< enum fp_snap_protocol */
    uint8_t transport;       /**< enum fp_snap_transport */
    uint8_t state;           /**< enum fp_snap_collector_state */
    uint8_t addr_family;     /**< 4, 6, or 0 (file, unresolved) */
    uint8_t addr[16];        /**< destination address, network order (IPv4 in 0..3) */
    uint16_t port;           /**< destination port, host order */
    uint32_t template_refresh_s;    /**< UDP template refresh timeout (0 = off / not UDP) */
    uint32_t template_refresh_msgs; /**< UDP template refresh every N messages (0 = off) */
    uint64_t records;
    uint64_t messages;
    uint64_t octets;
    uint64_t records_not_sent;
    uint64_t messages_not_sent;
    uint64_t reconnects;
    uint64_t templates_sent;         /**< template records sent (set id 2) */
    uint64_t options_templates_sent; /**< options template records sent (set id 3) */
    char last_error[FP_SNAP_ERROR_LEN];
    uint64_t spool_bytes;            /**< bytes waiting in the spool (0: no spool yet) */
    uint32_t n_templates;
    struct fp_snap_template templates[FP_SNAP_MAX_TEMPLATES];
};

struct fp_snap_metering {
    uint32_t active_timeout_s;
    uint32_t idle_timeout_s;
    uint32_t observation_domain; /**< ODID of the observation points */
    uint64_t active_flows;       /**< flows in all caches */
    uint64_t unused_entries;     /**< free cache entries over all workers */
    uint64_t data_records;       /**< flow records produced by the metering process */
};

struct fp_snap_class {
    char name[FP_SNAP_CLASS_NAME_LEN];
    uint64_t flows;
    uint64_t bytes;
    uint32_t qoe_score_x100; /**< mean QoE score 0..100, in hundredths (0..10000) */
};

struct fp_snapshot {
    char version[FP_SNAP_VERSION_LEN];
    uint64_t start_time_ms; /**< Unix ms when the daemon started */
    uint64_t now_ms;        /**< Unix ms when this snapshot was taken (0: the SNMP side sets it) */

    uint64_t packets_received;
    uint64_t packets_metered;
    uint64_t not_metered[FP_DECODE_RESULT_MAX]; /**< by enum fp_decode_result; [OK] unused */

    uint32_t n_ports;
    struct fp_snap_port ports[FP_MAX_PORTS];
    uint32_t n_workers;
    struct fp_snap_worker workers[FP_MAX_WORKERS];
    uint32_t n_collectors;
    struct fp_snap_collector collectors[FP_MAX_COLLECTORS];
    struct fp_snap_metering metering;
    uint32_t n_classes;
    struct fp_snap_class classes[FP_SNAP_MAX_CLASSES];
    /** Classification engine counters summed over workers, in FP_CLASSIFY_COUNTERS order
     *  (src/classify/classify_engine.h); n_classify = 0 when classification is off. */
    uint32_t n_classify;
    uint64_t classify[FP_SNAP_MAX_CLASSIFY_COUNTERS];
};

#endif /* FP_SNAPSHOT_H */
