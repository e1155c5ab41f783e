/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Export: worker → exporter ring and the IPFIX exporter (libfixbuf encoder, UDP/TCP/file).
 * Pipeline place: flow → **export** → collectors.
 *
 * Threads and ownership:
 * - Each worker owns the producer side of one SP/SC ring (fp_export_ring_put*, below; no
 *   allocation, no lock, no syscall). Records travel by value (struct fp_flow_record).
 * - One exporter pthread (fp_exporter_start) owns the consumer side of every ring and every
 *   libfixbuf object, socket and file. Workers never call libfixbuf.
 * - fp_exporter_create/start/stop/destroy run on the main thread. fp_exporter_get_stats may
 *   run on any thread (relaxed atomic counters, error text under a mutex).
 * The rings are plain memory (no EAL, no memzone): unit tests and tools need no EAL.
 */
#ifndef FP_EXPORT_H
#define FP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "config/config.h"
#include "flow/flow.h"

FP_STATIC_ASSERT(sizeof(struct fp_flow_record) % 4 == 0, "rte_ring elem size must be 4*n");

/** Ring element size in bytes. */
#define FP_EXPORT_RING_ESIZE ((unsigned)sizeof(struct fp_flow_record))

/** Bytes of a record before the classification/QoE part (the metering-only record). */
#define FP_EXPORT_RECORD_BASE ((unsigned)offsetof(struct fp_flow_record, app))
FP_STATIC_ASSERT(offsetof(struct fp_flow_record, app) % 4 == 0, "base record is ring-friendly");

/**
 * Bytes of each record in the worker→exporter rings: FP_EXPORT_RING_ESIZE, or
 * FP_EXPORT_RECORD_BASE when neither classification nor QoE runs (records then carry no
 * extension, and moving 140 instead of ~730 bytes per record matters at millions of flows).
 * Set once by fp_export_set_compact() before any ring is created; read-only afterwards.
 */
extern unsigned fp_export_record_size;

/** Choose compact (metering-only) records. Call before creating rings and workers. */
void fp_export_set_compact(bool compact);

/**
 * Create an SP/SC ring of flow records without EAL (aligned heap memory + rte_ring_init).
 * @param name   ring name (copied; need not be unique: no memzone is used)
 * @param count  usable capacity in records (any value 1..2^28; exact, not rounded)
 * @return the ring, or NULL with errno = EINVAL (bad count) or ENOMEM.
 * Thread: main thread, before workers start.
 */
struct rte_ring *fp_export_ring_create(const char *name, unsigned count);

/** Free a ring from fp_export_ring_create(). Accepts NULL. */
void fp_export_ring_free(struct rte_ring *r);

/**
 * Hand one record to the exporter (worker side; copies the record into the ring).
 * @return true if enqueued, false if the ring is full (the caller counts the loss in
 *         fp_metering_stats.records_ring_full, or retries).
 */
static inline bool fp_export_ring_put(struct rte_ring *r, const struct fp_flow_record *rec)
{
    /* DPDK 22.11 takes a non-const pointer but only reads it. */
    return rte_ring_sp_enqueue_elem(r, (void *)(uintptr_t)rec, fp_export_record_size) == 0;
}

/**
 * Hand up to @p n records to the exporter (worker side).
 * @return the number enqueued (0..n, from the front of @p recs); the rest did not fit.
 */
static inline unsigned fp_export_ring_put_burst(struct rte_ring *r,
                                                const struct fp_flow_record *recs, unsigned n)
{
    return rte_ring_sp_enqueue_burst_elem(r, (void *)(uintptr_t)recs, fp_export_record_size, n,
                                          NULL);
}

/**
 * Metering Process counters, supplied by the caller through a callback (the exporter cannot
 * see worker counters). Totals since start; times in ms since the UNIX epoch (0: none).
 */
struct fp_metering_stats {
    uint64_t packets_observed;
    uint64_t packets_ignored;        /**< packets seen but not metered (not IP, bad header) */
    uint64_t octets_ignored;         /**< their octets */
    uint64_t first_ignored_ms;
    uint64_t last_ignored_ms;
    uint64_t flows_dropped_resources; /**< flows lost for lack of resources */
    uint64_t records_ring_full;      /**< records lost because a ring was full */
    uint64_t packets_ring_full;      /**< packets in those records (0 if not counted) */
    uint64_t octets_ring_full;       /**< octets in those records (0 if not counted) */
};

/** Transport state of one collector. */
enum fp_collector_state {
    FP_COLLECTOR_STATE_DOWN,       /**< TCP: not connected, waiting to retry */
    FP_COLLECTOR_STATE_CONNECTING, /**< TCP: non-blocking connect in progress */
    FP_COLLECTOR_STATE_UP,         /**< sending */
    FP_COLLECTOR_STATE_CLOSED,     /**< after fp_exporter_stop */
};

#define FP_EXPORT_ERR_LEN 160

/** Why a TCP/TLS/DTLS session failed or could not be set up (one counter each). */
#define FP_EXPORT_FAIL_LIST(X)                                                             \
    X(CONNECT, "connect")                 /* refused, unreachable, timed out */            \
    X(TLS_FILES, "tls_files")             /* certificate/key/CA file missing or bad */     \
    X(CERT_EXPIRED, "cert_expired")       /* a certificate in the chain expired */         \
    X(CERT_NOT_YET_VALID, "cert_not_yet_valid")                                            \
    X(UNKNOWN_CA, "unknown_ca")           /* chain does not lead to export.tls_ca */       \
    X(NAME_MISMATCH, "name_mismatch")     /* collector cert lacks the expected name */     \
    X(CERT_OTHER, "cert_other")           /* any other verification error */               \
    X(HANDSHAKE, "handshake")             /* e.g. the collector refused our certificate */ \
    X(PEER_CLOSED, "peer_closed")         /* orderly close / EOF from the collector */     \
    X(PEER_RESET, "peer_reset")           /* connection reset / broken pipe */             \
    X(IO, "io")                           /* other socket or TLS error */

enum fp_export_fail {
#define FP_X(id, name) FP_EXPORT_FAIL_##id,
    FP_EXPORT_FAIL_LIST(FP_X)
#undef FP_X
    FP_EXPORT_FAIL_COUNT
};

/** Name of a failure reason ("connect", "unknown_ca", ...). */
const char *fp_export_fail_name(enum fp_export_fail f);

/** Per-collector statistics (snapshot). */
struct fp_collector_stats {
    uint64_t messages;          /**< IPFIX messages sent (templates, data, options) */
    uint64_t records;           /**< flow data records sent */
    uint64_t octets;            /**< message octets sent */
    uint64_t records_not_sent;  /**< flow records dropped (collector down, send error) */
    uint64_t packets_not_sent;  /**< packets represented by those records */
    uint64_t octets_not_sent;   /**< octets represented by those records */
    uint64_t reconnects;        /**< TCP connections established after the first one */
    uint64_t template_sends;    /**< times the template set was (re)sent */
    uint64_t empty_sets_removed; /**< libfixbuf 2.4.1 empty Sets stripped (should stay 0) */
    uint64_t failures[FP_EXPORT_FAIL_COUNT]; /**< session failures by reason */
    uint64_t records_queued;    /**< flow records waiting (memory + spool + retry), now */
    uint64_t records_spooled;   /**< flow records written to the on-disk spool (total) */
    uint64_t records_resent;    /**< records queued again after a session failed (total) */
    uint64_t queue_dropped;     /**< records dropped because queue and spool were full */
    /* NetFlow collectors: records/messages/octets/records_not_sent/template_sends count
     * uniflow records (v5 split parts included) and packets. */
    enum fp_export_protocol protocol; /**< IPFIX, NetFlow v9 or v5 */
    uint64_t nf_skipped_ipv6;   /**< v5: IPv6 directions not exported (v5 is IPv4 only) */
    uint64_t nf_splits;         /**< v5: extra records made by splitting counters > 2^32-1 */
    uint64_t nf_dirs_empty;     /**< directions with 0 packets, not exported */
    enum fp_collector_state state;
    char last_error[FP_EXPORT_ERR_LEN]; /**< "" when no error yet */
};

/** Exporter parameters. */
struct fp_exporter_params {
    const struct fp_config *cfg;     /**< copied by fp_exporter_create */
    struct rte_ring *const *rings;   /**< one per worker; consumer side moves to the exporter */
    unsigned n_rings;
    /** Called on the exporter thread to fill Metering Process statistics; may be NULL. */
    void (*metering_stats)(void *arg, struct fp_metering_stats *out);
    void *metering_arg;
    /* Optional tuning (0 = default). */
    uint32_t tcp_retry_min_ms;       /**< first reconnect delay (default cfg retry_min_ms) */
    uint32_t tcp_retry_max_ms;       /**< backoff cap (default cfg retry_max_ms) */
    uint32_t flush_ms;               /**< max age of a half-full message (default 1000) */
    uint32_t exporting_process_id;   /**< exportingProcessId (default getpid()) */
};

struct fp_exporter;

/**
 * Create the exporter: resolve and open every collector (UDP socket, file, TCP connect).
 * A TCP collector that is down is not fatal: it is retried with exponential backoff and the
 * records it misses are counted as not sent.
 * @return the exporter, or NULL with errno = EINVAL (bad params, unresolvable host,
 *         mtu too small), ENOMEM, or the errno of opening a file / creating a socket.
 * Thread: main thread.
 */
struct fp_exporter *fp_exporter_create(const struct fp_exporter_params *params);

/**
 * Start the exporter thread.
 * @return 0, -EALREADY if started, or -errno from pthread_create.
 */
int fp_exporter_start(struct fp_exporter *ex);

/**
 * Stop after every producer has finished: the thread drains every ring, flushes every
 * collector, sends final statistics options records, closes the transports and is joined.
 * @return 0, or -EINVAL if the exporter was not started.
 */
int fp_exporter_stop(struct fp_exporter *ex);

/** Stop if running, free everything. Accepts NULL. Does not free the rings. */
void fp_exporter_destroy(struct fp_exporter *ex);

/**
 * Apply a new configuration to the running exporter, on the exporter thread (the request is
 * posted and this call waits for its completion; before fp_exporter_start it runs here).
 * Collectors present in both configurations with the same URL and settings keep their
 * session, templates, sequence numbers, counters and queue; removed collectors are flushed
 * and closed (their counters stay readable until destroy but they leave the index space);
 * changed ones are closed and reopened; added ones are opened. Template refresh, statistics
 * interval, retry and drain settings apply at once; a change of export.enterprise_elements
 * or export.observation_domain starts new IPFIX sessions (templates first) on the kept UDP
 * and file collectors and new transport sessions on TCP/TLS/DTLS ones; NetFlow v9 templates
 * and options are re-sent when the observation domain or flow timeouts changed.
 * export.mode, queue_records, spool_dir, spool_max_mb (and export.pen once enterprise
 * elements are in use) keep their running values. Collector indexes follow @p new_cfg.
 * @param new_cfg  validated configuration (copied; need not outlive the call)
 * @param msg      receives a one-line summary (kept/added/replaced/removed, problems)
 * @return 0; -EINVAL (bad arguments); -ENOMEM; -ESHUTDOWN (exporter stopping: nothing
 *         changed); or the -errno of a collector that could not be opened (the rest of the
 *         configuration is applied; that collector stays listed, down, its records not sent).
 * Thread: any thread except the exporter's; one call at a time is served.
 */
int fp_exporter_reconfigure(struct fp_exporter *ex, const struct fp_config *new_cfg, char *msg,
                            size_t len);

/** Number of collectors. */
unsigned fp_exporter_collector_count(const struct fp_exporter *ex);

/**
 * Snapshot of one collector's statistics (any thread).
 * @param collector  index in cfg->collectors; out of range → zeroed stats.
 */
void fp_exporter_get_stats(const struct fp_exporter *ex, unsigned collector,
                           struct fp_collector_stats *out);

#endif /* FP_EXPORT_H */
