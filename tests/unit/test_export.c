/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Export suite: rings without EAL; exporter to file, UDP and TCP collectors opened by the test;
 * output checked twice: a raw IPFIX scanner written here (sets, templates, sequence numbers,
 * sizes) and libfixbuf's collector API decoding into a test-owned struct.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/export_internal.h"
#include "tests/unit/fp_test.h"

/* ------------------------------------------------------------------ test vectors */

#define T_BASE_NS 1700000000123000000ull
#define N_VEC 5

static void set4(uint8_t *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
    memset(a, 0, 16);
    a[0] = b0;
    a[1] = b1;
    a[2] = b2;
    a[3] = b3;
}

static void set6(uint8_t *a, uint16_t last)
{
    static const uint8_t pfx[] = {0x20, 0x01, 0x0d, 0xb8};
    memset(a, 0, 16);
    memcpy(a, pfx, 4);
    a[14] = (uint8_t)(last >> 8);
    a[15] = (uint8_t)last;
}

static void fill_dir(struct fp_flow_dir *d, uint64_t pk, uint64_t by, uint64_t t0_ms,
                     uint64_t t1_ms, uint16_t fl, uint16_t icmp, uint8_t tmin, uint8_t tmax,
                     uint8_t tos)
{
    d->packets = pk;
    d->bytes = by;
    d->first_ns = T_BASE_NS + t0_ms * 1000000ull + 456; /* sub-ms part must be dropped */
    d->last_ns = T_BASE_NS + t1_ms * 1000000ull + 999999;
    d->tcp_flags = fl;
    d->icmp_type_code = icmp;
    d->ttl_min = tmin;
    d->ttl_max = tmax;
    d->tos = tos;
}

/* Record i of a batch; salt makes batches distinct. */
static void make_vec(struct fp_flow_record *r, unsigned i, unsigned salt)
{
    memset(r, 0, sizeof(*r));
    r->flow_id = 0x0100000000000000ull + salt * 100 + i + 1;
    r->port_id = (uint16_t)(i % 3);
    r->end_reason = (uint8_t)(1 + i % 5);
    switch (i % N_VEC) {
    case 0: /* IPv4 TCP, both directions, flags, VLAN, counters above 2^32 */
        r->ip_version = 4;
        r->proto = 6;
        set4(r->src, 10, 0, 0, (uint8_t)(1 + salt));
        set4(r->dst, 192, 168, 1, 2);
        r->sport = 40000;
        r->dport = 443;
        r->n_vlan = 1;
        r->vlan[0] = 100;
        fill_dir(&r->dir[0], 10, 0x100000005ull, 0, 2000, 0x1b, 0, 60, 64, 0x28);
        fill_dir(&r->dir[1], 8, 5000, 1, 1999, 0x1a, 0, 50, 55, 0x00);
        break;
    case 1: /* IPv6 UDP, reverse direction empty */
        r->ip_version = 6;
        r->proto = 17;
        set6(r->src, (uint16_t)(0x1000 + salt));
        set6(r->dst, 0x2002);
        r->sport = 5353;
        r->dport = 53;
        fill_dir(&r->dir[0], 3, 240, 5, 6, 0, 0, 33, 34, 0xb8);
        break;
    case 2: /* ICMP echo + reply */
        r->ip_version = 4;
        r->proto = 1;
        set4(r->src, 172, 16, 0, (uint8_t)(9 + salt));
        set4(r->dst, 8, 8, 4, 4);
        fill_dir(&r->dir[0], 4, 336, 10, 13, 0, 0x0800, 64, 64, 0);
        fill_dir(&r->dir[1], 4, 336, 11, 14, 0, 0x0000, 118, 118, 0);
        break;
    case 3: /* ICMPv6 echo + reply */
        r->ip_version = 6;
        r->proto = 58;
        set6(r->src, (uint16_t)(0x3000 + salt));
        set6(r->dst, 0x4004);
        fill_dir(&r->dir[0], 2, 208, 20, 21, 0, 0x8000, 64, 64, 0);
        fill_dir(&r->dir[1], 2, 208, 20, 21, 0, 0x8100, 63, 63, 0);
        break;
    default: /* QinQ IPv4 TCP with RST */
        r->ip_version = 4;
        r->proto = 6;
        set4(r->src, 10, 1, 2, (uint8_t)(3 + salt));
        set4(r->dst, 10, 9, 9, 9);
        r->sport = 1234;
        r->dport = 80;
        r->n_vlan = 2;
        r->vlan[0] = 0x2000 | 200; /* PCP bits set: only the VID is exported */
        r->vlan[1] = 300;
        fill_dir(&r->dir[0], 1, 40, 30, 30, 0x02, 0, 64, 64, 0);
        fill_dir(&r->dir[1], 1, 40, 31, 31, 0x14, 0, 64, 64, 0);
        break;
    }
}

/* ------------------------------------------------------------------ decoding (libfixbuf) */

struct t_flow {
    uint64_t start, end, octets, packets, flow_id, r_start, r_end, r_octets, r_packets;
    uint8_t src6[16], dst6[16];
    uint32_t src4, dst4, ingress;
    uint16_t sport, dport, flags, icmp4, icmp6, vlan, r_flags, r_icmp4, r_icmp6;
    uint8_t proto, tos, ttl_min, ttl_max, end_reason, r_tos, r_ttl_min, r_ttl_max, bidir;
    uint8_t pad[1];
};

static const char *const t_flow_ies[] = {
    "flowStartMilliseconds", "flowEndMilliseconds", "octetDeltaCount", "packetDeltaCount",
    "flowId", "reverseFlowStartMilliseconds", "reverseFlowEndMilliseconds",
    "reverseOctetDeltaCount", "reversePacketDeltaCount", "sourceIPv6Address",
    "destinationIPv6Address", "sourceIPv4Address", "destinationIPv4Address",
    "ingressInterface", "sourceTransportPort", "destinationTransportPort", "tcpControlBits",
    "icmpTypeCodeIPv4", "icmpTypeCodeIPv6", "vlanId", "reverseTcpControlBits",
    "reverseIcmpTypeCodeIPv4", "reverseIcmpTypeCodeIPv6", "protocolIdentifier",
    "ipClassOfService", "minimumTTL", "maximumTTL", "flowEndReason",
    "reverseIpClassOfService", "reverseMinimumTTL", "reverseMaximumTTL", "biflowDirection",
    "paddingOctets:1", NULL,
};

struct t_stats {
    uint32_t scope;
    uint32_t pad;
    uint64_t v[7]; /* mp: msgs, flows, octets, ign pkts, ign octets, t1, t2; ep: 5 used */
};
static const char *const t_mp_ies[] = {
    "observationDomainId", "paddingOctets:4", "exportedMessageTotalCount",
    "exportedFlowRecordTotalCount", "exportedOctetTotalCount", "ignoredPacketTotalCount",
    "ignoredOctetTotalCount", "observationTimeMilliseconds", "observationTimeMilliseconds",
    "paddingOctets:0", NULL,
};
static const char *const t_ep_ies[] = {
    "exportingProcessId", "paddingOctets:4", "notSentFlowTotalCount", "notSentPacketTotalCount",
    "notSentOctetTotalCount", "observationTimeMilliseconds", "observationTimeMilliseconds",
    "paddingOctets:16", NULL,
};

struct t_decoded {
    struct t_flow flows[2048];
    uint16_t flow_tid[2048];
    unsigned n_flows;
    struct t_stats mp[8], ep[8];
    unsigned n_mp, n_ep;
};

static fbTemplate_t *t_template(fbInfoModel_t *m, const char *const *ies, size_t want)
{
    GError *err = NULL;
    fbTemplate_t *t = fbTemplateAlloc(m);
    for (unsigned i = 0; ies[i]; i++) {
        char name[64];
        unsigned len = 0;
        snprintf(name, sizeof(name), "%s", ies[i]);
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = 0;
            len = (unsigned)atoi(colon + 1);
            if (len == 0)
                continue; /* placeholder: no padding */
        }
        if (len == 0)
            len = fbInfoModelGetElementByName(m, name)->len;
        fbInfoElementSpec_t spec = {name, (uint16_t)len, 0};
        CU_ASSERT_FATAL(fbTemplateAppendSpec(t, &spec, 0, &err));
    }
    CU_ASSERT_EQUAL(fbTemplateGetIELenOfMemBuffer(t), want);
    return t;
}

static bool t_has_ie(fbTemplate_t *t, const char *ie)
{
    char name[64];
    snprintf(name, sizeof(name), "%s", ie);
    fbInfoElementSpec_t spec = {name, 0, 0};
    return fbTemplateContainsElementByName(t, &spec);
}

/* Decode an IPFIX file with libfixbuf's collector. Returns 0 on success. */
static int t_decode_file(const char *path, struct t_decoded *d)
{
    GError *err = NULL;
    memset(d, 0, sizeof(*d));
    fbInfoModel_t *m = fbInfoModelAlloc();
    fbSession_t *s = fbSessionAlloc(m);
    fbSessionAddTemplate(s, TRUE, 0x9001, t_template(m, t_flow_ies, sizeof(struct t_flow)),
                         &err);
    fbSessionAddTemplate(s, TRUE, 0x9002, t_template(m, t_mp_ies, sizeof(struct t_stats)),
                         &err);
    fbSessionAddTemplate(s, TRUE, 0x9003, t_template(m, t_ep_ies, sizeof(struct t_stats)),
                         &err);
    fbCollector_t *col = fbCollectorAllocFile(NULL, path, &err);
    if (col == NULL) {
        g_clear_error(&err);
        fbSessionFree(s);
        fbInfoModelFree(m);
        return -1;
    }
    fBuf_t *fb = fBufAllocForCollection(s, col);
    int rc = 0;
    for (;;) {
        uint16_t etid = 0;
        fbTemplate_t *t = fBufNextCollectionTemplate(fb, &etid, &err);
        if (t == NULL) {
            if (!g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOF))
                rc = -2;
            g_clear_error(&err);
            break;
        }
        uint8_t *dst;
        size_t len;
        uint16_t itid;
        if (fbTemplateGetOptionsScope(t) && t_has_ie(t, "exportingProcessId")) {
            itid = 0x9003;
            dst = (uint8_t *)&d->ep[d->n_ep < 7 ? d->n_ep++ : 7];
            len = sizeof(struct t_stats);
        } else if (fbTemplateGetOptionsScope(t)) {
            itid = 0x9002;
            dst = (uint8_t *)&d->mp[d->n_mp < 7 ? d->n_mp++ : 7];
            len = sizeof(struct t_stats);
        } else {
            itid = 0x9001;
            unsigned k = d->n_flows < 2047 ? d->n_flows++ : 2047;
            d->flow_tid[k] = etid;
            dst = (uint8_t *)&d->flows[k];
            len = sizeof(struct t_flow);
        }
        memset(dst, 0, len);
        fBufSetInternalTemplate(fb, itid, &err);
        if (!fBufNext(fb, dst, &len, &err)) {
            rc = -3;
            g_clear_error(&err);
            break;
        }
    }
    fBufFree(fb);
    fbInfoModelFree(m);
    return rc;
}

/* Expected uniflow records of one input record, in export order. */
static unsigned t_expect_uni(const struct fp_flow_record *r, struct t_flow *out)
{
    unsigned n = 0;
    for (unsigned d = 0; d < 2; d++) {
        const struct fp_flow_dir *dir = &r->dir[d];
        if (d == 1 && dir->packets == 0)
            continue;
        struct t_flow *e = &out[n++];
        memset(e, 0, sizeof(*e));
        e->start = dir->first_ns / 1000000ull;
        e->end = dir->last_ns / 1000000ull;
        e->octets = dir->bytes;
        e->packets = dir->packets;
        e->flow_id = r->flow_id;
        const uint8_t *s = d ? r->dst : r->src, *t = d ? r->src : r->dst;
        if (r->ip_version == 6) {
            memcpy(e->src6, s, 16);
            memcpy(e->dst6, t, 16);
            e->icmp6 = dir->icmp_type_code;
        } else {
            e->src4 = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
            e->dst4 = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
            e->icmp4 = dir->icmp_type_code;
        }
        e->ingress = r->port_id + 1u;
        e->sport = d ? r->dport : r->sport;
        e->dport = d ? r->sport : r->dport;
        e->flags = dir->tcp_flags;
        e->vlan = r->n_vlan ? r->vlan[0] & 0xfff : 0;
        e->proto = r->proto;
        e->tos = dir->tos;
        e->ttl_min = dir->ttl_min;
        e->ttl_max = dir->ttl_max;
        e->end_reason = r->end_reason;
    }
    return n;
}

static void t_expect_bi(const struct fp_flow_record *r, struct t_flow *e)
{
    t_expect_uni(r, e); /* e[0] = forward direction */
    const struct fp_flow_dir *rv = &r->dir[1];
    e->r_start = rv->packets ? rv->first_ns / 1000000ull : 0;
    e->r_end = rv->packets ? rv->last_ns / 1000000ull : 0;
    e->r_octets = rv->bytes;
    e->r_packets = rv->packets;
    e->r_flags = rv->tcp_flags;
    if (r->ip_version == 6)
        e->r_icmp6 = rv->icmp_type_code;
    else
        e->r_icmp4 = rv->icmp_type_code;
    e->r_tos = rv->tos;
    e->r_ttl_min = rv->ttl_min;
    e->r_ttl_max = rv->ttl_max;
    e->bidir = 1;
}

static void t_check_flows(const struct t_decoded *d, const struct fp_flow_record *in, unsigned n,
                          bool biflow)
{
    static struct t_flow exp[4096];
    unsigned ne = 0;
    for (unsigned i = 0; i < n; i++) {
        if (biflow)
            t_expect_bi(&in[i], &exp[ne++]);
        else
            ne += t_expect_uni(&in[i], &exp[ne]);
    }
    CU_ASSERT_EQUAL(d->n_flows, ne);
    for (unsigned i = 0; i < ne && i < d->n_flows; i++) {
        if (memcmp(&d->flows[i], &exp[i], sizeof(exp[i])) != 0) {
            CU_FAIL("decoded record differs from input");
            fprintf(stderr, "record %u (tid %u) differs: flow_id %llx/%llx octets %llu/%llu\n", i,
                    d->flow_tid[i], (unsigned long long)d->flows[i].flow_id,
                    (unsigned long long)exp[i].flow_id, (unsigned long long)d->flows[i].octets,
                    (unsigned long long)exp[i].octets);
            break;
        }
        /* non-zero sanity: values really went through (not an all-zero record) */
        CU_ASSERT(d->flows[i].flow_id != 0 && d->flows[i].packets != 0 && d->flows[i].start);
        uint16_t want = biflow ? (exp[i].src4 || exp[i].dst4 ? FP_TID_BI4 : FP_TID_BI6)
                               : (exp[i].src4 || exp[i].dst4 ? FP_TID_UNI4 : FP_TID_UNI6);
        CU_ASSERT_EQUAL(d->flow_tid[i], want);
    }
}

/* ------------------------------------------------------------------ raw scanner */

struct t_scan {
    unsigned msgs, max_msg, data_records, template_sets, template_records, empty_sets;
    unsigned seq_errors, data_before_template, bad_field_len, tmpl_redefined, padding_ie;
    unsigned data_msgs_between_templates_max;
    uint32_t min_export_time, max_export_time;
    /* options: message index/prior totals for the first MP and EP records */
    unsigned mp_msg_idx, ep_msg_idx, ep_domain;
    uint64_t octets_before_mp, flows_before_mp;
    bool have_mp, have_ep;
};

struct t_tmpl {
    uint32_t domain;
    uint16_t tid;
    uint16_t rec_len;
    uint16_t rec_bytes; /* definition length, to detect redefinition */
    uint8_t def[512];
    bool options;
};

static uint16_t r16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t r32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void t_scan_stream(const uint8_t *buf, size_t len, struct t_scan *sc)
{
    static struct t_tmpl tm[64];
    unsigned ntm = 0;
    uint32_t seq_dom[2] = {0, 0}, seq_val[2] = {0, 0};
    unsigned nseq = 0;
    unsigned since_tmpl = 0;
    uint64_t octets = 0, flows = 0;
    fbInfoModel_t *m = fbInfoModelAlloc();

    memset(sc, 0, sizeof(*sc));
    sc->min_export_time = UINT32_MAX;
    size_t off = 0;
    while (off + 16 <= len) {
        const uint8_t *msg = buf + off;
        size_t mlen = r16(msg + 2);
        CU_ASSERT_EQUAL_FATAL(r16(msg), 10);
        CU_ASSERT_FATAL(mlen >= 16 && off + mlen <= len);
        uint32_t et = r32(msg + 4), seq = r32(msg + 8), dom = r32(msg + 12);
        sc->min_export_time = FP_MIN(sc->min_export_time, et);
        sc->max_export_time = FP_MAX(sc->max_export_time, et);
        sc->max_msg = FP_MAX(sc->max_msg, (unsigned)mlen);
        /* sequence: data records sent before, per observation domain */
        unsigned k;
        for (k = 0; k < nseq && seq_dom[k] != dom; k++)
            ;
        if (k == nseq && nseq < 2) {
            seq_dom[nseq] = dom;
            seq_val[nseq++] = 0;
        }
        if (k < 2 && seq != seq_val[k])
            sc->seq_errors++;
        bool has_tmpl = false, has_data = false;
        size_t so = 16;
        while (so < mlen) {
            const uint8_t *set = msg + so;
            uint16_t sid = r16(set), slen = r16(set + 2);
            CU_ASSERT_FATAL(slen >= 4 && so + slen <= mlen);
            if (slen == 4)
                sc->empty_sets++;
            if (sid == 2 || sid == 3) {
                sc->template_sets++;
                has_tmpl = true;
                size_t ro = 4;
                while (ro + 4 <= slen) {
                    const uint8_t *tr = set + ro;
                    uint16_t tid = r16(tr), cnt = r16(tr + 2);
                    size_t fo = (sid == 3) ? 6 : 4;
                    uint16_t rl = 0;
                    for (unsigned f = 0; f < cnt; f++) {
                        uint16_t ie = r16(tr + fo), fl = r16(tr + fo + 2);
                        uint32_t ent = (ie & 0x8000) ? r32(tr + fo + 4) : 0;
                        const fbInfoElement_t *e = fbInfoModelGetElementByID(m, ie & 0x7fff, ent);
                        if ((ie & 0x7fff) == 210 && ent == 0)
                            sc->padding_ie++;
                        if (e == NULL || e->len != fl)
                            sc->bad_field_len++; /* reduced-size or unknown IE */
                        rl += fl;
                        fo += (ie & 0x8000) ? 8 : 4;
                    }
                    sc->template_records++;
                    unsigned t;
                    for (t = 0; t < ntm && !(tm[t].domain == dom && tm[t].tid == tid); t++)
                        ;
                    if (t < ntm) {
                        if (tm[t].rec_bytes != fo || memcmp(tm[t].def, tr, fo) != 0)
                            sc->tmpl_redefined++;
                    } else if (ntm < 64 && fo <= sizeof(tm[0].def)) {
                        tm[ntm] = (struct t_tmpl){dom, tid, rl, (uint16_t)fo, {0}, sid == 3};
                        memcpy(tm[ntm].def, tr, fo);
                        ntm++;
                    }
                    ro += fo;
                }
            } else if (sid >= 256) {
                unsigned t;
                has_data = true;
                for (t = 0; t < ntm && !(tm[t].domain == dom && tm[t].tid == sid); t++)
                    ;
                if (t == ntm) {
                    sc->data_before_template++;
                } else {
                    unsigned nrec = (slen - 4u) / tm[t].rec_len;
                    CU_ASSERT(nrec >= 1);
                    CU_ASSERT((slen - 4u) % tm[t].rec_len < tm[t].rec_len);
                    if (k < 2)
                        seq_val[k] += nrec;
                    if (!tm[t].options) {
                        sc->data_records += nrec;
                    } else if (sid == FP_TID_MP_STATS && !sc->have_mp) {
                        sc->have_mp = true;
                        sc->mp_msg_idx = sc->msgs;
                        sc->octets_before_mp = octets;
                        sc->flows_before_mp = flows;
                    } else if (sid == FP_TID_EP_STATS && !sc->have_ep) {
                        sc->have_ep = true;
                        sc->ep_msg_idx = sc->msgs;
                        sc->ep_domain = dom;
                    }
                    if (!tm[t].options)
                        flows += nrec;
                }
            }
            so += slen;
        }
        if (has_tmpl) {
            since_tmpl = 0;
        } else if (has_data) {
            since_tmpl++;
            sc->data_msgs_between_templates_max =
                FP_MAX(sc->data_msgs_between_templates_max, since_tmpl);
        }
        octets += mlen;
        sc->msgs++;
        off += mlen;
    }
    CU_ASSERT_EQUAL(off, len);
    fbInfoModelFree(m);
}

/* ------------------------------------------------------------------ harness */

static struct fp_metering_stats t_ms = {
    .packets_observed = 1000, .packets_ignored = 11, .octets_ignored = 2222,
    .first_ignored_ms = 1700000000001ull, .last_ignored_ms = 1700000000999ull,
    .records_ring_full = 7, .packets_ring_full = 70, .octets_ring_full = 7000,
};

static void t_metering(void *arg, struct fp_metering_stats *out)
{
    CU_ASSERT_PTR_EQUAL(arg, &t_ms);
    *out = t_ms;
}

static void t_cfg(struct fp_config *cfg, enum fp_transport tr, const char *path, uint16_t port,
                  bool biflow, uint32_t mtu)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->n_collectors = 1;
    cfg->observation_domain = 7;
    cfg->template_refresh_s = 600;
    cfg->stats_interval_s = 0;
    struct fp_collector_config *c = &cfg->collectors[0];
    c->transport = tr;
    c->biflow = biflow;
    c->mtu = mtu;
    c->port = port;
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    if (path)
        snprintf(c->path, sizeof(c->path), "%s", path);
}

static struct fp_exporter *t_exporter(const struct fp_config *cfg, struct rte_ring **rings,
                                      unsigned n)
{
    struct fp_exporter_params p = {
        .cfg = cfg, .rings = rings, .n_rings = n, .metering_stats = t_metering,
        .metering_arg = &t_ms, .tcp_retry_min_ms = 20, .tcp_retry_max_ms = 80,
        .exporting_process_id = 4242,
    };
    struct fp_exporter *ex = fp_exporter_create(&p);
    CU_ASSERT_PTR_NOT_NULL(ex);
    return ex;
}

static unsigned t_push(struct rte_ring *r, struct fp_flow_record *recs, unsigned n, unsigned salt)
{
    for (unsigned i = 0; i < n; i++) {
        make_vec(&recs[i], i, salt);
        CU_ASSERT_FATAL(fp_export_ring_put(r, &recs[i]));
    }
    return n;
}

static void t_tmpname(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/tmp/fp_test_export_%d_%s.ipfix", (int)getpid(), tag);
}

static size_t t_read_file(const char *path, uint8_t **out)
{
    struct stat st;
    *out = NULL;
    if (stat(path, &st) != 0)
        return 0;
    *out = malloc((size_t)st.st_size + 1);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(*out, 1, (size_t)st.st_size, f) : 0;
    if (f)
        fclose(f);
    return n;
}

static void t_write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static int t_udp_listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int sz = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    *port = ntohs(a.sin_port);
    return fd;
}

static int t_tcp_listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(*port)};
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CU_ASSERT_FATAL(listen(fd, 4) == 0);
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Read one accepted TCP stream to EOF. */
static size_t t_tcp_read_all(int lfd, uint8_t *buf, size_t cap)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1)
        return 0;
    int fd = accept(lfd, NULL, NULL);
    size_t n = 0;
    for (;;) {
        p = (struct pollfd){.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1)
            break;
        ssize_t k = recv(fd, buf + n, cap - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    return n;
}

static void t_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ tests */

static void test_ring(void)
{
    errno = 0;
    CU_ASSERT_PTR_NULL(fp_export_ring_create("x", 0));
    CU_ASSERT_EQUAL(errno, EINVAL);
    struct rte_ring *r = fp_export_ring_create("t", 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    struct fp_flow_record in[6], out[8];
    for (unsigned i = 0; i < 6; i++)
        make_vec(&in[i], i, 1);
    for (unsigned i = 0; i < 5; i++)
        CU_ASSERT(fp_export_ring_put(r, &in[i]));
    CU_ASSERT_FALSE(fp_export_ring_put(r, &in[5])); /* exact capacity 5 */
    unsigned n = rte_ring_sc_dequeue_burst_elem(r, out, FP_EXPORT_RING_ESIZE, 8, NULL);
    CU_ASSERT_EQUAL(n, 5);
    for (unsigned i = 0; i < n; i++)
        CU_ASSERT(memcmp(&out[i], &in[i], sizeof(in[i])) == 0);
    CU_ASSERT_EQUAL(fp_export_ring_put_burst(r, in, 6), 5);
    fp_export_ring_free(r);
    fp_export_ring_free(NULL);
}

static void test_templates_match_structs(void)
{
    fbInfoModel_t *m = fbInfoModelAlloc();
    static const uint16_t tids[] = {FP_TID_UNI4, FP_TID_UNI6, FP_TID_BI4, FP_TID_BI6,
                                    FP_TID_MP_STATS, FP_TID_EP_STATS};
    for (unsigned i = 0; i < FP_ARRAY_SIZE(tids); i++) {
        const struct fp_ipfix_template *t = fp_export_template_get(tids[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        int rc = -1;
        fbTemplate_t *it = fp_export_template_build(m, t, true, &rc);
        CU_ASSERT_PTR_NOT_NULL(it);
        CU_ASSERT_EQUAL(rc, 0);
        if (it)
            CU_ASSERT_EQUAL(fbTemplateGetIELenOfMemBuffer(it), t->rec_size);
        fbTemplate_t *et = fp_export_template_build(m, t, false, &rc);
        CU_ASSERT_PTR_NOT_NULL(et);
        if (et)
            CU_ASSERT_FALSE(t_has_ie(et, "paddingOctets"));
        if (it)
            fbTemplateFreeUnused(it);
        if (et)
            fbTemplateFreeUnused(et);
    }
    CU_ASSERT_PTR_NULL(fp_export_template_get(0x8000 | FP_TID_UNI4));
    fbInfoModelFree(m);
}

static void test_strip_empty_sets(void)
{
    /* header + set(256, 8 bytes) + empty set(3) + set(257, 6 bytes) */
    uint8_t msg[16 + 8 + 4 + 6] = {0, 10, 0, sizeof(msg)};
    uint8_t *p = msg + 16;
    p[0] = 1, p[1] = 0, p[2] = 0, p[3] = 8, p[4] = 0xaa, p[7] = 0xbb;
    p += 8;
    p[0] = 0, p[1] = 3, p[2] = 0, p[3] = 4;
    p += 4;
    p[0] = 1, p[1] = 1, p[2] = 0, p[3] = 6, p[4] = 0xcc, p[5] = 0xdd;
    unsigned removed = 0;
    size_t n = fp_export_strip_empty_sets(msg, sizeof(msg), &removed);
    CU_ASSERT_EQUAL(n, sizeof(msg) - 4);
    CU_ASSERT_EQUAL(removed, 1);
    CU_ASSERT_EQUAL(r16(msg + 2), sizeof(msg) - 4);
    CU_ASSERT_EQUAL(r16(msg + 16 + 8), 257);
    CU_ASSERT_EQUAL(msg[16 + 8 + 4], 0xcc);
    /* malformed: set length beyond the message */
    uint8_t bad[20] = {0, 10, 0, 20, [16] = 1, [17] = 0, [18] = 0, [19] = 40};
    CU_ASSERT_EQUAL(fp_export_strip_empty_sets(bad, sizeof(bad), &removed), 0);
}

static void t_check_options(const struct t_decoded *d, const struct t_scan *sc, uint64_t not_sent)
{
    CU_ASSERT(sc->have_mp && sc->have_ep);
    CU_ASSERT(d->n_mp >= 1 && d->n_ep >= 1);
    if (d->n_mp < 1 || d->n_ep < 1)
        return;
    const struct t_stats *mp = &d->mp[0], *ep = &d->ep[0];
    CU_ASSERT_EQUAL(mp->scope, 7);
    CU_ASSERT_EQUAL(mp->v[0], sc->mp_msg_idx);     /* messages shipped before */
    CU_ASSERT_EQUAL(mp->v[1], sc->flows_before_mp);
    CU_ASSERT_EQUAL(mp->v[2], sc->octets_before_mp);
    CU_ASSERT_EQUAL(mp->v[3], t_ms.packets_ignored);
    CU_ASSERT_EQUAL(mp->v[4], t_ms.octets_ignored);
    CU_ASSERT_EQUAL(mp->v[5], t_ms.first_ignored_ms);
    CU_ASSERT_EQUAL(mp->v[6], t_ms.last_ignored_ms);
    CU_ASSERT_EQUAL(ep->scope, 4242);
    CU_ASSERT_EQUAL(ep->v[0], t_ms.records_ring_full + not_sent);
    CU_ASSERT_EQUAL(sc->ep_domain, 0); /* exporting-process stats: domain 0 */
}

static void run_file(bool biflow)
{
    char path[128];
    t_tmpname(path, sizeof(path), biflow ? "bi" : "uni");
    struct fp_config cfg;
    t_cfg(&cfg, FP_TRANSPORT_FILE, path, 0, biflow, 0);
    struct rte_ring *r = fp_export_ring_create("f", 64);
    struct fp_flow_record recs[10];
    time_t t0 = time(NULL);
    t_push(r, recs, 10, 0);
    struct fp_exporter *ex = t_exporter(&cfg, &r, 1);
    CU_ASSERT_FATAL(ex != NULL);
    CU_ASSERT_EQUAL(fp_exporter_start(ex), 0);
    CU_ASSERT_EQUAL(fp_exporter_start(ex), -EALREADY);
    CU_ASSERT_EQUAL(fp_exporter_stop(ex), 0);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_EQUAL(st.state, FP_COLLECTOR_STATE_CLOSED);
    CU_ASSERT_EQUAL(st.records, biflow ? 10u : 18u); /* 2 of 10 have an empty reverse */
    CU_ASSERT_EQUAL(st.records_not_sent, 0);
    CU_ASSERT_EQUAL(st.empty_sets_removed, 0);
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);

    uint8_t *buf;
    size_t len = t_read_file(path, &buf);
    CU_ASSERT(len > 0);
    CU_ASSERT_EQUAL(st.octets, len);
    struct t_scan sc;
    t_scan_stream(buf, len, &sc);
    CU_ASSERT_EQUAL(sc.msgs, st.messages);
    CU_ASSERT_EQUAL(sc.empty_sets, 0);
    CU_ASSERT_EQUAL(sc.seq_errors, 0);
    CU_ASSERT_EQUAL(sc.data_before_template, 0);
    CU_ASSERT_EQUAL(sc.bad_field_len, 0);
    CU_ASSERT_EQUAL(sc.padding_ie, 0);
    CU_ASSERT_EQUAL(sc.tmpl_redefined, 0);
    CU_ASSERT_EQUAL(sc.data_records, st.records);
    CU_ASSERT(sc.min_export_time >= (uint32_t)t0 && sc.max_export_time <= (uint32_t)time(NULL));
    free(buf);

    static struct t_decoded d;
    CU_ASSERT_EQUAL(t_decode_file(path, &d), 0);
    t_check_flows(&d, recs, 10, biflow);
    t_check_options(&d, &sc, 0);

    if (!biflow && access("/usr/bin/ipfixDump", X_OK) == 0) {
        char cmd[512], out[160];
        snprintf(out, sizeof(out), "%s.txt", path);
        snprintf(cmd, sizeof(cmd), "ipfixDump --in %s --out %s 2>/dev/null", path, out);
        CU_ASSERT_EQUAL(system(cmd), 0);
        uint8_t *txt;
        size_t tl = t_read_file(out, &txt);
        CU_ASSERT(tl > 0);
        if (txt) {
            txt[tl] = 0;
            CU_ASSERT_PTR_NOT_NULL(strstr((char *)txt, "flowStartMilliseconds"));
            CU_ASSERT_PTR_NOT_NULL(strstr((char *)txt, "notSentFlowTotalCount"));
            /* an independent decoder sees our values (ipfixDump keeps the leading zero) */
            CU_ASSERT_PTR_NOT_NULL(strstr((char *)txt, "sourceIPv6Address : 2001:0db8::1000"));
            CU_ASSERT_PTR_NOT_NULL(strstr((char *)txt, "octetDeltaCount : 4294967301"));
            free(txt);
        }
        unlink(out);
    }
    unlink(path);
}

static void test_file_uniflow(void)
{
    run_file(false);
}

static void test_file_biflow(void)
{
    run_file(true);
}

static void test_udp(void)
{
    uint16_t port;
    int lfd = t_udp_listener(&port);
    struct fp_config cfg;
    t_cfg(&cfg, FP_TRANSPORT_UDP, NULL, port, false, 512);
    cfg.template_refresh_msgs = 3;
    struct rte_ring *r = fp_export_ring_create("u", 512);
    static struct fp_flow_record recs[200];
    t_push(r, recs, 200, 0);
    struct fp_exporter *ex = t_exporter(&cfg, &r, 1);
    CU_ASSERT_FATAL(ex != NULL);
    fp_exporter_start(ex);
    fp_exporter_stop(ex);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);

    static uint8_t all[1 << 20];
    size_t len = 0;
    unsigned dgrams = 0, max = 0;
    for (;;) {
        ssize_t n = recv(lfd, all + len, sizeof(all) - len, MSG_DONTWAIT);
        if (n <= 0)
            break;
        CU_ASSERT(n <= 512);
        max = FP_MAX(max, (unsigned)n);
        CU_ASSERT_EQUAL(r16(all + len + 2), n); /* one message per datagram */
        len += (size_t)n;
        dgrams++;
    }
    close(lfd);
    CU_ASSERT_EQUAL(dgrams, st.messages);
    CU_ASSERT(max > 400); /* messages are filled up to the MTU */
    struct t_scan sc;
    t_scan_stream(all, len, &sc);
    CU_ASSERT_EQUAL(sc.empty_sets, 0);
    CU_ASSERT_EQUAL(sc.seq_errors, 0);
    CU_ASSERT_EQUAL(sc.data_before_template, 0);
    CU_ASSERT_EQUAL(sc.tmpl_redefined, 0);
    CU_ASSERT(sc.data_msgs_between_templates_max <= 3); /* template_refresh_msgs */
    CU_ASSERT(st.template_sends > 5);
    char path[128];
    t_tmpname(path, sizeof(path), "udp");
    t_write_file(path, all, len);
    static struct t_decoded d;
    CU_ASSERT_EQUAL(t_decode_file(path, &d), 0);
    t_check_flows(&d, recs, 200, false);
    t_check_options(&d, &sc, 0);
    unlink(path);
}

/* Tiny MTU with biflow IPv6 templates: each template needs its own message (libfixbuf 2.4.1
 * would emit empty Sets there). */
static void test_udp_small_mtu_biflow(void)
{
    uint16_t port;
    int lfd = t_udp_listener(&port);
    struct fp_config cfg;
    t_cfg(&cfg, FP_TRANSPORT_UDP, NULL, port, true, 256);
    cfg.template_refresh_s = 1;
    struct rte_ring *r = fp_export_ring_create("s", 64);
    struct fp_flow_record recs[20];
    t_push(r, recs, 10, 0);
    struct fp_exporter *ex = t_exporter(&cfg, &r, 1);
    CU_ASSERT_FATAL(ex != NULL);
    fp_exporter_start(ex);
    t_sleep_ms(1200); /* > template_refresh_s: the next data triggers a template refresh */
    for (unsigned i = 0; i < 10; i++) {
        make_vec(&recs[10 + i], i, 1);
        CU_ASSERT(fp_export_ring_put(r, &recs[10 + i]));
    }
    fp_exporter_stop(ex);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);

    static uint8_t all[1 << 18];
    size_t len = 0;
    ssize_t n;
    while ((n = recv(lfd, all + len, sizeof(all) - len, MSG_DONTWAIT)) > 0) {
        CU_ASSERT(n <= 256);
        len += (size_t)n;
    }
    close(lfd);
    struct t_scan sc;
    t_scan_stream(all, len, &sc);
    CU_ASSERT_EQUAL(sc.empty_sets, 0);
    CU_ASSERT_EQUAL(st.empty_sets_removed, 0);
    CU_ASSERT_EQUAL(sc.seq_errors, 0);
    CU_ASSERT_EQUAL(sc.data_before_template, 0);
    CU_ASSERT(st.template_sends >= 2); /* initial + time-based refresh */
    CU_ASSERT(sc.template_records >= 8);
    char path[128];
    t_tmpname(path, sizeof(path), "small");
    t_write_file(path, all, len);
    static struct t_decoded d;
    CU_ASSERT_EQUAL(t_decode_file(path, &d), 0);
    t_check_flows(&d, recs, 20, true);
    unlink(path);
}

static void test_udp_refused(void)
{
    uint16_t port;
    int lfd = t_udp_listener(&port);
    close(lfd); /* nobody listens: ICMP port unreachable → ECONNREFUSED */
    struct fp_config cfg;
    t_cfg(&cfg, FP_TRANSPORT_UDP, NULL, port, false, 512);
    struct rte_ring *r = fp_export_ring_create("x", 512);
    static struct fp_flow_record recs[100];
    t_push(r, recs, 100, 0);
    struct fp_exporter_params p = {.cfg = &cfg, .rings = &r, .n_rings = 1, .flush_ms = 1};
    struct fp_exporter *ex = fp_exporter_create(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
    t_sleep_ms(20);
    fp_exporter_start(ex);
    fp_exporter_stop(ex);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_EQUAL(st.records + st.records_not_sent, 180u);
    CU_ASSERT(st.records_not_sent > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, "refused"));
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);
}

static void test_tcp(void)
{
    uint16_t port = 0;
    int lfd = t_tcp_listener(&port);
    struct fp_config cfg;
    t_cfg(&cfg, FP_TRANSPORT_TCP, NULL, port, true, 0);
    struct rte_ring *rings[2] = {fp_export_ring_create("t0", 512), fp_export_ring_create("t1", 8)};
    static struct fp_flow_record recs[300];
    t_push(rings[0], recs, 300, 0);
    struct fp_exporter *ex = t_exporter(&cfg, rings, 2);
    CU_ASSERT_FATAL(ex != NULL);
    fp_exporter_start(ex);
    fp_exporter_stop(ex);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_EQUAL(st.records, 300);
    CU_ASSERT_EQUAL(st.reconnects, 0);
    fp_exporter_destroy(ex);
    fp_export_ring_free(rings[0]);
    fp_export_ring_free(rings[1]);
    static uint8_t all[1 << 20];
    size_t len = t_tcp_read_all(lfd, all, sizeof(all));
    close(lfd);
    CU_ASSERT_EQUAL(len, st.octets);
    struct t_scan sc;
    t_scan_stream(all, len, &sc);
    CU_ASSERT_EQUAL(sc.empty_sets, 0);
    CU_ASSERT_EQUAL(sc.seq_errors, 0);
    CU_ASSERT_EQUAL(sc.data_before_template, 0);
    CU_ASSERT(sc.max_msg > 1500 && sc.max_msg <= 65535); /* TCP uses large messages */
    CU_ASSERT_EQUAL(st.template_sends, 1); /* no periodic refresh over TCP */
    char path[128];
    t_tmpname(path, sizeof(path), "tcp");
    t_write_file(path, all, len);
    static struct t_decoded d;
    CU_ASSERT_EQUAL(t_decode_file(path, &d), 0);
    t_check_flows(&d, recs, 300, true);
    t_check_options(&d, &sc, 0);
    unlink(path);
}

static void test_tcp_down_then_up(void)
{
    uint16_t port = 0;
    int lfd = t_tcp_listener(&port);
    close(lfd); /* port known, nobody listening */
    struct fp_config cfg;
    t_cfg(&cfg, FP_TRANSPORT_TCP, NULL, port, false, 0);
    struct rte_ring *r = fp_export_ring_create("d", 64);
    struct fp_flow_record before[5], after[5];
    t_push(r, before, 5, 0);
    struct fp_exporter *ex = t_exporter(&cfg, &r, 1);
    CU_ASSERT_FATAL(ex != NULL); /* a down TCP collector is not fatal */
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_NOT_EQUAL(st.state, FP_COLLECTOR_STATE_UP);
    CU_ASSERT(strlen(st.last_error) > 0);
    fp_exporter_start(ex);
    for (int i = 0; i < 200 && rte_ring_count(r) > 0; i++)
        t_sleep_ms(5);
    lfd = t_tcp_listener(&port); /* collector comes up on the same port */
    for (int i = 0; i < 300; i++) {
        fp_exporter_get_stats(ex, 0, &st);
        if (st.state == FP_COLLECTOR_STATE_UP)
            break;
        t_sleep_ms(10);
    }
    CU_ASSERT_EQUAL_FATAL(st.state, FP_COLLECTOR_STATE_UP);
    t_push(r, after, 5, 1);
    fp_exporter_stop(ex);
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_EQUAL(st.records_not_sent, 9); /* 5 connections = 9 uniflow records */
    CU_ASSERT_EQUAL(st.records, 9);
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);

    static uint8_t all[1 << 16];
    size_t len = t_tcp_read_all(lfd, all, sizeof(all));
    close(lfd);
    CU_ASSERT(len > 16);
    /* the first message of the new session holds templates only */
    CU_ASSERT_EQUAL(r32(all + 8), 0);
    CU_ASSERT(r16(all + 16) == 2 || r16(all + 16) == 3);
    struct t_scan sc;
    t_scan_stream(all, len, &sc);
    CU_ASSERT_EQUAL(sc.data_before_template, 0);
    CU_ASSERT_EQUAL(sc.seq_errors, 0);
    char path[128];
    t_tmpname(path, sizeof(path), "tcpup");
    t_write_file(path, all, len);
    static struct t_decoded d;
    CU_ASSERT_EQUAL(t_decode_file(path, &d), 0);
    t_check_flows(&d, after, 5, false);
    t_check_options(&d, &sc, 9);
    unlink(path);
}

static void test_create_errors(void)
{
    struct fp_config cfg;
    t_cfg(&cfg, FP_TRANSPORT_FILE, "/nonexistent-dir/x.ipfix", 0, false, 0);
    struct fp_exporter_params p = {.cfg = &cfg};
    errno = 0;
    CU_ASSERT_PTR_NULL(fp_exporter_create(&p));
    CU_ASSERT_EQUAL(errno, ENOENT);
    t_cfg(&cfg, FP_TRANSPORT_UDP, NULL, 4739, false, 100);
    errno = 0;
    CU_ASSERT_PTR_NULL(fp_exporter_create(&p));
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(fp_exporter_create(NULL));
    CU_ASSERT_EQUAL(errno, EINVAL);
    fp_exporter_destroy(NULL);
    CU_ASSERT_EQUAL(fp_exporter_stop(NULL), -EINVAL);
}

void fp_test_register_export(void);
void fp_test_register_export(void)
{
    static CU_TestInfo tests[] = {
        {"ring", test_ring},
        {"templates match structs", test_templates_match_structs},
        {"strip empty sets", test_strip_empty_sets},
        {"file uniflow", test_file_uniflow},
        {"file biflow", test_file_biflow},
        {"udp mtu + refresh by messages", test_udp},
        {"udp small mtu biflow + refresh by time", test_udp_small_mtu_biflow},
        {"udp connection refused", test_udp_refused},
        {"tcp biflow", test_tcp},
        {"tcp down then up", test_tcp_down_then_up},
        {"create errors", test_create_errors},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("export", tests);
}
