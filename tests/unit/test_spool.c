/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Spool files of the export backlog (src/export/transport_queue.c) are RFC 5655 IPFIX files:
 * a segment is walked message by message (version, lengths, sequence numbers, export times,
 * templates, no empty Set), read with libfixbuf's collector API and a model that knows only
 * the standard IEs (no fpSpoolRecord) and compared with the pushed records; replay returns
 * every record byte for byte in order; damaged segments lose (and count) their records only;
 * the files stay within the cap.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/export_internal.h"
#include "tests/unit/fp_test.h"

#define T_PEN 32473u          /* ie-defs/flowpulse.xml: PEN of fpSpoolRecord */
#define T_SPOOL_RECORD 128u   /* ie-defs/flowpulse.xml: elementId of fpSpoolRecord */
#define T_REC4 (72u + sizeof(struct fp_flow_record)) /* 7×u64, 2×u32, 2×u16, 2×u8, u16, raw */
#define T_REC6 (96u + sizeof(struct fp_flow_record))

static uint64_t t_rng = 0x9e3779b97f4a7c15ull;

static uint64_t t_rand(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return t_rng;
}

/* Record @p i: every byte random (so replay must keep them all), then plausible flow fields;
 * one in three is IPv6, one in two has a reverse direction. */
static void t_make(struct fp_flow_record *r, unsigned i)
{
    uint8_t *p = (uint8_t *)r;
    for (size_t k = 0; k < sizeof(*r); k++)
        p[k] = (uint8_t)t_rand();
    r->ip_version = i % 3 == 0 ? 6 : 4;
    r->proto = i % 2 ? 6 : 17;
    r->end_reason = (uint8_t)(1 + i % 5);
    r->n_vlan = i % 4 == 0;
    r->vlan[0] = (uint16_t)(i % 4096);
    r->flow_id = 0x0a00000000000000ull + i * 7u;
    for (int d = 0; d < 2; d++) {
        bool seen = d == 0 || i % 2 == 0;
        r->dir[d].packets = seen ? 1 + t_rand() % 1000 : 0;
        r->dir[d].bytes = seen ? 40 + t_rand() % 1000000 : 0;
        r->dir[d].first_ns = seen ? 1700000000000000000ull + (uint64_t)i * 1000000000ull +
                                        (uint64_t)d * 3000000ull + t_rand() % 1000000ull
                                  : 0;
        r->dir[d].last_ns = seen ? r->dir[d].first_ns + t_rand() % 5000000000ull : 0;
    }
}

static uint32_t t_ip4(const uint8_t *a)
{
    return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

static uint16_t t_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t t_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *t_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf = NULL;
    if (f == NULL || fstat(fileno(f), &st) < 0 || (buf = malloc((size_t)st.st_size + 1)) == NULL ||
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        buf = NULL;
    }
    *len = buf ? (size_t)st.st_size : 0;
    if (f)
        fclose(f);
    return buf;
}

static void t_seg_path(const struct fp_export_backlog *b, unsigned seg, char *out, size_t len)
{
    snprintf(out, len, "%s/seg-%010u.ipfix", b->dir, seg);
}

/* What the message walk found. */
struct t_walk {
    unsigned msgs;
    unsigned data;           /**< data records */
    unsigned templates;      /**< template records (267/268) with fpSpoolRecord of full size */
    unsigned problems;       /**< anything not RFC 7011/5655 as expected */
};

/* Template Set: count templates 267/268 that carry fpSpoolRecord with the record's size. */
static void t_walk_templates(const uint8_t *s, size_t len, struct t_walk *w)
{
    size_t o = 4;
    while (o + 4 <= len) {
        uint16_t tid = t_rd16(s + o), n = t_rd16(s + o + 2);
        bool raw = false;
        o += 4;
        for (unsigned f = 0; f < n; f++) {
            if (o + 4 > len) {
                w->problems++;
                return;
            }
            uint16_t id = t_rd16(s + o), flen = t_rd16(s + o + 2);
            if (id & 0x8000) {
                if (o + 8 > len) {
                    w->problems++;
                    return;
                }
                raw |= (id & 0x7fff) == T_SPOOL_RECORD && t_rd32(s + o + 4) == T_PEN &&
                       flen == sizeof(struct fp_flow_record);
                o += 8;
            } else {
                o += 4;
            }
        }
        if ((tid == FP_TID_SPOOL4 || tid == FP_TID_SPOOL6) && raw)
            w->templates++;
        else
            w->problems++;
    }
}

/* Walk an IPFIX file: message headers (version 10, length, export time in [t0, t1],
 * observation domain 0, sequence number = data records before), Sets (no empty one, data
 * Sets a whole number of spool records), templates before data. */
static void t_walk_file(const uint8_t *p, size_t n, uint32_t t0, uint32_t t1, struct t_walk *w)
{
    size_t off = 0;
    uint32_t seq = 0;
    memset(w, 0, sizeof(*w));
    while (off < n) {
        if (n - off < 16 || t_rd16(p + off) != 10) {
            w->problems++;
            return;
        }
        size_t len = t_rd16(p + off + 2);
        uint32_t when = t_rd32(p + off + 4);
        if (len < 16 || len > n - off) {
            w->problems++;
            return;
        }
        w->problems += when < t0 || when > t1;
        w->problems += t_rd32(p + off + 8) != seq;
        w->problems += t_rd32(p + off + 12) != 0;
        w->msgs++;
        size_t o = 16;
        while (o < len) {
            const uint8_t *s = p + off + o;
            uint16_t sid = t_rd16(s), slen = len - o >= 4 ? t_rd16(s + 2) : 0;
            if (slen <= 4 || slen > len - o) { /* empty or broken Set */
                w->problems++;
                return;
            }
            if (sid == 2) {
                t_walk_templates(s, slen, w);
                w->problems += w->data > 0; /* templates first */
            } else if (sid == FP_TID_SPOOL4 || sid == FP_TID_SPOOL6) {
                size_t rl = sid == FP_TID_SPOOL4 ? T_REC4 : T_REC6;
                w->problems += (slen - 4u) % rl != 0 || w->templates < 2;
                w->data += (unsigned)((slen - 4u) / rl);
                seq += (uint32_t)((slen - 4u) / rl);
            } else {
                w->problems++;
            }
            o += slen;
        }
        off += len;
    }
}

/* Standard IEs only: what any IPFIX reader gets from a spool record. No padding (104). */
struct t_std {
    uint64_t flow_id;
    uint64_t start_ms;
    uint64_t end_ms;
    uint64_t packets;
    uint64_t octets;
    uint64_t r_packets;
    uint64_t r_octets;
    uint32_t src4;
    uint32_t dst4;
    uint8_t src6[16];
    uint8_t dst6[16];
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t end_reason;
    uint16_t vlan;
};

static const struct {
    const char *name;
    uint16_t len;
} t_std_spec[] = {
    {"flowId", 8}, {"flowStartMilliseconds", 8}, {"flowEndMilliseconds", 8},
    {"packetDeltaCount", 8}, {"octetDeltaCount", 8}, {"reversePacketDeltaCount", 8},
    {"reverseOctetDeltaCount", 8}, {"sourceIPv4Address", 4}, {"destinationIPv4Address", 4},
    {"sourceIPv6Address", 16}, {"destinationIPv6Address", 16}, {"sourceTransportPort", 2},
    {"destinationTransportPort", 2}, {"protocolIdentifier", 1}, {"flowEndReason", 1},
    {"vlanId", 2},
};

/*
 * Read @p path with libfixbuf's collector API, a fresh model (standard IEs only) and an
 * internal template of standard IEs. @return records read (at most @p max), or -1 if the
 * file did not end cleanly (FB_ERROR_EOF); ext tids seen are checked to be 267/268.
 */
static int t_read_std(const char *path, struct t_std *out, unsigned max, unsigned *bad_tid)
{
    GError *err = NULL;
    fbInfoModel_t *m = fbInfoModelAlloc();
    fbSession_t *s = fbSessionAlloc(m);
    fbTemplate_t *t = fbTemplateAlloc(m);
    int n = 0;
    for (size_t i = 0; i < sizeof(t_std_spec) / sizeof(t_std_spec[0]); i++) {
        union {
            const char *c;
            char *m;
        } name = {.c = t_std_spec[i].name};
        fbInfoElementSpec_t spec = {name.m, t_std_spec[i].len, 0};
        CU_ASSERT_FATAL(fbTemplateAppendSpec(t, &spec, 0, &err));
    }
    CU_ASSERT_EQUAL_FATAL(fbTemplateGetIELenOfMemBuffer(t), sizeof(struct t_std));
    CU_ASSERT_FATAL(fbSessionAddTemplate(s, TRUE, 0x9000, t, &err) != 0);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    fBuf_t *fb = fBufAllocForCollection(s, fbCollectorAllocFP(NULL, f));
    CU_ASSERT_FATAL(fBufSetInternalTemplate(fb, 0x9000, &err));
    *bad_tid = 0;
    for (;;) {
        struct t_std rec;
        size_t len = sizeof(rec);
        if (!fBufNext(fb, (uint8_t *)&rec, &len, &err)) {
            if (!g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOF))
                n = -1;
            g_clear_error(&err);
            break;
        }
        uint16_t tid = 0;
        fBufGetCollectionTemplate(fb, &tid);
        *bad_tid += tid != FP_TID_SPOOL4 && tid != FP_TID_SPOOL6;
        if ((unsigned)n < max)
            out[n] = rec;
        n++;
    }
    fBufFree(fb);
    fclose(f);
    fbInfoModelFree(m);
    return n;
}

/* The standard IEs of @p got describe flow record @p r. */
static bool t_std_matches(const struct t_std *got, const struct fp_flow_record *r)
{
    uint64_t start = UINT64_MAX, end = 0;
    for (int d = 0; d < 2; d++)
        if (r->dir[d].first_ns) {
            start = FP_MIN(start, r->dir[d].first_ns / 1000000u);
            end = FP_MAX(end, r->dir[d].last_ns / 1000000u);
        }
    bool ok = got->flow_id == r->flow_id && got->start_ms == start && got->end_ms == end &&
              got->packets == r->dir[0].packets && got->octets == r->dir[0].bytes &&
              got->r_packets == r->dir[1].packets && got->r_octets == r->dir[1].bytes &&
              got->sport == r->sport && got->dport == r->dport && got->proto == r->proto &&
              got->end_reason == r->end_reason &&
              got->vlan == (r->n_vlan ? (r->vlan[0] & 0x0fff) : 0);
    static const uint8_t zero[16];
    if (r->ip_version == 6)
        ok = ok && memcmp(got->src6, r->src, 16) == 0 && memcmp(got->dst6, r->dst, 16) == 0 &&
             got->src4 == 0 && got->dst4 == 0;
    else
        ok = ok && got->src4 == t_ip4(r->src) && got->dst4 == t_ip4(r->dst) &&
             memcmp(got->src6, zero, 16) == 0;
    return ok;
}

static void t_rmdir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Number of seg-*.ipfix files in @p dir, their total and largest size. */
static unsigned t_files(const char *dir, uint64_t *total, uint64_t *largest)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned n = 0;
    char path[400];
    struct stat st;
    *total = *largest = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "seg-", 4) != 0 || l < 10 || strcmp(e->d_name + l - 6, ".ipfix"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0) {
            n++;
            *total += (uint64_t)st.st_size;
            *largest = FP_MAX(*largest, (uint64_t)st.st_size);
        }
    }
    closedir(d);
    return n;
}

/* Segments are IPFIX files any reader decodes; replay is byte-exact and in order. */
static void test_spool_ipfix_files(void)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "/tmp/fp_test_spoolipfix_%d", (int)getpid());
    struct fp_export_backlog b;
    CU_ASSERT_EQUAL_FATAL(fp_export_backlog_init(&b, 8, dir, "tls://c:4740", 1u << 20, false), 0);
    CU_ASSERT_FATAL(b.seg_records >= 64);
    const unsigned n = 2 * b.seg_records + 50;
    struct fp_flow_record *in = calloc(n, sizeof(*in));
    CU_ASSERT_FATAL(in != NULL);
    uint64_t dropped[3] = {0, 0, 0}, spooled = 0;
    uint32_t t0 = (uint32_t)time(NULL);
    for (unsigned i = 0; i < n; i++) {
        t_make(&in[i], i);
        fp_export_backlog_push(&b, &in[i], dropped, &spooled);
    }
    uint32_t t1 = (uint32_t)time(NULL);
    CU_ASSERT_EQUAL(dropped[0], 0);
    CU_ASSERT(spooled >= 2 * b.seg_records);
    CU_ASSERT_EQUAL(fp_export_backlog_count(&b), n);

    /* segments 0 and 1 are complete files: walk and decode them */
    unsigned base = 0;
    for (unsigned seg = 0; seg < 2; seg++) {
        char path[400];
        size_t len;
        t_seg_path(&b, seg, path, sizeof(path));
        uint8_t *buf = t_slurp(path, &len);
        CU_ASSERT_FATAL(buf != NULL);
        struct t_walk w;
        t_walk_file(buf, len, t0, t1, &w);
        free(buf);
        CU_ASSERT_EQUAL(w.problems, 0);
        CU_ASSERT_EQUAL(w.templates, 2);
        CU_ASSERT(w.msgs >= 2);
        CU_ASSERT_EQUAL(w.data, b.seg_records);
        CU_ASSERT(len <= (1u << 20) / 8);

        struct t_std *std = calloc(b.seg_records, sizeof(*std));
        unsigned bad_tid = 99, bad = 0;
        int got = t_read_std(path, std, b.seg_records, &bad_tid);
        CU_ASSERT_EQUAL(got, (int)b.seg_records);
        CU_ASSERT_EQUAL(bad_tid, 0);
        for (int k = 0; k < got && k < (int)b.seg_records; k++)
            bad += !t_std_matches(&std[k], &in[base + (unsigned)k]);
        CU_ASSERT_EQUAL(bad, 0);
        free(std);
        base += b.seg_records;
    }

    /* replay: every record, byte for byte, in order (spool then memory) */
    struct fp_flow_record out;
    unsigned k = 0, differ = 0;
    while (fp_export_backlog_pop(&b, &out)) {
        differ += k >= n || memcmp(&out, &in[k], sizeof(out)) != 0;
        k++;
    }
    CU_ASSERT_EQUAL(k, n);
    CU_ASSERT_EQUAL(differ, 0);
    CU_ASSERT_EQUAL(b.lost[0], 0);
    uint64_t total, largest;
    CU_ASSERT_EQUAL(t_files(b.dir, &total, &largest), 0); /* replayed segments removed */
    fp_export_backlog_fini(&b);
    free(in);
    t_rmdir(dir);
}

/* Patch the length of fpSpoolRecord in every template of @p path (off by one). */
static unsigned t_patch_template(const char *path)
{
    size_t len;
    unsigned n = 0;
    uint8_t *buf = t_slurp(path, &len);
    if (buf == NULL)
        return 0;
    uint16_t want = (uint16_t)sizeof(struct fp_flow_record);
    for (size_t o = 0; o + 8 <= len && o < 1024; o++)
        if (t_rd16(buf + o) == (0x8000 | T_SPOOL_RECORD) && t_rd16(buf + o + 2) == want &&
            t_rd32(buf + o + 4) == T_PEN) {
            buf[o + 3] = (uint8_t)(want - 1);
            n++;
        }
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len)
        n = 0;
    if (f)
        fclose(f);
    free(buf);
    return n;
}

/* Truncated, overwritten, missing and mismatched segments: their unread records are lost
 * and counted; every other record comes back intact and in order; no crash. */
static void test_spool_damaged(void)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "/tmp/fp_test_spooldmg_%d", (int)getpid());
    struct fp_export_backlog b;
    CU_ASSERT_EQUAL_FATAL(fp_export_backlog_init(&b, 8, dir, "tls://d:4740", 1u << 20, true), 0);
    const unsigned n = 5 * b.seg_records + 30;
    CU_ASSERT_FATAL(b.seg_max >= 6);
    struct fp_flow_record *in = calloc(n, sizeof(*in));
    CU_ASSERT_FATAL(in != NULL);
    uint64_t dropped[3] = {0, 0, 0}, spooled = 0;
    for (unsigned i = 0; i < n; i++) {
        t_make(&in[i], i);
        fp_export_backlog_push(&b, &in[i], dropped, &spooled);
    }
    CU_ASSERT_EQUAL(dropped[0], 0);
    char path[400];
    struct stat st;
    /* 0: truncated in the middle of a later message */
    t_seg_path(&b, 0, path, sizeof(path));
    CU_ASSERT_FATAL(stat(path, &st) == 0);
    CU_ASSERT_EQUAL(truncate(path, st.st_size / 2 + 7), 0);
    /* 1: garbage over its start */
    t_seg_path(&b, 1, path, sizeof(path));
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    for (int i = 0; i < 200; i++)
        fputc((int)(t_rand() & 0xff), f);
    fclose(f);
    /* 2: gone */
    t_seg_path(&b, 2, path, sizeof(path));
    CU_ASSERT_EQUAL(unlink(path), 0);
    /* 3: its template does not describe fpSpoolRecord of the record's length */
    t_seg_path(&b, 3, path, sizeof(path));
    CU_ASSERT_EQUAL(t_patch_template(path), 2);

    struct fp_flow_record out;
    bool *seen = calloc(n, sizeof(*seen));
    unsigned got = 0, last = 0, disorder = 0, differ = 0;
    while (fp_export_backlog_pop(&b, &out)) {
        unsigned i = (unsigned)((out.flow_id - 0x0a00000000000000ull) / 7u);
        if (i >= n || memcmp(&out, &in[i], sizeof(out)) != 0) {
            differ++;
            continue;
        }
        disorder += got > 0 && i <= last;
        seen[i] = true;
        last = i;
        got++;
    }
    CU_ASSERT_EQUAL(differ, 0);
    CU_ASSERT_EQUAL(disorder, 0);
    uint64_t lost[3] = {0, 0, 0}, c[3];
    unsigned first_lost = n, seg4_seen = 0;
    for (unsigned i = 0; i < n; i++) {
        if (seen[i]) {
            seg4_seen += i >= 4 * b.seg_records;
            continue;
        }
        first_lost = FP_MIN(first_lost, i);
        fp_export_record_counts(&in[i], true, c);
        for (int j = 0; j < 3; j++)
            lost[j] += c[j];
    }
    /* segment 0 gave its first messages, then nothing from 0..3, everything after */
    CU_ASSERT(first_lost > 0 && first_lost < b.seg_records);
    CU_ASSERT_EQUAL(got + lost[0], n);
    CU_ASSERT_EQUAL(seg4_seen, n - 4 * b.seg_records);
    CU_ASSERT_EQUAL(got, first_lost + (n - 4 * b.seg_records));
    CU_ASSERT_EQUAL(b.lost[0], lost[0]);
    CU_ASSERT_EQUAL(b.lost[1], lost[1]);
    CU_ASSERT_EQUAL(b.lost[2], lost[2]);
    CU_ASSERT_EQUAL(fp_export_backlog_count(&b), 0);
    free(seen);
    fp_export_backlog_fini(&b);
    free(in);
    t_rmdir(dir);
}

/* Far beyond the cap: whole oldest segments dropped and counted, files within the cap and
 * each within 1/8 of it, the newest records replayed intact; leftovers of an earlier run
 * (seg-*.ipfix only) removed at start, everything removed at stop. */
static void test_spool_cap_files(void)
{
    char dir[128], sub[200], other[260], old[260];
    snprintf(dir, sizeof(dir), "/tmp/fp_test_spoolfiles_%d", (int)getpid());
    snprintf(sub, sizeof(sub), "%s/tls___e_4740", dir);
    CU_ASSERT_EQUAL(mkdir(dir, 0700), 0);
    CU_ASSERT_EQUAL(mkdir(sub, 0700), 0);
    snprintf(other, sizeof(other), "%s/notes.ipfix", sub);
    snprintf(old, sizeof(old), "%s/seg-0000000042.ipfix", sub);
    FILE *f = fopen(other, "w");
    CU_ASSERT_FATAL(f != NULL);
    fclose(f);
    f = fopen(old, "w");
    CU_ASSERT_FATAL(f != NULL);
    fclose(f);

    const uint64_t cap = 1u << 20;
    struct fp_export_backlog b;
    CU_ASSERT_EQUAL_FATAL(fp_export_backlog_init(&b, 64, dir, "tls://e:4740", cap, false), 0);
    CU_ASSERT_STRING_EQUAL(b.dir, sub);
    CU_ASSERT_NOT_EQUAL(access(old, F_OK), 0);
    CU_ASSERT_EQUAL(access(other, F_OK), 0);
    const unsigned n = 6000;
    struct fp_flow_record rec, out;
    uint64_t dropped[3] = {0, 0, 0}, spooled = 0, expect[3] = {0, 0, 0}, c[3];
    for (unsigned i = 0; i < n; i++) {
        t_rng = 0x1234567ull + i; /* record i is reproducible below */
        t_make(&rec, i);
        fp_export_backlog_push(&b, &rec, dropped, &spooled);
    }
    uint64_t total, largest;
    unsigned files = t_files(sub, &total, &largest);
    CU_ASSERT(files >= 2 && files <= b.seg_max);
    CU_ASSERT(total <= cap);
    CU_ASSERT(largest <= cap / 8);
    CU_ASSERT(dropped[0] > 0);
    /* the dropped records are exactly the oldest ones, counted with their packets/octets */
    unsigned first = 0, bad = 0;
    CU_ASSERT_FATAL(fp_export_backlog_pop(&b, &out));
    first = (unsigned)((out.flow_id - 0x0a00000000000000ull) / 7u);
    t_rng = 0x1234567ull + first;
    t_make(&rec, first);
    bad += memcmp(&out, &rec, sizeof(rec)) != 0;
    for (unsigned i = 0; i < first; i++) {
        t_rng = 0x1234567ull + i;
        t_make(&rec, i);
        fp_export_record_counts(&rec, false, c);
        for (int j = 0; j < 3; j++)
            expect[j] += c[j];
    }
    CU_ASSERT(first > 0);
    CU_ASSERT_EQUAL(dropped[0], expect[0]);
    CU_ASSERT_EQUAL(dropped[1], expect[1]);
    CU_ASSERT_EQUAL(dropped[2], expect[2]);
    unsigned next = first + 1;
    while (fp_export_backlog_pop(&b, &out)) {
        t_rng = 0x1234567ull + next;
        t_make(&rec, next);
        bad += memcmp(&out, &rec, sizeof(rec)) != 0;
        next++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(next, n);
    CU_ASSERT_EQUAL(b.lost[0], 0);
    /* stop with records still spooled: files removed */
    for (unsigned i = 0; i < 500; i++) {
        t_make(&rec, i);
        fp_export_backlog_push(&b, &rec, dropped, &spooled);
    }
    CU_ASSERT(t_files(sub, &total, &largest) > 0);
    fp_export_backlog_fini(&b);
    CU_ASSERT_EQUAL(t_files(sub, &total, &largest), 0);
    CU_ASSERT_EQUAL(access(other, F_OK), 0); /* not ours: left alone */
    t_rmdir(dir);
}

/* A segment that cannot be created (a directory is in the way): the records that cannot go
 * to the spool are dropped and counted, the others are replayed intact, no crash. */
static void test_spool_disk_error(void)
{
    char dir[128], block[400];
    snprintf(dir, sizeof(dir), "/tmp/fp_test_spoolerr_%d", (int)getpid());
    struct fp_export_backlog b;
    CU_ASSERT_EQUAL_FATAL(fp_export_backlog_init(&b, 8, dir, "tls://f:4740", 1u << 20, true), 0);
    t_seg_path(&b, 1, block, sizeof(block));
    CU_ASSERT_EQUAL_FATAL(mkdir(block, 0700), 0);
    const unsigned n = b.seg_records + 100;
    struct fp_flow_record *in = calloc(n, sizeof(*in)), out;
    CU_ASSERT_FATAL(in != NULL);
    uint64_t dropped[3] = {0, 0, 0}, spooled = 0, expect[3] = {0, 0, 0}, c[3];
    for (unsigned i = 0; i < n; i++) {
        t_make(&in[i], i);
        fp_export_backlog_push(&b, &in[i], dropped, &spooled);
    }
    CU_ASSERT_EQUAL(spooled, b.seg_records);
    CU_ASSERT_EQUAL(fp_export_backlog_count(&b), b.seg_records + b.mem_n);
    /* replay: segment 0, then the memory ring; whatever is missing was counted dropped */
    unsigned k = 0, differ = 0, next = 0;
    bool *seen = calloc(n, sizeof(*seen));
    while (fp_export_backlog_pop(&b, &out)) {
        unsigned i = (unsigned)((out.flow_id - 0x0a00000000000000ull) / 7u);
        differ += i >= n || i < next || memcmp(&out, &in[i], sizeof(out)) != 0;
        if (i < n) {
            seen[i] = true;
            next = i + 1;
        }
        k++;
    }
    for (unsigned i = 0; i < n; i++) {
        if (seen[i])
            continue;
        fp_export_record_counts(&in[i], true, c);
        for (int j = 0; j < 3; j++)
            expect[j] += c[j];
    }
    CU_ASSERT_EQUAL(differ, 0);
    CU_ASSERT(k >= b.seg_records);
    CU_ASSERT_EQUAL(k + dropped[0], n);
    CU_ASSERT_EQUAL(dropped[0], expect[0]);
    CU_ASSERT_EQUAL(dropped[1], expect[1]);
    CU_ASSERT_EQUAL(dropped[2], expect[2]);
    free(seen);
    fp_export_backlog_fini(&b);
    free(in);
    t_rmdir(dir);
}

void fp_test_register_spool(void);
void fp_test_register_spool(void)
{
    static const CU_TestInfo tests[] = {
        {"segments are RFC 5655 files, replay exact", test_spool_ipfix_files},
        {"damaged segments lose only their records", test_spool_damaged},
        {"cap, leftovers and stop", test_spool_cap_files},
        {"disk error: counted dropped, no crash", test_spool_disk_error},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("spool", tests);
}
