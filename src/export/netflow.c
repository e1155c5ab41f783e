/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * NetFlow v9 (RFC 3954) and v5 encoders; layouts and time rules in netflow.h.
 * Runs on the exporter thread only; builds each packet in the encoder's own buffer.
 */
#include <errno.h>
#include <string.h>

#include "common/fp_time.h"
#include "export/netflow.h"

#define X_NAME(name, desc) #name,
#define X_DESC(name, desc) desc,
const char *const fp_nf_counter_names[] = {FP_NF_COUNTERS(X_NAME)};
const char *const fp_nf_counter_descs[] = {FP_NF_COUNTERS(X_DESC)};
#undef X_NAME
#undef X_DESC
const unsigned fp_nf_counter_count = FP_ARRAY_SIZE(fp_nf_counter_names);
FP_STATIC_ASSERT(sizeof(struct fp_nf_stats) == 15 * sizeof(uint64_t), "one field per counter");

/* v9 field types (RFC 3954 §8; 136 from the IPFIX registry). */
enum {
    NF9_IN_BYTES = 1,
    NF9_IN_PKTS = 2,
    NF9_PROTOCOL = 4,
    NF9_SRC_TOS = 5,
    NF9_TCP_FLAGS = 6,
    NF9_L4_SRC_PORT = 7,
    NF9_IPV4_SRC_ADDR = 8,
    NF9_INPUT_SNMP = 10,
    NF9_L4_DST_PORT = 11,
    NF9_IPV4_DST_ADDR = 12,
    NF9_LAST_SWITCHED = 21,
    NF9_FIRST_SWITCHED = 22,
    NF9_IPV6_SRC_ADDR = 27,
    NF9_IPV6_DST_ADDR = 28,
    NF9_ICMP_TYPE = 32,
    NF9_SAMPLING_INTERVAL = 34,
    NF9_SAMPLING_ALGORITHM = 35,
    NF9_FLOW_ACTIVE_TIMEOUT = 36,
    NF9_FLOW_INACTIVE_TIMEOUT = 37,
    NF9_MIN_TTL = 52,
    NF9_MAX_TTL = 53,
    NF9_SRC_VLAN = 58,
    NF9_IP_PROTOCOL_VERSION = 60,
    NF9_DIRECTION = 61,
    NF9_FLOW_END_REASON = 136,
    NF9_SCOPE_SYSTEM = 1,
};

struct nf_field {
    uint16_t type;
    uint16_t len;
};

/* Record layout = field order below; write_v9_record() follows it. */
#define NF9_FIELDS(SRC, DST, ALEN)                                                                 \
    {NF9_IN_BYTES, 8}, {NF9_IN_PKTS, 8}, {NF9_FIRST_SWITCHED, 4}, {NF9_LAST_SWITCHED, 4},          \
        {SRC, ALEN}, {DST, ALEN}, {NF9_INPUT_SNMP, 4}, {NF9_L4_SRC_PORT, 2}, {NF9_L4_DST_PORT, 2}, \
        {NF9_ICMP_TYPE, 2}, {NF9_SRC_VLAN, 2}, {NF9_PROTOCOL, 1}, {NF9_SRC_TOS, 1},                \
        {NF9_TCP_FLAGS, 1}, {NF9_IP_PROTOCOL_VERSION, 1}, {NF9_DIRECTION, 1}, {NF9_MIN_TTL, 1},    \
        {NF9_MAX_TTL, 1},                                                                          \
    {                                                                                              \
        NF9_FLOW_END_REASON, 1                                                                     \
    }

static const struct nf_field tmpl4[] = {NF9_FIELDS(NF9_IPV4_SRC_ADDR, NF9_IPV4_DST_ADDR, 4)};
static const struct nf_field tmpl6[] = {NF9_FIELDS(NF9_IPV6_SRC_ADDR, NF9_IPV6_DST_ADDR, 16)};
static const struct nf_field opt_scope[] = {{NF9_SCOPE_SYSTEM, 4}};
static const struct nf_field opt_fields[] = {
    {NF9_SAMPLING_INTERVAL, 4},
    {NF9_SAMPLING_ALGORITHM, 1},
    {NF9_FLOW_ACTIVE_TIMEOUT, 2},
    {NF9_FLOW_INACTIVE_TIMEOUT, 2},
};

#define UPTIME_MAX 0xffffffffull
/* Forward rebase once sysUpTime passes half its range. */
#define UPTIME_REBASE (1ull << 31)
/* Oldest boot allowed behind the clock: leaves 2^30 ms for the clock to advance in a packet. */
#define UPTIME_SAFE (UPTIME_MAX - (1ull << 30))

/* ------------------------------------------------------------------ byte helpers */

static inline void put8(uint8_t *p, uint8_t v)
{
    p[0] = v;
}

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static unsigned fields_len(const struct nf_field *f, unsigned n)
{
    unsigned s = 0;
    for (unsigned i = 0; i < n; i++)
        s += f[i].len;
    return s;
}

/* ------------------------------------------------------------------ uniflow view */

/* One direction of a biflow, oriented as exported. */
struct nf_uni {
    const uint8_t *src;
    const uint8_t *dst;
    uint16_t sport;
    uint16_t dport;
    uint64_t packets;
    uint64_t bytes;
    uint64_t first_ms;
    uint64_t last_ms;
    const struct fp_flow_record *rec;
    const struct fp_flow_dir *dir;
};

/* ------------------------------------------------------------------ common packet logic */

static uint64_t clock_base(const struct fp_nf_encoder *e)
{
    /* v9 headers carry whole seconds only: keep sysUpTime consistent with UNIX Secs. */
    return e->p.version == 9 ? e->clock_ms / 1000 * 1000 : e->clock_ms;
}

static uint64_t boot_floor(const struct fp_nf_encoder *e)
{
    uint64_t c = clock_base(e);
    return c > UPTIME_SAFE ? c - UPTIME_SAFE : 0;
}

static uint64_t minus_margin(uint64_t t)
{
    return t > FP_NF_REBASE_MARGIN_MS ? t - FP_NF_REBASE_MARGIN_MS : 0;
}

static void set_boot(struct fp_nf_encoder *e, uint64_t b)
{
    if (e->boot_set && b != e->boot_ms)
        e->stats.rebases++;
    e->boot_ms = b;
    e->boot_set = 1;
}

/* Choose boot_ms for a packet whose first record starts at first_ms (see netflow.h). */
static void boot_for_packet(struct fp_nf_encoder *e, uint64_t first_ms)
{
    uint64_t c = clock_base(e), lo = boot_floor(e), b;

    b = e->boot_set ? e->boot_ms : minus_margin(first_ms);
    if (c > b && c - b > UPTIME_REBASE) {
        /* forward rebase: uptime too large (long run, or clock far ahead of the boot) */
        uint64_t nb = FP_MIN(minus_margin(c), minus_margin(first_ms));
        nb = FP_MAX(nb, lo);
        if (nb > b) {
            b = nb;
            e->force_tmpl = 1;
        }
    }
    if (b > c)
        b = c;
    if (first_ms < b)
        b = FP_MAX(lo, minus_margin(first_ms));
    if (b < lo)
        b = lo;
    set_boot(e, b);
}

/* Time relative to boot_ms, clamped into 32 bits. */
static uint32_t uptime_of(struct fp_nf_encoder *e, uint64_t t_ms)
{
    if (t_ms < e->boot_ms) {
        e->stats.time_clamped++;
        return 0;
    }
    if (t_ms - e->boot_ms > UPTIME_MAX) {
        e->stats.time_clamped++;
        return (uint32_t)UPTIME_MAX;
    }
    return (uint32_t)(t_ms - e->boot_ms);
}

static void send_packet(struct fp_nf_encoder *e)
{
    int rc = e->p.send(e->p.send_arg, e->buf, e->len);
    if (rc == 0) {
        e->stats.packets++;
        e->stats.octets += e->len;
        if (e->has_tmpl)
            e->stats.template_packets++;
    } else {
        e->stats.send_errors++;
        e->stats.records_not_sent += e->data_recs;
        if (e->has_tmpl)
            e->force_tmpl = 1; /* the collector may not have them: next packet again */
    }
    e->has_tmpl = 0;
    e->open = 0;
    e->len = 0;
    e->set_off = 0;
}

/* ------------------------------------------------------------------ v9 */

static void v9_close_set(struct fp_nf_encoder *e)
{
    if (!e->set_off)
        return;
    while ((e->len - e->set_off) % 4)
        e->buf[e->len++] = 0;
    put16(e->buf + e->set_off + 2, (uint16_t)(e->len - e->set_off));
    e->set_off = 0;
}

static void v9_open_set(struct fp_nf_encoder *e, uint16_t id)
{
    v9_close_set(e);
    e->set_off = e->len;
    e->set_id = id;
    put16(e->buf + e->len, id);
    e->len += 4; /* length written by v9_close_set */
}

static void v9_put_fields(struct fp_nf_encoder *e, const struct nf_field *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        put16(e->buf + e->len, f[i].type);
        put16(e->buf + e->len + 2, f[i].len);
        e->len += 4;
    }
}

static void v9_put_template(struct fp_nf_encoder *e, uint16_t id, const struct nf_field *f,
                            unsigned n)
{
    put16(e->buf + e->len, id);
    put16(e->buf + e->len + 2, (uint16_t)n);
    e->len += 4;
    v9_put_fields(e, f, n);
    e->count++;
}

static void v9_write_templates(struct fp_nf_encoder *e)
{
    v9_open_set(e, 0);
    v9_put_template(e, FP_NF_V9_TID_IPV4, tmpl4, FP_ARRAY_SIZE(tmpl4));
    v9_put_template(e, FP_NF_V9_TID_IPV6, tmpl6, FP_ARRAY_SIZE(tmpl6));

    v9_open_set(e, 1);
    put16(e->buf + e->len, FP_NF_V9_TID_OPTIONS);
    put16(e->buf + e->len + 2, (uint16_t)(4 * FP_ARRAY_SIZE(opt_scope)));  /* bytes */
    put16(e->buf + e->len + 4, (uint16_t)(4 * FP_ARRAY_SIZE(opt_fields))); /* bytes */
    e->len += 6;
    v9_put_fields(e, opt_scope, FP_ARRAY_SIZE(opt_scope));
    v9_put_fields(e, opt_fields, FP_ARRAY_SIZE(opt_fields));
    e->count++;

    v9_open_set(e, FP_NF_V9_TID_OPTIONS);
    uint8_t *p = e->buf + e->len;
    put32(p, e->p.source_id); /* scope System */
    put32(p + 4, 1);          /* sampling interval: every packet */
    put8(p + 8, 1);           /* deterministic (1 out of 1) */
    put16(p + 9, e->p.active_timeout_s);
    put16(p + 11, e->p.inactive_timeout_s);
    e->len += FP_NF_V9_OPT_REC_LEN;
    e->count++;
    v9_close_set(e);

    e->tmpl_sent = 1;
    e->has_tmpl = 1;
    e->force_tmpl = 0;
    e->tmpl_time_ms = e->clock_ms;
    e->pkts_since_tmpl = 0; /* this packet becomes 1 when sent */
}

static int v9_tmpl_due(const struct fp_nf_encoder *e)
{
    if (!e->tmpl_sent || e->force_tmpl)
        return 1;
    if (e->p.template_refresh_pkts != UINT32_MAX &&
        e->pkts_since_tmpl >= e->p.template_refresh_pkts)
        return 1;
    return e->p.template_refresh_ms != UINT32_MAX &&
           e->clock_ms - e->tmpl_time_ms >= e->p.template_refresh_ms;
}

static void v9_open(struct fp_nf_encoder *e)
{
    e->open = 1;
    e->count = 0;
    e->data_recs = 0;
    e->set_off = 0;
    e->len = FP_NF_V9_HDR_LEN;
    if (v9_tmpl_due(e))
        v9_write_templates(e);
}

static void v9_finish(struct fp_nf_encoder *e)
{
    uint64_t secs = e->clock_ms / 1000, up = secs * 1000;

    v9_close_set(e);
    if (up < e->boot_ms) { /* cannot happen: boot_for_packet keeps boot <= clock */
        e->stats.time_clamped++;
        up = 0;
    } else {
        up -= e->boot_ms;
        if (up > UPTIME_MAX) {
            e->stats.time_clamped++;
            up = UPTIME_MAX;
        }
    }
    put16(e->buf, 9);
    put16(e->buf + 2, e->count);
    put32(e->buf + 4, (uint32_t)up);
    put32(e->buf + 8, (uint32_t)secs);
    put32(e->buf + 12, e->seq);
    put32(e->buf + 16, e->p.source_id);
    e->seq++;
    e->pkts_since_tmpl++;
    send_packet(e);
}

static void v9_add(struct fp_nf_encoder *e, const struct nf_uni *u)
{
    const struct fp_flow_record *r = u->rec;
    const struct fp_flow_dir *d = u->dir;
    int v6 = r->ip_version == 6;
    uint16_t tid = v6 ? FP_NF_V9_TID_IPV6 : FP_NF_V9_TID_IPV4;
    unsigned rlen = v6 ? FP_NF_V9_REC6_LEN : FP_NF_V9_REC4_LEN;
    unsigned alen = v6 ? 16 : 4;

    if (e->open && u->first_ms < e->boot_ms && e->boot_ms > boot_floor(e))
        v9_finish(e); /* boot must move back: only between packets */
    if (e->open) {
        unsigned need = rlen + (e->set_off && e->set_id == tid ? 0 : 4);
        if (e->len + need > e->p.mtu)
            v9_finish(e);
    }
    if (!e->open) {
        boot_for_packet(e, u->first_ms);
        v9_open(e);
    }
    if (!(e->set_off && e->set_id == tid))
        v9_open_set(e, tid);

    uint8_t *p = e->buf + e->len;
    uint16_t icmp = (r->proto == 1 || r->proto == 58) ? d->icmp_type_code : 0;
    put64(p, u->bytes);
    put64(p + 8, u->packets);
    put32(p + 16, uptime_of(e, u->first_ms));
    put32(p + 20, uptime_of(e, u->last_ms));
    p += 24;
    memcpy(p, u->src, alen);
    memcpy(p + alen, u->dst, alen);
    p += 2 * alen;
    put32(p, (uint32_t)r->port_id + 1);
    put16(p + 4, u->sport);
    put16(p + 6, u->dport);
    put16(p + 8, icmp);
    put16(p + 10, r->n_vlan ? (uint16_t)(r->vlan[0] & 0x0fff) : 0);
    put8(p + 12, r->proto);
    put8(p + 13, d->tos);
    put8(p + 14, (uint8_t)d->tcp_flags);
    put8(p + 15, r->ip_version);
    put8(p + 16, 0); /* DIRECTION: ingress */
    put8(p + 17, d->ttl_min);
    put8(p + 18, d->ttl_max);
    put8(p + 19, r->end_reason);
    e->len += rlen;
    e->count++;
    e->data_recs++;
    e->stats.records++;
    e->stats.flow_packets += u->packets;
    e->stats.flow_octets += u->bytes;
}

/* ------------------------------------------------------------------ v5 */

static void v5_finish(struct fp_nf_encoder *e)
{
    uint64_t up = e->clock_ms >= e->boot_ms ? e->clock_ms - e->boot_ms : 0;

    if (up > UPTIME_MAX) {
        e->stats.time_clamped++;
        up = UPTIME_MAX;
    }
    put16(e->buf, 5);
    put16(e->buf + 2, e->count);
    put32(e->buf + 4, (uint32_t)up);
    put32(e->buf + 8, (uint32_t)(e->clock_ms / 1000));
    put32(e->buf + 12, (uint32_t)(e->clock_ms % 1000 * 1000000u));
    put32(e->buf + 16, e->seq);
    put8(e->buf + 20, e->p.engine_type);
    put8(e->buf + 21, e->p.engine_id);
    put16(e->buf + 22, 0); /* unsampled */
    e->seq += e->count;
    send_packet(e);
}

static void v5_add_part(struct fp_nf_encoder *e, const struct nf_uni *u, uint32_t pkts,
                        uint32_t bytes)
{
    const struct fp_flow_record *r = u->rec;
    const struct fp_flow_dir *d = u->dir;

    if (e->open &&
        (e->count >= FP_NF_V5_MAX_RECS || (u->first_ms < e->boot_ms && e->boot_ms > boot_floor(e))))
        v5_finish(e);
    if (!e->open) {
        boot_for_packet(e, u->first_ms);
        e->open = 1;
        e->count = 0;
        e->data_recs = 0;
        e->len = FP_NF_V5_HDR_LEN;
    }
    uint8_t *p = e->buf + e->len;
    int icmp = r->proto == 1;
    memset(p, 0, FP_NF_V5_REC_LEN);
    memcpy(p, u->src, 4);
    memcpy(p + 4, u->dst, 4);
    put16(p + 12, r->port_id >= 0xffff ? 0xffff : (uint16_t)(r->port_id + 1));
    put32(p + 16, pkts);
    put32(p + 20, bytes);
    put32(p + 24, uptime_of(e, u->first_ms));
    put32(p + 28, uptime_of(e, u->last_ms));
    put16(p + 32, icmp ? 0 : u->sport);
    put16(p + 34, icmp ? d->icmp_type_code : u->dport);
    put8(p + 37, (uint8_t)d->tcp_flags);
    put8(p + 38, r->proto);
    put8(p + 39, d->tos);
    e->len += FP_NF_V5_REC_LEN;
    e->count++;
    e->data_recs++;
    e->stats.records++;
    e->stats.flow_packets += pkts;
    e->stats.flow_octets += bytes;
}

static unsigned v5_add(struct fp_nf_encoder *e, const struct nf_uni *u)
{
    const uint64_t m = UPTIME_MAX; /* 2^32 - 1: largest dPkts / dOctets */
    uint64_t k = FP_MAX((u->packets + m - 1) / m, (u->bytes + m - 1) / m);

    if (k < 1)
        k = 1;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t pk = u->packets / k + (i < u->packets % k);
        uint64_t by = u->bytes / k + (i < u->bytes % k);
        v5_add_part(e, u, (uint32_t)pk, (uint32_t)by);
    }
    e->stats.v5_splits += k - 1;
    return (unsigned)k;
}

/* ------------------------------------------------------------------ API */

int fp_nf_encoder_init(struct fp_nf_encoder *e, const struct fp_nf_params *p)
{
    if (!e || !p || (p->version != 5 && p->version != 9) || !p->send)
        return -EINVAL;
    if (p->version == 9 && p->mtu && (p->mtu < FP_NF_MIN_MTU || p->mtu > FP_NF_MAX_PKT))
        return -EINVAL;
    assert(fields_len(tmpl4, FP_ARRAY_SIZE(tmpl4)) == FP_NF_V9_REC4_LEN);
    assert(fields_len(tmpl6, FP_ARRAY_SIZE(tmpl6)) == FP_NF_V9_REC6_LEN);
    assert(fields_len(opt_scope, 1) + fields_len(opt_fields, FP_ARRAY_SIZE(opt_fields)) ==
           FP_NF_V9_OPT_REC_LEN);
    memset(e, 0, offsetof(struct fp_nf_encoder, buf));
    e->p = *p;
    if (!e->p.mtu)
        e->p.mtu = FP_NF_V9_DEFAULT_MTU;
    if (e->p.version == 5)
        e->p.mtu = FP_NF_V5_MAX_PKT;
    if (!e->p.template_refresh_pkts)
        e->p.template_refresh_pkts = FP_NF_DEFAULT_REFRESH_PKTS;
    if (!e->p.template_refresh_ms)
        e->p.template_refresh_ms = FP_NF_DEFAULT_REFRESH_MS;
    if (p->boot_ms) {
        e->boot_ms = p->boot_ms;
        e->boot_set = 1;
    }
    return 0;
}

static void clock_advance(struct fp_nf_encoder *e, uint64_t now_ms)
{
    if (now_ms > e->clock_ms)
        e->clock_ms = now_ms;
}

unsigned fp_nf_encode(struct fp_nf_encoder *e, const struct fp_flow_record *recs, unsigned n,
                      uint64_t now_ms)
{
    unsigned out = 0;

    clock_advance(e, now_ms);
    for (unsigned i = 0; i < n; i++) {
        const struct fp_flow_record *r = &recs[i];
        e->stats.flows_in++;
        for (unsigned d = 0; d < 2; d++) {
            const struct fp_flow_dir *fd = &r->dir[d];
            if (fd->packets == 0) {
                e->stats.dirs_empty++;
                continue;
            }
            if (r->ip_version != 4 && r->ip_version != 6) {
                e->stats.skipped_other++;
                continue;
            }
            if (r->ip_version == 6 && e->p.version == 5) {
                e->stats.v5_skipped_ipv6++;
                continue;
            }
            struct nf_uni u = {
                .src = d ? r->dst : r->src,
                .dst = d ? r->src : r->dst,
                .sport = d ? r->dport : r->sport,
                .dport = d ? r->sport : r->dport,
                .packets = fd->packets,
                .bytes = fd->bytes,
                .first_ms = fd->first_ns / FP_NS_PER_MS,
                .last_ms = fd->last_ns / FP_NS_PER_MS,
                .rec = r,
                .dir = fd,
            };
            if (u.last_ms < u.first_ms)
                u.last_ms = u.first_ms;
            if (!now_ms)
                clock_advance(e, u.last_ms);
            if (e->p.version == 9) {
                v9_add(e, &u);
                out++;
            } else {
                out += v5_add(e, &u);
            }
        }
    }
    return out;
}

unsigned fp_nf_flush(struct fp_nf_encoder *e, uint64_t now_ms)
{
    clock_advance(e, now_ms);
    if (e->open) {
        if (e->p.version == 9)
            v9_finish(e);
        else
            v5_finish(e);
        return 1;
    }
    /* Idle v9 exporter: keep the templates fresh once the timer (not the packet count) says so. */
    if (e->p.version == 9 && e->tmpl_sent && e->p.template_refresh_ms != UINT32_MAX &&
        e->clock_ms - e->tmpl_time_ms >= e->p.template_refresh_ms) {
        if (!e->boot_set)
            set_boot(e, clock_base(e));
        boot_for_packet(e, clock_base(e));
        v9_open(e);
        v9_finish(e);
        return 1;
    }
    return 0;
}

void fp_nf_templates_resend(struct fp_nf_encoder *e)
{
    e->force_tmpl = 1;
}
