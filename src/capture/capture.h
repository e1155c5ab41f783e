/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Capture: DPDK EAL, ports (PCI devices or vdevs), RX queues, the optional distributor and
 * the worker lcores that run decode → flow for every packet. Pipeline place: the start.
 *
 * Threads: fp_capture_run() is called on the main lcore; it launches one worker per
 * worker lcore (each owns its flow table and the producer side of its export ring), plus a
 * distributor lcore when a port has fewer RX queues than there are workers. The main lcore
 * only watches (progress, stop). fp_capture_request_stop() is async-signal-safe.
 */
#ifndef FP_CAPTURE_H
#define FP_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "decode/decode.h"
#include "flow/flow.h"

struct rte_ring;

/** Per-worker counters (single writer: that worker, or the distributor for decode). */
#define FP_WORKER_COUNTERS(X)                                                               \
    X(rx_packets, "packets received from the port")                                       \
    X(rx_bytes, "bytes received (frame length)")                                          \
    X(dist_ring_full, "packets dropped: distributor to worker ring full (live)")          \
    X(export_ring_full, "records dropped: worker to exporter ring full (live)")           \
    X(export_ring_full_packets, "packets in records dropped for a full export ring")      \
    X(export_ring_full_octets, "octets in records dropped for a full export ring")        \
    X(export_ring_waits, "times a worker waited for the export ring (capture file)")      \
    X(ignored_octets, "octets of packets not metered")

struct fp_worker_stats {
#define FP_X_FIELD(name, desc) uint64_t name;
    FP_WORKER_COUNTERS(FP_X_FIELD)
#undef FP_X_FIELD
    uint64_t decode[FP_DECODE_RESULT_MAX];   /**< by result; [OK] = metered */
    uint64_t notes[FP_DECODE_NOTE_COUNT];    /**< annotations on metered packets */
    uint64_t first_ignored_ms;
    uint64_t last_ignored_ms;
    uint64_t last_ts_ns;                     /**< worker clock */
} FP_CACHE_ALIGNED;

/** Totals for the exit report and the metering statistics. */
struct fp_capture_totals {
    uint64_t rx_packets;
    uint64_t metered;
    uint64_t not_metered;           /**< sum of decode results other than OK */
    uint64_t dropped;               /**< ring drops (live) */
    uint64_t port_missed;           /**< rte_eth_stats imissed */
    uint64_t port_errors;           /**< rte_eth_stats ierrors */
    uint64_t port_nombuf;           /**< rte_eth_stats rx_nombuf */
    uint64_t flows_created;
    uint64_t records_ring_full;
    struct fp_worker_stats sum;
    struct fp_flow_stats flow;
};

struct fp_capture;

/**
 * Initialise the EAL from cfg->eal_args (plus the capture file vdev, lcores and memory
 * when not given). Call once, after the configuration was validated.
 * @return 0, or -EINVAL (EAL refused its arguments; logged)
 */
int fp_capture_eal_init(const struct fp_config *cfg, const char *prog);

/**
 * Create ports, mempool, rings, workers and their flow tables.
 * @param export_rings one ring per worker (cfg->workers), producer side given to workers
 * @return the capture, or NULL with errno set (logged)
 */
struct fp_capture *fp_capture_create(const struct fp_config *cfg,
                                     struct rte_ring *const *export_rings);

/**
 * Run until the capture file ends, the duration elapses or a stop is requested; workers
 * then export every flow still in their cache (flowEndReason forced end).
 * @return 0, or -errno
 */
int fp_capture_run(struct fp_capture *c);

/** Ask the capture to stop (async-signal-safe). */
void fp_capture_request_stop(struct fp_capture *c);

/** Sum counters over workers (any thread; relaxed reads). */
void fp_capture_get_totals(const struct fp_capture *c, struct fp_capture_totals *t);

struct fp_classify_stats;

/**
 * Classification counters (FP_CLASSIFY_COUNTERS and the ctx_in_use gauge) summed over
 * workers (any thread; relaxed reads of the blocks each worker's engine writes).
 * @return 0, or -ENOENT when classification is off (@p out zeroed)
 */
int fp_capture_get_classify(const struct fp_capture *c, struct fp_classify_stats *out);

#define FP_CAPTURE_RSS_KEY_LEN 40

/** The symmetric Toeplitz RSS key programmed into NICs (both directions → one queue). */
const uint8_t *fp_capture_rss_key(void);

/** Number of workers. */
unsigned fp_capture_worker_count(const struct fp_capture *c);

/**
 * Reload: every worker applies new flow timeouts at its next poll (flows stay in the cache;
 * deadlines are recomputed). Any thread.
 */
void fp_capture_set_timeouts(struct fp_capture *c, uint32_t idle_ms, uint32_t active_ms,
                             uint32_t tcp_end_ms);

struct fp_qoe_params;

/**
 * The QoE parameters of a configuration: fp_qoe_params_default() with the qoe.* settings
 * and the qoe.thresholds entries applied over it. Pure; any thread.
 */
void fp_capture_qoe_params(const struct fp_config *cfg, struct fp_qoe_params *p);

/**
 * Reload: build the QoE parameters and, when classification is on, the class table
 * (classify.classes, re-read) and operator rules of @p cfg, and publish them to the workers.
 * Each worker switches at its next poll and acknowledges; the replaced tables are freed once
 * every worker has (waits up to 1 s for that, else they are freed by a later reload or at
 * exit). Flows already classified keep their application and class; flows not yet decided
 * are decided with the new rules; scores of records built after the switch use the new
 * thresholds. One caller at a time (the control thread).
 * @param err  on failure: "classify.classes: ...", "classify.rules[i]: ...", ...
 * @return 0, -EINVAL (nothing published), -ENOMEM, or -EBUSY (FP_RCU_MAX_RETIRED earlier
 *         reloads still wait for a worker that does not poll)
 */
int fp_capture_reload_tables(struct fp_capture *c, const struct fp_config *cfg, char *err,
                             size_t errlen);

/** One worker's counters and its flow cache counters (any thread; relaxed reads). */
void fp_capture_get_worker(const struct fp_capture *c, unsigned worker, struct fp_worker_stats *ws,
                           struct fp_flow_stats *fs);

struct fp_capture_port_stats {
    uint64_t rx_packets;
    uint64_t missed;
    uint64_t errors;
    uint64_t nombuf;
};

/**
 * Query the live flow caches of all workers: each worker examines its flows in slices of at
 * most 1024 per poll (a worker is never stalled for long) and keeps those @p match accepts
 * (records of the current interval with QoE/classification filled, end_reason 0).
 * Call from a control thread; queries are serialised.
 * @param out             room for fp_capture_worker_count() * max_per_worker records
 * @param n_out           records returned (compacted at the start of @p out)
 * @return 0, -EINVAL, -ENOMEM or -ETIMEDOUT (partial results are still returned)
 */
int fp_capture_query_flows(struct fp_capture *c,
                           bool (*match)(void *arg, const struct fp_flow_record *r), void *arg,
                           struct fp_flow_record *out, unsigned max_per_worker, unsigned *n_out,
                           unsigned timeout_ms);

/** Number of capture ports. */
unsigned fp_capture_port_count(const struct fp_capture *c);

/** NIC counters of a port (rte_eth_stats). @return 0, or -errno */
int fp_capture_get_port(const struct fp_capture *c, unsigned port, struct fp_capture_port_stats *out);

/** Stop ports and free everything (NULL accepted). */
void fp_capture_destroy(struct fp_capture *c);

/** Clean up the EAL (after fp_capture_destroy). */
void fp_capture_eal_fini(void);

#endif /* FP_CAPTURE_H */
