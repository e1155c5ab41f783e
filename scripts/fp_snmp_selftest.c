/* SPDX-License-Identifier: BSD-3-Clause */
/* fp_snmp_selftest: run the AgentX subagent (src/snmp) with a snapshot filled by a fixed,
 * documented formula, so tests/integration/test_snmp.sh can compare snmpwalk output with
 * values it computes itself. Runs until SIGTERM/SIGINT or --duration seconds.
 *
 * Formula (k = number of fill calls so far, from 1; S = --seed):
 *   version "FlowPulse-selftest S"; start = program start - 3600 s (printed as start_ms=)
 *   not_metered[r] = 100*r + S (r = 1..FP_DECODE_RESULT_MAX-1)
 *   packets_metered = 123456 + k; packets_received = metered + sum(not_metered)
 *   2 ports, i = 0..1: rx = 1000000*(i+1) + S, missed = 10*(i+1) (+ D*k on port 0 with
 *     --drops D), errors = 3*(i+1), nombuf = 7*(i+1)
 *   3 workers, i = 0..2: packets 5000*(i+1)+S, active 100*(i+1), created 400*(i+1),
 *     idle/active/end/forced/resource = 11/12/13/14/15*(i+1), capacity 1000
 *   3 collectors, c = 0..2:
 *     0 "udp://127.0.0.1:4739" IPFIX UDP 127.0.0.1:4739 up, refresh 60 s / 0 msgs
 *     1 "tcp://[::1]:4740" v9 TCP ::1 port 4740, up (down on odd k/F with --flap F)
 *     2 "file:/tmp/fp.ipfix" IPFIX file, up
 *     records 10000*(c+1)+S, messages 100*(c+1), octets 150000*(c+1), records_not_sent c,
 *     messages_not_sent 2c, reconnects 3c, templates_sent 4+c, options_templates_sent 2,
 *     last_error "" for c != 1, "connection refused" for c = 1
 *     templates t = 0..1: id 256+t, set 2+t, odid 42, last_sent = start, data_records
 *     777*(t+1)+c, fields f = 0..(t ? 2 : 4): ie 1+f+10t, length 4(f+1) (65535 for the last
 *     field of template 0), pen 32473 for (t,f) = (0,0) else 0, flags: flowKey for t=0,f<2;
 *     scope for t=1,f=0
 *   metering: active 60 s, idle 15 s, odid 42, active_flows 600, unused 2400, records 999
 *   4 classes i: "class<i>", flows 10(i+1), bytes 1000(i+1), score_x100 2500*i
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fp_log.h"
#include "snmp/snmp.h"

struct selftest {
    unsigned seed;
    unsigned flap;
    unsigned drops;
    uint64_t start_ms;
    atomic_uint fills;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void fill(void *arg, struct fp_snapshot *o)
{
    struct selftest *t = arg;
    uint64_t k = atomic_fetch_add(&t->fills, 1) + 1;
    uint64_t S = t->seed;

    snprintf(o->version, sizeof(o->version), "FlowPulse-selftest %u", t->seed);
    o->start_time_ms = t->start_ms;
    uint64_t nm = 0;
    for (unsigned r = 1; r < FP_DECODE_RESULT_MAX; r++) {
        o->not_metered[r] = 100u * r + S;
        nm += o->not_metered[r];
    }
    o->packets_metered = 123456 + k;
    o->packets_received = o->packets_metered + nm;

    o->n_ports = 2;
    for (unsigned i = 0; i < 2; i++) {
        o->ports[i].rx_packets = 1000000u * (i + 1) + S;
        o->ports[i].missed = 10u * (i + 1) + (i == 0 ? (uint64_t)t->drops * k : 0);
        o->ports[i].errors = 3u * (i + 1);
        o->ports[i].nombuf = 7u * (i + 1);
    }
    o->n_workers = 3;
    for (unsigned i = 0; i < 3; i++) {
        struct fp_snap_worker *w = &o->workers[i];
        w->packets = 5000u * (i + 1) + S;
        w->flows_active = 100u * (i + 1);
        w->flows_created = 400u * (i + 1);
        w->expired_idle = 11u * (i + 1);
        w->expired_active = 12u * (i + 1);
        w->expired_end = 13u * (i + 1);
        w->expired_forced = 14u * (i + 1);
        w->expired_resource = 15u * (i + 1);
        w->cache_capacity = 1000;
    }

    o->n_collectors = 3;
    for (unsigned c = 0; c < 3; c++) {
        struct fp_snap_collector *x = &o->collectors[c];
        x->state = FP_SNAP_COLLECTOR_UP;
        if (c == 0) {
            snprintf(x->url, sizeof(x->url), "udp://127.0.0.1:4739");
            x->protocol = FP_SNAP_PROTOCOL_IPFIX;
            x->transport = FP_SNAP_TRANSPORT_UDP;
            x->addr_family = 4;
            x->addr[0] = 127, x->addr[3] = 1;
            x->port = 4739;
            x->template_refresh_s = 60;
        } else if (c == 1) {
            snprintf(x->url, sizeof(x->url), "tcp://[::1]:4740");
            x->protocol = FP_SNAP_PROTOCOL_V9;
            x->transport = FP_SNAP_TRANSPORT_TCP;
            x->addr_family = 6;
            x->addr[15] = 1;
            x->port = 4740;
            snprintf(x->last_error, sizeof(x->last_error), "connection refused");
            if (t->flap && (k / t->flap) % 2 == 1)
                x->state = FP_SNAP_COLLECTOR_DOWN;
        } else {
            snprintf(x->url, sizeof(x->url), "file:/tmp/fp.ipfix");
            x->protocol = FP_SNAP_PROTOCOL_IPFIX;
            x->transport = FP_SNAP_TRANSPORT_FILE;
        }
        x->records = 10000u * (c + 1) + S;
        x->messages = 100u * (c + 1);
        x->octets = 150000u * (c + 1);
        x->records_not_sent = c;
        x->messages_not_sent = 2u * c;
        x->reconnects = 3u * c;
        x->templates_sent = 4u + c;
        x->options_templates_sent = 2;
        x->n_templates = 2;
        for (unsigned tt = 0; tt < 2; tt++) {
            struct fp_snap_template *tp = &x->templates[tt];
            tp->template_id = (uint16_t)(256 + tt);
            tp->set_id = (uint16_t)(2 + tt);
            tp->odid = 42;
            tp->last_sent_ms = t->start_ms;
            tp->data_records = 777u * (tt + 1) + c;
            tp->n_fields = tt ? 3 : 5;
            for (unsigned f = 0; f < tp->n_fields; f++) {
                struct fp_snap_template_field *fd = &tp->fields[f];
                fd->ie_id = (uint16_t)(1 + f + 10 * tt);
                fd->length = (uint16_t)(tt == 0 && f == 4 ? 65535 : 4 * (f + 1));
                fd->pen = tt == 0 && f == 0 ? 32473 : 0;
                fd->flags = (uint8_t)(tt == 0 && f < 2 ? FP_SNAP_FIELD_FLOW_KEY
                                      : tt == 1 && f == 0 ? FP_SNAP_FIELD_SCOPE
                                                          : 0);
            }
        }
    }
    o->metering.active_timeout_s = 60;
    o->metering.idle_timeout_s = 15;
    o->metering.observation_domain = 42;
    o->metering.active_flows = 600;
    o->metering.unused_entries = 2400;
    o->metering.data_records = 999;
    o->n_classes = 4;
    for (unsigned i = 0; i < 4; i++) {
        snprintf(o->classes[i].name, sizeof(o->classes[i].name), "class%u", i);
        o->classes[i].flows = 10u * (i + 1);
        o->classes[i].bytes = 1000u * (i + 1);
        o->classes[i].qoe_score_x100 = 2500u * i;
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fp_snmp_selftest --socket PATH [--pen N] [--refresh-ms N] [--ping S]\n"
            "       [--seed N] [--flap N] [--drops N] [--threshold PPS] [--pdir DIR]\n"
            "       [--duration S]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},  {"pen", required_argument, NULL, 'p'},
        {"refresh-ms", required_argument, NULL, 'r'}, {"ping", required_argument, NULL, 'i'},
        {"seed", required_argument, NULL, 'S'},    {"flap", required_argument, NULL, 'f'},
        {"drops", required_argument, NULL, 'd'},   {"threshold", required_argument, NULL, 't'},
        {"pdir", required_argument, NULL, 'P'},    {"duration", required_argument, NULL, 'D'},
        {NULL, 0, NULL, 0},
    };
    static struct selftest st;
    struct fp_snmp_params p = {.fill = fill, .arg = &st, .refresh_ms = 1000, .ping_interval_s = 1};
    unsigned duration = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': p.agentx_socket = optarg; break;
        case 'p': p.pen = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'r': p.refresh_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'i': p.ping_interval_s = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'S': st.seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'f': st.flap = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': st.drops = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': p.drop_threshold_pps = strtoull(optarg, NULL, 10); break;
        case 'P': p.persistent_dir = optarg; break;
        case 'D': duration = (unsigned)strtoul(optarg, NULL, 10); break;
        default: usage(); return 2;
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    st.start_ms = ((uint64_t)ts.tv_sec - 3600) * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    fp_log_set_level(FP_LOG_DEBUG);
    printf("start_ms=%llu\n", (unsigned long long)st.start_ms);
    fflush(stdout);

    struct fp_snmp *s = fp_snmp_start(&p);
    if (!s) {
        fprintf(stderr, "fp_snmp_start: %s\n", strerror(errno));
        return 1;
    }
    int was = 0;
    for (unsigned ticks = 0; !stop_flag && (!duration || ticks < duration * 10); ticks++) {
        int now = fp_snmp_connected(s);
        if (now != was) {
            printf("connected=%d fills=%u\n", now, atomic_load(&st.fills));
            fflush(stdout);
            was = now;
        }
        usleep(100000);
    }
    fp_snmp_stop(s);
    printf("stopped fills=%u\n", atomic_load(&st.fills));
    return 0;
}
