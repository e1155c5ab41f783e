/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Large tables on transparent huge pages: anonymous mappings aligned to 2 MB and advised
 * MADV_HUGEPAGE, so a table of tens of megabytes costs a page fault per 2 MB instead of per
 * 4 KB (each fault is a kernel entry; on a virtual machine a costly one). Control plane only
 * (creation and destruction); the memory is zeroed.
 */
#ifndef FP_MEM_H
#define FP_MEM_H

#include <stdbool.h>
#include <stddef.h>

/** Huge-page size the mappings are aligned to and rounded up to. */
#define FP_MEM_HUGE (2u << 20)

/**
 * @brief Map @p size zeroed bytes, 2 MB-aligned, with transparent huge pages advised.
 * @param populate true: fault every page in now (MADV_POPULATE_WRITE, or one write per
 *                 page where the kernel lacks it), so first use never faults — for tables a
 *                 packet may touch anywhere; false: pages appear on first touch.
 * @param mapped   out: the length to pass to fp_mem_free()
 * @return the memory, or NULL (errno set)
 */
void *fp_mem_alloc(size_t size, bool populate, size_t *mapped);

/** @brief Unmap memory from fp_mem_alloc(). Accepts NULL. */
void fp_mem_free(void *p, size_t mapped);

#endif /* FP_MEM_H */
