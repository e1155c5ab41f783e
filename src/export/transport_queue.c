/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backlog of flow records for a TCP/TLS/DTLS collector (or a failover group) that is down
 * or slow: retry list (records of failed sessions), then the on-disk spool, then the memory
 * ring, oldest first. Exporter thread only.
 *
 * Spool = RFC 5655 IPFIX files "seg-NNNNNNNNNN.ipfix", each written by a libfixbuf session of
 * its own (observation domain 0): a first message with the two spool templates (267 IPv4,
 * 268 IPv6), then messages of at most msg_records data records, with the sequence numbers and
 * export times of that file. Each data record carries the flow's standard IEs (flowId, times,
 * addresses, ports, protocol, end reason, forward and reverse delta counts, so ipfixDump shows
 * the flows) and fpSpoolRecord, the whole struct fp_flow_record. Replay reads fpSpoolRecord
 * back and encodes the record again in the live session, so templates, template IDs and
 * sequence numbers are always those of that session (see README.md "Queue, spool and
 * failover"). A file whose template lacks fpSpoolRecord of the right length, or that cannot
 * be read to its end, loses its unread records (counted in lost[]).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export_internal.h"
#include "fp_ie_gen.h"

#define SPOOL_PREFIX "seg-"
#define SPOOL_SUFFIX ".ipfix"
#define REC_SIZE sizeof(struct fp_flow_record)
#define SPOOL_MSG_MAX 32768u   /**< bytes of one spool IPFIX message at most */
#define SPOOL_MSG_HDR 16u      /**< IPFIX message header */
#define SPOOL_SET_HDR 4u
#define SPOOL_READ_TID FP_TID_INTERNAL(FP_TID_SPOOL4) /**< reader's internal template */

/*
 * Spool data records. Internal template == external template, byte for byte (libfixbuf 2.4.1
 * pitfall 5): no padding anywhere, checked below and by fp_export_template_build.
 */
struct spool_rec4 {
    uint64_t flow_id;
    uint64_t start_ms; /**< first packet of either direction */
    uint64_t end_ms;   /**< last packet of either direction */
    uint64_t packets;  /**< direction 0 (source → destination) */
    uint64_t octets;
    uint64_t r_packets; /**< direction 1 */
    uint64_t r_octets;
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t end_reason;
    uint16_t vlan;
    uint8_t raw[REC_SIZE]; /**< fpSpoolRecord */
};
FP_STATIC_ASSERT(sizeof(struct spool_rec4) == 72 + REC_SIZE, "spool IPv4 layout");

struct spool_rec6 {
    uint64_t flow_id;
    uint64_t start_ms;
    uint64_t end_ms;
    uint64_t packets;
    uint64_t octets;
    uint64_t r_packets;
    uint64_t r_octets;
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t end_reason;
    uint16_t vlan;
    uint8_t raw[REC_SIZE];
};
FP_STATIC_ASSERT(sizeof(struct spool_rec6) == 96 + REC_SIZE, "spool IPv6 layout");

/** What replay reads back: any spool template transcoded to these two fields. */
struct spool_read {
    uint64_t flow_id;
    uint8_t raw[REC_SIZE];
};
FP_STATIC_ASSERT(sizeof(struct spool_read) == 8 + REC_SIZE, "spool read layout");

#define SPOOL_FIELDS_HEAD                                                                  \
    {"flowId", 8, 0}, {"flowStartMilliseconds", 8, 0}, {"flowEndMilliseconds", 8, 0},      \
        {"packetDeltaCount", 8, 0}, {"octetDeltaCount", 8, 0},                             \
        {"reversePacketDeltaCount", 8, 0}, {"reverseOctetDeltaCount", 8, 0}
#define SPOOL_FIELDS_TAIL                                                                  \
    {"sourceTransportPort", 2, 0}, {"destinationTransportPort", 2, 0},                     \
        {"protocolIdentifier", 1, 0}, {"flowEndReason", 1, 0}, {"vlanId", 2, 0},           \
        {FP_IE_NAME_SPOOL_RECORD, (uint16_t)REC_SIZE, 0}

static const struct fp_ipfix_field spool4_fields[] = {
    SPOOL_FIELDS_HEAD,
    {"sourceIPv4Address", 4, 0},
    {"destinationIPv4Address", 4, 0},
    SPOOL_FIELDS_TAIL,
};
static const struct fp_ipfix_field spool6_fields[] = {
    SPOOL_FIELDS_HEAD,
    {"sourceIPv6Address", 16, 0},
    {"destinationIPv6Address", 16, 0},
    SPOOL_FIELDS_TAIL,
};
static const struct fp_ipfix_field spool_read_fields[] = {
    {"flowId", 8, 0},
    {FP_IE_NAME_SPOOL_RECORD, (uint16_t)REC_SIZE, 0},
};

static const struct fp_ipfix_template spool_templates[2] = {
    {FP_TID_SPOOL4, 0, spool4_fields, FP_ARRAY_SIZE(spool4_fields), sizeof(struct spool_rec4),
     "spool4"},
    {FP_TID_SPOOL6, 0, spool6_fields, FP_ARRAY_SIZE(spool6_fields), sizeof(struct spool_rec6),
     "spool6"},
};
static const struct fp_ipfix_template spool_read_template = {
    SPOOL_READ_TID, 0, spool_read_fields, FP_ARRAY_SIZE(spool_read_fields),
    sizeof(struct spool_read), "spool read"};

void fp_export_record_counts(const struct fp_flow_record *r, bool biflow, uint64_t out[3])
{
    if (biflow)
        out[0] = 1;
    else
        out[0] = (uint64_t)(r->dir[0].packets > 0 || r->dir[1].packets == 0) +
                 (uint64_t)(r->dir[1].packets > 0);
    out[1] = r->dir[0].packets + r->dir[1].packets;
    out[2] = r->dir[0].bytes + r->dir[1].bytes;
}

static void add_counts(const struct fp_export_backlog *b, const struct fp_flow_record *r,
                       uint64_t dropped[3])
{
    uint64_t c[3];
    fp_export_record_counts(r, b->biflow, c);
    for (int i = 0; i < 3; i++)
        dropped[i] += c[i];
}

static void seg_path(const struct fp_export_backlog *b, uint64_t seg, char *out, size_t len)
{
    snprintf(out, len, "%s/" SPOOL_PREFIX "%010llu" SPOOL_SUFFIX, b->dir,
             (unsigned long long)seg);
}

static struct fp_export_spool_seg *seg_of(const struct fp_export_backlog *b, uint64_t seg)
{
    return &b->segs[seg % b->seg_max];
}

/* Remove seg-*.ipfix files (leftovers of an earlier run) from @p dir; nothing else. */
static void remove_leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[FP_CONFIG_STR * 2 + 320]; /* dir + "/" + d_name (256) */
    size_t pl = strlen(SPOOL_PREFIX), sl = strlen(SPOOL_SUFFIX);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > pl + sl && strncmp(e->d_name, SPOOL_PREFIX, pl) == 0 &&
            strcmp(e->d_name + n - sl, SPOOL_SUFFIX) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Octets of the message holding both templates (RFC 7011 §3.4.1: 4 per field, 8 with PEN). */
static size_t templates_bytes(fbInfoModel_t *model)
{
    size_t n = SPOOL_MSG_HDR + SPOOL_SET_HDR;
    for (unsigned t = 0; t < FP_ARRAY_SIZE(spool_templates); t++) {
        n += 4;
        for (unsigned i = 0; i < spool_templates[t].n_fields; i++) {
            const fbInfoElement_t *ie =
                fbInfoModelGetElementByName(model, spool_templates[t].fields[i].name);
            n += ie != NULL && ie->ent != 0 ? 8 : 4;
        }
    }
    return n;
}

/* Largest file a segment of @p n records can become: templates, message headers, and a Set
 * header per record (worst case: IPv4 and IPv6 records alternate). */
static uint64_t seg_bytes(uint64_t n, uint32_t msg_records, size_t tmpl_bytes)
{
    uint64_t rec = FP_MAX(sizeof(struct spool_rec4), sizeof(struct spool_rec6)) + SPOOL_SET_HDR;
    return tmpl_bytes + (n + msg_records - 1) / msg_records * SPOOL_MSG_HDR + n * rec;
}

int fp_export_backlog_init(struct fp_export_backlog *b, uint32_t mem_cap, const char *spool_dir,
                           const char *name, uint64_t spool_max_bytes, bool biflow)
{
    memset(b, 0, sizeof(*b));
    b->biflow = biflow;
    b->mem_cap = mem_cap;
    b->mem = malloc((size_t)FP_MAX(mem_cap, 1u) * REC_SIZE);
    if (b->mem == NULL)
        return -ENOMEM;
    if (spool_dir == NULL || spool_dir[0] == '\0')
        return 0;
    /* one sub-directory per lane, named after the collector URL (sanitised) */
    char sub[64];
    size_t k = 0;
    for (const char *p = name; *p != '\0' && k + 1 < sizeof(sub); p++)
        sub[k++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
                              ? *p
                              : '_');
    sub[k] = '\0';
    if (mkdir(spool_dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    snprintf(b->dir, sizeof(b->dir), "%s/%s", spool_dir, sub);
    if (mkdir(b->dir, 0700) < 0 && errno != EEXIST) {
        int rc = -errno;
        b->dir[0] = '\0';
        return rc;
    }
    remove_leftovers(b->dir);

    /* the spool's own model: libfixbuf's IEs + fpSpoolRecord (never in the exporter's) */
    fbInfoElement_t ies[] = {FP_IE_SPOOL_DEFS_INIT(FP_IE_PEN_DEFAULT)};
    b->model = fbInfoModelAlloc();
    fbInfoModelAddElementArray(b->model, ies);

    uint64_t rec = FP_MAX(sizeof(struct spool_rec4), sizeof(struct spool_rec6)) + SPOOL_SET_HDR;
    size_t tb = templates_bytes(b->model);
    b->msg_records = (uint32_t)((SPOOL_MSG_MAX - SPOOL_MSG_HDR) / rec);
    /* segments of at most 1/8 of the cap (at least 64 records), at least 2 segments; the
     * files, headers and templates included, never exceed the cap */
    uint64_t part = spool_max_bytes / 8, seg = part > tb ? (part - tb) / rec : 0;
    while (seg > 64 && seg_bytes(seg, b->msg_records, tb) > part)
        seg--;
    if (seg < 64)
        seg = 64;
    if (seg > 1u << 20)
        seg = 1u << 20;
    b->seg_records = (uint32_t)seg;
    uint64_t max = spool_max_bytes / seg_bytes(seg, b->msg_records, tb);
    b->seg_max = (uint32_t)(max < 2 ? 2 : max);
    b->segs = calloc(b->seg_max, sizeof(*b->segs));
    if (b->segs == NULL)
        return -ENOMEM;
    return 0;
}

/* ---------------------------------------------------------------- reading */

static void close_reader(struct fp_export_backlog *b)
{
    if (b->rd_fb != NULL)
        fBufFree(b->rd_fb); /* frees its session and collector, not the FILE */
    if (b->rd != NULL)
        fclose(b->rd);
    b->rd_fb = NULL;
    b->rd = NULL;
}

/* Open segment seg_first for reading from its start. @return 0 or -errno. */
static int open_reader(struct fp_export_backlog *b)
{
    char path[sizeof(b->dir) + 48];
    GError *err = NULL;
    int rc;

    if (b->rd_fb != NULL)
        return 0;
    seg_path(b, b->seg_first, path, sizeof(path));
    b->rd = fopen(path, "rb");
    if (b->rd == NULL)
        return -errno;
    fbSession_t *s = fbSessionAlloc(b->model);
    fbTemplate_t *t = fp_export_template_build(b->model, &spool_read_template, true, &rc);
    if (t == NULL) {
        fbSessionFree(s);
        close_reader(b);
        return rc;
    }
    if (fbSessionAddTemplate(s, TRUE, SPOOL_READ_TID, t, &err) == 0) {
        g_clear_error(&err);
        fbTemplateFreeUnused(t);
        fbSessionFree(s);
        close_reader(b);
        return -EINVAL;
    }
    b->rd_fb = fBufAllocForCollection(s, fbCollectorAllocFP(NULL, b->rd));
    if (!fBufSetInternalTemplate(b->rd_fb, SPOOL_READ_TID, &err)) {
        g_clear_error(&err);
        close_reader(b);
        return -EINVAL;
    }
    return 0;
}

/* Is @p t a spool template: flowId (8 octets) and fpSpoolRecord of exactly REC_SIZE octets? */
static bool spool_template_ok(fbTemplate_t *t, uint16_t tid)
{
    bool id = false, raw = false;
    if (tid != FP_TID_SPOOL4 && tid != FP_TID_SPOOL6)
        return false;
    for (uint32_t i = 0, n = fbTemplateCountElements(t); i < n; i++) {
        const fbInfoElement_t *ie = fbTemplateGetIndexedIE(t, i);
        if (ie == NULL)
            return false;
        if (ie->ent == 0 && ie->num == 148) /* flowId */
            id = ie->len == 8;
        else if (ie->ent == FP_IE_PEN_DEFAULT && ie->num == FP_IE_SPOOL_RECORD)
            raw = ie->len == REC_SIZE;
    }
    return id && raw;
}

/* Read the next record of segment seg_first. @return 0, or -errno (unreadable from here). */
static int read_next(struct fp_export_backlog *b, struct fp_flow_record *out)
{
    struct spool_read rr;
    size_t len = sizeof(rr);
    GError *err = NULL;
    uint16_t tid = 0;
    int rc = open_reader(b);

    if (rc < 0)
        return rc;
    if (!fBufNext(b->rd_fb, (uint8_t *)&rr, &len, &err)) {
        rc = g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOF) ? -ENODATA : -EIO;
        g_clear_error(&err);
        return rc;
    }
    fbTemplate_t *t = fBufGetCollectionTemplate(b->rd_fb, &tid);
    if (t == NULL || len != sizeof(rr) || !spool_template_ok(t, tid))
        return -EPROTO;
    memcpy(out, rr.raw, REC_SIZE);
    return out->flow_id == rr.flow_id ? 0 : -EPROTO;
}

/* ---------------------------------------------------------------- writing */

/* The message being built could not be written: its records are lost (counted in @p to). */
static void writer_msg_lost(struct fp_export_backlog *b, uint64_t to[3])
{
    struct fp_export_spool_seg *g = seg_of(b, b->seg_next - 1);
    g->records -= FP_MIN(b->wr_msg.records, g->records);
    b->spool_n -= FP_MIN(b->wr_msg.records, b->spool_n);
    for (int i = 0; i < 3; i++) {
        g->counts[i] -= FP_MIN(b->wr_msg.counts[i], g->counts[i]);
        to[i] += b->wr_msg.counts[i];
    }
    memset(&b->wr_msg, 0, sizeof(b->wr_msg));
}

/* Write the pending message, if any. @return false on a disk error (its records then lost). */
static bool writer_emit(struct fp_export_backlog *b, uint64_t lost_to[3])
{
    GError *err = NULL;
    if (b->wr_msg.records == 0)
        return true;
    if (!fBufEmit(b->wr_fb, &err)) {
        g_clear_error(&err);
        writer_msg_lost(b, lost_to);
        return false;
    }
    memset(&b->wr_msg, 0, sizeof(b->wr_msg));
    return true;
}

/* Finish the segment being written: last message, close. A later write starts a new one. */
static void close_writer(struct fp_export_backlog *b, uint64_t lost_to[3])
{
    if (b->wr == NULL)
        return;
    writer_emit(b, lost_to);
    fBufFree(b->wr_fb); /* frees its session and exporter, not the FILE */
    fclose(b->wr);      /* unbuffered: nothing left to write */
    b->wr_fb = NULL;
    b->wr = NULL;
    b->wr_tid = 0;
}

/* Finish with segment seg_first: remove it. */
static void retire_first(struct fp_export_backlog *b)
{
    char path[sizeof(b->dir) + 48];
    close_reader(b);
    seg_path(b, b->seg_first, path, sizeof(path));
    unlink(path);
    memset(seg_of(b, b->seg_first), 0, sizeof(struct fp_export_spool_seg));
    b->seg_first++;
}

/* Take the unread records of segment seg_first out of the spool, adding their counts to
 * @p to, and remove it. */
static void discard_first(struct fp_export_backlog *b, uint64_t to[3])
{
    struct fp_export_spool_seg *g = seg_of(b, b->seg_first);
    if (b->wr != NULL && b->seg_first + 1 == b->seg_next)
        close_writer(b, to);
    for (int i = 0; i < 3; i++)
        to[i] += g->counts[i];
    b->spool_n -= FP_MIN(g->records, b->spool_n);
    retire_first(b);
}

/* Add the two spool templates (external 267/268, internal | 0x8000) to @p s. */
static int add_templates(fbInfoModel_t *model, fbSession_t *s)
{
    GError *err = NULL;
    int rc;
    for (unsigned i = 0; i < FP_ARRAY_SIZE(spool_templates); i++)
        for (int internal = 0; internal < 2; internal++) {
            const struct fp_ipfix_template *st = &spool_templates[i];
            fbTemplate_t *t = fp_export_template_build(model, st, internal, &rc);
            if (t == NULL)
                return rc;
            uint16_t tid = internal ? FP_TID_INTERNAL(st->tid) : st->tid;
            if (fbSessionAddTemplate(s, internal, tid, t, &err) == 0) {
                g_clear_error(&err);
                fbTemplateFreeUnused(t);
                return -EINVAL;
            }
        }
    return 0;
}

/* Start segment seg_next (dropping the oldest beyond the cap): file, session, templates. */
static int open_writer(struct fp_export_backlog *b, uint64_t dropped[3])
{
    char path[sizeof(b->dir) + 48];
    GError *err = NULL;
    int rc;

    while (b->seg_next - b->seg_first >= b->seg_max)
        discard_first(b, dropped);
    seg_path(b, b->seg_next, path, sizeof(path));
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return -errno;
    setvbuf(fp, NULL, _IONBF, 0); /* one write per message: a disk error shows at once */
    fbSession_t *s = fbSessionAlloc(b->model);
    if ((rc = add_templates(b->model, s)) < 0) {
        fbSessionFree(s);
        goto fail;
    }
    fBuf_t *fb = fBufAllocForExport(s, fbExporterAllocFP(fp));
    if (!fbSessionExportTemplates(s, &err) || !fBufEmit(fb, &err)) {
        g_clear_error(&err);
        fBufFree(fb);
        rc = -EIO;
        goto fail;
    }
    b->wr = fp;
    b->wr_fb = fb;
    b->wr_tid = 0;
    b->wr_count = 0;
    memset(&b->wr_msg, 0, sizeof(b->wr_msg));
    memset(seg_of(b, b->seg_next), 0, sizeof(struct fp_export_spool_seg));
    b->seg_next++;
    return 0;
fail:
    fclose(fp);
    unlink(path);
    return rc;
}

static uint64_t first_last_ms(const struct fp_flow_record *r, bool last)
{
    uint64_t v = last ? 0 : UINT64_MAX;
    for (int d = 0; d < 2; d++) {
        if (r->dir[d].first_ns == 0)
            continue;
        v = last ? FP_MAX(v, r->dir[d].last_ns) : FP_MIN(v, r->dir[d].first_ns);
    }
    return v == UINT64_MAX ? 0 : v / 1000000u;
}

static uint32_t ip4(const uint8_t *a)
{
    return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

#define SPOOL_FILL(o, r)                                                                   \
    do {                                                                                   \
        (o).flow_id = (r)->flow_id;                                                        \
        (o).start_ms = first_last_ms((r), false);                                          \
        (o).end_ms = first_last_ms((r), true);                                             \
        (o).packets = (r)->dir[0].packets;                                                 \
        (o).octets = (r)->dir[0].bytes;                                                    \
        (o).r_packets = (r)->dir[1].packets;                                               \
        (o).r_octets = (r)->dir[1].bytes;                                                  \
        (o).sport = (r)->sport;                                                            \
        (o).dport = (r)->dport;                                                            \
        (o).proto = (r)->proto;                                                            \
        (o).end_reason = (r)->end_reason;                                                  \
        (o).vlan = (r)->n_vlan ? (uint16_t)((r)->vlan[0] & 0x0fff) : 0;                    \
        memcpy((o).raw, (r), REC_SIZE);                                                    \
    } while (0)

/* Append one record to the spool. @return 0, or -errno (the record is not in the spool). */
static int spool_write(struct fp_export_backlog *b, const struct fp_flow_record *r,
                       uint64_t dropped[3])
{
    union {
        struct spool_rec4 v4;
        struct spool_rec6 v6;
    } u;
    GError *err = NULL;
    size_t len;
    uint16_t tid;
    int rc;

    /* the previous message is complete: write it (lazily, so a failure here costs only the
     * records of that message, counted dropped) */
    if (b->wr != NULL && b->wr_msg.records >= b->msg_records && !writer_emit(b, dropped))
        close_writer(b, dropped);
    if (b->wr != NULL && b->wr_count >= b->seg_records)
        close_writer(b, dropped);
    if (b->wr == NULL && (rc = open_writer(b, dropped)) < 0)
        return rc;
    if (r->ip_version == 6) {
        SPOOL_FILL(u.v6, r);
        memcpy(u.v6.src, r->src, 16);
        memcpy(u.v6.dst, r->dst, 16);
        tid = FP_TID_SPOOL6;
        len = sizeof(u.v6);
    } else {
        SPOOL_FILL(u.v4, r);
        u.v4.src = ip4(r->src);
        u.v4.dst = ip4(r->dst);
        tid = FP_TID_SPOOL4;
        len = sizeof(u.v4);
    }
    if (tid != b->wr_tid) {
        if (!fBufSetInternalTemplate(b->wr_fb, FP_TID_INTERNAL(tid), &err) ||
            !fBufSetExportTemplate(b->wr_fb, tid, &err))
            goto fail;
        b->wr_tid = tid;
    }
    if (!fBufAppend(b->wr_fb, (uint8_t *)&u, len, &err))
        goto fail;
    uint64_t c[3];
    fp_export_record_counts(r, b->biflow, c);
    struct fp_export_spool_seg *g = seg_of(b, b->seg_next - 1);
    g->records++;
    b->wr_msg.records++;
    for (int i = 0; i < 3; i++) {
        g->counts[i] += c[i];
        b->wr_msg.counts[i] += c[i];
    }
    b->wr_count++;
    b->spool_n++;
    return 0;
fail:
    g_clear_error(&err);
    writer_msg_lost(b, dropped); /* the state of the message is unknown: give it up */
    close_writer(b, dropped);
    return -EIO;
}

/* ---------------------------------------------------------------- API */

void fp_export_backlog_fini(struct fp_export_backlog *b)
{
    char path[sizeof(b->dir) + 48];
    uint64_t ignore[3] = {0, 0, 0};
    close_writer(b, ignore);
    close_reader(b);
    if (b->dir[0] != '\0')
        for (uint64_t s = b->seg_first; s < b->seg_next; s++) {
            seg_path(b, s, path, sizeof(path));
            unlink(path);
        }
    if (b->model != NULL)
        fbInfoModelFree(b->model);
    free(b->segs);
    free(b->mem);
    free(b->retry);
    memset(b, 0, sizeof(*b));
}

uint64_t fp_export_backlog_count(const struct fp_export_backlog *b)
{
    return b->retry_n + b->spool_n + b->mem_n;
}

void fp_export_backlog_push(struct fp_export_backlog *b, const struct fp_flow_record *r,
                            uint64_t dropped[3], uint64_t *spooled)
{
    if (b->mem_cap == 0) { /* no memory queue: straight to the spool, or dropped */
        if (b->dir[0] != '\0' && spool_write(b, r, dropped) == 0)
            (*spooled)++;
        else
            add_counts(b, r, dropped);
        return;
    }
    if (b->mem_n == b->mem_cap) {
        uint32_t move = b->dir[0] != '\0' ? FP_MAX(b->mem_cap / 2, 1u) : 1;
        for (uint32_t i = 0; i < move; i++) {
            const struct fp_flow_record *old = &b->mem[b->mem_head];
            if (b->dir[0] != '\0' && spool_write(b, old, dropped) == 0)
                (*spooled)++;
            else
                add_counts(b, old, dropped); /* no spool, or the disk failed */
            b->mem_head = (b->mem_head + 1) % b->mem_cap;
            b->mem_n--;
        }
    }
    b->mem[(b->mem_head + b->mem_n) % b->mem_cap] = *r;
    b->mem_n++;
}

int fp_export_backlog_requeue(struct fp_export_backlog *b, const struct fp_flow_record *r,
                              size_t n)
{
    if (n == 0)
        return 0;
    size_t total = n + b->retry_n;
    struct fp_flow_record *nr = malloc(total * REC_SIZE);
    if (nr == NULL)
        return -ENOMEM;
    memcpy(nr, r, n * REC_SIZE);
    if (b->retry_n)
        memcpy(nr + n, b->retry + b->retry_head, b->retry_n * REC_SIZE);
    free(b->retry);
    b->retry = nr;
    b->retry_head = 0;
    b->retry_n = total;
    b->retry_cap = total;
    return 0;
}

bool fp_export_backlog_pop(struct fp_export_backlog *b, struct fp_flow_record *out)
{
    if (b->retry_n) {
        *out = b->retry[b->retry_head++];
        if (--b->retry_n == 0) {
            free(b->retry);
            b->retry = NULL;
            b->retry_head = b->retry_cap = 0;
        }
        return true;
    }
    while (b->spool_n > 0 && b->seg_first < b->seg_next) {
        struct fp_export_spool_seg *g = seg_of(b, b->seg_first);
        /* reaching the segment being written: finish it (the next write starts a new one) */
        if (b->wr != NULL && b->seg_first + 1 == b->seg_next)
            close_writer(b, b->lost);
        if (g->records == 0) {
            retire_first(b);
            continue;
        }
        if (read_next(b, out) < 0) {
            /* unreadable or short segment: its unread records are lost */
            discard_first(b, b->lost);
            continue;
        }
        uint64_t c[3];
        fp_export_record_counts(out, b->biflow, c);
        for (int i = 0; i < 3; i++)
            g->counts[i] -= FP_MIN(c[i], g->counts[i]);
        g->records--;
        b->spool_n--;
        if (g->records == 0)
            retire_first(b);
        return true;
    }
    if (b->mem_n) {
        *out = b->mem[b->mem_head];
        b->mem_head = (b->mem_head + 1) % b->mem_cap;
        b->mem_n--;
        return true;
    }
    return false;
}
