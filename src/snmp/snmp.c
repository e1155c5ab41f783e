/* SPDX-License-Identifier: BSD-3-Clause */
/* AgentX subagent thread: net-snmp init, the refresh of the snapshot, GET/GETNEXT from the
 * sorted OID view (snmp_view.c), notifications on collector state changes and drop rate.
 * Every net-snmp call is made on this thread. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>
#include <net-snmp/agent/agent_callbacks.h>

#include "common/fp_log.h"
#include "snmp/snmp.h"
#include "snmp/snmp_internal.h"

#define TICK_MS 100 /* loop wake-up: stop latency and refresh granularity */

struct fp_snmp {
    struct fp_snmp_params p;
    char sock[PATH_MAX];
    char pdir[PATH_MAX];
    bool pdir_owned;           /* we created pdir and remove it at stop */
    pthread_t thread;
    atomic_bool stop;
    atomic_int connected;
    atomic_int init_done;      /* 1 ok, -1 failed */

    /* SNMP thread only */
    struct fp_snapshot *scratch;
    struct fp_snmp_view view;
    bool have_view;
    uint64_t last_refresh_mono_ms;
    uint8_t prev_state[FP_MAX_COLLECTORS];
    uint64_t prev_drops;
    bool drop_alarm;
    uint32_t root[FP_SNMP_OID_MAX];
    size_t root_len;
};

static atomic_bool instance_running;
/* The running instance, for net-snmp callbacks: net-snmp's clear_callback() frees non-NULL
 * client args at shutdown, so we never hand it our pointer there. SNMP thread only. */
static struct fp_snmp *g_snmp;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------------------------------------ */
/* net-snmp logging → fp_log                                                                  */

static int log_cb(int major, int minor, void *server_arg, void *client_arg)
{
    (void)major, (void)minor, (void)client_arg;
    static struct fp_log_ratelimit rl;
    const struct snmp_log_message *m = server_arg;
    if (!m || !m->msg)
        return 0;
    size_t n = strlen(m->msg);
    while (n && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
        n--;
    if (!n)
        return 0;
    /* init_snmp() loads the default MIB module list, which a subagent does not need (it
     * answers numerically) and which Debian does not ship: drop that noise */
    if (!strncmp(m->msg, "Cannot find module", 18) || !strncmp(m->msg, "MIB search path", 15))
        return 0;
    enum fp_log_level lvl = m->priority <= LOG_ERR       ? FP_LOG_ERR
                            : m->priority == LOG_WARNING ? FP_LOG_WARNING
                            : m->priority == LOG_NOTICE  ? FP_LOG_NOTICE
                            : m->priority == LOG_INFO    ? FP_LOG_INFO
                                                         : FP_LOG_DEBUG;
    fp_log_ratelimited(&rl, 20, lvl, "snmp", "net-snmp: %.*s", (int)n, m->msg);
    return 0;
}

static int connect_cb(int major, int minor, void *server_arg, void *client_arg)
{
    (void)major, (void)server_arg, (void)client_arg;
    struct fp_snmp *s = g_snmp;
    int up = minor == SNMPD_CALLBACK_INDEX_START;
    if (atomic_exchange(&s->connected, up) != up)
        fp_log(up ? FP_LOG_INFO : FP_LOG_WARNING, "snmp", "AgentX master %s%s",
               up ? "connected: " : "lost: ", up ? s->sock : "reconnecting");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Notifications                                                                              */

static const oid snmp_trap_oid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};

/* root.suffix... as net-snmp oids. */
static size_t mk_oid(const struct fp_snmp *s, oid *out, const uint32_t *suffix, size_t n)
{
    for (size_t i = 0; i < s->root_len; i++)
        out[i] = s->root[i];
    for (size_t i = 0; i < n; i++)
        out[s->root_len + i] = suffix[i];
    return s->root_len + n;
}

static void add_obj(netsnmp_variable_list **vl, const struct fp_snmp *s, const uint32_t *suffix,
                    size_t n)
{
    uint32_t o[FP_SNMP_OID_MAX] = {0};
    size_t len = 0;
    for (size_t i = 0; i < s->root_len; i++)
        o[len++] = s->root[i];
    for (size_t i = 0; i < n; i++)
        o[len++] = suffix[i];
    const struct fp_snmp_entry *e = fp_snmp_view_get(&s->view, o, len);
    oid name[FP_SNMP_OID_MAX];
    for (size_t i = 0; i < len; i++)
        name[i] = o[i];
    if (!e)
        return;
    if (e->type == FP_SNMP_OCTETS) {
        snmp_varlist_add_variable(vl, name, len, ASN_OCTET_STR, e->ptr, e->len);
    } else {
        long v = (long)e->num;
        snmp_varlist_add_variable(vl, name, len, e->type, &v, sizeof(v));
    }
}

static void send_notification(struct fp_snmp *s, uint32_t which, uint32_t collector)
{
    netsnmp_variable_list *vl = NULL;
    uint32_t notif_suffix[] = {0, which};
    oid notif[FP_SNMP_OID_MAX];
    size_t nlen = mk_oid(s, notif, notif_suffix, 2);
    snmp_varlist_add_variable(&vl, snmp_trap_oid, OID_LENGTH(snmp_trap_oid), ASN_OBJECT_ID,
                              notif, nlen * sizeof(oid));
    if (which == 1 || which == 2) {
        /* fpCollectorUrl, fpCollectorState (+ fpCollectorLastError for down) */
        uint32_t url[] = {1, 5, 1, 2, collector}, st[] = {1, 5, 1, 8, collector},
                 err[] = {1, 5, 1, 15, collector};
        add_obj(&vl, s, url, 5);
        add_obj(&vl, s, st, 5);
        if (which == 1)
            add_obj(&vl, s, err, 5);
    } else {
        uint32_t rate[] = {1, 1, 7, 0}, thr[] = {1, 1, 8, 0};
        add_obj(&vl, s, rate, 4);
        add_obj(&vl, s, thr, 4);
    }
    send_v2trap(vl);
    snmp_free_varbind(vl);
}

/* After a refresh: collector up/down transitions and the drop-rate threshold. */
static void check_notifications(struct fp_snmp *s, bool first)
{
    const struct fp_snapshot *snap = &s->view.snap;
    for (uint32_t i = 0; i < snap->n_collectors && i < FP_MAX_COLLECTORS; i++) {
        uint8_t st = snap->collectors[i].state;
        uint8_t was = s->prev_state[i];
        s->prev_state[i] = st;
        if (first || st == was)
            continue;
        if (was == FP_SNAP_COLLECTOR_UP) {
            fp_log(FP_LOG_NOTICE, "snmp", "collector %u down: sending fpCollectorDown", i + 1);
            send_notification(s, 1, i + 1);
        } else if (st == FP_SNAP_COLLECTOR_UP) {
            fp_log(FP_LOG_INFO, "snmp", "collector %u up: sending fpCollectorUp", i + 1);
            send_notification(s, 2, i + 1);
        }
    }
    uint64_t thr = s->p.drop_threshold_pps;
    const struct fp_snmp_entry *rate = NULL;
    if (thr) {
        uint32_t o[FP_SNMP_OID_MAX];
        size_t len = s->root_len;
        memcpy(o, s->root, len * sizeof(*o));
        o[len++] = 1, o[len++] = 1, o[len++] = 7, o[len++] = 0;
        rate = fp_snmp_view_get(&s->view, o, len);
    }
    if (rate && !first && rate->num > thr && !s->drop_alarm) {
        s->drop_alarm = true;
        fp_log(FP_LOG_WARNING, "snmp", "drop rate %llu/s above %llu/s: fpDropsAboveThreshold",
               (unsigned long long)rate->num, (unsigned long long)thr);
        send_notification(s, 3, 0);
    } else if (rate && rate->num <= thr) {
        s->drop_alarm = false;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Refresh                                                                                     */

static uint64_t port_drops(const struct fp_snapshot *snap)
{
    uint64_t d = 0;
    for (uint32_t i = 0; i < snap->n_ports && i < FP_MAX_PORTS; i++)
        d += snap->ports[i].missed + snap->ports[i].errors + snap->ports[i].nombuf;
    return d;
}

static uint32_t rate_of(uint64_t now, uint64_t before, uint64_t dt_ms)
{
    if (!dt_ms || now < before)
        return 0;
    uint64_t r = (now - before) * 1000u / dt_ms;
    return r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

static void refresh(struct fp_snmp *s, bool force)
{
    uint64_t now = mono_ms();
    if (!force && s->have_view && now - s->last_refresh_mono_ms < s->p.refresh_ms)
        return;
    struct fp_snapshot *n = s->scratch;
    memset(n, 0, sizeof(*n));
    s->p.fill(s->p.arg, n);
    if (!n->now_ms)
        n->now_ms = wall_ms();
    n->n_ports = n->n_ports > FP_MAX_PORTS ? FP_MAX_PORTS : n->n_ports;
    n->n_workers = n->n_workers > FP_MAX_WORKERS ? FP_MAX_WORKERS : n->n_workers;
    n->n_collectors = n->n_collectors > FP_MAX_COLLECTORS ? FP_MAX_COLLECTORS : n->n_collectors;
    n->n_classes = n->n_classes > FP_SNAP_MAX_CLASSES ? FP_SNAP_MAX_CLASSES : n->n_classes;

    struct fp_snmp_derived d;
    memset(&d, 0, sizeof(d));
    d.drop_threshold = s->p.drop_threshold_pps > UINT32_MAX ? UINT32_MAX
                                                             : (uint32_t)s->p.drop_threshold_pps;
    uint64_t drops = port_drops(n);
    if (s->have_view) {
        uint64_t dt = now - s->last_refresh_mono_ms;
        const struct fp_snapshot *o = &s->view.snap;
        for (uint32_t i = 0; i < n->n_collectors && i < o->n_collectors; i++)
            d.session_rate[i] = rate_of(n->collectors[i].octets, o->collectors[i].octets, dt);
        d.drop_rate = rate_of(drops, s->prev_drops, dt);
    }
    bool first = !s->have_view;
    if (fp_snmp_view_build(&s->view, n, &d, s->p.pen) != 0) {
        static struct fp_log_ratelimit rl;
        fp_log_ratelimited(&rl, 1, FP_LOG_ERR, "snmp", "out of memory building the OID view");
        s->have_view = false;
        return;
    }
    s->prev_drops = drops;
    s->have_view = true;
    s->last_refresh_mono_ms = now;
    check_notifications(s, first);
}

static void tick_cb(unsigned int reg, void *arg)
{
    (void)reg, (void)arg;
    refresh(g_snmp, false);
}

/* ------------------------------------------------------------------------------------------ */
/* Request handler: one registration per subtree, answered from the view                        */

static void set_value(netsnmp_variable_list *vb, const struct fp_snmp_entry *e)
{
    switch (e->type) {
    case FP_SNMP_COUNTER64: {
        struct counter64 c = {.high = (u_long)(e->num >> 32), .low = (u_long)(e->num & 0xffffffffu)};
        snmp_set_var_typed_value(vb, ASN_COUNTER64, &c, sizeof(c));
        break;
    }
    case FP_SNMP_OCTETS:
        snmp_set_var_typed_value(vb, ASN_OCTET_STR, e->ptr, e->len);
        break;
    case FP_SNMP_OID: {
        oid o[FP_SNMP_OID_MAX];
        const uint32_t *src = e->ptr;
        for (size_t i = 0; i < e->len; i++)
            o[i] = src[i];
        snmp_set_var_typed_value(vb, ASN_OBJECT_ID, o, e->len * sizeof(oid));
        break;
    }
    case FP_SNMP_INTEGER:
        snmp_set_var_typed_integer(vb, ASN_INTEGER, (long)(int64_t)e->num);
        break;
    default: /* GAUGE32, TIMETICKS */
        snmp_set_var_typed_integer(vb, e->type, (long)(e->num & 0xffffffffu));
        break;
    }
}

/* Copy a request OID into uint32 sub-identifiers; a sub-identifier above 2^32-1 (impossible on
 * the wire) is clamped and the OID cut after it, which keeps GETNEXT ordering right. */
static size_t req_oid(const netsnmp_variable_list *vb, uint32_t *out)
{
    size_t n = vb->name_length < FP_SNMP_OID_MAX ? vb->name_length : FP_SNMP_OID_MAX;
    for (size_t i = 0; i < n; i++) {
        if (vb->name[i] > UINT32_MAX) {
            out[i] = UINT32_MAX;
            return i + 1;
        }
        out[i] = (uint32_t)vb->name[i];
    }
    return n;
}

static int handler(netsnmp_mib_handler *h, netsnmp_handler_registration *reg,
                   netsnmp_agent_request_info *ri, netsnmp_request_info *req)
{
    struct fp_snmp *s = h->myvoid;
    uint32_t prefix[FP_SNMP_OID_MAX];
    size_t plen = reg->rootoid_len < FP_SNMP_OID_MAX ? reg->rootoid_len : FP_SNMP_OID_MAX;
    for (size_t i = 0; i < plen; i++)
        prefix[i] = (uint32_t)reg->rootoid[i];

    refresh(s, false);
    for (; req; req = req->next) {
        if (req->processed)
            continue;
        netsnmp_variable_list *vb = req->requestvb;
        uint32_t o[FP_SNMP_OID_MAX];
        size_t len = req_oid(vb, o);
        const struct fp_snmp_entry *e = NULL;
        switch (ri->mode) {
        case MODE_GET:
            e = s->have_view && vb->name_length <= FP_SNMP_OID_MAX
                    ? fp_snmp_view_get(&s->view, o, len)
                    : NULL;
            if (e)
                set_value(vb, e);
            else
                netsnmp_set_request_error(ri, req, SNMP_NOSUCHINSTANCE);
            break;
        case MODE_GETNEXT:
            if (!s->have_view)
                break;
            if (req->inclusive)
                e = fp_snmp_view_get(&s->view, o, len);
            if (!e)
                e = fp_snmp_view_next(&s->view, o, len, prefix, plen);
            if (e) {
                oid name[FP_SNMP_OID_MAX];
                for (size_t i = 0; i < e->oid_len; i++)
                    name[i] = e->oid[i];
                snmp_set_var_objid(vb, name, e->oid_len);
                set_value(vb, e);
            }
            /* else: leave the varbind alone, the agent moves on to the next subtree */
            break;
        default:
            netsnmp_set_request_error(ri, req, SNMP_ERR_NOTWRITABLE);
            break;
        }
    }
    return SNMP_ERR_NOERROR;
}

static int register_subtree(struct fp_snmp *s, const char *name, const uint32_t *root, size_t len)
{
    oid o[FP_SNMP_OID_MAX];
    for (size_t i = 0; i < len; i++)
        o[i] = root[i];
    netsnmp_handler_registration *reg =
        netsnmp_create_handler_registration(name, handler, o, len, HANDLER_CAN_RONLY);
    if (!reg)
        return -ENOMEM;
    reg->handler->myvoid = s;
    reg->handler->data_free = NULL; /* s is ours: snmp_shutdown() must not free it */
    reg->handler->data_clone = NULL;
    if (netsnmp_register_handler(reg) != MIB_REGISTERED_OK)
        return -EIO;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Thread                                                                                      */

static void *snmp_main(void *arg)
{
    struct fp_snmp *s = arg;
    g_snmp = s;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the main thread; EPIPE, not SIGPIPE */

    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR, s->pdir);
    /* the subagent needs no MIB files: look in the private dir only and stay quiet */
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, s->pdir);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_ERRORS, 0);
    netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
    netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_NO_CONNECTION_WARNINGS, 1);
    if (s->sock[0])
        netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET, s->sock);
    netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL,
                       (int)s->p.ping_interval_s);
    snmp_disable_log();
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, log_cb, NULL);
    snmp_enable_calllog();
    snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_INDEX_START, connect_cb, NULL);
    snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_INDEX_STOP, connect_cb, NULL);

    if (init_agent("flowpulse") != 0) {
        fp_log(FP_LOG_ERR, "snmp", "init_agent failed");
        atomic_store(&s->init_done, -1);
        return NULL;
    }
    /* init_agent() resets the ping interval to its default (15 s): set ours again */
    netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL,
                       (int)s->p.ping_interval_s);
    s->root_len = fp_snmp_fp_root(s->p.pen, s->root);
    refresh(s, true);
    if (register_subtree(s, "flowpulseMIB", s->root, s->root_len) != 0 ||
        register_subtree(s, "ipfixMIB", fp_snmp_ipfix_mib_oid, 7) != 0) {
        fp_log(FP_LOG_ERR, "snmp", "registering the MIB subtrees failed");
        snmp_shutdown("flowpulse");
        atomic_store(&s->init_done, -1);
        return NULL;
    }
    init_snmp("flowpulse");
    struct timeval tv = {.tv_sec = 0, .tv_usec = TICK_MS * 1000};
    snmp_alarm_register_hr(tv, SA_REPEAT, tick_cb, NULL);
    atomic_store(&s->init_done, 1);
    fp_log(FP_LOG_INFO, "snmp", "AgentX subagent started (socket %s, enterprise %u, refresh %u ms)",
           s->sock[0] ? s->sock : "default", s->p.pen, s->p.refresh_ms);

    while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
        agent_check_and_process(1); /* returns at the latest after TICK_MS (the alarm) */

    snmp_shutdown("flowpulse");
    return NULL;
}

struct fp_snmp *fp_snmp_start(const struct fp_snmp_params *p)
{
    if (!p || !p->fill) {
        errno = EINVAL;
        return NULL;
    }
    bool expected = false;
    if (!atomic_compare_exchange_strong(&instance_running, &expected, true)) {
        errno = EALREADY;
        return NULL;
    }
    struct fp_snmp *s = calloc(1, sizeof(*s));
    if (!s)
        goto fail_nomem;
    s->scratch = calloc(1, sizeof(*s->scratch));
    if (!s->scratch)
        goto fail_nomem;
    s->p = *p;
    s->p.agentx_socket = NULL;
    s->p.persistent_dir = NULL;
    if (!s->p.refresh_ms)
        s->p.refresh_ms = FP_SNMP_DEFAULT_REFRESH_MS;
    if (!s->p.pen)
        s->p.pen = FP_SNMP_DEFAULT_PEN;
    if (!s->p.ping_interval_s)
        s->p.ping_interval_s = FP_SNMP_DEFAULT_PING_S;
    if (p->agentx_socket)
        snprintf(s->sock, sizeof(s->sock), "%s", p->agentx_socket);
    if (p->persistent_dir) {
        snprintf(s->pdir, sizeof(s->pdir), "%s", p->persistent_dir);
    } else {
        snprintf(s->pdir, sizeof(s->pdir), "/tmp/flowpulse-snmp.XXXXXX");
        if (!mkdtemp(s->pdir)) {
            int e = errno;
            fp_log(FP_LOG_ERR, "snmp", "mkdtemp %s: %s", s->pdir, strerror(e));
            free(s->scratch);
            free(s);
            atomic_store(&instance_running, false);
            errno = e;
            return NULL;
        }
        s->pdir_owned = true;
    }
    int rc = pthread_create(&s->thread, NULL, snmp_main, s);
    if (rc != 0) {
        fp_log(FP_LOG_ERR, "snmp", "pthread_create: %s", strerror(rc));
        if (s->pdir_owned)
            rmdir(s->pdir);
        free(s->scratch);
        free(s);
        atomic_store(&instance_running, false);
        errno = rc;
        return NULL;
    }
    pthread_setname_np(s->thread, "fp-snmp");
    return s;

fail_nomem:
    if (s)
        free(s->scratch);
    free(s);
    atomic_store(&instance_running, false);
    errno = ENOMEM;
    return NULL;
}

void fp_snmp_stop(struct fp_snmp *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    if (s->pdir_owned) {
        char sub[PATH_MAX + 16];
        snprintf(sub, sizeof(sub), "%s/cert_indexes", s->pdir);
        rmdir(sub);
        if (rmdir(s->pdir) != 0)
            fp_log(FP_LOG_DEBUG, "snmp", "leaving %s: %s", s->pdir, strerror(errno));
    }
    fp_snmp_view_free(&s->view);
    free(s->scratch);
    free(s);
    atomic_store(&instance_running, false);
}

int fp_snmp_connected(const struct fp_snmp *s)
{
    return s ? atomic_load(&s->connected) : 0;
}
