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

enum fp_transport {
    FP_TRANSPORT_UDP,
    FP_TRANSPORT_TCP,
    FP_TRANSPORT_FILE,
};

/** One collector (export destination). */
struct fp_collector_config {
    char url[FP_CONFIG_STR];   /**< as written: udp://HOST:PORT, tcp://HOST:PORT, file:PATH */
    enum fp_transport transport;
    char host[FP_CONFIG_STR];  /**< udp/tcp: host name or address literal ([v6] unbracketed) */
    uint16_t port;             /**< udp/tcp: port (default 4739) */
    char path[FP_CONFIG_STR];  /**< file: path */
    bool biflow;               /**< RFC 5103 biflow records instead of two uniflows */
    uint32_t mtu;              /**< UDP: max IPFIX message size in bytes (default 1400, 512..65000) */
};

/** One capture port. */
struct fp_port_config {
    char device[FP_CONFIG_STR]; /**< PCI address, or vdev spec such as "net_pcap0,rx_pcap=f" */
    uint16_t rx_queues;         /**< 0 = one per worker */
};

struct fp_config {
    /* capture */
    char eal_args[1024];        /**< extra EAL arguments, space separated */
    struct fp_port_config ports[FP_MAX_PORTS];
    unsigned n_ports;
    unsigned workers;           /**< worker lcores (default 1) */
    unsigned burst;             /**< RX burst size (default 32, 1..256) */
    unsigned mbufs;             /**< mbufs in the RX pool (default 0 = automatic) */
    unsigned rx_desc;           /**< RX descriptors per queue (default 1024) */
    unsigned dist_ring_size;    /**< distributor → worker ring entries (default 4096) */
    char capture_file[FP_CONFIG_STR]; /**< -r FILE (empty: live) */
    bool progress;              /**< show progress on a terminal (default true) */
    uint32_t duration_s;        /**< capture.duration: stop after N seconds (0 = no limit) */
    uint32_t pace_milli;        /**< capture.pace x 1000: -r replay speed (0 = full speed) */

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

    /* logging */
    char log_level[16];         /**< error|warning|notice|info|debug (default info) */
};

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
