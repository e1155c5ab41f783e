/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Export internals: template IDs, internal record layouts and the per-collector state.
 * Included only by the src/export/ sources and tests/unit/test_export.c. Everything here is used on
 * the exporter thread only, except the atomic counters and the error text (any thread).
 */
#ifndef FP_EXPORT_INTERNAL_H
#define FP_EXPORT_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <fixbuf/public.h>
#include <openssl/ssl.h>

#include "export/export.h"
#include "export/export_templates.h"
#include "export/netflow.h"

/*
 * Template IDs. External IDs are explicit and disjoint (libfixbuf 2.4.1 pitfall: automatic or
 * colliding IDs replace internal templates); internal IDs are external | 0x8000.
 */
enum fp_ipfix_tid {
    FP_TID_UNI4 = 256,
    FP_TID_UNI6 = 257,
    FP_TID_BI4 = 258,
    FP_TID_BI6 = 259,
    FP_TID_MP_STATS = 260,  /**< Metering Process Statistics + Reliability, domain = ODID */
    FP_TID_EP_STATS = 261,  /**< Exporting Process Reliability, domain 0 */
    /* 262..266: enterprise variants and RFC 5610 type records (export_ie.h) */
    FP_TID_SPOOL4 = 267,    /**< spool files only (transport_queue.c): IPv4 flow + fpSpoolRecord */
    FP_TID_SPOOL6 = 268,    /**< spool files only: IPv6 flow + fpSpoolRecord */
};
#define FP_TID_INTERNAL(tid) ((uint16_t)((tid) | 0x8000))

/** One field of a template: IE name, length (0 = the IE's full size), internal-only flag. */
struct fp_ipfix_field {
    const char *name;
    uint16_t len;
    uint32_t internal_only; /**< 1: paddingOctets that exist only in the internal record */
};

/** One template: spec, scope count (options), record size (checked against libfixbuf). */
struct fp_ipfix_template {
    uint16_t tid;
    uint16_t scope;
    const struct fp_ipfix_field *fields;
    unsigned n_fields;
    size_t rec_size;
    const char *label;
};

/*
 * Internal records. Each layout matches its internal template byte for byte (libfixbuf 2.4.1
 * pitfall: implicit compiler padding corrupts records): explicit pad[] ↔ paddingOctets.
 * Integers are host order (libfixbuf converts); IPv6 addresses are network-order bytes.
 */
struct fp_ipfix_uni4 {
    uint64_t flow_start_ms;
    uint64_t flow_end_ms;
    uint64_t octets;
    uint64_t packets;
    uint64_t flow_id;
    uint32_t src;
    uint32_t dst;
    uint32_t ingress;
    uint16_t sport;
    uint16_t dport;
    uint16_t tcp_flags;
    uint16_t icmp;
    uint16_t vlan;
    uint8_t proto;
    uint8_t tos;
    uint8_t ttl_min;
    uint8_t ttl_max;
    uint8_t end_reason;
    uint8_t pad[5];
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_uni4) == 72, "uni4 layout");

struct fp_ipfix_uni6 {
    uint64_t flow_start_ms;
    uint64_t flow_end_ms;
    uint64_t octets;
    uint64_t packets;
    uint64_t flow_id;
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t ingress;
    uint16_t sport;
    uint16_t dport;
    uint16_t tcp_flags;
    uint16_t icmp;
    uint16_t vlan;
    uint8_t proto;
    uint8_t tos;
    uint8_t ttl_min;
    uint8_t ttl_max;
    uint8_t end_reason;
    uint8_t pad[5];
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_uni6) == 96, "uni6 layout");

struct fp_ipfix_bi4 {
    uint64_t flow_start_ms;
    uint64_t flow_end_ms;
    uint64_t octets;
    uint64_t packets;
    uint64_t flow_id;
    uint64_t r_flow_start_ms;
    uint64_t r_flow_end_ms;
    uint64_t r_octets;
    uint64_t r_packets;
    uint32_t src;
    uint32_t dst;
    uint32_t ingress;
    uint16_t sport;
    uint16_t dport;
    uint16_t tcp_flags;
    uint16_t icmp;
    uint16_t vlan;
    uint16_t r_tcp_flags;
    uint16_t r_icmp;
    uint8_t proto;
    uint8_t tos;
    uint8_t ttl_min;
    uint8_t ttl_max;
    uint8_t end_reason;
    uint8_t r_tos;
    uint8_t r_ttl_min;
    uint8_t r_ttl_max;
    uint8_t biflow_dir;
    uint8_t pad[5];
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_bi4) == 112, "bi4 layout");

struct fp_ipfix_bi6 {
    uint64_t flow_start_ms;
    uint64_t flow_end_ms;
    uint64_t octets;
    uint64_t packets;
    uint64_t flow_id;
    uint64_t r_flow_start_ms;
    uint64_t r_flow_end_ms;
    uint64_t r_octets;
    uint64_t r_packets;
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t ingress;
    uint16_t sport;
    uint16_t dport;
    uint16_t tcp_flags;
    uint16_t icmp;
    uint16_t vlan;
    uint16_t r_tcp_flags;
    uint16_t r_icmp;
    uint8_t proto;
    uint8_t tos;
    uint8_t ttl_min;
    uint8_t ttl_max;
    uint8_t end_reason;
    uint8_t r_tos;
    uint8_t r_ttl_min;
    uint8_t r_ttl_max;
    uint8_t biflow_dir;
    uint8_t pad[5];
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_bi6) == 136, "bi6 layout");

/** Metering Process Statistics + Reliability (RFC 7011 §4.1/§4.2), scope observationDomainId. */
struct fp_ipfix_mp_stats {
    uint32_t odid;
    uint8_t pad[4];
    uint64_t exported_messages;
    uint64_t exported_flows;
    uint64_t exported_octets;
    uint64_t ignored_packets;
    uint64_t ignored_octets;
    uint64_t first_ignored_ms;
    uint64_t last_ignored_ms;
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_mp_stats) == 64, "mp stats layout");

/** Exporting Process Reliability (RFC 7011 §4.3), scope exportingProcessId, domain 0. */
struct fp_ipfix_ep_stats {
    uint32_t epid;
    uint8_t pad[4];
    uint64_t not_sent_flows;
    uint64_t not_sent_packets;
    uint64_t not_sent_octets;
    uint64_t first_not_sent_ms;
    uint64_t last_not_sent_ms;
};
FP_STATIC_ASSERT(sizeof(struct fp_ipfix_ep_stats) == 48, "ep stats layout");

/** Template table lookup by external ID (NULL if unknown). */
const struct fp_ipfix_template *fp_export_template_get(uint16_t tid);

/**
 * Build a libfixbuf template from @p t: internal (with padding) or external (without).
 * @return the template or NULL (error logged, *err_out set to -errno).
 */
fbTemplate_t *fp_export_template_build(fbInfoModel_t *model, const struct fp_ipfix_template *t,
                                       bool internal, int *err_out);

/**
 * Remove Sets of length 4 (no record) from one IPFIX message in place and fix its length.
 * Works around libfixbuf 2.4.1 (pitfall 3).
 * @return the new message length, or 0 if the message is malformed.
 */
size_t fp_export_strip_empty_sets(uint8_t *msg, size_t len, unsigned *removed);

/* ---------------------------------------------------------------- stream transports
 * TCP, TLS and DTLS collectors (transport_stream.c): non-blocking socket, optional OpenSSL
 * session, a send queue of whole encoded IPFIX messages written as the socket allows, and a
 * window of the flow records whose messages the collector has not yet acknowledged (TCP
 * level), re-queued when the session fails. Exporter thread only. */

/** One message in the send queue. */
struct fp_export_msg {
    uint64_t no;        /**< message number in this session (1, 2, ...) */
    uint64_t plain_end; /**< offset just past its last byte in the session's plain stream */
    uint64_t raw_end;   /**< socket bytes written once it was fully written (0: not yet) */
};

/** One flow record whose delivery is not confirmed yet. */
struct fp_export_held {
    struct fp_flow_record rec;
    uint64_t msg_no;    /**< message holding its last encoded record */
};

#define FP_EXPORT_MSGQ 1024      /**< messages in flight per session */
#define FP_EXPORT_HELD 4096      /**< records in flight per session */
#define FP_EXPORT_SENDQ_HIWAT (512u * 1024u) /**< stop encoding above this many queued bytes */

/** Unread records of one spool segment, and what they count for export (kept in memory, so
 * dropping a segment never re-reads it). */
struct fp_export_spool_seg {
    uint64_t records;
    uint64_t counts[3];          /**< flows, packets, octets (fp_export_record_counts) */
};

/** Records waiting for a collector (or failover group): retry, then spool, then memory. */
struct fp_export_backlog {
    /* retry: records of failed sessions, oldest first (growable array, consumed from head) */
    struct fp_flow_record *retry;
    size_t retry_head, retry_n, retry_cap;
    /* on-disk spool: RFC 5655 IPFIX files, segments [seg_first, seg_next) in dir (dir[0] == 0:
     * no spool), each written by a libfixbuf session of its own (transport_queue.c) */
    char dir[FP_CONFIG_STR + 80];
    uint64_t seg_first, seg_next;
    uint32_t seg_records;        /**< records per segment file at most */
    uint32_t seg_max;            /**< segments allowed (spool cap) */
    uint32_t msg_records;        /**< data records per IPFIX message of a segment */
    fbInfoModel_t *model;        /**< libfixbuf's IEs + the spool-only fpSpoolRecord */
    struct fp_export_spool_seg *segs; /**< seg_max entries: segment s is segs[s % seg_max] */
    FILE *wr;                    /**< segment seg_next - 1 being written (NULL: none) */
    fBuf_t *wr_fb;               /**< its export buffer (owns session and exporter) */
    uint16_t wr_tid;             /**< template of the last record appended (0: none yet) */
    uint32_t wr_count;           /**< records appended to it */
    struct fp_export_spool_seg wr_msg; /**< records of the message not yet written */
    FILE *rd;                    /**< segment seg_first being read (NULL: not opened) */
    fBuf_t *rd_fb;               /**< its collection buffer (owns session and collector) */
    uint64_t spool_n;            /**< records in the spool */
    uint64_t lost[3];            /**< flows, packets, octets of spooled records that could not
                                      be read back or written (unreadable segment, disk error
                                      while replaying) */
    /* memory ring (newest) */
    struct fp_flow_record *mem;
    uint32_t mem_head, mem_n, mem_cap;
    bool biflow;                 /**< for not-sent accounting of dropped records */
};

/** A set of stream collectors sharing one backlog (one per collector in mode all). */
struct fp_export_lane {
    struct fp_export_backlog bl;
    unsigned members[FP_MAX_COLLECTORS]; /**< collector indexes, in priority order */
    unsigned n_members;
};

/** Per-collector state (exporter thread), plus counters readable from any thread. */
struct fp_collector {
    struct fp_exporter *ex;
    const struct fp_collector_config *cfg; /**< points into the exporter's config copy */
    unsigned idx;
    char name[FP_CONFIG_STR + 8];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd;

    /* libfixbuf session of the current transport session (NULL: none) */
    fBuf_t *fb;
    uint8_t *msgbuf;
    uint16_t msgsize;
    uint16_t cur_tid;

    /* data records in the message being built (not yet shipped) */
    uint64_t pend_flows;
    uint64_t pend_packets;
    uint64_t pend_octets;
    uint64_t pend_since_ms;

    /* UDP template refresh */
    uint64_t tmpl_sent_ms;
    uint64_t msgs_since_tmpl;

    /* TCP reconnect */
    uint64_t next_retry_ms;
    uint64_t connect_started_ms;
    uint32_t backoff_ms;
    bool ever_connected;
    uint64_t next_peer_check_ms;

    /* stream transports (TCP/TLS/DTLS): transport_stream.c */
    struct fp_export_lane *lane;
    SSL_CTX *ssl_ctx;           /**< TLS/DTLS: NULL until the files loaded */
    SSL *ssl;
    bool handshaking;
    bool tls_confirmed;          /**< TLS 1.3: the collector's verdict on our certificate seen */
    uint64_t confirm_start_ms;   /**< TLS 1.3: when we started waiting for that verdict */
    uint8_t *sendq;
    size_t sendq_off, sendq_len, sendq_cap;
    uint64_t plain_base;        /**< plain stream offset of sendq[0] */
    uint64_t raw_tcp;           /**< TCP: socket bytes written this session */
    struct fp_export_msg msgq[FP_EXPORT_MSGQ];
    unsigned msgq_head, msgq_n;
    uint64_t msgs_queued;       /**< messages put in the send queue this session */
    struct fp_export_held *held;
    unsigned held_head, held_n;
    uint64_t last_ack_ms;

    /* NetFlow v9/v5 (cfg->protocol != IPFIX, UDP): encoder instead of libfixbuf */
    struct fp_nf_encoder *nf;   /**< NULL: IPFIX (or the collector could not be opened) */
    enum fp_export_protocol protocol; /**< set before publication, never changed */
    uint64_t nf_next_flush_ms;  /**< monotonic: next fp_nf_flush */

    uint64_t first_not_sent_ms; /**< wall clock ms */
    uint64_t last_not_sent_ms;
    uint64_t next_log_ms;       /**< error-log rate limit */

    /* readable from other threads */
    _Atomic uint64_t st_messages;
    _Atomic uint64_t st_records;
    _Atomic uint64_t st_octets;
    _Atomic uint64_t st_not_sent;
    _Atomic uint64_t st_not_sent_packets;
    _Atomic uint64_t st_not_sent_octets;
    _Atomic uint64_t st_reconnects;
    _Atomic uint64_t st_template_sends;
    _Atomic uint64_t st_empty_sets;
    _Atomic uint64_t st_fail[FP_EXPORT_FAIL_COUNT];
    _Atomic uint64_t st_queued;
    _Atomic uint64_t st_spooled;
    _Atomic uint64_t st_resent;
    _Atomic uint64_t st_queue_dropped;
    _Atomic uint64_t st_nf_skipped_ipv6;
    _Atomic uint64_t st_nf_splits;
    _Atomic uint64_t st_nf_dirs_empty;
    _Atomic int st_state;
    pthread_mutex_t err_lock;
    char last_error[FP_EXPORT_ERR_LEN];
    struct fp_export_tmpl_table tmpl; /**< templates shipped (export_templates.c) */
};

struct fp_exporter {
    struct fp_config cfg;
    struct rte_ring **rings;
    unsigned n_rings;
    void (*metering_stats)(void *arg, struct fp_metering_stats *out);
    void *metering_arg;
    uint32_t retry_min_ms;
    uint32_t retry_max_ms;
    uint32_t flush_ms;
    uint32_t drain_ms;          /**< at stop: wait for down collectors (export.drain_timeout) */
    uint32_t epid;
    fbInfoModel_t *model;
    bool ie_model_added;        /**< FlowPulse IEs are in the model (under ie_pen) */
    uint32_t ie_pen;
    uint32_t param_retry_min_ms; /**< params override (0: from the config) */
    uint32_t param_retry_max_ms;
    uint64_t nf_boot_ms;        /**< NetFlow sysUpTime origin (0: capture file, from records) */
    /* Collectors in config order (exporter thread; main before start). Heap objects: a
     * collector removed by fp_exporter_reconfigure moves to retired[] and is freed only by
     * fp_exporter_destroy, so readers on other threads never see freed memory. */
    struct fp_collector *coll[FP_MAX_COLLECTORS];
    unsigned n_coll;
    /* Published copy of coll[]/n_coll for fp_exporter_get_stats on other threads. */
    struct fp_collector *_Atomic pub[FP_MAX_COLLECTORS];
    _Atomic unsigned n_pub;
    struct fp_collector **retired;
    unsigned n_retired;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    uint64_t next_stats_ms;
    struct fp_export_lane *lanes[FP_MAX_COLLECTORS]; /**< heap objects */
    unsigned n_lanes;
    /* fp_exporter_reconfigure request, run on the exporter thread */
    pthread_mutex_t rq_lock;
    pthread_cond_t rq_cond;
    atomic_bool rq_pending;     /**< polled by the thread */
    bool rq_busy;               /**< a caller owns the request slot */
    bool rq_done;
    bool thread_exited;         /**< under rq_lock: no request can be served any more */
    const struct fp_config *rq_cfg;
    char *rq_msg;
    size_t rq_len;
    int rq_rc;
};

/* transport_stream.c -------------------------------------------------------------------- */

static inline bool fp_export_is_stream(enum fp_transport t)
{
    return t == FP_TRANSPORT_TCP || t == FP_TRANSPORT_TLS || t == FP_TRANSPORT_DTLS;
}

/**
 * Load the TLS/DTLS context of a collector (certificate, key, CA, ciphers, versions).
 * @return 0, or -errno with *reason and @p why (one line naming the file and the cause).
 */
int fp_export_tls_ctx_load(struct fp_collector *c, enum fp_export_fail *reason, char *why,
                           size_t len);

/**
 * Start a connection (non-blocking socket; UDP connect for DTLS).
 * @return 0 (in progress: poll with fp_export_stream_progress), or -errno with *reason/@p why.
 */
int fp_export_stream_connect(struct fp_collector *c, enum fp_export_fail *reason, char *why,
                             size_t len);

/**
 * Advance connect and TLS/DTLS handshake, waiting at most @p timeout_ms.
 * @return 1 established (peer verified for TLS/DTLS), 0 still in progress, or -errno with
 *         *reason and @p why (verification errors named by X509_verify_cert_error_string).
 */
int fp_export_stream_progress(struct fp_collector *c, int timeout_ms, uint64_t started_ms,
                              enum fp_export_fail *reason, char *why, size_t len);

/** Append one whole IPFIX message to the send queue. @return 0 or -ENOMEM. */
int fp_export_stream_queue(struct fp_collector *c, const uint8_t *msg, size_t len);

/**
 * Write queued messages as the socket allows, note acknowledged ones, read and discard
 * anything the collector sends and notice it closing.
 * @return 0, or -errno with *reason/@p why when the session failed.
 */
int fp_export_stream_service(struct fp_collector *c, enum fp_export_fail *reason, char *why,
                             size_t len);

/** Can a record be encoded now without exceeding the in-flight bounds? */
bool fp_export_stream_accepting(const struct fp_collector *c);

/** Remember a record just encoded (after coll_put_flow) for re-sending on failure. */
void fp_export_stream_hold(struct fp_collector *c, const struct fp_flow_record *r);

/**
 * Close the session. Records not acknowledged go back to the front of the lane's backlog
 * (@return their number). @p graceful: TLS close_notify and TCP FIN after the queue.
 */
unsigned fp_export_stream_close(struct fp_collector *c, bool graceful);

/** Bytes still queued (not written to the socket). */
size_t fp_export_stream_pending(const struct fp_collector *c);

/** DTLS: largest IPFIX message for a collector MTU (minus the DTLS record overhead). */
uint16_t fp_export_dtls_msgsize(uint32_t mtu);

/* transport_queue.c --------------------------------------------------------------------- */

/**
 * Initialise a backlog: @p mem_cap records in memory, then a spool of segments in
 * @p spool_dir (NULL or "": none) capped at @p spool_max_bytes. Leftover segments of an
 * earlier run in that directory are removed.
 * @return 0, -ENOMEM, or -errno of creating the directory.
 */
int fp_export_backlog_init(struct fp_export_backlog *b, uint32_t mem_cap, const char *spool_dir,
                           const char *name, uint64_t spool_max_bytes, bool biflow);

/** Free memory, close and remove spool files. Accepts a zeroed backlog. */
void fp_export_backlog_fini(struct fp_export_backlog *b);

/** Records waiting. */
uint64_t fp_export_backlog_count(const struct fp_export_backlog *b);

/**
 * Append the newest record. When memory is full, its oldest half moves to the spool; when
 * the spool is full (or absent) the oldest records are dropped: their counts are added to
 * @p dropped (flows as exported: 1 per biflow or per non-empty direction, packets, octets).
 */
void fp_export_backlog_push(struct fp_export_backlog *b, const struct fp_flow_record *r,
                            uint64_t dropped[3], uint64_t *spooled);

/** Put records back in front of everything (oldest first in @p r). @return 0 or -ENOMEM. */
int fp_export_backlog_requeue(struct fp_export_backlog *b, const struct fp_flow_record *r,
                              size_t n);

/**
 * Take the oldest record. Spooled records that cannot be read back (damaged or missing
 * segment) are skipped and counted in b->lost.
 * @return true if one was taken.
 */
bool fp_export_backlog_pop(struct fp_export_backlog *b, struct fp_flow_record *out);

/** Flow records, packets and octets that a flow record represents for export. */
void fp_export_record_counts(const struct fp_flow_record *r, bool biflow, uint64_t out[3]);

#endif /* FP_EXPORT_INTERNAL_H */
