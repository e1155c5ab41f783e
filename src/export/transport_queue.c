/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backlog of flow records for a TCP/TLS/DTLS collector (or a failover group) that is down
 * or slow: retry list (records of failed sessions), then the on-disk spool, then the memory
 * ring, oldest first. Exporter thread only.
 *
 * Spool = records, not messages: segment files "seg-NNNNNNNNNN.fpspool" of a 16-octet header
 * ("FPSPOOL1", u32 record size, u32 0) followed by raw struct fp_flow_record values. Replayed
 * records are encoded again in the live session, so templates, template IDs and sequence
 * numbers are always those of that session (see README.md "Queue and spool").
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export_internal.h"

#define SPOOL_MAGIC "FPSPOOL1"
#define SPOOL_HDR 16u
#define SPOOL_SUFFIX ".fpspool"
#define REC_SIZE sizeof(struct fp_flow_record)

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
    snprintf(out, len, "%s/seg-%010llu" SPOOL_SUFFIX, b->dir, (unsigned long long)seg);
}

static void remove_leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[FP_CONFIG_STR * 2 + 320]; /* dir + "/" + d_name (256) */
    size_t sl = strlen(SPOOL_SUFFIX);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > sl && strcmp(e->d_name + n - sl, SPOOL_SUFFIX) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
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
    /* at least 2 segments (one written, one read); segments of at most 1/8 of the cap */
    uint64_t seg = spool_max_bytes / 8 / REC_SIZE;
    if (seg < 64)
        seg = 64;
    if (seg > 1u << 20)
        seg = 1u << 20;
    b->seg_records = (uint32_t)seg;
    uint64_t max = spool_max_bytes / (seg * REC_SIZE + SPOOL_HDR);
    b->seg_max = (uint32_t)(max < 2 ? 2 : max);
    return 0;
}

void fp_export_backlog_fini(struct fp_export_backlog *b)
{
    char path[sizeof(b->dir) + 48];
    if (b->wr)
        fclose(b->wr);
    if (b->rd)
        fclose(b->rd);
    if (b->dir[0] != '\0')
        for (uint64_t s = b->seg_first; s < b->seg_next; s++) {
            seg_path(b, s, path, sizeof(path));
            unlink(path);
        }
    free(b->mem);
    free(b->retry);
    memset(b, 0, sizeof(*b));
}

uint64_t fp_export_backlog_count(const struct fp_export_backlog *b)
{
    return b->retry_n + b->spool_n + b->mem_n;
}

/* Records in segment @p s (the newest one may be partial: wr_count). */
static uint32_t seg_count(const struct fp_export_backlog *b, uint64_t s)
{
    return s + 1 == b->seg_next ? b->wr_count : b->seg_records;
}

static void close_reader(struct fp_export_backlog *b)
{
    if (b->rd)
        fclose(b->rd);
    b->rd = NULL;
    b->rd_done = 0;
}

/* Open segment seg_first for reading at record rd_done. */
static int open_reader(struct fp_export_backlog *b)
{
    char path[sizeof(b->dir) + 48];
    if (b->rd != NULL)
        return 0;
    if (b->wr != NULL && b->seg_first + 1 == b->seg_next)
        fflush(b->wr); /* reading the segment being written */
    seg_path(b, b->seg_first, path, sizeof(path));
    b->rd = fopen(path, "rb");
    if (b->rd == NULL)
        return -errno;
    if (fseek(b->rd, (long)(SPOOL_HDR + (uint64_t)b->rd_done * REC_SIZE), SEEK_SET) < 0) {
        int rc = -errno;
        close_reader(b);
        return rc;
    }
    return 0;
}

/* Finish with segment seg_first: remove it. */
static void retire_first(struct fp_export_backlog *b)
{
    char path[sizeof(b->dir) + 48];
    close_reader(b);
    seg_path(b, b->seg_first, path, sizeof(path));
    unlink(path);
    b->seg_first++;
}

/* Drop the oldest segment, counting its unread records. */
static void drop_first(struct fp_export_backlog *b, uint64_t dropped[3])
{
    struct fp_flow_record r;
    uint32_t n = seg_count(b, b->seg_first), done = b->rd_done;
    if (open_reader(b) == 0) {
        while (done < n && fread(&r, REC_SIZE, 1, b->rd) == 1) {
            add_counts(b, &r, dropped);
            done++;
        }
    }
    /* unreadable remainder: count the records only */
    dropped[0] += n - done;
    b->spool_n -= FP_MIN((uint64_t)(n - b->rd_done), b->spool_n);
    retire_first(b);
}

static int spool_write(struct fp_export_backlog *b, const struct fp_flow_record *r,
                       uint64_t dropped[3])
{
    char path[sizeof(b->dir) + 48];
    if (b->wr == NULL || b->wr_count >= b->seg_records) {
        if (b->wr != NULL) {
            fclose(b->wr);
            b->wr = NULL;
        }
        while (b->seg_next - b->seg_first >= b->seg_max)
            drop_first(b, dropped);
        seg_path(b, b->seg_next, path, sizeof(path));
        b->wr = fopen(path, "wb");
        if (b->wr == NULL)
            return -errno;
        uint8_t hdr[SPOOL_HDR] = {0};
        uint32_t rs = (uint32_t)REC_SIZE;
        memcpy(hdr, SPOOL_MAGIC, 8);
        memcpy(hdr + 8, &rs, 4);
        if (fwrite(hdr, sizeof(hdr), 1, b->wr) != 1) {
            fclose(b->wr);
            b->wr = NULL;
            unlink(path);
            return -EIO;
        }
        b->seg_next++;
        b->wr_count = 0;
    }
    if (fwrite(r, REC_SIZE, 1, b->wr) != 1)
        return -EIO;
    b->wr_count++;
    b->spool_n++;
    return 0;
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
        uint32_t n = seg_count(b, b->seg_first);
        if (b->rd_done >= n) {
            retire_first(b);
            continue;
        }
        if (b->wr != NULL && b->seg_first + 1 == b->seg_next)
            fflush(b->wr);
        if (b->rd != NULL)
            clearerr(b->rd);
        if (open_reader(b) < 0 || fread(out, REC_SIZE, 1, b->rd) != 1) {
            /* unreadable segment: its records are lost (counted by the caller's totals) */
            b->spool_n -= FP_MIN((uint64_t)(n - b->rd_done), b->spool_n);
            retire_first(b);
            continue;
        }
        b->rd_done++;
        b->spool_n--;
        if (b->rd_done >= n && !(b->wr != NULL && b->seg_first + 1 == b->seg_next))
            retire_first(b); /* (the segment being written stays until it is full) */
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
