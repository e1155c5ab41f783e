/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exporter thread: drains the worker rings, encodes IPFIX with libfixbuf ("Design B":
 * fbExporterAllocBuffer + manual mode, one session per collector transport session) and ships
 * every emitted message over UDP, TCP or to a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export/export_ie.h"

#define BURST 32
#define IDLE_SLEEP_NS 500000L     /* 0.5 ms nap when every ring is empty */
#define UDP_MTU_DEFAULT 1400
#define UDP_MTU_MIN 256           /* the largest template must fit in one message */
#define TCP_MSG_SIZE 16384
#define FILE_MSG_SIZE 65000
#define CONNECT_TIMEOUT_MS 3000
#define CONNECT_WAIT_CREATE_MS 1000
#define SEND_TIMEOUT_MS 500
#define PEER_CHECK_MS 100
#define LOG_INTERVAL_MS 10000     /* at most one repeated error line per collector per 10 s */
#define IPFIX_HDR 16

static const uint16_t uni_tids[] = {FP_TID_UNI4, FP_TID_UNI6, FP_TID_MP_STATS};
static const uint16_t bi_tids[] = {FP_TID_BI4, FP_TID_BI6, FP_TID_MP_STATS};
/* With export.enterprise_elements: the same templates extended with FlowPulse's elements. */
static const uint16_t uni_ie_tids[] = {FP_TID_UNI4_IE, FP_TID_UNI6_IE, FP_TID_MP_STATS};
static const uint16_t bi_ie_tids[] = {FP_TID_BI4_IE, FP_TID_BI6_IE, FP_TID_MP_STATS};

/* Data-domain templates of a collector (FP_ARRAY_SIZE(uni_tids) of them). */
static const uint16_t *coll_tids(const struct fp_collector *c)
{
    if (c->ex->cfg.export_enterprise)
        return c->cfg->biflow ? bi_ie_tids : uni_ie_tids;
    return c->cfg->biflow ? bi_tids : uni_tids;
}

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static uint64_t wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

/* The module's single log sink (to be replaced by fp_log). */
static void __attribute__((format(printf, 2, 3))) export_log(const char *who, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "flowpulse: export: collector %s: %s\n", who, line);
}

/* Record the error text for get_stats and log it (rate-limited per collector). */
static void __attribute__((format(printf, 2, 3))) coll_error(struct fp_collector *c,
                                                             const char *fmt, ...)
{
    char msg[FP_EXPORT_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->err_lock);
    bool same = strcmp(msg, c->last_error) == 0;
    snprintf(c->last_error, sizeof(c->last_error), "%s", msg);
    pthread_mutex_unlock(&c->err_lock);
    uint64_t now = mono_ms();
    if (!same || now >= c->next_log_ms) {
        export_log(c->name, "%s", msg);
        c->next_log_ms = now + LOG_INTERVAL_MS;
    }
}

static void set_state(struct fp_collector *c, enum fp_collector_state s)
{
    atomic_store_explicit(&c->st_state, (int)s, memory_order_relaxed);
}

static void stat_add(_Atomic uint64_t *ctr, uint64_t v)
{
    atomic_fetch_add_explicit(ctr, v, memory_order_relaxed);
}

static void coll_not_sent(struct fp_collector *c, uint64_t flows, uint64_t pkts, uint64_t octs)
{
    if (flows == 0)
        return;
    uint64_t now = wall_ms();
    if (c->first_not_sent_ms == 0)
        c->first_not_sent_ms = now;
    c->last_not_sent_ms = now;
    stat_add(&c->st_not_sent, flows);
    stat_add(&c->st_not_sent_packets, pkts);
    stat_add(&c->st_not_sent_octets, octs);
}

static void coll_drop_pending(struct fp_collector *c)
{
    coll_not_sent(c, c->pend_flows, c->pend_packets, c->pend_octets);
    c->pend_flows = c->pend_packets = c->pend_octets = 0;
}

static bool is_eom(const GError *err)
{
    return err != NULL && g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM);
}

/* ---------------------------------------------------------------- transports */

static int transport_send(struct fp_collector *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    switch (c->cfg->transport) {
    case FP_TRANSPORT_UDP: {
        ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
            return -errno;
        return (size_t)n == len ? 0 : -EMSGSIZE;
    }
    case FP_TRANSPORT_TCP:
    case FP_TRANSPORT_TLS:
    case FP_TRANSPORT_DTLS:
        /* written by fp_export_stream_service() as the socket allows */
        return fp_export_stream_queue(c, buf, len);
    case FP_TRANSPORT_FILE:
        while (off < len) {
            ssize_t n = write(c->fd, buf + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return -errno;
            off += (size_t)n;
        }
        return 0;
    }
    return -EINVAL;
}

static void coll_tcp_down(struct fp_collector *c, uint64_t now);

/* ---------------------------------------------------------------- libfixbuf session */

static void coll_session_close(struct fp_collector *c)
{
    if (c->fb == NULL)
        return;
    coll_drop_pending(c);
    fBufFree(c->fb); /* frees session and exporter; msgbuf stays ours */
    c->fb = NULL;
    c->cur_tid = 0;
}

/*
 * Emit the message being built and ship it. The caller must re-check c->fb afterwards: a TCP
 * send failure tears the session down.
 */
static int coll_emit(struct fp_collector *c)
{
    GError *err = NULL;
    if (c->fb == NULL)
        return -ENOTCONN;
    c->msgbuf[0] = c->msgbuf[1] = 0; /* detects "nothing emitted" */
    if (!fBufEmit(c->fb, &err)) {
        coll_error(c, "fBufEmit: %s", err ? err->message : "?");
        g_clear_error(&err);
        coll_drop_pending(c);
        return -EIO;
    }
    if (c->msgbuf[0] != 0 || c->msgbuf[1] != 10) {
        coll_drop_pending(c); /* nothing emitted: nothing can be pending */
        return 0;
    }
    size_t len = fbExporterGetMsgLen(fBufGetExporter(c->fb));
    unsigned removed = 0;
    size_t out = fp_export_strip_empty_sets(c->msgbuf, len, &removed);
    if (removed)
        stat_add(&c->st_empty_sets, removed);
    if (out == 0) {
        coll_error(c, "libfixbuf produced a malformed message (%zu bytes)", len);
        coll_drop_pending(c);
        return -EPROTO;
    }
    if (out <= IPFIX_HDR) {
        coll_drop_pending(c);
        return 0;
    }
    int rc = transport_send(c, c->msgbuf, out);
    if (rc == 0) {
        fp_export_tmpl_note_msg(&c->tmpl, c->msgbuf, out, wall_ms()); /* for the IPFIX-MIB */
        stat_add(&c->st_messages, 1);
        stat_add(&c->st_records, c->pend_flows);
        stat_add(&c->st_octets, out);
        c->msgs_since_tmpl++;
        c->pend_flows = c->pend_packets = c->pend_octets = 0;
        return 0;
    }
    coll_error(c, "send: %s", strerror(-rc));
    if (fp_export_is_stream(c->cfg->transport))
        coll_tcp_down(c, mono_ms()); /* its records are held: queued again, not lost */
    else
        coll_drop_pending(c);
    return rc;
}

static size_t template_wire_size(const struct fp_ipfix_template *t)
{
    size_t n = 4 + 4 + (t->scope ? 2 : 0); /* set header + template header (+ scope count) */
    for (unsigned i = 0; i < t->n_fields; i++)
        if (!t->fields[i].internal_only)
            n += 8; /* field specifier, with room for an enterprise number */
    return n;
}

/*
 * Export one template. Emitting first when it may not fit avoids the libfixbuf 2.4.1 empty
 * Set; on EOM anyway, emit (the message is sanitised) and retry once in a fresh message.
 */
static int coll_export_one(struct fp_collector *c, uint16_t tid)
{
    GError *err = NULL;
    const struct fp_ipfix_template *t = fp_export_template_get(tid);
    if (fBufRemaining(c->fb) < template_wire_size(t)) {
        coll_emit(c);
        if (c->fb == NULL)
            return -ENOTCONN;
    }
    for (int tries = 0; tries < 2; tries++) {
        if (fbSessionExportTemplate(fBufGetSession(c->fb), tid, &err))
            return 0;
        if (tries == 0 && is_eom(err)) {
            g_clear_error(&err);
            coll_emit(c);
            if (c->fb == NULL)
                return -ENOTCONN;
            continue;
        }
        break;
    }
    coll_error(c, "template %s: %s", t->label, err ? err->message : "?");
    g_clear_error(&err);
    return -EIO;
}

/*
 * RFC 5610 type records of FlowPulse's elements (and of the reverse variants the biflow
 * templates use), right after the templates, so a collector knows them before any data.
 * Written directly (not through coll_append, which may start a template refresh).
 */
static int coll_export_ie_types(struct fp_collector *c)
{
    GError *err = NULL;
    uint32_t pen = fp_export_ie_pen(&c->ex->cfg);
    bool bi = c->cfg->biflow;
    /* largest record that fits a message: header, set header */
    size_t max_len = c->msgsize - IPFIX_HDR - 4;
    int rc = coll_export_one(c, FP_TID_IE_TYPE);

    if (rc < 0)
        return rc;
    c->cur_tid = 0;
    if (!fBufSetInternalTemplate(c->fb, FP_TID_INTERNAL(FP_TID_IE_TYPE), &err) ||
        !fBufSetExportTemplate(c->fb, FP_TID_IE_TYPE, &err)) {
        coll_error(c, "set template %u: %s", FP_TID_IE_TYPE, err ? err->message : "?");
        g_clear_error(&err);
        return -EINVAL;
    }
    c->cur_tid = FP_TID_IE_TYPE;
    for (unsigned i = 0; i < fp_export_ie_type_count(bi); i++) {
        struct fp_ipfix_ie_type rec;
        fp_export_ie_type_fill(&rec, i, bi, pen, max_len);
        int tries;
        for (tries = 0; tries < 3; tries++) {
            if (fBufAppend(c->fb, (uint8_t *)&rec, sizeof(rec), &err))
                break;
            if (!is_eom(err))
                break;
            g_clear_error(&err);
            coll_emit(c); /* message full: ship it, go on in the next one */
            if (c->fb == NULL)
                return -ENOTCONN;
        }
        if (tries == 3 || err != NULL) {
            coll_error(c, "RFC 5610 record %u: %s", i, err ? err->message : "does not fit");
            g_clear_error(&err);
            return -EIO;
        }
    }
    return 0;
}

/* (Re)send every template: data-domain ones, then the exporting-process one in domain 0. */
static int coll_export_templates(struct fp_collector *c)
{
    uint32_t odid = c->ex->cfg.observation_domain;
    const uint16_t *tids = coll_tids(c);
    int rc;

    coll_emit(c); /* data already built goes first, under the templates it was built with */
    if (c->fb == NULL)
        return -ENOTCONN;
    /* type records first: ipfixDump binds a template's IEs when it reads the template */
    if (c->ex->cfg.export_enterprise && (rc = coll_export_ie_types(c)) < 0)
        return rc;
    for (unsigned i = 0; i < FP_ARRAY_SIZE(uni_tids); i++)
        if ((rc = coll_export_one(c, tids[i])) < 0)
            return rc;
    if (odid != 0) {
        coll_emit(c);
        if (c->fb == NULL)
            return -ENOTCONN;
        fbSessionSetDomain(fBufGetSession(c->fb), 0);
    }
    rc = coll_export_one(c, FP_TID_EP_STATS);
    if (rc == 0)
        coll_emit(c); /* a send error is counted; only a lost session is fatal here */
    if (c->fb != NULL && odid != 0)
        fbSessionSetDomain(fBufGetSession(c->fb), odid);
    c->cur_tid = 0;
    if (rc == 0 && c->fb == NULL)
        rc = -ENOTCONN;
    if (rc < 0)
        return rc;
    c->tmpl_sent_ms = mono_ms();
    c->msgs_since_tmpl = 0;
    stat_add(&c->st_template_sends, 1);
    return 0;
}

static int add_template(struct fp_collector *c, fbSession_t *s, uint16_t tid, bool internal)
{
    GError *err = NULL;
    int rc;
    fbTemplate_t *t = fp_export_template_build(c->ex->model, fp_export_template_get(tid),
                                               internal, &rc);
    if (t == NULL)
        return rc;
    uint16_t id = internal ? FP_TID_INTERNAL(tid) : tid;
    if (fbSessionAddTemplate(s, internal, id, t, &err) != id) {
        coll_error(c, "add template %u: %s", id, err ? err->message : "?");
        g_clear_error(&err);
        fbTemplateFreeUnused(t);
        return -EINVAL;
    }
    return 0;
}

/* New transport session: fresh libfixbuf session (sequence 0), all templates sent first. */
static int coll_session_open(struct fp_collector *c)
{
    uint32_t odid = c->ex->cfg.observation_domain;
    const uint16_t *tids = coll_tids(c);
    fbSession_t *s = fbSessionAlloc(c->ex->model);
    int rc;
    fp_export_tmpl_session_start(&c->tmpl); /* templates in use: only this session's */

    if (s == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < FP_ARRAY_SIZE(uni_tids); i++) {
        size_t need = IPFIX_HDR + template_wire_size(fp_export_template_get(tids[i]));
        if (need > c->msgsize) {
            coll_error(c, "message size %u too small for template %u (%zu bytes); raise mtu "
                       "or set export.enterprise_elements = false", c->msgsize, tids[i], need);
            rc = -EMSGSIZE;
            goto fail;
        }
    }
    /* Internal templates (one table per session), then external ones per domain, all before
     * fBufAllocForExport (afterwards libfixbuf would try to export them at once). */
    for (unsigned i = 0; i < FP_ARRAY_SIZE(uni_tids); i++)
        if ((rc = add_template(c, s, tids[i], true)) < 0)
            goto fail;
    if ((rc = add_template(c, s, FP_TID_EP_STATS, true)) < 0)
        goto fail;
    if (c->ex->cfg.export_enterprise && (rc = add_template(c, s, FP_TID_IE_TYPE, true)) < 0)
        goto fail;
    fbSessionSetDomain(s, 0);
    if ((rc = add_template(c, s, FP_TID_EP_STATS, false)) < 0)
        goto fail;
    fbSessionSetDomain(s, odid);
    for (unsigned i = 0; i < FP_ARRAY_SIZE(uni_tids); i++)
        if ((rc = add_template(c, s, tids[i], false)) < 0)
            goto fail;
    if (c->ex->cfg.export_enterprise && (rc = add_template(c, s, FP_TID_IE_TYPE, false)) < 0)
        goto fail;

    fbExporter_t *x = fbExporterAllocBuffer(c->msgbuf, c->msgsize);
    if (x == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    c->fb = fBufAllocForExport(s, x);
    if (c->fb == NULL) {
        fbExporterClose(x);
        rc = -ENOMEM;
        goto fail;
    }
    fBufSetAutomaticMode(c->fb, FALSE);
    c->cur_tid = 0;
    c->pend_flows = c->pend_packets = c->pend_octets = 0;
    return coll_export_templates(c);
fail:
    fbSessionFree(s);
    return rc;
}

static void coll_maybe_refresh(struct fp_collector *c, uint64_t now);

/* Append one data record (flows > 0: a flow record, counted for exported/not-sent). */
static int coll_append(struct fp_collector *c, uint16_t tid, const void *rec, size_t len,
                       uint64_t flows, uint64_t pkts, uint64_t octs)
{
    GError *err = NULL;
    if (c->fb == NULL) {
        coll_not_sent(c, flows, pkts, octs);
        return -ENOTCONN;
    }
    /* EOM: the message is full, or templates were just exported (libfixbuf wants a new
     * message after them). Emit and retry; a third EOM means the record never fits. */
    for (int tries = 0; tries < 3; tries++) {
        if (c->cur_tid != tid) {
            if (!fBufSetInternalTemplate(c->fb, FP_TID_INTERNAL(tid), &err) ||
                !fBufSetExportTemplate(c->fb, tid, &err)) {
                coll_error(c, "set template %u: %s", tid, err ? err->message : "?");
                g_clear_error(&err);
                coll_not_sent(c, flows, pkts, octs);
                return -EINVAL;
            }
            c->cur_tid = tid;
        }
        /* libfixbuf reads the record only (non-const in its API). */
        if (fBufAppend(c->fb, (uint8_t *)(uintptr_t)rec, len, &err)) {
            if (c->pend_flows == 0)
                c->pend_since_ms = mono_ms();
            c->pend_flows += flows;
            c->pend_packets += pkts;
            c->pend_octets += octs;
            return 0;
        }
        if (tries < 2 && is_eom(err)) {
            g_clear_error(&err);
            coll_emit(c);
            /* a refresh due now goes before this record (not inside domain 0) */
            if (tid != FP_TID_EP_STATS)
                coll_maybe_refresh(c, mono_ms());
            if (c->fb == NULL) {
                coll_not_sent(c, flows, pkts, octs);
                return -ENOTCONN;
            }
            continue;
        }
        break;
    }
    coll_error(c, "fBufAppend template %u: %s", tid, err ? err->message : "?");
    g_clear_error(&err);
    coll_not_sent(c, flows, pkts, octs);
    return -EIO;
}

static void coll_maybe_refresh(struct fp_collector *c, uint64_t now)
{
    if (c->fb == NULL ||
        (c->cfg->transport != FP_TRANSPORT_UDP && c->cfg->transport != FP_TRANSPORT_DTLS))
        return;
    const struct fp_config *cfg = &c->ex->cfg;
    if ((cfg->template_refresh_s && now - c->tmpl_sent_ms >= cfg->template_refresh_s * 1000ull) ||
        (cfg->template_refresh_msgs && c->msgs_since_tmpl >= cfg->template_refresh_msgs))
        coll_export_templates(c);
}

/* ---------------------------------------------------------------- records */

static uint64_t ns_ms(uint64_t ns)
{
    return ns / 1000000u;
}

static uint32_t ip4(const uint8_t *a)
{
    return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

static uint16_t vlan_of(const struct fp_flow_record *r)
{
    return r->n_vlan ? (uint16_t)(r->vlan[0] & 0x0fff) : 0;
}

#define FILL_COMMON(o, r, d)                                                               \
    do {                                                                                   \
        (o).flow_start_ms = ns_ms((d)->first_ns);                                          \
        (o).flow_end_ms = ns_ms((d)->last_ns);                                             \
        (o).octets = (d)->bytes;                                                           \
        (o).packets = (d)->packets;                                                        \
        (o).flow_id = (r)->flow_id;                                                        \
        (o).ingress = (uint32_t)(r)->port_id + 1;                                          \
        (o).tcp_flags = (d)->tcp_flags;                                                    \
        (o).icmp = (d)->icmp_type_code;                                                    \
        (o).vlan = vlan_of(r);                                                             \
        (o).proto = (r)->proto;                                                            \
        (o).tos = (d)->tos;                                                                \
        (o).ttl_min = (d)->ttl_min;                                                        \
        (o).ttl_max = (d)->ttl_max;                                                        \
        (o).end_reason = (r)->end_reason;                                                  \
    } while (0)

#define FILL_REVERSE(o, d)                                                                 \
    do {                                                                                   \
        (o).r_flow_start_ms = ns_ms((d)->first_ns);                                        \
        (o).r_flow_end_ms = ns_ms((d)->last_ns);                                           \
        (o).r_octets = (d)->bytes;                                                         \
        (o).r_packets = (d)->packets;                                                      \
        (o).r_tcp_flags = (d)->tcp_flags;                                                  \
        (o).r_icmp = (d)->icmp_type_code;                                                  \
        (o).r_tos = (d)->tos;                                                              \
        (o).r_ttl_min = (d)->ttl_min;                                                      \
        (o).r_ttl_max = (d)->ttl_max;                                                      \
        (o).biflow_dir = 1;                                                                \
    } while (0)

/* Enterprise variants: the standard record plus FlowPulse's block (basicLists freed after). */
#define PUT_IE(c, tid, o, r, d, rev, flows, pkts, octs)                                    \
    do {                                                                                   \
        fp_export_ie_ent_fill(&(o).e, (rev), (r), (d), (c)->ex->model,                     \
                              fp_export_ie_pen(&(c)->ex->cfg));                            \
        coll_append((c), (tid), &(o), sizeof(o), (flows), (pkts), (octs));                 \
        fp_export_ie_ent_clear(&(o).e);                                                    \
    } while (0)

static void put_uniflow(struct fp_collector *c, const struct fp_flow_record *r, unsigned d)
{
    const struct fp_flow_dir *dir = &r->dir[d];
    const uint8_t *src = d ? r->dst : r->src;
    const uint8_t *dst = d ? r->src : r->dst;
    bool ie = c->ex->cfg.export_enterprise;
    if (r->ip_version == 6) {
        struct fp_ipfix_uni6_ie x;
        struct fp_ipfix_uni6 *o = &x.b;
        memset(o, 0, sizeof(*o));
        FILL_COMMON(*o, r, dir);
        memcpy(o->src, src, 16);
        memcpy(o->dst, dst, 16);
        o->sport = d ? r->dport : r->sport;
        o->dport = d ? r->sport : r->dport;
        if (ie)
            PUT_IE(c, FP_TID_UNI6_IE, x, r, d, NULL, 1, dir->packets, dir->bytes);
        else
            coll_append(c, FP_TID_UNI6, o, sizeof(*o), 1, dir->packets, dir->bytes);
    } else {
        struct fp_ipfix_uni4_ie x;
        struct fp_ipfix_uni4 *o = &x.b;
        memset(o, 0, sizeof(*o));
        FILL_COMMON(*o, r, dir);
        o->src = ip4(src);
        o->dst = ip4(dst);
        o->sport = d ? r->dport : r->sport;
        o->dport = d ? r->sport : r->dport;
        if (ie)
            PUT_IE(c, FP_TID_UNI4_IE, x, r, d, NULL, 1, dir->packets, dir->bytes);
        else
            coll_append(c, FP_TID_UNI4, o, sizeof(*o), 1, dir->packets, dir->bytes);
    }
}

static void put_biflow(struct fp_collector *c, const struct fp_flow_record *r)
{
    uint64_t pkts = r->dir[0].packets + r->dir[1].packets;
    uint64_t octs = r->dir[0].bytes + r->dir[1].bytes;
    bool ie = c->ex->cfg.export_enterprise;
    if (r->ip_version == 6) {
        struct fp_ipfix_bi6_ie x;
        struct fp_ipfix_bi6 *o = &x.b;
        memset(o, 0, sizeof(*o));
        FILL_COMMON(*o, r, &r->dir[0]);
        FILL_REVERSE(*o, &r->dir[1]);
        memcpy(o->src, r->src, 16);
        memcpy(o->dst, r->dst, 16);
        o->sport = r->sport;
        o->dport = r->dport;
        if (ie)
            PUT_IE(c, FP_TID_BI6_IE, x, r, 0, &x.r, 1, pkts, octs);
        else
            coll_append(c, FP_TID_BI6, o, sizeof(*o), 1, pkts, octs);
    } else {
        struct fp_ipfix_bi4_ie x;
        struct fp_ipfix_bi4 *o = &x.b;
        memset(o, 0, sizeof(*o));
        FILL_COMMON(*o, r, &r->dir[0]);
        FILL_REVERSE(*o, &r->dir[1]);
        o->src = ip4(r->src);
        o->dst = ip4(r->dst);
        o->sport = r->sport;
        o->dport = r->dport;
        if (ie)
            PUT_IE(c, FP_TID_BI4_IE, x, r, 0, &x.r, 1, pkts, octs);
        else
            coll_append(c, FP_TID_BI4, o, sizeof(*o), 1, pkts, octs);
    }
}

static void coll_put_flow(struct fp_collector *c, const struct fp_flow_record *r, uint64_t now)
{
    coll_maybe_refresh(c, now);
    if (c->cfg->biflow) {
        put_biflow(c, r);
        return;
    }
    if (r->dir[0].packets > 0 || r->dir[1].packets == 0)
        put_uniflow(c, r, 0);
    if (r->dir[1].packets > 0)
        put_uniflow(c, r, 1);
}

/* ---------------------------------------------------------------- NetFlow v9/v5 */

/* The encoder's send callback: one datagram on the collector's connected UDP socket. */
static int nf_send(void *arg, const uint8_t *pkt, size_t len)
{
    struct fp_collector *c = arg;
    if (c->fd < 0)
        return -ENOTCONN;
    ssize_t n = send(c->fd, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        int e = errno;
        coll_error(c, "send: %s", strerror(e));
        return -e;
    }
    return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Export clock for the encoders: a capture file uses the record clock (0, see netflow.h),
 * live capture the wall clock. */
static uint64_t nf_now(const struct fp_exporter *ex)
{
    return ex->cfg.capture_file[0] ? 0 : wall_ms();
}

static void stat_set(_Atomic uint64_t *ctr, uint64_t v)
{
    atomic_store_explicit(ctr, v, memory_order_relaxed);
}

/* Publish the encoder's counters (single writer: this thread) in the collector's stats. */
static void nf_sync_stats(struct fp_collector *c)
{
    const struct fp_nf_stats *s = &c->nf->stats;
    stat_set(&c->st_messages, s->packets);
    stat_set(&c->st_octets, s->octets);
    stat_set(&c->st_records, s->records - s->records_not_sent);
    stat_set(&c->st_not_sent, s->records_not_sent);
    stat_set(&c->st_template_sends, s->template_packets);
    stat_set(&c->st_nf_skipped_ipv6, s->v5_skipped_ipv6 + s->skipped_other);
    stat_set(&c->st_nf_splits, s->v5_splits);
    stat_set(&c->st_nf_dirs_empty, s->dirs_empty);
}

/* Encoder parameters of a NetFlow collector from the exporter's config. */
static void nf_params(struct fp_collector *c, struct fp_nf_params *p)
{
    const struct fp_config *cfg = &c->ex->cfg;
    memset(p, 0, sizeof(*p));
    p->version = c->cfg->protocol == FP_EXPORT_PROTOCOL_NFV5 ? 5 : 9;
    p->source_id = cfg->observation_domain;
    p->boot_ms = c->ex->nf_boot_ms;
    p->mtu = FP_MIN(c->cfg->mtu ? c->cfg->mtu : FP_NF_V9_DEFAULT_MTU, FP_NF_MAX_PKT);
    /* export.template_refresh_msgs / _s: 0 = off, as for IPFIX */
    p->template_refresh_pkts = cfg->template_refresh_msgs ? cfg->template_refresh_msgs
                                                          : UINT32_MAX;
    p->template_refresh_ms = cfg->template_refresh_s && cfg->template_refresh_s < UINT32_MAX / 1000
                                 ? cfg->template_refresh_s * 1000u
                                 : UINT32_MAX;
    p->active_timeout_s = (uint16_t)FP_MIN(cfg->active_timeout_ms / 1000u, 65535u);
    p->inactive_timeout_s = (uint16_t)FP_MIN(cfg->idle_timeout_ms / 1000u, 65535u);
    p->send = nf_send;
    p->send_arg = c;
}

static int coll_nf_open(struct fp_collector *c)
{
    struct fp_nf_params p;
    nf_params(c, &p);
    c->nf = malloc(sizeof(*c->nf));
    if (c->nf == NULL)
        return -ENOMEM;
    int rc = fp_nf_encoder_init(c->nf, &p);
    if (rc < 0) {
        coll_error(c, "NetFlow v%u encoder: %s", p.version, strerror(-rc));
        free(c->nf);
        c->nf = NULL;
        return rc;
    }
    c->nf_next_flush_ms = mono_ms() + c->ex->flush_ms;
    set_state(c, FP_COLLECTOR_STATE_UP);
    return 0;
}

static void coll_nf_flush(struct fp_collector *c)
{
    fp_nf_flush(c->nf, nf_now(c->ex));
    nf_sync_stats(c);
}

/* ---------------------------------------------------------------- options records */

static void get_metering(struct fp_exporter *ex, struct fp_metering_stats *ms)
{
    memset(ms, 0, sizeof(*ms));
    if (ex->metering_stats)
        ex->metering_stats(ex->metering_arg, ms);
}

static void coll_send_stats(struct fp_collector *c, const struct fp_metering_stats *ms)
{
    uint32_t odid = c->ex->cfg.observation_domain;
    if (c->fb == NULL)
        return;
    coll_maybe_refresh(c, mono_ms());
    struct fp_ipfix_mp_stats mp = {
        .odid = odid,
        .exported_messages = atomic_load_explicit(&c->st_messages, memory_order_relaxed),
        .exported_flows = atomic_load_explicit(&c->st_records, memory_order_relaxed),
        .exported_octets = atomic_load_explicit(&c->st_octets, memory_order_relaxed),
        .ignored_packets = ms->packets_ignored,
        .ignored_octets = ms->octets_ignored,
        .first_ignored_ms = ms->first_ignored_ms,
        .last_ignored_ms = ms->last_ignored_ms,
    };
    coll_append(c, FP_TID_MP_STATS, &mp, sizeof(mp), 0, 0, 0);
    coll_emit(c);
    coll_maybe_refresh(c, mono_ms());
    if (c->fb == NULL)
        return;
    /* Exporting-process statistics go in observation domain 0 (RFC 7011 §3.1). */
    if (odid != 0)
        fbSessionSetDomain(fBufGetSession(c->fb), 0);
    c->cur_tid = 0;
    struct fp_ipfix_ep_stats ep = {
        .epid = c->ex->epid,
        .not_sent_flows = atomic_load_explicit(&c->st_not_sent, memory_order_relaxed) +
                          ms->records_ring_full,
        .not_sent_packets =
            atomic_load_explicit(&c->st_not_sent_packets, memory_order_relaxed) +
            ms->packets_ring_full,
        .not_sent_octets = atomic_load_explicit(&c->st_not_sent_octets, memory_order_relaxed) +
                           ms->octets_ring_full,
        .first_not_sent_ms = c->first_not_sent_ms,
        .last_not_sent_ms = c->last_not_sent_ms,
    };
    coll_append(c, FP_TID_EP_STATS, &ep, sizeof(ep), 0, 0, 0);
    coll_emit(c);
    if (c->fb != NULL && odid != 0)
        fbSessionSetDomain(fBufGetSession(c->fb), odid);
    c->cur_tid = 0;
}

/* ---------------------------------------------------------------- TCP, TLS, DTLS */

/* Session over (failure or stop): records not acknowledged go back to the lane's backlog. */
static void coll_tcp_down(struct fp_collector *c, uint64_t now)
{
    c->pend_flows = c->pend_packets = c->pend_octets = 0; /* held: queued again */
    coll_session_close(c);
    unsigned n = fp_export_stream_close(c, false);
    if (n)
        stat_add(&c->st_resent, n);
    set_state(c, FP_COLLECTOR_STATE_DOWN);
    c->next_retry_ms = now + c->backoff_ms;
    c->backoff_ms = FP_MIN(c->backoff_ms * 2, c->ex->retry_max_ms);
}

/* One failure: counter by reason, one log line naming the collector and the cause, backoff. */
static void coll_stream_fail(struct fp_collector *c, enum fp_export_fail reason,
                             const char *why, uint64_t now)
{
    stat_add(&c->st_fail[reason], 1);
    coll_error(c, "%s [%s; retry in %.1f s]", why, fp_export_fail_name(reason),
               c->backoff_ms / 1000.0);
    coll_tcp_down(c, now);
}

static void coll_tcp_established(struct fp_collector *c, uint64_t now)
{
    if (c->ever_connected)
        stat_add(&c->st_reconnects, 1);
    c->ever_connected = true;
    c->backoff_ms = c->ex->retry_min_ms;
    set_state(c, FP_COLLECTOR_STATE_UP);
    if (c->ssl != NULL)
        export_log(c->name, "%s session established (%s, %s), collector certificate verified",
                   c->cfg->transport == FP_TRANSPORT_DTLS ? "DTLS" : "TLS",
                   SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
    /* New transport session: fresh libfixbuf session, sequence 0, templates first. */
    int rc = coll_session_open(c);
    if (rc < 0 && atomic_load(&c->st_state) == FP_COLLECTOR_STATE_UP) {
        coll_error(c, "session: %s", strerror(-rc));
        coll_tcp_down(c, now);
    }
}

/* Advance a TCP/TLS/DTLS collector: connect, handshake, write, read (never blocks when
 * @p wait_ms is 0). */
static void coll_stream_step(struct fp_collector *c, uint64_t now, int wait_ms)
{
    enum fp_export_fail reason = FP_EXPORT_FAIL_IO;
    char why[FP_EXPORT_ERR_LEN];
    int rc;

    switch ((enum fp_collector_state)atomic_load_explicit(&c->st_state, memory_order_relaxed)) {
    case FP_COLLECTOR_STATE_DOWN:
        if (now < c->next_retry_ms)
            return;
        if (c->cfg->transport != FP_TRANSPORT_TCP &&
            fp_export_tls_ctx_load(c, &reason, why, sizeof(why)) < 0) {
            coll_stream_fail(c, reason, why, now);
            return;
        }
        if (fp_export_stream_connect(c, &reason, why, sizeof(why)) < 0) {
            coll_stream_fail(c, reason, why, now);
            return;
        }
        c->connect_started_ms = now;
        set_state(c, FP_COLLECTOR_STATE_CONNECTING);
        /* fall through */
    case FP_COLLECTOR_STATE_CONNECTING:
        rc = fp_export_stream_progress(c, wait_ms, c->connect_started_ms, &reason, why,
                                       sizeof(why));
        if (rc < 0)
            coll_stream_fail(c, reason, why, mono_ms());
        else if (rc == 1)
            coll_tcp_established(c, mono_ms());
        return;
    case FP_COLLECTOR_STATE_UP:
        if (fp_export_stream_service(c, &reason, why, sizeof(why)) < 0)
            coll_stream_fail(c, reason, why, now);
        return;
    case FP_COLLECTOR_STATE_CLOSED:
        return;
    }
}

/* ---------------------------------------------------------------- lanes (queue, failover) */

/* The collector of a lane that takes records now: the first member with a session. */
static struct fp_collector *lane_active(struct fp_exporter *ex, struct fp_export_lane *l)
{
    for (unsigned i = 0; i < l->n_members; i++) {
        struct fp_collector *c = ex->coll[l->members[i]];
        if (c->fb != NULL)
            return c;
    }
    return NULL;
}

static void lane_update_stats(struct fp_exporter *ex, struct fp_export_lane *l)
{
    atomic_store_explicit(&ex->coll[l->members[0]]->st_queued,
                          fp_export_backlog_count(&l->bl), memory_order_relaxed);
}

/* Encode one record in a stream collector's session and hold it until acknowledged. */
static void coll_encode(struct fp_collector *c, const struct fp_flow_record *r, uint64_t now)
{
    coll_put_flow(c, r, now);
    if (c->fb != NULL)
        fp_export_stream_hold(c, r);
}

/* Records the spool could not give back (unreadable or short segment, failed write of a
 * finished message): dropped, and counted not sent like any other loss. */
static void lane_account_lost(struct fp_exporter *ex, struct fp_export_lane *l)
{
    uint64_t *lost = l->bl.lost;
    if (lost[0] == 0 && lost[1] == 0)
        return;
    struct fp_collector *owner = ex->coll[l->members[0]];
    stat_add(&owner->st_queue_dropped, lost[0]);
    coll_not_sent(owner, lost[0], lost[1], lost[2]);
    coll_error(owner, "spool: %llu flow records could not be read back from %s: lost",
               (unsigned long long)lost[0], l->bl.dir);
    lost[0] = lost[1] = lost[2] = 0;
}

static void lane_push(struct fp_exporter *ex, struct fp_export_lane *l,
                      const struct fp_flow_record *r)
{
    struct fp_collector *owner = ex->coll[l->members[0]];
    uint64_t dropped[3] = {0, 0, 0}, spooled = 0;
    fp_export_backlog_push(&l->bl, r, dropped, &spooled);
    if (spooled)
        stat_add(&owner->st_spooled, spooled);
    if (dropped[0]) {
        stat_add(&owner->st_queue_dropped, dropped[0]);
        coll_not_sent(owner, dropped[0], dropped[1], dropped[2]);
        coll_error(owner, "queue%s full: oldest records dropped",
                   l->bl.dir[0] ? " and spool" : "");
    }
    lane_account_lost(ex, l);
}

/* Replay the backlog, oldest first, as far as the active collector accepts. */
static void lane_drain(struct fp_exporter *ex, struct fp_export_lane *l, uint64_t now,
                       unsigned budget)
{
    struct fp_collector *c = lane_active(ex, l);
    struct fp_flow_record r;
    if (c == NULL || fp_export_backlog_count(&l->bl) == 0)
        return;
    while (budget-- && c->fb != NULL && fp_export_stream_accepting(c) &&
           fp_export_backlog_pop(&l->bl, &r))
        coll_encode(c, &r, now);
    lane_account_lost(ex, l);
    lane_update_stats(ex, l);
}

static void lane_offer(struct fp_exporter *ex, struct fp_export_lane *l,
                       const struct fp_flow_record *r, uint64_t now)
{
    struct fp_collector *c = lane_active(ex, l);
    if (c != NULL && fp_export_backlog_count(&l->bl) == 0 && fp_export_stream_accepting(c)) {
        coll_encode(c, r, now);
        return;
    }
    lane_push(ex, l, r);
    lane_update_stats(ex, l);
}

/* Records that will never be sent (stop): count them on the lane's first collector. */
static void lane_discard(struct fp_exporter *ex, struct fp_export_lane *l)
{
    struct fp_collector *owner = ex->coll[l->members[0]];
    struct fp_flow_record r;
    uint64_t n[3], tot[3] = {0, 0, 0};
    while (fp_export_backlog_pop(&l->bl, &r)) {
        fp_export_record_counts(&r, l->bl.biflow, n);
        for (int i = 0; i < 3; i++)
            tot[i] += n[i];
    }
    if (tot[0]) {
        coll_not_sent(owner, tot[0], tot[1], tot[2]);
        coll_error(owner, "stopping: %llu queued flow records not sent (collector down)",
                   (unsigned long long)tot[0]);
    }
    lane_account_lost(ex, l);
    lane_update_stats(ex, l);
}

/* ---------------------------------------------------------------- periodic work */

static void coll_tick(struct fp_collector *c, uint64_t now)
{
    if (c->nf != NULL) {
        if (now >= c->nf_next_flush_ms) {
            c->nf_next_flush_ms = now + c->ex->flush_ms;
            coll_nf_flush(c);
        }
        return;
    }
    if (fp_export_is_stream(c->cfg->transport))
        coll_stream_step(c, now, 0);
    if (c->fb == NULL)
        return;
    coll_maybe_refresh(c, now);
    if (c->pend_flows && now - c->pend_since_ms >= c->ex->flush_ms)
        coll_emit(c);
    if (fp_export_is_stream(c->cfg->transport) && c->fb != NULL)
        coll_stream_step(c, now, 0); /* write what the tick emitted */
}

static void coll_close(struct fp_collector *c)
{
    coll_session_close(c);
    if (fp_export_is_stream(c->cfg->transport)) {
        fp_export_stream_close(c, true);
    } else if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    set_state(c, FP_COLLECTOR_STATE_CLOSED);
}

/* Work left for the stream collectors at stop: backlog, unsent bytes, unacknowledged. */
static bool stream_work_left(struct fp_exporter *ex, uint64_t *progress_sig)
{
    uint64_t sig = 0;
    bool left = false;
    for (unsigned i = 0; i < ex->n_lanes; i++) {
        uint64_t n = fp_export_backlog_count(&ex->lanes[i]->bl);
        sig += n;
        left |= n != 0;
    }
    for (unsigned j = 0; j < ex->n_coll; j++) {
        struct fp_collector *c = ex->coll[j];
        if (!fp_export_is_stream(c->cfg->transport) || c->fb == NULL)
            continue;
        sig += fp_export_stream_pending(c) + c->held_n + c->pend_flows;
        left |= fp_export_stream_pending(c) != 0 || c->held_n != 0 || c->pend_flows != 0;
    }
    *progress_sig = sig;
    return left;
}

/* At stop: give collectors that are down up to export.drain_timeout, and collectors that
 * are making progress as long as they do, to take the queued records. */
static void drain_streams(struct fp_exporter *ex)
{
    uint64_t t0 = mono_ms(), last_progress = t0, sig, prev = UINT64_MAX;
    while (stream_work_left(ex, &sig)) {
        uint64_t now = mono_ms();
        if (sig != prev) {
            prev = sig;
            last_progress = now;
        }
        if (now - t0 >= ex->drain_ms && now - last_progress >= 1000)
            break;
        for (unsigned i = 0; i < ex->n_lanes; i++)
            lane_drain(ex, ex->lanes[i], now, 1024);
        for (unsigned j = 0; j < ex->n_coll; j++) {
            struct fp_collector *c = ex->coll[j];
            if (!fp_export_is_stream(c->cfg->transport))
                continue;
            if (c->fb != NULL && c->pend_flows &&
                fp_export_backlog_count(&c->lane->bl) == 0)
                coll_emit(c);
            coll_tick(c, now);
        }
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < ex->n_lanes; i++)
        lane_discard(ex, ex->lanes[i]);
}

static int apply_reconfigure(struct fp_exporter *ex, const struct fp_config *ncfg, char *msg,
                             size_t len);

/* A reconfiguration request posted by fp_exporter_reconfigure: run it here, between bursts
 * (records dequeued before it went to the old collector set, records after it to the new). */
static void serve_request(struct fp_exporter *ex)
{
    pthread_mutex_lock(&ex->rq_lock);
    if (atomic_load(&ex->rq_pending) && !ex->rq_done) {
        ex->rq_rc = apply_reconfigure(ex, ex->rq_cfg, ex->rq_msg, ex->rq_len);
        ex->rq_done = true;
        pthread_cond_broadcast(&ex->rq_cond);
    }
    pthread_mutex_unlock(&ex->rq_lock);
}

static void *exporter_thread(void *arg)
{
    struct fp_exporter *ex = arg;
    static __thread struct fp_flow_record burst[BURST];
    static __thread uint8_t compact[BURST * FP_EXPORT_RECORD_BASE];
    memset(burst, 0, sizeof(burst));
    struct fp_metering_stats ms;
    uint64_t last_tick = 0;

    for (;;) {
        if (atomic_load_explicit(&ex->rq_pending, memory_order_acquire))
            serve_request(ex);
        bool stopping = atomic_load_explicit(&ex->stop, memory_order_acquire);
        unsigned got = 0;
        uint64_t now = mono_ms();
        for (unsigned i = 0; i < ex->n_rings; i++) {
            unsigned n;
            if (fp_export_record_size == FP_EXPORT_RING_ESIZE) {
                n = rte_ring_sc_dequeue_burst_elem(ex->rings[i], burst, FP_EXPORT_RING_ESIZE,
                                                   BURST, NULL);
            } else {
                /* Compact records: only the base part travels; the extension part of
                 * burst[] stays zero (set once below). */
                n = rte_ring_sc_dequeue_burst_elem(ex->rings[i], compact, fp_export_record_size,
                                                   BURST, NULL);
                for (unsigned k = 0; k < n; k++)
                    memcpy(&burst[k], compact + (size_t)k * fp_export_record_size,
                           fp_export_record_size);
            }
            if (n == 0)
                continue;
            uint64_t nf_clock = nf_now(ex);
            for (unsigned j = 0; j < ex->n_coll; j++) {
                struct fp_collector *c = ex->coll[j];
                if (fp_export_is_stream(c->cfg->transport))
                    continue; /* TCP/TLS/DTLS: through the lane (queue, spool, failover) */
                if (c->nf != NULL) {
                    fp_nf_encode(c->nf, burst, n, nf_clock);
                    nf_sync_stats(c);
                    continue;
                }
                if (c->cfg->protocol != FP_EXPORT_PROTOCOL_IPFIX) {
                    /* NetFlow collector that could not be opened: nothing is sent */
                    for (unsigned k = 0; k < n; k++) {
                        uint64_t cnt[3];
                        fp_export_record_counts(&burst[k], false, cnt);
                        coll_not_sent(c, cnt[0], cnt[1], cnt[2]);
                    }
                    continue;
                }
                for (unsigned k = 0; k < n; k++)
                    coll_put_flow(c, &burst[k], now);
            }
            for (unsigned k = 0; k < n; k++)
                for (unsigned l = 0; l < ex->n_lanes; l++)
                    lane_offer(ex, ex->lanes[l], &burst[k], now);
            got += n;
        }
        for (unsigned l = 0; l < ex->n_lanes; l++)
            lane_drain(ex, ex->lanes[l], now, 256);
        now = mono_ms();
        if (got == 0 || now != last_tick) {
            last_tick = now;
            for (unsigned j = 0; j < ex->n_coll; j++)
                coll_tick(ex->coll[j], now);
            if (ex->cfg.stats_interval_s && now >= ex->next_stats_ms) {
                ex->next_stats_ms = now + ex->cfg.stats_interval_s * 1000ull;
                get_metering(ex, &ms);
                for (unsigned j = 0; j < ex->n_coll; j++)
                    coll_send_stats(ex->coll[j], &ms);
            }
        }
        if (got == 0) {
            if (stopping)
                break; /* producers are done and every ring is empty */
            struct timespec ts = {0, IDLE_SLEEP_NS};
            nanosleep(&ts, NULL);
        }
    }

    pthread_mutex_lock(&ex->rq_lock);
    ex->thread_exited = true; /* a request posted from now on is refused */
    pthread_cond_broadcast(&ex->rq_cond);
    pthread_mutex_unlock(&ex->rq_lock);

    drain_streams(ex);
    get_metering(ex, &ms);
    for (unsigned j = 0; j < ex->n_coll; j++) {
        struct fp_collector *c = ex->coll[j];
        if (c->nf != NULL)
            coll_nf_flush(c);
        if (c->fb == NULL)
            continue;
        coll_emit(c);
        coll_send_stats(c, &ms);
        coll_close(c);
    }
    for (unsigned j = 0; j < ex->n_coll; j++)
        coll_close(ex->coll[j]);
    return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

static int resolve(struct fp_collector *c, int socktype)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)c->cfg->port);
    int rc = getaddrinfo(c->cfg->host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        coll_error(c, "cannot resolve %s: %s", c->cfg->host, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
    c->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static struct fp_collector *coll_alloc(struct fp_exporter *ex)
{
    struct fp_collector *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->ex = ex;
    c->fd = -1;
    pthread_mutex_init(&c->err_lock, NULL);
    set_state(c, FP_COLLECTOR_STATE_DOWN);
    return c;
}

/* Free a collector closed by coll_close (or never opened). Accepts NULL. */
static void coll_free(struct fp_collector *c)
{
    if (c == NULL)
        return;
    free(c->msgbuf);
    free(c->held);
    free(c->sendq);
    free(c->nf);
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    pthread_mutex_destroy(&c->err_lock);
    free(c);
}

/* Open collector @p idx (ex->coll[idx] allocated by coll_alloc, config in ex->cfg). */
static int coll_init(struct fp_exporter *ex, unsigned idx)
{
    struct fp_collector *c = ex->coll[idx];
    const struct fp_collector_config *cc = &ex->cfg.collectors[idx];
    int rc;

    c->ex = ex;
    c->cfg = cc;
    c->idx = idx;
    c->protocol = cc->protocol;
    c->fd = -1;
    char name[sizeof(c->name)]; /* via a local: both strings live inside *ex (-Wrestrict) */
    if (cc->url[0])
        snprintf(name, sizeof(name), "%s", cc->url);
    else if (cc->transport == FP_TRANSPORT_FILE)
        snprintf(name, sizeof(name), "file:%s", cc->path);
    else
        snprintf(name, sizeof(name), "%s:%u", cc->host, (unsigned)cc->port);
    memcpy(c->name, name, sizeof(name));
    c->backoff_ms = ex->retry_min_ms;
    set_state(c, FP_COLLECTOR_STATE_DOWN);
    if (cc->protocol != FP_EXPORT_PROTOCOL_IPFIX && cc->transport != FP_TRANSPORT_UDP) {
        coll_error(c, "NetFlow is exported over UDP only");
        return -EINVAL;
    }

    switch (cc->transport) {
    case FP_TRANSPORT_FILE:
        c->msgsize = FILE_MSG_SIZE;
        c->fd = open(cc->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (c->fd < 0) {
            rc = -errno;
            coll_error(c, "open %s: %s", cc->path, strerror(errno));
            return rc;
        }
        break;
    case FP_TRANSPORT_UDP: {
        uint32_t mtu = cc->mtu ? cc->mtu : UDP_MTU_DEFAULT;
        if (mtu < UDP_MTU_MIN || mtu > 65535) {
            coll_error(c, "mtu %u out of range %u..65535", mtu, UDP_MTU_MIN);
            return -EINVAL;
        }
        c->msgsize = (uint16_t)mtu;
        if ((rc = resolve(c, SOCK_DGRAM)) < 0)
            return rc;
        c->fd = socket(c->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (const struct sockaddr *)&c->addr, c->addr_len) < 0) {
            rc = -errno;
            coll_error(c, "udp socket: %s", strerror(errno));
            return rc;
        }
        if (cc->protocol != FP_EXPORT_PROTOCOL_IPFIX)
            return coll_nf_open(c); /* NetFlow: no libfixbuf session */
        break;
    }
    case FP_TRANSPORT_TCP:
    case FP_TRANSPORT_TLS:
        c->msgsize = TCP_MSG_SIZE;
        if ((rc = resolve(c, SOCK_STREAM)) < 0)
            return rc;
        break;
    case FP_TRANSPORT_DTLS: {
        uint32_t mtu = cc->mtu ? cc->mtu : UDP_MTU_DEFAULT;
        if (mtu < UDP_MTU_MIN + 128 || mtu > 65535) {
            coll_error(c, "mtu %u out of range %u..65535", mtu, UDP_MTU_MIN + 128);
            return -EINVAL;
        }
        c->msgsize = fp_export_dtls_msgsize(mtu);
        if ((rc = resolve(c, SOCK_DGRAM)) < 0)
            return rc;
        break;
    }
    default:
        return -EINVAL;
    }
    c->msgbuf = malloc(c->msgsize);
    if (c->msgbuf == NULL)
        return -ENOMEM;

    if (fp_export_is_stream(cc->transport)) {
        c->held = malloc(FP_EXPORT_HELD * sizeof(*c->held));
        if (c->held == NULL)
            return -ENOMEM;
        /* Connect now, waiting up to 1 s; down is not fatal: retried by the thread, and
         * records queue meanwhile. */
        uint64_t t0 = mono_ms();
        coll_stream_step(c, t0, 0);
        while (atomic_load(&c->st_state) == FP_COLLECTOR_STATE_CONNECTING &&
               mono_ms() - t0 < CONNECT_WAIT_CREATE_MS)
            coll_stream_step(c, mono_ms(), 20);
        return 0;
    }
    set_state(c, FP_COLLECTOR_STATE_UP);
    rc = coll_session_open(c);
    if (rc < 0)
        coll_error(c, "cannot start IPFIX session: %s", strerror(-rc));
    return rc;
}

static struct fp_export_lane *lane_new(struct fp_exporter *ex, const struct fp_collector_config *cc)
{
    const struct fp_config *cfg = &ex->cfg;
    uint64_t spool_max = (uint64_t)(cfg->spool_max_mb ? cfg->spool_max_mb : 1024) << 20;
    uint32_t mem = cfg->queue_records; /* 0: no queue, records for a down collector are lost */
    bool failover = cfg->export_mode == FP_EXPORT_MODE_FAILOVER;
    struct fp_export_lane *l = calloc(1, sizeof(*l));
    char name[FP_CONFIG_STR + 16];
    int rc;

    if (l == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    snprintf(name, sizeof(name), "%s%s:%u", failover ? "failover-" : "", cc->host,
             (unsigned)cc->port);
    if ((rc = fp_export_backlog_init(&l->bl, mem, cfg->spool_dir, name, spool_max,
                                     cc->biflow)) < 0) {
        fprintf(stderr, "flowpulse: export: spool %s: %s\n", cfg->spool_dir, strerror(-rc));
        fp_export_backlog_fini(&l->bl);
        free(l);
        errno = -rc;
        return NULL;
    }
    return l;
}

static void lane_free(struct fp_export_lane *l)
{
    if (l == NULL)
        return;
    fp_export_backlog_fini(&l->bl);
    free(l);
}

/* Stream collectors share backlogs by lane: one each in mode all, one for all in failover. */
static int lanes_init(struct fp_exporter *ex)
{
    const struct fp_config *cfg = &ex->cfg;
    bool failover = cfg->export_mode == FP_EXPORT_MODE_FAILOVER;

    for (unsigned i = 0; i < cfg->n_collectors; i++) {
        const struct fp_collector_config *cc = &cfg->collectors[i];
        if (!fp_export_is_stream(cc->transport))
            continue;
        struct fp_export_lane *l = failover && ex->n_lanes ? ex->lanes[0] : NULL;
        if (l == NULL) {
            l = lane_new(ex, cc);
            if (l == NULL)
                return -errno;
            ex->lanes[ex->n_lanes++] = l;
        }
        l->members[l->n_members++] = i;
        ex->coll[i]->lane = l;
    }
    return 0;
}

/* Make coll[]/n_coll visible to fp_exporter_get_stats on other threads. */
static void publish(struct fp_exporter *ex)
{
    for (unsigned i = 0; i < ex->n_coll; i++)
        atomic_store_explicit(&ex->pub[i], ex->coll[i], memory_order_release);
    atomic_store_explicit(&ex->n_pub, ex->n_coll, memory_order_release);
}

static void ignore_sigpipe_for_tls(const struct fp_config *cfg)
{
    /* OpenSSL writes to the socket with write(): a collector that reset the connection must
     * give EPIPE, not kill the process (standards.md §1.8). */
    for (unsigned i = 0; i < cfg->n_collectors; i++)
        if (cfg->collectors[i].transport == FP_TRANSPORT_TLS ||
            cfg->collectors[i].transport == FP_TRANSPORT_DTLS)
            signal(SIGPIPE, SIG_IGN);
}

static void set_retry(struct fp_exporter *ex)
{
    ex->retry_min_ms = ex->param_retry_min_ms ? ex->param_retry_min_ms
                       : ex->cfg.retry_min_ms ? ex->cfg.retry_min_ms
                                              : 60000;
    ex->retry_max_ms = ex->param_retry_max_ms ? ex->param_retry_max_ms
                       : ex->cfg.retry_max_ms ? ex->cfg.retry_max_ms
                                              : 600000;
    if (ex->retry_max_ms < ex->retry_min_ms)
        ex->retry_max_ms = ex->retry_min_ms;
    ex->drain_ms = ex->cfg.drain_timeout_ms;
}

struct fp_exporter *fp_exporter_create(const struct fp_exporter_params *p)
{
    struct fp_exporter *ex = NULL;
    int rc = -EINVAL;

    if (p == NULL || p->cfg == NULL || (p->n_rings && p->rings == NULL) ||
        p->cfg->n_collectors > FP_MAX_COLLECTORS)
        goto fail;
    ex = calloc(1, sizeof(*ex));
    if (ex == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    pthread_mutex_init(&ex->rq_lock, NULL);
    pthread_cond_init(&ex->rq_cond, NULL);
    ex->cfg = *p->cfg;
    ex->n_rings = p->n_rings;
    if (p->n_rings) {
        ex->rings = calloc(p->n_rings, sizeof(*ex->rings));
        if (ex->rings == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        for (unsigned i = 0; i < p->n_rings; i++) {
            if (p->rings[i] == NULL)
                goto fail;
            ex->rings[i] = p->rings[i];
        }
    }
    ex->metering_stats = p->metering_stats;
    ex->metering_arg = p->metering_arg;
    ex->param_retry_min_ms = p->tcp_retry_min_ms;
    ex->param_retry_max_ms = p->tcp_retry_max_ms;
    set_retry(ex);
    ex->flush_ms = p->flush_ms ? p->flush_ms : 1000;
    ex->epid = p->exporting_process_id ? p->exporting_process_id : (uint32_t)getpid();
    /* NetFlow sysUpTime origin: live = now; capture file = from the records (netflow.h) */
    ex->nf_boot_ms = ex->cfg.capture_file[0] ? 0 : wall_ms();
    atomic_init(&ex->stop, false);
    ex->model = fbInfoModelAlloc();
    if (ex->model == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (ex->cfg.export_enterprise) {
        ex->ie_pen = fp_export_ie_pen(&ex->cfg);
        fp_export_ie_model_add(ex->model, ex->ie_pen);
        ex->ie_model_added = true;
    }
    ignore_sigpipe_for_tls(&ex->cfg);
    for (unsigned i = 0; i < ex->cfg.n_collectors; i++) {
        ex->coll[i] = coll_alloc(ex);
        if (ex->coll[i] == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        ex->coll[i]->cfg = &ex->cfg.collectors[i];
        ex->n_coll = i + 1;
    }
    if ((rc = lanes_init(ex)) < 0)
        goto fail;
    for (unsigned i = 0; i < ex->cfg.n_collectors; i++)
        if ((rc = coll_init(ex, i)) < 0)
            goto fail;
    publish(ex);
    ex->next_stats_ms = mono_ms() + ex->cfg.stats_interval_s * 1000ull;
    return ex;
fail:
    fp_exporter_destroy(ex);
    errno = -rc;
    return NULL;
}

int fp_exporter_start(struct fp_exporter *ex)
{
    if (ex == NULL)
        return -EINVAL;
    if (ex->started)
        return -EALREADY;
    atomic_store(&ex->stop, false);
    pthread_mutex_lock(&ex->rq_lock);
    ex->thread_exited = false;
    pthread_mutex_unlock(&ex->rq_lock);
    int rc = pthread_create(&ex->thread, NULL, exporter_thread, ex);
    if (rc != 0)
        return -rc;
    ex->started = true;
    return 0;
}

int fp_exporter_stop(struct fp_exporter *ex)
{
    if (ex == NULL || !ex->started)
        return -EINVAL;
    atomic_store_explicit(&ex->stop, true, memory_order_release);
    pthread_join(ex->thread, NULL);
    ex->started = false;
    return 0;
}

void fp_exporter_destroy(struct fp_exporter *ex)
{
    if (ex == NULL)
        return;
    if (ex->started)
        fp_exporter_stop(ex);
    for (unsigned i = 0; i < ex->n_coll; i++) {
        if (ex->coll[i] != NULL && ex->coll[i]->cfg != NULL)
            coll_close(ex->coll[i]);
        coll_free(ex->coll[i]);
    }
    for (unsigned i = 0; i < ex->n_retired; i++)
        coll_free(ex->retired[i]);
    free(ex->retired);
    for (unsigned i = 0; i < ex->n_lanes; i++)
        lane_free(ex->lanes[i]);
    if (ex->model)
        fbInfoModelFree(ex->model);
    pthread_cond_destroy(&ex->rq_cond);
    pthread_mutex_destroy(&ex->rq_lock);
    free(ex->rings);
    free(ex);
}

unsigned fp_exporter_collector_count(const struct fp_exporter *ex)
{
    return ex ? atomic_load_explicit(&ex->n_pub, memory_order_acquire) : 0;
}

void fp_exporter_get_stats(const struct fp_exporter *ex, unsigned collector,
                           struct fp_collector_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (ex == NULL || collector >= atomic_load_explicit(&ex->n_pub, memory_order_acquire))
        return;
    /* Readers on other threads: relaxed loads; the error text under its mutex. A collector
     * object is never freed before fp_exporter_destroy, even when a reload removed it. */
    struct fp_collector *c = atomic_load_explicit(&ex->pub[collector], memory_order_acquire);
    if (c == NULL)
        return;
    out->protocol = c->protocol;
    out->messages = atomic_load_explicit(&c->st_messages, memory_order_relaxed);
    out->records = atomic_load_explicit(&c->st_records, memory_order_relaxed);
    out->octets = atomic_load_explicit(&c->st_octets, memory_order_relaxed);
    out->records_not_sent = atomic_load_explicit(&c->st_not_sent, memory_order_relaxed);
    out->packets_not_sent = atomic_load_explicit(&c->st_not_sent_packets, memory_order_relaxed);
    out->octets_not_sent = atomic_load_explicit(&c->st_not_sent_octets, memory_order_relaxed);
    out->reconnects = atomic_load_explicit(&c->st_reconnects, memory_order_relaxed);
    out->template_sends = atomic_load_explicit(&c->st_template_sends, memory_order_relaxed);
    out->empty_sets_removed = atomic_load_explicit(&c->st_empty_sets, memory_order_relaxed);
    for (unsigned i = 0; i < FP_EXPORT_FAIL_COUNT; i++)
        out->failures[i] = atomic_load_explicit(&c->st_fail[i], memory_order_relaxed);
    out->records_queued = atomic_load_explicit(&c->st_queued, memory_order_relaxed);
    out->records_spooled = atomic_load_explicit(&c->st_spooled, memory_order_relaxed);
    out->records_resent = atomic_load_explicit(&c->st_resent, memory_order_relaxed);
    out->queue_dropped = atomic_load_explicit(&c->st_queue_dropped, memory_order_relaxed);
    out->nf_skipped_ipv6 = atomic_load_explicit(&c->st_nf_skipped_ipv6, memory_order_relaxed);
    out->nf_splits = atomic_load_explicit(&c->st_nf_splits, memory_order_relaxed);
    out->nf_dirs_empty = atomic_load_explicit(&c->st_nf_dirs_empty, memory_order_relaxed);
    out->state = (enum fp_collector_state)atomic_load_explicit(&c->st_state,
                                                              memory_order_relaxed);
    pthread_mutex_lock(&c->err_lock);
    snprintf(out->last_error, sizeof(out->last_error), "%s", c->last_error);
    pthread_mutex_unlock(&c->err_lock);
}

/* ---------------------------------------------------------------- reconfiguration */

static bool coll_same_settings(const struct fp_collector_config *a,
                               const struct fp_collector_config *b)
{
    return a->transport == b->transport && a->protocol == b->protocol &&
           strcmp(a->host, b->host) == 0 && a->port == b->port &&
           strcmp(a->path, b->path) == 0 && a->biflow == b->biflow && a->mtu == b->mtu &&
           strcmp(a->server_name, b->server_name) == 0 && strcmp(a->peer_cn, b->peer_cn) == 0;
}

static bool tls_settings_changed(const struct fp_config *a, const struct fp_config *b)
{
    return strcmp(a->tls_cert, b->tls_cert) != 0 || strcmp(a->tls_key, b->tls_key) != 0 ||
           strcmp(a->tls_ca, b->tls_ca) != 0 || strcmp(a->tls_ciphers, b->tls_ciphers) != 0 ||
           strcmp(a->tls_ciphersuites, b->tls_ciphersuites) != 0 ||
           strcmp(a->tls_min_version, b->tls_min_version) != 0 ||
           strcmp(a->tls_peer_cn, b->tls_peer_cn) != 0;
}

static void __attribute__((format(printf, 3, 4))) msg_add(char *msg, size_t len,
                                                          const char *fmt, ...)
{
    size_t off = strnlen(msg, len);
    if (off + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + off, len - off, fmt, ap);
    va_end(ap);
}

/* Removed or replaced collector: ship what is encoded, wait a little for a stream
 * collector to take it, send the final statistics, close, log its totals. */
static void coll_retire_flush(struct fp_exporter *ex, struct fp_collector *c,
                              const struct fp_metering_stats *ms)
{
    if (c->nf != NULL) {
        coll_nf_flush(c);
    } else if (c->fb != NULL) {
        coll_emit(c);
        if (c->fb != NULL)
            coll_send_stats(c, ms);
        if (fp_export_is_stream(c->cfg->transport)) {
            uint64_t t0 = mono_ms();
            while (c->fb != NULL && (fp_export_stream_pending(c) != 0 || c->held_n != 0) &&
                   mono_ms() - t0 < 2000)
                coll_stream_step(c, mono_ms(), 10);
        }
    }
    coll_close(c);
    (void)ex;
    export_log(c->name, "removed by reconfiguration: %llu records, %llu messages, %llu octets "
               "sent; %llu records not sent",
               (unsigned long long)atomic_load(&c->st_records),
               (unsigned long long)atomic_load(&c->st_messages),
               (unsigned long long)atomic_load(&c->st_octets),
               (unsigned long long)atomic_load(&c->st_not_sent));
}

/*
 * The reconfiguration itself, on the exporter thread (or the caller's when not started).
 * Collectors with the same URL and settings keep their object (session, templates,
 * sequence numbers, counters, backlog); the others are flushed and closed (kept readable in
 * retired[]) and the new ones opened. Settings the exporter cannot change while running
 * (export.mode, queue_records, spool_dir, spool_max_mb, and export.pen once its elements
 * are in the information model) keep their running values and are named in @p msg.
 */
static int apply_reconfigure(struct fp_exporter *ex, const struct fp_config *ncfg, char *msg,
                             size_t len)
{
    struct fp_config *old = &ex->cfg;
    struct fp_config *nc = malloc(sizeof(*nc));
    struct fp_collector *ncoll[FP_MAX_COLLECTORS] = {0};
    int match[FP_MAX_COLLECTORS];
    bool keep[FP_MAX_COLLECTORS] = {false}, old_kept[FP_MAX_COLLECTORS] = {false};
    struct fp_export_lane *inherit[FP_MAX_COLLECTORS] = {0};
    unsigned n_kept = 0, n_added = 0, n_replaced = 0, n_removed = 0, n_resession = 0;
    struct fp_metering_stats ms;
    int rc = 0;

    if (nc == NULL)
        return -ENOMEM;
    *nc = *ncfg;
    /* settings that stay as they are while running */
    if (nc->export_mode != old->export_mode || nc->queue_records != old->queue_records ||
        strcmp(nc->spool_dir, old->spool_dir) != 0 || nc->spool_max_mb != old->spool_max_mb)
        msg_add(msg, len, "export.mode/queue_records/spool_dir/spool_max_mb need a restart "
                          "(kept); ");
    nc->export_mode = old->export_mode;
    nc->queue_records = old->queue_records;
    memcpy(nc->spool_dir, old->spool_dir, sizeof(nc->spool_dir));
    nc->spool_max_mb = old->spool_max_mb;
    if (ex->ie_model_added && fp_export_ie_pen(nc) != ex->ie_pen) {
        msg_add(msg, len, "export.pen needs a restart (kept %u); ", ex->ie_pen);
        nc->export_pen = ex->ie_pen;
    }
    bool tls_changed = tls_settings_changed(old, nc);
    bool enc_changed = nc->export_enterprise != old->export_enterprise ||
                       nc->observation_domain != old->observation_domain;

    /* 1. match new collectors to running ones by URL; allocate the new objects first */
    for (unsigned j = 0; j < nc->n_collectors; j++) {
        const struct fp_collector_config *ncc = &nc->collectors[j];
        match[j] = -1;
        for (unsigned i = 0; i < ex->n_coll; i++)
            if (strcmp(old->collectors[i].url, ncc->url) == 0 && !old_kept[i]) {
                match[j] = (int)i;
                break;
            }
        if (match[j] >= 0) {
            const struct fp_collector_config *occ = &old->collectors[match[j]];
            bool tls = ncc->transport == FP_TRANSPORT_TLS || ncc->transport == FP_TRANSPORT_DTLS;
            keep[j] = coll_same_settings(occ, ncc) && !(tls && tls_changed);
            if (keep[j])
                old_kept[match[j]] = true;
        }
        if (!keep[j] && (ncoll[j] = coll_alloc(ex)) == NULL) {
            for (unsigned k = 0; k < j; k++)
                if (!keep[k])
                    coll_free(ncoll[k]);
            free(nc);
            return -ENOMEM;
        }
    }
    size_t n_ret = 0;
    for (unsigned i = 0; i < ex->n_coll; i++)
        n_ret += !old_kept[i];
    if (n_ret) {
        struct fp_collector **r =
            realloc(ex->retired, (ex->n_retired + n_ret) * sizeof(*ex->retired));
        if (r == NULL) {
            for (unsigned j = 0; j < nc->n_collectors; j++)
                if (!keep[j])
                    coll_free(ncoll[j]);
            free(nc);
            return -ENOMEM;
        }
        ex->retired = r;
    }

    /* 2. flush and close the collectors that go away; a replaced stream collector (same
     * URL) hands its backlog over to its successor (mode all) */
    get_metering(ex, &ms);
    bool failover = old->export_mode == FP_EXPORT_MODE_FAILOVER;
    for (unsigned i = 0; i < ex->n_coll; i++) {
        struct fp_collector *c = ex->coll[i];
        if (old_kept[i])
            continue;
        int succ = -1;
        for (unsigned j = 0; j < nc->n_collectors; j++)
            if (match[j] == (int)i)
                succ = (int)j;
        coll_retire_flush(ex, c, &ms);
        if (c->lane != NULL && !failover) {
            if (succ >= 0 && fp_export_is_stream(nc->collectors[succ].transport)) {
                inherit[succ] = c->lane;
            } else {
                lane_discard(ex, c->lane);
                lane_free(c->lane);
            }
        }
        c->lane = NULL;
        ex->retired[ex->n_retired++] = c;
        if (succ >= 0)
            n_replaced++;
        else
            n_removed++;
    }

    if (failover && ex->n_lanes) {
        bool any = false;
        for (unsigned j = 0; j < nc->n_collectors; j++)
            any |= fp_export_is_stream(nc->collectors[j].transport);
        if (!any) { /* the failover group is gone: its backlog is not sent */
            lane_discard(ex, ex->lanes[0]);
            lane_free(ex->lanes[0]);
            ex->lanes[0] = NULL;
            ex->n_lanes = 0;
        }
    }

    /* 3. commit the new configuration and the new collector list */
    for (unsigned j = 0; j < nc->n_collectors; j++)
        if (keep[j])
            ncoll[j] = ex->coll[match[j]];
    *old = *nc; /* ex->cfg */
    free(nc);
    nc = NULL;
    for (unsigned j = 0; j < ex->cfg.n_collectors; j++) {
        ncoll[j]->cfg = &ex->cfg.collectors[j];
        ncoll[j]->idx = j;
        ex->coll[j] = ncoll[j];
    }
    for (unsigned j = ex->cfg.n_collectors; j < FP_MAX_COLLECTORS; j++)
        ex->coll[j] = NULL;
    ex->n_coll = ex->cfg.n_collectors;
    set_retry(ex);
    if (ex->cfg.export_enterprise && !ex->ie_model_added) {
        ex->ie_pen = fp_export_ie_pen(&ex->cfg);
        fp_export_ie_model_add(ex->model, ex->ie_pen);
        ex->ie_model_added = true;
    }
    ignore_sigpipe_for_tls(&ex->cfg);

    /* 4. lanes of the stream collectors */
    if (failover) {
        struct fp_export_lane *l = ex->n_lanes ? ex->lanes[0] : NULL;
        if (l != NULL)
            l->n_members = 0;
        for (unsigned j = 0; j < ex->n_coll; j++) {
            if (!fp_export_is_stream(ex->cfg.collectors[j].transport))
                continue;
            if (l == NULL && (l = lane_new(ex, &ex->cfg.collectors[j])) != NULL) {
                ex->lanes[0] = l;
                ex->n_lanes = 1;
            }
            if (l == NULL) {
                msg_add(msg, len, "%s: no queue (%s); ", ex->cfg.collectors[j].url,
                        strerror(errno));
                rc = rc ? rc : -ENOMEM;
                continue;
            }
            l->members[l->n_members++] = j;
            ex->coll[j]->lane = l;
        }

    } else {
        ex->n_lanes = 0;
        for (unsigned j = 0; j < ex->n_coll; j++) {
            struct fp_collector *c = ex->coll[j];
            if (!fp_export_is_stream(ex->cfg.collectors[j].transport))
                continue;
            struct fp_export_lane *l = keep[j] ? c->lane : inherit[j];
            if (l == NULL && (l = lane_new(ex, &ex->cfg.collectors[j])) == NULL) {
                msg_add(msg, len, "%s: no queue (%s); ", ex->cfg.collectors[j].url,
                        strerror(errno));
                rc = rc ? rc : -ENOMEM;
                continue;
            }
            l->n_members = 1;
            l->members[0] = j;
            c->lane = l;
            ex->lanes[ex->n_lanes++] = l;
        }
    }

    /* 5. open the new collectors; one that cannot be opened stays listed, down */
    for (unsigned j = 0; j < ex->n_coll; j++) {
        if (keep[j]) {
            n_kept++;
            continue;
        }
        if (match[j] < 0)
            n_added++;
        struct fp_collector *c = ex->coll[j];
        if (fp_export_is_stream(ex->cfg.collectors[j].transport) && c->lane == NULL) {
            c->cfg = &ex->cfg.collectors[j];
            set_state(c, FP_COLLECTOR_STATE_DOWN);
            continue;
        }
        int r = coll_init(ex, j);
        if (r < 0) {
            char e[FP_EXPORT_ERR_LEN];
            pthread_mutex_lock(&c->err_lock);
            snprintf(e, sizeof(e), "%s", c->last_error);
            pthread_mutex_unlock(&c->err_lock);
            msg_add(msg, len, "%s: cannot open: %s; ", c->name, e[0] ? e : strerror(-r));
            coll_close(c);
            set_state(c, FP_COLLECTOR_STATE_DOWN);
            rc = rc ? rc : r;
        } else {
            export_log(c->name, "added by reconfiguration");
        }
    }

    /* 6. running collectors whose encoding changed: templates exported again */
    for (unsigned j = 0; j < ex->n_coll; j++) {
        struct fp_collector *c = ex->coll[j];
        if (!keep[j])
            continue;
        if (c->nf != NULL) {
            struct fp_nf_params p;
            nf_params(c, &p);
            if (p.source_id != c->nf->p.source_id ||
                p.active_timeout_s != c->nf->p.active_timeout_s ||
                p.inactive_timeout_s != c->nf->p.inactive_timeout_s) {
                coll_nf_flush(c); /* the open packet keeps its header */
                c->nf->p.source_id = p.source_id;
                c->nf->p.active_timeout_s = p.active_timeout_s;
                c->nf->p.inactive_timeout_s = p.inactive_timeout_s;
                fp_nf_templates_resend(c->nf);
                n_resession++;
            }
            c->nf->p.template_refresh_pkts = p.template_refresh_pkts;
            c->nf->p.template_refresh_ms = p.template_refresh_ms;
            continue;
        }
        if (!enc_changed || c->cfg->protocol != FP_EXPORT_PROTOCOL_IPFIX)
            continue;
        n_resession++;
        if (fp_export_is_stream(c->cfg->transport)) {
            /* new transport session at once: unacknowledged records are sent again in it */
            if (c->fb != NULL) {
                coll_emit(c);
                coll_tcp_down(c, mono_ms());
            }
            c->backoff_ms = ex->retry_min_ms;
            c->next_retry_ms = 0;
        } else if (c->fb != NULL) {
            coll_emit(c);
            coll_session_close(c);
            int r = coll_session_open(c);
            if (r < 0) {
                msg_add(msg, len, "%s: new IPFIX session failed: %s; ", c->name, strerror(-r));
                rc = rc ? rc : r;
            }
        }
    }

    /* 7. publish for the readers; options timer */
    publish(ex);
    ex->next_stats_ms = mono_ms() + ex->cfg.stats_interval_s * 1000ull;
    msg_add(msg, len, "exporter: %u collector(s) kept, %u added, %u replaced, %u removed",
            n_kept, n_added, n_replaced, n_removed);
    if (n_resession)
        msg_add(msg, len, ", templates exported again to %u", n_resession);
    return rc;
}

int fp_exporter_reconfigure(struct fp_exporter *ex, const struct fp_config *new_cfg, char *msg,
                            size_t len)
{
    char scratch[8];
    int rc;

    if (msg == NULL || len == 0) {
        msg = scratch;
        len = sizeof(scratch);
    }
    msg[0] = '\0';
    if (ex == NULL || new_cfg == NULL || new_cfg->n_collectors > FP_MAX_COLLECTORS) {
        snprintf(msg, len, "exporter: invalid reconfiguration request");
        return -EINVAL;
    }
    if (!ex->started)
        return apply_reconfigure(ex, new_cfg, msg, len);
    pthread_mutex_lock(&ex->rq_lock);
    while (ex->rq_busy && !ex->thread_exited)
        pthread_cond_wait(&ex->rq_cond, &ex->rq_lock);
    if (ex->thread_exited) {
        pthread_mutex_unlock(&ex->rq_lock);
        snprintf(msg, len, "exporter: stopping, configuration not changed");
        return -ESHUTDOWN;
    }
    ex->rq_busy = true;
    ex->rq_cfg = new_cfg;
    ex->rq_msg = msg;
    ex->rq_len = len;
    ex->rq_done = false;
    atomic_store_explicit(&ex->rq_pending, true, memory_order_release);
    while (!ex->rq_done && !ex->thread_exited)
        pthread_cond_wait(&ex->rq_cond, &ex->rq_lock);
    if (ex->rq_done) {
        rc = ex->rq_rc;
    } else {
        snprintf(msg, len, "exporter: stopping, configuration not changed");
        rc = -ESHUTDOWN;
    }
    atomic_store_explicit(&ex->rq_pending, false, memory_order_release);
    ex->rq_done = false;
    ex->rq_busy = false;
    ex->rq_cfg = NULL;
    ex->rq_msg = NULL;
    pthread_cond_broadcast(&ex->rq_cond);
    pthread_mutex_unlock(&ex->rq_lock);
    return rc;
}
