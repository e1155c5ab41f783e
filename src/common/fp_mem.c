/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Large zeroed mappings on transparent huge pages (see fp_mem.h).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/fp_mem.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void *fp_mem_alloc(size_t size, bool populate, size_t *mapped)
{
    if (size == 0 || size > SIZE_MAX - 2 * (size_t)FP_MEM_HUGE) {
        errno = EINVAL;
        return NULL;
    }
    size_t len = (size + FP_MEM_HUGE - 1) & ~(size_t)(FP_MEM_HUGE - 1);
    /* Map one huge page more and trim both ends to a 2 MB boundary: mmap itself only
     * guarantees 4 KB alignment, and a misaligned mapping cannot use huge pages at its ends. */
    size_t span = len + FP_MEM_HUGE;
    uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)raw + FP_MEM_HUGE - 1) & ~(uintptr_t)(FP_MEM_HUGE - 1);
    uint8_t *p = (uint8_t *)a;
    size_t head = (size_t)(p - raw), tail = span - head - len;
    if (head)
        munmap(raw, head);
    if (tail)
        munmap(p + len, tail);
    (void)madvise(p, len, MADV_HUGEPAGE);
    if (populate && madvise(p, len, MADV_POPULATE_WRITE) != 0) {
        long pg = sysconf(_SC_PAGESIZE);
        size_t step = pg > 0 ? (size_t)pg : 4096;
        for (size_t off = 0; off < len; off += step)
            ((volatile uint8_t *)p)[off] = 0;
    }
    *mapped = len;
    return p;
}

void fp_mem_free(void *p, size_t mapped)
{
    if (p)
        munmap(p, mapped);
}
