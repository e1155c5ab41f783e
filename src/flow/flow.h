/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Flow: per-worker flow cache (preallocated pool, bucketised hash table, timer wheel) and
 * the flow record handed to the exporter. Pipeline place: decode → **flow** → export.
 * One struct fp_flow_table per worker lcore, used only by that worker (no locks).
 * Records leave the worker by value (struct fp_flow_record) through a SP/SC ring.
 */
#ifndef FP_FLOW_H
#define FP_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "common/fp_compiler.h"
#include "decode/decode.h"

/** IPFIX flowEndReason values (IE 136). */
enum fp_end_reason {
    FP_END_IDLE = 1,
    FP_END_ACTIVE = 2,
    FP_END_END = 3,
    FP_END_FORCED = 4,
    FP_END_RESOURCE = 5,
};

/**
 * Canonical bidirectional key: endpoint 0 is the lower (address, port) pair, so both
 * directions of a connection map to the same key. IPv4 addresses use bytes 0..3.
 */
struct fp_flow_key {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint8_t proto;
    uint8_t ip_version;
    uint8_t tunnel; /**< enum fp_tunnel */
    uint8_t n_vlan;
    uint16_t vlan[2];
    uint32_t vni;
};
FP_STATIC_ASSERT(sizeof(struct fp_flow_key) == 48, "flow key layout");

/** Per-direction counters of a flow (direction 0 = initiator → responder). */
struct fp_flow_dir {
    uint64_t packets;
    uint64_t bytes;     /**< IP total length summed */
    uint64_t first_ns;  /**< first packet time, ns since UNIX epoch (0: none yet) */
    uint64_t last_ns;   /**< last packet time, ns since UNIX epoch */
    uint16_t tcp_flags; /**< OR of TCP flags (RFC 7125 bits) */
    uint16_t icmp_type_code; /**< of the first ICMP packet of this direction */
    uint8_t ttl_min;
    uint8_t ttl_max;
    uint8_t tos;        /**< of the first packet of this direction */
    uint8_t pad;
};
FP_STATIC_ASSERT(sizeof(struct fp_flow_dir) == 40, "flow dir layout");

/** FlowPulse application classes (the taxonomy of ../shared/taxonomy/app-classes.tsv). */
#define FP_APP_CLASSES(X)                                                                   \
    X(UNKNOWN, "unknown")                                                                  \
    X(VIDEO, "video")                                                                      \
    X(CONFERENCING, "conferencing")                                                        \
    X(GAMING, "gaming")                                                                    \
    X(SOFTWARE_UPDATE, "software-update")                                                  \
    X(SOCIAL_MEDIA, "social-media")                                                        \
    X(FILE_STORAGE, "file-storage")                                                        \
    X(MESSAGING, "messaging")                                                              \
    X(MUSIC, "music")                                                                      \
    X(WEB, "web")                                                                          \
    X(EMAIL, "email")                                                                      \
    X(VPN, "vpn")                                                                          \
    X(REMOTE_ACCESS, "remote-access")                                                      \
    X(INFRASTRUCTURE, "infrastructure")

enum fp_app_class {
#define FP_X_ENUM(name, text) FP_APP_CLASS_##name,
    FP_APP_CLASSES(FP_X_ENUM)
#undef FP_X_ENUM
        FP_APP_CLASS_MAX,
};

/** How the application of a flow was decided (exported as fpAppMethod). */
enum fp_app_method {
    FP_APP_METHOD_NONE = 0,  /**< not decided (unknown) */
    FP_APP_METHOD_DPI = 1,   /**< nDPI detection */
    FP_APP_METHOD_SNI = 2,   /**< TLS/QUIC server name */
    FP_APP_METHOD_DNS = 3,   /**< name learnt from an earlier DNS answer for the server */
    FP_APP_METHOD_RULE = 4,  /**< operator rule from the configuration */
    FP_APP_METHOD_PORT = 5,  /**< port guess */
    FP_APP_METHOD_HOST = 6,  /**< HTTP Host header */
};

/** Application identification exported with a flow (plain data, filled by classify). */
struct fp_flow_app {
    uint16_t app_id;        /**< FlowPulse application id (0 = unknown) */
    uint8_t cls;            /**< enum fp_app_class */
    uint8_t method;         /**< enum fp_app_method */
    uint8_t confidence;     /**< 0..100 */
    uint8_t inspected;      /**< 1 if payload inspection ran for this flow */
    uint16_t pad;
    char name[32];          /**< application name, UTF-8, NUL-terminated ("" = unknown) */
    char server_name[64];   /**< TLS/QUIC SNI or HTTP Host, UTF-8 */
    char dns_name[64];      /**< DNS query name, or the cached name of the server address */
};

/** First N packets of a flow (SPLT): length, direction, inter-arrival time. */
#define FP_FLOW_SPLT_MAX 32
struct fp_flow_splt {
    uint8_t n;                        /**< packets recorded */
    uint8_t pad[3];
    uint32_t dirs;                    /**< bit i = direction of packet i (1 = responder) */
    uint16_t len[FP_FLOW_SPLT_MAX];   /**< L4 payload length of packet i (bytes) */
    uint32_t iat_us[FP_FLOW_SPLT_MAX];/**< µs since the previous packet of the flow (0 first) */
};

/** Bits of struct fp_qoe_result.have: which groups of fields are valid. */
#define FP_QOE_HAVE_SND (1u << 0)
#define FP_QOE_HAVE_CND (1u << 1)
#define FP_QOE_HAVE_ART (1u << 2)
#define FP_QOE_HAVE_RTT0 (1u << 3) /**< rtt_*[0] valid */
#define FP_QOE_HAVE_RTT1 (1u << 4)
#define FP_QOE_HAVE_TCP (1u << 5)  /**< outcome, retx, ooo, zero-window fields */
#define FP_QOE_HAVE_TLS (1u << 6)
#define FP_QOE_HAVE_DNS (1u << 7)  /**< a query was seen: dns_* fields */
#define FP_QOE_HAVE_RTP0 (1u << 8)
#define FP_QOE_HAVE_RTP1 (1u << 9)
#define FP_QOE_HAVE_VIDEO (1u << 10)
#define FP_QOE_HAVE_GAME (1u << 11) /**< game jitter/spikes/gaps */
#define FP_QOE_HAVE_GAME_LAT (1u << 12)
#define FP_QOE_HAVE_SCORE (1u << 13)

/** Per-flow QoE results, as copied into the exported record. Times in µs. */
struct fp_qoe_result {
    uint32_t have;               /**< FP_QOE_HAVE_* */
    /* TCP */
    uint32_t snd_us, cnd_us;     /**< server-/client-side network delay */
    uint32_t art_us;             /**< raw first request byte → first response byte */
    uint32_t srv_delay_us;       /**< Cisco AD = art − snd (0 if negative; needs SND) */
    uint32_t tls_us;
    uint32_t rtt_min_us[2], rtt_mean_us[2], rtt_max_us[2];
    uint32_t rtt_samples[2];
    uint32_t retx_pkts[2], retx_bytes[2], ooo_pkts[2];
    uint32_t zw_events[2], zw_us[2];
    uint8_t tcp_outcome;         /**< enum fp_qoe_tcp_outcome */
    uint8_t dns_rcode;
    uint8_t dns_answered;
    uint8_t dns_retries;
    uint32_t dns_us;
    /* RTP, per direction */
    uint32_t rtp_ssrc[2];
    uint8_t rtp_pt[2];
    uint16_t rtp_reordered[2];
    uint32_t rtp_jitter_us[2], rtp_jitter_max_us[2], rtp_jitter_ts[2];
    uint32_t rtp_expected[2], rtp_received[2], rtp_dups[2];
    int32_t rtp_lost[2];         /**< expected − (received − dups), RFC 3550 A.3 corrected */
    uint32_t rtp_mos_x100[2];
    int32_t rtp_r_x100[2];
    /* Video */
    uint64_t video_mean_bps, video_peak_bps, video_bitrate_bps;
    uint32_t video_bursts, video_burst_mean, video_burst_max, video_stall_bins;
    /* Gaming */
    uint32_t game_lat_min_us, game_lat_mean_us, game_lat_max_us;
    uint32_t game_jitter_us, game_spikes, game_gaps;
    /* Score */
    uint8_t score;               /**< 0..100 (FP_QOE_HAVE_SCORE) */
};


/**
 * One finished (or active-timeout) flow, as handed to the exporter. Oriented: src is the
 * initiator (first packet's source; the SYN sender for TCP when seen).
 * Counters are deltas since the previous record of the same flow (active timeout).
 */
struct fp_flow_record {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t ip_version;
    uint8_t end_reason; /**< enum fp_end_reason */
    uint8_t tunnel;
    uint16_t vlan[2];
    uint8_t n_vlan;
    uint8_t worker;
    uint16_t port_id;   /**< capture port → ingressInterface = port_id + 1 */
    uint32_t vni;
    uint64_t flow_id;   /**< unique per exporter run: worker << 56 | sequence */
    struct fp_flow_dir dir[2];
    /* Filled by the worker's extension (classification, QoE). The flow cache leaves this
     * part to the sink: it is not initialised without an extension (compact records). */
    struct fp_flow_app app;
    struct fp_qoe_result qoe;
    struct fp_flow_splt splt;
};
FP_STATIC_ASSERT(sizeof(struct fp_flow_record) % 8 == 0, "record is ring-friendly");

/** Flow-cache counters, one block per worker (single writer: the worker). */
#define FP_FLOW_COUNTERS(X)                                                                 \
    X(packets, "packets metered into the cache")                                           \
    X(created, "flows created")                                                            \
    X(expired_idle, "flows ended by idle timeout")                                         \
    X(expired_active, "records exported by active timeout (flow kept)")                    \
    X(expired_end, "flows ended by TCP FIN/RST")                                           \
    X(expired_forced, "flows ended by shutdown or end of capture")                         \
    X(evicted_resource, "flows evicted because the cache was full")                        \
    X(evicted_bucket, "flows evicted because both hash buckets were full")                 \
    X(split_overflow, "records exported early because a 32-bit packet counter was full")   \
    X(frag_matched, "later fragments matched to their first fragment")                     \
    X(frag_unmatched, "later fragments metered with ports 0 (first fragment not seen)")    \
    X(rescheduled, "timer wheel reschedules (lazy expiry)")

struct fp_flow_stats {
#define FP_X_FIELD(name, desc) uint64_t name;
    FP_FLOW_COUNTERS(FP_X_FIELD)
#undef FP_X_FIELD
    uint64_t active; /**< gauge: flows in the cache */
};

extern const char *const fp_flow_counter_names[];
extern const unsigned fp_flow_counter_count;

/**
 * Where records go: called by the owning worker for every record. The sink may complete
 * the record (classification, QoE fields) before handing it on.
 * @param ext   the flow's extension state (NULL without an extension)
 * @param final true when the flow leaves the cache, false for an active-timeout record
 */
struct fp_flow_sink {
    void (*emit)(void *arg, struct fp_flow_record *rec, void *ext, bool final);
    void *arg;
};

/**
 * Per-flow extension (classification, QoE): a zeroed state block of @p size bytes per flow,
 * kept in a cold array beside the hot entries, and hooks the owning worker calls.
 */
struct fp_flow_ext {
    uint32_t size; /**< bytes per flow (0 = no extension) */
    /** Every metered packet, after the counters were updated. dir 0 = initiator→responder. */
    void (*packet)(void *arg, void *state, unsigned dir, bool created, const struct fp_pkt_meta *m,
                   const uint8_t *frame, uint64_t ts_ns);
    /** The flow leaves the cache (after its last record was emitted). */
    void (*release)(void *arg, void *state);
    void *arg;
};

struct fp_flow_table_params {
    uint32_t capacity;       /**< flows (pool size), >= 16 */
    uint32_t idle_timeout_ms;
    uint32_t active_timeout_ms;
    uint32_t tcp_end_ms;     /**< linger after FIN in both directions or RST */
    uint32_t frag_entries;   /**< fragment table entries (rounded up to a power of two) */
    uint8_t worker_id;
    struct fp_flow_sink sink;
    struct fp_flow_ext ext; /**< optional (size 0: none) */
};

struct fp_flow_table;

/**
 * Create a worker's flow cache; all memory is allocated here, none later.
 * @return the table, or NULL with errno = EINVAL (bad params) or ENOMEM
 */
struct fp_flow_table *fp_flow_table_create(const struct fp_flow_table_params *p);

/** Free a table (NULL accepted). Flows still inside are discarded: flush first. */
void fp_flow_table_destroy(struct fp_flow_table *t);

/**
 * Meter a burst of decoded packets (all FP_DECODE_OK). Looks up or creates each flow,
 * updates counters, runs the extension hook; may emit records (eviction, overflow).
 * @param m       packet metadata
 * @param frames  the frames the metadata describes (for the extension; NULL allowed
 *                when the table has no extension)
 * @param ts_ns   packet times (ns since epoch); non-decreasing is expected, not required
 * @param port_id capture port of the burst
 */
void fp_flow_table_update_burst(struct fp_flow_table *t, const struct fp_pkt_meta *const *m,
                                const uint8_t *const *frames, const uint64_t *ts_ns,
                                uint16_t port_id, unsigned n);

/**
 * A burst of packets going through the cache in three steps, so that a worker can overlap the
 * memory latency of one burst with the reading of the next: prepare (keys, hashes, fragment
 * ports; prefetch buckets), prefetch (signature match; prefetch entries and extension state),
 * commit (look up or insert, update, run the extension hook). Batches must be committed in
 * the order they were prepared. The caller fills n, port_id, m, frames and ts_ns.
 */
#define FP_FLOW_BATCH_MAX 256
struct fp_flow_batch {
    unsigned n;
    uint16_t port_id;
    const struct fp_pkt_meta *m[FP_FLOW_BATCH_MAX];
    const uint8_t *frames[FP_FLOW_BATCH_MAX]; /**< may hold NULLs without an extension */
    uint64_t ts_ns[FP_FLOW_BATCH_MAX];
    /* filled by prepare */
    struct fp_flow_key keys[FP_FLOW_BATCH_MAX];
    uint32_t hashes[FP_FLOW_BATCH_MAX];
    int8_t src_ep[FP_FLOW_BATCH_MAX];
};

void fp_flow_batch_prepare(struct fp_flow_table *t, struct fp_flow_batch *b);
void fp_flow_batch_prefetch(const struct fp_flow_table *t, const struct fp_flow_batch *b);
void fp_flow_batch_commit(struct fp_flow_table *t, const struct fp_flow_batch *b);

/** Expire what is due at @p now_ns (idle, active, TCP end). O(expired + rescheduled). */
void fp_flow_table_advance(struct fp_flow_table *t, uint64_t now_ns);

/** Export every flow with @p reason (shutdown, end of capture) and empty the cache. */
void fp_flow_table_flush(struct fp_flow_table *t, enum fp_end_reason reason);

/**
 * Change the timeouts of a live table (reload). Every flow's deadline is recomputed at the
 * next advance with the new values; no flow is lost or split. Owning worker only.
 */
void fp_flow_table_set_timeouts(struct fp_flow_table *t, uint32_t idle_ms, uint32_t active_ms,
                                uint32_t tcp_end_ms);

/**
 * Visit the flows in the cache without stopping the worker for long: examines at most
 * @p budget entries from *cursor on, handing each active flow to @p visit as a record of its
 * current interval (end_reason 0) with its extension state. Call again with the same cursor
 * (start at 0) until it returns 1. Owning worker only.
 * @param visit returns false to stop the scan early
 * @return 1 when the scan is complete (or stopped), 0 when more entries remain
 */
int fp_flow_table_scan(struct fp_flow_table *t, uint32_t *cursor, unsigned budget,
                       bool (*visit)(void *arg, struct fp_flow_record *rec, void *ext), void *arg);

/** Copy the table's counters (call from the owning worker, or tolerate torn reads). */
void fp_flow_table_get_stats(const struct fp_flow_table *t, struct fp_flow_stats *out);

/** Pointer to the live counter block (readers on other threads use relaxed loads). */
const struct fp_flow_stats *fp_flow_table_stats(const struct fp_flow_table *t);

/** Build the canonical key of a packet; @return 1 if the packet's source is endpoint 1. */
int fp_flow_key_from_meta(const struct fp_pkt_meta *m, struct fp_flow_key *key);

/** Symmetric 32-bit hash of a canonical key (CRC32C). */
uint32_t fp_flow_key_hash(const struct fp_flow_key *key);

#endif /* FP_FLOW_H */
