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
#include "classify/classify_engine.h"
#include "common/fp_log.h"
#include "common/fp_priv.h"
#include "common/fp_snapshot.h"
#include "common/fp_time.h"
#include "control/control.h"
#include "snmp/snmp.h"
#include "config/config.h"
#include "export/export.h"
#include "export/export_templates.h"

#define FP_VERSION "0.1.0"

static struct fp_capture *_Atomic g_capture;
static struct fp_exporter *_Atomic g_exporter;
/* The running configuration. Replaced by a reload (atomic pointer swap); configurations
 * once published are never freed before exit, so a reader may keep using the one it read. */
static const struct fp_config *_Atomic g_cfg;
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

/* Templates in use on collector @p i (copied by the exporter, never read from libfixbuf). */
static void snap_templates(struct fp_exporter *ex, unsigned i, struct fp_snap_collector *sc)
{
    struct fp_export_template_info ti[FP_SNAP_MAX_TEMPLATES]; /* ~26 KB of stack */
    struct fp_export_template_totals tot;
    unsigned n = fp_exporter_get_templates(ex, i, ti, FP_SNAP_MAX_TEMPLATES, &tot);
    sc->templates_sent = tot.templates;
    sc->options_templates_sent = tot.options_templates;
    sc->n_templates = n;
    for (unsigned t = 0; t < n; t++) {
        struct fp_snap_template *st = &sc->templates[t];
        st->template_id = ti[t].template_id;
        st->set_id = ti[t].set_id;
        st->odid = ti[t].odid;
        st->last_sent_ms = ti[t].last_sent_ms;
        st->data_records = ti[t].data_records;
        st->n_fields = FP_MIN(ti[t].n_fields, (uint32_t)FP_SNAP_MAX_TEMPLATE_FIELDS);
        for (unsigned f = 0; f < st->n_fields; f++) {
            const struct fp_export_template_field *ef = &ti[t].fields[f];
            st->fields[f] = (struct fp_snap_template_field){
                .ie_id = ef->ie_id,
                .length = ef->length,
                .pen = ef->pen,
                .flags = (uint8_t)(((ef->flags & FP_EXPORT_FIELD_SCOPE) ? FP_SNAP_FIELD_SCOPE : 0) |
                                   ((ef->flags & FP_EXPORT_FIELD_FLOW_KEY) ? FP_SNAP_FIELD_FLOW_KEY
                                                                          : 0)),
            };
        }
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
        uint64_t act = s->metering.active_flows;
        s->metering.unused_entries = cap > act ? cap - act : 0;
        s->metering.data_records = records;
        struct fp_classify_stats cls;
        if (fp_capture_get_classify(c, &cls) == 0) {
            unsigned k = 0;
#define FP_X_SNAP(name, desc) s->classify[k++] = cls.name;
            FP_CLASSIFY_COUNTERS(FP_X_SNAP)
#undef FP_X_SNAP
            s->n_classify = k;
        }
    }
    s->metering.active_timeout_s = cfg->active_timeout_ms / 1000;
    s->metering.idle_timeout_s = cfg->idle_timeout_ms / 1000;
    s->metering.observation_domain = cfg->observation_domain;
    struct fp_exporter *ex = atomic_load(&g_exporter);
    s->n_collectors = ex ? FP_MIN(fp_exporter_collector_count(ex), cfg->n_collectors) : 0;
    for (unsigned i = 0; i < s->n_collectors; i++) {
        const struct fp_collector_config *cc = &cfg->collectors[i];
        struct fp_snap_collector *sc = &s->collectors[i];
        struct fp_collector_stats cs;
        fp_exporter_get_stats(ex, i, &cs);
        snprintf(sc->url, sizeof(sc->url), "%s", cc->url);
        sc->protocol = cs.protocol == FP_EXPORT_PROTOCOL_NFV9   ? FP_SNAP_PROTOCOL_V9
                       : cs.protocol == FP_EXPORT_PROTOCOL_NFV5 ? FP_SNAP_PROTOCOL_V5
                                                                : FP_SNAP_PROTOCOL_IPFIX;
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
        memcpy(sc->last_error, cs.last_error,
               FP_MIN(sizeof(sc->last_error), sizeof(cs.last_error)));
        sc->last_error[sizeof(sc->last_error) - 1] = '\0';
        snap_templates(ex, i, sc);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: flowpulse [-c FILE] [-r CAPTURE] [-e URL]... [-o SETTING=VALUE]... [-w N]\n"
            "                 [--dump-config] [-h] [-V]\n"
            "  -c FILE           configuration file (libconfig; see flowpulse.conf.example)\n"
            "  -r CAPTURE        process a pcap/pcapng file at full speed, then exit\n"
            "  -e URL            add a collector: udp://HOST:PORT, tcp://HOST:PORT, tls://...,\n"
            "                    dtls://..., file:PATH (IPFIX); nfv9+udp://HOST:PORT,\n"
            "                    nfv5+udp://HOST:PORT (NetFlow v9/v5, port 2055)\n"
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

/* ---- control socket (callbacks run on the control thread; counters read relaxed) ---- */

static const char *g_conf_file;
static struct fp_control *_Atomic g_control;

static void on_sighup(int sig)
{
    (void)sig;
    fp_control_request_reload(atomic_load(&g_control));
}

/* The flows' clock: newest packet time of a capture file, else the wall clock. */
static uint64_t flow_clock_ns(struct fp_capture *c)
{
    if (!g_cfg->capture_file[0])
        return fp_time_realtime_ns();
    uint64_t t = 0;
    for (unsigned w = 0; w < fp_capture_worker_count(c); w++) {
        struct fp_worker_stats ws;
        struct fp_flow_stats fs;
        fp_capture_get_worker(c, w, &ws, &fs);
        t = FP_MAX(t, ws.last_ts_ns);
    }
    return t;
}

static void ctl_status(void *arg, struct fp_control_status *st)
{
    (void)arg;
    snprintf(st->version, sizeof(st->version), "flowpulse %s", FP_VERSION);
    st->start_ms = g_start_ms;
    st->now_ms = fp_time_realtime_ns() / FP_NS_PER_MS;
    snprintf(st->capture_file, sizeof(st->capture_file), "%s", g_cfg->capture_file);
    struct fp_capture *c = atomic_load(&g_capture);
    if (c) {
        struct fp_capture_totals t;
        fp_capture_get_totals(c, &t);
        st->running = true;
        st->flow_clock_ns = flow_clock_ns(c);
        st->ports = fp_capture_port_count(c);
        st->workers = fp_capture_worker_count(c);
        st->flows_active = t.flow.active;
        st->packets_received = t.rx_packets;
        st->packets_metered = t.metered;
        st->packets_not_metered = t.not_metered;
        st->packets_dropped = t.dropped;
    }
    struct fp_exporter *ex = atomic_load(&g_exporter);
    unsigned n = ex ? fp_exporter_collector_count(ex) : 0;
    for (unsigned i = 0; i < n; i++) {
        struct fp_collector_stats cs;
        fp_exporter_get_stats(ex, i, &cs);
        if (cs.state == FP_COLLECTOR_STATE_UP)
            st->collectors_up++;
        else
            st->collectors_down++;
    }
}

static void ctl_stats(void *arg, struct fp_control_json *j)
{
    (void)arg;
    struct fp_capture *c = atomic_load(&g_capture);
    if (c) {
        struct fp_capture_totals t;
        fp_capture_get_totals(c, &t);
        fp_control_json_obj_begin(j, "packets");
        fp_control_json_u64(j, "received", t.rx_packets);
        fp_control_json_u64(j, "metered", t.metered);
        fp_control_json_u64(j, "not_metered", t.not_metered);
        fp_control_json_u64(j, "dropped", t.dropped);
        fp_control_json_u64(j, "port_missed", t.port_missed);
        fp_control_json_u64(j, "port_errors", t.port_errors);
        fp_control_json_u64(j, "port_nombuf", t.port_nombuf);
        fp_control_json_u64(j, "records_ring_full", t.records_ring_full);
        fp_control_json_obj_end(j);
        fp_control_json_obj_begin(j, "decode");
        for (unsigned i = 0; i < FP_DECODE_RESULT_MAX; i++)
            fp_control_json_u64(j, fp_decode_result_names[i], t.sum.decode[i]);
        fp_control_json_obj_end(j);
        fp_control_json_obj_begin(j, "notes");
        for (unsigned i = 0; i < FP_DECODE_NOTE_COUNT; i++)
            fp_control_json_u64(j, fp_decode_note_names[i], t.sum.notes[i]);
        fp_control_json_obj_end(j);
        fp_control_json_arr_begin(j, "workers");
        for (unsigned w = 0; w < fp_capture_worker_count(c); w++) {
            struct fp_worker_stats ws;
            struct fp_flow_stats fs;
            fp_capture_get_worker(c, w, &ws, &fs);
            fp_control_json_obj_begin(j, NULL);
            fp_control_json_u64(j, "worker", w);
#define FP_X_JSON(name, desc) fp_control_json_u64(j, #name, ws.name);
            FP_WORKER_COUNTERS(FP_X_JSON)
#undef FP_X_JSON
            fp_control_json_obj_begin(j, "decode");
            for (unsigned i = 0; i < FP_DECODE_RESULT_MAX; i++)
                fp_control_json_u64(j, fp_decode_result_names[i], ws.decode[i]);
            fp_control_json_obj_end(j);
            fp_control_json_obj_begin(j, "flow");
#define FP_X_JSON(name, desc) fp_control_json_u64(j, #name, fs.name);
            FP_FLOW_COUNTERS(FP_X_JSON)
#undef FP_X_JSON
            fp_control_json_u64(j, "active", fs.active);
            fp_control_json_u64(j, "capacity", g_cfg->flow_capacity);
            fp_control_json_obj_end(j);
            fp_control_json_obj_end(j);
        }
        fp_control_json_arr_end(j);
        fp_control_json_arr_begin(j, "ports");
        for (unsigned p = 0; p < fp_capture_port_count(c); p++) {
            struct fp_capture_port_stats ps;
            fp_capture_get_port(c, p, &ps);
            fp_control_json_obj_begin(j, NULL);
            fp_control_json_u64(j, "port", p);
            fp_control_json_u64(j, "rx_packets", ps.rx_packets);
            fp_control_json_u64(j, "missed", ps.missed);
            fp_control_json_u64(j, "errors", ps.errors);
            fp_control_json_u64(j, "nombuf", ps.nombuf);
            fp_control_json_obj_end(j);
        }
        fp_control_json_arr_end(j);
        /* Classification engines, summed over workers; every FP_CLASSIFY_COUNTERS name. */
        struct fp_classify_stats cs;
        bool on = fp_capture_get_classify(c, &cs) == 0;
        fp_control_json_obj_begin(j, "classify");
        fp_control_json_bool(j, "enabled", on);
        if (on) {
#define FP_X_JSON(name, desc) fp_control_json_u64(j, #name, cs.name);
            FP_CLASSIFY_COUNTERS(FP_X_JSON)
#undef FP_X_JSON
            fp_control_json_u64(j, "contexts_in_use", cs.ctx_in_use);
        }
        fp_control_json_obj_end(j);
    }
    struct fp_exporter *ex = atomic_load(&g_exporter);
    unsigned n = ex ? fp_exporter_collector_count(ex) : 0;
    fp_control_json_arr_begin(j, "collectors");
    for (unsigned i = 0; i < n; i++) {
        struct fp_collector_stats cs;
        fp_exporter_get_stats(ex, i, &cs);
        fp_control_json_obj_begin(j, NULL);
        fp_control_json_str(j, "url", g_cfg->collectors[i].url);
        fp_control_json_u64(j, "messages", cs.messages);
        fp_control_json_u64(j, "records", cs.records);
        fp_control_json_u64(j, "octets", cs.octets);
        fp_control_json_u64(j, "records_not_sent", cs.records_not_sent);
        fp_control_json_u64(j, "packets_not_sent", cs.packets_not_sent);
        fp_control_json_u64(j, "octets_not_sent", cs.octets_not_sent);
        fp_control_json_u64(j, "reconnects", cs.reconnects);
        fp_control_json_u64(j, "template_sends", cs.template_sends);
        fp_control_json_u64(j, "empty_sets_removed", cs.empty_sets_removed);
        fp_control_json_u64(j, "records_queued", cs.records_queued);
        fp_control_json_u64(j, "records_spooled", cs.records_spooled);
        fp_control_json_u64(j, "records_resent", cs.records_resent);
        fp_control_json_u64(j, "queue_dropped", cs.queue_dropped);
        fp_control_json_obj_begin(j, "failures");
        for (unsigned f = 0; f < FP_EXPORT_FAIL_COUNT; f++)
            fp_control_json_u64(j, fp_export_fail_name((enum fp_export_fail)f), cs.failures[f]);
        fp_control_json_obj_end(j);
        fp_control_json_obj_end(j);
    }
    fp_control_json_arr_end(j);
}

static unsigned ctl_collector_count(void *arg)
{
    (void)arg;
    struct fp_exporter *ex = atomic_load(&g_exporter);
    return ex ? fp_exporter_collector_count(ex) : 0;
}

static void ctl_collector(void *arg, unsigned i, struct fp_control_collector *out)
{
    (void)arg;
    static const char *const transports[] = {
        [FP_TRANSPORT_UDP] = "udp", [FP_TRANSPORT_TCP] = "tcp", [FP_TRANSPORT_FILE] = "file",
        [FP_TRANSPORT_TLS] = "tls", [FP_TRANSPORT_DTLS] = "dtls",
    };
    static const char *const states[] = {
        [FP_COLLECTOR_STATE_DOWN] = "down", [FP_COLLECTOR_STATE_CONNECTING] = "connecting",
        [FP_COLLECTOR_STATE_UP] = "up", [FP_COLLECTOR_STATE_CLOSED] = "closed",
    };
    struct fp_exporter *ex = atomic_load(&g_exporter);
    if (!ex || i >= fp_exporter_collector_count(ex))
        return;
    const struct fp_collector_config *cc = &g_cfg->collectors[i];
    struct fp_collector_stats cs;
    fp_exporter_get_stats(ex, i, &cs);
    snprintf(out->url, sizeof(out->url), "%s", cc->url);
    snprintf(out->transport, sizeof(out->transport), "%s",
             (unsigned)cc->transport < FP_ARRAY_SIZE(transports) && transports[cc->transport]
                 ? transports[cc->transport] : "?");
    snprintf(out->state, sizeof(out->state), "%s",
             (unsigned)cs.state < FP_ARRAY_SIZE(states) ? states[cs.state] : "?");
    out->records = cs.records;
    out->messages = cs.messages;
    out->octets = cs.octets;
    out->records_not_sent = cs.records_not_sent;
    out->reconnects = cs.reconnects;
    out->records_queued = cs.records_queued;
    snprintf(out->last_error, sizeof(out->last_error), "%.*s", (int)sizeof(cs.last_error),
             cs.last_error);
}

/* ---- live reload (SIGHUP and `flowpulsectl reload`, both on the control thread) ---- */

/* Command-line settings replayed over the file on every reload, in their order. */
struct cli_override {
    int opt;         /* 'r', 'e', 'o' or 'w' */
    const char *arg; /* points into argv */
};
static struct cli_override g_overrides[256];
static unsigned g_n_overrides;
/* Configurations replaced by a reload: kept until exit (a thread may still read one). */
static struct fp_config **g_old_cfgs;
static unsigned g_n_old_cfgs;

static int apply_cli(struct fp_config *c, int opt, const char *arg, char *err, size_t errlen)
{
    int ret = 0;
    switch (opt) {
    case 'r':
        if (strlen(arg) >= sizeof(c->capture_file)) {
            snprintf(err, errlen, "-r %s: path too long", arg);
            return -EINVAL;
        }
        snprintf(c->capture_file, sizeof(c->capture_file), "%s", arg);
        return 0;
    case 'e':
        return fp_config_add_collector_url(c, arg, err, errlen);
    case 'o':
        return fp_config_override(c, arg, err, errlen);
    case 'w': {
        char ov[64];
        snprintf(ov, sizeof(ov), "capture.workers=%s", arg);
        ret = fp_config_override(c, ov, err, errlen);
        if (ret)
            snprintf(err, errlen, "-w %s: expected a number of workers from 1 to %d", arg,
                     FP_MAX_WORKERS);
        return ret;
    }
    default:
        return 0;
    }
}

/* Settings that only take effect at start: a change is reported and the running value
 * stays. X(name shown, field). */
#define RESTART_SETTINGS(X)                                                                     \
    X("capture.eal_args", eal_args)                                                            \
    X("capture.workers", workers)                                                              \
    X("capture.burst", burst)                                                                  \
    X("capture.mbufs", mbufs)                                                                  \
    X("capture.mbuf_size", mbuf_size)                                                          \
    X("capture.rx_desc", rx_desc)                                                              \
    X("capture.dist_ring_size", dist_ring_size)                                                \
    X("capture.progress", progress)                                                            \
    X("capture.duration", duration_s)                                                          \
    X("capture.pace", pace_milli)                                                              \
    X("decode.tunnels", decap_tunnels)                                                         \
    X("decode.vxlan_port", vxlan_port)                                                         \
    X("decode.gtpu_port", gtpu_port)                                                           \
    X("flow.capacity", flow_capacity)                                                          \
    X("flow.frag_table_size", frag_table_size)                                                 \
    X("export.ring_size", export_ring_size)                                                    \
    X("export.mode", export_mode)                                                              \
    X("export.queue_records", queue_records)                                                   \
    X("export.spool_dir", spool_dir)                                                           \
    X("export.spool_max_mb", spool_max_mb)                                                     \
    X("export.pen", export_pen)                                                                \
    X("qoe.enabled", qoe_enabled)                                                              \
    X("qoe.splt_packets", splt_packets)                                                        \
    X("classify.enabled", classify_enabled)                                                    \
    X("classify.max_packets", classify_max_packets)                                            \
    X("classify.contexts", classify_contexts)                                                  \
    X("classify.dns_cache", classify_dns_cache)                                                \
    X("snmp.enabled", snmp_enabled)                                                            \
    X("snmp.agentx_socket", snmp_socket)                                                       \
    X("snmp.refresh", snmp_refresh_ms)                                                         \
    X("snmp.drop_threshold", snmp_drop_threshold)                                              \
    X("control.socket", control_socket)                                                        \
    X("log.target", log_target)                                                                \
    X("daemon.user", daemon_user)                                                              \
    X("daemon.group", daemon_group)

static void note(char *buf, size_t len, const char *what)
{
    size_t off = strnlen(buf, len);
    if (off + 1 < len)
        snprintf(buf + off, len - off, "%s%s", off ? ", " : "", what);
}

/* Keep the running value of every restart-only setting; name the changed ones. */
static void keep_restart_settings(struct fp_config *nc, const struct fp_config *old, char *names,
                                  size_t len)
{
#define FP_X_KEEP(name, f)                                                                      \
    if (memcmp(&nc->f, &old->f, sizeof(nc->f)) != 0) {                                         \
        note(names, len, name);                                                                \
        memcpy(&nc->f, &old->f, sizeof(nc->f));                                                \
    }
    RESTART_SETTINGS(FP_X_KEEP)
#undef FP_X_KEEP
    if (nc->n_ports != old->n_ports ||
        memcmp(nc->ports, old->ports, sizeof(nc->ports[0]) * old->n_ports) != 0) {
        note(names, len, "capture.ports");
        memcpy(nc->ports, old->ports, sizeof(nc->ports));
        nc->n_ports = old->n_ports;
    }
    memcpy(nc->capture_file, old->capture_file, sizeof(nc->capture_file));
}

/*
 * Re-read the -c file, replay the command line over it, validate; refuse with
 * "file:line: setting: problem" (the running configuration stays), else apply what can
 * change live (flow timeouts, exporter: collectors, templates, intervals; log level),
 * report what needs a restart, and publish the new configuration.
 */
static int ctl_reload(void *arg, char *err, size_t errlen)
{
    (void)arg;
    const struct fp_config *old = g_cfg;
    if (!g_conf_file) {
        snprintf(err, errlen, "reload: flowpulse was started without -c FILE: nothing to re-read");
        return -ENOENT;
    }
    struct fp_config **olds = realloc(g_old_cfgs, (g_n_old_cfgs + 1) * sizeof(*olds));
    struct fp_config *nc = malloc(sizeof(*nc));
    if (olds)
        g_old_cfgs = olds;
    if (!nc || !olds) {
        free(nc);
        snprintf(err, errlen, "reload: out of memory");
        return -ENOMEM;
    }
    char e[512];
    fp_config_defaults(nc);
    int ret = fp_config_load_file(nc, g_conf_file, e, sizeof(e));
    if (ret != 0) {
        snprintf(err, errlen, "%s", e);
        free(nc);
        return ret;
    }
    for (unsigned i = 0; i < g_n_overrides && ret == 0; i++)
        ret = apply_cli(nc, g_overrides[i].opt, g_overrides[i].arg, e, sizeof(e));
    if (ret == 0 && (ret = fp_config_validate(nc, e, sizeof(e))) != 0) {
        snprintf(err, errlen, "%s: %s", g_conf_file, e);
        free(nc);
        return ret;
    }
    if (ret != 0) {
        snprintf(err, errlen, "%s", e);
        free(nc);
        return ret;
    }

    char restart[768] = "";
    keep_restart_settings(nc, old, restart, sizeof(restart));
    char done[256] = "";
    struct fp_capture *cap = atomic_load(&g_capture);
    /* QoE parameters and classification tables: rebuilt (a classify.classes file is re-read)
     * and published to the workers; the reload is refused when they do not build. */
    bool tables = nc->n_classify_rules != old->n_classify_rules ||
                  memcmp(nc->classify_rules, old->classify_rules, sizeof(nc->classify_rules)) ||
                  strcmp(nc->classify_classes, old->classify_classes) != 0 ||
                  nc->classify_classes[0] != '\0' ||
                  nc->n_qoe_thresholds != old->n_qoe_thresholds ||
                  memcmp(nc->qoe_thresholds, old->qoe_thresholds, sizeof(nc->qoe_thresholds)) ||
                  nc->qoe_video_burst_gap_ms != old->qoe_video_burst_gap_ms ||
                  nc->qoe_video_stall_bps != old->qoe_video_stall_bps ||
                  nc->qoe_game_spike_ms != old->qoe_game_spike_ms ||
                  nc->qoe_game_gap_ms != old->qoe_game_gap_ms ||
                  nc->qoe_rtp_latency_ms != old->qoe_rtp_latency_ms;
    char te[320];
    if (cap && tables && (ret = fp_capture_reload_tables(cap, nc, te, sizeof(te))) != 0) {
        snprintf(err, errlen, "%s: %s", g_conf_file, te);
        free(nc);
        return ret;
    }
    enum fp_log_level lvl;
    if (strcmp(nc->log_level, old->log_level) != 0 && fp_log_level_parse(nc->log_level, &lvl) == 0) {
        fp_log_set_level(lvl);
        note(done, sizeof(done), "log.level");
    }
    if (cap && (nc->idle_timeout_ms != old->idle_timeout_ms ||
                nc->active_timeout_ms != old->active_timeout_ms ||
                nc->tcp_end_ms != old->tcp_end_ms)) {
        fp_capture_set_timeouts(cap, nc->idle_timeout_ms, nc->active_timeout_ms, nc->tcp_end_ms);
        note(done, sizeof(done), "flow timeouts");
    }
    if (cap && tables)
        note(done, sizeof(done), "classification rules and classes, QoE thresholds");
    char exmsg[512] = "";
    int exrc = 0;
    struct fp_exporter *ex = atomic_load(&g_exporter);
    if (ex)
        exrc = fp_exporter_reconfigure(ex, nc, exmsg, sizeof(exmsg));
    if (exrc == -ESHUTDOWN || exrc == -ENOMEM || exrc == -EINVAL) {
        snprintf(err, errlen, "reload: %s", exmsg[0] ? exmsg : strerror(-exrc));
        if (done[0])
            fp_log(FP_LOG_WARNING, "main", "reload: applied before the exporter failed: %s",
                   done);
        free(nc);
        return exrc;
    }
    /* publish; the replaced configuration stays allocated until exit */
    g_old_cfgs[g_n_old_cfgs++] = (struct fp_config *)(uintptr_t)old;
    atomic_store(&g_cfg, nc);
    snprintf(err, errlen, "%s reloaded%s%s; %s%s%s",
             g_conf_file, done[0] ? ": applied " : "", done, exmsg[0] ? exmsg : "no exporter",
             restart[0] ? "; needs a restart (running value kept): " : "", restart);
    fp_log(exrc ? FP_LOG_WARNING : FP_LOG_NOTICE, "main", "reload: %s", err);
    return 0;
}

static int ctl_flows(void *arg, bool (*match)(void *marg, const struct fp_flow_record *r),
                     void *match_arg, struct fp_flow_record *out, unsigned max_per_worker,
                     unsigned *n_out, unsigned timeout_ms)
{
    (void)arg;
    *n_out = 0;
    struct fp_capture *c = atomic_load(&g_capture);
    if (!c)
        return -EAGAIN;
    return fp_capture_query_flows(c, match, match_arg, out, max_per_worker, n_out, timeout_ms);
}

static const struct fp_control_ops ctl_ops = {
    .status = ctl_status,
    .stats = ctl_stats,
    .collector_count = ctl_collector_count,
    .collector = ctl_collector,
    .reload = ctl_reload,
    .flows = ctl_flows,
};

/* daemon.user: hand the spool over, switch user and group for good, say so. */
static int drop_privileges(const struct fp_config *cfg, const struct fp_priv_ids *ids)
{
    char err[512];

    if (cfg->spool_dir[0] && fp_priv_handover(ids, cfg->spool_dir, err, sizeof(err)) != 0) {
        fp_log(FP_LOG_ERR, "main", "daemon.user: export.spool_dir: %s; stopping", err);
        return -1;
    }
    if (fp_priv_drop(ids, err, sizeof(err)) != 0) {
        fp_log(FP_LOG_ERR, "main", "daemon.user: cannot run as %s:%s: %s; stopping", ids->user,
               ids->group, err);
        return -1;
    }
    fp_log(FP_LOG_NOTICE, "main", "running as user %s (uid %u), group %s (gid %u)", ids->user,
           (unsigned)getuid(), ids->group, (unsigned)getgid());
    return 0;
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
        char nf[160] = "";
        if (cs.protocol != FP_EXPORT_PROTOCOL_IPFIX)
            snprintf(nf, sizeof(nf), " (NetFlow v%d: uniflow records, packets; %" PRIu64
                     " IPv6 directions skipped, %" PRIu64 " split records)",
                     cs.protocol == FP_EXPORT_PROTOCOL_NFV5 ? 5 : 9, cs.nf_skipped_ipv6,
                     cs.nf_splits);
        fp_log(cs.records_not_sent ? FP_LOG_WARNING : FP_LOG_NOTICE, "main",
               "collector %u: %" PRIu64 " records, %" PRIu64 " messages, %" PRIu64
               " octets sent; %" PRIu64 " records not sent%s%s%s",
               i, cs.records, cs.messages, cs.octets, cs.records_not_sent, nf,
               cs.last_error[0] ? "; last error: " : "", cs.last_error);
    }
}

/* Exit accounting of the classification engines (nothing when classification is off). */
static void print_classify(const struct fp_capture *c)
{
    struct fp_classify_stats s;
    if (fp_capture_get_classify(c, &s) != 0)
        return;
    fp_log(FP_LOG_NOTICE, "main",
           "classification: flows %" PRIu64 ", inspected %" PRIu64 ", not inspected: pool empty %"
           PRIu64 ", no L4 %" PRIu64 "; decided by rule %" PRIu64 ", dpi %" PRIu64 ", sni %"
           PRIu64 ", host %" PRIu64 ", dns %" PRIu64 ", port %" PRIu64 ", unknown %" PRIu64
           "; gave up %" PRIu64 ", fast path %" PRIu64 ", nDPI packets %" PRIu64,
           s.flows, s.inspected, s.not_inspected_pool_empty, s.not_inspected_no_l4, s.by_rule,
           s.by_dpi, s.by_sni, s.by_host, s.by_dns, s.by_port, s.unknown, s.gave_up, s.fast_path,
           s.dpi_packets);
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
            conf_file = g_conf_file = optarg;
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
        if ((opt == 'r' || opt == 'e' || opt == 'o' || opt == 'w') &&
            g_n_overrides < FP_ARRAY_SIZE(g_overrides))
            g_overrides[g_n_overrides++] = (struct cli_override){opt, optarg};
        else if (opt == 'r' || opt == 'e' || opt == 'o' || opt == 'w')
            fprintf(stderr, "flowpulse: more than %zu command-line settings: the rest are not "
                    "replayed by a reload\n", FP_ARRAY_SIZE(g_overrides));
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
    enum fp_log_level lvl;
    if (fp_log_level_parse(cfg.log_level, &lvl) == 0)
        fp_log_set_level(lvl);
    enum fp_log_target tgt;
    if (fp_log_target_parse(cfg.log_target, &tgt) == 0)
        fp_log_set_target(tgt);
    if (cfg.n_collectors == 0)
        fp_log(FP_LOG_WARNING, "main", "no collector configured: flows are metered, not exported");
    /* daemon.user is looked up now: an unknown user stops before any port is touched. */
    struct fp_priv_ids run_as;
    bool drop = cfg.daemon_user[0] && geteuid() == 0;
    if (cfg.daemon_group[0] && !cfg.daemon_user[0]) {
        fprintf(stderr, "flowpulse: daemon.group: needs daemon.user\n");
        return 2;
    }
    if (cfg.daemon_user[0] &&
        fp_priv_resolve(cfg.daemon_user, cfg.daemon_group, &run_as, err, sizeof(err)) != 0) {
        fprintf(stderr, "flowpulse: %s\n", err);
        return 2;
    }
    if (cfg.daemon_user[0] && !drop)
        fp_log(FP_LOG_NOTICE, "main", "daemon.user ignored: not started as root");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_sighup;
    sigaction(SIGHUP, &sa, NULL);
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
    struct fp_control *ctl = NULL;
    /* Metering only: records carry no classification/QoE part, and there is nothing for
     * FlowPulse's enterprise elements to say. */
    bool metering_only = !cfg.qoe_enabled && !cfg.classify_enabled;
    fp_export_set_compact(metering_only);
    if (metering_only && cfg.export_enterprise) {
        fp_log(FP_LOG_INFO, "main", "classification and QoE are off: exporting standard "
               "elements only (export.enterprise_elements ignored)");
        cfg.export_enterprise = false;
    }
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
    struct fp_control_params cp = {.socket_path = cfg.control_socket, .ops = &ctl_ops};
    ctl = fp_control_start(&cp);
    if (!ctl)
        fp_log(FP_LOG_WARNING, "main", "control socket %s not created: %s (flowpulsectl cannot "
               "reach this daemon)", cfg.control_socket,
               errno == EADDRINUSE ? "another flowpulse answers there" : strerror(errno));
    atomic_store(&g_control, ctl);
    if (drop && drop_privileges(&cfg, &run_as) != 0)
        goto out_stop;
    if (fp_capture_run(cap) != 0)
        goto out_stop;
    rc = 0;
out_stop:
    fp_exporter_stop(ex);
    {
        struct fp_capture_totals t;
        fp_capture_get_totals(cap, &t);
        print_accounting(&t, ex);
        print_classify(cap);
    }
out:
    atomic_store(&g_control, NULL);
    fp_control_stop(ctl);
    fp_snmp_stop(snmp);
    atomic_store(&g_exporter, NULL);
    atomic_store(&g_capture, NULL);
    fp_exporter_destroy(ex);
    fp_capture_destroy(cap);
    for (unsigned i = 0; i < cfg.workers; i++)
        fp_export_ring_free(rings[i]);
    fp_capture_eal_fini();
    /* every thread is gone: the configurations replaced by reloads can go */
    const struct fp_config *cur = g_cfg;
    if (cur != &cfg)
        free((void *)(uintptr_t)cur);
    for (unsigned i = 0; i < g_n_old_cfgs; i++)
        if (g_old_cfgs[i] != &cfg)
            free(g_old_cfgs[i]);
    free(g_old_cfgs);
    return rc;
}
