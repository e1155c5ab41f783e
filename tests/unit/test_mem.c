/* SPDX-License-Identifier: BSD-3-Clause */
/* Huge-page mappings (common/fp_mem): 2 MB alignment and length, zeroed memory, pages
 * resident after a populating allocation and absent before first touch otherwise. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/fp_mem.h"
#include "tests/unit/fp_test.h"

/* Pages of [p, p + len) that are resident (mincore), or -1 on error. */
static long resident_pages(void *p, size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t n = (len + (size_t)pg - 1) / (size_t)pg;
    static unsigned char vec[(8u << 20) / 4096];
    if (n > sizeof(vec) || mincore(p, len, vec) != 0)
        return -1;
    long r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}

static void test_mem_lazy(void)
{
    size_t mapped = 0;
    uint8_t *p = fp_mem_alloc(3u << 20, false, &mapped);
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT_EQUAL((uintptr_t)p % FP_MEM_HUGE, 0);
    CU_ASSERT_EQUAL(mapped, 4u << 20); /* rounded up to whole huge pages */
    CU_ASSERT_EQUAL(resident_pages(p, mapped), 0); /* nothing touched yet */
    size_t nonzero = 0;
    for (size_t i = 0; i < mapped; i += 4096)
        nonzero += p[i] != 0;
    CU_ASSERT_EQUAL(nonzero, 0);
    memset(p, 0xa5, mapped); /* the whole length is usable */
    CU_ASSERT_EQUAL(p[mapped - 1], 0xa5);
    fp_mem_free(p, mapped);
}

static void test_mem_populate(void)
{
    size_t mapped = 0;
    uint8_t *p = fp_mem_alloc(5000, true, &mapped);
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT_EQUAL((uintptr_t)p % FP_MEM_HUGE, 0);
    CU_ASSERT_EQUAL(mapped, FP_MEM_HUGE);
    long pg = sysconf(_SC_PAGESIZE);
    CU_ASSERT_EQUAL(resident_pages(p, mapped), (long)(mapped / (size_t)pg)); /* all faulted in */
    size_t nonzero = 0;
    for (size_t i = 0; i < mapped; i++)
        nonzero += p[i] != 0;
    CU_ASSERT_EQUAL(nonzero, 0);
    fp_mem_free(p, mapped);
    fp_mem_free(NULL, 0); /* accepted */
}

static void test_mem_bad(void)
{
    size_t mapped = 123;
    CU_ASSERT_PTR_NULL(fp_mem_alloc(0, false, &mapped));
    CU_ASSERT_PTR_NULL(fp_mem_alloc(SIZE_MAX - 10, false, &mapped));
    CU_ASSERT_EQUAL(mapped, 123); /* untouched on failure */
}

void fp_test_register_mem(void);
void fp_test_register_mem(void)
{
    static const CU_TestInfo tests[] = {
        {"lazy: aligned, zeroed, not resident", test_mem_lazy},
        {"populate: aligned, zeroed, resident", test_mem_populate},
        {"bad sizes", test_mem_bad},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("mem", tests);
}
