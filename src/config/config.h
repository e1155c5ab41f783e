/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Config: libconfig file + command-line overrides → validated, unit-normalised
 * struct fp_config. Only src/config/ includes <libconfig.h>. Runs on the main thread
 * before EAL init (and later on reload); the result is immutable once published.
 */
#ifndef FP_CONFIG_H
#define FP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FP_MAX_PORTS 8
#define FP_MAX_COLLECTORS 8
#define FP_MAX_WORKERS 64
#define FP_CONFIG_STR 256
#define FP_MAX_CLASSIFY_RULES 64
#define FP_MAX_QOE_THRESHOLDS 128 /**< qoe.thresholds entries (7 classes x 14 metrics fit) */

enum fp_transport {
    FP_TRANSPORT_UDP,
    FP_TRANSPORT_TCP,
    FP_TRANSPORT_FILE,
    FP_TRANSPORT_TLS,  /**< IPFIX over TLS (RFC 7011 §10.4, §11), OpenSSL, default port 4740 */
    FP_TRANSPORT_DTLS, /**< IPFIX over DTLS 1.2 over UDP (RFC 7011 §11), default port 4740 */
};

/** Export protocol of a collector (from its URL scheme). */
enum fp_export_protocol {
    FP_EXPORT_PROTOCOL_IPFIX, /**< IPFIX (RFC 7011): udp://, tcp://, tls://, dtls://, file: */
    FP_EXPORT_PROTOCOL_NFV9,  /**< NetFlow v9 (RFC 3954) over UDP: nfv9+udp://, port 2055 */
    FP_EXPORT_PROTOCOL_NFV5,  /**< NetFlow v5 over UDP (IPv4 only): nfv5+udp://, port 2055 */
};

/** How records are shared among the stream (TCP/TLS/DTLS) collectors. */
enum fp_export_mode {
    FP_EXPORT_MODE_ALL,      /**< every collector gets every record */
    FP_EXPORT_MODE_FAILOVER, /**< first healthy stream collector in list order gets them */
};

/** One collector (export destination). */
struct fp_collector_config {
    char url[FP_CONFIG_STR];   /**< as written: udp://HOST:PORT, tcp://HOST:PORT, file:PATH */
    enum fp_transport transport;
    enum fp_export_protocol protocol; /**< from the URL scheme (NetFlow: transport UDP) */
    char host[FP_CONFIG_STR];  /**< udp/tcp: host name or address literal ([v6] unbracketed) */
    uint16_t port;             /**< udp/tcp: port (default 4739) */
    char path[FP_CONFIG_STR];  /**< file: path */
    bool biflow;               /**< RFC 5103 biflow records instead of two uniflows */
    uint32_t mtu;              /**< UDP: max IPFIX message size in bytes (default 1400, 512..65000) */
    char server_name[FP_CONFIG_STR]; /**< TLS/DTLS: expected collector name ("" = URL host) */
    char peer_cn[FP_CONFIG_STR];     /**< TLS/DTLS: allowed certificate CNs, comma-separated
                                          ("" = export.tls_peer_cn) */
};

/** One capture port. */
struct fp_port_config {
    char device[FP_CONFIG_STR]; /**< PCI address, or vdev spec such as "net_pcap0,rx_pcap=f" */
    uint16_t rx_queues;         /**< 0 = one per worker */
};

/** One classify.rules element: criteria (all must match; empty/0 = any) → app and class. */
struct fp_classify_rule_config {
    char name_suffix[FP_CONFIG_STR]; /**< SNI/Host/DNS name suffix ("" = any) */
    char prefix[64];                 /**< address or CIDR prefix of either end ("" = any) */
    uint32_t port;                   /**< responder port (0 = any) */
    uint32_t proto;                  /**< IP protocol number (0 = any) */
    char app[32];                    /**< application name reported */
    char cls[16];                    /**< FlowPulse class ("class" in the file) */
};

/**
 * One qoe.thresholds element: the score threshold of one metric in one QoE class, applied
 * over the built-in table (fp_qoe_params_default). good/bad are stored in millionths of the
 * unit the file uses for the metric (seconds, MOS, permille, kbit/s, count);
 * fp_config_qoe_value() converts them to the metric's integer unit.
 */
struct fp_qoe_threshold_config {
    uint32_t cls;    /**< QoE class, enum fp_qoe_class order ("class" in the file) */
    uint32_t metric; /**< metric, enum fp_qoe_metric order (FP_QOE_METRICS) */
    int64_t good;    /**< millionths of the file unit: sub-score 100 at or better than this */
    int64_t bad;     /**< millionths of the file unit: sub-score 0 at or worse than this */
    uint32_t weight; /**< weight in the class's mean, 0 = metric not used (default 1) */
};

struct fp_config {
    /* capture */
    char eal_args[1024];        /**< extra EAL arguments, space separated */
    struct fp_port_config ports[FP_MAX_PORTS];
    unsigned n_ports;
    unsigned workers;           /**< worker lcores (default 1) */
    unsigned burst;             /**< RX burst size (default 32, 1..256) */
    unsigned mbufs;             /**< mbufs in the RX pool (default 0 = automatic) */
    unsigned mbuf_size;         /**< data room per mbuf incl. 128-byte headroom (2176) */
    unsigned rx_desc;           /**< RX descriptors per queue (default 1024) */
    unsigned dist_ring_size;    /**< distributor → worker ring entries (default 4096) */
    char capture_file[FP_CONFIG_STR]; /**< -r FILE (empty: live) */
    bool progress;              /**< show progress on a terminal (default true) */
    uint32_t duration_s;        /**< capture.duration: stop after N seconds (0 = no limit) */
    uint32_t pace_milli;        /**< capture.pace x 1000: -r replay speed (0 = full speed) */
    uint32_t pace_max_gap_ms;   /**< capture.pace_max_gap: longer silences are cut (default 5 s) */

    /* decode */
    bool decap_tunnels;         /**< meter inner flows of tunnels (default true) */
    uint16_t vxlan_port;        /**< default 4789 */
    uint16_t gtpu_port;         /**< default 2152 */

    /* flow cache */
    uint32_t flow_capacity;     /**< flows per worker (default 1048576) */
    uint32_t idle_timeout_ms;   /**< default 15 s */
    uint32_t active_timeout_ms; /**< default 60 s */
    uint32_t tcp_end_ms;        /**< linger after FIN both ways / RST (default 2 s) */
    uint32_t frag_table_size;   /**< fragment id table entries per worker (default 4096) */

    /* export */
    struct fp_collector_config collectors[FP_MAX_COLLECTORS];
    unsigned n_collectors;
    uint32_t observation_domain;    /**< default 1 */
    uint32_t export_ring_size;      /**< records per worker→exporter ring (default 65536) */
    uint32_t template_refresh_s;    /**< UDP template refresh period (default 60 s) */
    uint32_t template_refresh_msgs; /**< UDP template refresh every N messages (0 = off) */
    uint32_t stats_interval_s;      /**< options records period (default 60 s) */
    bool export_enterprise;         /**< export.enterprise_elements: FlowPulse IEs (default true) */
    uint32_t export_pen;            /**< export.pen: their PEN (default 32473; 0 = 32473) */
    enum fp_export_mode export_mode; /**< export.mode (default all) */
    uint32_t retry_min_ms;          /**< TCP/TLS/DTLS first reconnect delay (default 60 s) */
    uint32_t retry_max_ms;          /**< reconnect backoff cap (default 600 s) */
    uint32_t queue_records;         /**< records queued in memory per collector while down */
    char spool_dir[FP_CONFIG_STR];  /**< on-disk spool directory ("" = memory only) */
    uint32_t spool_max_mb;          /**< spool cap per collector in MiB */
    uint32_t drain_timeout_ms;      /**< at stop: wait this long for queued records */
    char tls_cert[FP_CONFIG_STR];   /**< exporter certificate chain (PEM) */
    char tls_key[FP_CONFIG_STR];    /**< its private key (PEM) */
    char tls_ca[FP_CONFIG_STR];     /**< CA bundle that signs collector certificates (PEM) */
    char tls_ciphers[FP_CONFIG_STR];      /**< TLS 1.2 cipher list ("" = OpenSSL default) */
    char tls_ciphersuites[FP_CONFIG_STR]; /**< TLS 1.3 suites ("" = OpenSSL default) */
    char tls_min_version[8];        /**< "1.2" (default) or "1.3" */
    char tls_peer_cn[FP_CONFIG_STR]; /**< allowed collector certificate CNs, comma-separated
                                          ("" = any CN; RFC 7011 §11) */

    /* quality of experience */
    bool qoe_enabled;           /**< qoe.enabled (default true) */
    unsigned splt_packets;      /**< qoe.splt_packets: first N packets in SPLT (default 20) */
    uint32_t qoe_video_burst_gap_ms; /**< qoe.video_burst_gap: silence between bursts (0.2 s) */
    uint32_t qoe_video_stall_bps;    /**< qoe.video_stall_rate: stall bin below (300000 bit/s) */
    uint32_t qoe_game_spike_ms;      /**< qoe.game_spike: lag spike latency (0.15 s) */
    uint32_t qoe_game_gap_ms;        /**< qoe.game_gap: server silence counted as a gap (0.25 s) */
    uint32_t qoe_rtp_latency_ms;     /**< qoe.rtp_latency: one-way latency for the E-model (0) */
    struct fp_qoe_threshold_config qoe_thresholds[FP_MAX_QOE_THRESHOLDS]; /**< qoe.thresholds */
    unsigned n_qoe_thresholds;

    /* classification */
    bool classify_enabled;          /**< classify.enabled (default true) */
    unsigned classify_max_packets;  /**< classify.max_packets: inspection cap per flow (12) */
    unsigned classify_contexts;     /**< classify.contexts: inspection contexts per worker */
    unsigned classify_dns_cache;    /**< classify.dns_cache: DNS cache entries per worker */
    char classify_classes[FP_CONFIG_STR]; /**< classify.classes ("" = built-in table) */
    struct fp_classify_rule_config classify_rules[FP_MAX_CLASSIFY_RULES]; /**< classify.rules */
    unsigned n_classify_rules;

    /* SNMP */
    bool snmp_enabled;          /**< snmp.enabled (default false) */
    char snmp_socket[FP_CONFIG_STR]; /**< snmp.agentx_socket ("" = net-snmp default) */
    uint32_t snmp_refresh_ms;   /**< snmp.refresh (default 1 s) */
    uint32_t snmp_drop_threshold; /**< snmp.drop_threshold drops/s (0 = off) */

    /* control */
    char control_socket[FP_CONFIG_STR]; /**< control.socket: flowpulsectl's Unix socket ("" = off) */

    /* logging */
    char log_level[16];         /**< error|warning|notice|info|debug (default info) */
    char log_target[16];        /**< log.target: auto|stderr|journal|syslog (default auto) */

    /* daemon */
    char daemon_user[64];       /**< daemon.user: run as this user after init ("" = stay) */
    char daemon_group[64];      /**< daemon.group: and group ("" = the user's primary group) */
};

/** Number of QoE metrics known to qoe.thresholds (= FP_QOE_METRIC_MAX, checked by a test). */
#define FP_CONFIG_QOE_METRICS 14

/**
 * A qoe.thresholds value (millionths of the file unit) in the metric's integer unit as
 * src/qoe uses it: seconds -> µs, MOS -> MOS x 100, permille, kbit/s and counts unchanged.
 * Exact for values that passed validation (they are multiples of the metric's resolution).
 * @param metric enum fp_qoe_metric value (< FP_CONFIG_QOE_METRICS; otherwise 0 is returned)
 */
int64_t fp_config_qoe_value(unsigned metric, int64_t millionths);

/** Fill every field with its built-in default. */
void fp_config_defaults(struct fp_config *c);

/**
 * Load a libconfig file over the defaults already in @p c.
 * @param err    on failure: "file:line: setting: problem"
 * @return 0, or -EINVAL (syntax or validation error), -ENOENT (unreadable file)
 */
int fp_config_load_file(struct fp_config *c, const char *path, char *err, size_t errlen);

/**
 * Apply one "-o SETTING=VALUE" override (setting path as in the file, e.g.
 * "flow.idle_timeout=30").
 * @return 0, or -EINVAL with err = "-o SETTING=VALUE: problem"
 */
int fp_config_override(struct fp_config *c, const char *assignment, char *err, size_t errlen);

/**
 * Add a collector from an "-e URL" flag.
 * @return 0, or -EINVAL with err = "-e URL: problem"
 */
int fp_config_add_collector_url(struct fp_config *c, const char *url, char *err, size_t errlen);

/**
 * Cross-setting validation after all sources were applied.
 * @return 0, or -EINVAL with err = "setting: problem"
 */
int fp_config_validate(const struct fp_config *c, char *err, size_t errlen);

/**
 * Print the effective configuration in libconfig syntax (flowpulse --dump-config). Loading
 * the output gives back the same struct fp_config, except capture_file (a command-line
 * option, printed as a comment only).
 * @return 0, or -EIO if writing to @p out failed
 */
int fp_config_dump(const struct fp_config *c, FILE *out);

#endif /* FP_CONFIG_H */
