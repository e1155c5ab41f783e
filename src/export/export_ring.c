/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker → exporter ring: an rte_ring in elem mode on plain aligned memory (no EAL). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "export/export.h"

#define HUGE_2M (2u << 20)

unsigned fp_export_record_size = FP_EXPORT_RING_ESIZE;

void fp_export_set_compact(bool compact)
{
    fp_export_record_size = compact ? FP_EXPORT_RECORD_BASE : FP_EXPORT_RING_ESIZE;
}

struct rte_ring *fp_export_ring_create(const char *name, unsigned count)
{
    if (count == 0 || count > RTE_RING_SZ_MASK) {
        errno = EINVAL;
        return NULL;
    }
    /* A power-of-two count is used as is (capacity count - 1: one slot stays free), so the
     * storage is not doubled; any other count gets exactly that capacity (RING_F_EXACT_SZ:
     * storage = the next power of two above). */
    bool pow2 = rte_is_power_of_2(count) && count >= 2;
    unsigned slots = pow2 ? count : rte_align32pow2(count + 1);
    ssize_t sz = rte_ring_get_memsize_elem(fp_export_record_size, slots);
    if (sz < 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t alloc = ((size_t)sz + RTE_CACHE_LINE_SIZE - 1) & ~((size_t)RTE_CACHE_LINE_SIZE - 1);
    void *mem = NULL;
    if (alloc >= HUGE_2M) {
        /* Large rings on 2 MB boundaries with transparent huge pages: a ring cycling through
         * megabytes of records would otherwise take a page fault every 4 KB on first use. */
        if (posix_memalign(&mem, HUGE_2M, alloc) != 0)
            mem = NULL;
        else
            (void)madvise(mem, alloc & ~(size_t)(HUGE_2M - 1), MADV_HUGEPAGE);
    } else {
        mem = aligned_alloc(RTE_CACHE_LINE_SIZE, alloc);
    }
    struct rte_ring *r = mem;
    if (r == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    /* Only the header needs zeroing; the slots are written before they are read, and
     * untouched pages of a large ring stay unmapped until used. */
    memset(r, 0, sizeof(*r));
    int rc = rte_ring_init(r, name ? name : "fp_export", count,
                           RING_F_SP_ENQ | RING_F_SC_DEQ | (pow2 ? 0 : RING_F_EXACT_SZ));
    if (rc < 0) {
        free(r);
        errno = -rc;
        return NULL;
    }
    return r;
}

void fp_export_ring_free(struct rte_ring *r)
{
    free(r);
}
