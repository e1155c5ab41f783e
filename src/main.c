/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * flowpulse: init and fini wiring. Configuration (file, -o, flags) is validated before the
 * EAL or any port is touched; then export rings, capture (workers), exporter thread; on
 * end of file or SIGINT/SIGTERM the workers export every flow, the exporter drains and
 * closes, and the packet accounting is printed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "capture/capture.h"
#include "common/fp_log.h"
#include "common/fp_snapshot.h"
#include "common/fp_time.h"
#include "snmp/snmp.h"
#include "config/config.h"
#include "export/export.h"

#define FP_VERSION "0.1.0"

static struct fp_capture *_Atomic g_capture;
static struct fp_exporter *_Atomic g_exporter;
static const struct fp_config *g_cfg;
static uint64_t g_start_ms;
static atomic_bool g_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop_requested, true);
    struct fp_capture *c = atomic_load(&g_capture);
    if (c)
        fp_capture_request_stop(c);
}


static uint8_t snap_state(enum fp_collector_state st)
{
    switch (st) {
    case FP_COLLECTOR_STATE_UP:
        return FP_SNAP_COLLECTOR_UP;
    case FP_COLLECTOR_STATE_CONNECTING:
        return FP_SNAP_COLLECTOR_CONNECTING;
    case FP_COLLECTOR_STATE_CLOSED:
        return FP_SNAP_COLLECTOR_CLOSED;
    default:
        return FP_SNAP_COLLECTOR_DOWN;
    }
}

/* SNMP snapshot, built on the SNMP thread from counters (relaxed reads), never from flows. */
static void snapshot_fill(void *arg, struct fp_snapshot *s)
{
    (void)arg;
    const struct fp_config *cfg = g_cfg;
    snprintf(s->version, sizeof(s->version), "flowpulse %s", FP_VERSION);
    s->start_time_ms = g_start_ms;
    s->now_ms = fp_time_realtime_ns() / FP_NS_PER_MS;
    struct fp_capture *c = atomic_load(&g_capture);
    if (c) {
        struct fp_capture_totals t;
        fp_capture_get_totals(c, &t);
        s->packets_received = t.rx_packets;
        s->packets_metered = t.metered;
        for (unsigned i = 1; i < FP_DECODE_RESULT_MAX; i++)
            s->not_metered[i] = t.sum.decode[i];
        s->n_ports = FP_MIN(fp_capture_port_count(c), (unsigned)FP_MAX_PORTS);
        for (unsigned p = 0; p < s->n_ports; p++) {
            struct fp_capture_port_stats ps;
            if (fp_capture_get_port(c, p, &ps) == 0) {
                s->ports[p].rx_packets = ps.rx_packets;
                s->ports[p].missed = ps.missed;
                s->ports[p].errors = ps.errors;
                s->ports[p].nombuf = ps.nombuf;
            }
        }
        s->n_workers = FP_MIN(fp_capture_worker_count(c), (unsigned)FP_MAX_WORKERS);
        uint64_t records = 0;
        for (unsigned w = 0; w < s->n_workers; w++) {
            struct fp_worker_stats ws;
            struct fp_flow_stats fs;
            fp_capture_get_worker(c, w, &ws, &fs);
            struct fp_snap_worker *sw = &s->workers[w];
            sw->packets = fs.packets;
            sw->flows_active = fs.active;
            sw->flows_created = fs.created;
            sw->expired_idle = fs.expired_idle;
            sw->expired_active = fs.expired_active;
            sw->expired_end = fs.expired_end;
            sw->expired_forced = fs.expired_forced;
            sw->expired_resource = fs.evicted_resource + fs.evicted_bucket;
            sw->cache_capacity = cfg->flow_capacity;
            s->metering.active_flows += fs.active;
            records += fs.expired_idle + fs.expired_active + fs.expired_end + fs.expired_forced +
                       fs.evicted_resource + fs.evicted_bucket + fs.split_overflow;
        }
        uint64_t cap = (uint64_t)cfg->flow_capacity * s->n_workers;
        s->metering.unused_entries = cap > s->metering.active_flows ? cap - s->metering.active_flows : 0;
        s->metering.data_records = records;
    }
    s->metering.active_timeout_s = cfg->active_timeout_ms / 1000;
    s->metering.idle_timeout_s = cfg->idle_timeout_ms / 1000;
    s->metering.observation_domain = cfg->observation_domain;
    struct fp_exporter *ex = atomic_load(&g_exporter);
    s->n_collectors = ex ? FP_MIN(fp_exporter_collector_count(ex), (unsigned)FP_MAX_COLLECTORS) : 0;
    for (unsigned i = 0; i < s->n_collectors; i++) {
        const struct fp_collector_config *cc = &cfg->collectors[i];
        struct fp_snap_collector *sc = &s->collectors[i];
        struct fp_collector_stats cs;
        fp_exporter_get_stats(ex, i, &cs);
        snprintf(sc->url, sizeof(sc->url), "%s", cc->url);
        sc->protocol = FP_SNAP_PROTOCOL_IPFIX;
        switch (cc->transport) {
        case FP_TRANSPORT_UDP:
            sc->transport = FP_SNAP_TRANSPORT_UDP;
            sc->template_refresh_s = cfg->template_refresh_s;
            sc->template_refresh_msgs = cfg->template_refresh_msgs;
            break;
        case FP_TRANSPORT_TCP:
            sc->transport = FP_SNAP_TRANSPORT_TCP;
            break;
        case FP_TRANSPORT_FILE:
            sc->transport = FP_SNAP_TRANSPORT_FILE;
            break;
        default:
            sc->transport = FP_SNAP_TRANSPORT_TLS;
            break;
        }
        if (inet_pton(AF_INET, cc->host, sc->addr) == 1)
            sc->addr_family = 4;
        else if (inet_pton(AF_INET6, cc->host, sc->addr) == 1)
            sc->addr_family = 6;
        sc->port = cc->port;
        sc->state = snap_state(cs.state);
        sc->records = cs.records;
        sc->messages = cs.messages;
        sc->octets = cs.octets;
        sc->records_not_sent = cs.records_not_sent;
        sc->reconnects = cs.reconnects;
        memcpy(sc->last_error, cs.last_error, FP_MIN(sizeof(sc->last_error), sizeof(cs.last_error)));
        sc->last_error[sizeof(sc->last_error) - 1] = '\0';
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: flowpulse [-c FILE] [-r CAPTURE] [-e URL]... [-o SETTING=VALUE]... [-w N]\n"
            "                 [--dump-config] [-h] [-V]\n"
            "  -c FILE           configuration file (libconfig; see flowpulse.conf.example)\n"
            "  -r CAPTURE        process a pcap/pcapng file at full speed, then exit\n"
            "  -e URL            add a collector: udp://HOST:PORT, tcp://HOST:PORT, file:PATH\n"
            "  -o SETTING=VALUE  override any setting, e.g. -o flow.idle_timeout=30\n"
            "  -w N              worker lcores (capture.workers)\n"
            "  --dump-config     print the effective configuration and exit\n"
            "  -h                this help\n"
            "  -V                version\n");
}

static void metering_stats(void *arg, struct fp_metering_stats *out)
{
    (void)arg;
    memset(out, 0, sizeof(*out));
    struct fp_capture *c = atomic_load(&g_capture);
    if (!c)
        return;
    struct fp_capture_totals t;
    fp_capture_get_totals(c, &t);
    out->packets_observed = t.rx_packets;
    out->packets_ignored = t.not_metered + t.dropped;
    out->octets_ignored = t.sum.ignored_octets;
    out->first_ignored_ms = t.sum.first_ignored_ms;
    out->last_ignored_ms = t.sum.last_ignored_ms;
    out->flows_dropped_resources = t.flow.evicted_resource + t.flow.evicted_bucket;
    out->records_ring_full = t.records_ring_full;
    out->packets_ring_full = t.sum.export_ring_full_packets;
    out->octets_ring_full = t.sum.export_ring_full_octets;
}

static void print_accounting(const struct fp_capture_totals *t, struct fp_exporter *ex)
{
    char reasons[1024] = "";
    size_t off = 0;
    for (unsigned i = 1; i < FP_DECODE_RESULT_MAX; i++) {
        if (!t->sum.decode[i])
            continue;
        int n = snprintf(reasons + off, sizeof(reasons) - off, "%s%s %" PRIu64, off ? ", " : "",
                         fp_decode_result_names[i], t->sum.decode[i]);
        if (n > 0 && (size_t)n < sizeof(reasons) - off)
            off += (size_t)n;
    }
    bool exact = t->rx_packets == t->metered + t->not_metered + t->dropped;
    fp_log(FP_LOG_NOTICE, "main",
           "packets received %" PRIu64 " = metered %" PRIu64 " + not metered %" PRIu64
           "%s%s%s + dropped %" PRIu64 " (ring full)%s",
           t->rx_packets, t->metered, t->not_metered, off ? " (" : "", reasons, off ? ")" : "",
           t->dropped, exact ? "" : " -- ACCOUNTING MISMATCH");
    if (t->port_missed || t->port_errors || t->port_nombuf)
        fp_log(FP_LOG_WARNING, "main",
               "port: %" PRIu64 " packets missed by the NIC, %" PRIu64 " errors, %" PRIu64
               " without mbuf",
               t->port_missed, t->port_errors, t->port_nombuf);
    for (unsigned b = 0; b < FP_DECODE_NOTE_COUNT; b++)
        if (t->sum.notes[b])
            fp_log(FP_LOG_INFO, "main", "metered with note: %s: %" PRIu64,
                   fp_decode_note_names[b], t->sum.notes[b]);
    fp_log(FP_LOG_NOTICE, "main",
           "flows created %" PRIu64 "; ended: idle %" PRIu64 ", active-timeout records %" PRIu64
           ", tcp end %" PRIu64 ", forced %" PRIu64 ", cache full %" PRIu64 "; fragments "
           "matched %" PRIu64 ", unmatched %" PRIu64 "; records lost to a full ring %" PRIu64
           " (waits for the exporter %" PRIu64 ")",
           t->flow.created, t->flow.expired_idle, t->flow.expired_active, t->flow.expired_end,
           t->flow.expired_forced, t->flow.evicted_resource + t->flow.evicted_bucket,
           t->flow.frag_matched, t->flow.frag_unmatched, t->records_ring_full,
           t->sum.export_ring_waits);
    unsigned nc = fp_exporter_collector_count(ex);
    for (unsigned i = 0; i < nc; i++) {
        struct fp_collector_stats cs;
        fp_exporter_get_stats(ex, i, &cs);
        fp_log(cs.records_not_sent ? FP_LOG_WARNING : FP_LOG_NOTICE, "main",
               "collector %u: %" PRIu64 " records, %" PRIu64 " messages, %" PRIu64
               " octets sent; %" PRIu64 " records not sent%s%s",
               i, cs.records, cs.messages, cs.octets, cs.records_not_sent,
               cs.last_error[0] ? "; last error: " : "", cs.last_error);
    }
}

int main(int argc, char **argv)
{
    static struct fp_config cfg;
    char err[512];
    const char *conf_file = NULL;
    bool dump = false;
    enum { OPT_DUMP = 256 };
    static const struct option longopts[] = {
        {"dump-config", no_argument, NULL, OPT_DUMP},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };

    fp_config_defaults(&cfg);
    /* First pass: the file, so that flags override it whatever their order. */
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "c:r:e:o:w:hV", longopts, NULL)) != -1) {
        if (opt == 'c')
            conf_file = optarg;
        else if (opt == 'h') {
            usage(stdout);
            return 0;
        } else if (opt == 'V') {
            printf("flowpulse %s\n", FP_VERSION);
            return 0;
        } else if (opt == '?') {
            fprintf(stderr, "flowpulse: %s: unknown option or missing value\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (conf_file && fp_config_load_file(&cfg, conf_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "flowpulse: %s\n", err);
        return 2;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:r:e:o:w:hV", longopts, NULL)) != -1) {
        int ret = 0;
        switch (opt) {
        case 'r':
            if (strlen(optarg) >= sizeof(cfg.capture_file)) {
                snprintf(err, sizeof(err), "-r %s: path too long", optarg);
                ret = -EINVAL;
            } else {
                snprintf(cfg.capture_file, sizeof(cfg.capture_file), "%s", optarg);
            }
            break;
        case 'e':
            ret = fp_config_add_collector_url(&cfg, optarg, err, sizeof(err));
            break;
        case 'o':
            ret = fp_config_override(&cfg, optarg, err, sizeof(err));
            break;
        case 'w': {
            char ov[64];
            snprintf(ov, sizeof(ov), "capture.workers=%s", optarg);
            ret = fp_config_override(&cfg, ov, err, sizeof(err));
            if (ret)
                snprintf(err, sizeof(err), "-w %s: expected a number of workers from 1 to %d",
                         optarg, FP_MAX_WORKERS);
            break;
        }
        case OPT_DUMP:
            dump = true;
            break;
        default:
            break;
        }
        if (ret) {
            fprintf(stderr, "flowpulse: %s\n", err);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "flowpulse: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    if (dump) {
        fp_config_dump(&cfg, stdout);
        return 0;
    }
    if (fp_config_validate(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "flowpulse: %s%s%s\n", conf_file ? conf_file : "", conf_file ? ": " : "",
                err);
        return 2;
    }
    if (cfg.n_collectors == 0)
        fp_log(FP_LOG_WARNING, "main", "no collector configured: flows are metered, not exported");
    enum fp_log_level lvl;
    if (fp_log_level_parse(cfg.log_level, &lvl) == 0)
        fp_log_set_level(lvl);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    g_cfg = &cfg;
    g_start_ms = fp_time_realtime_ns() / FP_NS_PER_MS;
    if (fp_capture_eal_init(&cfg, argv[0]) != 0)
        return 1;

    struct rte_ring *rings[FP_MAX_WORKERS] = {0};
    struct fp_capture *cap = NULL;
    struct fp_exporter *ex = NULL;
    struct fp_snmp *snmp = NULL;
    for (unsigned i = 0; i < cfg.workers; i++) {
        char name[32];
        snprintf(name, sizeof(name), "fp_export_%u", i);
        rings[i] = fp_export_ring_create(name, cfg.export_ring_size);
        if (!rings[i]) {
            fp_log(FP_LOG_ERR, "main", "export ring of %u records: %s", cfg.export_ring_size,
                   strerror(errno));
            goto out;
        }
    }
    cap = fp_capture_create(&cfg, rings);
    if (!cap)
        goto out;
    atomic_store(&g_capture, cap);
    if (atomic_load(&g_stop_requested))
        fp_capture_request_stop(cap);

    struct fp_exporter_params ep = {
        .cfg = &cfg,
        .rings = rings,
        .n_rings = cfg.workers,
        .metering_stats = metering_stats,
        .metering_arg = NULL,
    };
    ex = fp_exporter_create(&ep);
    if (!ex) {
        fp_log(FP_LOG_ERR, "main", "exporter: %s", strerror(errno));
        goto out;
    }
    if (fp_exporter_start(ex) != 0)
        goto out;
    atomic_store(&g_exporter, ex);
    if (cfg.snmp_enabled) {
        struct fp_snmp_params sp = {
            .agentx_socket = cfg.snmp_socket[0] ? cfg.snmp_socket : NULL,
            .refresh_ms = cfg.snmp_refresh_ms,
            .fill = snapshot_fill,
            .drop_threshold_pps = cfg.snmp_drop_threshold,
        };
        snmp = fp_snmp_start(&sp);
        if (!snmp)
            fp_log(FP_LOG_WARNING, "main", "SNMP subagent not started: %s", strerror(errno));
    }
    if (fp_capture_run(cap) != 0)
        goto out_stop;
    rc = 0;
out_stop:
    fp_exporter_stop(ex);
    {
        struct fp_capture_totals t;
        fp_capture_get_totals(cap, &t);
        print_accounting(&t, ex);
    }
out:
    fp_snmp_stop(snmp);
    atomic_store(&g_exporter, NULL);
    atomic_store(&g_capture, NULL);
    fp_exporter_destroy(ex);
    fp_capture_destroy(cap);
    for (unsigned i = 0; i < cfg.workers; i++)
        fp_export_ring_free(rings[i]);
    fp_capture_eal_fini();
    return rc;
}
