/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Config: one table of settings (path, type, range, default, offset, help) drives the
 * defaults, the libconfig file parser, -o overrides, validation and --dump-config.
 * Main thread only (start-up and reload); nothing here runs on the packet path.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp_compiler.h"
#include "config/config.h"
#include "config/config_internal.h"

#define FP_IPFIX_PORT 4739
#define FP_IPFIX_TLS_PORT 4740
#define FP_NETFLOW_PORT 2055
#define PROBLEM_LEN 320
#define PATH_LEN 96

#define CFG_FIELD(f)                                                                           \
    .offset = offsetof(struct fp_config, f), .size = sizeof(((struct fp_config *)0)->f)
#define PORT_FIELD(f)                                                                          \
    .offset = offsetof(struct fp_port_config, f), .size = sizeof(((struct fp_port_config *)0)->f)
#define COLL_FIELD(f)                                                                          \
    .offset = offsetof(struct fp_collector_config, f),                                        \
    .size = sizeof(((struct fp_collector_config *)0)->f)

static const struct fp_config_enum tunnel_names[] = {
    {"inner", 1},
    {"outer", 0},
    {NULL, 0},
};

static const struct fp_config_enum export_mode_names[] = {
    {"all", FP_EXPORT_MODE_ALL},
    {"failover", FP_EXPORT_MODE_FAILOVER},
    {NULL, 0},
};

static const struct fp_config_enum tls_version_names[] = {
    {"1.2", 0},
    {"1.3", 1},
    {NULL, 0},
};

static const struct fp_config_enum log_level_names[] = {
    {"error", 3},
    {"warning", 4},
    {"notice", 5},
    {"info", 6},
    {"debug", 7},
    {NULL, 0},
};

static const struct fp_config_enum log_target_names[] = {
    {"auto", 0},
    {"stderr", 1},
    {"journal", 2},
    {"syslog", 3},
    {NULL, 0},
};

/* Every scalar setting. Sections stay contiguous (the dump relies on it). */
const struct fp_config_setting fp_config_settings[] = {
    {"capture.eal_args", FP_CONFIG_STRING, 0, 0, 0, 0, "--no-huge --no-pci --in-memory", NULL, 0,
     CFG_FIELD(eal_args), "DPDK EAL arguments, space separated"},
    {"capture.workers", FP_CONFIG_INT, 0, 1, FP_MAX_WORKERS, 1, NULL, NULL, 0, CFG_FIELD(workers),
     "worker lcores, one RX queue each"},
    {"capture.burst", FP_CONFIG_INT, 0, 1, 256, 32, NULL, NULL, 0, CFG_FIELD(burst),
     "packets per RX burst"},
    {"capture.mbufs", FP_CONFIG_INT, 0, 0, 16777216, 0, NULL, NULL, 0, CFG_FIELD(mbufs),
     "mbufs in the RX packet pool, 0 = sized automatically"},
    {"capture.mbuf_size", FP_CONFIG_INT, 0, 256, 65535, 2176, NULL, NULL, 0, CFG_FIELD(mbuf_size),
     "data room of each mbuf in bytes, 128 of them headroom"},
    {"capture.rx_desc", FP_CONFIG_INT, 0, 64, 32768, 1024, NULL, NULL, 0, CFG_FIELD(rx_desc),
     "RX descriptors per queue"},
    {"capture.dist_ring_size", FP_CONFIG_INT, FP_CONFIG_F_POW2, 64, 1048576, 4096, NULL, NULL, 0,
     CFG_FIELD(dist_ring_size), "distributor to worker ring entries"},
    {"capture.progress", FP_CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, 0, CFG_FIELD(progress),
     "show progress when stderr is a terminal"},
    {"capture.duration", FP_CONFIG_DURATION, 0, 0, 31536000, 0, NULL, NULL, 1,
     CFG_FIELD(duration_s),
     "stop capturing after N whole seconds, 0 = no limit"},
    {"capture.pace", FP_CONFIG_DURATION, 0, 0, 1000000, 0, NULL, NULL, 1000,
     CFG_FIELD(pace_milli),
     "replay speed of -r: 0 = as fast as possible, 1 = the capture's own timing, 2 = twice"},
    {"capture.pace_max_gap", FP_CONFIG_DURATION, 0, 0, 86400000, 5000, NULL, NULL, 1000,
     CFG_FIELD(pace_max_gap_ms), "paced replay: silences longer than this are cut to it"},

    {"decode.tunnels", FP_CONFIG_ENUM, 0, 0, 0, 0, "inner", tunnel_names, 0,
     CFG_FIELD(decap_tunnels), "meter the inner or the outer packet of tunnels"},
    {"decode.vxlan_port", FP_CONFIG_INT, 0, 1, 65535, 4789, NULL, NULL, 0, CFG_FIELD(vxlan_port),
     "UDP destination port recognised as VXLAN"},
    {"decode.gtpu_port", FP_CONFIG_INT, 0, 1, 65535, 2152, NULL, NULL, 0, CFG_FIELD(gtpu_port),
     "UDP port recognised as GTP-U"},

    {"flow.capacity", FP_CONFIG_INT, 0, 1024, 268435456, 1048576, NULL, NULL, 0,
     CFG_FIELD(flow_capacity), "flow entries per worker"},
    {"flow.idle_timeout", FP_CONFIG_DURATION, 0, 10, 86400000, 15000, NULL, NULL, 1000,
     CFG_FIELD(idle_timeout_ms), "seconds without packets before a flow is exported"},
    {"flow.active_timeout", FP_CONFIG_DURATION, 0, 10, 604800000, 60000, NULL, NULL, 1000,
     CFG_FIELD(active_timeout_ms), "seconds after which a long flow is exported and restarted"},
    {"flow.tcp_end_timeout", FP_CONFIG_DURATION, 0, 0, 3600000, 2000, NULL, NULL, 1000,
     CFG_FIELD(tcp_end_ms), "seconds a TCP flow lingers after FIN both ways or RST"},
    {"flow.frag_table_size", FP_CONFIG_INT, FP_CONFIG_F_POW2, 64, 1048576, 4096, NULL, NULL, 0,
     CFG_FIELD(frag_table_size), "fragment id table entries per worker"},

    {"export.observation_domain", FP_CONFIG_INT, 0, 0, UINT32_MAX, 1, NULL, NULL, 0,
     CFG_FIELD(observation_domain), "IPFIX observation domain id"},
    {"export.ring_size", FP_CONFIG_INT, FP_CONFIG_F_POW2, 1024, 16777216, 65536, NULL, NULL, 0,
     CFG_FIELD(export_ring_size), "records per worker to exporter ring"},
    {"export.template_refresh", FP_CONFIG_DURATION, 0, 1, 86400, 60, NULL, NULL, 1,
     CFG_FIELD(template_refresh_s), "UDP: resend templates every N whole seconds"},
    {"export.template_refresh_messages", FP_CONFIG_INT, 0, 0, 1000000, 0, NULL, NULL, 0,
     CFG_FIELD(template_refresh_msgs), "UDP: also resend templates every N messages, 0 = off"},
    {"export.stats_interval", FP_CONFIG_DURATION, 0, 1, 86400, 60, NULL, NULL, 1,
     CFG_FIELD(stats_interval_s), "options (statistics) records every N whole seconds"},
    {"export.enterprise_elements", FP_CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, 0,
     CFG_FIELD(export_enterprise),
     "export FlowPulse's enterprise elements (application, class, QoE, SPLT) and their RFC 5610 "
     "type records"},
    {"export.pen", FP_CONFIG_INT, 0, 1, UINT32_MAX, 32473, NULL, NULL, 0, CFG_FIELD(export_pen),
     "Private Enterprise Number of FlowPulse's elements (32473 = documentation only)"},
    {"export.mode", FP_CONFIG_ENUM, 0, 0, 0, 0, "all", export_mode_names, 0,
     CFG_FIELD(export_mode),
     "all: every collector gets every record; failover: the first healthy TCP/TLS/DTLS one"},
    {"export.retry_min", FP_CONFIG_DURATION, 0, 10, 86400000, 60000, NULL, NULL, 1000,
     CFG_FIELD(retry_min_ms), "TCP/TLS/DTLS: first reconnect delay after a failure, seconds"},
    {"export.retry_max", FP_CONFIG_DURATION, 0, 10, 86400000, 600000, NULL, NULL, 1000,
     CFG_FIELD(retry_max_ms), "TCP/TLS/DTLS: reconnect delay cap (doubling backoff), seconds"},
    {"export.queue_records", FP_CONFIG_INT, 0, 0, 16777216, 16384, NULL, NULL, 0,
     CFG_FIELD(queue_records),
     "TCP/TLS/DTLS: flow records queued in memory while down, 0 = none (spool or drop)"},
    {"export.spool_dir", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(spool_dir),
     "TCP/TLS/DTLS: directory for the on-disk spool beyond the queue, \"\" = none"},
    {"export.spool_max_mb", FP_CONFIG_INT, 0, 1, 1048576, 1024, NULL, NULL, 0,
     CFG_FIELD(spool_max_mb), "spool cap per collector in MiB (oldest dropped beyond it)"},
    {"export.drain_timeout", FP_CONFIG_DURATION, 0, 0, 3600000, 10000, NULL, NULL, 1000,
     CFG_FIELD(drain_timeout_ms), "at stop: seconds to wait for queued records to be sent"},
    {"export.tls_cert", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(tls_cert),
     "TLS/DTLS: exporter certificate chain file (PEM)"},
    {"export.tls_key", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(tls_key),
     "TLS/DTLS: exporter private key file (PEM)"},
    {"export.tls_ca", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(tls_ca),
     "TLS/DTLS: CA bundle file that collector certificates must chain to (PEM)"},
    {"export.tls_ciphers", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(tls_ciphers),
     "TLS 1.2/DTLS cipher list (OpenSSL syntax), \"\" = OpenSSL default"},
    {"export.tls_ciphersuites", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0,
     CFG_FIELD(tls_ciphersuites), "TLS 1.3 cipher suites (OpenSSL syntax), \"\" = default"},
    {"export.tls_min_version", FP_CONFIG_ENUM, FP_CONFIG_F_ENUM_NAME, 0, 0, 0, "1.2",
     tls_version_names, 0, CFG_FIELD(tls_min_version), "lowest TLS version accepted"},
    {"export.tls_peer_cn", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(tls_peer_cn),
     "TLS/DTLS: Common Names allowed for collector certificates, comma-separated, \"\" = any"},

    {"qoe.enabled", FP_CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, 0, CFG_FIELD(qoe_enabled),
     "measure quality of experience per flow (TCP, DNS, RTP, video, gaming, score, SPLT)"},
    {"qoe.splt_packets", FP_CONFIG_INT, 0, 0, 20, 20, NULL, NULL, 0, CFG_FIELD(splt_packets),
     "packets of each flow recorded in the SPLT lists (length, direction, inter-arrival)"},
    {"qoe.video_burst_gap", FP_CONFIG_DURATION, 0, 1, 60000, 200, NULL, NULL, 1000,
     CFG_FIELD(qoe_video_burst_gap_ms), "video: server silence that separates two bursts"},
    {"qoe.video_stall_rate", FP_CONFIG_INT, 0, 0, 1000000000, 300000, NULL, NULL, 0,
     CFG_FIELD(qoe_video_stall_bps), "video: 1 s bin inside a burst below this bit/s = stall"},
    {"qoe.game_spike", FP_CONFIG_DURATION, 0, 1, 60000, 150, NULL, NULL, 1000,
     CFG_FIELD(qoe_game_spike_ms), "gaming: request/response latency counted as a lag spike"},
    {"qoe.game_gap", FP_CONFIG_DURATION, 0, 1, 60000, 250, NULL, NULL, 1000,
     CFG_FIELD(qoe_game_gap_ms), "gaming: server-to-client silence counted as a gap"},
    {"qoe.rtp_latency", FP_CONFIG_DURATION, 0, 0, 10000, 0, NULL, NULL, 1000,
     CFG_FIELD(qoe_rtp_latency_ms), "one-way network latency assumed by the RTP E-model (MOS)"},

    {"classify.enabled", FP_CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, 0, CFG_FIELD(classify_enabled),
     "identify each flow's application and class (nDPI, SNI, DNS names, rules)"},
    {"classify.max_packets", FP_CONFIG_INT, 0, 1, 255, 12, NULL, NULL, 0,
     CFG_FIELD(classify_max_packets), "packets inspected per flow before giving up"},
    {"classify.contexts", FP_CONFIG_INT, 0, 1, 16777216, 8192, NULL, NULL, 0,
     CFG_FIELD(classify_contexts), "inspection contexts per worker (flows inspected at once)"},
    {"classify.dns_cache", FP_CONFIG_INT, 0, 4, 16777216, 65536, NULL, NULL, 0,
     CFG_FIELD(classify_dns_cache), "DNS answer cache entries per worker (address -> name)"},
    {"classify.classes", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(classify_classes),
     "application -> class table file, \"\" = the built-in copy of conf/app-classes.conf"},

    {"snmp.enabled", FP_CONFIG_BOOL, 0, 0, 1, 0, NULL, NULL, 0, CFG_FIELD(snmp_enabled),
     "run the AgentX subagent (FLOWPULSE-MIB, IPFIX-MIB) towards the host's snmpd"},
    {"snmp.agentx_socket", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(snmp_socket),
     "AgentX master socket: /path, unix:/path or tcp:HOST:PORT (\"\" = net-snmp default)"},
    {"snmp.refresh", FP_CONFIG_DURATION, 0, 100, 60000, 1000, NULL, NULL, 1000,
     CFG_FIELD(snmp_refresh_ms), "answers come from a snapshot at most this old"},
    {"snmp.drop_threshold", FP_CONFIG_INT, 0, 0, 2147483647, 0, NULL, NULL, 0,
     CFG_FIELD(snmp_drop_threshold), "send fpDropsAboveThreshold above this many drops/s (0 = off)"},

    {"control.socket", FP_CONFIG_STRING, 0, 0, 0, 0, "/run/flowpulse/control.sock", NULL, 0,
     CFG_FIELD(control_socket),
     "Unix socket of flowpulsectl (mode 0660, directory created if missing), \"\" = off"},

    {"daemon.user", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(daemon_user),
     "when started as root: user to run as once capture and export are set up, \"\" = stay"},
    {"daemon.group", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, CFG_FIELD(daemon_group),
     "group to run as with daemon.user, \"\" = the user's primary group"},

    {"log.level", FP_CONFIG_ENUM, FP_CONFIG_F_ENUM_NAME, 0, 0, 0, "info", log_level_names, 0,
     CFG_FIELD(log_level), "most verbose level logged"},
    {"log.target", FP_CONFIG_ENUM, FP_CONFIG_F_ENUM_NAME, 0, 0, 0, "auto", log_target_names, 0,
     CFG_FIELD(log_target),
     "auto (journal under systemd, else stderr), stderr, journal (<N> prefixes) or syslog"},
};
const size_t fp_config_n_settings = FP_ARRAY_SIZE(fp_config_settings);

static const struct fp_config_setting port_settings[] = {
    {"device", FP_CONFIG_STRING, FP_CONFIG_F_REQUIRED, 0, 0, 0, "", NULL, 0, PORT_FIELD(device),
     "PCI address, or vdev spec such as \"net_pcap0,rx_pcap=FILE\""},
    {"rx_queues", FP_CONFIG_INT, 0, 0, FP_MAX_WORKERS, 0, NULL, NULL, 0, PORT_FIELD(rx_queues),
     "RX queues, 0 = one per worker"},
};

#define RULE_FIELD(f)                                                                          \
    .offset = offsetof(struct fp_classify_rule_config, f),                                    \
    .size = sizeof(((struct fp_classify_rule_config *)0)->f)

static const struct fp_config_enum app_class_names[] = {
    {"unknown", 0},      {"video", 1},          {"conferencing", 2}, {"gaming", 3},
    {"software-update", 4}, {"social-media", 5}, {"file-storage", 6}, {"messaging", 7},
    {"music", 8},        {"web", 9},            {"email", 10},       {"vpn", 11},
    {"remote-access", 12}, {"infrastructure", 13}, {NULL, 0},
};

static const struct fp_config_setting rule_settings[] = {
    {"name_suffix", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, RULE_FIELD(name_suffix),
     "SNI, HTTP Host or DNS name equal to it or ending in .SUFFIX (\"\" = any)"},
    {"prefix", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, RULE_FIELD(prefix),
     "address or CIDR prefix matching either end of the flow (\"\" = any)"},
    {"port", FP_CONFIG_INT, 0, 0, 65535, 0, NULL, NULL, 0, RULE_FIELD(port),
     "responder (server) port, 0 = any"},
    {"proto", FP_CONFIG_INT, 0, 0, 255, 0, NULL, NULL, 0, RULE_FIELD(proto),
     "IP protocol number (6 TCP, 17 UDP), 0 = any"},
    {"app", FP_CONFIG_STRING, FP_CONFIG_F_REQUIRED, 0, 0, 0, "", NULL, 0, RULE_FIELD(app),
     "application name reported for matching flows"},
    {"class", FP_CONFIG_ENUM, FP_CONFIG_F_REQUIRED | FP_CONFIG_F_ENUM_NAME, 0, 0, 0, "unknown",
     app_class_names, 0, RULE_FIELD(cls), "FlowPulse class of matching flows"},
};

static void fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static const char *fmt_seconds(char *buf, size_t len, long long v, unsigned scale);

/* Element check of classify.rules: what fp_classify_rules_create() refuses, caught here so the
 * message names the file and line. */
static bool valid_prefix(const char *s)
{
    char buf[64];
    unsigned char a[16];
    if (strlen(s) >= sizeof(buf))
        return false;
    snprintf(buf, sizeof(buf), "%s", s);
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash != NULL) {
        char *end;
        *slash = '\0';
        errno = 0;
        plen = strtol(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || plen < 0 || errno != 0)
            return false;
    }
    unsigned bits;
    if (inet_pton(AF_INET, buf, a) == 1)
        bits = 32;
    else if (inet_pton(AF_INET6, buf, a) == 1)
        bits = 128;
    else
        return false;
    if (plen > (long)bits)
        return false;
    for (unsigned b = plen < 0 ? bits : (unsigned)plen; b < bits; b++)
        if (a[b / 8] & (0x80 >> (b % 8)))
            return false;
    return true;
}

static const char *rule_check(const void *elems, unsigned i, char *problem, size_t len)
{
    const struct fp_classify_rule_config *r = (const struct fp_classify_rule_config *)elems + i;
    if (r->prefix[0] != '\0' && !valid_prefix(r->prefix)) {
        fmt(problem, len, "\"%s\" is not ADDRESS[/LEN] with zero host bits", r->prefix);
        return "prefix";
    }
    const char *suf = r->name_suffix;
    suf += strncmp(suf, "*.", 2) == 0 ? 2 : *suf == '.' ? 1 : 0;
    if (*suf == '\0' && r->prefix[0] == '\0' && r->port == 0 && r->proto == 0) {
        fmt(problem, len, "needs a criterion (name_suffix, prefix, port or proto)");
        return "";
    }
    return NULL;
}

/* qoe.thresholds: QoE classes and metrics in the order of src/qoe's enums (a unit test
 * compares them), with the unit each metric is written in. */
#define THR_FIELD(f)                                                                           \
    .offset = offsetof(struct fp_qoe_threshold_config, f),                                    \
    .size = sizeof(((struct fp_qoe_threshold_config *)0)->f)
#define MILLION 1000000LL

static const struct fp_config_enum qoe_class_names[] = {
    {"unknown", 0}, {"web", 1}, {"video", 2}, {"conferencing", 3}, {"gaming", 4}, {"dns", 5},
    {"bulk", 6},    {NULL, 0},
};

static const struct fp_config_enum qoe_metric_names[] = {
    {"rtt", 0},           {"art", 1},           {"retx_permille", 2}, {"tls_handshake", 3},
    {"dns_time", 4},      {"dns_fail", 5},      {"mos", 6},           {"rtp_loss_permille", 7},
    {"rtp_jitter", 8},    {"video_kbps", 9},    {"video_stall_bins", 10},
    {"game_latency", 11}, {"game_jitter", 12},  {"game_spikes", 13},  {NULL, 0},
};
FP_STATIC_ASSERT(FP_ARRAY_SIZE(qoe_metric_names) == FP_CONFIG_QOE_METRICS + 1, "metric table");

/* Per metric: millionths of the file unit per integer unit of src/qoe (= the resolution),
 * the largest value in the file unit, and the unit's name. */
static const struct {
    long long per;
    long long max;
    const char *unit;
} qoe_metric_units[FP_CONFIG_QOE_METRICS] = {
    {1, 3600, "s"},  {1, 3600, "s"},   {MILLION, 1000, "permille"}, {1, 3600, "s"},
    {1, 3600, "s"},  {MILLION, 1, "(0 or 1)"}, {10000, 5, "MOS"},  {MILLION, 1000, "permille"},
    {1, 3600, "s"},  {MILLION, 100000000, "kbit/s"}, {MILLION, 65535, "bins"},
    {1, 3600, "s"},  {1, 3600, "s"},   {MILLION, 65535, "spikes"},
};

int64_t fp_config_qoe_value(unsigned metric, int64_t millionths)
{
    if (metric >= FP_CONFIG_QOE_METRICS)
        return 0;
    return millionths / qoe_metric_units[metric].per;
}

static bool qoe_threshold_value_bad(const struct fp_qoe_threshold_config *t, int64_t v,
                                    char *problem, size_t len)
{
    char a[32], b[32];
    long long per = qoe_metric_units[t->metric].per, max = qoe_metric_units[t->metric].max;
    const char *name = qoe_metric_names[t->metric].name;
    if (v > max * MILLION) {
        fmt(problem, len, "%s is above %lld %s, the largest %s", fmt_seconds(a, sizeof(a), v,
            MILLION), max, qoe_metric_units[t->metric].unit, name);
        return true;
    }
    if (v % per != 0) {
        fmt(problem, len, "%s is finer than the resolution of %s (%s %s)",
            fmt_seconds(a, sizeof(a), v, MILLION), name, fmt_seconds(b, sizeof(b), per, MILLION),
            qoe_metric_units[t->metric].unit);
        return true;
    }
    return false;
}

static const char *qoe_threshold_check(const void *elems, unsigned i, char *problem, size_t len)
{
    const struct fp_qoe_threshold_config *all = elems, *t = &all[i];
    if (t->metric >= FP_CONFIG_QOE_METRICS || t->cls >= FP_ARRAY_SIZE(qoe_class_names) - 1) {
        fmt(problem, len, "invalid class or metric");
        return "";
    }
    if (qoe_threshold_value_bad(t, t->good, problem, len))
        return "good";
    if (qoe_threshold_value_bad(t, t->bad, problem, len))
        return "bad";
    if (t->good == t->bad) {
        fmt(problem, len, "equal to good (the sub-score needs good != bad)");
        return "bad";
    }
    for (unsigned j = 0; j < i; j++) {
        if (all[j].cls == t->cls && all[j].metric == t->metric) {
            fmt(problem, len, "class \"%s\" metric \"%s\" is already set by qoe.thresholds[%u]",
                qoe_class_names[t->cls].name, qoe_metric_names[t->metric].name, j);
            return "metric";
        }
    }
    return NULL;
}

static const struct fp_config_setting qoe_threshold_settings[] = {
    {"class", FP_CONFIG_ENUM, FP_CONFIG_F_REQUIRED, 0, 0, 0, "unknown", qoe_class_names, 0,
     THR_FIELD(cls), "QoE class: unknown, web, video, conferencing, gaming, dns or bulk"},
    {"metric", FP_CONFIG_ENUM, FP_CONFIG_F_REQUIRED, 0, 0, 0, "rtt", qoe_metric_names, 0,
     THR_FIELD(metric), "metric (flowpulse.conf.example lists them with their units)"},
    {"good", FP_CONFIG_DECIMAL, FP_CONFIG_F_REQUIRED, 0, 100000000 * MILLION, 0, NULL, NULL,
     MILLION, THR_FIELD(good), "value with sub-score 100 (seconds, MOS, permille, kbit/s, count)"},
    {"bad", FP_CONFIG_DECIMAL, FP_CONFIG_F_REQUIRED, 0, 100000000 * MILLION, 0, NULL, NULL,
     MILLION, THR_FIELD(bad), "value with sub-score 0 (below good for higher-is-better metrics)"},
    {"weight", FP_CONFIG_INT, 0, 0, 1000, 1, NULL, NULL, 0, THR_FIELD(weight),
     "weight of the metric in the class's mean, 0 = not used"},
};

static const struct fp_config_setting collector_settings[] = {
    {"url", FP_CONFIG_URL, FP_CONFIG_F_REQUIRED, 0, 0, 0, "", NULL, 0, COLL_FIELD(url),
     "udp://, tcp:// (port 4739), tls://, dtls:// (port 4740), nfv9+udp://, nfv5+udp:// "
     "(NetFlow, port 2055) HOST[:PORT], or file:PATH"},
    {"biflow", FP_CONFIG_BOOL, 0, 0, 1, 0, NULL, NULL, 0, COLL_FIELD(biflow),
     "RFC 5103 biflow records instead of two uniflows"},
    {"mtu", FP_CONFIG_INT, 0, 512, 65000, 1400, NULL, NULL, 0, COLL_FIELD(mtu),
     "UDP/DTLS: largest IPFIX message in bytes (NetFlow v9: packet, at most 9000; v5: unused)"},
    {"server_name", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, COLL_FIELD(server_name),
     "TLS/DTLS: name the collector certificate must carry, \"\" = the URL host"},
    {"peer_cn", FP_CONFIG_STRING, 0, 0, 0, 0, "", NULL, 0, COLL_FIELD(peer_cn),
     "TLS/DTLS: Common Names allowed for this collector's certificate, comma-separated, "
     "\"\" = export.tls_peer_cn"},
};

const struct fp_config_list fp_config_lists[] = {
    {"capture.ports", port_settings, FP_ARRAY_SIZE(port_settings), sizeof(struct fp_port_config),
     offsetof(struct fp_config, ports), offsetof(struct fp_config, n_ports), FP_MAX_PORTS,
     "capture ports", NULL},
    {"export.collectors", collector_settings, FP_ARRAY_SIZE(collector_settings),
     sizeof(struct fp_collector_config), offsetof(struct fp_config, collectors),
     offsetof(struct fp_config, n_collectors), FP_MAX_COLLECTORS, "export destinations", NULL},
    {"classify.rules", rule_settings, FP_ARRAY_SIZE(rule_settings),
     sizeof(struct fp_classify_rule_config), offsetof(struct fp_config, classify_rules),
     offsetof(struct fp_config, n_classify_rules), FP_MAX_CLASSIFY_RULES,
     "operator rules: name suffix, prefix, port, protocol -> application and class", rule_check},
    {"qoe.thresholds", qoe_threshold_settings, FP_ARRAY_SIZE(qoe_threshold_settings),
     sizeof(struct fp_qoe_threshold_config), offsetof(struct fp_config, qoe_thresholds),
     offsetof(struct fp_config, n_qoe_thresholds), FP_MAX_QOE_THRESHOLDS,
     "QoE score thresholds per class and metric, over the built-in table", qoe_threshold_check},
};
const size_t fp_config_n_lists = FP_ARRAY_SIZE(fp_config_lists);

FP_STATIC_ASSERT(sizeof(((struct fp_config *)0)->n_ports) == sizeof(unsigned), "count type");
FP_STATIC_ASSERT(sizeof(((struct fp_config *)0)->n_collectors) == sizeof(unsigned), "count");

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                            */

static void __attribute__((format(printf, 3, 4)))
fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, f);
    vsnprintf(buf, len, f, ap);
    va_end(ap);
}

static bool is_pow2(unsigned long long v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* Zero-fill the whole field then copy, so equal configs compare equal byte for byte. */
static int copy_str(char *dst, size_t size, const char *src, char *problem)
{
    size_t n = strlen(src);

    if (n >= size) {
        fmt(problem, PROBLEM_LEN, "string too long (%zu characters, at most %zu)", n, size - 1);
        return -EINVAL;
    }
    memset(dst, 0, size);
    memcpy(dst, src, n);
    return 0;
}

static void store_int(void *base, const struct fp_config_setting *s, long long v)
{
    char *p = (char *)base + s->offset;

    switch (s->size) {
    case 1: {
        uint8_t x = (uint8_t)v;
        memcpy(p, &x, 1);
        break;
    }
    case 2: {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, 4);
        break;
    }
    default: {
        uint64_t x = (uint64_t)v;
        memcpy(p, &x, 8);
        break;
    }
    }
}

static long long load_int(const void *base, const struct fp_config_setting *s)
{
    const char *p = (const char *)base + s->offset;
    bool sig = s->min < 0;

    switch (s->size) {
    case 1: {
        uint8_t x;
        memcpy(&x, p, 1);
        return sig ? (int8_t)x : x;
    }
    case 2: {
        uint16_t x;
        memcpy(&x, p, 2);
        return sig ? (int16_t)x : x;
    }
    case 4: {
        uint32_t x;
        memcpy(&x, p, 4);
        return sig ? (long long)(int32_t)x : (long long)x;
    }
    default: {
        uint64_t x;
        memcpy(&x, p, 8);
        return (long long)x;
    }
    }
}

/* "15", "0.5", "0.015": a duration (or decimal) in stored units printed as seconds. */
static const char *fmt_seconds(char *buf, size_t len, long long v, unsigned scale)
{
    if (scale <= 1 || v % (long long)scale == 0) {
        snprintf(buf, len, "%lld", scale > 1 ? v / (long long)scale : v);
        return buf;
    }
    char frac[24];
    snprintf(frac, sizeof(frac), "%lld", llabs(v) % scale + (long long)scale); /* "1" + digits */
    if (snprintf(buf, len, "%s%lld.%s", v < 0 ? "-" : "", llabs(v) / scale, frac + 1) < 0)
        buf[0] = '\0';
    for (size_t n = strlen(buf); n > 0 && buf[n - 1] == '0'; n--)
        buf[n - 1] = '\0';
    return buf;
}

static const struct fp_config_enum *enum_by_name(const struct fp_config_setting *s,
                                                 const char *name)
{
    for (const struct fp_config_enum *e = s->enums; e->name != NULL; e++)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

static void enum_expected(const struct fp_config_setting *s, const char *got, char *problem)
{
    char list[160] = "";
    size_t off = 0;

    for (const struct fp_config_enum *e = s->enums; e->name != NULL && off < sizeof(list); e++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", e->name);
    fmt(problem, PROBLEM_LEN, "invalid value \"%s\" (expected one of: %s)", got, list);
}

/* Name of an enum setting's current value; NULL if the stored value matches none. */
static const char *enum_current(const void *base, const struct fp_config_setting *s)
{
    if (s->flags & FP_CONFIG_F_ENUM_NAME) {
        const char *cur = (const char *)base + s->offset;
        if (memchr(cur, '\0', s->size) == NULL)
            return NULL;
        const struct fp_config_enum *e = enum_by_name(s, cur);
        return e ? e->name : NULL;
    }
    long long v = load_int(base, s);
    for (const struct fp_config_enum *e = s->enums; e->name != NULL; e++)
        if (e->value == v)
            return e->name;
    return NULL;
}

static int store_enum(void *base, const struct fp_config_setting *s, const char *name,
                      char *problem)
{
    const struct fp_config_enum *e = enum_by_name(s, name);

    if (e == NULL) {
        enum_expected(s, name, problem);
        return -EINVAL;
    }
    if (s->flags & FP_CONFIG_F_ENUM_NAME)
        return copy_str((char *)base + s->offset, s->size, e->name, problem);
    store_int(base, s, e->value); /* bool fields get 0 or 1 */
    return 0;
}

/* Range and power-of-two check of an INT or DURATION value in stored units. */
static int check_number(const struct fp_config_setting *s, long long v, char *problem)
{
    char a[32], b[32], c[32];

    if (v < s->min || v > s->max) {
        const char *u = s->type == FP_CONFIG_DURATION ? " s" : "";
        if (s->type == FP_CONFIG_DURATION || s->type == FP_CONFIG_DECIMAL)
            fmt(problem, PROBLEM_LEN, "%s%s is out of range (%s..%s%s)",
                fmt_seconds(a, sizeof(a), v, s->scale), u,
                fmt_seconds(b, sizeof(b), s->min, s->scale),
                fmt_seconds(c, sizeof(c), s->max, s->scale), u);
        else
            fmt(problem, PROBLEM_LEN, "%lld is out of range (%lld..%lld)", v, s->min, s->max);
        return -EINVAL;
    }
    if ((s->flags & FP_CONFIG_F_POW2) && !is_pow2((unsigned long long)v)) {
        fmt(problem, PROBLEM_LEN, "%lld is not a power of two", v);
        return -EINVAL;
    }
    return 0;
}

/* Seconds (as written) → stored units, exactly representable or an error. */
static int seconds_to_units(const struct fp_config_setting *s, double sec, long long *out,
                            char *problem)
{
    char a[32], b[32];
    const char *u = s->type == FP_CONFIG_DURATION ? " s" : "";

    if (!isfinite(sec) || fabs(sec) > 1e12) {
        fmt(problem, PROBLEM_LEN, "%g%s is out of range (%s..%s%s)", sec, u,
            fmt_seconds(a, sizeof(a), s->min, s->scale),
            fmt_seconds(b, sizeof(b), s->max, s->scale), u);
        return -EINVAL;
    }
    double units = sec * s->scale;
    double r = nearbyint(units);
    if (fabs(units - r) > 1e-6) {
        if (s->scale == 1)
            fmt(problem, PROBLEM_LEN, "%g%s is not a whole number%s", sec, u,
                *u ? " of seconds" : "");
        else
            fmt(problem, PROBLEM_LEN, "%g%s is finer than the resolution of 1/%u%s", sec, u,
                s->scale, u);
        return -EINVAL;
    }
    *out = (long long)r;
    return 0;
}

static void set_default(void *base, const struct fp_config_setting *s)
{
    char ignored[PROBLEM_LEN];

    switch (s->type) {
    case FP_CONFIG_BOOL:
        *(bool *)((char *)base + s->offset) = s->def != 0;
        break;
    case FP_CONFIG_INT:
    case FP_CONFIG_DURATION:
    case FP_CONFIG_DECIMAL:
        store_int(base, s, s->def);
        break;
    case FP_CONFIG_STRING:
    case FP_CONFIG_URL:
        (void)copy_str((char *)base + s->offset, s->size, s->def_str, ignored);
        break;
    case FP_CONFIG_ENUM:
        (void)store_enum(base, s, s->def_str, ignored);
        break;
    }
}

static const struct fp_config_setting *find_setting(const char *path)
{
    for (size_t i = 0; i < fp_config_n_settings; i++)
        if (strcmp(fp_config_settings[i].path, path) == 0)
            return &fp_config_settings[i];
    return NULL;
}

static const struct fp_config_list *find_list(const char *path)
{
    for (size_t i = 0; i < fp_config_n_lists; i++)
        if (strcmp(fp_config_lists[i].path, path) == 0)
            return &fp_config_lists[i];
    return NULL;
}

/* Is @p name (length n) a section, i.e. the prefix before '.' of some setting? */
static bool is_section(const char *name, size_t n)
{
    for (size_t i = 0; i < fp_config_n_settings; i++) {
        const char *p = fp_config_settings[i].path;
        if (strncmp(p, name, n) == 0 && p[n] == '.')
            return true;
    }
    for (size_t i = 0; i < fp_config_n_lists; i++) {
        const char *p = fp_config_lists[i].path;
        if (strncmp(p, name, n) == 0 && p[n] == '.')
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------- */
/* "Did you mean": edit distance against the known names                                   */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[PATH_LEN + 1];

    if (lb > PATH_LEN || la > PATH_LEN)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            best = FP_MIN(best, up + 1);
            best = FP_MIN(best, row[j - 1] + 1);
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *leaf(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

struct suggestion {
    char best[PATH_LEN];
    size_t dist;
};

static void consider(const char *unknown, const char *cand, size_t cand_len, struct suggestion *sg)
{
    char c[PATH_LEN];
    snprintf(c, sizeof(c), "%.*s", (int)cand_len, cand);
    size_t d = edit_distance(unknown, c);
    size_t d_leaf = edit_distance(leaf(unknown), leaf(c));

    if (d_leaf != SIZE_MAX && d_leaf + 1 < d)
        d = d_leaf + 1; /* right name, wrong section */
    if (d < sg->dist) {
        sg->dist = d;
        memcpy(sg->best, c, sizeof(c));
    }
}

/* Closest known name to @p unknown among sections, scalar and list settings (or among an
 * element table when @p elem is set). @return the suggestion, or NULL when none is close. */
static const char *suggest(const char *unknown, const struct fp_config_setting *elem, size_t n,
                           struct suggestion *sg)
{
    sg->dist = SIZE_MAX;
    sg->best[0] = '\0';
    if (elem != NULL) {
        for (size_t i = 0; i < n; i++)
            consider(unknown, elem[i].path, strlen(elem[i].path), sg);
    } else {
        for (size_t i = 0; i < fp_config_n_settings; i++) {
            const char *p = fp_config_settings[i].path;
            consider(unknown, p, strlen(p), sg);
            consider(unknown, p, strcspn(p, "."), sg); /* the section */
        }
        for (size_t i = 0; i < fp_config_n_lists; i++)
            consider(unknown, fp_config_lists[i].path, strlen(fp_config_lists[i].path), sg);
    }
    size_t limit = FP_MAX((size_t)2, strlen(leaf(unknown)) / 3);
    return sg->dist <= limit ? sg->best : NULL;
}

static void unknown_problem(const char *name, const struct fp_config_setting *elem, size_t n,
                            char *problem)
{
    struct suggestion sg;
    const char *s = suggest(name, elem, n, &sg);

    if (s != NULL)
        fmt(problem, PROBLEM_LEN, "unknown setting (did you mean \"%s\"?)", s);
    else
        fmt(problem, PROBLEM_LEN, "unknown setting");
}

/* ---------------------------------------------------------------------------------------- */
/* Collector URLs. One row per scheme; tls://, dtls://, nfv9+udp:// are new rows.           */

enum url_form {
    URL_HOST_PORT, /* SCHEME://HOST[:PORT] */
    URL_PATH,      /* SCHEME:PATH */
};

struct url_scheme {
    const char *name;
    enum url_form form;
    enum fp_transport transport;
    uint16_t default_port;
    enum fp_export_protocol protocol;
};

static const struct url_scheme url_schemes[] = {
    {"udp", URL_HOST_PORT, FP_TRANSPORT_UDP, FP_IPFIX_PORT, FP_EXPORT_PROTOCOL_IPFIX},
    {"tcp", URL_HOST_PORT, FP_TRANSPORT_TCP, FP_IPFIX_PORT, FP_EXPORT_PROTOCOL_IPFIX},
    {"tls", URL_HOST_PORT, FP_TRANSPORT_TLS, FP_IPFIX_TLS_PORT, FP_EXPORT_PROTOCOL_IPFIX},
    {"dtls", URL_HOST_PORT, FP_TRANSPORT_DTLS, FP_IPFIX_TLS_PORT, FP_EXPORT_PROTOCOL_IPFIX},
    {"file", URL_PATH, FP_TRANSPORT_FILE, 0, FP_EXPORT_PROTOCOL_IPFIX},
    {"nfv9+udp", URL_HOST_PORT, FP_TRANSPORT_UDP, FP_NETFLOW_PORT, FP_EXPORT_PROTOCOL_NFV9},
    {"nfv5+udp", URL_HOST_PORT, FP_TRANSPORT_UDP, FP_NETFLOW_PORT, FP_EXPORT_PROTOCOL_NFV5},
};

static void schemes_expected(char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < FP_ARRAY_SIZE(url_schemes) && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s%s", i ? ", " : "",
                                url_schemes[i].name,
                                url_schemes[i].form == URL_HOST_PORT ? "://" : ":");
}

/* RFC 1123 host name: dot-separated labels of letters, digits and '-', 1..63 each. */
static bool valid_hostname(const char *h)
{
    size_t label = 0, total = strlen(h);

    if (total == 0 || total > 253)
        return false;
    for (const char *p = h; *p != '\0'; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
            if (label == 0 && *p == '-')
                return false;
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label != 0 && h[total - 1] != '-';
}

static bool all_digits_and_dots(const char *h)
{
    for (; *h != '\0'; h++)
        if (!isdigit((unsigned char)*h) && *h != '.')
            return false;
    return true;
}

static int parse_host_port(struct fp_collector_config *out, const struct url_scheme *sc,
                           const char *rest, char *problem)
{
    char host[FP_CONFIG_STR];
    const char *port_str = NULL;
    size_t hl;

    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL) {
            fmt(problem, PROBLEM_LEN, "missing ']' after IPv6 address");
            return -EINVAL;
        }
        hl = (size_t)(close - rest - 1);
        if (hl == 0 || hl >= sizeof(host)) {
            fmt(problem, PROBLEM_LEN, "invalid IPv6 address \"%.*s\"", (int)hl, rest + 1);
            return -EINVAL;
        }
        memcpy(host, rest + 1, hl);
        host[hl] = '\0';
        char addr[FP_CONFIG_STR];
        memcpy(addr, host, hl + 1);
        char *zone = strchr(addr, '%'); /* fe80::1%eth0: zone ids are passed through */
        if (zone != NULL)
            *zone = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, addr, &a6) != 1 || (zone != NULL && zone[1] == '\0')) {
            fmt(problem, PROBLEM_LEN, "invalid IPv6 address \"%s\"", host);
            return -EINVAL;
        }
        if (close[1] == ':') {
            port_str = close + 2;
        } else if (close[1] != '\0') {
            fmt(problem, PROBLEM_LEN, "unexpected \"%s\" after the address (expected :PORT)",
                close + 1);
            return -EINVAL;
        }
    } else {
        const char *colon = strchr(rest, ':');
        hl = colon ? (size_t)(colon - rest) : strlen(rest);
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            fmt(problem, PROBLEM_LEN, "IPv6 addresses must be in brackets, e.g. udp://[::1]:%u",
                (unsigned)sc->default_port);
            return -EINVAL;
        }
        if (hl == 0) {
            fmt(problem, PROBLEM_LEN, "missing host");
            return -EINVAL;
        }
        if (hl >= sizeof(host)) {
            fmt(problem, PROBLEM_LEN, "host name too long");
            return -EINVAL;
        }
        memcpy(host, rest, hl);
        host[hl] = '\0';
        if (strchr(host, '/') != NULL) {
            fmt(problem, PROBLEM_LEN, "unexpected path in \"%s\" (expected HOST[:PORT])", host);
            return -EINVAL;
        }
        if (all_digits_and_dots(host)) {
            struct in_addr a4;
            if (inet_pton(AF_INET, host, &a4) != 1) {
                fmt(problem, PROBLEM_LEN, "invalid IPv4 address \"%s\"", host);
                return -EINVAL;
            }
        } else if (!valid_hostname(host)) {
            fmt(problem, PROBLEM_LEN, "invalid host name \"%s\"", host);
            return -EINVAL;
        }
        port_str = colon ? colon + 1 : NULL;
    }

    unsigned long port = sc->default_port;
    if (port_str != NULL) {
        char *end;
        if (port_str[0] == '\0') {
            fmt(problem, PROBLEM_LEN, "missing port after ':'");
            return -EINVAL;
        }
        if (!isdigit((unsigned char)port_str[0])) {
            fmt(problem, PROBLEM_LEN, "invalid port \"%s\" (expected 1..65535)", port_str);
            return -EINVAL;
        }
        errno = 0;
        port = strtoul(port_str, &end, 10);
        if (*end == '/') {
            fmt(problem, PROBLEM_LEN, "unexpected path \"%s\" after the port", end);
            return -EINVAL;
        }
        if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
            fmt(problem, PROBLEM_LEN, "invalid port \"%s\" (expected 1..65535)", port_str);
            return -EINVAL;
        }
    }
    memcpy(out->host, host, strlen(host) + 1);
    out->port = (uint16_t)port;
    return 0;
}

/* Parse @p url into the address fields of @p out (url, transport, host, port, path); leaves
 * biflow and mtu alone. On error @p out is unchanged. */
static int parse_url(struct fp_collector_config *out, const char *url, char *problem)
{
    struct fp_collector_config tmp;
    const struct url_scheme *sc = NULL;
    const char *colon = strchr(url, ':');
    char expected[128];
    size_t nl;

    schemes_expected(expected, sizeof(expected));
    if (colon == NULL) {
        fmt(problem, PROBLEM_LEN, "missing scheme (expected %s)", expected);
        return -EINVAL;
    }
    nl = (size_t)(colon - url);
    for (size_t i = 0; i < FP_ARRAY_SIZE(url_schemes); i++)
        if (strlen(url_schemes[i].name) == nl && strncasecmp(url, url_schemes[i].name, nl) == 0)
            sc = &url_schemes[i];
    if (sc == NULL) {
        fmt(problem, PROBLEM_LEN, "unknown scheme \"%.*s\" (expected %s)", (int)FP_MIN(nl, 32),
            url, expected);
        return -EINVAL;
    }
    memset(&tmp, 0, sizeof(tmp));
    if (copy_str(tmp.url, sizeof(tmp.url), url, problem) < 0)
        return -EINVAL;
    tmp.transport = sc->transport;
    tmp.protocol = sc->protocol;

    const char *rest = colon + 1;
    if (sc->form == URL_HOST_PORT) {
        if (strncmp(rest, "//", 2) != 0) {
            fmt(problem, PROBLEM_LEN, "expected %s://HOST[:PORT]", sc->name);
            return -EINVAL;
        }
        if (parse_host_port(&tmp, sc, rest + 2, problem) < 0)
            return -EINVAL;
    } else {
        if (strncmp(rest, "//", 2) == 0)
            rest += 2; /* file:///tmp/x.ipfix is file:/tmp/x.ipfix */
        if (rest[0] == '\0') {
            fmt(problem, PROBLEM_LEN, "missing path (expected %s:PATH)", sc->name);
            return -EINVAL;
        }
        memcpy(tmp.path, rest, strlen(rest) + 1); /* shorter than url */
    }
    memcpy(out->url, tmp.url, sizeof(out->url));
    out->transport = tmp.transport;
    out->protocol = tmp.protocol;
    memcpy(out->host, tmp.host, sizeof(out->host));
    out->port = tmp.port;
    memcpy(out->path, tmp.path, sizeof(out->path));
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* libconfig values                                                                          */

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

static const char *wanted_name(enum fp_config_type t)
{
    switch (t) {
    case FP_CONFIG_BOOL:
        return "a boolean (true or false)";
    case FP_CONFIG_INT:
        return "an integer";
    case FP_CONFIG_DURATION:
        return "a number of seconds";
    case FP_CONFIG_DECIMAL:
        return "a number";
    default:
        return "a string";
    }
}

struct load_ctx;
static const char *source_file(const struct load_ctx *L, const config_setting_t *cs, char *buf,
                               size_t len);

/*
 * libconfig 1.5 silently truncates decimal and hex literals beyond 32 bits unless they carry
 * an L suffix (4294967296 reads as 0). Re-read the literal from the source line and refuse a
 * mismatch, so a large value cannot turn into a different valid one.
 */
static bool int_literal_truncated(const struct load_ctx *L, const config_setting_t *cs,
                                  long long got)
{
    char buf[PATH_MAX];
    const char *file = source_file(L, cs, buf, sizeof(buf));
    const char *name = config_setting_name(cs);
    unsigned line_no = config_setting_source_line(cs);
    bool truncated = false;
    char *line = NULL;
    size_t cap = 0;

    if (name == NULL || line_no == 0)
        return false;
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return false;
    for (unsigned n = 1; getline(&line, &cap, f) >= 0; n++) {
        if (n != line_no)
            continue;
        size_t nl = strlen(name);
        bool in_string = false;
        for (const char *p = line; *p != '\0'; p++) {
            if (in_string) { /* names inside string values do not count */
                if (*p == '\\' && p[1] != '\0')
                    p++;
                else if (*p == '"')
                    in_string = false;
                continue;
            }
            if (*p == '"')
                in_string = true;
            if (strncmp(p, name, nl) != 0 ||
                (p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-')))
                continue;
            const char *q = p + nl;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q != '=' && *q != ':')
                continue;
            q++;
            while (*q == ' ' || *q == '\t')
                q++;
            char *end;
            errno = 0;
            long long v = strtoll(q, &end, 0);
            if (end != q && (errno == ERANGE || v != got))
                truncated = true;
            break;
        }
        break;
    }
    free(line);
    fclose(f);
    return truncated;
}

/* Apply one libconfig scalar to @p base according to @p s. */
static int apply_cfg_value(void *base, const struct fp_config_setting *s,
                           const config_setting_t *cs, const struct load_ctx *L, char *problem)
{
    int t = config_setting_type(cs);
    long long v;

    switch (s->type) {
    case FP_CONFIG_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            goto wrong_type;
        *(bool *)((char *)base + s->offset) = config_setting_get_bool(cs) != 0;
        return 0;
    case FP_CONFIG_INT:
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            goto wrong_type;
        v = config_setting_get_int64(cs);
        if (t == CONFIG_TYPE_INT && int_literal_truncated(L, cs, v)) {
            fmt(problem, PROBLEM_LEN,
                "integer does not fit in 32 bits: add an L suffix (e.g. 4294967295L)");
            return -EINVAL;
        }
        if (check_number(s, v, problem) < 0)
            return -EINVAL;
        store_int(base, s, v);
        return 0;
    case FP_CONFIG_DURATION:
    case FP_CONFIG_DECIMAL:
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
            long long sec = config_setting_get_int64(cs);
            if (t == CONFIG_TYPE_INT && int_literal_truncated(L, cs, sec)) {
                fmt(problem, PROBLEM_LEN, "integer does not fit in 32 bits");
                return -EINVAL;
            }
            if (seconds_to_units(s, (double)sec, &v, problem) < 0)
                return -EINVAL;
        } else if (t == CONFIG_TYPE_FLOAT) {
            if (seconds_to_units(s, config_setting_get_float(cs), &v, problem) < 0)
                return -EINVAL;
        } else {
            goto wrong_type;
        }
        if (check_number(s, v, problem) < 0)
            return -EINVAL;
        store_int(base, s, v);
        return 0;
    case FP_CONFIG_STRING:
        if (t != CONFIG_TYPE_STRING)
            goto wrong_type;
        return copy_str((char *)base + s->offset, s->size, config_setting_get_string(cs), problem);
    case FP_CONFIG_ENUM:
        if (t != CONFIG_TYPE_STRING)
            goto wrong_type;
        return store_enum(base, s, config_setting_get_string(cs), problem);
    case FP_CONFIG_URL:
        if (t != CONFIG_TYPE_STRING)
            goto wrong_type;
        return parse_url(base, config_setting_get_string(cs), problem);
    }
wrong_type:
    fmt(problem, PROBLEM_LEN, "expected %s, got %s", wanted_name(s->type), type_name(t));
    return -EINVAL;
}

/* ---------------------------------------------------------------------------------------- */
/* Loading a file                                                                            */

struct load_ctx {
    const char *path; /* file given by the caller */
    const char *dir;  /* its directory with a trailing '/', or NULL: the @include directory */
    char *err;
    size_t errlen;
};

/* The file a setting came from. libconfig 1.5 records @include names as written, relative
 * to the include directory; resolve them so messages name a file the user can open. */
static const char *source_file(const struct load_ctx *L, const config_setting_t *cs, char *buf,
                               size_t len)
{
    const char *file = config_setting_source_file(cs);

    if (file == NULL || strcmp(file, L->path) == 0)
        return L->path;
    if (file[0] == '/' || L->dir == NULL)
        return file;
    snprintf(buf, len, "%s%s", L->dir, file);
    return buf;
}

static int cfg_error(const struct load_ctx *L, const config_setting_t *cs, const char *setting,
                     const char *problem)
{
    char buf[PATH_MAX];

    fmt(L->err, L->errlen, "%s:%u: %s: %s", source_file(L, cs, buf, sizeof(buf)),
        config_setting_source_line(cs), setting, problem);
    return -EINVAL;
}

static int load_list(const struct load_ctx *L, struct fp_config *c, const struct fp_config_list *l,
                     const config_setting_t *cs)
{
    char problem[PROBLEM_LEN], path[PATH_LEN + 32];
    unsigned n = (unsigned)config_setting_length(cs);
    unsigned *count = (unsigned *)((char *)c + l->count_offset);

    if (config_setting_type(cs) != CONFIG_TYPE_LIST) {
        fmt(problem, sizeof(problem), "expected a list ( { ... }, ... ), got %s",
            type_name(config_setting_type(cs)));
        return cfg_error(L, cs, l->path, problem);
    }
    if (n > l->max) {
        fmt(problem, sizeof(problem), "too many entries (%u, at most %u)", n, l->max);
        return cfg_error(L, cs, l->path, problem);
    }
    *count = 0;
    for (unsigned i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(cs, i);
        char *elem = (char *)c + l->array_offset + (size_t)i * l->elem_size;

        snprintf(path, sizeof(path), "%s[%u]", l->path, i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            fmt(problem, sizeof(problem), "expected a group { ... }, got %s",
                type_name(config_setting_type(e)));
            return cfg_error(L, e, path, problem);
        }
        memset(elem, 0, l->elem_size);
        for (size_t k = 0; k < l->n_elem; k++)
            set_default(elem, &l->elem[k]);
        for (int m = 0; m < config_setting_length(e); m++) {
            const config_setting_t *ms = config_setting_get_elem(e, (unsigned)m);
            const char *name = config_setting_name(ms);
            const struct fp_config_setting *s = NULL;

            snprintf(path, sizeof(path), "%s[%u].%s", l->path, i, name);
            for (size_t k = 0; k < l->n_elem; k++)
                if (strcmp(l->elem[k].path, name) == 0)
                    s = &l->elem[k];
            if (s == NULL) {
                unknown_problem(name, l->elem, l->n_elem, problem);
                return cfg_error(L, ms, path, problem);
            }
            if (apply_cfg_value(elem, s, ms, L, problem) < 0)
                return cfg_error(L, ms, path, problem);
        }
        for (size_t k = 0; k < l->n_elem; k++) {
            if ((l->elem[k].flags & FP_CONFIG_F_REQUIRED) &&
                config_setting_get_member(e, l->elem[k].path) == NULL) {
                snprintf(path, sizeof(path), "%s[%u]", l->path, i);
                fmt(problem, sizeof(problem), "missing \"%s\"", l->elem[k].path);
                return cfg_error(L, e, path, problem);
            }
        }
        const char *blame = l->check != NULL
                                ? l->check((char *)c + l->array_offset, i, problem, sizeof(problem))
                                : NULL;
        if (blame != NULL) {
            const config_setting_t *bs = *blame ? config_setting_get_member(e, blame) : NULL;
            if (*blame)
                snprintf(path, sizeof(path), "%s[%u].%s", l->path, i, blame);
            else
                snprintf(path, sizeof(path), "%s[%u]", l->path, i);
            return cfg_error(L, bs != NULL ? bs : e, path, problem);
        }
        (*count)++;
    }
    return 0;
}

static int load_root(const struct load_ctx *L, struct fp_config *c, const config_setting_t *root,
                     bool *seen)
{
    char problem[PROBLEM_LEN], path[PATH_LEN * 2 + 2];

    for (int g = 0; g < config_setting_length(root); g++) {
        const config_setting_t *gs = config_setting_get_elem(root, (unsigned)g);
        const char *gname = config_setting_name(gs);

        if (!is_section(gname, strlen(gname))) {
            unknown_problem(gname, NULL, 0, problem);
            return cfg_error(L, gs, gname, problem);
        }
        if (config_setting_type(gs) != CONFIG_TYPE_GROUP) {
            fmt(problem, sizeof(problem), "expected a group { ... }, got %s",
                type_name(config_setting_type(gs)));
            return cfg_error(L, gs, gname, problem);
        }
        for (int m = 0; m < config_setting_length(gs); m++) {
            const config_setting_t *ms = config_setting_get_elem(gs, (unsigned)m);
            const struct fp_config_setting *s;
            const struct fp_config_list *l;

            snprintf(path, sizeof(path), "%s.%s", gname, config_setting_name(ms));
            if ((s = find_setting(path)) != NULL) {
                if (apply_cfg_value(c, s, ms, L, problem) < 0)
                    return cfg_error(L, ms, path, problem);
                if (seen != NULL)
                    seen[s - fp_config_settings] = true;
            } else if ((l = find_list(path)) != NULL) {
                if (load_list(L, c, l, ms) < 0)
                    return -EINVAL;
            } else {
                unknown_problem(path, NULL, 0, problem);
                return cfg_error(L, ms, path, problem);
            }
        }
    }
    return 0;
}

int fp_config_load_file_seen(struct fp_config *c, const char *path, bool *seen, char *err,
                             size_t errlen)
{
    struct load_ctx L = {.path = path, .err = err, .errlen = errlen};
    struct fp_config *tmp = NULL;
    bool *tmp_seen = NULL;
    char *dir = NULL;
    config_t cfg;
    int rc;

    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fmt(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -ENOENT;
    }
    fclose(f);

    tmp = malloc(sizeof(*tmp));
    tmp_seen = calloc(fp_config_n_settings, sizeof(*tmp_seen));
    dir = strdup(path);
    if (tmp == NULL || tmp_seen == NULL || dir == NULL) {
        fmt(err, errlen, "%s: out of memory", path);
        free(tmp);
        free(tmp_seen);
        free(dir);
        return -ENOMEM;
    }
    memcpy(tmp, c, sizeof(*tmp));

    config_init(&cfg);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        slash[1] = '\0';
        config_set_include_dir(&cfg, dir); /* @include is relative to the including file */
        L.dir = dir;
    }
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
            fmt(err, errlen, "%s: cannot read: %s", path, config_error_text(&cfg));
            rc = -ENOENT;
        } else {
            const char *ef = config_error_file(&cfg);
            char buf[PATH_MAX];
            if (ef == NULL || strcmp(ef, path) == 0)
                ef = path;
            else if (ef[0] != '/' && L.dir != NULL) {
                snprintf(buf, sizeof(buf), "%s%s", L.dir, ef); /* @include name as written */
                ef = buf;
            }
            fmt(err, errlen, "%s:%d: syntax error: %s", ef, config_error_line(&cfg),
                config_error_text(&cfg));
            rc = -EINVAL;
        }
        goto out;
    }
    rc = load_root(&L, tmp, config_root_setting(&cfg), tmp_seen);
    if (rc == 0) {
        memcpy(c, tmp, sizeof(*c));
        if (seen != NULL)
            memcpy(seen, tmp_seen, fp_config_n_settings * sizeof(*seen));
    }
out:
    config_destroy(&cfg);
    free(dir);
    free(tmp_seen);
    free(tmp);
    return rc;
}

int fp_config_load_file(struct fp_config *c, const char *path, char *err, size_t errlen)
{
    return fp_config_load_file_seen(c, path, NULL, err, errlen);
}

/* ---------------------------------------------------------------------------------------- */
/* Defaults, overrides, collectors                                                           */

void fp_config_defaults(struct fp_config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < fp_config_n_settings; i++)
        set_default(c, &fp_config_settings[i]);
    /* Lists start empty; element defaults apply per entry when one is added. */
}

static void trim(char *s)
{
    size_t n = strlen(s), b = 0;

    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    while (isspace((unsigned char)s[b]))
        b++;
    memmove(s, s + b, n - b + 1);
}

static int parse_bool_text(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < FP_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Apply a textual value (-o) to a scalar setting. */
static int apply_text(void *base, const struct fp_config_setting *s, char *v, char *problem)
{
    char *end;
    long long x;
    bool b;

    switch (s->type) {
    case FP_CONFIG_BOOL:
        if (parse_bool_text(v, &b) < 0) {
            fmt(problem, PROBLEM_LEN, "expected true or false, got \"%s\"", v);
            return -EINVAL;
        }
        *(bool *)((char *)base + s->offset) = b;
        return 0;
    case FP_CONFIG_INT:
        errno = 0;
        x = strtoll(v, &end, 0);
        if (v[0] == '\0' || *end != '\0' || isspace((unsigned char)v[0])) {
            fmt(problem, PROBLEM_LEN, "expected an integer, got \"%s\"", v);
            return -EINVAL;
        }
        if (errno == ERANGE) {
            fmt(problem, PROBLEM_LEN, "%s is out of range (%lld..%lld)", v, s->min, s->max);
            return -EINVAL;
        }
        if (check_number(s, x, problem) < 0)
            return -EINVAL;
        store_int(base, s, x);
        return 0;
    case FP_CONFIG_DURATION:
    case FP_CONFIG_DECIMAL: {
        errno = 0;
        double sec = strtod(v, &end);
        if (v[0] == '\0' || *end != '\0' || isspace((unsigned char)v[0]) || !isfinite(sec)) {
            fmt(problem, PROBLEM_LEN, "expected %s, got \"%s\"", wanted_name(s->type), v);
            return -EINVAL;
        }
        if (seconds_to_units(s, sec, &x, problem) < 0 || check_number(s, x, problem) < 0)
            return -EINVAL;
        store_int(base, s, x);
        return 0;
    }
    case FP_CONFIG_STRING:
    case FP_CONFIG_ENUM: {
        size_t n = strlen(v);
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
            v[n - 1] = '\0';
            v++;
        }
        if (s->type == FP_CONFIG_ENUM)
            return store_enum(base, s, v, problem);
        return copy_str((char *)base + s->offset, s->size, v, problem);
    }
    case FP_CONFIG_URL:
        break;
    }
    fmt(problem, PROBLEM_LEN, "cannot be set with -o");
    return -EINVAL;
}

int fp_config_override(struct fp_config *c, const char *assignment, char *err, size_t errlen)
{
    char problem[PROBLEM_LEN];
    const char *eq = strchr(assignment, '=');
    char *name, *value;
    int rc = -EINVAL;

    if (eq == NULL) {
        fmt(err, errlen, "-o %s: expected SETTING=VALUE", assignment);
        return -EINVAL;
    }
    name = strndup(assignment, (size_t)(eq - assignment));
    value = strdup(eq + 1);
    if (name == NULL || value == NULL) {
        fmt(err, errlen, "-o %s: out of memory", assignment);
        rc = -ENOMEM;
        goto out;
    }
    trim(name);
    trim(value);

    const struct fp_config_setting *s = find_setting(name);
    if (s == NULL) {
        if (find_list(name) != NULL)
            fmt(problem, sizeof(problem), "%s is a list: set it in the file%s", name,
                strcmp(name, "export.collectors") == 0 ? " or add collectors with -e URL" : "");
        else if (is_section(name, strlen(name)))
            fmt(problem, sizeof(problem), "%s is a section, not a setting", name);
        else {
            struct suggestion sg;
            const char *sug = suggest(name, NULL, 0, &sg);
            if (sug != NULL)
                fmt(problem, sizeof(problem), "unknown setting \"%s\" (did you mean \"%s\"?)",
                    name, sug);
            else
                fmt(problem, sizeof(problem), "unknown setting \"%s\"", name);
        }
        fmt(err, errlen, "-o %s: %s", assignment, problem);
        goto out;
    }
    /* Stage the value in a copy of the field so a failure leaves @p c unchanged. */
    struct fp_config *tmp = malloc(sizeof(*tmp));
    if (tmp == NULL) {
        fmt(err, errlen, "-o %s: out of memory", assignment);
        rc = -ENOMEM;
        goto out;
    }
    memcpy(tmp, c, sizeof(*tmp));
    rc = apply_text(tmp, s, value, problem);
    if (rc == 0)
        memcpy((char *)c + s->offset, (char *)tmp + s->offset, s->size);
    else
        fmt(err, errlen, "-o %s: %s", assignment, problem);
    free(tmp);
out:
    free(name);
    free(value);
    return rc;
}

int fp_config_add_collector_url(struct fp_config *c, const char *url, char *err, size_t errlen)
{
    char problem[PROBLEM_LEN];
    struct fp_collector_config col;

    if (c->n_collectors >= FP_MAX_COLLECTORS) {
        fmt(err, errlen, "-e %s: too many collectors (at most %d)", url, FP_MAX_COLLECTORS);
        return -EINVAL;
    }
    memset(&col, 0, sizeof(col));
    for (size_t k = 0; k < FP_ARRAY_SIZE(collector_settings); k++)
        set_default(&col, &collector_settings[k]);
    if (parse_url(&col, url, problem) < 0) {
        fmt(err, errlen, "-e %s: %s", url, problem);
        return -EINVAL;
    }
    c->collectors[c->n_collectors++] = col;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Validation                                                                                */

/* Check one stored value against its table entry (settings poked directly by code, too). */
static int check_stored(const void *base, const struct fp_config_setting *s, char *problem)
{
    const char *p = (const char *)base + s->offset;

    switch (s->type) {
    case FP_CONFIG_INT:
    case FP_CONFIG_DURATION:
    case FP_CONFIG_DECIMAL:
        return check_number(s, load_int(base, s), problem);
    case FP_CONFIG_STRING:
    case FP_CONFIG_URL:
        if (memchr(p, '\0', s->size) == NULL) {
            fmt(problem, PROBLEM_LEN, "string not terminated");
            return -EINVAL;
        }
        if ((s->flags & FP_CONFIG_F_REQUIRED) && p[0] == '\0') {
            fmt(problem, PROBLEM_LEN, "must not be empty");
            return -EINVAL;
        }
        return 0;
    case FP_CONFIG_ENUM:
        if (enum_current(base, s) == NULL) {
            fmt(problem, PROBLEM_LEN, "invalid value");
            return -EINVAL;
        }
        return 0;
    case FP_CONFIG_BOOL:
        return 0;
    }
    return 0;
}

int fp_config_validate(const struct fp_config *c, char *err, size_t errlen)
{
    char problem[PROBLEM_LEN];

    for (size_t i = 0; i < fp_config_n_settings; i++) {
        if (check_stored(c, &fp_config_settings[i], problem) < 0) {
            fmt(err, errlen, "%s: %s", fp_config_settings[i].path, problem);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < fp_config_n_lists; i++) {
        const struct fp_config_list *l = &fp_config_lists[i];
        unsigned n = *(const unsigned *)((const char *)c + l->count_offset);

        if (n > l->max) {
            fmt(err, errlen, "%s: too many entries (%u, at most %u)", l->path, n, l->max);
            return -EINVAL;
        }
        for (unsigned e = 0; e < n; e++) {
            const char *elem = (const char *)c + l->array_offset + (size_t)e * l->elem_size;
            for (size_t k = 0; k < l->n_elem; k++) {
                if (check_stored(elem, &l->elem[k], problem) < 0) {
                    fmt(err, errlen, "%s[%u].%s: %s", l->path, e, l->elem[k].path, problem);
                    return -EINVAL;
                }
            }
            const char *blame = l->check != NULL
                                    ? l->check((const char *)c + l->array_offset, e, problem,
                                               sizeof(problem))
                                    : NULL;
            if (blame != NULL) {
                fmt(err, errlen, "%s[%u]%s%s: %s", l->path, e, *blame ? "." : "", blame, problem);
                return -EINVAL;
            }
        }
    }

    /* Cross checks. */
    if (c->retry_max_ms < c->retry_min_ms) {
        fmt(err, errlen, "export.retry_max: smaller than export.retry_min");
        return -EINVAL;
    }
    if (c->n_ports == 0 && c->capture_file[0] == '\0') {
        fmt(err, errlen, "capture.ports: no capture port configured and no capture file (-r)");
        return -EINVAL;
    }
    unsigned long long need = 0, queues = 0;
    for (unsigned i = 0; i < c->n_ports; i++) {
        unsigned q = c->ports[i].rx_queues ? c->ports[i].rx_queues : c->workers;
        queues += q;
        need += (unsigned long long)q * c->rx_desc;
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(c->ports[i].device, c->ports[j].device) == 0) {
                fmt(err, errlen, "capture.ports[%u].device: \"%s\" is already capture.ports[%u]",
                    i, c->ports[i].device, j);
                return -EINVAL;
            }
        }
    }
    need += (unsigned long long)c->workers * c->burst; /* one burst in flight per worker */
    if (c->n_ports > 0 && c->mbufs != 0 && c->mbufs < need) {
        fmt(err, errlen,
            "capture.mbufs: %u is too small to fill %llu RX queue(s) of %u descriptors "
            "(capture.rx_desc) plus one burst per worker: need at least %llu",
            c->mbufs, queues, c->rx_desc, need);
        return -EINVAL;
    }
    for (unsigned i = 0; i < c->n_collectors; i++) {
        const struct fp_collector_config *a = &c->collectors[i];
        if ((unsigned)a->transport > FP_TRANSPORT_DTLS) {
            fmt(err, errlen, "export.collectors[%u].url: invalid transport", i);
            return -EINVAL;
        }
        if (a->protocol != FP_EXPORT_PROTOCOL_IPFIX && a->biflow) {
            fmt(err, errlen, "export.collectors[%u].biflow: NetFlow collector \"%s\" takes "
                             "uniflow records only", i, a->url);
            return -EINVAL;
        }
        if (a->protocol == FP_EXPORT_PROTOCOL_NFV9 && a->mtu > 9000) {
            fmt(err, errlen, "export.collectors[%u].mtu: %u is above 9000, the largest NetFlow "
                             "v9 packet", i, a->mtu);
            return -EINVAL;
        }
        if (a->transport == FP_TRANSPORT_TLS || a->transport == FP_TRANSPORT_DTLS) {
            const char *missing = c->tls_cert[0] == '\0' ? "export.tls_cert"
                                  : c->tls_key[0] == '\0' ? "export.tls_key"
                                  : c->tls_ca[0] == '\0'  ? "export.tls_ca"
                                                          : NULL;
            if (missing != NULL) {
                fmt(err, errlen, "%s: must be set for the TLS/DTLS collector \"%s\" (mutual "
                                 "authentication is mandatory, RFC 7011 section 11)",
                    missing, a->url);
                return -EINVAL;
            }
        }
        for (unsigned j = 0; j < i; j++) {
            const struct fp_collector_config *b = &c->collectors[j];
            bool same = a->transport == b->transport &&
                        (a->transport == FP_TRANSPORT_FILE
                             ? strcmp(a->path, b->path) == 0
                             : strcasecmp(a->host, b->host) == 0 && a->port == b->port);
            if (same) {
                fmt(err, errlen, "export.collectors[%u].url: \"%s\" duplicates "
                                 "export.collectors[%u] (\"%s\")",
                    i, a->url, j, b->url);
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Dump                                                                                      */

static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\x%02X", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void put_value(FILE *out, const void *base, const struct fp_config_setting *s)
{
    const char *p = (const char *)base + s->offset;
    char buf[32];
    long long v;

    switch (s->type) {
    case FP_CONFIG_BOOL:
        fputs(*(const bool *)p ? "true" : "false", out);
        break;
    case FP_CONFIG_INT:
        v = load_int(base, s);
        fprintf(out, "%lld%s", v, v > INT_MAX || v < INT_MIN ? "L" : "");
        break;
    case FP_CONFIG_DURATION:
    case FP_CONFIG_DECIMAL:
        fputs(fmt_seconds(buf, sizeof(buf), load_int(base, s), s->scale), out);
        break;
    case FP_CONFIG_STRING:
    case FP_CONFIG_URL:
        put_string(out, memchr(p, '\0', s->size) ? p : "");
        break;
    case FP_CONFIG_ENUM: {
        const char *name = enum_current(base, s);
        put_string(out, name ? name : "?");
        break;
    }
    }
}

/* "# help (range, default)" above each setting of the dump. */
static void put_help(FILE *out, const struct fp_config_setting *s, const char *label)
{
    char a[32], b[32], d[32];

    if (label != NULL)
        fprintf(out, "    #   %s: %s", label, s->help);
    else
        fprintf(out, "    # %s", s->help);
    switch (s->type) {
    case FP_CONFIG_INT:
        fprintf(out, " (%lld..%lld%s, default %lld)\n", s->min, s->max,
                s->flags & FP_CONFIG_F_POW2 ? ", power of two" : "", s->def);
        break;
    case FP_CONFIG_DURATION:
        fprintf(out, " (%s..%s s, default %s)\n", fmt_seconds(a, sizeof(a), s->min, s->scale),
                fmt_seconds(b, sizeof(b), s->max, s->scale),
                fmt_seconds(d, sizeof(d), s->def, s->scale));
        break;
    case FP_CONFIG_DECIMAL:
        fprintf(out, " (%s..%s)\n", fmt_seconds(a, sizeof(a), s->min, s->scale),
                fmt_seconds(b, sizeof(b), s->max, s->scale));
        break;
    case FP_CONFIG_BOOL:
        fprintf(out, " (default %s)\n", s->def ? "true" : "false");
        break;
    case FP_CONFIG_ENUM:
        fputs(" (", out);
        for (const struct fp_config_enum *e = s->enums; e->name != NULL; e++)
            fprintf(out, "%s\"%s\"", e == s->enums ? "" : ", ", e->name);
        fprintf(out, "; default \"%s\")\n", s->def_str);
        break;
    default:
        fputc('\n', out);
        break;
    }
}

static void dump_lists(FILE *out, const struct fp_config *c, const char *section, size_t sl)
{
    for (size_t i = 0; i < fp_config_n_lists; i++) {
        const struct fp_config_list *l = &fp_config_lists[i];
        unsigned n = *(const unsigned *)((const char *)c + l->count_offset);

        if (strncmp(l->path, section, sl) != 0 || l->path[sl] != '.')
            continue;
        fprintf(out, "    # %s (at most %u):\n", l->help, l->max);
        for (size_t k = 0; k < l->n_elem; k++)
            put_help(out, &l->elem[k], l->elem[k].path);
        fprintf(out, "    %s = (", l->path + sl + 1);
        for (unsigned e = 0; e < n && e < l->max; e++) {
            const char *elem = (const char *)c + l->array_offset + (size_t)e * l->elem_size;
            fprintf(out, "%s\n        { ", e ? "," : "");
            for (size_t k = 0; k < l->n_elem; k++) {
                fprintf(out, "%s = ", l->elem[k].path);
                put_value(out, elem, &l->elem[k]);
                fputs("; ", out);
            }
            fputc('}', out);
        }
        fputs(n ? "\n    );\n" : ");\n", out);
    }
}

int fp_config_dump(const struct fp_config *c, FILE *out)
{
    const char *section = NULL;
    size_t sl = 0;

    fputs("# FlowPulse effective configuration (libconfig syntax; flowpulse --dump-config)\n", out);
    if (c->capture_file[0] != '\0') {
        fputs("# capture file (-r): ", out);
        put_string(out, c->capture_file);
        fputc('\n', out);
    }
    for (size_t i = 0; i < fp_config_n_settings; i++) {
        const struct fp_config_setting *s = &fp_config_settings[i];
        const char *dot = strchr(s->path, '.');
        size_t len = (size_t)(dot - s->path);

        if (section == NULL || len != sl || strncmp(section, s->path, sl) != 0) {
            if (section != NULL) {
                dump_lists(out, c, section, sl);
                fputs("};\n", out);
            }
            section = s->path;
            sl = len;
            fprintf(out, "\n%.*s = {\n", (int)sl, section);
        }
        put_help(out, s, NULL);
        fprintf(out, "    %s = ", dot + 1);
        put_value(out, c, s);
        fputs(";\n", out);
    }
    if (section != NULL) {
        dump_lists(out, c, section, sl);
        fputs("};\n", out);
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}
