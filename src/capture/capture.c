/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Capture: EAL, ports, worker lcores and the distributor (see capture.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "capture/capture.h"
#include "classify/classify_engine.h"
#include "common/fp_log.h"
#include "common/fp_rcu.h"
#include "common/fp_time.h"
#include "export/export.h"
#include "qoe/qoe.h"

#define MAX_BURST 256
#define MAX_QUEUES 64
#define PREFETCH_AHEAD 4
#define FILE_VDEV_NAME "net_pcap_fp0"
#define LOGM "capture"

/* Symmetric Toeplitz key: the 0x6d5a pattern gives the same hash for (a,b) and (b,a). */
static uint8_t sym_rss_key[FP_CAPTURE_RSS_KEY_LEN] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/** Per-packet data the distributor leaves in the mbuf private area for the worker. */
struct pkt_priv {
    struct fp_pkt_meta meta;
    uint64_t ts_ns;
};

struct rxq {
    uint16_t port;
    uint16_t queue;
    bool eof;
};

struct fp_capture;

/*
 * What a reload replaces under running workers: immutable once published through
 * fp_capture.live (fp_rcu: each worker switches at a quiescent point of its loop and
 * acknowledges; the replaced object is freed once every worker has).
 */
struct live_tables {
    struct fp_qoe_params qoe;
    struct fp_classify_classes *classes; /* NULL when classification is off */
    struct fp_classify_rules *rules;
    struct fp_classify_app_ids *ids;     /* NULL: the engines' own (the tables of start-up) */
};

/** A flow query posted to one worker, answered in bounded slices from its poll loop. */
struct flow_query {
    bool (*match)(void *arg, const struct fp_flow_record *r);
    void *arg;
    struct fp_flow_record *out;
    unsigned max;
    unsigned n;
    uint32_t cursor;
    atomic_int state; /* 1 posted, 2 done */
};

#define QUERY_SLICE 1024 /* flows examined per poll: bounds the time a query steals */

/*
 * Worker pipeline: a burst is prepared (hashes, bucket prefetch) when read, its entries are
 * prefetched while the next burst is read, and it is committed to the cache one burst later,
 * so the flow cache's memory latency overlaps packet I/O instead of adding to it.
 */
#define PIPE_DEPTH 3
struct pipe_slot {
    unsigned n_mbufs;
    uint64_t max_ts;
    struct rte_mbuf *mbufs[MAX_BURST];
    struct fp_pkt_meta meta[MAX_BURST];
    struct fp_flow_batch batch;
};

struct fp_worker {
    struct fp_worker_stats stats; /* first: cache aligned, written by this worker only */
    unsigned id;
    unsigned lcore;
    struct fp_capture *cap;
    struct fp_flow_table *ft;
    struct rte_ring *export_ring;
    struct rte_ring *in_ring; /* from the distributor, or NULL when polling queues */
    struct rxq qs[MAX_QUEUES];
    unsigned n_qs;
    struct fp_decode_params dp;
    struct fp_classify_engine *ce; /* NULL when classify.enabled is false */
    atomic_bool done;
    bool flushing; /* final flush: a full export ring is waited for, not lost */
    struct flow_query *_Atomic query;
    uint64_t timeouts_gen; /* last reload generation applied */
    const struct live_tables *live; /* QoE parameters and classification tables in use */
    uint64_t live_gen;              /* generation of live (fp_rcu) */
    struct file_reader *fr; /* -r fast path (see worker_process_file), else NULL */
    struct pipe_slot *pipe; /* PIPE_DEPTH slots */
    unsigned pipe_head;     /* oldest slot */
    unsigned pipe_count;    /* slots in flight (<= PIPE_DEPTH - 1 between pushes) */
    uint64_t committed_ts;  /* newest packet time applied to the cache */
} FP_CACHE_ALIGNED;

struct distributor {
    struct fp_worker_stats stats;
    struct rxq qs[MAX_QUEUES];
    unsigned n_qs;
    unsigned lcore;
    atomic_bool done;
    bool flushing; /* final flush: a full export ring is waited for, not lost */
};

struct fp_capture {
    const struct fp_config *cfg;
    struct rte_mempool *pool;
    struct fp_worker *workers;
    unsigned n_workers;
    struct distributor *dist; /* NULL when every worker polls its own queues */
    uint16_t port_ids[FP_MAX_PORTS];
    unsigned n_ports;
    bool offline;             /* capture file: packet clock, end of file, no loss */
    uint64_t file_size;
    enum fp_linktype link;
    int ts_offset;            /* mbuf dynfield offset of the RX timestamp, -1 if none */
    uint64_t ts_flag;
    uint64_t tsc_hz;
    uint64_t tsc_base;
    uint64_t realtime_base_ns;
    atomic_bool stop;
    unsigned burst;
    /* -r pacing (one reading thread per capture file): capture time → wall time. */
    uint64_t pace_first_ts_ns;
    uint64_t pace_start_ns;
    uint64_t pace_last_ts_ns;
    struct fp_rcu *live;      /* struct live_tables shared read-only by the workers */
    pthread_mutex_t query_lock;
    /* Reload: new timeouts published by generation; each worker applies them itself. */
    _Atomic uint64_t timeouts_gen;
    _Atomic uint32_t new_idle_ms, new_active_ms, new_end_ms;
};

/** Per-flow extension state kept by the flow cache for the worker (cold array). */
struct flow_ext {
    struct fp_qoe_flow qoe;
    struct fp_classify_flow cls;
};

/* ---- EAL ------------------------------------------------------------------------------ */

#define MEMPOOL_CACHE 256

/* mbufs that can be in flight: RX rings, distributor rings, per-lcore caches and bursts. */
static unsigned mbufs_needed(const struct fp_config *cfg, unsigned queues, bool dist)
{
    unsigned lcores = cfg->workers + 2;
    uint64_t n = (uint64_t)queues * cfg->rx_desc + (dist ? (uint64_t)cfg->workers * cfg->dist_ring_size : 0) +
                 (uint64_t)lcores * (MEMPOOL_CACHE + PIPE_DEPTH * MAX_BURST) + 1024;
    return (unsigned)FP_MIN(n, 16777216ull);
}

static bool has_arg(const char *args, const char *a)
{
    const char *p = args;
    size_t n = strlen(a);
    while ((p = strstr(p, a)) != NULL) {
        bool start = p == args || p[-1] == ' ';
        bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '=';
        if (start && end)
            return true;
        p += n;
    }
    return false;
}

static bool is_vdev(const char *dev)
{
    return strncmp(dev, "net_", 4) == 0 || strncmp(dev, "eth_", 4) == 0;
}

int fp_capture_eal_init(const struct fp_config *cfg, const char *prog)
{
    static char buf[8192];
    char *argv[128];
    int argc = 0;
    size_t used = 0;
#define PUSH(...)                                                                           \
    do {                                                                                   \
        int n_ = snprintf(buf + used, sizeof(buf) - used, __VA_ARGS__);                     \
        if (n_ < 0 || (size_t)n_ >= sizeof(buf) - used || argc >= 126)                     \
            return -E2BIG;                                                                 \
        argv[argc++] = buf + used;                                                         \
        used += (size_t)n_ + 1;                                                            \
    } while (0)

    PUSH("%s", prog);
    char tmp[sizeof(cfg->eal_args)];
    snprintf(tmp, sizeof(tmp), "%s", cfg->eal_args);
    bool no_huge = has_arg(cfg->eal_args, "--no-huge");
    for (char *save = NULL, *tok = strtok_r(tmp, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        /* DPDK 22.11 refuses --in-memory with --no-huge (which implies legacy memory);
         * without hugepages --no-shconf gives the same: no shared files, many instances. */
        if (no_huge && strcmp(tok, "--in-memory") == 0)
            PUSH("--no-shconf");
        else
            PUSH("%s", tok);
    }
    if (!has_arg(cfg->eal_args, "--file-prefix"))
        PUSH("--file-prefix=flowpulse-%ld", (long)getpid());

    if (cfg->capture_file[0]) {
        PUSH("--vdev=%s,rx_pcap=%s", FILE_VDEV_NAME, cfg->capture_file);
    } else {
        for (unsigned i = 0; i < cfg->n_ports; i++) {
            if (is_vdev(cfg->ports[i].device))
                PUSH("--vdev=%s", cfg->ports[i].device);
            else
                PUSH("-a%s", cfg->ports[i].device);
        }
    }
    if (!has_arg(cfg->eal_args, "-l") && !has_arg(cfg->eal_args, "--lcores") &&
        !has_arg(cfg->eal_args, "-c")) {
        /* Main lcore + workers (+ a distributor) floating over every CPU we may use. */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned need = cfg->workers + 2;
        PUSH("--lcores=(0-%u)@(0-%ld)", need - 1, ncpu > 0 ? ncpu - 1 : 0);
    }
    if (has_arg(cfg->eal_args, "--no-huge") && !has_arg(cfg->eal_args, "-m") &&
        !has_arg(cfg->eal_args, "--socket-mem")) {
        unsigned nm = cfg->mbufs ? cfg->mbufs : mbufs_needed(cfg, cfg->workers * FP_MAX(cfg->n_ports, 1u), true);
        uint64_t mb = ((uint64_t)nm * (cfg->mbuf_size + 512)) >> 20;
        mb += (uint64_t)cfg->workers * cfg->dist_ring_size * 8 / (1 << 20) + 128;
        PUSH("-m%" PRIu64, mb);
    }
    if (!has_arg(cfg->eal_args, "--telemetry"))
        PUSH("--no-telemetry");
    if (!has_arg(cfg->eal_args, "--log-level"))
        PUSH("--log-level=lib.eal:error");
    argv[argc] = NULL;

    int ret = rte_eal_init(argc, argv);
    if (ret < 0) {
        fp_log(FP_LOG_ERR, LOGM, "EAL initialisation failed: %s (arguments: %s)",
               rte_strerror(rte_errno), cfg->eal_args);
        return -EINVAL;
    }
    return 0;
#undef PUSH
}

void fp_capture_eal_fini(void)
{
    rte_eal_cleanup();
}

/* ---- time ------------------------------------------------------------------------------- */

static inline uint64_t live_now_ns(const struct fp_capture *c)
{
    uint64_t d = rte_get_tsc_cycles() - c->tsc_base;
    return c->realtime_base_ns + (uint64_t)((__uint128_t)d * FP_NS_PER_S / c->tsc_hz);
}

/* ---- worker ----------------------------------------------------------------------------- */

/* capture.pace: hold the reading thread until the wall clock catches up with the capture
 * clock scaled by the pace. Replay/test feature; at pace 0 it is never called. */
static void worker_query_slice(struct fp_worker *w, struct flow_query *q, bool finish);
static void pipe_drain(struct fp_worker *w);
static void worker_apply_reload(struct fp_worker *w);

/* w: the worker that waits (it keeps answering flow queries), NULL for the distributor. */
static void pace_wait(struct fp_capture *c, struct fp_worker *w, uint64_t ts_ns)
{
    uint64_t now = fp_time_monotonic_ns();
    if (!c->pace_start_ns) {
        c->pace_start_ns = now;
        c->pace_first_ts_ns = c->pace_last_ts_ns = ts_ns;
        return;
    }
    /* Silences longer than capture.pace_max_gap are cut to it (merged captures span years). */
    uint64_t gap = (uint64_t)c->cfg->pace_max_gap_ms * FP_NS_PER_MS;
    if (ts_ns > c->pace_last_ts_ns + gap)
        c->pace_first_ts_ns += ts_ns - c->pace_last_ts_ns - gap;
    if (ts_ns > c->pace_last_ts_ns)
        c->pace_last_ts_ns = ts_ns;
    if (ts_ns <= c->pace_first_ts_ns)
        return;
    uint64_t due = c->pace_start_ns +
                   (uint64_t)((__uint128_t)(ts_ns - c->pace_first_ts_ns) * 1000 / c->cfg->pace_milli);
    /* Before a wait, everything read so far reaches the cache and the clock moves on, so
     * flows expire during a paced silence as they would live. */
    if (w && now < due) {
        pipe_drain(w);
        if (w->committed_ts > 0)
            fp_flow_table_advance(w->ft, w->committed_ts);
    }
    while (now < due && !atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        if (w) {
            struct flow_query *q = atomic_load_explicit(&w->query, memory_order_acquire);
            if (q)
                worker_query_slice(w, q, false);
            worker_apply_reload(w);
        }
        uint64_t d = FP_MIN(due - now, 10 * FP_NS_PER_MS);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)d};
        nanosleep(&ts, NULL);
        now = fp_time_monotonic_ns();
    }
}

/* QoE class of an application class (DNS flows use the DNS engine whatever their app). */
static enum fp_qoe_class qoe_class_of(const struct fp_classify_flow *f, bool dns)
{
    if (dns)
        return FP_QOE_CLASS_DNS;
    switch ((enum fp_app_class)f->app.cls) {
    case FP_APP_CLASS_VIDEO:
        return FP_QOE_CLASS_VIDEO;
    case FP_APP_CLASS_CONFERENCING:
        return FP_QOE_CLASS_CONF;
    case FP_APP_CLASS_GAMING:
        return FP_QOE_CLASS_GAMING;
    case FP_APP_CLASS_SOFTWARE_UPDATE:
    case FP_APP_CLASS_FILE_STORAGE:
        return FP_QOE_CLASS_BULK;
    case FP_APP_CLASS_WEB:
    case FP_APP_CLASS_SOCIAL_MEDIA:
    case FP_APP_CLASS_MESSAGING:
    case FP_APP_CLASS_MUSIC:
    case FP_APP_CLASS_EMAIL:
        return FP_QOE_CLASS_WEB;
    case FP_APP_CLASS_INFRASTRUCTURE:
        return strcmp(f->app.name, "DNS") == 0 ? FP_QOE_CLASS_DNS : FP_QOE_CLASS_UNKNOWN;
    default:
        return FP_QOE_CLASS_UNKNOWN;
    }
}

static void ext_packet(void *arg, void *state, unsigned dir, bool created,
                       const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t ts_ns)
{
    struct fp_worker *w = arg;
    struct flow_ext *x = state;
    bool qoe = w->cap->cfg->qoe_enabled;
    (void)created;
    /* Decided flows return at once: one flag test per packet. */
    if (w->ce && fp_classify_flow_packet(w->ce, &x->cls, dir, m, frame, ts_ns) && qoe)
        fp_qoe_flow_set_class(&x->qoe, qoe_class_of(&x->cls, m->sport == 53 || m->dport == 53));
    if (qoe)
        fp_qoe_flow_update(&x->qoe, &w->live->qoe, dir, m, frame, ts_ns);
}

static void ext_release(void *arg, void *state)
{
    struct fp_worker *w = arg;
    struct flow_ext *x = state;
    if (w->ce)
        fp_classify_flow_release(w->ce, &x->cls);
}

/* Complete a record with the flow's QoE results and SPLT (values are cumulative since the
 * flow started, also in active-timeout records). */
static void fill_ext(struct fp_worker *w, struct fp_flow_record *rec, const struct flow_ext *x)
{
    memset(&rec->app, 0, sizeof(*rec) - offsetof(struct fp_flow_record, app));
    rec->app = x->cls.app;
    if (!w->cap->cfg->qoe_enabled)
        return;
    uint64_t pk[2] = {rec->dir[0].packets, rec->dir[1].packets};
    uint64_t t_end = FP_MAX(rec->dir[0].last_ns, rec->dir[1].last_ns);
    fp_qoe_flow_result(&x->qoe, &w->live->qoe, pk, t_end, &rec->qoe);
    unsigned n = FP_MIN((unsigned)x->qoe.splt.n, (unsigned)FP_FLOW_SPLT_MAX);
    rec->splt.n = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        unsigned d;
        uint32_t len, iat;
        fp_qoe_splt_get(&x->qoe.splt, i, &d, &len, &iat);
        rec->splt.dirs |= (uint32_t)(d & 1) << i;
        rec->splt.len[i] = (uint16_t)FP_MIN(len, 65535u);
        rec->splt.iat_us[i] = iat;
    }
}

/*
 * Capture file or final flush: the ring is full and no packet can be lost by waiting. Spin
 * briefly, then sleep until a quarter of the ring is free: the exporter is the slower side
 * (it encodes two uniflow records per ring record), so spinning until each single slot
 * frees would burn a core for nothing (~8 % of a 1M-flow file run went into it).
 */
static void ring_wait(struct rte_ring *r)
{
    for (unsigned spin = 0; spin < 256; spin++) {
        if (rte_ring_free_count(r) > 0)
            return;
        rte_pause();
    }
    unsigned want = FP_MAX(rte_ring_get_capacity(r) / 4, 1u);
    while (rte_ring_free_count(r) < want) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

static void record_to_ring(void *arg, struct fp_flow_record *rec, void *ext, bool final)
{
    struct fp_worker *w = arg;
    (void)final;
    if (ext) {
        /* A flow still being inspected is decided now (flow end, or its first record). */
        struct flow_ext *x = ext;
        if (w->ce && fp_classify_flow_finish(w->ce, &x->cls) && w->cap->cfg->qoe_enabled)
            fp_qoe_flow_set_class(&x->qoe, qoe_class_of(&x->cls, rec->sport == 53 ||
                                                                   rec->dport == 53));
        fill_ext(w, rec, ext);
    }
    if (likely(fp_export_ring_put(w->export_ring, rec)))
        return;
    if (w->cap->offline || w->flushing) {
        /* A capture file has no wire to lose packets on, and the final flush has no more
         * packets to serve: wait for the exporter. */
        w->stats.export_ring_waits++;
        while (!fp_export_ring_put(w->export_ring, rec))
            ring_wait(w->export_ring);
        return;
    }
    w->stats.export_ring_full++;
    w->stats.export_ring_full_packets += rec->dir[0].packets + rec->dir[1].packets;
    w->stats.export_ring_full_octets += rec->dir[0].bytes + rec->dir[1].bytes;
}

static inline uint64_t mbuf_ts(const struct fp_capture *c, struct rte_mbuf *m, uint64_t live_now)
{
    /* net_pcap stores tv_sec * 10^6 + tv_usec: microseconds. */
    if (c->offline && c->ts_offset >= 0 && (m->ol_flags & c->ts_flag))
        return *RTE_MBUF_DYNFIELD(m, c->ts_offset, rte_mbuf_timestamp_t *) * 1000;
    return live_now;
}

static inline void count_ignored(struct fp_worker_stats *st, enum fp_decode_result r,
                                 uint32_t len, uint64_t ts_ns)
{
    st->decode[r]++;
    st->ignored_octets += len;
    uint64_t ms = ts_ns / FP_NS_PER_MS;
    if (!st->first_ignored_ms)
        st->first_ignored_ms = ms;
    st->last_ignored_ms = ms;
}

static inline void count_notes(struct fp_worker_stats *st, uint16_t notes)
{
    if (likely(notes == 0))
        return;
    for (unsigned b = 0; b < FP_DECODE_NOTE_COUNT; b++)
        if (notes & (1u << b))
            st->notes[b]++;
}

static inline struct pipe_slot *pipe_free_slot(struct fp_worker *w)
{
    return &w->pipe[(w->pipe_head + w->pipe_count) % PIPE_DEPTH];
}

static void pipe_commit_oldest(struct fp_worker *w)
{
    struct pipe_slot *sl = &w->pipe[w->pipe_head];
    fp_flow_batch_commit(w->ft, &sl->batch);
    if (sl->max_ts > w->committed_ts)
        w->committed_ts = sl->max_ts;
    rte_pktmbuf_free_bulk(sl->mbufs, sl->n_mbufs);
    sl->n_mbufs = 0;
    w->pipe_head = (w->pipe_head + 1) % PIPE_DEPTH;
    w->pipe_count--;
}

/* The free slot was filled (mbufs, batch): start it, advance the others one stage. */
static void pipe_push(struct fp_worker *w)
{
    struct pipe_slot *sl = pipe_free_slot(w);
    fp_flow_batch_prepare(w->ft, &sl->batch);
    w->pipe_count++;
    if (w->pipe_count >= 2)
        fp_flow_batch_prefetch(w->ft, &w->pipe[(w->pipe_head + w->pipe_count - 2) % PIPE_DEPTH].batch);
    if (w->pipe_count == PIPE_DEPTH)
        pipe_commit_oldest(w);
}

/* Commit everything in flight (idle poll, end of file, stop). */
static void pipe_drain(struct fp_worker *w)
{
    while (w->pipe_count)
        pipe_commit_oldest(w);
}

/* Decode a burst read straight from a queue into the free pipeline slot and push it. */
static void worker_process_rx(struct fp_worker *w, struct pipe_slot *sl, unsigned n, uint16_t port)
{
    struct rte_mbuf **pkts = sl->mbufs;
    struct fp_flow_batch *b = &sl->batch;
    unsigned k = 0;
    uint64_t now = w->cap->offline ? 0 : live_now_ns(w->cap);
    uint64_t max_ts = 0;

    for (unsigned i = 0; i < n && i < PREFETCH_AHEAD; i++)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
    for (unsigned i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
        struct rte_mbuf *m = pkts[i];
        uint64_t t = mbuf_ts(w->cap, m, now);
        w->stats.rx_bytes += m->pkt_len;
        const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
        enum fp_decode_result r = fp_decode_packet(data, m->data_len, &w->dp, &sl->meta[k]);
        if (likely(r == FP_DECODE_OK)) {
            count_notes(&w->stats, sl->meta[k].notes);
            b->m[k] = &sl->meta[k];
            b->frames[k] = data;
            b->ts_ns[k++] = t;
        } else {
            count_ignored(&w->stats, r, m->pkt_len, t);
        }
        if (t > max_ts)
            max_ts = t;
    }
    if (max_ts > w->stats.last_ts_ns)
        w->stats.last_ts_ns = max_ts;
    w->stats.rx_packets += n;
    w->stats.decode[FP_DECODE_OK] += k;
    sl->n_mbufs = n;
    sl->max_ts = max_ts;
    b->n = k;
    b->port_id = port;
    pipe_push(w);
}

/* Push a burst handed over by the distributor (already decoded into the mbufs). */
static void worker_process_ring(struct fp_worker *w, struct pipe_slot *sl, unsigned n)
{
    struct fp_flow_batch *b = &sl->batch;
    uint64_t max_ts = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct pkt_priv *pp = rte_mbuf_to_priv(sl->mbufs[i]);
        b->m[i] = &pp->meta;
        b->frames[i] = rte_pktmbuf_mtod(sl->mbufs[i], const uint8_t *);
        b->ts_ns[i] = pp->ts_ns;
        if (pp->ts_ns > max_ts)
            max_ts = pp->ts_ns;
    }
    if (max_ts > w->stats.last_ts_ns)
        w->stats.last_ts_ns = max_ts;
    /* All packets of one burst come from one port in this mode. */
    sl->n_mbufs = n;
    sl->max_ts = max_ts;
    b->n = n;
    b->port_id = n ? sl->mbufs[0]->port : 0;
    pipe_push(w);
}

/* ---- capture file fast path --------------------------------------------------------- */

/*
 * -r with one worker and a classic pcap file: the worker parses the records straight from a
 * large read buffer and decodes them in place (no mbuf, no per-packet fread or copy). The
 * pipeline's batches point into the buffer, so it is drained before the buffer is refilled.
 * Anything else (pcapng, several workers) reads through net_pcap. What reaches the flow
 * cache is what net_pcap delivers: capture length, timestamps in microseconds (nanosecond
 * files included), end at the first bad or truncated record.
 */
#define FILE_BUF_SIZE (4u << 20)
#define FILE_MAX_SNAPLEN 262144u /* libpcap's MAXIMUM_SNAPLEN */
#define FILE_POOL_MBUFS 1024u     /* the port's pool when the worker reads the file itself */

struct file_reader {
    int fd;
    bool swapped; /* written with the other byte order */
    bool nsec;    /* nanosecond timestamps */
    bool eof;     /* no more bytes to read */
    bool done;    /* no more records */
    bool ended;   /* a poll found no record: the worker stops at the next */
    size_t pos, end;
    uint8_t *buf; /* FILE_BUF_SIZE */
};

static uint32_t file_u32(const struct file_reader *fr, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return fr->swapped ? __builtin_bswap32(v) : v;
}

/* NULL (and no error) when the file is not a classic pcap: net_pcap reads it. */
static struct file_reader *file_reader_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    uint8_t h[24];
    if (read(fd, h, sizeof(h)) != (ssize_t)sizeof(h)) {
        close(fd);
        return NULL;
    }
    uint32_t magic;
    memcpy(&magic, h, 4);
    struct file_reader tmp = {.fd = fd};
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
        tmp.nsec = magic == 0xa1b23c4du;
    } else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
        tmp.swapped = true;
        tmp.nsec = magic == 0x4d3cb2a1u;
    } else {
        close(fd);
        return NULL;
    }
    uint16_t major;
    memcpy(&major, h + 4, 2);
    if (tmp.swapped)
        major = __builtin_bswap16(major);
    if (major != 2) {
        close(fd);
        return NULL;
    }
    struct file_reader *fr = calloc(1, sizeof(*fr));
    void *buf = mmap(NULL, FILE_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (!fr || buf == MAP_FAILED) {
        free(fr);
        if (buf != MAP_FAILED)
            munmap(buf, FILE_BUF_SIZE);
        close(fd);
        return NULL;
    }
    (void)madvise(buf, FILE_BUF_SIZE, MADV_HUGEPAGE);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *fr = tmp;
    fr->buf = buf;
    return fr;
}

static void file_reader_close(struct file_reader *fr)
{
    if (!fr)
        return;
    munmap(fr->buf, FILE_BUF_SIZE);
    close(fr->fd);
    free(fr);
}

/* Move the unread tail to the front and read until the buffer is full or the file ends. */
static void file_refill(struct file_reader *fr)
{
    size_t left = fr->end - fr->pos;
    memmove(fr->buf, fr->buf + fr->pos, left);
    fr->pos = 0;
    fr->end = left;
    while (!fr->eof && fr->end < FILE_BUF_SIZE) {
        ssize_t r = read(fr->fd, fr->buf + fr->end, FILE_BUF_SIZE - fr->end);
        if (r > 0)
            fr->end += (size_t)r;
        else if (r == 0 || errno != EINTR)
            fr->eof = true;
    }
}

/*
 * Read and decode up to @p burst records into the free pipeline slot and push it. Returns
 * the records read; 0 only when the file has no more (end, or a bad/truncated record).
 */
static unsigned worker_process_file(struct fp_worker *w, unsigned burst)
{
    struct file_reader *fr = w->fr;
    struct pipe_slot *sl = pipe_free_slot(w);
    struct fp_flow_batch *b = &sl->batch;
    unsigned n = 0, k = 0;
    uint64_t max_ts = 0;

    while (n < burst && !fr->done) {
        size_t avail = fr->end - fr->pos;
        uint32_t caplen = 0;
        if (avail >= 16) {
            caplen = file_u32(fr, fr->buf + fr->pos + 8);
            if (caplen > FILE_MAX_SNAPLEN) {
                fr->done = true; /* libpcap: invalid capture length, the file ends here */
                break;
            }
        }
        if (avail < 16 || avail - 16 < caplen) {
            if (fr->eof) {
                fr->done = true; /* nothing more, or a truncated last record */
                break;
            }
            if (n > 0)
                break; /* this burst points into the buffer: push it first */
            pipe_drain(w);
            file_refill(fr);
            continue;
        }
        const uint8_t *rec = fr->buf + fr->pos;
        fr->pos += 16 + (size_t)caplen;
        uint32_t sec = file_u32(fr, rec), frac = file_u32(fr, rec + 4);
        uint64_t t = ((uint64_t)sec * 1000000u + (fr->nsec ? frac / 1000u : frac)) * 1000u;
        uint32_t len = caplen;
        if (n == 0 && w->cap->cfg->pace_milli)
            pace_wait(w->cap, w, t);
        w->stats.rx_bytes += len;
        const uint8_t *data = rec + 16;
        enum fp_decode_result r = fp_decode_packet(data, len, &w->dp, &sl->meta[k]);
        if (likely(r == FP_DECODE_OK)) {
            count_notes(&w->stats, sl->meta[k].notes);
            b->m[k] = &sl->meta[k];
            b->frames[k] = data;
            b->ts_ns[k++] = t;
        } else {
            count_ignored(&w->stats, r, len, t);
        }
        if (t > max_ts)
            max_ts = t;
        n++;
    }
    if (n == 0)
        return 0;
    if (max_ts > w->stats.last_ts_ns)
        w->stats.last_ts_ns = max_ts;
    w->stats.rx_packets += n;
    w->stats.decode[FP_DECODE_OK] += k;
    sl->n_mbufs = 0;
    sl->max_ts = max_ts;
    b->n = k;
    b->port_id = w->cap->port_ids[0];
    pipe_push(w);
    return n;
}

struct query_ctx {
    struct fp_worker *w;
    struct flow_query *q;
};

static bool query_visit(void *arg, struct fp_flow_record *rec, void *ext)
{
    struct query_ctx *qc = arg;
    if (ext)
        fill_ext(qc->w, rec, ext);
    if (qc->q->match(qc->q->arg, rec))
        qc->q->out[qc->q->n++] = *rec;
    return qc->q->n < qc->q->max;
}

static void worker_query_slice(struct fp_worker *w, struct flow_query *q, bool finish)
{
    struct query_ctx qc = {.w = w, .q = q};
    int done = q->n >= q->max;
    if (!done && !finish)
        done = fp_flow_table_scan(w->ft, &q->cursor, QUERY_SLICE, query_visit, &qc);
    if (done || finish) {
        atomic_store_explicit(&w->query, NULL, memory_order_relaxed);
        atomic_store_explicit(&q->state, 2, memory_order_release);
    }
}

/* Quiescent point (no packet, record or query in progress): take what a reload published. */
static void worker_apply_reload(struct fp_worker *w)
{
    struct fp_capture *c = w->cap;
    uint64_t gen = atomic_load_explicit(&c->timeouts_gen, memory_order_acquire);
    if (unlikely(gen != w->timeouts_gen)) {
        fp_flow_table_set_timeouts(w->ft, atomic_load(&c->new_idle_ms),
                                   atomic_load(&c->new_active_ms), atomic_load(&c->new_end_ms));
        w->timeouts_gen = gen;
    }
    void *cur = (void *)(uintptr_t)w->live;
    if (unlikely(fp_rcu_reader_poll(c->live, w->id, &cur, &w->live_gen))) {
        w->live = cur;
        if (w->ce && w->live->ids)
            fp_classify_engine_set_tables(w->ce, w->live->classes, w->live->rules, w->live->ids);
    }
}

static int worker_main(void *arg)
{
    struct fp_worker *w = arg;
    struct fp_capture *c = w->cap;
    unsigned burst = c->burst;

    for (;;) {
        if (atomic_load_explicit(&c->stop, memory_order_relaxed))
            break;
        unsigned got = 0;
        if (w->in_ring) {
            struct pipe_slot *sl = pipe_free_slot(w);
            got = rte_ring_sc_dequeue_burst(w->in_ring, (void **)sl->mbufs, burst, NULL);
            if (got)
                worker_process_ring(w, sl, got);
            else if (atomic_load_explicit(&c->dist->done, memory_order_acquire) &&
                     rte_ring_empty(w->in_ring))
                break;
        } else if (w->fr) {
            /* As with net_pcap: the poll that finds the end drains and advances, the next
             * one stops. */
            if (w->fr->ended)
                break;
            got = worker_process_file(w, burst);
            w->fr->ended = got == 0;
        } else {
            unsigned live_q = 0;
            for (unsigned q = 0; q < w->n_qs; q++) {
                if (w->qs[q].eof)
                    continue;
                live_q++;
                struct pipe_slot *sl = pipe_free_slot(w);
                uint16_t n = rte_eth_rx_burst(w->qs[q].port, w->qs[q].queue, sl->mbufs,
                                              (uint16_t)burst);
                if (n) {
                    if (c->offline && c->cfg->pace_milli)
                        pace_wait(c, w, mbuf_ts(c, sl->mbufs[0], 0));
                    worker_process_rx(w, sl, n, w->qs[q].port);
                    got += n;
                } else if (c->offline) {
                    w->qs[q].eof = true; /* net_pcap returns 0 only at the end of the file */
                }
            }
            if (live_q == 0)
                break;
        }
        if (!got)
            pipe_drain(w);
        /* Expiry runs on idle polls too, so flows end when traffic stops. In capture-file
         * mode the clock is the newest packet already applied to the cache. */
        uint64_t now = c->offline ? w->committed_ts : live_now_ns(c);
        fp_flow_table_advance(w->ft, now);
        struct flow_query *q = atomic_load_explicit(&w->query, memory_order_acquire);
        if (unlikely(q != NULL))
            worker_query_slice(w, q, false);
        worker_apply_reload(w);
        if (!got && !c->offline)
            rte_pause();
    }
    pipe_drain(w);
    w->flushing = true;
    fp_flow_table_flush(w->ft, FP_END_FORCED);
    fp_rcu_reader_offline(c->live, w->id); /* records are built: no table is read again */
    atomic_store_explicit(&w->done, true, memory_order_release);
    struct flow_query *q = atomic_load_explicit(&w->query, memory_order_acquire);
    if (q)
        worker_query_slice(w, q, true);
    return 0;
}

/* ---- distributor ------------------------------------------------------------------------ */

static int dist_main(void *arg)
{
    struct fp_capture *c = arg;
    struct distributor *d = c->dist;
    struct rte_mbuf *pkts[MAX_BURST];
    struct rte_mbuf *out[FP_MAX_WORKERS][MAX_BURST];
    unsigned n_out[FP_MAX_WORKERS];
    struct fp_decode_params dp;
    fp_decode_params_default(&dp);
    dp.link = c->link;
    dp.decap = c->cfg->decap_tunnels;
    dp.vxlan_port = c->cfg->vxlan_port;
    dp.gtpu_port = c->cfg->gtpu_port;

    for (;;) {
        if (atomic_load_explicit(&c->stop, memory_order_relaxed))
            break;
        unsigned live_q = 0, got = 0;
        for (unsigned q = 0; q < d->n_qs; q++) {
            if (d->qs[q].eof)
                continue;
            live_q++;
            uint16_t n = rte_eth_rx_burst(d->qs[q].port, d->qs[q].queue, pkts, (uint16_t)c->burst);
            if (!n) {
                if (c->offline)
                    d->qs[q].eof = true;
                continue;
            }
            got += n;
            if (c->offline && c->cfg->pace_milli)
                pace_wait(c, NULL, mbuf_ts(c, pkts[0], 0));
            memset(n_out, 0, sizeof(unsigned) * c->n_workers);
            uint64_t now = c->offline ? 0 : live_now_ns(c);
            for (unsigned i = 0; i < n; i++) {
                struct rte_mbuf *m = pkts[i];
                struct pkt_priv *pp = rte_mbuf_to_priv(m);
                pp->ts_ns = mbuf_ts(c, m, now);
                d->stats.rx_bytes += m->pkt_len;
                enum fp_decode_result r = fp_decode_packet(rte_pktmbuf_mtod(m, const uint8_t *),
                                                           m->data_len, &dp, &pp->meta);
                if (unlikely(r != FP_DECODE_OK)) {
                    count_ignored(&d->stats, r, m->pkt_len, pp->ts_ns);
                    rte_pktmbuf_free(m);
                    continue;
                }
                d->stats.decode[FP_DECODE_OK]++;
                count_notes(&d->stats, pp->meta.notes);
                /* Spread by a symmetric hash of the addresses only, so every fragment of a
                 * datagram and both directions reach the same worker. */
                struct fp_pkt_meta am = pp->meta;
                am.sport = am.dport = 0;
                struct fp_flow_key k;
                fp_flow_key_from_meta(&am, &k);
                unsigned wi = fp_flow_key_hash(&k) % c->n_workers;
                out[wi][n_out[wi]++] = m;
            }
            d->stats.rx_packets += n;
            for (unsigned wi = 0; wi < c->n_workers; wi++) {
                unsigned sent = 0;
                struct rte_ring *r = c->workers[wi].in_ring;
                while (sent < n_out[wi]) {
                    sent += rte_ring_sp_enqueue_burst(r, (void **)&out[wi][sent],
                                                      n_out[wi] - sent, NULL);
                    if (sent < n_out[wi] && !c->offline) {
                        d->stats.dist_ring_full += n_out[wi] - sent;
                        rte_pktmbuf_free_bulk(&out[wi][sent], n_out[wi] - sent);
                        break;
                    }
                    if (sent < n_out[wi]) {
                        if (atomic_load_explicit(&c->stop, memory_order_relaxed)) {
                            rte_pktmbuf_free_bulk(&out[wi][sent], n_out[wi] - sent);
                            d->stats.dist_ring_full += n_out[wi] - sent;
                            break;
                        }
                        rte_pause();
                    }
                }
            }
        }
        if (live_q == 0)
            break;
        if (!got && !c->offline)
            rte_pause();
    }
    atomic_store_explicit(&d->done, true, memory_order_release);
    return 0;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int port_setup(struct fp_capture *c, uint16_t port, uint16_t nq)
{
    struct rte_eth_dev_info info;
    int ret = rte_eth_dev_info_get(port, &info);
    if (ret < 0)
        return ret;
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    if (nq > 1) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = sym_rss_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(sym_rss_key);
        /* L3-only hashing keeps IP fragments with their flow. */
        conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
    }
    /* net_pcap stamps every mbuf with the capture time without advertising the offload;
     * other drivers are asked for it when they can. */
    if (c->offline && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP))
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    uint16_t ntx = info.max_tx_queues > 0 ? 1 : 0;
    ret = rte_eth_dev_configure(port, nq, ntx, &conf);
    if (ret < 0)
        return ret;
    uint16_t nrx = (uint16_t)c->cfg->rx_desc, ntxd = 512;
    (void)rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntxd);
    for (uint16_t q = 0; q < nq; q++) {
        ret = rte_eth_rx_queue_setup(port, q, nrx, (unsigned)rte_eth_dev_socket_id(port), NULL,
                                     c->pool);
        if (ret < 0)
            return ret;
    }
    if (ntx) {
        ret = rte_eth_tx_queue_setup(port, 0, ntxd, (unsigned)rte_eth_dev_socket_id(port), NULL);
        if (ret < 0)
            return ret;
    }
    ret = rte_eth_dev_start(port);
    if (ret < 0)
        return ret;
    (void)rte_eth_promiscuous_enable(port);
    return 0;
}

static int open_capture_file(struct fp_capture *c, const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p) {
        fp_log(FP_LOG_ERR, LOGM, "%s: %s", path, err);
        return -ENOENT;
    }
    int dlt = pcap_datalink(p);
    pcap_close(p);
    if (fp_decode_linktype_from_dlt(dlt, &c->link) != 0) {
        fp_log(FP_LOG_ERR, LOGM, "%s: link type %s (%d) is not supported", path,
               pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?", dlt);
        return -ENOTSUP;
    }
    struct stat st;
    if (stat(path, &st) == 0)
        c->file_size = (uint64_t)st.st_size;
    return 0;
}

void fp_capture_qoe_params(const struct fp_config *cfg, struct fp_qoe_params *p)
{
    FP_STATIC_ASSERT(FP_CONFIG_QOE_METRICS == FP_QOE_METRIC_MAX, "qoe.thresholds metrics");
    fp_qoe_params_default(p);
    p->splt_n = (uint8_t)FP_MIN(cfg->splt_packets, (unsigned)FP_QOE_SPLT_CAP);
    p->video_burst_gap_us = cfg->qoe_video_burst_gap_ms * 1000u;
    p->video_stall_bps = cfg->qoe_video_stall_bps;
    p->game_spike_us = cfg->qoe_game_spike_ms * 1000u;
    p->game_gap_us = cfg->qoe_game_gap_ms * 1000u;
    p->rtp_latency_us = cfg->qoe_rtp_latency_ms * 1000u;
    for (unsigned i = 0; i < cfg->n_qoe_thresholds && i < FP_MAX_QOE_THRESHOLDS; i++) {
        const struct fp_qoe_threshold_config *t = &cfg->qoe_thresholds[i];
        if (t->cls >= FP_QOE_CLASS_MAX || t->metric >= FP_QOE_METRIC_MAX)
            continue; /* not produced by a validated configuration */
        struct fp_qoe_threshold *d = &p->thr[t->cls][t->metric];
        d->good = fp_config_qoe_value(t->metric, t->good);
        d->bad = fp_config_qoe_value(t->metric, t->bad);
        d->weight = t->weight;
    }
}

static void live_free(void *obj)
{
    struct live_tables *lt = obj;
    if (!lt)
        return;
    fp_classify_app_ids_destroy(lt->ids);
    fp_classify_rules_destroy(lt->rules);
    fp_classify_classes_destroy(lt->classes);
    free(lt);
}

/* QoE parameters, and when classification is on the class table and operator rules, from a
 * configuration (main or control thread). @return the tables, or NULL with errno set and
 * err = "classify.classes: ..." / "classify.rules[i]: ..." */
static struct live_tables *live_build(const struct fp_config *cfg, char *err, size_t errlen)
{
    struct live_tables *lt = calloc(1, sizeof(*lt));
    if (!lt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fp_capture_qoe_params(cfg, &lt->qoe);
    if (!cfg->classify_enabled)
        return lt;
    char why[256] = "";
    lt->classes = fp_classify_classes_load(cfg->classify_classes, why, sizeof(why));
    if (!lt->classes) {
        int e = errno;
        snprintf(err, errlen, "classify.classes: %s", why[0] ? why : strerror(e));
        live_free(lt);
        errno = e;
        return NULL;
    }
    struct fp_classify_rule_spec specs[FP_MAX_CLASSIFY_RULES];
    for (unsigned i = 0; i < cfg->n_classify_rules; i++) {
        const struct fp_classify_rule_config *r = &cfg->classify_rules[i];
        specs[i] = (struct fp_classify_rule_spec){
            .name_suffix = r->name_suffix,
            .prefix = r->prefix,
            .port = r->port,
            .proto = r->proto,
            .app = r->app,
            .cls = r->cls,
        };
    }
    lt->rules = fp_classify_rules_create(specs, cfg->n_classify_rules, why, sizeof(why));
    if (!lt->rules) {
        int e = errno;
        snprintf(err, errlen, "classify.%s", why[0] ? why : strerror(e));
        live_free(lt);
        errno = e;
        return NULL;
    }
    return lt;
}

struct fp_capture *fp_capture_create(const struct fp_config *cfg,
                                     struct rte_ring *const *export_rings)
{
    struct fp_capture *c = calloc(1, sizeof(*c));
    int err = ENOMEM;
    struct file_reader *fr = NULL; /* -r fast path, until worker 0 owns it */
    if (!c)
        goto fail;
    c->cfg = cfg;
    c->burst = FP_MIN(cfg->burst, (unsigned)MAX_BURST);
    c->offline = cfg->capture_file[0] != '\0';
    c->link = FP_LINK_ETHER;
    c->ts_offset = -1;
    c->tsc_hz = rte_get_tsc_hz();
    c->tsc_base = rte_get_tsc_cycles();
    c->realtime_base_ns = fp_time_realtime_ns();
    atomic_init(&c->stop, false);
    pthread_mutex_init(&c->query_lock, NULL);
    if (c->offline && (err = -open_capture_file(c, cfg->capture_file)) != 0)
        goto fail;

    /* Ports. */
    if (c->offline) {
        uint16_t pid;
        if (rte_eth_dev_get_port_by_name(FILE_VDEV_NAME, &pid) != 0) {
            fp_log(FP_LOG_ERR, LOGM, "capture file port %s was not created", FILE_VDEV_NAME);
            err = ENODEV;
            goto fail;
        }
        c->port_ids[c->n_ports++] = pid;
    } else {
        for (unsigned i = 0; i < cfg->n_ports; i++) {
            char name[FP_CONFIG_STR];
            snprintf(name, sizeof(name), "%s", cfg->ports[i].device);
            char *comma = strchr(name, ',');
            if (comma)
                *comma = '\0';
            uint16_t pid;
            if (rte_eth_dev_get_port_by_name(name, &pid) != 0) {
                fp_log(FP_LOG_ERR, LOGM, "capture.ports[%u]: device %s not found (bound to a "
                       "DPDK driver? see scripts/dpdk-setup.sh)", i, name);
                err = ENODEV;
                goto fail;
            }
            c->port_ids[c->n_ports++] = pid;
        }
    }
    if (c->n_ports == 0) {
        fp_log(FP_LOG_ERR, LOGM, "no capture port: give -r FILE or capture.ports");
        err = EINVAL;
        goto fail;
    }

    c->n_workers = cfg->workers;
    unsigned lcores_avail = rte_lcore_count() - 1;
    /* Queues per port: one per worker when the driver allows it, else a distributor. */
    uint16_t nq[FP_MAX_PORTS];
    bool need_dist = false;
    for (unsigned p = 0; p < c->n_ports; p++) {
        struct rte_eth_dev_info info;
        if (rte_eth_dev_info_get(c->port_ids[p], &info) != 0) {
            err = ENODEV;
            goto fail;
        }
        unsigned want = cfg->ports[p].rx_queues ? cfg->ports[p].rx_queues : c->n_workers;
        if (c->offline)
            want = 1;
        nq[p] = (uint16_t)FP_MIN(want, (unsigned)info.max_rx_queues);
        if (nq[p] == 0)
            nq[p] = 1;
        if (nq[p] < c->n_workers)
            need_dist = true;
    }
    if (c->n_workers + (need_dist ? 1 : 0) > lcores_avail) {
        fp_log(FP_LOG_ERR, LOGM, "%u workers%s need %u lcores besides the main one; EAL has %u",
               c->n_workers, need_dist ? " + distributor" : "", c->n_workers + need_dist,
               lcores_avail);
        err = EINVAL;
        goto fail;
    }

    unsigned total_q = 0;
    for (unsigned p = 0; p < c->n_ports; p++)
        total_q += nq[p];
    /* One worker reading a classic pcap file parses it itself (no mbuf per packet): the
     * pool then only has to satisfy the port's setup, and a small one starts faster. */
    if (c->offline && !need_dist && c->n_workers == 1)
        fr = file_reader_open(cfg->capture_file);
    unsigned n_mbufs = cfg->mbufs ? cfg->mbufs
                       : fr       ? FILE_POOL_MBUFS
                                  : mbufs_needed(cfg, total_q, need_dist);
    unsigned dist_ring = cfg->dist_ring_size;
    if (need_dist && c->offline) {
        /* net_pcap loses the packet it read when the pool is empty: in capture-file mode
         * the rings must never be able to hold the whole pool. */
        unsigned other =
            total_q * cfg->rx_desc + (c->n_workers + 2) * (MEMPOOL_CACHE + PIPE_DEPTH * MAX_BURST);
        while (dist_ring > 64 && (uint64_t)c->n_workers * dist_ring + other >= n_mbufs)
            dist_ring >>= 1;
    }
    unsigned priv = RTE_ALIGN(sizeof(struct pkt_priv), RTE_MBUF_PRIV_ALIGN);
    c->pool = rte_pktmbuf_pool_create("fp_mbufs", n_mbufs, MEMPOOL_CACHE, (uint16_t)priv,
                                      (uint16_t)cfg->mbuf_size, (int)rte_socket_id());
    if (!c->pool) {
        fp_log(FP_LOG_ERR, LOGM, "mbuf pool of %u: %s (raise EAL memory -m, or lower "
               "capture.mbufs)", n_mbufs, rte_strerror(rte_errno));
        goto fail;
    }
    if (c->offline) {
        if (rte_mbuf_dyn_rx_timestamp_register(&c->ts_offset, &c->ts_flag) != 0) {
            fp_log(FP_LOG_ERR, LOGM, "cannot register the RX timestamp field");
            err = ENOTSUP;
            goto fail;
        }
    }
    for (unsigned p = 0; p < c->n_ports; p++) {
        int ret = port_setup(c, c->port_ids[p], nq[p]);
        if (ret < 0) {
            fp_log(FP_LOG_ERR, LOGM, "port %u setup: %s", c->port_ids[p], rte_strerror(-ret));
            err = -ret;
            goto fail;
        }
    }

    c->workers = rte_zmalloc("fp_workers", sizeof(struct fp_worker) * c->n_workers,
                             RTE_CACHE_LINE_SIZE);
    if (!c->workers)
        goto fail;
    if (need_dist) {
        c->dist = rte_zmalloc("fp_dist", sizeof(*c->dist), RTE_CACHE_LINE_SIZE);
        if (!c->dist)
            goto fail;
        atomic_init(&c->dist->done, false);
    }
    char lerr[320];
    struct live_tables *live0 = live_build(cfg, lerr, sizeof(lerr));
    if (!live0) {
        err = errno;
        fp_log(FP_LOG_ERR, LOGM, "%s", lerr);
        goto fail;
    }
    c->live = calloc(1, sizeof(*c->live));
    if (!c->live || fp_rcu_init(c->live, c->n_workers, live0, live_free) != 0) {
        live_free(live0);
        free(c->live);
        c->live = NULL;
        err = c->n_workers > FP_RCU_MAX_READERS ? EINVAL : ENOMEM;
        goto fail;
    }
    unsigned lcore = rte_get_next_lcore(-1, 1, 0);
    for (unsigned i = 0; i < c->n_workers; i++) {
        struct fp_worker *w = &c->workers[i];
        w->id = i;
        w->cap = c;
        w->export_ring = export_rings[i];
        w->lcore = lcore;
        lcore = rte_get_next_lcore(lcore, 1, 0);
        atomic_init(&w->done, false);
        w->live = live0;
        w->live_gen = fp_rcu_generation(c->live);
        w->pipe = rte_zmalloc("fp_pipe", sizeof(struct pipe_slot) * PIPE_DEPTH, RTE_CACHE_LINE_SIZE);
        if (!w->pipe)
            goto fail;
        fp_decode_params_default(&w->dp);
        w->dp.link = c->link;
        w->dp.decap = cfg->decap_tunnels;
        w->dp.vxlan_port = cfg->vxlan_port;
        w->dp.gtpu_port = cfg->gtpu_port;
        struct fp_flow_table_params fp = {
            .capacity = cfg->flow_capacity,
            .idle_timeout_ms = cfg->idle_timeout_ms,
            .active_timeout_ms = cfg->active_timeout_ms,
            .tcp_end_ms = cfg->tcp_end_ms,
            .frag_entries = cfg->frag_table_size,
            .worker_id = (uint8_t)i,
            .sink = {.emit = record_to_ring, .arg = w},
        };
        if (cfg->classify_enabled) {
            struct fp_classify_params cp = {
                .max_packets = cfg->classify_max_packets,
                .contexts = cfg->classify_contexts,
                .dns_cache = cfg->classify_dns_cache,
                .classes = live0->classes,
                .rules = live0->rules,
                .prefault = !c->offline,
            };
            w->ce = fp_classify_engine_create(&cp);
            if (!w->ce) {
                fp_log(FP_LOG_ERR, LOGM, "worker %u: classification engine: %s", i,
                       strerror(errno));
                err = errno;
                goto fail;
            }
        }
        if (cfg->qoe_enabled || cfg->classify_enabled) {
            fp.ext.size = sizeof(struct flow_ext);
            fp.ext.packet = ext_packet;
            fp.ext.release = ext_release;
            fp.ext.arg = w;
        }
        w->ft = fp_flow_table_create(&fp);
        if (!w->ft) {
            fp_log(FP_LOG_ERR, LOGM, "worker %u: flow cache of %u flows: %s", i,
                   cfg->flow_capacity, strerror(errno));
            err = errno;
            goto fail;
        }
        if (need_dist) {
            char name[32];
            snprintf(name, sizeof(name), "fp_dist_%u", i);
            w->in_ring = rte_ring_create(name, dist_ring, rte_socket_id(),
                                         RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (!w->in_ring) {
                fp_log(FP_LOG_ERR, LOGM, "ring %s: %s", name, rte_strerror(rte_errno));
                goto fail;
            }
        }
    }
    c->workers[0].fr = fr;
    fr = NULL;
    /* Queues: to the distributor, or queue q of every port to worker q. */
    for (unsigned p = 0; p < c->n_ports; p++) {
        for (uint16_t q = 0; q < nq[p]; q++) {
            struct rxq rq = {.port = c->port_ids[p], .queue = q, .eof = false};
            if (need_dist) {
                c->dist->qs[c->dist->n_qs++] = rq;
            } else {
                struct fp_worker *w = &c->workers[q % c->n_workers];
                if (w->n_qs < MAX_QUEUES)
                    w->qs[w->n_qs++] = rq;
            }
        }
    }
    if (need_dist)
        c->dist->lcore = lcore;
    fp_log(FP_LOG_INFO, LOGM, "%u port(s), %u worker(s)%s, %u flows per worker, %s", c->n_ports,
           c->n_workers, need_dist ? " behind a distributor" : " polling their queues",
           cfg->flow_capacity, c->offline ? "capture file (packet clock)" : "live (TSC clock)");
    return c;

fail:
    file_reader_close(fr);
    fp_capture_destroy(c);
    errno = err;
    return NULL;
}

void fp_capture_request_stop(struct fp_capture *c)
{
    atomic_store_explicit(&c->stop, true, memory_order_relaxed);
}

const uint8_t *fp_capture_rss_key(void)
{
    return sym_rss_key;
}

unsigned fp_capture_worker_count(const struct fp_capture *c)
{
    return c->n_workers;
}

int fp_capture_reload_tables(struct fp_capture *c, const struct fp_config *cfg, char *err,
                             size_t errlen)
{
    if (cfg->classify_enabled != c->cfg->classify_enabled) {
        snprintf(err, errlen, "classify.enabled: needs a restart");
        return -EINVAL;
    }
    struct live_tables *lt = live_build(cfg, err, errlen);
    if (!lt)
        return errno == ENOMEM ? -ENOMEM : -EINVAL;
    if (cfg->classify_enabled && c->workers[0].ce) {
        /* Every engine resolves the same ids: worker 0's nDPI names serve all of them. */
        lt->ids = fp_classify_app_ids_create(c->workers[0].ce, lt->classes, lt->rules);
        if (!lt->ids) {
            live_free(lt);
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    int ret = fp_rcu_publish(c->live, lt);
    if (ret != 0) {
        live_free(lt);
        snprintf(err, errlen, "%d earlier reloads still wait for a worker to switch",
                 FP_RCU_MAX_RETIRED);
        return ret;
    }
    /* Workers switch within one poll (10 ms while pacing); free the replaced tables now
     * when they have, else a later reload or the exit does. */
    (void)fp_rcu_synchronize(c->live, 1000);
    return 0;
}

void fp_capture_set_timeouts(struct fp_capture *c, uint32_t idle_ms, uint32_t active_ms,
                             uint32_t tcp_end_ms)
{
    atomic_store(&c->new_idle_ms, idle_ms);
    atomic_store(&c->new_active_ms, active_ms);
    atomic_store(&c->new_end_ms, tcp_end_ms);
    atomic_fetch_add_explicit(&c->timeouts_gen, 1, memory_order_release);
}

int fp_capture_query_flows(struct fp_capture *c,
                           bool (*match)(void *arg, const struct fp_flow_record *r), void *arg,
                           struct fp_flow_record *out, unsigned max_per_worker, unsigned *n_out,
                           unsigned timeout_ms)
{
    *n_out = 0;
    if (!match || !out || max_per_worker == 0)
        return -EINVAL;
    struct flow_query *qs = calloc(c->n_workers, sizeof(*qs));
    if (!qs)
        return -ENOMEM;
    pthread_mutex_lock(&c->query_lock);
    for (unsigned i = 0; i < c->n_workers; i++) {
        qs[i].match = match;
        qs[i].arg = arg;
        qs[i].out = out + (size_t)i * max_per_worker;
        qs[i].max = max_per_worker;
        atomic_init(&qs[i].state, 1);
        if (atomic_load_explicit(&c->workers[i].done, memory_order_acquire))
            atomic_store(&qs[i].state, 2);
        else
            atomic_store_explicit(&c->workers[i].query, &qs[i], memory_order_release);
    }
    int ret = 0;
    uint64_t deadline = fp_time_monotonic_ns() + (uint64_t)timeout_ms * FP_NS_PER_MS;
    for (unsigned i = 0; i < c->n_workers; i++) {
        while (atomic_load_explicit(&qs[i].state, memory_order_acquire) != 2) {
            if (atomic_load_explicit(&c->workers[i].done, memory_order_acquire) &&
                atomic_load_explicit(&c->workers[i].query, memory_order_acquire) == NULL)
                break;
            if (fp_time_monotonic_ns() > deadline) {
                ret = -ETIMEDOUT;
                break;
            }
            usleep(200);
        }
        if (ret)
            break;
    }
    if (ret) {
        /* Withdraw what was not answered; wait for a worker that may be inside a slice. */
        for (unsigned i = 0; i < c->n_workers; i++) {
            struct flow_query *expect = &qs[i];
            if (!atomic_compare_exchange_strong(&c->workers[i].query, &expect, NULL)) {
                while (atomic_load_explicit(&qs[i].state, memory_order_acquire) != 2 &&
                       !atomic_load_explicit(&c->workers[i].done, memory_order_acquire))
                    usleep(100);
            }
        }
    }
    /* Compact the per-worker blocks. */
    unsigned n = 0;
    for (unsigned i = 0; i < c->n_workers; i++) {
        for (unsigned k = 0; k < qs[i].n; k++)
            out[n++] = qs[i].out[k];
    }
    *n_out = n;
    pthread_mutex_unlock(&c->query_lock);
    free(qs);
    return ret;
}

static void add_stats(struct fp_worker_stats *sum, const struct fp_worker_stats *s);

void fp_capture_get_worker(const struct fp_capture *c, unsigned worker, struct fp_worker_stats *ws,
                           struct fp_flow_stats *fs)
{
    memset(ws, 0, sizeof(*ws));
    memset(fs, 0, sizeof(*fs));
    if (worker >= c->n_workers)
        return;
    add_stats(ws, &c->workers[worker].stats);
    const struct fp_flow_stats *s = fp_flow_table_stats(c->workers[worker].ft);
#define FP_X_COPY(name, desc) fs->name = __atomic_load_n(&s->name, __ATOMIC_RELAXED);
    FP_FLOW_COUNTERS(FP_X_COPY)
#undef FP_X_COPY
    fs->active = __atomic_load_n(&s->active, __ATOMIC_RELAXED);
}

unsigned fp_capture_port_count(const struct fp_capture *c)
{
    return c->n_ports;
}

int fp_capture_get_port(const struct fp_capture *c, unsigned port, struct fp_capture_port_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (port >= c->n_ports)
        return -EINVAL;
    struct rte_eth_stats es;
    int ret = rte_eth_stats_get(c->port_ids[port], &es);
    if (ret != 0)
        return ret;
    out->rx_packets = es.ipackets;
    out->missed = es.imissed;
    out->errors = es.ierrors;
    out->nombuf = es.rx_nombuf;
    return 0;
}

static void add_stats(struct fp_worker_stats *sum, const struct fp_worker_stats *s)
{
#define FP_X_SUM(name, desc) sum->name += __atomic_load_n(&s->name, __ATOMIC_RELAXED);
    FP_WORKER_COUNTERS(FP_X_SUM)
#undef FP_X_SUM
    for (unsigned i = 0; i < FP_DECODE_RESULT_MAX; i++)
        sum->decode[i] += __atomic_load_n(&s->decode[i], __ATOMIC_RELAXED);
    for (unsigned i = 0; i < FP_DECODE_NOTE_COUNT; i++)
        sum->notes[i] += __atomic_load_n(&s->notes[i], __ATOMIC_RELAXED);
    uint64_t f = __atomic_load_n(&s->first_ignored_ms, __ATOMIC_RELAXED);
    if (f && (!sum->first_ignored_ms || f < sum->first_ignored_ms))
        sum->first_ignored_ms = f;
    uint64_t l = __atomic_load_n(&s->last_ignored_ms, __ATOMIC_RELAXED);
    if (l > sum->last_ignored_ms)
        sum->last_ignored_ms = l;
    uint64_t ts = __atomic_load_n(&s->last_ts_ns, __ATOMIC_RELAXED);
    if (ts > sum->last_ts_ns)
        sum->last_ts_ns = ts;
}

void fp_capture_get_totals(const struct fp_capture *c, struct fp_capture_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < c->n_workers; i++) {
        add_stats(&t->sum, &c->workers[i].stats);
        const struct fp_flow_stats *fs = fp_flow_table_stats(c->workers[i].ft);
#define FP_X_SUM(name, desc) t->flow.name += __atomic_load_n(&fs->name, __ATOMIC_RELAXED);
        FP_FLOW_COUNTERS(FP_X_SUM)
#undef FP_X_SUM
        t->flow.active += __atomic_load_n(&fs->active, __ATOMIC_RELAXED);
    }
    if (c->dist)
        add_stats(&t->sum, &c->dist->stats);
    t->rx_packets = t->sum.rx_packets;
    t->metered = t->sum.decode[FP_DECODE_OK];
    for (unsigned i = 1; i < FP_DECODE_RESULT_MAX; i++)
        t->not_metered += t->sum.decode[i];
    t->dropped = t->sum.dist_ring_full;
    t->flows_created = t->flow.created;
    t->records_ring_full = t->sum.export_ring_full;
    for (unsigned p = 0; p < c->n_ports; p++) {
        struct rte_eth_stats es;
        if (rte_eth_stats_get(c->port_ids[p], &es) == 0) {
            t->port_missed += es.imissed;
            t->port_errors += es.ierrors;
            t->port_nombuf += es.rx_nombuf;
        }
    }
}

int fp_capture_get_classify(const struct fp_capture *c, struct fp_classify_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!c->n_workers || !c->workers[0].ce)
        return -ENOENT;
    for (unsigned i = 0; i < c->n_workers; i++) {
        struct fp_classify_stats s;
        fp_classify_engine_stats_read(c->workers[i].ce, &s);
#define FP_X_SUM(name, desc) out->name += s.name;
        FP_CLASSIFY_COUNTERS(FP_X_SUM)
#undef FP_X_SUM
        out->ctx_in_use += s.ctx_in_use;
    }
    return 0;
}

static void show_progress(const struct fp_capture *c, uint64_t t0_ns, bool final)
{
    struct fp_capture_totals t;
    fp_capture_get_totals(c, &t);
    double el = (double)(fp_time_monotonic_ns() - t0_ns) / 1e9;
    double rate = el > 0 ? (double)t.rx_packets / el / 1e6 : 0;
    char pct[32] = "";
    if (c->offline && c->file_size) {
        /* pcap: 24-byte file header, 16 bytes per packet record (pcapng: approximate). */
        double done = (double)(24 + t.sum.rx_bytes + 16 * t.rx_packets) / (double)c->file_size;
        snprintf(pct, sizeof(pct), ", %5.1f%% of file", FP_MIN(done, 1.0) * 100);
    }
    fprintf(stderr, "\r%12" PRIu64 " packets, %10" PRIu64 " flows%s, %.2f Mpps%s", t.rx_packets,
            t.flow.created, pct, rate, final ? "\n" : "");
    fflush(stderr);
}

int fp_capture_run(struct fp_capture *c)
{
    for (unsigned i = 0; i < c->n_workers; i++) {
        int ret = rte_eal_remote_launch(worker_main, &c->workers[i], c->workers[i].lcore);
        if (ret < 0) {
            fp_log(FP_LOG_ERR, LOGM, "launch worker %u on lcore %u: %s", i, c->workers[i].lcore,
                   rte_strerror(-ret));
            fp_capture_request_stop(c);
            rte_eal_mp_wait_lcore();
            return ret;
        }
    }
    if (c->dist && rte_eal_remote_launch(dist_main, c, c->dist->lcore) < 0) {
        fp_capture_request_stop(c);
        rte_eal_mp_wait_lcore();
        return -EIO;
    }
    bool tty = c->cfg->progress && isatty(STDERR_FILENO);
    uint64_t t0 = fp_time_monotonic_ns(), last_show = t0;
    uint64_t deadline = c->cfg->duration_s ? t0 + (uint64_t)c->cfg->duration_s * FP_NS_PER_S : 0;
    for (;;) {
        bool all_done = true;
        for (unsigned i = 0; i < c->n_workers; i++)
            all_done &= atomic_load_explicit(&c->workers[i].done, memory_order_acquire);
        if (all_done)
            break;
        usleep(10000);
        uint64_t now = fp_time_monotonic_ns();
        if (deadline && now >= deadline)
            fp_capture_request_stop(c);
        if (tty && now - last_show >= 500 * FP_NS_PER_MS) {
            show_progress(c, t0, false);
            last_show = now;
        }
    }
    rte_eal_mp_wait_lcore();
    if (tty)
        show_progress(c, t0, true);
    return 0;
}

void fp_capture_destroy(struct fp_capture *c)
{
    if (!c)
        return;
    for (unsigned p = 0; p < c->n_ports; p++) {
        (void)rte_eth_dev_stop(c->port_ids[p]);
        (void)rte_eth_dev_close(c->port_ids[p]);
    }
    if (c->workers) {
        for (unsigned i = 0; i < c->n_workers; i++) {
            fp_flow_table_destroy(c->workers[i].ft);
            file_reader_close(c->workers[i].fr);
            fp_classify_engine_destroy(c->workers[i].ce);
            rte_ring_free(c->workers[i].in_ring);
        }
        rte_free(c->workers);
    }
    rte_free(c->dist);
    if (c->live) {
        fp_rcu_fini(c->live); /* every worker has stopped */
        free(c->live);
    }
    rte_mempool_free(c->pool);
    free(c);
}
