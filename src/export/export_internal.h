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

#include "export/export.h"

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
    _Atomic int st_state;
    pthread_mutex_t err_lock;
    char last_error[FP_EXPORT_ERR_LEN];
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
    uint32_t epid;
    fbInfoModel_t *model;
    struct fp_collector coll[FP_MAX_COLLECTORS];
    unsigned n_coll;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    uint64_t next_stats_ms;
};

#endif /* FP_EXPORT_INTERNAL_H */
