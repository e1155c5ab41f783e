/* SPDX-License-Identifier: BSD-3-Clause */
/* Snapshot → sorted OID view: FLOWPULSE-MIB (conf/FLOWPULSE-MIB.txt) and the IPFIX-MIB
 * (RFC 6615) subset. Column numbers follow the MIB texts; see src/snmp/README.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify/classify_engine.h"
#include "common/fp_compiler.h"
#include "snmp/snmp_internal.h"

const uint32_t fp_snmp_ipfix_mib_oid[7] = {1, 3, 6, 1, 2, 1, 193};
const uint32_t fp_snmp_enterprises_oid[7] = {1, 3, 6, 1, 4, 1, 0};

/* IPFIX-SELECTOR-MIB ipfixFuncSelectAll (RFC 6616). */
static const uint32_t select_all_oid[] = {1, 3, 6, 1, 2, 1, 194, 1, 1, 1};

/* FLOWPULSE-MIB tables under fpObjects (root.1). */
enum {
    FP_T_GENERAL = 1,
    FP_T_NOT_METERED = 2,
    FP_T_PORT = 3,
    FP_T_WORKER = 4,
    FP_T_COLLECTOR = 5,
    FP_T_CLASS = 6,
    FP_T_CLASSIFY = 7,
};

/* fpClassifyCounterTable rows: the FP_CLASSIFY_COUNTERS X-macro (names, descriptions). */
#define FP_X_NAME(name, desc) #name,
static const char *const classify_names[] = {FP_CLASSIFY_COUNTERS(FP_X_NAME)};
#undef FP_X_NAME
#define FP_X_DESC(name, desc) desc,
static const char *const classify_descs[] = {FP_CLASSIFY_COUNTERS(FP_X_DESC)};
#undef FP_X_DESC
FP_STATIC_ASSERT(FP_ARRAY_SIZE(classify_names) <= FP_SNAP_MAX_CLASSIFY_COUNTERS,
                 "fp_snapshot.classify is too small for FP_CLASSIFY_COUNTERS");

/* IPFIX-MIB tables: ipfixMainObjects = .193.1.1.T, ipfixStatistics = .193.1.2.T. */
enum {
    IPFIX_SESSION = 1,
    IPFIX_TEMPLATE = 2,
    IPFIX_TEMPLATE_DEF = 3,
    IPFIX_EXPORT = 4,
    IPFIX_METERING = 5,
    IPFIX_OBS_POINT = 6,
    IPFIX_SELECTION = 7,
    IPFIX_STATS_SESSION = 1,
    IPFIX_STATS_TEMPLATE = 2,
    IPFIX_STATS_METERING = 3,
    IPFIX_STATS_SELECTION = 4,
};

int fp_snmp_oid_cmp(const uint32_t *a, size_t alen, const uint32_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

size_t fp_snmp_fp_root(uint32_t pen, uint32_t *out)
{
    memcpy(out, fp_snmp_enterprises_oid, 6 * sizeof(*out));
    out[6] = pen;
    out[7] = 1;
    return 8;
}

void fp_snmp_date_and_time(uint64_t unix_ms, uint8_t out[11])
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    gmtime_r(&t, &tm);
    unsigned year = (unsigned)tm.tm_year + 1900;
    out[0] = (uint8_t)(year >> 8);
    out[1] = (uint8_t)year;
    out[2] = (uint8_t)(tm.tm_mon + 1);
    out[3] = (uint8_t)tm.tm_mday;
    out[4] = (uint8_t)tm.tm_hour;
    out[5] = (uint8_t)tm.tm_min;
    out[6] = (uint8_t)tm.tm_sec;
    out[7] = (uint8_t)((unix_ms % 1000) / 100);
    out[8] = '+';
    out[9] = 0;
    out[10] = 0;
}

/* Builder state: a base OID (table entry or scalar group) that columns and indexes extend. */
struct bld {
    struct fp_snmp_view *v;
    int err;
    uint32_t base[FP_SNMP_OID_MAX];
    size_t blen;
};

static void bld_base(struct bld *b, const uint32_t *prefix, size_t plen, const uint32_t *rest,
                     size_t rlen)
{
    memcpy(b->base, prefix, plen * sizeof(*prefix));
    memcpy(b->base + plen, rest, rlen * sizeof(*rest));
    b->blen = plen + rlen;
}

/* Append base.col.idx[0..nidx) with @p type; returns the entry (NULL on ENOMEM). */
static struct fp_snmp_entry *add(struct bld *b, uint32_t col, const uint32_t *idx, size_t nidx,
                                 uint8_t type)
{
    struct fp_snmp_view *v = b->v;
    if (b->err)
        return NULL;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        struct fp_snmp_entry *e = realloc(v->e, cap * sizeof(*e));
        if (!e) {
            b->err = -ENOMEM;
            return NULL;
        }
        v->e = e;
        v->cap = cap;
    }
    struct fp_snmp_entry *e = &v->e[v->n++];
    memset(e, 0, offsetof(struct fp_snmp_entry, buf));
    memcpy(e->oid, b->base, b->blen * sizeof(uint32_t));
    e->oid[b->blen] = col;
    memcpy(e->oid + b->blen + 1, idx, nidx * sizeof(uint32_t));
    e->oid_len = (uint8_t)(b->blen + 1 + nidx);
    e->type = type;
    return e;
}

static void add_num(struct bld *b, uint32_t col, const uint32_t *idx, size_t nidx, uint8_t type,
                    uint64_t val)
{
    struct fp_snmp_entry *e = add(b, col, idx, nidx, type);
    if (e)
        e->num = val;
}

/* Gauge32/Unsigned32 from a 64-bit value: saturate. */
static void add_gauge(struct bld *b, uint32_t col, const uint32_t *idx, size_t nidx, uint64_t val)
{
    add_num(b, col, idx, nidx, FP_SNMP_GAUGE32, val > UINT32_MAX ? UINT32_MAX : val);
}

static void add_str(struct bld *b, uint32_t col, const uint32_t *idx, size_t nidx, const char *s,
                    size_t max)
{
    struct fp_snmp_entry *e = add(b, col, idx, nidx, FP_SNMP_OCTETS);
    if (e) {
        e->ptr = s;
        e->len = (uint16_t)strnlen(s, max);
    }
}

static void add_bytes(struct bld *b, uint32_t col, const uint32_t *idx, size_t nidx,
                      const void *p, size_t len)
{
    struct fp_snmp_entry *e = add(b, col, idx, nidx, FP_SNMP_OCTETS);
    if (e) {
        memcpy(e->buf, p, len);
        e->ptr = NULL; /* resolved to buf after sorting (entries move) */
        e->len = (uint16_t)len;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* FLOWPULSE-MIB                                                                              */

static void build_flowpulse(struct bld *b, const struct fp_snapshot *s,
                            const struct fp_snmp_derived *d, uint32_t pen)
{
    uint32_t root[FP_SNMP_OID_MAX];
    size_t rlen = fp_snmp_fp_root(pen, root);
    static const uint32_t none[1] = {0};

    /* fpGeneral scalars: root.1.1.N.0 */
    uint32_t g[] = {1, FP_T_GENERAL};
    bld_base(b, root, rlen, g, 2);
    uint64_t not_metered = 0;
    for (unsigned r = 1; r < FP_DECODE_RESULT_MAX; r++)
        not_metered += s->not_metered[r];
    uint64_t up_cs = s->now_ms > s->start_time_ms ? (s->now_ms - s->start_time_ms) / 10 : 0;
    uint8_t dt[11];
    fp_snmp_date_and_time(s->start_time_ms, dt);
    add_str(b, 1, none, 1, s->version, sizeof(s->version));
    add_num(b, 2, none, 1, FP_SNMP_TIMETICKS, up_cs > UINT32_MAX ? up_cs % (1ull << 32) : up_cs);
    add_bytes(b, 3, none, 1, dt, sizeof(dt));
    add_num(b, 4, none, 1, FP_SNMP_COUNTER64, s->packets_received);
    add_num(b, 5, none, 1, FP_SNMP_COUNTER64, s->packets_metered);
    add_num(b, 6, none, 1, FP_SNMP_COUNTER64, not_metered);
    add_gauge(b, 7, none, 1, d->drop_rate);
    add_gauge(b, 8, none, 1, d->drop_threshold);

    /* fpNotMeteredTable: index = decode result code (1..MAX-1) */
    uint32_t t2[] = {1, FP_T_NOT_METERED, 1};
    bld_base(b, root, rlen, t2, 3);
    for (uint32_t r = 1; r < FP_DECODE_RESULT_MAX; r++) {
        add_str(b, 2, &r, 1, fp_decode_result_names[r], 63);
        add_str(b, 3, &r, 1, fp_decode_result_descs[r], 127);
        add_num(b, 4, &r, 1, FP_SNMP_COUNTER64, s->not_metered[r]);
    }

    /* fpPortTable: index = port position from 0 */
    uint32_t t3[] = {1, FP_T_PORT, 1};
    bld_base(b, root, rlen, t3, 3);
    for (uint32_t i = 0; i < s->n_ports && i < FP_MAX_PORTS; i++) {
        const struct fp_snap_port *p = &s->ports[i];
        add_num(b, 2, &i, 1, FP_SNMP_COUNTER64, p->rx_packets);
        add_num(b, 3, &i, 1, FP_SNMP_COUNTER64, p->missed);
        add_num(b, 4, &i, 1, FP_SNMP_COUNTER64, p->errors);
        add_num(b, 5, &i, 1, FP_SNMP_COUNTER64, p->nombuf);
    }

    /* fpWorkerTable: index = worker id from 0 */
    uint32_t t4[] = {1, FP_T_WORKER, 1};
    bld_base(b, root, rlen, t4, 3);
    for (uint32_t i = 0; i < s->n_workers && i < FP_MAX_WORKERS; i++) {
        const struct fp_snap_worker *w = &s->workers[i];
        uint64_t occ = w->cache_capacity ? w->flows_active * 100 / w->cache_capacity : 0;
        add_num(b, 2, &i, 1, FP_SNMP_COUNTER64, w->packets);
        add_gauge(b, 3, &i, 1, w->flows_active);
        add_num(b, 4, &i, 1, FP_SNMP_COUNTER64, w->flows_created);
        add_num(b, 5, &i, 1, FP_SNMP_COUNTER64, w->expired_idle);
        add_num(b, 6, &i, 1, FP_SNMP_COUNTER64, w->expired_active);
        add_num(b, 7, &i, 1, FP_SNMP_COUNTER64, w->expired_end);
        add_num(b, 8, &i, 1, FP_SNMP_COUNTER64, w->expired_forced);
        add_num(b, 9, &i, 1, FP_SNMP_COUNTER64, w->expired_resource);
        add_gauge(b, 10, &i, 1, w->cache_capacity);
        add_gauge(b, 11, &i, 1, occ > 100 ? 100 : occ);
    }

    /* fpCollectorTable: index = collector position from 1 */
    uint32_t t5[] = {1, FP_T_COLLECTOR, 1};
    bld_base(b, root, rlen, t5, 3);
    for (uint32_t i = 0; i < s->n_collectors && i < FP_MAX_COLLECTORS; i++) {
        const struct fp_snap_collector *c = &s->collectors[i];
        uint32_t x = i + 1;
        int af = c->addr_family == 4 ? 1 : c->addr_family == 6 ? 2 : 0;
        add_str(b, 2, &x, 1, c->url, sizeof(c->url));
        add_num(b, 3, &x, 1, FP_SNMP_INTEGER, c->protocol);
        add_num(b, 4, &x, 1, FP_SNMP_INTEGER, c->transport);
        add_num(b, 5, &x, 1, FP_SNMP_INTEGER, (uint64_t)af);
        add_bytes(b, 6, &x, 1, c->addr, af == 1 ? 4 : af == 2 ? 16 : 0);
        add_gauge(b, 7, &x, 1, c->port);
        add_num(b, 8, &x, 1, FP_SNMP_INTEGER, c->state);
        add_num(b, 9, &x, 1, FP_SNMP_COUNTER64, c->records);
        add_num(b, 10, &x, 1, FP_SNMP_COUNTER64, c->messages);
        add_num(b, 11, &x, 1, FP_SNMP_COUNTER64, c->octets);
        add_num(b, 12, &x, 1, FP_SNMP_COUNTER64, c->records_not_sent);
        add_num(b, 13, &x, 1, FP_SNMP_COUNTER64, c->reconnects);
        add_num(b, 14, &x, 1, FP_SNMP_COUNTER64, c->templates_sent + c->options_templates_sent);
        add_str(b, 15, &x, 1, c->last_error, sizeof(c->last_error));
        add_gauge(b, 16, &x, 1, c->spool_bytes);
    }

    /* fpClassTable: index = class position from 1 */
    uint32_t t6[] = {1, FP_T_CLASS, 1};
    bld_base(b, root, rlen, t6, 3);
    for (uint32_t i = 0; i < s->n_classes && i < FP_SNAP_MAX_CLASSES; i++) {
        const struct fp_snap_class *k = &s->classes[i];
        uint32_t x = i + 1;
        add_str(b, 2, &x, 1, k->name, sizeof(k->name));
        add_num(b, 3, &x, 1, FP_SNMP_COUNTER64, k->flows);
        add_num(b, 4, &x, 1, FP_SNMP_COUNTER64, k->bytes);
        add_gauge(b, 5, &x, 1, k->qoe_score_x100 > 10000 ? 10000 : k->qoe_score_x100);
    }

    /* fpClassifyCounterTable: index = position in FP_CLASSIFY_COUNTERS from 1; no rows when
     * classification is off */
    uint32_t t7[] = {1, FP_T_CLASSIFY, 1};
    bld_base(b, root, rlen, t7, 3);
    for (uint32_t i = 0; i < s->n_classify && i < FP_ARRAY_SIZE(classify_names); i++) {
        uint32_t x = i + 1;
        add_str(b, 2, &x, 1, classify_names[i], 63);
        add_str(b, 3, &x, 1, classify_descs[i], 127);
        add_num(b, 4, &x, 1, FP_SNMP_COUNTER64, s->classify[i]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* IPFIX-MIB (RFC 6615)                                                                       */

/* Collectors with a transport session: every network collector (not files). */
static int has_session(const struct fp_snap_collector *c)
{
    return c->transport != FP_SNAP_TRANSPORT_FILE;
}

static void build_ipfix(struct bld *b, const struct fp_snapshot *s, const struct fp_snmp_derived *d)
{
    const uint32_t *mib = fp_snmp_ipfix_mib_oid;
    const size_t mlen = 7;
    unsigned n_sessions = 0;
    for (uint32_t i = 0; i < s->n_collectors && i < FP_MAX_COLLECTORS; i++)
        n_sessions += has_session(&s->collectors[i]) ? 1u : 0u;

    /* ipfixTransportSessionTable (.1.1.1.1) + stats (.1.2.1.1); index = collector position + 1 */
    for (uint32_t i = 0; i < s->n_collectors && i < FP_MAX_COLLECTORS; i++) {
        const struct fp_snap_collector *c = &s->collectors[i];
        if (!has_session(c))
            continue;
        uint32_t x = i + 1;
        int udp = c->transport == FP_SNAP_TRANSPORT_UDP;
        int af = c->addr_family == 4 ? 1 : c->addr_family == 6 ? 2 : 0;
        int status = c->state == FP_SNAP_COLLECTOR_UP ? 2 : 1;
        uint32_t ts[] = {1, 1, IPFIX_SESSION, 1};
        bld_base(b, mib, mlen, ts, 4);
        add_num(b, 2, &x, 1, FP_SNMP_INTEGER, udp ? 17 : 6);
        add_num(b, 3, &x, 1, FP_SNMP_INTEGER, 0); /* source: chosen by the kernel, unknown */
        add_bytes(b, 4, &x, 1, c->addr, 0);
        add_num(b, 5, &x, 1, FP_SNMP_INTEGER, (uint64_t)af);
        add_bytes(b, 6, &x, 1, c->addr, af == 1 ? 4 : af == 2 ? 16 : 0);
        add_gauge(b, 7, &x, 1, 0);
        add_gauge(b, 8, &x, 1, c->port);
        add_gauge(b, 9, &x, 1, 0);                          /* not SCTP */
        add_num(b, 10, &x, 1, FP_SNMP_INTEGER, 1);          /* exporting(1) */
        add_gauge(b, 11, &x, 1, udp ? c->template_refresh_s : 0);
        add_gauge(b, 12, &x, 1, udp ? c->template_refresh_s : 0);
        add_gauge(b, 13, &x, 1, udp ? c->template_refresh_msgs : 0);
        add_gauge(b, 14, &x, 1, udp ? c->template_refresh_msgs : 0);
        add_gauge(b, 15, &x, 1, c->protocol);
        add_num(b, 16, &x, 1, FP_SNMP_INTEGER, (uint64_t)status);

        uint32_t st[] = {1, 2, IPFIX_STATS_SESSION, 1};
        bld_base(b, mib, mlen, st, 4);
        add_gauge(b, 1, &x, 1, d->session_rate[i]);
        add_num(b, 2, &x, 1, FP_SNMP_COUNTER64, c->messages); /* one message per packet (UDP) */
        add_num(b, 3, &x, 1, FP_SNMP_COUNTER64, c->octets);
        add_num(b, 4, &x, 1, FP_SNMP_COUNTER64, c->messages);
        add_num(b, 5, &x, 1, FP_SNMP_COUNTER64, c->messages_not_sent);
        add_num(b, 6, &x, 1, FP_SNMP_COUNTER64, c->records);
        add_num(b, 7, &x, 1, FP_SNMP_COUNTER64, c->templates_sent);
        add_num(b, 8, &x, 1, FP_SNMP_COUNTER64, c->options_templates_sent);
        add_num(b, 9, &x, 1, FP_SNMP_TIMETICKS, 0); /* counters never reset */

        /* ipfixTemplateTable (.1.1.2.1) + stats (.1.2.2.1) + definitions (.1.1.3.1) */
        for (uint32_t t = 0; t < c->n_templates && t < FP_SNAP_MAX_TEMPLATES; t++) {
            const struct fp_snap_template *tp = &c->templates[t];
            uint32_t idx[4] = {x, tp->odid, tp->template_id, 0};
            uint8_t at[11];
            uint32_t tt[] = {1, 1, IPFIX_TEMPLATE, 1};
            bld_base(b, mib, mlen, tt, 4);
            add_num(b, 3, idx, 3, FP_SNMP_GAUGE32, tp->set_id);
            if (tp->last_sent_ms) {
                fp_snmp_date_and_time(tp->last_sent_ms, at);
                add_bytes(b, 4, idx, 3, at, 11);
            } else {
                memset(at, 0, 8); /* "never": the all-zero DateAndTime of RFC 6615 */
                add_bytes(b, 4, idx, 3, at, 8);
            }
            uint32_t tst[] = {1, 2, IPFIX_STATS_TEMPLATE, 1};
            bld_base(b, mib, mlen, tst, 4);
            add_num(b, 1, idx, 3, FP_SNMP_COUNTER64, tp->data_records);
            add_num(b, 2, idx, 3, FP_SNMP_TIMETICKS, 0);

            uint32_t td[] = {1, 1, IPFIX_TEMPLATE_DEF, 1};
            bld_base(b, mib, mlen, td, 4);
            for (uint32_t f = 0; f < tp->n_fields && f < FP_SNAP_MAX_TEMPLATE_FIELDS; f++) {
                const struct fp_snap_template_field *fd = &tp->fields[f];
                idx[3] = f + 1;
                /* BITS { scope(0), flowKey(1) }: bit 0 is the MSB of the first octet */
                uint8_t bits = (uint8_t)(((fd->flags & FP_SNAP_FIELD_SCOPE) ? 0x80 : 0) |
                                         ((fd->flags & FP_SNAP_FIELD_FLOW_KEY) ? 0x40 : 0));
                add_gauge(b, 2, idx, 4, fd->ie_id);
                add_gauge(b, 3, idx, 4, fd->length);
                add_gauge(b, 4, idx, 4, fd->pen);
                add_bytes(b, 5, idx, 4, &bits, 1);
            }
        }
    }

    /* ipfixExportTable (.1.1.4.1): export 1, metering process (cache) 1, every session */
    uint32_t et[] = {1, 1, IPFIX_EXPORT, 1};
    bld_base(b, mib, mlen, et, 4);
    for (uint32_t i = 0; i < s->n_collectors && i < FP_MAX_COLLECTORS; i++) {
        if (!has_session(&s->collectors[i]))
            continue;
        uint32_t idx[3] = {1, 1, i + 1};
        /* every collector gets every record: parallel(3); a lone session is primary(1) */
        add_num(b, 2, idx, 3, FP_SNMP_INTEGER, n_sessions > 1 ? 3 : 1);
    }

    /* ipfixMeteringProcessTable (.1.1.5.1) + stats (.1.2.3.1): one cache, id 1 */
    uint32_t one = 1;
    uint32_t mt[] = {1, 1, IPFIX_METERING, 1};
    bld_base(b, mib, mlen, mt, 4);
    add_gauge(b, 2, &one, 1, 1); /* observation point group 1 */
    add_gauge(b, 3, &one, 1, s->metering.active_timeout_s);
    add_gauge(b, 4, &one, 1, s->metering.idle_timeout_s);
    uint32_t ms[] = {1, 2, IPFIX_STATS_METERING, 1};
    bld_base(b, mib, mlen, ms, 4);
    add_gauge(b, 1, &one, 1, s->metering.active_flows);
    add_gauge(b, 2, &one, 1, s->metering.unused_entries);
    add_num(b, 3, &one, 1, FP_SNMP_COUNTER64, s->metering.data_records);
    add_num(b, 4, &one, 1, FP_SNMP_TIMETICKS, 0);

    /* ipfixObservationPointTable (.1.1.6.1): group 1, one point per capture port */
    uint32_t ot[] = {1, 1, IPFIX_OBS_POINT, 1};
    bld_base(b, mib, mlen, ot, 4);
    for (uint32_t i = 0; i < s->n_ports && i < FP_MAX_PORTS; i++) {
        uint32_t idx[2] = {1, i + 1};
        add_gauge(b, 3, idx, 2, s->metering.observation_domain);
        add_gauge(b, 4, idx, 2, 0); /* no ENTITY-MIB entry */
        add_gauge(b, 5, idx, 2, 0); /* DPDK ports have no ifIndex */
        add_num(b, 6, idx, 2, FP_SNMP_INTEGER, 1); /* ingress(1) */
    }

    /* ipfixSelectionProcessTable (.1.1.7.1) + stats (.1.2.4.1): select-all (1, 1, 1) */
    uint32_t sidx[3] = {1, 1, 1};
    uint32_t spt[] = {1, 1, IPFIX_SELECTION, 1};
    bld_base(b, mib, mlen, spt, 4);
    struct fp_snmp_entry *e = add(b, 3, sidx, 3, FP_SNMP_OID);
    if (e) {
        e->ptr = select_all_oid;
        e->len = (uint16_t)(sizeof(select_all_oid) / sizeof(select_all_oid[0]));
    }
    uint64_t not_metered = 0;
    for (unsigned r = 1; r < FP_DECODE_RESULT_MAX; r++)
        not_metered += s->not_metered[r];
    uint32_t sst[] = {1, 2, IPFIX_STATS_SELECTION, 1};
    bld_base(b, mib, mlen, sst, 4);
    add_num(b, 1, sidx, 3, FP_SNMP_COUNTER64, s->packets_received);
    add_num(b, 2, sidx, 3, FP_SNMP_COUNTER64, not_metered);
    add_num(b, 3, sidx, 3, FP_SNMP_TIMETICKS, 0);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct fp_snmp_entry *x = a, *y = b;
    return fp_snmp_oid_cmp(x->oid, x->oid_len, y->oid, y->oid_len);
}

int fp_snmp_view_build(struct fp_snmp_view *v, const struct fp_snapshot *s,
                       const struct fp_snmp_derived *d, uint32_t pen)
{
    struct bld b = {.v = v};
    if (&v->snap != s)
        memcpy(&v->snap, s, sizeof(*s));
    v->n = 0;
    v->pen = pen;
    build_ipfix(&b, &v->snap, d);
    build_flowpulse(&b, &v->snap, d, pen);
    if (b.err) {
        v->n = 0;
        return b.err;
    }
    qsort(v->e, v->n, sizeof(*v->e), entry_cmp);
    /* generated bytes live in the entry itself: point at them now that entries stay put */
    for (size_t i = 0; i < v->n; i++) {
        if (v->e[i].type == FP_SNMP_OCTETS && !v->e[i].ptr)
            v->e[i].ptr = v->e[i].buf;
    }
    return 0;
}

void fp_snmp_view_free(struct fp_snmp_view *v)
{
    if (!v)
        return;
    free(v->e);
    v->e = NULL;
    v->n = v->cap = 0;
}

/* Index of the first entry >= oid (or > oid when @p strict). */
static size_t lower_bound(const struct fp_snmp_view *v, const uint32_t *oid, size_t len, int strict)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = fp_snmp_oid_cmp(v->e[mid].oid, v->e[mid].oid_len, oid, len);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct fp_snmp_entry *fp_snmp_view_get(const struct fp_snmp_view *v, const uint32_t *oid,
                                             size_t len)
{
    size_t i = lower_bound(v, oid, len, 0);
    if (i < v->n && fp_snmp_oid_cmp(v->e[i].oid, v->e[i].oid_len, oid, len) == 0)
        return &v->e[i];
    return NULL;
}

const struct fp_snmp_entry *fp_snmp_view_next(const struct fp_snmp_view *v, const uint32_t *oid,
                                              size_t len, const uint32_t *prefix, size_t plen)
{
    size_t i = lower_bound(v, oid, len, 1);
    if (i >= v->n)
        return NULL;
    const struct fp_snmp_entry *e = &v->e[i];
    if (e->oid_len < plen || fp_snmp_oid_cmp(e->oid, plen, prefix, plen) != 0)
        return NULL;
    return e;
}
