/* SPDX-License-Identifier: BSD-3-Clause */
/* Flow cache: key canonicalisation, insert/lookup, expiry (idle, active, TCP end, full),
 * fragments, timer-wheel edges, conservation of packets and bytes. */
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "tests/unit/fp_test.h"

#define MAX_RECS 200000

static struct fp_flow_record *recs;
static unsigned n_recs;

static void collect(void *arg, struct fp_flow_record *r, void *ext, bool final)
{
    (void)arg;
    (void)ext;
    (void)final;
    if (n_recs < MAX_RECS)
        recs[n_recs++] = *r;
}

static struct fp_flow_table *mk(uint32_t cap, uint32_t idle_ms, uint32_t active_ms, uint32_t end_ms)
{
    if (!recs)
        recs = calloc(MAX_RECS, sizeof(*recs));
    n_recs = 0;
    struct fp_flow_table_params p = {
        .capacity = cap,
        .idle_timeout_ms = idle_ms,
        .active_timeout_ms = active_ms,
        .tcp_end_ms = end_ms,
        .frag_entries = 64,
        .worker_id = 3,
        .sink = {.emit = collect, .arg = NULL},
    };
    struct fp_flow_table *t = fp_flow_table_create(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

static struct fp_pkt_meta pkt4(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t proto,
                               uint16_t flags, uint32_t len)
{
    struct fp_pkt_meta m;
    memset(&m, 0, sizeof(m));
    m.src[0] = (uint8_t)(s >> 24), m.src[1] = (uint8_t)(s >> 16), m.src[2] = (uint8_t)(s >> 8),
    m.src[3] = (uint8_t)s;
    m.dst[0] = (uint8_t)(d >> 24), m.dst[1] = (uint8_t)(d >> 16), m.dst[2] = (uint8_t)(d >> 8),
    m.dst[3] = (uint8_t)d;
    m.sport = sp;
    m.dport = dp;
    m.proto = proto;
    m.ip_version = 4;
    m.tcp_flags = flags;
    m.ip_bytes = len;
    m.ttl = 64;
    return m;
}

static void feed(struct fp_flow_table *t, const struct fp_pkt_meta *m, uint64_t ts_ns)
{
    const struct fp_pkt_meta *pm = m;
    fp_flow_table_update_burst(t, &pm, NULL, &ts_ns, 0, 1);
}

#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (1700000000ull * SEC)

static void test_key_canonical(void)
{
    struct fp_pkt_meta a = pkt4(0x0a000001, 0x0a000002, 1234, 80, 6, 0, 60);
    struct fp_pkt_meta b = pkt4(0x0a000002, 0x0a000001, 80, 1234, 6, 0, 60);
    struct fp_flow_key ka, kb;
    int ea = fp_flow_key_from_meta(&a, &ka);
    int eb = fp_flow_key_from_meta(&b, &kb);
    CU_ASSERT_EQUAL(memcmp(&ka, &kb, sizeof(ka)), 0);
    CU_ASSERT_NOT_EQUAL(ea, eb);
    CU_ASSERT_EQUAL(fp_flow_key_hash(&ka), fp_flow_key_hash(&kb));
    /* Same addresses, ports decide the order. */
    struct fp_pkt_meta c = pkt4(0x0a000001, 0x0a000001, 5000, 53, 17, 0, 60);
    struct fp_pkt_meta d = pkt4(0x0a000001, 0x0a000001, 53, 5000, 17, 0, 60);
    struct fp_flow_key kc, kd;
    CU_ASSERT_NOT_EQUAL(fp_flow_key_from_meta(&c, &kc), fp_flow_key_from_meta(&d, &kd));
    CU_ASSERT_EQUAL(memcmp(&kc, &kd, sizeof(kc)), 0);
    /* VLAN and protocol are part of the key. */
    struct fp_pkt_meta e = a;
    e.n_vlan = 1;
    e.vlan[0] = 100;
    struct fp_flow_key ke;
    fp_flow_key_from_meta(&e, &ke);
    CU_ASSERT_NOT_EQUAL(memcmp(&ka, &ke, sizeof(ka)), 0);
    struct fp_pkt_meta f = a;
    f.proto = 17;
    struct fp_flow_key kf;
    fp_flow_key_from_meta(&f, &kf);
    CU_ASSERT_NOT_EQUAL(memcmp(&ka, &kf, sizeof(ka)), 0);
}

static void test_bidirectional_record(void)
{
    struct fp_flow_table *t = mk(1024, 15000, 60000, 2000);
    struct fp_pkt_meta syn = pkt4(0x0a000001, 0x0a000002, 40000, 443, 6, 0x02, 60);
    struct fp_pkt_meta synack = pkt4(0x0a000002, 0x0a000001, 443, 40000, 6, 0x12, 60);
    struct fp_pkt_meta ack = pkt4(0x0a000001, 0x0a000002, 40000, 443, 6, 0x10, 52);
    synack.ttl = 50;
    feed(t, &syn, T0);
    feed(t, &synack, T0 + 5 * MS);
    feed(t, &ack, T0 + 10 * MS);
    CU_ASSERT_EQUAL(n_recs, 0);
    fp_flow_table_flush(t, FP_END_FORCED);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    const struct fp_flow_record *r = &recs[0];
    CU_ASSERT_EQUAL(r->src[3], 1);
    CU_ASSERT_EQUAL(r->sport, 40000);
    CU_ASSERT_EQUAL(r->dport, 443);
    CU_ASSERT_EQUAL(r->dir[0].packets, 2);
    CU_ASSERT_EQUAL(r->dir[0].bytes, 112);
    CU_ASSERT_EQUAL(r->dir[1].packets, 1);
    CU_ASSERT_EQUAL(r->dir[1].bytes, 60);
    CU_ASSERT_EQUAL(r->dir[0].tcp_flags, 0x12);
    CU_ASSERT_EQUAL(r->dir[1].tcp_flags, 0x12);
    CU_ASSERT_EQUAL(r->dir[0].first_ns, T0);
    CU_ASSERT_EQUAL(r->dir[0].last_ns, T0 + 10 * MS);
    CU_ASSERT_EQUAL(r->dir[1].first_ns, T0 + 5 * MS);
    CU_ASSERT_EQUAL(r->dir[1].ttl_min, 50);
    CU_ASSERT_EQUAL(r->end_reason, FP_END_FORCED);
    CU_ASSERT_EQUAL(r->worker, 3);
    CU_ASSERT_EQUAL(r->flow_id >> 56, 3);
    struct fp_flow_stats st;
    fp_flow_table_get_stats(t, &st);
    CU_ASSERT_EQUAL(st.created, 1);
    CU_ASSERT_EQUAL(st.active, 0);
    CU_ASSERT_EQUAL(st.expired_forced, 1);
    fp_flow_table_destroy(t);
}

static void test_synack_first_orientation(void)
{
    struct fp_flow_table *t = mk(64, 15000, 60000, 2000);
    struct fp_pkt_meta synack = pkt4(0x0a000002, 0x0a000001, 443, 40000, 6, 0x12, 60);
    feed(t, &synack, T0);
    fp_flow_table_flush(t, FP_END_FORCED);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    /* The SYN/ACK's destination initiated the connection. */
    CU_ASSERT_EQUAL(recs[0].src[3], 1);
    CU_ASSERT_EQUAL(recs[0].sport, 40000);
    CU_ASSERT_EQUAL(recs[0].dir[0].packets, 0);
    CU_ASSERT_EQUAL(recs[0].dir[1].packets, 1);
    fp_flow_table_destroy(t);
}

static void test_idle_timeout(void)
{
    struct fp_flow_table *t = mk(64, 15000, 60000, 2000);
    struct fp_pkt_meta u = pkt4(0x0a000001, 0x0a000002, 5353, 53, 17, 0, 80);
    feed(t, &u, T0);
    fp_flow_table_advance(t, T0 + 14 * SEC);
    CU_ASSERT_EQUAL(n_recs, 0);
    fp_flow_table_advance(t, T0 + 15 * SEC + 200 * MS);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].end_reason, FP_END_IDLE);
    /* Advancing again (same or older time) emits nothing more. */
    fp_flow_table_advance(t, T0 + 15 * SEC + 200 * MS);
    fp_flow_table_advance(t, T0 + 1 * SEC);
    fp_flow_table_advance(t, T0 + 100 * SEC);
    CU_ASSERT_EQUAL(n_recs, 1);
    fp_flow_table_destroy(t);
}

static void test_idle_refreshed_by_packets(void)
{
    struct fp_flow_table *t = mk(64, 2000, 600000, 2000);
    struct fp_pkt_meta u = pkt4(0x0a000001, 0x0a000002, 5353, 53, 17, 0, 80);
    for (int i = 0; i < 20; i++) {
        feed(t, &u, T0 + (uint64_t)i * SEC);
        fp_flow_table_advance(t, T0 + (uint64_t)i * SEC);
    }
    CU_ASSERT_EQUAL(n_recs, 0); /* a packet every second keeps a 2 s idle timer alive */
    fp_flow_table_advance(t, T0 + 22 * SEC);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].dir[0].packets, 20);
    fp_flow_table_destroy(t);
}

static void test_active_timeout(void)
{
    struct fp_flow_table *t = mk(64, 15000, 5000, 2000);
    struct fp_pkt_meta u = pkt4(0x0a000001, 0x0a000002, 1000, 2000, 17, 0, 100);
    for (int i = 0; i < 30; i++) {
        feed(t, &u, T0 + (uint64_t)i * SEC);
        fp_flow_table_advance(t, T0 + (uint64_t)i * SEC);
    }
    fp_flow_table_flush(t, FP_END_FORCED);
    CU_ASSERT(n_recs >= 5);
    uint64_t pk = 0, by = 0;
    unsigned active = 0;
    for (unsigned i = 0; i < n_recs; i++) {
        pk += recs[i].dir[0].packets;
        by += recs[i].dir[0].bytes;
        active += recs[i].end_reason == FP_END_ACTIVE;
        /* Each record spans at most the active timeout plus one wheel tick. */
        CU_ASSERT(recs[i].dir[0].last_ns - recs[i].dir[0].first_ns <= 5 * SEC + 200 * MS);
        if (i > 0)
            CU_ASSERT(recs[i].dir[0].first_ns > recs[i - 1].dir[0].last_ns);
        CU_ASSERT_EQUAL(recs[i].flow_id >> 56, 3);
    }
    CU_ASSERT_EQUAL(pk, 30);
    CU_ASSERT_EQUAL(by, 3000);
    CU_ASSERT_EQUAL(active, n_recs - 1);
    CU_ASSERT_EQUAL(recs[n_recs - 1].end_reason, FP_END_FORCED);
    fp_flow_table_destroy(t);
}

static void test_tcp_end(void)
{
    struct fp_flow_table *t = mk(64, 15000, 60000, 2000);
    struct fp_pkt_meta fin1 = pkt4(0x0a000001, 0x0a000002, 40000, 80, 6, 0x11, 52);
    struct fp_pkt_meta fin2 = pkt4(0x0a000002, 0x0a000001, 80, 40000, 6, 0x11, 52);
    struct fp_pkt_meta ack = pkt4(0x0a000001, 0x0a000002, 40000, 80, 6, 0x10, 52);
    feed(t, &fin1, T0);
    fp_flow_table_advance(t, T0 + 3 * SEC);
    CU_ASSERT_EQUAL(n_recs, 0); /* one FIN is not the end */
    feed(t, &fin2, T0 + 3 * SEC);
    feed(t, &ack, T0 + 3 * SEC + 1 * MS); /* trailing ACK lands in the same flow */
    fp_flow_table_advance(t, T0 + 4 * SEC);
    CU_ASSERT_EQUAL(n_recs, 0);
    fp_flow_table_advance(t, T0 + 5 * SEC + 300 * MS);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].end_reason, FP_END_END);
    CU_ASSERT_EQUAL(recs[0].dir[0].packets, 2);
    CU_ASSERT_EQUAL(recs[0].dir[1].packets, 1);

    /* RST ends at once (after the linger). */
    struct fp_pkt_meta rst = pkt4(0x0a000003, 0x0a000002, 40001, 80, 6, 0x04, 40);
    feed(t, &rst, T0 + 10 * SEC);
    fp_flow_table_advance(t, T0 + 12 * SEC + 300 * MS);
    CU_ASSERT_EQUAL_FATAL(n_recs, 2);
    CU_ASSERT_EQUAL(recs[1].end_reason, FP_END_END);
    fp_flow_table_destroy(t);
}

static void test_cache_full(void)
{
    struct fp_flow_table *t = mk(16, 15000, 60000, 2000);
    for (uint32_t i = 0; i < 20; i++) {
        struct fp_pkt_meta u = pkt4(0x0a000001, 0x0b000000 + i, 1000, 2000, 17, 0, 100);
        feed(t, &u, T0 + i * MS);
    }
    struct fp_flow_stats st;
    fp_flow_table_get_stats(t, &st);
    CU_ASSERT_EQUAL(st.evicted_resource, 4);
    CU_ASSERT_EQUAL(st.active, 16);
    CU_ASSERT_EQUAL(n_recs, 4);
    for (unsigned i = 0; i < n_recs; i++)
        CU_ASSERT_EQUAL(recs[i].end_reason, FP_END_RESOURCE);
    fp_flow_table_flush(t, FP_END_FORCED);
    CU_ASSERT_EQUAL(n_recs, 20);
    uint64_t pk = 0;
    for (unsigned i = 0; i < n_recs; i++)
        pk += recs[i].dir[0].packets;
    CU_ASSERT_EQUAL(pk, 20);
    fp_flow_table_destroy(t);
}

static void test_fragments(void)
{
    struct fp_flow_table *t = mk(64, 15000, 60000, 2000);
    struct fp_pkt_meta first = pkt4(0x0a000001, 0x0a000002, 5000, 53, 17, 0, 1500);
    first.frag = FP_FRAG_FIRST;
    first.frag_id = 77;
    struct fp_pkt_meta later = pkt4(0x0a000001, 0x0a000002, 0, 0, 17, 0, 300);
    later.frag = FP_FRAG_LATER;
    later.frag_id = 77;
    struct fp_pkt_meta orphan = later;
    orphan.frag_id = 78;
    feed(t, &first, T0);
    feed(t, &later, T0 + 1 * MS);
    feed(t, &orphan, T0 + 2 * MS);
    fp_flow_table_flush(t, FP_END_FORCED);
    CU_ASSERT_EQUAL_FATAL(n_recs, 2);
    int with_ports = recs[0].sport == 5000 ? 0 : 1;
    CU_ASSERT_EQUAL(recs[with_ports].dir[0].packets, 2);
    CU_ASSERT_EQUAL(recs[with_ports].dir[0].bytes, 1800);
    CU_ASSERT_EQUAL(recs[!with_ports].sport, 0);
    CU_ASSERT_EQUAL(recs[!with_ports].dir[0].packets, 1);
    struct fp_flow_stats st;
    fp_flow_table_get_stats(t, &st);
    CU_ASSERT_EQUAL(st.frag_matched, 1);
    CU_ASSERT_EQUAL(st.frag_unmatched, 1);
    fp_flow_table_destroy(t);
}

static void test_wheel_long_gap_and_backwards(void)
{
    struct fp_flow_table *t = mk(1024, 1000, 3000, 500);
    for (uint32_t i = 0; i < 100; i++) {
        struct fp_pkt_meta u = pkt4(0x0a000001, 0x0c000000 + i, 1, 2, 17, 0, 10);
        feed(t, &u, T0 + i * 10 * MS);
    }
    /* A packet with an older timestamp must not break anything. */
    struct fp_pkt_meta old = pkt4(0x0a000001, 0x0c000000, 1, 2, 17, 0, 10);
    feed(t, &old, T0 - 5 * SEC);
    /* Jump far beyond the wheel's span: everything expires exactly once. */
    fp_flow_table_advance(t, T0 + 3600 * SEC);
    CU_ASSERT_EQUAL(n_recs, 100);
    uint64_t pk = 0;
    for (unsigned i = 0; i < n_recs; i++) {
        pk += recs[i].dir[0].packets;
        CU_ASSERT_EQUAL(recs[i].end_reason, FP_END_IDLE);
    }
    CU_ASSERT_EQUAL(pk, 101);
    fp_flow_table_advance(t, T0 + 7200 * SEC);
    CU_ASSERT_EQUAL(n_recs, 100);
    fp_flow_table_destroy(t);
}

/* Conservation: random traffic over many flows, periodic expiry, a small cache that
 * forces evictions; per-key totals equal a straightforward reference count. */
static void test_conservation_random(void)
{
    enum { NKEYS = 3000, NPKT = 60000 };
    struct fp_flow_table *t = mk(1024, 200, 2000, 300);
    static uint64_t ref_pk[NKEYS][2], ref_by[NKEYS][2];
    memset(ref_pk, 0, sizeof(ref_pk));
    memset(ref_by, 0, sizeof(ref_by));
    uint32_t seed = 12345;
    uint64_t ts = T0;
    for (int i = 0; i < NPKT; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t k = (seed >> 8) % NKEYS;
        int rev = (seed >> 3) & 1;
        uint32_t len = 40 + (seed >> 20) % 1400;
        uint32_t a = 0x0a000000 + k, b = 0x14000000 + k * 7;
        struct fp_pkt_meta m = rev ? pkt4(b, a, 443, (uint16_t)(1024 + k), 17, 0, len)
                                   : pkt4(a, b, (uint16_t)(1024 + k), 443, 17, 0, len);
        ts += (seed >> 12) % 400000; /* up to 0.4 ms */
        feed(t, &m, ts);
        ref_pk[k][rev]++;
        ref_by[k][rev] += len;
        if (i % 32 == 0)
            fp_flow_table_advance(t, ts);
    }
    fp_flow_table_flush(t, FP_END_FORCED);
    static uint64_t got_pk[NKEYS][2], got_by[NKEYS][2];
    memset(got_pk, 0, sizeof(got_pk));
    memset(got_by, 0, sizeof(got_by));
    for (unsigned i = 0; i < n_recs; i++) {
        const struct fp_flow_record *r = &recs[i];
        for (int d = 0; d < 2; d++) {
            /* Key index from the 10.x address; direction 0 of the reference is from it. */
            const uint8_t *a10 = r->src[0] == 10 ? r->src : r->dst;
            uint32_t k = ((uint32_t)a10[1] << 16 | (uint32_t)a10[2] << 8 | a10[3]);
            const uint8_t *s = d == 0 ? r->src : r->dst;
            int from_a = s[0] == 10;
            CU_ASSERT_FATAL(k < NKEYS);
            got_pk[k][!from_a] += r->dir[d].packets;
            got_by[k][!from_a] += r->dir[d].bytes;
        }
    }
    int bad = 0;
    for (int k = 0; k < NKEYS; k++)
        for (int d = 0; d < 2; d++)
            bad += got_pk[k][d] != ref_pk[k][d] || got_by[k][d] != ref_by[k][d];
    CU_ASSERT_EQUAL(bad, 0);
    struct fp_flow_stats st;
    fp_flow_table_get_stats(t, &st);
    CU_ASSERT_EQUAL(st.packets, NPKT);
    CU_ASSERT(st.expired_idle > 0);
    CU_ASSERT(st.evicted_resource > 0);
    CU_ASSERT_EQUAL(st.active, 0);
    fp_flow_table_destroy(t);
}


/* Extension hooks: per-flow state is zeroed for a new flow, sees every packet with its
 * direction, is handed to every record (final only when the flow leaves), and is released
 * exactly once per flow. */
struct ext_state {
    uint32_t pkts[2];
    uint32_t created;
    uint32_t magic;
};
static unsigned ext_releases, ext_final, ext_nonfinal, ext_bad;

static void ext_packet(void *arg, void *state, unsigned dir, bool created,
                       const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t ts_ns)
{
    (void)arg;
    (void)m;
    (void)ts_ns;
    struct ext_state *s = state;
    if (created && (s->pkts[0] || s->pkts[1] || s->magic))
        ext_bad++; /* not zeroed */
    if (!frame || frame[0] != 0xab)
        ext_bad++;
    s->created += created;
    s->pkts[dir]++;
    s->magic = 0x5eed;
}

static void ext_release(void *arg, void *state)
{
    (void)arg;
    struct ext_state *s = state;
    if (s->magic != 0x5eed)
        ext_bad++;
    s->magic = 0xdead;
    ext_releases++;
}

static void ext_collect(void *arg, struct fp_flow_record *r, void *ext, bool final)
{
    (void)arg;
    const struct ext_state *s = ext;
    if (!s || s->magic != 0x5eed || s->created != 1)
        ext_bad++;
    /* The state counts every packet of the flow so far; the record only this interval. */
    if (s && (s->pkts[0] < r->dir[0].packets || s->pkts[1] < r->dir[1].packets))
        ext_bad++;
    if (final)
        ext_final++;
    else
        ext_nonfinal++;
}

static void test_extension_hooks(void)
{
    ext_releases = ext_final = ext_nonfinal = ext_bad = 0;
    struct fp_flow_table_params p = {
        .capacity = 16,
        .idle_timeout_ms = 1000,
        .active_timeout_ms = 3000,
        .tcp_end_ms = 500,
        .sink = {.emit = ext_collect},
        .ext = {.size = sizeof(struct ext_state), .packet = ext_packet, .release = ext_release},
    };
    struct fp_flow_table *t = fp_flow_table_create(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    static const uint8_t frame[1] = {0xab};
    const uint8_t *fr = frame;
    /* 24 flows through a 16-entry cache: evictions, idle expiry, active timeout, flush. */
    for (uint32_t i = 0; i < 24; i++) {
        for (int k = 0; k < 3; k++) {
            struct fp_pkt_meta m = k == 1 ? pkt4(0x0b000000 + i, 0x0a000001, 2000, 1000, 17, 0, 64)
                                          : pkt4(0x0a000001, 0x0b000000 + i, 1000, 2000, 17, 0, 64);
            const struct fp_pkt_meta *pm = &m;
            uint64_t ts = T0 + (uint64_t)i * 200 * MS + (uint64_t)k * MS;
            fp_flow_table_update_burst(t, &pm, &fr, &ts, 0, 1);
        }
        fp_flow_table_advance(t, T0 + (uint64_t)i * 200 * MS);
    }
    /* One long flow crosses the active timeout. */
    for (int k = 0; k < 10; k++) {
        struct fp_pkt_meta m = pkt4(0x0c000001, 0x0a000001, 7, 7, 17, 0, 64);
        const struct fp_pkt_meta *pm = &m;
        uint64_t ts = T0 + 5 * SEC + (uint64_t)k * 900 * MS;
        fp_flow_table_update_burst(t, &pm, &fr, &ts, 0, 1);
        fp_flow_table_advance(t, ts);
    }
    fp_flow_table_flush(t, FP_END_FORCED);
    CU_ASSERT_EQUAL(ext_bad, 0);
    CU_ASSERT_EQUAL(ext_final, 25);
    CU_ASSERT_EQUAL(ext_releases, 25);
    CU_ASSERT(ext_nonfinal >= 2);
    fp_flow_table_destroy(t);
}

static unsigned scan_seen, scan_pk, scan_stop_after;
static bool scan_visit(void *arg, struct fp_flow_record *r, void *ext)
{
    (void)arg;
    (void)ext;
    scan_seen++;
    scan_pk += (unsigned)(r->dir[0].packets + r->dir[1].packets);
    CU_ASSERT_EQUAL(r->end_reason, 0);
    return scan_stop_after == 0 || scan_seen < scan_stop_after;
}

/* Scan: bounded slices, every active flow exactly once, early stop. */
static void test_scan(void)
{
    struct fp_flow_table *t = mk(256, 15000, 60000, 2000);
    for (uint32_t i = 0; i < 100; i++) {
        struct fp_pkt_meta u = pkt4(0x0a000001, 0x0d000000 + i, 1, 2, 17, 0, 10);
        feed(t, &u, T0 + i * MS);
        if (i % 2)
            feed(t, &u, T0 + i * MS + 1);
    }
    /* Ten flows end (idle) so the scan must skip freed entries. */
    struct fp_pkt_meta rst = pkt4(0x0a000009, 0x0a000008, 5, 6, 6, 0x04, 40);
    feed(t, &rst, T0 + 200 * MS);
    fp_flow_table_advance(t, T0 + 3 * SEC);
    CU_ASSERT_EQUAL(n_recs, 1);
    scan_seen = scan_pk = scan_stop_after = 0;
    uint32_t cursor = 0;
    unsigned slices = 0;
    while (!fp_flow_table_scan(t, &cursor, 7, scan_visit, NULL))
        slices++;
    CU_ASSERT_EQUAL(scan_seen, 100);
    CU_ASSERT_EQUAL(scan_pk, 150);
    CU_ASSERT(slices >= 100 / 7);
    scan_seen = 0;
    scan_stop_after = 5;
    cursor = 0;
    CU_ASSERT_EQUAL(fp_flow_table_scan(t, &cursor, 1000, scan_visit, NULL), 1);
    CU_ASSERT_EQUAL(scan_seen, 5);
    fp_flow_table_destroy(t);
}

/* Reload: shorter timeouts take effect at the next advance for flows already scheduled far
 * away; longer ones keep flows alive; nothing is lost. */
static void test_set_timeouts(void)
{
    struct fp_flow_table *t = mk(64, 600000, 900000, 2000);
    for (uint32_t i = 0; i < 10; i++) {
        struct fp_pkt_meta u = pkt4(0x0a000001, 0x0e000000 + i, 1, 2, 17, 0, 10);
        feed(t, &u, T0 + i * MS);
    }
    fp_flow_table_advance(t, T0 + 5 * SEC);
    CU_ASSERT_EQUAL(n_recs, 0);
    fp_flow_table_set_timeouts(t, 2000, 900000, 2000);
    fp_flow_table_advance(t, T0 + 5 * SEC + 300 * MS);
    CU_ASSERT_EQUAL(n_recs, 10);
    for (unsigned i = 0; i < n_recs; i++)
        CU_ASSERT_EQUAL(recs[i].end_reason, FP_END_IDLE);
    /* Longer idle again: a new flow survives past the old 2 s. */
    fp_flow_table_set_timeouts(t, 60000, 900000, 2000);
    struct fp_pkt_meta u = pkt4(0x0a000001, 0x0f000000, 1, 2, 17, 0, 10);
    feed(t, &u, T0 + 6 * SEC);
    fp_flow_table_advance(t, T0 + 20 * SEC);
    CU_ASSERT_EQUAL(n_recs, 10);
    fp_flow_table_flush(t, FP_END_FORCED);
    CU_ASSERT_EQUAL(n_recs, 11);
    fp_flow_table_destroy(t);
}

static void test_create_bad_params(void)
{
    struct fp_flow_table_params p = {.capacity = 4, .idle_timeout_ms = 1, .active_timeout_ms = 1,
                                     .sink = {.emit = collect}};
    CU_ASSERT_PTR_NULL(fp_flow_table_create(&p));
    p.capacity = 1024;
    p.sink.emit = NULL;
    CU_ASSERT_PTR_NULL(fp_flow_table_create(&p));
    fp_flow_table_destroy(NULL);
}

static const CU_TestInfo tests[] = {
    {"key canonicalisation", test_key_canonical},
    {"bidirectional record", test_bidirectional_record},
    {"SYN/ACK first: initiator is the destination", test_synack_first_orientation},
    {"idle timeout", test_idle_timeout},
    {"idle refreshed by packets", test_idle_refreshed_by_packets},
    {"active timeout splits, totals exact", test_active_timeout},
    {"TCP FIN/RST end", test_tcp_end},
    {"cache full evicts with lackOfResources", test_cache_full},
    {"fragments matched and fallback", test_fragments},
    {"wheel: long gap, backwards time", test_wheel_long_gap_and_backwards},
    {"conservation under random traffic", test_conservation_random},
    {"extension hooks: state, records, release", test_extension_hooks},
    {"scan in bounded slices", test_scan},
    {"reload: timeouts changed on a live table", test_set_timeouts},
    {"create rejects bad params", test_create_bad_params},
    CU_TEST_INFO_NULL,
};

void fp_test_register_flow(void);
void fp_test_register_flow(void)
{
    FP_TEST_ADD_SUITE("flow", tests);
}
